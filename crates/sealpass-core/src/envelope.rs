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
pub const MAX_BYTES: usize = 88 * 1024;
/// Largest envelope sealpass seals: room for a 48 KiB key file in base64; armored, its
/// ciphertext (about 112 KiB) stays within a drop server's default 128 KiB limit.
pub const MAX_SEALED_BYTES: usize = 80 * 1024;
/// Largest key file sealed as a `key-file` secret.
pub const MAX_KEY_FILE_BYTES: usize = 48 * 1024;

/// What kind of credential an envelope carries (SPEC §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// No secret: the customer registered the vendor's certificate in a Salesforce app (JWT
    /// bearer flow) and sends the app's identifiers.
    SalesforceJwt,
    /// No secret: the customer registered the vendor's certificate on an Entra ID app
    /// registration and sends its identifiers.
    EntraCertificate,
    /// A key file (PEM, PKCS #12/PFX, JSON key), base64 in the envelope.
    KeyFile,
}

/// The one line a legacy kind shows: what replaces it, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Successor {
    /// The kinds to use instead.
    pub kinds: &'static str,
    /// The retirement facts, in one line (docs/policies.md cites them).
    pub why: &'static str,
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
    /// A Salesforce consumer key (an app's client id).
    ConsumerKey,
    /// A Salesforce My Domain URL.
    MyDomainUrl,
    /// A Dataverse environment URL.
    DataverseUrl,
    /// An email-shaped username (Salesforce usernames are).
    Email,
    /// A certificate thumbprint: SHA-1 (as Entra shows it) or SHA-256, hex.
    Thumbprint,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A file's name, without directories.
    FileName,
    /// A key file's format: `pem`, `pkcs12` or `json`.
    KeyFormat,
}

impl FieldType {
    /// The shape a value must have, as a regular expression that means the same in Rust's
    /// `regex` and in JavaScript (the web page runs it too), and what it is, for people.
    pub fn shape(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            FieldType::Text | FieldType::Secret => return None,
            FieldType::Guid => (
                "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
                "a GUID like 00000000-0000-0000-0000-000000000000",
            ),
            FieldType::Url => ("^https://[^\\s]+$", "an https:// URL"),
            FieldType::ConsumerKey => (
                "^3MVG[0-9A-Za-z._]{20,252}$",
                "a consumer key as Salesforce shows it (starts with 3MVG, letters, digits, . and _; not the \
                 consumer secret)",
            ),
            FieldType::MyDomainUrl => (
                "^https://[0-9A-Za-z](?:[0-9A-Za-z-]*[0-9A-Za-z])?(?:--[0-9A-Za-z]+)?\
                 (?:\\.(?:sandbox|develop|scratch|patch|demo|trailblaze|free))?\\.my\\.salesforce\\.com/?$",
                "the org's My Domain URL, https://NAME.my.salesforce.com (a sandbox: \
                 https://NAME--SANDBOX.sandbox.my.salesforce.com)",
            ),
            FieldType::DataverseUrl => (
                "^https://[0-9A-Za-z](?:[0-9A-Za-z-]*[0-9A-Za-z])?\\.(?:crm[0-9]{0,2}\\.dynamics\\.com|\
                 crm\\.microsoftdynamics\\.us|crm\\.appsplatform\\.us|crm\\.dynamics\\.cn)/?$",
                "the Dataverse environment URL, https://ORG.crm.dynamics.com (crm2, crm4, … in other regions)",
            ),
            FieldType::Email => {
                ("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", "a username in the form of an email address, e.g. kore@acme.example")
            }
            FieldType::Thumbprint => (
                "^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$",
                "the certificate's thumbprint as Entra ID shows it: 40 hexadecimal digits (SHA-1), or 64 (SHA-256)",
            ),
            FieldType::Date => ("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "a date, YYYY-MM-DD"),
            FieldType::FileName => ("^[^/\\\\]{1,255}$", "a file name without directories"),
            FieldType::KeyFormat => ("^(?:pem|pkcs12|json)$", "pem, pkcs12 or json"),
        })
    }

    /// A value as people paste it, in the form the envelope keeps: trimmed, and a thumbprint as
    /// certificate viewers show it (`3a:f1 …`, lower case, with spaces, colons or the invisible
    /// marks Windows copies with it) as plain upper-case hex.
    pub fn normalise(self, value: &str) -> String {
        match self {
            FieldType::Thumbprint => value
                .chars()
                .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '\u{200e}' | '\u{200f}' | '\u{feff}'))
                .map(|c| c.to_ascii_uppercase())
                .collect(),
            _ => value.trim().to_owned(),
        }
    }

    /// Its name in the catalog (`GET /v1/policies`), which the web page reads.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Guid => "guid",
            FieldType::Url => "url",
            FieldType::Secret => "secret",
            FieldType::ConsumerKey => "consumer-key",
            FieldType::MyDomainUrl => "my-domain-url",
            FieldType::DataverseUrl => "dataverse-url",
            FieldType::Email => "email",
            FieldType::Thumbprint => "thumbprint",
            FieldType::Date => "date",
            FieldType::FileName => "file-name",
            FieldType::KeyFormat => "key-format",
        }
    }
}

