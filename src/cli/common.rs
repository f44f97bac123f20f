//! What the commands share: the policy flags, running a future with a spinner, turning client
//! and hand-over errors into exit codes, the identity file's default.

use std::path::PathBuf;

use super::settings::ClientConfig;
use crate::output::Printer;
use sealpass_client::exit::Failure;
use sealpass_core::policy::{PRESET_NAMES, Policy};

/// What every command is given by `cli::run`: the one printer (JSON when the command line asks
/// for it) and the client settings, read from `config.toml` once, when a command first needs them
/// (so `generate` never trips over a broken config it does not use).
pub(crate) struct Context {
    /// Where everything is printed.
    pub(crate) printer: Printer,
    settings: std::cell::OnceCell<ClientConfig>,
}

impl Context {
    pub(crate) fn new(json: bool) -> Context {
        Context { printer: Printer::new(json), settings: std::cell::OnceCell::new() }
    }

    /// The client settings, loaded on first use.
    pub(crate) fn settings(&self) -> Result<&ClientConfig, Failure> {
        if let Some(settings) = self.settings.get() {
            return Ok(settings);
        }
        let loaded = ClientConfig::load()?;
        Ok(self.settings.get_or_init(|| loaded))
    }
}

/// Which policy to use: a preset or custom `passwordrules`.
#[derive(Debug, clap::Args)]
pub(crate) struct PolicyArgs {
    /// Built-in policy (see `sealpass policies`) [default: the kind's policy when there is a
    /// kind (seal, send, open, receive); for generate and check $SEALPASS_POLICY, else strong]
    #[arg(long, short = 'p', value_parser = clap::builder::PossibleValuesParser::new(PRESET_NAMES))]
    policy: Option<String>,
    /// Custom rules in Apple's passwordrules language, e.g. "minlength: 30; required: upper; required: digit; allowed: lower, [-_]"
    #[arg(long, value_name = "RULES")]
    rules: Option<String>,
}

impl PolicyArgs {
    /// Whether --policy or --rules was given.
    pub(crate) fn given(&self) -> bool {
        self.policy.is_some() || self.rules.is_some()
    }

    /// The chosen policy. Flags beat the environment (`SEALPASS_POLICY`), which beats the
    /// default, `strong`; naming both --policy and --rules is a usage error.
    pub(crate) fn resolve(&self) -> Result<Policy, Failure> {
        self.resolve_or(None)
    }

    /// Like [`PolicyArgs::resolve`], with `default` (a kind's policy) instead of the
    /// environment and `strong` when no flag is given.
    pub(crate) fn resolve_or(&self, default: Option<&str>) -> Result<Policy, Failure> {
        match (&self.rules, &self.policy) {
            (Some(_), Some(_)) => Err(Failure::usage("give either --policy or --rules, not both")),
            (Some(rules), None) => Policy::from_rules(rules).map_err(Failure::usage),
            (None, Some(name)) => Policy::preset(name).map_err(Failure::usage),
            (None, None) if default.is_some() => Policy::preset(default.unwrap_or("strong")).map_err(Failure::usage),
            (None, None) => match std::env::var("SEALPASS_POLICY") {
                Ok(name) if !name.is_empty() => Policy::preset(&name).map_err(|_| {
                    Failure::usage(format!(
                        "SEALPASS_POLICY names no policy; valid: {}. Unset it or fix it",
                        PRESET_NAMES.join(", ")
                    ))
                }),
                _ => Policy::preset("strong").map_err(Failure::usage),
            },
        }
    }
}

/// Run a future to completion on a small runtime: the CLI's network commands are sequential.
/// Calls that run long show a spinner on a terminal (never in a pipe).
/// Every page of a list the server pages with a cursor, at most `max` pages: the items, and
/// whether the list ended (false: it stopped at `max`). `page` fetches the page after a cursor
/// (none: the first) and gives its items and the next cursor. A server that hands back the same
/// cursor would loop forever: that ends the list too.
pub(crate) async fn all_pages<T, Page>(
    max: usize,
    mut page: impl FnMut(Option<String>) -> Page,
) -> Result<(Vec<T>, bool), Failure>
where
    Page: std::future::Future<Output = Result<(Vec<T>, Option<String>), Failure>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max {
        let (got, next) = page(cursor.clone()).await?;
        items.extend(got);
        match next {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => return Ok((items, true)),
        }
    }
    Ok((items, false))
}

pub(crate) fn block_on<T>(future: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    block_on_showing(future, true)
}

/// Like [`block_on`] without a spinner: for commands that prompt while the future runs.
pub(crate) fn block_on_quiet<T>(future: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    block_on_showing(future, false)
}

fn block_on_showing<T>(
    future: impl std::future::Future<Output = Result<T, Failure>>,
    spinner: bool,
) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if !spinner {
        return runtime.block_on(future);
    }
    runtime.block_on(async {
        let slow = async {
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            let spinner = crate::output::Spinner::start("talking to the drop server…");
            std::future::pending::<()>().await;
            drop(spinner);
        };
        tokio::select! {
            result = future => result,
            () = slow => unreachable!("pending never completes"),
        }
    })
}

pub(crate) use sealpass_client::handover::now_rfc3339;

/// The identity file: the one given, else the default in the XDG data directory.
pub(crate) fn identity_path(given: Option<PathBuf>) -> Result<PathBuf, Failure> {
    given.or_else(sealpass_client::files::default_identity).ok_or_else(|| {
        Failure::usage("no default identity location ($XDG_DATA_HOME and $HOME are unset); give -i FILE or -o FILE")
    })
}
