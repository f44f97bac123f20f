//! The drop server's client: API v1 over reqwest (rustls). It moves ciphertext, never
//! plaintext, and treats the server as possibly hostile: every answer is read up to a size the
//! protocol allows and no further, and every message from it is made safe to print.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use sealpass_core::api::{
    self, Claimed, DropCreated, DropStatus, ErrorBody, Inbox, Info, RequestCreated, RequestStatus,
};

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
    #[error("{message}")]
    Unavailable {
        /// The server's error code (`not_found`, `already_claimed`, `revoked`, `expired`, …).
        code: String,
        /// What it said, safe to print.
        message: String,
    },
    /// Anything else the server refused (400, 413, 429 after retries…).
    #[error("the server refused the request: {0}")]
    Refused(String),
    /// The answer is larger than anything the protocol allows: a broken or hostile server.
    #[error(
        "the server's answer to {what} is larger than the {limit} bytes the protocol allows; it is not a \
         sealpass server or it misbehaves, so sealpass stopped reading"
    )]
    TooLarge {
        /// Which call.
        what: &'static str,
        /// The cap, in bytes.
        limit: usize,
    },
}

impl crate::exit::Exits for ClientError {
    fn exit(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        match self {
            ClientError::Unreachable { .. } => Exit::Unreachable,
            ClientError::Unauthorized(_) => Exit::Unauthorized,
            ClientError::Unavailable { .. } => Exit::Unavailable,
            ClientError::Refused(_) | ClientError::TooLarge { .. } => Exit::Error,
        }
    }
}

