//! How wire values read in tables, charts and the report: dates, place
//! types and care profiles in lowercase without their enum prefix.

use chrono::DateTime;
use spil_client::pb;

pub fn time_text(ts: Option<prost_types::Timestamp>) -> String {
    ts.and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .map_or_else(String::new, |t| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
}

pub fn name(full: &str, prefix: &str) -> String {
    full.trim_start_matches(prefix).to_lowercase()
}

pub fn place_type(value: i32) -> String {
    name(
        pb::PlaceType::try_from(value)
            .unwrap_or_default()
            .as_str_name(),
        "PLACE_TYPE_",
    )
}

pub fn care_profile(value: i32) -> String {
    match pb::CareProfile::try_from(value).unwrap_or_default() {
        pb::CareProfile::Unspecified => String::new(),
        profile => name(profile.as_str_name(), "CARE_PROFILE_"),
    }
}

/// A place type, or "any" for a search that asked for any or several.
pub fn place_type_or_any(value: i32) -> String {
    match value {
        0 => "any".into(),
        t => place_type(t),
    }
}
