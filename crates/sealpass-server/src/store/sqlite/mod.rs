//! The embedded store: one SQLite file (WAL, `secure_delete`, fsync per commit by default),
//! owned by a dedicated thread so the async runtime never blocks on disk. Every state change is
//! one statement (`UPDATE … WHERE <allowed states> … RETURNING`), so exactly one claimer can win.
//! Ciphertext lives in its own table and is deleted, never blanked, when a drop is wiped.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{
    ClaimedDrop, DropRecord, InboxCursor, InboxItem, ListedRequest, Missing, NewDrop, Origin, RequestQuery,
    RequestRecord, Store, StoreError, Swept, TOMBSTONE_SECONDS, creator, drop_event,
};
use crate::config::Synchronous;
use sealpass_core::api::{DropState, RequestState};
use sealpass_core::audit::{Head, Record};
use sealpass_core::events::{Actor, EventKind, event};

mod log;
mod schema;
mod thread;

use log::Tx;
use thread::{Job, JobSignals, Writer};

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
    shared: Arc<JobSignals>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}

/// The columns a drop's record is read from: a macro, so that the statements of the hot path
/// are text put together at compile time, not formatted on every call.
macro_rules! drop_columns {
    () => {
        "id, manage_hash, state, size, created_at, expires_at, claimed_by, claimed_at, received_at, revoked_at, \
         request_id, released_by, released_at"
    };
}
const DROP_COLUMNS: &str = drop_columns!();
/// How many columns `DROP_COLUMNS` names: what a `RETURNING` adds comes after them.
const DROP_WIDTH: usize = 13;

const REQUEST_COLUMNS: &str = "id, upload_hash, label, kind, created_by, created_at, expires_at, drop_id, \
                               required_fields, drop_ttl, cancelled_at";
/// How many columns `REQUEST_COLUMNS` names.
const REQUEST_WIDTH: usize = 11;

pub(super) fn internal(e: rusqlite::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn state_from(s: &str) -> rusqlite::Result<DropState> {
    DropState::from_name(s).ok_or_else(|| rusqlite::Error::InvalidColumnName(format!("unknown state {s}")))
}

fn hash_from(bytes: Vec<u8>) -> rusqlite::Result<[u8; 32]> {
    bytes.try_into().map_err(|_| rusqlite::Error::InvalidColumnName("hash is not 32 bytes".into()))
}

fn drop_row(row: &Row<'_>) -> rusqlite::Result<DropRecord> {
    Ok(DropRecord {
        id: row.get(0)?,
        manage_hash: hash_from(row.get(1)?)?,
        state: state_from(&row.get::<_, String>(2)?)?,
        size: row.get::<_, i64>(3)? as usize,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        claimed_by: row.get(6)?,
        claimed_at: row.get(7)?,
        received_at: row.get(8)?,
        revoked_at: row.get(9)?,
        request_id: row.get(10)?,
        released_by: row.get(11)?,
        released_at: row.get(12)?,
    })
}

fn request_row(row: &Row<'_>) -> rusqlite::Result<RequestRecord> {
    Ok(RequestRecord {
        id: row.get(0)?,
        upload_hash: hash_from(row.get(1)?)?,
        label: row.get(2)?,
        kind: row.get(3)?,
        created_by: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        drop_id: row.get(7)?,
        required_fields: split_names(&row.get::<_, String>(8)?),
        drop_ttl: row.get::<_, Option<i64>>(9)?.and_then(|t| u64::try_from(t).ok()),
        cancelled_at: row.get(10)?,
    })
}

/// Comma-separated field names, as `requests.required_fields` keeps them.
fn split_names(text: &str) -> Vec<String> {
    text.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

fn get_drop(conn: &Connection, id: &str) -> Result<Option<DropRecord>, StoreError> {
    conn.prepare_cached(concat!("SELECT ", drop_columns!(), " FROM drops WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], drop_row).optional())
        .map_err(internal)
}

fn get_request(conn: &Connection, id: &str) -> Result<Option<RequestRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], request_row).optional())
        .map_err(internal)
}

