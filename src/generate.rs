//! The password generator and its exact entropy. Pure: the caller passes the RNG.
//!
//! Characters are drawn independently and exactly uniformly from the policy's alphabet
//! (`rand`'s `Uniform`, Lemire's multiply-and-reject, never `% n`), and whole strings are
//! rejected until every structural rule holds. Rejection keeps the result uniform over the
//! compliant set; inserting required characters and shuffling would not. `entropy_bits` is log2
//! of that set's exact size, counted with big integers by inclusion–exclusion over the required
//! classes, and a run-length recurrence where `max-consecutive` applies.

use std::collections::HashMap;

use num_bigint::BigUint;
use rand::CryptoRng;
use rand::distr::{Distribution, Uniform};
use zeroize::Zeroizing;

use crate::policy::{Charset, Generation, GenerationRules, Policy};

/// Longest password we generate.
pub const MAX_LENGTH: usize = 4096;
/// Most required classes we count over (2^n inclusion–exclusion terms).
const MAX_REQUIRED: usize = 16;
/// Refuse rules whose compliant strings are rarer than one in this many draws.
const MAX_EXPECTED_DRAWS: f64 = 1e6;

/// Why a policy cannot generate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenerateError {
    /// Microsoft or Entra generate these secrets.
    #[error("policy '{policy}' does not generate passwords. {who}")]
    External {
        /// Policy name.
        policy: String,
        /// Who generates them and where.
        who: &'static str,
    },
    /// Length outside what the policy accepts.
    #[error("--length {length} is outside what policy '{policy}' accepts ({range}); pick a length in that range")]
    Length {
        /// Requested length.
        length: usize,
        /// Policy name.
        policy: String,
        /// Accepted range, for people.
        range: String,
    },
    /// No string satisfies the rules, or too few for rejection sampling.
    #[error("policy '{policy}' cannot generate: {reason}")]
    Unsatisfiable {
        /// Policy name.
        policy: String,
        /// What is wrong and how to loosen it.
        reason: String,
    },
}

/// A generator for one policy at one length, with its exact entropy.
#[derive(Debug, Clone)]
pub struct Generator {
    policy: String,
    alphabet: Vec<char>,
    required: Vec<Charset>,
    max_consecutive: Option<usize>,
    length: usize,
    entropy_bits: f64,
    dist: Uniform<usize>,
}

impl Generator {
    /// A generator for `policy`, at `length` or the policy's default length.
    pub fn new(policy: &Policy, length: Option<usize>) -> Result<Generator, GenerateError> {
        let rules: &GenerationRules = match &policy.generation {
            Generation::Local(rules) => rules,
            Generation::External(who) => {
                return Err(GenerateError::External { policy: policy.name.clone(), who });
            }
        };
        let length = length.unwrap_or(rules.length);
        let unsatisfiable =
            |reason: String| GenerateError::Unsatisfiable { policy: policy.name.clone(), reason };
        if !policy.accepts_length(length) || length == 0 || length > MAX_LENGTH {
            let range = if length > MAX_LENGTH {
                format!("sealpass generates at most {MAX_LENGTH}")
            } else {
                policy.length_range()
            };
            return Err(GenerateError::Length { length, policy: policy.name.clone(), range });
        }
        let alphabet: Vec<char> = rules.alphabet.ascii_only().ascii_chars().collect();
        if alphabet.is_empty() {
            return Err(unsatisfiable("its alphabet has no printable ASCII character to draw from".into()));
        }
        if let Some(empty) = rules.required.iter().find(|c| c.chars.intersection(rules.alphabet).is_empty()) {
            return Err(unsatisfiable(format!("required class {} has no character it may generate", empty.name)));
        }
        if rules.required.len() > MAX_REQUIRED {
            return Err(unsatisfiable(format!("more than {MAX_REQUIRED} required classes")));
        }
        let required: Vec<Charset> = rules.required.iter().map(|c| c.chars.intersection(rules.alphabet)).collect();
        let count = compliant_count(alphabet.len(), &mask_sizes(&alphabet, &required), length, rules.max_consecutive);
        if count == BigUint::ZERO {
            return Err(unsatisfiable(format!(
                "no {length}-character password satisfies its rules; make it longer or require fewer classes"
            )));
        }
        let entropy_bits = log2(&count);
        let all_bits = length as f64 * (alphabet.len() as f64).log2();
        if (all_bits - entropy_bits).exp2() > MAX_EXPECTED_DRAWS {
            return Err(unsatisfiable(format!(
                "only one {length}-character string in 2^{:.0} satisfies its rules, too few to find by \
                 rejection; loosen max-consecutive or the required classes, or allow more characters",
                all_bits - entropy_bits
            )));
        }
        let dist = Uniform::new(0, alphabet.len()).map_err(|e| unsatisfiable(e.to_string()))?;
        Ok(Generator {
            policy: policy.name.clone(),
            alphabet,
            required,
            max_consecutive: rules.max_consecutive,
            length,
            entropy_bits,
            dist,
        })
    }

