//! The customer's side online: `send` (check, seal, upload to the server the link or the pin
//! names); `init` pins the vendor's keys, `status` and `revoke` follow what was sent.

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde::Serialize;
use zeroize::Zeroizing;

use super::args::{RecipientArgs, positive_ttl, ttl_within};
use super::block_on_quiet;
use super::intake::{EnvelopeArgs, Flow};
use super::ledger::{self, SentDrop};
use super::settings::{ClientConfig, Pin};
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::handover::{self, SendError};
use sealpass_core::envelope::Kind;
use sealpass_core::link;
use sealpass_core::text::shown;

#[derive(Debug, clap::Args)]
#[command(after_help = "The request link carries a one-time upload token. Given as an argument it is visible to \
    other users of this machine in the process list while send runs; on a shared machine pass it with \
    --link-file FILE, --link-file - (the first line of stdin; the secret may follow on the next line) or the \
    SEALPASS_LINK environment variable instead.\n\nExamples:\n  \
    sealpass send 'https://drop.example.com/r/ID#TOKEN.sp1-…' --generate --username kore@acme.example\n  \
    sealpass send --link-file link.txt --generate --print-generated --json -u kore@acme.example   # a script\n  \
    printf '%s\\n%s\\n' \"$LINK\" \"$SECRET\" | sealpass send --link-file - --username kore@acme.example\n  \
    sealpass send --server https://drop.example.com --kind entra-client-secret --field tenant_id=… --field client_id=… < secret.txt")]
pub(crate) struct SendArgs {
    /// A request link from the vendor (https://host/r/ID#TOKEN.FINGERPRINT); see below for
    /// ways that keep it out of the process list
    #[arg(value_name = "REQUEST_LINK")]
    link: Option<String>,
    /// Read the request link from FILE, or from the first line of stdin with -
    #[arg(long, value_name = "FILE", conflicts_with = "link")]
    link_file: Option<PathBuf>,
    /// Drop server, without a request link (default: the config's)
    #[arg(long, env = "SEALPASS_SERVER", value_name = "URL")]
    server: Option<String>,
    /// Instead of the server's pinned recipients
    #[command(flatten)]
    recipients: RecipientArgs,
    #[command(flatten)]
    envelope: EnvelopeArgs,
    /// How long the drop waits for pickup, e.g. 24h (default: the server's)
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// Show the pickup link as a QR code too
    #[arg(long)]
    qr: bool,
    /// {"id","pickup_url","expires_at","fingerprint","manage_token"} (and "password" with
    /// --generate --print-generated)
    #[arg(long)]
    json: bool,
    /// With --generate on a terminal: don't wait for "set it on the account, then press Enter"
    #[arg(long)]
    yes: bool,
    /// For salesforce-jwt and entra-certificate: where to save the vendor's certificate to
    /// register (NAME.crt; an identical file is left as it is)
    #[arg(long, value_name = "DIR", default_value = ".")]
    certificate_dir: PathBuf,
}

/// Save the vendor's certificates for the customer to register, and say how: the fingerprint
/// the link or pin vouched for covers them.
fn show_registration(
    kind: Kind,
    certificates: &[sealpass_core::cert::Certificate],
    dir: &std::path::Path,
    printer: &crate::output::Printer,
) -> Result<(), Failure> {
    let now = time::OffsetDateTime::now_utc();
    if certificates.iter().all(|c| c.not_after < now) {
        return Err(Failure::new(
            Exit::Error,
            anyhow::anyhow!("the vendor's certificate has expired, so registering it is of no use: ask the vendor"),
        ));
    }
    let mut files = Vec::new();
    for certificate in certificates.iter().filter(|c| c.not_after >= now) {
        // The name the server publishes it under, checked file-name safe (cert::valid_name).
        let name = certificate.published_as.as_deref().unwrap_or("vendor");
        let path = dir.join(format!("{name}.crt"));
        // Never overwrite: a new file, or one that already holds exactly this certificate.
        match path.symlink_metadata() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                sealpass_client::files::write_new_public(&path, certificate.pem.as_bytes())?
            }
            _ => {
                let same = sealpass_client::files::read_public(&path, sealpass_core::cert::MAX_PEM_BYTES)
                    .is_ok_and(|existing| existing == certificate.pem.as_bytes());
                if !same {
                    return Err(Failure::usage(format!(
                        "{} exists and holds something else: choose another --certificate-dir",
                        path.display()
                    )));
                }
            }
        }
        printer.note(&format!(
            "The vendor's certificate, saved to {}:\n{}\n",
            path.display(),
            crate::output::certificate_text(certificate)
        ));
        files.push((path, certificate.sha1_thumbprint.clone()));
    }
    let file = files.iter().map(|(p, _)| p.display().to_string()).collect::<Vec<_>>().join(" and ");
    let thumbprint = files.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" or ");
    let steps: Vec<String> = kind
        .registration_steps()
        .iter()
        .enumerate()
        .map(|(i, step)| format!("  {}. {}", i + 1, step.replace("{file}", &file).replace("{thumbprint}", &thumbprint)))
        .collect();
    printer.note(&format!(
        "No secret leaves your organisation: register this certificate, then send back only the identifiers.\n{}",
        steps.join("\n")
    ));
    Ok(())
}

