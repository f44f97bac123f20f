//! What a webhook delivery is (SPEC §10): its body in each format, its id, and its signature,
//! `Sealpass-Signature: t=<unix>,v1=<hex>` where the hex is HMAC-SHA256, keyed with the
//! endpoint's secret, over `"<t>.<body>"` — the scheme a receiver checks in ten lines, with a
//! timestamp so an old delivery cannot be replayed later. Pure: the server's deliverer sends
//! what this module makes.

use ring::hmac;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::Entry;
use crate::checkpoint::Checkpoint;
use crate::events::{Actor, Event, EventKind};

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

/// What a delivery's body looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// sealpass's JSON: the event, its audit position, a delivery id (docs/events.md).
    Sealpass,
    /// A Slack incoming webhook's `{"text": …}`.
    Slack,
    /// A Microsoft Teams workflow webhook's Adaptive Card message.
    Teams,
}

/// The delivery id of `entry` for webhook `name`: the same on every retry (receivers drop
/// repeats by it), different for every event and endpoint.
pub fn delivery_id(name: &str, entry_hash: &str) -> String {
    let digest = Sha256::digest(format!("sealpass-delivery\n{name}\n{entry_hash}").as_bytes());
    format!("dlv_{}", data_encoding::HEXLOWER.encode(&digest[..16]))
}

#[derive(Serialize)]
struct Position<'a> {
    seq: u64,
    hash: &'a str,
}

#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    test: bool,
    server: &'a str,
    audit: Position<'a>,
    event: &'a Event,
    checkpoint: Option<&'a Checkpoint>,
}

/// The body delivering `entry` from `server` to a webhook of `format`. The sealpass format also
/// carries `checkpoint`, the server's signature over the chain up to this entry: kept by the
/// receiver, it is a copy of the log's state outside the server (`audit verify --witness`).
pub fn body(
    format: BodyFormat,
    id: &str,
    server: &str,
    entry: &Entry,
    test: bool,
    checkpoint: Option<&Checkpoint>,
) -> Vec<u8> {
    let value = match format {
        BodyFormat::Sealpass => serde_json::to_value(Body {
            id,
            kind: entry.event.kind.name(),
            test,
            server,
            audit: Position { seq: entry.seq, hash: &entry.hash },
            event: &entry.event,
            checkpoint,
        })
        .unwrap_or_default(),
        BodyFormat::Slack => serde_json::json!({ "text": slack_escape(&summary(&entry.event, test)) }),
        BodyFormat::Teams => serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{ "type": "TextBlock", "text": markdown_escape(&summary(&entry.event, test)), "wrap": true }],
                },
            }],
        }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// One line for people: what, which request, who, when. Nothing a credential could be
/// learned from (no ids, no tokens, no client address).
pub fn summary(event: &Event, test: bool) -> String {
    let who = match &event.actor {
        Actor::Staff(name) => name.chars().filter(|c| !c.is_control()).collect(),
        Actor::Sender => "the sender".to_owned(),
        Actor::Sweeper => "sealpass".to_owned(),
    };
    let what = match event.kind {
        EventKind::DropCreated => format!("a credential was uploaded by {who}"),
        EventKind::DropClaimed => format!("a credential was claimed by {who}"),
        EventKind::DropReceived => format!("a credential was received by {who}"),
        EventKind::DropRevoked => format!("a credential was revoked by {who}"),
        EventKind::DropExpired => "a credential expired unreceived".to_owned(),
        EventKind::DropReleased => format!("a claim was released by {who}: the credential waits again"),
        EventKind::RequestCreated => format!("a request was made by {who}"),
        EventKind::RequestFulfilled => format!("a request was answered by {who}"),
        EventKind::RequestExpired => "a request expired unanswered".to_owned(),
        EventKind::RequestCancelled => format!("a request was cancelled by {who}"),
    };
    let label = match &event.label {
        Some(label) => format!("\u{201c}{}\u{201d}", label.chars().filter(|c| !c.is_control()).collect::<String>()),
        None => "(no request)".to_owned(),
    };
    let test = if test { " [test]" } else { "" };
    format!("sealpass{test}: {label}: {what} at {}", event.at)
}

/// Slack's three control characters, escaped as Slack asks.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Markdown's link and emphasis characters, backslash-escaped, so a label renders as text.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '~' | '`' | '>' | '#' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        let event = Event {
            kind: EventKind::DropReceived,
            drop_id: Some("d".repeat(26)),
            request_id: Some("d".repeat(26)),
            label: Some("Acme <b>[x](http://evil)</b>".into()),
            actor: Actor::Staff("alice".into()),
            at: "2026-12-01T12:00:00Z".into(),
            client: Some("192.0.2.7".into()),
            credential: None,
        };
        crate::audit::next(&crate::audit::Head::empty(), event)
    }

    #[test]
    fn bodies_carry_the_event_and_chat_formats_only_a_harmless_line() {
        let e = entry();
        let id = delivery_id("ops", &e.hash);
        assert!(id.starts_with("dlv_") && id.len() == 36);
        assert_eq!(id, delivery_id("ops", &e.hash), "the same on every retry");
        assert_ne!(id, delivery_id("other", &e.hash));
        let ours: serde_json::Value =
            serde_json::from_slice(&body(BodyFormat::Sealpass, &id, "https://s", &e, false, None)).unwrap();
        assert_eq!(ours["type"], "drop.received");
        assert_eq!(ours["audit"]["seq"], 1);
        assert_eq!(ours["event"]["actor"]["name"], "alice");
        assert_eq!(ours["id"], id.as_str());
        for format in [BodyFormat::Slack, BodyFormat::Teams] {
            let text = String::from_utf8(body(format, &id, "https://s", &e, false, None)).unwrap();
            // Slack links are <url|text>, Markdown's [text](url): neither survives.
            let markup = if format == BodyFormat::Slack { "<b>" } else { "](http" };
            for leak in ["192.0.2.7", "dddd", "https://s", "dlv_", markup] {
                assert!(!text.contains(leak), "{format:?} carries {leak}: {text}");
            }
            assert!(text.contains("received by alice at 2026-12-01T12:00:00Z"), "{text}");
        }
        let slack: serde_json::Value =
            serde_json::from_slice(&body(BodyFormat::Slack, &id, "s", &e, true, None)).unwrap();
        assert!(slack["text"].as_str().unwrap().starts_with("sealpass [test]: "));
    }

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
