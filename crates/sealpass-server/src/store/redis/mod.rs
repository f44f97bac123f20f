//! The shared store: Redis, for several stateless servers behind a load balancer. Semantics are
//! those of the SQLite store, enforced by the same conformance story.
//!
//! Every multi-step change is one Lua script: a drop's keys are `sealpass:{<id>}:drop` (a hash:
//! the state record) and `sealpass:{<id>}:ct` (the ciphertext), and the script also appends the
//! change's event to the audit log's pending list in the `{audit}` slot (`log`), so a change is
//! never stored without its event (two slots: a single Redis, not a Cluster). Ciphertext keys
//! expire with the drop; state records 7 days later. Sorted sets index what needs attention without `KEYS`: the inbox, as
//! `sealpass:inbox:r` (drops answering a request) and `sealpass:inbox:a` (anonymous ones), by
//! upload time (hints, pruned as they are read), and `sealpass:due` (when each drop expires and
//! each record may be purged), which `sweep` works through.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{
    ClaimedDrop, DropRecord, InboxCursor, InboxItem, ListedRequest, Missing, NewDrop, Origin, RequestQuery,
    RequestRecord, Store, StoreError, Swept, TOMBSTONE_SECONDS, creator,
};
use sealpass_core::api::DropState;
use sealpass_core::audit::{Head, Record};
use sealpass_core::events::{Actor, rfc3339};

mod log;
mod requests;

/// Waiting drops that answer a request, by upload time.
const INBOX_REQUESTED: &str = "sealpass:inbox:r";
/// Waiting anonymous drops, by upload time.
const INBOX_ANONYMOUS: &str = "sealpass:inbox:a";
/// The single inbox set of earlier versions, migrated on first read.
const INBOX_LEGACY: &str = "sealpass:inbox";
const DUE: &str = "sealpass:due";

fn inbox_key(anonymous: bool) -> &'static str {
    if anonymous { INBOX_ANONYMOUS } else { INBOX_REQUESTED }
}

fn drop_key(id: &str) -> String {
    format!("sealpass:{{{id}}}:drop")
}
fn ct_key(id: &str) -> String {
    format!("sealpass:{{{id}}}:ct")
}
fn request_key(id: &str) -> String {
    format!("sealpass:{{{id}}}:req")
}

