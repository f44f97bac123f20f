//! Receipts (SPEC §10): the server's signed word that a drop was received — which drop, for
//! which request, by whom and when, and the audit entry that records it — checkable offline
//! with the server's Ed25519 public key (published in `/v1/info`, covered by the link's
//! fingerprint). Pure apart from drawing a new key.

use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The receipt format's version.
pub const VERSION: u64 = 1;

/// What the server signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// [`VERSION`].
    pub v: u64,
    /// The server (its public URL).
    pub server: String,
    /// The drop.
    pub drop_id: String,
    /// The request it answered, and that request's label.
    pub request_id: Option<String>,
    /// The request's label.
    pub label: Option<String>,
    /// The staff member who received it.
    pub received_by: String,
    /// When, RFC 3339.
    pub received_at: String,
    /// The audit entry recording the receipt: its position and hash.
    pub audit_seq: u64,
    /// That entry's hash.
    pub audit_hash: String,
}

/// A signed receipt: the claims, the signer's public key, the signature, all as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// What is signed.
    pub claims: Claims,
    /// The signer's Ed25519 public key, lowercase hex.
    pub public_key: String,
    /// Ed25519 over the claims' canonical JSON, lowercase hex.
    pub signature: String,
}

/// The bytes signed: the claims' compact JSON in declaration order, under a context string.
fn message(claims: &Claims) -> Vec<u8> {
    let mut out = b"sealpass-receipt-v1\n".to_vec();
    out.extend_from_slice(serde_json::to_string(claims).unwrap_or_default().as_bytes());
    out
}

/// Whether `key` is an Ed25519 public key as receipts and `/v1/info` write it: 64 hex digits.
pub fn valid_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A server's receipt key.
pub struct Signer {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, [REDACTED])", self.public_key())
    }
}

impl Signer {
    /// A new key, as PKCS #8 (to keep, 0600) and the signer.
    pub fn generate() -> Result<(Zeroizing<Vec<u8>>, Signer), String> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| e.to_string())?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let signer = Signer::from_pkcs8(&pkcs8)?;
        Ok((pkcs8, signer))
    }

    /// The signer for a kept key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Signer, String> {
        Ed25519KeyPair::from_pkcs8(pkcs8).map(|pair| Signer { pair }).map_err(|e| format!("not an Ed25519 key ({e})"))
    }

    /// The public key, lowercase hex.
    pub fn public_key(&self) -> String {
        data_encoding::HEXLOWER.encode(self.pair.public_key().as_ref())
    }

    /// Sign `claims`.
    pub fn sign(&self, claims: Claims) -> Receipt {
        let signature = self.sign_bytes(&message(&claims));
        Receipt { claims, public_key: self.public_key(), signature }
    }

    /// Ed25519 over `message`, lowercase hex: for the other statements the server signs with
    /// this key (checkpoints), each under a context string of its own.
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        data_encoding::HEXLOWER.encode(&self.signature(message))
    }

    /// Ed25519 over `message`, the raw 64 bytes (the manifest writes them in base64).
    pub fn signature(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Signed by another key than the one expected.
    #[error("it is signed by key {found}, not by the server's {expected}")]
    OtherKey {
        /// The receipt's key.
        found: String,
        /// The key expected.
        expected: String,
    },
    /// The signature does not match the claims (they were changed) or is malformed.
    #[error("the signature does not match the receipt's contents: it was altered")]
    Altered,
    /// A format this build does not read.
    #[error("receipt version {0} is not supported (this sealpass reads version 1)")]
    Version(u64),
}

/// Check `receipt` offline, against `expected_key` (hex) when the caller knows the server's key.
pub fn verify(receipt: &Receipt, expected_key: Option<&str>) -> Result<(), ReceiptError> {
    if receipt.claims.v != VERSION {
        return Err(ReceiptError::Version(receipt.claims.v));
    }
    verify_bytes(&message(&receipt.claims), &receipt.public_key, &receipt.signature, expected_key)
}

/// Check a signature `sig` (hex) by `public_key` (hex) over `message`, and that `public_key` is
/// `expected_key` when the caller knows the server's key.
pub fn verify_bytes(
    message: &[u8],
    public_key: &str,
    sig: &str,
    expected_key: Option<&str>,
) -> Result<(), ReceiptError> {
    if let Some(expected) = expected_key.filter(|k| !k.eq_ignore_ascii_case(public_key)) {
        return Err(ReceiptError::OtherKey { found: public_key.to_owned(), expected: expected.to_owned() });
    }
    let decode =
        |hex: &str| data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()).map_err(|_| ReceiptError::Altered);
    let key = decode(public_key)?;
    let sig = decode(sig)?;
    signature::UnparsedPublicKey::new(&signature::ED25519, key).verify(message, &sig).map_err(|_| ReceiptError::Altered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            v: VERSION,
            server: "https://drop.kore.example".into(),
            drop_id: "a".repeat(26),
            request_id: Some("b".repeat(26)),
            label: Some("Acme".into()),
            received_by: "alice".into(),
            received_at: "2026-12-01T12:00:00Z".into(),
            audit_seq: 42,
            audit_hash: "c".repeat(64),
        }
    }

    #[test]
    fn a_receipt_verifies_and_any_change_does_not() {
        let (pkcs8, signer) = Signer::generate().unwrap();
        let receipt = signer.sign(claims());
        assert_eq!(verify(&receipt, None), Ok(()));
        assert_eq!(verify(&receipt, Some(&signer.public_key())), Ok(()));
        let json = serde_json::to_string(&receipt).unwrap();
        let back: Receipt = serde_json::from_str(&json).unwrap();
        assert_eq!(verify(&back, None), Ok(()));

        let mut edited = receipt.clone();
        edited.claims.received_by = "mallory".into();
        assert_eq!(verify(&edited, None), Err(ReceiptError::Altered));
        let mut moved = receipt.clone();
        moved.claims.audit_seq = 41;
        assert_eq!(verify(&moved, None), Err(ReceiptError::Altered));

        // Re-signed by someone else's key: fine on its own, refused against the server's key.
        let (_, other) = Signer::generate().unwrap();
        let forged = other.sign(claims());
        assert_eq!(verify(&forged, None), Ok(()));
        assert!(matches!(verify(&forged, Some(&signer.public_key())), Err(ReceiptError::OtherKey { .. })));
        assert_eq!(Signer::from_pkcs8(&pkcs8).unwrap().public_key(), signer.public_key());
        assert!(!format!("{signer:?}").contains(&data_encoding::HEXLOWER.encode(&pkcs8)));
    }
}
