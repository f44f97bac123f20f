//! Webhook deliveries' signature (SPEC §10): `Sealpass-Signature: t=<unix>,v1=<hex>` where the
//! hex is HMAC-SHA256, keyed with the endpoint's secret, over `"<t>.<body>"` — the scheme a
//! receiver checks in ten lines, with a timestamp so an old delivery cannot be replayed later.
//! Pure: the key, the time and the body in, the header out (and back).

use ring::hmac;

/// The header's name.
pub const HEADER: &str = "Sealpass-Signature";

/// How far a delivery's time may be from the receiver's clock and still be accepted.
pub const TOLERANCE_SECONDS: u64 = 300;

fn tag(secret: &[u8], t: u64, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
}

/// The header's value for `body` sent at unix time `t`.
pub fn sign(secret: &[u8], t: u64, body: &[u8]) -> String {
    format!("t={t},v1={}", data_encoding::HEXLOWER.encode(tag(secret, t, body).as_ref()))
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not `t=<unix>,v1=<hex>`.
    #[error("the signature header is not t=<unix>,v1=<hex>")]
    Malformed,
    /// Too far from `now`.
    #[error("the delivery's time is more than {TOLERANCE_SECONDS} s from now")]
    Stale,
    /// The HMAC does not match.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Check a header value against `body` at unix time `now` (constant-time comparison). Several
/// `v1=` values (a secret being rotated) pass if any matches.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: u64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => candidates.push(data_encoding::HEXLOWER_PERMISSIVE.decode(v.as_bytes()).ok()),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if t.abs_diff(now) > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    let ok = candidates.iter().flatten().any(|mac| hmac::verify(&key, &signed, mac).is_ok());
    if ok { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_is_refused() {
        let secret = b"whsec_test";
        let body = br#"{"kind":"drop.received"}"#;
        let header = sign(secret, 1_780_000_000, body);
        assert!(header.starts_with("t=1780000000,v1=") && header.len() == "t=1780000000,v1=".len() + 64);
        assert_eq!(verify(secret, &header, body, 1_780_000_100), Ok(()));
        assert_eq!(verify(secret, &header, b"{}", 1_780_000_100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"other", &header, body, 1_780_000_100), Err(SignatureError::Mismatch));
        assert_eq!(verify(secret, &header, body, 1_780_001_000), Err(SignatureError::Stale));
        assert_eq!(verify(secret, "v1=abcd", body, 0), Err(SignatureError::Malformed));
        let moved = header.replace("t=1780000000", "t=1780000001");
        assert_eq!(verify(secret, &moved, body, 1_780_000_100), Err(SignatureError::Mismatch));
        // A rotated secret: either signature passes.
        let both = format!("{header},v1={}", &sign(b"new", 1_780_000_000, body)[16..]);
        assert_eq!(verify(b"new", &both, body, 1_780_000_000), Ok(()));
    }

    #[test]
    fn the_hmac_is_the_documented_recipe() {
        // printf '1780000000.{}' | openssl dgst -sha256 -hmac key
        let expected = "91c687852de220478a081e66b99a949dbf2f672c4122086cb089001817d29992";
        assert_eq!(sign(b"key", 1_780_000_000, b"{}"), format!("t=1780000000,v1={expected}"));
    }
}
