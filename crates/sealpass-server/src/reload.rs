//! What changes without a restart (SPEC §12): staff and their roles, the identity provider,
//! the vendor's keys and certificates, the manifest and webhooks. Each request reads one snapshot of them ([`Live`]);
//! a reload swaps the snapshot whole, so requests in flight finish with what they began with, and
//! a config that does not validate changes nothing.

use std::sync::{Arc, Mutex};

use sealpass_core::api::{Info, Limits, SignIn};
use tokio::task::JoinHandle;

use crate::AppState;
use crate::config::{ServerSettings, StaffMember, Webhook};
use crate::deliver::Deliverer;
use crate::oidc::Verifier;

/// The reloadable part of the config, with what is derived from it.
pub struct Live {
    /// Service tokens and their roles.
    pub staff: Vec<StaffMember>,
    /// `GET /v1/info`: recipients, certificates, manifest, fingerprint.
    pub info: Info,
    /// What request links carry after the upload token: the vendor key's `sp4-` value when a
    /// manifest is served (links then survive every re-signed rotation), else `info.fingerprint`.
    pub link_fingerprint: String,
    /// Where events are posted.
    pub webhooks: Vec<Webhook>,
    /// The identity provider staff sign in with, and its keys as last fetched.
    pub oidc: Option<Arc<Verifier>>,
}

impl Live {
    /// The snapshot `settings` describe, with receipts signed by `receipt_key`; the identity
    /// provider's keys fetched with `http`, or kept from `before` when `[oidc]` did not change.
    pub fn new(settings: &ServerSettings, receipt_key: String, http: &reqwest::Client, before: Option<&Live>) -> Live {
        let oidc = settings.oidc.as_ref().map(|wanted| {
            match before.and_then(|b| b.oidc.as_ref()).filter(|v| v.settings() == wanted) {
                Some(same) => Arc::clone(same),
                None => Arc::new(Verifier::new(wanted.clone(), http.clone())),
            }
        });
        let info = Info {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            fingerprint: sealpass_core::crypto::server_fingerprint(
                &settings.recipients,
                &settings.certificates.iter().map(|c| c.sha256.as_str()).collect::<Vec<_>>(),
                Some(&receipt_key),
            ),
            receipt_key: Some(receipt_key),
            certificates: settings.certificates.clone(),
            recipients: settings.recipients.clone(),
            limits: Limits {
                max_ciphertext_bytes: settings.max_ciphertext_bytes,
                default_ttl_seconds: settings.default_ttl.as_secs(),
                max_ttl_seconds: settings.max_ttl.as_secs(),
            },
            anonymous_uploads: settings.allow_anonymous_uploads,
            public_url: settings.public_url.clone(),
            manifest: settings.manifest.clone(),
            sign_in: settings.oidc.as_ref().map(|o| SignIn {
                issuer: o.issuer.clone(),
                client_id: o.client_id.clone(),
                scope: o.scope.clone(),
                resource: o.resource.clone(),
            }),
        };
        let link_fingerprint = info
            .manifest
            .as_ref()
            .and_then(sealpass_core::manifest::SignedManifest::signer_fingerprint)
            .unwrap_or_else(|| info.fingerprint.clone());
        Live { staff: settings.staff.clone(), info, link_fingerprint, webhooks: settings.webhooks.clone(), oidc }
    }
}

/// New configs for a running server, each already loaded and validated by the caller (or why
/// it could not be): `sealpass serve` sends one at every SIGHUP.
pub type Reloads = tokio::sync::mpsc::Receiver<Result<ServerSettings, String>>;

/// What the webhook deliverers share, and the tasks running now.
pub(crate) struct Hooks {
    /// This server, for leases.
    holder: String,
    /// The HTTP client.
    http: reqwest::Client,
    running: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    /// By webhook name: what it delivers to, and its deliverer.
    tasks: std::collections::HashMap<String, (Webhook, JoinHandle<()>)>,
    /// Where each webhook this server ran begins, if the store has no cursor for it: the log's
    /// length when the webhook first appeared (at start, or in a reload), so a new webhook gets
    /// what happens from then on, not the history.
    starts: std::collections::HashMap<String, Option<u64>>,
}

impl Hooks {
    pub(crate) fn new(holder: String, http: reqwest::Client) -> Hooks {
        Hooks { holder, http, running: Mutex::new(Running::default()) }
    }

