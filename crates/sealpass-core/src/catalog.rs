//! The built-in policies and credential kinds as data: the document `sealpass policies --json`
//! prints and `GET /v1/policies` serves, with every rule in a form a program can run. The web
//! sender page checks and generates from exactly this, so its engine and the Rust one read the
//! same rules. Pure: built from the policy model, the generator and the envelope's kinds.

use serde::Serialize;

use crate::envelope::Kind;
use crate::generate::Generator;
use crate::policy::{Charset, Class, Generation, Policy};

/// Version of the document's shape.
pub const VERSION: u32 = 1;

/// Everything: policies, then kinds.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalog {
    /// Shape version ([`VERSION`]).
    pub version: u32,
    /// The built-in policies, in the order `sealpass policies` lists them.
    pub policies: Vec<PolicyEntry>,
    /// The credential kinds, with their fields and default policy.
    pub kinds: Vec<KindEntry>,
}

/// A set of characters: its ASCII members, in code-point order, and whether every non-ASCII
/// character belongs too.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CharsetData {
    /// The ASCII members.
    pub ascii: String,
    /// Whether all non-ASCII characters are members.
    pub non_ascii: bool,
}

impl From<Charset> for CharsetData {
    fn from(set: Charset) -> CharsetData {
        CharsetData { ascii: set.ascii_chars().collect(), non_ascii: set.has_non_ascii() }
    }
}

/// A named class of characters.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassData {
    /// Its name, as reports show it.
    pub name: String,
    /// Its members.
    pub chars: CharsetData,
}

impl From<&Class> for ClassData {
    fn from(class: &Class) -> ClassData {
        ClassData { name: class.name.clone(), chars: class.chars.into() }
    }
}

/// "At least `at_least` of these classes".
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequiredData {
    /// The classes.
    pub classes: Vec<ClassData>,
    /// How many must each appear.
    pub at_least: usize,
}

/// A vendor's format for a secret.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormatData {
    /// A regular expression the whole secret must match (ASCII classes; `u` semantics).
    pub pattern: String,
    /// What the format is, for people.
    pub what: String,
    /// Lengths of older printable-ASCII secrets accepted with a warning.
    pub legacy_lengths: Vec<usize>,
    /// Whether a GUID means the user copied the secret's id instead of its value.
    pub guid_is_an_id: bool,
}

/// What a secret must satisfy, rule by rule (the checker's model).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckData {
    /// Characters a secret may contain (control and invisible format characters never).
    pub accept: CharsetData,
    /// Shortest, in characters.
    pub min_length: usize,
    /// Longest, in characters.
    pub max_length: Option<usize>,
    /// Classes that must appear.
    pub required: RequiredData,
    /// No more than this many identical characters in a row.
    pub max_consecutive: Option<usize>,
    /// Whether the secret must not contain the username.
    pub username_rule: bool,
    /// Whether the secret must not be made of predictable patterns.
    pub looks_random: bool,
    /// A vendor-dictated shape.
    pub format: Option<FormatData>,
}

/// How sealpass generates for a policy.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerationData {
    /// The alphabet, ASCII, in code-point order.
    pub alphabet: String,
    /// Default length.
    pub length: usize,
    /// Classes that must each appear.
    pub required: Vec<ClassData>,
    /// Longest run of identical characters.
    pub max_consecutive: Option<usize>,
    /// Exact entropy of a generated password, in bits.
    pub entropy_bits: f64,
}

/// One policy.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PolicyEntry {
    /// Its name.
    pub name: String,
    /// One line on what it is for.
    pub summary: String,
    /// The rules, for a program.
    pub check: CheckData,
    /// How sealpass generates, if it does.
    pub generates: Option<GenerationData>,
    /// Who generates these secrets instead, and where.
    pub generated_by: Option<&'static str>,
    /// The rules, for people.
    pub rules: Vec<String>,
    /// Advice that never fails a check.
    pub warnings: Vec<&'static str>,
}

/// A field of a kind.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldEntry {
    /// Its name, as in the envelope.
    pub name: &'static str,
    /// Whether an envelope of the kind must carry it.
    pub required: bool,
    /// `text`, `secret` (never shown), `date`, or a shape: `guid`, `url` (https://),
    /// `consumer-key`, `my-domain-url`, `dataverse-url`, `email`, `thumbprint`, `file-name`,
    /// `key-format`.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// The shape a value must have: a regular expression with the same meaning in Rust and in
    /// JavaScript (`u` flag).
    pub pattern: Option<&'static str>,
    /// What the shape is, for people ("must be …").
    pub expected: Option<&'static str>,
}

/// What replaces a legacy kind.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuccessorData {
    /// The kinds to use instead.
    pub kinds: &'static str,
    /// Why, in one line.
    pub why: &'static str,
}

/// Who issues a kind's secret.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuerData {
    /// The CRM or identity provider.
    pub who: &'static str,
    /// Where in it the secret is made and copied from.
    #[serde(rename = "where")]
    pub copy_from: &'static str,
}

