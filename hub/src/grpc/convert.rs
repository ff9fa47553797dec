//! Wire ↔ domain conversions. Every incoming field is parsed here, once,
//! and a bad one is reported with its path in the request.

use crate::app::{
    AppError, FieldViolation, StartFrom, UpdateRequest, WatchFilter, WatchItem, WatchRequest,
};
use crate::domain::Invalid;
use crate::domain::capacity::{
    AgeBand, CareProfile, CareProfiles, ChildAge, ChildGender, Coordinates, DisplayName, Freshness,
    FreshnessPolicy, GenderPolicy, Intake, IntakePhone, Location, LocationId, LocationSpec,
    MAX_WAITING_DAYS, MunicipalityCode, Offering, OfferingKey, PlaceCounts, PlaceType, RequestId,
    Revision, SecurityLevel,
};
use crate::domain::geo::{Municipality, Region};
use crate::domain::hold::{Hold, HoldDuration, HoldRequest, HoldState};
use crate::domain::identity::{Organisation, Role};
use crate::domain::search::SearchFilter;
use chrono::{DateTime, Utc};
use spil_proto::v1 as pb;

type Result<T> = std::result::Result<T, AppError>;

/// Attaches a field path to a domain parse error.
pub fn field<T>(path: impl Into<String>, parsed: std::result::Result<T, Invalid>) -> Result<T> {
    parsed.map_err(|Invalid(description)| {
        AppError::Invalid(vec![FieldViolation::new(path, description)])
    })
}

fn unspecified(path: impl Into<String>) -> AppError {
    AppError::invalid(path, "must be specified")
}

fn unknown(path: impl Into<String>, value: i32) -> AppError {
    AppError::invalid(path, format!("unknown value {value}"))
}

macro_rules! wire_enum {
    ($fn_in:ident, $fn_out:ident, $pb:ty, $domain:ty, { $($p:ident => $d:expr),+ $(,)? }) => {
        pub fn $fn_in(path: &str, value: i32) -> Result<$domain> {
            match <$pb>::try_from(value) {
                Ok(<$pb>::Unspecified) => Err(unspecified(path)),
                $(Ok(<$pb>::$p) => Ok($d),)+
                Err(_) => Err(unknown(path, value)),
            }
        }

        pub fn $fn_out(value: $domain) -> $pb {
            $(if value == $d { return <$pb>::$p; })+
            <$pb>::Unspecified
        }
    };
}

mod consultations;
mod placements;
pub use consultations::*;
pub use placements::*;

wire_enum!(place_type_in, place_type_out, pb::PlaceType, PlaceType, {
    CrisisBed => PlaceType::CrisisBed,
    ResidentialGroup => PlaceType::ResidentialGroup,
    FamilyHome => PlaceType::FamilyHome,
    FosterCare => PlaceType::FosterCare,
    SmallScaleHousing => PlaceType::SmallScaleHousing,
    SecureResidential => PlaceType::SecureResidential,
    ClinicalMentalHealth => PlaceType::ClinicalMentalHealth,
    ShelteredIndependentLiving => PlaceType::ShelteredIndependentLiving,
});

wire_enum!(care_profile_in, care_profile_out, pb::CareProfile, CareProfile, {
    YouthAndParenting => CareProfile::YouthAndParenting,
    YouthMentalHealth => CareProfile::YouthMentalHealth,
    MildIntellectualDisability => CareProfile::MildIntellectualDisability,
    Forensic => CareProfile::Forensic,
    EatingDisorders => CareProfile::EatingDisorders,
});

wire_enum!(gender_policy_in, gender_policy_out, pb::GenderPolicy, GenderPolicy, {
    Any => GenderPolicy::Any,
    Girls => GenderPolicy::Girls,
    Boys => GenderPolicy::Boys,
});

wire_enum!(child_gender_in, _child_gender_out, pb::ChildGender, ChildGender, {
    Girl => ChildGender::Girl,
    Boy => ChildGender::Boy,
    Other => ChildGender::Other,
});

wire_enum!(security_level_in, security_level_out, pb::SecurityLevel, SecurityLevel, {
    Open => SecurityLevel::Open,
    Secure => SecurityLevel::Secure,
});

wire_enum!(intake_in, intake_out, pb::Intake, Intake, {
    AroundTheClock => Intake::AroundTheClock,
    OfficeHours => Intake::OfficeHours,
});

wire_enum!(hold_state_in, hold_state_out, pb::HoldState, HoldState, {
    Active => HoldState::Active,
    Confirmed => HoldState::Confirmed,
    Released => HoldState::Released,
    Expired => HoldState::Expired,
});

