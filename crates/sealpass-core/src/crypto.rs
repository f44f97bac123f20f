//! age encryption for sealpass: seal bytes to recipients (armored), open armored or binary age
//! with identities, parse recipients and identity files, and fingerprint a recipient set.
//! Pure: works on bytes and strings; reading files is the caller's job.

use std::fmt;
use std::io::{BufReader, Read, Write};
use std::str::FromStr;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use data_encoding::BASE32_NOPAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Largest ciphertext `open` reads: a 64 KiB envelope plus age's overhead, armored.
pub const MAX_CIPHERTEXT_BYTES: usize = 128 * 1024;

/// A public key sealpass can seal to. Our own type, so SSH and plugin (hardware) recipients
/// can be added without changing callers.
#[allow(deprecated)] // the X25519 variant: see there
#[derive(Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A hybrid post-quantum recipient (ML-KEM-768 with X25519), `age1pq1…`: what `keygen`
    /// makes, and what senders seal to whenever a vendor publishes one.
    Hybrid(age::pq::Recipient),
    /// A classical X25519 recipient, `age1…`: still opened and sealed to for vendors that have
    /// no hybrid key yet. (The age crate deprecates sealing to it; sealpass keeps it for them.)
    X25519(age::x25519::Recipient),
}

/// Why a recipient or identity could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not a recipient we understand.
    #[error("{0} is not an age recipient (age1pq1… or age1…). {1}")]
    BadRecipient(String, &'static str),
    /// No recipients at all.
    #[error("no recipients: give --to age1… (repeatable) or -R FILE")]
    NoRecipients,
    /// Post-quantum and classical recipients in one file: age refuses it, so do we.
    #[error(
        "these recipients mix post-quantum (age1pq1…, {post_quantum}) and classical (age1…, {classical}) keys; \
         age never seals one file to both, since a classical key would undo the post-quantum protection: \
         give the post-quantum ones only (in a recipients file, keep only the age1pq1… lines)"
    )]
    MixedRecipients {
        /// How many were post-quantum.
        post_quantum: usize,
        /// How many were classical.
        classical: usize,
    },
    /// The identity file did not parse.
    #[error("{0}")]
    BadIdentityFile(String),
    /// The identity file holds no identity.
    #[error("the identity file holds no AGE-SECRET-KEY-PQ-1… or AGE-SECRET-KEY-1… line")]
    NoIdentities,
}

impl FromStr for Recipient {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        // Echo only what looks like a public key: anything else might be a secret pasted in the
        // wrong place.
        let shown =
            if lower.starts_with("age1") || s.starts_with("ssh-") { short(s) } else { "(not shown)".to_owned() };
        if names_post_quantum(s) {
            return s.parse::<age::pq::Recipient>().map(Recipient::Hybrid).map_err(|why| {
                KeyError::BadRecipient(
                    shown,
                    match why {
                        "invalid Bech32 encoding" => {
                            "it does not decode (a character is wrong or missing: copy the whole key, about 1,950 characters)"
                        }
                        _ => "it decodes but is not a valid post-quantum key (sealpass recipient prints yours)",
                    },
                )
            });
        }
        let hint = if s.starts_with("ssh-") {
            "SSH recipients are not supported; use an age key (sealpass keygen)"
        } else if lower.starts_with("age-secret-key-") || lower.starts_with("age-plugin-") {
            "that is a secret key: never share it; give its recipient (sealpass recipient -i FILE)"
        } else if lower.starts_with("age1pq1") {
            "post-quantum recipients are written in lowercase, as sealpass recipient prints them"
        } else if lower.starts_with("age1") && s.len() > 62 {
            "plugin and tag recipients are not supported; use a key from sealpass keygen"
        } else {
            "recipients look like age1pq1… (post-quantum, ~1,950 characters) or age1 and 58 characters (classical); sealpass recipient prints yours"
        };
        #[allow(deprecated)]
        let classical = s.parse::<age::x25519::Recipient>();
        classical.map(Recipient::X25519).map_err(|_| KeyError::BadRecipient(shown, hint))
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s.to_owned() }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Hybrid(r) => write!(f, "{r}"),
            Recipient::X25519(r) => write!(f, "{r}"),
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({self})")
    }
}

impl Recipient {
    fn as_age(&self) -> &dyn age::Recipient {
        match self {
            Recipient::Hybrid(r) => r,
            #[allow(deprecated)]
            Recipient::X25519(r) => r,
        }
    }

    /// Whether this is a hybrid post-quantum recipient.
    pub fn is_post_quantum(&self) -> bool {
        matches!(self, Recipient::Hybrid(_))
    }

    /// The kind of key, as reports name it.
    pub fn sealing(&self) -> Sealing {
        if self.is_post_quantum() { Sealing::PostQuantum } else { Sealing::Classical }
    }
}

/// How a file was (or is to be) sealed: to hybrid post-quantum keys or to classical ones. Never
/// both: the age format forbids mixing them in one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Sealing {
    /// Hybrid ML-KEM-768 + X25519 (`mlkem768x25519` stanzas).
    PostQuantum,
    /// X25519 only (`X25519` stanzas).
    Classical,
}

impl Sealing {
    /// The name reports use: `post-quantum` or `classical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sealing::PostQuantum => "post-quantum",
            Sealing::Classical => "classical",
        }
    }

    /// How an age file was sealed, from its header's stanzas: post-quantum when every key
    /// stanza is hybrid, classical when every one is X25519, `None` otherwise (no header, other
    /// stanza types, or a mix, which no age implementation writes).
    pub fn of(ciphertext: &[u8]) -> Option<Sealing> {
        let types = stanza_types(ciphertext)?;
        if types.is_empty() {
            None
        } else if types.iter().all(|t| t == PQ_STANZA) {
            Some(Sealing::PostQuantum)
        } else if types.iter().all(|t| t == CLASSICAL_STANZA) {
            Some(Sealing::Classical)
        } else {
            None
        }
    }
}

