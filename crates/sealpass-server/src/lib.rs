//! The drop server: `router(state)` and `serve(listener, settings, store, shutdown)`, so tests
//! run exactly what production runs. It moves and stores ciphertext only; it never sees a secret.
//! Its [`store`]s (SQLite, Redis) and its [`config`] live here too; it stands on `sealpass-core`,
//! and on `sealpass-client` for private files (keys, config) and the webhook deliverer's
//! transport errors.

pub mod audit_log;
pub mod auth;
pub mod config;
mod conn;
pub mod deliver;
mod error;
mod handlers;
mod launch;
mod limits;
mod metrics;
pub mod oidc;
pub mod openapi;
mod pages;
mod reload;
pub mod store;
mod tls;
pub mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use launch::{LaunchError, Launched, launch};
use limits::{Admission, RateLimiter};
use metrics::Metrics;
pub use tls::{Peer, check as check_tls};

use crate::config::{ServerSettings, StoreUrl};
use crate::store::{Store, StoreError, sqlite::SqliteStore};
pub use reload::{Live, Reloads};

/// What every handler shares: one `Arc`, so handing it to a handler is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's state behind [`AppState`].
pub struct Shared {
    store: Arc<dyn Store>,
    /// The settings as loaded at start; what a reload may change is in `live`.
    settings: Arc<ServerSettings>,
    live: std::sync::RwLock<Arc<Live>>,
    metrics: Arc<Metrics>,
    create_limiter: Arc<RateLimiter>,
    claim_limiter: Arc<RateLimiter>,
    admission: Arc<Admission>,
    signer: Arc<sealpass_core::receipt::Signer>,
    /// For the identity provider's discovery document and keys.
    http: reqwest::Client,
}

impl AppState {
    /// State for `settings` over `store`, signing receipts with `signer`.
    pub fn new(settings: ServerSettings, store: Arc<dyn Store>, signer: sealpass_core::receipt::Signer) -> AppState {
        let http = deliver::http_client().unwrap_or_default();
        let live = Live::new(&settings, signer.public_key(), &http, None);
        AppState(Arc::new(Shared {
            http,
            live: std::sync::RwLock::new(Arc::new(live)),
            admission: Arc::new(Admission::new(
                settings.concurrency_limit,
                settings.max_requests_per_ip,
                settings.queue_timeout,
            )),
            create_limiter: Arc::new(RateLimiter::new(settings.rate_limits.create_per_minute)),
            claim_limiter: Arc::new(RateLimiter::new(settings.rate_limits.claim_per_minute)),
            store,
            metrics: Arc::new(Metrics::default()),
            settings: Arc::new(settings),
            signer: Arc::new(signer),
        }))
    }
}

impl Shared {
    /// The reloadable config as it is now: one snapshot for the whole of a request.
    pub fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replace the reloadable config; requests that took the old snapshot finish with it.
    fn replace_live(&self, live: Live) {
        *self.live.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(live);
    }
}

/// Unix seconds now (rounded down).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// When something that lives `ttl` seconds from now expires: rounded up to the second, so it
/// never lives less than it was asked to (a 2 s TTL is 2–3 s, never 1.2).
pub(crate) fn expiry(ttl: u64) -> i64 {
    let now = time::OffsetDateTime::now_utc();
    let ttl = i64::try_from(ttl).unwrap_or(i64::MAX / 2);
    now.unix_timestamp() + ttl + i64::from(now.nanosecond() > 0)
}

pub(crate) use sealpass_core::events::rfc3339;

/// Logs and measures every request by route template: never ids, tokens or bodies.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Cheap clones (a method, an Arc'd path): nothing is allocated per request to label it.
    let method = request.method().clone();
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let method_label: &'static str = match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        _ => "other",
    };
    state.metrics.request(route, method_label, status, seconds);
    tracing::debug!(method = %method, route = %route, status, ms = seconds * 1000.0, "request");
    response
}

/// Every error is `{"error","message"}`: responses made outside our handlers (a timeout, axum's
/// own rejections of a malformed path or query) get a JSON body with a code from their status.
/// Pages (HTML) keep theirs.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let ours = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return response;
    }
    let (code, message) = match status.as_u16() {
        408 => ("timeout", "the request took too long; retry"),
        413 => ("too_large", "the request body is too large"),
        s if s >= 500 => ("internal", "internal error"),
        _ => ("bad_request", "the request is malformed (path or query); see docs/protocol.md"),
    };
    let mut fixed = axum::response::IntoResponse::into_response(error::ApiError::new(status, code, message));
    if let Some(retry) = response.headers().get(axum::http::header::RETRY_AFTER) {
        fixed.headers_mut().insert(axum::http::header::RETRY_AFTER, retry.clone());
    }
    fixed
}

/// Every request but health, readiness and metrics takes a ticket first: at most so many in
/// flight from one address, and a bounded wait for a slot, so stalled clients cannot queue
/// everyone else forever.
async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let ip = limits::ClientIp::of(&request, &state.settings.trusted_proxies);
    request.extensions_mut().insert(ip);
    match state.admission.admit(ip.0).await {
        Ok(ticket) => {
            let response = next.run(request).await;
            drop(ticket);
            response
        }
        Err(refused) => refused.into_response(),
    }
}

