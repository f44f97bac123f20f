//! Requests on Redis beyond their creation: reading one back, listing them newest first (SPEC
//! §12) from the `sealpass:requests` sorted set, and cancelling one in a script that records its
//! event.

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{RedisStore, drop_key, field, number, request_key, unhex};
use crate::store::{ListedRequest, RequestQuery, RequestRecord, StoreError};
use sealpass_core::api::{DropState, RequestCursor};

/// Every request by creation time (members: ids). A hint like the inbox: entries whose request
/// was purged are pruned as they are read.
pub(super) const LISTED: &str = "sealpass:requests";
/// Set while the requests stored without an entry in `LISTED` were added to it lately.
const LISTED_SINCE: &str = "sealpass:requests:indexed";
/// How long until they are looked for again, in seconds.
const REINDEX_EVERY: u64 = 3600;

/// Cancel an open request, once (`ok`, `cancelled`); a cancelled one answers `ok` again. KEYS:
/// the request, pending events. ARGV: now, the request's id, then the event's.
pub(super) const CANCEL: &str = r"
local r = redis.call('HMGET', KEYS[1], 'drop_id', 'expires_at', 'cancelled_at', 'label')
if not r[2] then return {'err', 'request_not_found'} end
if r[1] and r[1] ~= '' then return {'err', 'fulfilled'} end
if r[3] and r[3] ~= '' then return {'ok'} end
if tonumber(ARGV[1]) >= tonumber(r[2]) then return {'err', 'expired'} end
redis.call('HSET', KEYS[1], 'cancelled_at', ARGV[1], 'expiry_recorded', '1')
record('request.cancelled', '', ARGV[2], r[4])
return {'ok', 'cancelled'}
";

/// A request's record from its hash's fields (none for an empty hash: no such request).
pub(super) fn parse(pairs: &[String]) -> Result<Option<RequestRecord>, StoreError> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let missing = || StoreError::Internal("a stored request is missing fields".into());
    Ok(Some(RequestRecord {
        id: field(pairs, "id").ok_or_else(missing)?.to_owned(),
        upload_hash: unhex(field(pairs, "upload_hash").ok_or_else(missing)?)?,
        label: field(pairs, "label").unwrap_or_default().to_owned(),
        kind: field(pairs, "kind").ok_or_else(missing)?.to_owned(),
        created_by: field(pairs, "created_by").map(str::to_owned),
        created_at: number(pairs, "created_at").ok_or_else(missing)?,
        expires_at: number(pairs, "expires_at").ok_or_else(missing)?,
        drop_id: field(pairs, "drop_id").map(str::to_owned),
        required_fields: field(pairs, "required_fields")
            .unwrap_or_default()
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect(),
        drop_ttl: field(pairs, "drop_ttl").and_then(|t| t.parse().ok()),
        cancelled_at: number(pairs, "cancelled_at"),
    }))
}

