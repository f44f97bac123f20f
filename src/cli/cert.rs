//! `sealpass cert new` and `sealpass cert show`: the vendor's certificate for Salesforce's JWT
//! bearer flow and Entra ID certificate credentials (SPEC §9), and what a person compares.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::output::Printer;
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_core::cert::{self, Certificate};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum CertCommand {
    /// Make an RSA-3072 key (NAME.key, 0600) and a self-signed certificate (NAME.crt) to publish
    #[command(after_help = "Nothing is overwritten. Publish NAME.crt from the drop server \
        ([[certificates]] in its config) so customers register it; keep NAME.key with the integration \
        that signs its logins, like any private key.\n\nExample:\n  sealpass cert new --name kore-integration -o /etc/kore")]
    New(CertNewArgs),
    /// Show a certificate's subject, validity, SHA-256 fingerprint and SHA-1 thumbprint
    Show(CertShowArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CertNewArgs {
    /// The certificate's name: its subject (CN=NAME) and the files' names
    #[arg(long)]
    name: String,
    /// Validity in days (1 to 3650)
    #[arg(long, default_value_t = cert::DEFAULT_DAYS)]
    days: u32,
    /// Directory for NAME.key and NAME.crt (it must exist) [default: the current one]
    #[arg(short = 'o', long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// {"key_file","certificate_file", and what `cert show --json` prints}
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct CertShowArgs {
    /// A certificate file (PEM, or DER as Windows writes .cer files)
    file: PathBuf,
    /// {"subject","not_before","not_after","key","sha256","sha1_thumbprint","expired"}
    #[arg(long)]
    json: bool,
}

/// A certificate as `cert show --json` and `/v1/info` describe it (without the PEM).
#[derive(Serialize)]
struct ShownCert<'a> {
    subject: &'a str,
    not_before: String,
    not_after: String,
    key: &'a str,
    sha256: &'a str,
    sha1_thumbprint: &'a str,
    expired: bool,
}

fn shown(c: &Certificate) -> ShownCert<'_> {
    ShownCert {
        subject: &c.subject,
        not_before: cert::rfc3339(c.not_before),
        not_after: cert::rfc3339(c.not_after),
        key: &c.key,
        sha256: &c.sha256,
        sha1_thumbprint: &c.sha1_thumbprint,
        expired: c.not_after < time::OffsetDateTime::now_utc(),
    }
}

pub(crate) fn run(command: CertCommand, ctx: &super::Context) -> Result<Exit, Failure> {
    match command {
        CertCommand::New(args) => new(args, &ctx.printer),
        CertCommand::Show(args) => show(args, &ctx.printer),
    }
}

fn new(args: CertNewArgs, printer: &Printer) -> Result<Exit, Failure> {
    // Checked before anything else: the name becomes the files' names.
    cert::check_name(&args.name).map_err(|e| Failure::usage(format!("--name: {e}")))?;
    let dir = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
    if !dir.is_dir() {
        return Err(Failure::usage(format!("-o {} is not a directory (create it first)", dir.display())));
    }
    let key_path = dir.join(format!("{}.key", args.name));
    let crt_path = dir.join(format!("{}.crt", args.name));
    for path in [&key_path, &crt_path] {
        if path.symlink_metadata().is_ok() {
            return Err(Failure::new(
                Exit::Error,
                anyhow::anyhow!("{} exists; nothing was made (sealpass never overwrites a key)", path.display()),
            ));
        }
    }
    let spinner = (!printer.json()).then(|| crate::output::Spinner::start("making an RSA-3072 key"));
    let made = cert::make(&args.name, args.days, time::OffsetDateTime::now_utc()).map_err(|e| match e {
        cert::CertError::Invalid(_) => Failure::usage(e),
        other => Failure::new(Exit::Error, other),
    });
    drop(spinner);
    let made = made?;
    files::write_new_private(&key_path, made.key_pem.as_bytes())?;
    files::write_new_public(&crt_path, made.certificate.pem.as_bytes())?;
    if printer.json() {
        #[derive(Serialize)]
        struct Out<'a> {
            key_file: String,
            certificate_file: String,
            #[serde(flatten)]
            certificate: ShownCert<'a>,
        }
        printer.json_line(&Out {
            key_file: key_path.display().to_string(),
            certificate_file: crt_path.display().to_string(),
            certificate: shown(&made.certificate),
        })?;
    } else {
        printer.lines(&crate::output::certificate_text(&made.certificate))?;
        printer.note(&format!(
            "wrote {} (private, 0600) and {} (public).\nPublish the certificate from the drop server:\n  \
             [[certificates]]\n  name = \"{}\"\n  file = \"{}\"\nKeep the key with the integration that signs its \
             logins; never send it to a customer.",
            key_path.display(),
            crt_path.display(),
            args.name,
            crt_path.canonicalize().unwrap_or(crt_path.clone()).display()
        ));
    }
    Ok(Exit::Ok)
}

/// Read a certificate file: one PEM certificate, or one DER certificate.
pub(crate) fn read_certificate(path: &Path) -> Result<Certificate, Failure> {
    let bytes = files::read_public(path, cert::MAX_PEM_BYTES)?;
    let parsed = if bytes.first() == Some(&0x30) {
        cert::parse_der(&bytes, String::new()).map(|mut c| {
            c.pem = cert::pem_of(&bytes);
            c
        })
    } else {
        cert::parse_public_pem(&bytes)
    };
    parsed.map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

fn show(args: CertShowArgs, printer: &Printer) -> Result<Exit, Failure> {
    let certificate = read_certificate(&args.file)?;
    if printer.json() {
        printer.json_line(&shown(&certificate))?;
    } else {
        printer.lines(&crate::output::certificate_text(&certificate))?;
    }
    Ok(Exit::Ok)
}