/// The HTTP API and pages, with limits: admission (per-address and global concurrency with a
/// bounded queue), a timeout, and (in handlers) body size, body time and per-IP rates. Health,
/// readiness and metrics stay outside admission, so they answer even when every slot is taken.
pub fn router(state: AppState) -> Router {
    let timeout = state.settings.request_timeout;
    Router::new()
        .route("/v1/info", get(handlers::info))
        .route("/v1/openapi.json", get(handlers::openapi))
        .route("/v1/policies", get(handlers::policies))
        .route("/v1/drops", post(handlers::create_drop).get(handlers::inbox))
        .route("/v1/drops/{id}", get(handlers::drop_status).delete(handlers::revoke))
        .route("/v1/drops/{id}/claim", post(handlers::claim))
        .route("/v1/drops/{id}/ack", post(handlers::ack))
        .route("/v1/drops/{id}/release", post(handlers::release))
        .route("/v1/drops/{id}/receipt", get(handlers::receipt))
        .route("/v1/audit", get(handlers::audit))
        .route("/v1/whoami", get(handlers::whoami))
        .route("/v1/requests", post(handlers::create_request).get(handlers::list_requests))
        .route("/v1/requests/{id}", get(handlers::request_status).delete(handlers::cancel_request))
        .route("/", get(pages::home))
        .route("/d/{id}", get(pages::pickup))
        .route("/r/{id}", get(web::request_page))
        .route("/send", get(web::send_page))
        .route("/web/{file}", get(web::asset))
        .route_layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .route_layer(middleware::from_fn_with_state(state.clone(), admit))
        .route("/favicon.ico", get(|| async { axum::http::StatusCode::NO_CONTENT }))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::map_response(json_errors))
        .with_state(state)
}

/// Open the store the settings name. Redis is guarded: every call bounded, and answered at
/// once while Redis is known to be down.
pub fn open_store(settings: &ServerSettings) -> Result<Arc<dyn Store>, StoreError> {
    match &settings.store {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open_with(path, settings.sqlite_synchronous)?)),
        StoreUrl::Redis(url) => Ok(Arc::new(crate::store::Guarded::new(
            crate::store::redis::RedisStore::open(url)?,
            std::time::Duration::from_secs(2),
        ))),
    }
}

/// Expire and purge on a timer until the server stops.
async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(state.settings.sweep_interval);
    loop {
        tick.tick().await;
        match state.store.sweep(now()).await {
            Ok(swept) => {
                state.metrics.expired(swept.expired);
                if swept.expired + swept.purged > 0 {
                    tracing::info!(expired = swept.expired, purged = swept.purged, "swept");
                }
            }
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}

/// Where the server listens: the API (and pages), and `metrics_listen` when configured (bound
/// here if not given, so `serve` can bind it before anything else starts).
pub struct Listeners {
    /// The public listener.
    pub api: tokio::net::TcpListener,
    /// The metrics listener, already bound.
    pub metrics: Option<tokio::net::TcpListener>,
}

impl From<tokio::net::TcpListener> for Listeners {
    fn from(api: tokio::net::TcpListener) -> Listeners {
        Listeners { api, metrics: None }
    }
}

/// Bind `metrics_listen`, if configured, naming the setting when it cannot be.
async fn bind_metrics(settings: &ServerSettings) -> std::io::Result<Option<tokio::net::TcpListener>> {
    let Some(at) = settings.metrics_listen else { return Ok(None) };
    tokio::net::TcpListener::bind(at)
        .await
        .map(Some)
        .map_err(|e| std::io::Error::new(e.kind(), format!("metrics_listen {at}: {e}")))
}

/// Serve on `listeners` until `shutdown` resolves; in-flight requests finish first, within the
/// shutdown grace.
pub async fn serve(
    listeners: impl Into<Listeners>,
    settings: ServerSettings,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reloads: Option<Reloads>,
) -> std::io::Result<()> {
    let Listeners { api: listener, metrics } = listeners.into();
    let metrics = match metrics {
        Some(bound) => Some(bound),
        None => bind_metrics(&settings).await?,
    };
    let tls = match &settings.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let (limits, trusted) = (settings.connections, settings.trusted_proxies.clone());
    let signer = audit_log::receipt_signer(settings.receipt_key.as_deref()).map_err(std::io::Error::other)?;
    let http = deliver::http_client().map_err(std::io::Error::other)?;
    let holder = format!("{}-{}", std::process::id(), crate::auth::new_id().unwrap_or_default());
    let state = AppState::new(settings, store, signer);
    // Where a webhook delivered to for the first time begins: what happens from now on.
    let start = state.store.audit_head().await.ok().map(|head| head.length);
    let mut background =
        vec![tokio::spawn(sweep_forever(state.clone())), tokio::spawn(audit_log::settle_forever(state.clone()))];
    let hooks = Arc::new(reload::Hooks::new(holder, http));
    hooks.run(&state, &state.live().webhooks, start);
    if let Some(reloads) = reloads {
        background.push(tokio::spawn(reload::reload_forever(state.clone(), reloads, Arc::clone(&hooks))));
    }
    // The metrics listener gets the same connection defences, and stops with the server.
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_task = match metrics {
        Some(metrics) => {
            tracing::info!("metrics on http://{}/metrics", metrics.local_addr()?);
            let stopped = async {
                let _ = metrics_stopped.await;
            };
            Some(tokio::spawn(conn::run(
                metrics,
                None,
                metrics_router(state.clone()),
                limits,
                trusted.clone(),
                stopped,
            )))
        }
        None => None,
    };
    let result = conn::run(listener, tls, router(state), limits, trusted, shutdown).await;
    let _ = stop_metrics.send(());
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    for task in background {
        task.abort();
    }
    hooks.stop();
    result
}

/// `metrics_listen`: `/metrics` and health for anyone who reaches that address (loopback or a
/// private network, for a scraper); everything else is 404.
fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(|State(s): State<AppState>| async move { handlers::metrics_text(&s) }))
        .route("/healthz", get(handlers::healthz))
        .fallback(handlers::not_found)
        .layer(middleware::map_response(json_errors))
        .with_state(state)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