    /// Length of the passwords generated.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Name of the policy.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// log2 of the number of passwords this generator can produce, each equally likely.
    pub fn entropy_bits(&self) -> f64 {
        self.entropy_bits
    }

    /// Whether a candidate satisfies every rule the generator enforces.
    fn complies(&self, candidate: &[char]) -> bool {
        let classes_ok = self.required.iter().all(|class| candidate.iter().any(|&c| class.contains(c)));
        let runs_ok = self.max_consecutive.is_none_or(|max| {
            let mut run = 0;
            candidate.iter().enumerate().all(|(i, c)| {
                run = if i > 0 && candidate[i - 1] == *c { run + 1 } else { 1 };
                run <= max
            })
        });
        classes_ok && runs_ok
    }

    /// Draw whole strings until one complies; uniform over the compliant set.
    pub fn generate<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Zeroizing<String> {
        let mut candidate = Zeroizing::new(vec!['\0'; self.length]);
        loop {
            for slot in candidate.iter_mut() {
                *slot = self.alphabet[self.dist.sample(rng)];
            }
            if self.complies(&candidate) {
                return Zeroizing::new(candidate.iter().collect());
            }
        }
    }

    /// Like [`Generator::generate`], also rejecting strings that `accept` refuses (a username
    /// rule, the looks-random rule): still uniform over what both accept.
    pub fn generate_where<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        mut accept: impl FnMut(&str) -> bool,
    ) -> Zeroizing<String> {
        loop {
            let candidate = self.generate(rng);
            if accept(&candidate) {
                return candidate;
            }
        }
    }
}

