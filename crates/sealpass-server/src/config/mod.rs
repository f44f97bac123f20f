//! The drop server's settings: flags > `SEALPASS_*` environment > config file (TOML) >
//! defaults, merged and validated once into [`ServerSettings`], then passed down explicitly.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sealpass_core::access::{Role, Roles};
use serde::Deserialize;

mod oidc;
mod webhooks;

pub use oidc::OidcSettings;
pub(crate) use webhooks::loopback;
pub use webhooks::{MAX_WEBHOOKS, Webhook};

/// A service token (`[[staff]]`): a name, the SHA-256 of its bearer token, and its roles.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// Shown as `claimed_by`.
    pub name: String,
    /// SHA-256 of the token.
    pub token_sha256: [u8; 32],
    /// What it may do. A token configured without `roles` (from before roles) has them all.
    pub roles: Roles,
    /// Whether `roles` was given; if not, the server warns once at start.
    pub roles_given: bool,
}

impl std::fmt::Debug for StaffMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaffMember({}, {:?})", self.name, self.roles)
    }
}

/// Where drops are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://PATH`.
    Sqlite(PathBuf),
    /// `redis://…` (a later release).
    Redis(String),
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            // A Redis URL may carry a password: only that is hidden (host, port, database and
            // user name are what an operator needs to see to fix a wrong URL).
            StoreUrl::Redis(text) => match url::Url::parse(text) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    write!(f, "{u}")
                }
                Err(_) => write!(f, "redis://[REDACTED]"),
            },
        }
    }
}

impl StoreUrl {
    /// Parse `sqlite://PATH` (or a bare path) and `redis://…`/`rediss://…`.
    pub fn parse(s: &str) -> Result<StoreUrl, String> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a path, e.g. sqlite:///var/lib/sealpass/drops.db".into());
            }
            Ok(StoreUrl::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("redis://") || s.starts_with("rediss://") {
            Ok(StoreUrl::Redis(s.to_owned()))
        } else if s.contains("://") {
            Err("the store must be sqlite://PATH or redis://HOST:PORT/DB".into())
        } else {
            Ok(StoreUrl::Sqlite(PathBuf::from(s)))
        }
    }
}

/// Per-IP rate limits, in requests per minute; `0` turns one off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Drop and request creation.
    pub create_per_minute: u32,
    /// Claims.
    pub claim_per_minute: u32,
}

/// Bounds on connections, enforced before a request reaches a handler (`server::conn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one address (an IPv6 /64); 0 turns it off. Trusted
    /// proxies are exempt: every client behind them shares their address.
    pub max_connections_per_ip: usize,
    /// Longest a client may take to send a request head once it has started one.
    pub header_timeout: Duration,
    /// Longest a connection may sit idle between requests (and a response may stall unread).
    pub idle_timeout: Duration,
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Longest a graceful shutdown waits for open connections.
    pub shutdown_grace: Duration,
}

/// How hard SQLite makes each commit durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is fsynced before it is answered: an answered upload survives power loss.
    Full,
    /// Commits survive a crash of the process but not of the machine (a power cut can lose
    /// the last second or so of answered uploads).
    Normal,
}

/// Everything the server needs, validated.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where drops are kept.
    pub store: StoreUrl,
    /// Base URL for pickup and request links.
    pub public_url: String,
    /// Whether `public_url` was configured (else it follows the bound address).
    pub public_url_given: bool,
    /// The vendor's recipients, served by `/v1/info`.
    pub recipients: Vec<String>,
    /// Whether uploads without a request are accepted.
    pub allow_anonymous_uploads: bool,
    /// TTL when none is asked for.
    pub default_ttl: Duration,
    /// Largest TTL accepted.
    pub max_ttl: Duration,
    /// Largest ciphertext accepted.
    pub max_ciphertext_bytes: usize,
    /// Certificates published for customers to register (SPEC §9), read and checked at start.
    pub certificates: Vec<sealpass_core::api::PublishedCertificate>,
    /// Staff who may claim, acknowledge, list and request.
    pub staff: Vec<StaffMember>,
    /// Where state changes are delivered (SPEC §10).
    pub webhooks: Vec<Webhook>,
    /// Where the receipt signing key is kept (made on first start); `None`: a key for this
    /// process only (tests, the demo).
    pub receipt_key: Option<PathBuf>,
    /// Whether `receipt_key` is the default, not configured: servers sharing a Redis store then
    /// each make their own, and their fingerprints differ.
    pub receipt_key_defaulted: bool,
    /// Serve claims without staff auth on a non-loopback address.
    pub insecure_open_claims: bool,
    /// Certificate and key (PEM) for serving HTTPS directly.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Per-IP rate limits.
    pub rate_limits: RateLimits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Longest time a request may take.
    pub request_timeout: Duration,
    /// Longest time a request body may take to arrive.
    pub body_timeout: Duration,
    /// Most requests handled at once.
    pub concurrency_limit: usize,
    /// Longest a request waits for one of those slots before a 503.
    pub queue_timeout: Duration,
    /// Most requests in flight from one client address; 0 turns it off.
    pub max_requests_per_ip: usize,
    /// Bounds on connections.
    pub connections: ConnectionLimits,
    /// New uploads are refused (503) while the store's file system has less free space than
    /// this, so claims, acknowledgements and revocations keep working (SQLite only).
    pub min_free_bytes: u64,
    /// SQLite's commit durability.
    pub sqlite_synchronous: Synchronous,
    /// How often expired drops are wiped and old tombstones purged.
    pub sweep_interval: Duration,
    /// The SHA-256 of the bearer token that may read `/metrics` on the public listener; without
    /// it (and without `metrics_listen`), `/metrics` is not served there at all.
    pub metrics_token_sha256: Option<[u8; 32]>,
    /// A separate address that serves `/metrics` (and health) to anyone who reaches it, for a
    /// scraper on a private network; never the public listener's address.
    pub metrics_listen: Option<SocketAddr>,
    /// The vendor's signed manifest (`manifest_file`), served in `/v1/info`; checked against
    /// what this server serves before it starts.
    pub manifest: Option<sealpass_core::manifest::SignedManifest>,
    /// The identity provider staff sign in with (`[oidc]`), if any.
    pub oidc: Option<OidcSettings>,
}