/// A credential kind.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindEntry {
    /// Its name.
    pub name: &'static str,
    /// The policy its secret is checked against by default (none: its content is checked by
    /// its structure or shape).
    pub default_policy: Option<&'static str>,
    /// Whether it carries a secret (two kinds carry only identifiers).
    pub has_secret: bool,
    /// Whether the customer registers the vendor's certificate (see `GET /v1/info`).
    pub registers_certificate: bool,
    /// The steps to register it, for people; `{file}` and `{thumbprint}` stand for the
    /// certificate's.
    pub registration_steps: Vec<&'static str>,
    /// For a legacy kind: what replaces it, and why.
    pub successor: Option<SuccessorData>,
    /// For a kind whose secret the CRM issues: who, and where to copy it from. sealpass
    /// generates none for these.
    pub issued_by: Option<IssuerData>,
    /// Its fields (`generic` takes free ones).
    pub fields: Vec<FieldEntry>,
}

fn policy_entry(policy: &Policy) -> PolicyEntry {
    let (generates, generated_by) = match &policy.generation {
        Generation::Local(rules) => {
            let entropy_bits = Generator::new(policy, None).map_or(f64::NAN, |g| g.entropy_bits());
            let generates = GenerationData {
                alphabet: rules.alphabet.ascii_chars().collect(),
                length: rules.length,
                required: rules.required.iter().map(ClassData::from).collect(),
                max_consecutive: rules.max_consecutive,
                entropy_bits,
            };
            (Some(generates), None)
        }
        Generation::External(who) => (None, Some(*who)),
    };
    let format = policy.format.as_ref().map(|f| FormatData {
        pattern: f.pattern.to_owned(),
        what: f.what.to_owned(),
        legacy_lengths: f.legacy_lengths.to_vec(),
        guid_is_an_id: f.guid_is_an_id,
    });
    PolicyEntry {
        name: policy.name.clone(),
        summary: policy.summary.clone(),
        check: CheckData {
            accept: policy.accept.into(),
            min_length: policy.min_length,
            max_length: policy.max_length,
            required: RequiredData {
                classes: policy.required.classes.iter().map(ClassData::from).collect(),
                at_least: policy.required.at_least,
            },
            max_consecutive: policy.max_consecutive,
            username_rule: policy.username_rule,
            looks_random: policy.looks_random,
            format,
        },
        generates,
        generated_by,
        rules: policy.rule_lines(),
        warnings: policy.warnings.clone(),
    }
}

fn kind_entry(kind: Kind) -> KindEntry {
    let fields = kind
        .fields()
        .iter()
        .map(|f| FieldEntry {
            name: f.name,
            required: f.required,
            ty: f.ty.name(),
            pattern: f.ty.shape().map(|(p, _)| p),
            expected: f.ty.shape().map(|(_, e)| e),
        })
        .collect();
    KindEntry {
        name: kind.name(),
        default_policy: kind.default_policy(),
        has_secret: kind.has_secret(),
        registers_certificate: kind.registers_certificate(),
        registration_steps: kind.registration_steps().to_vec(),
        successor: kind.successor().map(|s| SuccessorData { kinds: s.kinds, why: s.why }),
        issued_by: kind.issued_by().map(|i| IssuerData { who: i.who, copy_from: i.copy_from }),
        fields,
    }
}

/// The catalog.
pub fn catalog() -> Catalog {
    Catalog {
        version: VERSION,
        policies: Policy::presets().iter().map(policy_entry).collect(),
        kinds: Kind::ALL.into_iter().map(kind_entry).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_and_kind_is_listed_with_runnable_rules() {
        let c = catalog();
        assert_eq!(c.policies.len(), crate::policy::PRESET_NAMES.len());
        assert_eq!(c.kinds.len(), Kind::ALL.len());
        let sf = &c.policies[0];
        assert_eq!(sf.name, "salesforce");
        assert_eq!(sf.check.accept.ascii.len(), 70);
        assert_eq!(sf.check.required.at_least, 4);
        assert!(sf.check.looks_random && sf.check.username_rule);
        let secret = c.policies.iter().find(|p| p.name == "entra-client-secret").unwrap();
        assert!(secret.check.format.as_ref().is_some_and(|f| f.guid_is_an_id && f.legacy_lengths == [32, 34]));
        assert!(secret.generates.is_none() && secret.generated_by.is_some());
        for kind in &c.kinds {
            let policy = kind.default_policy;
            assert!(policy.is_none_or(|name| c.policies.iter().any(|p| p.name == name)), "{}", kind.name);
            assert_eq!(policy.is_none(), !kind.has_secret || kind.name == "key-file", "{}", kind.name);
            assert_eq!(kind.registers_certificate, !kind.registration_steps.is_empty(), "{}", kind.name);
            for field in &kind.fields {
                if let Some(pattern) = field.pattern {
                    regex::Regex::new(pattern).unwrap();
                }
            }
        }
    }
}
