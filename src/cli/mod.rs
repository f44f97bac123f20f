//! The command line: one file a subcommand, each with its clap arguments and its `run`. This is
//! the only layer that glues the pure modules to terminals, files and (later) the network.

mod check;
mod generate;
pub mod input;
mod policies;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Parser, Subcommand};

use crate::exit::{Exit, Failure};
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
}

/// Which policy to use: a preset or custom `passwordrules`.
#[derive(Debug, clap::Args)]
pub(crate) struct PolicyArgs {
    /// Built-in policy (see `sealpass policies`)
    #[arg(long, short = 'p', env = "SEALPASS_POLICY", value_parser = clap::builder::PossibleValuesParser::new(PRESET_NAMES), conflicts_with = "rules")]
    policy: Option<String>,
    /// Custom rules in Apple's passwordrules language, e.g. "minlength: 30; required: upper; required: digit; allowed: lower, [-_]"
    #[arg(long, value_name = "RULES")]
    rules: Option<String>,
}

impl PolicyArgs {
    /// The chosen policy; `strong` when none is named.
    pub(crate) fn resolve(&self) -> Result<Policy, Failure> {
        let policy = match (&self.rules, &self.policy) {
            (Some(rules), _) => Policy::from_rules(rules),
            (None, Some(name)) => Policy::preset(name),
            (None, None) => Policy::preset("strong"),
        };
        policy.map_err(Failure::usage)
    }
}

/// Whether clap's error is about a stray positional value, which might be a secret someone
/// typed on the command line: such values are never echoed back.
fn stray_value(err: &clap::Error) -> bool {
    match err.kind() {
        ErrorKind::UnknownArgument => {
            matches!(err.get(ContextKind::InvalidArg), Some(ContextValue::String(arg)) if !arg.starts_with('-'))
        }
        ErrorKind::InvalidSubcommand => true,
        _ => false,
    }
}

/// "did you mean …" for a mistyped subcommand, without repeating what was typed.
fn suggestion(err: &clap::Error) -> String {
    match err.get(ContextKind::SuggestedSubcommand) {
        Some(ContextValue::String(s)) => format!(" Did you mean `sealpass {s}`?"),
        Some(ContextValue::Strings(list)) if !list.is_empty() => format!(" Did you mean `sealpass {}`?", list[0]),
        _ => String::new(),
    }
}

/// Parse arguments, run the command, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) if stray_value(&err) => {
            eprintln!(
                "error: unexpected argument (not shown, in case it is a secret).{}\n\
                 sealpass never takes secrets on the command line, where shell history and the process \
                 list keep them: pipe them on stdin instead. See `sealpass --help`.",
                suggestion(&err)
            );
            return Exit::Usage.into();
        }
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { Exit::Usage.into() } else { Exit::Ok.into() };
        }
    };
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(failure) if is_broken_pipe(&failure) => Exit::Ok.into(),
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit.into()
        }
    }
}

/// `sealpass generate | head -1` closes the pipe early; that is not an error.
fn is_broken_pipe(failure: &Failure) -> bool {
    failure.error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        Command::Generate(args) => generate::run(args),
        Command::Check(args) => check::run(args),
        Command::Policies(args) => policies::run(args),
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
