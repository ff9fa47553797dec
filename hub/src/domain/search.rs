//! Search: what a crisis worker asks for, and the order in which the
//! answers come back.

use super::capacity::{
    CareProfiles, ChildAge, ChildGender, Coordinates, Freshness, FreshnessPolicy, MunicipalityCode,
    Offering, PlaceType, SecurityLevel,
};
use super::geo::distance_km;
use chrono::{DateTime, Utc};
use std::cmp::Ordering;

/// The filters of a search. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Default, Hash, Eq)]
pub struct SearchFilter {
    pub place_types: Vec<PlaceType>,
    pub care_profiles: CareProfiles,
    pub child_age: Option<ChildAge>,
    pub child_gender: Option<ChildGender>,
    pub security_level: Option<SecurityLevel>,
    pub region_ids: Vec<String>,
    pub municipalities: Vec<MunicipalityCode>,
    pub child_municipality: Option<MunicipalityCode>,
    /// At least this many available places (at least 1 unless `include_unavailable`).
    pub min_available: u32,
    /// Also list stale offerings and those without a free place.
    pub include_unavailable: bool,
}

impl SearchFilter {
    /// Whether an offering is the kind of place asked for (type, profiles,
    /// age, gender, security, place), whatever its numbers.
    pub fn admits(&self, offering: &Offering) -> bool {
        let key = &offering.key;
        (self.place_types.is_empty() || self.place_types.contains(&key.place_type))
            && key.care_profiles.contains_all(self.care_profiles)
            && self.child_age.is_none_or(|age| key.age_band.contains(age))
            && self
                .child_gender
                .is_none_or(|child| key.gender_policy.admits(child))
            && self
                .security_level
                .is_none_or(|level| key.security_level == level)
            && (self.region_ids.is_empty()
                || self.region_ids.contains(&offering.location.region_id))
            && (self.municipalities.is_empty()
                || self
                    .municipalities
                    .contains(&offering.location.municipality))
    }
}

/// One search answer with what was derived for it at search time.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked<'a> {
    pub offering: &'a Offering,
    pub available: u32,
    pub freshness: Freshness,
    pub distance_km: Option<f64>,
}

/// Derives availability and distance for each candidate, drops those the
/// filter excludes, and sorts: most available first, then the freshest
/// observation, then the nearest, then by id so that pages are stable.
pub fn rank<'a>(
    candidates: impl IntoIterator<Item = &'a Offering>,
    filter: &SearchFilter,
    policy: &FreshnessPolicy,
    now: DateTime<Utc>,
    child_home: Option<Coordinates>,
) -> Vec<Ranked<'a>> {
    let mut ranked: Vec<Ranked<'a>> = candidates
        .into_iter()
        .filter(|offering| filter.admits(offering))
        .map(|offering| derive(offering, policy, now, child_home))
        .filter(|r| wanted(r, filter))
        .collect();
    ranked.sort_by(compare);
    ranked
}

/// One page of a ranked search, and what the whole result says.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedPage<'a> {
    /// The page, in rank order.
    pub hits: Vec<Ranked<'a>>,
    /// How many offerings the whole result holds.
    pub total: usize,
    /// Whether the whole result holds no fresh, free place.
    pub unmet: bool,
}

/// The page `offset..offset + size` of what [`rank`] would return, without
/// sorting what lies beyond it: a page of 50 out of thousands is a partial
/// selection, not a full sort.
pub fn rank_page<'a>(
    candidates: impl IntoIterator<Item = &'a Offering>,
    filter: &SearchFilter,
    policy: &FreshnessPolicy,
    now: DateTime<Utc>,
    child_home: Option<Coordinates>,
    offset: usize,
    size: usize,
) -> RankedPage<'a> {
    let mut ranked: Vec<Ranked<'a>> = candidates
        .into_iter()
        .filter(|offering| filter.admits(offering))
        .map(|offering| derive(offering, policy, now, child_home))
        .filter(|r| wanted(r, filter))
        .collect();
    let total = ranked.len();
    let unmet = is_unmet(&ranked);
    let end = offset.saturating_add(size).min(total);
    if end == 0 {
        ranked.clear();
    } else {
        if end < total {
            ranked.select_nth_unstable_by(end - 1, compare);
            ranked.truncate(end);
        }
        ranked.sort_unstable_by(compare);
    }
    let hits = ranked.split_off(offset.min(ranked.len()));
    RankedPage { hits, total, unmet }
}

