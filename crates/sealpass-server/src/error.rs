//! One error type for every handler: it logs the internal cause and tells the client only a
//! stable code and a message (`{"error","message"}`), with the right status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;
use sealpass_core::api::ErrorBody;

/// An HTTP error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a stable code and a message for people.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// 400 with `code`.
    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404: nothing here (or nothing for you).
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    /// 401: a staff token is needed or was wrong.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after.max(1)),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests from your address; retry later",
            )
        }
    }

    /// 503: the disk is nearly full, so new uploads wait while claims go on.
    pub fn storage_full() -> ApiError {
        ApiError {
            retry_after: Some(60),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_full",
                "the server is low on disk space and takes no new uploads or requests for now; what is waiting \
                 can still be received. Retry later",
            )
        }
    }

    /// 503: every slot is taken and none came free in time.
    pub fn overloaded() -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", "the server is busy; retry in a moment")
        }
    }

    /// 429: this address already has as many requests in flight as it may.
    pub fn too_many_in_flight(max: usize) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_in_flight",
                format!("your address already has {max} requests in flight; wait for them to finish"),
            )
        }
    }

    /// 500, with the cause logged here and never sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the operator can find the cause in the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what.name()),
            StoreError::Expired => {
                ApiError::new(StatusCode::GONE, "expired", "it expired; ask the sender for a new one")
            }
            StoreError::Revoked => ApiError::new(StatusCode::GONE, "revoked", "the sender revoked it"),
            StoreError::Received => {
                ApiError::new(StatusCode::GONE, "received", "it was already received; its ciphertext is gone")
            }
            StoreError::ClaimedByOther { by, at } => ApiError::new(
                StatusCode::CONFLICT,
                "already_claimed",
                format!("already claimed by {by} at {}", super::rfc3339(at)),
            ),
            StoreError::NotClaimed => ApiError::new(
                StatusCode::CONFLICT,
                "not_claimed",
                "only the staff member who claimed it can acknowledge it",
            ),
            StoreError::RequestFulfilled => {
                ApiError::new(StatusCode::CONFLICT, "request_fulfilled", "this request was already answered")
            }
            StoreError::Cancelled => ApiError::new(
                StatusCode::GONE,
                "cancelled",
                "the vendor cancelled this request; ask them for a new link if they still need the credential",
            ),
            StoreError::NotReleasable => ApiError::new(
                StatusCode::CONFLICT,
                "not_claimed",
                "it is waiting, not claimed: there is no claim to release",
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "store unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store is unavailable; retry shortly",
                )
            }
            StoreError::Duplicate | StoreError::Internal(_) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_owned(), message: self.message };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
