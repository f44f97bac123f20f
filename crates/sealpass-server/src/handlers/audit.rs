//! The audit log and receipts over HTTP (SPEC §10): staff page through the log with the head it
//! was read at; a drop's sender (manage token) or staff fetch the signed receipt of its pickup.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::drops::authorised_drop;
use crate::AppState;
use crate::auth::Staff;
use crate::error::ApiError;
use sealpass_core::access::Role;
use sealpass_core::api::{AuditPage, DropState, ErrorBody, MAX_AUDIT_PAGE};
use sealpass_core::events::Actor;
use sealpass_core::receipt::{Claims, Receipt, VERSION};

/// Query of `GET /v1/audit`.
#[derive(Deserialize)]
pub struct AuditQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

/// `GET /v1/audit?after=N&limit=L`.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    summary = "Staff: the audit log after position `after` (default 0), at most `limit` (default and most 1000) entries, and its head",
    params(("after" = Option<i64>, Query, description = "Position to continue after", minimum = 0),
           ("limit" = Option<u32>, Query, description = "Most entries, 1–1000 (default 1000)", minimum = 1, maximum = 1000)),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page and the head", body = AuditPage),
        (status = 401, description = "Staff only", body = ErrorBody),
        (status = 403, description = "The staff token lacks the role this needs (`forbidden`, naming it), or no staff are configured (`open_claims_refused`)", body = ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
    staff: Staff,
) -> Result<Json<AuditPage>, ApiError> {
    staff.need(Role::Auditor)?;
    let limit = query.limit.unwrap_or(MAX_AUDIT_PAGE);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::bad("bad_limit", format!("limit must be 1 to {MAX_AUDIT_PAGE}")));
    }
    let after = u64::try_from(query.after.unwrap_or(0))
        .map_err(|_| ApiError::bad("bad_after", "after must be a position, 0 or more"))?;
    let head = state.store.audit_head().await?;
    let room = head.length.saturating_sub(after).min(limit as u64) as usize;
    let entries = if room == 0 { Vec::new() } else { state.store.audit_entries(after, room).await? };
    let at = crate::rfc3339(crate::now());
    let checkpoint = Some(sealpass_core::checkpoint::sign(&state.signer, &state.settings.public_url, &head, at));
    Ok(Json(AuditPage { head, entries, checkpoint }))
}

/// `GET /v1/drops/{id}/receipt`.
#[utoipa::path(get, path = "/v1/drops/{id}/receipt", tag = "drops",
    summary = "The signed receipt of a received drop, for its sender (manage token) or staff",
    params(("id" = String, Path, description = "Drop id", pattern = "^[a-z2-7]{26}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Signed with the key in /v1/info's receipt_key", body = Receipt),
        (status = 400, description = "Not a drop id", body = ErrorBody),
        (status = 401, description = "No token", body = ErrorBody),
        (status = 403, description = "A staff token without a role that may see it (`forbidden`, naming the roles)", body = ErrorBody),
        (status = 404, description = "No such drop, or not for this token, or received before this server kept receipts", body = ErrorBody),
        (status = 409, description = "Not received (yet)", body = ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: crate::auth::Caller,
) -> Result<Json<Receipt>, ApiError> {
    let (record, _) = authorised_drop(&state, &id, &caller, &[Role::Auditor, Role::Receiver]).await?;
    let now = crate::now();
    if record.state_at(now) != DropState::Received {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_received",
            format!("the drop is {}, not received: there is no receipt", record.state_at(now).as_str()),
        ));
    }
    let entry = state
        .store
        .audit_received(&id)
        .await?
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "no_receipt", "it was received before this server kept receipts")
        })?
        .entry()
        .map_err(|broken| {
            tracing::error!(%broken, "the audit entry of a receipt is unreadable");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        })?;
    let received_by = match &entry.event.actor {
        Actor::Staff(name) => name.clone(),
        _ => record.claimed_by.clone().unwrap_or_default(),
    };
    let claims = Claims {
        v: VERSION,
        server: state.settings.public_url.clone(),
        drop_id: id,
        request_id: entry.event.request_id.clone(),
        label: entry.event.label.clone(),
        received_by,
        received_at: entry.event.at.clone(),
        audit_seq: entry.seq,
        audit_hash: entry.hash.clone(),
    };
    Ok(Json(state.signer.sign(claims)))
}
