//! Who is calling: organisations, their roles and the certificate identity
//! that names them.

use super::Invalid;
use std::collections::BTreeSet;
use std::fmt;

/// The trust domain of the SPIFFE-style URI SAN in client certificates.
pub const SPIFFE_TRUST_DOMAIN: &str = "spil.local";

/// A registered organisation's id: lowercase letters, digits and '-', 2 to 63 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if is_slug(raw, 2, 63) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "must be 2 to 63 lowercase letters, digits or '-', not starting or ending with '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URI SAN a client certificate for this organisation carries.
    pub fn spiffe_id(&self) -> String {
        format!("spiffe://{SPIFFE_TRUST_DOMAIN}/org/{}", self.0)
    }

    /// The organisation named by a certificate's URI SAN, if it is one of ours.
    pub fn from_spiffe_id(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("spiffe://")?;
        let rest = rest.strip_prefix(SPIFFE_TRUST_DOMAIN)?;
        let id = rest.strip_prefix("/org/")?;
        Self::parse(id).ok()
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lowercase letters, digits and inner dashes, within a length range.
pub(crate) fn is_slug(raw: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-')
}

/// What an organisation may do (DOMAIN.md's table of roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Region,
    ExpertiseTeam,
    SupraRegionalNetwork,
    Provider,
    CrisisService,
    Referrer,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Region,
        Role::ExpertiseTeam,
        Role::SupraRegionalNetwork,
        Role::Provider,
        Role::CrisisService,
        Role::Referrer,
        Role::Auditor,
        Role::Admin,
    ];

    /// A stable lowercase name, used in configuration and storage.
    pub fn name(self) -> &'static str {
        match self {
            Role::Region => "region",
            Role::ExpertiseTeam => "expertise_team",
            Role::SupraRegionalNetwork => "supra_regional_network",
            Role::Provider => "provider",
            Role::CrisisService => "crisis_service",
            Role::Referrer => "referrer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.name() == name)
    }
}

/// The organisation behind a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrgId,
    pub name: String,
    pub roles: BTreeSet<Role>,
    pub home_region_id: String,
    /// The regions a supra-regional network serves (besides its home).
    pub served_region_ids: BTreeSet<String>,
}

impl Organisation {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The identity a request acts under: set once per request by the
/// authentication layer from the verified client certificate.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: Organisation,
    /// The certificate's SPIFFE id, for audit.
    pub certificate_identity: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spiffe_id_round_trips_to_the_organisation() {
        let id = OrgId::parse("crisisdienst-zkh").unwrap();
        assert_eq!(id.spiffe_id(), "spiffe://spil.local/org/crisisdienst-zkh");
        assert_eq!(OrgId::from_spiffe_id(&id.spiffe_id()), Some(id));
    }

    #[test]
    fn a_foreign_trust_domain_names_no_organisation() {
        assert_eq!(
            OrgId::from_spiffe_id("spiffe://evil.example/org/kenter"),
            None
        );
        assert_eq!(
            OrgId::from_spiffe_id("spiffe://spil.local/org/Kenter"),
            None
        );
        assert_eq!(OrgId::from_spiffe_id("https://spil.local/org/kenter"), None);
    }

    #[test]
    fn every_role_name_parses_back() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
    }
}

/// The person acting for an organisation, as sent in request metadata
/// (`x-spil-person`): a name or staff id, 1 to 100 characters, recorded in
/// the audit trail. Never a BSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person(String);

impl Person {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid::new(
                "the person acting (a name or staff id) is required",
            ));
        }
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "must be at most 100 characters without control characters",
            ));
        }
        if super::privacy::contains_bsn(name) {
            return Err(Invalid::new(
                "must not contain a citizen service number (BSN)",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
