//! Exactly uniform sampling of strings whose runs of identical characters are at most `k` long,
//! without rejecting whole strings: the number of ways to finish a string from each remaining
//! length (the recurrence the exact counter uses) says how likely each next run length is.
//!
//! A string is a sequence of runs. The first run may use any of the `m` characters, every later
//! one any of the `m − 1` that differ from the run before it. Choosing each run's length with
//! probability proportional to the number of ways to fill the rest, and its character uniformly,
//! makes every string with runs ≤ k equally likely. Big integers keep the proportions exact.

use num_bigint::BigUint;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroize;

/// A sampler for one alphabet size, length and longest run.
pub(crate) struct RunSampler {
    m: usize,
    k: usize,
    length: usize,
    /// `after[r]`: ways to fill `r` positions that follow a finished run (the next character
    /// must differ from the run's). `after[0] = 1`.
    after: Vec<BigUint>,
}

impl std::fmt::Debug for RunSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunSampler(m={}, k={}, length={})", self.m, self.k, self.length)
    }
}

impl RunSampler {
    /// A sampler of strings of `length` over `m ≥ 2` characters with runs of at most `k ≥ 1`.
    pub(crate) fn new(m: usize, length: usize, k: usize) -> RunSampler {
        assert!(m >= 2 && k >= 1, "the caller only builds samplers for satisfiable run limits");
        let other = BigUint::from(m - 1);
        let mut after: Vec<BigUint> = Vec::with_capacity(length + 1);
        after.push(BigUint::from(1u8));
        // window = Σ after[r − ℓ] for ℓ = 1..=min(k, r), kept as a sliding sum.
        let mut window = BigUint::ZERO;
        for r in 1..=length {
            window += &after[r - 1];
            if r > k {
                window -= &after[r - 1 - k];
            }
            after.push(&window * &other);
        }
        RunSampler { m, k, length, after }
    }

    /// Choose a run length for `remaining` positions: ℓ in 1..=min(k, remaining) with weight
    /// `after[remaining − ℓ]`.
    fn run_length<R: RngCore + ?Sized>(&self, rng: &mut R, remaining: usize) -> usize {
        let longest = self.k.min(remaining);
        let total: BigUint = (1..=longest).map(|l| &self.after[remaining - l]).sum();
        let mut pick = below(rng, &total);
        for l in 1..=longest {
            let weight = &self.after[remaining - l];
            if pick < *weight {
                return l;
            }
            pick -= weight;
        }
        // Unreachable: pick < total = Σ weights.
        longest
    }

    /// Fill `out` (of the sampler's length) with alphabet indices, uniformly over the strings
    /// whose runs are at most `k` long.
    pub(crate) fn sample<R: CryptoRng + RngCore + ?Sized>(&self, rng: &mut R, out: &mut [usize]) {
        debug_assert_eq!(out.len(), self.length);
        let mut at = 0;
        let mut previous: Option<usize> = None;
        while at < self.length {
            let l = self.run_length(rng, self.length - at);
            let c = match previous {
                None => uniform(rng, self.m),
                // One of the m − 1 others: draw from m − 1 and step over the previous one.
                Some(p) => {
                    let c = uniform(rng, self.m - 1);
                    if c >= p { c + 1 } else { c }
                }
            };
            out[at..at + l].iter_mut().for_each(|slot| *slot = c);
            previous = Some(c);
            at += l;
        }
    }
}

/// A uniform integer in `0..n` (Lemire's method, via `rand`).
fn uniform<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> usize {
    use rand::Rng;
    rng.random_range(0..n)
}

/// A uniform big integer in `0..bound` (`bound > 0`): random bits of its width, rejected when
/// too large (less than half the time).
fn below<R: RngCore + ?Sized>(rng: &mut R, bound: &BigUint) -> BigUint {
    let bits = bound.bits();
    let bytes = bits.div_ceil(8) as usize;
    let top_mask = match bits % 8 {
        0 => 0xff,
        b => (1u8 << b) - 1,
    };
    let mut buf = vec![0u8; bytes];
    loop {
        rng.fill_bytes(&mut buf);
        if let Some(top) = buf.last_mut() {
            *top &= top_mask;
        }
        let value = BigUint::from_bytes_le(&buf);
        if value < *bound {
            buf.zeroize();
            return value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn the_table_counts_what_the_counter_counts() {
        for (m, length, k) in [(2, 10, 1), (3, 12, 2), (17, 64, 2), (5, 9, 4)] {
            let s = RunSampler::new(m, length, k);
            let total: BigUint = (1..=k.min(length)).map(|l| &s.after[length - l]).sum::<BigUint>() * BigUint::from(m);
            assert_eq!(total, super::super::count::strings_with_runs(m, length, Some(k)), "{m} {length} {k}");
        }
    }

    #[test]
    fn every_string_with_short_runs_is_equally_likely() {
        // 3 letters, length 5, runs ≤ 2: few enough strings to count each.
        let s = RunSampler::new(3, 5, 2);
        let expected_strings = super::super::count::strings_with_runs(3, 5, Some(2));
        let n: u32 = expected_strings.try_into().unwrap();
        let mut rng = StdRng::seed_from_u64(11);
        let mut seen = std::collections::HashMap::<Vec<usize>, f64>::new();
        let draws = 200 * n;
        let mut out = vec![0; 5];
        for _ in 0..draws {
            s.sample(&mut rng, &mut out);
            assert!(out.windows(3).all(|w| !(w[0] == w[1] && w[1] == w[2])), "{out:?}");
            *seen.entry(out.clone()).or_default() += 1.0;
        }
        assert_eq!(seen.len() as u32, n, "every string appears");
        let e = f64::from(draws) / f64::from(n);
        let stat: f64 = seen.values().map(|o| (o - e) * (o - e) / e).sum();
        // p = 1e-4 critical value for n − 1 degrees of freedom (Wilson–Hilferty).
        let df = f64::from(n - 1);
        let a = 2.0 / (9.0 * df);
        let critical = df * (1.0 - a + 3.719 * a.sqrt()).powi(3);
        assert!(stat < critical, "chi-square {stat:.1} over {df} df (critical {critical:.1})");
    }
}