/// What every state-changing script starts with: `record` appends the change's event to the
/// pending list (the last key) atomically with the change; the event's time, client, actor
/// and credential (JSON) are the last five arguments. Drop scripts pass the request's key next to last, for its
/// label (a drop answering a request has the request's id, so the key is in the drop's slot).
/// `store_drop` writes a new drop's record and ciphertext (arguments as for CREATE).
const PRELUDE: &str = r"
local function record(kind, drop, request, label)
  local n = #ARGV
  local e = {k = kind, t = ARGV[n - 4], a = ARGV[n - 2]}
  if drop and drop ~= '' then e.d = drop end
  if request and request ~= '' then e.r = request end
  if label and label ~= '' then e.l = label end
  if ARGV[n - 1] ~= '' then e.n = ARGV[n - 1] end
  if ARGV[n - 3] ~= '' then e.c = ARGV[n - 3] end
  if ARGV[n] ~= '' then e.b = ARGV[n] end
  redis.call('RPUSH', KEYS[#KEYS], cjson.encode(e))
end
local function drop_label(request)
  if request and request ~= '' then return redis.call('HGET', KEYS[#KEYS - 1], 'label') end
  return nil
end
local function store_drop()
  if redis.call('EXISTS', KEYS[1]) == 1 then return false end
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'manage_hash', ARGV[2], 'state', ARGV[3], 'size', ARGV[4],
    'created_at', ARGV[5], 'expires_at', ARGV[6], 'request_id', ARGV[7])
  redis.call('SET', KEYS[2], ARGV[8])
  redis.call('EXPIREAT', KEYS[2], ARGV[6])
  redis.call('EXPIREAT', KEYS[1], ARGV[9])
  return true
end
";

/// Returns the record as a flat field/value list after `status` (and `ct` for claims).
const CREATE: &str = r"
if not store_drop() then return {'err', 'duplicate'} end
record('drop.created', ARGV[1], '', nil)
return {'ok'}
";

const CLAIM: &str = r"
local d = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'claimed_by', 'claimed_at', 'id', 'request_id')
local state, by = d[1], d[3]
if not state then return {'err', 'not_found'} end
if state == 'revoked' then return {'err', 'revoked'} end
if state == 'received' then
  if by == ARGV[1] then return {'err', 'received'} end
  return {'err', 'claimed', by or '', d[4] or '0'}
end
if state == 'expired' or tonumber(ARGV[2]) >= tonumber(d[2]) then return {'err', 'expired'} end
if state == 'claimed' and by ~= ARGV[1] then return {'err', 'claimed', by or '', d[4] or '0'} end
local ct = redis.call('GET', KEYS[2])
if not ct then return {'err', 'expired'} end
if state == 'waiting' then
  redis.call('HSET', KEYS[1], 'state', 'claimed', 'claimed_by', ARGV[1], 'claimed_at', ARGV[2])
end
-- Every answer that carries the ciphertext is an event, the claimer's repeats too.
record('drop.claimed', d[5], d[6], drop_label(d[6]))
return {'ok', ct, unpack(redis.call('HGETALL', KEYS[1]))}
";

const ACK: &str = r"
local d = redis.call('HMGET', KEYS[1], 'state', 'claimed_by', 'expires_at', 'id', 'request_id')
local state, by = d[1], d[2]
if not state or state == 'pending' then return {'err', 'not_found'} end
if by == ARGV[1] and state == 'claimed' and tonumber(ARGV[2]) < tonumber(d[3]) then
  redis.call('HSET', KEYS[1], 'state', 'received', 'received_at', ARGV[2])
  redis.call('DEL', KEYS[2])
  record('drop.received', d[4], d[5], drop_label(d[5]))
  return {'ok', '', unpack(redis.call('HGETALL', KEYS[1]))}
end
if state == 'received' and by == ARGV[1] then return {'ok', '', unpack(redis.call('HGETALL', KEYS[1]))} end
if state == 'revoked' then return {'err', 'revoked'} end
if state == 'expired' or tonumber(ARGV[2]) >= tonumber(d[3]) then return {'err', 'expired'} end
return {'err', 'not_claimed'}
";

const REVOKE: &str = r"
local d = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'id', 'request_id')
local state = d[1]
if not state or state == 'pending' then return {'err', 'not_found'} end
if state == 'revoked' then return {'ok', '', unpack(redis.call('HGETALL', KEYS[1]))} end
if state == 'received' then return {'err', 'received'} end
if state == 'expired' or tonumber(ARGV[1]) >= tonumber(d[2]) then return {'err', 'expired'} end
redis.call('HSET', KEYS[1], 'state', 'revoked', 'revoked_at', ARGV[1])
redis.call('DEL', KEYS[2])
record('drop.revoked', d[3], d[4], drop_label(d[4]))
return {'ok', '', unpack(redis.call('HGETALL', KEYS[1]))}
";

/// Give up a claim before its acknowledgement: the drop waits again. ARGV: the releaser, now,
/// '1' if they may release anyone's claim.
const RELEASE: &str = r"
local d = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'claimed_by', 'claimed_at', 'id', 'request_id')
local state, by = d[1], d[3]
if not state or state == 'pending' then return {'err', 'not_found'} end
if state == 'revoked' then return {'err', 'revoked'} end
if state == 'received' then return {'err', 'received'} end
if state == 'expired' or tonumber(ARGV[2]) >= tonumber(d[2]) then return {'err', 'expired'} end
if state == 'waiting' then return {'err', 'not_releasable'} end
if by ~= ARGV[1] and ARGV[3] ~= '1' then return {'err', 'claimed', by or '', d[4] or '0'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'err', 'expired'} end
redis.call('HSET', KEYS[1], 'state', 'waiting', 'released_by', ARGV[1], 'released_at', ARGV[2])
redis.call('HDEL', KEYS[1], 'claimed_by', 'claimed_at')
record('drop.released', d[5], d[6], drop_label(d[6]))
return {'ok', '', unpack(redis.call('HGETALL', KEYS[1]))}
";

/// Expire one drop if it is due: state `expired`, ciphertext gone. Returns 1 if it changed.
const EXPIRE: &str = r"
local d = redis.call('HMGET', KEYS[1], 'state', 'expires_at', 'id', 'request_id')
if (d[1] == 'waiting' or d[1] == 'claimed') and tonumber(ARGV[1]) >= tonumber(d[2]) then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  redis.call('DEL', KEYS[2])
  record('drop.expired', d[3], d[4], drop_label(d[4]))
  return 1
end
if d[1] == 'pending' and tonumber(ARGV[1]) >= tonumber(d[2]) then redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
";

