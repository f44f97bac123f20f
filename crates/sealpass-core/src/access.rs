//! Who on the vendor's side may do what (SPEC §12): the four staff roles, a person's set of
//! them, and the credential an action was taken with, as the audit log records it. Pure: the
//! server decides who is calling, this decides what that allows.

use serde::{Deserialize, Serialize};

/// A staff role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Creates requests; sees and cancels their own.
    Requester,
    /// The inbox: claims, acknowledges, releases their own claims.
    Receiver,
    /// Reads the audit log and receipts.
    Auditor,
    /// Everything, including releasing anyone's claim and cancelling anyone's request.
    Admin,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 4] = [Role::Requester, Role::Receiver, Role::Auditor, Role::Admin];

    /// Its name, as in configs, tokens' group mappings and errors.
    pub fn name(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Receiver => "receiver",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// The role with this name.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of roles.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// No role at all.
    pub const NONE: Roles = Roles(0);
    /// Every role.
    pub const ALL: Roles = Roles(0b1111);

    /// The set of these roles.
    pub fn of(roles: impl IntoIterator<Item = Role>) -> Roles {
        Roles(roles.into_iter().fold(0, |set, r| set | r.bit()))
    }

    /// Whether the set holds `role` itself.
    pub fn holds(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The role that allows what needs `role`: that role, or else admin, or none.
    pub fn grants(self, role: Role) -> Option<Role> {
        if self.holds(role) {
            Some(role)
        } else if self.holds(Role::Admin) {
            Some(Role::Admin)
        } else {
            None
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles it holds, least to most.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.holds(*r))
    }

    /// The roles together with another set's.
    pub fn with(self, other: Roles) -> Roles {
        Roles(self.0 | other.0)
    }

    /// Its names, comma-separated ("none" when empty): for people.
    pub fn describe(self) -> String {
        if self.is_empty() {
            return "none".to_owned();
        }
        self.iter().map(Role::name).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Debug for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Roles({})", self.describe())
    }
}

/// How the staff member who acted proved who they are, and under which role it was allowed:
/// what the audit log records beside the name (SPEC §12). Never a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credential {
    /// The role the action needed and the actor held (or admin, which allows everything).
    pub role: Role,
    /// A service token: its name in the server's config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A person signed in with the identity provider: its issuer…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// …and their subject there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_name_and_grant() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
            assert_eq!(serde_json::to_string(&role).unwrap(), format!("\"{role}\""));
        }
        assert_eq!(Role::from_name("Admin"), None);
        let requester = Roles::of([Role::Requester]);
        assert_eq!(requester.grants(Role::Requester), Some(Role::Requester));
        assert_eq!(requester.grants(Role::Receiver), None);
        let admin = Roles::of([Role::Admin]);
        assert_eq!(admin.grants(Role::Auditor), Some(Role::Admin));
        assert_eq!(Roles::of([Role::Auditor, Role::Admin]).grants(Role::Auditor), Some(Role::Auditor));
        assert_eq!(Roles::NONE.grants(Role::Admin), None);
        assert_eq!(Roles::ALL.describe(), "requester, receiver, auditor, admin");
        assert_eq!(Roles::NONE.describe(), "none");
        assert_eq!(requester.with(admin), Roles::of([Role::Admin, Role::Requester]));
    }

    #[test]
    fn a_credential_names_no_more_than_it_has() {
        let token = Credential { role: Role::Receiver, token: Some("ci".into()), issuer: None, subject: None };
        assert_eq!(serde_json::to_string(&token).unwrap(), r#"{"role":"receiver","token":"ci"}"#);
        let person = r#"{"role":"admin","issuer":"https://idp.example","subject":"00u1"}"#;
        let back: Credential = serde_json::from_str(person).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), person);
        assert!(serde_json::from_str::<Credential>(r#"{"role":"root"}"#).is_err());
    }
}
