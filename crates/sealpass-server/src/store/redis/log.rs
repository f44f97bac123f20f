//! The Redis store's audit log. Lua has no SHA-256, so a change's script appends its event to a
//! pending list atomically with the change, and the server chains pending events into the log
//! (hashing in Rust) with a compare-and-set script: a batch is appended only if the head and the
//! pending list are still what was read, so several servers can chain at once. Keys share the
//! `{audit}` slot. An event is durable the moment its change is; it joins the chain a moment later.

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisResult, Script};
use serde::{Deserialize, Serialize};

use sealpass_core::audit::{self, GENESIS, Head, Record};
use sealpass_core::events::{Actor, Event, EventKind};

/// Events recorded by changes, not yet chained.
pub(super) const PENDING: &str = "sealpass:{audit}:pending";
/// The chain: one JSON entry per position, position n at index n − 1.
const LOG: &str = "sealpass:{audit}:log";
/// `<length>:<hash>` of the chain.
const HEAD: &str = "sealpass:{audit}:head";
/// Drop id → position of the entry recording its receipt.
const RECEIVED: &str = "sealpass:{audit}:received";
/// Webhook name → position delivered up to.
pub(super) const CURSORS: &str = "sealpass:{audit}:cursors";

/// Most events chained in one batch.
const BATCH: isize = 200;

