//! `sealpass serve` and `sealpass staff-token`: run the drop server; make staff tokens.

use std::path::PathBuf;

use crate::output::Printer;
use sealpass_client::exit::{Exit, Failure};
use sealpass_server::config::{DEFAULT_CONFIG, Overrides, ServerSettings};

#[derive(Debug, clap::Args)]
#[command(after_help = "Precedence: flags > SEALPASS_* environment > config file > defaults.\n\
    Logs go to stderr; SEALPASS_LOG=debug shows every request (never tokens or ciphertext).")]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8427]
    #[arg(long, env = "SEALPASS_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// sqlite://PATH or redis://HOST:PORT/DB [default: sqlite://$XDG_DATA_HOME/sealpass/drops.db]
    #[arg(long, env = "SEALPASS_STORE", value_name = "URL")]
    store: Option<String>,
    /// Config file (TOML); see --print-default-config
    #[arg(long, env = "SEALPASS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// URL people reach the server at, for links [default: http://ADDR]
    #[arg(long, env = "SEALPASS_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// Certificate chain (PEM) to serve HTTPS directly
    #[arg(long, env = "SEALPASS_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert
    #[arg(long, env = "SEALPASS_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeatable; adds to the config's)
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Allow claims without staff auth on a non-loopback address (testing only)
    #[arg(long)]
    insecure_open_claims: bool,
    /// Print a commented default config file and exit
    #[arg(long)]
    print_default_config: bool,
    /// Print the OpenAPI 3.1 document of API v1 (as served at /v1/openapi.json) and exit
    #[arg(long)]
    print_openapi: bool,
    /// Check the config (file, flags, TLS files, the manifest against it) and exit: 0 when the
    /// server would start with it, and SIGHUP would apply it; 2 naming what is wrong
    #[arg(long)]
    check_config: bool,
}

/// A config checked as a start needs it.
struct Checked {
    settings: ServerSettings,
    tls_warnings: Vec<String>,
    vendor: Option<sealpass_core::manifest::Verified>,
}

/// What a running server keeps through a reload, and its manifest must vouch for.
#[derive(Clone)]
struct Running {
    url: String,
    receipt_key: Option<PathBuf>,
}

/// The settings flags, environment and `config` give, checked as a start needs them: the TLS
/// files, and the vendor's manifest against what the server would serve — once it runs, its
/// URL and receipt key (a reload changes neither), else its configured `public_url`, when
/// there is one.
fn checked(
    overrides: &Overrides,
    config: Option<&std::path::Path>,
    running: Option<&Running>,
) -> Result<Checked, Failure> {
    let settings = ServerSettings::load(overrides.clone(), config).map_err(Failure::usage)?;
    let tls_warnings = match &settings.tls {
        Some((cert, key)) => sealpass_server::check_tls(cert, key).map_err(Failure::usage)?,
        None => Vec::new(),
    };
    // The vendor's manifest must vouch for exactly what this server serves: once it runs, at its
    // URL with its receipt key (the settings keep what the file says, so that the reload can
    // warn about a change that needs a restart); at start, at the configured public_url, or at
    // the bound address once known when there is none.
    let vendor = match running {
        Some(running) => {
            let mut served = settings.clone();
            served.receipt_key.clone_from(&running.receipt_key);
            let base = sealpass_core::link::server_base(&running.url).unwrap_or_else(|_| running.url.clone());
            own_manifest(&served, Some(&base))?
        }
        None => {
            let base =
                sealpass_core::link::server_base(&settings.public_url).unwrap_or_else(|_| settings.public_url.clone());
            own_manifest(&settings, settings.public_url_given.then_some(base.as_str()))?
        }
    };
    Ok(Checked { settings, tls_warnings, vendor })
}

/// At every SIGHUP, read the config again, check it as a start would, and hand it (or why it
/// is refused) to the running server, which applies what can change without a restart.
#[cfg(unix)]
fn reload_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    overrides: Overrides,
    config: Option<PathBuf>,
    running: Running,
    reloads: tokio::sync::mpsc::Sender<Result<ServerSettings, String>>,
) {
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reading the config again");
            let (overrides, config, running) = (overrides.clone(), config.clone(), running.clone());
            let next = tokio::task::spawn_blocking(move || {
                checked(&overrides, config.as_deref(), Some(&running))
                    .map(|c| c.settings)
                    .map_err(|failure| format!("{:#}", failure.error))
            })
            .await
            .unwrap_or_else(|_| Err("reading the config panicked".to_owned()));
            if reloads.send(next).await.is_err() {
                return;
            }
        }
    });
}

#[derive(Debug, clap::Args)]
#[command(after_help = "The token goes to stdout (or to -o FILE, created 0600, as --staff-token-file wants \
    it); the config snippet to stderr.\n\nExample:\n  sealpass staff-token alice -o alice.token")]
