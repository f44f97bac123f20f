//! Staff signed in with the company's identity provider (SPEC §12): an access token (a JWT)
//! checked against the issuer's discovery document and keys — signature with the key its `kid`
//! names and that key's own algorithm (never `none`, never a shared secret), `iss`, `aud`,
//! `exp`/`nbf` with a small leeway — and the person it names, with the roles their groups map to.
//! The checks are `jsonwebtoken`'s; this module fetches keys and maps claims.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sealpass_core::access::Roles;
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::config::OidcSettings;

/// Largest discovery document or key set read.
const MAX_DOCUMENT: usize = 256 * 1024;
/// The keys are fetched again for an unknown `kid` at most this often (a stream of made-up
/// `kid`s cannot make the server hammer the issuer).
const REFETCH_AFTER: Duration = Duration::from_secs(2);

/// A person the identity provider vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// What they are called here (`claimed_by`, `created_by`): the configured name claim.
    pub name: String,
    /// The issuer.
    pub issuer: String,
    /// Their subject there.
    pub subject: String,
    /// The roles their groups map to.
    pub roles: Roles,
}

/// Why a token was refused, in words that help the person fix it and reveal nothing else.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a JWT this server can read.
    #[error("the token is not a signed JWT ({0})")]
    Malformed(&'static str),
    /// Its `kid` is not among the issuer's keys, even after fetching them again.
    #[error("the token is signed with a key the identity provider does not publish")]
    UnknownKey,
    /// Its `alg` is not its key's.
    #[error("the token's algorithm is not its key's")]
    WrongAlgorithm,
    /// The signature, issuer, audience or times are wrong.
    #[error("the token was refused: {0}")]
    Invalid(&'static str),
    /// The identity provider could not be asked for its keys.
    #[error("the identity provider could not be reached for its keys: {0}")]
    Unreachable(String),
}

struct Keys {
    set: JwkSet,
    fetched: Option<Instant>,
}

/// Checks access tokens from one issuer.
pub struct Verifier {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Keys>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Verifier {
    /// A verifier for `settings`, fetching with `http` (keys are fetched on first use).
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> Verifier {
        Verifier { settings, http, keys: RwLock::new(Keys { set: JwkSet { keys: Vec::new() }, fetched: None }) }
    }

    /// The settings it checks against.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Whether `token` has the shape of a JWT (three base64url parts), as opposed to a service
    /// or sender token.
    pub fn looks_like_jwt(token: &str) -> bool {
        let mut parts = token.split('.');
        let shaped =
            |p: Option<&str>| p.is_some_and(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        token.starts_with("eyJ")
            && shaped(parts.next())
            && shaped(parts.next())
            && shaped(parts.next())
            && parts.next().is_none()
    }

    /// The person `token` names, if it is a valid access token of this issuer for this server.
    pub async fn verify(&self, token: &str) -> Result<Person, Refused> {
        // The header's own words are never echoed: it names no algorithm this server takes
        // (`none`, say), or is not a JWT's.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Refused::Malformed("its header is unreadable or its alg unknown"))?;
        let kid = header.kid.ok_or(Refused::Malformed("it names no key (kid)"))?;
        let jwk = match self.key(&kid).await? {
            Some(jwk) => jwk,
            None => return Err(Refused::UnknownKey),
        };
        let algorithm = algorithm_of(&jwk).ok_or(Refused::WrongAlgorithm)?;
        if header.alg != algorithm {
            return Err(Refused::WrongAlgorithm);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| Refused::UnknownKey)?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.leeway = self.settings.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|e| Refused::Invalid(reason(e.kind())))?;
        Ok(self.person(&data.claims))
    }

    /// The person the claims describe.
    fn person(&self, claims: &serde_json::Map<String, serde_json::Value>) -> Person {
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let subject = text("sub").unwrap_or_default();
        let name = [self.settings.name_claim.as_str(), "preferred_username", "email"]
            .iter()
            .find_map(|claim| text(claim).filter(|n| !n.is_empty() && !n.chars().any(char::is_control)))
            .unwrap_or_else(|| subject.clone());
        let groups: Vec<String> = match claims.get(&self.settings.groups_claim) {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            Some(serde_json::Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let roles =
            groups.iter().filter_map(|g| self.settings.roles.get(g)).fold(Roles::NONE, |all, roles| all.with(*roles));
        Person { name: name.chars().take(200).collect(), issuer: self.settings.issuer.clone(), subject, roles }
    }

    /// The issuer's key `kid`, fetching the keys again when it is unknown (at most every few
    /// seconds): how a rotation at the identity provider is picked up.
    async fn key(&self, kid: &str) -> Result<Option<Jwk>, Refused> {
        {
            let keys = self.keys.read().await;
            if let Some(jwk) = keys.set.find(kid) {
                return Ok(Some(jwk.clone()));
            }
            if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
                return Ok(None);
            }
        }
        let mut keys = self.keys.write().await;
        // Another request may have fetched them meanwhile.
        if let Some(jwk) = keys.set.find(kid) {
            return Ok(Some(jwk.clone()));
        }
        if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return Ok(None);
        }
        keys.fetched = Some(Instant::now());
        let set = self.fetch_keys().await?;
        keys.set = set;
        Ok(keys.set.find(kid).cloned())
    }

    /// The key set the discovery document names.
    async fn fetch_keys(&self) -> Result<JwkSet, Refused> {
        let issuer = self.settings.issuer.trim_end_matches('/');
        let discovery: Discovery = self.get_json(&format!("{issuer}/.well-known/openid-configuration")).await?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(Refused::Unreachable("its discovery document names another issuer".into()));
        }
        let uri = reqwest::Url::parse(&discovery.jwks_uri)
            .map_err(|_| Refused::Unreachable("its jwks_uri is not a URL".into()))?;
        if uri.scheme() != "https" && !(uri.scheme() == "http" && crate::config::loopback(&uri)) {
            return Err(Refused::Unreachable("its jwks_uri is not https".into()));
        }
        let set: JwkSet = self.get_json(uri.as_str()).await?;
        tracing::info!(issuer = %issuer, keys = set.keys.len(), "fetched the identity provider's keys");
        Ok(set)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, Refused> {
        let response = self.http.get(url).timeout(Duration::from_secs(5)).send().await.map_err(|e| {
            Refused::Unreachable(if e.is_timeout() { "timed out".into() } else { "connection failed".into() })
        })?;
        if !response.status().is_success() {
            return Err(Refused::Unreachable(format!("HTTP {}", response.status().as_u16())));
        }
        let bytes = response.bytes().await.map_err(|_| Refused::Unreachable("the answer broke off".into()))?;
        if bytes.len() > MAX_DOCUMENT {
            return Err(Refused::Unreachable("the answer is too large".into()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|_| Refused::Unreachable("the answer is not what OpenID Connect says".into()))
    }
}

/// The algorithm a key is for: the one it states, else the one its type and curve allow. Never a
/// shared-secret (HMAC) algorithm: such a key would let anyone who has it make tokens.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let stated = jwk.common.key_algorithm.and_then(|a| Algorithm::try_from(a).ok());
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        _ => return None,
    };
    let algorithm = stated.unwrap_or(by_type);
    let asymmetric = !matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
    asymmetric.then_some(algorithm)
}

fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidSignature => "its signature does not verify",
        ErrorKind::ExpiredSignature => "it expired; sign in again (sealpass login)",
        ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "it was issued by another identity provider",
        ErrorKind::InvalidAudience => "it is meant for another service (aud)",
        ErrorKind::MissingRequiredClaim(_) => "it lacks a required claim (exp, iss, aud, sub)",
        ErrorKind::InvalidAlgorithm => "its algorithm is not its key's",
        _ => "it is malformed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jwt_shaped_tokens_are_taken_for_jwts() {
        assert!(Verifier::looks_like_jwt("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!Verifier::looks_like_jwt("sps_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"));
        assert!(!Verifier::looks_like_jwt("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0"));
        assert!(!Verifier::looks_like_jwt("eyJ.a.b.c"));
        assert!(!Verifier::looks_like_jwt("eyJ.a b.c"));
    }
}
