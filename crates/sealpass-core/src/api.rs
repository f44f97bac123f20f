//! The drop server's HTTP API v1 (SPEC §5) as wire types, shared by the server and the client so
//! both speak exactly the same JSON. Pure: serde types and a few constants.

use serde::{Deserialize, Serialize};

/// Most recipients a server publishes (a team's keys and a backup, with room to spare).
pub const MAX_RECIPIENTS: usize = 16;
/// Longest request label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Most drops in one inbox page.
pub const INBOX_PAGE_MAX: usize = 500;
/// Drops in an inbox page when the client does not say.
pub const INBOX_PAGE_DEFAULT: usize = 100;
/// Largest inbox entry as JSON: a label of [`MAX_LABEL_CHARS`] four-byte characters, escaped,
/// with ids and times.
pub const MAX_INBOX_ENTRY_BYTES: usize = MAX_LABEL_CHARS * 12 + 512;

/// `GET /v1/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Info {
    /// Server version.
    pub version: String,
    /// The vendor's recipients (`age1…`), to seal to.
    pub recipients: Vec<String>,
    /// Their fingerprint (SPEC §4), to compare with the one the vendor published.
    pub fingerprint: String,
    /// Size and time limits.
    pub limits: Limits,
    /// Whether uploads without a request are accepted.
    pub anonymous_uploads: bool,
    /// The base URL links are made from.
    pub public_url: String,
    /// The vendor's certificates that customers register instead of sending a secret (SPEC §9),
    /// covered by `fingerprint` when there are any.
    #[serde(default)]
    pub certificates: Vec<PublishedCertificate>,
    /// The Ed25519 key that signs receipts (SPEC §10), lowercase hex; covered by an `sp3-`
    /// fingerprint.
    #[serde(default)]
    pub receipt_key: Option<String>,
    /// The vendor's signed manifest of what this server may serve (SPEC §11), when the operator
    /// configured one: links and pins naming the vendor key (`sp4-`) are checked against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<crate::manifest::SignedManifest>,
    /// How staff sign in (`sealpass login`), when the server trusts an identity provider
    /// (SPEC §12). Public: a client id is not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_in: Option<SignIn>,
}

/// Where and how staff sign in (`sealpass login`): the identity provider the server trusts and
/// the public client the CLI signs in as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignIn {
    /// The issuer; its endpoints come from its discovery document.
    pub issuer: String,
    /// The public client id to sign in as.
    pub client_id: String,
    /// The scopes to ask for, separated by spaces.
    pub scope: String,
    /// The resource indicator to name (RFC 8707), when the provider needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// `GET /v1/whoami`: who the server takes the caller for, and what they may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Whoami {
    /// Their name, as `claimed_by` and `created_by` show it.
    pub name: String,
    /// Their roles (`requester`, `receiver`, `auditor`, `admin`); empty: none yet.
    pub roles: Vec<String>,
    /// How they proved it: `identity_provider`, `service_token` or `open` (a test server
    /// without staff).
    pub via: String,
    /// The identity provider, for a person signed in with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Their subject at the identity provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// `GET /v1/audit`: one page of the audit log and the head it was read at (SPEC §10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// Where the log ends: record it elsewhere to detect truncation later.
    pub head: crate::audit::Head,
    /// Entries after the `after` asked for, in order, none past `head`.
    pub entries: Vec<crate::audit::Record>,
    /// `head`, signed by the server's receipt key: keep it elsewhere (a witness for `audit
    /// verify --witness`).
    #[serde(default)]
    pub checkpoint: Option<crate::checkpoint::Checkpoint>,
}

/// Most audit entries one page holds.
pub const MAX_AUDIT_PAGE: usize = 1000;

/// Most certificates a server publishes (and a client reads).
pub const MAX_CERTIFICATES: usize = 8;

/// A certificate the vendor publishes, as `GET /v1/info` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishedCertificate {
    /// Its name in the server's config.
    pub name: String,
    /// The certificate, PEM.
    pub pem: String,
    /// SHA-256 over its DER, lowercase hex: what the fingerprint covers.
    pub sha256: String,
    /// SHA-1 over its DER, uppercase hex: the thumbprint Entra ID shows.
    pub sha1_thumbprint: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
}

/// Limits a sender must respect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Limits {
    /// Largest ciphertext, in bytes.
    pub max_ciphertext_bytes: usize,
    /// TTL when none is asked for.
    pub default_ttl_seconds: u64,
    /// Largest TTL accepted.
    pub max_ttl_seconds: u64,
}

