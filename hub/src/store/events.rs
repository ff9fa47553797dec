//! The stored form of the capacity change log: a versioned record with
//! fields of its own, so that a change to the `offerings` table never makes
//! older entries unreadable (a rolling upgrade reads what the previous
//! release wrote). Nothing here may change shape; a new shape is a new
//! version beside it.

use super::StoreError;
use super::entities::offering;
use serde::{Deserialize, Serialize};

/// The version this release writes.
const CURRENT: u32 = 1;

fn version_one() -> u32 {
    1
}

/// One change-log entry: an offering's state after the change, and when the
/// holds active at that revision run out. Version 1 is the shape the log has
/// had from the start (entries written before the version field existed
/// read as version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityEvent {
    #[serde(default = "version_one")]
    pub version: u32,
    pub offering: OfferingState,
    #[serde(default)]
    pub holds_until_ms: Vec<i64>,
}

/// An offering's state as the change log keeps it. Added fields must carry
/// `#[serde(default)]`; unknown fields (from a newer release) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferingState {
    pub id: String,
    pub location_id: String,
    pub provider_id: String,
    pub region_id: String,
    pub place_type: i32,
    pub care_profiles: i32,
    pub age_min: i32,
    pub age_max: i32,
    pub gender_policy: i32,
    pub security_level: i32,
    pub intake: i32,
    pub lead_time_days: i32,
    pub total_places: i32,
    pub free_places: i32,
    pub waiting_days: i32,
    pub observed_at_ms: i64,
    pub published_at_ms: i64,
    pub published_revision: i64,
    pub revision: i64,
    pub placed_since_publication: i32,
}

impl CapacityEvent {
    pub fn new(row: &offering::Model, holds_until_ms: &[i64]) -> Self {
        let offering::Model {
            id,
            location_id,
            provider_id,
            region_id,
            place_type,
            care_profiles,
            age_min,
            age_max,
            gender_policy,
            security_level,
            intake,
            lead_time_days,
            total_places,
            free_places,
            waiting_days,
            observed_at_ms,
            published_at_ms,
            published_revision,
            revision,
            placed_since_publication,
        } = row.clone();
        Self {
            version: CURRENT,
            offering: OfferingState {
                id,
                location_id,
                provider_id,
                region_id,
                place_type,
                care_profiles,
                age_min,
                age_max,
                gender_policy,
                security_level,
                intake,
                lead_time_days,
                total_places,
                free_places,
                waiting_days,
                observed_at_ms,
                published_at_ms,
                published_revision,
                revision,
                placed_since_publication,
            },
            holds_until_ms: holds_until_ms.to_vec(),
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("plain fields serialize")
    }

    pub fn decode(payload: &str) -> Result<Self, StoreError> {
        let event: Self = serde_json::from_str(payload)
            .map_err(|e| StoreError::Corrupt(format!("change-log entry: {e}")))?;
        if event.version > CURRENT {
            return Err(StoreError::Corrupt(format!(
                "change-log entry of version {} is newer than this release reads ({CURRENT})",
                event.version
            )));
        }
        Ok(event)
    }

    /// The offering as a row, for the conversions rows already have.
    pub fn row(&self) -> offering::Model {
        let s = self.offering.clone();
        offering::Model {
            id: s.id,
            location_id: s.location_id,
            provider_id: s.provider_id,
            region_id: s.region_id,
            place_type: s.place_type,
            care_profiles: s.care_profiles,
            age_min: s.age_min,
            age_max: s.age_max,
            gender_policy: s.gender_policy,
            security_level: s.security_level,
            intake: s.intake,
            lead_time_days: s.lead_time_days,
            total_places: s.total_places,
            free_places: s.free_places,
            waiting_days: s.waiting_days,
            observed_at_ms: s.observed_at_ms,
            published_at_ms: s.published_at_ms,
            published_revision: s.published_revision,
            revision: s.revision,
            placed_since_publication: s.placed_since_publication,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry exactly as releases before the versioned log wrote it (the
    /// serialised `offerings` row), frozen here: it must stay readable.
    const WRITTEN_BEFORE_VERSIONS: &str = r#"{"offering":{"id":"0193a1b2-0000-7000-8000-000000000001","location_id":"kenter-crisis-haarlem","provider_id":"kenter","region_id":"zuid-kennemerland","place_type":1,"care_profiles":3,"age_min":12,"age_max":17,"gender_policy":1,"security_level":1,"intake":1,"lead_time_days":0,"total_places":4,"free_places":3,"waiting_days":2,"observed_at_ms":1764500000000,"published_at_ms":1764500001000,"published_revision":41,"revision":42,"placed_since_publication":1},"holds_until_ms":[1764501800000]}"#;

    /// Version 1 with a field a later release might add: ignored, not fatal.
    const WITH_A_FUTURE_FIELD: &str = r#"{"version":1,"offering":{"id":"o","location_id":"l","provider_id":"p","region_id":"r","place_type":1,"care_profiles":1,"age_min":0,"age_max":17,"gender_policy":1,"security_level":1,"intake":1,"lead_time_days":0,"total_places":1,"free_places":1,"waiting_days":0,"observed_at_ms":0,"published_at_ms":0,"published_revision":1,"revision":1,"placed_since_publication":0,"accessible":true},"holds_until_ms":[]}"#;

    #[test]
    fn entries_written_before_versions_still_decode() {
        let event = CapacityEvent::decode(WRITTEN_BEFORE_VERSIONS).unwrap();
        assert_eq!(event.version, 1);
        assert_eq!(event.offering.location_id, "kenter-crisis-haarlem");
        assert_eq!(event.offering.free_places, 3);
        assert_eq!(event.offering.revision, 42);
        assert_eq!(event.offering.placed_since_publication, 1);
        assert_eq!(event.holds_until_ms, [1_764_501_800_000]);
        let row = event.row();
        assert!(row.key().is_ok());
    }

    #[test]
    fn an_added_field_does_not_break_older_readers() {
        let event = CapacityEvent::decode(WITH_A_FUTURE_FIELD).unwrap();
        assert_eq!(event.offering.id, "o");
    }

    #[test]
    fn an_entry_survives_the_round_trip() {
        let event = CapacityEvent::decode(WRITTEN_BEFORE_VERSIONS).unwrap();
        let again = CapacityEvent::new(&event.row(), &event.holds_until_ms);
        assert_eq!(CapacityEvent::decode(&again.encode()).unwrap(), again);
        assert!(again.encode().starts_with(r#"{"version":1,"#));
    }

    #[test]
    fn a_newer_version_is_refused_not_misread() {
        let newer = WITH_A_FUTURE_FIELD.replace(r#""version":1"#, r#""version":2"#);
        assert!(CapacityEvent::decode(&newer).is_err());
    }
}
