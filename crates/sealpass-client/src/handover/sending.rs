//! Sending: where a credential goes (a request link, a pin, recipients named), its envelope
//! checked, sealed and uploaded, and the pickup link the server answers with checked.

use std::collections::BTreeMap;

use secrecy::SecretString;

use super::{Served, ServedError, a, now_rfc3339, parse_recipients};
use crate::exit::{Exit, Exits};
use crate::http::{Client, ClientError};
use sealpass_core::api::{self, DropCreated, RequestState};
use sealpass_core::cert::Certificate;
use sealpass_core::contents::{self, Against};
use sealpass_core::crypto::{self, Covered, KeyError, Recipient};
use sealpass_core::envelope::{Envelope, EnvelopeError, Kind};
use sealpass_core::link;
use sealpass_core::policy::{Policy, Report};
use sealpass_core::text::shown;
use sealpass_core::trust::{Anchor, Vouched};

/// Why a credential was not sent, each with what the user should do next.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// What the server serves cannot be used.
    #[error(transparent)]
    Served(#[from] ServedError),
    /// The server refused, failed or could not be reached.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// What the server serves is not what the value the user trusts (a link's, a pin's)
    /// vouches for.
    #[error("{why} ({from}). {next}")]
    Untrusted {
        /// What does not hold.
        why: sealpass_core::trust::TrustError,
        /// Whose value: "the value in your link", "the value you pinned for this server".
        from: &'static str,
        /// What to do: compare the value with the one the vendor publishes elsewhere.
        next: String,
    },
    /// The request was answered already.
    #[error("this request was already answered; ask the vendor for a new link")]
    RequestAnswered,
    /// The request expired.
    #[error("this request expired; ask the vendor for a new link")]
    RequestExpired,
    /// The vendor cancelled the request.
    #[error("the vendor cancelled this request; ask them for a new link if they still need the credential")]
    RequestCancelled,
    /// The request asks for a kind this build does not know.
    #[error("the request asks for kind '{0}', unknown to this sealpass; upgrade")]
    UnknownKind(String),
    /// The caller offers another kind than the request asks for.
    #[error("the request asks for {}, not {}; drop --kind", a(*asked), a(*offered))]
    WrongKind {
        /// The request's kind.
        asked: Kind,
        /// The sender's.
        offered: Kind,
    },
    /// The recipients the user named cannot be used.
    #[error("the recipients are unusable: {0}")]
    Recipients(#[source] KeyError),
    /// The kind registers the vendor's certificate and the server publishes none.
    #[error("{} registers the vendor's certificate, and this server publishes none: ask the vendor", a(*.0))]
    NoCertificate(Kind),
    /// The kind registers the vendor's certificate and the value the user trusts does not
    /// vouch for the ones served.
    #[error("{} registers the vendor's certificate, but {}", a(*kind), if *by_link {
        "this link's fingerprint predates certificates and cannot vouch for them: ask the vendor for a new link"
    } else {
        "the fingerprint you pinned does not cover them: run `sealpass init` again and confirm the new \
         fingerprint with the vendor"
    })]
    CertificateUnconfirmed {
        /// The kind.
        kind: Kind,
        /// Whether the value was a link's (else the user's pin).
        by_link: bool,
    },
    /// The content fails its check (a key file's structure, an identifier), never sealed.
    #[error("{}", invalid(.report))]
    Invalid {
        /// Which rules failed.
        report: Box<Report>,
    },
    /// The secret fails the policy and the sender did not allow it.
    #[error("{}", weak(.report))]
    Weak {
        /// Which rules failed (no part of the secret).
        report: Box<Report>,
    },
    /// The envelope cannot be built (a field, the size).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The envelope does not name the request the destination answers.
    #[error("the envelope does not name the request it answers")]
    NotForRequest,
    /// Sealing failed.
    #[error("could not seal: {0}")]
    Seal(#[source] KeyError),
    /// The server's answer to the upload names another server or drop.
    #[error("{}", foreign_pickup(.pickup_url, .id, .server))]
    ForeignPickup {
        /// What it answered.
        pickup_url: String,
        /// The drop it created, as the server named it.
        id: String,
        /// Where we uploaded.
        server: String,
        /// The drop's manage token, so the caller can record the drop and it can be revoked.
        manage_token: SecretString,
        /// When the server says it expires (shown-safe).
        expires_at: String,
    },
}

