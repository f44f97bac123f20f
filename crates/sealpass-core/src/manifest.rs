//! The trust root (SPEC §11): the vendor's own Ed25519 key, kept offline, signs a manifest of
//! what its drop server may serve — recipients, certificates, the receipt key, the server's
//! URLs — with a serial that only grows and an expiry. Links and pins name the vendor key
//! (`sp4-…`), not a hash of what the server serves, so a server cannot vouch for itself and a
//! rotation re-signed by the vendor breaks no link. Pure: bytes and times in, verdicts out.

use ring::signature;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::receipt::Signer;

/// The manifest format's version.
pub const VERSION: u64 = 1;

/// Default lifetime of a signed manifest, in days.
pub const DEFAULT_DAYS: u64 = 90;

/// Largest manifest read (a client reads it inside `/v1/info`).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;

/// The `sp4-` fingerprint of a vendor key: lowercase base32 (no padding) of the first 16 bytes of
/// SHA-256 over `"sp4\n"` and the 32-byte public key as lowercase hex, in groups of four.
pub fn fingerprint(public_key_hex: &str) -> String {
    let digest = Sha256::digest(format!("sp4\n{}", public_key_hex.trim().to_ascii_lowercase()).as_bytes());
    crate::crypto::grouped("sp4", &digest)
}

/// A certificate the manifest vouches for: its published name and the SHA-256 of its DER.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ManifestCertificate {
    /// The name it is published under.
    pub name: String,
    /// SHA-256 of its DER, lowercase hex.
    pub sha256: String,
}

/// What the vendor key signs, in this field order (its compact JSON is the signed text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ManifestBody {
    /// [`VERSION`].
    pub v: u64,
    /// Grows with every manifest the vendor signs; a client refuses one lower than it has seen.
    pub serial: u64,
    /// When it was signed, RFC 3339.
    pub issued_at: String,
    /// When it stops vouching, RFC 3339.
    pub expires_at: String,
    /// The server URLs (base URLs, no trailing slash) it is good for.
    pub urls: Vec<String>,
    /// The recipients senders may seal to.
    pub recipients: Vec<String>,
    /// The certificates customers may register.
    pub certificates: Vec<ManifestCertificate>,
    /// The Ed25519 key (hex) that signs receipts and checkpoints.
    pub receipt_key: String,
}

/// A signature over a manifest's exact bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ManifestSignature {
    /// The signing vendor key's public half, lowercase hex.
    pub key: String,
    /// Ed25519 over the body's bytes under a context string, base64.
    pub sig: String,
}

/// A signed manifest as it travels: the body's exact JSON text (what is signed) and one or two
/// signatures (the second by the previous vendor key, while the vendor key itself rotates).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedManifest {
    /// The body's compact JSON, exactly as signed.
    pub manifest: String,
    /// One signature, or two during a vendor key rotation.
    pub signatures: Vec<ManifestSignature>,
}

impl SignedManifest {
    /// The `sp4-` value of the vendor key whose signature comes first (the signer; a second is
    /// the previous key handing over), when that is an Ed25519 key. Unverified: [`verify`] says
    /// whether the signature holds.
    pub fn signer_fingerprint(&self) -> Option<String> {
        let signer = self.signatures.first()?;
        crate::receipt::valid_key(&signer.key).then(|| fingerprint(&signer.key))
    }
}

