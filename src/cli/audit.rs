//! The commands of events (SPEC §10): `audit` lists the server's audit log and `audit verify`
//! recomputes its chain; `receipt verify` checks a receipt offline; `webhook test` sends each
//! configured webhook a signed test delivery.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde::Serialize;

use super::args::StaffArgs;
use super::block_on;
use sealpass_client::exit::{Exit, Failure};
use sealpass_core::api::AuditPage;
use sealpass_core::audit::{self, Broken, Head, Record};
use sealpass_core::checkpoint::{self, Checkpoint, Witnessed};
use sealpass_core::receipt::{self, Receipt};
use sealpass_core::text::shown;

#[derive(Debug, clap::Args)]
#[command(after_help = "Every entry carries the SHA-256 of the one before it; the last line is the chain's head \
    (length and hash): record it elsewhere, and `sealpass audit verify --head LENGTH:HASH` later proves nothing \
    before it was altered, removed or reordered.\n\nExamples:\n  sealpass audit --since 24h\n  \
    sealpass audit verify --head 1042:3f1c…")]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only entries from this time on: RFC 3339 (2026-12-01T00:00:00Z) or an age (24h, 7d)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// One entry a line, {"seq","prev","hash","event"}, then {"head":{"length","hash"}}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Recompute the whole chain; exit 1, naming the first broken entry, if anything was
    /// altered, removed or reordered
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    /// A head recorded earlier (LENGTH:HASH, as `sealpass audit` prints it): the log must still
    /// hold it, so truncation and rewrites since are caught too
    #[arg(long, value_name = "LENGTH:HASH")]
    head: Option<String>,
    /// Signed witnesses kept outside the server: checkpoints (`--save-checkpoint`, the server's
    /// log), webhook deliveries (their `checkpoint`) or receipts. The log must have each one's
    /// hash at its position, so entries deleted and the chain recomputed are caught
    #[arg(long, value_name = "FILE", num_args = 1..)]
    witness: Vec<PathBuf>,
    /// The server's receipt key the witnesses must be signed with (64 hex digits; default: the
    /// one the server publishes now)
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// After a successful check, save the server's signed checkpoint of the head to FILE (a
    /// witness for later)
    #[arg(long, value_name = "FILE")]
    save_checkpoint: Option<PathBuf>,
    /// {"ok","head":{"length","hash"},"broken"}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

/// What a walk checks the log against besides its own chain: a head recorded earlier, and
/// positions vouched for by signed witnesses, by position.
#[derive(Default)]
struct Expected {
    recorded: Option<Head>,
    witnesses: BTreeMap<u64, Vec<Witnessed>>,
}

/// Where a walk through the log got.
struct Walked {
    /// The head the server served last.
    served: Head,
    /// The server's signature over it.
    checkpoint: Option<Checkpoint>,
    /// The head reached, or the first break.
    outcome: Result<Head, Broken>,
}

