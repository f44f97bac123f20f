//! Starting a server, once, for everyone who starts one (`sealpass serve`, `demo`, the tests):
//! every address bound before anything is created, the store opened and answering, the public
//! URL fixed from the bound address when none was configured, and what the operator should hear
//! at start collected, so a server that says "listening" can serve.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{ServerSettings, StoreUrl, Synchronous};
use crate::store::{Store, StoreError};
use crate::{Listeners, open_store, serve};

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// An address could not be bound.
    #[error("cannot listen on {at}: {source}")]
    Bind {
        /// Which (the API's address, or `metrics_listen` and its address).
        at: String,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open the store {store:?}: {source}")]
    Open {
        /// Which store.
        store: StoreUrl,
        /// Why.
        source: StoreError,
    },
    /// The store was opened but does not answer.
    #[error("the store {store:?} does not answer: {source}")]
    Store {
        /// Which store.
        store: StoreUrl,
        /// Why.
        source: StoreError,
    },
}

/// A server ready to serve: bound, its store answering, its public URL known.
pub struct Launched {
    /// The API's (and metrics') listeners, bound.
    pub listeners: Listeners,
    /// The settings, `public_url` fixed.
    pub settings: ServerSettings,
    /// The store, answering.
    pub store: Arc<dyn Store>,
    /// Where the API listens.
    pub local: SocketAddr,
    /// What the operator should know (weak durability, no staff, a receipt key Redis servers
    /// will not share), to log as warnings.
    pub warnings: Vec<String>,
    /// New configs to apply while serving (`sealpass serve` sends one at each SIGHUP).
    pub reloads: Option<crate::Reloads>,
}

/// Bind `settings.listen` and `metrics_listen`, open the store and check it answers, and fix
/// `public_url` from the bound address unless it was configured.
pub async fn launch(mut settings: ServerSettings) -> Result<Launched, LaunchError> {
    let api = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| LaunchError::Bind { at: settings.listen.to_string(), source })?;
    let metrics = match settings.metrics_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .map_err(|source| LaunchError::Bind { at: format!("metrics_listen {at}"), source })?,
        ),
        None => None,
    };
    let local = api.local_addr().map_err(|source| LaunchError::Bind { at: settings.listen.to_string(), source })?;
    let store = open_store(&settings).map_err(|source| LaunchError::Open { store: settings.store.clone(), source })?;
    // A store that cannot answer now is a start-up error, not a warning after "listening".
    store.ping().await.map_err(|source| LaunchError::Store { store: settings.store.clone(), source })?;
    let mut warnings = store.durability_warnings().await;
    warnings.extend(warnings_for(&settings, local));
    if !settings.public_url_given {
        let scheme = if settings.tls.is_some() { "https" } else { "http" };
        settings.public_url = format!("{scheme}://{local}");
    }
    Ok(Launched { listeners: Listeners { api, metrics }, settings, store, local, warnings, reloads: None })
}

impl Launched {
    /// Serve until `shutdown` resolves ([`crate::serve`]).
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        serve(self.listeners, self.settings, self.store, shutdown, self.reloads).await
    }
}

/// What the settings themselves warrant a warning about.
fn warnings_for(settings: &ServerSettings, local: SocketAddr) -> Vec<String> {
    let mut warnings = Vec::new();
    if settings.receipt_key_defaulted && matches!(settings.store, StoreUrl::Redis(_)) {
        warnings.push(
            "receipt_key is not configured: with a Redis store, every server that shares it needs the same receipt \
             key (or their fingerprints differ and links from one fail on another); set receipt_key to a file every \
             server reads (docs/operations.md)"
                .to_owned(),
        );
    }
    if settings.sqlite_synchronous == Synchronous::Normal && matches!(settings.store, StoreUrl::Sqlite(_)) {
        warnings.push(
            "sqlite_synchronous = \"normal\": answered uploads survive a crash of sealpass, not a power cut".to_owned(),
        );
    }
    let post_quantum = settings.recipients.iter().filter(|r| sealpass_core::crypto::names_post_quantum(r)).count();
    let classical = settings.recipients.len() - post_quantum;
    if post_quantum > 0 && classical > 0 {
        warnings.push(format!(
            "recipients: {post_quantum} post-quantum and {classical} classical: senders (the CLI and the page) seal new \
             drops to the post-quantum ones only, since age never mixes the two; the classical ones are kept only to \
             open drops sealed before. Remove them once those are received (docs/operations.md)"
        ));
    } else if post_quantum == 0 && !settings.recipients.is_empty() {
        warnings.push(
            "recipients: classical (X25519) only: drops sealed to them can be opened by anyone who records them once \
             X25519 falls; add a post-quantum key (sealpass keygen) and re-sign the manifest (docs/operations.md)"
                .to_owned(),
        );
    }
    match (settings.staff.is_empty() && settings.oidc.is_none(), settings.insecure_open_claims) {
        (true, true) => warnings.push(format!(
            "no [[staff]] configured and --insecure-open-claims: anyone who can reach {local} may claim drops"
        )),
        (true, false) => warnings.push(
            "no [[staff]] configured: staff calls (claim, inbox, audit, requests) are refused until you add them"
                .to_owned(),
        ),
        _ => {}
    }
    let unlimited: Vec<&str> = settings.staff.iter().filter(|s| !s.roles_given).map(|s| s.name.as_str()).collect();
    if !unlimited.is_empty() {
        warnings.push(format!(
            "[[staff]] without roles may do everything (as before roles existed): {}; give each the roles it needs, \
             e.g. roles = [\"receiver\"] (docs/operations.md)",
            unlimited.join(", ")
        ));
    }
    warnings
}
