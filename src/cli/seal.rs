//! `sealpass seal`: the offline half of a hand-over. Take (or generate) the secret, check it
//! against the policy before anything is written, wrap it in a typed envelope and seal it with
//! age to the recipients.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::args::RecipientArgs;
use super::intake::{EnvelopeArgs, Flow, build_envelope};
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_core::crypto;
use sealpass_core::envelope::Kind;

#[derive(Debug, clap::Args)]
#[command(after_help = "The secret comes from stdin, or a hidden prompt asked twice, or --generate; never from \
    the command line.\n\nExamples:\n  \
    sealpass seal --to age1… --kind salesforce-password --username kore@acme.example --generate -o cred.age\n  \
    sealpass seal -R vendor.txt --kind entra-client-secret --field tenant_id=… --field client_id=… < secret.txt")]
pub(crate) struct SealArgs {
    #[command(flatten)]
    recipients: RecipientArgs,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// Write the sealed output to FILE (mode 0600, never overwritten) instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Refused: a secret typed here would stay in shell history and the process list.
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    stray: Vec<OsString>,
}

/// Refuse positional values: they would be a secret on the command line.
pub(crate) fn refuse_stray(stray: &[OsString], command: &str) -> Result<(), Failure> {
    if stray.is_empty() {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "{command} does not take the secret as an argument (not shown here): shell history and the process \
         list would keep it. Pipe it on stdin, use the hidden prompt, or --generate."
    )))
}

pub(crate) fn run(args: SealArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    refuse_stray(&args.stray, "seal")?;
    let printer = &ctx.printer;
    let recipients = args.recipients.resolve()?;
    let kind = args.envelope.kind()?.unwrap_or(Kind::Generic);
    let flow =
        Flow { stdout_free: args.output.is_some(), confirm_set: false, password_in_json: false, command: "seal" };
    let envelope = build_envelope(&args.envelope, kind, (None, &[]), flow, printer, None)?;
    let plaintext = envelope.to_padded_bytes().map_err(Failure::usage)?;
    let armored = crypto::seal(&plaintext, &recipients)?;
    match &args.output {
        Some(path) => files::write_new_private(path, armored.as_bytes())?,
        None => printer.lines(&armored)?,
    }
    if std::io::stderr().is_terminal() {
        printer.note(&format!(
            "sealed a {} to {} recipient(s), fingerprint {}",
            envelope.kind,
            recipients.len(),
            crypto::fingerprint_of(&recipients)
        ));
    }
    Ok(Exit::Ok)
}
