//! Exact counting of compliant strings with big integers: inclusion–exclusion over the required
//! classes, and a run-length recurrence where `max-consecutive` applies.

use std::collections::{HashMap, VecDeque};

use num_bigint::BigUint;

use crate::policy::Charset;

/// Exact number of strings of `length` over `alphabet` that contain every class in `required`
/// and have no run of identical characters longer than `max_run`.
pub(crate) fn compliant(alphabet: &[char], required: &[Charset], length: usize, max_run: Option<usize>) -> BigUint {
    compliant_count(alphabet.len(), &mask_sizes(alphabet, required), length, max_run)
}

/// For each subset of required classes (as a bitmask), how many alphabet characters lie
/// outside all of them.
pub(crate) fn mask_sizes(alphabet: &[char], required: &[Charset]) -> Vec<usize> {
    (0..1usize << required.len())
        .map(|mask| {
            alphabet
                .iter()
                .filter(|&&c| !required.iter().enumerate().any(|(i, class)| mask >> i & 1 == 1 && class.contains(c)))
                .count()
        })
        .collect()
}

/// Exact number of strings of `length` over `alphabet_len` letters that contain every required
/// class and have no run longer than `max_run`: inclusion–exclusion over the classes avoided.
pub(crate) fn compliant_count(
    alphabet_len: usize,
    sizes_avoiding: &[usize],
    length: usize,
    max_run: Option<usize>,
) -> BigUint {
    debug_assert_eq!(sizes_avoiding[0], alphabet_len);
    let mut memo: HashMap<usize, BigUint> = HashMap::new();
    let (mut plus, mut minus) = (BigUint::ZERO, BigUint::ZERO);
    for (mask, &size) in sizes_avoiding.iter().enumerate() {
        let term = memo.entry(size).or_insert_with(|| strings_with_runs(size, length, max_run)).clone();
        if mask.count_ones() % 2 == 0 {
            plus += term;
        } else {
            minus += term;
        }
    }
    // Inclusion–exclusion counts a non-negative quantity, so plus ≥ minus.
    plus - minus
}

/// Strings of `length` over `m` letters whose runs of identical letters are at most `max_run`.
pub(crate) fn strings_with_runs(m: usize, length: usize, max_run: Option<usize>) -> BigUint {
    let m_big = BigUint::from(m);
    let Some(k) = max_run.filter(|&k| k < length) else {
        return m_big.pow(length as u32);
    };
    if m == 0 {
        return BigUint::ZERO;
    }
    // valid[i]: strings of length i with all runs ≤ k. Up to k every string qualifies (m^i).
    // Beyond, a string ends in a run of length j ≤ k whose letter differs from the one before:
    // valid[i] = (m − 1) · Σ_{j=1..k} valid[i − j], kept as a sliding-window sum so the whole
    // count costs O(length) big-integer operations.
    let other = BigUint::from(m - 1);
    let mut window: VecDeque<BigUint> = VecDeque::with_capacity(k + 1);
    let mut sum = BigUint::ZERO;
    let mut power = BigUint::from(1u8);
    for _ in 1..=k {
        power *= &m_big;
        sum += &power;
        window.push_back(power.clone());
    }
    let mut last = power;
    for _ in k + 1..=length {
        last = &sum * &other;
        sum += &last;
        window.push_back(last.clone());
        if let Some(oldest) = window.pop_front() {
            sum -= oldest;
        }
    }
    last
}

/// log2 of a positive big integer, to f64 precision.
pub(crate) fn log2(n: &BigUint) -> f64 {
    let bits = n.bits();
    let shift = bits.saturating_sub(64);
    let top = (n >> shift).iter_u64_digits().next().unwrap_or(0);
    (top as f64).log2() + shift as f64
}
