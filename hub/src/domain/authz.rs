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
    /// Ask providers to take a child into a held place.
    RequestPlacement,
    /// Accept or refuse a placement request for one's own place.
    AnswerPlacement,
    /// Read placement requests; being the requester or a provider asked decides which.
    TakePartInPlacements,
}

impl Action {
    pub const ALL: [Action; 18] = [
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
        Action::RequestPlacement,
        Action::AnswerPlacement,
        Action::TakePartInPlacements,
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
        // Only a crisis service holds places, so only it asks for them.
        RequestPlacement => role == CrisisService,
        AnswerPlacement => role == Provider,
        TakePartInPlacements => matches!(role, CrisisService | Provider),
    }
}

/// How far an admitted action reaches. Roles add up: an organisation that
/// is both a provider and a crisis service lists the holds it made and the
/// holds on its own beds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scope {
    /// Every location and offering of the registry.
    pub everything: bool,
    /// The organisation's own locations, their offerings and the holds on them.
    pub own_locations: bool,
    /// The holds the organisation made itself.
    pub holds_made: bool,
}

impl Scope {
    const EVERYTHING: Scope = Scope {
        everything: true,
        own_locations: true,
        holds_made: false,
    };
    const OWN_LOCATIONS: Scope = Scope {
        everything: false,
        own_locations: true,
        holds_made: false,
    };
    const HOLDS_MADE: Scope = Scope {
        everything: false,
        own_locations: false,
        holds_made: true,
    };

    fn union(self, other: Scope) -> Scope {
        Scope {
            everything: self.everything || other.everything,
            own_locations: self.own_locations || other.own_locations,
            holds_made: self.holds_made || other.holds_made,
        }
    }
}

/// What `role` reaches with `action`, if it admits it at all.
fn role_scope(role: Role, action: Action) -> Option<Scope> {
    use Action::*;
    if !role_permits(role, action) {
        return None;
    }
    Some(match (action, role) {
        // A provider follows and lists its own places, and sees the holds on them.
        (ListLocations | WatchCapacity | ListHolds, Role::Provider) => Scope::OWN_LOCATIONS,
        (ListHolds, _) => Scope::HOLDS_MADE,
        _ => Scope::EVERYTHING,
    })
}

/// What an organisation with `roles` reaches with `action`: the union over
/// its roles, or `None` when no role admits the action. Every use-case that
/// narrows what it shows by role asks this, and nothing else.
pub fn scope<'a>(roles: impl IntoIterator<Item = &'a Role>, action: Action) -> Option<Scope> {
    roles
        .into_iter()
        .filter_map(|role| role_scope(*role, action))
        .reduce(Scope::union)
}

/// Whether any of `roles` admits `action`.
pub fn permits<'a>(roles: impl IntoIterator<Item = &'a Role>, action: Action) -> bool {
    roles.into_iter().any(|role| role_permits(*role, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_add_up_over_roles() {
        use Role::*;
        let own = Scope::OWN_LOCATIONS;
        let all = Scope::EVERYTHING;
        let made = Scope::HOLDS_MADE;
        let both_holds = Scope {
            everything: false,
            own_locations: true,
            holds_made: true,
        };
        let table: &[(&[Role], Action, Option<Scope>)] = &[
            (&[Provider], Action::ListLocations, Some(own)),
            (&[Provider], Action::WatchCapacity, Some(own)),
            (&[Provider], Action::ListHolds, Some(own)),
            (&[Provider], Action::SearchPlaces, Some(all)),
            (&[CrisisService], Action::ListLocations, Some(all)),
            (&[CrisisService], Action::WatchCapacity, Some(all)),
            (&[CrisisService], Action::ListHolds, Some(made)),
            (
                &[Provider, CrisisService],
                Action::ListHolds,
                Some(both_holds),
            ),
            (&[Provider, CrisisService], Action::WatchCapacity, Some(all)),
            (&[Provider, CrisisService], Action::ListLocations, Some(all)),
            (&[Provider, ExpertiseTeam], Action::WatchCapacity, Some(all)),
            (&[Provider, Region], Action::ListLocations, Some(all)),
            (&[Region], Action::ListLocations, Some(all)),
            (&[Region], Action::WatchCapacity, None),
            (&[Region], Action::ListHolds, None),
            (&[Auditor, Admin], Action::ListHolds, None),
            (&[], Action::ReadDirectory, None),
        ];
        for (roles, action, expected) in table {
            assert_eq!(scope(*roles, *action), *expected, "{roles:?} {action:?}");
        }
    }

    #[test]
    fn a_scope_exists_exactly_when_the_table_permits() {
        for action in Action::ALL {
            for role in Role::ALL {
                assert_eq!(
                    scope([&role], action).is_some(),
                    role_permits(role, action),
                    "{role:?} {action:?}"
                );
            }
        }
    }

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
        (Action::RequestPlacement, &[Role::CrisisService]),
        (Action::AnswerPlacement, &[Role::Provider]),
        (
            Action::TakePartInPlacements,
            &[Role::Provider, Role::CrisisService],
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
