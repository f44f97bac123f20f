//! `sealpass check`: one secret from stdin (or a hidden prompt), every rule reported; exit 3
//! when it does not comply.

use std::ffi::OsString;

use secrecy::ExposeSecret;

use super::PolicyArgs;
use super::input::secret_from_stdin_or_prompt;
use crate::output::Printer;
use sealpass_client::exit::{Exit, Failure};

#[derive(Debug, clap::Args)]
#[command(after_help = "The secret is read from stdin (one trailing newline is stripped) or, on a terminal, \
    from a hidden prompt. It is never taken from the command line.\n\n\
    With --batch, stdin holds many secrets, one JSON string a line (so any character can be in one), and \
    each gets its report on its own line; the exit code is 3 if any fails.\n\n\
    Examples:\n  sealpass check --policy salesforce --username kore@acme.example < password.txt\n  \
    sealpass generate --policy salesforce | sealpass check --policy salesforce --json\n  \
    jq -R . passwords.txt | sealpass check --policy strong --batch --json")]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// The account's username: turns on the "must not contain the username" rule
    #[arg(long, short = 'u')]
    username: Option<String>,
    /// Machine output: {"policy","compliant","rules":[{"rule","ok","detail"}],"warnings","entropy_estimate_bits"}
    #[arg(long)]
    json: bool,
    /// Check many secrets: stdin has one JSON string a line; one report a line comes out
    #[arg(long)]
    batch: bool,
    /// Refused: a secret typed here would stay in shell history and the process list.
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    stray: Vec<OsString>,
}

pub(crate) fn run(args: CheckArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    if !args.stray.is_empty() {
        return Err(Failure::usage(
            "check does not take the secret as an argument (not shown here): shell history and the \
             process list would keep it. Pipe it on stdin, e.g. `sealpass check --policy salesforce < file`, \
             or run `sealpass check` alone to be prompted without echo.",
        ));
    }
    let printer = &ctx.printer;
    let policy = args.policy.resolve()?;
    if args.batch {
        return batch(printer, &policy, args.username.as_deref());
    }
    let secret = secret_from_stdin_or_prompt("Secret to check (input hidden): ", "check")?;
    let report = policy.check(secret.expose_secret(), args.username.as_deref());
    printer.report(&report)?;
    Ok(if report.compliant { Exit::Ok } else { Exit::Policy })
}

/// Most bytes one batch line may hold: a JSON string of the largest secret, escaped.
const MAX_BATCH_LINE: u64 = (super::input::MAX_SECRET_BYTES * 6 + 2) as u64;

/// `--batch`: one JSON string a line in, one report a line out.
fn batch(printer: &Printer, policy: &sealpass_core::policy::Policy, username: Option<&str>) -> Result<Exit, Failure> {
    use std::io::{BufRead, Read};
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut exit = Exit::Ok;
    let mut number = 0;
    loop {
        let mut line = zeroize::Zeroizing::new(Vec::new());
        let read = (&mut input).take(MAX_BATCH_LINE + 1).read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.len() as u64 > MAX_BATCH_LINE {
            return Err(Failure::usage(format!("line {number} of stdin is longer than any secret")));
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let secret: zeroize::Zeroizing<String> =
            serde_json::from_slice(text).map(zeroize::Zeroizing::new).map_err(|_| {
                Failure::usage(format!(
                    "line {number} of stdin is not a JSON string (not shown); --batch reads one JSON string a line"
                ))
            })?;
        let report = policy.check(&secret, username);
        if !report.compliant {
            exit = Exit::Policy;
        }
        printer.report(&report)?;
    }
    Ok(exit)
}
