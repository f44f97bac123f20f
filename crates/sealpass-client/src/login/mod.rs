//! Staff sign in with the identity provider their server trusts (`sealpass login`, SPEC §12):
//! the provider's endpoints from its discovery document, the device authorization grant
//! (RFC 8628) or the authorization code with PKCE (RFC 7636) on a loopback redirect (RFC 8252),
//! refreshing and revoking what it issued. The protocol is the `oauth2` crate's; this module
//! finds the endpoints, holds the provider to https, caps what it reads and keeps tokens secret.

mod loopback;
mod sessions;

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use loopback::Loopback;
pub use sessions::{Session, Sessions};

use crate::exit::{Exit, Exits};
use sealpass_core::api::SignIn;

/// Largest answer read from the identity provider (a discovery document, a token response).
const MAX_ANSWER: usize = 256 * 1024;
/// How long the device flow waits for the person at most, whatever the provider says.
const MAX_DEVICE_WAIT: Duration = Duration::from_secs(15 * 60);
/// The device flow polls at least this far apart (a provider asking for 0 s gets this) …
const MIN_POLL: Duration = Duration::from_secs(1);
/// … and at most this far apart (a provider asking for hours does not stall the wait).
const MAX_POLL: Duration = Duration::from_secs(30);
/// How long an access token is taken to live when the provider does not say.
const ASSUMED_LIFE: u64 = 3600;
/// An access token is refreshed this long before it expires, at most (half its life, if that
/// is shorter): a command (`receive --exec` handing a secret on, say) must not see its token run
/// out between its first call and its last.
pub(crate) const REFRESH_BEFORE: i64 = 300;
/// The longest poll interval a provider may ask for.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Why signing in (or staying signed in) failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The server names no identity provider.
    #[error("{0} does not sign staff in with an identity provider (no [oidc] in its config): use a service token")]
    NoProvider(String),
    /// The provider's discovery document or endpoints are unusable.
    #[error("the identity provider {issuer} cannot be used: {why}")]
    Provider {
        /// The issuer.
        issuer: String,
        /// What is wrong.
        why: String,
    },
    /// The provider could not be reached.
    #[error("cannot reach the identity provider: {0}")]
    Unreachable(String),
    /// The person said no, or the provider refused.
    #[error("the identity provider refused: {0}")]
    Refused(String),
    /// The code or the session ran out.
    #[error("{0}")]
    Expired(String),
    /// The redirect back to this machine failed.
    #[error("the sign-in did not come back to this machine: {0}")]
    Redirect(String),
    /// Nobody finished the sign-in in time.
    #[error("{0}")]
    Timeout(String),
    /// The sessions file.
    #[error(transparent)]
    File(#[from] crate::files::FileError),
    /// Anything else on this machine.
    #[error("{0}")]
    Local(String),
}

impl Exits for LoginError {
    fn exit(&self) -> Exit {
        match self {
            LoginError::Unreachable(_) => Exit::Unreachable,
            LoginError::Refused(_) | LoginError::Expired(_) => Exit::Unauthorized,
            LoginError::NoProvider(_)
            | LoginError::Provider { .. }
            | LoginError::Redirect(_)
            | LoginError::Timeout(_)
            | LoginError::File(_)
            | LoginError::Local(_) => Exit::Error,
        }
    }
}

/// What the identity provider publishes at `/.well-known/openid-configuration` (the fields used).
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    authorization_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

type OAuth = BasicClient<EndpointMaybeSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An identity provider, its endpoints found and checked, and how this server wants tokens asked for.
pub struct Provider {
    sign_in: SignIn,
    token_endpoint: String,
    revocation_endpoint: Option<String>,
    oauth: OAuth,
    http: reqwest::Client,
}

/// A device code waiting for the person to sign in elsewhere.
pub struct DeviceCode {
    details: StandardDeviceAuthorizationResponse,
    /// The code the person types.
    pub user_code: String,
    /// Where they type it.
    pub verification_uri: String,
    /// The same with the code filled in, when the provider offers one (for a QR code).
    pub verification_uri_complete: Option<String>,
    /// How long the code is good for.
    pub expires_in: Duration,
}

