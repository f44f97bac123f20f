//! The typed envelope (SPEC §3): what is sealed inside age. Kinds and their fields, padding to
//! hide the secret's length, and strict reading. Pure: bytes in, bytes out; the secret stays in
//! `secrecy`/`zeroize` types and `Debug` never shows it.

use std::collections::BTreeMap;
use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The only envelope version this build reads and writes.
pub const VERSION: u64 = 1;
/// Plaintext is padded to a multiple of this…
pub const PAD_BLOCK: usize = 512;
/// …and to at least this many bytes.
pub const PAD_MIN: usize = 1024;
/// Largest envelope a reader accepts, padded.
pub const MAX_BYTES: usize = 64 * 1024;
/// Largest envelope sealpass seals: armored, its ciphertext stays within a drop server's
/// default 64 KiB limit.
pub const MAX_SEALED_BYTES: usize = 46 * 1024;

/// What kind of credential an envelope carries (SPEC §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A Salesforce integration user's password.
    SalesforcePassword,
    /// A Salesforce connected app's consumer secret.
    SalesforceClientCredentials,
    /// A Microsoft app password for a Dynamics 365 user.
    DynamicsAppPassword,
    /// An Entra ID user's password for Dynamics 365.
    DynamicsPassword,
    /// An Entra ID app registration's client secret value.
    EntraClientSecret,
    /// Anything else.
    Generic,
}

/// How a field's value is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Any non-empty text.
    Text,
    /// A GUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    Guid,
    /// An `https://` URL.
    Url,
    /// A secret in its own right: never on argv, never in a report unless revealed.
    Secret,
}

/// A field a kind knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// Field name, as in the envelope.
    pub name: &'static str,
    /// Whether the envelope must carry it.
    pub required: bool,
    /// How its value is checked.
    pub ty: FieldType,
}

const fn field(name: &'static str, required: bool, ty: FieldType) -> FieldSpec {
    FieldSpec { name, required, ty }
}

impl Kind {
    /// Every kind, in the order SPEC §2 lists them.
    pub const ALL: [Kind; 6] = [
        Kind::SalesforcePassword,
        Kind::SalesforceClientCredentials,
        Kind::DynamicsAppPassword,
        Kind::DynamicsPassword,
        Kind::EntraClientSecret,
        Kind::Generic,
    ];

    /// The kind's name, as in the envelope and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SalesforcePassword => "salesforce-password",
            Kind::SalesforceClientCredentials => "salesforce-client-credentials",
            Kind::DynamicsAppPassword => "dynamics-app-password",
            Kind::DynamicsPassword => "dynamics-password",
            Kind::EntraClientSecret => "entra-client-secret",
            Kind::Generic => "generic",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The policy a secret of this kind is checked against unless told otherwise.
    pub fn default_policy(self) -> &'static str {
        match self {
            Kind::SalesforcePassword => "salesforce",
            Kind::SalesforceClientCredentials | Kind::Generic => "strong",
            Kind::DynamicsAppPassword => "microsoft-app-password",
            Kind::DynamicsPassword => "entra-password",
            Kind::EntraClientSecret => "entra-client-secret",
        }
    }

    /// The fields this kind knows; `generic` takes any.
    pub fn fields(self) -> &'static [FieldSpec] {
        use FieldType::*;
        const SALESFORCE: &[FieldSpec] =
            &[field("username", true, Text), field("security_token", false, Secret), field("instance_url", false, Url)];
        const CLIENT_CREDENTIALS: &[FieldSpec] = &[field("consumer_key", true, Text), field("instance_url", true, Url)];
        const DYNAMICS: &[FieldSpec] = &[field("username", true, Text), field("environment_url", false, Url)];
        const ENTRA_APP: &[FieldSpec] =
            &[field("tenant_id", true, Guid), field("client_id", true, Guid), field("environment_url", false, Url)];
        match self {
            Kind::SalesforcePassword => SALESFORCE,
            Kind::SalesforceClientCredentials => CLIENT_CREDENTIALS,
            Kind::DynamicsAppPassword | Kind::DynamicsPassword => DYNAMICS,
            Kind::EntraClientSecret => ENTRA_APP,
            Kind::Generic => &[],
        }
    }

    /// The spec of a field of this kind, if it knows it.
    pub fn field(self, name: &str) -> Option<FieldSpec> {
        self.fields().iter().copied().find(|f| f.name == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an envelope could not be built or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// Over the size limit.
    #[error("the envelope is larger than {} KiB", MAX_BYTES / 1024)]
    TooLarge,
    /// Too large to seal into a drop.
    #[error("the secret and its fields are too large: sealed envelopes are limited to {} KiB so they fit a drop", MAX_SEALED_BYTES / 1024)]
    TooLargeToSeal,
    /// Not JSON, or not the shape of an envelope.
    #[error("the decrypted content is not a sealpass envelope: {0}")]
    Malformed(String),
    /// A newer format.
    #[error("envelope version {0} is not supported by this sealpass (it reads version 1); upgrade sealpass")]
    Version(u64),
    /// A kind this build does not know.
    #[error("unknown credential kind '{0}'; known kinds: {1}")]
    UnknownKind(String, String),
    /// No secret inside.
    #[error("the envelope has no secret")]
    MissingSecret,
    /// A field is missing, unknown or malformed.
    #[error("{0}")]
    Field(String),
}

/// A credential with its context: the plaintext sealed inside age.
#[derive(Clone)]
pub struct Envelope {
    /// What kind of credential.
    pub kind: Kind,
    /// The credential itself.
    pub secret: SecretString,
    /// Context: username, URLs, IDs.
    pub fields: BTreeMap<String, SecretString>,
    /// The policy the sender checked against (a preset name, or `custom` with `rules`).
    pub policy: Option<String>,
    /// The custom `passwordrules` text when `policy` is `custom`.
    pub rules: Option<String>,
    /// A note from the sender.
    pub note: Option<String>,
    /// The request this answers, if any.
    pub request: Option<String>,
    /// When it was sealed (RFC 3339, UTC).
    pub created_at: String,
    /// An unauthenticated contact for the sender.
    pub sender: Option<String>,
    /// The sender sealed it despite a policy failure (`--allow-weak`).
    pub allow_weak: bool,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.fields.keys().map(String::as_str).collect();
        f.debug_struct("Envelope")
            .field("kind", &self.kind)
            .field("secret", &"[REDACTED]")
            .field("fields", &fields)
            .field("policy", &self.policy)
            .field("request", &self.request)
            .field("created_at", &self.created_at)
            .field("allow_weak", &self.allow_weak)
            .finish_non_exhaustive()
    }
}

