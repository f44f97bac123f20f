//! State changes as events (SPEC §10): what happened to which drop or request, by whom, when and
//! from where — never ciphertext, tokens or secrets. One shape for the audit log, webhooks and
//! receipts, with one canonical JSON form so that a hash or a signature over it means one thing.
//! Pure.

use serde::{Deserialize, Serialize};

use crate::access::Credential;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A drop was uploaded.
    #[serde(rename = "drop.created")]
    DropCreated,
    /// Staff claimed it.
    #[serde(rename = "drop.claimed")]
    DropClaimed,
    /// The claimer acknowledged it: the ciphertext is wiped.
    #[serde(rename = "drop.received")]
    DropReceived,
    /// Its sender or staff revoked it.
    #[serde(rename = "drop.revoked")]
    DropRevoked,
    /// It expired unreceived.
    #[serde(rename = "drop.expired")]
    DropExpired,
    /// A claim was given up before its acknowledgement: the drop waits again.
    #[serde(rename = "drop.released")]
    DropReleased,
    /// Staff made a request link.
    #[serde(rename = "request.created")]
    RequestCreated,
    /// A drop answered it.
    #[serde(rename = "request.fulfilled")]
    RequestFulfilled,
    /// It expired unanswered.
    #[serde(rename = "request.expired")]
    RequestExpired,
    /// Staff cancelled it before it was answered.
    #[serde(rename = "request.cancelled")]
    RequestCancelled,
}

impl EventKind {
    /// Every kind: SPEC §10's, then §12's (`drop.released`, `request.cancelled`) beside their kin.
    pub const ALL: [EventKind; 10] = [
        EventKind::DropCreated,
        EventKind::DropClaimed,
        EventKind::DropReceived,
        EventKind::DropRevoked,
        EventKind::DropExpired,
        EventKind::DropReleased,
        EventKind::RequestCreated,
        EventKind::RequestFulfilled,
        EventKind::RequestExpired,
        EventKind::RequestCancelled,
    ];

    /// Its name, as in configs (`events = ["drop.received"]`) and payloads.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::DropCreated => "drop.created",
            EventKind::DropClaimed => "drop.claimed",
            EventKind::DropReceived => "drop.received",
            EventKind::DropRevoked => "drop.revoked",
            EventKind::DropExpired => "drop.expired",
            EventKind::DropReleased => "drop.released",
            EventKind::RequestCreated => "request.created",
            EventKind::RequestFulfilled => "request.fulfilled",
            EventKind::RequestExpired => "request.expired",
            EventKind::RequestCancelled => "request.cancelled",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The staff name recorded for calls on a server with no staff configured
/// (`--insecure-open-claims`): here, below the server and the stores, so both name it without
/// the store depending on the server.
pub const OPEN_CLAIMER: &str = "anyone";

/// Who caused an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type", content = "name")]
pub enum Actor {
    /// A staff member, by the name in the server's config.
    Staff(String),
    /// Whoever holds the drop's manage token or the request's upload token (unauthenticated).
    Sender,
    /// The server's sweeper (expiry).
    Sweeper,
}

/// One state change. Field order is the canonical JSON's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The drop, when a drop changed (or fulfilled a request).
    pub drop_id: Option<String>,
    /// The request involved, if any.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// Who.
    pub actor: Actor,
    /// When, RFC 3339 UTC to the second.
    pub at: String,
    /// The client's address as the server saw it (after `trusted_proxies`), when a client acted.
    pub client: Option<String>,
    /// How a staff actor proved who they are, and the role that allowed the change. Absent from
    /// entries written before roles existed (so their canonical form, and the chain, are
    /// unchanged) and for senders and the sweeper.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
}

impl Event {
    /// The canonical form: compact JSON, keys in declaration order, no floats. What the audit
    /// chain hashes and receipts sign.
    pub fn canonical(&self) -> String {
        // Serialising plain strings, options and enums cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Unix seconds as RFC 3339 UTC, to the second: how events (and the API) write times.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

/// An event at `t` (Unix seconds).
pub fn event(
    kind: EventKind,
    drop_id: Option<&str>,
    request_id: Option<&str>,
    label: Option<&str>,
    actor: Actor,
    origin: &Origin,
) -> Event {
    Event {
        kind,
        drop_id: drop_id.map(str::to_owned),
        request_id: request_id.map(str::to_owned),
        label: label.map(str::to_owned),
        actor,
        at: rfc3339(origin.at),
        client: origin.client.clone(),
        credential: origin.credential.clone(),
    }
}

/// When a state change happens and, if a client caused it, from which address: what the store
/// records in its event besides the change itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Unix seconds.
    pub at: i64,
    /// The client's address (after `trusted_proxies`), if a client acted.
    pub client: Option<String>,
    /// The staff member's credential and the role it was allowed under, if staff acted.
    pub credential: Option<Credential>,
}

impl Origin {
    /// A change at `at` made by a client at `client`.
    pub fn client(at: i64, client: impl ToString) -> Origin {
        Origin { at, client: Some(client.to_string()), credential: None }
    }

    /// A change at `at` no client made (the sweeper; tests).
    pub fn at(at: i64) -> Origin {
        Origin { at, client: None, credential: None }
    }

    /// The same, made by staff with `credential`.
    pub fn by(self, credential: Credential) -> Origin {
        Origin { credential: Some(credential), ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_canonical_form_is_stable() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
        let e = Event {
            kind: EventKind::DropReceived,
            drop_id: Some("d".repeat(26)),
            request_id: None,
            label: Some("Acme".into()),
            actor: Actor::Staff("alice".into()),
            at: "2026-12-01T12:00:00Z".into(),
            client: Some("192.0.2.7".into()),
            credential: None,
        };
        let text = e.canonical();
        assert!(text.starts_with(r#"{"kind":"drop.received","drop_id":"ddd"#), "{text}");
        assert!(text.contains(r#""actor":{"type":"staff","name":"alice"}"#), "{text}");
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.canonical(), text);
        // An entry from before roles has no credential, and its canonical form stays as it was.
        assert!(!text.contains("credential"), "{text}");
        let with_role = Event {
            credential: Some(Credential {
                role: crate::access::Role::Receiver,
                token: Some("alice".into()),
                issuer: None,
                subject: None,
            }),
            ..e.clone()
        };
        let text = with_role.canonical();
        assert!(text.ends_with(r#","credential":{"role":"receiver","token":"alice"}}"#), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), with_role);
        let sweeper = Event { actor: Actor::Sweeper, ..e };
        assert!(sweeper.canonical().contains(r#""actor":{"type":"sweeper"}"#));
    }
}