pub(crate) struct StaffTokenArgs {
    /// The staff member's name, shown as `claimed_by`
    name: String,
    /// Write the token to FILE (mode 0600, never overwritten) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A role the token holds (repeat for more): requester, receiver, auditor or admin
    /// [default: requester and receiver]
    #[arg(long = "role", value_name = "ROLE", value_parser = parse_role)]
    roles: Vec<sealpass_core::access::Role>,
}

fn parse_role(name: &str) -> Result<sealpass_core::access::Role, String> {
    sealpass_core::access::Role::from_name(name)
        .ok_or_else(|| format!("roles are {}", sealpass_core::access::Roles::ALL.describe()))
}

pub(crate) fn serve(args: ServeArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    if args.print_default_config {
        printer.lines(DEFAULT_CONFIG)?;
        return Ok(Exit::Ok);
    }
    if args.print_openapi {
        printer.lines(sealpass_server::openapi::document_json())?;
        return Ok(Exit::Ok);
    }
    let overrides = Overrides {
        listen: args.listen,
        store: args.store,
        public_url: args.public_url,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        insecure_open_claims: args.insecure_open_claims,
        trusted_proxies: args.trusted_proxies,
        without_manifest: false,
    };
    // TLS files and the manifest are checked before anything is created or said to listen.
    let Checked { settings, tls_warnings, vendor } = checked(&overrides, args.config.as_deref(), None)?;
    if let Some((_, key)) = &settings.tls {
        warn_if_readable(key);
    }
    if args.check_config {
        printer.note(&format!(
            "{}: the config is valid: {} staff, {} recipient(s), {} certificate(s), {} webhook(s), manifest {}",
            args.config.as_deref().map_or("(no file)".into(), |p| p.display().to_string()),
            settings.staff.len(),
            settings.recipients.len(),
            settings.certificates.len(),
            settings.webhooks.len(),
            if vendor.is_some() { "checked" } else { "none" }
        ));
        for warning in &tls_warnings {
            printer.warn(warning);
        }
        return Ok(Exit::Ok);
    }
    // Files the store creates (the WAL holds ciphertext) are for this user only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALPASS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        for warning in tls_warnings {
            tracing::warn!("{warning}");
        }
        // SIGHUP reloads the config from here on (caught before the store opens, so one sent
        // during start-up does not end the server: it is applied once it serves).
        #[cfg(unix)]
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        // Every address is bound before anything is created or said to listen.
        let mut launched = sealpass_server::launch(settings).await.map_err(|e| Failure::new(Exit::Error, e))?;
        for warning in &launched.warnings {
            tracing::warn!("{warning}");
        }
        let local = launched.local;
        let scheme = if launched.settings.tls.is_some() { "https" } else { "http" };
        if !launched.settings.public_url_given {
            own_manifest(&launched.settings, Some(&launched.settings.public_url))?;
        }
        if let Some(verified) = &vendor {
            tracing::info!(
                "vendor key {} signs this server's manifest (serial {}, until {}): publish it, and give it to staff \
                 as vendor_key",
                verified.vendor_key,
                verified.body.serial,
                verified.body.expires_at
            );
            let left = sealpass_core::manifest::unix(&verified.body.expires_at).unwrap_or(0) - sealpass_server::now();
            if left < 14 * 86_400 {
                tracing::warn!(
                    "the vendor's manifest expires in {} days ({}): sign a new one with `sealpass manifest sign` \
                     before then, or senders refuse this server",
                    left / 86_400,
                    verified.body.expires_at
                );
            }
        }
        let settings = &launched.settings;
        tracing::info!(
            "listening on {scheme}://{local} (links: {}), store {:?}, {} staff{}, {} recipient(s)",
            settings.public_url,
            settings.store,
            settings.staff.len(),
            settings.oidc.as_ref().map(|o| format!(" and sign-in with {}", o.issuer)).unwrap_or_default(),
            settings.recipients.len()
        );
        let digests: Vec<String> =
            sealpass_server::web::bundle_digests().into_iter().map(|(name, hash)| format!("{name} {hash}")).collect();
        tracing::info!("web sender page (SHA-256): {}", digests.join(", "));
        #[cfg(unix)]
        {
            let (reloads, received) = tokio::sync::mpsc::channel(4);
            launched.reloads = Some(received);
            let running = Running {
                url: launched.settings.public_url.clone(),
                receipt_key: launched.settings.receipt_key.clone(),
            };
            reload_on_hangup(hangups, overrides, args.config.clone(), running, reloads);
        }
        launched.serve(sealpass_server::shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok::<_, Failure>(Exit::Ok)
    })
}

/// The configured manifest, checked against what this server serves (its recipients,
/// certificates, receipt key, and URL when `url` is known): a usage error (exit 2) naming the
/// difference, so a server never serves a manifest that does not vouch for it.
fn own_manifest(
    settings: &ServerSettings,
    url: Option<&str>,
) -> Result<Option<sealpass_core::manifest::Verified>, Failure> {
    let Some(signed) = &settings.manifest else { return Ok(None) };
    let receipt = sealpass_server::audit_log::receipt_signer(settings.receipt_key.as_deref())
        .map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!(e)))?;
    let hashes: Vec<&str> = settings.certificates.iter().map(|c| c.sha256.as_str()).collect();
    sealpass_core::manifest::check_own(
        signed,
        &settings.recipients,
        &hashes,
        &receipt.public_key(),
        url,
        sealpass_server::now(),
    )
    .map(Some)
    .map_err(|e| Failure::usage(format!("manifest_file: {e}")))
}

