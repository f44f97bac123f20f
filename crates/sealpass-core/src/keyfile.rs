//! Key files sealed as a `key-file` credential (SPEC §9): which format a file is, and whether
//! its structure holds — PEM keys parse, a PEM private key with certificates belongs to one of
//! them, a PFX is a PKCS #12 v3 structure, a JSON key is an object — reported rule by rule like
//! a password check, so sender and receiver read the same verdict. Pure: bytes and a clock in.

use rustls_pki_types::pem::{PemObject, SectionKind};
use x509_cert::der::{Decode, Encode};
use zeroize::Zeroizing;

use crate::cert;
use crate::policy::{Report, RuleResult};

/// What a key file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// PEM text: keys and certificates.
    Pem,
    /// PKCS #12 / PFX, DER.
    Pkcs12,
    /// A JSON key (a cloud service account's, say).
    Json,
}

impl KeyFormat {
    /// Its name in the envelope's `format` field.
    pub fn name(self) -> &'static str {
        match self {
            KeyFormat::Pem => "pem",
            KeyFormat::Pkcs12 => "pkcs12",
            KeyFormat::Json => "json",
        }
    }

    /// The format with this name.
    pub fn from_name(name: &str) -> Option<KeyFormat> {
        [KeyFormat::Pem, KeyFormat::Pkcs12, KeyFormat::Json].into_iter().find(|f| f.name() == name)
    }
}

/// The format of `bytes`, from its first bytes.
pub fn detect(bytes: &[u8]) -> Result<KeyFormat, String> {
    let text_start = bytes.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &bytes[i..]).unwrap_or_default();
    if text_start.starts_with(b"-----BEGIN ") {
        Ok(KeyFormat::Pem)
    } else if text_start.starts_with(b"{") {
        Ok(KeyFormat::Json)
    } else if bytes.first() == Some(&0x30) {
        Ok(KeyFormat::Pkcs12)
    } else {
        Err("it is not a key file sealpass knows: PEM (-----BEGIN …), PKCS #12/PFX (DER) or a JSON key".into())
    }
}

fn rule(rule: &'static str, ok: bool, detail: impl Into<String>) -> RuleResult {
    RuleResult { rule, ok, detail: detail.into() }
}

/// Check `bytes` as a key file of `format` at time `now`.
pub fn check(bytes: &[u8], format: KeyFormat, now: time::OffsetDateTime) -> Report {
    let mut rules = Vec::new();
    let mut warnings = Vec::new();
    match detect(bytes) {
        Ok(found) if found == format => rules.push(rule("format", true, format!("a {} file", format.name()))),
        Ok(found) => rules.push(rule(
            "format",
            false,
            format!("it is said to be {} but reads as {}", format.name(), found.name()),
        )),
        Err(e) => rules.push(rule("format", false, e)),
    }
    if rules.iter().all(|r| r.ok) {
        match format {
            KeyFormat::Pem => check_pem(bytes, now, &mut rules, &mut warnings),
            KeyFormat::Pkcs12 => check_pkcs12(bytes, &mut rules, &mut warnings),
            KeyFormat::Json => check_json(bytes, now, &mut rules, &mut warnings),
        }
    }
    Report {
        policy: "key-file".into(),
        compliant: rules.iter().all(|r| r.ok),
        rules,
        warnings,
        entropy_estimate_bits: 0.0,
    }
}

/// The public key bits (as a certificate's SubjectPublicKeyInfo holds them) of a private key.
enum Public {
    Bits(Vec<u8>),
    /// Readable, but its public half cannot be derived here (why).
    Unknown(String),
}

const RSA: &str = "1.2.840.113549.1.1.1";
const EC: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";

fn rsa_public(pkcs1: &[u8]) -> Result<Public, String> {
    let key = rsa::pkcs1::RsaPrivateKey::from_der(pkcs1).map_err(|e| format!("not an RSA private key ({e})"))?;
    let public = key.public_key().to_der().map_err(|e| e.to_string())?;
    Ok(Public::Bits(public))
}

fn ec_public(sec1: &[u8]) -> Result<Public, String> {
    let key = sec1::EcPrivateKey::from_der(sec1).map_err(|e| format!("not an EC private key ({e})"))?;
    Ok(match key.public_key {
        Some(public) => Public::Bits(public.to_vec()),
        None => Public::Unknown("the EC key does not carry its public point".into()),
    })
}

