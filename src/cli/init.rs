//! `sealpass init`: confirm a drop server's keys once, out of band, and pin them, like ssh's
//! known_hosts. On a server with a signed manifest the value confirmed is the vendor key's
//! `sp4-`, which survives every rotation the vendor re-signs; older servers' `sp1-`–`sp3-`
//! hashes pin exactly the keys served.

use std::io::IsTerminal;

use super::block_on;
use super::settings::Pin;
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::handover::Served;
use sealpass_client::http::{Client, ClientError};
use sealpass_core::crypto;
use sealpass_core::link;
use sealpass_core::trust::{self, Anchor};

#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// The vendor's drop server
    #[arg(long, value_name = "URL")]
    server: String,
    /// The value the vendor published (its vendor key, sp4-…; older servers: sp1-…–sp3-…), to
    /// confirm without a prompt (scripts)
    #[arg(long, value_name = "sp4-…")]
    fingerprint: Option<String>,
    /// Make this the default server even if another one is (the first server pinned becomes the
    /// default on its own)
    #[arg(long)]
    default: bool,
}

/// What `server`'s `/v1/info` serves, refused unless it looks like a sealpass server serving
/// usable age recipients.
fn served(server: &str) -> Result<(Served, Vec<String>), Failure> {
    let not_ours = |e: ClientError| match e {
        // A web server that is not ours answers 404 or something other than our JSON.
        ClientError::Unavailable { .. } | ClientError::Refused(_) | ClientError::TooLarge { .. } => Failure::new(
            Exit::Error,
            anyhow::anyhow!("{server} does not answer like a sealpass drop server ({e}): check the URL"),
        ),
        other => Failure::of(other),
    };
    let info = block_on(async { Client::new(server).map_err(Failure::of)?.info().await.map_err(not_ours) })?;
    let refuse = |why: String| Err(Failure::new(Exit::Error, anyhow::anyhow!("{server} {why}")));
    if info.recipients.is_empty() {
        return refuse("serves no recipients; its operator must configure them".into());
    }
    if info.recipients.len() > sealpass_core::api::MAX_RECIPIENTS {
        return refuse(format!(
            "serves more than {} recipients; that is not a sealpass server",
            sealpass_core::api::MAX_RECIPIENTS
        ));
    }
    // Only real age recipients are shown (and pinned): anything else is refused unseen.
    if let Some(bad) = info.recipients.iter().position(|r| r.parse::<crypto::Recipient>().is_err()) {
        return refuse(format!(
            "serves something that is not an age recipient (entry {} of {}): nothing was pinned",
            bad + 1,
            info.recipients.len()
        ));
    }
    Ok((Served::read(&info).map_err(Failure::of)?, info.recipients))
}

