//! What a value someone trusts (a link's or a pin's fingerprint, staff's `vendor_key`) vouches
//! for on a server, decided in one place for every client command: for `sp4-`, the vendor key's
//! signed manifest, which must also match what the server serves; for `sp1-`–`sp3-`, the hash
//! of what is served, as before (SPEC §11). Pure: what `/v1/info` said in, a verdict out.

use crate::crypto::{self, Covered};
use crate::manifest::{self, ManifestError, Verified};

/// A value the user trusts, and the highest manifest serial seen under it (0: none).
#[derive(Clone, Copy, Debug)]
pub struct Anchor<'a> {
    /// `sp1-`…`sp4-`.
    pub fingerprint: &'a str,
    /// The highest manifest serial seen (pins keep it; links start at 0).
    pub min_serial: u64,
}

impl<'a> Anchor<'a> {
    /// A link's value: no serial seen.
    pub fn link(fingerprint: &'a str) -> Anchor<'a> {
        Anchor { fingerprint, min_serial: 0 }
    }
    /// Whether it names the vendor key (`sp4-`) rather than a hash of what is served.
    pub fn is_vendor_key(&self) -> bool {
        is_vendor_key(self.fingerprint)
    }
}

/// Whether `fingerprint` names a vendor key (`sp4-`).
pub fn is_vendor_key(fingerprint: &str) -> bool {
    fingerprint.trim().starts_with("sp4-")
}

/// What a server serves, as far as trust goes.
#[derive(Clone, Copy, Debug)]
pub struct Serving<'a> {
    /// Its base URL (the one the client talks to).
    pub server: &'a str,
    /// Its recipients.
    pub recipients: &'a [String],
    /// The SHA-256 of each certificate's DER, computed by the client from the PEM.
    pub certificates: &'a [&'a str],
    /// Its receipt key, lowercase hex.
    pub receipt_key: Option<&'a str>,
    /// The manifest it serves.
    pub manifest: Option<&'a manifest::SignedManifest>,
}

/// What an anchor vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vouched {
    /// How much of what is served.
    pub covered: Covered,
    /// The receipt key it vouches for (only `sp3-` and `sp4-` vouch for one).
    pub receipt_key: Option<String>,
    /// For `sp4-`: the manifest that vouched (its serial, and a cross-signed move to a new
    /// vendor key).
    pub manifest: Option<Verified>,
}

/// Why an anchor does not vouch for what a server serves. Every message says that nothing was
/// sent and to compare the trusted value with what the vendor publishes elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// An `sp1-`–`sp3-` value that is not what the server serves.
    #[error(
        "the server's keys (fingerprint {served}) are not the ones {expected} names: someone may be substituting \
         their own keys"
    )]
    Keys {
        /// The server's hash.
        served: String,
        /// The trusted value.
        expected: String,
    },
    /// An `sp4-` value, and no manifest at all.
    #[error(
        "{expected} names the vendor's signing key, but this server serves no manifest signed by it: someone may \
         be substituting their own keys"
    )]
    NoManifest {
        /// The trusted value.
        expected: String,
    },
    /// The manifest does not verify under the anchor.
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    /// The manifest verifies, but the server serves something else.
    #[error(
        "the server serves keys the vendor's signed manifest does not vouch for ({}): someone may be substituting \
         their own keys", .0.join("; ")
    )]
    NotAsSigned(Vec<String>),
}

/// Check what `serving` offers against `anchor`, at `now` (Unix seconds).
pub fn vouch(anchor: Anchor<'_>, serving: Serving<'_>, now: i64) -> Result<Vouched, TrustError> {
    let expected = anchor.fingerprint.trim();
    if !anchor.is_vendor_key() {
        let covered = crypto::covers(expected, serving.recipients, serving.certificates, serving.receipt_key)
            .ok_or_else(|| TrustError::Keys {
                served: crypto::server_fingerprint(serving.recipients, serving.certificates, serving.receipt_key),
                expected: expected.to_owned(),
            })?;
        let receipt_key = serving
            .receipt_key
            .filter(|key| crypto::covers_receipt_key(expected, serving.recipients, serving.certificates, key))
            .map(str::to_owned);
        return Ok(Vouched { covered, receipt_key, manifest: None });
    }
    let signed = serving.manifest.ok_or_else(|| TrustError::NoManifest { expected: expected.to_owned() })?;
    let expect = manifest::Expect { vendor_key: expected, server: serving.server, now, min_serial: anchor.min_serial };
    let verified = manifest::verify(signed, expect)?;
    let differs = manifest::differences(
        &verified.body,
        serving.recipients,
        serving.certificates,
        serving.receipt_key.unwrap_or_default(),
    );
    if !differs.is_empty() {
        return Err(TrustError::NotAsSigned(differs));
    }
    Ok(Vouched {
        covered: Covered::Everything,
        receipt_key: Some(verified.body.receipt_key.to_ascii_lowercase()),
        manifest: Some(verified),
    })
}

