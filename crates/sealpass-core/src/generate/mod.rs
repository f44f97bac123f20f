//! The password generator and its exact entropy. Pure: the caller passes the RNG.
//!
//! Characters are drawn independently and exactly uniformly from the policy's alphabet
//! (`rand`'s `Uniform`, Lemire's multiply-and-reject, never `% n`), and whole strings are
//! rejected until every structural rule holds. Rejection keeps the result uniform over the
//! compliant set; inserting required characters and shuffling would not. `entropy_bits` is log2
//! of that set's exact size, counted with big integers by inclusion–exclusion over the required
//! classes, and a run-length recurrence where `max-consecutive` applies.
//!
//! Where `max-consecutive` would make whole-string rejection hopeless (a 4096-character password
//! of 17 letters with no triple is one draw in a million), strings are instead drawn exactly
//! uniformly from those with short enough runs (`runs.rs`), and only the required classes are
//! left to rejection. Either way the work is bounded: rules whose compliant strings are too rare
//! are refused up front, and a draw that still does not comply after many times the expected
//! number of attempts is an error, never a hang.
//!
//! The looks-random rule (zxcvbn, ~1 ms a password) is enforced by the same rejection below
//! [`PATTERN_CHECK_BELOW`] characters. At or above it, a uniformly random string tripped the rule
//! 0 times in 100,000 draws per preset (docs/performance.md), so paying a thousand times the
//! generator's cost for it would buy nothing measurable.

mod count;
mod runs;

use std::sync::Arc;

use num_bigint::BigUint;
use rand::CryptoRng;
use rand::distr::{Distribution, Uniform};
use zeroize::Zeroizing;

use crate::policy::{Charset, Generation, GenerationRules, Policy};

/// Longest password we generate.
pub const MAX_LENGTH: usize = 4096;
/// Most required classes we count over (2^n inclusion–exclusion terms).
const MAX_REQUIRED: usize = 16;
/// Refuse rules whose expected work (attempts × length, in characters drawn) exceeds this:
/// about a tenth of a second.
const MAX_EXPECTED_WORK: f64 = 16_777_216.0;
/// A draw gives up after this many times the expected number of attempts (a compliant policy
/// gets there with probability e^-64).
const ATTEMPT_FACTOR: f64 = 64.0;
/// Candidates [`Generator::generate_where`] tries before it says the extra rule cannot be met.
pub const WHERE_ATTEMPTS: usize = 200;
/// Fewer bits than this are worth a warning: an online guesser could get there.
pub const WEAK_BITS: f64 = 64.0;
/// Below this length the generator also rejects strings the looks-random rule flags.
pub const PATTERN_CHECK_BELOW: usize = 24;

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
    #[error("length {length} is outside what policy '{policy}' accepts ({range}); pick a --length in that range")]
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
    /// Every attempt within the work bound was rejected.
    #[error("policy '{policy}' could not generate a password: {reason}")]
    Exhausted {
        /// Policy name.
        policy: String,
        /// Which rule kept failing, and what to change.
        reason: String,
    },
}