/// Read the whole log from the server page by page, handing each entry to `each` and checking
/// the chain as it goes, keeping only where it got (memory stays flat however long the log,
/// and a server that serves no new position ends the walk). Returns the head the server served
/// last, its signed checkpoint, and what the check found: the head reached, or the first break.
fn walk(
    staff: &StaffArgs,
    ctx: &super::Context,
    expected: &Expected,
    mut each: impl FnMut(&Record) -> Result<(), Failure>,
) -> Result<Walked, Failure> {
    let (client, token) = staff.resolve(None, ctx.settings()?)?;
    let recorded = expected.recorded.as_ref();
    block_on(async {
        let (mut after, mut reached, mut broken) = (0u64, Head::empty(), None);
        let mut holds = recorded.is_none_or(|r| r.length == 0);
        let mut last_checkpoint = None;
        let served = loop {
            let AuditPage { head, entries, checkpoint } =
                client.audit(token.expose_secret(), after).await.map_err(Failure::of)?;
            last_checkpoint = checkpoint.or(last_checkpoint);
            if entries.is_empty() {
                break head;
            }
            // Entries out of order are a break the check reports; a page that gets no further
            // (a server repeating itself) ends the walk.
            let mut further = false;
            for record in &entries {
                if record.seq > after {
                    (after, further) = (record.seq, true);
                }
                each(record)?;
                if broken.is_some() {
                    continue;
                }
                match audit::verify_records(&reached, [record]) {
                    Ok(next) => reached = next,
                    Err(b) => broken = Some(b),
                }
                if let Some(r) = recorded.filter(|r| r.length == record.seq) {
                    holds = record.hash == r.hash;
                }
                let witnessed = expected.witnesses.get(&record.seq).into_iter().flatten();
                if let Some(w) = witnessed.into_iter().find(|w| !w.hash.eq_ignore_ascii_case(&record.hash)) {
                    broken = Some(Broken::NotWitnessed { seq: record.seq, by: w.from.clone() });
                }
            }
            if !further || after >= head.length {
                break head;
            }
        };
        // A witness past the end: the log lost entries it once had.
        let beyond = expected.witnesses.range(reached.length + 1..).next().and_then(|(_, w)| w.first());
        let outcome = match (broken, beyond) {
            (Some(b), _) => Err(b),
            (None, Some(w)) => Err(Broken::NotWitnessed { seq: w.seq, by: w.from.clone() }),
            (None, None) if reached != served => Err(Broken::NotTheRecordedHead { length: served.length }),
            (None, None) if !holds => Err(Broken::NotTheRecordedHead { length: recorded.map_or(0, |r| r.length) }),
            (None, None) => Ok(reached),
        };
        Ok(Walked { served, checkpoint: last_checkpoint, outcome })
    })
}

/// The server's receipt key: `key` when given, else the one the server publishes now.
fn receipt_key(key: Option<&str>, staff: &StaffArgs, ctx: &super::Context) -> Result<String, Failure> {
    if let Some(key) = key {
        return Ok(key.to_ascii_lowercase());
    }
    let client = staff.public_client(ctx.settings()?)?;
    let info = block_on(async { client.info().await.map_err(Failure::of) })?;
    info.receipt_key.filter(|k| receipt::valid_key(k)).map(|k| k.to_ascii_lowercase()).ok_or_else(|| {
        Failure::new(
            Exit::Error,
            anyhow::anyhow!("the server publishes no receipt key to check signatures against; pass --key"),
        )
    })
}

/// The witnesses in `files`, each checked against the server's receipt key: `key` when given,
/// else the one the server publishes now (a witness signed by another key is a failure: the
/// key changed, or the witness is forged).
fn witnesses(
    files: &[PathBuf],
    key: Option<&str>,
    staff: &StaffArgs,
    ctx: &super::Context,
) -> Result<Expected, Failure> {
    let mut expected = Expected::default();
    if files.is_empty() {
        return Ok(expected);
    }
    let key = receipt_key(key, staff, ctx)?;
    for file in files {
        let bytes = sealpass_client::files::read_public(file, MAX_RECEIPT)?;
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::usage(format!("{}: not JSON ({e})", file.display())))?;
        let w = checkpoint::witness(&json, &key).map_err(|e| match e {
            checkpoint::WitnessError::Unknown => Failure::usage(format!("{}: {e}", file.display())),
            checkpoint::WitnessError::Signature(_) => {
                Failure::new(Exit::Error, anyhow::anyhow!("witness {}: {e}", file.display()))
            }
        })?;
        expected
            .witnesses
            .entry(w.seq)
            .or_default()
            .push(Witnessed { from: format!("{} ({})", w.from, file.display()), ..w });
    }
    Ok(expected)
}

fn parse_head(text: &str) -> Result<Head, Failure> {
    let bad =
        || Failure::usage("--head must be LENGTH:HASH, as `sealpass audit` prints it (e.g. 1042:3f1c…, 64 hex digits)");
    let (length, hash) = text.trim().split_once(':').ok_or_else(bad)?;
    let length = length.parse().map_err(|_| bad())?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(Head { length, hash: hash.to_ascii_lowercase() })
}

