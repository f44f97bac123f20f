//! The customer's side online: `init` (pin the vendor's keys), `send` (check, seal, upload),
//! `status` (what happened to what I sent) and `revoke`.

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde::Serialize;
use zeroize::Zeroizing;

use super::intake::{EnvelopeArgs, Flow};
use super::ledger::{self, SentDrop};
use super::seal::RecipientArgs;
use super::settings::{ClientConfig, Pin};
use super::{block_on, block_on_quiet, client_failure, handover_failure};
use crate::api::DropState;
use crate::client::Client;
use crate::envelope::Kind;
use crate::exit::{Exit, Failure};
use crate::handover::{self, HandoverError};
use crate::link;
use crate::output::shown;

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
    certificates: &[crate::cert::Certificate],
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
                super::cert::write_public(&path, certificate.pem.as_bytes())?
            }
            _ => {
                let same = crate::files::read_public(&path, crate::cert::MAX_PEM_BYTES)
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
            super::cert::describe(certificate)
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
    /// For a script that keeps its own records; also kept in the local state file.
    manage_token: &'a str,
    /// With --generate --print-generated: the password, for the script to set.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
}

/// `--ttl 24h` in seconds.
pub(crate) fn positive_ttl(flag: &str, ttl: Option<&str>) -> Result<Option<u64>, Failure> {
    let Some(text) = ttl else { return Ok(None) };
    let seconds = crate::duration::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|e| Failure::usage(format!("{flag} {e}")))?;
    if seconds == 0 {
        return Err(Failure::usage(format!("{flag} must be longer than 0s (e.g. 24h)")));
    }
    Ok(Some(seconds))
}

/// `--ttl` checked against what the server allows, before anything is created: too long is a
/// usage error that names the maximum. `known_max` when `/v1/info` was already read; else it is
/// asked for (only when a TTL was given).
pub(crate) async fn ttl_within(
    client: &Client,
    known_max: Option<u64>,
    (name, flag): (&str, Option<&str>),
    ttl: Option<u64>,
) -> Result<(), Failure> {
    let (Some(flag), Some(ttl)) = (flag, ttl) else { return Ok(()) };
    let max = match known_max {
        Some(max) => max,
        None => client.info().await.map_err(client_failure)?.limits.max_ttl_seconds,
    };
    if ttl > max {
        let human = crate::duration::shortest(max);
        return Err(Failure::usage(format!("{name} {flag} is longer than this server allows (at most {human})")));
    }
    Ok(())
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
        let bytes = crate::files::read_public(path, MAX_LINK_BYTES as usize)?;
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
                handover::answering(request, &pins).await.map_err(handover_failure)?
            }
            None => {
                let server = config.server(args.server.as_deref())?;
                if args.recipients.given() {
                    handover::direct(&server, args.recipients.resolve()?).map_err(handover_failure)?
                } else {
                    let pin = config.pin(&server).ok_or_else(|| {
                        Failure::usage(format!(
                            "no recipients: run `sealpass init --server {server}` to confirm and pin the vendor's keys, \
                             give --to age1…, or use the vendor's request link"
                        ))
                    })?;
                    handover::pinned(&server, pin.anchor(), &pin.recipients).await.map_err(handover_failure)?
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
                    crate::duration::shortest(most)
                )));
            }
        }
        ttl_within(&to.client, to.max_ttl_seconds, ("--ttl", args.ttl.as_deref()), ttl).await?;
        let kind = match &to.asked {
            Some(asked) => {
                if !printer.json() {
                    printer.note(&format!("You are answering: {} ({})", shown(&asked.label), asked.kind));
                }
                if let Some(offered) = args.envelope.kind()?.filter(|k| *k != asked.kind) {
                    return Err(handover_failure(HandoverError::WrongKind { asked: asked.kind, offered }));
                }
                asked.kind
            }
            None => args.envelope.kind()?.unwrap_or(Kind::Generic),
        };
        if let Some(successor) = kind.successor().filter(|_| !printer.json()) {
            printer.warn(&format!("{kind} is a legacy kind; prefer {}: {}", successor.kinds, successor.why));
        }
        let certificates = to.certificates_for(kind).map_err(handover_failure)?;
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
        if let Err(HandoverError::ForeignPickup { id, manage_token, expires_at, .. }) = &sent {
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
                })?;
            }
        }
        let sent = sent.map_err(|e| {
            let generated = args.envelope.generate && matches!(e, HandoverError::Server(_));
            let failure = handover_failure(e);
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
            vendor_key: crate::trust::is_vendor_key(&to.fingerprint).then(|| to.fingerprint.clone()),
        })?;
        if !printer.json() {
            printer.note(&format!(
                "sent {}, sealed to {}; it waits until {}. `sealpass status` shows who picks it up.",
                handover::a(kind),
                sent.fingerprint,
                sent.expires_at
            ));
        }
        if args.qr {
            let picture = crate::qr::terminal(
                &sent.pickup_url,
                std::io::stderr().is_terminal() && !crate::output::no_color_requested(),
            )?;
            printer.note(&picture);
        }
        Ok(Exit::Ok)
    })
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// One drop's pickup link (default: every drop sent from this machine)
    #[arg(value_name = "PICKUP", conflicts_with = "receipt")]
    pickup: Option<String>,
    /// The follow-up file downloaded from the web sender page: adds its drop to this machine's
    /// record (then `status` and `revoke` know it) and shows it (`--receipt` is its old name)
    #[arg(long = "drop-file", alias = "receipt", value_name = "FILE")]
    receipt: Option<std::path::PathBuf>,
    /// One object a drop: {"pickup_url","label","kind","state","claimed_by","claimed_at","received_at","expires_at","error"}
    #[arg(long)]
    json: bool,
    /// Then forget the drops that are finished (received, revoked, expired, or gone from the
    /// server), keeping the record small
    #[arg(long)]
    forget_finished: bool,
    /// Save the received drop's signed receipt to FILE (one drop only; `sealpass receipt
    /// verify FILE` checks it later, offline)
    #[arg(long, value_name = "FILE", requires = "pickup")]
    save_receipt: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct StatusLine<'a> {
    pickup_url: String,
    label: Option<&'a str>,
    kind: &'a str,
    state: Option<DropState>,
    claimed_by: Option<String>,
    claimed_at: Option<String>,
    received_at: Option<String>,
    expires_at: String,
    /// Why there is no state: the server is unreachable, refused, or no longer knows the drop.
    error: Option<String>,
    /// Once received: the server's signed receipt.
    receipt: Option<crate::receipt::Receipt>,
    /// What the receipt's check found: "verified" (signed by the key the link vouched for),
    /// "signature-only" (no key to hold it to: an older link, or a drop sent from the web
    /// page), or why it failed.
    receipt_check: Option<String>,
}

