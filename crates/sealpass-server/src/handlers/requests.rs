//! Requests: staff ask a customer for a credential; the customer's CLI or page reads it back.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{check_id, json_body, origin, rate_limit, room_for_uploads, ttl};
use crate::auth::{self, Caller, Staff};
use crate::error::ApiError;
use crate::limits::ClientIp;
use crate::metrics::Counter;
use crate::store::{RequestQuery, RequestRecord, StoreError};
use crate::{AppState, expiry, now, rfc3339};
use sealpass_core::access::{Credential, Role};
use sealpass_core::api::{
    self, CreateRequest, ErrorBody, RequestCreated, RequestCursor, RequestList, RequestState, RequestStatus,
    RequestSummary,
};
use sealpass_core::envelope::Kind;
use sealpass_core::events::Actor;
use serde::Deserialize;

/// `POST /v1/requests`.
#[utoipa::path(post, path = "/v1/requests", tag = "requests",
    summary = "Staff: a request link for a customer (one upload, with its own upload token)",
    request_body = CreateRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The link; its upload token is shown once", body = RequestCreated),
        (status = 400, description = "A bad label, kind or TTL", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "The staff token lacks the role this needs (`forbidden`, naming it), or no staff are configured (`open_claims_refused`)", body = ErrorBody)))]
pub async fn create_request(
    State(state): State<AppState>,
    ip: ClientIp,
    staff: Staff,
    body: Body,
) -> Result<Response, ApiError> {
    let credential = staff.need(Role::Requester)?;
    rate_limit(&state.create_limiter, ip)?;
    room_for_uploads(&state)?;
    let req: CreateRequest = json_body(&state, body, 8 * 1024).await?;
    let label = req.label.trim();
    // At most the limit as sent (the OpenAPI document's maxLength), and something once trimmed.
    let too_long = req.label.chars().count() > api::MAX_LABEL_CHARS;
    if label.is_empty() || too_long || label.chars().any(sealpass_core::text::is_hazard) {
        return Err(ApiError::bad(
            "bad_label",
            format!("the label must be 1–{} printable characters", api::MAX_LABEL_CHARS),
        ));
    }
    let Some(kind) = Kind::from_name(&req.kind) else {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        return Err(ApiError::bad("bad_kind", format!("unknown kind; known kinds: {}", known.join(", "))));
    };
    // The customer would have nothing to register.
    let live = state.live();
    if kind.registers_certificate() && live.info.certificates.is_empty() {
        return Err(ApiError::bad(
            "no_certificate",
            format!(
                "kind {kind} has the customer register the vendor's certificate, and this server publishes none: add \
                 [[certificates]] to its config (sealpass cert new makes one)"
            ),
        ));
    }
    if req.require.len() > 8 {
        return Err(ApiError::bad("bad_require", "require names at most 8 fields"));
    }
    if let Some(bad) = req.require.iter().find(|n| kind.field(n).is_none_or(|f| f.required)) {
        let optional: Vec<&str> = kind.fields().iter().filter(|f| !f.required).map(|f| f.name).collect();
        return Err(ApiError::bad(
            "bad_require",
            format!(
                "{kind} has no optional field {}: require names some of {}",
                sealpass_core::text::shown(&bad.chars().take(64).collect::<String>()),
                if optional.is_empty() { "(none)".to_owned() } else { optional.join(", ") }
            ),
        ));
    }
    let drop_ttl = req.drop_ttl_seconds.map(|t| ttl(&state, Some(t))).transpose()?;
    let origin = origin(ip).by(credential);
    let now = origin.at;
    let (id, upload_token) = (auth::new_id()?, auth::new_token()?);
    let record = RequestRecord {
        id: id.clone(),
        upload_hash: auth::hash(&upload_token),
        label: label.to_owned(),
        kind: req.kind,
        created_by: Some(staff.name),
        created_at: now,
        expires_at: expiry(ttl(&state, req.ttl_seconds)?),
        drop_id: None,
        required_fields: req.require,
        drop_ttl,
        cancelled_at: None,
    };
    let expires_at = rfc3339(record.expires_at);
    state.store.create_request(record, &origin).await?;
    state.metrics.event(Counter::RequestCreated);
    let link = format!("{}/r/{id}#{upload_token}.{}", state.settings.public_url, live.link_fingerprint);
    Ok((StatusCode::CREATED, Json(RequestCreated { id, upload_token, expires_at, link })).into_response())
}