/// `POST /v1/drops` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDrop {
    /// ASCII-armored age file.
    pub ciphertext: String,
    /// Time to live; default from `/v1/info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub ttl_seconds: Option<u64>,
    /// The request this answers (with `Authorization: Bearer <upload token>`).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z2-7]{26}$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// `201` for `POST /v1/drops`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DropCreated {
    /// Drop id.
    pub id: String,
    /// The sender's token for status and revoke; shown once.
    pub manage_token: String,
    /// RFC 3339.
    pub expires_at: String,
    /// `https://host/d/<id>`.
    pub pickup_url: String,
}

/// A drop's state. `expired` is reported as soon as the TTL passes, before the sweeper runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DropState {
    /// Uploaded, nobody has claimed it.
    Waiting,
    /// Claimed by a staff member who has not acknowledged yet.
    Claimed,
    /// Claimed and acknowledged; ciphertext wiped.
    Received,
    /// The TTL passed first; ciphertext wiped.
    Expired,
    /// Revoked; ciphertext wiped.
    Revoked,
}

impl DropState {
    /// The state's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DropState::Waiting => "waiting",
            DropState::Claimed => "claimed",
            DropState::Received => "received",
            DropState::Expired => "expired",
            DropState::Revoked => "revoked",
        }
    }

    /// The state with this name.
    pub fn from_name(name: &str) -> Option<DropState> {
        [DropState::Waiting, DropState::Claimed, DropState::Received, DropState::Expired, DropState::Revoked]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// The state as of `now` of a drop stored in this state with this expiry: a waiting or
    /// claimed drop past its expiry is expired, whether or not the sweeper has run.
    pub fn at(self, expires_at: i64, now: i64) -> DropState {
        match self {
            DropState::Waiting | DropState::Claimed if now >= expires_at => DropState::Expired,
            state => state,
        }
    }
}

/// `GET /v1/drops/{id}`: state, never the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DropStatus {
    /// Drop id.
    pub id: String,
    /// Current state.
    pub state: DropState,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Staff member who claimed it.
    pub claimed_by: Option<String>,
    /// RFC 3339.
    pub claimed_at: Option<String>,
    /// RFC 3339.
    pub received_at: Option<String>,
    /// RFC 3339.
    pub revoked_at: Option<String>,
    /// The request it answers.
    pub request_id: Option<String>,
    /// Who last put it back from claimed to waiting (`POST /v1/drops/{id}/release`), if anyone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
    /// RFC 3339, of that release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
}

/// `200` for `POST /v1/drops/{id}/claim`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claimed {
    /// Drop id.
    pub id: String,
    /// The armored age file.
    pub ciphertext: String,
    /// Who claimed it (the caller).
    pub claimed_by: String,
    /// RFC 3339, of the first claim.
    pub claimed_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The request it answers.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// That request's credential kind (absent from servers before 0.2, and for anonymous drops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// One waiting drop in the inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InboxEntry {
    /// Drop id.
    pub id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Ciphertext size in bytes.
    pub size: usize,
    /// The request it answers.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// That request's credential kind (none for an anonymous drop: the envelope says).
    #[serde(default)]
    pub kind: Option<String>,
    /// Who created that request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// `GET /v1/drops?state=waiting[&cursor=…][&limit=N]`: one page of the inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inbox {
    /// Waiting drops: those answering a request first, then anonymous ones, each oldest first.
    pub drops: Vec<InboxEntry>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/requests` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// What the request is for, shown to staff and sender: 1–200 printable characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub label: String,
    /// Credential kind the sender must send.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::envelope::Kind))]
    pub kind: String,
    /// Time to live; default from `/v1/info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub ttl_seconds: Option<u64>,
    /// Optional fields of the kind the sender must fill in for this request (say
    /// `environment_url` and `expires_on` for an `entra-client-secret`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(max_items = 8))]
    pub require: Vec<String>,
    /// How long the drop answering it lives when the sender does not say; default from
    /// `/v1/info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub drop_ttl_seconds: Option<u64>,
}

/// `201` for `POST /v1/requests`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestCreated {
    /// Request id.
    pub id: String,
    /// The sender's one-time upload token; shown once.
    pub upload_token: String,
    /// RFC 3339.
    pub expires_at: String,
    /// `https://host/r/<id>#<upload token>.<fingerprint>`.
    pub link: String,
}

/// A request's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting for the sender's upload.
    Open,
    /// The sender uploaded.
    Fulfilled,
    /// Expired before an upload.
    Expired,
    /// Cancelled by staff before an upload: uploads to it are refused (410 `cancelled`).
    Cancelled,
}

