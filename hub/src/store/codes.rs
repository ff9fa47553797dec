//! Row ↔ domain conversions. Enum codes are positions in the domain's
//! `ALL` arrays plus one (0 stays "unset"): append new variants at the end.

use super::StoreError;
use super::entities::{hold, location, offering};
use crate::domain::capacity::{
    AgeBand, CareProfiles, Coordinates, GenderPolicy, Intake, IntakePhone, Location, LocationId,
    MunicipalityCode, Offering, OfferingKey, PlaceCounts, PlaceType, Revision, SecurityLevel,
};
use crate::domain::hold::{Hold, HoldState};
use crate::domain::identity::{OrgId, Role};
use chrono::{DateTime, Utc};

pub fn code<T: PartialEq + Copy>(all: &[T], value: T) -> i32 {
    all.iter()
        .position(|v| *v == value)
        .map_or(0, |i| i as i32 + 1)
}

pub fn decode<T: Copy>(all: &[T], code: i32, what: &str) -> Result<T, StoreError> {
    usize::try_from(code - 1)
        .ok()
        .and_then(|i| all.get(i).copied())
        .ok_or_else(|| StoreError::Corrupt(format!("unknown {what} code {code}")))
}

pub fn place_type(value: PlaceType) -> i32 {
    code(&PlaceType::ALL, value)
}

pub fn hold_state(value: HoldState) -> i32 {
    code(&HoldState::ALL, value)
}

/// A bit set of place types, for unmet-demand records.
pub fn place_type_bits(types: &[PlaceType]) -> i32 {
    types.iter().fold(0, |bits, t| bits | 1 << place_type(*t))
}

pub fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("bad time {ms}")))
}

pub fn parsed<T, E: std::fmt::Display>(result: Result<T, E>, what: &str) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub fn coordinates(lat: Option<f64>, lon: Option<f64>) -> Option<Coordinates> {
    lat.zip(lon)
        .and_then(|(la, lo)| Coordinates::new(la, lo).ok())
}

pub fn roles(stored: &str) -> Result<std::collections::BTreeSet<Role>, StoreError> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|name| {
            Role::from_name(name).ok_or_else(|| StoreError::Corrupt(format!("unknown role {name}")))
        })
        .collect()
}

pub fn roles_to_string(roles: &std::collections::BTreeSet<Role>) -> String {
    roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(",")
}

impl location::Model {
    pub fn into_domain(self) -> Result<Location, StoreError> {
        Ok(Location {
            id: parsed(LocationId::parse(&self.id), "location id")?,
            provider_id: parsed(OrgId::parse(&self.provider_id), "provider id")?,
            name: self.name,
            municipality: parsed(
                MunicipalityCode::parse(&self.municipality_code),
                "municipality",
            )?,
            region_id: self.region_id,
            coordinates: coordinates(self.latitude, self.longitude),
            intake_phone: self
                .intake_phone
                .as_deref()
                .map(|phone| parsed(IntakePhone::parse(phone), "intake phone"))
                .transpose()?,
        })
    }
}

impl offering::Model {
    pub fn key(&self) -> Result<OfferingKey, StoreError> {
        Ok(OfferingKey {
            location_id: parsed(LocationId::parse(&self.location_id), "location id")?,
            place_type: decode(&PlaceType::ALL, self.place_type, "place type")?,
            care_profiles: parsed(
                CareProfiles::from_bits(self.care_profiles as u8),
                "care profiles",
            )?,
            age_band: parsed(
                AgeBand::new(self.age_min as u32, self.age_max as u32),
                "age band",
            )?,
            gender_policy: decode(&GenderPolicy::ALL, self.gender_policy, "gender policy")?,
            security_level: decode(&SecurityLevel::ALL, self.security_level, "security level")?,
        })
    }

    /// The domain offering, given its location and when its active holds run out.
    pub fn into_domain(
        self,
        location: Location,
        holds_until: &[i64],
    ) -> Result<Offering, StoreError> {
        Ok(Offering {
            key: self.key()?,
            intake: decode(&Intake::ALL, self.intake, "intake")?,
            lead_time_days: self.lead_time_days as u32,
            counts: parsed(
                PlaceCounts::new(self.total_places as u32, self.free_places as u32),
                "place counts",
            )?,
            waiting_days: self.waiting_days as u32,
            observed_at: time(self.observed_at_ms)?,
            published_at: time(self.published_at_ms)?,
            revision: Revision(self.revision as u64),
            holds_until: holds_until
                .iter()
                .map(|ms| time(*ms))
                .collect::<Result<_, _>>()?,
            placed: self.placed_since_publication as u32,
            location,
            id: self.id,
        })
    }
}

impl hold::Model {
    pub fn into_domain(self) -> Result<Hold, StoreError> {
        Ok(Hold {
            holder_id: parsed(OrgId::parse(&self.holder_id), "holder id")?,
            request_id: parsed(
                crate::domain::capacity::RequestId::parse(&self.request_id),
                "request id",
            )?,
            child_municipality: parsed(
                MunicipalityCode::parse(&self.child_municipality_code),
                "municipality",
            )?,
            state: decode(&HoldState::ALL, self.state, "hold state")?,
            created_at: time(self.created_at_ms)?,
            expires_at: time(self.expires_at_ms)?,
            ended_at: self.ended_at_ms.map(time).transpose()?,
            offering_id: self.offering_id,
            id: self.id,
        })
    }
}

pub fn care_profile_bits(profiles: CareProfiles) -> i32 {
    i32::from(profiles.bits())
}