/// The bytes the signing vendor key signs: a context string no receipt or checkpoint shares,
/// then the body's text.
fn message(body: &str) -> Vec<u8> {
    let mut out = b"sealpass-manifest-v1\n".to_vec();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The bytes the previous vendor key signs while the vendor key rotates: another context, the
/// new key (lowercase hex) it hands over to, then the body. Bound to the new key, so a genuine
/// signature by the previous key over a manifest cannot be grafted next to any other key.
fn handover_message(new_key_hex: &str, body: &str) -> Vec<u8> {
    let mut out = b"sealpass-manifest-rotate-v1\n".to_vec();
    out.extend_from_slice(new_key_hex.to_ascii_lowercase().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(body.as_bytes());
    out
}

impl ManifestBody {
    /// The body's canonical text: compact JSON in field order.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Sign `body` with the vendor key `signer`, and, while rotating the vendor key itself, have
/// `previous` hand over to it (its signature names `signer`'s key).
pub fn sign(body: &ManifestBody, signer: &Signer, previous: Option<&Signer>) -> SignedManifest {
    let text = body.canonical();
    let signature = |s: &Signer, msg: &[u8]| ManifestSignature {
        key: s.public_key(),
        sig: data_encoding::BASE64.encode(&s.signature(msg)),
    };
    let mut signatures = vec![signature(signer, &message(&text))];
    if let Some(previous) = previous {
        signatures.push(signature(previous, &handover_message(&signer.public_key(), &text)));
    }
    SignedManifest { manifest: text, signatures }
}

/// Why a manifest is not accepted, each with what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not a manifest of this version, or too large.
    #[error("the manifest is malformed: {0}")]
    Malformed(String),
    /// No signature by the vendor key the link or pin names.
    #[error("the manifest is not signed by the vendor key {expected}: someone may be substituting their own keys")]
    NotSigned {
        /// The `sp4-` value expected.
        expected: String,
    },
    /// A signature by the vendor key that does not hold.
    #[error("the manifest's signature by the vendor key does not match its contents: it was altered")]
    Altered,
    /// Past its expiry.
    #[error("the vendor's manifest expired at {0}: the vendor must sign a new one (sealpass manifest sign)")]
    Expired(String),
    /// Not for this server.
    #[error("the vendor's manifest is for {urls}, not for {server}: this is not the vendor's server")]
    WrongServer {
        /// The server asked.
        server: String,
        /// What the manifest names.
        urls: String,
    },
    /// Older than one seen before.
    #[error(
        "the vendor's manifest has serial {served}, lower than {seen} seen before: an older manifest is being \
         replayed (rolled back). Nothing was sent"
    )]
    Rollback {
        /// The manifest's serial.
        served: u64,
        /// The highest serial seen.
        seen: u64,
    },
}

/// A manifest that verified, and what vouched for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// What it says.
    pub body: ManifestBody,
    /// The `sp4-` value of the key whose signature was checked.
    pub vendor_key: String,
    /// When the vendor key rotated: the new key's `sp4-` value, cross-signed by the expected one.
    pub moved_to: Option<String>,
}

/// What a client expects of a manifest.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    /// The `sp4-` value the link or pin names.
    pub vendor_key: &'a str,
    /// The server it came from (base URL).
    pub server: &'a str,
    /// Now, Unix seconds.
    pub now: i64,
    /// The highest serial seen (0: none).
    pub min_serial: u64,
}

/// Check `signed` against what the client expects: a valid first signature by the expected
/// vendor key, or by a new key the expected one hands over to in the second signature (over
/// the new key and the body, never the body alone); unexpired, naming `server`, with a serial
/// not below `min_serial`.
pub fn verify(signed: &SignedManifest, expect: Expect<'_>) -> Result<Verified, ManifestError> {
    if signed.manifest.len() > MAX_MANIFEST_BYTES || signed.signatures.is_empty() || signed.signatures.len() > 2 {
        return Err(ManifestError::Malformed(
            "a manifest has a body of at most 64 KiB and one or two signatures".into(),
        ));
    }
    let body: ManifestBody =
        serde_json::from_str(&signed.manifest).map_err(|e| ManifestError::Malformed(e.to_string()))?;
    if body.v != VERSION {
        return Err(ManifestError::Malformed(format!("version {} (this sealpass reads version 1)", body.v)));
    }
    // The first signature is the signing key's, over the body; a second, by the previous key,
    // hands over to the first key and only vouches for it.
    let signer = &signed.signatures[0];
    let expected = expect.vendor_key.trim();
    let is_expected = |s: &ManifestSignature| crate::receipt::valid_key(&s.key) && fingerprint(&s.key) == expected;
    let not_signed = || ManifestError::NotSigned { expected: expected.to_owned() };
    let moved_to = if is_expected(signer) {
        None
    } else {
        let previous = signed.signatures.get(1).filter(|s| is_expected(s)).ok_or_else(not_signed)?;
        if !crate::receipt::valid_key(&signer.key) {
            return Err(ManifestError::Altered);
        }
        check_signature(previous, &handover_message(&signer.key, &signed.manifest))?;
        Some(fingerprint(&signer.key))
    };
    check_signature(signer, &message(&signed.manifest))?;
    let expires =
        unix(&body.expires_at).ok_or_else(|| ManifestError::Malformed("expires_at is not an RFC 3339 time".into()))?;
    if expect.now >= expires {
        return Err(ManifestError::Expired(body.expires_at.clone()));
    }
    let server = expect.server.trim_end_matches('/');
    if !body.urls.iter().any(|u| u.trim_end_matches('/') == server) {
        return Err(ManifestError::WrongServer { server: server.to_owned(), urls: body.urls.join(", ") });
    }
    if body.serial < expect.min_serial {
        return Err(ManifestError::Rollback { served: body.serial, seen: expect.min_serial });
    }
    Ok(Verified { vendor_key: expected.to_owned(), moved_to, body })
}