impl fmt::Display for Sealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stanza type of a hybrid post-quantum recipient…
const PQ_STANZA: &str = "mlkem768x25519";
/// …and of a classical one.
const CLASSICAL_STANZA: &str = "X25519";

/// Whether a recipient string (parsed or not, as configs and manifests hold them) names a
/// hybrid post-quantum key: the one place that knows its prefix.
pub fn names_post_quantum(recipient: &str) -> bool {
    recipient.starts_with("age1pq1")
}

/// The recipients a sender seals to out of those a vendor publishes, and those left out: the
/// post-quantum ones whenever there is one (the age format never mixes kinds in a file, and a
/// classical key would undo the post-quantum protection), else every classical one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    /// Seal to these.
    pub to: Vec<Recipient>,
    /// Published but not sealed to: classical keys beside post-quantum ones.
    pub left_out: Vec<Recipient>,
}

/// Choose what to seal to from what a vendor publishes (see [`Chosen`]).
pub fn choose(published: &[Recipient]) -> Chosen {
    let (pq, classical): (Vec<Recipient>, Vec<Recipient>) =
        published.iter().cloned().partition(Recipient::is_post_quantum);
    if pq.is_empty() { Chosen { to: classical, left_out: Vec::new() } } else { Chosen { to: pq, left_out: classical } }
}

/// Refuse a set that mixes post-quantum and classical keys ([`KeyError::MixedRecipients`]).
pub fn one_kind(recipients: &[Recipient]) -> Result<(), KeyError> {
    let post_quantum = recipients.iter().filter(|r| r.is_post_quantum()).count();
    let classical = recipients.len() - post_quantum;
    if post_quantum > 0 && classical > 0 { Err(KeyError::MixedRecipients { post_quantum, classical }) } else { Ok(()) }
}

/// Parse a recipients file: one recipient a line, blank lines and `#` comments ignored.
pub fn parse_recipients_file(text: &str) -> Result<Vec<Recipient>, KeyError> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(Recipient::from_str).collect()
}

/// Sort and de-duplicate, refusing an empty set.
pub fn recipient_set(mut recipients: Vec<Recipient>) -> Result<Vec<Recipient>, KeyError> {
    recipients.sort_by_key(|r| r.to_string());
    recipients.dedup();
    if recipients.is_empty() { Err(KeyError::NoRecipients) } else { Ok(recipients) }
}

/// SPEC §4: `sp1-` and lowercase base32 of the first 16 bytes of SHA-256 over the sorted,
/// newline-joined recipient strings, in groups of four.
pub fn fingerprint<S: AsRef<str>>(recipients: &[S]) -> String {
    let mut strings: Vec<&str> = recipients.iter().map(|r| r.as_ref().trim()).collect();
    strings.sort_unstable();
    grouped("sp1", &Sha256::digest(strings.join("\n").as_bytes()))
}

/// What a server's fingerprint covers. `sp1-` (SPEC §4): the recipients. `sp2-` (SPEC §9), once
/// it publishes certificates: `sp2`, the sorted recipient strings, then the sorted
/// `x509-sha256:<hex>` of each certificate's DER. `sp3-` (SPEC §10), once it signs receipts: the
/// same under `sp3`, then `ed25519:<hex>` of its receipt key. Each is lowercase base32 of the
/// first 16 bytes of SHA-256 over those lines, newline-joined. Older links and pins keep
/// vouching for what they covered ([`covers`]).
pub fn server_fingerprint<S: AsRef<str>, C: AsRef<str>>(
    recipients: &[S],
    certificates: &[C],
    receipt_key: Option<&str>,
) -> String {
    if certificates.is_empty() && receipt_key.is_none() {
        return fingerprint(recipients);
    }
    let version = if receipt_key.is_some() { "sp3" } else { "sp2" };
    let mut keys: Vec<&str> = recipients.iter().map(|r| r.as_ref().trim()).collect();
    keys.sort_unstable();
    let mut certs: Vec<String> =
        certificates.iter().map(|c| format!("x509-sha256:{}", c.as_ref().trim().to_ascii_lowercase())).collect();
    certs.sort_unstable();
    let mut lines = vec![version.to_owned()];
    lines.extend(keys.iter().map(|k| (*k).to_owned()));
    lines.extend(certs);
    if let Some(key) = receipt_key {
        lines.push(format!("ed25519:{}", key.trim().to_ascii_lowercase()));
    }
    grouped(version, &Sha256::digest(lines.join("\n").as_bytes()))
}

/// What a fingerprint someone confirmed (in a link or a pin) vouches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Covered {
    /// The recipients and every certificate served.
    Everything,
    /// The recipients (and receipt key) only: a fingerprint from before the server published
    /// certificates.
    RecipientsOnly,
}

