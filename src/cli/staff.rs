//! The vendor staff's side: `request` (a link for a customer), `inbox` (what waits), and
//! `receive` (claim, decrypt, check, hand on, and only then acknowledge).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use secrecy::ExposeSecret;
use serde::Serialize;
use zeroize::Zeroizing;

use super::args::{StaffArgs, positive_ttl, ttl_within};
use super::opened::{Opened, human, load_identities, payload, revealable, validate, with_newline};
use super::vouch::{self, Held, held_to, vendor_vouched};
use super::{PolicyArgs, block_on};
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_client::handover::{self, HandOnError, ReceiveError};
use sealpass_core::envelope::Envelope;
use sealpass_core::link;
use sealpass_core::text::shown;

#[derive(Debug, clap::Args)]
#[command(after_help = "Kinds, recommended first:\n  \
    salesforce-jwt, entra-certificate    no secret at all: the customer registers your published certificate\n  \
    salesforce-client-credentials, entra-client-secret, dynamics-password, key-file, generic\n  \
    salesforce-password, dynamics-app-password    legacy (each names its successor)\n\n\
    --ttl is how long the link stays valid; --drop-ttl how long the credential waits for pickup once sent.\n\n\
    Example:\n  sealpass request --label 'Acme Dynamics' --kind entra-client-secret --require environment_url,expires_on")]
