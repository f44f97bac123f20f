//! What is not a drop or a request: the server's public information, health, readiness,
//! metrics, the OpenAPI document, and the answers for unknown paths and methods.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::room_for_uploads;
use crate::AppState;
use crate::error::ApiError;
use sealpass_core::api::{ErrorBody, Info, Whoami};

/// `GET /v1/info`.
#[utoipa::path(get, path = "/v1/info", tag = "server",
    summary = "The vendor's recipients, their fingerprint, and the server's limits",
    responses((status = 200, description = "What a sender needs to seal and upload", body = Info)))]
pub async fn info(State(state): State<AppState>) -> Response {
    Json(state.live().info.clone()).into_response()
}

/// `GET /v1/whoami`: any staff member, whatever their roles (a person who signed in and holds
/// none learns so here).
#[utoipa::path(get, path = "/v1/whoami", tag = "staff",
    summary = "Staff: who the server takes the caller for, and their roles",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = Whoami),
        (status = 401, description = "Not staff, or an access token that was refused (the reason is given)", body = ErrorBody),
        (status = 403, description = "No staff are configured (`open_claims_refused`)", body = ErrorBody),
        (status = 503, description = "The identity provider could not be asked for its keys", body = ErrorBody)))]
pub async fn whoami(staff: crate::auth::Staff) -> Json<Whoami> {
    Json(staff.whoami())
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "Liveness",
    responses((status = 200, description = "The process answers", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: whether the store answers, and whether there is room for uploads.
#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "Readiness: the store answers and has room",
    responses(
        (status = 200, description = "Ready", body = Object, example = json!({"status": "ready"})),
        (status = 503, description = "The store is down (`store_unavailable`) or its disk is below the free-space \
            floor (`storage_full`)", body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    room_for_uploads(&state)?;
    Ok(Json(serde_json::json!({"status": "ready"})))
}

/// `GET /metrics` on the public listener: only for the bearer of the metrics token, and not at
/// all (404) when none is configured. Business volumes are nobody else's business.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    summary = "Prometheus counters (no ids, no tokens), for the bearer of the metrics token; also on `metrics_listen`",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Text exposition format", body = String, content_type = "text/plain"),
        (status = 401, description = "Not the metrics token", body = ErrorBody),
        (status = 404, description = "No metrics token configured: metrics are not served on this listener", body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, ApiError> {
    let Some(expected) = &state.settings.metrics_token_sha256 else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are not served on this listener: see metrics_listen and metrics_token_sha256 in docs/operations.md",
        ));
    };
    if !crate::auth::Caller::of(&headers).holds(expected) {
        return Err(ApiError::unauthorized("metrics need Authorization: Bearer <metrics token>"));
    }
    Ok(metrics_text(&state))
}

/// The metrics as Prometheus text: what `/metrics` serves, here or on `metrics_listen`.
pub fn metrics_text(state: &AppState) -> Response {
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

/// `GET /v1/openapi.json`: this API, described.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "server", summary = "The OpenAPI 3.1 document of API v1",
    responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], crate::openapi::document_json()).into_response()
}

/// `GET /v1/policies`: the built-in policies and kinds as data, as `sealpass policies --json`.
#[utoipa::path(get, path = "/v1/policies", tag = "server",
    summary = "The built-in policies and credential kinds, every rule in a form a program can run",
    description = "The same document as `sealpass policies --json`; the web sender page checks and generates from it.",
    responses((status = 200, description = "The catalog", body = sealpass_core::catalog::Catalog)))]
pub async fn policies() -> Response {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = JSON.get_or_init(|| serde_json::to_string(&sealpass_core::catalog::catalog()).unwrap_or_default());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}
