//! The hub's own code systems (place types, care profiles, refusal reasons, …) and the codes of its values in them.

use super::*;

/// A code system of the hub's, with its concepts (code, display, definition).
pub struct HubCodeSystem {
    pub id: &'static str,
    pub title: &'static str,
    pub concepts: &'static [(&'static str, &'static str, &'static str)],
}

pub const PLACE_TYPES: HubCodeSystem = HubCodeSystem {
    id: "place-type",
    title: "Spil place types",
    concepts: &[
        (
            "crisis-bed",
            "Crisis bed",
            "Crisisopvang: a bed for a child in crisis, tonight.",
        ),
        (
            "residential-group",
            "Residential group",
            "Residentiële leefgroep.",
        ),
        ("family-home", "Family home", "Gezinshuis."),
        ("foster-care", "Foster care", "Pleegzorg."),
        (
            "small-scale-housing",
            "Small-scale housing",
            "Kleinschalige woonvoorziening.",
        ),
        (
            "secure-residential",
            "Secure residential",
            "JeugdzorgPlus, gesloten: by court order.",
        ),
        (
            "clinical-mental-health",
            "Clinical mental health",
            "Klinisch JGGZ-bed.",
        ),
        (
            "sheltered-independent-living",
            "Sheltered independent living",
            "Begeleid wonen / kamertraining, 18 to 23.",
        ),
    ],
};

pub const CARE_PROFILES: HubCodeSystem = HubCodeSystem {
    id: "care-profile",
    title: "Spil care profiles",
    concepts: &[
        (
            "youth-and-parenting",
            "Youth and parenting",
            "Jeugd- en opvoedhulp (J&O).",
        ),
        (
            "youth-mental-health",
            "Youth mental health",
            "Jeugd-GGZ (JGGZ).",
        ),
        (
            "mild-intellectual-disability",
            "Mild intellectual disability",
            "Licht verstandelijke beperking (LVB).",
        ),
        ("forensic", "Forensic", "Forensic youth care."),
        ("eating-disorders", "Eating disorders", "Eating disorders."),
    ],
};

pub const GENDER_POLICIES: HubCodeSystem = HubCodeSystem {
    id: "gender-policy",
    title: "Spil gender policies",
    concepts: &[
        (
            "any",
            "Any gender",
            "Takes girls, boys and children of another gender.",
        ),
        ("girls", "Girls", "Takes girls only."),
        ("boys", "Boys", "Takes boys only."),
    ],
};

pub const SECURITY_LEVELS: HubCodeSystem = HubCodeSystem {
    id: "security-level",
    title: "Spil security levels",
    concepts: &[
        ("open", "Open", "An open setting."),
        (
            "secure",
            "Secure",
            "A secure setting, for a child placed by court order.",
        ),
    ],
};

pub const FRESHNESS: HubCodeSystem = HubCodeSystem {
    id: "freshness",
    title: "Spil freshness of published capacity",
    concepts: &[
        (
            "fresh",
            "Fresh",
            "Published within its place type's validity: its free places count.",
        ),
        (
            "stale",
            "Stale",
            "Older than its place type's validity: its free places are unknown, never shown as free.",
        ),
    ],
};

pub const CAPACITY_GROUPS: HubCodeSystem = HubCodeSystem {
    id: "capacity-group",
    title: "Spil capacity measure groups",
    concepts: &[
        (
            "total",
            "Total places",
            "All places of the offerings, free or not, as last published.",
        ),
        (
            "occupied",
            "Occupied places",
            "Places of fresh offerings that are not free: taken at the provider, held or placed \
             through the hub. With free, adds up to total less the places of stale offerings.",
        ),
        (
            "free",
            "Free places",
            "Places of fresh offerings free now: the latest published free places less active \
             holds and placements through the hub since, never below zero.",
        ),
        (
            "held",
            "Held places",
            "Places held through the hub right now; part of occupied.",
        ),
        (
            "placed",
            "Placed through the hub",
            "Placements confirmed through the hub since each offering's latest publication; part of occupied.",
        ),
        (
            "stale",
            "Places of stale offerings",
            "Places whose offering was last published longer ago than its validity: how many are free is unknown.",
        ),
    ],
};

