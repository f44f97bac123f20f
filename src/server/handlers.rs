//! The API v1 handlers (SPEC §5). Each checks who is asking, validates the input, makes one
//! atomic store call and maps the outcome to a status; none changes state on GET.

use std::net::SocketAddr;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::auth::{self, bearer, is_staff, require_staff, token_matches, valid_id};
use super::error::ApiError;
use super::limits::client_ip;
use super::metrics::Event;
use super::{AppState, Peer, expiry, now, rfc3339};
use crate::api::{
    self, Claimed, CreateDrop, CreateRequest, DropCreated, DropStatus, Inbox, InboxEntry, RequestCreated, RequestStatus,
};
use crate::envelope::Kind;
use crate::store::{DropRecord, InboxCursor, NewDrop, RequestRecord, StoreError};

/// Room for the JSON around the ciphertext.
const JSON_OVERHEAD: usize = 4096;

/// Read a JSON body of at most `limit` bytes within the body timeout (so a client that trickles
/// its body holds a slot for seconds, not minutes); errors name the problem, never quote it.
async fn json_body<T: DeserializeOwned>(state: &AppState, body: Body, limit: usize) -> Result<T, ApiError> {
    let within = state.settings.body_timeout;
    let read = tokio::time::timeout(within, axum::body::to_bytes(body, limit)).await.map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request body did not arrive within {} s; retry", within.as_secs()),
        )
    })?;
    let bytes: Bytes = read.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
            _ => "JSON of the wrong shape (see docs/protocol.md)",
        };
        ApiError::bad("bad_json", format!("the body is {what} (line {}, column {})", e.line(), e.column()))
    })
}

fn check_id(id: &str, what: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad("bad_id", format!("{what} ids are 26 characters of a–z and 2–7")))
    }
}

/// A TTL within 1 s … max, or 400: never clamped.
fn ttl(state: &AppState, asked: Option<u64>) -> Result<u64, ApiError> {
    let max = state.settings.max_ttl.as_secs();
    let ttl = asked.unwrap_or(state.settings.default_ttl.as_secs());
    if ttl == 0 || ttl > max {
        return Err(ApiError::bad("bad_ttl", format!("ttl_seconds must be from 1 to {max}")));
    }
    Ok(ttl)
}

/// 503 while the store's disk is below the free-space floor: new uploads would eat the room
/// that claims, acknowledgements and revocations need.
fn room_for_uploads(state: &AppState) -> Result<(), ApiError> {
    match state.store.free_bytes() {
        Some(free) if free < state.settings.min_free_bytes => Err(ApiError::storage_full()),
        _ => Ok(()),
    }
}

fn rate_limit(
    limiter: &super::limits::RateLimiter,
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    limiter.check(client_ip(peer, headers, &state.settings.trusted_proxies)).map_err(ApiError::rate_limited)
}

fn status_of(record: &DropRecord, now: i64) -> DropStatus {
    DropStatus {
        id: record.id.clone(),
        state: record.state_at(now),
        created_at: rfc3339(record.created_at),
        expires_at: rfc3339(record.expires_at),
        claimed_by: record.claimed_by.clone(),
        claimed_at: record.claimed_at.map(rfc3339),
        received_at: record.received_at.map(rfc3339),
        revoked_at: record.revoked_at.map(rfc3339),
        request_id: record.request_id.clone(),
    }
}

/// `GET /v1/info`.
pub async fn info(State(state): State<AppState>) -> Response {
    Json(state.info.as_ref().clone()).into_response()
}