/// What `status` says of a drop received before its server kept receipts.
const NO_RECEIPT: &str = "none";

/// Fetch and check the receipt of a received drop: signed, by the key the sender's link
/// vouched for (when there is one), about this drop and the staff member the server names.
async fn fetched_receipt(
    client: &Client,
    drop: &SentDrop,
    received_by: Option<&str>,
    vouched_now: Option<&str>,
) -> (Option<crate::receipt::Receipt>, String) {
    let receipt = match client.receipt(&drop.id, &drop.manage_token).await {
        Ok(r) => r,
        Err(e) if e.code() == Some("no_receipt") => {
            return (None, format!("{NO_RECEIPT} (received before the server kept receipts)"));
        }
        Err(e) => return (None, format!("could not be fetched: {e}")),
    };
    // The key recorded at sending, or the one the vendor key's newest manifest names (the
    // server's receipt key rotated since).
    let expected = match (drop.receipt_key.as_deref(), vouched_now) {
        (Some(then), Some(now)) if !then.eq_ignore_ascii_case(&receipt.public_key) => Some(now),
        (then, now) => then.or(now),
    };
    let check = match crate::receipt::verify(&receipt, expected) {
        Err(e) => e.to_string(),
        Ok(()) if receipt.claims.drop_id != drop.id || received_by.is_some_and(|b| b != receipt.claims.received_by) => {
            "it is not about this pickup (another drop or another receiver)".into()
        }
        Ok(()) if expected.is_some() => "verified".into(),
        Ok(()) => "signature-only".into(),
    };
    (Some(receipt), check)
}

