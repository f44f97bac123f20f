//! `sealpass keygen` and `sealpass recipient`: make an identity (0600, never overwritten) and show
//! the recipient(s) and fingerprint that senders seal to, as text or a QR code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use serde::Serialize;

use super::opened::load_identities;
use super::{identity_path, now_rfc3339};
use crate::output::Printer;
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_core::crypto;
use sealpass_core::qr;

#[derive(Debug, clap::Args)]
#[command(after_help = "Without -o the identity goes to $XDG_DATA_HOME/sealpass/identity.txt \
    (~/.local/share/sealpass/identity.txt). The key is hybrid post-quantum (ML-KEM-768 with X25519): \
    its recipient is age1pq1… (about 1,950 characters). Give the recipient to your drop server's \
    operator; keep the identity secret.")]
pub(crate) struct KeygenArgs {
    /// Where to write the identity (mode 0600; an existing file is never overwritten)
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Make a classical X25519 key (age1…) instead, for senders whose tools cannot seal to
    /// post-quantum keys; anything sealed to it can be opened once X25519 falls
    #[arg(long)]
    classic: bool,
    /// {"recipient","fingerprint","identity_file"}
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RecipientShowArgs {
    /// Identity file (default: $XDG_DATA_HOME/sealpass/identity.txt)
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Also print the recipient(s) as a QR code a phone can scan (for a post-quantum recipient,
    /// too large for a terminal, the code holds the recipients-only fingerprint instead)
    #[arg(long)]
    qr: bool,
    /// Write the QR code to FILE (.svg or .png)
    #[arg(long, value_name = "FILE")]
    qr_file: Option<PathBuf>,
    /// {"recipients","fingerprint"}
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct KeyInfo<'a> {
    recipients: &'a [String],
    fingerprint: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_file: Option<String>,
}

/// Which value goes where: an `sp1-` names these recipients only; customers confirm the vendor
/// key's `sp4-`.
const NOT_TO_PUBLISH: &str = "Give the recipient to your drop server's operator (its `recipients`). The value customers \
     confirm is the vendor key's sp4- (`sealpass vendor-key show`), not this sp1-, which names only these recipients \
     (for senders using `send --to`).";

/// Print the recipients and their fingerprint; returns the fingerprint.
fn print_keys(printer: &Printer, recipients: &[String], identity_file: Option<&Path>) -> Result<String, Failure> {
    let fingerprint = crypto::fingerprint(recipients);
    if printer.json() {
        let info = KeyInfo {
            recipients,
            fingerprint: &fingerprint,
            identity_file: identity_file.map(|p| p.display().to_string()),
        };
        printer.json_line(&info)?;
    } else {
        printer.lines(&format!("{}\nrecipients-only fingerprint: {fingerprint}", recipients.join("\n")))?;
        printer.note(NOT_TO_PUBLISH);
    }
    Ok(fingerprint)
}

pub(crate) fn keygen(args: KeygenArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let path = identity_path(args.output)?;
    let (identity, recipient) = if args.classic {
        crypto::generate_classic_identity(&now_rfc3339())
    } else {
        crypto::generate_identity(&now_rfc3339())
    };
    files::write_new_private(&path, identity.expose_secret().as_bytes())?;
    print_keys(printer, &[recipient.to_string()], Some(&path))?;
    printer.note(&format!(
        "wrote a new identity to {} (mode 0600). Keep it secret and back it up: without it nothing \
         sealed to this recipient can be opened.",
        path.display()
    ));
    Ok(Exit::Ok)
}

pub(crate) fn recipient(args: RecipientShowArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let identities = load_identities(args.identity.as_slice())?;
    // The same set `seal` would compute: sorted, without duplicates.
    let set = crypto::recipient_set(identities.recipients().to_vec()).map_err(Failure::usage)?;
    let recipients: Vec<String> = set.iter().map(ToString::to_string).collect();
    // What a code holds when the recipients do not fit one: their fingerprint, which a sender
    // compares with what they were given.
    let fingerprint = print_keys(printer, &recipients, None)?;
    let payload = recipients.join("\n");
    let instead = |why: &str| {
        printer.note(&format!(
            "{why}: the QR code holds the recipients-only fingerprint {fingerprint} instead; a sender who was \
             given the recipients checks them against it (sealpass recipient on their copy prints the same value)"
        ));
    };
    if args.qr {
        // With --json, stdout is the JSON object alone; the picture goes to the terminal.
        let to_stdout = !args.json;
        let tty = if to_stdout { std::io::stdout().is_terminal() } else { std::io::stderr().is_terminal() };
        let text = if payload.len() > qr::TERMINAL_MAX {
            instead(&format!(
                "the recipients ({} characters) are too large for a code a phone scans off a terminal (use --qr-file \
                 for a picture that holds them)",
                payload.len()
            ));
            fingerprint.as_str()
        } else {
            payload.as_str()
        };
        let picture = qr::terminal(text, tty && !crate::output::no_color_requested())?;
        if to_stdout { printer.lines(&picture)? } else { printer.note(&picture) }
    }
    if let Some(path) = args.qr_file {
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        let render: fn(&str) -> Result<Vec<u8>, qr::QrError> = match ext.as_deref() {
            Some("svg") => |text| qr::svg(text).map(String::into_bytes),
            Some("png") => qr::png,
            _ => return Err(Failure::usage("--qr-file must end in .svg or .png")),
        };
        let bytes = match render(&payload) {
            Ok(bytes) => bytes,
            Err(too_large) => {
                instead(&format!("the recipients do not fit in one QR code ({too_large})"));
                render(&fingerprint)?
            }
        };
        // Public data, but like every file sealpass writes: never over an existing one.
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e}{}",
                path.display(),
                if path.exists() { "; sealpass never overwrites it" } else { "" }
            )
        })?;
        std::io::Write::write_all(&mut file, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        printer.note(&format!("wrote the QR code to {}", path.display()));
    }
    Ok(Exit::Ok)
}