/// Store the drop answering an open request and bind the request, atomically. The drop's id is
/// the request's, so all three keys share one slot. Arguments as for CREATE.
const CREATE_FOR_REQUEST: &str = r"
local r = redis.call('HMGET', KEYS[3], 'drop_id', 'expires_at', 'cancelled_at')
if not r[2] then return {'err', 'request_not_found'} end
if r[1] and r[1] ~= '' then return {'err', 'fulfilled'} end
if r[3] and r[3] ~= '' then return {'err', 'cancelled'} end
if tonumber(ARGV[5]) >= tonumber(r[2]) then return {'err', 'expired'} end
if not store_drop() then return {'err', 'duplicate'} end
redis.call('HSET', KEYS[3], 'drop_id', ARGV[1])
if tonumber(ARGV[9]) > redis.call('EXPIRETIME', KEYS[3]) then redis.call('EXPIREAT', KEYS[3], ARGV[9]) end
local label = redis.call('HGET', KEYS[3], 'label')
record('drop.created', ARGV[1], ARGV[7], label)
record('request.fulfilled', ARGV[1], ARGV[7], label)
return {'ok'}
";

const CREATE_REQUEST: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'duplicate' end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'upload_hash', ARGV[2], 'label', ARGV[3], 'kind', ARGV[4],
  'created_by', ARGV[5], 'created_at', ARGV[6], 'expires_at', ARGV[7], 'drop_id', '',
  'required_fields', ARGV[9], 'drop_ttl', ARGV[10])
redis.call('EXPIREAT', KEYS[1], ARGV[8])
record('request.created', '', ARGV[1], ARGV[3])
return 'ok'
";

/// Record that an unanswered request expired, once. Returns 1 if it did now.
const EXPIRE_REQUEST: &str = r"
local r = redis.call('HMGET', KEYS[1], 'drop_id', 'expires_at', 'expiry_recorded', 'label')
if not r[2] or (r[1] and r[1] ~= '') or r[3] or tonumber(ARGV[1]) < tonumber(r[2]) then return 0 end
redis.call('HSET', KEYS[1], 'expiry_recorded', '1')
record('request.expired', '', ARGV[2], r[4])
return 1
";

/// Redis-backed [`Store`].
pub struct RedisStore {
    client: redis::Client,
    /// The pooled, reconnecting connection; dropped after a connection failure so the next call
    /// connects afresh (the manager's own reconnect can stall for long after an outage).
    manager: tokio::sync::Mutex<Option<ConnectionManager>>,
    scripts: Scripts,
    chain: Script,
}

/// A state-changing script: [`PRELUDE`] and `body`.
fn recording(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// A drop script's keys: the drop, its ciphertext, the request it may answer, pending events.
fn drop_keys(id: &str) -> [String; 4] {
    [drop_key(id), ct_key(id), request_key(id), log::PENDING.to_owned()]
}

/// The event arguments every state-changing script takes last.
fn event_args(actor: &Actor, origin: &Origin) -> [String; 5] {
    let (kind, name) = match actor {
        Actor::Staff(name) => ("staff", name.as_str()),
        Actor::Sender => ("sender", ""),
        Actor::Sweeper => ("sweeper", ""),
    };
    let credential = origin.credential.as_ref().and_then(|c| serde_json::to_string(c).ok()).unwrap_or_default();
    [rfc3339(origin.at), origin.client.clone().unwrap_or_default(), kind.to_owned(), name.to_owned(), credential]
}

struct Scripts {
    create: Script,
    claim: Script,
    ack: Script,
    revoke: Script,
    release: Script,
    cancel_request: Script,
    expire: Script,
    create_for_request: Script,
    create_request: Script,
    expire_request: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.write_str("RedisStore")
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    use redis::ErrorKind::{AuthenticationFailed, BusyLoadingError, ClusterDown, MasterDown, ReadOnly, TryAgain};
    // Not ready, failing over, or refusing us: the store is unavailable, not broken. Messages
    // name the category only (a connection error never carries the password).
    let not_ready =
        matches!(e.kind(), BusyLoadingError | ReadOnly | MasterDown | TryAgain | ClusterDown | AuthenticationFailed);
    if not_ready || e.is_io_error() || e.is_connection_refusal() || e.is_timeout() || e.is_connection_dropped() {
        StoreError::Unavailable(format!("Redis: {}", e.category()))
    } else {
        StoreError::Internal(format!("Redis: {} ({})", e.category(), e.code().unwrap_or("no code")))
    }
}

fn hex(bytes: &[u8; 32]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

fn unhex(s: &str) -> Result<[u8; 32], StoreError> {
    data_encoding::HEXLOWER
        .decode(s.as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| StoreError::Internal("a stored hash is malformed".into()))
}

fn field<'a>(pairs: &'a [String], name: &str) -> Option<&'a str> {
    pairs.chunks(2).find(|p| p[0] == name).and_then(|p| p.get(1)).map(String::as_str).filter(|v| !v.is_empty())
}

fn number(pairs: &[String], name: &str) -> Option<i64> {
    field(pairs, name).and_then(|v| v.parse().ok())
}

