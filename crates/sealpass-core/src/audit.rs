//! The audit log's chain (SPEC §10): each entry carries the SHA-256 of the one before it, so an
//! entry altered, removed, inserted or moved breaks the chain from there on, and [`verify`]
//! names the first entry that does not fit. The head (length and last hash) can be recorded
//! elsewhere, so truncating the log is caught too. Pure: the stores keep entries; this module
//! says what they must hash to.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::events::Event;

/// What the first entry links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Its position, from 1.
    pub seq: u64,
    /// The hash of the entry before it ([`GENESIS`] for the first).
    pub prev: String,
    /// What happened.
    pub event: Event,
    /// SHA-256 over `seq`, `prev` and the event's canonical form ([`hash_of`]), lowercase hex.
    pub hash: String,
}

/// An entry as a store keeps it and the API serves it: the event as stored, which may no
/// longer be a well-formed event if someone edited the store. [`Record::entry`] reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Its position, from 1.
    pub seq: u64,
    /// The hash of the entry before it.
    pub prev: String,
    /// The event's JSON as stored (a JSON string if what is stored is not JSON at all).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event: serde_json::Value,
    /// The hash stored with it.
    pub hash: String,
}

impl Record {
    /// The record of a stored entry whose event is the text `event`.
    pub fn stored(seq: u64, prev: String, event: &str, hash: String) -> Record {
        let event = serde_json::from_str(event).unwrap_or_else(|_| serde_json::Value::String(event.to_owned()));
        Record { seq, prev, event, hash }
    }

    /// The entry, or `Altered` if its event is no longer an event.
    pub fn entry(&self) -> Result<Entry, Broken> {
        let event = Event::deserialize(&self.event).map_err(|_| Broken::Altered { seq: self.seq })?;
        Ok(Entry { seq: self.seq, prev: self.prev.clone(), event, hash: self.hash.clone() })
    }
}

impl From<&Entry> for Record {
    fn from(entry: &Entry) -> Record {
        Record::stored(entry.seq, entry.prev.clone(), &entry.event.canonical(), entry.hash.clone())
    }
}

/// Where the chain ends: how many entries, and the last one's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Head {
    /// Entries so far.
    pub length: u64,
    /// The last entry's hash ([`GENESIS`] when empty).
    pub hash: String,
}

impl Head {
    /// The head of an empty log.
    pub fn empty() -> Head {
        Head { length: 0, hash: GENESIS.to_owned() }
    }
}

/// An entry's hash: SHA-256 over `sealpass-audit-v1`, its position, the previous hash and the
/// event's canonical JSON, newline-separated.
pub fn hash_of(seq: u64, prev: &str, event: &Event) -> String {
    hash_of_canonical(seq, prev, &event.canonical())
}

/// [`hash_of`], given the event's canonical JSON already written.
fn hash_of_canonical(seq: u64, prev: &str, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("sealpass-audit-v1\n{seq}\n{prev}\n"));
    hasher.update(canonical.as_bytes());
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

/// The entry that follows `head` for `event`.
pub fn next(head: &Head, event: Event) -> Entry {
    next_with_canonical(head, event).0
}

/// [`next`], with the event's canonical JSON it hashed: what a store keeps, written once, and
/// exactly the text the hash covers.
pub fn next_with_canonical(head: &Head, event: Event) -> (Entry, String) {
    let seq = head.length + 1;
    let canonical = event.canonical();
    let hash = hash_of_canonical(seq, &head.hash, &canonical);
    (Entry { seq, prev: head.hash.clone(), event, hash }, canonical)
}

impl Entry {
    /// The head once this entry is the last.
    pub fn head(&self) -> Head {
        Head { length: self.seq, hash: self.hash.clone() }
    }
}

/// Where the chain breaks, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broken {
    /// An entry whose contents no longer hash to its hash: it was edited.
    Altered {
        /// Its position.
        seq: u64,
    },
    /// An entry out of place: the one expected there was removed, or entries were reordered.
    OutOfPlace {
        /// The position it claims.
        seq: u64,
        /// The position expected there.
        expected: u64,
    },
    /// An entry that does not link to the one before it (replaced, or inserted).
    Unlinked {
        /// Its position.
        seq: u64,
    },
    /// The log is shorter than, or differs from, a head recorded earlier.
    NotTheRecordedHead {
        /// The recorded head's length.
        length: u64,
    },
    /// The entry at a position a signed witness vouches for has another hash, or is gone: the
    /// log was rewritten at or before it (and its hashes recomputed), or truncated.
    NotWitnessed {
        /// The position.
        seq: u64,
        /// The witness.
        by: String,
    },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Altered { seq } => write!(f, "entry {seq} was altered: its contents do not match its hash"),
            Broken::OutOfPlace { seq, expected } => write!(
                f,
                "entry {expected} is missing or out of place: entry {seq} stands there (removed or reordered)"
            ),
            Broken::Unlinked { seq } => {
                write!(f, "entry {seq} does not link to the entry before it (replaced or inserted)")
            }
            Broken::NotTheRecordedHead { length } => {
                write!(f, "the log does not reach the head recorded at length {length}: it was truncated or rewritten")
            }
            Broken::NotWitnessed { seq, by } => {
                write!(f, "entry {seq} is not what {by} signed: the log was rewritten at or before it, or truncated")
            }
        }
    }
}

