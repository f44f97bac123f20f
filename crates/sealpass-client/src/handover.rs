//! The hand-over itself, once, for every caller (`send`, `receive`, `demo`): find out where a
//! credential goes and check the server's keys, build and check the envelope, seal and upload
//! it; claim, decrypt, check and hand on what arrives, then acknowledge. No clap, no terminal:
//! callers read input, print and map [`HandoverError`] to exit codes.

use std::collections::BTreeMap;

use secrecy::SecretString;

use crate::http::{Client, ClientError};
use sealpass_core::api::{self, DropCreated, RequestState};
use sealpass_core::cert::Certificate;
use sealpass_core::contents::{self, Against};
use sealpass_core::crypto::{self, Covered, Identities, Recipient};
use sealpass_core::envelope::{Envelope, Kind};
use sealpass_core::link;
use sealpass_core::policy::{Policy, Report};
use sealpass_core::text::shown;
use sealpass_core::trust::{Anchor, Vouched};

/// Why a hand-over stopped, each with what the user should do next.
#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    /// The server refused, failed or could not be reached.
    #[error("{0}")]
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
    /// The recipients cannot be used.
    #[error("the recipients are unusable: {0}")]
    Recipients(String),
    /// A certificate the server publishes cannot be used.
    #[error("the server publishes a certificate that is not usable ({0}); nothing was sent. Tell the vendor")]
    Certificates(String),
    /// The kind needs the vendor's certificate, and it is not vouched for.
    #[error("{0}")]
    CertificateUnconfirmed(String),
    /// What arrived fails its check and is refused: identifiers of a kind without a secret (a
    /// thumbprint that is not the vendor's). Not handed on, not acknowledged.
    #[error(
        "refusing {}: it fails its check (see the report above). It was not handed on; the drop stays claimed by \
         you and was not acknowledged", a(*kind)
    )]
    Refused {
        /// Its kind.
        kind: Kind,
        /// Which rules failed.
        report: Box<Report>,
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
    #[error("{0}")]
    Envelope(String),
    /// Sealing failed.
    #[error("could not seal: {0}")]
    Seal(String),
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
    /// The claim answered with another drop.
    #[error("the server answered with another drop than the one asked for; refusing it. Not acknowledged.")]
    WrongDrop,
    /// The ciphertext does not open, or its envelope is malformed.
    #[error("{0}. The drop stays claimed by you and was not acknowledged.")]
    Decrypt(String),
    /// The envelope is of another kind than the request it answers asks for.
    #[error(
        "the request asks for {asked} but the envelope holds {}: refusing it (a sender dressing one kind as \
         another to skip its checks). Not acknowledged.", a(*envelope)
    )]
    KindMismatch {
        /// What the envelope holds.
        envelope: Kind,
        /// What the request asks for (as the server says).
        asked: String,
    },
    /// The envelope answers another request than the server delivered it for.
    #[error(
        "the envelope answers request {envelope:?} but the server delivered it as a drop of request {claimed:?}: \
         refusing (a server swapping ciphertexts between requests). Not acknowledged."
    )]
    RequestMismatch {
        /// What the envelope says.
        envelope: Option<String>,
        /// What the server says.
        claimed: Option<String>,
    },
    /// The drop is sealed to keys the vendor's recipients do not account for: someone else can
    /// open it. Not opened, not handed on, not acknowledged.
    #[error(
        "this drop is sealed to more keys than the vendor's ({0}): someone else can open it. It was not opened or \
         handed on, and stays claimed by you. Tell the customer to change the credential, and have the operator \
         check the server's recipients (docs/security.md)"
    )]
    ExtraRecipients(String),
    /// Handing the secret on failed; the drop stays claimed, not acknowledged. Keeps the exit
    /// code the failure had (a usage error stays exit 2).
    #[error("{0}. The drop stays claimed by you and was not acknowledged: run receive again")]
    HandOn(crate::exit::Failure),
    /// Handed on, but the acknowledgement failed.
    #[error("{cause}. {}", not_acknowledged(.cause))]
    NotAcknowledged {
        /// Why.
        cause: ClientError,
    },
}