fn record(pairs: &[String]) -> Result<Option<DropRecord>, StoreError> {
    let state = match field(pairs, "state") {
        None | Some("pending") => return Ok(None),
        Some(name) => {
            DropState::from_name(name).ok_or_else(|| StoreError::Internal(format!("unknown state {name}")))?
        }
    };
    let missing = || StoreError::Internal("a stored drop is missing fields".into());
    Ok(Some(DropRecord {
        id: field(pairs, "id").ok_or_else(missing)?.to_owned(),
        manage_hash: unhex(field(pairs, "manage_hash").ok_or_else(missing)?)?,
        state,
        size: number(pairs, "size").unwrap_or(0) as usize,
        created_at: number(pairs, "created_at").ok_or_else(missing)?,
        expires_at: number(pairs, "expires_at").ok_or_else(missing)?,
        claimed_by: field(pairs, "claimed_by").map(str::to_owned),
        claimed_at: number(pairs, "claimed_at"),
        received_at: number(pairs, "received_at"),
        revoked_at: number(pairs, "revoked_at"),
        request_id: field(pairs, "request_id").map(str::to_owned),
        released_by: field(pairs, "released_by").map(str::to_owned),
        released_at: number(pairs, "released_at"),
    }))
}

/// `{'err', code, …}` from a script as a store error.
fn refusal(reply: &[String]) -> StoreError {
    match reply.get(1).map(String::as_str) {
        Some("not_found") => StoreError::NotFound(Missing::Drop),
        Some("request_not_found") => StoreError::NotFound(Missing::Request),
        Some("revoked") => StoreError::Revoked,
        Some("received") => StoreError::Received,
        Some("expired") => StoreError::Expired,
        Some("not_claimed") => StoreError::NotClaimed,
        Some("duplicate") => StoreError::Duplicate,
        Some("cancelled") => StoreError::Cancelled,
        Some("not_releasable") => StoreError::NotReleasable,
        Some("claimed") => StoreError::ClaimedByOther {
            by: reply.get(2).cloned().unwrap_or_default(),
            at: reply.get(3).and_then(|a| a.parse().ok()).unwrap_or_default(),
        },
        other => StoreError::Internal(format!("unexpected script answer {other:?}")),
    }
}

/// A script's `{'ok', ct, field, value, …}` as the record (and ciphertext).
fn answered(reply: Vec<String>) -> Result<(DropRecord, String), StoreError> {
    if reply.first().map(String::as_str) != Some("ok") {
        return Err(refusal(&reply));
    }
    let ct = reply.get(1).cloned().unwrap_or_default();
    let record = record(reply.get(2..).unwrap_or_default())?.ok_or(StoreError::NotFound(Missing::Drop))?;
    Ok((record, ct))
}