fn pkcs8_public(der: &[u8]) -> Result<Public, String> {
    let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| format!("not a PKCS #8 private key ({e})"))?;
    match info.algorithm.oid.to_string().as_str() {
        RSA => rsa_public(info.private_key),
        EC => ec_public(info.private_key),
        ED25519 => match info.public_key {
            Some(public) => Ok(Public::Bits(public.to_vec())),
            None => ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(|pair| Public::Bits(ring::signature::KeyPair::public_key(&pair).as_ref().to_vec()))
                .map_err(|e| format!("not an Ed25519 private key ({e})")),
        },
        other => Ok(Public::Unknown(format!("keys of algorithm {other} are not matched"))),
    }
}

fn check_pem(bytes: &[u8], now: time::OffsetDateTime, rules: &mut Vec<RuleResult>, warnings: &mut Vec<String>) {
    let mut keys: Vec<Public> = Vec::new();
    let mut certs: Vec<cert::Certificate> = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = match section {
            Ok(section) => section,
            Err(e) => {
                rules.push(rule("structure", false, format!("the PEM is damaged ({e})")));
                return;
            }
        };
        let der = Zeroizing::new(der);
        let parsed = match kind {
            SectionKind::PrivateKey => pkcs8_public(&der).map(|p| keys.push(p)),
            SectionKind::RsaPrivateKey => rsa_public(&der).map(|p| keys.push(p)),
            SectionKind::EcPrivateKey => ec_public(&der).map(|p| keys.push(p)),
            SectionKind::Certificate => {
                cert::parse_der(&der, String::new()).map(|c| certs.push(c)).map_err(|e| format!("a certificate {e}"))
            }
            _ => Ok(()),
        };
        if let Err(e) = parsed {
            rules.push(rule("structure", false, e));
            return;
        }
    }
    let encrypted = cert::contains(bytes, b"BEGIN ENCRYPTED PRIVATE KEY--");
    if keys.is_empty() && certs.is_empty() && !encrypted {
        rules.push(rule("structure", false, "it holds no private key or certificate"));
        return;
    }
    let what = [(keys.len(), "private key"), (certs.len(), "certificate"), (usize::from(encrypted), "encrypted key")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| if *n == 1 { format!("1 {w}") } else { format!("{n} {w}s") })
        .collect::<Vec<_>>()
        .join(", ");
    rules.push(rule("structure", true, format!("readable PEM: {what}")));
    if encrypted {
        warnings.push(
            "the private key is encrypted: it cannot be matched to a certificate here, and its passphrase must reach \
             the vendor separately (never in the same drop)"
                .into(),
        );
    }
    for c in &certs {
        if c.not_after < now {
            warnings.push(format!("the certificate {} expired on {}", c.subject, cert::rfc3339(c.not_after)));
        } else if c.not_before > now {
            warnings.push(format!("the certificate {} is not valid before {}", c.subject, cert::rfc3339(c.not_before)));
        }
    }
    if keys.len() > 1 {
        warnings.push(format!("it holds {} private keys; usually a file holds one", keys.len()));
    }
    if certs.is_empty() {
        return;
    }
    for key in &keys {
        match key {
            Public::Bits(bits) if certs.iter().any(|c| &c.public_key == bits) => {
                rules.push(rule("key-matches-certificate", true, "the private key belongs to the certificate"));
            }
            Public::Bits(_) => rules.push(rule(
                "key-matches-certificate",
                false,
                "the private key does not belong to any certificate in the file: they are from different pairs",
            )),
            Public::Unknown(why) => warnings.push(format!("not matched to the certificate: {why}")),
        }
    }
}

