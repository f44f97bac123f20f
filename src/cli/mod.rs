//! The command line: one file a subcommand, each with its clap arguments and its `run`. This is
//! the only layer that glues the pure modules to terminals, files and (later) the network.

mod check;
#[cfg(feature = "server")]
mod demo;
mod generate;
pub mod input;
mod keys;
mod local;
mod open;
mod policies;
mod seal;
mod send;
#[cfg(feature = "server")]
mod serve;
mod staff;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand};

use crate::exit::{Exit, Failure};
use crate::output::Printer;
use crate::policy::{PRESET_NAMES, Policy};

/// sealpass: hand a CRM service-account credential to a vendor without anyone seeing it.
#[derive(Debug, Parser)]
#[command(
    name = "sealpass",
    version,
    about = "Generate, check and hand over CRM service-account credentials, sealed with age",
    long_about = "Generate, check and hand over CRM service-account credentials, sealed with age.\n\n\
        Secrets are read from stdin or a hidden prompt, never from the command line.\n\
        Exit codes: 0 ok, 1 error, 2 usage, 3 policy violation, 4 drop unavailable,\n\
        5 cannot decrypt, 6 not authorised, 7 server unreachable.",
    after_help = "Examples:\n  \
        sealpass generate --policy salesforce\n  \
        sealpass check --policy salesforce --username kore@acme.example < password.txt\n  \
        sealpass policies"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate compliant passwords (uniformly random, exact entropy)
    Generate(generate::Args),
    /// Check one secret, read from stdin, against a policy
    Check(check::Args),
    /// List the built-in policies and their rules
    Policies(policies::Args),
    /// Make a new age identity (0600) and print its recipient and fingerprint
    Keygen(keys::KeygenArgs),
    /// Print the recipient(s) and fingerprint of an identity, as text or a QR code
    Recipient(keys::RecipientArgs),
    /// Offline: check a secret and seal it in a typed envelope to age recipients
    Seal(seal::SealArgs),
    /// Offline: decrypt a sealed envelope, validate the secret, report
    Open(open::OpenArgs),
    /// Customer: confirm and pin a drop server's keys (like ssh known_hosts)
    Init(send::InitArgs),
    /// Customer: check, seal and upload a credential; prints the pickup link
    Send(send::SendArgs),
    /// Customer: what happened to what you sent (claimed by whom, when)
    Status(send::StatusArgs),
    /// Customer: burn a drop you sent
    Revoke(send::RevokeArgs),
    /// Staff: a request link for a customer
    Request(staff::RequestArgs),
    /// Staff: drops waiting to be received
    Inbox(staff::InboxArgs),
    /// Staff: claim, decrypt, validate, hand on, then acknowledge
    Receive(staff::ReceiveArgs),
    /// The whole hand-over on loopback, narrated: embedded server, throwaway keys
    #[cfg(feature = "server")]
    Demo(demo::DemoArgs),
    /// Shell completions on stdout, e.g. `sealpass completions bash > /etc/bash_completion.d/sealpass`
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// The man pages (roff): the top one on stdout (`sealpass man | man -l -`), all with --dir
    Man {
        /// Write sealpass.1 and a page for every command (sealpass-generate.1, …) into DIR,
        /// which must exist
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Operator: run the drop server (HTTP API v1, SQLite or Redis)
    #[cfg(feature = "server")]
    Serve(serve::ServeArgs),
    /// Operator: print a fresh staff token and its config snippet
    #[cfg(feature = "server")]
    StaffToken(serve::StaffTokenArgs),
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

/// Arguments whose values are never secrets: a bad one is shown, with the valid choices.
const PLAIN_ARGS: &[&str] = &["--count", "--length", "<SHELL>", "--policy", "--kind", "--ttl", "--days", "--listen"];

/// Whether clap's error would quote something typed on the command line that could be a secret
/// pasted in the wrong place (a Salesforce password starts with `-` one time in 70): such errors
/// are re-rendered without it. A typo that cannot be a secret — a value for a flag like
/// `--count` or a shell name, a number, a near miss of a flag or command name — is shown as
/// clap says it.
fn quotes_user_input(err: &clap::Error) -> bool {
    let arg = context_strings(err, ContextKind::InvalidArg).pop().unwrap_or_default();
    // A near miss of one of our own names (clap suggests the name) is a typo, not a secret.
    let near_miss = |word: &str, suggestion: ContextKind| {
        !context_strings(err, suggestion).is_empty()
            && (1..=40).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match err.kind() {
        ErrorKind::UnknownArgument => {
            let number = arg.starts_with('-') && arg.parse::<i64>().is_ok();
            !(number || (arg.starts_with("--") && near_miss(&arg, ContextKind::SuggestedArg)))
        }
        ErrorKind::InvalidSubcommand => {
            let typed = context_strings(err, ContextKind::InvalidSubcommand).pop().unwrap_or_default();
            !near_miss(&typed, ContextKind::SuggestedSubcommand)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            !PLAIN_ARGS.iter().any(|plain| arg == *plain || arg.starts_with(&format!("{plain} ")))
        }
        ErrorKind::TooManyValues | ErrorKind::NoEquals | ErrorKind::InvalidUtf8 => true,
        _ => false,
    }
}

fn context_strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(list)) => list.clone(),
        _ => vec![],
    }
}

