//! What an envelope's content is checked against, whatever its kind: a secret against its
//! password policy, a key file against its structure, and the identifiers of a kind without a
//! secret against the certificates the vendor publishes. One verdict, a [`Report`], for the
//! sender before sealing and the receiver after opening. Pure.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::cert::{self, Certificate};
use crate::envelope::{self, Kind};
use crate::keyfile;
use crate::policy::{Policy, Report, RuleResult};

/// What the content is checked against besides its kind.
#[derive(Clone, Copy, Debug)]
pub struct Against<'a> {
    /// The password policy, for a kind with a password-like secret.
    pub policy: Option<&'a Policy>,
    /// The vendor's certificates, when known (the sender read them; the receiver asked its
    /// server). `None` offline.
    pub certificates: Option<&'a [Certificate]>,
    /// Now, as the caller's clock says: what a certificate's validity and a secret's recorded
    /// expiry are judged at (this module reads no clock of its own).
    pub now: time::OffsetDateTime,
}

/// Check what an envelope of `kind` holds.
pub fn check(kind: Kind, secret: &SecretString, fields: &BTreeMap<String, SecretString>, against: Against) -> Report {
    let mut report = content(kind, secret, fields, against);
    // A field of the wrong shape fails like any rule (identifiers() reports its own).
    if kind.has_secret() {
        let bad = bad_fields(kind, fields);
        if !bad.is_empty() {
            report.rules.push(RuleResult { rule: "identifiers", ok: false, detail: bad.join("; ") });
            report.compliant = false;
        }
    }
    report
}

/// Why each field fails its shape.
fn bad_fields(kind: Kind, fields: &BTreeMap<String, SecretString>) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(name, value)| envelope::validate_field(kind, name, value.expose_secret()).err())
        .map(|e| e.to_string())
        .collect()
}

fn content(kind: Kind, secret: &SecretString, fields: &BTreeMap<String, SecretString>, against: Against) -> Report {
    if kind == Kind::KeyFile {
        let format = fields.get("format").and_then(|f| keyfile::KeyFormat::from_name(f.expose_secret()));
        return match (envelope::key_file_bytes(secret), format) {
            (Ok(bytes), Some(format)) => keyfile::check(&bytes, format, against.now),
            (Err(e), _) => failed("key-file", "structure", e.to_string()),
            (_, None) => failed("key-file", "format", "the format field must be pem, pkcs12 or json".into()),
        };
    }
    if !kind.has_secret() {
        return identifiers(kind, fields, against.certificates);
    }
    let mut report = match against.policy {
        Some(policy) => {
            let username = fields.get("username").map(|u| u.expose_secret().to_owned());
            policy.check(secret.expose_secret(), username.as_deref())
        }
        None => failed("none", "policy", format!("no policy to check {} against", kind)),
    };
    if let Some(warning) = fields.get("expires_on").and_then(|d| expiry_warning(d.expose_secret(), against.now.date()))
    {
        report.warnings.push(warning);
    }
    report
}

/// A client secret's recorded expiry, when it is near or past: Entra stops accepting it then.
fn expiry_warning(date: &str, today: time::Date) -> Option<String> {
    let expires = envelope::parse_date(date)?;
    let days = (expires - today).whole_days();
    match days {
        ..0 => Some(format!("the secret expired on {date}: Entra ID no longer accepts it; make a new one")),
        0..=30 => Some(format!("the secret expires on {date}, in {days} days: plan its replacement")),
        _ => None,
    }
}

fn failed(policy: &str, rule: &'static str, detail: String) -> Report {
    Report {
        policy: policy.into(),
        compliant: false,
        rules: vec![RuleResult { rule, ok: false, detail }],
        warnings: Vec::new(),
        entropy_estimate_bits: 0.0,
    }
}

/// The identifiers of a kind without a secret: each of the shape its CRM gives it, and an Entra
/// thumbprint one of the vendor's certificates'.
fn identifiers(kind: Kind, fields: &BTreeMap<String, SecretString>, certificates: Option<&[Certificate]>) -> Report {
    let mut rules = Vec::new();
    let mut warnings = Vec::new();
    let bad = bad_fields(kind, fields);
    let missing = kind.missing_fields(fields);
    rules.push(match (bad.is_empty(), missing.is_empty()) {
        (true, true) => RuleResult { rule: "identifiers", ok: true, detail: "every identifier has its shape".into() },
        (false, _) => RuleResult { rule: "identifiers", ok: false, detail: bad.join("; ") },
        (true, false) => {
            RuleResult { rule: "identifiers", ok: false, detail: format!("missing: {}", missing.join(", ")) }
        }
    });
    if kind == Kind::EntraCertificate {
        let given = fields.get("thumbprint").and_then(|t| cert::normal_thumbprint(t.expose_secret()));
        match (certificates, given) {
            (Some(certs), Some(given)) => {
                let known = certs.iter().find(|c| c.sha1_thumbprint == given || c.sha256.eq_ignore_ascii_case(&given));
                rules.push(match known {
                    Some(c) => RuleResult {
                        rule: "thumbprint",
                        ok: true,
                        detail: format!("the vendor's certificate {}", crate::text::shown(&c.subject)),
                    },
                    None => RuleResult {
                        rule: "thumbprint",
                        ok: false,
                        detail: format!(
                            "{given} is not the thumbprint of a certificate the vendor publishes ({}): register the \
                             vendor's certificate and give the thumbprint Entra ID shows for it",
                            certs.iter().map(|c| c.sha1_thumbprint.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    },
                });
            }
            (None, Some(_)) => warnings.push("the thumbprint was not compared with the vendor's certificates".into()),
            (_, None) => {}
        }
    }
    Report {
        policy: "identifiers".into(),
        compliant: rules.iter().all(|r| r.ok),
        rules,
        warnings,
        entropy_estimate_bits: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_near_or_past_its_expiry_warns() {
        let today = time::Date::from_calendar_date(2026, time::Month::December, 1).unwrap();
        assert!(expiry_warning("2026-11-30", today).unwrap().contains("expired"));
        assert!(expiry_warning("2026-12-15", today).unwrap().contains("in 14 days"));
        assert_eq!(expiry_warning("2027-12-01", today), None);
    }
}