/// `POST /v1/drops`.
pub async fn create_drop(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    rate_limit(&state.create_limiter, &state, peer, &headers)?;
    room_for_uploads(&state)?;
    let max = state.settings.max_ciphertext_bytes;
    let req: CreateDrop = json_body(&state, body, max + JSON_OVERHEAD).await?;
    if req.ciphertext.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the ciphertext is larger than this server's limit of {max} bytes"),
        ));
    }
    crate::crypto::check_armored(&req.ciphertext).map_err(|why| {
        ApiError::bad("not_age", format!("the ciphertext is not a well-formed armored age file: {why}"))
    })?;
    let now = now();
    let expires_at = expiry(ttl(&state, req.ttl_seconds)?);
    match &req.request_id {
        Some(request_id) => {
            check_id(request_id, "request")?;
            let request = state.store.get_request(request_id).await?.ok_or_else(|| ApiError::not_found("request"))?;
            if !token_matches(bearer(&headers), &request.upload_hash) {
                return Err(ApiError::unauthorized(
                    "uploads for a request need its upload token (Authorization: Bearer …)",
                ));
            }
        }
        None if !state.settings.allow_anonymous_uploads => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "anonymous_uploads_disabled",
                "this server only accepts uploads that answer a request; ask the vendor for a request link",
            ));
        }
        None => {}
    }
    // A request is answered once, by the drop that takes its id.
    let id = match &req.request_id {
        Some(request_id) => request_id.clone(),
        None => auth::new_id()?,
    };
    let manage_token = auth::new_token()?;
    let drop = NewDrop {
        id: id.clone(),
        manage_hash: auth::hash(&manage_token),
        ciphertext: req.ciphertext,
        created_at: now,
        expires_at,
        request_id: req.request_id,
    };
    let record = state.store.create_drop(drop).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("request"),
        StoreError::Expired => ApiError::new(StatusCode::GONE, "expired", "the request expired; ask for a new link"),
        other => other.into(),
    })?;
    state.metrics.event(Event::Created);
    let created = DropCreated {
        pickup_url: format!("{}/d/{id}", state.settings.public_url),
        id,
        manage_token,
        expires_at: rfc3339(record.expires_at),
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The drop, if the caller is staff or holds its manage token; otherwise 404.
async fn authorised_drop(state: &AppState, id: &str, headers: &HeaderMap) -> Result<DropRecord, ApiError> {
    check_id(id, "drop")?;
    let record = state.store.get_drop(id).await?.ok_or_else(|| ApiError::not_found("drop"))?;
    let staff = !state.settings.staff.is_empty() && is_staff(&state.settings, headers);
    if staff || token_matches(bearer(headers), &record.manage_hash) {
        Ok(record)
    } else {
        Err(ApiError::not_found("drop"))
    }
}

/// `GET /v1/drops/{id}`.
pub async fn drop_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DropStatus>, ApiError> {
    let record = authorised_drop(&state, &id, &headers).await?;
    Ok(Json(status_of(&record, now())))
}

/// `DELETE /v1/drops/{id}`.
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DropStatus>, ApiError> {
    authorised_drop(&state, &id, &headers).await?;
    let now = now();
    let record = state.store.revoke(&id, now).await.map_err(|e| match e {
        StoreError::Received => ApiError::new(StatusCode::CONFLICT, "already_received", "it was already received"),
        other => other.into(),
    })?;
    if record.revoked_at == Some(now) {
        state.metrics.event(Event::Revoked);
    }
    Ok(Json(status_of(&record, now)))
}

/// `POST /v1/drops/{id}/claim`.
pub async fn claim(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Claimed>, ApiError> {
    let staff = require_staff(&state.settings, &headers)?;
    rate_limit(&state.claim_limiter, &state, peer, &headers)?;
    check_id(&id, "drop")?;
    let claim = state.store.claim(&id, &staff, now()).await?;
    state.metrics.event(Event::Claimed);
    Ok(Json(Claimed {
        id: claim.record.id,
        ciphertext: claim.ciphertext,
        claimed_by: staff,
        claimed_at: rfc3339(claim.record.claimed_at.unwrap_or(claim.record.created_at)),
        expires_at: rfc3339(claim.record.expires_at),
        request_id: claim.record.request_id,
        label: claim.label,
    }))
}

/// `POST /v1/drops/{id}/ack`.
pub async fn ack(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DropStatus>, ApiError> {
    let staff = require_staff(&state.settings, &headers)?;
    check_id(&id, "drop")?;
    let now = now();
    let record = state.store.ack(&id, &staff, now).await?;
    if record.received_at == Some(now) {
        state.metrics.event(Event::Received);
    }
    Ok(Json(status_of(&record, now)))
}

/// Query of `GET /v1/drops`.
#[derive(Deserialize)]
pub struct InboxQuery {
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/drops?state=waiting[&cursor=…][&limit=N]`: one page, requested drops first.
pub async fn inbox(
    State(state): State<AppState>,
    Query(query): Query<InboxQuery>,
    headers: HeaderMap,
) -> Result<Json<Inbox>, ApiError> {
    require_staff(&state.settings, &headers)?;
    if query.state.as_deref().is_some_and(|s| s != "waiting") {
        return Err(ApiError::bad("bad_state", "the inbox lists waiting drops: use ?state=waiting"));
    }
    let limit = query.limit.unwrap_or(api::INBOX_PAGE_DEFAULT);
    if !(1..=api::INBOX_PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad("bad_limit", format!("limit must be from 1 to {}", api::INBOX_PAGE_MAX)));
    }
    let after = match query.cursor.as_deref() {
        Some(text) => Some(InboxCursor::decode(text).ok_or_else(|| {
            ApiError::bad("bad_cursor", "the cursor is not one this server gave (pass next_cursor back as it came)")
        })?),
        None => None,
    };
    // One more than asked tells whether another page follows.
    let mut items = state.store.inbox(now(), after.as_ref(), limit + 1).await?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(|i| InboxCursor::after(i).encode()) } else { None };
    let drops = items
        .into_iter()
        .map(|i| InboxEntry {
            id: i.id,
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            size: i.size,
            request_id: i.request_id,
            label: i.label,
        })
        .collect();
    Ok(Json(Inbox { drops, next_cursor }))
}

/// `POST /v1/requests`.
pub async fn create_request(
    State(state): State<AppState>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let staff = require_staff(&state.settings, &headers)?;
    rate_limit(&state.create_limiter, &state, peer, &headers)?;
    room_for_uploads(&state)?;
    let req: CreateRequest = json_body(&state, body, 8 * 1024).await?;
    let label = req.label.trim();
    if label.is_empty() || label.chars().count() > api::MAX_LABEL_CHARS || label.chars().any(crate::output::is_hazard) {
        return Err(ApiError::bad(
            "bad_label",
            format!("the label must be 1–{} printable characters", api::MAX_LABEL_CHARS),
        ));
    }
    if Kind::from_name(&req.kind).is_none() {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        return Err(ApiError::bad("bad_kind", format!("unknown kind; known kinds: {}", known.join(", "))));
    }
    let now = now();
    let (id, upload_token) = (auth::new_id()?, auth::new_token()?);
    let record = RequestRecord {
        id: id.clone(),
        upload_hash: auth::hash(&upload_token),
        label: label.to_owned(),
        kind: req.kind,
        created_by: Some(staff),
        created_at: now,
        expires_at: expiry(ttl(&state, req.ttl_seconds)?),
        drop_id: None,
    };
    let expires_at = rfc3339(record.expires_at);
    state.store.create_request(record).await?;
    state.metrics.event(Event::RequestCreated);
    let link = format!("{}/r/{id}#{upload_token}.{}", state.settings.public_url, state.info.fingerprint);
    Ok((StatusCode::CREATED, Json(RequestCreated { id, upload_token, expires_at, link })).into_response())
}

/// `GET /v1/requests/{id}`: staff see everything; the sender (upload token) all but the drop id.
pub async fn request_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<RequestStatus>, ApiError> {
    check_id(&id, "request")?;
    let record = state.store.get_request(&id).await?.ok_or_else(|| ApiError::not_found("request"))?;
    let staff = is_staff(&state.settings, &headers);
    if !staff && !token_matches(bearer(&headers), &record.upload_hash) {
        return Err(ApiError::not_found("request"));
    }
    Ok(Json(RequestStatus {
        state: record.state_at(now()),
        id: record.id,
        label: record.label,
        kind: record.kind,
        expires_at: rfc3339(record.expires_at),
        drop_id: if staff { record.drop_id } else { None },
    }))
}

/// `GET /healthz`.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: whether the store answers, and whether there is room for uploads.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    room_for_uploads(&state)?;
    Ok(Json(serde_json::json!({"status": "ready"})))
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::not_found("resource; see docs/protocol.md for the API")
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here; see docs/protocol.md",
    )
}
