//! The SQLite store's audit log and webhook cursors: events appended inside the transaction of
//! the change they record (the store's thread is the only writer, so the head it remembers is
//! the head the entry extends), and read back as stored.

use std::cell::Cell;
use std::ops::Deref;

use rusqlite::{Connection, OptionalExtension, params};

use super::internal;
use crate::store::StoreError;
use sealpass_core::audit::{self, Head, Record};
use sealpass_core::events::Event;

/// The head as of the last append in the current batch, kept by the store's thread (the only
/// writer) beside its connection: reading it back for every event cost a query each. Forgotten
/// at the start of every batch (the first append reads it under the batch's write lock) and
/// whenever a job fails or panics or a batch does not commit.
#[derive(Default)]
pub(super) struct HeadCache(Cell<Option<Head>>);

impl HeadCache {
    /// Forget the remembered head: the transaction that advanced it may not commit.
    pub(super) fn forget(&self) {
        self.0.take();
    }
}

/// A job's view of the writer: its transaction (a savepoint of the batch's) and the head the
/// writer remembers, so that appending to the log needs both and nothing else can.
pub(super) struct Tx<'a> {
    pub(super) conn: &'a Connection,
    pub(super) head: &'a HeadCache,
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// Where the log ends now (as stored, ignoring what the writer remembers).
pub(super) fn head(conn: &Connection) -> Result<Head, StoreError> {
    let last = conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get::<_, i64>(0)?, hex(r.get(1)?)))).optional())
        .map_err(internal)?;
    Ok(last.map_or_else(Head::empty, |(seq, hash)| Head { length: seq as u64, hash }))
}

/// The position the next appended entry will have.
pub(super) fn next_seq(tx: &Tx<'_>) -> Result<u64, StoreError> {
    let current = match tx.head.0.take() {
        Some(head) => head,
        None => head(tx)?,
    };
    let next = current.length + 1;
    tx.head.0.set(Some(current));
    Ok(next)
}

/// Append `event` to the log, in the caller's transaction; returns its position.
pub(super) fn append(tx: &Tx<'_>, event: Event) -> Result<u64, StoreError> {
    // Taken, not copied: until the insert succeeds, nothing is remembered.
    let current = match tx.head.0.take() {
        Some(head) => head,
        None => head(tx)?,
    };
    let (entry, canonical) = audit::next_with_canonical(&current, event);
    tx.prepare_cached("INSERT INTO audit (seq, prev, event, hash) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut s| s.execute(params![entry.seq as i64, blob(&entry.prev), canonical, blob(&entry.hash)]))
        .map_err(internal)?;
    tx.head.0.set(Some(entry.head()));
    Ok(entry.seq)
}

/// A hash as stored: its 32 bytes (half the hex's size, in a log that is kept for good).
fn blob(hash: &str) -> Vec<u8> {
    data_encoding::HEXLOWER.decode(hash.as_bytes()).unwrap_or_default()
}

fn hex(bytes: Vec<u8>) -> String {
    data_encoding::HEXLOWER.encode(&bytes)
}

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record::stored(row.get::<_, i64>(0)? as u64, hex(row.get(1)?), &row.get::<_, String>(2)?, hex(row.get(3)?)))
}

/// Entries after `after`, at most `limit`.
pub(super) fn entries(conn: &Connection, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT seq, prev, event, hash FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .map_err(internal)?;
    let rows = stmt.query_map(params![after as i64, limit as i64], record).map_err(internal)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(internal)
}

/// The entry recording that drop `id` was received.
pub(super) fn received(conn: &Connection, id: &str) -> Result<Option<Record>, StoreError> {
    conn.prepare_cached(
        "SELECT a.seq, a.prev, a.event, a.hash FROM drops d JOIN audit a ON a.seq = d.received_seq WHERE d.id = ?1",
    )
    .and_then(|mut s| s.query_row([id], record).optional())
    .map_err(internal)
}

/// How far webhook `name` got.
pub(super) fn cursor(conn: &Connection, name: &str) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT seq FROM webhook_cursors WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get::<_, i64>(0)).optional())
        .map(|seq| seq.map(|s| s as u64))
        .map_err(internal)
}

/// Move webhook `name`'s cursor forward to `seq`.
pub(super) fn set_cursor(conn: &Connection, name: &str, seq: u64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_cursors (name, seq) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET seq = MAX(seq, excluded.seq)",
    )
    .and_then(|mut s| s.execute(params![name, seq as i64]))
    .map(|_| ())
    .map_err(internal)
}