/// Whether `expected` vouches for what a server serves, and for how much of it. `None`: it does
/// not (keys or certificates were swapped). An `sp2-` fingerprint covers the recipients and
/// certificates but not a receipt key ([`covers_receipt_key`]).
pub fn covers<S: AsRef<str>, C: AsRef<str>>(
    expected: &str,
    recipients: &[S],
    certificates: &[C],
    receipt_key: Option<&str>,
) -> Option<Covered> {
    let expected = expected.trim();
    if expected.starts_with("sp1-") {
        let ok = fingerprint(recipients) == expected;
        let covered = if certificates.is_empty() { Covered::Everything } else { Covered::RecipientsOnly };
        return ok.then_some(covered);
    }
    if expected.starts_with("sp3-") {
        let key = receipt_key?;
        if server_fingerprint(recipients, certificates, Some(key)) == expected {
            return Some(Covered::Everything);
        }
        // Made before the server published certificates: it vouches for the rest only.
        let none: [&str; 0] = [];
        let before = !certificates.is_empty() && server_fingerprint(recipients, &none, Some(key)) == expected;
        return before.then_some(Covered::RecipientsOnly);
    }
    (server_fingerprint(recipients, certificates, None) == expected).then_some(Covered::Everything)
}

/// Whether `expected` vouches for `receipt_key` too: only an `sp3-` fingerprint does.
pub fn covers_receipt_key<S: AsRef<str>, C: AsRef<str>>(
    expected: &str,
    recipients: &[S],
    certificates: &[C],
    receipt_key: &str,
) -> bool {
    let none: [&str; 0] = [];
    let expected = expected.trim();
    expected.starts_with("sp3-")
        && (server_fingerprint(recipients, certificates, Some(receipt_key)) == expected
            || server_fingerprint(recipients, &none, Some(receipt_key)) == expected)
}

/// `prefix-` and lowercase base32 of the first 16 bytes of `digest`, in groups of four: the
/// shape of every fingerprint (`sp1-` … `sp4-`).
pub(crate) fn grouped(prefix: &str, digest: &[u8]) -> String {
    let encoded = BASE32_NOPAD.encode(&digest[..16]).to_lowercase();
    let groups: Vec<&str> = encoded.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("{prefix}-{}", groups.join("-"))
}

/// The fingerprint of a set of recipients.
pub fn fingerprint_of(recipients: &[Recipient]) -> String {
    let strings: Vec<String> = recipients.iter().map(Recipient::to_string).collect();
    fingerprint(&strings)
}

/// The identities from an identity file, and the recipient of each.
pub struct Identities {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    recipients: Vec<Recipient>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} keys, [REDACTED])", self.identities.len())
    }
}

impl Identities {
    /// Add the identities of `other`.
    pub fn extend(&mut self, other: Identities) {
        self.identities.extend(other.identities);
        self.recipients.extend(other.recipients);
    }

    /// Parse an identity file as `age-keygen` writes it: `AGE-SECRET-KEY-1…` lines, comments,
    /// blank lines; one or more keys.
    pub fn parse(text: &[u8]) -> Result<Identities, KeyError> {
        let parse = |bytes: &[u8]| {
            age::IdentityFile::from_buffer(BufReader::new(bytes)).map_err(|e| KeyError::BadIdentityFile(e.to_string()))
        };
        let identities = parse(text)?.into_identities().map_err(|e| KeyError::BadIdentityFile(e.to_string()))?;
        if identities.is_empty() {
            return Err(KeyError::NoIdentities);
        }
        let mut public = Zeroizing::new(Vec::new());
        parse(text)?.write_recipients_file(&mut *public).map_err(|e| KeyError::BadIdentityFile(e.to_string()))?;
        let recipients = std::str::from_utf8(&public)
            .map_err(|e| KeyError::BadIdentityFile(e.to_string()))
            .and_then(parse_recipients_file)?;
        Ok(Identities { identities, recipients })
    }

    /// The recipient (public key) of each identity, in file order.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }
}

/// A new hybrid post-quantum identity (what `keygen` makes): the identity file text (secret)
/// and its recipient.
pub fn generate_identity(created: &str) -> (SecretString, Recipient) {
    let identity = age::pq::Identity::generate();
    let recipient = Recipient::Hybrid(identity.to_public());
    identity_file(created, &recipient, &identity.to_string())
}

/// A new classical X25519 identity (`keygen --classic`), for a vendor whose senders still run
/// tools that cannot seal to post-quantum keys.
pub fn generate_classic_identity(created: &str) -> (SecretString, Recipient) {
    #[allow(deprecated)]
    let identity = age::x25519::Identity::generate();
    let recipient = Recipient::X25519(identity.to_public());
    identity_file(created, &recipient, &identity.to_string())
}

/// An identity file as `age-keygen` writes it: when, the public key, the secret key.
fn identity_file(created: &str, recipient: &Recipient, secret: &SecretString) -> (SecretString, Recipient) {
    let text = format!("# created: {created}\n# public key: {recipient}\n{}\n", secret.expose_secret());
    (SecretString::from(text), recipient.clone())
}

/// Why a ciphertext could not be opened. Each maps to exit code 5.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not an age file at all.
    #[error("this is not an age file (armored or binary): {0}")]
    NotAge(String),
    /// Encrypted with a passphrase rather than to keys.
    #[error("this age file is encrypted with a passphrase; sealpass only opens files sealed to keys")]
    Passphrase,
    /// None of our identities is a recipient.
    #[error("none of the identities given can open this (it was sealed to other keys); try another -i FILE")]
    NoMatchingKeys,
    /// The header or payload failed authentication or is cut short.
    #[error("the ciphertext is corrupt, truncated or has been tampered with: {0}")]
    Corrupt(String),
    /// Larger than any envelope we write.
    #[error("the ciphertext is larger than {} KiB, more than any sealpass envelope", MAX_CIPHERTEXT_BYTES / 1024)]
    TooLarge,
}

