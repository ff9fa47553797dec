//! Which role may do what: one pure table, tested row by row.
//!
//! Ownership checks (a provider's own locations, a crisis service's own
//! holds) depend on stored data and live in `app`; this table only answers
//! whether any of the caller's roles admits the action at all.

use super::identity::Role;

/// Every action the hub authorises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadDirectory,
    UpsertLocation,
    ListLocations,
    PublishCapacity,
    SearchPlaces,
    WatchCapacity,
    HoldPlace,
    ConfirmHold,
    ReleaseHold,
    ListHolds,
    FileConsultation,
    /// Read, answer or follow consultations; being a party decides which.
    TakePartInConsultations,
    EscalateConsultation,
    ReadAuditTrail,
    /// Aggregated figures of a region; which regions is decided in `app`.
    ReadInsights,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::ReadDirectory,
        Action::UpsertLocation,
        Action::ListLocations,
        Action::PublishCapacity,
        Action::SearchPlaces,
        Action::WatchCapacity,
        Action::HoldPlace,
        Action::ConfirmHold,
        Action::ReleaseHold,
        Action::ListHolds,
        Action::FileConsultation,
        Action::TakePartInConsultations,
        Action::EscalateConsultation,
        Action::ReadAuditTrail,
        Action::ReadInsights,
    ];
}

/// Whether `role` admits `action`.
pub fn role_permits(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    const SEARCHERS: [Role; 5] = [
        CrisisService,
        ExpertiseTeam,
        SupraRegionalNetwork,
        Referrer,
        Provider,
    ];
    match action {
        ReadDirectory => true,
        UpsertLocation | PublishCapacity => role == Provider,
        ListLocations => SEARCHERS.contains(&role) || matches!(role, Region | Admin),
        SearchPlaces | WatchCapacity => SEARCHERS.contains(&role),
        HoldPlace | ConfirmHold | ReleaseHold => role == CrisisService,
        ListHolds => matches!(role, CrisisService | Provider),
        FileConsultation => matches!(role, ExpertiseTeam | Referrer | CrisisService),
        // Regions, the operator and the auditor never see consultation content.
        TakePartInConsultations => SEARCHERS.contains(&role),
        EscalateConsultation => role == ExpertiseTeam,
        ReadAuditTrail => role == Auditor,
        ReadInsights => matches!(role, Region | SupraRegionalNetwork | Admin),
    }
}

/// Whether any of `roles` admits `action`.
pub fn permits<'a>(roles: impl IntoIterator<Item = &'a Role>, action: Action) -> bool {
    roles.into_iter().any(|role| role_permits(*role, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full table, written out so that a change to it is a visible diff.
    const ALLOWED: &[(Action, &[Role])] = &[
        (Action::ReadDirectory, &Role::ALL),
        (Action::UpsertLocation, &[Role::Provider]),
        (
            Action::ListLocations,
            &[
                Role::Region,
                Role::ExpertiseTeam,
                Role::SupraRegionalNetwork,
                Role::Provider,
                Role::CrisisService,
                Role::Referrer,
                Role::Admin,
            ],
        ),
        (Action::PublishCapacity, &[Role::Provider]),
        (
            Action::SearchPlaces,
            &[
                Role::ExpertiseTeam,
                Role::SupraRegionalNetwork,
                Role::Provider,
                Role::CrisisService,
                Role::Referrer,
            ],
        ),
        (
            Action::WatchCapacity,
            &[
                Role::ExpertiseTeam,
                Role::SupraRegionalNetwork,
                Role::Provider,
                Role::CrisisService,
                Role::Referrer,
            ],
        ),
        (Action::HoldPlace, &[Role::CrisisService]),
        (Action::ConfirmHold, &[Role::CrisisService]),
        (Action::ReleaseHold, &[Role::CrisisService]),
        (Action::ListHolds, &[Role::Provider, Role::CrisisService]),
        (
            Action::FileConsultation,
            &[Role::ExpertiseTeam, Role::CrisisService, Role::Referrer],
        ),
        (
            Action::TakePartInConsultations,
            &[
                Role::ExpertiseTeam,
                Role::SupraRegionalNetwork,
                Role::Provider,
                Role::CrisisService,
                Role::Referrer,
            ],
        ),
        (Action::EscalateConsultation, &[Role::ExpertiseTeam]),
        (Action::ReadAuditTrail, &[Role::Auditor]),
        (
            Action::ReadInsights,
            &[Role::Region, Role::SupraRegionalNetwork, Role::Admin],
        ),
    ];

    #[test]
    fn every_role_and_action_matches_the_table() {
        for action in Action::ALL {
            let allowed = ALLOWED
                .iter()
                .find(|(a, _)| *a == action)
                .map(|(_, roles)| *roles)
                .unwrap_or_else(|| panic!("{action:?} missing from the table"));
            for role in Role::ALL {
                assert_eq!(
                    role_permits(role, action),
                    allowed.contains(&role),
                    "{role:?} / {action:?}"
                );
            }
        }
    }

    #[test]
    fn a_region_never_holds_a_place() {
        assert!(!permits(&[Role::Region, Role::Auditor], Action::HoldPlace));
    }
}