/// `--since`: a time, or how long ago.
fn since(text: &str) -> Result<time::OffsetDateTime, Failure> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(text.trim(), &Rfc3339) {
        return Ok(t);
    }
    let ago = sealpass_core::duration::parse_duration(text)
        .map_err(|_| Failure::usage("--since must be an RFC 3339 time (2026-12-01T00:00:00Z) or an age (24h, 7d)"))?;
    Ok(time::OffsetDateTime::now_utc() - ago)
}

fn at(record: &Record) -> Option<time::OffsetDateTime> {
    let text = record.event.get("at")?.as_str()?;
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// One entry as a line for people.
fn line(record: &Record) -> String {
    let Ok(entry) = record.entry() else {
        return format!("#{} (unreadable: altered)", record.seq);
    };
    let e = &entry.event;
    let who = match &e.actor {
        sealpass_core::events::Actor::Staff(name) => shown(name).into_owned(),
        sealpass_core::events::Actor::Sender => "the sender".into(),
        sealpass_core::events::Actor::Sweeper => "the sweeper".into(),
    };
    let label = e.label.as_deref().map(|l| format!(" \u{201c}{}\u{201d}", shown(l))).unwrap_or_default();
    let id = e.drop_id.as_deref().or(e.request_id.as_deref()).map(|i| format!(" {}", shown(i))).unwrap_or_default();
    let from = e.client.as_deref().map(|c| format!(" from {}", shown(c))).unwrap_or_default();
    // How staff proved who they are, and the role that allowed it (entries since roles).
    let role = e.credential.as_ref().map_or_else(String::new, |c| match (&c.issuer, &c.token) {
        (Some(issuer), _) => format!(" as {} (signed in with {})", c.role, shown(issuer)),
        (None, Some(_)) => format!(" as {} (service token)", c.role),
        (None, None) => format!(" as {}", c.role),
    });
    format!("#{} {} {}{id}{label} by {who}{role}{from}", entry.seq, shown(&e.at), e.kind.name())
}

pub(crate) fn audit(args: AuditArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    if let Some(AuditCommand::Verify(verify)) = args.command {
        return audit_verify(verify, ctx);
    }
    let printer = &ctx.printer;
    let since = args.since.as_deref().map(since).transpose()?;
    let Walked { served: head, checkpoint, outcome } = walk(&args.staff, ctx, &Expected::default(), |record| {
        if since.is_some_and(|s| at(record).is_some_and(|t| t < s)) {
            return Ok(());
        }
        if printer.json() {
            printer.json_line(record)?
        } else {
            printer.lines(&line(record))?
        }
        Ok(())
    })?;
    #[derive(Serialize)]
    struct HeadLine<'a> {
        head: &'a Head,
        checkpoint: Option<&'a Checkpoint>,
    }
    if printer.json() {
        printer.json_line(&HeadLine { head: &head, checkpoint: checkpoint.as_ref() })?;
    } else {
        printer.lines(&format!("head {}:{}", head.length, head.hash))?;
    }
    if let Err(broken) = outcome {
        printer.error(&format!("the audit log does not verify: {broken}; run `sealpass audit verify`"));
        return Ok(Exit::Error);
    }
    Ok(Exit::Ok)
}

