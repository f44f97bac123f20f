//! `[oidc]`: the identity provider staff sign in with (SPEC §12), checked once at load.

use std::collections::BTreeMap;

use sealpass_core::access::{Role, Roles};
use serde::Deserialize;

/// The identity provider staff sign in with, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer, exactly as its tokens' `iss` says it (https; http only on loopback).
    pub issuer: String,
    /// What access tokens for this server carry as `aud`.
    pub audience: String,
    /// The public client the CLI and the console sign in with.
    pub client_id: String,
    /// The claim that lists a person's groups.
    pub groups_claim: String,
    /// The claim that names a person (`claimed_by`); `preferred_username`, then `email`, then
    /// `sub` when it is absent.
    pub name_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// By group: the roles its members hold.
    pub roles: BTreeMap<String, Roles>,
    /// The scopes `sealpass login` asks for (space-separated).
    pub scope: String,
    /// The resource indicator (RFC 8707) `sealpass login` names, for providers that choose a
    /// token's audience by it.
    pub resource: Option<String>,
}

/// `[oidc]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileOidc {
    issuer: String,
    audience: String,
    client_id: String,
    groups_claim: Option<String>,
    name_claim: Option<String>,
    leeway_seconds: Option<u64>,
    scope: Option<String>,
    resource: Option<String>,
    #[serde(default)]
    roles: BTreeMap<String, Vec<String>>,
}

/// What `sealpass login` asks for when `scope` is not set: who the person is, and a refresh
/// token so that they sign in once a day rather than once an hour.
const DEFAULT_SCOPE: &str = "openid offline_access";

/// Most clock skew allowed: more would keep expired tokens alive.
const MAX_LEEWAY: u64 = 300;

impl FileOidc {
    pub(super) fn settings(&self) -> Result<OidcSettings, String> {
        let issuer = reqwest::Url::parse(&self.issuer).map_err(|_| "[oidc] issuer must be a URL".to_owned())?;
        match issuer.scheme() {
            "https" => {}
            "http" if super::loopback(&issuer) => {}
            _ => {
                return Err(
                    "[oidc] issuer must be https (http only on this machine, for tests): tokens and keys come from it"
                        .into(),
                );
            }
        }
        if self.audience.trim().is_empty() || self.client_id.trim().is_empty() {
            return Err("[oidc] audience and client_id must not be empty".into());
        }
        let leeway_seconds = self.leeway_seconds.unwrap_or(30);
        if leeway_seconds > MAX_LEEWAY {
            return Err(format!("[oidc] leeway_seconds may be at most {MAX_LEEWAY}"));
        }
        let scope = self.scope.clone().unwrap_or_else(|| DEFAULT_SCOPE.into());
        if scope.split(' ').any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'))
        {
            return Err("[oidc] scope is scopes separated by single spaces (e.g. \"openid offline_access\")".into());
        }
        if let Some(resource) = &self.resource {
            let url =
                reqwest::Url::parse(resource).map_err(|_| "[oidc] resource must be an absolute URL".to_owned())?;
            if url.fragment().is_some() {
                return Err("[oidc] resource must not have a #fragment (RFC 8707)".into());
            }
        }
        let mut roles = BTreeMap::new();
        for (group, names) in &self.roles {
            let mut held = Roles::NONE;
            for name in names {
                let role = Role::from_name(name).ok_or_else(|| {
                    format!(
                        "[oidc.roles] {group:?}: unknown role {:?}; roles are {}",
                        name.chars().take(32).collect::<String>(),
                        Roles::ALL.describe()
                    )
                })?;
                held = held.with(Roles::of([role]));
            }
            roles.insert(group.clone(), held);
        }
        Ok(OidcSettings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            client_id: self.client_id.clone(),
            groups_claim: self.groups_claim.clone().unwrap_or_else(|| "groups".into()),
            name_claim: self.name_claim.clone().unwrap_or_else(|| "preferred_username".into()),
            leeway_seconds,
            roles,
            scope,
            resource: self.resource.clone(),
        })
    }
}
