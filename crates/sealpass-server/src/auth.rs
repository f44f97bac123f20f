//! Who is asking: staff bearer tokens (compared in constant time against SHA-256 hashes from the
//! config), sender tokens (manage, upload) likewise stored only as hashes; and the fresh ids and
//! tokens the server hands out.

use axum::http::{HeaderMap, header};
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{ServerSettings, StaffMember};
use crate::oidc::{Person, Refused, Verifier};
use crate::{Live, Shared};

use sealpass_core::access::{Credential, Role, Roles};
use sealpass_core::events::OPEN_CLAIMER;

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// SHA-256 of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether open claims (no staff configured) are allowed: only when the operator passed
/// `--insecure-open-claims`, whatever the request's headers say (a plain `proxy_pass` adds none,
/// so headers cannot tell a proxied call from a local one).
fn open_allowed(settings: &ServerSettings) -> Result<(), ApiError> {
    if settings.insecure_open_claims {
        return Ok(());
    }
    Err(ApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        "open_claims_refused",
        "this server has no staff configured, so it serves no staff calls; the operator must configure [[staff]] \
         (sealpass staff-token NAME), or run it with --insecure-open-claims for a test on loopback",
    ))
}

/// Who is calling, as far as its bearer token says: the token's SHA-256, worked out once a
/// request, against which every stored hash (staff, a drop's manage token, a request's upload
/// token, the metrics token) is compared in constant time. Never the token itself.
#[derive(Clone)]
pub struct Caller {
    token: Option<[u8; 32]>,
    /// When it presented an access token of the configured identity provider: the person it
    /// names, or why it was refused.
    person: Option<Result<Person, Refused>>,
}

impl Caller {
    /// The caller a request's headers describe, as far as its token's hash says (no identity
    /// provider consulted).
    pub fn of(headers: &HeaderMap) -> Caller {
        Caller { token: bearer(headers).map(hash), person: None }
    }

    /// The caller, its access token checked when it presents one and an identity provider is
    /// configured (only a JWT-shaped bearer is: service, manage and upload tokens never are).
    pub async fn resolve(headers: &HeaderMap, state: &Shared) -> Caller {
        let mut caller = Caller::of(headers);
        if let (Some(token), Some(verifier)) = (bearer(headers), state.live().oidc.clone()) {
            if Verifier::looks_like_jwt(token) {
                caller.person = Some(verifier.verify(token).await);
            }
        }
        caller
    }

    /// Whether it presented a bearer token at all.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether its token hashes to `expected`, in constant time.
    pub fn holds(&self, expected: &[u8; 32]) -> bool {
        self.token.is_some_and(|t| bool::from(t.ct_eq(expected)))
    }

    /// The service token it presented, if any. Every configured hash is compared, so timing
    /// does not reveal which one matched.
    fn service_token<'a>(&self, staff: &'a [StaffMember]) -> Option<&'a StaffMember> {
        let presented = self.token?;
        let mut found = None;
        for member in staff {
            if bool::from(presented.ct_eq(&member.token_sha256)) {
                found = Some(member);
            }
        }
        found
    }

    /// The staff member it is, if it is one: a service token's holder, or anyone on a server
    /// without staff run with `--insecure-open-claims`.
    pub fn staff(&self, state: &Shared) -> Option<Staff> {
        self.staff_in(&state.live(), &state.settings)
    }

    /// [`Caller::staff`], against the config snapshot `live`.
    fn staff_in(&self, live: &Live, settings: &ServerSettings) -> Option<Staff> {
        if let Some(Ok(person)) = &self.person {
            return Some(Staff {
                name: person.name.clone(),
                roles: person.roles,
                via: Via::Person { issuer: person.issuer.clone(), subject: person.subject.clone() },
            });
        }
        if live.staff.is_empty() && live.oidc.is_none() {
            return open_allowed(settings).is_ok().then(Staff::open);
        }
        self.service_token(&live.staff).map(|member| Staff {
            name: member.name.clone(),
            roles: member.roles,
            via: Via::Token(member.name.clone()),
        })
    }

    /// The staff member it is, or 401. With no staff configured, everyone is staff when the
    /// server runs with `--insecure-open-claims`, and nobody otherwise (403).
    pub fn require_staff(&self, state: &Shared) -> Result<Staff, ApiError> {
        let live = state.live();
        if live.staff.is_empty() && live.oidc.is_none() {
            open_allowed(&state.settings)?;
            return Ok(Staff::open());
        }
        match (self.has_token(), self.staff_in(&live, &state.settings), &self.person) {
            (_, Some(staff), _) => Ok(staff),
            (_, None, Some(Err(Refused::Unreachable(why)))) => Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
                format!("the identity provider could not be reached for its keys ({why}); retry in a moment"),
            )),
            (_, None, Some(Err(refused))) => Err(ApiError::unauthorized(refused.to_string())),
            (false, None, _) => Err(ApiError::unauthorized(
                "staff only: sign in (sealpass login) or send Authorization: Bearer <staff token>",
            )),
            (true, None, _) => Err(ApiError::unauthorized("that is not a staff token of this server")),
        }
    }
}

impl axum::extract::FromRequestParts<super::AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Caller::resolve(&parts.headers, state).await)
    }
}

