//! What a decrypted envelope becomes, for `open` (offline) and `receive` (from a drop server)
//! alike: the identities that open it, its report against the receiver's policy, the payload
//! handed on, whether that may be revealed on a terminal, and the human and JSON reports.

use std::io::IsTerminal;
use std::path::PathBuf;

use secrecy::ExposeSecret;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{PolicyArgs, identity_path};
use crate::output::Printer;
use sealpass_client::exit::{Exit, Failure};
use sealpass_client::files;
use sealpass_core::crypto::{self, Identities};
use sealpass_core::envelope::{Envelope, FieldType};
use sealpass_core::policy::{Policy, Report, RuleResult};
use sealpass_core::text::shown;

/// Largest identity file we read.
const MAX_IDENTITY_BYTES: usize = 64 * 1024;

/// Read identities from files that only their owner can read.
pub(crate) fn load_identities(paths: &[PathBuf]) -> Result<Identities, Failure> {
    let default;
    let paths: &[PathBuf] = if paths.is_empty() {
        default = [identity_path(None)?];
        &default
    } else {
        paths
    };
    let mut all: Option<Identities> = None;
    for path in paths {
        let bytes = files::read_private(path, MAX_IDENTITY_BYTES).map_err(|e| match e {
            files::FileError::Io { cause, .. } if cause.kind() == std::io::ErrorKind::NotFound => Failure::new(
                Exit::Error,
                anyhow::anyhow!(
                    "no identity at {}: give the identity that the credential was sealed to with -i FILE",
                    path.display()
                ),
            ),
            other => Failure::new(Exit::Error, other),
        })?;
        let parsed = Identities::parse(&bytes)
            .map_err(|e| Failure::new(Exit::Error, anyhow::anyhow!("{}: {e}", path.display())))?;
        match &mut all {
            Some(all) => all.extend(parsed),
            None => all = Some(parsed),
        }
    }
    all.ok_or_else(|| Failure::usage("no identity file given"))
}

/// The JSON report of an opened envelope, shared by `open` and `receive`.
#[derive(Serialize)]
pub(crate) struct Opened<'a> {
    kind: &'a str,
    fields: std::collections::BTreeMap<&'a str, &'a str>,
    policy: &'a str,
    compliant: bool,
    rules: &'a [RuleResult],
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
    created_at: &'a str,
    note: Option<&'a str>,
    sender: Option<&'a str>,
    request: Option<&'a str>,
    allow_weak: bool,
    /// `post-quantum` or `classical`: the kind of keys the sender sealed it to (left out when
    /// neither purely).
    #[serde(skip_serializing_if = "Option::is_none")]
    sealing: Option<sealpass_core::crypto::Sealing>,
}

/// The policy to validate against: the receiver's if given, else the kind's default; none for
/// the kinds checked by their structure or identifiers. The sender's claim is only reported:
/// anyone with the public key can seal an envelope, and a claimed `custom` rule of
/// `minlength: 1` must not make a weak secret pass.
pub(crate) fn policy_for(
    args: &PolicyArgs,
    envelope: &Envelope,
    warnings: &mut Vec<String>,
) -> Result<Option<Policy>, Failure> {
    let Some(default) = envelope.kind.default_policy() else {
        if args.given() {
            warnings.push(format!("--policy does not apply: {} is checked by its content", envelope.kind));
        }
        return Ok(None);
    };
    let policy = if args.given() { args.resolve_or(None)? } else { Policy::preset(default).map_err(Failure::usage)? };
    if let Some(claimed) = envelope.policy.as_deref().filter(|c| *c != policy.name) {
        let how = if args.given() { "as you asked" } else { "the kind's default; pass --policy to choose" };
        warnings.push(format!("checked against {} ({how}); the sender checked against {claimed}", policy.name));
    }
    Ok(Some(policy))
}

/// What the receiver hands on: the secret; a key file's exact bytes; for a kind without a
/// secret, its identifiers as one line of JSON (`{"kind":…,"fields":{…}}`).
pub(crate) fn payload(envelope: &Envelope) -> Result<Zeroizing<Vec<u8>>, Failure> {
    if envelope.kind == sealpass_core::envelope::Kind::KeyFile {
        return sealpass_core::envelope::key_file_bytes(&envelope.secret).map_err(|e| Failure::new(Exit::Decrypt, e));
    }
    if !envelope.kind.has_secret() {
        let fields: std::collections::BTreeMap<&str, &str> =
            envelope.fields.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect();
        let mut line = serde_json::to_vec(&serde_json::json!({"kind": envelope.kind.name(), "fields": fields}))
            .map_err(anyhow::Error::from)?;
        line.push(b'\n');
        return Ok(Zeroizing::new(line));
    }
    Ok(Zeroizing::new(envelope.secret.expose_secret().as_bytes().to_vec()))
}