/// An authorization code sign-in under way: what the browser opens, and what checks its answer.
pub struct BrowserSignIn {
    /// The address to open in a browser (it names no secret: the PKCE verifier stays here).
    pub url: String,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

/// Tokens the provider issued.
pub struct Tokens {
    /// The access token the server checks.
    pub access_token: SecretString,
    /// The refresh token, when the provider issued one.
    pub refresh_token: Option<SecretString>,
    /// When the access token expires (Unix seconds): as the provider said, or in an hour.
    pub expires_at: Option<i64>,
    /// When to refresh it (Unix seconds): five minutes before it expires, or halfway through a
    /// shorter life (a provider issuing five-minute tokens is not asked at every command).
    pub refresh_at: Option<i64>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// An `https` URL, or an `http` one on loopback (tests): where tokens travel.
fn endpoint(issuer: &str, what: &str, text: &str) -> Result<url::Url, LoginError> {
    let bad = |why: &str| LoginError::Provider {
        issuer: sealpass_core::text::shown(issuer).into_owned(),
        why: format!("its {what} {why}"),
    };
    // The URL parser drops tabs and newlines silently: a text with any is refused, not mended.
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("has spaces or control characters"));
    }
    let url = url::Url::parse(text).map_err(|_| bad("is not a URL"))?;
    if carries_tokens_safely(&url) { Ok(url) } else { Err(bad("must be https")) }
}