impl RedisStore {
    /// A store for `url` (`redis://[user:pass@]host:port/db` or `rediss://…`). Connects lazily,
    /// so a server can start while Redis is down and serve once it is back.
    pub fn open(url: &str) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("bad Redis URL: {}", e.category())))?;
        Ok(RedisStore {
            client,
            manager: tokio::sync::Mutex::new(None),
            scripts: Scripts {
                create: recording(CREATE),
                claim: recording(CLAIM),
                ack: recording(ACK),
                revoke: recording(REVOKE),
                release: recording(RELEASE),
                cancel_request: recording(requests::CANCEL),
                expire: recording(EXPIRE),
                create_for_request: recording(CREATE_FOR_REQUEST),
                create_request: recording(CREATE_REQUEST),
                expire_request: recording(EXPIRE_REQUEST),
            },
            chain: Script::new(log::CHAIN),
        })
    }

    /// The pooled, reconnecting connection (made on first use, and again after a failure).
    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        let mut slot = self.manager.lock().await;
        if let Some(manager) = slot.as_ref() {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(std::time::Duration::from_secs(1))
            .set_response_timeout(std::time::Duration::from_secs(1))
            .set_number_of_retries(1);
        let manager = self.client.get_connection_manager_with_config(config).await.map_err(unavailable)?;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    /// A command failed: if the connection is the problem, start over next time.
    fn lost(&self, e: redis::RedisError) -> StoreError {
        let error = unavailable(e);
        if matches!(error, StoreError::Unavailable(_)) {
            if let Ok(mut slot) = self.manager.try_lock() {
                *slot = None;
            }
        }
        error
    }

    async fn run(&self, script: &Script, keys: &[String], args: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for a in args {
            invocation.arg(a);
        }
        invocation.invoke_async(&mut conn).await.map_err(|e| self.lost(e))
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn create_drop(&self, drop: NewDrop, origin: &Origin) -> Result<DropRecord, StoreError> {
        let purge_at = drop.expires_at + TOMBSTONE_SECONDS;
        let mut args = vec![
            drop.id.clone(),
            hex(&drop.manage_hash),
            "waiting".to_owned(),
            drop.ciphertext.len().to_string(),
            drop.created_at.to_string(),
            drop.expires_at.to_string(),
            drop.request_id.clone().unwrap_or_default(),
            drop.ciphertext.clone(),
            purge_at.to_string(),
        ];
        args.extend(event_args(&Actor::Sender, origin));
        let reply = match &drop.request_id {
            None => self.run(&self.scripts.create, &drop_keys(&drop.id), &args).await?,
            // One upload a request: the drop takes the request's id, so creating it and binding
            // the request is one script on one slot.
            Some(request) if *request == drop.id => {
                self.run(&self.scripts.create_for_request, &drop_keys(&drop.id), &args).await?
            }
            Some(_) => return Err(StoreError::Internal("a request's drop must have the request's id".into())),
        };
        if reply.first().map(String::as_str) != Some("ok") {
            return Err(match reply.get(1).map(String::as_str) {
                Some("fulfilled") => StoreError::RequestFulfilled,
                _ => refusal(&reply),
            });
        }
        // The indexes, in one round trip (single-key commands: fine on a Cluster too). Should a
        // server die right here, the drop is stored but not listed; it expires by its TTL.
        let mut conn = self.conn().await?;
        redis::pipe()
            .zadd(DUE, format!("d:{}", drop.id), drop.expires_at)
            .ignore()
            .zadd(inbox_key(drop.request_id.is_none()), &drop.id, drop.created_at)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.lost(e))?;
        Ok(DropRecord::waiting(drop))
    }

    async fn get_drop(&self, id: &str) -> Result<Option<DropRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let pairs: Vec<String> = conn.hgetall(drop_key(id)).await.map_err(|e| self.lost(e))?;
        record(&pairs)
    }

    async fn revoke(&self, id: &str, by: &Actor, origin: &Origin) -> Result<DropRecord, StoreError> {
        let [t, c, a, n, b] = event_args(by, origin);
        let reply = self.run(&self.scripts.revoke, &drop_keys(id), &[origin.at.to_string(), t, c, a, n, b]).await?;
        // The inbox entry is pruned when the inbox is next read.
        Ok(answered(reply)?.0)
    }

    async fn claim(&self, id: &str, staff: &str, origin: &Origin) -> Result<ClaimedDrop, StoreError> {
        let [t, c, a, n, b] = event_args(&Actor::Staff(staff.to_owned()), origin);
        let args = [staff.to_owned(), origin.at.to_string(), t, c, a, n, b];
        let reply = self.run(&self.scripts.claim, &drop_keys(id), &args).await?;
        let (record, ciphertext) = answered(reply)?;
        // The inbox entry is pruned when the inbox is next read: one round trip less a claim.
        let (label, kind) = match &record.request_id {
            Some(request) => {
                let mut conn = self.conn().await?;
                conn.hget(request_key(request), &["label", "kind"]).await.map_err(|e| self.lost(e))?
            }
            None => (None, None),
        };
        Ok(ClaimedDrop { record, ciphertext, label, kind })
    }

    async fn ack(&self, id: &str, staff: &str, origin: &Origin) -> Result<DropRecord, StoreError> {
        let [t, c, a, n, b] = event_args(&Actor::Staff(staff.to_owned()), origin);
        let args = [staff.to_owned(), origin.at.to_string(), t, c, a, n, b];
        let reply = self.run(&self.scripts.ack, &drop_keys(id), &args).await?;
        Ok(answered(reply)?.0)
    }

    async fn release(&self, id: &str, staff: &str, anyone: bool, origin: &Origin) -> Result<DropRecord, StoreError> {
        let [t, c, a, n, b] = event_args(&Actor::Staff(staff.to_owned()), origin);
        let args = [staff.to_owned(), origin.at.to_string(), if anyone { "1" } else { "0" }.to_owned(), t, c, a, n, b];
        let reply = self.run(&self.scripts.release, &drop_keys(id), &args).await?;
        let (record, _) = answered(reply)?;
        // Back in the inbox (claims left it when it was next read). The release is done: a
        // failure here is retried, then logged, never answered as a failed release.
        for attempt in 0..3 {
            let listed = match self.conn().await {
                Ok(mut conn) => conn
                    .zadd::<_, _, _, ()>(inbox_key(record.request_id.is_none()), &record.id, record.created_at)
                    .await
                    .map_err(|e| self.lost(e)),
                Err(e) => Err(e),
            };
            match listed {
                Ok(()) => break,
                Err(e) if attempt == 2 => {
                    tracing::warn!(error = %e, "a released drop could not be put back in the inbox index");
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
        Ok(record)
    }

    async fn inbox(&self, now: i64, after: Option<&InboxCursor>, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        let mut conn = self.conn().await?;
        self.migrate_legacy_inbox(&mut conn).await?;
        let mut out = Vec::new();
        for anonymous in [false, true] {
            // A cursor in the anonymous group is past every requested drop.
            if after.is_some_and(|c| c.anonymous && !anonymous) {
                continue;
            }
            let from = after.filter(|c| c.anonymous == anonymous);
            self.inbox_group(&mut conn, now, anonymous, from, limit, &mut out).await?;
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    async fn create_request(&self, request: RequestRecord, origin: &Origin) -> Result<(), StoreError> {
        let purge_at = request.expires_at + TOMBSTONE_SECONDS;
        let mut args = vec![
            request.id.clone(),
            hex(&request.upload_hash),
            request.label.clone(),
            request.kind.clone(),
            request.created_by.clone().unwrap_or_default(),
            request.created_at.to_string(),
            request.expires_at.to_string(),
            purge_at.to_string(),
            request.required_fields.join(","),
            request.drop_ttl.map(|t| t.to_string()).unwrap_or_default(),
        ];
        args.extend(event_args(&creator(&request), origin));
        let mut conn = self.conn().await?;
        let mut invocation = self.scripts.create_request.prepare_invoke();
        invocation.key(request_key(&request.id)).key(log::PENDING);
        for a in &args {
            invocation.arg(a);
        }
        let answer: String = invocation.invoke_async(&mut conn).await.map_err(|e| self.lost(e))?;
        match answer.as_str() {
            "ok" => redis::pipe()
                .zadd(DUE, format!("x:{}", request.id), request.expires_at)
                .ignore()
                .zadd(DUE, format!("r:{}", request.id), purge_at)
                .ignore()
                .zadd(requests::LISTED, &request.id, request.created_at)
                .ignore()
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| self.lost(e)),
            "duplicate" => Err(StoreError::Duplicate),
            other => Err(StoreError::Internal(format!("unexpected answer {other}"))),
        }
    }

    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let pairs: Vec<String> = conn.hgetall(request_key(id)).await.map_err(|e| self.lost(e))?;
        requests::parse(&pairs)
    }

    async fn list_requests(
        &self,
        query: &RequestQuery,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ListedRequest>, StoreError> {
        self.list(query, now, limit).await
    }

    async fn cancel_request(&self, id: &str, by: &Actor, origin: &Origin) -> Result<(RequestRecord, bool), StoreError> {
        let mut args = vec![origin.at.to_string(), id.to_owned()];
        args.extend(event_args(by, origin));
        let keys = [request_key(id), log::PENDING.to_owned()];
        let reply = self.run(&self.scripts.cancel_request, &keys, &args).await?;
        if reply.first().map(String::as_str) != Some("ok") {
            return Err(match reply.get(1).map(String::as_str) {
                Some("fulfilled") => StoreError::RequestFulfilled,
                _ => refusal(&reply),
            });
        }
        let now = reply.get(1).map(String::as_str) == Some("cancelled");
        Ok((self.get_request(id).await?.ok_or(StoreError::NotFound(Missing::Request))?, now))
    }

    async fn sweep(&self, now: i64) -> Result<Swept, StoreError> {
        let mut conn = self.conn().await?;
        let mut swept = Swept::default();
        let [t, c, a, n, b] = event_args(&Actor::Sweeper, &Origin::at(now));
        loop {
            let due: Vec<(String, i64)> = redis::cmd("ZRANGE")
                .arg(DUE)
                .arg("-inf")
                .arg(now)
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(500)
                .arg("WITHSCORES")
                .query_async(&mut conn)
                .await
                .map_err(|e| self.lost(e))?;
            if due.is_empty() {
                break;
            }
            for (member, _) in &due {
                let (kind, id) = member.split_once(':').unwrap_or(("", member));
                match kind {
                    "d" => {
                        let mut invocation = self.scripts.expire.prepare_invoke();
                        for key in drop_keys(id) {
                            invocation.key(key);
                        }
                        invocation.arg(now).arg(&t).arg(&c).arg(&a).arg(&n).arg(&b);
                        let changed: i64 = invocation.invoke_async(&mut conn).await.map_err(|e| self.lost(e))?;
                        swept.expired += changed as u64;
                        // Next due: the tombstone's purge.
                        let purge_at = self.purge_time(&mut conn, id).await?;
                        conn.zadd::<_, _, _, ()>(DUE, format!("p:{id}"), purge_at).await.map_err(|e| self.lost(e))?;
                        let _: Result<(), _> = redis::pipe()
                            .zrem(INBOX_REQUESTED, id)
                            .zrem(INBOX_ANONYMOUS, id)
                            .query_async(&mut conn)
                            .await;
                    }
                    "p" => {
                        swept.purged +=
                            conn.del::<_, u64>(&[drop_key(id), ct_key(id)]).await.map_err(|e| self.lost(e))?;
                    }
                    "x" => {
                        let mut invocation = self.scripts.expire_request.prepare_invoke();
                        invocation.key(request_key(id)).key(log::PENDING);
                        invocation.arg(now).arg(id).arg(&t).arg(&c).arg(&a).arg(&n).arg(&b);
                        invocation.invoke_async::<i64>(&mut conn).await.map_err(|e| self.lost(e))?;
                    }
                    "r" => {
                        let drop_id: Option<String> =
                            conn.hget(request_key(id), "drop_id").await.map_err(|e| self.lost(e))?;
                        let later = match drop_id.filter(|d| !d.is_empty()) {
                            Some(d) => conn
                                .hget::<_, _, Option<i64>>(drop_key(&d), "expires_at")
                                .await
                                .map_err(|e| self.lost(e))?,
                            None => None,
                        };
                        if let Some(p) = later.map(|e| e + TOMBSTONE_SECONDS).filter(|p| *p > now) {
                            // Answered: keep the request as long as its drop's tombstone.
                            conn.zadd::<_, _, _, ()>(DUE, member, p).await.map_err(|e| self.lost(e))?;
                            continue;
                        }
                        swept.purged += conn.del::<_, u64>(request_key(id)).await.map_err(|e| self.lost(e))?;
                    }
                    _ => {}
                }
                conn.zrem::<_, _, ()>(DUE, member).await.map_err(|e| self.lost(e))?;
            }
        }
        Ok(swept)
    }

    async fn audit_head(&self) -> Result<Head, StoreError> {
        let mut conn = self.conn().await?;
        self.settle_on(&mut conn).await?;
        log::head(&mut conn).await.map_err(|e| self.lost(e))
    }

    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        // Readers take the head first (`audit_head` settles): chaining again here is work twice.
        let mut conn = self.conn().await?;
        log::entries(&mut conn, after, limit).await.map_err(|e| self.lost(e))
    }

    async fn audit_received(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn().await?;
        self.settle_on(&mut conn).await?;
        log::received(&mut conn, id).await.map_err(|e| self.lost(e))
    }

    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn().await?;
        conn.hget(log::CURSORS, name).await.map_err(|e| self.lost(e))
    }

    async fn set_webhook_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        log::set_cursor(&mut conn, name, seq).await.map_err(|e| self.lost(e))
    }

    async fn webhook_lease(&self, name: &str, holder: &str, seconds: u64) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        log::lease(&mut conn, name, holder, seconds).await.map_err(|e| self.lost(e))
    }

    async fn settle(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        self.settle_on(&mut conn).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(|e| self.lost(e))
    }

    async fn durability_warnings(&self) -> Vec<String> {
        let Ok(conn) = self.conn().await else {
            return vec!["could not ask Redis how durable its writes are (it is unreachable)".into()];
        };
        let setting = |name: &'static str| {
            let mut conn = conn.clone();
            async move {
                redis::cmd("CONFIG")
                    .arg("GET")
                    .arg(name)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
                    .ok()
                    .and_then(|v| v.get(1).cloned())
            }
        };
        let (appendonly, appendfsync) = (setting("appendonly").await, setting("appendfsync").await);
        match (appendonly.as_deref(), appendfsync.as_deref()) {
            (Some("yes"), Some("always")) => vec![],
            (None, _) | (_, None) => vec![
                "could not read Redis's appendonly/appendfsync (CONFIG GET refused?): make sure it runs with \
                 appendonly yes and appendfsync always, or an answered upload or claim can be lost"
                    .into(),
            ],
            (Some(ao), Some(fsync)) => vec![format!(
                "Redis runs with appendonly {ao}, appendfsync {fsync}: an answered upload can be lost if Redis \
                 or its machine dies, and a lost claim can hand one drop to two staff members. Use appendonly \
                 yes and appendfsync always (docs/operations.md)"
            )],
        }
    }
}