/// KEYS: pending, log, head, received. ARGV: the head as read, n, the n pending items as read,
/// m, the m entries, the new head, then (drop id, position) pairs for receipts.
pub(super) const CHAIN: &str = r"
if (redis.call('GET', KEYS[3]) or ARGV[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
local items = redis.call('LRANGE', KEYS[1], 0, n - 1)
if #items ~= n then return 0 end
for i = 1, n do
  if items[i] ~= ARGV[2 + i] then return 0 end
end
local m = tonumber(ARGV[3 + n])
for i = 1, m do redis.call('RPUSH', KEYS[2], ARGV[3 + n + i]) end
redis.call('LTRIM', KEYS[1], n, -1)
redis.call('SET', KEYS[3], ARGV[4 + n + m])
for i = 5 + n + m, #ARGV, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
return 1
";

/// Move a cursor forward only.
const SET_CURSOR: &str = r"
local seq = redis.call('HGET', KEYS[1], ARGV[1])
if not seq or tonumber(ARGV[2]) > tonumber(seq) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
";

/// Take or renew a lease.
const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
";

/// An event as a script records it (short keys; absent for none).
#[derive(Deserialize)]
struct Pending {
    k: String,
    d: Option<String>,
    r: Option<String>,
    l: Option<String>,
    t: String,
    a: String,
    n: Option<String>,
    c: Option<String>,
    b: Option<String>,
}

impl Pending {
    fn event(self) -> Option<Event> {
        let actor = match (self.a.as_str(), self.n) {
            ("staff", Some(name)) => Actor::Staff(name),
            ("sender", _) => Actor::Sender,
            ("sweeper", _) => Actor::Sweeper,
            _ => return None,
        };
        Some(Event {
            kind: EventKind::from_name(&self.k)?,
            drop_id: self.d,
            request_id: self.r,
            label: self.l,
            actor,
            at: self.t,
            client: self.c,
            credential: match self.b {
                Some(text) => Some(serde_json::from_str(&text).ok()?),
                None => None,
            },
        })
    }
}

/// An entry as the log keeps it.
#[derive(Serialize, Deserialize)]
struct Stored {
    seq: u64,
    prev: String,
    event: String,
    hash: String,
}

fn head_text(head: &Head) -> String {
    format!("{}:{}", head.length, head.hash)
}

fn parse_head(text: Option<String>) -> Head {
    text.and_then(|t| {
        let (length, hash) = t.split_once(':')?;
        Some(Head { length: length.parse().ok()?, hash: hash.to_owned() })
    })
    .unwrap_or_else(Head::empty)
}

/// The head as stored.
pub(super) async fn head(conn: &mut ConnectionManager) -> RedisResult<Head> {
    Ok(parse_head(conn.get(HEAD).await?))
}

/// What one chaining pass did.
pub(super) enum Chained {
    /// Nothing was pending.
    Nothing,
    /// A batch joined the chain.
    Some,
    /// Another server changed the head or the pending list first; read again.
    Raced,
}

/// Chain one batch of pending events.
pub(super) async fn chain_batch(conn: &mut ConnectionManager, chain: &Script) -> RedisResult<Chained> {
    let items: Vec<String> = conn.lrange(PENDING, 0, BATCH - 1).await?;
    if items.is_empty() {
        return Ok(Chained::Nothing);
    }
    let stored: Option<String> = conn.get(HEAD).await?;
    let read = stored.clone().unwrap_or_else(|| head_text(&Head::empty()));
    let mut head = parse_head(stored);
    let (mut entries, mut receipts) = (Vec::new(), Vec::new());
    for item in &items {
        // A pending item that is not an event (written by something else) is dropped, logged.
        let Some(event) = serde_json::from_str::<Pending>(item).ok().and_then(Pending::event) else {
            tracing::error!("a pending audit event in Redis is malformed; dropped");
            continue;
        };
        let (entry, canonical) = audit::next_with_canonical(&head, event);
        if entry.event.kind == EventKind::DropReceived {
            if let Some(drop) = &entry.event.drop_id {
                receipts.push((drop.clone(), entry.seq.to_string()));
            }
        }
        let stored = Stored { seq: entry.seq, prev: entry.prev.clone(), event: canonical, hash: entry.hash.clone() };
        entries.push(serde_json::to_string(&stored).unwrap_or_default());
        head = entry.head();
    }
    let mut invocation = chain.prepare_invoke();
    invocation.key(PENDING).key(LOG).key(HEAD).key(RECEIVED);
    invocation.arg(read).arg(items.len());
    for item in &items {
        invocation.arg(item);
    }
    invocation.arg(entries.len());
    for entry in &entries {
        invocation.arg(entry);
    }
    invocation.arg(head_text(&head));
    for (drop, seq) in &receipts {
        invocation.arg(drop).arg(seq);
    }
    let done: i64 = invocation.invoke_async(conn).await?;
    Ok(if done == 1 { Chained::Some } else { Chained::Raced })
}

/// The record of the entry stored as `text` at position `seq`; an entry that no longer parses
/// is served as its raw text, which verification reports as altered.
fn record(seq: u64, text: &str) -> Record {
    match serde_json::from_str::<Stored>(text) {
        Ok(s) => Record::stored(s.seq, s.prev, &s.event, s.hash),
        Err(_) => Record {
            seq,
            prev: GENESIS.to_owned(),
            event: serde_json::Value::String(text.to_owned()),
            hash: String::new(),
        },
    }
}

/// Entries after `after`, at most `limit`.
pub(super) async fn entries(conn: &mut ConnectionManager, after: u64, limit: usize) -> RedisResult<Vec<Record>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let start = after as isize;
    let texts: Vec<String> = conn.lrange(LOG, start, start + limit as isize - 1).await?;
    Ok(texts.iter().enumerate().map(|(i, t)| record(after + 1 + i as u64, t)).collect())
}

/// The entry recording drop `id`'s receipt.
pub(super) async fn received(conn: &mut ConnectionManager, id: &str) -> RedisResult<Option<Record>> {
    let seq: Option<u64> = conn.hget(RECEIVED, id).await?;
    let Some(seq) = seq.filter(|s| *s > 0) else { return Ok(None) };
    let text: Option<String> = conn.lindex(LOG, seq as isize - 1).await?;
    Ok(text.map(|t| record(seq, &t)))
}

/// Move webhook `name`'s cursor forward to `seq`.
pub(super) async fn set_cursor(conn: &mut ConnectionManager, name: &str, seq: u64) -> RedisResult<()> {
    let script = Script::new(SET_CURSOR);
    let mut invocation = script.prepare_invoke();
    invocation.key(CURSORS).arg(name).arg(seq);
    invocation.invoke_async::<i64>(conn).await.map(|_| ())
}

/// Take or renew the delivery lease of webhook `name` for `holder`.
pub(super) async fn lease(conn: &mut ConnectionManager, name: &str, holder: &str, seconds: u64) -> RedisResult<bool> {
    let script = Script::new(LEASE);
    let mut invocation = script.prepare_invoke();
    invocation.key(format!("sealpass:{{audit}}:lease:{name}")).arg(holder).arg(seconds.max(1));
    Ok(invocation.invoke_async::<i64>(conn).await? == 1)
}