wire_enum!(_role_in, role_out, pb::Role, Role, {
    Region => Role::Region,
    ExpertiseTeam => Role::ExpertiseTeam,
    SupraRegionalNetwork => Role::SupraRegionalNetwork,
    Provider => Role::Provider,
    CrisisService => Role::CrisisService,
    Referrer => Role::Referrer,
    Auditor => Role::Auditor,
    Admin => Role::Admin,
});

pub fn age_band_out(band: AgeBand) -> pb::AgeBand {
    pb::AgeBand {
        min_age: u32::from(band.min()),
        max_age: u32::from(band.max()),
    }
}

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// `0001-01-01T00:00:00Z` and `9999-12-31T23:59:59Z`: the range that
/// `google.protobuf.Timestamp` defines. Inside it, every date arithmetic
/// the hub does (windows of days or weeks) stays within chrono's range.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

pub fn time_in(path: &str, ts: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    if !TIMESTAMP_SECONDS.contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(AppError::invalid(
            path,
            "is not a valid timestamp (years 1 to 9999, nanos below one second)",
        ));
    }
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32)
        .ok_or_else(|| AppError::invalid(path, "is not a valid timestamp"))
}

fn required<'a, T>(path: &str, value: &'a Option<T>) -> Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| AppError::invalid(path, "is required"))
}

pub fn location_spec(location: Option<pb::Location>) -> Result<LocationSpec> {
    let location = location.ok_or_else(|| AppError::invalid("location", "is required"))?;
    Ok(LocationSpec {
        id: field("location.id", LocationId::parse(&location.id))?,
        name: field("location.name", DisplayName::parse(&location.name))?,
        municipality: field(
            "location.municipality_code",
            MunicipalityCode::parse(&location.municipality_code),
        )?,
        coordinates: location
            .coordinates
            .map(|c| {
                field(
                    "location.coordinates",
                    Coordinates::new(c.latitude, c.longitude),
                )
            })
            .transpose()?,
        intake_phone: (!location.intake_phone.trim().is_empty())
            .then(|| {
                field(
                    "location.intake_phone",
                    IntakePhone::parse(&location.intake_phone),
                )
            })
            .transpose()?,
    })
}

pub fn location_out(location: Location) -> pb::Location {
    pb::Location {
        id: location.id.as_str().to_owned(),
        provider_id: location.provider_id.as_str().to_owned(),
        name: location.name,
        municipality_code: location.municipality.as_str().to_owned(),
        region_id: location.region_id,
        coordinates: location.coordinates.map(|c| pb::Coordinates {
            latitude: c.latitude,
            longitude: c.longitude,
        }),
        intake_phone: location
            .intake_phone
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
    }
}

pub(super) fn care_profiles_in(path: &str, values: &[i32]) -> Result<CareProfiles> {
    let profiles = values
        .iter()
        .enumerate()
        .map(|(i, v)| care_profile_in(&format!("{path}[{i}]"), *v))
        .collect::<Result<Vec<_>>>()?;
    Ok(CareProfiles::from_profiles(profiles))
}

pub fn offering_key(path: &str, key: &Option<pb::OfferingKey>) -> Result<OfferingKey> {
    let key = required(path, key)?;
    let band = required(&format!("{path}.age_band"), &key.age_band)?;
    let profiles = care_profiles_in(&format!("{path}.care_profiles"), &key.care_profiles)?;
    Ok(OfferingKey {
        location_id: field(
            format!("{path}.location_id"),
            LocationId::parse(&key.location_id),
        )?,
        place_type: place_type_in(&format!("{path}.place_type"), key.place_type)?,
        care_profiles: field(
            format!("{path}.care_profiles"),
            CareProfiles::parse_non_empty(profiles.iter()),
        )?,
        age_band: field(
            format!("{path}.age_band"),
            AgeBand::new(band.min_age, band.max_age),
        )?,
        gender_policy: gender_policy_in(&format!("{path}.gender_policy"), key.gender_policy)?,
        security_level: security_level_in(&format!("{path}.security_level"), key.security_level)?,
    })
}

/// The longest usual lead time an offering may state: a year.
pub const MAX_LEAD_TIME_DAYS: u32 = 366;

/// The most updates one publication may carry.
pub const MAX_UPDATES: usize = 500;