impl ClientError {
    /// The server's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Unavailable { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The most each answer may be, from the protocol's own limits: a claim carries one ciphertext
/// (at most what `open` reads), an inbox page at most [`api::INBOX_PAGE_MAX`] entries, the rest
/// a few short fields.
mod caps {
    use sealpass_core::api;
    /// `GET /v1/info`: up to [`api::MAX_RECIPIENTS`] recipients and a few settings.
    pub const INFO: usize = 128 * 1024;
    /// A claim: one ciphertext and its record.
    pub const CLAIM: usize = sealpass_core::crypto::MAX_CIPHERTEXT_BYTES + 8 * 1024;
    /// An inbox page.
    pub const INBOX: usize = api::INBOX_PAGE_MAX * api::MAX_INBOX_ENTRY_BYTES + 1024;
    /// An audit page: entries of a few hundred bytes (labels are bounded), 4 KiB at the most.
    pub const AUDIT: usize = api::MAX_AUDIT_PAGE * 4096 + 1024;
    /// Any other answer, errors included.
    pub const SMALL: usize = 16 * 1024;
}

/// The HTTP client sealpass talks to servers with (the drop server, the identity provider):
/// bounded times, its own name, and no redirect followed (one could take a token elsewhere).
pub(crate) fn plain_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("sealpass/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
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
        let http =
            plain_client().map_err(|e| ClientError::Unreachable { server: server.clone(), cause: e.to_string() })?;
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

    /// Read at most `limit` bytes of an answer: refuse a larger `Content-Length` before reading,
    /// and stop reading a body that grows past it.
    async fn body(
        &self,
        mut response: reqwest::Response,
        what: &'static str,
        limit: usize,
    ) -> Result<Vec<u8>, ClientError> {
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(ClientError::TooLarge { what, limit });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ClientError::Unreachable { server: self.server.clone(), cause: explain_transport(&e) })?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(ClientError::TooLarge { what, limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Send, retrying (with backoff) connection failures, 5xx and 429 when `retry` is set.
    async fn send<T: DeserializeOwned>(
        &self,
        what: &'static str,
        limit: usize,
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
                    return Err(ClientError::Unreachable { server: self.server.clone(), cause: explain_transport(&e) });
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
            if status.is_success() {
                let bytes = self.body(response, what, limit).await?;
                return serde_json::from_slice(&bytes).map_err(|e| {
                    ClientError::Refused(format!(
                        "the server's answer to {what} is not what sealpass {} expects ({})",
                        env!("CARGO_PKG_VERSION"),
                        match e.classify() {
                            serde_json::error::Category::Data => "fields of the wrong shape",
                            _ => "not JSON",
                        }
                    ))
                });
            }
            let bytes = self.body(response, what, caps::SMALL).await?;
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(b) => (b.error, b.message),
                Err(_) if status.is_redirection() => {
                    (String::new(), format!("HTTP {status}: the server redirects elsewhere; give its final URL"))
                }
                Err(_) => (String::new(), format!("HTTP {status}; is this a sealpass server?")),
            };
            let message = sealpass_core::text::shown(short(&message)).into_owned();
            return Err(match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ClientError::Unauthorized(message),
                StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::GONE => {
                    ClientError::Unavailable { code: sealpass_core::text::shown(short(&code)).into_owned(), message }
                }
                StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
                    ClientError::Unreachable { server: self.server.clone(), cause: message }
                }
                _ => ClientError::Refused(message),
            });
        }
    }

    /// `GET /v1/info`.
    pub async fn info(&self) -> Result<Info, ClientError> {
        self.send("GET /v1/info", caps::INFO, || self.request(Method::GET, "/v1/info", None), true).await
    }

    /// `POST /v1/drops` (never retried: a repeat would make a second drop); `upload_token`
    /// when `body.request_id` names a request.
    pub async fn create_drop(
        &self,
        body: &api::CreateDrop,
        upload_token: Option<&str>,
    ) -> Result<DropCreated, ClientError> {
        let make = || self.request(Method::POST, "/v1/drops", upload_token).json(body);
        self.send("the upload", caps::SMALL, make, false).await
    }

    /// `GET /v1/drops/{id}` with a manage or staff token.
    pub async fn drop_status(&self, id: &str, token: &str) -> Result<DropStatus, ClientError> {
        let path = format!("/v1/drops/{id}");
        self.send("a status query", caps::SMALL, || self.request(Method::GET, &path, Some(token)), true).await
    }

    /// `DELETE /v1/drops/{id}` (idempotent).
    pub async fn revoke(&self, id: &str, token: &str) -> Result<DropStatus, ClientError> {
        let path = format!("/v1/drops/{id}");
        self.send("the revocation", caps::SMALL, || self.request(Method::DELETE, &path, Some(token)), true).await
    }

    /// `POST /v1/drops/{id}/claim` (safe to repeat: the same staff gets the same ciphertext).
    pub async fn claim(&self, id: &str, staff: &str) -> Result<Claimed, ClientError> {
        let path = format!("/v1/drops/{id}/claim");
        self.send("the claim", caps::CLAIM, || self.request(Method::POST, &path, Some(staff)), true).await
    }

    /// `POST /v1/drops/{id}/ack` (idempotent for the claimer).
    pub async fn ack(&self, id: &str, staff: &str) -> Result<DropStatus, ClientError> {
        let path = format!("/v1/drops/{id}/ack");
        self.send("the acknowledgement", caps::SMALL, || self.request(Method::POST, &path, Some(staff)), true).await
    }

    /// One page of `GET /v1/drops?state=waiting`, after `cursor`.
    pub async fn inbox(&self, staff: &str, cursor: Option<&str>) -> Result<Inbox, ClientError> {
        let mut path = format!("/v1/drops?state=waiting&limit={}", api::INBOX_PAGE_MAX);
        if let Some(cursor) = cursor {
            path.push_str("&cursor=");
            path.push_str(&url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>());
        }
        self.send("the inbox", caps::INBOX, || self.request(Method::GET, &path, Some(staff)), true).await
    }

    /// `POST /v1/drops/{id}/release`: give up a claim (or, as an admin, anyone's) before the
    /// acknowledgement.
    pub async fn release(&self, id: &str, staff: &str) -> Result<DropStatus, ClientError> {
        let path = format!("/v1/drops/{id}/release");
        self.send("the release", caps::SMALL, || self.request(Method::POST, &path, Some(staff)), true).await
    }

    /// One page of `GET /v1/requests`, in `state` if given, after `cursor`.
    pub async fn requests(
        &self,
        staff: &str,
        state: Option<api::RequestState>,
        cursor: Option<&str>,
    ) -> Result<api::RequestList, ClientError> {
        let mut path = format!("/v1/requests?limit={}", api::REQUESTS_PAGE_MAX);
        if let Some(state) = state {
            path.push_str("&state=");
            path.push_str(state.as_str());
        }
        if let Some(cursor) = cursor {
            path.push_str("&cursor=");
            path.push_str(&url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>());
        }
        self.send("the request list", caps::INBOX, || self.request(Method::GET, &path, Some(staff)), true).await
    }

    /// `DELETE /v1/requests/{id}` (idempotent).
    pub async fn cancel_request(&self, id: &str, staff: &str) -> Result<RequestStatus, ClientError> {
        let path = format!("/v1/requests/{id}");
        self.send("the cancellation", caps::SMALL, || self.request(Method::DELETE, &path, Some(staff)), true).await
    }

    /// One page of `GET /v1/audit` after position `after`.
    pub async fn audit(&self, staff: &str, after: u64) -> Result<api::AuditPage, ClientError> {
        let path = format!("/v1/audit?after={after}&limit={}", api::MAX_AUDIT_PAGE);
        self.send("the audit log", caps::AUDIT, || self.request(Method::GET, &path, Some(staff)), true).await
    }

    /// `GET /v1/drops/{id}/receipt` with the manage token or a staff token.
    pub async fn receipt(&self, id: &str, token: &str) -> Result<sealpass_core::receipt::Receipt, ClientError> {
        let path = format!("/v1/drops/{id}/receipt");
        self.send("the receipt", caps::SMALL, || self.request(Method::GET, &path, Some(token)), true).await
    }

    /// `POST /v1/requests`.
    pub async fn create_request(&self, staff: &str, body: &api::CreateRequest) -> Result<RequestCreated, ClientError> {
        let make = || self.request(Method::POST, "/v1/requests", Some(staff)).json(body);
        self.send("the request", caps::SMALL, make, false).await
    }

    /// `GET /v1/whoami`: who the server takes the bearer of `staff` for.
    pub async fn whoami(&self, staff: &str) -> Result<api::Whoami, ClientError> {
        self.send("who you are", caps::SMALL, || self.request(Method::GET, "/v1/whoami", Some(staff)), true).await
    }

    /// `GET /v1/requests/{id}` with the upload token or a staff token.
    pub async fn request_status(&self, id: &str, token: &str) -> Result<RequestStatus, ClientError> {
        let path = format!("/v1/requests/{id}");
        self.send("a request query", caps::SMALL, || self.request(Method::GET, &path, Some(token)), true).await
    }
}