/// For each subset of required classes (as a bitmask), how many alphabet characters lie
/// outside all of them.
fn mask_sizes(alphabet: &[char], required: &[Charset]) -> Vec<usize> {
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
fn compliant_count(alphabet_len: usize, sizes_avoiding: &[usize], length: usize, max_run: Option<usize>) -> BigUint {
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
fn strings_with_runs(m: usize, length: usize, max_run: Option<usize>) -> BigUint {
    let m_big = BigUint::from(m);
    let Some(k) = max_run.filter(|&k| k < length) else {
        return m_big.pow(length as u32);
    };
    if m == 0 {
        return BigUint::ZERO;
    }
    // valid[i]: strings of length i with all runs ≤ k. A string of length i ends in a run of
    // length j ≤ k, preceded by a valid string of length i − j whose last letter differs (m − 1
    // choices for the run's letter), or by nothing (m choices).
    let other = BigUint::from(m - 1);
    let mut valid: Vec<BigUint> = vec![BigUint::from(1u8)];
    for i in 1..=length {
        let mut total = BigUint::ZERO;
        for j in 1..=k.min(i) {
            total += if j == i { m_big.clone() } else { &valid[i - j] * &other };
        }
        valid.push(total);
    }
    valid.pop().unwrap_or_default()
}

/// log2 of a positive big integer, to f64 precision.
fn log2(n: &BigUint) -> f64 {
    let bits = n.bits();
    let shift = bits.saturating_sub(64);
    let top = (n >> shift).iter_u64_digits().next().unwrap_or(0);
    (top as f64).log2() + shift as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn brute_force(alphabet: &[char], required: &[Charset], length: usize, max_run: Option<usize>) -> u64 {
        let n = alphabet.len();
        let mut count = 0;
        for mut code in 0..(n as u64).pow(length as u32) {
            let s: Vec<char> = (0..length)
                .map(|_| {
                    let c = alphabet[(code % n as u64) as usize];
                    code /= n as u64;
                    c
                })
                .collect();
            let classes = required.iter().all(|r| s.iter().any(|&c| r.contains(c)));
            let runs = max_run.is_none_or(|k| s.windows(k + 1).all(|w| w.iter().any(|&c| c != w[0])));
            count += u64::from(classes && runs);
        }
        count
    }

    #[test]
    fn counting_matches_brute_force_on_small_cases() {
        let alphabet: Vec<char> = "abcD1-".chars().collect();
        let lower = Charset::of("abc");
        let cases: Vec<(Vec<Charset>, usize, Option<usize>)> = vec![
            (vec![], 5, None),
            (vec![lower, Charset::of("D"), Charset::of("1-")], 5, None),
            (vec![lower, Charset::of("D")], 6, Some(1)),
            (vec![Charset::of("aD"), Charset::of("D1")], 6, Some(2)),
            (vec![Charset::of("-")], 4, Some(3)),
        ];
        for (required, length, run) in cases {
            let exact = compliant_count(alphabet.len(), &mask_sizes(&alphabet, &required), length, run);
            assert_eq!(exact, BigUint::from(brute_force(&alphabet, &required, length, run)), "{required:?} {length} {run:?}");
        }
    }

    #[test]
    fn entropy_matches_hand_computed_values() {
        // 30 characters of the 94 printable, all four classes required: 196.59 bits.
        let p = Policy::from_rules("minlength: 30; maxlength: 30; required: upper; required: lower; required: digit; required: special").unwrap();
        let g = Generator::new(&p, None).unwrap();
        assert_eq!(g.alphabet.len(), 94);
        assert!((g.entropy_bits() - 196.59).abs() < 0.005, "{}", g.entropy_bits());
        // Salesforce: 32 of 70 with all four classes; 32·log2(70) = 196.135 minus the small
        // share of strings missing a class.
        let sf = Generator::new(&Policy::preset("salesforce").unwrap(), None).unwrap();
        assert!((sf.entropy_bits() - 196.1).abs() < 0.05, "{}", sf.entropy_bits());
        assert!(sf.entropy_bits() < 32.0 * 70f64.log2());
        // No required classes: exactly length · log2(alphabet).
        let strong = Generator::new(&Policy::preset("strong").unwrap(), None).unwrap();
        assert!((strong.entropy_bits() - 24.0 * 76f64.log2()).abs() < 1e-9);
    }

    #[test]
    fn external_presets_say_who_generates() {
        let err = Generator::new(&Policy::preset("microsoft-app-password").unwrap(), None).unwrap_err();
        assert!(err.to_string().contains("Microsoft generates app passwords"), "{err}");
        let err = Generator::new(&Policy::preset("entra-client-secret").unwrap(), None).unwrap_err();
        assert!(err.to_string().contains("Entra ID generates client secrets"), "{err}");
    }

    #[test]
    fn length_must_fit_the_policy() {
        let sf = Policy::preset("salesforce").unwrap();
        assert!(matches!(Generator::new(&sf, Some(29)), Err(GenerateError::Length { .. })));
        assert!(Generator::new(&sf, Some(30)).is_ok() && Generator::new(&sf, Some(128)).is_ok());
        assert!(Generator::new(&sf, Some(129)).is_err());
        let strong = Policy::preset("strong").unwrap();
        assert!(Generator::new(&strong, Some(MAX_LENGTH + 1)).unwrap_err().to_string().contains("at most"));
    }

    #[test]
    fn impossible_and_too_sparse_rules_are_refused() {
        let p = Policy::from_rules("maxlength: 2; required: upper; required: lower; required: digit").unwrap();
        assert!(Generator::new(&p, None).unwrap_err().to_string().contains("no 2-character password"));
        let p = Policy::from_rules("minlength: 64; allowed: [ab]; max-consecutive: 1").unwrap();
        assert!(Generator::new(&p, None).unwrap_err().to_string().contains("too few to find by rejection"));
        let p = Policy::from_rules("required: [ ]").unwrap();
        assert!(Generator::new(&p, None).unwrap_err().to_string().contains("has no character it may generate"));
    }

    #[test]
    fn generated_passwords_honour_max_consecutive_and_classes() {
        let p = Policy::from_rules("minlength: 40; maxlength: 40; allowed: [abc]; required: digit; max-consecutive: 1").unwrap();
        let g = Generator::new(&p, None).unwrap();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let pw = g.generate(&mut rng);
            assert!(p.check(&pw, None).compliant, "{}", pw.as_str());
        }
    }

    #[test]
    fn log2_is_exact_for_powers_of_two_and_large_values() {
        assert_eq!(log2(&BigUint::from(1u8)), 0.0);
        assert_eq!(log2(&(BigUint::from(1u8) << 300u32)), 300.0);
        let big = BigUint::from(70u8).pow(32);
        assert!((log2(&big) - 32.0 * 70f64.log2()).abs() < 1e-9);
    }
}