pub fn publish_request(request: pb::PublishCapacityRequest) -> Result<crate::app::PublishRequest> {
    let request_id = field("request_id", RequestId::parse(&request.request_id))?;
    if request.updates.is_empty() || request.updates.len() > MAX_UPDATES {
        return Err(AppError::invalid(
            "updates",
            format!("must hold 1 to {MAX_UPDATES} updates"),
        ));
    }
    let updates = request
        .updates
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let path = format!("updates[{i}]");
            if u.lead_time_days > MAX_LEAD_TIME_DAYS {
                return Err(AppError::invalid(
                    format!("{path}.lead_time_days"),
                    format!("must be at most {MAX_LEAD_TIME_DAYS}"),
                ));
            }
            if u.waiting_days > MAX_WAITING_DAYS {
                return Err(AppError::invalid(
                    format!("{path}.waiting_days"),
                    format!("must be at most {MAX_WAITING_DAYS}"),
                ));
            }
            Ok(UpdateRequest {
                key: offering_key(&format!("{path}.key"), &u.key)?,
                intake: intake_in(&format!("{path}.intake"), u.intake)?,
                lead_time_days: u.lead_time_days,
                counts: PlaceCounts::new(u.total_places, u.free_places).map_err(|Invalid(d)| {
                    let which = if d.starts_with("free") {
                        "free_places"
                    } else {
                        "total_places"
                    };
                    AppError::invalid(format!("{path}.{which}"), d)
                })?,
                waiting_days: u.waiting_days,
                observed_at: u
                    .observed_at
                    .as_ref()
                    .map(|ts| time_in(&format!("{path}.observed_at"), ts))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(crate::app::PublishRequest {
        request_id,
        updates,
    })
}

pub fn offering_out(
    offering: Offering,
    policy: &FreshnessPolicy,
    now: DateTime<Utc>,
) -> pb::Offering {
    let freshness = match offering.freshness(policy, now) {
        Freshness::Fresh => pb::Freshness::Fresh,
        Freshness::Stale => pb::Freshness::Stale,
    };
    pb::Offering {
        id: offering.id.clone(),
        key: Some(pb::OfferingKey {
            location_id: offering.key.location_id.as_str().to_owned(),
            place_type: place_type_out(offering.key.place_type) as i32,
            care_profiles: offering
                .key
                .care_profiles
                .iter()
                .map(|p| care_profile_out(p) as i32)
                .collect(),
            age_band: Some(age_band_out(offering.key.age_band)),
            gender_policy: gender_policy_out(offering.key.gender_policy) as i32,
            security_level: security_level_out(offering.key.security_level) as i32,
        }),
        intake: intake_out(offering.intake) as i32,
        lead_time_days: offering.lead_time_days,
        total_places: offering.counts.total(),
        published_free_places: offering.counts.free(),
        held_places: offering.held(now),
        placed_places: offering.placed,
        available_places: offering.available(policy, now),
        waiting_days: offering.waiting_days,
        observed_at: Some(timestamp(offering.observed_at)),
        published_at: Some(timestamp(offering.published_at)),
        fresh_until: Some(timestamp(offering.fresh_until(policy))),
        freshness: freshness as i32,
        revision: offering.revision.0,
        location: Some(location_out(offering.location)),
    }
}

pub fn search_filter(request: &pb::SearchPlacesRequest) -> Result<SearchFilter> {
    let place_types = request
        .place_types
        .iter()
        .enumerate()
        .map(|(i, t)| place_type_in(&format!("place_types[{i}]"), *t))
        .collect::<Result<Vec<_>>>()?;
    let municipalities = request
        .municipality_codes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            field(
                format!("municipality_codes[{i}]"),
                MunicipalityCode::parse(m),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let child_municipality = (!request.child_municipality_code.is_empty())
        .then(|| {
            field(
                "child_municipality_code",
                MunicipalityCode::parse(&request.child_municipality_code),
            )
        })
        .transpose()?;
    if request.min_free_places > crate::domain::capacity::MAX_PLACES {
        return Err(AppError::invalid(
            "min_free_places",
            "is larger than any offering",
        ));
    }
    let mut place_types = place_types;
    place_types.sort();
    place_types.dedup();
    let mut region_ids = request.region_ids.clone();
    region_ids.sort();
    region_ids.dedup();
    Ok(SearchFilter {
        place_types,
        care_profiles: care_profiles_in("care_profiles", &request.care_profiles)?,
        child_age: request
            .child_age
            .map(|a| field("child_age", ChildAge::parse(a)))
            .transpose()?,
        child_gender: request
            .child_gender
            .map(|g| child_gender_in("child_gender", g))
            .transpose()?,
        security_level: request
            .security_level
            .map(|s| security_level_in("security_level", s))
            .transpose()?,
        region_ids,
        municipalities,
        child_municipality,
        min_available: request.min_free_places,
        include_unavailable: request.include_unavailable,
    })
}

pub fn search_result(
    hit: crate::app::SearchHit,
    policy: &FreshnessPolicy,
    now: DateTime<Utc>,
) -> pb::SearchResult {
    pb::SearchResult {
        distance_km: hit.distance_km.map(|d| (d * 10.0).round() / 10.0),
        offering: Some(offering_out(hit.offering, policy, now)),
    }
}

pub fn hold_request(request: pb::HoldPlaceRequest) -> Result<HoldRequest> {
    let duration = request
        .duration
        .map(|d| {
            if d.seconds < 0 || d.nanos < 0 {
                return Err(AppError::invalid("duration", "must not be negative"));
            }
            if d.nanos >= 1_000_000_000 {
                return Err(AppError::invalid(
                    "duration",
                    "nanos must be below one second",
                ));
            }
            // Out of chrono's range is far beyond the longest hold.
            chrono::Duration::try_seconds(d.seconds)
                .ok_or_else(|| AppError::invalid("duration", "is longer than any hold may last"))
        })
        .transpose()?;
    if request.offering_id.is_empty() {
        return Err(AppError::invalid("offering_id", "is required"));
    }
    Ok(HoldRequest {
        request_id: field("request_id", RequestId::parse(&request.request_id))?,
        offering_id: request.offering_id,
        child_municipality: field(
            "child_municipality_code",
            MunicipalityCode::parse(&request.child_municipality_code),
        )?,
        duration: field("duration", HoldDuration::parse(duration))?,
    })
}

pub fn hold_id(id: &str) -> Result<&str> {
    if id.is_empty() {
        Err(AppError::invalid("hold_id", "is required"))
    } else {
        Ok(id)
    }
}

pub fn hold_out(hold: Hold) -> pb::Hold {
    pb::Hold {
        id: hold.id,
        offering_id: hold.offering_id,
        holder_id: hold.holder_id.as_str().to_owned(),
        child_municipality_code: hold.child_municipality.as_str().to_owned(),
        state: hold_state_out(hold.state) as i32,
        created_at: Some(timestamp(hold.created_at)),
        expires_at: Some(timestamp(hold.expires_at)),
        ended_at: hold.ended_at.map(timestamp),
        request_id: hold.request_id.as_str().to_owned(),
    }
}

pub fn hold_states(values: &[i32]) -> Result<Vec<HoldState>> {
    values
        .iter()
        .enumerate()
        .map(|(i, s)| hold_state_in(&format!("states[{i}]"), *s))
        .collect()
}

/// `start_revision` and `from_oldest_kept` of either watch.
pub fn start_from(start_revision: u64, from_oldest_kept: bool) -> Result<StartFrom> {
    match (start_revision, from_oldest_kept) {
        (0, false) => Ok(StartFrom::Now),
        (0, true) => Ok(StartFrom::OldestKept),
        (revision, false) => Ok(StartFrom::After(Revision(revision))),
        (_, true) => Err(AppError::invalid(
            "start_revision",
            "must be 0 when from_oldest_kept is set",
        )),
    }
}

pub fn watch_request(request: pb::WatchCapacityRequest) -> Result<WatchRequest> {
    let filter = request.filter.unwrap_or_default();
    Ok(WatchRequest {
        start: start_from(request.start_revision, request.from_oldest_kept)?,
        include_snapshot: request.include_snapshot,
        filter: WatchFilter {
            region_ids: filter.region_ids,
            place_types: filter
                .place_types
                .iter()
                .enumerate()
                .map(|(i, t)| place_type_in(&format!("filter.place_types[{i}]"), *t))
                .collect::<Result<_>>()?,
            location_ids: filter
                .location_ids
                .iter()
                .enumerate()
                .map(|(i, l)| field(format!("filter.location_ids[{i}]"), LocationId::parse(l)))
                .collect::<Result<_>>()?,
        },
    })
}

pub fn watch_item(item: WatchItem, policy: &FreshnessPolicy) -> pb::WatchCapacityResponse {
    let now = item.at;
    pb::WatchCapacityResponse {
        revision: item.revision.0,
        offerings: item
            .offerings
            .into_iter()
            .map(|o| offering_out(o, policy, now))
            .collect(),
        snapshot: item.snapshot,
        stream_start: item.start,
    }
}

pub fn organisation_out(org: Organisation) -> pb::Organisation {
    pb::Organisation {
        id: org.id.as_str().to_owned(),
        name: org.name,
        roles: org.roles.into_iter().map(|r| role_out(r) as i32).collect(),
        home_region_id: org.home_region_id,
        served_region_ids: org.served_region_ids.into_iter().collect(),
    }
}

fn municipality_out(m: Municipality) -> pb::Municipality {
    pb::Municipality {
        code: m.code.as_str().to_owned(),
        name: m.name,
        region_id: m.region_id,
    }
}

pub fn region_out(region: Region) -> pb::Region {
    pb::Region {
        id: region.id,
        name: region.name,
        province: region.province,
        municipalities: region
            .municipalities
            .into_iter()
            .map(municipality_out)
            .collect(),
    }
}