/// The wire form. Field values are secrets too (a security token is one), so everything goes
/// through `SecretString` on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "v")]
    _v: u64,
    #[serde(rename = "kind")]
    _kind: String,
    secret: Option<SecretString>,
    #[serde(default)]
    fields: BTreeMap<String, SecretString>,
    policy: Option<String>,
    rules: Option<String>,
    note: Option<String>,
    request: Option<String>,
    created_at: String,
    sender: Option<String>,
    #[serde(default)]
    allow_weak: bool,
}

#[derive(Serialize)]
struct WireOut<'a> {
    v: u64,
    kind: Kind,
    secret: &'a str,
    fields: BTreeMap<&'a str, &'a str>,
    policy: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: &'a Option<String>,
    request: &'a Option<String>,
    created_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender: &'a Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_weak: bool,
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Check one field value against the kind's spec.
pub fn validate_field(kind: Kind, name: &str, value: &str) -> Result<(), EnvelopeError> {
    let err = |m: String| Err(EnvelopeError::Field(m));
    if value.chars().any(char::is_control) {
        return err(format!("field {name} contains control characters"));
    }
    if kind == Kind::Generic {
        if value.trim().is_empty() {
            return err(format!("field {name} is empty"));
        }
        let key_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !key_ok {
            return err(format!("field name '{name}' must be 1–64 characters of a–z, 0–9, _ . -"));
        }
        return Ok(());
    }
    let Some(spec) = kind.field(name) else {
        let known: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
        return err(format!("kind {kind} has no field '{name}'; its fields are: {}", known.join(", ")));
    };
    if value.trim().is_empty() {
        return err(format!("field {name} is empty"));
    }
    match spec.ty {
        FieldType::Guid if !is_guid(value.trim()) => {
            err(format!("field {name} must be a GUID like 00000000-0000-0000-0000-000000000000"))
        }
        FieldType::Url if !value.trim().starts_with("https://") => err(format!("field {name} must be an https:// URL")),
        _ => Ok(()),
    }
}

impl Envelope {
    /// Check that the envelope's fields fit its kind: all required present, none unknown.
    pub fn validate_fields(&self) -> Result<(), EnvelopeError> {
        for (name, value) in &self.fields {
            validate_field(self.kind, name, value.expose_secret())?;
        }
        let missing: Vec<&str> = self
            .kind
            .fields()
            .iter()
            .filter(|f| f.required && !self.fields.contains_key(f.name))
            .map(|f| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(EnvelopeError::Field(format!("kind {} needs field(s): {}", self.kind, missing.join(", "))));
        }
        Ok(())
    }

