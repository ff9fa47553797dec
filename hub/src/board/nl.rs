//! Every word the board shows, in Dutch, in one place: another language is
//! another file of this shape.

use crate::domain::capacity::{CareProfile, PlaceType, SecurityLevel};
use crate::domain::hold::HoldState;

/// The board's fixed texts.
pub struct Text {
    pub lang: &'static str,
    pub board: &'static str,
    pub skip_to_content: &'static str,
    pub nav_search: &'static str,
    pub nav_holds: &'static str,
    pub signed_in_as: &'static str,
    pub search_title: &'static str,
    pub search_intro: &'static str,
    pub age: &'static str,
    pub municipality: &'static str,
    pub municipality_hint: &'static str,
    pub place_type: &'static str,
    pub care_profile: &'static str,
    pub security: &'static str,
    pub any: &'static str,
    pub search_button: &'static str,
    pub results: &'static str,
    pub no_results: &'static str,
    pub free_now: &'static str,
    pub stale: &'static str,
    pub stale_explained: &'static str,
    pub confirmed: &'static str,
    pub distance: &'static str,
    pub hold_button: &'static str,
    pub live: &'static str,
    pub live_lost: &'static str,
    pub updated: &'static str,
    pub holds_title: &'static str,
    pub holds_intro: &'static str,
    pub no_holds: &'static str,
    pub time_left: &'static str,
    pub expired: &'static str,
    pub confirm_button: &'static str,
    pub release_button: &'static str,
    pub child_from: &'static str,
    pub held_place: &'static str,
    pub until: &'static str,
    pub error_title: &'static str,
    pub not_allowed_search: &'static str,
    pub not_allowed: &'static str,
    pub forbidden_cross_site: &'static str,
    pub form_expired: &'static str,
    pub no_free_place: &'static str,
    pub offering_stale: &'static str,
    pub hold_ended: &'static str,
    pub unknown_municipality: &'static str,
    pub age_invalid: &'static str,
    pub try_again: &'static str,
    pub minutes_ago: &'static str,
    pub hours_ago: &'static str,
    pub just_now: &'static str,
}

pub const NL: Text = Text {
    lang: "nl",
    board: "Spil-bord",
    skip_to_content: "Naar de inhoud",
    nav_search: "Plek zoeken",
    nav_holds: "Mijn vastgehouden plekken",
    signed_in_as: "Ingelogd met het certificaat van",
    search_title: "Een plek zoeken",
    search_intro: "Verse plekken met een vrije plaats, dichtstbij eerst. De lijst ververst vanzelf.",
    age: "Leeftijd van het kind",
    municipality: "Woongemeente van het kind (CBS-code)",
    municipality_hint: "Bijvoorbeeld GM0392 voor Haarlem",
    place_type: "Soort plek",
    care_profile: "Zorgprofiel",
    security: "Beveiligingsniveau",
    any: "Alle",
    search_button: "Zoeken",
    results: "Resultaten",
    no_results: "Geen verse plek met een vrije plaats gevonden. De zoekvraag is geteld als onvervulde vraag voor de regio.",
    free_now: "vrij nu",
    stale: "VEROUDERD",
    stale_explained: "niet recent bevestigd: bel eerst",
    confirmed: "bevestigd",
    distance: "afstand",
    hold_button: "Plek vasthouden",
    live: "Live",
    live_lost: "Verbinding weg; opnieuw verbinden…",
    updated: "Bijgewerkt om",
    holds_title: "Mijn vastgehouden plekken",
    holds_intro: "Alleen de woongemeente van het kind is doorgegeven. Bevestig de plaatsing of geef de plek vrij.",
    no_holds: "Geen actieve vastgehouden plekken.",
    time_left: "nog",
    expired: "verlopen",
    confirm_button: "Plaatsing bevestigen",
    release_button: "Vrijgeven",
    child_from: "kind uit",
    held_place: "Vastgehouden plek",
    until: "tot",
    error_title: "Dat ging niet",
    not_allowed_search: "Uw organisatie mag geen plekken zoeken: alleen crisisdiensten, expertiseteams, verwijzers en aanbieders.",
    not_allowed: "Uw organisatie mag dit niet doen.",
    forbidden_cross_site: "Geweigerd: dit verzoek kwam niet van het bord zelf.",
    form_expired: "Dit formulier is verlopen; laad de pagina opnieuw en probeer het nog eens.",
    no_free_place: "Deze plek is net bezet. Kies een andere.",
    offering_stale: "Deze plek is niet recent bevestigd en kan niet worden vastgehouden. Bel de aanbieder.",
    hold_ended: "Deze vastgehouden plek is al afgelopen.",
    unknown_municipality: "Onbekende gemeentecode.",
    age_invalid: "Vul een leeftijd tussen 0 en 23 in.",
    try_again: "Probeer het opnieuw.",
    minutes_ago: "min geleden",
    hours_ago: "uur geleden",
    just_now: "zojuist",
};

pub fn place_type(value: PlaceType) -> &'static str {
    match value {
        PlaceType::CrisisBed => "Crisisbed",
        PlaceType::ResidentialGroup => "Residentiële groep",
        PlaceType::FamilyHome => "Gezinshuis",
        PlaceType::FosterCare => "Pleegzorg",
        PlaceType::SmallScaleHousing => "Kleinschalig wonen",
        PlaceType::SecureResidential => "JeugdzorgPlus (gesloten)",
        PlaceType::ClinicalMentalHealth => "Klinische jeugd-GGZ",
        PlaceType::ShelteredIndependentLiving => "Begeleid zelfstandig wonen",
    }
}

pub fn care_profile(value: CareProfile) -> &'static str {
    match value {
        CareProfile::YouthAndParenting => "Jeugd- en opvoedhulp",
        CareProfile::YouthMentalHealth => "Jeugd-GGZ",
        CareProfile::MildIntellectualDisability => "Licht verstandelijke beperking",
        CareProfile::Forensic => "Forensisch",
        CareProfile::EatingDisorders => "Eetstoornissen",
    }
}

pub fn security(value: SecurityLevel) -> &'static str {
    match value {
        SecurityLevel::Open => "Open",
        SecurityLevel::Secure => "Gesloten (JeugdzorgPlus)",
    }
}

pub fn hold_state(value: HoldState) -> &'static str {
    match value {
        HoldState::Active => "vastgehouden",
        HoldState::Confirmed => "geplaatst",
        HoldState::Released => "vrijgegeven",
        HoldState::Expired => "verlopen",
    }
}
