//! The embedded store: one SQLite file (WAL, `secure_delete`), owned by a dedicated thread so
//! the async runtime never blocks on disk. Every state change is one statement
//! (`UPDATE … WHERE <allowed states> … RETURNING`), so exactly one claimer can win.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Claim, DropRecord, InboxItem, NewDrop, RequestRecord, Store, StoreError, Swept, TOMBSTONE_SECONDS};
use crate::api::DropState;

/// Hands a job's answer to its caller; given the batch's commit error, if any, instead.
type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A batched job: runs on the connection (or, given none, only answers with an error).
type BatchJob = Box<dyn FnOnce(Option<&mut Connection>) -> Deliver + Send>;

/// Work for the store's thread.
enum Job {
    /// Runs inside the current batch's transaction; answered after the commit. Given no
    /// connection, it does not run and is answered with an error.
    Batched(BatchJob),
    /// Runs on its own, outside any transaction (maintenance: checkpoints, vacuum).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Most jobs committed together.
const MAX_BATCH: usize = 128;

/// The store thread: take whatever jobs are queued, run them in one transaction (each keeps its
/// own atomicity: one statement, or a savepoint), commit once, and only then answer. One
/// commit for many requests is what lets a single SQLite writer keep up with the network.
/// Nothing is ever answered as done unless its transaction committed, and nothing that may
/// have committed is answered as failed.
fn run_jobs(mut conn: Connection, queue: mpsc::Receiver<Job>) {
    let mut pending: Option<Job> = None;
    loop {
        let first = match pending.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let first = match first {
            Job::Alone(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
                continue;
            }
            Job::Batched(job) => job,
        };
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            // Could not open a transaction: run nothing, say so.
            first(None)(Some(internal(e)));
            continue;
        }
        let mut deliveries = vec![run_one(&mut conn, first)];
        let mut lost = false;
        while deliveries.len() < MAX_BATCH && !lost {
            match queue.try_recv() {
                Ok(Job::Batched(job)) => {
                    deliveries.push(run_one(&mut conn, job));
                    // SQLite can abandon the whole transaction on some errors (disk full, I/O):
                    // then nothing so far will commit, so stop adding to it.
                    lost = conn.is_autocommit();
                }
                Ok(alone) => {
                    pending = Some(alone);
                    break;
                }
                Err(_) => break,
            }
        }
        let failed = if conn.is_autocommit() {
            Some(StoreError::Unavailable("the store's transaction was abandoned; nothing was saved".into()))
        } else {
            conn.execute_batch("COMMIT").err().map(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                internal(e)
            })
        };
        for deliver in deliveries {
            deliver(failed.clone());
        }
    }
}

/// Run one job, turning a panic into an error answer instead of a dead store thread.
fn run_one(conn: &mut Connection, job: BatchJob) -> Deliver {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(conn)))) {
        Ok(deliver) => deliver,
        Err(_) => Box::new(|_| ()),
    }
}

/// SQLite-backed [`Store`].
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.path.display())
    }
}

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[r"
    CREATE TABLE drops (
        id          TEXT PRIMARY KEY,
        manage_hash BLOB NOT NULL,
        ciphertext  TEXT,
        size        INTEGER NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('waiting', 'claimed', 'received', 'revoked', 'expired')),
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        claimed_by  TEXT,
        claimed_at  INTEGER,
        received_at INTEGER,
        revoked_at  INTEGER,
        request_id  TEXT
    ) STRICT;
    CREATE INDEX drops_by_state ON drops (state, expires_at);
    CREATE TABLE requests (
        id          TEXT PRIMARY KEY,
        upload_hash BLOB NOT NULL,
        label       TEXT NOT NULL,
        kind        TEXT NOT NULL,
        created_by  TEXT,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        purge_at    INTEGER NOT NULL,
        drop_id     TEXT
    ) STRICT;
    CREATE INDEX requests_by_purge ON requests (purge_at);
"];

const DROP_COLUMNS: &str =
    "id, manage_hash, state, size, created_at, expires_at, claimed_by, claimed_at, received_at, revoked_at, request_id";

fn internal(e: rusqlite::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn state_from(s: &str) -> rusqlite::Result<DropState> {
    Ok(match s {
        "waiting" => DropState::Waiting,
        "claimed" => DropState::Claimed,
        "received" => DropState::Received,
        "revoked" => DropState::Revoked,
        "expired" => DropState::Expired,
        other => return Err(rusqlite::Error::InvalidColumnName(format!("unknown state {other}"))),
    })
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
    })
}

