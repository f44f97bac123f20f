//! The "looks random" rule: finds the predictable patterns people type (words, keyboard walks,
//! repeats, sequences, dates) with the `zxcvbn` estimator and measures how much of the secret
//! they explain.
//!
//! zxcvbn-rs counts guesses in a saturating `u64`, so past ~19 characters every decomposition
//! ties at `u64::MAX` and its optimal sequence becomes arbitrary. We therefore run it on
//! overlapping 16-character windows (whose counts cannot saturate), plus once over the whole
//! secret for patterns too long for a window (a repeated 12-character block). A secret fails when
//! the patterns found cover half of the characters analysed or more (and at least 10 of them, so
//! that two short look-alike words in a random 16-character string are not enough). Findings are reported by
//! kind and position only: a report never quotes the secret.

use zeroize::Zeroizing;
use zxcvbn::matching::Match;
use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

/// zxcvbn looks at no more than this many characters.
pub const ANALYSED_CHARS: usize = 100;
const WINDOW: usize = 16;
const STRIDE: usize = WINDOW / 2;
/// Shorter matches are noise: random strings are full of two- and three-letter words.
const MIN_FINDING: usize = 4;
/// Random strings of 16 characters occasionally hold two 4-letter look-alike words (8 of 16
/// characters); a secret must have at least this many characters in patterns to fail.
const MIN_COVERED: usize = 10;

/// One predictable pattern, by kind and 0-based inclusive character positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What kind of pattern it is, for people ("a common password", "a keyboard walk").
    pub kind: &'static str,
    /// First character (0-based).
    pub start: usize,
    /// Last character (0-based, inclusive).
    pub end: usize,
    /// zxcvbn's estimate of guesses needed for this part.
    pub guesses: u64,
}

impl Finding {
    /// Number of characters the pattern spans.
    pub fn len(&self) -> usize {
        self.end + 1 - self.start
    }
    /// Never true: a finding spans at least one character.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// What the analysis found.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Characters analysed (the first [`ANALYSED_CHARS`]).
    pub analysed: usize,
    /// Characters inside at least one finding.
    pub covered: usize,
    /// Patterns found, longest first among overlapping ones, in order of position.
    pub findings: Vec<Finding>,
}

impl Analysis {
    /// The rule: patterns explain less than half of what was analysed (and, in secrets of 20
    /// characters or fewer, fewer than 10 characters).
    pub fn looks_random(&self) -> bool {
        let threshold = self.analysed.div_ceil(2).max(MIN_COVERED.min(self.analysed));
        self.analysed > 0 && self.covered < threshold
    }

    /// `"a common password (chars 1–11), a repeated block (chars 1–24)"`.
    pub fn describe(&self, max: usize) -> String {
        let mut parts: Vec<String> = self
            .findings
            .iter()
            .take(max)
            .map(|f| format!("{} (chars {}–{})", f.kind, f.start + 1, f.end + 1))
            .collect();
        if self.findings.len() > max {
            parts.push(format!("and {} more", self.findings.len() - max));
        }
        parts.join(", ")
    }
}

fn dictionary_kind(d: &DictionaryPattern) -> &'static str {
    // zxcvbn does not export its dictionary enum, only its Debug form.
    let base = match format!("{:?}", d.dictionary_name).as_str() {
        "Passwords" => "a common password",
        "English" => "an English word",
        "FemaleNames" | "MaleNames" => "a first name",
        "Surnames" => "a surname",
        "UsTvAndFilm" => "a word from film and TV",
        _ => "the username",
    };
    match (d.reversed, d.l33t) {
        (true, _) => match base {
            "a common password" => "a common password reversed",
            "an English word" => "an English word reversed",
            _ => "a name or word reversed",
        },
        (false, true) => match base {
            "a common password" => "a common password with look-alike characters",
            "an English word" => "an English word with look-alike characters",
            _ => "a name or word with look-alike characters",
        },
        _ => base,
    }
}