/// Who issues a kind's secret, and where to copy it from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issuer {
    /// The CRM or identity provider.
    pub who: &'static str,
    /// Where in it the secret is made and copied from, for people.
    pub copy_from: &'static str,
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
    pub const ALL: [Kind; 9] = [
        Kind::SalesforcePassword,
        Kind::SalesforceClientCredentials,
        Kind::DynamicsAppPassword,
        Kind::DynamicsPassword,
        Kind::EntraClientSecret,
        Kind::Generic,
        Kind::SalesforceJwt,
        Kind::EntraCertificate,
        Kind::KeyFile,
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
            Kind::SalesforceJwt => "salesforce-jwt",
            Kind::EntraCertificate => "entra-certificate",
            Kind::KeyFile => "key-file",
        }
    }

    /// Whether an envelope of this kind carries a secret at all (SPEC §9: two do not).
    pub fn has_secret(self) -> bool {
        !matches!(self, Kind::SalesforceJwt | Kind::EntraCertificate)
    }

    /// Whether the customer registers the vendor's certificate for this kind.
    pub fn registers_certificate(self) -> bool {
        !self.has_secret()
    }

    /// How the customer registers the vendor's certificate, step by step, for the kinds that
    /// do; `{file}` and `{thumbprint}` stand for the certificate's file and SHA-1 thumbprint.
    pub fn registration_steps(self) -> &'static [&'static str] {
        match self {
            Kind::SalesforceJwt => &[
                "In Salesforce Setup, open External Client App Manager and create an external client app for the \
                 vendor (or edit the connected app you made for it); enable OAuth, give any callback URL (for \
                 example https://localhost), and select the scopes \"Manage user data via APIs (api)\" and \
                 \"Perform requests at any time (refresh_token, offline_access)\".",
                "Enable the JWT bearer flow and upload the vendor's certificate, {file}.",
                "In the app's policies, set Permitted Users to \"Admin approved users are pre-authorized\" and add \
                 the integration user's profile or permission set.",
                "Give below the app's Consumer Key (under its OAuth settings, \"Consumer Key and Secret\"; the key, \
                 not the secret), the integration user's username and your My Domain URL (Setup > My Domain).",
            ],
            Kind::EntraCertificate => &[
                "In the Microsoft Entra admin center, open App registrations and register an application for the \
                 vendor (single tenant), or open the one you made for it.",
                "Under Certificates & secrets > Certificates, upload the vendor's certificate, {file}; the \
                 thumbprint Entra shows must be {thumbprint}.",
                "In the Power Platform admin center, open the environment > Settings > Users + permissions > \
                 Application users, add the app as a new app user and give it the security role the vendor needs.",
                "Give below the Directory (tenant) ID and Application (client) ID from the app's Overview, the \
                 environment URL, and the thumbprint Entra shows.",
            ],
            _ => &[],
        }
    }

    /// What replaces a legacy kind, and why.
    pub fn successor(self) -> Option<Successor> {
        match self {
            Kind::SalesforcePassword => Some(Successor {
                kinds: "salesforce-jwt (no secret at all) or salesforce-client-credentials",
                why: "Salesforce is retiring password logins for integrations: SOAP login() is unavailable from API \
                      v65.0, off by default in orgs created from Winter '26 and removed in Summer '27, and the OAuth \
                      username-password flow is blocked by default in orgs created since Summer '23",
            }),
            Kind::DynamicsAppPassword => Some(Successor {
                kinds: "entra-certificate (no secret at all) or entra-client-secret",
                why: "Microsoft app passwords are legacy: they work only with per-user MFA, not with Conditional \
                      Access or security defaults; Dataverse server-to-server access uses an Entra app registration",
            }),
            _ => None,
        }
    }

    /// For the kinds whose secret the CRM issues (sealpass never generates one): who issues it,
    /// and where in the CRM to copy it from.
    pub fn issued_by(self) -> Option<Issuer> {
        match self {
            Kind::SalesforceClientCredentials => Some(Issuer {
                who: "Salesforce",
                copy_from: "in Setup, open External Client App Manager (or App Manager for a connected app), open \
                            the vendor's app, then its OAuth settings and \"Consumer Key and Secret\" (Salesforce \
                            asks you to verify your identity); copy the Consumer Secret",
            }),
            Kind::DynamicsAppPassword => Some(Issuer {
                who: "Microsoft",
                copy_from: "the account's owner creates it under My Sign-Ins > Security info > Add sign-in method > \
                            App password, and copies it when it is shown",
            }),
            Kind::EntraClientSecret => Some(Issuer {
                who: "Microsoft Entra ID",
                copy_from: "in the Entra admin center, App registrations > the vendor's app > Certificates & \
                            secrets > New client secret; copy the Value column (shown once), not the Secret ID",
            }),
            _ => None,
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The policy a secret of this kind is checked against unless told otherwise; `None` for
    /// the kinds whose content is checked otherwise (no secret; a key file's structure).
    pub fn default_policy(self) -> Option<&'static str> {
        match self {
            Kind::SalesforcePassword => Some("salesforce"),
            Kind::SalesforceClientCredentials | Kind::Generic => Some("strong"),
            Kind::DynamicsAppPassword => Some("microsoft-app-password"),
            Kind::DynamicsPassword => Some("entra-password"),
            Kind::EntraClientSecret => Some("entra-client-secret"),
            Kind::SalesforceJwt | Kind::EntraCertificate | Kind::KeyFile => None,
        }
    }

    /// The fields this kind knows; `generic` takes any.
    pub fn fields(self) -> &'static [FieldSpec] {
        use FieldType::*;
        const SALESFORCE: &[FieldSpec] =
            &[field("username", true, Text), field("security_token", false, Secret), field("instance_url", false, Url)];
        const CLIENT_CREDENTIALS: &[FieldSpec] =
            &[field("consumer_key", true, ConsumerKey), field("instance_url", true, MyDomainUrl)];
        const DYNAMICS: &[FieldSpec] = &[field("username", true, Text), field("environment_url", false, DataverseUrl)];
        const ENTRA_APP: &[FieldSpec] = &[
            field("tenant_id", true, Guid),
            field("client_id", true, Guid),
            field("environment_url", false, DataverseUrl),
            field("expires_on", false, Date),
        ];
        const JWT: &[FieldSpec] = &[
            field("consumer_key", true, ConsumerKey),
            field("username", true, Email),
            field("instance_url", true, MyDomainUrl),
        ];
        const ENTRA_CERTIFICATE: &[FieldSpec] = &[
            field("tenant_id", true, Guid),
            field("client_id", true, Guid),
            field("environment_url", true, DataverseUrl),
            field("thumbprint", true, Thumbprint),
        ];
        const KEY_FILE: &[FieldSpec] = &[field("filename", true, FileName), field("format", true, KeyFormat)];
        match self {
            Kind::SalesforcePassword => SALESFORCE,
            Kind::SalesforceClientCredentials => CLIENT_CREDENTIALS,
            Kind::DynamicsAppPassword | Kind::DynamicsPassword => DYNAMICS,
            Kind::EntraClientSecret => ENTRA_APP,
            Kind::Generic => &[],
            Kind::SalesforceJwt => JWT,
            Kind::EntraCertificate => ENTRA_CERTIFICATE,
            Kind::KeyFile => KEY_FILE,
        }
    }

    /// The required fields `fields` lacks, in the kind's order.
    pub fn missing_fields<V>(self, fields: &BTreeMap<String, V>) -> Vec<&'static str> {
        self.fields().iter().filter(|f| f.required && !fields.contains_key(f.name)).map(|f| f.name).collect()
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
    /// Fields the kind requires are missing.
    #[error("kind {kind} needs field(s): {}", names.join(", "))]
    MissingFields {
        /// The kind.
        kind: Kind,
        /// The fields it lacks.
        names: Vec<String>,
    },
    /// A field is unknown or malformed.
    #[error("{0}")]
    Field(String),
    /// A field's value has not the shape its CRM gives it (a policy violation, exit 3).
    #[error("{0}")]
    Shape(String),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
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