/// Whether tokens may travel to `url`: https, or http to this machine (tests).
pub fn carries_tokens_safely(url: &url::Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

/// The `oauth2` client for `client_id` at the token endpoint `token`, its other endpoints not
/// yet known.
fn oauth_client(client_id: &str, token: url::Url) -> OAuth {
    BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_token_uri(TokenUrl::from_url(token))
        .set_auth_uri_option(None)
        .set_device_authorization_url_option(None)
}

/// The HTTP client for the provider: the same rules as the drop server's (no redirects followed).
fn http_client() -> Result<reqwest::Client, LoginError> {
    crate::http::plain_client().map_err(|e| LoginError::Unreachable(e.to_string()))
}

/// Send `request` for `oauth2`, reading at most [`MAX_ANSWER`] bytes of the answer.
async fn capped(http: &reqwest::Client, request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, Transport> {
    let request = reqwest::Request::try_from(request).map_err(|e| Transport(e.to_string()))?;
    let mut response = http.execute(request).await.map_err(|e| Transport(crate::http::explain_transport(&e)))?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| Transport(crate::http::explain_transport(&e)))? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Transport(format!("its answer is larger than {} KiB", MAX_ANSWER / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    builder.body(body).map_err(|e| Transport(e.to_string()))
}

/// A failed exchange with the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transport(String);

/// The provider's own words for a refusal, as plain text of a sane length.
fn refusal<R: oauth2::ErrorResponse + std::fmt::Display + 'static>(
    e: oauth2::RequestTokenError<Transport, R>,
) -> LoginError {
    use oauth2::RequestTokenError as T;
    let said = |text: String| sealpass_core::text::shown(&text.chars().take(300).collect::<String>()).into_owned();
    match e {
        T::ServerResponse(r) => LoginError::Refused(said(r.to_string())),
        T::Request(e) => LoginError::Unreachable(said(e.to_string())),
        T::Parse(e, _) => LoginError::Provider {
            issuer: String::from("the identity provider"),
            why: format!("its answer is not OAuth 2.0 (at {})", said(e.path().to_string())),
        },
        T::Other(e) => LoginError::Refused(said(e)),
    }
}

impl Provider {
    /// Read `sign_in`'s issuer's discovery document and check it: the issuer it names is
    /// exactly the one asked for, and every endpoint is https (http only on loopback).
    pub async fn discover(sign_in: &SignIn) -> Result<Provider, LoginError> {
        let issuer = sign_in.issuer.clone();
        let base = endpoint(&issuer, "issuer", &issuer)?;
        let http = http_client()?;
        let url = format!("{}/.well-known/openid-configuration", base.as_str().trim_end_matches('/'));
        let request =
            oauth2::http::Request::get(&url).body(Vec::new()).map_err(|e| LoginError::Unreachable(e.to_string()))?;
        let answer = capped(&http, request).await.map_err(|e| LoginError::Unreachable(format!("{issuer}: {e}")))?;
        let bad = |why: String| LoginError::Provider { issuer: issuer.clone(), why };
        if !answer.status().is_success() {
            return Err(bad(format!("its discovery document answered HTTP {}", answer.status())));
        }
        let found: Discovery = serde_json::from_slice(answer.body())
            .map_err(|e| bad(format!("its discovery document is unreadable ({e})")))?;
        if found.issuer != issuer {
            return Err(bad(format!(
                "its discovery document names another issuer ({})",
                sealpass_core::text::shown(&found.issuer)
            )));
        }
        let token = endpoint(&issuer, "token endpoint", &found.token_endpoint)?;
        let mut oauth = oauth_client(&sign_in.client_id, token);
        if let Some(auth) = &found.authorization_endpoint {
            oauth =
                oauth.set_auth_uri_option(Some(AuthUrl::from_url(endpoint(&issuer, "authorization endpoint", auth)?)));
        }
        if let Some(device) = &found.device_authorization_endpoint {
            oauth = oauth.set_device_authorization_url_option(Some(DeviceAuthorizationUrl::from_url(endpoint(
                &issuer,
                "device authorization endpoint",
                device,
            )?)));
        }
        if let Some(revoke) = &found.revocation_endpoint {
            endpoint(&issuer, "revocation endpoint", revoke)?;
        }
        Ok(Provider {
            sign_in: sign_in.clone(),
            token_endpoint: found.token_endpoint,
            revocation_endpoint: found.revocation_endpoint,
            oauth,
            http,
        })
    }

    /// A provider for a saved session: its token and revocation endpoints as found at sign-in.
    pub fn for_session(session: &Session) -> Result<Provider, LoginError> {
        let issuer = &session.sign_in.issuer;
        let token = endpoint(issuer, "token endpoint", &session.token_endpoint)?;
        let oauth = oauth_client(&session.sign_in.client_id, token);
        Ok(Provider {
            sign_in: session.sign_in.clone(),
            token_endpoint: session.token_endpoint.clone(),
            revocation_endpoint: session.revocation_endpoint.clone(),
            oauth,
            http: http_client()?,
        })
    }

    fn scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.sign_in.scope.split(' ').filter(|s| !s.is_empty()).map(|s| Scope::new(s.to_owned()))
    }

    fn resource(&self) -> Option<(&'static str, String)> {
        self.sign_in.resource.clone().map(|r| ("resource", r))
    }

    /// Ask for a device code (RFC 8628 §3.1).
    pub async fn device_code(&self) -> Result<DeviceCode, LoginError> {
        let mut request = self
            .oauth
            .exchange_device_code()
            .map_err(|_| self.unsupported("the device authorization grant; sign in with --browser"))?
            .add_scopes(self.scopes());
        if let Some((name, value)) = self.resource() {
            request = request.add_extra_param(name, value);
        }
        let http = |r| capped(&self.http, r);
        let details: StandardDeviceAuthorizationResponse = request.request_async(&http).await.map_err(refusal)?;
        let uri = endpoint(&self.sign_in.issuer, "verification address", details.verification_uri().as_str())?;
        let complete = details
            .verification_uri_complete()
            .and_then(|c| endpoint(&self.sign_in.issuer, "verification address", c.secret()).ok());
        if details.interval() > MAX_INTERVAL {
            return Err(LoginError::Provider {
                issuer: self.sign_in.issuer.clone(),
                why: "it asks to be polled less than once an hour".into(),
            });
        }
        let user_code = details.user_code().secret().clone();
        if user_code.is_empty() || user_code.len() > 64 || !user_code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(LoginError::Provider {
                issuer: self.sign_in.issuer.clone(),
                why: "its user code is not a short code one can type".into(),
            });
        }
        Ok(DeviceCode {
            user_code,
            verification_uri: uri.to_string(),
            verification_uri_complete: complete.map(|u| u.to_string()),
            expires_in: details.expires_in().min(MAX_DEVICE_WAIT),
            details,
        })
    }

    /// Wait for the person to finish signing in with `code` (polling as the provider asks).
    pub async fn device_tokens(&self, code: &DeviceCode) -> Result<Tokens, LoginError> {
        let mut request = self.oauth.exchange_device_access_token(&code.details).set_max_backoff_interval(MAX_POLL);
        if let Some((name, value)) = self.resource() {
            request = request.add_extra_param(name, value);
        }
        let http = |r| capped(&self.http, r);
        let expired =
            || LoginError::Timeout("the code expired before the sign-in was finished: run sealpass login again".into());
        // Polled as the provider asks, within bounds, and never past the code's life whatever
        // the provider or the network does.
        let sleep = |d: Duration| tokio::time::sleep(d.clamp(MIN_POLL, MAX_POLL));
        let polling = request.request_async(&http, sleep, Some(code.expires_in));
        let answer = tokio::time::timeout(code.expires_in + MAX_POLL, polling).await.map_err(|_| expired())?.map_err(
            |e| match e {
                oauth2::RequestTokenError::ServerResponse(r)
                    if *r.error() == oauth2::DeviceCodeErrorResponseType::ExpiredToken =>
                {
                    expired()
                }
                oauth2::RequestTokenError::ServerResponse(r)
                    if *r.error() == oauth2::DeviceCodeErrorResponseType::AccessDenied =>
                {
                    LoginError::Refused("the sign-in was declined".into())
                }
                other => refusal(other),
            },
        )?;
        Ok(tokens(&answer, None))
    }

    /// Start an authorization code sign-in for a browser, coming back to `redirect` (the
    /// loopback address waiting for it), with a fresh PKCE verifier and state.
    pub fn browser(&self, redirect: &str) -> Result<BrowserSignIn, LoginError> {
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|e| LoginError::Redirect(e.to_string()))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let oauth = self.oauth.clone().set_redirect_uri(redirect);
        let mut request = oauth
            .authorize_url(CsrfToken::new_random)
            .map_err(|_| self.unsupported("the authorization code grant; sign in without --browser"))?
            .add_scopes(self.scopes())
            .set_pkce_challenge(challenge);
        if let Some((name, value)) = self.resource() {
            request = request.add_extra_param(name, value);
        }
        let (url, state) = request.url();
        Ok(BrowserSignIn { url: url.to_string(), state, verifier })
    }

    /// Exchange the code the loopback redirect brought (its state already checked) for tokens.
    pub async fn code_tokens(
        &self,
        pending: BrowserSignIn,
        redirect: &str,
        code: SecretString,
    ) -> Result<Tokens, LoginError> {
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|e| LoginError::Redirect(e.to_string()))?;
        let oauth = self.oauth.clone().set_redirect_uri(redirect);
        let mut request = oauth
            .exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()))
            .set_pkce_verifier(pending.verifier);
        if let Some((name, value)) = self.resource() {
            request = request.add_extra_param(name, value);
        }
        let http = |r| capped(&self.http, r);
        let answer = request.request_async(&http).await.map_err(refusal)?;
        Ok(tokens(&answer, None))
    }

    /// New tokens for `refresh` (RFC 6749 §6). A provider that rotates refresh tokens sends a
    /// new one; one that does not keeps the old one valid.
    pub async fn refresh(&self, refresh: &SecretString) -> Result<Tokens, LoginError> {
        let token = RefreshToken::new(refresh.expose_secret().to_owned());
        let mut request = self.oauth.exchange_refresh_token(&token);
        if let Some((name, value)) = self.resource() {
            request = request.add_extra_param(name, value);
        }
        let http = |r| capped(&self.http, r);
        let answer = request.request_async(&http).await.map_err(|e| match e {
            oauth2::RequestTokenError::ServerResponse(r)
                if *r.error() == oauth2::basic::BasicErrorResponseType::InvalidGrant =>
            {
                LoginError::Expired("your sign-in has expired: run sealpass login".into())
            }
            other => refusal(other),
        })?;
        Ok(tokens(&answer, Some(refresh)))
    }

    /// Ask the provider to forget `refresh` (RFC 7009); whether it has a revocation endpoint.
    /// A plain form POST: `oauth2` refuses an `http` endpoint even on loopback, where the
    /// tests' provider lives (the endpoint was held to https-or-loopback at sign-in).
    pub async fn revoke(&self, refresh: &SecretString) -> Result<bool, LoginError> {
        let Some(url) = &self.revocation_endpoint else { return Ok(false) };
        let url = endpoint(&self.sign_in.issuer, "revocation endpoint", url)?;
        let form = [
            ("token", refresh.expose_secret()),
            ("token_type_hint", "refresh_token"),
            ("client_id", self.sign_in.client_id.as_str()),
        ];
        let answer = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| LoginError::Unreachable(crate::http::explain_transport(&e)))?;
        // RFC 7009 §2.2: 200 whether or not the token was valid; anything else is a refusal.
        if answer.status().is_success() {
            Ok(true)
        } else {
            Err(LoginError::Refused(format!("its revocation endpoint answered HTTP {}", answer.status())))
        }
    }

    /// A session for `server` holding `tokens`, to save.
    pub fn session(&self, server: &str, tokens: Tokens, name: String) -> Session {
        Session {
            server: server.trim_end_matches('/').to_owned(),
            sign_in: self.sign_in.clone(),
            token_endpoint: self.token_endpoint.clone(),
            revocation_endpoint: self.revocation_endpoint.clone(),
            name,
            tokens,
        }
    }

    fn unsupported(&self, what: &str) -> LoginError {
        LoginError::Provider { issuer: self.sign_in.issuer.clone(), why: format!("it does not offer {what}") }
    }
}