/// Seal `plaintext` to `recipients`, ASCII-armored.
pub fn seal(plaintext: &[u8], recipients: &[Recipient]) -> Result<String, KeyError> {
    if recipients.is_empty() {
        return Err(KeyError::NoRecipients);
    }
    one_kind(recipients)?;
    let encryptor = age::Encryptor::with_recipients(recipients.iter().map(Recipient::as_age))
        .map_err(|e| KeyError::BadRecipient(e.to_string(), "check the recipients"))?;
    let mut armored = Vec::with_capacity(plaintext.len() * 2 + 512);
    // Writing into a Vec cannot fail; the errors below are for completeness.
    let io = |e: std::io::Error| KeyError::BadRecipient(e.to_string(), "internal error while sealing");
    let mut writer =
        encryptor.wrap_output(ArmoredWriter::wrap_output(&mut armored, Format::AsciiArmor).map_err(io)?).map_err(io)?;
    writer.write_all(plaintext).map_err(io)?;
    writer.finish().and_then(|armor| armor.finish()).map_err(io)?;
    String::from_utf8(armored).map_err(|e| KeyError::BadRecipient(e.to_string(), "internal error while sealing"))
}

/// Open an armored or binary age file with any of `identities`.
pub fn open(ciphertext: &[u8], identities: &Identities) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if ciphertext.len() > MAX_CIPHERTEXT_BYTES {
        return Err(OpenError::TooLarge);
    }
    // Armor pasted from a mail or a chat often comes with blank lines or spaces around it.
    let trimmed = ciphertext.trim_ascii();
    let ciphertext = if trimmed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") { trimmed } else { ciphertext };
    let armored = ciphertext.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----");
    // Bounded work on hostile ciphertext: the header is measured before anything parses it.
    let binary = if armored {
        Some(dearmor_leniently(ciphertext).ok_or_else(|| OpenError::Corrupt("the armor does not decode".into()))?)
    } else {
        None
    };
    header_within_bounds(binary.as_deref().unwrap_or(ciphertext)).map_err(OpenError::NotAge)?;
    // Buffered: the age crate's unbuffered header reader re-parses the header for every byte it
    // reads, which is quadratic in the header's size (20 hybrid stanzas took 12 s).
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(ciphertext)).map_err(|e| match e {
        age::DecryptError::UnknownFormat => OpenError::NotAge("unknown format".into()),
        age::DecryptError::InvalidHeader if !armored => OpenError::NotAge("invalid header".into()),
        age::DecryptError::Io(e) if !armored => OpenError::NotAge(e.to_string()),
        age::DecryptError::Io(e) => OpenError::Corrupt(format!("truncated or malformed armor ({e})")),
        other => OpenError::Corrupt(other.to_string()),
    })?;
    if decryptor.is_scrypt() {
        return Err(OpenError::Passphrase);
    }
    let mut reader = decryptor
        .decrypt(identities.identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => OpenError::NoMatchingKeys,
            other => OpenError::Corrupt(other.to_string()),
        })?;
    // Room for everything up front: a growing Vec would leave unwiped copies of the plaintext.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(MAX_CIPHERTEXT_BYTES + 1));
    reader
        .by_ref()
        .take(MAX_CIPHERTEXT_BYTES as u64)
        .read_to_end(&mut plaintext)
        .map_err(|e| OpenError::Corrupt(e.to_string()))?;
    Ok(plaintext)
}

const BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const END: &str = "-----END AGE ENCRYPTED FILE-----";

/// Check that `text` is a well-formed ASCII-armored age v1 file without decrypting it: armor
/// lines (64 columns, canonical base64), the `age-encryption.org/v1` header, at least one
/// stanza with a canonical body, the MAC line, and a payload of at least one chunk. This is
/// what the drop server accepts; it is stricter than the age crate's reader (which accepts a
/// final stanza without its last body line).
pub fn check_armored(text: &str) -> Result<(), String> {
    let text = text.trim();
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    if lines.first() != Some(&BEGIN) {
        return Err(format!("the first line must be {BEGIN}"));
    }
    if lines.len() < 3 || lines.last() != Some(&END) {
        return Err(format!("the last line must be {END}"));
    }
    let body = &lines[1..lines.len() - 1];
    for (i, line) in body.iter().enumerate() {
        let last = i + 1 == body.len();
        if line.len() > 64 || (!last && line.len() != 64) || line.is_empty() {
            return Err("armor lines must be 64 columns (the last one shorter)".into());
        }
        // Padding only at the very end: `=` inside the body decodes once the lines are joined,
        // but age's own reader refuses it (found by fuzzing).
        if line.trim_end_matches('=').contains('=') || (!last && line.ends_with('=')) {
            return Err("base64 padding may only end the last armor line".into());
        }
    }
    let binary =
        data_encoding::BASE64.decode(body.concat().as_bytes()).map_err(|_| "the armor is not canonical base64")?;
    check_binary_header(&binary)
}

/// Most recipient stanzas in a header: every recipient a server may publish, and room for grease
/// stanzas. The age crate's header parser takes time quadratic in the
/// header's size, so an upload must not make a receiver's CPU pay for a huge one.
pub const MAX_STANZAS: usize = crate::api::MAX_RECIPIENTS + 4;

/// Longest stanza argument line, in bytes: a hybrid post-quantum stanza's (`mlkem768x25519` and
/// 1,120 bytes in base64, about 1.5 KB) with room to spare.
pub const MAX_STANZA_ARGS: usize = 2048;

/// Largest stanza body, decoded: X25519 and hybrid stanzas wrap a 16-byte file key into 32
/// bytes; grease and plugin stanzas stay well under this.
pub const MAX_STANZA_BODY: usize = 512;

