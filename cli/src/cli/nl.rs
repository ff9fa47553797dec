//! The council report's words, in Dutch, in one place: another language is
//! another file of this shape. Enum values read as a council would say
//! them, never as their wire names.

use spil_client::pb;

pub fn place_type(value: i32) -> &'static str {
    match pb::PlaceType::try_from(value).unwrap_or_default() {
        pb::PlaceType::Unspecified => "alle soorten",
        pb::PlaceType::CrisisBed => "crisisbed",
        pb::PlaceType::ResidentialGroup => "residentiële groep",
        pb::PlaceType::FamilyHome => "gezinshuis",
        pb::PlaceType::FosterCare => "pleegzorg",
        pb::PlaceType::SmallScaleHousing => "kleinschalig wonen",
        pb::PlaceType::SecureResidential => "JeugdzorgPlus (gesloten)",
        pb::PlaceType::ClinicalMentalHealth => "klinische jeugd-GGZ",
        pb::PlaceType::ShelteredIndependentLiving => "begeleid zelfstandig wonen",
    }
}

pub fn care_profile(value: i32) -> &'static str {
    match pb::CareProfile::try_from(value).unwrap_or_default() {
        pb::CareProfile::Unspecified => "alle profielen",
        pb::CareProfile::YouthAndParenting => "jeugd- en opvoedhulp",
        pb::CareProfile::YouthMentalHealth => "jeugd-GGZ",
        pb::CareProfile::MildIntellectualDisability => "licht verstandelijke beperking",
        pb::CareProfile::Forensic => "forensisch",
        pb::CareProfile::EatingDisorders => "eetstoornissen",
    }
}

pub fn urgency(value: i32) -> &'static str {
    match pb::Urgency::try_from(value).unwrap_or_default() {
        pb::Urgency::Unspecified => "onbekend",
        pb::Urgency::Routine => "regulier",
        pb::Urgency::Urgent => "spoed",
        pb::Urgency::Crisis => "crisis",
    }
}

pub fn refusal_reason(value: i32) -> &'static str {
    match pb::PlacementRefusalReason::try_from(value).unwrap_or_default() {
        pb::PlacementRefusalReason::Unspecified => "onbekend",
        pb::PlacementRefusalReason::NoPlace => "toch geen plek",
        pb::PlacementRefusalReason::OutsideCareProfile => "buiten het zorgprofiel",
        pb::PlacementRefusalReason::OutsideAgeBand => "buiten de leeftijdsgrens",
        pb::PlacementRefusalReason::GroupSafety => "veiligheid van de groep",
        pb::PlacementRefusalReason::NoStaff => "geen personeel",
        pb::PlacementRefusalReason::MedicalCare => "medische zorg die de groep niet kan bieden",
        pb::PlacementRefusalReason::Other => "andere reden",
    }
}
