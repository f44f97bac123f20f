//! What became of what this machine sent: `status` (waiting, claimed, received, with the
//! server's signed receipt checked against the key the vendor vouched for) and `revoke`.

use serde::Serialize;

use super::block_on;
use super::ledger::{self, SentDrop};
use super::settings::{ClientConfig, Pin};
use sealpass_client::exit::{Exit, Exits, Failure};
use sealpass_client::handover;
use sealpass_client::http::Client;
use sealpass_core::api::DropState;
use sealpass_core::link;
use sealpass_core::text::shown;

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// One drop's pickup link (default: every drop sent from this machine)
    #[arg(value_name = "PICKUP", conflicts_with = "receipt")]
    pickup: Option<String>,
    /// The follow-up file downloaded from the web sender page: adds its drop to this machine's
    /// record (then `status` and `revoke` know it) and shows it (`--receipt` is its old name)
    #[arg(long = "drop-file", alias = "receipt", value_name = "FILE")]
    receipt: Option<std::path::PathBuf>,
    /// One object a drop: {"pickup_url","label","kind","state","claimed_by","claimed_at","received_at","released_by","released_at","expires_at","error"}
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
    /// `post-quantum` or `classical`, as this sealpass sealed it (absent when it does not know).
    #[serde(skip_serializing_if = "Option::is_none")]
    sealing: Option<sealpass_core::crypto::Sealing>,
    state: Option<DropState>,
    claimed_by: Option<String>,
    claimed_at: Option<String>,
    received_at: Option<String>,
    /// Who last gave a claim back (it waited again), and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    released_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    released_at: Option<String>,
    expires_at: String,
    /// Why there is no state: the server is unreachable, refused, or no longer knows the drop.
    error: Option<String>,
    /// Once received: the server's signed receipt.
    receipt: Option<sealpass_core::receipt::Receipt>,
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
) -> (Option<sealpass_core::receipt::Receipt>, String) {
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
    let check = match sealpass_core::receipt::verify(&receipt, expected) {
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
        let pinned = config.pin(&drop.server).filter(|p| sealpass_core::trust::is_vendor_key(&p.fingerprint));
        let key = pinned.map(|p| p.fingerprint.clone()).or_else(|| drop.vendor_key.clone());
        if let Some(key) = key.filter(|_| !wanted.iter().any(|(s, _)| *s == drop.server)) {
            wanted.push((drop.server.clone(), key));
        }
    }
    let mut out = std::collections::HashMap::new();
    for (server, key) in wanted {
        let pin = config.pin(&server).filter(|p| p.fingerprint == key);
        let anchor = pin.map_or(sealpass_core::trust::Anchor::link(&key), Pin::anchor);
        // Unreachable or not answering: the drop's own line says so.
        let served = match Client::new(&server) {
            Ok(client) => handover::Served::fetch(&client).await.ok(),
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
                        exit = worse(exit, e.exit());
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
                sealpass_client::files::write_new_private(path, format!("{text}\n").as_bytes())?;
                printer.note(&format!("saved the receipt to {}", path.display()));
            }
            let line = StatusLine {
                pickup_url: drop.pickup(),
                label: drop.label.as_deref(),
                kind: &drop.kind,
                sealing: drop.sealing,
                state: status.as_ref().map(|s| s.state),
                claimed_by: status.as_ref().and_then(|s| s.claimed_by.clone()),
                claimed_at: status.as_ref().and_then(|s| s.claimed_at.clone()),
                received_at: status.as_ref().and_then(|s| s.received_at.clone()),
                released_by: status.as_ref().and_then(|s| s.released_by.clone()),
                released_at: status.as_ref().and_then(|s| s.released_at.clone()),
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
                    DropState::Waiting => match &s.released_by {
                        Some(by) => format!(
                            "waiting again: {} released a claim at {} (expires {})",
                            shown(by),
                            text(s.released_at.as_deref()),
                            shown(&s.expires_at)
                        ),
                        None => format!("waiting (expires {})", shown(&s.expires_at)),
                    },
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
        Client::new(&drop.server).map_err(Failure::of)?.revoke(&drop.id, &drop.manage_token).await.map_err(Failure::of)
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
