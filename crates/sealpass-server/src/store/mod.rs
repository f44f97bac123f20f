//! Where drops and requests live: one `Store` trait with the whole state machine's atomic
//! steps, so every backend (SQLite today, Redis next) gives the same answers. Atomicity is the
//! store's job — one SQL statement or one script per step — never a lock in the server.

mod guarded;
pub mod redis;
pub mod sqlite;

pub use guarded::Guarded;

use async_trait::async_trait;

use sealpass_core::api::{DropState, RequestCursor, RequestState};
use sealpass_core::audit::{Head, Record};
pub use sealpass_core::events::Origin;
use sealpass_core::events::{Actor, Event, EventKind};

/// Tombstones (state without ciphertext) are kept this long after expiry.
pub const TOMBSTONE_SECONDS: i64 = 7 * 24 * 3600;

/// A drop as stored. Times are Unix seconds. The ciphertext is not here: only `claim` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropRecord {
    /// Drop id.
    pub id: String,
    /// SHA-256 of the sender's manage token.
    pub manage_hash: [u8; 32],
    /// Stored state; see [`DropRecord::state_at`].
    pub state: DropState,
    /// Ciphertext size in bytes.
    pub size: usize,
    /// Upload time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Staff member who claimed it.
    pub claimed_by: Option<String>,
    /// First claim.
    pub claimed_at: Option<i64>,
    /// Acknowledgement.
    pub received_at: Option<i64>,
    /// Revocation.
    pub revoked_at: Option<i64>,
    /// The request it answers.
    pub request_id: Option<String>,
    /// Who last released a claim on it (it waits again).
    pub released_by: Option<String>,
    /// When.
    pub released_at: Option<i64>,
}

impl DropRecord {
    /// The record of a drop just stored.
    pub fn waiting(drop: NewDrop) -> DropRecord {
        DropRecord {
            size: drop.ciphertext.len(),
            id: drop.id,
            manage_hash: drop.manage_hash,
            state: DropState::Waiting,
            created_at: drop.created_at,
            expires_at: drop.expires_at,
            claimed_by: None,
            claimed_at: None,
            received_at: None,
            revoked_at: None,
            request_id: drop.request_id,
            released_by: None,
            released_at: None,
        }
    }

    /// The state as of `now`: a waiting or claimed drop past its expiry is expired, whether
    /// or not the sweeper has run.
    pub fn state_at(&self, now: i64) -> DropState {
        self.state.at(self.expires_at, now)
    }
}

/// A new drop.
#[derive(Clone, Debug)]
pub struct NewDrop {
    /// Drop id.
    pub id: String,
    /// SHA-256 of the manage token.
    pub manage_hash: [u8; 32],
    /// Armored age.
    pub ciphertext: String,
    /// Upload time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// The request it answers; the store binds it atomically (one upload a request). A drop
    /// answering a request has the request's id as its own.
    pub request_id: Option<String>,
}

/// What a successful claim returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedDrop {
    /// The drop after the claim.
    pub record: DropRecord,
    /// The armored age file.
    pub ciphertext: String,
    /// The label of the request it answers.
    pub label: Option<String>,
    /// That request's kind.
    pub kind: Option<String>,
}

pub use sealpass_core::api::InboxCursor;

/// The cursor after `item`: the next page starts behind it.
pub fn cursor_after(item: &InboxItem) -> InboxCursor {
    InboxCursor { anonymous: item.request_id.is_none(), created_at: item.created_at, id: item.id.clone() }
}

/// Whether `item` comes after `cursor` in inbox order (requested drops first, then by
/// `(created_at, id)`).
pub fn comes_after(cursor: &InboxCursor, item: &InboxItem) -> bool {
    (cursor.anonymous, cursor.created_at, cursor.id.as_str())
        < (item.request_id.is_none(), item.created_at, item.id.as_str())
}

/// One waiting drop, for the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxItem {
    /// Drop id.
    pub id: String,
    /// Upload time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Ciphertext size.
    pub size: usize,
    /// The request it answers.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// That request's kind.
    pub kind: Option<String>,
    /// Who created that request.
    pub requested_by: Option<String>,
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Request id.
    pub id: String,
    /// SHA-256 of the upload token.
    pub upload_hash: [u8; 32],
    /// What it is for.
    pub label: String,
    /// Credential kind.
    pub kind: String,
    /// Staff member who created it.
    pub created_by: Option<String>,
    /// Creation.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// The drop that fulfilled it.
    pub drop_id: Option<String>,
    /// Optional fields of the kind that the staff member made mandatory for this request.
    pub required_fields: Vec<String>,
    /// How long the drop answering it lives, when the sender does not say (else the server's
    /// default).
    pub drop_ttl: Option<u64>,
    /// When staff cancelled it (before any upload).
    pub cancelled_at: Option<i64>,
}