/// Why a provider refused a placement request: the closed list of the
/// acceptance duty (acceptatieplicht), a placement Task's statusReason.
pub const PLACEMENT_REFUSAL_REASONS: HubCodeSystem = HubCodeSystem {
    id: "placement-refusal-reason",
    title: "Spil placement refusal reasons",
    concepts: &[
        (
            "no-place",
            "No place after all",
            "Toch geen plek: the place is taken or closed.",
        ),
        (
            "outside-care-profile",
            "Outside the care profile",
            "Buiten het zorgprofiel: the group does not give the care asked for.",
        ),
        (
            "outside-age-band",
            "Outside the age band",
            "Buiten de leeftijdsgrens: the child's age is outside the group's.",
        ),
        (
            "group-safety",
            "Safety of the group",
            "Veiligheid van de groep: taking the child would make the group unsafe.",
        ),
        (
            "no-staff",
            "No staff",
            "Geen personeel: not enough staff tonight.",
        ),
        (
            "medical-care",
            "Medical care needed",
            "Medische zorg die de groep niet kan bieden.",
        ),
        (
            "other",
            "Other",
            "Another reason, stated in the refusal's note.",
        ),
    ],
};

/// Every code system the hub publishes.
pub const CODE_SYSTEMS: [&HubCodeSystem; 7] = [
    &PLACE_TYPES,
    &CARE_PROFILES,
    &GENDER_POLICIES,
    &SECURITY_LEVELS,
    &FRESHNESS,
    &CAPACITY_GROUPS,
    &PLACEMENT_REFUSAL_REASONS,
];

pub fn refusal_reason_code(reason: RefusalReason) -> &'static str {
    match reason {
        RefusalReason::NoPlace => "no-place",
        RefusalReason::OutsideCareProfile => "outside-care-profile",
        RefusalReason::OutsideAgeBand => "outside-age-band",
        RefusalReason::GroupSafety => "group-safety",
        RefusalReason::NoStaff => "no-staff",
        RefusalReason::MedicalCare => "medical-care",
        RefusalReason::Other => "other",
    }
}

pub fn place_type_code(place_type: PlaceType) -> &'static str {
    PLACE_TYPES.concepts[PlaceType::ALL
        .iter()
        .position(|t| *t == place_type)
        .expect("every place type is listed")]
    .0
}

pub fn care_profile_code(profile: CareProfile) -> &'static str {
    CARE_PROFILES.concepts[CareProfile::ALL
        .iter()
        .position(|p| *p == profile)
        .expect("every care profile is listed")]
    .0
}

pub(super) fn gender_policy_code(policy: GenderPolicy) -> &'static str {
    match policy {
        GenderPolicy::Any => "any",
        GenderPolicy::Girls => "girls",
        GenderPolicy::Boys => "boys",
    }
}

pub(super) fn security_level_code(level: SecurityLevel) -> &'static str {
    match level {
        SecurityLevel::Open => "open",
        SecurityLevel::Secure => "secure",
    }
}

/// A place type from its code, as a search names it.
pub fn place_type_of(code: &str) -> Option<PlaceType> {
    PLACE_TYPES
        .concepts
        .iter()
        .position(|(c, _, _)| *c == code)
        .map(|i| PlaceType::ALL[i])
}

/// A care profile from its code, as a search names it.
pub fn care_profile_of(code: &str) -> Option<CareProfile> {
    CARE_PROFILES
        .concepts
        .iter()
        .position(|(c, _, _)| *c == code)
        .map(|i| CareProfile::ALL[i])
}

pub fn code_system(c: &Canonical, system: &HubCodeSystem) -> Result<CodeSystem, BuilderError> {
    let concepts = system
        .concepts
        .iter()
        .map(|(code, display, definition)| {
            CodeSystemConcept::builder()
                .code((*code).to_owned())
                .display((*display).to_owned())
                .definition((*definition).to_owned())
                .build()
                .map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    CodeSystem::builder()
        .id(system.id.to_owned())
        .url(system_url(c, system))
        .name(system.title.replace(' ', ""))
        .title(system.title.to_owned())
        .status(PublicationStatus::Active)
        .case_sensitive(true)
        .content(CodeSystemContentMode::Complete)
        .count(system.concepts.len() as u32)
        .concept(concepts)
        .build()
}