/// The config file, as written. Every key optional; unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<String>,
    store: Option<String>,
    public_url: Option<String>,
    recipients: Option<Vec<String>>,
    allow_anonymous_uploads: Option<bool>,
    default_ttl: Option<String>,
    max_ttl: Option<String>,
    max_ciphertext_bytes: Option<usize>,
    #[serde(default)]
    staff: Vec<FileStaff>,
    #[serde(default)]
    certificates: Vec<FileCertificate>,
    #[serde(default)]
    webhooks: Vec<webhooks::FileWebhook>,
    receipt_key: Option<PathBuf>,
    insecure_open_claims: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    rate_limit_create_per_minute: Option<u32>,
    rate_limit_claim_per_minute: Option<u32>,
    trusted_proxies: Option<Vec<IpAddr>>,
    request_timeout: Option<String>,
    body_timeout: Option<String>,
    concurrency_limit: Option<usize>,
    queue_timeout: Option<String>,
    max_requests_per_ip: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    header_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_header_bytes: Option<usize>,
    shutdown_grace: Option<String>,
    min_free_space: Option<String>,
    sqlite_synchronous: Option<String>,
    sweep_interval: Option<String>,
    metrics_token_sha256: Option<String>,
    metrics_listen: Option<String>,
    manifest_file: Option<PathBuf>,
    oidc: Option<oidc::FileOidc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCertificate {
    name: String,
    file: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStaff {
    name: String,
    token_sha256: String,
    roles: Option<Vec<String>>,
}

impl FileStaff {
    /// The service token it configures, its hash and role names checked.
    fn member(&self) -> Result<StaffMember, String> {
        let token_sha256 = decode_hash(&self.token_sha256, &self.name)?;
        let roles = match &self.roles {
            None => Roles::ALL,
            Some(names) if names.is_empty() => {
                return Err(format!(
                    "staff {}: roles is empty; name at least one of {}",
                    self.name,
                    Roles::ALL.describe()
                ));
            }
            Some(names) => Roles::of(
                names
                    .iter()
                    .map(|n| {
                        Role::from_name(n).ok_or_else(|| {
                            format!(
                                "staff {}: unknown role {:?}; roles are {}",
                                self.name,
                                n.chars().take(32).collect::<String>(),
                                Roles::ALL.describe()
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        };
        Ok(StaffMember { name: self.name.clone(), token_sha256, roles, roles_given: self.roles.is_some() })
    }
}

/// What flags and environment gave (clap fills this); `None` falls through to the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// --listen / SEALPASS_LISTEN.
    pub listen: Option<String>,
    /// --store / SEALPASS_STORE.
    pub store: Option<String>,
    /// --public-url / SEALPASS_PUBLIC_URL.
    pub public_url: Option<String>,
    /// --tls-cert.
    pub tls_cert: Option<PathBuf>,
    /// --tls-key.
    pub tls_key: Option<PathBuf>,
    /// --insecure-open-claims.
    pub insecure_open_claims: bool,
    /// --trusted-proxy (repeatable), added to the file's.
    pub trusted_proxies: Vec<IpAddr>,
    /// Leave `manifest_file` unread: `manifest sign` reads the config to write that file, which
    /// need not exist yet.
    pub without_manifest: bool,
}

/// The longest TTL a server may allow.
pub const MAX_TTL_CEILING: Duration = Duration::from_secs(365 * 86_400);

pub use sealpass_core::duration::parse_duration;

/// `key`'s duration, or `default`, with errors that name the key.
/// A server setting that cannot be used: the message names the key (`max_ttl must be at least
/// 1s`, `request_timeout: 'soon' is not a duration…`) and says what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// Whether the message is about `key`.
    pub fn names(&self, key: &str) -> bool {
        self.0.starts_with(key) || self.0.contains(&format!(" {key}"))
    }

    /// Does the message contain `text`? (For tests and callers that look for a word.)
    pub fn contains(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

impl From<String> for ConfigError {
    fn from(message: String) -> ConfigError {
        ConfigError(message)
    }
}

impl From<&str> for ConfigError {
    fn from(message: &str) -> ConfigError {
        ConfigError(message.to_owned())
    }
}

fn duration(key: &str, value: Option<&str>, default: &str) -> Result<Duration, String> {
    parse_duration(value.unwrap_or(default)).map_err(|e| format!("{key}: {e}"))
}

/// `key`'s duration, at least `min`.
fn duration_at_least(key: &str, value: Option<&str>, default: &str, min: Duration) -> Result<Duration, String> {
    let d = duration(key, value, default)?;
    if d < min {
        return Err(format!("{key} must be at least {min:?}"));
    }
    Ok(d)
}

/// Parse a size: `65536`, `512K`, `64M`, `2G` (powers of 1024; `KiB`/`MiB`/`GiB` too).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("'{s}' is not a size like 65536, 512K, 64M or 2G"))?;
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(format!("'{s}': the unit must be K, M or G")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("'{s}' is too large"))
}

/// Loopback or a private network's address (RFC 1918, IPv6 unique local), never "every address".
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn decode_hash(hex: &str, name: &str) -> Result<[u8; 32], String> {
    let bytes = data_encoding::HEXLOWER_PERMISSIVE.decode(hex.trim().as_bytes()).map_err(|_| {
        format!("staff {name}: token_sha256 must be 64 hex digits (from `sealpass staff-token {name}`)")
    })?;
    bytes.try_into().map_err(|_| format!("staff {name}: token_sha256 must be 64 hex digits"))
}

/// The default store: `$XDG_DATA_HOME/sealpass/drops.db`.
pub fn default_store() -> String {
    sealpass_client::files::data_dir()
        .map(|d| format!("sqlite://{}", d.join("drops.db").display()))
        .unwrap_or_else(|| "sqlite://drops.db".into())
}

impl ServerSettings {
    /// What a manifest for this server, reached at `urls`, signing receipts with `receipt_key`,
    /// says (its recipients and certificates as configured): from now, for `days`. The vendor
    /// key signs it (`sealpass manifest sign`).
    pub fn manifest_body(
        &self,
        urls: Vec<String>,
        serial: u64,
        days: u64,
        receipt_key: String,
    ) -> sealpass_core::manifest::ManifestBody {
        let now = crate::now();
        let rfc3339 = sealpass_core::events::rfc3339;
        sealpass_core::manifest::ManifestBody {
            v: sealpass_core::manifest::VERSION,
            serial,
            issued_at: rfc3339(now),
            expires_at: rfc3339(now.saturating_add((days as i64).saturating_mul(86_400))),
            urls,
            recipients: self.recipients.clone(),
            certificates: self
                .certificates
                .iter()
                .map(|c| sealpass_core::manifest::ManifestCertificate {
                    name: c.name.clone(),
                    sha256: c.sha256.to_ascii_lowercase(),
                })
                .collect(),
            receipt_key,
        }
    }
    /// Merge overrides, the config file (if any) and defaults; validate everything once.
    pub fn load(overrides: Overrides, config_file: Option<&Path>) -> Result<ServerSettings, ConfigError> {
        let file: FileConfig = match config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                // Not toml's own text: it quotes the offending line, which may hold a webhook's
                // URL and its token.
                toml::from_str(&text).map_err(|e| {
                    let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                    format!("{}: line {line}: {}", path.display(), e.message())
                })?
            }
            None => FileConfig::default(),
        };
        let settings = ServerSettings::merge(overrides, file)?;
        // A server to run (not a test's or the demo's) must say whom senders seal to.
        if settings.recipients.is_empty() {
            return Err("recipients: none configured: add the vendor's age recipients to the config (recipients = \
                 [\"age1…\"]; `sealpass recipient` prints yours), so senders know whom to seal to"
                .into());
        }
        Ok(settings)
    }

    /// Merge already-parsed parts.
    pub fn merge(o: Overrides, f: FileConfig) -> Result<ServerSettings, ConfigError> {
        ServerSettings::merged(o, f).map_err(ConfigError)
    }

    fn merged(o: Overrides, f: FileConfig) -> Result<ServerSettings, String> {
        let listen_text = o.listen.or(f.listen).unwrap_or_else(|| "127.0.0.1:8427".into());
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| format!("listen: '{listen_text}' is not an address like 127.0.0.1:8427"))?;
        let store = StoreUrl::parse(&o.store.or(f.store).unwrap_or_else(default_store))?;
        let tls = match (o.tls_cert.or(f.tls_cert), o.tls_key.or(f.tls_key)) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("TLS needs both --tls-cert and --tls-key".into()),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let given_url = o.public_url.or(f.public_url);
        if given_url.is_none() && !listen.ip().is_loopback() {
            return Err(format!(
                "listening on {listen} needs public_url (the URL people reach this server at, used in links)"
            ));
        }
        let public_url_given = given_url.is_some();
        let public_url = given_url.unwrap_or_else(|| format!("{scheme}://{listen}")).trim_end_matches('/').to_owned();
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            return Err(format!("public_url '{public_url}' must start with https:// (or http:// for testing)"));
        }
        // The server speaks TLS itself: an http:// link would reach it in plain HTTP and fail.
        if tls.is_some() && public_url.starts_with("http://") {
            return Err(format!(
                "public_url '{public_url}' is http://, but this server speaks TLS (tls_cert, tls_key): links must \
                 start with https://"
            ));
        }
        let recipients = f.recipients.unwrap_or_default();
        if recipients.len() > sealpass_core::api::MAX_RECIPIENTS {
            return Err(format!(
                "recipients: {} configured, at most {} (senders seal to every key of one kind, and headers with more stanzas are refused)",
                recipients.len(),
                sealpass_core::api::MAX_RECIPIENTS
            ));
        }
        for r in &recipients {
            r.parse::<sealpass_core::crypto::Recipient>().map_err(|e| format!("recipients: {e}"))?;
        }
        let default_ttl = duration("default_ttl", f.default_ttl.as_deref(), "72h")?;
        let max_ttl = duration("max_ttl", f.max_ttl.as_deref(), "7d")?;
        if max_ttl < Duration::from_secs(1) {
            return Err("max_ttl must be at least 1s".into());
        }
        if max_ttl > MAX_TTL_CEILING {
            return Err("max_ttl may be at most 365d: a credential should not wait for a year".into());
        }
        if default_ttl > max_ttl || default_ttl < Duration::from_secs(1) {
            return Err("default_ttl must be at least 1s and no more than max_ttl".into());
        }
        let staff = f.staff.iter().map(FileStaff::member).collect::<Result<Vec<_>, String>>()?;
        if let Some(bad) = staff.iter().find(|s| s.name.is_empty() || s.name.chars().any(char::is_control)) {
            return Err(format!("staff name {:?} must be non-empty printable text", bad.name));
        }
        for (i, a) in staff.iter().enumerate() {
            if staff[..i].iter().any(|b| b.name == a.name || b.token_sha256 == a.token_sha256) {
                return Err(format!("staff {}: each staff member needs their own name and token", a.name));
            }
        }
        let certificates = published_certificates(&f.certificates)?;
        let webhooks = webhooks::webhooks(&f.webhooks)?;
        let receipt_key_defaulted = f.receipt_key.is_none();
        let receipt_key = Some(webhooks::receipt_key_path(f.receipt_key.clone(), &store)?);
        let insecure_open_claims = o.insecure_open_claims || f.insecure_open_claims.unwrap_or(false);
        let trusted_proxies: Vec<IpAddr> = f
            .trusted_proxies
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(o.trusted_proxies.iter().copied())
            .collect();
        // Open claims, and a server without staff at all, only when nobody but this machine can
        // reach it: not on a public address, nor behind a proxy (a public_url or trusted_proxies
        // say there is one).
        let reachable = !listen.ip().is_loopback() || !trusted_proxies.is_empty() || public_url_given;
        if insecure_open_claims && reachable {
            return Err(format!(
                "--insecure-open-claims lets anyone who reaches the server claim drops: it is for tests on a loopback \
                 address with no public_url or trusted_proxies, not on {listen}{}. Add staff (sealpass staff-token \
                 NAME) instead",
                if listen.ip().is_loopback() { " behind a proxy" } else { "" }
            ));
        }
        let oidc = f.oidc.as_ref().map(oidc::FileOidc::settings).transpose()?;
        if staff.is_empty() && oidc.is_none() && reachable {
            return Err(format!(
                "no [[staff]] or [oidc] are configured, so nobody could receive what customers send; refusing to \
                 serve on {listen} (public_url/trusted_proxies make it reachable from elsewhere). Add staff \
                 (sealpass staff-token NAME) or an identity provider ([oidc])"
            ));
        }
        if insecure_open_claims && oidc.is_some() {
            return Err("--insecure-open-claims and [oidc] do not go together: with [oidc], staff sign in".into());
        }
        let second = Duration::from_secs(1);
        let request_timeout = duration_at_least("request_timeout", f.request_timeout.as_deref(), "30s", second)?;
        let body_timeout = duration_at_least("body_timeout", f.body_timeout.as_deref(), "10s", second)?;
        let queue_timeout =
            duration_at_least("queue_timeout", f.queue_timeout.as_deref(), "2s", Duration::from_millis(1))?;
        let connections = ConnectionLimits {
            max_connections: f.max_connections.unwrap_or(4096).max(1),
            max_connections_per_ip: f.max_connections_per_ip.unwrap_or(64),
            header_timeout: duration_at_least("header_timeout", f.header_timeout.as_deref(), "10s", second)?,
            idle_timeout: duration_at_least("idle_timeout", f.idle_timeout.as_deref(), "60s", second)?,
            max_header_bytes: f.max_header_bytes.unwrap_or(16 * 1024),
            shutdown_grace: duration("shutdown_grace", f.shutdown_grace.as_deref(), "10s")?,
        };
        if !(8192..=1024 * 1024).contains(&connections.max_header_bytes) {
            return Err("max_header_bytes must be from 8192 to 1048576".into());
        }
        let min_free_bytes =
            parse_size(f.min_free_space.as_deref().unwrap_or("64M")).map_err(|e| format!("min_free_space: {e}"))?;
        let sqlite_synchronous = match f.sqlite_synchronous.as_deref().unwrap_or("full") {
            "full" => Synchronous::Full,
            "normal" => Synchronous::Normal,
            other => {
                return Err(format!("sqlite_synchronous: '{other}' must be \"full\" (the default) or \"normal\""));
            }
        };
        let metrics_token_sha256 = match f.metrics_token_sha256.as_deref() {
            None => None,
            Some(hex) => Some(
                data_encoding::HEXLOWER_PERMISSIVE
                    .decode(hex.trim().as_bytes())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or("metrics_token_sha256 must be 64 hex digits (the token_sha256 `sealpass staff-token prometheus` prints)")?,
            ),
        };
        let metrics_listen = match f.metrics_listen.as_deref() {
            None => None,
            Some(text) => {
                let at: SocketAddr = text
                    .parse()
                    .map_err(|_| format!("metrics_listen: '{text}' is not an address like 127.0.0.1:9427"))?;
                if at == listen {
                    return Err("metrics_listen must differ from listen: metrics stay off the public listener".into());
                }
                if !is_private(at.ip()) {
                    return Err(format!(
                        "metrics_listen {at} would serve metrics to anyone who reaches it: use a loopback or private \
                         address (127.0.0.1:9427, 10.0.0.5:9427), or metrics_token_sha256 on the public listener"
                    ));
                }
                Some(at)
            }
        };
        let manifest = match &f.manifest_file {
            _ if o.without_manifest => None,
            None => None,
            Some(path) => {
                let bytes = sealpass_client::files::read_public(path, sealpass_core::manifest::MAX_MANIFEST_BYTES * 2)
                    .map_err(|e| format!("manifest_file: {e}"))?;
                let signed: sealpass_core::manifest::SignedManifest = serde_json::from_slice(&bytes).map_err(|e| {
                    format!(
                        "manifest_file {}: not a sealpass manifest ({e}); sealpass manifest sign makes one",
                        path.display()
                    )
                })?;
                Some(signed)
            }
        };
        let settings = ServerSettings {
            manifest,
            oidc,
            metrics_token_sha256,
            metrics_listen,
            listen,
            store,
            public_url,
            recipients,
            allow_anonymous_uploads: f.allow_anonymous_uploads.unwrap_or(true),
            default_ttl,
            max_ttl,
            max_ciphertext_bytes: f.max_ciphertext_bytes.unwrap_or(128 * 1024),
            staff,
            certificates,
            webhooks,
            receipt_key,
            receipt_key_defaulted,
            insecure_open_claims,
            tls,
            rate_limits: RateLimits {
                create_per_minute: f.rate_limit_create_per_minute.unwrap_or(60),
                claim_per_minute: f.rate_limit_claim_per_minute.unwrap_or(120),
            },
            trusted_proxies,
            request_timeout,
            body_timeout,
            public_url_given,
            concurrency_limit: f.concurrency_limit.unwrap_or(512).max(1),
            queue_timeout,
            max_requests_per_ip: f.max_requests_per_ip.unwrap_or(16),
            connections,
            min_free_bytes,
            sqlite_synchronous,
            sweep_interval: duration_at_least("sweep_interval", f.sweep_interval.as_deref(), "60s", second)?,
        };
        if settings.max_ciphertext_bytes < 1024 {
            return Err("max_ciphertext_bytes must be at least 1024".into());
        }
        Ok(settings)
    }

    /// Settings for tests and the demo: loopback, the given store, no rate limits, no
    /// per-address caps (everything comes from 127.0.0.1), no free-space floor.
    pub fn for_tests(store: StoreUrl) -> ServerSettings {
        let mut s = ServerSettings::merge(Overrides { store: None, ..Overrides::default() }, FileConfig::default())
            .expect("defaults are valid");
        s.store = store;
        s.listen = "127.0.0.1:0".parse().expect("a loopback address");
        s.rate_limits = RateLimits { create_per_minute: 0, claim_per_minute: 0 };
        s.min_free_bytes = 0;
        s.max_requests_per_ip = 0;
        s.connections.max_connections_per_ip = 0;
        s.receipt_key = None;
        s
    }
}

/// The `[[certificates]]`, read: public certificates only, distinct names and certificates.
fn published_certificates(
    entries: &[FileCertificate],
) -> Result<Vec<sealpass_core::api::PublishedCertificate>, String> {
    if entries.len() > sealpass_core::api::MAX_CERTIFICATES {
        return Err(format!("certificates: at most {} may be published", sealpass_core::api::MAX_CERTIFICATES));
    }
    let mut out: Vec<sealpass_core::api::PublishedCertificate> = Vec::new();
    for entry in entries {
        sealpass_core::cert::check_name(&entry.name).map_err(|e| format!("certificates: {:?}: {e}", entry.name))?;
        let at = format!("certificates: {} ({})", entry.name, entry.file.display());
        let bytes = sealpass_client::files::read_public(&entry.file, sealpass_core::cert::MAX_PEM_BYTES)
            .map_err(|e| format!("{at}: {e}"))?;
        let certificate = sealpass_core::cert::parse_public_pem(&bytes).map_err(|e| format!("{at}: {e}"))?;
        if out.iter().any(|c| c.name == entry.name || c.sha256 == certificate.sha256) {
            return Err(format!("{at}: published twice (each certificate once, under its own name)"));
        }
        out.push(sealpass_core::cert::published(&entry.name, &certificate));
    }
    Ok(out)
}

/// The commented default config, printed by `sealpass serve --print-default-config`.
pub const DEFAULT_CONFIG: &str = r#"# sealpass drop server configuration (TOML).
# Flags and SEALPASS_* environment variables override what is here.

# Address to listen on. Without [[staff]] below, only a loopback address is allowed.
listen = "127.0.0.1:8427"

# Where drops are kept: sqlite://PATH (embedded, the default) or redis://HOST:PORT/DB.
# store = "sqlite:///var/lib/sealpass/drops.db"

# The URL people reach this server at; pickup and request links are made from it.
# public_url = "https://drop.example.com"

# The vendor's age recipients, served by GET /v1/info with their fingerprint: post-quantum
# (age1pq1…, what `sealpass keygen` makes) and, while moving to them, classical (age1…) ones.
# Senders seal to the post-quantum ones whenever there is one (docs/operations.md).
recipients = []

# Accept uploads that answer no request.
allow_anonymous_uploads = true

# Time to live of a drop when the sender asks for none, and the most it may ask for.
default_ttl = "72h"
max_ttl = "7d"

# Largest ciphertext accepted, in bytes (room for a 48 KiB key file, sealed and armored).
max_ciphertext_bytes = 131072

# Per-IP rate limits, in requests per minute (0 = off).
rate_limit_create_per_minute = 60
rate_limit_claim_per_minute = 120

# Reverse proxies whose X-Forwarded-For header is believed.
trusted_proxies = []

# Bounds on each request: the whole request, its body's arrival, how many run at once (a
# request waits at most queue_timeout for a slot, then gets 503), and how many one client
# address may have in flight (0 = off).
request_timeout = "30s"
body_timeout = "10s"
concurrency_limit = 512
queue_timeout = "2s"
max_requests_per_ip = 16

# Bounds on connections: how many in all and from one address (0 = off; trusted proxies are
# exempt), how long a client may take to send a request head, how long a connection may idle,
# the largest request head, and how long a graceful shutdown waits.
max_connections = 4096
max_connections_per_ip = 64
header_timeout = "10s"
idle_timeout = "60s"
max_header_bytes = 16384
shutdown_grace = "10s"

# New uploads are refused (503) while the store's file system has less free space than this,
# so staff can still claim, acknowledge and revoke what is waiting. SQLite only.
min_free_space = "64M"

# "full": every answered upload is on disk (fsync per group commit) and survives power loss.
# "normal": survives a crash of the process, not of the machine; faster. SQLite only.
sqlite_synchronous = "full"

# How often expired drops are wiped and old tombstones purged.
sweep_interval = "60s"

# The Ed25519 key that signs receipts (made on first start, mode 0600; back it up with the
# store). Its public half is in /v1/info and in the fingerprint, so losing it changes the
# fingerprint. Default: receipt.key next to an SQLite store, or in the data directory. Servers
# sharing a Redis store must all read the same file.
# receipt_key = "/var/lib/sealpass/receipt.key"

# Serve HTTPS directly (PEM files). Usually a reverse proxy terminates TLS instead.
# tls_cert = "/etc/sealpass/cert.pem"
# tls_key = "/etc/sealpass/key.pem"

# Prometheus metrics (no ids, no tokens, but business volumes) are not served on the public
# listener unless a scraper presents this token's hash's token (make one with `sealpass
# staff-token prometheus` and take its token_sha256), or on an address of their own.
# metrics_token_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
# metrics_listen = "127.0.0.1:9427"

# The vendor's signed manifest of what this server may serve (recipients, certificates, the
# receipt key, public_url): `sealpass manifest sign --vendor-key vendor.key --config THIS -o FILE`
# on the machine that keeps the vendor key. Served in /v1/info; links and pins name the vendor
# key's sp4- fingerprint, so they survive every change the vendor re-signs. The server refuses
# to start when it does not vouch for exactly what the server serves, or has expired.
# manifest_file = "/etc/sealpass/manifest.json"

# Certificates customers register for the kinds without a secret (salesforce-jwt,
# entra-certificate): public certificates only, PEM; `sealpass cert new --name NAME` makes the
# key (keep it off this server) and the certificate. Published in /v1/info, covered by links.
# [[certificates]]
# name = "kore-integration"
# file = "/etc/sealpass/kore-integration.crt"

# Service tokens, for automation and for staff until they sign in with the identity provider.
# `sealpass staff-token NAME` prints a token (give it to NAME) and the block to paste here.
# roles: any of requester (create requests, see and cancel their own), receiver (inbox, claim,
# acknowledge, release their own claim), auditor (audit log, receipts), admin (everything).
# A token without roles may do everything, as before roles existed; the server warns about it.
# [[staff]]
# name = "alice"
# token_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
# roles = ["receiver"]

# Staff sign in with the company's identity provider (OpenID Connect; docs/operations.md has
# Entra ID and Okta step by step). The server checks each access token (a JWT) against the
# issuer's published keys: signature, issuer, audience, expiry. Groups map to roles; a person in
# no mapped group has no role. https only (http only on this machine, for tests).
# [oidc]
# issuer = "https://login.microsoftonline.com/TENANT-ID/v2.0"
# audience = "API-APPLICATION-ID"      # the aud of access tokens for sealpass
# client_id = "CLI-APPLICATION-ID"     # the public client `sealpass login` signs in with
# groups_claim = "groups"              # default
# name_claim = "preferred_username"    # default; then email, then sub
# leeway_seconds = 30                  # clock skew allowed on exp and nbf, at most 300
# scope = "openid offline_access"      # default; what `sealpass login` asks for (Entra ID: add
#                                      # "api://API-APPLICATION-ID/access"; Okta: your API's scope)
# resource = "https://sealpass.example.com"  # RFC 8707 resource indicator, for providers that want one
# [oidc.roles]
# "GROUP-ID-OF-ACCOUNT-MANAGERS" = ["requester"]
# "GROUP-ID-OF-ENGINEERS" = ["requester", "receiver"]
# "GROUP-ID-OF-SECURITY" = ["auditor"]

# Where every state change is posted, signed (docs/events.md). The secret file (mode 0600,
# at least 16 characters: `openssl rand -hex 32`) keys the HMAC; events defaults to all of
# drop.created, drop.claimed, drop.received, drop.revoked, drop.expired, drop.released,
# request.created, request.fulfilled, request.expired and request.cancelled. format = "slack"
# or "teams" posts one line of text. A failing endpoint is retried with backoff for retry_for
# (at least 1h); at most max_queue events wait for it. `sealpass webhook test` sends each a signed test delivery.
# [[webhooks]]
# name = "ops"
# url = "https://hooks.example.com/sealpass"
# secret_file = "/etc/sealpass/ops-webhook.secret"
# events = ["drop.created", "drop.received"]
# format = "sealpass"
# retry_for = "2h"
# max_queue = 10000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_parses_and_validates() {
        let file: FileConfig = toml::from_str(DEFAULT_CONFIG).unwrap();
        let s = ServerSettings::merge(Overrides::default(), file).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8427".parse().unwrap());
        assert_eq!(s.default_ttl, Duration::from_secs(72 * 3600));
        assert_eq!(s.max_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(s.max_ciphertext_bytes, 131072);
        assert!(s.allow_anonymous_uploads);
    }

    #[test]
    fn flags_beat_the_file() {
        let file: FileConfig = toml::from_str("listen = \"127.0.0.1:1\"\nstore = \"sqlite:///a.db\"").unwrap();
        let o = Overrides { listen: Some("127.0.0.1:2".into()), ..Overrides::default() };
        let s = ServerSettings::merge(o, file).unwrap();
        assert_eq!(s.listen.port(), 2);
        assert_eq!(s.store, StoreUrl::Sqlite("/a.db".into()));
    }

    #[test]
    fn service_tokens_hold_the_roles_they_name() {
        let with = |roles: &str| {
            let text = format!("[[staff]]\nname = \"ci\"\ntoken_sha256 = \"{}\"\n{roles}", "ab".repeat(32));
            ServerSettings::merge(Overrides::default(), toml::from_str(&text).unwrap())
        };
        let s = with("roles = [\"receiver\", \"auditor\"]").unwrap();
        assert_eq!(s.staff[0].roles, Roles::of([Role::Receiver, Role::Auditor]));
        assert!(s.staff[0].roles_given);
        // Configs from before roles keep what they could do: everything.
        let s = with("").unwrap();
        assert_eq!((s.staff[0].roles, s.staff[0].roles_given), (Roles::ALL, false));
        let e = with("roles = [\"root\"]").unwrap_err();
        assert!(e.contains("unknown role \"root\"") && e.contains("requester, receiver, auditor, admin"), "{e}");
        assert!(with("roles = []").unwrap_err().contains("roles is empty"));
        // A role's name is exact.
        assert!(with("roles = [\"Admin\"]").is_err());
    }

    #[test]
    fn oidc_is_checked_at_load() {
        let with = |oidc: &str| {
            let text = format!("[oidc]\n{oidc}");
            ServerSettings::merge(Overrides::default(), toml::from_str(&text).unwrap())
        };
        let ok = "issuer = \"https://login.example.com/t/v2.0\"\naudience = \"api://sealpass\"\nclient_id = \"cli\"";
        let s = with(&format!("{ok}\n[oidc.roles]\n\"kore-staff\" = [\"requester\", \"receiver\"]")).unwrap();
        let oidc = s.oidc.unwrap();
        assert_eq!(
            (oidc.groups_claim.as_str(), oidc.name_claim.as_str(), oidc.leeway_seconds),
            ("groups", "preferred_username", 30)
        );
        assert_eq!(oidc.roles["kore-staff"], Roles::of([Role::Requester, Role::Receiver]));
        // Plain http only on this machine; the roles by their exact names; a bounded leeway.
        assert!(
            with(&ok.replace("https://login.example.com", "http://login.example.com")).unwrap_err().contains("https")
        );
        assert!(with(&ok.replace("https://login.example.com", "http://127.0.0.1:9")).is_ok());
        let e = with(&format!("{ok}\n[oidc.roles]\ng = [\"boss\"]")).unwrap_err();
        assert!(e.contains("unknown role \"boss\""), "{e}");
        assert!(with(&format!("{ok}\nleeway_seconds = 3600")).unwrap_err().contains("leeway_seconds"));
        assert!(with(&ok.replace("api://sealpass", " ")).unwrap_err().contains("audience"));
        // What `sealpass login` asks for: a default scope, one of the operator's, a resource URL.
        assert_eq!((oidc.scope.as_str(), oidc.resource.as_deref()), ("openid offline_access", None));
        let asked =
            with(&format!("{ok}\nscope = \"openid api://sealpass/access\"\nresource = \"https://drop.example.com\""))
                .unwrap()
                .oidc
                .unwrap();
        assert_eq!(
            (asked.scope.as_str(), asked.resource.as_deref()),
            ("openid api://sealpass/access", Some("https://drop.example.com"))
        );
        for bad in [
            "scope = \"openid  profile\"",
            "scope = \"\"",
            "scope = \"a\\\"b\"",
            "resource = \"drop\"",
            "resource = \"https://x/#f\"",
        ] {
            assert!(with(&format!("{ok}\n{bad}")).is_err(), "{bad}");
        }
        // [oidc] counts as staff: a reachable server may run with it alone, never with open claims.
        let public = Overrides { public_url: Some("https://drop.example.com".into()), ..Overrides::default() };
        assert!(ServerSettings::merge(public.clone(), toml::from_str(&format!("[oidc]\n{ok}")).unwrap()).is_ok());
        let open = Overrides { insecure_open_claims: true, ..Overrides::default() };
        assert!(
            ServerSettings::merge(open, toml::from_str(&format!("[oidc]\n{ok}")).unwrap())
                .unwrap_err()
                .contains("[oidc]")
        );
    }

    fn staffed_again() -> FileConfig {
        toml::from_str(&format!("[[staff]]\nname = \"alice\"\ntoken_sha256 = \"{}\"", "ab".repeat(32))).unwrap()
    }

    #[test]
    fn open_claims_on_a_public_address_are_refused() {
        let o = Overrides {
            listen: Some("0.0.0.0:8427".into()),
            public_url: Some("https://drop.example.com".into()),
            ..Overrides::default()
        };
        let e = ServerSettings::merge(o.clone(), FileConfig::default()).unwrap_err();
        assert!(e.contains("no [[staff]]"), "{e}");
        let behind_proxy = Overrides { trusted_proxies: vec!["127.0.0.1".parse().unwrap()], ..Overrides::default() };
        assert!(
            ServerSettings::merge(behind_proxy.clone(), FileConfig::default()).unwrap_err().contains("no [[staff]]")
        );
        // The flag is for tests on loopback: never on a public address, nor behind a proxy.
        let public = Overrides { insecure_open_claims: true, ..o };
        assert!(ServerSettings::merge(public, FileConfig::default()).unwrap_err().contains("loopback"));
        let proxied = Overrides { insecure_open_claims: true, ..behind_proxy };
        assert!(ServerSettings::merge(proxied, FileConfig::default()).unwrap_err().contains("behind a proxy"));
        let with_url = Overrides {
            insecure_open_claims: true,
            public_url: Some("https://drop.example.com".into()),
            ..Overrides::default()
        };
        assert!(ServerSettings::merge(with_url, FileConfig::default()).unwrap_err().contains("behind a proxy"));
        let local = Overrides { insecure_open_claims: true, ..Overrides::default() };
        assert!(ServerSettings::merge(local, FileConfig::default()).is_ok());
        let staffed: FileConfig =
            toml::from_str(&format!("[[staff]]\nname = \"alice\"\ntoken_sha256 = \"{}\"", "ab".repeat(32))).unwrap();
        let o = Overrides {
            listen: Some("0.0.0.0:8427".into()),
            public_url: Some("https://drop.example.com".into()),
            ..Overrides::default()
        };
        assert!(ServerSettings::merge(o, staffed).is_ok());
        let no_url = Overrides { listen: Some("0.0.0.0:8427".into()), ..Overrides::default() };
        assert!(ServerSettings::merge(no_url, staffed_again()).unwrap_err().contains("public_url"));
    }

    #[test]
    fn bad_values_are_named() {
        for (toml, says) in [
            ("listen = \"nowhere\"", "listen"),
            ("default_ttl = \"3 weeks\"", "unit"),
            ("default_ttl = \"8d\"", "max_ttl"),
            ("recipients = [\"age1nope\"]", "recipients"),
            ("colour = \"blue\"", "unknown field"),
            ("metrics_listen = \"0.0.0.0:9427\"", "loopback or private"),
            ("metrics_listen = \"127.0.0.1:8427\"", "differ from listen"),
            ("metrics_token_sha256 = \"abc\"", "64 hex digits"),
            ("[[staff]]\nname = \"bob\"\ntoken_sha256 = \"xyz\"", "64 hex digits"),
            ("max_ttl = \"9223372036854775807s\"", "365d"),
            ("max_ttl = \"300000000000000000d\"", "too long"),
            ("request_timeout = \"0s\"", "request_timeout"),
            ("request_timeout = \"soon\"", "request_timeout"),
            ("max_ttl = \"0s\"", "max_ttl must be"),
            ("default_ttl = \"0s\"", "default_ttl"),
            ("header_timeout = \"1x\"", "header_timeout"),
            ("max_header_bytes = 100", "max_header_bytes"),
            ("min_free_space = \"lots\"", "min_free_space"),
            ("sqlite_synchronous = \"off\"", "sqlite_synchronous"),
        ] {
            let e = toml::from_str::<FileConfig>(toml)
                .map_err(|e| e.to_string())
                .and_then(|f| ServerSettings::merge(Overrides::default(), f).map(|_| ()).map_err(|e| e.0))
                .unwrap_err();
            assert!(e.contains(says), "{toml}: {e}");
        }
    }

    #[test]
    fn a_config_error_names_its_own_key_only() {
        let merge = |toml: &str| ServerSettings::merge(Overrides::default(), toml::from_str(toml).unwrap());
        let e = merge("max_ttl = \"0s\"").unwrap_err();
        assert!(e.names("max_ttl") && !e.names("default_ttl"), "{e}");
        let e = merge("request_timeout = \"soon\"").unwrap_err();
        assert!(e.names("request_timeout"), "{e}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert!(parse_size("1T").is_err() && parse_size("M").is_err());
    }

    #[test]
    fn durations_and_store_urls() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert!(parse_duration("h").is_err());
        assert_eq!(StoreUrl::parse("drops.db").unwrap(), StoreUrl::Sqlite("drops.db".into()));
        assert!(StoreUrl::parse("postgres://x").is_err());
        assert_eq!(format!("{:?}", StoreUrl::parse("redis://:hunter2@h:6379/0").unwrap()), "redis://:***@h:6379/0");
    }
}