impl RequestRecord {
    /// The state as of `now`.
    pub fn state_at(&self, now: i64) -> RequestState {
        match (&self.drop_id, self.cancelled_at, now >= self.expires_at) {
            (Some(_), _, _) => RequestState::Fulfilled,
            (None, Some(_), _) => RequestState::Cancelled,
            (None, None, true) => RequestState::Expired,
            (None, None, false) => RequestState::Open,
        }
    }
}

/// Which requests `list_requests` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Only those in this state (as of the call).
    pub state: Option<RequestState>,
    /// Only those this staff member created.
    pub created_by: Option<String>,
    /// Only those after this cursor (newest first).
    pub after: Option<RequestCursor>,
}

impl RequestQuery {
    /// Whether `request` is one it asks for, as of `now` (the cursor aside).
    pub fn matches(&self, request: &RequestRecord, now: i64) -> bool {
        self.state.is_none_or(|s| request.state_at(now) == s)
            && self.created_by.as_ref().is_none_or(|by| request.created_by.as_ref() == Some(by))
    }
}

/// A request as listed: its record and, once answered, its drop's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRequest {
    /// The request.
    pub record: RequestRecord,
    /// The state of the drop that answered it, while the drop's record lasts.
    pub drop_state: Option<DropState>,
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Drops that expired (ciphertext wiped).
    pub expired: u64,
    /// Tombstones and requests deleted.
    pub purged: u64,
}

/// What a store step looked for and did not find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// The drop.
    Drop,
    /// The request a drop answers.
    Request,
}

impl Missing {
    /// Its name, for people and error codes' messages.
    pub fn name(self) -> &'static str {
        match self {
            Missing::Drop => "drop",
            Missing::Request => "request",
        }
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a store step did not happen. The server maps each to a status and error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such drop or request (or its tombstone is gone): which.
    #[error("no such {0}")]
    NotFound(Missing),
    /// Past its expiry.
    #[error("expired")]
    Expired,
    /// Revoked.
    #[error("revoked")]
    Revoked,
    /// Already received (claimed and acknowledged).
    #[error("already received")]
    Received,
    /// Claimed by someone else.
    #[error("already claimed by {by}")]
    ClaimedByOther {
        /// Who.
        by: String,
        /// When (Unix seconds).
        at: i64,
    },
    /// Acknowledging a drop the caller has not claimed.
    #[error("not claimed by this staff member")]
    NotClaimed,
    /// The request was already used for an upload.
    #[error("request already fulfilled")]
    RequestFulfilled,
    /// The request was cancelled.
    #[error("request cancelled")]
    Cancelled,
    /// Releasing a drop that is not claimed (waiting, or already received).
    #[error("not claimed")]
    NotReleasable,
    /// The id exists already (a collision of 128-bit ids: a bug or a broken RNG).
    #[error("id already exists")]
    Duplicate,
    /// The backend cannot be reached or is not ready.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, never sent to clients.
    #[error("store error: {0}")]
    Internal(String),
}

