//! The capacity registry's vocabulary and its one invariant: the arithmetic
//! of available places.

use super::Invalid;
use super::identity::{OrgId, is_slug};
use chrono::{DateTime, Duration, Utc};

/// The kind of place an offering provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PlaceType {
    CrisisBed,
    ResidentialGroup,
    FamilyHome,
    FosterCare,
    SmallScaleHousing,
    SecureResidential,
    ClinicalMentalHealth,
    ShelteredIndependentLiving,
}

impl PlaceType {
    pub const ALL: [PlaceType; 8] = [
        PlaceType::CrisisBed,
        PlaceType::ResidentialGroup,
        PlaceType::FamilyHome,
        PlaceType::FosterCare,
        PlaceType::SmallScaleHousing,
        PlaceType::SecureResidential,
        PlaceType::ClinicalMentalHealth,
        PlaceType::ShelteredIndependentLiving,
    ];
}

/// A care profile an offering is equipped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CareProfile {
    YouthAndParenting,
    YouthMentalHealth,
    MildIntellectualDisability,
    Forensic,
    EatingDisorders,
}

impl CareProfile {
    pub const ALL: [CareProfile; 5] = [
        CareProfile::YouthAndParenting,
        CareProfile::YouthMentalHealth,
        CareProfile::MildIntellectualDisability,
        CareProfile::Forensic,
        CareProfile::EatingDisorders,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of care profiles, stored as a bit set so that "equipped for all of
/// these" is one comparison in SQL too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CareProfiles(u8);

impl CareProfiles {
    pub fn from_profiles(profiles: impl IntoIterator<Item = CareProfile>) -> Self {
        Self(profiles.into_iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// An offering's profiles: at least one.
    pub fn parse_non_empty(
        profiles: impl IntoIterator<Item = CareProfile>,
    ) -> Result<Self, Invalid> {
        let set = Self::from_profiles(profiles);
        if set.is_empty() {
            Err(Invalid::new("at least one care profile is required"))
        } else {
            Ok(set)
        }
    }

    pub fn from_bits(bits: u8) -> Result<Self, Invalid> {
        let all = Self::from_profiles(CareProfile::ALL).0;
        if bits & !all == 0 {
            Ok(Self(bits))
        } else {
            Err(Invalid::new(format!("unknown care profile bits {bits:#x}")))
        }
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains_all(self, wanted: CareProfiles) -> bool {
        self.0 & wanted.0 == wanted.0
    }

    pub fn iter(self) -> impl Iterator<Item = CareProfile> {
        CareProfile::ALL
            .into_iter()
            .filter(move |p| self.0 & p.bit() != 0)
    }
}

/// The highest age a youth-care place serves (sheltered living runs to 23).
pub const MAX_AGE: u8 = 23;

/// A child's age in whole years, 0 to 23.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildAge(u8);

impl ChildAge {
    pub fn parse(years: u32) -> Result<Self, Invalid> {
        u8::try_from(years)
            .ok()
            .filter(|y| *y <= MAX_AGE)
            .map(Self)
            .ok_or_else(|| Invalid::new(format!("must be between 0 and {MAX_AGE}")))
    }

    pub fn years(self) -> u8 {
        self.0
    }
}

/// An inclusive age band in whole years within 0 to 23.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgeBand {
    min: u8,
    max: u8,
}

impl AgeBand {
    pub fn new(min: u32, max: u32) -> Result<Self, Invalid> {
        let (min, max) = match (ChildAge::parse(min), ChildAge::parse(max)) {
            (Ok(min), Ok(max)) => (min.0, max.0),
            _ => {
                return Err(Invalid::new(format!(
                    "ages must be between 0 and {MAX_AGE}"
                )));
            }
        };
        if min > max {
            return Err(Invalid::new("min_age must not exceed max_age"));
        }
        Ok(Self { min, max })
    }

    pub fn min(self) -> u8 {
        self.min
    }

    pub fn max(self) -> u8 {
        self.max
    }

    pub fn contains(self, age: ChildAge) -> bool {
        (self.min..=self.max).contains(&age.0)
    }
}

/// Which children an offering takes, by gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GenderPolicy {
    Any,
    Girls,
    Boys,
}

/// The gender of the child a place is sought for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildGender {
    Girl,
    Boy,
    Other,
}

impl GenderPolicy {
    pub const ALL: [GenderPolicy; 3] = [GenderPolicy::Any, GenderPolicy::Girls, GenderPolicy::Boys];

    pub fn admits(self, child: ChildGender) -> bool {
        matches!(
            (self, child),
            (GenderPolicy::Any, _)
                | (GenderPolicy::Girls, ChildGender::Girl)
                | (GenderPolicy::Boys, ChildGender::Boy)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityLevel {
    Open,
    Secure,
}

impl SecurityLevel {
    pub const ALL: [SecurityLevel; 2] = [SecurityLevel::Open, SecurityLevel::Secure];
}

/// When an offering takes in a new child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intake {
    AroundTheClock,
    OfficeHours,
}

impl Intake {
    pub const ALL: [Intake; 2] = [Intake::AroundTheClock, Intake::OfficeHours];
}

/// A provider-chosen location id: lowercase letters, digits and '-', 3 to 63 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocationId(String);

impl LocationId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if is_slug(raw, 3, 63) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "must be 3 to 63 lowercase letters, digits or '-', not starting or ending with '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CBS municipality code such as `GM0392` (Haarlem).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MunicipalityCode(String);

impl MunicipalityCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let digits = raw.strip_prefix("GM").unwrap_or("");
        if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "must be a CBS municipality code such as GM0392",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client-chosen idempotency key: 1 to 64 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new("must be 1 to 64 visible ASCII characters"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A position in the registry's change history. Every committed change gets
/// a higher one than every change committed before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision(pub u64);

/// WGS84 coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, Invalid> {
        if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
            Ok(Self {
                latitude,
                longitude,
            })
        } else {
            Err(Invalid::new(
                "latitude must be within ±90 and longitude within ±180",
            ))
        }
    }
}

/// A provider's site, as the provider describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationSpec {
    pub id: LocationId,
    pub name: DisplayName,
    pub municipality: MunicipalityCode,
    pub coordinates: Option<Coordinates>,
    pub intake_phone: Option<IntakePhone>,
}

/// The functional telephone number of a location's intake desk, which crisis
/// staff call before they drive: a Dutch number (0 and nine more digits, or
/// an 0800/0900 number of eight) or an international one (+, 8 to 15
/// digits), with spaces, hyphens or parentheses as typed. A bare nine-digit number, the shape of a BSN, is
/// neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakePhone(String);

impl IntakePhone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let typed = raw.trim();
        let allowed = typed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '+'));
        let digits = typed.chars().filter(char::is_ascii_digit).count();
        let plus = typed.matches('+').count();
        let valid = allowed
            && typed.len() <= 30
            && if plus == 1 && typed.starts_with('+') {
                (8..=15).contains(&digits)
            } else {
                let number = typed.trim_start_matches('(');
                let freephone = ["0800", "0900"]
                    .iter()
                    .any(|prefix| number.starts_with(prefix));
                plus == 0 && number.starts_with('0') && (digits == 10 || (freephone && digits == 8))
            };
        if valid {
            Ok(Self(typed.to_owned()))
        } else {
            Err(Invalid::new(
                "must be a telephone number: 0 and nine digits, or + and 8 to 15 digits",
            ))
        }
    }

    /// As the provider typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For a `tel:` link: `+` and digits only.
    pub fn dialable(&self) -> String {
        self.0
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect()
    }
}

