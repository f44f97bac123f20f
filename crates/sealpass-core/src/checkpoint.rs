//! Signed checkpoints of the audit log: the server's word, signed with its receipt key, that at a
//! given time its chain held `length` entries ending in `hash`. A hash chain alone cannot stop
//! whoever writes the store from deleting an entry and recomputing every hash after it; a
//! checkpoint kept somewhere else (a webhook receiver, a ticket, a receipt) can, because the
//! rewritten chain no longer has that hash at that position. `audit verify --witness` checks a
//! log against such copies. Pure: the server signs, anyone verifies offline.

use serde::{Deserialize, Serialize};

use crate::audit::Head;
use crate::receipt::{ReceiptError, Signer};

/// The checkpoint format's version.
pub const VERSION: u64 = 1;

/// What the server signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckpointClaims {
    /// [`VERSION`].
    pub v: u64,
    /// The server (its public URL).
    pub server: String,
    /// Entries in the chain: the entry at this position has `hash`.
    pub length: u64,
    /// The hash of the entry at `length`.
    pub hash: String,
    /// When the server signed it, RFC 3339.
    pub at: String,
}

/// A signed checkpoint: the claims, the signer's Ed25519 public key and the signature, as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// What is signed.
    pub checkpoint: CheckpointClaims,
    /// The signer's public key, lowercase hex (the server's receipt key).
    pub public_key: String,
    /// Ed25519 over the claims' compact JSON under a context string, lowercase hex.
    pub signature: String,
}

/// The bytes signed: a context string no receipt shares, then the claims' compact JSON.
fn message(claims: &CheckpointClaims) -> Vec<u8> {
    let mut out = b"sealpass-checkpoint-v1\n".to_vec();
    out.extend_from_slice(serde_json::to_string(claims).unwrap_or_default().as_bytes());
    out
}

/// Sign `head` as the state of `server`'s log at `at`.
pub fn sign(signer: &Signer, server: &str, head: &Head, at: String) -> Checkpoint {
    let checkpoint =
        CheckpointClaims { v: VERSION, server: server.to_owned(), length: head.length, hash: head.hash.clone(), at };
    let signature = signer.sign_bytes(&message(&checkpoint));
    Checkpoint { checkpoint, public_key: signer.public_key(), signature }
}

/// Check `checkpoint` offline, against `expected_key` (hex) when the caller knows the server's key.
pub fn verify(checkpoint: &Checkpoint, expected_key: Option<&str>) -> Result<(), ReceiptError> {
    if checkpoint.checkpoint.v != VERSION {
        return Err(ReceiptError::Version(checkpoint.checkpoint.v));
    }
    crate::receipt::verify_bytes(
        &message(&checkpoint.checkpoint),
        &checkpoint.public_key,
        &checkpoint.signature,
        expected_key,
    )
}

/// A position in the chain that a witness vouches for, and where that came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnessed {
    /// The position.
    pub seq: u64,
    /// The hash the entry there must have.
    pub hash: String,
    /// What vouches for it ("checkpoint of 2026-12-01T12:00:00Z", "receipt for drop …").
    pub from: String,
}

/// Why a witness file is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// Neither a checkpoint, a receipt nor a webhook delivery carrying one.
    #[error("not a checkpoint, a receipt or a sealpass webhook delivery")]
    Unknown,
    /// Its signature does not hold, or another key made it.
    #[error("{0}")]
    Signature(ReceiptError),
}

/// Read a witness: a checkpoint, a receipt, or a webhook delivery body (JSON) with its
/// `checkpoint`, checked against the server's `key`. What it vouches for.
pub fn witness(json: &serde_json::Value, key: &str) -> Result<Witnessed, WitnessError> {
    let as_checkpoint = |v: &serde_json::Value| Checkpoint::deserialize(v).ok();
    let found = as_checkpoint(json).or_else(|| json.get("checkpoint").and_then(as_checkpoint));
    if let Some(c) = found {
        verify(&c, Some(key)).map_err(WitnessError::Signature)?;
        let from = format!("the checkpoint signed at {}", c.checkpoint.at);
        return Ok(Witnessed { seq: c.checkpoint.length, hash: c.checkpoint.hash, from });
    }
    if let Ok(r) = crate::receipt::Receipt::deserialize(json) {
        crate::receipt::verify(&r, Some(key)).map_err(WitnessError::Signature)?;
        let from = format!("the receipt for drop {}", r.claims.drop_id);
        return Ok(Witnessed { seq: r.claims.audit_seq, hash: r.claims.audit_hash, from });
    }
    Err(WitnessError::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_only_as_signed_and_only_by_the_servers_key() {
        let (_, signer) = Signer::generate().unwrap();
        let head = Head { length: 7, hash: "ab".repeat(32) };
        let c = sign(&signer, "https://drop.example", &head, "2026-12-01T12:00:00Z".into());
        assert_eq!(verify(&c, Some(&signer.public_key())), Ok(()));
        let mut moved = c.clone();
        moved.checkpoint.length = 6;
        assert_eq!(verify(&moved, None), Err(ReceiptError::Altered));
        let (_, other) = Signer::generate().unwrap();
        let forged = sign(&other, "https://drop.example", &head, "2026-12-01T12:00:00Z".into());
        assert!(matches!(verify(&forged, Some(&signer.public_key())), Err(ReceiptError::OtherKey { .. })));

        // As a witness: bare, inside a webhook delivery, or a receipt; anything else is refused.
        let json = serde_json::to_value(&c).unwrap();
        let w = witness(&json, &signer.public_key()).unwrap();
        assert_eq!((w.seq, w.hash.as_str()), (7, head.hash.as_str()));
        let delivery = serde_json::json!({"id": "dlv_x", "checkpoint": json});
        assert_eq!(witness(&delivery, &signer.public_key()).unwrap(), w);
        assert!(matches!(witness(&json, &other.public_key()), Err(WitnessError::Signature(_))));
        assert_eq!(witness(&serde_json::json!({"x": 1}), &signer.public_key()), Err(WitnessError::Unknown));
        // A receipt vouches for its own entry.
        let claims = crate::receipt::Claims {
            v: crate::receipt::VERSION,
            server: "https://drop.example".into(),
            drop_id: "d".repeat(26),
            request_id: None,
            label: None,
            received_by: "alice".into(),
            received_at: "2026-12-01T12:00:00Z".into(),
            audit_seq: 9,
            audit_hash: "cd".repeat(32),
        };
        let receipt = serde_json::to_value(signer.sign(claims)).unwrap();
        let w = witness(&receipt, &signer.public_key()).unwrap();
        assert_eq!((w.seq, w.hash.as_str()), (9, "cd".repeat(32).as_str()));
        assert!(matches!(witness(&receipt, &other.public_key()), Err(WitnessError::Signature(_))));
        // A receipt's signature cannot pass as a checkpoint's: the context strings differ.
        let mut swapped = c.clone();
        swapped.signature = signer.sign_bytes(&serde_json::to_vec(&c.checkpoint).unwrap());
        assert_eq!(verify(&swapped, None), Err(ReceiptError::Altered));
    }
}
