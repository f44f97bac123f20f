//! Password policies: one model that carries every rule a preset or a custom `passwordrules`
//! string can express, so the generator, the checker and `sealpass policies` agree by construction.

pub mod charset;
mod check;
mod presets;
pub mod randomness;
mod rules;

use std::fmt;

pub use charset::Charset;
pub use check::{Report, RuleResult};
pub use presets::PRESET_NAMES;

/// A named character class that a rule requires (or counts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    /// Short name shown to people: `upper`, `digit`, `special`, `[-_]`…
    pub name: String,
    /// Members of the class.
    pub chars: Charset,
}

impl Class {
    /// A class with a name.
    pub fn new(name: impl Into<String>, chars: Charset) -> Class {
        Class { name: name.into(), chars }
    }
}

/// "At least `at_least` of these classes must each appear at least once."
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Required {
    /// The classes that count.
    pub classes: Vec<Class>,
    /// How many of them must appear; `classes.len()` means all of them.
    pub at_least: usize,
}

impl Required {
    /// Every class must appear.
    pub fn all(classes: Vec<Class>) -> Required {
        Required { at_least: classes.len(), classes }
    }
    /// No class is required.
    pub fn none() -> Required {
        Required::default()
    }
}

/// A structural format check for secrets whose shape a vendor dictates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// Regular expression the whole secret must match.
    pub pattern: &'static str,
    /// What the format is, for people.
    pub what: &'static str,
    /// Older formats still accepted, with a warning: exact lengths of printable-ASCII secrets.
    pub legacy_lengths: &'static [usize],
    /// Whether a GUID means the user copied an identifier instead of the secret.
    pub guid_is_an_id: bool,
}

/// How passwords for a policy come to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generation {
    /// sealpass generates them.
    Local(GenerationRules),
    /// Someone else generates them; the text says who and where.
    External(&'static str),
}

/// What the generator draws from and must satisfy (always "all of" for classes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationRules {
    /// The alphabet drawn from (ASCII only).
    pub alphabet: Charset,
    /// Default length.
    pub length: usize,
    /// Classes that must each appear at least once.
    pub required: Vec<Class>,
    /// No more than this many identical characters in a row.
    pub max_consecutive: Option<usize>,
}

/// A password policy: what is accepted, and how compliant passwords are generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `salesforce`, `strong`, … or `custom` for `--rules`.
    pub name: String,
    /// One line on what the policy is for.
    pub summary: String,
    /// The `passwordrules` text a custom policy came from.
    pub rules_source: Option<String>,
    /// Characters a secret may contain.
    pub accept: Charset,
    /// Smallest accepted length, in characters.
    pub min_length: usize,
    /// Largest accepted length, in characters; `None` for no limit.
    pub max_length: Option<usize>,
    /// Classes that must appear.
    pub required: Required,
    /// No more than this many identical characters in a row.
    pub max_consecutive: Option<usize>,
    /// Whether the policy forbids containing the username (checked when one is known).
    pub username_rule: bool,
    /// Whether the secret must not be made of predictable patterns.
    pub looks_random: bool,
    /// Vendor-dictated shape.
    pub format: Option<Format>,
    /// How passwords are made.
    pub generation: Generation,
    /// Advice that never fails a check.
    pub warnings: Vec<&'static str>,
}

/// Why a policy could not be chosen or built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// Unknown preset name.
    #[error("unknown policy '{0}'. Run `sealpass policies` to list them, or write your own with --rules")]
    Unknown(String),
    /// The passwordrules text did not parse.
    #[error("could not parse --rules: {0}")]
    Rules(String),
    /// The passwordrules text parsed but makes no sense.
    #[error("--rules: {0}")]
    Impossible(String),
}

impl Policy {
    /// A built-in policy by name.
    pub fn preset(name: &str) -> Result<Policy, PolicyError> {
        presets::preset(name).ok_or_else(|| PolicyError::Unknown(name.to_owned()))
    }

    /// All built-in policies, in the order `sealpass policies` shows them.
    pub fn presets() -> Vec<Policy> {
        PRESET_NAMES.iter().filter_map(|n| presets::preset(n)).collect()
    }

    /// A custom policy from Apple's `passwordrules` language.
    pub fn from_rules(text: &str) -> Result<Policy, PolicyError> {
        rules::from_passwordrules(text)
    }

    /// The accepted length range as people write it: `30–128`, `≥ 16`, `16`.
    pub fn length_range(&self) -> String {
        match self.max_length {
            None => format!("≥ {}", self.min_length),
            Some(max) if max == self.min_length => max.to_string(),
            Some(max) => format!("{}–{}", self.min_length, max),
        }
    }

    /// Whether `len` is within the accepted length range.
    pub fn accepts_length(&self, len: usize) -> bool {
        len >= self.min_length && self.max_length.is_none_or(|max| len <= max)
    }

    /// Evaluate every rule against `secret`. `username` turns on the username rule.
    pub fn check(&self, secret: &str, username: Option<&str>) -> Report {
        check::check(self, secret, username)
    }

    /// Human descriptions of each acceptance rule, for `sealpass policies`.
    pub fn rule_lines(&self) -> Vec<String> {
        let mut lines =
            vec![format!("length {}", self.length_range()), format!("characters: {}", self.accept.describe())];
        if !self.required.classes.is_empty() {
            lines.push(describe_required(&self.required));
        }
        if let Some(max) = self.max_consecutive {
            lines.push(format!("no more than {max} identical characters in a row"));
        }
        if self.username_rule {
            lines.push("must not contain the username (case-insensitive; also its local part)".into());
        }
        if let Some(format) = &self.format {
            lines.push(format!("format: {} ({})", format.what, format.pattern));
            if format.guid_is_an_id {
                lines.push("a GUID is rejected: that is the secret's ID, not its value".into());
            }
            if !format.legacy_lengths.is_empty() {
                let lens: Vec<String> = format.legacy_lengths.iter().map(|l| l.to_string()).collect();
                lines.push(format!("legacy {}-character secrets pass with a warning", lens.join("/")));
            }
        }
        if self.looks_random {
            lines.push("must look random: no words, keyboard walks, repeats, sequences or dates".into());
        }
        lines
    }
}

/// "at least one of each: upper, lower" / "at least 3 of: upper, lower, digit, special".
pub(crate) fn describe_required(req: &Required) -> String {
    let names: Vec<&str> = req.classes.iter().map(|c| c.name.as_str()).collect();
    if req.at_least >= req.classes.len() {
        format!("at least one of each: {}", names.join(", "))
    } else {
        format!("at least {} of: {}", req.at_least, names.join(", "))
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