impl Exits for SendError {
    fn exit(&self) -> Exit {
        match self {
            SendError::Served(e) => e.exit(),
            SendError::Server(cause) => cause.exit(),
            SendError::RequestAnswered | SendError::RequestExpired | SendError::RequestCancelled => Exit::Unavailable,
            SendError::UnknownKind(_) | SendError::WrongKind { .. } => Exit::Usage,
            SendError::Envelope(_) | SendError::NotForRequest => Exit::Usage,
            SendError::Weak { .. } | SendError::Invalid { .. } => Exit::Policy,
            SendError::Untrusted { .. }
            | SendError::Recipients(_)
            | SendError::NoCertificate(_)
            | SendError::CertificateUnconfirmed { .. }
            | SendError::Seal(_)
            | SendError::ForeignPickup { .. } => Exit::Error,
        }
    }
}

fn foreign_pickup(pickup_url: &str, id: &str, server: &str) -> String {
    let next = if link::is_id(id) {
        format!("revoke it with `sealpass revoke {server}/d/{id}`")
    } else {
        "its id is not even well-formed; tell the vendor their server misbehaves".to_owned()
    };
    format!(
        "the server answered the upload with a pickup link that is not its own ({pickup_url}); the drop was stored, \
         but do not pass that link on: {next}"
    )
}

fn invalid(report: &Report) -> String {
    let what = if report.policy == "key-file" {
        "the key file is not as it must be"
    } else {
        "the identifiers are not as they must be"
    };
    format!("{what} (see the report above); nothing was sealed: fix it")
}

fn weak(report: &Report) -> String {
    // A fixed-format credential in the wrong format is a mistake to fix, never to seal anyway.
    if report.rules.iter().any(|r| !r.ok && r.rule == "format") {
        return format!(
            "this is not what policy {} expects (see the format rule above); nothing was sealed: fix it",
            report.policy
        );
    }
    format!(
        "the secret does not comply with policy {}; nothing was sealed. Fix it, or pass --allow-weak to seal it \
         anyway (the receiver will see that you did)",
        report.policy
    )
}

/// What a request link asks for, as the server says it.
#[derive(Debug)]
pub struct Asked {
    /// The link (with its upload token).
    pub link: link::Request,
    /// The request's label, shown to the sender.
    pub label: String,
    /// The kind it asks for.
    pub kind: Kind,
    /// Optional fields of the kind the request makes mandatory.
    pub require: Vec<String>,
    /// How long the drop answering it lives, unless the sender asks for less.
    pub drop_ttl_seconds: Option<u64>,
}

impl Asked {
    /// The kind to send: the request's, which the sender may name (`--kind`) but not change.
    /// The one place a kind is checked against the request.
    pub fn kind_for(&self, offered: Option<Kind>) -> Result<Kind, SendError> {
        match offered {
            Some(offered) if offered != self.kind => Err(SendError::WrongKind { asked: self.kind, offered }),
            _ => Ok(self.kind),
        }
    }
}

/// Where a credential goes: a server whose keys were checked, and the request it answers.
pub struct Destination {
    /// The server.
    pub client: Client,
    /// Who can open it.
    pub recipients: Vec<Recipient>,
    /// The value that vouched for them: the link's or the pin's (`sp4-`: the vendor key), or the
    /// recipients' own fingerprint when the user named them.
    pub fingerprint: String,
    /// The request, when answering one.
    pub asked: Option<Asked>,
    /// The longest TTL the server takes, when its `/v1/info` was read on the way.
    pub max_ttl_seconds: Option<u64>,
    /// The certificates the server publishes, each read from its PEM (with the name it
    /// publishes it under).
    pub certificates: Vec<Certificate>,
    /// What the fingerprint the user trusts vouches for.
    pub covered: Covered,
    /// The server's receipt key (SPEC §10), when that fingerprint vouches for it: what the
    /// sender's receipts must be signed with.
    pub receipt_key: Option<String>,
    /// What the user's pin for this server vouched for (its manifest raises the pin's serial).
    pub by_pin: Option<Vouched>,
}

impl Destination {
    /// The vendor's certificates for a kind whose hand-over registers them: only when the
    /// fingerprint the user trusts covers them.
    pub fn certificates_for(&self, kind: Kind) -> Result<&[Certificate], SendError> {
        if !kind.registers_certificate() {
            return Ok(&self.certificates);
        }
        if self.certificates.is_empty() {
            return Err(SendError::NoCertificate(kind));
        }
        if self.covered != Covered::Everything {
            return Err(SendError::CertificateUnconfirmed { kind, by_link: self.asked.is_some() });
        }
        Ok(&self.certificates)
    }
}