/// A TLS private key that group or others can read is worth a warning at start (not a refusal:
/// a deployment may give it to a group on purpose).
fn warn_if_readable(key: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(key) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            Printer::new(false).warn(&format!(
                "the TLS key {} is readable by {} (mode {mode:o}): chmod 600 it",
                key.display(),
                if mode & 0o007 != 0 { "everyone" } else { "its group" }
            ));
        }
    }
}

pub(crate) fn staff_token(args: StaffTokenArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    if args.name.trim().is_empty() || args.name.chars().any(char::is_control) || args.name.contains('"') {
        return Err(Failure::usage("the staff name must be printable text without quotes"));
    }
    let (token, hash) = sealpass_server::auth::new_staff_token()
        .map_err(|_| anyhow::anyhow!("the OS random number generator failed"))?;
    match &args.output {
        Some(path) => {
            sealpass_client::files::write_new_private(path, format!("{}\n", token.as_str()).as_bytes())?;
            printer.note(&format!("wrote the token to {} (0600)", path.display()));
        }
        None => printer.secret_sink_write(format!("{}\n", token.as_str()).as_bytes())?,
    }
    use sealpass_core::access::{Role, Roles};
    let roles =
        if args.roles.is_empty() { Roles::of([Role::Requester, Role::Receiver]) } else { Roles::of(args.roles) };
    let names: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
    printer.note(&format!(
        "Give the token to {} (it is shown once), and add this to the server's config:\n\n\
         [[staff]]\nname = \"{}\"\ntoken_sha256 = \"{hash}\"\nroles = [{}]",
        args.name,
        args.name,
        names.join(", ")
    ));
    Ok(Exit::Ok)
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum WebhookCommand {
    /// Send every configured webhook (or --name's) a signed test delivery, now, once
    Test(WebhookTestArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "The delivery is what a real one looks like (type drop.received, \"test\": true), \
    signed with the webhook's secret; nothing is stored.\n\nExample:\n  sealpass webhook test --config /etc/sealpass/config.toml")]
pub(crate) struct WebhookTestArgs {
    /// The server's config file, whose [[webhooks]] are tested
    #[arg(long, env = "SEALPASS_CONFIG", value_name = "FILE")]
    config: PathBuf,
    /// Only the webhook with this name
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

pub(crate) fn webhook(command: WebhookCommand, ctx: &super::Context) -> Result<Exit, Failure> {
    use sealpass_core::events::{Actor, Event, EventKind};
    use sealpass_server::deliver::{self, Outcome};
    let WebhookCommand::Test(args) = command;
    let printer = &ctx.printer;
    let settings = ServerSettings::load(Overrides::default(), Some(&args.config)).map_err(Failure::usage)?;
    let hooks: Vec<_> = settings.webhooks.iter().filter(|w| args.name.as_deref().is_none_or(|n| n == w.name)).collect();
    if hooks.is_empty() {
        return Err(Failure::usage(match &args.name {
            Some(name) => format!("{}: no webhook named {}", args.config.display(), sealpass_core::text::shown(name)),
            None => format!("{}: no [[webhooks]] configured", args.config.display()),
        }));
    }
    let http = deliver::http_client().map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!(e)))?;
    let now = time::OffsetDateTime::now_utc();
    let event = Event {
        kind: EventKind::DropReceived,
        drop_id: None,
        request_id: None,
        label: Some("sealpass webhook test".into()),
        actor: Actor::Staff("sealpass".into()),
        at: sealpass_core::events::rfc3339(now.unix_timestamp()),
        client: None,
        credential: None,
    };
    let entry = sealpass_core::audit::Entry {
        seq: 0,
        prev: sealpass_core::audit::GENESIS.into(),
        hash: sealpass_core::audit::hash_of(0, sealpass_core::audit::GENESIS, &event),
        event,
    };
    let mut exit = Exit::Ok;
    super::block_on(async {
        for hook in hooks {
            let id = sealpass_core::webhook::delivery_id(&hook.name, &format!("test-{}", now.unix_timestamp_nanos()));
            let body = sealpass_core::webhook::body(hook.format, &id, &settings.public_url, &entry, true, None);
            match deliver::attempt(&http, hook, &id, entry.event.kind.name(), &body).await {
                Outcome::Delivered => printer.lines(&format!("{}: delivered ({id})", hook.name))?,
                Outcome::Retry(why) | Outcome::Refused(why) => {
                    printer.error(&format!("{}: not delivered: {why}", hook.name));
                    exit = Exit::Unreachable;
                }
            }
        }
        Ok::<_, Failure>(())
    })?;
    Ok(exit)
}
