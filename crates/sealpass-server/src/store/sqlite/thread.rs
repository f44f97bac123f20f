//! The store's own thread: it owns the SQLite connection, batches queued jobs into one
//! transaction (group commit) and answers each only after the commit, and keeps the WAL from
//! holding wiped ciphertext: soon after a wipe (once quiet, or at the latest under load) it
//! checkpoints and truncates the WAL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::internal;
use super::log::HeadCache;
use crate::store::StoreError;

/// Hands a job's answer to its caller; given the batch's commit error, if any, instead.
pub(super) type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A batched job: runs on the writer (or, given none, only answers with an error).
pub(super) type BatchJob = Box<dyn FnOnce(Option<&mut Writer>) -> Deliver + Send>;

/// What the store's thread owns: the connection, and the audit log's head as its last append
/// left it.
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) head: HeadCache,
}

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

/// How soon after a wipe the WAL is checkpointed and truncated once the store is quiet…
pub(super) const WIPE_CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// …and at the latest under sustained load, when truncating every half second would cost a
/// sixth of the throughput (each truncation makes the next commits grow the file again).
pub(super) const WIPE_CHECKPOINT_BUSY: Duration = Duration::from_secs(5);
/// The store counts as quiet when no job has arrived for this long.
const QUIET_AFTER: Duration = Duration::from_millis(100);

/// What jobs tell the thread.
#[derive(Default)]
pub(super) struct JobSignals {
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
pub(super) fn run_jobs(conn: Connection, queue: mpsc::Receiver<Job>, shared: Arc<JobSignals>) {
    let mut writer = Writer { conn, head: HeadCache::default() };
    let mut pending: Option<Job> = None;
    let mut last_truncate = Instant::now();
    let mut last_job = Instant::now();
    loop {
        let first = match pending.take() {
            Some(job) => job,
            None if shared.wiped.load(Ordering::Acquire) => {
                match queue.recv_timeout(until_truncation(last_truncate, last_job)) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        // Due: quiet for long enough, or busy for too long.
                        truncate_after_wipes(&writer.conn, &shared, &mut last_truncate);
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
        last_job = Instant::now();
        let first = match first {
            Job::Alone(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut writer.conn)));
                continue;
            }
            Job::Batched(job) => job,
        };
        // The batch's first event reads the head afresh, under the write lock just taken: what
        // the thread remembers is then only ever this batch's own appends.
        writer.head.forget();
        if let Err(e) = writer.conn.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])) {
            // Could not open a transaction: run nothing, say so.
            first(None)(Some(internal(e)));
            continue;
        }
        let mut deliveries = vec![run_one(&mut writer, first)];
        let mut lost = writer.conn.is_autocommit();
        while deliveries.len() < MAX_BATCH && !lost {
            match queue.try_recv() {
                Ok(Job::Batched(job)) => {
                    deliveries.push(run_one(&mut writer, job));
                    // SQLite can abandon the whole transaction on some errors (disk full, I/O):
                    // then nothing so far will commit, so stop adding to it.
                    lost = writer.conn.is_autocommit();
                }
                Ok(alone) => {
                    pending = Some(alone);
                    break;
                }
                Err(_) => break,
            }
        }
        let failed = if writer.conn.is_autocommit() {
            Some(StoreError::Unavailable("the store's transaction was abandoned; nothing was saved".into()))
        } else {
            writer.conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).err().map(|e| {
                let _ = writer.conn.execute_batch("ROLLBACK");
                internal(e)
            })
        };
        if failed.is_some() {
            // What the batch appended to the audit log is gone: read the head afresh.
            writer.head.forget();
        }
        for deliver in deliveries {
            deliver(failed.clone());
        }
        // A queue that never empties still gets its WAL truncated.
        if shared.wiped.load(Ordering::Acquire) && last_truncate.elapsed() >= WIPE_CHECKPOINT_BUSY {
            truncate_after_wipes(&writer.conn, &shared, &mut last_truncate);
        }
    }
}

/// A job's savepoint inside its batch's transaction, by statements prepared once (parsing
/// `SAVEPOINT`, `RELEASE` and `ROLLBACK TO` afresh for every job cost the store's thread a
/// twelfth of its time). Released on success; rolled back when dropped unreleased (an error,
/// or a panic unwinding), so a failed job leaves nothing in the batch.
pub(super) struct Savepoint<'a> {
    pub(super) conn: &'a Connection,
    released: bool,
}

impl<'a> Savepoint<'a> {
    pub(super) fn open(conn: &'a Connection) -> Result<Savepoint<'a>, StoreError> {
        // Outside the batch's transaction (SQLite abandoned it), a savepoint would start a
        // transaction of its own, and its release would commit the job alone.
        if conn.is_autocommit() {
            return Err(StoreError::Unavailable("the store's transaction was abandoned; nothing was saved".into()));
        }
        conn.prepare_cached("SAVEPOINT job").and_then(|mut s| s.execute([])).map_err(internal)?;
        Ok(Savepoint { conn, released: false })
    }

    pub(super) fn release(mut self) -> Result<(), StoreError> {
        self.conn.prepare_cached("RELEASE job").and_then(|mut s| s.execute([])).map_err(internal)?;
        self.released = true;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.released {
            let undone = self.conn.prepare_cached("ROLLBACK TO job").and_then(|mut s| s.execute([]));
            if undone.is_ok() {
                let _ = self.conn.prepare_cached("RELEASE job").and_then(|mut s| s.execute([]));
            } else {
                // Not undone: then nothing of the batch may commit (the thread sees the
                // transaction gone and answers every job of it as not saved).
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
    }
}

/// Truncate the WAL now; if a reader holds it, leave the flag set to try again later.
fn truncate_after_wipes(conn: &Connection, shared: &JobSignals, last_truncate: &mut Instant) {
    shared.wiped.store(false, Ordering::Release);
    if !truncate_wal(conn) {
        shared.wiped.store(true, Ordering::Release);
    }
    *last_truncate = Instant::now();
}

/// How long the thread may wait for the next job before the WAL must be truncated: until the
/// store has been quiet for `QUIET_AFTER` and `WIPE_CHECKPOINT_EVERY` has passed since the last
/// truncation, and never past `WIPE_CHECKPOINT_BUSY` (a job arriving restarts the quiet wait).
fn until_truncation(last_truncate: Instant, last_job: Instant) -> Duration {
    let quiet = QUIET_AFTER.saturating_sub(last_job.elapsed());
    let every = WIPE_CHECKPOINT_EVERY.saturating_sub(last_truncate.elapsed());
    let busy = WIPE_CHECKPOINT_BUSY.saturating_sub(last_truncate.elapsed());
    quiet.max(every).min(busy)
}

/// Run one job, turning a panic into an error answer instead of a dead store thread.
fn run_one(writer: &mut Writer, job: BatchJob) -> Deliver {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(&mut *writer)))) {
        Ok(deliver) => deliver,
        Err(_) => {
            // Its savepoint rolled back as the panic unwound; so did any event it appended.
            writer.head.forget();
            Box::new(|_| ())
        }
    }
}