/// Whether `value` has the shape `ty` asks for (and, for a date, is one).
fn has_shape(ty: FieldType, value: &str) -> bool {
    let Some((pattern, _)) = ty.shape() else { return true };
    let shaped = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(value));
    shaped && (ty != FieldType::Date || is_date(value))
}

/// `YYYY-MM-DD` that names a real day.
fn is_date(value: &str) -> bool {
    parse_date(value).is_some()
}

/// The day `YYYY-MM-DD` names, if it is one.
pub fn parse_date(value: &str) -> Option<time::Date> {
    let mut parts = value.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
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
    match spec.ty.shape() {
        Some((_, expected)) if !has_shape(spec.ty, value.trim()) => {
            Err(EnvelopeError::Shape(format!("field {name} must be {expected}")))
        }
        _ => Ok(()),
    }
}

impl Envelope {
    /// Check that the envelope's fields fit its kind: all required present, none unknown, each
    /// of its shape.
    pub fn validate_fields(&self) -> Result<(), EnvelopeError> {
        self.check_fields(true)
    }

    /// Like [`Envelope::validate_fields`]; `shapes: false` lets values of the wrong shape through
    /// (a reader reports them as a failed rule instead of refusing the envelope: one sealed by an
    /// older sealpass, before a shape was checked, still opens).
    fn check_fields(&self, shapes: bool) -> Result<(), EnvelopeError> {
        if !self.kind.has_secret() && !self.secret.expose_secret().is_empty() {
            return Err(EnvelopeError::Field(format!("kind {} carries no secret", self.kind)));
        }
        if self.kind == Kind::KeyFile {
            key_file_bytes(&self.secret)?;
        }
        for (name, value) in &self.fields {
            match validate_field(self.kind, name, value.expose_secret()) {
                Err(EnvelopeError::Shape(_)) if !shapes => {}
                other => other?,
            }
        }
        let missing = self.kind.missing_fields(&self.fields);
        if !missing.is_empty() {
            let names = missing.iter().map(|name| (*name).to_owned()).collect();
            return Err(EnvelopeError::MissingFields { kind: self.kind, names });
        }
        Ok(())
    }