impl RequestState {
    /// Every state, as `GET /v1/requests?state=` names them.
    pub const ALL: [RequestState; 4] =
        [RequestState::Open, RequestState::Fulfilled, RequestState::Expired, RequestState::Cancelled];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Fulfilled => "fulfilled",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
        }
    }

    /// The state with this name.
    pub fn from_name(name: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One request in `GET /v1/requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestSummary {
    /// Request id.
    pub id: String,
    /// What it is for.
    pub label: String,
    /// Credential kind.
    pub kind: String,
    /// Its state now.
    pub state: RequestState,
    /// Who created it.
    pub created_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339, when it was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
    /// The drop that answered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_id: Option<String>,
    /// That drop's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_state: Option<DropState>,
}

/// `GET /v1/requests`: one page, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestList {
    /// The requests, newest first.
    pub requests: Vec<RequestSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Requests a page of `GET /v1/requests` holds by default…
pub const REQUESTS_PAGE_DEFAULT: usize = 100;
/// …and at most.
pub const REQUESTS_PAGE_MAX: usize = 500;

/// Where a page of `GET /v1/requests` ended: the next starts with the request created before
/// this one (newest first, ties by id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestCursor {
    /// Its creation time (Unix seconds).
    pub created_at: i64,
    /// Its id.
    pub id: String,
}

impl RequestCursor {
    /// `<created_at>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }

    /// The cursor `encode` wrote, or none for anything else.
    pub fn decode(text: &str) -> Option<RequestCursor> {
        let (at, id) = text.split_once('.')?;
        crate::link::is_id(id).then(|| Some(RequestCursor { created_at: at.parse().ok()?, id: id.to_owned() }))?
    }

    /// Whether a request created at `created_at` with `id` comes after this cursor, newest
    /// first.
    pub fn precedes(&self, created_at: i64, id: &str) -> bool {
        (created_at, id) < (self.created_at, self.id.as_str())
    }
}

/// `GET /v1/requests/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestStatus {
    /// Request id.
    pub id: String,
    /// What it is for.
    pub label: String,
    /// Credential kind.
    pub kind: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Current state.
    pub state: RequestState,
    /// The drop that fulfilled it (staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_id: Option<String>,
    /// Optional fields of the kind the sender must fill in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<String>,
    /// How long the drop answering it lives, unless the sender asks for less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_ttl_seconds: Option<u64>,
}

/// Where an inbox page ends (`next_cursor`, passed back as `?cursor=`): the next page starts
/// after this entry. The inbox lists drops that answer a request first, then anonymous ones,
/// each by `(created_at, id)`, so a flood of anonymous uploads cannot push a requested credential
/// out of sight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    /// Whether the entry is anonymous (no request).
    pub anonymous: bool,
    /// Its upload time (Unix seconds).
    pub created_at: i64,
    /// Its id.
    pub id: String,
}

impl InboxCursor {
    /// As passed in `?cursor=`: `r.<created_at>.<id>` or `a.<created_at>.<id>`.
    pub fn encode(&self) -> String {
        format!("{}.{}.{}", if self.anonymous { "a" } else { "r" }, self.created_at, self.id)
    }

    /// The cursor of [`InboxCursor::encode`], if well formed.
    pub fn decode(text: &str) -> Option<InboxCursor> {
        let mut parts = text.splitn(3, '.');
        let anonymous = match parts.next()? {
            "a" => true,
            "r" => false,
            _ => return None,
        };
        let created_at = parts.next()?.parse().ok()?;
        let id = parts.next()?.to_owned();
        let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then_some(InboxCursor { anonymous, created_at, id })
    }
}

/// Every error: a stable code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable, machine-readable code (`not_found`, `already_claimed`, …).
    pub error: String,
    /// What went wrong and what to do.
    pub message: String,
}

// Tokens are secrets: `Debug` names the ids only.
impl std::fmt::Debug for DropCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropCreated").field("id", &self.id).field("manage_token", &"[REDACTED]").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RequestCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestCreated")
            .field("id", &self.id)
            .field("upload_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_cursors_round_trip_and_refuse_garbage() {
        let c = InboxCursor { anonymous: true, created_at: -5, id: "abc".into() };
        assert_eq!(InboxCursor::decode(&c.encode()), Some(c));
        for bad in ["", "x.1.abc", "a.one.abc", "a.1.", "a.1.a/b", "r"] {
            assert_eq!(InboxCursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let d = DropCreated {
            id: "i".into(),
            manage_token: "TOKEN-A".into(),
            expires_at: "t".into(),
            pickup_url: "u".into(),
        };
        let r = RequestCreated {
            id: "i".into(),
            upload_token: "TOKEN-B".into(),
            expires_at: "t".into(),
            link: "u#TOKEN-B.x".into(),
        };
        assert!(!format!("{d:?}{r:?}").contains("TOKEN"));
    }
}