impl RedisStore {
    /// Requests `query` asks for, newest first, at most `limit`. Walked by key (score and id,
    /// as the cursor is), not by offset: requests added or purged meanwhile (by other servers)
    /// shift nothing, so none is listed twice or skipped.
    pub(super) async fn list(
        &self,
        query: &RequestQuery,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ListedRequest>, StoreError> {
        let mut conn = self.conn().await?;
        self.index_earlier_requests(&mut conn).await?;
        let mut last = query.after.clone();
        let mut size = limit.max(64);
        let mut out = Vec::new();
        while out.len() < limit {
            // From the last one seen, inclusive (others may share its second), newest first.
            let top = last.as_ref().map_or("+inf".to_owned(), |c| c.created_at.to_string());
            let batch: Vec<(String, i64)> = redis::cmd("ZRANGE")
                .arg(LISTED)
                .arg(&top)
                .arg("-inf")
                .arg("BYSCORE")
                .arg("REV")
                .arg("LIMIT")
                .arg(0)
                .arg(size)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .map_err(|e| self.lost(e))?;
            let end = batch.len() < size;
            let fresh: Vec<(String, i64)> =
                batch.into_iter().filter(|(id, at)| last.as_ref().is_none_or(|c| c.precedes(*at, id))).collect();
            let Some((id, at)) = fresh.last() else {
                if end {
                    break;
                }
                // A whole batch within the last one's second: read further at once.
                size = size.saturating_mul(2);
                continue;
            };
            last = Some(RequestCursor { created_at: *at, id: id.clone() });
            self.listed(&mut conn, &fresh, query, now, limit, &mut out).await?;
            if end {
                break;
            }
        }
        Ok(out)
    }

    /// Add to `out` (up to `limit`) the requests of `batch` that `query` asks for, with their
    /// drops' states; ids whose request was purged are pruned from the index.
    async fn listed(
        &self,
        conn: &mut ConnectionManager,
        batch: &[(String, i64)],
        query: &RequestQuery,
        now: i64,
        limit: usize,
        out: &mut Vec<ListedRequest>,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for (id, _) in batch {
            pipe.hgetall(request_key(id));
        }
        let hashes: Vec<Vec<String>> = pipe.query_async(conn).await.map_err(|e| self.lost(e))?;
        let mut purged = Vec::new();
        let mut wanted = Vec::new();
        for ((id, _), pairs) in batch.iter().zip(hashes) {
            match parse(&pairs)? {
                None => purged.push(id.clone()),
                Some(record) if query.matches(&record, now) => wanted.push(record),
                Some(_) => {}
            }
        }
        if !purged.is_empty() {
            conn.zrem::<_, _, ()>(LISTED, &purged).await.map_err(|e| self.lost(e))?;
        }
        wanted.truncate(limit.saturating_sub(out.len()));
        if wanted.is_empty() {
            return Ok(());
        }
        let mut drops = redis::pipe();
        for record in &wanted {
            drops.hget(drop_key(record.drop_id.as_deref().unwrap_or("-")), &["state", "expires_at"]);
        }
        let states: Vec<(Option<String>, Option<i64>)> = drops.query_async(conn).await.map_err(|e| self.lost(e))?;
        for (record, (state, expires_at)) in wanted.into_iter().zip(states) {
            let drop_state = record
                .drop_id
                .as_ref()
                .and_then(|_| Some(DropState::from_name(state.as_deref()?)?.at(expires_at?, now)));
            out.push(ListedRequest { record, drop_state });
        }
        Ok(())
    }

    /// Add requests stored without an entry in `LISTED` (by a version before it, or by one
    /// still running during a rolling upgrade) to it: at the first listing, then at most once an
    /// hour (`LISTED_SINCE` expires), so a request an older server made meanwhile is listed
    /// within the hour.
    async fn index_earlier_requests(&self, conn: &mut ConnectionManager) -> Result<(), StoreError> {
        let done: bool = conn.exists(LISTED_SINCE).await.map_err(|e| self.lost(e))?;
        if done {
            return Ok(());
        }
        // Claimed first, so that servers listing at once do not all scan.
        let _: () = conn.set_ex(LISTED_SINCE, "1", REINDEX_EVERY).await.map_err(|e| self.lost(e))?;
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("sealpass:{*}:req")
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await
                .map_err(|e| self.lost(e))?;
            if !keys.is_empty() {
                let mut read = redis::pipe();
                for key in &keys {
                    read.hget(key, &["id", "created_at"]);
                }
                let found: Vec<(Option<String>, Option<i64>)> =
                    read.query_async(conn).await.map_err(|e| self.lost(e))?;
                let mut add = redis::pipe();
                for (id, at) in found.into_iter().filter_map(|(id, at)| Some((id?, at?))) {
                    add.zadd(LISTED, id, at).ignore();
                }
                let _: () = add.query_async(conn).await.map_err(|e| self.lost(e))?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