    /// Serialise and pad with spaces to a multiple of 512 bytes, at least 1024.
    pub fn to_padded_bytes(&self) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        self.validate_fields()?;
        let wire = WireOut {
            v: VERSION,
            kind: self.kind,
            secret: self.kind.has_secret().then(|| self.secret.expose_secret()),
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
        match (kind.has_secret(), probe.secret.is_some()) {
            (true, false) => return Err(EnvelopeError::MissingSecret),
            (false, true) => {
                return Err(EnvelopeError::Malformed(format!("kind {kind} carries no secret, and this one has one")));
            }
            _ => {}
        }
        let wire: Wire = serde_json::from_slice(bytes).map_err(json_error)?;
        let secret = wire.secret.unwrap_or_else(|| SecretString::from(""));
        if kind.has_secret() && secret.expose_secret().is_empty() {
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
            // Checked and handed on as the CLI and the page seal them: trimmed.
            fields: wire.fields.into_iter().map(|(k, v)| (k, SecretString::from(v.expose_secret().trim()))).collect(),
            policy: wire.policy,
            rules: wire.rules,
            note: wire.note,
            request: wire.request,
            created_at: wire.created_at,
            sender: wire.sender,
            allow_weak: wire.allow_weak,
        };
        envelope.check_fields(false)?;
        Ok(envelope)
    }
}

/// A key file's bytes, from a `key-file` envelope's secret (standard base64).
pub fn key_file_bytes(secret: &SecretString) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let text = secret.expose_secret().as_bytes();
    let mut bytes = Zeroizing::new(vec![0; data_encoding::BASE64.decode_len(text.len()).unwrap_or(0)]);
    let n = data_encoding::BASE64
        .decode_mut(text, &mut bytes)
        .map_err(|_| EnvelopeError::Field("a key-file secret must be the file in base64".into()))?;
    bytes.truncate(n);
    if bytes.is_empty() || bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(EnvelopeError::Field(format!("a key file must hold 1 byte to {} KiB", MAX_KEY_FILE_BYTES / 1024)));
    }
    Ok(bytes)
}

/// A key file as a `key-file` envelope's secret.
pub fn key_file_secret(bytes: &[u8]) -> SecretString {
    SecretString::from(data_encoding::BASE64.encode(bytes))
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