/// A stored location with what the hub derives from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: LocationId,
    pub provider_id: OrgId,
    pub name: String,
    pub municipality: MunicipalityCode,
    pub region_id: String,
    pub coordinates: Option<Coordinates>,
    pub intake_phone: Option<IntakePhone>,
}

/// A short name for display: 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 200 {
            Err(Invalid::new("must be 1 to 200 characters"))
        } else if trimmed.chars().any(char::is_control) {
            Err(Invalid::new("must not contain control characters"))
        } else {
            Ok(Self(trimmed.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What makes an offering one kind of place at one location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferingKey {
    pub location_id: LocationId,
    pub place_type: PlaceType,
    pub care_profiles: CareProfiles,
    pub age_band: AgeBand,
    pub gender_policy: GenderPolicy,
    pub security_level: SecurityLevel,
}

/// The most places one offering may publish; guards against typos such as 10000.
pub const MAX_PLACES: u32 = 999;

/// The most days of waiting time a provider may publish (about three years).
pub const MAX_WAITING_DAYS: u32 = 1100;

/// An offering's published numbers, consistent by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlaceCounts {
    total: u32,
    free: u32,
}

impl PlaceCounts {
    pub fn new(total: u32, free: u32) -> Result<Self, Invalid> {
        if total > MAX_PLACES {
            Err(Invalid::new(format!(
                "total_places must be at most {MAX_PLACES}"
            )))
        } else if free > total {
            Err(Invalid::new("free_places must not exceed total_places"))
        } else {
            Ok(Self { total, free })
        }
    }

    pub fn total(self) -> u32 {
        self.total
    }

    pub fn free(self) -> u32 {
        self.free
    }
}

/// One offering's new numbers, as a provider publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OfferingUpdate {
    pub key: OfferingKey,
    pub intake: Intake,
    pub lead_time_days: u32,
    pub counts: PlaceCounts,
    pub waiting_days: u32,
    pub observed_at: DateTime<Utc>,
}

/// How long a publication stays fresh, per place type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessPolicy {
    pub crisis_bed: Duration,
    pub other: Duration,
}

