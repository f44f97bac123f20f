//! Receiving: claim a drop, check that it is the one asked for and sealed only to the vendor's
//! keys, open it, check it against the request it answers, hand it on, and only then
//! acknowledge it.

use super::{ServedError, a, certificates};
use crate::exit::{Exit, Exits, Failure};
use crate::http::{Client, ClientError};
use sealpass_core::cert::Certificate;
use sealpass_core::contents::{self, Against};
use sealpass_core::crypto::{self, Identities, OpenError};
use sealpass_core::envelope::{Envelope, EnvelopeError, Kind};
use sealpass_core::policy::Report;
use sealpass_core::text::shown;

/// Why a drop was not received. Until it is acknowledged, the drop stays claimed by whoever
/// tried, to receive again.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// What the server serves cannot be used.
    #[error(transparent)]
    Served(#[from] ServedError),
    /// The server refused, failed or could not be reached.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// The claim answered with another drop.
    #[error("the server answered with another drop than the one asked for; refusing it. Not acknowledged.")]
    WrongDrop,
    /// The drop is sealed to keys the vendor's recipients do not account for: someone else can
    /// open it. Not opened, not handed on, not acknowledged.
    #[error(
        "this drop is sealed to more keys than the vendor's ({0}): someone else can open it. It was not opened or \
         handed on, and stays claimed by you. Tell the customer to change the credential, and have the operator \
         check the server's recipients (docs/security.md)"
    )]
    ExtraRecipients(String),
    /// The ciphertext does not open.
    #[error("{0}. The drop stays claimed by you and was not acknowledged.")]
    Decrypt(#[source] OpenError),
    /// It opens, but what is inside is not an envelope this build reads.
    #[error("{0}. The drop stays claimed by you and was not acknowledged.")]
    Malformed(#[source] EnvelopeError),
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
    /// Handing the secret on failed after it may have left this process (a command ran, a file
    /// was begun); the drop stays claimed, not acknowledged. Keeps the exit code the failure had.
    #[error(
        "{0}. The secret may have reached the command or file before it failed, so the drop stays claimed by you \
         and was not acknowledged: run receive again, or `sealpass release` it to put it back in the inbox"
    )]
    HandOn(Failure),
    /// Handing the secret on failed before anything was handed on: the claim was given back
    /// (`released`: none) or giving it back failed too (the error). Keeps the exit code the
    /// failure had (a usage error stays exit 2).
    #[error("{failure}. Nothing was handed on, so {}", released_note(.released.as_ref()))]
    Released {
        /// Why handing on failed.
        failure: Failure,
        /// Why the release failed, if it did.
        released: Option<ClientError>,
    },
    /// Handed on, but the acknowledgement failed.
    #[error("{cause}. {}", not_acknowledged(.cause))]
    NotAcknowledged {
        /// Why.
        cause: ClientError,
    },
}

impl Exits for ReceiveError {
    fn exit(&self) -> Exit {
        match self {
            ReceiveError::Served(e) => e.exit(),
            ReceiveError::Server(cause) | ReceiveError::NotAcknowledged { cause } => cause.exit(),
            ReceiveError::HandOn(failure) | ReceiveError::Released { failure, .. } => failure.exit,
            ReceiveError::Refused { .. } => Exit::Policy,
            ReceiveError::WrongDrop
            | ReceiveError::ExtraRecipients(_)
            | ReceiveError::Decrypt(_)
            | ReceiveError::Malformed(_)
            | ReceiveError::RequestMismatch { .. }
            | ReceiveError::KindMismatch { .. } => Exit::Decrypt,
        }
    }
}

fn released_note(failed: Option<&ClientError>) -> String {
    match failed {
        None => "the claim was released: the drop waits in the inbox again, for you or anyone with the receiver role"
            .to_owned(),
        Some(cause) => format!(
            "sealpass tried to release the claim, which failed too ({cause}): the drop stays claimed by you; run \
             receive again, or `sealpass release` it"
        ),
    }
}

/// Why handing a secret on failed, and whether it had left this process by then: a failure
/// before it left gives the claim back (`receive` releases it); one after keeps it claimed.
#[derive(Debug)]
pub struct HandOnError {
    /// What went wrong.
    pub failure: Failure,
    /// Whether any of the secret may have left this process (a command started, a file begun,
    /// stdout written).
    pub left: bool,
}

impl HandOnError {
    /// Failed before any of the secret left.
    pub fn before(failure: Failure) -> HandOnError {
        HandOnError { failure, left: false }
    }

