//! The drop server's client: API v1 over reqwest (rustls). It moves ciphertext, never
//! plaintext, and maps every answer to a typed error that carries the CLI's exit code.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::api::{Claimed, DropCreated, DropStatus, ErrorBody, Inbox, Info, RequestCreated, RequestStatus};
use crate::exit::Exit;

/// Attempts for calls that are safe to repeat.
const ATTEMPTS: u32 = 3;

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not connect, or the server failed.
    #[error("cannot reach the drop server at {server}: {cause}")]
    Unreachable {
        /// Base URL.
        server: String,
        /// What happened.
        cause: String,
    },
    /// 401/403.
    #[error("the server refused: {0}")]
    Unauthorized(String),
    /// 404/409/410: the drop or request is not available.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else the server refused (400, 413, 429 after retries…).
    #[error("the server refused the request: {0}")]
    Refused(String),
}

impl ClientError {
    /// The exit code for this error (SPEC §6).
    pub fn exit(&self) -> Exit {
        match self {
            ClientError::Unreachable { .. } => Exit::Unreachable,
            ClientError::Unauthorized(_) => Exit::Unauthorized,
            ClientError::Unavailable(_) => Exit::Unavailable,
            ClientError::Refused(_) => Exit::Error,
        }
    }
}

/// A client for one server.
#[derive(Clone, Debug)]
pub struct Client {
    server: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `server` (base URL, e.g. `https://drop.example.com`).
    pub fn new(server: &str) -> Result<Client, ClientError> {
        let server = server.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("sealpass/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Unreachable { server: server.clone(), cause: e.to_string() })?;
        Ok(Client { server, http })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.server));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Send, retrying (with backoff) connection failures, 5xx and 429 when `retry` is set.
    async fn send<T: DeserializeOwned>(
        &self,
        make: impl Fn() -> RequestBuilder,
        retry: bool,
    ) -> Result<T, ClientError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = !retry || attempt >= ATTEMPTS;
            let backoff = Duration::from_millis(200 * 2u64.pow(attempt - 1));
            let response = match make().send().await {
                Ok(r) => r,
                Err(e) if !last => {
                    tracing::debug!(error = %e, "retrying");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
                Err(e) => {
                    return Err(ClientError::Unreachable { server: self.server.clone(), cause: without_url(&e) });
                }
            };
            let status = response.status();
            if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) && !last {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .map_or(backoff, |s| Duration::from_secs(s.min(10)));
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| ClientError::Unreachable { server: self.server.clone(), cause: without_url(&e) })?;
            if status.is_success() {
                return serde_json::from_slice(&bytes).map_err(|e| {
                    ClientError::Refused(format!(
                        "the server's answer is not what sealpass {} expects: {e}",
                        env!("CARGO_PKG_VERSION")
                    ))
                });
            }
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.message)
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ClientError::Unauthorized(message),
                StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::GONE => ClientError::Unavailable(message),
                StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
                    ClientError::Unreachable { server: self.server.clone(), cause: message }
                }
                _ => ClientError::Refused(message),
            });
        }
    }

    /// `GET /v1/info`.
    pub async fn info(&self) -> Result<Info, ClientError> {
        self.send(|| self.request(Method::GET, "/v1/info", None), true).await
    }

    /// `POST /v1/drops` (never retried: a repeat would make a second drop).
    pub async fn create_drop(
        &self,
        ciphertext: &str,
        ttl_seconds: Option<u64>,
        request: Option<(&str, &str)>,
    ) -> Result<DropCreated, ClientError> {
        let body = json!({"ciphertext": ciphertext, "ttl_seconds": ttl_seconds, "request_id": request.map(|r| r.0)});
        self.send(|| self.request(Method::POST, "/v1/drops", request.map(|r| r.1)).json(&body), false).await
    }

    /// `GET /v1/drops/{id}` with a manage or staff token.
    pub async fn drop_status(&self, id: &str, token: &str) -> Result<DropStatus, ClientError> {
        self.send(|| self.request(Method::GET, &format!("/v1/drops/{id}"), Some(token)), true).await
    }

    /// `DELETE /v1/drops/{id}` (idempotent).
    pub async fn revoke(&self, id: &str, token: &str) -> Result<DropStatus, ClientError> {
        self.send(|| self.request(Method::DELETE, &format!("/v1/drops/{id}"), Some(token)), true).await
    }

    /// `POST /v1/drops/{id}/claim` (safe to repeat: the same staff gets the same ciphertext).
    pub async fn claim(&self, id: &str, staff: &str) -> Result<Claimed, ClientError> {
        self.send(|| self.request(Method::POST, &format!("/v1/drops/{id}/claim"), Some(staff)), true).await
    }

    /// `POST /v1/drops/{id}/ack` (idempotent for the claimer).
    pub async fn ack(&self, id: &str, staff: &str) -> Result<DropStatus, ClientError> {
        self.send(|| self.request(Method::POST, &format!("/v1/drops/{id}/ack"), Some(staff)), true).await
    }

    /// `GET /v1/drops?state=waiting`.
    pub async fn inbox(&self, staff: &str) -> Result<Inbox, ClientError> {
        self.send(|| self.request(Method::GET, "/v1/drops?state=waiting", Some(staff)), true).await
    }

    /// `POST /v1/requests`.
    pub async fn create_request(
        &self,
        staff: &str,
        label: &str,
        kind: &str,
        ttl_seconds: Option<u64>,
    ) -> Result<RequestCreated, ClientError> {
        let body = json!({"label": label, "kind": kind, "ttl_seconds": ttl_seconds});
        self.send(|| self.request(Method::POST, "/v1/requests", Some(staff)).json(&body), false).await
    }

    /// `GET /v1/requests/{id}` with the upload token or a staff token.
    pub async fn request_status(&self, id: &str, token: &str) -> Result<RequestStatus, ClientError> {
        self.send(|| self.request(Method::GET, &format!("/v1/requests/{id}"), Some(token)), true).await
    }
}

/// reqwest's error text, without the URL (it can carry a request link's path).
fn without_url(e: &reqwest::Error) -> String {
    let mut e2 = e.to_string();
    if let Some(url) = e.url() {
        e2 = e2.replace(url.as_str(), "the server");
    }
    let source = std::error::Error::source(e).map(|s| format!(" ({s})")).unwrap_or_default();
    format!("{e2}{source}")
}
