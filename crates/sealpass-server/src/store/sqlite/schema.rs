//! The SQLite schema and its migrations, applied in order at open; `PRAGMA user_version`
//! records how many ran, and a database newer than this build is refused.

use rusqlite::Connection;

use super::internal;
use crate::store::StoreError;

/// Schema versions, applied in order.
const MIGRATIONS: &[&str] = &[
    r"
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
    ",
    // Version 2: ciphertext in its own table, in upload order, so that wiping a drop deletes
    // whole rows and, once a page's drops are all gone, frees the page for the sweeper's
    // incremental vacuum. Blanking it in place left a mostly empty page per drop. A wipe is
    // still one UPDATE (`ct = NULL`); the trigger deletes the ciphertext in the same statement.
    // Indexes that change as little as a drop's life allows: the inbox's (in its order,
    // requested drops first; a drop leaves it when claimed), live drops by expiry for the
    // sweeper (left at the wipe), and every drop by expiry for purging tombstones (never
    // changes). The state index they replace was rewritten at every transition.
    r"
    CREATE TABLE ciphertexts (
        seq  INTEGER PRIMARY KEY,
        body TEXT NOT NULL
    ) STRICT;
    ALTER TABLE drops ADD COLUMN ct INTEGER;
    INSERT INTO ciphertexts (seq, body) SELECT rowid, ciphertext FROM drops WHERE ciphertext IS NOT NULL;
    UPDATE drops SET ct = rowid WHERE ciphertext IS NOT NULL;
    ALTER TABLE drops DROP COLUMN ciphertext;
    CREATE TRIGGER drops_wipe AFTER UPDATE OF ct ON drops WHEN OLD.ct IS NOT NULL AND NEW.ct IS NULL
    BEGIN
        DELETE FROM ciphertexts WHERE seq = OLD.ct;
    END;
    CREATE TRIGGER drops_purge AFTER DELETE ON drops WHEN OLD.ct IS NOT NULL
    BEGIN
        DELETE FROM ciphertexts WHERE seq = OLD.ct;
    END;
    DROP INDEX drops_by_state;
    CREATE INDEX drops_inbox ON drops ((request_id IS NULL), created_at, id) WHERE state = 'waiting';
    CREATE INDEX drops_live ON drops (expires_at) WHERE ct IS NOT NULL;
    CREATE INDEX drops_by_expiry ON drops (expires_at);
    ",
    // Version 3: events (SPEC §10). The audit log, hash-chained (`sealpass_core::audit`), appended in
    // the transaction of each change, in position order (hashes as 32-byte blobs): no other index, since one keyed by a
    // random drop id dirtied a page of its own for every receipt and cost a quarter of the
    // throughput. A received drop remembers the position of its receipt's entry instead (its
    // row is being written anyway). Webhook cursors say how far each endpoint got. Requests
    // remember that their expiry was recorded; those that expired before are taken as recorded.
    r"
    CREATE TABLE audit (
        seq   INTEGER PRIMARY KEY,
        prev  BLOB NOT NULL,
        event TEXT NOT NULL,
        hash  BLOB NOT NULL
    ) STRICT;
    ALTER TABLE drops ADD COLUMN received_seq INTEGER;
    CREATE TABLE webhook_cursors (
        name TEXT PRIMARY KEY,
        seq  INTEGER NOT NULL
    ) STRICT;
    ALTER TABLE requests ADD COLUMN expiry_recorded INTEGER NOT NULL DEFAULT 0;
    UPDATE requests SET expiry_recorded = 1 WHERE drop_id IS NOT NULL OR expires_at <= unixepoch();
    CREATE INDEX requests_open ON requests (expires_at) WHERE drop_id IS NULL AND expiry_recorded = 0;
    ",
    // Version 4: what a request asks of the sender besides its kind: optional fields made
    // mandatory (comma-separated names), and the lifetime of the drop that answers it.
    r"
    ALTER TABLE requests ADD COLUMN required_fields TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN drop_ttl INTEGER;
    ",
    // Version 5: staff access (SPEC §12). Requests can be cancelled and are listed newest
    // first; a claim can be released, and the drop remembers the last release.
    r"
    ALTER TABLE requests ADD COLUMN cancelled_at INTEGER;
    CREATE INDEX requests_by_created ON requests (created_at, id);
    ALTER TABLE drops ADD COLUMN released_by TEXT;
    ALTER TABLE drops ADD COLUMN released_at INTEGER;
    ",
];

/// Bring the database up to this build's schema.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