fn get_drop(conn: &Connection, id: &str) -> Result<Option<DropRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {DROP_COLUMNS} FROM drops WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], drop_row).optional())
        .map_err(internal)
}

/// Why a guarded update matched no row, from the record as it is now.
fn refusal(conn: &Connection, id: &str, staff: Option<&str>, now: i64) -> StoreError {
    let record = match get_drop(conn, id) {
        Ok(Some(record)) => record,
        Ok(None) => return StoreError::NotFound,
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

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).map_err(internal)? as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {version}, newer than this sealpass ({}); upgrade sealpass",
            MIGRATIONS.len()
        )));
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(internal)?;
        tx.execute_batch(migration).map_err(internal)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(internal)?;
        tx.commit().map_err(internal)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and start its thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let mut conn =
            Connection::open(path).map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
        // WAL: a commit is durable against a crash of the process (kill -9) once it returns;
        // synchronous=FULL would also survive power loss at the cost of an fsync a write.
        // auto_vacuum only takes effect on a new file: wiped ciphertext pages are handed back to
        // the file system by the sweeper (incremental_vacuum) instead of piling up.
        conn.execute_batch(
            "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA secure_delete = ON; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
        )
        .map_err(internal)?;
        migrate(&mut conn)?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sealpass-sqlite".into())
            .spawn(move || run_jobs(conn, queue))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(SqliteStore { jobs, path: path.to_owned() })
    }

    /// Run `f` on the store's thread, in a batch, and wait (without blocking the runtime) for
    /// its answer, which comes only once its batch is committed.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = Job::Batched(Box::new(move |conn: Option<&mut Connection>| {
            let result = match conn {
                Some(conn) => f(conn),
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
    async fn create_drop(&self, drop: NewDrop) -> Result<DropRecord, StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint().map_err(internal)?;
            if let Some(request) = &drop.request_id {
                let bound = tx
                    .prepare_cached(
                        "UPDATE requests SET drop_id = ?1, purge_at = MAX(purge_at, ?3)
                         WHERE id = ?2 AND drop_id IS NULL AND expires_at > ?4",
                    )
                    .and_then(|mut s| {
                        s.execute(params![drop.id, request, drop.expires_at + TOMBSTONE_SECONDS, drop.created_at])
                    })
                    .map_err(internal)?;
                if bound == 0 {
                    let existing: Option<Option<String>> = tx
                        .query_row("SELECT drop_id FROM requests WHERE id = ?1", [request], |r| r.get(0))
                        .optional()
                        .map_err(internal)?;
                    return Err(match existing {
                        None => StoreError::NotFound,
                        Some(Some(_)) => StoreError::RequestFulfilled,
                        Some(None) => StoreError::Expired,
                    });
                }
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO drops (id, manage_hash, ciphertext, size, state, created_at, expires_at, request_id)
                     VALUES (?1, ?2, ?3, ?4, 'waiting', ?5, ?6, ?7)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        drop.id,
                        drop.manage_hash.as_slice(),
                        drop.ciphertext,
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
            tx.commit().map_err(internal)?;
            Ok(DropRecord::waiting(drop))
        })
        .await
    }

    async fn get_drop(&self, id: &str) -> Result<Option<DropRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| get_drop(conn, &id)).await
    }

    async fn revoke(&self, id: &str, now: i64) -> Result<DropRecord, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let sql = format!(
                "UPDATE drops SET state = 'revoked', revoked_at = ?2, ciphertext = NULL
                 WHERE id = ?1 AND state IN ('waiting', 'claimed') AND expires_at > ?2 RETURNING {DROP_COLUMNS}"
            );
            let row = conn.prepare_cached(&sql).and_then(|mut s| s.query_row(params![id, now], drop_row).optional());
            match row.map_err(internal)? {
                Some(record) => Ok(record),
                None => match refusal(conn, &id, None, now) {
                    StoreError::Revoked => get_drop(conn, &id)?.ok_or(StoreError::NotFound),
                    other => Err(other),
                },
            }
        })
        .await
    }

    async fn claim(&self, id: &str, staff: &str, now: i64) -> Result<Claim, StoreError> {
        let (id, staff) = (id.to_owned(), staff.to_owned());
        self.call(move |conn| {
            let sql = format!(
                "UPDATE drops SET state = 'claimed', claimed_by = ?2, claimed_at = COALESCE(claimed_at, ?3)
                 WHERE id = ?1 AND expires_at > ?3 AND (state = 'waiting' OR (state = 'claimed' AND claimed_by = ?2))
                 RETURNING {DROP_COLUMNS}, ciphertext"
            );
            let row = conn
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_row(params![id, staff, now], |r| Ok((drop_row(r)?, r.get::<_, Option<String>>(11)?)))
                        .optional()
                })
                .map_err(internal)?;
            let Some((record, Some(ciphertext))) = row else {
                return Err(refusal(conn, &id, Some(&staff), now));
            };
            let label = match &record.request_id {
                Some(request) => conn
                    .prepare_cached("SELECT label FROM requests WHERE id = ?1")
                    .and_then(|mut s| s.query_row([request], |r| r.get(0)).optional())
                    .map_err(internal)?,
                None => None,
            };
            Ok(Claim { record, ciphertext, label })
        })
        .await
    }

    async fn ack(&self, id: &str, staff: &str, now: i64) -> Result<DropRecord, StoreError> {
        let (id, staff) = (id.to_owned(), staff.to_owned());
        self.call(move |conn| {
            let sql = format!(
                "UPDATE drops SET state = 'received', received_at = ?3, ciphertext = NULL
                 WHERE id = ?1 AND claimed_by = ?2 AND state IN ('claimed', 'expired') RETURNING {DROP_COLUMNS}"
            );
            let row =
                conn.prepare_cached(&sql).and_then(|mut s| s.query_row(params![id, staff, now], drop_row).optional());
            if let Some(record) = row.map_err(internal)? {
                return Ok(record);
            }
            let record = get_drop(conn, &id)?.ok_or(StoreError::NotFound)?;
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

    async fn inbox(&self, now: i64, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT d.id, d.created_at, d.expires_at, d.size, d.request_id, r.label
                     FROM drops d LEFT JOIN requests r ON r.id = d.request_id
                     WHERE d.state = 'waiting' AND d.expires_at > ?1
                     ORDER BY d.created_at, d.id LIMIT ?2",
                )
                .map_err(internal)?;
            let rows = stmt
                .query_map(params![now, limit as i64], |r| {
                    Ok(InboxItem {
                        id: r.get(0)?,
                        created_at: r.get(1)?,
                        expires_at: r.get(2)?,
                        size: r.get::<_, i64>(3)? as usize,
                        request_id: r.get(4)?,
                        label: r.get(5)?,
                    })
                })
                .map_err(internal)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(internal)
        })
        .await
    }

    async fn create_request(&self, request: RequestRecord) -> Result<(), StoreError> {
        self.call(move |conn| {
            let result = conn
                .prepare_cached(
                    "INSERT INTO requests (id, upload_hash, label, kind, created_by, created_at, expires_at, purge_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
                        request.expires_at + TOMBSTONE_SECONDS
                    ])
                });
            match result {
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                    Err(StoreError::Duplicate)
                }
                other => other.map(|_| ()).map_err(internal),
            }
        })
        .await
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(
                "SELECT id, upload_hash, label, kind, created_by, created_at, expires_at, drop_id FROM requests WHERE id = ?1",
            )
            .and_then(|mut s| s.query_row([id], request_row).optional())
            .map_err(internal)
        })
        .await
    }

    async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        let swept = self
            .call(move |conn| {
                let tx = conn.savepoint().map_err(internal)?;
                let expired = tx
                    .execute(
                        "UPDATE drops SET state = 'expired', ciphertext = NULL
                         WHERE state IN ('waiting', 'claimed') AND expires_at <= ?1",
                        [now],
                    )
                    .map_err(internal)?;
                let purged = tx
                    .execute("DELETE FROM drops WHERE expires_at <= ?1", [now - TOMBSTONE_SECONDS])
                    .map_err(internal)?
                    + tx.execute("DELETE FROM requests WHERE purge_at <= ?1", [now]).map_err(internal)?;
                tx.commit().map_err(internal)?;
                Ok(Swept { expired: expired as u64, purged: purged as u64 })
            })
            .await?;
        // Give pages freed by acks, revokes and expiry back, then checkpoint: old page images
        // with wiped ciphertext live on in the WAL until then.
        self.alone(|conn| {
            // Each step of the pragma frees one page: step it to the end.
            if let Ok(mut stmt) = conn.prepare("PRAGMA incremental_vacuum") {
                if let Ok(mut rows) = stmt.query([]) {
                    while let Ok(Some(_)) = rows.next() {}
                }
            }
            // PASSIVE: never wait for readers (a backup in progress), never stall the store.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        })
        .await?;
        Ok(swept)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(internal)).await
    }
}