fn audit_verify(args: VerifyArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    if let Some(key) = args.key.as_deref().filter(|k| !receipt::valid_key(k)) {
        return Err(Failure::usage(format!("--key {}: not a receipt key (64 hex digits)", shown(key))));
    }
    let mut expected = witnesses(&args.witness, args.key.as_deref(), &args.staff, ctx)?;
    expected.recorded = args.head.as_deref().map(parse_head).transpose()?;
    let Walked { served: head, checkpoint, outcome } = walk(&args.staff, ctx, &expected, |_| Ok(()))?;
    let witnessed: usize = expected.witnesses.values().map(Vec::len).sum();
    #[derive(Serialize)]
    struct ChainVerdict<'a> {
        ok: bool,
        head: &'a Head,
        broken: Option<String>,
    }
    let broken = outcome.as_ref().err().map(ToString::to_string);
    if printer.json() {
        printer.json_line(&ChainVerdict { ok: outcome.is_ok(), head: &head, broken })?;
    } else {
        match &outcome {
            Ok(head) => printer.lines(&format!(
                "the audit log verifies: {} entries, head {}:{}{}{}",
                head.length,
                head.length,
                head.hash,
                if expected.recorded.is_some() { ", and it holds the head you recorded" } else { "" },
                if witnessed > 0 { format!(", and agrees with {witnessed} signed witness(es)") } else { String::new() }
            ))?,
            Err(broken) => printer.error(&format!("the audit log does not verify: {broken}")),
        }
    }
    if let (Ok(verified), Some(path)) = (&outcome, &args.save_checkpoint) {
        // Only what the server's key signed, for the head just verified, is worth keeping.
        let Some(checkpoint) = &checkpoint else {
            return Err(Failure::new(
                Exit::Error,
                anyhow::anyhow!("the server sent no signed checkpoint (an older sealpass server): nothing was saved"),
            ));
        };
        let key = receipt_key(args.key.as_deref(), &args.staff, ctx)?;
        checkpoint::verify(checkpoint, Some(&key)).map_err(|e| {
            Failure::new(Exit::Error, anyhow::anyhow!("the server's checkpoint: {e}; nothing was saved"))
        })?;
        let c = &checkpoint.checkpoint;
        if c.length != verified.length || !c.hash.eq_ignore_ascii_case(&verified.hash) {
            return Err(Failure::new(
                Exit::Error,
                anyhow::anyhow!(
                    "the server signed a checkpoint at {}:{}, not the head just verified ({}:{}); nothing was saved",
                    c.length,
                    shown(&c.hash),
                    verified.length,
                    verified.hash
                ),
            ));
        }
        let text = serde_json::to_string_pretty(checkpoint)?;
        sealpass_client::files::write_new_private(path, format!("{text}\n").as_bytes())?;
        printer.note(&format!(
            "saved the server's signed checkpoint of this head to {}: keep it elsewhere and pass it to --witness later",
            path.display()
        ));
    }
    Ok(if outcome.is_ok() { Exit::Ok } else { Exit::Error })
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Check a receipt offline: its signature, and that the server's receipt key made it (the
    /// key your link or pin vouched for, or --key); exit 1 unless both hold
    Verify(ReceiptVerifyArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 when the signature holds and a key you trust made it; 1 when the receipt \
    was altered, another key signed it, or nothing vouches for its key (then the output says what was and was \
    not checked).")]
pub(crate) struct ReceiptVerifyArgs {
    /// The receipt (JSON, as `sealpass status --save-receipt` writes it)
    file: PathBuf,
    /// The server's receipt key (64 hex digits, as `sealpass init` and `sealpass status` show it).
    /// Default: the key the link you sent with, or your pin for the receipt's server, vouched for
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// {"ok","signature","key","key_from","claims","public_key","error"}
    #[arg(long)]
    json: bool,
}

/// Largest receipt read.
const MAX_RECEIPT: usize = 16 * 1024;

/// The receipt key a customer trusts for `claims`, and why: `--key`, else the key the link of
/// the drop it covers vouched for (the sender's record), or the pin for its server, whichever
/// made it (`signer`), else the first of them.
fn trusted_receipt_key(
    flag: Option<&str>,
    claims: &receipt::Claims,
    signer: &str,
    ctx: &super::Context,
) -> Result<Option<(String, String)>, Failure> {
    if let Some(key) = flag {
        return Ok(Some((key.to_ascii_lowercase(), "--key".into())));
    }
    let sent = super::ledger::sent().unwrap_or_default();
    let server = claims.server.trim_end_matches('/');
    let recorded =
        sent.iter().find(|d| d.id == claims.drop_id && d.server == server).and_then(|d| d.receipt_key.clone());
    let recorded = recorded.map(|key| (key, "the link you sent this drop with".to_owned()));
    let pinned = ctx.settings()?.pin(server).and_then(|p| p.receipt_key.clone());
    let pinned = pinned.map(|key| (key, format!("your pin for {server}")));
    // The drop's own key first; the pin's (raised by every newer manifest the vendor key signed)
    // when the server's receipt key rotated since.
    let candidates: Vec<(String, String)> = recorded.into_iter().chain(pinned).collect();
    let matching = candidates.iter().find(|(key, _)| key.eq_ignore_ascii_case(signer)).cloned();
    Ok(matching.or_else(|| candidates.into_iter().next()))
}

pub(crate) fn receipt(command: ReceiptCommand, ctx: &super::Context) -> Result<Exit, Failure> {
    let ReceiptCommand::Verify(args) = command;
    let printer = &ctx.printer;
    if let Some(key) = args.key.as_deref().filter(|k| !receipt::valid_key(k)) {
        return Err(Failure::usage(format!("--key {}: not a receipt key (64 hex digits)", shown(key))));
    }
    let bytes = sealpass_client::files::read_public(&args.file, MAX_RECEIPT)?;
    let parsed: Receipt = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::usage(format!("{}: not a sealpass receipt ({e})", args.file.display())))?;
    let trusted = trusted_receipt_key(args.key.as_deref(), &parsed.claims, &parsed.public_key, ctx)?;
    // The signature on its own first: it says whether the content was altered.
    let signature = receipt::verify(&parsed, None);
    let outcome = match (&signature, &trusted) {
        (Err(e), _) => Err(e.to_string()),
        (Ok(()), Some((key, _))) => receipt::verify(&parsed, Some(key)).map_err(|e| e.to_string()),
        (Ok(()), None) => Err(format!(
            "the signature holds, but nothing vouches for the key that made it ({}): anyone can sign a receipt \
             with a key of their own. Pass --key with the server's receipt key (as `sealpass init` or `sealpass \
             status` showed it), or verify on the machine that sent the drop",
            shown(&parsed.public_key)
        )),
    };
    #[derive(Serialize)]
    struct ReceiptVerdict<'a> {
        ok: bool,
        /// "valid" or "altered": the signature against the key inside the receipt.
        signature: &'static str,
        /// "trusted", "other" (another key than the trusted one), or "unknown" (none to compare).
        key: &'static str,
        key_from: Option<&'a str>,
        claims: &'a receipt::Claims,
        public_key: &'a str,
        error: Option<String>,
    }
    let key_state = match (&signature, &trusted, &outcome) {
        (Ok(()), Some(_), Ok(())) => "trusted",
        (_, Some((key, _)), _) if !key.eq_ignore_ascii_case(&parsed.public_key) => "other",
        (_, Some(_), _) => "trusted",
        (_, None, _) => "unknown",
    };
    if printer.json() {
        printer.json_line(&ReceiptVerdict {
            ok: outcome.is_ok(),
            signature: if signature.is_ok() { "valid" } else { "altered" },
            key: key_state,
            key_from: trusted.as_ref().map(|(_, from)| from.as_str()),
            claims: &parsed.claims,
            public_key: &parsed.public_key,
            error: outcome.as_ref().err().cloned(),
        })?;
    } else {
        let c = &parsed.claims;
        let label = c.label.as_deref().map(|l| format!(" \u{201c}{}\u{201d}", shown(l))).unwrap_or_default();
        let says = format!(
            "drop {}{label} on {} was received by {} at {} (audit entry #{} {})",
            shown(&c.drop_id),
            shown(&c.server),
            shown(&c.received_by),
            shown(&c.received_at),
            c.audit_seq,
            shown(&c.audit_hash)
        );
        match &outcome {
            Ok(()) => {
                printer.lines(&format!("valid: {says}"))?;
                let from = trusted.as_ref().map_or("", |(_, from)| from.as_str());
                printer.note(&format!("signed by the server's receipt key, as {from} vouched for it"));
            }
            Err(e) => printer.error(&format!("{}: {e}; it claims: {says}", args.file.display())),
        }
    }
    Ok(if outcome.is_ok() { Exit::Ok } else { Exit::Error })
}