/// Check `entries`, which continue the chain at `from` (use [`Head::empty`] for a whole log):
/// each in its place, linked to the one before, hashing to its hash. Returns the head reached.
pub fn verify<'a>(from: &Head, entries: impl IntoIterator<Item = &'a Entry>) -> Result<Head, Broken> {
    let mut head = from.clone();
    for entry in entries {
        let expected = head.length + 1;
        if entry.seq != expected {
            return Err(Broken::OutOfPlace { seq: entry.seq, expected });
        }
        if hash_of(entry.seq, &entry.prev, &entry.event) != entry.hash {
            return Err(Broken::Altered { seq: entry.seq });
        }
        if entry.prev != head.hash {
            return Err(Broken::Unlinked { seq: entry.seq });
        }
        head = entry.head();
    }
    Ok(head)
}

/// [`verify`] for records as served: an event that no longer reads as one is `Altered`.
pub fn verify_records<'a>(from: &Head, records: impl IntoIterator<Item = &'a Record>) -> Result<Head, Broken> {
    let mut head = from.clone();
    for record in records {
        let entry = record.entry()?;
        head = verify(&head, [&entry])?;
    }
    Ok(head)
}

/// Whether a verified log (ending at `reached`, all its entries in `entries`) still holds a head
/// recorded earlier: the entry at that length has that hash.
pub fn holds(recorded: &Head, entries: &[Entry]) -> Result<(), Broken> {
    if recorded.length == 0 {
        return Ok(());
    }
    let at = entries.iter().find(|e| e.seq == recorded.length);
    match at {
        Some(e) if e.hash == recorded.hash => Ok(()),
        _ => Err(Broken::NotTheRecordedHead { length: recorded.length }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Actor, EventKind};

    fn event(n: u32) -> Event {
        Event {
            kind: EventKind::DropCreated,
            drop_id: Some(format!("{n:026}")),
            request_id: None,
            label: None,
            actor: Actor::Sender,
            at: "2026-12-01T12:00:00Z".into(),
            client: Some("192.0.2.1".into()),
            credential: None,
        }
    }

    fn log(n: u32) -> Vec<Entry> {
        let mut head = Head::empty();
        (0..n)
            .map(|i| {
                let e = next(&head, event(i));
                head = e.head();
                e
            })
            .collect()
    }

    #[test]
    fn an_intact_log_verifies_and_any_edit_removal_or_reorder_names_the_first_broken_entry() {
        let entries = log(6);
        let head = verify(&Head::empty(), &entries).unwrap();
        assert_eq!(head.length, 6);
        assert_eq!(head, entries[5].head());
        // Verifying a continuation from a recorded head reaches the same end.
        assert_eq!(verify(&entries[2].head(), &entries[3..]).unwrap(), head);

        let mut altered = entries.clone();
        altered[3].event.actor = Actor::Staff("mallory".into());
        assert_eq!(verify(&Head::empty(), &altered), Err(Broken::Altered { seq: 4 }));

        let mut removed = entries.clone();
        removed.remove(2);
        assert_eq!(verify(&Head::empty(), &removed), Err(Broken::OutOfPlace { seq: 4, expected: 3 }));

        let mut swapped = entries.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&Head::empty(), &swapped), Err(Broken::OutOfPlace { seq: 3, expected: 2 }));

        // Rewriting an entry and re-hashing it consistently still breaks the link after it.
        let mut rewritten = entries.clone();
        rewritten[2].event.label = Some("forged".into());
        rewritten[2].hash = hash_of(3, &rewritten[2].prev, &rewritten[2].event);
        assert_eq!(verify(&Head::empty(), &rewritten), Err(Broken::Unlinked { seq: 4 }));

        // Truncation verifies on its own, but not against the head recorded before it.
        let truncated = &entries[..4];
        assert!(verify(&Head::empty(), truncated).is_ok());
        assert_eq!(holds(&head, truncated), Err(Broken::NotTheRecordedHead { length: 6 }));
        assert_eq!(holds(&entries[3].head(), &entries), Ok(()));
        assert!(Broken::Altered { seq: 4 }.to_string().contains("entry 4"));
    }

    #[test]
    fn the_hash_is_what_the_documented_recipe_gives() {
        let e = next(&Head::empty(), event(0));
        let text = format!("sealpass-audit-v1\n1\n{GENESIS}\n{}", e.event.canonical());
        assert_eq!(e.hash, data_encoding::HEXLOWER.encode(&Sha256::digest(text.as_bytes())));
        assert_eq!(e.prev, GENESIS);
    }
}