    /// Serialise and pad with spaces to a multiple of 512 bytes, at least 1024.
    pub fn to_padded_bytes(&self) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        self.validate_fields()?;
        let wire = WireOut {
            v: VERSION,
            kind: self.kind,
            secret: self.secret.expose_secret(),
            fields: self.fields.iter().map(|(k, v)| (k.as_str(), v.expose_secret())).collect(),
            policy: &self.policy,
            rules: &self.rules,
            note: &self.note,
            request: &self.request,
            created_at: &self.created_at,
            sender: &self.sender,
            allow_weak: self.allow_weak,
        };
        // Room for the largest envelope: a growing Vec would leave unwiped copies behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_BYTES + PAD_BLOCK));
        serde_json::to_writer(&mut *bytes, &wire).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        let padded = bytes.len().div_ceil(PAD_BLOCK).max(PAD_MIN / PAD_BLOCK) * PAD_BLOCK;
        if padded > MAX_SEALED_BYTES {
            return Err(EnvelopeError::TooLargeToSeal);
        }
        let mut out = Zeroizing::new(Vec::with_capacity(padded));
        out.extend_from_slice(&bytes);
        out.resize(padded, b' ');
        Ok(out)
    }

    /// Read an envelope strictly: size, version, kind, secret, text and fields are all checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        if bytes.len() > MAX_BYTES {
            return Err(EnvelopeError::TooLarge);
        }
        // First the few keys that decide what to say: version, kind, secret. A newer envelope
        // gets "upgrade", an unknown kind the list of known ones, before any shape error.
        #[derive(Deserialize)]
        struct Probe {
            v: Option<u64>,
            kind: Option<String>,
            secret: Option<serde::de::IgnoredAny>,
        }
        let probe: Probe = serde_json::from_slice(bytes).map_err(json_error)?;
        match probe.v {
            Some(VERSION) => {}
            Some(other) => return Err(EnvelopeError::Version(other)),
            None => return Err(EnvelopeError::Malformed("no version field \"v\"".into())),
        }
        let kind_name = probe.kind.ok_or_else(|| EnvelopeError::Malformed("no \"kind\"".into()))?;
        let kind = Kind::from_name(&kind_name).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            EnvelopeError::UnknownKind(printable(&kind_name), known.join(", "))
        })?;
        if probe.secret.is_none() {
            return Err(EnvelopeError::MissingSecret);
        }
        let wire: Wire = serde_json::from_slice(bytes).map_err(json_error)?;
        let secret = wire.secret.ok_or(EnvelopeError::MissingSecret)?;
        if secret.expose_secret().is_empty() {
            return Err(EnvelopeError::MissingSecret);
        }
        // Everything here is shown to the receiver and comes from an unauthenticated sender:
        // no control characters (terminal escapes could redraw the report), a real timestamp.
        for (name, value) in [
            ("note", wire.note.as_deref()),
            ("sender", wire.sender.as_deref()),
            ("request", wire.request.as_deref()),
            ("policy", wire.policy.as_deref()),
            ("rules", wire.rules.as_deref()),
            ("created_at", Some(wire.created_at.as_str())),
        ] {
            if value.is_some_and(|v| v.chars().any(char::is_control)) {
                return Err(EnvelopeError::Malformed(format!("\"{name}\" contains control characters")));
            }
        }
        time::OffsetDateTime::parse(&wire.created_at, &time::format_description::well_known::Rfc3339)
            .map_err(|_| EnvelopeError::Malformed("\"created_at\" is not an RFC 3339 time".into()))?;
        let envelope = Envelope {
            kind,
            secret,
            fields: wire.fields,
            policy: wire.policy,
            rules: wire.rules,
            note: wire.note,
            request: wire.request,
            created_at: wire.created_at,
            sender: wire.sender,
            allow_weak: wire.allow_weak,
        };
        envelope.validate_fields()?;
        Ok(envelope)
    }
}

/// A JSON error without the text it choked on, which may be part of a secret.
fn json_error(e: serde_json::Error) -> EnvelopeError {
    let message = e.to_string();
    let what = if message.starts_with("missing field `") {
        // Names one of our own keys.
        message.split(" at line").next().unwrap_or_default().to_owned()
    } else {
        match e.classify() {
            serde_json::error::Category::Syntax => "not valid JSON".to_owned(),
            serde_json::error::Category::Eof => "truncated JSON".to_owned(),
            serde_json::error::Category::Data => "an unexpected key or value type".to_owned(),
            serde_json::error::Category::Io => "unreadable".to_owned(),
        }
    };
    EnvelopeError::Malformed(format!("{what} (line {}, column {})", e.line(), e.column()))
}

/// Text from the envelope made safe to show: control characters replaced.
fn printable(s: &str) -> String {
    s.chars().take(64).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

#[cfg(test)]
mod tests;
