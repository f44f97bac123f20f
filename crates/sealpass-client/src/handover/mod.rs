//! The hand-over itself, once, for every caller (`send`, `receive`, `demo`), as two operations
//! with their own errors (as rage has `EncryptError` and `DecryptError`): [`send`] finds out
//! where a credential goes and checks the server's keys, builds and checks the envelope, seals
//! and uploads it ([`SendError`]); [`receive`] claims, decrypts, checks and hands on what
//! arrives, then acknowledges ([`ReceiveError`]). Both read what a server serves through
//! [`Served`] ([`ServedError`]). No clap, no terminal: callers read input, print, and end with
//! each error's exit code ([`crate::exit::Exits`]).

use crate::exit::{Exit, Exits};
use crate::http::{Client, ClientError};
use sealpass_core::api;
use sealpass_core::cert::{CertError, Certificate};
use sealpass_core::crypto::{self, KeyError, Recipient};
use sealpass_core::envelope::Kind;
use sealpass_core::text::shown;
use sealpass_core::trust::{Anchor, Vouched};

mod receiving;
mod sending;

pub use receiving::{ClaimDetails, HandOnError, Known, ReceiveError, Received, receive};
pub use sending::{Asked, Destination, Intake, SendError, Sent, answering, direct, envelope, pinned, send};

/// Why what a server serves cannot be used, whoever asked.
#[derive(Debug, thiserror::Error)]
pub enum ServedError {
    /// The server refused, failed or could not be reached.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// A recipient it serves is not an age key, or the set is not usable.
    #[error("the server's recipients are unusable: {0}")]
    Recipients(#[source] KeyError),
    /// Its receipt key is not an Ed25519 key.
    #[error("the server's receipt key is not an Ed25519 key")]
    ReceiptKey,
    /// It publishes more certificates than any vendor needs.
    #[error("the server publishes more than {} certificates; nothing was sent. Tell the vendor", api::MAX_CERTIFICATES)]
    TooManyCertificates,
    /// A certificate it publishes cannot be read, or is not what it says.
    #[error(
        "the server publishes a certificate that is not usable ({name}: {source}); nothing was sent. Tell the vendor"
    )]
    Certificate {
        /// The name it publishes it under (shown-safe).
        name: String,
        /// Why.
        source: CertError,
    },
}

impl Exits for ServedError {
    fn exit(&self) -> Exit {
        match self {
            ServedError::Server(cause) => cause.exit(),
            _ => Exit::Error,
        }
    }
}

/// "a salesforce-password", "an entra-client-secret".
pub fn a(kind: Kind) -> String {
    let name = kind.name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {name}")
}