fn kind(m: &Match) -> Option<&'static str> {
    Some(match &m.pattern {
        MatchPattern::Dictionary(d) => dictionary_kind(d),
        MatchPattern::Spatial(_) => "a keyboard walk",
        MatchPattern::Repeat(_) => "a repeated block",
        MatchPattern::Sequence(_) => "a character sequence",
        MatchPattern::Regex(_) => "a recent year",
        MatchPattern::Date(_) => "a date",
        MatchPattern::BruteForce => return None,
    })
}

fn findings_in(chars: &[char], offset: usize, min_len: usize, out: &mut Vec<Finding>) {
    // zxcvbn keeps its own copies (match tokens) that we cannot wipe; ours we do.
    let text: Zeroizing<String> = Zeroizing::new(chars.iter().collect());
    let entropy = zxcvbn::zxcvbn(&text, &[]);
    for m in entropy.sequence() {
        if m.j + 1 - m.i < min_len {
            continue;
        }
        if let Some(kind) = kind(m) {
            let guesses = m.guesses.unwrap_or(u64::MAX);
            out.push(Finding { kind, start: offset + m.i, end: offset + m.j, guesses });
        }
    }
}

/// Analyse the first [`ANALYSED_CHARS`] characters of `secret`.
pub fn analyse(secret: &str) -> Analysis {
    let chars: Zeroizing<Vec<char>> = Zeroizing::new(secret.chars().take(ANALYSED_CHARS).collect());
    let mut found = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let end = (start + WINDOW).min(chars.len());
        findings_in(&chars[start..end], start, MIN_FINDING, &mut found);
        if end == chars.len() {
            break;
        }
        start += STRIDE;
    }
    if chars.len() > WINDOW {
        // Only patterns no window could hold whole: shorter ones are the windows' job, and the
        // whole-string pass picks short ones arbitrarily once guesses saturate.
        findings_in(&chars, 0, STRIDE + 1, &mut found);
    }
    let mut covered = vec![false; chars.len()];
    for f in &found {
        covered[f.start..=f.end].iter_mut().for_each(|c| *c = true);
    }
    // Keep the longest of overlapping findings, in order of position.
    found.sort_by(|a, b| b.len().cmp(&a.len()).then(a.start.cmp(&b.start)));
    let mut kept: Vec<Finding> = Vec::new();
    for f in found {
        if !kept.iter().any(|k| f.start <= k.end && k.start <= f.end) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.start);
    Analysis { analysed: chars.len(), covered: covered.iter().filter(|c| **c).count(), findings: kept }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_passwords_fail_even_when_long() {
        for typed in [
            "Password123!Password123!Password1",
            "correct-horse-battery-staple-tiger",
            "qwertyuiopasdfghjklzxcvbnm1234567890",
            "Summer2024!Summer2024!Summer2024!",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "19840312-20011225-19990101-2020",
            "Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3xx",
            "monkey-dragon-sunshine-football7",
            "Acme-Integration-Service-Account1!",
        ] {
            let a = analyse(typed);
            assert!(!a.looks_random(), "{typed}: {a:?}");
            assert!(!a.findings.is_empty());
        }
    }

    #[test]
    fn random_strings_pass() {
        for random in ["5=3wNdPM1Rk+3b_xHkKalOcE4$4eKNZJ", "O-ibV9XDiqWSR%rp%sDIaSkNLreY#hDQ"] {
            assert!(analyse(random).looks_random(), "{random}");
        }
    }

    #[test]
    fn description_names_kinds_and_positions_but_never_the_text() {
        let a = analyse("Password123!Password123!Password1");
        let d = a.describe(5);
        assert!(d.contains("chars 1–"), "{d}");
        assert!(!d.to_lowercase().contains("password1"), "{d}");
    }

    #[test]
    fn short_typed_passwords_fail_too() {
        for typed in ["password", "Password1234567!", "iloveyou12345678", "Summer2024!Summer"] {
            assert!(!analyse(typed).looks_random(), "{typed}: {:?}", analyse(typed));
        }
    }

    #[test]
    fn empty_input_is_not_random() {
        assert!(!analyse("").looks_random());
    }
}
