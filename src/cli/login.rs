//! `sealpass login` and `sealpass logout`: staff sign in with the identity provider their server
//! trusts (SPEC §12), by a code typed on any device (the default) or in a browser on this
//! machine; the tokens are kept 0600 in the state directory for every staff command, never shown.

use std::io::IsTerminal;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Serialize;

use sealpass_client::exit::{Exit, Failure};
use sealpass_client::http::{Client, ClientError};
use sealpass_client::login::{self, LoginError, Loopback, Provider, Sessions, Tokens};
use sealpass_core::qr;
use sealpass_core::text::shown;

use super::block_on_quiet;

/// How long `--browser` waits for the browser to come back.
const BROWSER_WAIT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    sealpass login                       # a code to type at the identity provider, on any device\n  \
    sealpass login --browser             # a browser on this machine\n  \
    sealpass logout\n\n\
    Every staff command (request, inbox, receive, requests, release, audit) then signs in as you;\n\
    SEALPASS_STAFF_TOKEN and --staff-token-file still win when given.")]
pub(crate) struct LoginArgs {
    /// Drop server (default: the config's)
    #[arg(long, env = "SEALPASS_SERVER", value_name = "URL")]
    server: Option<String>,
    /// Sign in with a browser on this machine (authorization code + PKCE, redirected to loopback)
    #[arg(long)]
    browser: bool,
    /// With --browser: print the address to open instead of opening a browser
    #[arg(long, requires = "browser")]
    no_open: bool,
    /// {"server","name","roles","via","issuer","expires_at"} (never a token)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogoutArgs {
    /// Drop server (default: the config's)
    #[arg(long, env = "SEALPASS_SERVER", value_name = "URL")]
    server: Option<String>,
    /// {"server","signed_out","revoked"}
    #[arg(long)]
    json: bool,
}

/// `sealpass login`.
pub(crate) fn login(args: LoginArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let config = ctx.settings()?;
    let server = config.server(args.server.as_deref())?;
    if !url::Url::parse(&server).is_ok_and(|u| login::carries_tokens_safely(&u)) {
        return Err(Failure::usage(format!(
            "{server} is plain http: your sign-in would cross the network readable by anyone on the way; use its \
             https address"
        )));
    }
    // A sessions file sealpass cannot use fails now, not after the person signed in.
    Sessions::load().map_err(Failure::of)?;
    let client = Client::new(&server).map_err(Failure::of)?;
    let (session, whoami) = block_on_quiet(async {
        // The server is given a token that works wherever the provider's tokens for it do: it
        // must be the vendor's, as far as what this machine holds it to says.
        super::vouch::accepted(&client, config, printer, "give it your company sign-in").await?;
        let info = client.info().await.map_err(Failure::of)?;
        let sign_in = info.sign_in.ok_or_else(|| Failure::of(LoginError::NoProvider(server.clone())))?;
        let provider = Provider::discover(&sign_in).await.map_err(Failure::of)?;
        printer.note(&format!("Signing in to {server} with {}", shown(&sign_in.issuer)));
        let tokens = if args.browser {
            browser(&provider, args.no_open, printer).await?
        } else {
            device(&provider, printer).await?
        };
        // The server must take the token: checked now, not at the first staff command.
        match client.whoami(tokens.access_token.expose_secret()).await {
            Ok(whoami) => Ok((provider.session(&server, tokens, whoami.name.clone()), whoami)),
            Err(e) => {
                if let Some(refresh) = &tokens.refresh_token {
                    let _ = provider.revoke(refresh).await;
                }
                Err(match e {
                    ClientError::Unauthorized(_) => Failure::new(
                        Exit::Unauthorized,
                        anyhow::anyhow!(
                            "the identity provider signed you in, but {server} does not take its token: {e}"
                        ),
                    ),
                    other => Failure::of(other),
                })
            }
        }
    })?;
    let expires_at = session.tokens.expires_at;
    let path = Sessions::path().map_err(Failure::of)?;
    Sessions::update(|sessions| sessions.put(session)).map_err(Failure::of)?;
    if whoami.roles.is_empty() {
        printer.warn(
            "you hold no role on this server yet: ask its operator to map one of your groups to a role ([oidc.roles])",
        );
    }
    if printer.json() {
        #[derive(Serialize)]
        struct Shown<'a> {
            server: &'a str,
            name: &'a str,
            roles: &'a [String],
            via: &'a str,
            issuer: Option<&'a str>,
            expires_at: Option<String>,
        }
        printer.json_line(&Shown {
            server: &server,
            name: &whoami.name,
            roles: &whoami.roles,
            via: &whoami.via,
            issuer: whoami.issuer.as_deref(),
            expires_at: expires_at.map(sealpass_core::events::rfc3339),
        })?;
        return Ok(Exit::Ok);
    }
    let roles = if whoami.roles.is_empty() { "no role".to_owned() } else { whoami.roles.join(", ") };
    printer.lines(&format!(
        "Signed in to {server} as {} ({}).\nYour sign-in is kept in {} (only you can read it); \
         `sealpass logout` forgets it.",
        shown(&whoami.name),
        shown(&roles),
        path.display()
    ))?;
    Ok(Exit::Ok)
}

