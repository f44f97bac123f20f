//! The built-in policies, with exactly the rules SPEC §2 gives; docs/policies.md explains why
//! each rule is what it is.

use super::charset::{APPLE_SPECIALS, Charset, SAFE_SPECIALS, SALESFORCE_SPECIALS};
use super::{Class, Format, Generation, GenerationRules, Policy, Required};

/// Names of the built-in policies, in display order.
pub const PRESET_NAMES: &[&str] =
    &["salesforce", "entra-password", "microsoft-app-password", "entra-client-secret", "strong"];

fn alnum() -> Charset {
    Charset::upper().union(Charset::lower()).union(Charset::digit())
}

/// upper, lower, digit and a special class with the given members.
fn four_classes(specials: &str, special_name: &str) -> Vec<Class> {
    vec![
        Class::new("upper", Charset::upper()),
        Class::new("lower", Charset::lower()),
        Class::new("digit", Charset::digit()),
        Class::new(format!("special ({special_name})"), Charset::of(specials)),
    ]
}

const SALESFORCE_LOGIN_RETIREMENT: &str = "Salesforce retires username–password logins in 2027: \
     plan a move to a connected app with the client-credentials flow (kind salesforce-client-credentials)";
const APP_PASSWORD_MFA: &str = "app passwords work only while per-user MFA is enabled on the account; \
     an Entra app registration with a client secret (kind entra-client-secret) does not depend on it";

/// A preset by name.
pub(super) fn preset(name: &str) -> Option<Policy> {
    let safe_alphabet = alnum().union(Charset::of(SAFE_SPECIALS));
    let policy = match name {
        "salesforce" => {
            let alphabet = alnum().union(Charset::of(SALESFORCE_SPECIALS));
            let classes = four_classes(SALESFORCE_SPECIALS, SALESFORCE_SPECIALS);
            Policy {
                name: name.into(),
                summary: "Salesforce API-only integration user: 30+ random characters".into(),
                rules_source: None,
                accept: alphabet,
                min_length: 30,
                max_length: Some(128),
                required: Required::all(classes.clone()),
                max_consecutive: None,
                username_rule: true,
                looks_random: true,
                format: None,
                generation: Generation::Local(GenerationRules {
                    alphabet,
                    length: 32,
                    required: classes,
                    max_consecutive: None,
                }),
                warnings: vec![SALESFORCE_LOGIN_RETIREMENT],
            }
        }
        "entra-password" => Policy {
            name: name.into(),
            summary: "Entra ID (Dynamics 365) user password".into(),
            rules_source: None,
            accept: Charset::printable(),
            min_length: 8,
            max_length: Some(256),
            required: Required { classes: four_classes(APPLE_SPECIALS, "any symbol or space"), at_least: 3 },
            max_consecutive: None,
            username_rule: true,
            looks_random: true,
            format: None,
            generation: Generation::Local(GenerationRules {
                alphabet: safe_alphabet,
                length: 32,
                required: four_classes(SAFE_SPECIALS, SAFE_SPECIALS),
                max_consecutive: None,
            }),
            warnings: vec![],
        },
        "microsoft-app-password" => Policy {
            name: name.into(),
            summary: "Microsoft app password (16 lowercase letters, ^[a-z]{16}$)".into(),
            rules_source: None,
            accept: Charset::lower(),
            min_length: 16,
            max_length: Some(16),
            required: Required::none(),
            max_consecutive: None,
            username_rule: false,
            looks_random: false,
            format: None,
            generation: Generation::External(
                "Microsoft generates app passwords: the account's owner creates one under My Sign-Ins → \
                 Security info → Add sign-in method → App password, then sends it with \
                 `sealpass send --kind dynamics-app-password`",
            ),
            warnings: vec![APP_PASSWORD_MFA],
        },
        "entra-client-secret" => Policy {
            name: name.into(),
            summary: "Entra ID app registration client secret value".into(),
            rules_source: None,
            accept: Charset::graphic(),
            min_length: 40,
            max_length: Some(40),
            required: Required::none(),
            max_consecutive: None,
            username_rule: false,
            looks_random: false,
            format: Some(Format {
                pattern: r"^[A-Za-z0-9._~-]{3}[78]Q~[A-Za-z0-9._~-]{34}$",
                what: "Entra client secret value",
                legacy_lengths: &[32, 34],
                guid_is_an_id: true,
            }),
            generation: Generation::External(
                "Entra ID generates client secrets: App registrations → your app → Certificates & secrets → \
                 New client secret; copy the Value column (shown once), not the Secret ID",
            ),
            warnings: vec![],
        },
        "strong" => Policy {
            name: name.into(),
            summary: "any other secret: 16+ characters that look random".into(),
            rules_source: None,
            accept: Charset::any_printable(),
            min_length: 16,
            max_length: None,
            required: Required::none(),
            max_consecutive: None,
            username_rule: false,
            looks_random: true,
            format: None,
            generation: Generation::Local(GenerationRules {
                alphabet: safe_alphabet,
                length: 24,
                required: vec![],
                max_consecutive: None,
            }),
            warnings: vec![],
        },
        _ => return None,
    };
    Some(policy)
}
