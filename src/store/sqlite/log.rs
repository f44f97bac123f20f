//! The SQLite store's audit log and webhook cursors: events appended inside the transaction of
//! the change they record (the store's thread is the only writer, so the head read here is the
//! head the entry extends), and read back as stored.

use rusqlite::{Connection, OptionalExtension, params};

use super::internal;
use crate::audit::{self, Head, Record};
use crate::events::Event;
use crate::store::StoreError;

/// Where the log ends now.
pub(super) fn head(conn: &Connection) -> Result<Head, StoreError> {
    let last = conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).optional())
        .map_err(internal)?;
    Ok(last.map_or_else(Head::empty, |(seq, hash)| Head { length: seq as u64, hash }))
}

/// Append `event` to the log, in the caller's transaction.
pub(super) fn append(conn: &Connection, event: Event) -> Result<(), StoreError> {
    let entry = audit::next(&head(conn)?, event);
    conn.prepare_cached("INSERT INTO audit (seq, prev, event, hash, kind, drop_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .and_then(|mut s| {
            s.execute(params![
                entry.seq as i64,
                entry.prev,
                entry.event.canonical(),
                entry.hash,
                entry.event.kind.name(),
                entry.event.drop_id
            ])
        })
        .map_err(internal)?;
    Ok(())
}

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record::stored(row.get::<_, i64>(0)? as u64, row.get(1)?, &row.get::<_, String>(2)?, row.get(3)?))
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
        "SELECT seq, prev, event, hash FROM audit WHERE drop_id = ?1 AND kind = 'drop.received' ORDER BY seq LIMIT 1",
    )
    .and_then(|mut s| s.query_row([id], record).optional())
    .map_err(internal)
}

/// How far webhook `name` got.
pub(super) fn cursor(conn: &Connection, name: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT seq FROM webhook_cursors WHERE name = ?1")
        .and_then(|mut s| s.query_row([name], |r| r.get::<_, i64>(0)).optional())
        .map(|seq| seq.unwrap_or(0) as u64)
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

/// The label of request `id`, for a drop's events.
pub(super) fn label(conn: &Connection, request: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some(request) = request else { return Ok(None) };
    conn.prepare_cached("SELECT label FROM requests WHERE id = ?1")
        .and_then(|mut s| s.query_row([request], |r| r.get(0)).optional())
        .map_err(internal)
}