/// Now, as envelopes and records write it: RFC 3339 in UTC to the second, `2026-11-27T12:00:00Z`.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// The server's certificates, each read from its PEM (its stated hashes must be the PEM's).
fn certificates(info: &api::Info) -> Result<Vec<Certificate>, ServedError> {
    if info.certificates.len() > api::MAX_CERTIFICATES {
        return Err(ServedError::TooManyCertificates);
    }
    info.certificates
        .iter()
        .map(|c| {
            sealpass_core::cert::verify_published(c)
                .map_err(|source| ServedError::Certificate { name: shown(&c.name).into_owned(), source })
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
    pub fn read(info: &api::Info) -> Result<Served, ServedError> {
        let recipients = parse_recipients(&info.recipients).map_err(ServedError::Recipients)?;
        let certificates = certificates(info)?;
        let hashes: Vec<&str> = certificates.iter().map(|c| c.sha256.as_str()).collect();
        let receipt_key = match &info.receipt_key {
            Some(key) if sealpass_core::receipt::valid_key(key) => Some(key.to_ascii_lowercase()),
            Some(_) => return Err(ServedError::ReceiptKey),
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
    pub async fn fetch(client: &Client) -> Result<Served, ServedError> {
        Served::read(&client.info().await?)
    }

    /// The `sp4-` value of the vendor key that signed the manifest it serves (unverified: what
    /// `init` asks the user to compare).
    pub fn vendor_key(&self) -> Option<String> {
        self.manifest.as_ref()?.signer_fingerprint()
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

    /// [`Served::vouch`], refused as a sending error: `from` says whose value it was, `pinned`
    /// names the server when it was the user's pin.
    fn vouched(&self, anchor: Anchor<'_>, server: &str, pinned: bool) -> Result<Vouched, SendError> {
        self.vouch(anchor, server).map_err(|why| {
            let mut next = format!("Nothing was sent. {}", why.what_to_do(anchor.fingerprint));
            if pinned && !matches!(why, sealpass_core::trust::TrustError::Manifest(sealpass_core::manifest::ManifestError::Expired(_))) {
                next.push_str(&format!(
                    " If the vendor confirms, through another channel, that it changed keys, run `sealpass init --server \
                     {server} --fingerprint VALUE` with the value it gives you."
                ));
            }
            let from = if pinned { "the value you pinned for this server" } else { "the value in your link" };
            SendError::Untrusted { why, from, next }
        })
    }
}

/// Recipients as text, each an age key, as one usable set.
fn parse_recipients(texts: &[String]) -> Result<Vec<Recipient>, KeyError> {
    let parsed: Vec<Recipient> = texts.iter().map(|r| r.parse()).collect::<Result<_, _>>()?;
    crypto::recipient_set(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Failure;
    use sealpass_core::crypto::OpenError;
    use sealpass_core::envelope::EnvelopeError;

    /// SPEC §6: what scripts rely on, one line a variant (a new variant must say its code here).
    #[test]
    fn each_error_ends_with_the_exit_code_the_spec_gives_it() {
        let down = || ClientError::Unreachable { server: "https://s".into(), cause: "refused".into() };
        let gone = || ClientError::Unavailable { code: "expired".into(), message: "expired".into() };
        let cases: Vec<(Box<dyn Exits>, Exit)> = vec![
            (Box::new(ServedError::Server(down())), Exit::Unreachable),
            (Box::new(ServedError::ReceiptKey), Exit::Error),
            (Box::new(ServedError::TooManyCertificates), Exit::Error),
            (
                Box::new(SendError::Served(ServedError::Server(ClientError::Unauthorized("no".into())))),
                Exit::Unauthorized,
            ),
            (Box::new(SendError::Server(gone())), Exit::Unavailable),
            (Box::new(SendError::RequestAnswered), Exit::Unavailable),
            (Box::new(SendError::RequestExpired), Exit::Unavailable),
            (Box::new(SendError::RequestCancelled), Exit::Unavailable),
            (Box::new(SendError::UnknownKind("x".into())), Exit::Usage),
            (Box::new(SendError::WrongKind { asked: Kind::Generic, offered: Kind::KeyFile }), Exit::Usage),
            (Box::new(SendError::Envelope(EnvelopeError::TooLarge)), Exit::Usage),
            (Box::new(SendError::NotForRequest), Exit::Usage),
            (Box::new(SendError::Recipients(KeyError::NoRecipients)), Exit::Error),
            (Box::new(SendError::Seal(KeyError::NoRecipients)), Exit::Error),
            (Box::new(SendError::NoCertificate(Kind::SalesforceJwt)), Exit::Error),
            (Box::new(SendError::CertificateUnconfirmed { kind: Kind::SalesforceJwt, by_link: true }), Exit::Error),
            (Box::new(ReceiveError::Server(down())), Exit::Unreachable),
            (Box::new(ReceiveError::NotAcknowledged { cause: gone() }), Exit::Unavailable),
            (Box::new(ReceiveError::WrongDrop), Exit::Decrypt),
            (Box::new(ReceiveError::ExtraRecipients("X25519".into())), Exit::Decrypt),
            (Box::new(ReceiveError::Decrypt(OpenError::NoMatchingKeys)), Exit::Decrypt),
            (Box::new(ReceiveError::Malformed(EnvelopeError::MissingSecret)), Exit::Decrypt),
            (Box::new(ReceiveError::RequestMismatch { envelope: None, claimed: Some("r".into()) }), Exit::Decrypt),
            (Box::new(ReceiveError::KindMismatch { envelope: Kind::KeyFile, asked: "generic".into() }), Exit::Decrypt),
            (Box::new(ReceiveError::HandOn(Failure::usage("--reveal onto a terminal"))), Exit::Usage),
            (Box::new(ReceiveError::Released { failure: Failure::usage("--reveal"), released: None }), Exit::Usage),
        ];
        for (error, exit) in cases {
            assert_eq!(error.exit(), exit);
        }
    }
}