impl TrustError {
    /// What to do next, for someone holding `expected`: never "ask this server".
    pub fn what_to_do(&self, expected: &str) -> String {
        match self {
            TrustError::Manifest(ManifestError::Expired(_)) => "Tell the vendor through its usual contact, not \
                 through this server: its signed manifest expired and it must sign a new one."
                .to_owned(),
            _ => compare_elsewhere(expected),
        }
    }
}

/// What to tell someone refused by [`vouch`]: never "ask this server", always compare the value
/// trusted with the one the vendor publishes elsewhere.
pub fn compare_elsewhere(expected: &str) -> String {
    format!(
        "Compare {} with the value the vendor publishes elsewhere (website, contract, phone); do \
         not ask this server for another link or value.",
        expected.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ManifestBody, ManifestCertificate, VERSION};
    use crate::receipt::Signer;

    const URL: &str = "https://drop.kore.example";
    const NOW: i64 = 1_800_000_000;

    fn recipients() -> Vec<String> {
        vec![crate::crypto::generate_identity("test").1.to_string()]
    }

    fn body(serial: u64, recipients: &[String], receipt_key: &str) -> ManifestBody {
        ManifestBody {
            v: VERSION,
            serial,
            issued_at: "2027-01-01T00:00:00Z".into(),
            expires_at: "2027-03-01T00:00:00Z".into(),
            urls: vec![URL.into()],
            recipients: recipients.to_vec(),
            certificates: vec![ManifestCertificate { name: "kore".into(), sha256: "ab".repeat(32) }],
            receipt_key: receipt_key.into(),
        }
    }

    fn serving<'a>(
        recipients: &'a [String],
        certificates: &'a [&'a str],
        receipt_key: &'a str,
        manifest: Option<&'a manifest::SignedManifest>,
    ) -> Serving<'a> {
        Serving { server: URL, recipients, certificates, receipt_key: Some(receipt_key), manifest }
    }

    #[test]
    fn a_vendor_key_vouches_only_for_what_its_manifest_signs_and_the_server_serves() {
        let vendor = Signer::generate().unwrap().1;
        let receipt = Signer::generate().unwrap().1.public_key();
        let keys = recipients();
        let cert = "ab".repeat(32);
        let certs = [cert.as_str()];
        let signed = manifest::sign(&body(3, &keys, &receipt), &vendor, None);
        let sp4 = manifest::fingerprint(&vendor.public_key());
        let ok = vouch(Anchor::link(&sp4), serving(&keys, &certs, &receipt, Some(&signed)), NOW).unwrap();
        assert_eq!(ok.covered, Covered::Everything);
        assert_eq!(ok.receipt_key.as_deref(), Some(receipt.as_str()));
        assert_eq!(ok.manifest.unwrap().body.serial, 3);

        // A recipient the manifest does not name, no manifest, another key, a rollback.
        let more = [keys.clone(), recipients()].concat();
        let extra = vouch(Anchor::link(&sp4), serving(&more, &certs, &receipt, Some(&signed)), NOW);
        assert!(matches!(extra, Err(TrustError::NotAsSigned(_))), "{extra:?}");
        let bare = vouch(Anchor::link(&sp4), serving(&keys, &certs, &receipt, None), NOW);
        assert!(matches!(bare, Err(TrustError::NoManifest { .. })), "{bare:?}");
        let other = manifest::sign(&body(9, &keys, &receipt), &Signer::generate().unwrap().1, None);
        let refused = vouch(Anchor::link(&sp4), serving(&keys, &certs, &receipt, Some(&other)), NOW).unwrap_err();
        assert!(matches!(refused, TrustError::Manifest(ManifestError::NotSigned { .. })), "{refused}");
        let pinned = Anchor { fingerprint: &sp4, min_serial: 4 };
        assert!(matches!(
            vouch(pinned, serving(&keys, &certs, &receipt, Some(&signed)), NOW),
            Err(TrustError::Manifest(ManifestError::Rollback { served: 3, seen: 4 }))
        ));
        // An sp3- value still means the hash of what is served, manifest or not.
        let sp3 = crypto::server_fingerprint(&keys, &certs, Some(&receipt));
        let legacy = vouch(Anchor::link(&sp3), serving(&keys, &certs, &receipt, Some(&other)), NOW).unwrap();
        assert_eq!((legacy.covered, legacy.manifest), (Covered::Everything, None));
        let swapped = vouch(Anchor::link(&sp3), serving(&more, &certs, &receipt, None), NOW);
        assert!(matches!(swapped, Err(TrustError::Keys { .. })), "{swapped:?}");
    }
}