    /// Deliver to `webhooks` from now on; the log is `length` entries long now. Deliverers of
    /// webhooks that are gone or changed stop, new or changed ones start; unchanged ones go on
    /// undisturbed. A stopped deliverer's progress is in the store, so a successor goes on from
    /// there (a delivery cut short is sent again: at least once).
    pub(crate) fn run(&self, state: &AppState, webhooks: &[Webhook], length: Option<u64>) {
        let mut running = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.tasks.retain(|name, (hook, task)| {
            let keep = webhooks.iter().any(|h| &h.name == name && same_webhook(h, hook));
            if !keep {
                task.abort();
            }
            keep
        });
        for hook in webhooks {
            if running.tasks.contains_key(&hook.name) {
                continue;
            }
            let start = *running.starts.entry(hook.name.clone()).or_insert(length);
            let deliverer = Deliverer {
                store: Arc::clone(&state.store),
                hook: hook.clone(),
                metrics: Arc::clone(&state.metrics),
                holder: self.holder.clone(),
                server: state.settings.public_url.clone(),
                start,
                http: self.http.clone(),
                signer: Arc::clone(&state.signer),
            };
            running.tasks.insert(hook.name.clone(), (hook.clone(), tokio::spawn(deliverer.run())));
        }
    }

    /// Stop every deliverer.
    pub(crate) fn stop(&self) {
        let mut running = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, (_, task)) in running.tasks.drain() {
            task.abort();
        }
    }
}

/// The running settings with what a reload changes taken from `new`: staff, recipients,
/// certificates, the manifest, webhooks. Everything else is bound or opened (addresses, TLS,
/// the store), baked into links and limits at start, or guards the server itself, and stays as
/// it started; the names of those that `new` changes come back too, to be warned about.
fn applied(running: &ServerSettings, new: ServerSettings) -> (ServerSettings, Vec<&'static str>) {
    let mut ignored = Vec::new();
    macro_rules! stays {
        ($($field:ident),+) => {
            $(if format!("{:?}", running.$field) != format!("{:?}", new.$field) {
                ignored.push(stringify!($field));
            })+
        };
    }
    stays!(
        listen,
        store,
        allow_anonymous_uploads,
        default_ttl,
        max_ttl,
        max_ciphertext_bytes,
        receipt_key,
        insecure_open_claims,
        tls,
        rate_limits,
        trusted_proxies,
        request_timeout,
        body_timeout,
        concurrency_limit,
        queue_timeout,
        max_requests_per_ip,
        connections,
        min_free_bytes,
        sqlite_synchronous,
        sweep_interval,
        metrics_token_sha256,
        metrics_listen
    );
    if new.public_url_given && new.public_url != running.public_url {
        ignored.push("public_url");
    }
    let settings = ServerSettings {
        oidc: new.oidc,
        staff: new.staff,
        recipients: new.recipients,
        certificates: new.certificates,
        manifest: new.manifest,
        webhooks: new.webhooks,
        ..running.clone()
    };
    (settings, ignored)
}

/// Apply each new config as it comes, until the server stops: a valid one replaces the live
/// snapshot (and restarts webhook deliverers if they changed); one that is not is refused,
/// logged and counted, and the running config stays.
pub(crate) async fn reload_forever(state: AppState, mut reloads: Reloads, hooks: Arc<Hooks>) {
    while let Some(next) = reloads.recv().await {
        let new = match next {
            Ok(settings) => settings,
            Err(why) => {
                state.metrics.reload(false);
                tracing::error!("config reload refused, the running config stays: {why}");
                continue;
            }
        };
        let (settings, ignored) = applied(&state.settings, new);
        let old = state.live();
        let live = Live::new(&settings, state.signer.public_key(), &state.http, Some(&old));
        let hooks_changed = !same_webhooks(&old.webhooks, &live.webhooks);
        let summary = format!(
            "{} staff, {} recipient(s), {} certificate(s), manifest {}, {} webhook(s){}",
            live.staff.len(),
            live.info.recipients.len(),
            live.info.certificates.len(),
            if live.info.manifest.is_some() { "served" } else { "none" },
            live.webhooks.len(),
            if hooks_changed { " (changed deliverers restarted)" } else { "" }
        );
        let webhooks = live.webhooks.clone();
        state.replace_live(live);
        if hooks_changed {
            let length = state.store.audit_head().await.ok().map(|head| head.length);
            hooks.run(&state, &webhooks, length);
        }
        state.metrics.reload(true);
        tracing::info!("config reloaded: {summary}");
        if !ignored.is_empty() {
            tracing::warn!(
                "config reload: {} changed, which takes effect only after a restart (the rest was applied)",
                ignored.join(", ")
            );
        }
    }
}

/// Whether two webhook lists deliver the same events to the same places the same way.
fn same_webhooks(a: &[Webhook], b: &[Webhook]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_webhook(x, y))
}

/// Whether two webhooks deliver the same events to the same place the same way.
fn same_webhook(x: &Webhook, y: &Webhook) -> bool {
    x.name == y.name
        && x.url == y.url
        && x.events == y.events
        && x.format == y.format
        && x.max_queue == y.max_queue
        && x.retry_for == y.retry_for
        && x.secret.as_slice() == y.secret.as_slice()
}