/// "a salesforce-password", "an entra-client-secret".
pub fn a(kind: Kind) -> String {
    let name = kind.name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
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

fn not_acknowledged(cause: &ClientError) -> &'static str {
    match cause.code() {
        Some("revoked") => {
            "The secret WAS handed on, but the sender revoked the drop after you claimed it: ask the sender (through \
             another channel) whether it is still to be used"
        }
        Some("expired") => {
            "The secret WAS handed on, but the drop expired before it was acknowledged; the server wiped its copy. \
             Tell the sender it was received"
        }
        _ => {
            "The secret WAS handed on but the drop is not acknowledged yet: run receive again (with a new -o path) to \
             acknowledge it"
        }
    }
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
    pub fn certificates_for(&self, kind: Kind) -> Result<&[Certificate], HandoverError> {
        if !kind.registers_certificate() {
            return Ok(&self.certificates);
        }
        if self.certificates.is_empty() {
            return Err(HandoverError::CertificateUnconfirmed(format!(
                "{} registers the vendor's certificate, and this server publishes none: ask the vendor",
                a(kind)
            )));
        }
        if self.covered != Covered::Everything {
            let how = if self.asked.is_some() {
                "this link's fingerprint predates certificates and cannot vouch for them: ask the vendor for a \
                 new link"
            } else {
                "the fingerprint you pinned does not cover them: run `sealpass init` again and confirm the new \
                 fingerprint with the vendor"
            };
            return Err(HandoverError::CertificateUnconfirmed(format!(
                "{} registers the vendor's certificate, but {how}",
                a(kind)
            )));
        }
        Ok(&self.certificates)
    }
}

/// The server's certificates, each read from its PEM (its stated hashes must be the PEM's).
fn certificates(info: &api::Info) -> Result<Vec<Certificate>, HandoverError> {
    if info.certificates.len() > api::MAX_CERTIFICATES {
        return Err(HandoverError::Certificates(format!("more than {}", api::MAX_CERTIFICATES)));
    }
    info.certificates
        .iter()
        .map(|c| {
            sealpass_core::cert::verify_published(c)
                .map_err(|e| HandoverError::Certificates(format!("{}: {e}", shown(&c.name))))
        })
        .collect()
}

/// What a server's `/v1/info` serves, read and checked: its recipients (every line the
/// fingerprint covers must be an age key), its certificates, and the fingerprint a link or pin
/// made now would carry.
pub struct Served {
    /// The recipients.
    pub recipients: Vec<Recipient>,
    /// The certificates, each read from its PEM.
    pub certificates: Vec<Certificate>,
    /// Their fingerprint (`sp3-` with a receipt key, `sp2-` with certificates, else `sp1-`).
    pub fingerprint: String,
    /// The receipt key, lowercase hex.
    pub receipt_key: Option<String>,
    /// The vendor's signed manifest, when it serves one.
    pub manifest: Option<sealpass_core::manifest::SignedManifest>,
    recipient_texts: Vec<String>,
}

impl Served {
    /// Read what `info` serves.
    pub fn read(info: &api::Info) -> Result<Served, HandoverError> {
        let recipients = parse_recipients(&info.recipients)?;
        let certificates = certificates(info)?;
        let hashes: Vec<&str> = certificates.iter().map(|c| c.sha256.as_str()).collect();
        let receipt_key = match &info.receipt_key {
            Some(key) if sealpass_core::receipt::valid_key(key) => Some(key.to_ascii_lowercase()),
            Some(_) => return Err(HandoverError::Recipients("the server's receipt key is not an Ed25519 key".into())),
            None => None,
        };
        let fingerprint = crypto::server_fingerprint(&info.recipients, &hashes, receipt_key.as_deref());
        Ok(Served {
            recipients,
            certificates,
            fingerprint,
            receipt_key,
            manifest: info.manifest.clone(),
            recipient_texts: info.recipients.clone(),
        })
    }

    fn hashes(&self) -> Vec<&str> {
        self.certificates.iter().map(|c| c.sha256.as_str()).collect()
    }

    /// Read what `client`'s server serves now.
    pub async fn fetch(client: &Client) -> Result<Served, HandoverError> {
        Served::read(&client.info().await?)
    }

    /// The `sp4-` value of the vendor key that signed the manifest it serves (unverified: what
    /// `init` asks the user to compare).
    pub fn vendor_key(&self) -> Option<String> {
        let signer = self.manifest.as_ref()?.signatures.first()?;
        sealpass_core::receipt::valid_key(&signer.key).then(|| sealpass_core::manifest::fingerprint(&signer.key))
    }