/// clap's error, minus whatever the user typed: which flag, what is valid, what was meant.
fn redacted(err: &clap::Error) -> String {
    let mut text = match err.kind() {
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand => {
            "error: unexpected argument (not shown, in case it is a secret).".to_owned()
        }
        _ => {
            let flag = context_strings(err, ContextKind::InvalidArg).pop().unwrap_or_else(|| "an argument".into());
            format!("error: invalid value for {flag} (not shown, in case it is a secret).")
        }
    };
    let valid = context_strings(err, ContextKind::ValidValue);
    if !valid.is_empty() {
        text.push_str(&format!(" Possible values: {}.", valid.join(", ")));
    }
    for kind in [ContextKind::SuggestedSubcommand, ContextKind::SuggestedArg] {
        if let Some(s) = context_strings(err, kind).first() {
            text.push_str(&format!(" Did you mean `{s}`?"));
        }
    }
    text.push_str(
        "\nsealpass never takes secrets on the command line, where shell history and the process list \
         keep them: pipe them on stdin instead. See `sealpass --help`.",
    );
    text
}

/// Run a future to completion on a small runtime: the CLI's network commands are sequential.
/// Calls that run long show a spinner on a terminal (never in a pipe).
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

/// A client error as a failure with its exit code.
pub(crate) fn client_failure(e: crate::client::ClientError) -> Failure {
    let exit = client_exit(&e);
    Failure::new(exit, e)
}

pub(crate) use crate::handover::now_rfc3339;

/// The exit code (SPEC §6) for what the server said or did not say.
pub(crate) fn client_exit(e: &crate::client::ClientError) -> Exit {
    use crate::client::ClientError as C;
    match e {
        C::Unreachable { .. } => Exit::Unreachable,
        C::Unauthorized(_) => Exit::Unauthorized,
        C::Unavailable { .. } => Exit::Unavailable,
        C::Refused(_) | C::TooLarge { .. } => Exit::Error,
    }
}

/// A hand-over that stopped, with the exit code SPEC §6 gives it.
pub(crate) fn handover_failure(e: crate::handover::HandoverError) -> Failure {
    use crate::handover::HandoverError as H;
    let exit = match &e {
        H::Server(cause) | H::NotAcknowledged { cause } => client_exit(cause),
        H::RequestAnswered | H::RequestExpired => Exit::Unavailable,
        H::UnknownKind(_) | H::WrongKind { .. } | H::Envelope(_) => Exit::Usage,
        H::Weak { .. } => Exit::Policy,
        H::WrongDrop | H::Decrypt(_) | H::RequestMismatch { .. } => Exit::Decrypt,
        H::KeysChanged { .. } | H::Recipients(_) | H::Seal(_) | H::ForeignPickup { .. } | H::HandOn(_) => Exit::Error,
    };
    Failure::new(exit, e)
}

/// The identity file: the one given, else the default in the XDG data directory.
pub(crate) fn identity_path(given: Option<PathBuf>) -> Result<PathBuf, Failure> {
    given.or_else(crate::files::default_identity).ok_or_else(|| {
        Failure::usage("no default identity location ($XDG_DATA_HOME and $HOME are unset); give -i FILE or -o FILE")
    })
}

/// Parse arguments, run the command, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    crate::harden::disable_core_dumps();
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) if quotes_user_input(&err) => {
            eprintln!("{}", redacted(&err));
            return Exit::Usage.into();
        }
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    // A script that asked for JSON gets its failures as JSON too, on stdout.
    let json = args.iter().take_while(|a| *a != "--").any(|a| a == "--json");
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(failure) if is_broken_pipe(&failure) => Exit::Ok.into(),
        Err(failure) => {
            eprintln!("error: {failure}");
            if json {
                let line = serde_json::json!({"error": failure.to_string(), "exit": failure.exit as u8});
                println!("{line}");
            }
            failure.exit.into()
        }
    }
}

/// `sealpass generate | head -1` closes the pipe early; that is not an error.
fn is_broken_pipe(failure: &Failure) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    failure.error.downcast_ref::<std::io::Error>().map(std::io::Error::kind) == broken
        || failure.error.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind) == broken
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Check(args) => check::run(args),
        Command::Policies(args) => policies::run(args),
        Command::Keygen(args) => keys::keygen(args),
        Command::Recipient(args) => keys::recipient(args),
        Command::Seal(args) => seal::run(args),
        Command::Open(args) => open::run(args),
        Command::Init(args) => send::init(args),
        Command::Send(args) => send::send(args),
        Command::Status(args) => send::status(args),
        Command::Revoke(args) => send::revoke(args),
        Command::Request(args) => staff::request(args),
        Command::Inbox(args) => staff::inbox(args),
        Command::Receive(args) => staff::receive(args),
        #[cfg(feature = "server")]
        Command::Demo(args) => demo::run(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "sealpass", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
        Command::Man { dir } => {
            use clap::CommandFactory;
            let Some(dir) = dir else {
                clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
                return Ok(Exit::Ok);
            };
            if !dir.is_dir() {
                return Err(Failure::usage(format!("{} is not a directory (create it first)", dir.display())));
            }
            clap_mangen::generate_to(Cli::command(), &dir)
                .map_err(|e| anyhow::anyhow!("could not write the man pages to {}: {e}", dir.display()))?;
            let mut pages: Vec<String> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("sealpass") && n.ends_with(".1"))
                .collect();
            pages.sort();
            Printer::new(false).note(&format!("wrote {} pages to {}: {}", pages.len(), dir.display(), pages.join(" ")));
            Ok(Exit::Ok)
        }
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::serve(args),
        #[cfg(feature = "server")]
        Command::StaffToken(args) => serve::staff_token(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