impl RedisStore {
    /// One group of the inbox, in `(created_at, id)` order after `from`, appended to `out` up to
    /// `limit` entries; entries that are no longer waiting are pruned from the set.
    async fn inbox_group(
        &self,
        conn: &mut ConnectionManager,
        now: i64,
        anonymous: bool,
        from: Option<&InboxCursor>,
        limit: usize,
        out: &mut Vec<InboxItem>,
    ) -> Result<(), StoreError> {
        let key = inbox_key(anonymous);
        let start = from.map_or("-inf".to_owned(), |c| c.created_at.to_string());
        let mut offset = 0isize;
        while out.len() < limit {
            let batch: Vec<(String, i64)> = redis::cmd("ZRANGE")
                .arg(key)
                .arg(&start)
                .arg("+inf")
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(offset)
                .arg((limit - out.len()).max(64))
                .arg("WITHSCORES")
                .query_async(conn)
                .await
                .map_err(|e| self.lost(e))?;
            if batch.is_empty() {
                break;
            }
            offset += batch.len() as isize;
            let mut pipe = redis::pipe();
            for (id, _) in &batch {
                pipe.hgetall(drop_key(id));
            }
            let records: Vec<Vec<String>> = pipe.query_async(conn).await.map_err(|e| self.lost(e))?;
            let mut stale = Vec::new();
            let mut waiting = Vec::new();
            for ((id, _), pairs) in batch.iter().zip(records) {
                match record(&pairs)? {
                    Some(r) if r.state_at(now) == DropState::Waiting => waiting.push(r),
                    // Expired but not yet swept: the sweeper removes it.
                    Some(r) if r.state_at(now) == DropState::Expired && r.state == DropState::Waiting => {}
                    _ => stale.push(id.clone()),
                }
            }
            let mut labels = redis::pipe();
            for r in &waiting {
                labels.hget(request_key(r.request_id.as_deref().unwrap_or("-")), &["label", "kind", "created_by"]);
            }
            let labels: Vec<(Option<String>, Option<String>, Option<String>)> = if waiting.is_empty() {
                Vec::new()
            } else {
                labels.query_async(conn).await.map_err(|e| self.lost(e))?
            };
            for (r, (label, kind, by)) in waiting.into_iter().zip(labels) {
                let item = InboxItem {
                    label: label.filter(|_| r.request_id.is_some()),
                    kind: kind.filter(|_| r.request_id.is_some()),
                    requested_by: by.filter(|b| r.request_id.is_some() && !b.is_empty()),
                    id: r.id,
                    created_at: r.created_at,
                    expires_at: r.expires_at,
                    size: r.size,
                    request_id: r.request_id,
                };
                if from.is_none_or(|c| super::comes_after(c, &item)) && out.len() < limit {
                    out.push(item);
                }
            }
            if !stale.is_empty() {
                offset -= stale.len() as isize;
                conn.zrem::<_, _, ()>(key, &stale).await.map_err(|e| self.lost(e))?;
            }
        }
        Ok(())
    }