/// `GET /v1/requests/{id}`: staff see everything; the sender (upload token) all but the drop id.
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests",
    summary = "A request's label, kind and state, for staff or the sender (upload token)",
    params(("id" = String, Path, description = "Request id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The request", body = RequestStatus),
        (status = 400, description = "Not a request id", body = ErrorBody),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 403, description = "A staff token without a role that may see it (`forbidden`, naming the roles)", body = ErrorBody),
        (status = 404, description = "No such request, or not for this token", body = ErrorBody)))]
pub async fn request_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<RequestStatus>, ApiError> {
    check_id(&id, "request")?;
    let staff = caller.staff(&state);
    // No token at all is 401 whatever the id: that reveals nothing. A wrong one is 404.
    if staff.is_none() && !caller.has_token() {
        return Err(ApiError::unauthorized(
            "send the request's upload token (or a staff token) as Authorization: Bearer …",
        ));
    }
    let record = state.store.get_request(&id).await?.ok_or_else(|| ApiError::not_found("request"))?;
    match &staff {
        Some(staff) => {
            sees_request(staff, &record)?;
        }
        None if !caller.holds(&record.upload_hash) => return Err(ApiError::not_found("request")),
        None => {}
    }
    Ok(Json(request_status_of(record, staff.is_some())))
}

/// Query of `GET /v1/requests`.
#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/requests?state=…[&cursor=…][&limit=N]`.
#[utoipa::path(get, path = "/v1/requests", tag = "requests",
    summary = "Staff: requests, newest first, one page at a time (a requester sees their own; auditors and admins all)",
    params(
        ("state" = Option<String>, Query, description = "Only requests in this state", pattern = "^(open|fulfilled|expired|cancelled)$"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page", pattern = "^-?[0-9]{1,19}\\.[a-z2-7]{26}$"),
        ("limit" = Option<u32>, Query, description = "Requests a page, 1–500 (default 100)", minimum = 1, maximum = 500)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page", body = RequestList),
        (status = 400, description = "A bad state, cursor or limit", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "Neither requester, auditor nor admin (`forbidden`), or no staff are configured (`open_claims_refused`)", body = ErrorBody)))]
pub async fn list_requests(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
    staff: Staff,
) -> Result<Json<RequestList>, ApiError> {
    // Auditors and admins see everyone's; a requester their own.
    let created_by = match staff.may(Role::Auditor) {
        Some(_) => None,
        None => {
            staff.may(Role::Requester).ok_or_else(|| staff.forbidden(&[Role::Requester, Role::Auditor]))?;
            Some(staff.name.clone())
        }
    };
    let wanted =
        match query.state.as_deref() {
            Some(name) => Some(RequestState::from_name(name).ok_or_else(|| {
                ApiError::bad("bad_state", "state must be one of open, fulfilled, expired, cancelled")
            })?),
            None => None,
        };
    let limit = query.limit.unwrap_or(api::REQUESTS_PAGE_DEFAULT);
    if !(1..=api::REQUESTS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::bad("bad_limit", format!("limit must be from 1 to {}", api::REQUESTS_PAGE_MAX)));
    }
    let after = match query.cursor.as_deref() {
        Some(text) => Some(RequestCursor::decode(text).ok_or_else(|| {
            ApiError::bad("bad_cursor", "the cursor is not one this server gave (pass next_cursor back as it came)")
        })?),
        None => None,
    };
    let now = now();
    let store_query = RequestQuery { state: wanted, created_by, after };
    // One more than asked tells whether another page follows.
    let mut listed = state.store.list_requests(&store_query, now, limit + 1).await?;
    let more = listed.len() > limit;
    listed.truncate(limit);
    let next_cursor = if more {
        listed.last().map(|l| RequestCursor { created_at: l.record.created_at, id: l.record.id.clone() }.encode())
    } else {
        None
    };
    let requests = listed
        .into_iter()
        .map(|l| RequestSummary {
            state: l.record.state_at(now),
            created_at: rfc3339(l.record.created_at),
            expires_at: rfc3339(l.record.expires_at),
            cancelled_at: l.record.cancelled_at.map(rfc3339),
            id: l.record.id,
            label: l.record.label,
            kind: l.record.kind,
            created_by: l.record.created_by,
            drop_id: l.record.drop_id,
            drop_state: l.drop_state,
        })
        .collect();
    Ok(Json(RequestList { requests, next_cursor }))
}