pub(crate) fn init(args: InitArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let mut config = ctx.settings()?.clone();
    let server = link::server_base(&args.server).map_err(|e| Failure::usage(format!("--server {e}")))?;
    let (served, recipients) = served(&server)?;
    let previous = config.pin(&server).cloned();
    // The value to compare: the vendor key that signs the manifest, else the hash of the keys.
    let offered = served.vendor_key().unwrap_or_else(|| served.fingerprint.clone());
    let mut shown = format!("{server} seals to:\n  {}", recipients.join("\n  "));
    for c in &served.certificates {
        let name = c.published_as.as_deref().unwrap_or_default();
        shown.push_str(&format!("\nand publishes certificate {name}:\n{}", crate::output::certificate_text(c)));
    }
    if trust::is_vendor_key(&offered) {
        shown.push_str(&format!(
            "\nvendor key: {offered} (it signs these keys; compare this value)\nfingerprint of these keys: {} \
             (older links)",
            served.fingerprint
        ));
    } else {
        shown.push_str(&format!("\nfingerprint: {offered}"));
    }
    printer.note(&shown);
    if let Some(old) = previous.as_ref().filter(|p| p.fingerprint != offered) {
        if served.vouch(old.anchor(), &server).is_ok() {
            printer.note(&format!(
                "what you confirmed on this machine ({}) still vouches for these keys; {offered} is the value the \
                 vendor publishes now",
                old.fingerprint
            ));
        } else {
            printer.warn(&format!(
                "THE KEYS CHANGED since you confirmed {} on this machine. Confirm the new value with the vendor \
                 (website, contract, phone) first.",
                old.fingerprint
            ));
        }
    }
    let expected = match &args.fingerprint {
        Some(given) => given.trim().to_owned(),
        None if std::io::stdin().is_terminal() => {
            let answer = super::input::hidden("Does it match the value the vendor published? [y/N] ")?;
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                return Err(Failure::new(Exit::Error, anyhow::anyhow!("not confirmed: nothing was pinned")));
            }
            offered.clone()
        }
        None => {
            return Err(Failure::usage(format!(
                "no terminal to confirm on: pass --fingerprint {}… as the vendor published it",
                &offered[..4]
            )));
        }
    };
    let pin = pin_for(&server, &served, &expected, previous.as_ref(), printer)?;
    let (value, receipt_key) = (pin.fingerprint.clone(), pin.receipt_key.clone());
    config.pins.retain(|p| p.server != server);
    config.pins.push(pin);
    let other_default = config.server.clone().filter(|d| *d != server);
    if args.default || config.server.is_none() {
        config.server = Some(server.clone());
    }
    let path = config.save()?;
    printer.note(&format!("pinned {value} for {server} in {}", path.display()));
    if let Some(key) = receipt_key {
        printer.note(&format!(
            "the server signs receipts with key {key}: keep it (the pin holds it too); `sealpass receipt verify` \
             accepts only receipts it signed"
        ));
    }
    match other_default {
        Some(other) if !args.default => printer.note(&format!(
            "the default server stays {other}; use --server {server}, or run init again with --default"
        )),
        Some(other) => printer.note(&format!("{server} is now the default server (it was {other})")),
        None => {}
    }
    Ok(Exit::Ok)
}

/// The pin for `expected`, if it vouches for what `server` serves: a vendor key through its
/// signed manifest (no lower serial than pinned before), a hash exactly.
fn pin_for(
    server: &str,
    served: &Served,
    expected: &str,
    previous: Option<&Pin>,
    printer: &crate::output::Printer,
) -> Result<Pin, Failure> {
    let refused = |why: String| Failure::new(Exit::Error, anyhow::anyhow!("{why}: nothing was pinned"));
    if !link::is_fingerprint(expected) {
        return Err(Failure::usage(format!(
            "--fingerprint {} is not a sealpass value (sp4-… as the vendor publishes it)",
            sealpass_core::text::shown(expected)
        )));
    }
    if !trust::is_vendor_key(expected) {
        if expected != served.fingerprint {
            return Err(refused(format!("the server's fingerprint is {}, not {expected}", served.fingerprint)));
        }
        return Ok(Pin {
            server: server.to_owned(),
            fingerprint: expected.to_owned(),
            recipients: served.recipients.iter().map(ToString::to_string).collect(),
            receipt_key: served.receipt_key.clone(),
            serial: None,
        });
    }
    let seen = previous.filter(|p| p.fingerprint == expected).and_then(|p| p.serial).unwrap_or(0);
    let vouched = served
        .vouch(Anchor { fingerprint: expected, min_serial: seen }, server)
        .map_err(|why| refused(format!("{why}. {}", why.what_to_do(expected))))?;
    let verified = vouched.manifest.ok_or_else(|| refused("no manifest".into()))?;
    if let Some(new) = &verified.moved_to {
        printer
            .note(&format!("the vendor moved to a new signing key {new}, cross-signed by {expected}: pinning {new}"));
    }
    Ok(Pin::of_manifest(server, expected, &verified))
}