    /// Move the entries of the single inbox set of earlier versions into the two groups.
    async fn migrate_legacy_inbox(&self, conn: &mut ConnectionManager) -> Result<(), StoreError> {
        let exists: bool = conn.exists(INBOX_LEGACY).await.map_err(|e| self.lost(e))?;
        if !exists {
            return Ok(());
        }
        let entries: Vec<(String, i64)> =
            conn.zrange_withscores(INBOX_LEGACY, 0, -1).await.map_err(|e| self.lost(e))?;
        for (id, score) in entries {
            let request: Option<String> = conn.hget(drop_key(&id), "request_id").await.map_err(|e| self.lost(e))?;
            let anonymous = request.is_none_or(|r| r.is_empty());
            conn.zadd::<_, _, _, ()>(inbox_key(anonymous), &id, score).await.map_err(|e| self.lost(e))?;
            conn.zrem::<_, _, ()>(INBOX_LEGACY, &id).await.map_err(|e| self.lost(e))?;
        }
        Ok(())
    }

    /// Chain the pending events into the audit log (several servers may race: each batch is
    /// appended only if the head and the pending list are still as read, else read again).
    async fn settle_on(&self, conn: &mut ConnectionManager) -> Result<(), StoreError> {
        for _ in 0..64 {
            match log::chain_batch(conn, &self.chain).await.map_err(|e| self.lost(e))? {
                log::Chained::Nothing => return Ok(()),
                log::Chained::Some | log::Chained::Raced => {}
            }
        }
        Ok(())
    }

    /// When a drop's record may be purged: `expires_at` + 7 days (now, if it is gone).
    async fn purge_time(&self, conn: &mut ConnectionManager, id: &str) -> Result<i64, StoreError> {
        let expires: Option<i64> = conn.hget(drop_key(id), "expires_at").await.map_err(|e| self.lost(e))?;
        Ok(expires.map_or(0, |e| e + TOMBSTONE_SECONDS))
    }
}