fn check_pkcs12(bytes: &[u8], rules: &mut Vec<RuleResult>, warnings: &mut Vec<String>) {
    match pkcs12::pfx::Pfx::from_der(bytes) {
        Ok(pfx) => {
            let data = const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
            let signed = const_oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
            let content = pfx.auth_safe.content_type;
            if content != data && content != signed {
                rules.push(rule("structure", false, format!("a PFX whose content type {content} is not PKCS #7 data")));
                return;
            }
            rules.push(rule("structure", true, "a PKCS #12 (PFX) v3 file"));
            if pfx.mac_data.is_none() && content == data {
                warnings.push("the PFX has no integrity MAC: it was exported without a password".into());
            } else {
                warnings.push(
                    "its contents are protected by the file's password, which must reach the vendor separately \
                     (never in the same drop)"
                        .into(),
                );
            }
        }
        // Windows may write BER (indefinite lengths), which a DER reader refuses: say so.
        Err(_) if bytes.get(1) == Some(&0x80) => {
            rules.push(rule("structure", true, "a BER-encoded PKCS #12 (PFX) file"));
            warnings.push("the PFX is BER-encoded (indefinite lengths): its structure could not be checked".into());
        }
        Err(e) => rules.push(rule("structure", false, format!("not a PKCS #12 (PFX) file ({e})"))),
    }
}

fn check_json(bytes: &[u8], now: time::OffsetDateTime, rules: &mut Vec<RuleResult>, warnings: &mut Vec<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        rules.push(rule("structure", false, "not a JSON object"));
        return;
    };
    let value = Wiped(value);
    let Some(object) = value.0.as_object() else {
        rules.push(rule("structure", false, "not a JSON object"));
        return;
    };
    rules.push(rule("structure", true, format!("a JSON object with {} keys", object.len())));
    // A service-account key carries its private key as PEM: check it too.
    if let Some(pem) = object.get("private_key").and_then(serde_json::Value::as_str) {
        let mut inner = Vec::new();
        check_pem(pem.as_bytes(), now, &mut inner, warnings);
        for mut r in inner {
            r.detail = format!("private_key: {}", r.detail);
            rules.push(r);
        }
    }
}

/// A parsed JSON key, its strings wiped when it goes (they hold the key's secrets).
struct Wiped(serde_json::Value);

impl Drop for Wiped {
    fn drop(&mut self) {
        fn wipe(v: &mut serde_json::Value) {
            match v {
                serde_json::Value::String(s) => zeroize::Zeroize::zeroize(s),
                serde_json::Value::Array(a) => a.iter_mut().for_each(wipe),
                serde_json::Value::Object(o) => o.values_mut().for_each(wipe),
                _ => {}
            }
        }
        wipe(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_first_bytes() {
        assert_eq!(detect(b"\n-----BEGIN CERTIFICATE-----"), Ok(KeyFormat::Pem));
        assert_eq!(detect(b"  {\"type\":1}"), Ok(KeyFormat::Json));
        assert_eq!(detect(&[0x30, 0x82, 0x01]), Ok(KeyFormat::Pkcs12));
        assert!(detect(b"hunter2").is_err());
        let now = time::OffsetDateTime::now_utc();
        let r = check(b"{\"a\":1}", KeyFormat::Pem, now);
        assert!(!r.compliant && r.rules[0].detail.contains("reads as json"));
        assert!(!check(b"[1,2]", KeyFormat::Json, now).compliant);
        assert!(!check(b"-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n", KeyFormat::Pem, now).compliant);
        assert!(!check(&[0x30, 0x03, 0x02, 0x01, 0x03], KeyFormat::Pkcs12, now).compliant);
    }

    #[test]
    fn a_made_key_matches_its_certificate_and_not_another() {
        let now = time::OffsetDateTime::now_utc();
        let a = cert::make("a", 1, now).unwrap();
        let b = cert::make("b", 1, now).unwrap();
        let pair = format!("{}{}", a.key_pem.as_str(), a.certificate.pem);
        let r = check(pair.as_bytes(), KeyFormat::Pem, now);
        assert!(r.compliant, "{r:?}");
        assert!(r.rules.iter().any(|r| r.rule == "key-matches-certificate" && r.ok));
        let mismatched = format!("{}{}", a.key_pem.as_str(), b.certificate.pem);
        let r = check(mismatched.as_bytes(), KeyFormat::Pem, now);
        assert!(!r.compliant && r.rules.iter().any(|r| r.rule == "key-matches-certificate" && !r.ok));
        let later = now + time::Duration::days(3);
        assert!(check(pair.as_bytes(), KeyFormat::Pem, later).warnings.iter().any(|w| w.contains("expired")));
    }
}
