//! `sealpass open`: the offline receiving half. Decrypt with the vendor's identity, read the
//! envelope strictly, validate the secret against the receiver's policy (or the envelope's), and
//! report; the secret itself only on request.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use super::PolicyArgs;
use super::opened::{Opened, decrypt, human, load_identities, payload, revealable, validate, with_newline};
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_core::crypto::MAX_CIPHERTEXT_BYTES;

#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 ok, 3 the secret fails the policy (reported first), 5 cannot decrypt \
    (no matching identity, corrupt, truncated, tampered, not age).\n\nExamples:\n  \
    sealpass open -i vendor.key cred.age\n  sealpass open -i vendor.key --policy salesforce -o password.txt < cred.age")]
pub(crate) struct OpenArgs {
    /// Identity file (repeatable; default: $XDG_DATA_HOME/sealpass/identity.txt)
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    identities: Vec<PathBuf>,
    /// The sealed file, armored or binary (default: stdin)
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// {"kind","fields","policy","compliant","rules","warnings","secret"?, …}
    #[arg(long)]
    json: bool,
    /// Print the secret on stdout (the report then goes to stderr)
    #[arg(long, conflicts_with = "output")]
    reveal: bool,
    /// Write the secret to FILE (mode 0600, never overwritten); written even when it fails the policy (exit 3)
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub(crate) fn run(args: OpenArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let identities = load_identities(&args.identities)?;
    let ciphertext = match &args.input {
        Some(path) => files::read_public(path, MAX_CIPHERTEXT_BYTES).map_err(|e| match e {
            files::FileError::TooLarge(..) => Failure::new(Exit::Decrypt, e),
            other => Failure::new(Exit::Error, other),
        })?,
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::usage("give the sealed FILE, or pipe it in: sealpass open -i KEY < cred.age"));
            }
            let mut bytes = Vec::new();
            std::io::stdin().lock().take(MAX_CIPHERTEXT_BYTES as u64 + 1).read_to_end(&mut bytes)?;
            bytes
        }
    };
    let envelope = decrypt(&ciphertext, &identities)?;
    let report = validate(&args.policy, &envelope, None)?;
    let payload = payload(&envelope)?;
    if args.reveal {
        revealable(&payload)?;
    }

    if let Some(path) = &args.output {
        files::write_new_private(path, &payload)?;
    }
    if printer.json() {
        // It may hold the secret: written through the wiped sink.
        let sealing = sealpass_core::crypto::Sealing::of(&ciphertext);
        printer.secret_json_line(&Opened::new(&envelope, &report, args.reveal, sealing))?;
    } else if args.reveal {
        printer.note(&human(printer, &envelope, &report));
        printer.secret_sink_write(&with_newline(&envelope, payload))?;
    } else {
        printer.lines(&human(printer, &envelope, &report))?;
        if let Some(path) = &args.output {
            printer.note(&format!("wrote the secret to {} (mode 0600)", path.display()));
        }
    }
    Ok(if report.compliant { Exit::Ok } else { Exit::Policy })
}