    /// What `anchor` (a link's or a pin's value) vouches for of what `server` serves, now.
    pub fn vouch(&self, anchor: Anchor<'_>, server: &str) -> Result<Vouched, sealpass_core::trust::TrustError> {
        let hashes = self.hashes();
        let serving = sealpass_core::trust::Serving {
            server,
            recipients: &self.recipient_texts,
            certificates: &hashes,
            receipt_key: self.receipt_key.as_deref(),
            manifest: self.manifest.as_ref(),
        };
        sealpass_core::trust::vouch(anchor, serving, time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// [`Served::vouch`], refused as a hand-over error: `from` says whose value it was, `pinned`
    /// names the server when it was the user's pin.
    fn vouched(&self, anchor: Anchor<'_>, server: &str, pinned: bool) -> Result<Vouched, HandoverError> {
        self.vouch(anchor, server).map_err(|why| {
            let mut next = format!("Nothing was sent. {}", why.what_to_do(anchor.fingerprint));
            if pinned && !matches!(why, sealpass_core::trust::TrustError::Manifest(sealpass_core::manifest::ManifestError::Expired(_))) {
                next.push_str(&format!(
                    " If the vendor confirms, through another channel, that it changed keys, run `sealpass init --server \
                     {server} --fingerprint VALUE` with the value it gives you."
                ));
            }
            let from = if pinned { "the value you pinned for this server" } else { "the value in your link" };
            HandoverError::Untrusted { why, from, next }
        })
    }
}

fn parse_recipients(texts: &[String]) -> Result<Vec<Recipient>, HandoverError> {
    let parsed: Vec<Recipient> = texts
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: crypto::KeyError| HandoverError::Recipients(e.to_string()))?;
    crypto::recipient_set(parsed).map_err(|e| HandoverError::Recipients(e.to_string()))
}

/// Answering a request link: the server's keys must be the ones the link's value vouches for,
/// and, when the user pinned servers on the link's host (`pins`, the link's own server first),
/// ones one of those pins vouches for (every check uses every pin); the request open and of a
/// kind this build knows.
pub async fn answering(request: link::Request, pins: &[Anchor<'_>]) -> Result<Destination, HandoverError> {
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
        RequestState::Fulfilled => return Err(HandoverError::RequestAnswered),
        RequestState::Expired => return Err(HandoverError::RequestExpired),
    }
    let kind = Kind::from_name(&status.kind).ok_or_else(|| HandoverError::UnknownKind(shown(&status.kind).into()))?;
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
pub async fn pinned(server: &str, pin: Anchor<'_>, recipients: &[String]) -> Result<Destination, HandoverError> {
    let client = Client::new(server)?;
    let info = client.info().await?;
    let served = Served::read(&info)?;
    let vouched = served.vouched(pin, server, true)?;
    // A hash pin: sealed to the recipients the user confirmed (the same set, as it says).
    let recipients = if pin.is_vendor_key() { served.recipients } else { parse_recipients(recipients)? };
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
pub fn direct(server: &str, recipients: Vec<Recipient>) -> Result<Destination, HandoverError> {
    let recipients = crypto::recipient_set(recipients).map_err(|e| HandoverError::Recipients(e.to_string()))?;
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
) -> Result<(Envelope, Report), HandoverError> {
    let against = Against { policy: intake.policy.as_ref(), certificates };
    let report = contents::check(intake.kind, &intake.secret, &intake.fields, against);
    // Only a secret checked against a password policy may be sealed despite failing it.
    if !report.compliant && intake.kind.default_policy().is_none() {
        return Err(HandoverError::Invalid { report: Box::new(report) });
    }
    if !report.compliant && !intake.allow_weak {
        return Err(HandoverError::Weak { report: Box::new(report) });
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
    envelope.validate_fields().map_err(|e| HandoverError::Envelope(e.to_string()))?;
    Ok((envelope, report))
}

/// Now, as envelopes and records write it: RFC 3339 in UTC to the second, `2026-11-27T12:00:00Z`.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| now.unix_timestamp().to_string())
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
}

/// Seal `envelope` to the destination's recipients and upload it (bound to the request when
/// answering one). The envelope must answer that request and be of the kind it asks for.
pub async fn send(to: &Destination, envelope: &Envelope, ttl_seconds: Option<u64>) -> Result<Sent, HandoverError> {
    if let Some(asked) = &to.asked {
        if envelope.kind != asked.kind {
            return Err(HandoverError::WrongKind { asked: asked.kind, offered: envelope.kind });
        }
        if envelope.request.as_deref() != Some(asked.link.id.as_str()) {
            return Err(HandoverError::Envelope("the envelope does not name the request it answers".into()));
        }
    }
    let plaintext = envelope.to_padded_bytes().map_err(|e| HandoverError::Envelope(e.to_string()))?;
    let armored = crypto::seal(&plaintext, &to.recipients).map_err(|e| HandoverError::Seal(e.to_string()))?;
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
    })
}

/// The pickup link the server answered with, checked: on the server we uploaded to, for the
/// drop it created. Anything else would send the receiver elsewhere.
fn checked_pickup(client: &Client, created: &DropCreated) -> Result<String, HandoverError> {
    let bad = || HandoverError::ForeignPickup {
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

/// What arrived, and what handing it on returned.
pub struct Received<T> {
    /// The opened envelope.
    pub envelope: Envelope,
    /// Who claimed it (the server's word: the staff member whose token was used).
    pub claimed_by: String,
    /// The request it answers, as the server delivered it.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// What `hand_on` returned.
    pub handed: T,
}

/// Claim drop `id`, check it is that drop, decrypt it, check that it answers the request the
/// server delivered it for, give it to `hand_on` (validate, write, run a command…), and only
/// when that worked acknowledge it, so the server wipes its copy. Whatever fails before the
/// acknowledgement leaves the drop claimed by this staff member, to receive again.
///
/// `vendor`: the vendor's keys as the receiver knows them (signed by the vendor key, or pinned);
/// `None` takes the server's word. A drop sealed to more keys than those is refused before it is
/// opened; identifiers are checked only against certificates the vendor key signed.
pub async fn receive<T>(
    client: &Client,
    staff_token: &str,
    id: &str,
    identities: &Identities,
    vendor: Option<Known<'_>>,
    hand_on: impl FnOnce(&Envelope, &ClaimDetails) -> Result<T, crate::exit::Failure>,
) -> Result<Received<T>, HandoverError> {
    let claimed = client.claim(id, staff_token).await?;
    if claimed.id != id {
        return Err(HandoverError::WrongDrop);
    }
    let served;
    let recipients = match vendor {
        Some(known) => known.recipients,
        None => {
            served = client.info().await?.recipients;
            &served[..]
        }
    };
    if let Some(extra) = crypto::unaccounted_stanzas(claimed.ciphertext.as_bytes(), recipients) {
        return Err(HandoverError::ExtraRecipients(extra));
    }
    let plaintext =
        crypto::open(claimed.ciphertext.as_bytes(), identities).map_err(|e| HandoverError::Decrypt(e.to_string()))?;
    let envelope = Envelope::from_bytes(&plaintext).map_err(|e| HandoverError::Decrypt(e.to_string()))?;
    if envelope.request != claimed.request_id {
        return Err(HandoverError::RequestMismatch { envelope: envelope.request.clone(), claimed: claimed.request_id });
    }
    // A request fixes the kind: each kind is checked its own way, so another kind dressed up as
    // the asked one (a key file holding JSON identifiers, say) would skip the asked kind's checks.
    if let Some(request_id) = &claimed.request_id {
        let asked = client.request_status(request_id, staff_token).await?.kind;
        if asked != envelope.kind.name() {
            return Err(HandoverError::KindMismatch { envelope: envelope.kind, asked: shown(&asked).into_owned() });
        }
    }
    // A kind that registers the vendor's certificate must name one this server publishes; what
    // fails is refused here, before anything is handed on (the server is asked only then).
    let certificates = if envelope.kind.registers_certificate() {
        let signed = vendor.and_then(|v| v.certificates);
        let mut certificates = certificates(&client.info().await?)?;
        certificates.retain(|c| signed.is_none_or(|hashes| hashes.iter().any(|h| h.eq_ignore_ascii_case(&c.sha256))));
        let against = Against { policy: None, certificates: Some(&certificates) };
        let report = contents::check(envelope.kind, &envelope.secret, &envelope.fields, against);
        if !report.compliant {
            return Err(HandoverError::Refused { kind: envelope.kind, report: Box::new(report) });
        }
        certificates
    } else {
        Vec::new()
    };
    let claim = ClaimDetails {
        id: claimed.id,
        claimed_by: claimed.claimed_by,
        request_id: claimed.request_id,
        label: claimed.label,
        certificates,
    };
    let handed = hand_on(&envelope, &claim).map_err(HandoverError::HandOn)?;
    client.ack(id, staff_token).await.map_err(|cause| HandoverError::NotAcknowledged { cause })?;
    Ok(Received { envelope, claimed_by: claim.claimed_by, request_id: claim.request_id, label: claim.label, handed })
}

/// The vendor's keys as a receiver knows them, not from the server's word.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    /// The recipients a drop may be sealed to.
    pub recipients: &'a [String],
    /// The SHA-256 of the certificates a sender may have registered, when the vendor key signed
    /// them (a hash pin leaves this to what the server publishes).
    pub certificates: Option<&'a [String]>,
}

/// What the server said about a claimed drop.
#[derive(Debug)]
pub struct ClaimDetails {
    /// The drop.
    pub id: String,
    /// Who claimed it.
    pub claimed_by: String,
    /// The request it answers.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// The certificates the server publishes, for the kinds that register one (else empty).
    pub certificates: Vec<Certificate>,
}