#[derive(Serialize)]
struct SentLine<'a> {
    id: &'a str,
    pickup_url: &'a str,
    expires_at: &'a str,
    fingerprint: &'a str,
    /// `post-quantum` or `classical`: the kind of keys it was sealed to.
    sealing: sealpass_core::crypto::Sealing,
    /// For a script that keeps its own records; also kept in the local state file.
    manage_token: &'a str,
    /// With --generate --print-generated: the password, for the script to set.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

/// Longest line a request link may be.
const MAX_LINK_BYTES: u64 = 4096;

/// The request link: from --link-file (a file, or the first line of stdin), else
/// `SEALPASS_LINK`, else the argument. Reading only the first line of stdin leaves the rest for
/// the secret.
fn request_link(args: &SendArgs) -> Result<Option<Zeroizing<String>>, Failure> {
    let from_bytes = |bytes: &[u8], whence: &str| -> Result<Zeroizing<String>, Failure> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Failure::usage(format!("the link in {whence} is not text")))?
            .trim()
            .to_owned();
        if text.is_empty() {
            return Err(Failure::usage(format!("{whence} holds no request link")));
        }
        Ok(Zeroizing::new(text))
    };
    if let Some(path) = &args.link_file {
        if path.as_os_str() == "-" {
            let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINK_BYTES as usize + 1));
            let stdin = std::io::stdin();
            stdin
                .lock()
                .take(MAX_LINK_BYTES + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| anyhow::anyhow!("could not read the link from stdin: {e}"))?;
            if line.len() as u64 > MAX_LINK_BYTES {
                return Err(Failure::usage("the first line of stdin is too long to be a request link"));
            }
            return from_bytes(&line, "stdin").map(Some);
        }
        let bytes = sealpass_client::files::read_public(path, MAX_LINK_BYTES as usize)?;
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        return from_bytes(first, &path.display().to_string()).map(Some);
    }
    // The argument the user typed wins over the environment; both, differing, is refused rather
    // than silently answering another request with a stale SEALPASS_LINK.
    let env = std::env::var_os("SEALPASS_LINK").filter(|v| !v.is_empty());
    match (&args.link, env) {
        (Some(typed), Some(env)) if env.to_str().map(str::trim) != Some(typed.trim()) => Err(Failure::usage(
            "SEALPASS_LINK holds a different link than the one given: unset SEALPASS_LINK, or drop the argument",
        )),
        (Some(typed), _) => Ok(Some(Zeroizing::new(typed.clone()))),
        (None, Some(env)) => {
            let text = env.into_string().map_err(|_| Failure::usage("SEALPASS_LINK is not text"))?;
            from_bytes(text.as_bytes(), "SEALPASS_LINK").map(Some)
        }
        (None, None) => Ok(None),
    }
}

