//! The commands of events (SPEC §10): `audit` lists the server's audit log and `audit verify`
//! recomputes its chain; `receipt verify` checks a receipt offline; `webhook test` sends each
//! configured webhook a signed test delivery.

use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde::Serialize;

use super::staff::StaffArgs;
use super::{block_on, client_failure};
use crate::api::AuditPage;
use crate::audit::{self, Broken, Head, Record};
use crate::exit::{Exit, Failure};
use crate::output::shown;
use crate::receipt::{self, Receipt};

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
    /// {"ok","head":{"length","hash"},"broken"}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

/// Read the whole log from the server page by page, handing each entry to `each` and checking
/// the chain as it goes, keeping only where it got (memory stays flat however long the log,
/// and a server that serves no new position ends the walk). Returns the head the server served last and
/// what the check found: the head reached, or the first break. `recorded`: a head recorded
/// earlier that the log must still hold.
fn walk(
    staff: &StaffArgs,
    ctx: &super::Context,
    recorded: Option<&Head>,
    mut each: impl FnMut(&Record) -> Result<(), Failure>,
) -> Result<(Head, Result<Head, Broken>), Failure> {
    let (client, token) = staff.resolve(None, ctx.settings()?)?;
    block_on(async {
        let (mut after, mut reached, mut broken) = (0u64, Head::empty(), None);
        let mut holds = recorded.is_none_or(|r| r.length == 0);
        let served = loop {
            let AuditPage { head, entries } =
                client.audit(token.expose_secret(), after).await.map_err(client_failure)?;
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
            }
            if !further || after >= head.length {
                break head;
            }
        };
        let outcome = match broken {
            Some(b) => Err(b),
            None if reached != served => Err(Broken::NotTheRecordedHead { length: served.length }),
            None if !holds => Err(Broken::NotTheRecordedHead { length: recorded.map_or(0, |r| r.length) }),
            None => Ok(reached),
        };
        Ok((served, outcome))
    })
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
    let ago = crate::duration::parse_duration(text)
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
        crate::events::Actor::Staff(name) => shown(name).into_owned(),
        crate::events::Actor::Sender => "the sender".into(),
        crate::events::Actor::Sweeper => "the sweeper".into(),
    };
    let label = e.label.as_deref().map(|l| format!(" \u{201c}{}\u{201d}", shown(l))).unwrap_or_default();
    let id = e.drop_id.as_deref().or(e.request_id.as_deref()).map(|i| format!(" {}", shown(i))).unwrap_or_default();
    let from = e.client.as_deref().map(|c| format!(" from {}", shown(c))).unwrap_or_default();
    format!("#{} {} {}{id}{label} by {who}{from}", entry.seq, shown(&e.at), e.kind.name())
}

pub(crate) fn audit(args: AuditArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    if let Some(AuditCommand::Verify(verify)) = args.command {
        return audit_verify(verify, ctx);
    }
    let printer = &ctx.printer;
    let since = args.since.as_deref().map(since).transpose()?;
    let (head, outcome) = walk(&args.staff, ctx, None, |record| {
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
    }
    if printer.json() {
        printer.json_line(&HeadLine { head: &head })?;
    } else {
        printer.lines(&format!("head {}:{}", head.length, head.hash))?;
    }
    if let Err(broken) = outcome {
        printer.warn(&format!("the audit log does not verify: {broken}; run `sealpass audit verify`"));
        return Ok(Exit::Error);
    }
    Ok(Exit::Ok)
}

fn audit_verify(args: VerifyArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let recorded = args.head.as_deref().map(parse_head).transpose()?;
    let (head, outcome) = walk(&args.staff, ctx, recorded.as_ref(), |_| Ok(()))?;
    #[derive(Serialize)]
    struct Verdict<'a> {
        ok: bool,
        head: &'a Head,
        broken: Option<String>,
    }
    let broken = outcome.as_ref().err().map(ToString::to_string);
    if printer.json() {
        printer.json_line(&Verdict { ok: outcome.is_ok(), head: &head, broken })?;
    } else {
        match &outcome {
            Ok(head) => printer.lines(&format!(
                "the audit log verifies: {} entries, head {}:{}{}",
                head.length,
                head.length,
                head.hash,
                if recorded.is_some() { ", and it holds the head you recorded" } else { "" }
            ))?,
            Err(broken) => printer.warn(&format!("the audit log does not verify: {broken}")),
        }
    }
    Ok(if outcome.is_ok() { Exit::Ok } else { Exit::Error })
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReceiptCommand {
    /// Check a receipt offline: its signature, and (with --key) that the server's key made it
    Verify(ReceiptVerifyArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReceiptVerifyArgs {
    /// The receipt (JSON, as `sealpass status --save-receipt` writes it)
    file: PathBuf,
    /// The server's receipt key (64 hex digits, `receipt_key` in its /v1/info, covered by an sp3-
    /// fingerprint); without it only the signature is checked, not who made it
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// {"ok","claims","public_key","error"}
    #[arg(long)]
    json: bool,
}

/// Largest receipt read.
const MAX_RECEIPT: usize = 16 * 1024;

pub(crate) fn receipt(command: ReceiptCommand, ctx: &super::Context) -> Result<Exit, Failure> {
    let ReceiptCommand::Verify(args) = command;
    let printer = &ctx.printer;
    if let Some(key) = args.key.as_deref().filter(|k| !receipt::valid_key(k)) {
        return Err(Failure::usage(format!("--key {}: not a receipt key (64 hex digits)", shown(key))));
    }
    let bytes = crate::files::read_public(&args.file, MAX_RECEIPT)?;
    let parsed: Receipt = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::usage(format!("{}: not a sealpass receipt ({e})", args.file.display())))?;
    let outcome = receipt::verify(&parsed, args.key.as_deref());
    #[derive(Serialize)]
    struct Verdict<'a> {
        ok: bool,
        claims: &'a receipt::Claims,
        public_key: &'a str,
        error: Option<String>,
    }
    if printer.json() {
        let error = outcome.as_ref().err().map(ToString::to_string);
        printer.json_line(&Verdict {
            ok: outcome.is_ok(),
            claims: &parsed.claims,
            public_key: &parsed.public_key,
            error,
        })?;
    } else if let Err(e) = &outcome {
        printer.warn(&format!("{}: {e}", args.file.display()));
    } else {
        let c = &parsed.claims;
        let label = c.label.as_deref().map(|l| format!(" \u{201c}{}\u{201d}", shown(l))).unwrap_or_default();
        printer.lines(&format!(
            "valid: drop {}{label} on {} was received by {} at {} (audit entry #{} {})",
            shown(&c.drop_id),
            shown(&c.server),
            shown(&c.received_by),
            shown(&c.received_at),
            c.audit_seq,
            shown(&c.audit_hash)
        ))?;
        if args.key.is_none() {
            printer.warn(&format!(
                "signed by key {}; pass --key with the server's receipt key to check that the server made it",
                shown(&parsed.public_key)
            ));
        }
    }
    Ok(match outcome {
        Ok(()) => Exit::Ok,
        Err(_) => Exit::Error,
    })
}