/// For each server the drops went to: the receipt key the vendor key vouches for now — the pin's
/// (moved through any hand-over to a new vendor key), else the one the drop was sent under —
/// raising the pin; a manifest that does not verify is warned about (a rollback, another key)
/// and vouches for nothing.
async fn vendor_keys_now(
    drops: &[&SentDrop],
    config: &ClientConfig,
    printer: &crate::output::Printer,
) -> Result<std::collections::HashMap<String, Option<String>>, Failure> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    for drop in drops {
        let pinned = config.pin(&drop.server).filter(|p| crate::trust::is_vendor_key(&p.fingerprint));
        let key = pinned.map(|p| p.fingerprint.clone()).or_else(|| drop.vendor_key.clone());
        if let Some(key) = key.filter(|_| !wanted.iter().any(|(s, _)| *s == drop.server)) {
            wanted.push((drop.server.clone(), key));
        }
    }
    let mut out = std::collections::HashMap::new();
    for (server, key) in wanted {
        let pin = config.pin(&server).filter(|p| p.fingerprint == key);
        let anchor = pin.map_or(crate::trust::Anchor::link(&key), Pin::anchor);
        // Unreachable or not answering: the drop's own line says so.
        let served = match Client::new(&server) {
            Ok(client) => client.info().await.ok().and_then(|info| handover::Served::read(&info).ok()),
            Err(_) => None,
        };
        let vouched = match served.map(|s| s.vouch(anchor, &server)) {
            Some(Ok(v)) => {
                if pin.is_some() {
                    ClientConfig::remember(&server, Some(&v), printer)?;
                }
                v.receipt_key
            }
            Some(Err(why)) => {
                printer.warn(&format!("{server}: {why}. {}", why.what_to_do(&key)));
                None
            }
            None => None,
        };
        out.insert(server, vouched);
    }
    Ok(out)
}

fn find<'a>(sent: &'a [SentDrop], pickup: &str) -> Result<&'a SentDrop, Failure> {
    let wanted = match link::parse_pickup(pickup, None) {
        Ok(p) => Some(p),
        Err(e @ link::LinkError::RequestNotPickup) => return Err(Failure::usage(e)),
        Err(_) => None,
    };
    sent.iter()
        .find(|d| wanted.as_ref().map_or(d.id == pickup.trim(), |w| w.id == d.id && w.server == d.server))
        .ok_or_else(|| {
            Failure::usage("this machine has no record of that drop (status and revoke use the token `send` kept)")
        })
}