/// The tokens of a token response; a refresh that brings no new refresh token keeps `kept`.
fn tokens(answer: &BasicTokenResponse, kept: Option<&SecretString>) -> Tokens {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let life = i64::try_from(answer.expires_in().map_or(ASSUMED_LIFE, |d| d.as_secs())).unwrap_or(i64::MAX / 2);
    Tokens {
        access_token: SecretString::from(answer.access_token().secret().as_str()),
        refresh_token: answer
            .refresh_token()
            .map(|r| SecretString::from(r.secret().as_str()))
            .or_else(|| kept.cloned()),
        expires_at: Some(now.saturating_add(life)),
        refresh_at: Some(now.saturating_add(life - (life / 2).min(REFRESH_BEFORE))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_travel_over_https_or_on_loopback_only() {
        for good in
            ["https://login.example.com/t/v2.0", "http://127.0.0.1:9/token", "http://[::1]/x", "http://localhost:8/"]
        {
            assert!(endpoint("i", "token endpoint", good).is_ok(), "{good}");
        }
        for bad in [
            "http://login.example.com/token",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
            "token",
            "http://127.0.0.2.example/",
        ] {
            let e = endpoint("i", "token endpoint", bad).unwrap_err().to_string();
            assert!(e.contains("its token endpoint"), "{bad}: {e}");
        }
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let tokens = Tokens {
            access_token: SecretString::from("eyJ-access"),
            refresh_token: Some(SecretString::from("refresh-secret")),
            expires_at: Some(1),
            refresh_at: Some(1),
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("eyJ-access") && !shown.contains("refresh-secret"), "{shown}");
    }
}