/// `DELETE /v1/requests/{id}`.
#[utoipa::path(delete, path = "/v1/requests/{id}", tag = "requests",
    summary = "Staff: cancel an open request; its link stops working at once (idempotent)",
    params(("id" = String, Path, description = "Request id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled", body = RequestStatus),
        (status = 400, description = "Not a request id", body = ErrorBody),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "Not its requester nor an admin (`forbidden`), or no staff are configured (`open_claims_refused`)", body = ErrorBody),
        (status = 404, description = "No such request (or not one of the requester's)", body = ErrorBody),
        (status = 409, description = "Already answered (`request_fulfilled`): revoke its drop instead", body = ErrorBody),
        (status = 410, description = "It expired", body = ErrorBody)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(id): Path<String>,
    staff: Staff,
) -> Result<Json<RequestStatus>, ApiError> {
    check_id(&id, "request")?;
    // An admin cancels any request; a requester their own. Auditors change nothing.
    let credential = match staff.may(Role::Admin) {
        Some(admin) => admin,
        None => staff.need(Role::Requester)?,
    };
    let before = state.store.get_request(&id).await?.ok_or_else(|| ApiError::not_found("request"))?;
    if credential.role != Role::Admin && before.created_by.as_deref() != Some(staff.name.as_str()) {
        return Err(ApiError::not_found("request"));
    }
    let origin = origin(ip).by(credential);
    let (record, cancelled) =
        state.store.cancel_request(&id, &Actor::Staff(staff.name.clone()), &origin).await.map_err(|e| match e {
            StoreError::RequestFulfilled => ApiError::new(
                StatusCode::CONFLICT,
                "request_fulfilled",
                "it was already answered: revoke its drop instead (sealpass revoke, or DELETE /v1/drops/{id})",
            ),
            StoreError::Expired => ApiError::new(StatusCode::GONE, "expired", "it expired already; nothing to cancel"),
            other => other.into(),
        })?;
    if cancelled {
        state.metrics.event(Counter::RequestCancelled);
    }
    Ok(Json(request_status_of(record, true)))
}

/// The answer about `record`; the drop id only for staff.
fn request_status_of(record: RequestRecord, staff: bool) -> RequestStatus {
    RequestStatus {
        state: record.state_at(now()),
        id: record.id,
        label: record.label,
        kind: record.kind,
        expires_at: rfc3339(record.expires_at),
        drop_id: if staff { record.drop_id } else { None },
        require: record.required_fields,
        drop_ttl_seconds: record.drop_ttl,
    }
}

/// Auditors and admins see every request; a requester the ones they created (anyone else's is
/// 404 to them); other roles none (403). The credential to record when it changes something.
pub(super) fn sees_request(staff: &Staff, record: &RequestRecord) -> Result<Credential, ApiError> {
    if let Some(credential) = staff.may(Role::Auditor) {
        return Ok(credential);
    }
    let credential = staff.may(Role::Requester).ok_or_else(|| staff.forbidden(&[Role::Requester, Role::Auditor]))?;
    if record.created_by.as_deref() == Some(staff.name.as_str()) {
        Ok(credential)
    } else {
        Err(ApiError::not_found("request"))
    }
}