pub(crate) fn status(args: StatusArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let imported = args.receipt.as_deref().map(ledger::import_receipt).transpose()?;
    let sent = ledger::sent()?;
    let chosen: Vec<&SentDrop> = match (&imported, &args.pickup) {
        (Some(drop), _) => vec![drop],
        (None, Some(p)) => vec![find(&sent, p)?],
        (None, None) => sent.iter().collect(),
    };
    let one = chosen.len() == 1 && (imported.is_some() || args.pickup.is_some());
    if chosen.is_empty() && !printer.json() {
        printer.note("nothing sent from this machine yet");
    }
    block_on(async {
        let vouched = vendor_keys_now(&chosen, ctx.settings()?, printer).await?;
        // Every drop is shown, whatever happens to one of them; the exit code says the worst.
        let mut exit = Exit::Ok;
        let mut finished: Vec<(String, String)> = Vec::new();
        let mut picked_up = false;
        for drop in chosen {
            let (client, answer) = match Client::new(&drop.server) {
                Ok(client) => {
                    let answer = client.drop_status(&drop.id, &drop.manage_token).await;
                    (Some(client), answer)
                }
                Err(e) => (None, Err(e)),
            };
            let (status, trouble) = match answer {
                Ok(s) => (Some(s), None),
                Err(e) => {
                    let gone = e.code() == Some("not_found");
                    // Gone is an answer for a listing, and exit 4 for the one drop asked about.
                    if !gone || one {
                        exit = worse(exit, super::client_exit(&e));
                    }
                    if gone {
                        finished.push((drop.server.clone(), drop.id.clone()));
                    }
                    (None, Some(if gone { "gone (the server no longer knows it)".to_owned() } else { e.to_string() }))
                }
            };
            if status.as_ref().is_some_and(|s| !matches!(s.state, DropState::Waiting | DropState::Claimed)) {
                finished.push((drop.server.clone(), drop.id.clone()));
            }
            let (receipt, receipt_check) = match (&client, &status) {
                (Some(client), Some(s)) if s.state == DropState::Received => {
                    let now = vouched.get(&drop.server).and_then(Option::as_deref);
                    let (receipt, check) = fetched_receipt(client, drop, s.claimed_by.as_deref(), now).await;
                    (receipt, Some(check))
                }
                _ => (None, None),
            };
            if let Some(path) = &args.save_receipt {
                let Some(receipt) = &receipt else {
                    return Err(Failure::new(
                        Exit::Unavailable,
                        anyhow::anyhow!(
                            "no receipt to save: {}",
                            receipt_check.as_deref().unwrap_or("the drop is not received")
                        ),
                    ));
                };
                let text = serde_json::to_string_pretty(receipt)?;
                crate::files::write_new_private(path, format!("{text}\n").as_bytes())?;
                printer.note(&format!("saved the receipt to {}", path.display()));
            }
            let line = StatusLine {
                pickup_url: drop.pickup(),
                label: drop.label.as_deref(),
                kind: &drop.kind,
                state: status.as_ref().map(|s| s.state),
                claimed_by: status.as_ref().and_then(|s| s.claimed_by.clone()),
                claimed_at: status.as_ref().and_then(|s| s.claimed_at.clone()),
                received_at: status.as_ref().and_then(|s| s.received_at.clone()),
                expires_at: drop.expires_at.clone(),
                error: trouble.as_deref().map(|t| shown(t).into_owned()),
                receipt,
                receipt_check,
            };
            if printer.json() {
                printer.json_line(&line)?;
                continue;
            }
            let text = |value: Option<&str>| shown(value.unwrap_or("?")).into_owned();
            let what = match (&status, &trouble) {
                (_, Some(trouble)) => shown(trouble).into_owned(),
                (Some(s), None) => match s.state {
                    DropState::Received => {
                        format!("received by {} at {}", text(s.claimed_by.as_deref()), text(s.received_at.as_deref()))
                    }
                    DropState::Claimed => format!(
                        "claimed by {} at {}, not yet confirmed",
                        text(s.claimed_by.as_deref()),
                        text(s.claimed_at.as_deref())
                    ),
                    DropState::Waiting => format!("waiting (expires {})", shown(&s.expires_at)),
                    DropState::Expired => format!("expired at {}", shown(&s.expires_at)),
                    DropState::Revoked => format!("revoked at {}", text(s.revoked_at.as_deref())),
                },
                (None, None) => "unknown".to_owned(),
            };
            let label = drop.label.as_deref().map(|l| format!(" [{}]", shown(l))).unwrap_or_default();
            printer.lines(&format!("{}{label} {}: {what}", shown(&drop.pickup()), shown(&drop.kind)))?;
            match (line.receipt.as_ref(), line.receipt_check.as_deref()) {
                (Some(r), Some("verified")) => printer.note(&format!(
                    "  receipt: signed by the server's key {} (your link vouched for it), audit entry #{}",
                    shown(&r.public_key),
                    r.claims.audit_seq
                )),
                (Some(r), Some("signature-only")) => printer.note(&format!(
                    "  receipt: signed (audit entry #{}) by key {}, which your link did not vouch for (an older \
                     link, or sent from the web page)",
                    r.claims.audit_seq,
                    shown(&r.public_key)
                )),
                // A drop received before the server kept receipts has none: a state, not a failure.
                (None, Some(none)) if none.starts_with(NO_RECEIPT) => printer.note(&format!("  receipt: {none}")),
                (_, Some(problem)) => {
                    printer.error(&format!("  receipt: {}", shown(problem)));
                    exit = worse(exit, Exit::Error);
                }
                _ => {}
            }
            picked_up |= line.claimed_by.is_some();
        }
        // The interception warning once, after the names it is about.
        if picked_up && !printer.json() {
            printer.note(
                "If a name above is not someone you expect at the vendor, assume that credential is compromised: \
                 change it on the account now.",
            );
        }
        if args.forget_finished && !finished.is_empty() {
            let forgotten = ledger::forget(&finished)?;
            printer.note(&format!("forgot {forgotten} finished drop(s) (received, revoked, expired or gone)"));
        }
        Ok(exit)
    })
}

/// The exit code that says more: an unreachable server over a missing drop over success.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Ok => 0,
        Exit::Unavailable => 1,
        _ => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[derive(Debug, clap::Args)]
pub(crate) struct RevokeArgs {
    /// The drop's pickup link
    #[arg(value_name = "PICKUP")]
    pickup: String,
}

pub(crate) fn revoke(args: RevokeArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let sent = ledger::sent()?;
    let drop = find(&sent, &args.pickup)?;
    let status = block_on(async {
        Client::new(&drop.server)
            .map_err(client_failure)?
            .revoke(&drop.id, &drop.manage_token)
            .await
            .map_err(client_failure)
    })?;
    printer.lines(&format!("{}: {}", shown(&drop.pickup()), status.state.as_str()))?;
    if let (DropState::Revoked, Some(by)) = (status.state, status.claimed_by.as_deref()) {
        printer.warn(&format!(
            "it was already delivered to {} at {}; revoked before the acknowledgement, so they may have the \
             credential. If that is not someone you expect at the vendor, change it on the account now.",
            shown(by),
            shown(status.claimed_at.as_deref().unwrap_or("?"))
        ));
    }
    Ok(Exit::Ok)
}
