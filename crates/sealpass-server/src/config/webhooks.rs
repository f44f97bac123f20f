//! The events part of the server's config (SPEC §10): `[[webhooks]]`, read and checked at start
//! (a secret file readable by others, a plain-HTTP URL to another machine or an unknown event
//! stops the server), and where the receipt key lives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use zeroize::Zeroizing;

use sealpass_core::events::EventKind;
use sealpass_core::webhook::BodyFormat;

/// Most webhooks a server delivers to.
pub const MAX_WEBHOOKS: usize = 16;
/// Shortest secret accepted.
const MIN_SECRET_BYTES: usize = 16;
/// Largest secret file read.
const MAX_SECRET_BYTES: usize = 4096;

/// `[[webhooks]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhook {
    name: String,
    url: String,
    secret_file: PathBuf,
    events: Option<Vec<String>>,
    format: Option<String>,
    max_queue: Option<u64>,
    retry_for: Option<String>,
}

/// One webhook, checked.
#[derive(Clone)]
pub struct Webhook {
    /// Its name: in logs, metrics and the store's cursor (never the URL, which may hold a
    /// token, as Slack's and Teams' do).
    pub name: String,
    /// Where deliveries go.
    pub url: reqwest::Url,
    /// The HMAC key.
    pub secret: Arc<Zeroizing<Vec<u8>>>,
    /// The events it gets.
    pub events: Vec<EventKind>,
    /// Its body format.
    pub format: BodyFormat,
    /// Most undelivered events kept for it; older ones are skipped (and counted).
    pub max_queue: u64,
    /// How long one event is retried before it is given up.
    pub retry_for: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Webhook({}, {}, [REDACTED])", self.name, self.url.host_str().unwrap_or("?"))
    }
}

/// Whether a plain-HTTP URL stays on this machine (webhooks, the identity provider).
pub(crate) fn loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The `[[webhooks]]`, checked.
pub(super) fn webhooks(entries: &[FileWebhook]) -> Result<Vec<Webhook>, String> {
    if entries.len() > MAX_WEBHOOKS {
        return Err(format!("webhooks: at most {MAX_WEBHOOKS}"));
    }
    let mut out: Vec<Webhook> = Vec::new();
    for entry in entries {
        if !sealpass_core::cert::valid_name(&entry.name) {
            return Err(format!(
                "webhooks: {:?}: a webhook's name must be 1–64 characters of a–z, A–Z, 0–9, . _ - (not starting with \
                 . or -), e.g. ops-slack",
                entry.name
            ));
        }
        let at = format!("webhooks: {}", entry.name);
        if out.iter().any(|w| w.name == entry.name) {
            return Err(format!("{at}: two webhooks have this name"));
        }
        // Never quote the URL: Slack's and Teams' carry their token in the path.
        let url = reqwest::Url::parse(&entry.url).map_err(|e| format!("{at}: url is not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if loopback(&url) => {}
            "http" => return Err(format!("{at}: url must be https:// (plain http only to this machine)")),
            _ => return Err(format!("{at}: url must be https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{at}: url must not carry a user or password"));
        }
        let secret = sealpass_client::files::read_private(&entry.secret_file, MAX_SECRET_BYTES)
            .map_err(|e| format!("{at}: secret_file: {e}"))?;
        let text = std::str::from_utf8(&secret).map_err(|_| format!("{at}: secret_file must hold text"))?.trim();
        if text.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "{at}: the secret must be at least {MIN_SECRET_BYTES} characters (`openssl rand -hex 32` makes one)"
            ));
        }
        let events = match &entry.events {
            None => EventKind::ALL.to_vec(),
            Some(names) if names.is_empty() => return Err(format!("{at}: events is empty (leave it out for all)")),
            Some(names) => names
                .iter()
                .map(|n| {
                    EventKind::from_name(n).ok_or_else(|| {
                        let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                        format!("{at}: unknown event {n:?}; known: {}", known.join(", "))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let format = match entry.format.as_deref().unwrap_or("sealpass") {
            "sealpass" => BodyFormat::Sealpass,
            "slack" => BodyFormat::Slack,
            "teams" => BodyFormat::Teams,
            other => return Err(format!("{at}: format {other:?} must be \"sealpass\", \"slack\" or \"teams\"")),
        };
        let retry_for = super::duration(&format!("{at}: retry_for"), entry.retry_for.as_deref(), "2h")?;
        if retry_for < Duration::from_secs(3600) {
            return Err(format!("{at}: retry_for must be at least 1h"));
        }
        let max_queue = entry.max_queue.unwrap_or(10_000);
        if max_queue == 0 {
            return Err(format!("{at}: max_queue must be at least 1"));
        }
        out.push(Webhook {
            name: entry.name.clone(),
            url,
            secret: Arc::new(Zeroizing::new(text.as_bytes().to_vec())),
            events,
            format,
            max_queue,
            retry_for,
        });
    }
    Ok(out)
}

/// Where the receipt key is kept: the config's `receipt_key`, else `receipt.key` next to an
/// SQLite store, else in sealpass's data directory. A Redis server with neither would make a
/// new key (a new fingerprint) at every start: refused.
pub(super) fn receipt_key_path(given: Option<PathBuf>, store: &super::StoreUrl) -> Result<PathBuf, String> {
    if let Some(given) = given {
        return Ok(given);
    }
    match store {
        super::StoreUrl::Sqlite(path) => Ok(path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("receipt.key")),
        super::StoreUrl::Redis(_) => {
            sealpass_client::files::data_dir().map(|d| d.join("receipt.key")).ok_or_else(|| {
                "receipt_key: no data directory ($XDG_DATA_HOME and $HOME are unset) to keep the receipt key in: set \
             receipt_key to a file every server sharing this store reads"
                    .to_owned()
            })
        }
    }
}
