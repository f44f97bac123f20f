//! The store's own thread: it owns the SQLite connection, batches queued jobs into one
//! transaction (group commit) and answers each only after the commit, and keeps the WAL from
//! holding wiped ciphertext: soon after a wipe it checkpoints and truncates the WAL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::internal;
use crate::store::StoreError;

/// Hands a job's answer to its caller; given the batch's commit error, if any, instead.
pub(super) type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A batched job: runs on the connection (or, given none, only answers with an error).
pub(super) type BatchJob = Box<dyn FnOnce(Option<&mut Connection>) -> Deliver + Send>;

/// Work for the store's thread.
pub(super) enum Job {
    /// Runs inside the current batch's transaction; answered after the commit. Given no
    /// connection, it does not run and is answered with an error.
    Batched(BatchJob),
    /// Runs on its own, outside any transaction (maintenance: checkpoints, vacuum).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// Most jobs committed together.
const MAX_BATCH: usize = 128;

/// Longest wiped ciphertext may linger in the WAL: the WAL is checkpointed and truncated at most
/// this long after a wipe (and not more often, which would cost throughput for nothing).
pub(super) const WIPE_CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// What jobs tell the thread.
#[derive(Default)]
pub(super) struct Shared {
    /// A committed (or committing) job wiped ciphertext; the WAL still holds its old pages.
    pub(super) wiped: AtomicBool,
}

/// Checkpoint everything into the database file and truncate the WAL to nothing, without
/// waiting for other readers (a backup): if one holds the WAL, try again later.
fn truncate_wal(conn: &Connection) -> bool {
    let _ = conn.execute_batch("PRAGMA busy_timeout = 0");
    let done =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)).is_ok_and(|busy| busy == 0);
    let _ = conn.execute_batch("PRAGMA busy_timeout = 5000");
    done
}

/// The store thread: take whatever jobs are queued, run them in one transaction (each keeps its
/// own atomicity: one statement, or a savepoint), commit once, and only then answer. One
/// commit for many requests is what lets a single SQLite writer keep up with the network.
/// Nothing is ever answered as done unless its transaction committed, and nothing that may
/// have committed is answered as failed.
pub(super) fn run_jobs(mut conn: Connection, queue: mpsc::Receiver<Job>, shared: Arc<Shared>) {
    let mut pending: Option<Job> = None;
    let mut last_truncate = Instant::now();
    let maintain = |conn: &Connection, last_truncate: &mut Instant| {
        if shared.wiped.load(Ordering::Acquire) && last_truncate.elapsed() >= WIPE_CHECKPOINT_EVERY {
            shared.wiped.store(false, Ordering::Release);
            if !truncate_wal(conn) {
                shared.wiped.store(true, Ordering::Release);
            }
            *last_truncate = Instant::now();
        }
    };
    loop {
        let first = match pending.take() {
            Some(job) => job,
            None if shared.wiped.load(Ordering::Acquire) => {
                let wait = WIPE_CHECKPOINT_EVERY.saturating_sub(last_truncate.elapsed());
                match queue.recv_timeout(wait) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        maintain(&conn, &mut last_truncate);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
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
        maintain(&conn, &mut last_truncate);
    }
}

/// Run one job, turning a panic into an error answer instead of a dead store thread.
fn run_one(conn: &mut Connection, job: BatchJob) -> Deliver {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(conn)))) {
        Ok(deliver) => deliver,
        Err(_) => Box::new(|_| ()),
    }
}