pub(crate) struct RequestArgs {
    /// What it is for, shown to the customer and in the inbox
    #[arg(long)]
    label: String,
    /// The credential kind the customer must send (required; see below)
    #[arg(long, value_parser = super::args::kinds())]
    kind: Option<sealpass_core::envelope::Kind>,
    /// How long the link stays valid, e.g. 72h (default: the server's)
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// How long the credential, once sent, waits for pickup, e.g. 24h (default: the server's;
    /// the sender may ask for less)
    #[arg(long, value_name = "DURATION")]
    drop_ttl: Option<String>,
    /// Optional fields of the kind the customer must fill in (comma-separated or repeated),
    /// e.g. environment_url,expires_on
    #[arg(long, value_name = "FIELD", value_delimiter = ',')]
    require: Vec<String>,
    /// Show the link as a QR code too
    #[arg(long)]
    qr: bool,
    /// {"id","upload_token","expires_at","link"}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

pub(crate) fn request(args: RequestArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    // Everything that can be wrong with the arguments is said before any call.
    let Some(kind) = args.kind else {
        return Err(Failure::usage(
            "which kind of credential? give --kind: salesforce-jwt or entra-certificate (no secret at all, \
             recommended), salesforce-client-credentials, entra-client-secret, dynamics-password, key-file, generic; \
             legacy: salesforce-password, dynamics-app-password",
        ));
    };
    let label = args.label.trim();
    if label.is_empty()
        || label.chars().any(char::is_control)
        || label.chars().count() > sealpass_core::api::MAX_LABEL_CHARS
    {
        return Err(Failure::usage(format!(
            "--label must be 1 to {} printable characters: it tells the customer and your inbox what this is for",
            sealpass_core::api::MAX_LABEL_CHARS
        )));
    }
    for name in &args.require {
        if kind.field(name).is_none_or(|f| f.required) {
            let optional: Vec<&str> = kind.fields().iter().filter(|f| !f.required).map(|f| f.name).collect();
            return Err(Failure::usage(format!(
                "--require {}: {kind} has no such optional field (its optional fields: {})",
                shown(name),
                if optional.is_empty() { "none".to_owned() } else { optional.join(", ") }
            )));
        }
    }
    let ttl = positive_ttl("--ttl", args.ttl.as_deref())?;
    let drop_ttl = positive_ttl("--drop-ttl", args.drop_ttl.as_deref())?;
    let config = ctx.settings()?;
    let (client, token) = args.staff.resolve(None, config)?;
    let (accepted, created) = block_on(async {
        // The values a link from this server may carry: what staff hold it to, checked first.
        let accepted = vouch::accepted(&client, config, printer, "make a request link").await?;
        ttl_within(&client, None, ("--ttl", args.ttl.as_deref()), ttl).await?;
        ttl_within(&client, None, ("--drop-ttl", args.drop_ttl.as_deref()), drop_ttl).await?;
        let body = sealpass_core::api::CreateRequest {
            label: label.to_owned(),
            kind: kind.name().to_owned(),
            ttl_seconds: ttl,
            require: args.require.clone(),
            drop_ttl_seconds: drop_ttl,
        };
        Ok((accepted, client.create_request(token.expose_secret(), &body).await.map_err(Failure::of)?))
    })?;
    // The link must be one of ours, on this server: it goes to a customer.
    let parsed = link::parse_request(&created.link).ok().filter(|r| r.id == created.id && r.server == client.server());
    let Some(parsed) = parsed else {
        return Err(Failure::new(
            Exit::Error,
            anyhow::anyhow!("the server answered with a request link that is not its own; do not send it to anyone"),
        ));
    };
    if !accepted.contains(&parsed.fingerprint) {
        return Err(Failure::new(
            Exit::Error,
            anyhow::anyhow!(
                "REFUSING the link the server made: it names {}, not {}, which you hold this server to. A customer \
                 following it would check the server's keys against the server's own word. Do not send it to \
                 anyone; tell the operator",
                parsed.fingerprint,
                accepted[0]
            ),
        ));
    }
    if printer.json() {
        printer.json_line(&created)?;
    } else {
        printer.lines(&created.link)?;
        printer.note(&format!(
            "Send this link to the customer (it is single-use and expires {}). They open it in a browser, or run:\n  \
             sealpass send '<link>'",
            shown(&created.expires_at)
        ));
        if kind.registers_certificate() {
            printer.note(
                "No secret will exist: the customer registers your published certificate and sends back \
                          only the identifiers.",
            );
        }
        if let Some(successor) = kind.successor() {
            printer.warn(&format!("{kind} is a legacy kind; prefer {}: {}", successor.kinds, successor.why));
        }
    }
    if args.qr {
        let tty = std::io::stderr().is_terminal() && !crate::output::no_color_requested();
        printer.note(&sealpass_core::qr::terminal(&created.link, tty)?);
    }
    Ok(Exit::Ok)
}

#[derive(Debug, clap::Args)]
pub(crate) struct InboxArgs {
    /// {"drops":[{"id","created_at","expires_at","size","request_id","label","kind","requested_by"}]}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

/// Most inbox pages `sealpass inbox` follows (requested drops come first, so a flood of
/// anonymous ones is what gets cut).
const MAX_INBOX_PAGES: usize = 200;

pub(crate) fn inbox(args: InboxArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let (client, token) = args.staff.resolve(None, ctx.settings()?)?;
    let (client, token) = (&client, &token);
    let (drops, complete) = block_on(super::common::all_pages(MAX_INBOX_PAGES, |cursor| async move {
        let page = client.inbox(token.expose_secret(), cursor.as_deref()).await.map_err(Failure::of)?;
        Ok((page.drops, page.next_cursor))
    }))?;
    if printer.json() {
        printer.json_line(&sealpass_core::api::Inbox { drops, next_cursor: None })?;
        return Ok(Exit::Ok);
    }
    if drops.is_empty() {
        printer.note("nothing waiting");
    }
    for d in &drops {
        let label = d.label.as_deref().map_or_else(|| "(no request)".into(), shown);
        let kind = d.kind.as_deref().map_or_else(|| "kind in the envelope".into(), shown);
        let asked = d.requested_by.as_deref().map(|by| format!("  asked by {}", shown(by))).unwrap_or_default();
        printer.lines(&format!(
            "{}/d/{}  {label}  {kind}{asked}  sent {}, expires {}",
            client.server(),
            shown(&d.id),
            shown(&d.created_at),
            shown(&d.expires_at)
        ))?;
    }
    if !complete {
        printer.warn(&format!(
            "stopped after {MAX_INBOX_PAGES} pages ({} drops); drops answering a request are listed first",
            drops.len()
        ));
    }
    Ok(Exit::Ok)
}

#[derive(Debug, clap::Args)]
#[command(after_help = "The drop is acknowledged (and its ciphertext wiped) only after the secret was handed on. \
    A secret that fails the policy is still acknowledged, and the command exits 3 with the report.\n\n\
    Examples:\n  sealpass receive https://drop.example.com/d/ID -o password.txt\n  \
    sealpass receive ID --server https://drop.example.com --exec 'vault kv put secret/acme password=-'")]
pub(crate) struct ReceiveArgs {
    /// The pickup link, or a bare id with --server
    #[arg(value_name = "ID|PICKUP")]
    pickup: String,
    /// Identity file (repeatable; default: $XDG_DATA_HOME/sealpass/identity.txt)
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    identities: Vec<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// The report as JSON (with the secret only with --reveal)
    #[arg(long)]
    json: bool,
    /// Print the secret on stdout
    #[arg(long, group = "hand_on")]
    reveal: bool,
    /// Write the secret to FILE (mode 0600, never overwritten)
    #[arg(short = 'o', long, value_name = "FILE", group = "hand_on")]
    output: Option<PathBuf>,
    /// Run CMD (with sh -c) and give it the secret on its stdin, never in its argv or
    /// environment; the kind, label and the fields that are not secrets are in its environment
    /// as SEALPASS_KIND, SEALPASS_LABEL and SEALPASS_FIELD_<NAME> (e.g. SEALPASS_FIELD_USERNAME)
    #[arg(long, value_name = "CMD", group = "hand_on")]
    exec: Option<String>,
    /// Run CMD (with sh -c) and give it the whole envelope as one JSON object on its stdin:
    /// {"kind","secret","fields","drop_id","request_id","label"}
    #[arg(long, value_name = "CMD", group = "hand_on")]
    exec_json: Option<String>,
    #[command(flatten)]
    staff: StaffArgs,
}

/// `open`'s report plus what the claim said.
#[derive(Serialize)]
struct ReceivedJson<'a> {
    #[serde(flatten)]
    opened: Opened<'a>,
    id: &'a str,
    claimed_by: &'a str,
    request_id: Option<&'a str>,
    label: Option<&'a str>,
}

/// What a hand-over command learns besides its stdin: the kind, the request's label, and every
/// field that is not a secret (a security token never goes into an environment).
fn exec_environment(envelope: &Envelope, label: Option<&str>) -> Vec<(String, String)> {
    let mut vars = vec![("SEALPASS_KIND".to_owned(), envelope.kind.name().to_owned())];
    if let Some(label) = label {
        vars.push(("SEALPASS_LABEL".into(), label.to_owned()));
    }
    for (name, value) in &envelope.fields {
        if envelope.kind.field(name).is_some_and(|f| f.ty == sealpass_core::envelope::FieldType::Secret) {
            continue;
        }
        let upper: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
        vars.push((format!("SEALPASS_FIELD_{upper}"), value.expose_secret().to_owned()));
    }
    vars
}

/// The envelope as one JSON object, for `--exec-json`: borrowed straight from the envelope and
/// written into wiped memory with room for the worst escaping (six bytes a byte), so no copy of
/// the secret is left behind by a growing buffer.
fn envelope_json(envelope: &Envelope, claim: &handover::ClaimDetails) -> Result<Zeroizing<Vec<u8>>, String> {
    #[derive(Serialize)]
    struct Whole<'a> {
        kind: &'a str,
        secret: Option<&'a str>,
        fields: std::collections::BTreeMap<&'a str, &'a str>,
        drop_id: &'a str,
        request_id: Option<&'a str>,
        label: Option<&'a str>,
    }
    let fields: std::collections::BTreeMap<&str, &str> =
        envelope.fields.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect();
    let text: usize =
        envelope.secret.expose_secret().len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    let mut out = Zeroizing::new(Vec::with_capacity(text * 6 + 4096));
    let whole = Whole {
        kind: envelope.kind.name(),
        secret: envelope.kind.has_secret().then(|| envelope.secret.expose_secret()),
        fields,
        drop_id: &claim.id,
        request_id: claim.request_id.as_deref(),
        label: claim.label.as_deref(),
    };
    serde_json::to_writer(&mut *out, &whole).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

/// Give the secret to a command on its stdin.
fn exec(cmd: &str, secret: &[u8], environment: &[(String, String)]) -> Result<(), String> {
    let mut command = Command::new("sh");
    command.arg("-c").arg(cmd);
    // The command gets the secret on stdin and nothing else of ours (no staff token, no config)
    // but what `environment` names.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SEALPASS_") {
            command.env_remove(name);
        }
    }
    command.envs(environment.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not run the --exec command: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // Exactly the secret, like -o: no trailing newline for the command to store with it.
        // A command that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(secret);
    }
    let status = child.wait().map_err(|e| format!("the --exec command: {e}"))?;
    if !status.success() {
        return Err(format!("the --exec command failed ({status})"));
    }
    Ok(())
}

