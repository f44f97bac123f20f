//! The API v1 handlers (SPEC §5), by resource, and what they share. Each checks who is
//! asking, validates the input, makes one atomic store call and maps the outcome to a status;
//! none changes state on GET. Each carries its part of the OpenAPI document.

mod audit;
mod drops;
mod ops;
mod requests;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

pub use audit::*;
pub use drops::*;
pub use ops::*;
pub use requests::*;

use super::auth::valid_id;
use super::error::ApiError;
use super::limits::ClientIp;
use super::{AppState, rfc3339};
use crate::store::{DropRecord, Origin};
use sealpass_core::api::DropStatus;

/// Room for the JSON around the ciphertext.
pub(super) const JSON_OVERHEAD: usize = 4096;

/// Read a JSON body of at most `limit` bytes within the body timeout (so a client that trickles
/// its body holds a slot for seconds, not minutes); errors name the problem, never quote it.
pub(super) async fn json_body<T: DeserializeOwned>(state: &AppState, body: Body, limit: usize) -> Result<T, ApiError> {
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

pub(super) fn check_id(id: &str, what: &str) -> Result<(), ApiError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad("bad_id", format!("{what} ids are 26 characters of a–z and 2–7")))
    }
}

/// A TTL within 1 s … max, or 400: never clamped.
pub(super) fn ttl(state: &AppState, asked: Option<u64>) -> Result<u64, ApiError> {
    let max = state.settings.max_ttl.as_secs();
    let ttl = asked.unwrap_or(state.settings.default_ttl.as_secs());
    if ttl == 0 || ttl > max {
        return Err(ApiError::bad("bad_ttl", format!("ttl_seconds must be from 1 to {max}")));
    }
    Ok(ttl)
}

/// 503 while the store's disk is below the free-space floor: new uploads would eat the room
/// that claims, acknowledgements and revocations need.
pub(super) fn room_for_uploads(state: &AppState) -> Result<(), ApiError> {
    match state.store.free_bytes() {
        Some(free) if free < state.settings.min_free_bytes => Err(ApiError::storage_full()),
        _ => Ok(()),
    }
}

pub(super) fn rate_limit(limiter: &super::limits::RateLimiter, ip: ClientIp) -> Result<(), ApiError> {
    limiter.check(ip.0).map_err(ApiError::rate_limited)
}

/// Where a change comes from: now, and the client's address (after `trusted_proxies`).
pub(super) fn origin(ip: ClientIp) -> Origin {
    Origin::client(super::now(), ip.0)
}

pub(super) fn status_of(record: &DropRecord, now: i64) -> DropStatus {
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
        released_by: record.released_by.clone(),
        released_at: record.released_at.map(rfc3339),
    }
}
