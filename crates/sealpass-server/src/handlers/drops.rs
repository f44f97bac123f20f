//! Drops: upload, status, revoke, claim, acknowledge, and the staff inbox.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{JSON_OVERHEAD, check_id, json_body, origin, rate_limit, room_for_uploads, status_of, ttl};
use crate::auth::{self, Caller, Staff};
use crate::error::ApiError;
use crate::limits::ClientIp;
use crate::metrics::Counter;
use crate::store::{DropRecord, InboxCursor, NewDrop, StoreError};
use crate::{AppState, expiry, now, rfc3339};
use sealpass_core::access::{Credential, Role};
use sealpass_core::api::{self, Claimed, CreateDrop, DropCreated, DropState, DropStatus, ErrorBody, Inbox, InboxEntry};
use sealpass_core::events::Actor;

/// `POST /v1/drops`.
#[utoipa::path(post, path = "/v1/drops", tag = "drops",
    summary = "Upload a sealed credential (armored age), anonymously or answering a request",
    description = "A request-bound upload carries `Authorization: Bearer <upload token>` and the request's id.",
    request_body = CreateDrop,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Stored; the manage token is shown once", body = DropCreated),
        (status = 400, description = "Not well-formed armored age (`not_age`), a bad TTL or id", body = ErrorBody),
        (status = 401, description = "A request-bound upload without its upload token", body = ErrorBody),
        (status = 403, description = "Anonymous uploads are off on this server", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "The request was already answered", body = ErrorBody),
        (status = 410, description = "The request expired", body = ErrorBody),
        (status = 413, description = "The ciphertext is over the server's limit", body = ErrorBody)))]
pub async fn create_drop(
    State(state): State<AppState>,
    ip: ClientIp,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    rate_limit(&state.create_limiter, ip)?;
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
    sealpass_core::crypto::check_armored(&req.ciphertext).map_err(|why| {
        ApiError::bad("not_age", format!("the ciphertext is not a well-formed armored age file: {why}"))
    })?;
    let origin = origin(ip);
    let now = origin.at;
    let mut ttl_seconds = req.ttl_seconds;
    match &req.request_id {
        Some(request_id) => {
            check_id(request_id, "request")?;
            let request = state.store.get_request(request_id).await?.ok_or_else(|| ApiError::not_found("request"))?;
            if !caller.holds(&request.upload_hash) {
                return Err(ApiError::unauthorized(
                    "uploads for a request need its upload token (Authorization: Bearer …)",
                ));
            }
            // The drop lives as long as the request said, unless the sender asks for less; more
            // is refused, never clamped.
            if let (Some(asked), Some(most)) = (ttl_seconds, request.drop_ttl) {
                if asked > most {
                    return Err(ApiError::bad(
                        "bad_ttl",
                        format!("ttl_seconds must be at most {most}: the request set how long its answer may wait"),
                    ));
                }
            }
            ttl_seconds = ttl_seconds.or(request.drop_ttl);
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
    let expires_at = expiry(ttl(&state, ttl_seconds)?);
    let manage_token = auth::new_token()?;
    let drop = NewDrop {
        id: id.clone(),
        manage_hash: auth::hash(&manage_token),
        ciphertext: req.ciphertext,
        created_at: now,
        expires_at,
        request_id: req.request_id,
    };
    let record = state.store.create_drop(drop, &origin).await.map_err(|e| match e {
        StoreError::Expired => ApiError::new(StatusCode::GONE, "expired", "the request expired; ask for a new link"),
        other => other.into(),
    })?;
    state.metrics.event(Counter::Created);
    let created = DropCreated {
        pickup_url: format!("{}/d/{id}", state.settings.public_url),
        id,
        manage_token,
        expires_at: rfc3339(record.expires_at),
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// The drop, if the caller is staff or holds its manage token; otherwise 404. With the staff
/// member when it was a staff token (none when it was the drop's manage token), who must then
/// hold one of `sees_all` (or admin), or be the requester whose request it answers: the
/// credential to record comes with them.
pub(super) async fn authorised_drop(
    state: &AppState,
    id: &str,
    caller: &Caller,
    sees_all: &[Role],
) -> Result<(DropRecord, Option<(Staff, Credential)>), ApiError> {
    check_id(id, "drop")?;
    // No token at all is 401 whatever the id: that reveals nothing. A wrong one is 404.
    if !caller.has_token() {
        return Err(ApiError::unauthorized(
            "send the drop's manage token (or a staff token) as Authorization: Bearer …",
        ));
    }
    // With no staff configured nobody is staff here, whatever open claims allow.
    let staff = caller.staff(state).filter(|s| !s.is_open());
    let record = state.store.get_drop(id).await?.ok_or_else(|| ApiError::not_found("drop"))?;
    match staff {
        Some(staff) => {
            let credential = staff_over_drop(state, &staff, &record, sees_all).await?;
            Ok((record, Some((staff, credential))))
        }
        None if caller.holds(&record.manage_hash) => Ok((record, None)),
        None => Err(ApiError::not_found("drop")),
    }
}

/// What allows `staff` to act on `record`: one of `sees_all` (or admin), or the requester role
/// when the drop answers a request they created; 403 naming the roles when they hold none of
/// them, 404 for a requester's look at someone else's drop.
async fn staff_over_drop(
    state: &AppState,
    staff: &Staff,
    record: &DropRecord,
    sees_all: &[Role],
) -> Result<Credential, ApiError> {
    if let Some(credential) = sees_all.iter().find_map(|role| staff.may(*role)) {
        return Ok(credential);
    }
    let Some(credential) = staff.may(Role::Requester) else {
        let mut roles = sees_all.to_vec();
        roles.push(Role::Requester);
        return Err(staff.forbidden(&roles));
    };
    let theirs = match &record.request_id {
        Some(request) => {
            state.store.get_request(request).await?.is_some_and(|r| r.created_by.as_deref() == Some(&staff.name))
        }
        None => false,
    };
    if theirs { Ok(credential) } else { Err(ApiError::not_found("drop")) }
}

/// `GET /v1/drops/{id}`.
#[utoipa::path(get, path = "/v1/drops/{id}", tag = "drops",
    summary = "A drop's state, for its sender (manage token) or staff; never the ciphertext",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The drop's state", body = DropStatus),
        (status = 400, description = "Not a drop id", body = ErrorBody),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 403, description = "A staff token without a role that may see it (`forbidden`, naming the roles)", body = ErrorBody),
        (status = 404, description = "No such drop, or not for this token", body = ErrorBody)))]