    /// Failed once some of it may have left.
    pub fn after(failure: Failure) -> HandOnError {
        HandOnError { failure, left: true }
    }
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
    /// To which kind of keys the sender sealed it.
    pub sealing: Option<crypto::Sealing>,
    /// What `hand_on` returned.
    pub handed: T,
}

/// Claim drop `id`, check it is that drop, decrypt it, check that it answers the request the
/// server delivered it for, give it to `hand_on` (validate, write, run a command…), and only
/// when that worked acknowledge it, so the server wipes its copy. Whatever fails before the
/// acknowledgement leaves the drop claimed by this staff member, to receive again, except a
/// hand-on that failed before any of the secret left this process: that claim is released.
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
    hand_on: impl FnOnce(&Envelope, &ClaimDetails) -> Result<T, HandOnError>,
) -> Result<Received<T>, ReceiveError> {
    let claimed = client.claim(id, staff_token).await?;
    if claimed.id != id {
        return Err(ReceiveError::WrongDrop);
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
        return Err(ReceiveError::ExtraRecipients(extra));
    }
    let plaintext = crypto::open(claimed.ciphertext.as_bytes(), identities).map_err(ReceiveError::Decrypt)?;
    let sealing = crypto::Sealing::of(claimed.ciphertext.as_bytes());
    let envelope = Envelope::from_bytes(&plaintext).map_err(ReceiveError::Malformed)?;
    if envelope.request != claimed.request_id {
        return Err(ReceiveError::RequestMismatch { envelope: envelope.request.clone(), claimed: claimed.request_id });
    }
    // A request fixes the kind: each kind is checked its own way, so another kind dressed up as
    // the asked one (a key file holding JSON identifiers, say) would skip the asked kind's checks.
    if let Some(request_id) = &claimed.request_id {
        // The claim says it; a server from before it did is asked (its staff could read requests).
        let asked = match &claimed.kind {
            Some(kind) => kind.clone(),
            None => client.request_status(request_id, staff_token).await?.kind,
        };
        if asked != envelope.kind.name() {
            return Err(ReceiveError::KindMismatch { envelope: envelope.kind, asked: shown(&asked).into_owned() });
        }
    }
    // A kind that registers the vendor's certificate must name one this server publishes; what
    // fails is refused here, before anything is handed on (the server is asked only then).
    let certificates = if envelope.kind.registers_certificate() {
        let signed = vendor.and_then(|v| v.certificates);
        let mut certificates = certificates(&client.info().await?)?;
        certificates.retain(|c| signed.is_none_or(|hashes| hashes.iter().any(|h| h.eq_ignore_ascii_case(&c.sha256))));
        let against = Against { policy: None, certificates: Some(&certificates), now: time::OffsetDateTime::now_utc() };
        let report = contents::check(envelope.kind, &envelope.secret, &envelope.fields, against);
        if !report.compliant {
            return Err(ReceiveError::Refused { kind: envelope.kind, report: Box::new(report) });
        }
        certificates
    } else {
        Vec::new()
    };
    let claim = ClaimDetails {
        sealing,
        id: claimed.id,
        claimed_by: claimed.claimed_by,
        request_id: claimed.request_id,
        label: claimed.label,
        certificates,
    };
    let handed = match hand_on(&envelope, &claim) {
        Ok(handed) => handed,
        Err(HandOnError { failure, left: true }) => return Err(ReceiveError::HandOn(failure)),
        // Nothing left this process: the claim goes back, so nobody waits for this receiver.
        Err(HandOnError { failure, left: false }) => {
            let released = client.release(id, staff_token).await.err();
            return Err(ReceiveError::Released { failure, released });
        }
    };
    client.ack(id, staff_token).await.map_err(|cause| ReceiveError::NotAcknowledged { cause })?;
    Ok(Received {
        envelope,
        claimed_by: claim.claimed_by,
        request_id: claim.request_id,
        label: claim.label,
        sealing: claim.sealing,
        handed,
    })
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
    /// To which kind of keys the sender sealed it (`None`: neither purely, which no age
    /// implementation writes).
    pub sealing: Option<crypto::Sealing>,
    /// Who claimed it.
    pub claimed_by: String,
    /// The request it answers.
    pub request_id: Option<String>,
    /// That request's label.
    pub label: Option<String>,
    /// The certificates the server publishes, for the kinds that register one (else empty).
    pub certificates: Vec<Certificate>,
}
