//! The council report's names for the contract's values: the shared
//! Dutch catalogue (`spil_words::nl`), the same words the board uses.

use spil_client::pb;
use spil_words::nl as words;

/// A value by its variant's name, as the catalogue keys it.
fn variant<E: std::fmt::Debug, R>(value: Result<E, R>) -> String {
    value.map_or_else(|_| String::new(), |v| format!("{v:?}"))
}

pub fn place_type(value: i32) -> &'static str {
    match value {
        0 => words::ANY_PLACE_TYPE,
        _ => words::place_type(&variant(pb::PlaceType::try_from(value))),
    }
}

pub fn care_profile(value: i32) -> &'static str {
    match value {
        0 => words::ANY_CARE_PROFILE,
        _ => words::care_profile(&variant(pb::CareProfile::try_from(value))),
    }
}

pub fn urgency(value: i32) -> &'static str {
    words::urgency(&variant(pb::Urgency::try_from(value)))
}

pub fn refusal_reason(value: i32) -> &'static str {
    words::refusal_reason(&variant(pb::PlacementRefusalReason::try_from(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value added to the contract without its Dutch name would read as
    /// "onbekend" in the report: every one has its own.
    #[test]
    fn every_value_the_report_shows_has_its_dutch_name() {
        let mut names = Vec::new();
        for n in 1..=8 {
            names.push(place_type(n));
        }
        for n in 1..=5 {
            names.push(care_profile(n));
        }
        for n in 1..=3 {
            names.push(urgency(n));
        }
        for n in 1..=7 {
            names.push(refusal_reason(n));
        }
        assert!(!names.contains(&words::UNKNOWN), "{names:?}");
        assert_eq!(place_type(99), words::UNKNOWN);
    }
}