pub async fn drop_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<DropStatus>, ApiError> {
    let (record, _) = authorised_drop(&state, &id, &caller, &[Role::Receiver, Role::Auditor]).await?;
    Ok(Json(status_of(&record, now())))
}

/// `DELETE /v1/drops/{id}`.
#[utoipa::path(delete, path = "/v1/drops/{id}", tag = "drops",
    summary = "Revoke a drop: ciphertext wiped, state revoked (idempotent)",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Revoked (if it was claimed first, `claimed_by` says by whom)", body = DropStatus),
        (status = 400, description = "Not a drop id", body = ErrorBody),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 403, description = "A staff token without a role that may see it (`forbidden`, naming the roles)", body = ErrorBody),
        (status = 404, description = "No such drop, or not for this token", body = ErrorBody),
        (status = 409, description = "It was already received", body = ErrorBody),
        (status = 410, description = "It expired", body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<DropStatus>, ApiError> {
    let (_, staff) = authorised_drop(&state, &id, &caller, &[Role::Receiver]).await?;
    let mut origin = origin(ip);
    let now = origin.at;
    // Staff revoke under their name; anyone else got here with the drop's manage token.
    let by = match staff {
        Some((staff, credential)) => {
            origin = origin.by(credential);
            Actor::Staff(staff.name)
        }
        None => Actor::Sender,
    };
    let record = state.store.revoke(&id, &by, &origin).await.map_err(|e| match e {
        StoreError::Received => ApiError::new(StatusCode::CONFLICT, "already_received", "it was already received"),
        other => other.into(),
    })?;
    if record.revoked_at == Some(now) {
        state.metrics.event(Counter::Revoked);
    }
    Ok(Json(status_of(&record, now)))
}

/// `POST /v1/drops/{id}/claim`.
#[utoipa::path(post, path = "/v1/drops/{id}/claim", tag = "drops",
    summary = "Staff: take a drop's ciphertext, exactly once (the claimer may claim again until it acknowledges)",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ciphertext", body = Claimed),
        (status = 400, description = "Not a drop id", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "The staff token lacks the role this needs (`forbidden`, naming it), or no staff are configured (`open_claims_refused`)", body = ErrorBody),
        (status = 404, description = "No such drop", body = ErrorBody),
        (status = 409, description = "Claimed by someone else (`already_claimed`, with who and when)", body = ErrorBody),
        (status = 410, description = "Expired, revoked or already received", body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(id): Path<String>,
    staff: Staff,
) -> Result<Json<Claimed>, ApiError> {
    let credential = staff.need(Role::Receiver)?;
    rate_limit(&state.claim_limiter, ip)?;
    check_id(&id, "drop")?;
    let claim = state.store.claim(&id, &staff.name, &origin(ip).by(credential)).await?;
    state.metrics.event(Counter::Claimed);
    Ok(Json(Claimed {
        id: claim.record.id,
        ciphertext: claim.ciphertext,
        claimed_by: staff.name,
        claimed_at: rfc3339(claim.record.claimed_at.unwrap_or(claim.record.created_at)),
        expires_at: rfc3339(claim.record.expires_at),
        request_id: claim.record.request_id,
        label: claim.label,
        kind: claim.kind,
    }))
}

/// `POST /v1/drops/{id}/ack`.
#[utoipa::path(post, path = "/v1/drops/{id}/ack", tag = "drops",
    summary = "The claimer: the secret was handed on; ciphertext wiped, state received (idempotent)",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Received", body = DropStatus),
        (status = 400, description = "Not a drop id", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "The staff token lacks the role this needs (`forbidden`, naming it), or no staff are configured (`open_claims_refused`)", body = ErrorBody),
        (status = 404, description = "No such drop", body = ErrorBody),
        (status = 409, description = "Not claimed by you", body = ErrorBody),
        (status = 410, description = "Expired or revoked before the acknowledgement", body = ErrorBody)))]