/// Why a guarded update matched no row, from the record as it is now.
fn refusal(conn: &Connection, id: &str, staff: Option<&str>, now: i64) -> StoreError {
    let record = match get_drop(conn, id) {
        Ok(Some(record)) => record,
        Ok(None) => return StoreError::NotFound(Missing::Drop),
        Err(e) => return e,
    };
    match record.state_at(now) {
        DropState::Expired => StoreError::Expired,
        DropState::Revoked => StoreError::Revoked,
        // Someone else's pickup is "already claimed by …" whether or not they acknowledged yet.
        DropState::Received if staff.is_some() && record.claimed_by.as_deref() != staff => StoreError::ClaimedByOther {
            by: record.claimed_by.unwrap_or_default(),
            at: record.claimed_at.unwrap_or_default(),
        },
        DropState::Received => StoreError::Received,
        DropState::Claimed if record.claimed_by.as_deref() != staff => StoreError::ClaimedByOther {
            by: record.claimed_by.unwrap_or_default(),
            at: record.claimed_at.unwrap_or_default(),
        },
        DropState::Waiting | DropState::Claimed => StoreError::NotClaimed,
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path`, commits fsynced, and start its thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, Synchronous::Full)
    }

    /// Open with the given commit durability.
    pub fn open_with(path: &Path, synchronous: Synchronous) -> Result<SqliteStore, StoreError> {
        // The default store lives in sealpass's data directory, created on first use; any other
        // directory must exist (a typo is an error, not a new tree).
        sealpass_client::files::parent_dir(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut conn =
            Connection::open(path).map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        // WAL with synchronous=FULL: the WAL is fsynced at every commit, so an answered upload
        // survives a power cut, not just a crash of the process; group commit shares that fsync
        // among a batch. NORMAL (opt-in) survives kill -9 only. auto_vacuum only takes effect on
        // a new file: pages freed by wipes go back to the file system through the sweeper's
        // incremental_vacuum instead of piling up.
        let sync = match synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        // Room for every statement the store prepares (about thirty): the default sixteen
        // would keep evicting the hot path's.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(&format!(
            "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync};
             PRAGMA secure_delete = ON; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;"
        ))
        .map_err(internal)?;
        schema::migrate(&mut conn)?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let shared = Arc::new(JobSignals::default());
        let for_thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sealpass-sqlite".into())
            .spawn(move || thread::run_jobs(conn, queue, for_thread))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(SqliteStore { jobs, path: path.to_owned(), shared })
    }

    /// Run `f` on the store's thread, in a batch, in a savepoint of its own (all of it, or on an
    /// error or a panic none of it: a change is never kept without its event), and wait
    /// (without blocking the runtime) for its answer, which comes only once its batch is
    /// committed.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Batched(Box::new(move |writer: Option<&mut Writer>| {
            let result = match writer {
                Some(Writer { conn, head }) => {
                    let result = thread::Savepoint::open(conn).and_then(|job| {
                        let result = f(&Tx { conn: job.conn, head })?;
                        job.release()?;
                        Ok(result)
                    });
                    if result.is_err() {
                        // Its savepoint rolled back: an event it appended is gone with it.
                        head.forget();
                    }
                    result
                }
                None => Err(StoreError::Unavailable("the store could not start a transaction".into())),
            };
            Box::new(move |failed: Option<StoreError>| {
                let _ = tx.send(match failed {
                    Some(e) => Err(e),
                    None => result,
                });
            })
        }));
        self.jobs.send(job).map_err(|_| StoreError::Unavailable("the SQLite thread has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the SQLite thread has stopped".into()))?
    }

    /// Run `f` on the store's thread outside any transaction.
    async fn alone<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Alone(Box::new(move |conn| {
            let _ = tx.send(f(conn));
        }));
        self.jobs.send(job).map_err(|_| StoreError::Unavailable("the SQLite thread has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Unavailable("the SQLite thread has stopped".into()))
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_drop(&self, drop: NewDrop, origin: &Origin) -> Result<DropRecord, StoreError> {
        let origin = origin.clone();
        self.call(move |tx| {
            let mut label = None;
            if let Some(request) = &drop.request_id {
                label = tx
                    .prepare_cached(
                        "UPDATE requests SET drop_id = ?1, purge_at = MAX(purge_at, ?3)
                         WHERE id = ?2 AND drop_id IS NULL AND cancelled_at IS NULL AND expires_at > ?4 RETURNING label",
                    )
                    .and_then(|mut s| {
                        s.query_row(
                            params![drop.id, request, drop.expires_at + TOMBSTONE_SECONDS, drop.created_at],
                            |r| r.get::<_, String>(0),
                        )
                        .optional()
                    })
                    .map_err(internal)?;
                if label.is_none() {
                    let existing: Option<(Option<String>, Option<i64>)> = tx
                        .query_row("SELECT drop_id, cancelled_at FROM requests WHERE id = ?1", [request], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .optional()
                        .map_err(internal)?;
                    return Err(match existing {
                        None => StoreError::NotFound(Missing::Request),
                        Some((Some(_), _)) => StoreError::RequestFulfilled,
                        Some((None, Some(_))) => StoreError::Cancelled,
                        Some((None, None)) => StoreError::Expired,
                    });
                }
            }
            tx.prepare_cached("INSERT INTO ciphertexts (body) VALUES (?1)")
                .and_then(|mut s| s.execute([&drop.ciphertext]))
                .map_err(internal)?;
            let seq = tx.last_insert_rowid();
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO drops (id, manage_hash, ct, size, state, created_at, expires_at, request_id)
                     VALUES (?1, ?2, ?3, ?4, 'waiting', ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        drop.id,
                        drop.manage_hash.as_slice(),
                        seq,
                        drop.ciphertext.len() as i64,
                        drop.created_at,
                        drop.expires_at,
                        drop.request_id
                    ])
                });
            match inserted {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                    return Err(StoreError::Duplicate);
                }
                other => other.map_err(internal)?,
            };
            let record = DropRecord::waiting(drop);
            log::append(tx, drop_event(EventKind::DropCreated, &record, label.as_deref(), Actor::Sender, &origin))?;
            if record.request_id.is_some() {
                let fulfilled =
                    drop_event(EventKind::RequestFulfilled, &record, label.as_deref(), Actor::Sender, &origin);
                log::append(tx, fulfilled)?;
            }
            Ok(record)
        })
        .await
    }

    async fn get_drop(&self, id: &str) -> Result<Option<DropRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| get_drop(conn, &id)).await
    }

    async fn revoke(&self, id: &str, by: &Actor, origin: &Origin) -> Result<DropRecord, StoreError> {
        let (id, shared, by, origin) = (id.to_owned(), Arc::clone(&self.shared), by.clone(), origin.clone());
        let now = origin.at;
        self.call(move |conn| {
            let sql = concat!(
                "UPDATE drops SET state = 'revoked', revoked_at = ?2, ct = NULL
                 WHERE id = ?1 AND state IN ('waiting', 'claimed') AND expires_at > ?2
                 RETURNING ",
                drop_columns!(),
                ", (SELECT label FROM requests WHERE requests.id = drops.request_id)"
            );
            let row = conn.prepare_cached(sql).and_then(|mut s| {
                s.query_row(params![id, now], |r| Ok((drop_row(r)?, r.get::<_, Option<String>>(DROP_WIDTH)?)))
                    .optional()
            });
            match row.map_err(internal)? {
                Some((record, label)) => {
                    log::append(conn, drop_event(EventKind::DropRevoked, &record, label.as_deref(), by, &origin))?;
                    shared.wiped.store(true, Ordering::Release);
                    Ok(record)
                }
                None => match refusal(conn, &id, None, now) {
                    StoreError::Revoked => get_drop(conn, &id)?.ok_or(StoreError::NotFound(Missing::Drop)),
                    other => Err(other),
                },
            }
        })
        .await
    }

    async fn claim(&self, id: &str, staff: &str, origin: &Origin) -> Result<ClaimedDrop, StoreError> {
        let (id, staff, origin) = (id.to_owned(), staff.to_owned(), origin.clone());
        let now = origin.at;
        self.call(move |conn| {
            // The first claim, or the claimer's repeat: one statement each, the first tried first. RETURNING carries the ciphertext and the request's label.
            macro_rules! returning {
                () => {
                    concat!(
                        " RETURNING ",
                        drop_columns!(),
                        ", (SELECT body FROM ciphertexts WHERE seq = drops.ct),
                           (SELECT label FROM requests WHERE requests.id = drops.request_id),
                           (SELECT kind FROM requests WHERE requests.id = drops.request_id)"
                    )
                };
            }
            let first = concat!(
                "UPDATE drops SET state = 'claimed', claimed_by = ?2, claimed_at = ?3
                 WHERE id = ?1 AND expires_at > ?3 AND ct IS NOT NULL AND state = 'waiting'",
                returning!()
            );
            let again = concat!(
                "UPDATE drops SET claimed_by = ?2
                 WHERE id = ?1 AND expires_at > ?3 AND ct IS NOT NULL AND state = 'claimed' AND claimed_by = ?2",
                returning!()
            );
            let run = |sql: &str| {
                conn.prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_row(params![id, staff, now], |r| {
                            Ok((
                                drop_row(r)?,
                                r.get::<_, Option<String>>(DROP_WIDTH)?,
                                r.get::<_, Option<String>>(DROP_WIDTH + 1)?,
                                r.get::<_, Option<String>>(DROP_WIDTH + 2)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(internal)
            };
            let row = match run(first)? {
                Some(row) => Some(row),
                None => run(again)?,
            };
            let Some((record, Some(ciphertext), label, kind)) = row else {
                return Err(refusal(conn, &id, Some(&staff), now));
            };
            // Every answer that carries the ciphertext is an event, the claimer's repeats too.
            let claimed = drop_event(EventKind::DropClaimed, &record, label.as_deref(), Actor::Staff(staff), &origin);
            log::append(conn, claimed)?;
            Ok(ClaimedDrop { record, ciphertext, label, kind })
        })
        .await
    }

    async fn ack(&self, id: &str, staff: &str, origin: &Origin) -> Result<DropRecord, StoreError> {
        let (id, staff, shared, origin) = (id.to_owned(), staff.to_owned(), Arc::clone(&self.shared), origin.clone());
        let now = origin.at;
        self.call(move |conn| {
            // Only a live claim: a drop that expired while claimed stays expired, never received.
            // The entry that records it is the log's next: its position is known before it is
            // written (the store's thread is the only writer), so one statement does it all.
            let seq = log::next_seq(conn)?;
            let sql = concat!(
                "UPDATE drops SET state = 'received', received_at = ?3, ct = NULL, received_seq = ?4
                 WHERE id = ?1 AND claimed_by = ?2 AND state = 'claimed' AND expires_at > ?3
                 RETURNING ",
                drop_columns!(),
                ", (SELECT label FROM requests WHERE requests.id = drops.request_id)"
            );
            let row = conn.prepare_cached(sql).and_then(|mut s| {
                s.query_row(params![id, staff, now, seq as i64], |r| {
                    Ok((drop_row(r)?, r.get::<_, Option<String>>(DROP_WIDTH)?))
                })
                .optional()
            });
            if let Some((record, label)) = row.map_err(internal)? {
                let received =
                    drop_event(EventKind::DropReceived, &record, label.as_deref(), Actor::Staff(staff), &origin);
                if log::append(conn, received)? != seq {
                    return Err(StoreError::Internal("the audit log moved under its only writer".into()));
                }
                shared.wiped.store(true, Ordering::Release);
                return Ok(record);
            }
            let record = get_drop(conn, &id)?.ok_or(StoreError::NotFound(Missing::Drop))?;
            let mine = record.claimed_by.as_deref() == Some(staff.as_str());
            match record.state_at(now) {
                DropState::Received if mine => Ok(record),
                DropState::Expired => Err(StoreError::Expired),
                DropState::Revoked => Err(StoreError::Revoked),
                _ => Err(StoreError::NotClaimed),
            }
        })
        .await
    }

    async fn release(&self, id: &str, staff: &str, anyone: bool, origin: &Origin) -> Result<DropRecord, StoreError> {
        let (id, staff, origin) = (id.to_owned(), staff.to_owned(), origin.clone());
        let now = origin.at;
        self.call(move |conn| {
            let sql = format!(
                "UPDATE drops SET state = 'waiting', claimed_by = NULL, claimed_at = NULL, released_by = ?2, released_at = ?3
                 WHERE id = ?1 AND state = 'claimed' AND expires_at > ?3 AND ct IS NOT NULL AND (claimed_by = ?2 OR ?4)
                 RETURNING {DROP_COLUMNS}, (SELECT label FROM requests WHERE requests.id = drops.request_id)"
            );
            let row = conn.prepare_cached(&sql).and_then(|mut s| {
                s.query_row(params![id, staff, now, anyone], |r| {
                    Ok((drop_row(r)?, r.get::<_, Option<String>>(DROP_WIDTH)?))
                })
                .optional()
            });
            if let Some((record, label)) = row.map_err(internal)? {
                let released =
                    drop_event(EventKind::DropReleased, &record, label.as_deref(), Actor::Staff(staff), &origin);
                log::append(conn, released)?;
                return Ok(record);
            }
            let record = get_drop(conn, &id)?.ok_or(StoreError::NotFound(Missing::Drop))?;
            Err(match record.state_at(now) {
                DropState::Expired => StoreError::Expired,
                DropState::Revoked => StoreError::Revoked,
                DropState::Received => StoreError::Received,
                DropState::Waiting => StoreError::NotReleasable,
                DropState::Claimed => StoreError::ClaimedByOther {
                    by: record.claimed_by.unwrap_or_default(),
                    at: record.claimed_at.unwrap_or_default(),
                },
            })
        })
        .await
    }

    async fn inbox(&self, now: i64, after: Option<&InboxCursor>, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        // Before any entry: (anonymous, created_at, id) > (-1, …) holds for every drop.
        let (group, created, id) = match after {
            Some(c) => (i64::from(c.anonymous), c.created_at, c.id.clone()),
            None => (-1, i64::MIN, String::new()),
        };
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT d.id, d.created_at, d.expires_at, d.size, d.request_id, r.label, r.kind, r.created_by
                     FROM drops d LEFT JOIN requests r ON r.id = d.request_id
                     WHERE d.state = 'waiting' AND d.expires_at > ?1
                       AND ((d.request_id IS NULL), d.created_at, d.id) > (?2, ?3, ?4)
                     ORDER BY (d.request_id IS NULL), d.created_at, d.id LIMIT ?5",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map(params![now, group, created, id, limit as i64], |r| {
                    Ok(InboxItem {
                        id: r.get(0)?,
                        created_at: r.get(1)?,
                        expires_at: r.get(2)?,
                        size: r.get::<_, i64>(3)? as usize,
                        request_id: r.get(4)?,
                        label: r.get(5)?,
                        kind: r.get(6)?,
                        requested_by: r.get(7)?,
                    })
                })
                .map_err(internal)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(internal)
        })
        .await
    }

    async fn create_request(&self, request: RequestRecord, origin: &Origin) -> Result<(), StoreError> {
        let origin = origin.clone();
        self.call(move |tx| {
            let result = tx
                .prepare_cached(
                    "INSERT INTO requests (id, upload_hash, label, kind, created_by, created_at, expires_at, purge_at,
                                           required_fields, drop_ttl)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        request.id,
                        request.upload_hash.as_slice(),
                        request.label,
                        request.kind,
                        request.created_by,
                        request.created_at,
                        request.expires_at,
                        request.expires_at + TOMBSTONE_SECONDS,
                        request.required_fields.join(","),
                        request.drop_ttl.and_then(|t| i64::try_from(t).ok())
                    ])
                });
            match result {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                    return Err(StoreError::Duplicate);
                }
                other => other.map_err(internal)?,
            };
            let created = event(
                EventKind::RequestCreated,
                None,
                Some(&request.id),
                Some(&request.label),
                creator(&request),
                &origin,
            );
            log::append(tx, created)?;
            Ok(())
        })
        .await
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| get_request(conn, &id)).await
    }

    async fn list_requests(
        &self,
        query: &RequestQuery,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ListedRequest>, StoreError> {
        let query = query.clone();
        self.call(move |conn| {
            // The state as `RequestRecord::state_at` works it out, in SQL.
            let sql = format!(
                "SELECT {REQUEST_COLUMNS}, (SELECT state || ':' || expires_at FROM drops WHERE drops.id = requests.drop_id)
                 FROM requests
                 WHERE (?1 IS NULL OR ?1 = CASE WHEN drop_id IS NOT NULL THEN 'fulfilled'
                                                WHEN cancelled_at IS NOT NULL THEN 'cancelled'
                                                WHEN expires_at <= ?2 THEN 'expired' ELSE 'open' END)
                   AND (?3 IS NULL OR created_by = ?3)
                   AND (created_at, id) < (?4, ?5)
                 ORDER BY created_at DESC, id DESC LIMIT ?6"
            );
            let (before_at, before_id) = match &query.after {
                Some(c) => (c.created_at, c.id.clone()),
                // After every request: ids are shorter than 27 "z"s.
                None => (i64::MAX, "z".repeat(27)),
            };
            let mut stmt = conn.prepare_cached(&sql).map_err(internal)?;
            let rows = stmt
                .query_map(
                    params![
                        query.state.map(RequestState::as_str),
                        now,
                        query.created_by,
                        before_at,
                        before_id,
                        limit as i64
                    ],
                    |r| Ok((request_row(r)?, r.get::<_, Option<String>>(REQUEST_WIDTH)?)),
                )
                .map_err(internal)?;
            let mut listed = Vec::new();
            for row in rows {
                let (record, drop) = row.map_err(internal)?;
                let drop_state = drop.as_deref().and_then(|text| {
                    let (state, expires_at) = text.split_once(':')?;
                    Some(DropState::from_name(state)?.at(expires_at.parse().ok()?, now))
                });
                listed.push(ListedRequest { record, drop_state });
            }
            Ok(listed)
        })
        .await
    }

    async fn cancel_request(&self, id: &str, by: &Actor, origin: &Origin) -> Result<(RequestRecord, bool), StoreError> {
        let (id, by, origin) = (id.to_owned(), by.clone(), origin.clone());
        let now = origin.at;
        self.call(move |conn| {
            // The sweeper records no expiry for a cancelled request: it ended here.
            let sql = format!(
                "UPDATE requests SET cancelled_at = ?2, expiry_recorded = 1
                 WHERE id = ?1 AND drop_id IS NULL AND cancelled_at IS NULL AND expires_at > ?2
                 RETURNING {REQUEST_COLUMNS}"
            );
            let row = conn.prepare_cached(&sql).and_then(|mut s| s.query_row(params![id, now], request_row).optional());
            if let Some(record) = row.map_err(internal)? {
                let cancelled =
                    event(EventKind::RequestCancelled, None, Some(&record.id), Some(&record.label), by, &origin);
                log::append(conn, cancelled)?;
                return Ok((record, true));
            }
            let record = get_request(conn, &id)?.ok_or(StoreError::NotFound(Missing::Request))?;
            match record.state_at(now) {
                RequestState::Cancelled => Ok((record, false)),
                RequestState::Fulfilled => Err(StoreError::RequestFulfilled),
                RequestState::Expired => Err(StoreError::Expired),
                RequestState::Open => Err(StoreError::Internal("an open request could not be cancelled".into())),
            }
        })
        .await
    }

    async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        let shared = Arc::clone(&self.shared);
        let swept = self
            .call(move |tx| {
                let origin = Origin::at(now);
                let gone: Vec<(String, Option<String>, Option<String>)> = tx
                    .prepare(
                        "UPDATE drops SET state = 'expired', ct = NULL WHERE ct IS NOT NULL AND expires_at <= ?1
                         RETURNING id, request_id, (SELECT label FROM requests WHERE requests.id = drops.request_id)",
                    )
                    .and_then(|mut s| {
                        s.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(internal)?;
                let expired = gone.len();
                for (id, request, label) in gone {
                    let e = event(
                        EventKind::DropExpired,
                        Some(&id),
                        request.as_deref(),
                        label.as_deref(),
                        Actor::Sweeper,
                        &origin,
                    );
                    log::append(tx, e)?;
                }
                let unanswered: Vec<(String, String)> = tx
                    .prepare(
                        "UPDATE requests SET expiry_recorded = 1
                         WHERE drop_id IS NULL AND expiry_recorded = 0 AND expires_at <= ?1 RETURNING id, label",
                    )
                    .and_then(|mut s| {
                        s.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(internal)?;
                for (id, label) in unanswered {
                    let e = event(EventKind::RequestExpired, None, Some(&id), Some(&label), Actor::Sweeper, &origin);
                    log::append(tx, e)?;
                }
                let purged = tx
                    .execute("DELETE FROM drops WHERE expires_at <= ?1", [now - TOMBSTONE_SECONDS])
                    .map_err(internal)?
                    + tx.execute("DELETE FROM requests WHERE purge_at <= ?1", [now]).map_err(internal)?;
                if expired + purged > 0 {
                    shared.wiped.store(true, Ordering::Release);
                }
                Ok(Swept { expired: expired as u64, purged: purged as u64 })
            })
            .await?;
        // Give the pages freed by wipes back to the file system. The thread then truncates the
        // WAL, where the old page images (ciphertext included) would otherwise live on.
        let shared = Arc::clone(&self.shared);
        self.alone(move |conn| {
            // Each step of the pragma frees one page: step it to the end.
            if let Ok(mut stmt) = conn.prepare("PRAGMA incremental_vacuum") {
                if let Ok(mut rows) = stmt.query([]) {
                    while let Ok(Some(_)) = rows.next() {}
                }
            }
            shared.wiped.store(true, Ordering::Release);
        })
        .await?;
        Ok(swept)
    }

    async fn audit_head(&self) -> Result<Head, StoreError> {
        self.call(|tx| log::head(tx)).await
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.call(move |conn| log::entries(conn, after, limit)).await
    }

    async fn audit_received(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| log::received(conn, &id)).await
    }

    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let name = name.to_owned();
        self.call(move |conn| log::cursor(conn, &name)).await
    }

    async fn set_webhook_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.call(move |conn| log::set_cursor(conn, &name, seq)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(internal)).await
    }

    fn free_bytes(&self) -> Option<u64> {
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        rustix::fs::statvfs(dir).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that fails, or panics, after writing keeps nothing of it; the jobs batched with it
    /// commit all the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_job_keeps_nothing_and_its_batch_commits() {
        let dir = std::env::temp_dir().join(format!("sealpass-savepoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("s.db")).unwrap();
        for _ in 0..20 {
            let (kept, failed, panicked) = tokio::join!(
                store.call(|tx| log::set_cursor(tx, "kept", 1)),
                store.call(|tx| -> Result<(), StoreError> {
                    log::set_cursor(tx, "failed", 2)?;
                    Err(StoreError::Duplicate)
                }),
                store.call(|tx| -> Result<(), StoreError> {
                    log::set_cursor(tx, "panicked", 3)?;
                    panic!("a job panicking on purpose")
                }),
            );
            assert!(kept.is_ok() && failed.is_err() && panicked.is_err());
            assert_eq!(store.webhook_cursor("kept").await.unwrap(), Some(1));
            assert_eq!(store.webhook_cursor("failed").await.unwrap(), None);
            assert_eq!(store.webhook_cursor("panicked").await.unwrap(), None);
        }
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
