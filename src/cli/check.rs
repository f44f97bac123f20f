//! `sealpass check`: one secret from stdin (or a hidden prompt), every rule reported; exit 3
//! when it does not comply.

use std::ffi::OsString;

use secrecy::ExposeSecret;

use super::PolicyArgs;
use super::input::secret_from_stdin_or_prompt;
use crate::exit::{Exit, Failure};
use crate::output::Printer;

#[derive(Debug, clap::Args)]
#[command(after_help = "The secret is read from stdin (one trailing newline is stripped) or, on a terminal, \
    from a hidden prompt. It is never taken from the command line.\n\n\
    Examples:\n  sealpass check --policy salesforce --username kore@acme.example < password.txt\n  \
    sealpass generate --policy salesforce | sealpass check --policy salesforce --json")]
pub(crate) struct Args {
    #[command(flatten)]
    policy: PolicyArgs,
    /// The account's username: turns on the "must not contain the username" rule
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// Machine output: {"policy","compliant","rules":[{"rule","ok","detail"}],"warnings","entropy_estimate_bits"}
    #[arg(long)]
    json: bool,
    /// Refused: a secret typed here would stay in shell history and the process list.
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    stray: Vec<OsString>,
}

pub(crate) fn run(args: Args) -> Result<Exit, Failure> {
    if !args.stray.is_empty() {
        return Err(Failure::usage(
            "check does not take the secret as an argument (not shown here): shell history and the \
             process list would keep it. Pipe it on stdin, e.g. `sealpass check --policy salesforce < file`, \
             or run `sealpass check` alone to be prompted without echo.",
        ));
    }
    let printer = Printer::new(args.json);
    let policy = args.policy.resolve()?;
    let secret = secret_from_stdin_or_prompt("Secret to check (input hidden): ")?;
    let report = policy.check(secret.expose_secret(), args.username.as_deref());
    printer.report(&report)?;
    Ok(if report.compliant { Exit::Ok } else { Exit::Policy })
}