pub async fn ack(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(id): Path<String>,
    staff: Staff,
) -> Result<Json<DropStatus>, ApiError> {
    let credential = staff.need(Role::Receiver)?;
    check_id(&id, "drop")?;
    let origin = origin(ip).by(credential);
    let now = origin.at;
    let record = state.store.ack(&id, &staff.name, &origin).await?;
    if record.received_at == Some(now) {
        state.metrics.event(Counter::Received);
    }
    Ok(Json(status_of(&record, now)))
}

/// `POST /v1/drops/{id}/release`.
#[utoipa::path(post, path = "/v1/drops/{id}/release", tag = "drops",
    summary = "The claimer (or an admin): give up a claim before acknowledging it; the drop waits again",
    description = "For a claim whose hand-on failed: the drop is back in the inbox for anyone with the receiver role. \
        No body is needed (`{}` is accepted).",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Waiting again; `released_by` and `released_at` say by whom and when", body = DropStatus),
        (status = 400, description = "Not a drop id", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "Neither the claimer (with the receiver role) nor an admin (`forbidden`), or no staff are configured (`open_claims_refused`)", body = ErrorBody),
        (status = 404, description = "No such drop", body = ErrorBody),
        (status = 409, description = "Not claimed (`not_claimed`), or claimed by someone else meanwhile", body = ErrorBody),
        (status = 410, description = "Expired, revoked or already received", body = ErrorBody)))]
pub async fn release(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(id): Path<String>,
    staff: Staff,
) -> Result<Json<DropStatus>, ApiError> {
    check_id(&id, "drop")?;
    // Their own claim needs the receiver role; anyone else's, admin.
    let receiver = staff.need(Role::Receiver)?;
    let record = state.store.get_drop(&id).await?.ok_or_else(|| ApiError::not_found("drop"))?;
    let theirs = record.claimed_by.as_deref() == Some(staff.name.as_str());
    let admin = staff.may(Role::Admin).filter(|_| !theirs);
    let anyone = admin.is_some();
    let credential = match admin {
        Some(admin) => admin,
        None if !theirs && record.state_at(now()) == DropState::Claimed => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "it is claimed by {}: releasing someone else's claim needs the admin role; {} has {}",
                    sealpass_core::text::shown(record.claimed_by.as_deref().unwrap_or_default()),
                    sealpass_core::text::shown(&staff.name),
                    staff.roles.describe()
                ),
            ));
        }
        // Their own claim, or none at all (the store says what it is).
        None => receiver,
    };
    let origin = origin(ip).by(credential);
    let now = origin.at;
    let record = state.store.release(&id, &staff.name, anyone, &origin).await.map_err(|e| match e {
        StoreError::Received => ApiError::new(
            StatusCode::GONE,
            "received",
            "it was already received: the claimer acknowledged it, so there is nothing to release",
        ),
        other => other.into(),
    })?;
    state.metrics.event(Counter::Released);
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
#[utoipa::path(get, path = "/v1/drops", tag = "drops",
    summary = "Staff: the inbox of waiting drops, one page at a time, drops answering a request first",
    params(
        ("state" = Option<String>, Query, description = "Only `waiting` is listed", pattern = "^waiting$"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page",
            pattern = "^[ar]\\.-?[0-9]{1,19}\\.[a-z2-7]{26}$"),
        ("limit" = Option<u32>, Query, description = "Drops a page, 1–500 (default 100)", minimum = 1, maximum = 500)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page", body = Inbox),
        (status = 400, description = "A bad state, cursor or limit", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "The staff token lacks the role this needs (`forbidden`, naming it), or no staff are configured (`open_claims_refused`)", body = ErrorBody)))]
pub async fn inbox(
    State(state): State<AppState>,
    Query(query): Query<InboxQuery>,
    staff: Staff,
) -> Result<Json<Inbox>, ApiError> {
    staff.need(Role::Receiver)?;
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
    let next_cursor = if more { items.last().map(|i| crate::store::cursor_after(i).encode()) } else { None };
    let drops = items
        .into_iter()
        .map(|i| InboxEntry {
            id: i.id,
            created_at: rfc3339(i.created_at),
            expires_at: rfc3339(i.expires_at),
            size: i.size,
            request_id: i.request_id,
            label: i.label,
            kind: i.kind,
            requested_by: i.requested_by,
        })
        .collect();
    Ok(Json(Inbox { drops, next_cursor }))
}