/// At most a few hundred characters of a server's message.
fn short(text: &str) -> &str {
    match text.char_indices().nth(300) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// reqwest's error text, without the URL (it can carry a request link's path).
/// What went wrong on the way to a server, in plain words: the innermost cause (hyper and
/// reqwest wrap it in "error sending request", "client error"), with what to do about the
/// usual ones; never the URL (a webhook's may carry a token) nor a TLS library's enum names.
pub fn explain_transport(e: &reqwest::Error) -> String {
    let mut innermost = e.to_string();
    if let Some(url) = e.url() {
        innermost = innermost.replace(url.as_str(), "the server");
    }
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        innermost = cause.to_string();
        next = cause.source();
    }
    plain_cause(&innermost, e.is_timeout(), e.is_connect())
}

/// [`explain_transport`] on the innermost cause's text.
fn plain_cause(cause: &str, timeout: bool, connect: bool) -> String {
    let has = |needle: &str| cause.contains(needle);
    let untrusted = "If the server uses a certificate from your own CA, point SSL_CERT_FILE at that CA's certificate \
                     (PEM); never disable the check";
    if timeout || has("timed out") {
        "no answer in time (a firewall dropping packets, or the server is stuck)".into()
    } else if has("CaUsedAsEndEntity") {
        "its TLS certificate is a CA certificate used as the server's own, which TLS clients refuse; the operator \
         must serve a leaf certificate signed by that CA (docs/operations.md shows the openssl commands)"
            .into()
    } else if has("UnknownIssuer") || has("unknown issuer") {
        format!("its TLS certificate is not trusted: an authority this machine does not know signed it. {untrusted}")
    } else if has("NotValidForName") || has("not valid for name") {
        "its TLS certificate is not issued for this host name: use the name the certificate names, or have the \
         operator fix the certificate"
            .into()
    } else if has("Expired") || (has("expired") && has("certificate")) {
        "its TLS certificate has expired (or this machine's clock is wrong)".into()
    } else if has("certificate") {
        format!("its TLS certificate is not trusted: this machine cannot verify it. {untrusted}")
    } else if has("invalid HTTP version") {
        "it does not answer plain HTTP: the server speaks HTTPS, so use an https:// URL".into()
    } else if has("InvalidContentType") || has("corrupt message") || has("wrong version number") {
        "it does not speak TLS: the server speaks plain HTTP, so use an http:// URL (or fix its TLS)".into()
    } else if has("Connection refused") || has("connection refused") {
        "connection refused: nothing listens there (is the server running, and is the port right?)".into()
    } else if has("dns error") || has("failed to lookup") || has("Name or service not known") {
        "the host name does not resolve (check the URL)".into()
    } else if connect {
        format!("could not connect ({cause})")
    } else {
        cause.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::plain_cause;

    #[test]
    fn transport_failures_are_said_in_plain_words() {
        let ca = plain_cause("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))", false, true);
        assert!(ca.contains("CA certificate used as the server's own") && !ca.contains("CaUsedAsEndEntity"), "{ca}");
        let unknown = plain_cause("invalid peer certificate: UnknownIssuer", false, true);
        assert!(unknown.contains("not trusted") && unknown.contains("SSL_CERT_FILE"), "{unknown}");
        assert!(plain_cause("invalid HTTP version parsed", false, false).contains("https://"));
        assert!(plain_cause("received corrupt message of type InvalidContentType", false, true).contains("http://"));
        assert!(plain_cause("Connection refused (os error 111)", false, true).starts_with("connection refused"));
        assert!(plain_cause("operation timed out", true, false).starts_with("no answer in time"));
        assert!(plain_cause("invalid peer certificate: NotValidForName", false, true).contains("host name"));
    }
}