fn derive<'a>(
    offering: &'a Offering,
    policy: &FreshnessPolicy,
    now: DateTime<Utc>,
    child_home: Option<Coordinates>,
) -> Ranked<'a> {
    Ranked {
        offering,
        available: offering.available(policy, now),
        freshness: offering.freshness(policy, now),
        distance_km: child_home
            .zip(offering.location.coordinates)
            .map(|(home, place)| distance_km(home, place)),
    }
}

fn wanted(r: &Ranked, filter: &SearchFilter) -> bool {
    filter.include_unavailable
        || (r.freshness == Freshness::Fresh && r.available >= filter.min_available.max(1))
}

fn compare(a: &Ranked, b: &Ranked) -> Ordering {
    b.available
        .cmp(&a.available)
        .then_with(|| b.offering.observed_at.cmp(&a.offering.observed_at))
        .then_with(|| match (a.distance_km, b.distance_km) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.offering.id.cmp(&b.offering.id))
}

/// A search is unmet demand when nothing it found is a fresh, free place.
pub fn is_unmet(ranked: &[Ranked]) -> bool {
    !ranked
        .iter()
        .any(|r| r.freshness == Freshness::Fresh && r.available > 0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::capacity::*;
    use crate::domain::identity::OrgId;
    use chrono::Duration;

    /// An offering of a crisis bed in Haarlem, for tests.
    pub(crate) fn offering(
        id: &str,
        free: u32,
        observed_minutes_ago: i64,
        coords: Option<(f64, f64)>,
    ) -> Offering {
        let now = now();
        Offering {
            id: id.into(),
            key: OfferingKey {
                location_id: LocationId::parse("loc-1").unwrap(),
                place_type: PlaceType::CrisisBed,
                care_profiles: CareProfiles::from_profiles([CareProfile::YouthAndParenting]),
                age_band: AgeBand::new(12, 17).unwrap(),
                gender_policy: GenderPolicy::Any,
                security_level: SecurityLevel::Open,
            },
            intake: Intake::AroundTheClock,
            lead_time_days: 0,
            counts: PlaceCounts::new(10, free).unwrap(),
            waiting_days: 0,
            observed_at: now - Duration::minutes(observed_minutes_ago),
            published_at: now - Duration::minutes(observed_minutes_ago),
            revision: Revision(1),
            holds_until: vec![],
            placed: 0,
            location: Location {
                id: LocationId::parse("loc-1").unwrap(),
                provider_id: OrgId::parse("kenter").unwrap(),
                name: "x".into(),
                municipality: MunicipalityCode::parse("GM0392").unwrap(),
                region_id: "zuid-kennemerland".into(),
                coordinates: coords.map(|(la, lo)| Coordinates::new(la, lo).unwrap()),
                intake_phone: None,
            },
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn ids<'a>(ranked: &'a [Ranked<'a>]) -> Vec<&'a str> {
        ranked.iter().map(|r| r.offering.id.as_str()).collect()
    }

    #[test]
    fn results_sort_by_available_then_freshness_then_distance_then_id() {
        let home = Coordinates::new(52.38, 4.64).unwrap();
        let candidates = vec![
            offering("far", 2, 10, Some((53.2, 6.5))),
            offering("near", 2, 10, Some((52.39, 4.65))),
            offering("most", 5, 300, None),
            offering("newer", 2, 1, None),
            offering("b-unknown", 2, 10, None),
            offering("a-unknown", 2, 10, None),
        ];
        let ranked = rank(
            &candidates,
            &SearchFilter::default(),
            &FreshnessPolicy::default(),
            now(),
            Some(home),
        );
        assert_eq!(
            ids(&ranked),
            ["most", "newer", "near", "far", "a-unknown", "b-unknown"]
        );
    }

    #[test]
    fn stale_and_full_offerings_are_left_out_unless_asked_for() {
        let candidates = vec![
            offering("stale", 3, 13 * 60, None),
            offering("full", 0, 5, None),
            offering("free", 1, 5, None),
        ];
        let policy = FreshnessPolicy::default();
        let ranked = rank(&candidates, &SearchFilter::default(), &policy, now(), None);
        assert_eq!(ids(&ranked), ["free"]);
        assert!(!is_unmet(&ranked));

        let all = SearchFilter {
            include_unavailable: true,
            ..Default::default()
        };
        let ranked = rank(&candidates, &all, &policy, now(), None);
        assert_eq!(ranked.len(), 3);
        let stale = ranked.iter().find(|r| r.offering.id == "stale").unwrap();
        assert_eq!((stale.available, stale.freshness), (0, Freshness::Stale));
    }

    #[test]
    fn a_filter_admits_only_the_kind_of_place_asked_for() {
        let o = offering("x", 1, 5, None);
        let filter = |f: SearchFilter| f.admits(&o);
        assert!(filter(SearchFilter::default()));
        assert!(filter(SearchFilter {
            place_types: vec![PlaceType::CrisisBed],
            ..Default::default()
        }));
        assert!(!filter(SearchFilter {
            place_types: vec![PlaceType::FamilyHome],
            ..Default::default()
        }));
        assert!(!filter(SearchFilter {
            child_age: Some(ChildAge::parse(9).unwrap()),
            ..Default::default()
        }));
        assert!(filter(SearchFilter {
            child_gender: Some(ChildGender::Other),
            ..Default::default()
        }));
        assert!(!filter(SearchFilter {
            security_level: Some(SecurityLevel::Secure),
            ..Default::default()
        }));
        assert!(!filter(SearchFilter {
            care_profiles: CareProfiles::from_profiles([CareProfile::EatingDisorders]),
            ..Default::default()
        }));
        assert!(!filter(SearchFilter {
            region_ids: vec!["haaglanden".into()],
            ..Default::default()
        }));
        assert!(filter(SearchFilter {
            municipalities: vec![MunicipalityCode::parse("GM0392").unwrap()],
            ..Default::default()
        }));
    }

    #[test]
    fn a_ranked_page_is_the_same_slice_of_the_full_ranking() {
        let home = Coordinates::new(52.38, 4.64).unwrap();
        // Many ties on every key but the id, so the order rests on all of them.
        let candidates: Vec<Offering> = (0..23)
            .map(|i| {
                let coords = (i % 3 != 0).then(|| (52.0 + f64::from(i % 4) / 10.0, 4.6));
                offering(
                    &format!("o-{:02}", (i * 7) % 23),
                    i % 4,
                    i64::from(i % 5),
                    coords,
                )
            })
            .collect();
        let policy = FreshnessPolicy::default();
        for include_unavailable in [false, true] {
            let filter = SearchFilter {
                include_unavailable,
                ..Default::default()
            };
            let full = rank(&candidates, &filter, &policy, now(), Some(home));
            for offset in 0..=full.len() + 1 {
                for size in 0..=full.len() + 1 {
                    let page = rank_page(
                        &candidates,
                        &filter,
                        &policy,
                        now(),
                        Some(home),
                        offset,
                        size,
                    );
                    let expected: Vec<_> = full.iter().skip(offset).take(size).cloned().collect();
                    assert_eq!(page.hits, expected, "offset {offset}, size {size}");
                    assert_eq!(page.total, full.len());
                    assert_eq!(page.unmet, is_unmet(&full));
                }
            }
        }
    }

    #[test]
    fn a_search_finding_only_stale_places_is_unmet_demand() {
        let policy = FreshnessPolicy::default();
        let all = SearchFilter {
            include_unavailable: true,
            ..Default::default()
        };
        let stale = [offering("stale", 3, 13 * 60, None)];
        let ranked = rank(&stale, &all, &policy, now(), None);
        assert!(is_unmet(&ranked));
    }
}