/// An RFC 3339 time as Unix seconds.
pub fn unix(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

fn check_signature(s: &ManifestSignature, msg: &[u8]) -> Result<(), ManifestError> {
    let key = data_encoding::HEXLOWER_PERMISSIVE.decode(s.key.as_bytes()).map_err(|_| ManifestError::Altered)?;
    let sig = data_encoding::BASE64.decode(s.sig.as_bytes()).map_err(|_| ManifestError::Altered)?;
    signature::UnparsedPublicKey::new(&signature::ED25519, key).verify(msg, &sig).map_err(|_| ManifestError::Altered)
}

/// A server's check of its own manifest before it starts: signed (by the key that signed it
/// first), unexpired, for `server` (when known), and vouching for exactly what the server serves.
/// The error names what differs.
pub fn check_own(
    signed: &SignedManifest,
    recipients: &[String],
    certificate_hashes: &[&str],
    receipt_key: &str,
    server: Option<&str>,
    now: i64,
) -> Result<Verified, String> {
    let signer = signed.signer_fingerprint().unwrap_or_default();
    let body: ManifestBody = serde_json::from_str(&signed.manifest).map_err(|e| format!("malformed ({e})"))?;
    let any_url = body.urls.first().cloned().unwrap_or_default();
    let expect = Expect { vendor_key: &signer, server: server.unwrap_or(&any_url), now, min_serial: 0 };
    let verified = verify(signed, expect).map_err(|e| e.to_string())?;
    let differs = differences(&verified.body, recipients, certificate_hashes, receipt_key);
    if !differs.is_empty() {
        return Err(format!(
            "it does not vouch for what this server serves ({}): sign a new one with `sealpass manifest sign`",
            differs.join("; ")
        ));
    }
    Ok(verified)
}

/// What a server serves that its manifest does not vouch for (or the other way round), for
/// people: empty when they agree.
pub fn differences(
    body: &ManifestBody,
    recipients: &[String],
    certificate_hashes: &[&str],
    receipt_key: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let sorted = |v: Vec<String>| {
        let mut v = v;
        v.sort_unstable();
        v
    };
    let (served, signed) = (sorted(recipients.to_vec()), sorted(body.recipients.clone()));
    if served != signed {
        out.push(format!("recipients: the config has {}, the manifest {}", served.join(", "), signed.join(", ")));
    }
    let served = sorted(certificate_hashes.iter().map(|h| h.to_ascii_lowercase()).collect());
    let signed = sorted(body.certificates.iter().map(|c| c.sha256.to_ascii_lowercase()).collect());
    if served != signed {
        out.push(format!(
            "certificates (SHA-256): the config has [{}], the manifest [{}]",
            served.join(", "),
            signed.join(", ")
        ));
    }
    if !body.receipt_key.eq_ignore_ascii_case(receipt_key) {
        out.push(format!("receipt key: the server's is {receipt_key}, the manifest's {}", body.receipt_key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(serial: u64) -> ManifestBody {
        ManifestBody {
            v: VERSION,
            serial,
            issued_at: "2026-12-01T00:00:00Z".into(),
            expires_at: "2027-03-01T00:00:00Z".into(),
            urls: vec!["https://drop.kore.example".into()],
            recipients: vec!["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into()],
            certificates: vec![ManifestCertificate { name: "kore".into(), sha256: "ab".repeat(32) }],
            receipt_key: "cd".repeat(32),
        }
    }

    const NOW: i64 = 1_796_000_000; // 2026-11-30

    fn expect(key: &str) -> Expect<'_> {
        Expect { vendor_key: key, server: "https://drop.kore.example/", now: NOW, min_serial: 0 }
    }

    #[test]
    fn the_fingerprint_is_the_documented_recipe() {
        let key = "00".repeat(32);
        let digest = Sha256::digest(format!("sp4\n{key}").as_bytes());
        let b32 = data_encoding::BASE32_NOPAD.encode(&digest[..16]).to_lowercase();
        assert_eq!(fingerprint(&key).replace('-', ""), format!("sp4{b32}"));
        let printed = fingerprint(&key);
        let groups: Vec<&str> = printed.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [3, 4, 4, 4, 4, 4, 4, 2]);
    }

    #[test]
    fn a_signed_manifest_verifies_and_every_way_to_abuse_it_is_refused() {
        let (_, vendor) = Signer::generate().unwrap();
        let sp4 = fingerprint(&vendor.public_key());
        let signed = sign(&body(3), &vendor, None);
        let ok = verify(&signed, expect(&sp4)).unwrap();
        assert_eq!((ok.body.serial, ok.vendor_key.as_str(), ok.moved_to.as_deref()), (3, sp4.as_str(), None));

        // Another key's manifest, an edited one, an expired one, another server's, a rollback.
        let (_, mallory) = Signer::generate().unwrap();
        let forged = sign(&body(9), &mallory, None);
        assert!(matches!(verify(&forged, expect(&sp4)), Err(ManifestError::NotSigned { .. })));
        let mut edited = signed.clone();
        edited.manifest = edited.manifest.replace("age1ql3", "age1xyz");
        assert_eq!(verify(&edited, expect(&sp4)), Err(ManifestError::Altered));
        let late = Expect { now: unix("2027-03-01T00:00:00Z").unwrap(), ..expect(&sp4) };
        assert!(matches!(verify(&signed, late), Err(ManifestError::Expired(_))));
        let elsewhere = Expect { server: "https://evil.example", ..expect(&sp4) };
        assert!(matches!(verify(&signed, elsewhere), Err(ManifestError::WrongServer { .. })));
        let seen = Expect { min_serial: 4, ..expect(&sp4) };
        assert_eq!(verify(&signed, seen), Err(ManifestError::Rollback { served: 3, seen: 4 }));
        assert!(verify(&signed, Expect { min_serial: 3, ..expect(&sp4) }).is_ok(), "the same serial again is fine");
        // Signatures of the wrong shape or number.
        let mut three = signed.clone();
        three.signatures = vec![signed.signatures[0].clone(); 3];
        assert!(matches!(verify(&three, expect(&sp4)), Err(ManifestError::Malformed(_))));
        let mut unknown = signed.clone();
        unknown.manifest = unknown.manifest.replacen('{', "{\"extra\":1,", 1);
        assert!(matches!(verify(&unknown, expect(&sp4)), Err(ManifestError::Malformed(_) | ManifestError::Altered)));
    }

    #[test]
    fn a_cross_signed_manifest_moves_the_vendor_key_and_only_the_previous_key_can_vouch() {
        let (_, old) = Signer::generate().unwrap();
        let (_, new) = Signer::generate().unwrap();
        let (old_sp4, new_sp4) = (fingerprint(&old.public_key()), fingerprint(&new.public_key()));
        let rotated = sign(&body(4), &new, Some(&old));
        let v = verify(&rotated, expect(&old_sp4)).unwrap();
        assert_eq!((v.vendor_key.as_str(), v.moved_to.as_deref()), (old_sp4.as_str(), Some(new_sp4.as_str())));
        // Under the new key it is an ordinary manifest.
        assert_eq!(verify(&rotated, expect(&new_sp4)).unwrap().moved_to, None);
        // A forger's second signature by the old key cannot be faked: signed by the new key only.
        let only_new = sign(&body(5), &new, None);
        assert!(matches!(verify(&only_new, expect(&old_sp4)), Err(ManifestError::NotSigned { .. })));
        // A broken first signature next to a good old one is refused, not moved to.
        let mut broken = rotated.clone();
        broken.signatures[0].sig = broken.signatures[1].sig.clone();
        assert_eq!(verify(&broken, expect(&old_sp4)), Err(ManifestError::Altered));
        // Found in review: the vendor's genuine signature over a manifest, grafted second next to
        // a signature by a key of the attacker's, hands over to nothing.
        let (_, mallory) = Signer::generate().unwrap();
        let genuine = sign(&body(6), &old, None);
        let mut grafted = sign(&body(6), &mallory, None);
        grafted.signatures.push(genuine.signatures[0].clone());
        assert_eq!(verify(&grafted, expect(&old_sp4)), Err(ManifestError::Altered));
        // Nor does the old key's hand-over to the new key carry over to another key.
        let mut swapped = sign(&body(4), &mallory, None);
        swapped.signatures.push(rotated.signatures[1].clone());
        assert_eq!(verify(&swapped, expect(&old_sp4)), Err(ManifestError::Altered));
    }

    #[test]
    fn differences_name_what_the_server_serves_that_the_manifest_does_not_vouch_for() {
        let b = body(1);
        let ok = differences(&b, &b.recipients, &[&"AB".repeat(32)], &"cd".repeat(32));
        assert!(ok.is_empty(), "{ok:?}");
        let extra = vec![b.recipients[0].clone(), "age1attacker".into()];
        let found = differences(&b, &extra, &[], &"ef".repeat(32));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("age1attacker") && found[2].starts_with("receipt key"));
    }
}