impl Default for FreshnessPolicy {
    fn default() -> Self {
        Self {
            crisis_bed: Duration::hours(12),
            other: Duration::days(7),
        }
    }
}

impl FreshnessPolicy {
    pub fn validity(&self, place_type: PlaceType) -> Duration {
        match place_type {
            PlaceType::CrisisBed => self.crisis_bed,
            _ => self.other,
        }
    }

    /// Fresh until the observation is older than the place type's validity.
    pub fn freshness(
        &self,
        place_type: PlaceType,
        observed_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Freshness {
        if now < observed_at + self.validity(place_type) {
            Freshness::Fresh
        } else {
            Freshness::Stale
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale,
}

/// One offering as the registry knows it: the latest publication plus the
/// hub's own holds and placements since.
#[derive(Debug, Clone, PartialEq)]
pub struct Offering {
    pub id: String,
    pub key: OfferingKey,
    pub intake: Intake,
    pub lead_time_days: u32,
    pub counts: PlaceCounts,
    pub waiting_days: u32,
    pub observed_at: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
    /// The revision of the latest change to this offering (publication or hold).
    pub revision: Revision,
    /// When each hold on this offering that was active when it was read
    /// runs out; those still running count as held.
    pub holds_until: Vec<DateTime<Utc>>,
    /// Placements confirmed through the hub since the latest publication.
    pub placed: u32,
    pub location: Location,
}

impl Offering {
    /// Fresh until the observation is older than the place type's validity.
    pub fn fresh_until(&self, policy: &FreshnessPolicy) -> DateTime<Utc> {
        self.observed_at + policy.validity(self.key.place_type)
    }

    pub fn freshness(&self, policy: &FreshnessPolicy, now: DateTime<Utc>) -> Freshness {
        policy.freshness(self.key.place_type, self.observed_at, now)
    }

    /// Holds still running at `now`: expiry needs nobody to call.
    pub fn held(&self, now: DateTime<Utc>) -> u32 {
        self.holds_until
            .iter()
            .filter(|until| **until > now)
            .count() as u32
    }

    pub fn available(&self, policy: &FreshnessPolicy, now: DateTime<Utc>) -> u32 {
        available_places(
            self.counts.free(),
            self.held(now),
            self.placed,
            self.freshness(policy, now),
        )
    }
}

/// The registry's invariant: the latest published free places, less active
/// holds and placements confirmed since that publication, never below zero;
/// nothing at all when the publication is stale.
pub fn available_places(published_free: u32, held: u32, placed: u32, freshness: Freshness) -> u32 {
    match freshness {
        Freshness::Stale => 0,
        Freshness::Fresh => published_free.saturating_sub(held.saturating_add(placed)),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_intake_phone_is_a_dialable_number_and_never_a_bare_bsn() {
        for good in [
            "023-5550100",
            "+31 23 555 0100",
            "(023) 555 01 00",
            "0800-0432",
        ] {
            assert!(IntakePhone::parse(good).is_ok(), "{good}");
        }
        let phone = IntakePhone::parse(" +31 (0)23 555 0100 ").unwrap();
        assert_eq!(phone.dialable(), "+310235550100");
        assert!(IntakePhone::parse("023-5550100").is_ok());
        assert!(IntakePhone::parse("+31 23 555 0100").is_ok());
        for bad in [
            "111222333",
            "23-5550100",
            "0235550100 ext 2",
            "++31235550100",
            "0612345678901",
            "",
        ] {
            assert!(IntakePhone::parse(bad).is_err(), "{bad}");
        }
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_age_band_rejects_min_above_max_and_ages_above_23() {
        assert!(AgeBand::new(12, 17).is_ok());
        assert!(AgeBand::new(17, 12).is_err());
        assert!(AgeBand::new(12, 24).is_err());
        assert!(
            AgeBand::new(0, 23)
                .unwrap()
                .contains(ChildAge::parse(23).unwrap())
        );
    }

    #[test]
    fn free_places_may_not_exceed_total() {
        assert!(PlaceCounts::new(3, 4).is_err());
        assert!(PlaceCounts::new(3, 3).is_ok());
        assert!(PlaceCounts::new(MAX_PLACES + 1, 0).is_err());
    }

    #[test]
    fn a_publication_older_than_its_validity_is_stale() {
        let policy = FreshnessPolicy::default();
        let observed = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(policy.validity(PlaceType::CrisisBed), Duration::hours(12));
        let fresh_until = observed + policy.validity(PlaceType::CrisisBed);
        let just_before = fresh_until - Duration::seconds(1);
        let status = |now| {
            if now < fresh_until {
                Freshness::Fresh
            } else {
                Freshness::Stale
            }
        };
        assert_eq!(status(just_before), Freshness::Fresh);
        assert_eq!(status(fresh_until), Freshness::Stale);
    }

    #[test]
    fn a_stale_offering_has_no_available_place() {
        assert_eq!(available_places(5, 0, 0, Freshness::Stale), 0);
        assert_eq!(available_places(5, 1, 1, Freshness::Fresh), 3);
    }

    #[test]
    fn care_profiles_match_when_all_wanted_are_offered() {
        let offered = CareProfiles::from_profiles([
            CareProfile::YouthMentalHealth,
            CareProfile::EatingDisorders,
        ]);
        let wanted = CareProfiles::from_profiles([CareProfile::EatingDisorders]);
        assert!(offered.contains_all(wanted));
        assert!(!wanted.contains_all(offered));
        assert!(offered.contains_all(CareProfiles::default()));
        assert_eq!(CareProfiles::from_bits(offered.bits()), Ok(offered));
        assert!(CareProfiles::from_bits(0x80).is_err());
    }

    #[test]
    fn municipality_codes_are_cbs_codes() {
        assert!(MunicipalityCode::parse("GM0392").is_ok());
        assert!(MunicipalityCode::parse("gm0392").is_err());
        assert!(MunicipalityCode::parse("GM392").is_err());
    }

    #[test]
    fn a_gender_policy_admits_the_right_children() {
        assert!(GenderPolicy::Any.admits(ChildGender::Other));
        assert!(GenderPolicy::Girls.admits(ChildGender::Girl));
        assert!(!GenderPolicy::Girls.admits(ChildGender::Boy));
        assert!(!GenderPolicy::Boys.admits(ChildGender::Other));
    }

    proptest! {
        /// Whatever the counts, the arithmetic never grants more than was published
        /// and never goes below zero.
        #[test]
        fn available_never_exceeds_published_free(free in 0u32..1000, held in 0u32..1000, placed in 0u32..1000) {
            let available = available_places(free, held, placed, Freshness::Fresh);
            prop_assert!(available <= free);
            prop_assert_eq!(available as u64 + held.min(free) as u64 + placed.min(free.saturating_sub(held)) as u64 >= free as u64, true);
        }
    }
}