/// The device authorization grant: a code the person types at the provider, on any device.
async fn device(provider: &Provider, printer: &crate::output::Printer) -> Result<Tokens, Failure> {
    let code = provider.device_code().await.map_err(Failure::of)?;
    printer.note(&format!(
        "\nTo sign in, open {} on any device and enter the code\n\n    {}\n",
        code.verification_uri, code.user_code
    ));
    if let Some(complete) = &code.verification_uri_complete {
        printer.note(&format!("or open {complete} (the code filled in)"));
        if std::io::stderr().is_terminal() && complete.len() <= qr::TERMINAL_MAX {
            if let Ok(picture) = qr::terminal(complete, !crate::output::no_color_requested()) {
                eprintln!("\nor scan this with a phone:\n\n{picture}");
            }
        }
    }
    printer.note(&format!(
        "Waiting for you to sign in (the code is good for {} minutes)…",
        code.expires_in.as_secs().div_ceil(60)
    ));
    provider.device_tokens(&code).await.map_err(Failure::of)
}

/// The authorization code with PKCE, in a browser on this machine, back to a loopback port.
async fn browser(provider: &Provider, no_open: bool, printer: &crate::output::Printer) -> Result<Tokens, Failure> {
    let loopback = Loopback::bind().await.map_err(Failure::of)?;
    let pending = provider.browser(&loopback.redirect).map_err(Failure::of)?;
    printer.note(&format!("\nTo sign in, open this address in a browser on this machine:\n\n    {}\n", pending.url));
    if !no_open {
        if let Err(why) = open_browser(&pending.url) {
            printer.note(&format!("(could not open a browser: {why}; open the address yourself)"));
        }
    }
    printer.note(&format!("Waiting for the browser (up to {} minutes)…", BROWSER_WAIT.as_secs() / 60));
    let code = loopback.code(&pending, BROWSER_WAIT).await.map_err(Failure::of)?;
    provider.code_tokens(pending, &loopback.redirect, code).await.map_err(Failure::of)
}

/// Open `url` with `$BROWSER` (its first entry, `:`-separated; `%s` stands for the address),
/// else the desktop's opener; the browser is left running.
fn open_browser(url: &str) -> Result<(), String> {
    let configured = std::env::var("BROWSER").ok();
    let entry = configured.as_deref().and_then(|b| b.split(':').map(str::trim).find(|e| !e.is_empty()));
    let fallback = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let entry = entry.unwrap_or(fallback);
    let mut words = entry.split_whitespace();
    let program = words.next().unwrap_or(fallback);
    let mut command = std::process::Command::new(program);
    let mut placed = false;
    for word in words {
        placed |= word.contains("%s");
        command.arg(word.replace("%s", url));
    }
    if !placed {
        command.arg(url);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("{program}: {e}"))
}

/// `sealpass logout`.
pub(crate) fn logout(args: LogoutArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let server = ctx.settings()?.server(args.server.as_deref())?;
    // Forgotten here first: a provider that cannot be reached does not keep the tokens on disk.
    let Some(session) = Sessions::update(|sessions| sessions.remove(&server)).map_err(Failure::of)? else {
        if printer.json() {
            printer.json_line(&serde_json::json!({"server": server, "signed_out": false, "revoked": false}))?;
        } else {
            printer.lines(&format!("You were not signed in to {server} on this machine."))?;
        }
        return Ok(Exit::Ok);
    };
    let revoked = match &session.tokens.refresh_token {
        None => false,
        Some(refresh) => {
            let told = block_on_quiet(async {
                let provider = Provider::for_session(&session).map_err(Failure::of)?;
                provider.revoke(refresh).await.map_err(Failure::of)
            });
            match told {
                Ok(told) => told,
                Err(e) => {
                    printer.warn(&format!(
                        "the identity provider could not be told to end the sign-in ({e}); it ends when it expires"
                    ));
                    false
                }
            }
        }
    };
    if printer.json() {
        printer.json_line(&serde_json::json!({"server": server, "signed_out": true, "revoked": revoked}))?;
    } else {
        let ended = if revoked { " and the identity provider ended the sign-in" } else { "" };
        printer.lines(&format!("Signed out of {server}: the tokens on this machine are gone{ended}."))?;
    }
    Ok(Exit::Ok)
}