pub(crate) fn send(args: SendArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let config = ctx.settings()?;
    let ttl = positive_ttl("--ttl", args.ttl.as_deref())?;
    let link_text = request_link(&args)?;
    // The state file must be readable before anything is uploaded: a drop whose manage token
    // cannot be kept could not be followed or revoked.
    ledger::sent()?;
    // Quiet: this future prompts (the secret, "set it, then press Enter").
    block_on_quiet(async {
        // Where to, sealed to whom, answering what.
        let to = match &link_text {
            Some(_) if args.recipients.given() || args.server.is_some() => {
                return Err(Failure::usage("a request link names its server and its keys: drop --server, --to and -R"));
            }
            Some(text) => {
                let request = link::parse_request(text).map_err(Failure::usage)?;
                let pins: Vec<_> = config.pins_on_host(&request.server).into_iter().map(Pin::anchor).collect();
                handover::answering(request, &pins).await.map_err(Failure::of)?
            }
            None => {
                let server = config.server(args.server.as_deref())?;
                if args.recipients.given() {
                    handover::direct(&server, args.recipients.resolve()?).map_err(Failure::of)?
                } else {
                    let pin = config.pin(&server).ok_or_else(|| {
                        Failure::usage(format!(
                            "no recipients: run `sealpass init --server {server}` to confirm and pin the vendor's keys, \
                             give --to age1…, or use the vendor's request link"
                        ))
                    })?;
                    handover::pinned(&server, pin.anchor(), &pin.recipients).await.map_err(Failure::of)?
                }
            }
        };
        // A newer manifest under the user's pin raises it (or moves it to a cross-signed key).
        ClientConfig::remember(to.client.server(), to.by_pin.as_ref(), printer)?;
        // A request may set how long its answer waits: --ttl may shorten that, not lengthen it.
        if let (Some(asked), Some(most)) = (ttl, to.asked.as_ref().and_then(|a| a.drop_ttl_seconds)) {
            if asked > most {
                return Err(Failure::usage(format!(
                    "--ttl {} is longer than this request allows: the vendor's request says what you send waits at most {} \
                     (drop --ttl to use that)",
                    args.ttl.as_deref().unwrap_or_default(),
                    sealpass_core::duration::shortest(most)
                )));
            }
        }
        ttl_within(&to.client, to.max_ttl_seconds, ("--ttl", args.ttl.as_deref()), ttl).await?;
        let kind = match &to.asked {
            Some(asked) => {
                if !printer.json() {
                    printer.note(&format!("You are answering: {} ({})", shown(&asked.label), asked.kind));
                }
                asked.kind_for(args.envelope.kind()?).map_err(Failure::of)?
            }
            None => args.envelope.kind()?.unwrap_or(Kind::Generic),
        };
        if let Some(successor) = kind.successor().filter(|_| !printer.json()) {
            printer.warn(&format!("{kind} is a legacy kind; prefer {}: {}", successor.kinds, successor.why));
        }
        let certificates = to.certificates_for(kind).map_err(Failure::of)?;
        if kind.registers_certificate() {
            show_registration(kind, certificates, &args.certificate_dir, printer)?;
        }

        // Check and seal before anything leaves the machine.
        // stdout carries the pickup link; with --print-generated the password comes first, for a script.
        let flow = Flow { stdout_free: true, confirm_set: !args.yes, password_in_json: args.json, command: "send" };
        let request_id = to.asked.as_ref().map(|a| a.link.id.clone());
        let require = to.asked.as_ref().map_or(&[][..], |a| &a.require[..]);
        let envelope = super::intake::build_envelope(
            &args.envelope,
            kind,
            (request_id, require),
            flow,
            printer,
            Some(certificates),
        )?;
        let sent = handover::send(&to, &envelope, ttl).await;
        // A drop stored under a pickup link we refuse is still a drop: keep its manage token so
        // the revoke the message suggests works.
        if let Err(SendError::ForeignPickup { id, manage_token, expires_at, .. }) = &sent {
            if link::is_id(id) {
                ledger::record(SentDrop {
                    server: to.client.server().to_owned(),
                    id: id.clone(),
                    manage_token: manage_token.expose_secret().to_owned(),
                    label: Some("refused pickup link: revoke this drop".into()),
                    kind: kind.name().to_owned(),
                    created_at: super::now_rfc3339(),
                    expires_at: expires_at.clone(),
                    receipt_key: None,
                    vendor_key: None,
                    sealing: None,
                })?;
            }
        }
        let sent = sent.map_err(|e| {
            let generated = args.envelope.generate && matches!(e, SendError::Server(_));
            let failure = Failure::of(e);
            if !generated {
                return failure;
            }
            Failure::new(
                failure.exit,
                anyhow::anyhow!(
                    "{}. The generated password was NOT sent. If you already set it on the account, send it again \
                     without --generate and type it at the prompt.",
                    failure.error
                ),
            )
        })?;
        // The link first: whatever happens next, the person has it.
        if printer.json() {
            printer.secret_json_line(&SentLine {
                id: &sent.id,
                pickup_url: &sent.pickup_url,
                expires_at: &sent.expires_at,
                fingerprint: &sent.fingerprint,
                sealing: sent.sealing,
                manage_token: sent.manage_token.expose_secret(),
                password: (args.envelope.generate && args.envelope.print_generated)
                    .then(|| envelope.secret.expose_secret()),
            })?;
        } else {
            printer.lines(&sent.pickup_url)?;
        }
        ledger::record(SentDrop {
            server: to.client.server().to_owned(),
            id: sent.id.clone(),
            manage_token: sent.manage_token.expose_secret().to_owned(),
            label: to.asked.as_ref().map(|a| a.label.clone()).or_else(|| envelope.note.clone()),
            kind: kind.name().to_owned(),
            created_at: super::now_rfc3339(),
            expires_at: sent.expires_at.clone(),
            receipt_key: to.receipt_key.clone(),
            vendor_key: sealpass_core::trust::is_vendor_key(&to.fingerprint).then(|| to.fingerprint.clone()),
            sealing: Some(sent.sealing),
        })?;
        if !printer.json() {
            printer.note(&format!(
                "sent {}, sealed to {} ({} keys); it waits until {}. `sealpass status` shows who picks it up.",
                handover::a(kind),
                sent.fingerprint,
                sent.sealing,
                sent.expires_at
            ));
        }
        if sent.left_out > 0 {
            printer.note(&format!(
                "the vendor also publishes {} classical key(s); it was sealed to its post-quantum keys only, as age \
                 never mixes the two in one file (the classical ones open drops sealed before)",
                sent.left_out
            ));
        }
        if args.qr {
            let picture = sealpass_core::qr::terminal(
                &sent.pickup_url,
                std::io::stderr().is_terminal() && !crate::output::no_color_requested(),
            )?;
            printer.note(&picture);
        }
        Ok(Exit::Ok)
    })
}