/// Whether an age header stays within [`MAX_STANZAS`], [`MAX_STANZA_ARGS`] and
/// [`MAX_STANZA_BODY`]: scanned without parsing, before anything parses it. A header that is
/// malformed in other ways passes (the parser reports it).
pub fn header_within_bounds(bytes: &[u8]) -> Result<(), String> {
    let Some(rest) = bytes.strip_prefix(b"age-encryption.org/v1\n") else { return Ok(()) };
    let mut stanzas = 0;
    let mut body = 0usize;
    // Every line, the last one too even without its newline (as the parser would see it).
    for line in rest.split(|&b| b == b'\n') {
        if line.starts_with(b"--- ") {
            break;
        }
        if let Some(args) = line.strip_prefix(b"-> ") {
            stanzas += 1;
            body = 0;
            if stanzas > MAX_STANZAS {
                return Err(format!("the header has more than {MAX_STANZAS} recipient stanzas"));
            }
            if args.len() > MAX_STANZA_ARGS {
                return Err(format!("a stanza's arguments are longer than {MAX_STANZA_ARGS} bytes"));
            }
        } else {
            body += line.len() * 3 / 4;
            if body > MAX_STANZA_BODY {
                return Err(format!("a stanza body is larger than {MAX_STANZA_BODY} bytes"));
            }
        }
    }
    // A header with no MAC line within the input is longer than the input: the parser says so.
    Ok(())
}

/// The stanza type (first argument) of each recipient stanza in an age file's header, armored
/// or not; grease stanzas (`…-grease`), which carry no key, are left out. `None` when there is no
/// header to read (armor that does not decode, not an age file).
pub fn stanza_types(ciphertext: &[u8]) -> Option<Vec<String>> {
    let trimmed = ciphertext.trim_ascii();
    let binary = if trimmed.starts_with(BEGIN.as_bytes()) { Some(dearmor_leniently(trimmed)?) } else { None };
    let bytes = binary.as_deref().unwrap_or(ciphertext);
    let header = bytes.strip_prefix(b"age-encryption.org/v1\n")?;
    let types = header
        .split(|&b| b == b'\n')
        .take_while(|line| !line.starts_with(b"--- "))
        .filter_map(|line| line.strip_prefix(b"-> "))
        .filter_map(|args| args.split(|&b| b == b' ').next())
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| !t.ends_with("-grease"))
        .collect();
    Some(types)
}

/// The stanza type age writes for a recipient.
fn stanza_type_of(recipient: &str) -> &'static str {
    if names_post_quantum(recipient) { PQ_STANZA } else { CLASSICAL_STANZA }
}

/// What in `ciphertext`'s header the `vendor`'s recipients do not account for: more stanzas of a
/// type than the vendor has recipients of it, a type none of them makes, or post-quantum and
/// classical stanzas together (no sender writes that: a vendor publishing both kinds would
/// otherwise leave room for one extra key of the kind its senders do not use). Someone else can
/// then open the file. `None` when every stanza is accounted for.
pub fn unaccounted_stanzas<S: AsRef<str>>(ciphertext: &[u8], vendor: &[S]) -> Option<String> {
    let mut expected = std::collections::BTreeMap::<&str, usize>::new();
    for r in vendor {
        *expected.entry(stanza_type_of(r.as_ref())).or_default() += 1;
    }
    let Some(types) = stanza_types(ciphertext) else {
        return Some("a header that cannot be read".into());
    };
    let mut found = std::collections::BTreeMap::<String, usize>::new();
    for t in types {
        *found.entry(t).or_default() += 1;
    }
    if found.contains_key(PQ_STANZA) && found.contains_key(CLASSICAL_STANZA) {
        return Some(format!(
            "{} {PQ_STANZA} and {} {CLASSICAL_STANZA} stanza(s) in one file, which no sender writes",
            found[PQ_STANZA], found[CLASSICAL_STANZA]
        ));
    }
    let extra: Vec<String> = found
        .iter()
        .filter_map(|(t, &n)| {
            let allowed = expected.get(t.as_str()).copied().unwrap_or(0);
            (n > allowed)
                .then(|| format!("{n} {} stanza(s) where the vendor has {allowed} such recipient(s)", short(t)))
        })
        .collect();
    (!extra.is_empty()).then(|| extra.join(", "))
}

/// The binary form of an armored age file, decoded leniently (whitespace and line lengths as
/// they come), or `None` if it does not decode: then the parser reports what is wrong.
fn dearmor_leniently(armored: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(armored).ok()?;
    let inner = text.trim().strip_prefix(BEGIN)?.trim_end().strip_suffix(END)?;
    let joined: String = inner.split_ascii_whitespace().collect();
    data_encoding::BASE64.decode(joined.as_bytes()).ok()
}