pub(crate) fn receive(args: ReceiveArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    if !args.reveal && args.output.is_none() && args.exec.is_none() && args.exec_json.is_none() {
        return Err(Failure::usage(
            "choose where the secret goes: --reveal (stdout), -o FILE, --exec CMD or --exec-json CMD",
        ));
    }
    let config = ctx.settings()?;
    let (own, pickup) = args.staff.own_pickup(&args.pickup, config)?;
    let identities = load_identities(&args.identities)?;
    // Everything that can be checked here is checked before the claim: a claim that then
    // fails locally would leave the drop claimed and unconfirmed for nothing.
    if args.policy.given() {
        args.policy.resolve_or(None)?;
    }
    if let Some(path) = &args.output {
        output_free(path)?;
    }
    let (client, token) = args.staff.resolve(Some(&own), config)?;
    block_on(async {
        // The vendor's keys as this machine knows them: those its vendor key signed, or those a
        // pin confirmed. A drop sealed to more than those is refused. Else, the server's word.
        let vendor = match held_to(config, &own)? {
            Held::VendorKey(key) => {
                vendor_vouched(&client, &key, config, printer, "receive").await?.manifest.map(|m| {
                    let hashes: Vec<String> = m.body.certificates.iter().map(|c| c.sha256.clone()).collect();
                    (m.body.recipients, Some(hashes))
                })
            }
            Held::Pin(pin) => Some((pin.recipients.clone(), None)),
            Held::Nothing => {
                printer.warn(&format!(
                    "no vendor key configured and your server's keys are not pinned on this machine, so this drop's \
                     recipients can only be checked against what the server itself publishes: a server configured \
                     with an extra recipient would go unnoticed. Set vendor_key = \"sp4-…\" in your client config, \
                     or run `sealpass init --server {own}` once"
                ));
                None
            }
        };
        let received = handover::receive(
            &client,
            token.expose_secret(),
            &pickup.id,
            &identities,
            vendor.as_ref().map(|(recipients, certificates)| handover::Known {
                recipients,
                certificates: certificates.as_deref(),
            }),
            |envelope, claim| {
                // What fails before any of the secret leaves gives the claim back; after, keeps it.
                let before = HandOnError::before;
                let failed = |e: String| HandOnError::after(Failure::new(Exit::Error, anyhow::anyhow!(e)));
                let report = validate(&args.policy, envelope, Some(&claim.certificates)).map_err(before)?;
                let payload = payload(envelope).map_err(before)?;
                if args.reveal {
                    revealable(&payload).map_err(before)?;
                }
                let json = match &args.exec_json {
                    Some(_) => Some(
                        envelope_json(envelope, claim)
                            .map_err(|e| before(Failure::new(Exit::Error, anyhow::anyhow!(e))))?,
                    ),
                    None => None,
                };
                // Hand on first; the acknowledgement follows only once that worked.
                if let Some(path) = &args.output {
                    files::write_new_private(path, &payload).map_err(|e| HandOnError::after(e.into()))?;
                }
                if let Some(cmd) = &args.exec {
                    exec(cmd, &payload, &exec_environment(envelope, claim.label.as_deref())).map_err(failed)?;
                }
                if let (Some(cmd), Some(json)) = (&args.exec_json, &json) {
                    exec(cmd, json, &[]).map_err(failed)?;
                }
                let shown_report = if printer.json() {
                    printer.secret_json_line(&ReceivedJson {
                        opened: Opened::new(envelope, &report, args.reveal, claim.sealing),
                        id: &claim.id,
                        claimed_by: &claim.claimed_by,
                        request_id: claim.request_id.as_deref(),
                        label: claim.label.as_deref(),
                    })
                } else {
                    let text = human(printer, envelope, &report);
                    if args.reveal {
                        printer.note(&text);
                        printer.secret_sink_write(&with_newline(envelope, payload))
                    } else {
                        printer.lines(&text)
                    }
                };
                shown_report.map_err(|e| HandOnError::after(e.into()))?;
                Ok(report.compliant)
            },
        )
        .await
        .map_err(|e| {
            // Identifiers that fail (a thumbprint not the vendor's) were refused: say why.
            if let ReceiveError::Refused { report, .. } = &e {
                printer.note(&printer.report_text(report));
            }
            Failure::of(e)
        })?;
        // On stderr with --json too: a risk to act on, not a report line.
        if received.sealing == Some(sealpass_core::crypto::Sealing::Classical) {
            let moved = vendor
                .as_ref()
                .is_some_and(|(recipients, _)| recipients.iter().any(|r| sealpass_core::crypto::names_post_quantum(r)));
            printer.note(if moved {
                "it was sealed to the vendor's classical (X25519) key: before the move to post-quantum keys, or by an \
                 older tool. Anyone who recorded it can open it once X25519 falls; ask for it again if it lives long"
            } else {
                "it was sealed to a classical (X25519) key: anyone who recorded it can open it once X25519 falls. \
                 Publish a post-quantum key (sealpass keygen) so senders seal to it"
            });
        }
        if !printer.json() {
            printer.note(&format!("received {} and acknowledged it; the server wiped its copy", pickup));
            if let Some(path) = &args.output {
                printer.note(&format!("wrote {} to {} (mode 0600)", what_written(&received.envelope), path.display()));
            }
            if !received.handed {
                printer.warn("the secret fails the policy: ask the customer for a new one");
            }
        }
        Ok(if received.handed { Exit::Ok } else { Exit::Policy })
    })
}

/// What `-o` received, in words.
fn what_written(envelope: &sealpass_core::envelope::Envelope) -> &'static str {
    match envelope.kind {
        sealpass_core::envelope::Kind::KeyFile => "the key file, byte for byte,",
        kind if !kind.has_secret() => "the identifiers (JSON)",
        _ => "the secret",
    }
}

/// `-o FILE` must be a new file in an existing directory: checked before the claim.
fn output_free(path: &std::path::Path) -> Result<(), Failure> {
    if path.symlink_metadata().is_ok() {
        return Err(Failure::usage(format!(
            "{} exists; sealpass never overwrites a secret: choose a new -o path (nothing was claimed)",
            path.display()
        )));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::usage(format!(
            "{} is not a directory: -o needs an existing one (nothing was claimed)",
            parent.display()
        )));
    }
    Ok(())
}