/// The atomic steps of the drop and request state machines. Every step that changes state
/// appends its event (SPEC §10) to the audit log atomically with the change: a change is never
/// stored without its event, nor an event without its change.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Store a new drop. With a request id, atomically bind it to that open request; a second
    /// upload for the same request is `RequestFulfilled`, an expired request `Expired`.
    async fn create_drop(&self, drop: NewDrop, origin: &Origin) -> Result<DropRecord, StoreError>;
    /// A drop's record (tombstones included), if it exists.
    async fn get_drop(&self, id: &str) -> Result<Option<DropRecord>, StoreError>;
    /// Revoke a waiting or claimed drop: ciphertext wiped, state `revoked`. Idempotent.
    async fn revoke(&self, id: &str, by: &Actor, origin: &Origin) -> Result<DropRecord, StoreError>;
    /// `waiting → claimed` for `staff`, atomically; the same staff member may claim again
    /// until it acknowledges and gets the same ciphertext.
    async fn claim(&self, id: &str, staff: &str, origin: &Origin) -> Result<ClaimedDrop, StoreError>;
    /// `claimed → received` by the claimer; ciphertext wiped. Idempotent for the claimer.
    async fn ack(&self, id: &str, staff: &str, origin: &Origin) -> Result<DropRecord, StoreError>;
    /// `claimed → waiting`, for the claimer (or, with `anyone`, whoever claimed it: an admin),
    /// before its acknowledgement: the drop is in the inbox again for anyone to claim.
    /// Idempotent only in that a waiting drop answers `NotReleasable`.
    async fn release(&self, id: &str, staff: &str, anyone: bool, origin: &Origin) -> Result<DropRecord, StoreError>;
    /// Waiting, unexpired drops in inbox order (see [`InboxCursor`]) after `after`, at most
    /// `limit`.
    async fn inbox(&self, now: i64, after: Option<&InboxCursor>, limit: usize) -> Result<Vec<InboxItem>, StoreError>;
    /// Store a new request.
    async fn create_request(&self, request: RequestRecord, origin: &Origin) -> Result<(), StoreError>;
    /// A request's record, if it exists.
    async fn get_request(&self, id: &str) -> Result<Option<RequestRecord>, StoreError>;
    /// Requests `query` asks for, newest first, at most `limit`.
    async fn list_requests(
        &self,
        query: &RequestQuery,
        now: i64,
        limit: usize,
    ) -> Result<Vec<ListedRequest>, StoreError>;
    /// `open → cancelled` (its link stops working at once); idempotent for a cancelled one.
    /// A fulfilled request is `RequestFulfilled`, an expired one `Expired`. With the record:
    /// whether this call cancelled it (under a race, exactly one does).
    async fn cancel_request(&self, id: &str, by: &Actor, origin: &Origin) -> Result<(RequestRecord, bool), StoreError>;
    /// Expire drops past their TTL (wiping ciphertext) and delete tombstones past
    /// `expires_at + 7 days`; record the drops and requests that expired unanswered.
    async fn sweep(&self, now: i64) -> Result<Swept, StoreError>;
    /// Where the audit log ends.
    async fn audit_head(&self) -> Result<Head, StoreError>;
    /// Audit entries after position `after`, in order, at most `limit`; as stored, so that a
    /// reader can tell an altered entry.
    async fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<Record>, StoreError>;
    /// The entry recording that drop `id` was received, if it was.
    async fn audit_received(&self, id: &str) -> Result<Option<Record>, StoreError>;
    /// How far the webhook `name` has been delivered (an audit position), if it ever was.
    async fn webhook_cursor(&self, name: &str) -> Result<Option<u64>, StoreError>;
    /// Record that the webhook `name` was delivered up to `seq` (never moves back).
    async fn set_webhook_cursor(&self, name: &str, seq: u64) -> Result<(), StoreError>;
    /// Whether the server `holder` may deliver webhook `name` for the next `seconds` (one
    /// server at a time among those sharing a store). Renewing a held lease succeeds.
    async fn webhook_lease(&self, _name: &str, _holder: &str, _seconds: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Bring the audit log up to date with changes recorded but not yet chained (Redis chains
    /// outside the change's script, since Lua has no SHA-256); a no-op where appending is part
    /// of the change. The server calls it on a timer; `audit_head` and `audit_received` call it
    /// first.
    async fn settle(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether the store can serve requests.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Free space on the file system the store writes to, if it writes to a local one.
    fn free_bytes(&self) -> Option<u64> {
        None
    }
    /// What an operator should know at start about the store's durability (for Redis: an
    /// `appendfsync` weaker than `always`).
    async fn durability_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The event for a change to drop `drop` (its request and that request's label, if any).
pub fn drop_event(kind: EventKind, drop: &DropRecord, label: Option<&str>, actor: Actor, origin: &Origin) -> Event {
    sealpass_core::events::event(kind, Some(&drop.id), drop.request_id.as_deref(), label, actor, origin)
}

/// Who a request's creation is recorded as: its creator, or the open claimer's name.
pub fn creator(request: &RequestRecord) -> Actor {
    Actor::Staff(request.created_by.clone().unwrap_or_else(|| sealpass_core::events::OPEN_CLAIMER.to_owned()))
}