fn check_binary_header(bytes: &[u8]) -> Result<(), String> {
    header_within_bounds(bytes)?;
    let mut rest = bytes.strip_prefix(b"age-encryption.org/v1\n").ok_or("not an age v1 file (header line missing)")?;
    let mut stanzas = 0;
    loop {
        let end = rest.iter().position(|&b| b == b'\n').ok_or("the header is cut short")?;
        let line = std::str::from_utf8(&rest[..end]).map_err(|_| "the header is not text")?;
        rest = &rest[end + 1..];
        if let Some(mac) = line.strip_prefix("--- ") {
            let ok = mac.len() == 43 && data_encoding::BASE64_NOPAD.decode(mac.as_bytes()).is_ok_and(|m| m.len() == 32);
            if !ok || stanzas == 0 {
                return Err(
                    if ok { "the header has no recipient stanza" } else { "the header MAC line is malformed" }.into()
                );
            }
            break;
        }
        let args = line.strip_prefix("-> ").ok_or("a header line is neither a stanza nor the MAC line")?;
        let well_formed =
            !args.is_empty() && args.split(' ').all(|a| !a.is_empty() && a.bytes().all(|b| (33..=126).contains(&b)));
        if !well_formed {
            return Err("a stanza's arguments are malformed".into());
        }
        // The body: full 64-column lines, ended by a shorter (possibly empty) one.
        loop {
            let end = rest.iter().position(|&b| b == b'\n').ok_or("a stanza body is cut short")?;
            let line = &rest[..end];
            rest = &rest[end + 1..];
            if line.len() > 64 || data_encoding::BASE64_NOPAD.decode(line).is_err() {
                return Err("a stanza body is not canonical base64".into());
            }
            if line.len() < 64 {
                break;
            }
        }
        stanzas += 1;
    }
    // A 16-byte nonce and at least one chunk's 16-byte tag.
    if rest.len() < 32 {
        return Err("the payload is cut short".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    #[test]
    fn fingerprint_is_order_independent_and_shaped() {
        let (_, r1) = generate_identity("test");
        let (_, r2) = generate_identity("test");
        let f = fingerprint_of(&[r1.clone(), r2.clone()]);
        assert_eq!(f, fingerprint_of(&[r2, r1]));
        assert!(f.starts_with("sp1-"));
        let groups: Vec<&str> = f.trim_start_matches("sp1-").split('-').collect();
        assert_eq!(groups.len(), 7);
        assert!(groups[..6].iter().all(|g| g.len() == 4) && groups[6].len() == 2);
        assert!(f.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }

    #[test]
    fn certificate_fingerprints_are_versioned() {
        let none: [&str; 0] = [];
        assert_eq!(server_fingerprint(&[A], &none, None), fingerprint(&[A]));
        let cert = "ab".repeat(32);
        let v2 = server_fingerprint(&[A], &[cert.as_str()], None);
        assert!(v2.starts_with("sp2-") && v2.len() == fingerprint(&[A]).len());
        // printf 'sp2\n%s\nx509-sha256:%s' "$A" "$(printf 'ab%.0s' $(seq 32))" | sha256sum: first 16 bytes, base32
        assert_eq!(v2, "sp2-72ne-n5fz-q2md-4s4v-o6dd-ikeo-zy");
        assert_eq!(covers(&v2, &[A], &[cert.as_str()], None), Some(Covered::Everything));
        assert_eq!(covers(&fingerprint(&[A]), &[A], &[cert.as_str()], None), Some(Covered::RecipientsOnly));
        assert_eq!(covers(&fingerprint(&[A]), &[A], &none, None), Some(Covered::Everything));
        let swapped = "cd".repeat(32);
        assert_eq!(covers(&v2, &[A], &[swapped.as_str()], None), None);
        assert_eq!(covers(&v2, &[A], &none, None), None);
        assert_eq!(covers(&v2, &[A], &[cert.as_str(), swapped.as_str()], None), None);
    }

    #[test]
    fn a_receipt_key_makes_an_sp3_fingerprint_and_older_ones_still_vouch_for_what_they_covered() {
        let none: [&str; 0] = [];
        let (cert, key, other) = ("ab".repeat(32), "ef".repeat(32), "01".repeat(32));
        let v3 = server_fingerprint(&[A], &[cert.as_str()], Some(&key));
        // printf 'sp3\n%s\nx509-sha256:%s\ned25519:%s' "$A" "$(printf 'ab%.0s' $(seq 32))" "$(printf 'ef%.0s' $(seq 32))"
        assert_eq!(v3, "sp3-vkgl-qvub-q5ss-zyhj-pe6y-fhd7-tu");
        let v3_alone = server_fingerprint(&[A], &none, Some(&key));
        assert!(v3_alone.starts_with("sp3-") && v3_alone != v3);
        assert_eq!(covers(&v3, &[A], &[cert.as_str()], Some(&key)), Some(Covered::Everything));
        assert_eq!(covers(&v3, &[A], &[cert.as_str()], Some(&other)), None, "a swapped receipt key");
        assert_eq!(covers(&v3, &[A], &[cert.as_str()], None), None, "a receipt key withheld");
        assert!(covers_receipt_key(&v3, &[A], &[cert.as_str()], &key));
        assert!(!covers_receipt_key(&v3, &[A], &[cert.as_str()], &other));
        // Links from before the receipt key still seal, and vouch for no receipt key.
        let v2 = server_fingerprint(&[A], &[cert.as_str()], None);
        assert_eq!(covers(&v2, &[A], &[cert.as_str()], Some(&key)), Some(Covered::Everything));
        assert!(!covers_receipt_key(&v2, &[A], &[cert.as_str()], &key));
        assert_eq!(covers(&fingerprint(&[A]), &[A], &none, Some(&key)), Some(Covered::Everything));
        // A link made before certificates were published vouches for the recipients and key.
        assert_eq!(covers(&v3_alone, &[A], &[cert.as_str()], Some(&key)), Some(Covered::RecipientsOnly));
        assert!(covers_receipt_key(&v3_alone, &[A], &[cert.as_str()], &key));
        assert_eq!(covers(&v3_alone, &[A], &[cert.as_str()], Some(&other)), None);
    }

    #[test]
    fn fingerprint_matches_values_computed_with_coreutils() {
        // printf '%s' RECIPIENTS | sha256sum | cut -c1-32 | xxd -r -p | base32 | tr A-Z a-z
        assert_eq!(fingerprint(&[A]), "sp1-z57f-narr-gfig-qw7r-nzbm-j2si-4e");
        let b = "age1lxfpwx6mt62skudgcut35wsrekt8necz9fu9ttz076tx0nh8kfsqahqk8p";
        // Sorted (b < A), joined with one newline, no trailing newline.
        assert_eq!(fingerprint(&[A, b]), "sp1-asqn-uvvd-kghx-ocmx-u3mg-r6mj-zu");
        assert_eq!(fingerprint(&[b, A]), fingerprint(&[A, b]));
    }

    #[test]
    fn seal_and_open_round_trip_with_several_recipients() {
        let (id1, r1) = generate_identity("t");
        let (id2, r2) = generate_identity("t");
        let armored = seal(b"hello", &[r1, r2]).unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        for id in [id1, id2] {
            let ids = Identities::parse(id.expose_secret().as_bytes()).unwrap();
            assert_eq!(&*open(armored.as_bytes(), &ids).unwrap(), b"hello");
        }
        let (other, _) = generate_identity("t");
        let ids = Identities::parse(other.expose_secret().as_bytes()).unwrap();
        assert!(matches!(open(armored.as_bytes(), &ids), Err(OpenError::NoMatchingKeys)));
    }

    /// An armored age file with `stanzas` X25519-shaped stanzas whose bodies are `body` bytes.
    fn hostile(stanzas: usize, body: usize) -> String {
        let b64 = |n: usize| data_encoding::BASE64_NOPAD.encode(&vec![7u8; n]);
        let mut header = b"age-encryption.org/v1\n".to_vec();
        for _ in 0..stanzas {
            header.extend_from_slice(format!("-> X25519 {}\n", b64(32)).as_bytes());
            let text = b64(body);
            let mut lines: Vec<&str> = text.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
            if text.len() % 64 == 0 {
                lines.push("");
            }
            header.extend_from_slice(lines.join("\n").as_bytes());
            header.push(b'\n');
        }
        header.extend_from_slice(format!("--- {}\n", b64(32)).as_bytes());
        header.extend_from_slice(&[9u8; 48]);
        let body = data_encoding::BASE64.encode(&header);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("{BEGIN}\n{}\n{END}\n", lines.join("\n"))
    }

    #[test]
    fn headers_beyond_the_stanza_bounds_are_refused_before_parsing() {
        // Found by a hostile sender: one ~92 KB stanza (its base64), or ~900 small ones, cost 16 s to parse.
        for (stanzas, body, says) in [(900, 32, "stanzas"), (1, 60_000, "body"), (MAX_STANZAS + 1, 32, "stanzas")] {
            let armored = hostile(stanzas, body);
            assert!(check_armored(&armored).unwrap_err().contains(says), "{stanzas} × {body}");
            let (secret, _) = generate_identity("t");
            let ids = Identities::parse(secret.expose_secret().as_bytes()).unwrap();
            let opened = open(armored.as_bytes(), &ids);
            assert!(
                matches!(&opened, Err(OpenError::NotAge(why)) if why.contains(says)),
                "{stanzas} × {body}: {:?}",
                opened.err()
            );
        }
        // Within the bounds: what a vendor with the most recipients produces is accepted.
        let most: Vec<Recipient> = (0..crate::api::MAX_RECIPIENTS).map(|_| generate_identity("t").1).collect();
        let sealed = seal(&[b' '; 1024], &most).unwrap();
        assert_eq!(check_armored(&sealed), Ok(()));
        assert_eq!(stanza_types(sealed.as_bytes()).map(|t| t.len()), Some(crate::api::MAX_RECIPIENTS));
        assert_eq!(check_armored(&hostile(MAX_STANZAS, 32)), Ok(()));
    }

    #[test]
    fn stanzas_the_vendors_recipients_do_not_account_for_are_named() {
        let (_, vendor) = generate_identity("t");
        let (_, attacker) = generate_identity("t");
        let vendor_text = vec![vendor.to_string()];
        let to_vendor = seal(&[b' '; 1024], std::slice::from_ref(&vendor)).unwrap();
        assert_eq!(unaccounted_stanzas(to_vendor.as_bytes(), &vendor_text), None);
        let to_both = seal(&[b' '; 1024], &[vendor.clone(), attacker]).unwrap();
        let extra = unaccounted_stanzas(to_both.as_bytes(), &vendor_text).unwrap();
        assert!(extra.contains("2 mlkem768x25519 stanza(s) where the vendor has 1"), "{extra}");
        let (_, classical) = generate_classic_identity("t");
        let (_, other) = generate_classic_identity("t");
        let to_two = seal(&[b' '; 1024], &[classical.clone(), other]).unwrap();
        let extra = unaccounted_stanzas(to_two.as_bytes(), &[classical.to_string()]).unwrap();
        assert!(extra.contains("2 X25519 stanza(s) where the vendor has 1"), "{extra}");
        // A vendor moving to post-quantum keys publishes both kinds: a file holding both (one of
        // them someone else's) is refused, though each kind's count is within the vendor's.
        let mixed_vendor = vec![vendor.to_string(), classical.to_string()];
        let both = b"age-encryption.org/v1
-> mlkem768x25519 AAAA
AAAA
-> X25519 AAAA
AAAA
--- AAAA
";
        let extra = unaccounted_stanzas(both, &mixed_vendor).unwrap();
        assert!(extra.contains("1 mlkem768x25519 and 1 X25519 stanza(s) in one file"), "{extra}");
        assert_eq!(unaccounted_stanzas(to_vendor.as_bytes(), &mixed_vendor), None);
        // A type no vendor recipient makes is extra too; grease is not.
        assert!(unaccounted_stanzas(hostile(1, 32).as_bytes(), &[] as &[String]).is_some());
    }

    #[test]
    fn what_we_seal_passes_the_upload_check_and_damage_does_not() {
        let (_, r) = generate_identity("t");
        let armored = seal(&[b' '; 1024], &[r]).unwrap();
        assert_eq!(check_armored(&armored), Ok(()));
        assert_eq!(check_armored(&armored.replace('\n', "\r\n")), Ok(()));
        let lines: Vec<&str> = armored.lines().collect();
        let cut = format!("{}\n{}\n{END}\n", lines[0], lines[1]);
        assert!(check_armored(&cut).is_err());
        assert!(check_armored("hello").unwrap_err().contains("first line"));
        // Found by fuzzing: padding inside the body, which age's reader refuses.
        let mid_padding = include_str!("../../../tests/data/armor_padding_mid_body.age");
        assert!(check_armored(mid_padding).unwrap_err().contains("padding"), "{mid_padding}");
        assert!(check_armored(&armored.replacen("-----END", "-----FIN", 1)).is_err());
    }

    #[test]
    fn recipients_are_validated_with_hints() {
        assert!(A.parse::<Recipient>().is_ok());
        let e = "ssh-ed25519 AAAA".parse::<Recipient>().unwrap_err().to_string();
        assert!(e.contains("SSH recipients are not supported"), "{e}");
        for secret in ["AGE-SECRET-KEY-1QQQ", "age-secret-key-1qqq", "hunter2"] {
            let e = secret.parse::<Recipient>().unwrap_err().to_string();
            assert!(!e.to_lowercase().contains("qqq") && !e.contains("hunter2"), "{e}");
        }
        assert!("age-secret-key-1qqq".parse::<Recipient>().unwrap_err().to_string().contains("secret key"));
        let parsed = parse_recipients_file(&format!("# team\n\n{A}\n  {A}  \n")).unwrap();
        assert_eq!(recipient_set(parsed).unwrap().len(), 1);
        assert_eq!(recipient_set(vec![]).unwrap_err(), KeyError::NoRecipients);
    }

    #[test]
    fn identity_files_with_comments_and_several_keys() {
        let (a, ra) = generate_identity("t");
        let (b, rb) = generate_identity("t");
        let text = format!("# one\n{}\n\n# two\n{}", a.expose_secret(), b.expose_secret());
        let ids = Identities::parse(text.as_bytes()).unwrap();
        assert_eq!(ids.recipients(), &[ra, rb]);
        assert!(!format!("{ids:?}").contains("AGE-SECRET-KEY"));
        assert_eq!(Identities::parse(b"# nothing\n").unwrap_err(), KeyError::NoIdentities);
        let e = Identities::parse(b"AGE-SECRET-KEY-1NOTAKEY\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("NOTAKEY"), "{e}");
    }

    #[test]
    fn hybrid_keys_are_the_default_and_seal_and_open() {
        let (identity, recipient) = generate_identity("t");
        assert!(recipient.is_post_quantum());
        let text = recipient.to_string();
        assert!(text.starts_with("age1pq1") && text.len() > 1900, "{}", text.len());
        assert_eq!(text.parse::<Recipient>().unwrap(), recipient);
        assert!(identity.expose_secret().contains("\nAGE-SECRET-KEY-PQ-1"));
        let ids = Identities::parse(identity.expose_secret().as_bytes()).unwrap();
        assert_eq!(ids.recipients(), std::slice::from_ref(&recipient));
        let sealed = seal(b"pq", std::slice::from_ref(&recipient)).unwrap();
        assert_eq!(Sealing::of(sealed.as_bytes()), Some(Sealing::PostQuantum));
        assert_eq!(&open(sealed.as_bytes(), &ids).unwrap()[..], b"pq");
        assert_eq!(check_armored(&sealed), Ok(()));
        // A damaged key says so without echoing more than its start.
        let broken = format!("{}x{}", &text[..100], &text[101..]);
        let e = broken.parse::<Recipient>().unwrap_err().to_string();
        assert!(e.contains("does not decode") && !e.contains(&text[200..260]), "{e}");
        assert!(text.to_uppercase().parse::<Recipient>().unwrap_err().to_string().contains("lowercase"));
    }

    #[test]
    fn kinds_are_never_mixed_and_senders_choose_the_post_quantum_ones() {
        let (_, pq) = generate_identity("t");
        let (_, classical) = generate_classic_identity("t");
        assert!(!classical.is_post_quantum());
        let e = seal(b"x", &[pq.clone(), classical.clone()]).unwrap_err();
        assert_eq!(e, KeyError::MixedRecipients { post_quantum: 1, classical: 1 });
        assert!(e.to_string().contains("never seals one file to both"), "{e}");
        let chosen = choose(&[classical.clone(), pq.clone()]);
        assert_eq!(chosen, Chosen { to: vec![pq.clone()], left_out: vec![classical.clone()] });
        let only_classical = choose(std::slice::from_ref(&classical));
        assert_eq!(only_classical, Chosen { to: vec![classical.clone()], left_out: vec![] });
        let sealed = seal(b"x", &only_classical.to).unwrap();
        assert_eq!(Sealing::of(sealed.as_bytes()), Some(Sealing::Classical));
        assert_eq!(Sealing::of(b"not age"), None);
    }

    #[test]
    fn an_identity_file_with_both_kinds_opens_both() {
        let (a, pq) = generate_identity("t");
        let (b, classical) = generate_classic_identity("t");
        let text = format!("{}\n{}", a.expose_secret(), b.expose_secret());
        let ids = Identities::parse(text.as_bytes()).unwrap();
        assert_eq!(ids.recipients(), &[pq.clone(), classical.clone()]);
        for to in [pq, classical] {
            let sealed = seal(b"both", &[to]).unwrap();
            assert_eq!(&open(sealed.as_bytes(), &ids).unwrap()[..], b"both");
        }
    }
}