/// How candidates are drawn.
#[derive(Debug, Clone)]
enum Sampling {
    /// Every character independently and uniformly; runs checked by rejection.
    Independent,
    /// Uniformly over the strings whose runs are short enough.
    Runs(Arc<runs::RunSampler>),
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
    check_patterns: bool,
    sampling: Sampling,
    max_attempts: u64,
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
        let unsatisfiable = |reason: String| GenerateError::Unsatisfiable { policy: policy.name.clone(), reason };
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
            return Err(unsatisfiable("nothing to draw from: it allows no printable ASCII character other than space, and a space is never generated".into()));
        }
        if let Some(empty) = rules.required.iter().find(|c| c.chars.intersection(rules.alphabet).is_empty()) {
            return Err(unsatisfiable(format!("required class {} has no character it may generate", empty.name)));
        }
        if rules.required.len() > MAX_REQUIRED {
            return Err(unsatisfiable(format!("more than {MAX_REQUIRED} required classes")));
        }
        let required: Vec<Charset> = rules.required.iter().map(|c| c.chars.intersection(rules.alphabet)).collect();
        let count = count::compliant(&alphabet, &required, length, rules.max_consecutive);
        if count == BigUint::ZERO {
            // Say which rule rules it out, so the fix is the right one.
            let reason = match rules.max_consecutive {
                Some(k) if alphabet.len() == 1 && length > k => format!(
                    "only one character may be generated ({}) and max-consecutive {k} allows at most {k} of it in \
                     a row, so no password is longer than {k} characters; allow more characters",
                    alphabet[0]
                ),
                _ if required.len() > length => format!(
                    "it requires {} classes but a {length}-character password holds at most {length}; make it \
                     longer or require fewer classes",
                    required.len()
                ),
                _ => format!(
                    "no {length}-character password satisfies its rules together (required classes with \
                     max-consecutive); allow more characters or require fewer classes"
                ),
            };
            return Err(unsatisfiable(reason));
        }
        let entropy_bits = count::log2(&count);
        let m = alphabet.len();
        // Draw from the strings with short enough runs when plain draws would mostly break the
        // run limit; otherwise independent characters.
        let binding_run = rules.max_consecutive.filter(|&k| k < length && m >= 2);
        let (sampling, space_bits) = match binding_run {
            Some(k) => {
                let runs_ok = count::log2(&count::strings_with_runs(m, length, Some(k)));
                let all = length as f64 * (m as f64).log2();
                if all - runs_ok > 1.0 {
                    (Sampling::Runs(Arc::new(runs::RunSampler::new(m, length, k))), runs_ok)
                } else {
                    (Sampling::Independent, all)
                }
            }
            None => (Sampling::Independent, length as f64 * (m as f64).log2()),
        };
        let expected_draws = (space_bits - entropy_bits).exp2();
        if expected_draws * length as f64 > MAX_EXPECTED_WORK {
            return Err(unsatisfiable(format!(
                "only one {length}-character string in 2^{:.0} of those it can draw satisfies its rules, too few \
                 to find by rejection; require fewer classes, or allow more characters",
                space_bits - entropy_bits
            )));
        }
        let max_attempts = (expected_draws * ATTEMPT_FACTOR).ceil().max(ATTEMPT_FACTOR) as u64;
        let dist = Uniform::new(0, alphabet.len()).map_err(|e| unsatisfiable(e.to_string()))?;
        Ok(Generator {
            policy: policy.name.clone(),
            alphabet,
            required,
            max_consecutive: rules.max_consecutive,
            length,
            entropy_bits,
            dist,
            check_patterns: policy.looks_random && length < PATTERN_CHECK_BELOW,
            sampling,
            max_attempts,
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

    /// Size of the alphabet drawn from.
    pub fn alphabet_len(&self) -> usize {
        self.alphabet.len()
    }

    /// Whether a candidate satisfies every structural rule.
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

    /// Draw whole strings until one complies; uniform over the compliant set. Gives up (an
    /// error, never a hang) after many times the expected number of attempts.
    pub fn generate<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<Zeroizing<String>, GenerateError> {
        let mut candidate = Zeroizing::new(vec!['\0'; self.length]);
        let mut indices = Zeroizing::new(vec![0usize; self.length]);
        let mut patterned = 0u64;
        for _ in 0..self.max_attempts {
            match &self.sampling {
                Sampling::Independent => {
                    for slot in candidate.iter_mut() {
                        *slot = self.alphabet[self.dist.sample(rng)];
                    }
                }
                Sampling::Runs(sampler) => {
                    sampler.sample(rng, &mut indices);
                    for (slot, &i) in candidate.iter_mut().zip(indices.iter()) {
                        *slot = self.alphabet[i];
                    }
                }
            }
            if self.complies(&candidate) {
                let password: Zeroizing<String> = Zeroizing::new(candidate.iter().collect());
                if !self.check_patterns || crate::policy::randomness::analyse(&password).looks_random() {
                    return Ok(password);
                }
                patterned += 1;
            }
        }
        let why = if patterned > 0 {
            "too many candidates looked patterned to the looks-random rule; generate a longer one (--length)"
        } else {
            "no candidate met the required classes and the run limit; loosen the rules"
        };
        Err(GenerateError::Exhausted {
            policy: self.policy.clone(),
            reason: format!("{} attempts were rejected: {why}", self.max_attempts),
        })
    }

    /// Like [`Generator::generate`], also rejecting strings that `reject` refuses (a username
    /// rule, the looks-random rule): still uniform over what both accept. `reject` names the
    /// rule a candidate fails, or `None` to accept it. After [`WHERE_ATTEMPTS`] refusals it
    /// gives up and names the rule, since the policy then cannot be met (say, required
    /// characters that spell the username).
    pub fn generate_where<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        mut reject: impl FnMut(&str) -> Option<&'static str>,
    ) -> Result<Zeroizing<String>, GenerateError> {
        let mut last = "";
        for _ in 0..WHERE_ATTEMPTS {
            let candidate = self.generate(rng)?;
            match reject(&candidate) {
                None => return Ok(candidate),
                Some(rule) => last = rule,
            }
        }
        let hint = match last {
            "username" => {
                "every candidate contains the username, so the rules cannot be met for it (do the required \
                           characters spell it?); check the username or loosen the rules"
            }
            "looks-random" => "every candidate looked patterned; generate a longer one (--length)",
            _ => "the rules cannot be met together; loosen them",
        };
        Err(GenerateError::Exhausted {
            policy: self.policy.clone(),
            reason: format!("{WHERE_ATTEMPTS} candidates in a row failed the {last} rule: {hint}"),
        })
    }
}

#[cfg(test)]
mod tests;