/// Answering a request link: the server's keys must be the ones the link's value vouches for,
/// and, when the user pinned servers on the link's host (`pins`, the link's own server first),
/// ones one of those pins vouches for (every check uses every pin); the request open and of a
/// kind this build knows.
pub async fn answering(request: link::Request, pins: &[Anchor<'_>]) -> Result<Destination, SendError> {
    let client = Client::new(&request.server)?;
    let info = client.info().await?;
    let served = Served::read(&info)?;
    // The pin's serial holds for a link naming the same vendor key on the same server.
    let same = pins.first().copied().filter(|p| p.fingerprint.trim() == request.fingerprint);
    let by_link = served.vouched(same.unwrap_or(Anchor::link(&request.fingerprint)), &request.server, false)?;
    let by_pin = match (same, pins) {
        (Some(_), _) => Some(by_link.clone()),
        (None, []) => None,
        (None, [first, ..]) => match pins.iter().find_map(|p| served.vouch(*p, &request.server).ok()) {
            Some(vouched) => Some(vouched),
            // None vouches: refused with what the first (the link's own server's) says.
            None => Some(served.vouched(*first, &request.server, true)?),
        },
    };
    let status = client.request_status(&request.id, &request.token).await?;
    match status.state {
        RequestState::Open => {}
        RequestState::Fulfilled => return Err(SendError::RequestAnswered),
        RequestState::Expired => return Err(SendError::RequestExpired),
        RequestState::Cancelled => return Err(SendError::RequestCancelled),
    }
    let kind = Kind::from_name(&status.kind).ok_or_else(|| SendError::UnknownKind(shown(&status.kind).into()))?;
    let covered = match (&by_link.covered, by_pin.as_ref().map(|v| v.covered)) {
        (Covered::Everything, _) | (_, Some(Covered::Everything)) => Covered::Everything,
        _ => Covered::RecipientsOnly,
    };
    Ok(Destination {
        receipt_key: by_link.receipt_key.clone().or_else(|| by_pin.as_ref().and_then(|v| v.receipt_key.clone())),
        client,
        fingerprint: request.fingerprint.clone(),
        recipients: served.recipients,
        asked: Some(Asked {
            link: request,
            label: status.label,
            kind,
            require: status.require,
            drop_ttl_seconds: status.drop_ttl_seconds,
        }),
        max_ttl_seconds: Some(info.limits.max_ttl_seconds),
        certificates: served.certificates,
        covered,
        by_pin,
    })
}

/// To a server whose keys the user confirmed (`init` pinned them): the pin must vouch for what
/// it serves. A pinned vendor key (`sp4-`) vouches for whatever its newest manifest signs; an
/// older pin for exactly the `recipients` confirmed.
pub async fn pinned(server: &str, pin: Anchor<'_>, recipients: &[String]) -> Result<Destination, SendError> {
    let client = Client::new(server)?;
    let info = client.info().await?;
    let served = Served::read(&info)?;
    let vouched = served.vouched(pin, server, true)?;
    // A hash pin: sealed to the recipients the user confirmed (the same set, as it says).
    let recipients = if pin.is_vendor_key() {
        served.recipients
    } else {
        parse_recipients(recipients).map_err(SendError::Recipients)?
    };
    Ok(Destination {
        receipt_key: vouched.receipt_key.clone(),
        client,
        fingerprint: pin.fingerprint.trim().to_owned(),
        recipients,
        asked: None,
        max_ttl_seconds: Some(info.limits.max_ttl_seconds),
        certificates: served.certificates,
        covered: vouched.covered,
        by_pin: Some(vouched),
    })
}

/// To recipients the user named (`--to`, `-R`): the server's own keys do not matter.
pub fn direct(server: &str, recipients: Vec<Recipient>) -> Result<Destination, SendError> {
    let recipients = crypto::recipient_set(recipients).map_err(SendError::Recipients)?;
    let fingerprint = crypto::fingerprint_of(&recipients);
    Ok(Destination {
        client: Client::new(server)?,
        fingerprint,
        recipients,
        asked: None,
        max_ttl_seconds: None,
        certificates: Vec::new(),
        covered: Covered::RecipientsOnly,
        receipt_key: None,
        by_pin: None,
    })
}

/// What the sender hands over, before it is checked.
pub struct Intake {
    /// What it is.
    pub kind: Kind,
    /// The credential.
    pub secret: SecretString,
    /// Its fields (each already checked for its shape).
    pub fields: BTreeMap<String, SecretString>,
    /// The policy to check it against (kinds with a password-like secret).
    pub policy: Option<Policy>,
    /// A note for the receiver.
    pub note: Option<String>,
    /// Who sends it (unauthenticated).
    pub sender: Option<String>,
    /// Seal it even if it fails the policy (the envelope says so).
    pub allow_weak: bool,
}

/// The envelope for `intake`, answering `request`: its content checked ([`contents::check`]:
/// a secret against its policy, refused unless `allow_weak`; a key file or identifiers always
/// refused when they fail, against the destination's `certificates`), every field checked. Also
/// returns the report.
pub fn envelope(
    intake: Intake,
    request: Option<String>,
    certificates: Option<&[Certificate]>,
) -> Result<(Envelope, Report), SendError> {
    let against = Against { policy: intake.policy.as_ref(), certificates, now: time::OffsetDateTime::now_utc() };
    let report = contents::check(intake.kind, &intake.secret, &intake.fields, against);
    // Only a secret checked against a password policy may be sealed despite failing it.
    if !report.compliant && intake.kind.default_policy().is_none() {
        return Err(SendError::Invalid { report: Box::new(report) });
    }
    if !report.compliant && !intake.allow_weak {
        return Err(SendError::Weak { report: Box::new(report) });
    }
    let envelope = Envelope {
        kind: intake.kind,
        secret: intake.secret,
        fields: intake.fields,
        policy: Some(report.policy.clone()),
        rules: intake.policy.as_ref().and_then(|p| p.rules_source.clone()),
        note: intake.note,
        request,
        created_at: now_rfc3339(),
        sender: intake.sender,
        allow_weak: !report.compliant,
    };
    envelope.validate_fields()?;
    Ok((envelope, report))
}

/// A drop that was stored.
#[derive(Debug)]
pub struct Sent {
    /// Its id.
    pub id: String,
    /// The checked pickup link.
    pub pickup_url: String,
    /// When it expires, as the server said (shown-safe).
    pub expires_at: String,
    /// Its manage token (status, revoke).
    pub manage_token: SecretString,
    /// Who can open it.
    pub fingerprint: String,
    /// To which kind of keys it was sealed.
    pub sealing: crypto::Sealing,
    /// The vendor's classical keys it was not sealed to, since the vendor publishes post-quantum
    /// ones (age never mixes the two in one file).
    pub left_out: usize,
}

/// Seal `envelope` to the destination's recipients and upload it (bound to the request when
/// answering one). The envelope must answer that request and be of the kind it asks for.
pub async fn send(to: &Destination, envelope: &Envelope, ttl_seconds: Option<u64>) -> Result<Sent, SendError> {
    if let Some(asked) = &to.asked {
        asked.kind_for(Some(envelope.kind))?;
        if envelope.request.as_deref() != Some(asked.link.id.as_str()) {
            return Err(SendError::NotForRequest);
        }
    }
    let plaintext = envelope.to_padded_bytes()?;
    // The post-quantum keys whenever the vendor publishes one; the classical ones otherwise.
    let chosen = crypto::choose(&to.recipients);
    let sealing = chosen.to.first().map_or(crypto::Sealing::Classical, Recipient::sealing);
    let armored = crypto::seal(&plaintext, &chosen.to).map_err(SendError::Seal)?;
    let body =
        api::CreateDrop { ciphertext: armored, ttl_seconds, request_id: to.asked.as_ref().map(|a| a.link.id.clone()) };
    let created = to.client.create_drop(&body, to.asked.as_ref().map(|a| a.link.token.as_str())).await?;
    let pickup_url = checked_pickup(&to.client, &created)?;
    Ok(Sent {
        id: created.id,
        pickup_url,
        expires_at: shown(&created.expires_at).into_owned(),
        manage_token: SecretString::from(created.manage_token),
        fingerprint: to.fingerprint.clone(),
        sealing,
        left_out: chosen.left_out.len(),
    })
}

/// The pickup link the server answered with, checked: on the server we uploaded to, for the
/// drop it created. Anything else would send the receiver elsewhere.
fn checked_pickup(client: &Client, created: &DropCreated) -> Result<String, SendError> {
    let bad = || SendError::ForeignPickup {
        pickup_url: shown(&created.pickup_url).into_owned(),
        id: shown(&created.id).into_owned(),
        server: client.server().to_owned(),
        manage_token: SecretString::from(created.manage_token.clone()),
        expires_at: shown(&created.expires_at).into_owned(),
    };
    let pickup = link::parse_pickup(&created.pickup_url, None).map_err(|_| bad())?;
    // The very server we uploaded to (prefix included): the record and `status` rely on it.
    if pickup.id != created.id || pickup.server != client.server() {
        return Err(bad());
    }
    Ok(pickup.to_string())
}