/// How a staff member proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Via {
    /// A service token, by its name in the config.
    Token(String),
    /// Nothing: a server without staff run with `--insecure-open-claims`.
    Open,
    /// An access token of the identity provider: who issued it, and whom it names.
    Person {
        /// The issuer.
        issuer: String,
        /// The subject.
        subject: String,
    },
}

/// The staff member a call is from, checked once by the extractor (`require_staff`'s 401/403
/// otherwise): who (`name`, shown as `claimed_by` and `created_by`), what they may do, and how
/// they proved it. Handlers that are staff-only take it as an argument and ask it for the role
/// they need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staff {
    /// Their name.
    pub name: String,
    /// Their roles.
    pub roles: Roles,
    via: Via,
}

impl Staff {
    /// Anyone, on a server without staff run with `--insecure-open-claims`: every role.
    fn open() -> Staff {
        Staff { name: OPEN_CLAIMER.to_owned(), roles: Roles::ALL, via: Via::Open }
    }

    /// Whether they are anyone on a server without staff (`--insecure-open-claims`).
    pub fn is_open(&self) -> bool {
        self.via == Via::Open
    }

    /// What the audit log records of them for a change allowed under `role`.
    pub fn credential(&self, role: Role) -> Credential {
        let none = Credential { role, token: None, issuer: None, subject: None };
        match &self.via {
            Via::Token(name) => Credential { token: Some(name.clone()), ..none },
            Via::Open => none,
            Via::Person { issuer, subject } => {
                Credential { issuer: Some(issuer.clone()), subject: Some(subject.clone()), ..none }
            }
        }
    }

    /// Whether they may do what needs `role` (holding it, or admin): the credential to record.
    pub fn may(&self, role: Role) -> Option<Credential> {
        self.roles.grants(role).map(|granted| self.credential(granted))
    }

    /// The same, or 403 `forbidden` naming the role.
    pub fn need(&self, role: Role) -> Result<Credential, ApiError> {
        self.may(role).ok_or_else(|| self.forbidden(&[role]))
    }

    /// Who they are, as `GET /v1/whoami` answers.
    pub fn whoami(&self) -> sealpass_core::api::Whoami {
        let (via, issuer, subject) = match &self.via {
            Via::Token(_) => ("service_token", None, None),
            Via::Open => ("open", None, None),
            Via::Person { issuer, subject } => ("identity_provider", Some(issuer.clone()), Some(subject.clone())),
        };
        sealpass_core::api::Whoami {
            name: self.name.clone(),
            roles: self.roles.iter().map(|r| r.name().to_owned()).collect(),
            via: via.to_owned(),
            issuer,
            subject,
        }
    }

    /// 403 `forbidden`: this needs one of `roles`, which they do not hold.
    pub fn forbidden(&self, roles: &[Role]) -> ApiError {
        let needed: Vec<&str> = roles.iter().map(|r| r.name()).collect();
        ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the {} role{}; {} has {}",
                needed.join(" or "),
                if roles.contains(&Role::Admin) { "" } else { " (or admin)" },
                sealpass_core::text::shown(&self.name),
                self.roles.describe()
            ),
        )
    }
}

impl axum::extract::FromRequestParts<super::AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        Caller::resolve(&parts.headers, state).await.require_staff(state)
    }
}

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut bytes = [0u8; N]; // callers that keep secrets wipe their encodings
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| ApiError::internal(format!("OS RNG failed: {e}")))?;
    Ok(bytes)
}

/// A fresh id: 128 random bits, lowercase base32 (26 characters).
pub fn new_id() -> Result<String, ApiError> {
    Ok(BASE32_NOPAD.encode(&random::<16>()?).to_lowercase())
}

/// A fresh token: 256 random bits, base64url (43 characters, never a `.`).
pub fn new_token() -> Result<String, ApiError> {
    Ok(BASE64URL_NOPAD.encode(&random::<32>()?))
}

/// A fresh staff token (`sps_` and 256 random bits) and the hex SHA-256 the config holds for it.
pub fn new_staff_token() -> Result<(zeroize::Zeroizing<String>, String), ApiError> {
    let token = zeroize::Zeroizing::new(format!("sps_{}", BASE64URL_NOPAD.encode(&random::<32>()?)));
    let hash = data_encoding::HEXLOWER.encode(&hash(&token));
    Ok((token, hash))
}

/// Whether `id` has the shape of our ids, so malformed ones get a clear 400.
pub fn valid_id(id: &str) -> bool {
    id.len() == 26 && id.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_have_their_shapes() {
        let id = new_id().unwrap();
        assert!(valid_id(&id), "{id}");
        assert!(!valid_id("../../etc/passwd") && !valid_id(&id.to_uppercase()));
        let token = new_token().unwrap();
        assert_eq!(token.len(), 43);
        assert!(!token.contains('.'));
        assert_ne!(new_token().unwrap(), token);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            Caller::of(&headers)
        };
        assert!(with(&format!("Bearer {token}")).holds(&hash(&token)));
        assert!(!with("Bearer x").holds(&hash(&token)));
        // Not a bearer token, or none at all: holds nothing, and says it has no token.
        assert!(!with(&format!("Basic {token}")).has_token() && !with(&format!("Basic {token}")).holds(&hash(&token)));
        assert!(!Caller::of(&HeaderMap::new()).has_token());
    }
}