/// `--reveal` writes the payload to stdout: onto a terminal only what cannot drive it (no
/// control characters but newline and tab, no bidirectional or invisible tricks), judged by the
/// content, never by what the sender says it is.
pub(crate) fn revealable(payload: &[u8]) -> Result<(), Failure> {
    if !std::io::stdout().is_terminal() {
        return Ok(());
    }
    let text = std::str::from_utf8(payload).ok();
    let hazard = text.is_none_or(|t| t.chars().any(|c| c != '\n' && c != '\t' && sealpass_core::text::is_hazard(c)));
    if hazard {
        return Err(Failure::usage(
            "this is binary or holds characters that would drive your terminal: write it with -o FILE, or pipe it",
        ));
    }
    Ok(())
}

impl<'a> Opened<'a> {
    /// The report for `envelope` checked against `policy`; the secret and secret fields only
    /// when `reveal`.
    pub(crate) fn new(
        envelope: &'a Envelope,
        report: &'a Report,
        reveal: bool,
        sealing: Option<sealpass_core::crypto::Sealing>,
    ) -> Opened<'a> {
        let fields = envelope
            .fields
            .iter()
            .filter(|(k, _)| reveal || envelope.kind.field(k).is_none_or(|f| f.ty != FieldType::Secret))
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        Opened {
            kind: envelope.kind.name(),
            fields,
            policy: &report.policy,
            compliant: report.compliant,
            rules: &report.rules,
            warnings: &report.warnings,
            secret: (reveal && envelope.kind.has_secret()).then(|| envelope.secret.expose_secret()),
            created_at: &envelope.created_at,
            note: envelope.note.as_deref(),
            sender: envelope.sender.as_deref(),
            request: envelope.request.as_deref(),
            allow_weak: envelope.allow_weak,
            sealing,
        }
    }
}

/// Check an opened envelope's content (see [`sealpass_core::contents::check`]) against the receiver's
/// policy ([`policy_for`]) and, when known, the vendor's certificates, with the warnings a
/// receiver should see.
pub(crate) fn validate(
    args: &PolicyArgs,
    envelope: &Envelope,
    certificates: Option<&[sealpass_core::cert::Certificate]>,
) -> Result<Report, Failure> {
    let mut warnings = Vec::new();
    let policy = policy_for(args, envelope, &mut warnings)?;
    let against = sealpass_core::contents::Against {
        policy: policy.as_ref(),
        certificates,
        now: time::OffsetDateTime::now_utc(),
    };
    let mut report = sealpass_core::contents::check(envelope.kind, &envelope.secret, &envelope.fields, against);
    if envelope.allow_weak {
        warnings.push("the sender sealed this knowing it fails their policy (--allow-weak)".into());
    }
    if let Some(successor) = envelope.kind.successor() {
        warnings.push(format!("{} is a legacy kind: use {} ({})", envelope.kind, successor.kinds, successor.why));
    }
    report.warnings.extend(warnings);
    Ok(report)
}

/// What `--reveal` prints: the payload, with a newline after a secret (a key file's bytes and
/// the identifiers' JSON line stay as they are).
pub(crate) fn with_newline(envelope: &Envelope, mut payload: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    if envelope.kind.has_secret() && envelope.kind != sealpass_core::envelope::Kind::KeyFile {
        payload.push(b'\n');
    }
    payload
}

/// Decrypt and parse; every failure here is exit 5 with a message saying what is wrong.
pub(crate) fn decrypt(ciphertext: &[u8], identities: &crypto::Identities) -> Result<Envelope, Failure> {
    let plaintext = crypto::open(ciphertext, identities).map_err(|e| Failure::new(Exit::Decrypt, e))?;
    Envelope::from_bytes(&plaintext).map_err(|e| Failure::new(Exit::Decrypt, e))
}

/// The human report: the envelope's context, then the policy report. Secret fields are never
/// in it (it may go to a terminal, a log or stderr); `--json --reveal` carries them.
pub(crate) fn human(printer: &Printer, envelope: &Envelope, report: &Report) -> String {
    // Everything here came from the sender: shown, never obeyed (no escapes, no bidi tricks).
    let mut text = format!("kind     {}\ncreated  {}\n", envelope.kind, shown(&envelope.created_at));
    if let Some(sender) = &envelope.sender {
        text.push_str(&format!("sender   {} (unauthenticated)\n", shown(sender)));
    }
    if let Some(request) = &envelope.request {
        text.push_str(&format!("request  {}\n", shown(request)));
    }
    if let Some(note) = &envelope.note {
        text.push_str(&format!("note     {}\n", shown(note)));
    }
    for (key, value) in &envelope.fields {
        let hidden = envelope.kind.field(key).is_some_and(|f| f.ty == FieldType::Secret);
        let value = if hidden { "(secret; `--json --reveal` shows it)".into() } else { shown(value.expose_secret()) };
        text.push_str(&format!("  {:<16} {value}\n", shown(key)));
    }
    text.push_str(&printer.report_text(report));
    text
}
