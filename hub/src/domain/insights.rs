//! Regional figures from the publication history: capacity and waiting
//! times at any moment, and unmet demand per week, as pure functions over
//! the records they are drawn from.

use super::capacity::{
    AgeBand, CareProfile, CareProfiles, ChildAge, Freshness, FreshnessPolicy, PlaceType,
    available_places,
};
use super::hold::HoldState;
use super::suppression::{Count, suppress};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};

mod consultations;
mod linked;
mod placement_requests;
pub use consultations::{
    ConsultationCounts, ConsultationFigures, ConsultationRecord, LeadTimes, consultation_figures,
};
pub use placement_requests::{
    PlacementRequestFigures, ProviderRequestRecord, RequestCounts, UpdateDiscipline,
    placement_request_figures, update_discipline,
};

/// The longest a hold runs: a hold that affects a moment began at most this
/// long before it.
pub const LONGEST_HOLD: Duration = Duration::hours(4);

/// The most buckets one series may have.
pub const MAX_BUCKETS: i64 = 366;

/// One publication of one offering, as the history keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicationRecord {
    pub offering_id: String,
    pub place_type: PlaceType,
    pub care_profiles: CareProfiles,
    pub age_band: AgeBand,
    pub total_places: u32,
    pub free_places: u32,
    pub waiting_days: u32,
    pub observed_at: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
}

impl PublicationRecord {
    fn freshness(&self, policy: &FreshnessPolicy, at: DateTime<Utc>) -> Freshness {
        policy.freshness(self.place_type, self.observed_at, at)
    }
}

/// One hold on one offering, whatever became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldRecord {
    pub offering_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was confirmed, released or marked expired.
    pub ended_at: Option<DateTime<Utc>>,
    pub confirmed: bool,
}

impl HoldRecord {
    fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.created_at <= at && self.expires_at > at && self.ended_at.is_none_or(|end| end > at)
    }

    /// Confirmed into a placement in `[since, at]`. A confirmation in the
    /// same millisecond as a publication counts against it: figures never
    /// show more free places than there were.
    fn placed_between(&self, since: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        self.confirmed && self.ended_at.is_some_and(|end| since <= end && end <= at)
    }
}

/// How far back holds must be read to compute figures at `from` and later:
/// placements count since a fresh publication, and holds run at most
/// [`LONGEST_HOLD`].
pub fn holds_needed_from(from: DateTime<Utc>, policy: &FreshnessPolicy) -> DateTime<Utc> {
    from - policy.crisis_bed.max(policy.other) - LONGEST_HOLD
}

/// How figures are grouped beyond place type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grouping {
    pub by_care_profile: bool,
    pub by_age_band: bool,
}

/// The group a row of capacity figures describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CapacityGroup {
    pub place_type: PlaceType,
    pub care_profile: Option<CareProfile>,
    pub age_band: Option<AgeBand>,
}

/// Capacity of one group at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityFigures {
    pub group: CapacityGroup,
    pub offerings: u32,
    pub total_places: u32,
    pub free_places: u32,
    pub held: u32,
    pub placed: u32,
    pub stale_offerings: u32,
    /// The places of the stale offerings: how many of them are free is unknown.
    pub stale_places: u32,
}

impl CapacityFigures {
    pub fn stale_share(&self) -> f64 {
        if self.offerings == 0 {
            0.0
        } else {
            f64::from(self.stale_offerings) / f64::from(self.offerings)
        }
    }
}

/// The holds of each offering, for lookups while computing figures.
pub struct HoldIndex<'a>(HashMap<&'a str, Vec<&'a HoldRecord>>);

impl<'a> HoldIndex<'a> {
    pub fn new(holds: &'a [HoldRecord]) -> Self {
        let mut by_offering: HashMap<&str, Vec<&HoldRecord>> = HashMap::new();
        for hold in holds {
            by_offering.entry(&hold.offering_id).or_default().push(hold);
        }
        Self(by_offering)
    }

    fn of(&self, offering_id: &str) -> &[&'a HoldRecord] {
        self.0.get(offering_id).map_or(&[], Vec::as_slice)
    }
}

/// Capacity at `at`, given the publication in force then for each offering.
/// Ordered by place type, care profile, age band.
pub fn capacity_at<'a>(
    in_force: impl IntoIterator<Item = &'a PublicationRecord>,
    holds: &HoldIndex<'_>,
    policy: &FreshnessPolicy,
    at: DateTime<Utc>,
    grouping: Grouping,
) -> Vec<CapacityFigures> {
    let mut groups: BTreeMap<CapacityGroup, CapacityFigures> = BTreeMap::new();
    for record in in_force {
        let offering_holds = holds.of(&record.offering_id);
        let held = offering_holds.iter().filter(|h| h.active_at(at)).count() as u32;
        let placed = offering_holds
            .iter()
            .filter(|h| h.placed_between(record.published_at, at))
            .count() as u32;
        let freshness = record.freshness(policy, at);
        let free = available_places(record.free_places, held, placed, freshness);
        let profiles: Vec<Option<CareProfile>> = if grouping.by_care_profile {
            record.care_profiles.iter().map(Some).collect()
        } else {
            vec![None]
        };
        for care_profile in profiles {
            let group = CapacityGroup {
                place_type: record.place_type,
                care_profile,
                age_band: grouping.by_age_band.then_some(record.age_band),
            };
            let figures = groups.entry(group).or_insert(CapacityFigures {
                group,
                offerings: 0,
                total_places: 0,
                free_places: 0,
                held: 0,
                placed: 0,
                stale_offerings: 0,
                stale_places: 0,
            });
            figures.offerings += 1;
            figures.total_places += record.total_places;
            figures.free_places += free;
            figures.held += held;
            figures.placed += placed;
            if freshness == Freshness::Stale {
                figures.stale_offerings += 1;
                figures.stale_places += record.total_places;
            }
        }
    }
    groups.into_values().collect()
}

/// Published waiting times of one place type and care profile at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaitingFigures {
    pub place_type: PlaceType,
    pub care_profile: CareProfile,
    pub offerings_with_figure: u32,
    pub offerings_without_figure: u32,
    pub median_days: Option<f64>,
    pub max_days: Option<u32>,
}

/// Waiting times at `at` per place type and care profile: fresh offerings
/// give a figure; stale ones are counted apart, never as zero days.
pub fn waiting_at<'a>(
    in_force: impl IntoIterator<Item = &'a PublicationRecord>,
    policy: &FreshnessPolicy,
    at: DateTime<Utc>,
) -> Vec<WaitingFigures> {
    let mut groups: BTreeMap<(PlaceType, CareProfile), (Vec<u32>, u32)> = BTreeMap::new();
    for record in in_force {
        let fresh = record.freshness(policy, at) == Freshness::Fresh;
        for profile in record.care_profiles.iter() {
            let (days, without) = groups.entry((record.place_type, profile)).or_default();
            if fresh {
                days.push(record.waiting_days);
            } else {
                *without += 1;
            }
        }
    }
    groups
        .into_iter()
        .map(|((place_type, care_profile), (mut days, without))| {
            days.sort_unstable();
            WaitingFigures {
                place_type,
                care_profile,
                offerings_with_figure: days.len() as u32,
                offerings_without_figure: without,
                median_days: median(&days),
                max_days: days.last().copied(),
            }
        })
        .collect()
}

/// The median of sorted values; the mean of the middle two for an even count.
fn median(sorted: &[u32]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(f64::from(sorted[n / 2])),
        _ => Some((f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0),
    }
}

/// Replays the history of a period: the publication in force for each
/// offering at each of `moments` (ascending), given those in force at the
/// start and those published during it.
pub struct HistoryReplay {
    in_force: HashMap<String, PublicationRecord>,
    later: Vec<PublicationRecord>,
    next: usize,
}

impl HistoryReplay {
    pub fn new(
        in_force_at_start: Vec<PublicationRecord>,
        mut later: Vec<PublicationRecord>,
    ) -> Self {
        later.sort_by_key(|r| r.published_at);
        Self {
            in_force: in_force_at_start
                .into_iter()
                .map(|r| (r.offering_id.clone(), r))
                .collect(),
            later,
            next: 0,
        }
    }

    /// The records in force at `at`; moments must not go backwards.
    pub fn advance_to(&mut self, at: DateTime<Utc>) -> impl Iterator<Item = &PublicationRecord> {
        while let Some(record) = self.later.get(self.next).filter(|r| r.published_at <= at) {
            self.in_force
                .insert(record.offering_id.clone(), record.clone());
            self.next += 1;
        }
        self.in_force.values()
    }
}

/// The ends of the buckets of a period: `from + step`, `from + 2 × step`, …,
/// with `to` itself as the last when the period is not a whole number of
/// steps. At most [`MAX_BUCKETS`]; `None` when there would be more.
pub fn bucket_ends(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step: Duration,
) -> Option<Vec<DateTime<Utc>>> {
    let span = to - from;
    let whole = span.num_milliseconds() / step.num_milliseconds();
    let partial = span.num_milliseconds() % step.num_milliseconds() != 0;
    if whole + i64::from(partial) > MAX_BUCKETS {
        return None;
    }
    let mut ends: Vec<DateTime<Utc>> = (1..=whole).map(|n| from + step * n as i32).collect();
    if partial {
        ends.push(to);
    }
    Some(ends)
}

/// One search that found no fresh free place: what was asked, no person data.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmetRecord {
    pub at: DateTime<Utc>,
    /// Empty: any place type.
    pub place_types: Vec<PlaceType>,
    /// Empty: any care profile.
    pub care_profiles: CareProfiles,
    pub child_age: Option<ChildAge>,
    pub child_municipality: Option<String>,
}

/// The kind of gap an unmet search shows. `None` means any, or several.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnmetKey {
    pub place_type: Option<PlaceType>,
    pub care_profile: Option<CareProfile>,
    pub age_band: Option<AgeBand>,
    pub child_municipality: Option<String>,
}

/// The age bands unmet demand is counted in: children, adolescents, young adults.
pub fn age_band_of(age: ChildAge) -> AgeBand {
    let (min, max) = match age.years() {
        0..=11 => (0, 11),
        12..=17 => (12, 17),
        _ => (18, 23),
    };
    AgeBand::new(min, max).expect("fixed bands are valid")
}

impl UnmetRecord {
    fn key(&self) -> UnmetKey {
        UnmetKey {
            place_type: only(self.place_types.clone()),
            care_profile: only(self.care_profiles.iter().collect()),
            age_band: self.child_age.map(age_band_of),
            child_municipality: self.child_municipality.clone(),
        }
    }
}

/// The one element, or `None` for none or several.
fn only<T>(mut all: Vec<T>) -> Option<T> {
    if all.len() == 1 { all.pop() } else { None }
}

/// One week of unmet demand, suppressed for publication.
#[derive(Debug, Clone, PartialEq)]
pub struct UnmetWeek {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub total: Count,
    /// Shown counts largest first, then the suppressed ones in key order:
    /// their place in the list says nothing about their size.
    pub gaps: Vec<(UnmetKey, Count)>,
}

/// Unmet searches per week from `from` (the last week ends at `to`),
/// counted per kind of gap and suppressed per week against its total.
pub fn unmet_demand_by_week(
    records: &[UnmetRecord],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<Vec<UnmetWeek>> {
    let ends = bucket_ends(from, to, Duration::weeks(1))?;
    let mut start = from;
    let mut weeks = Vec::with_capacity(ends.len());
    for end in ends {
        let mut counts: BTreeMap<UnmetKey, u32> = BTreeMap::new();
        for record in records.iter().filter(|r| start <= r.at && r.at < end) {
            *counts.entry(record.key()).or_default() += 1;
        }
        let (keys, values): (Vec<UnmetKey>, Vec<u32>) = counts.into_iter().unzip();
        let published = suppress(&values);
        let mut gaps: Vec<(UnmetKey, Count)> = keys.into_iter().zip(published.cells).collect();
        gaps.sort_by(|(a_key, a), (b_key, b)| match (a, b) {
            (Count::Shown(a), Count::Shown(b)) => b.cmp(a).then_with(|| a_key.cmp(b_key)),
            (Count::Shown(_), Count::Suppressed) => std::cmp::Ordering::Less,
            (Count::Suppressed, Count::Shown(_)) => std::cmp::Ordering::Greater,
            (Count::Suppressed, Count::Suppressed) => a_key.cmp(b_key),
        });
        weeks.push(UnmetWeek {
            start,
            end,
            total: published.total,
            gaps,
        });
        start = end;
    }
    Some(weeks)
}

/// One hold for a child from the region, and where its place was.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementRecord {
    pub place_type: PlaceType,
    /// What became of it, as of when the figures are drawn.
    pub outcome: HoldState,
    pub created_at: DateTime<Utc>,
    /// When it was confirmed, released or expired.
    pub ended_at: Option<DateTime<Utc>>,
    /// The location lies in another region than the child's municipality.
    pub outside_region: bool,
    /// … and in another province.
    pub outside_province: bool,
}

/// Holds of one place type, suppressed for publication.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementFigures {
    pub place_type: PlaceType,
    pub made: Count,
    pub confirmed: Count,
    pub released: Count,
    pub expired: Count,
    pub active: Count,
    pub hours_to_confirm_median: Option<f64>,
    pub hours_to_confirm_p90: Option<f64>,
    pub outside_region: Count,
    pub outside_province: Count,
}

/// Placements outside the region and outside the province. Both are parts
/// of the confirmed count, and together with it they give the placements
/// inside the region and those elsewhere in the province: all four must be
/// zero or five or more, and the confirmed count shown, or both stay
/// withheld.
fn where_placed(confirmed: Count, placed: &[&&PlacementRecord]) -> (Count, Count) {
    let Count::Shown(confirmed) = confirmed else {
        return (Count::Suppressed, Count::Suppressed);
    };
    let region = placed.iter().filter(|h| h.outside_region).count() as u32;
    let province = placed.iter().filter(|h| h.outside_province).count() as u32;
    let derived = [
        region,
        province,
        confirmed.saturating_sub(region),
        region.saturating_sub(province),
    ];
    if derived.into_iter().any(super::suppression::is_small) {
        (Count::Suppressed, Count::Suppressed)
    } else {
        (Count::Shown(region), Count::Shown(province))
    }
}

/// The `q`-quantile of sorted values by nearest rank.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Holds per place type: outcomes suppressed against the number made, lead
/// times only over five placements or more.
pub fn placement_figures(records: &[PlacementRecord]) -> Vec<PlacementFigures> {
    let mut by_type: BTreeMap<PlaceType, Vec<&PlacementRecord>> = BTreeMap::new();
    for record in records {
        by_type.entry(record.place_type).or_default().push(record);
    }
    by_type
        .into_iter()
        .map(|(place_type, holds)| {
            let count = |outcome| holds.iter().filter(|h| h.outcome == outcome).count() as u32;
            let outcomes = suppress(&[
                count(HoldState::Confirmed),
                count(HoldState::Released),
                count(HoldState::Expired),
                count(HoldState::Active),
            ]);
            let placed: Vec<&&PlacementRecord> = holds
                .iter()
                .filter(|h| h.outcome == HoldState::Confirmed)
                .collect();
            let mut hours: Vec<f64> = placed
                .iter()
                .filter_map(|h| {
                    h.ended_at
                        .map(|end| (end - h.created_at).num_seconds() as f64 / 3600.0)
                })
                .collect();
            hours.sort_by(f64::total_cmp);
            let confirmed = outcomes.cells[0];
            // Lead times over five placements would tell that there were
            // five: only beside a confirmed count that is itself shown.
            let enough = hours.len() as u32 >= super::suppression::THRESHOLD
                && matches!(confirmed, Count::Shown(_));
            let (outside_region, outside_province) = where_placed(confirmed, &placed);
            PlacementFigures {
                place_type,
                made: outcomes.total,
                confirmed,
                released: outcomes.cells[1],
                expired: outcomes.cells[2],
                active: outcomes.cells[3],
                hours_to_confirm_median: quantile(&hours, 0.5).filter(|_| enough),
                hours_to_confirm_p90: quantile(&hours, 0.9).filter(|_| enough),
                outside_region,
                outside_province,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn record(
        id: &str,
        place_type: PlaceType,
        free: u32,
        waiting: u32,
        at: i64,
    ) -> PublicationRecord {
        PublicationRecord {
            offering_id: id.into(),
            place_type,
            care_profiles: CareProfiles::from_profiles([
                CareProfile::YouthAndParenting,
                CareProfile::YouthMentalHealth,
            ]),
            age_band: AgeBand::new(12, 17).unwrap(),
            total_places: 4,
            free_places: free,
            waiting_days: waiting,
            observed_at: t(at),
            published_at: t(at),
        }
    }

    fn hold(id: &str, created: i64, ended: Option<i64>, confirmed: bool) -> HoldRecord {
        HoldRecord {
            offering_id: id.into(),
            created_at: t(created),
            expires_at: t(created) + Duration::minutes(30),
            ended_at: ended.map(t),
            confirmed,
        }
    }

    #[test]
    fn free_places_subtract_holds_and_placements_since_the_publication_only() {
        let records = [record("a", PlaceType::CrisisBed, 3, 0, 0)];
        let holds = [
            hold("a", -2, Some(-2), true), // placed before the publication: in its count
            hold("a", 1, Some(1), true),   // placed since
            hold("a", 2, None, false),     // active at 2h
            hold("a", 1, Some(1), false),  // released
        ];
        let index = HoldIndex::new(&holds);
        let at = t(2);
        let figures = capacity_at(
            &records,
            &index,
            &FreshnessPolicy::default(),
            at,
            Grouping::default(),
        );
        assert_eq!(figures.len(), 1);
        let f = figures[0];
        assert_eq!(
            (f.offerings, f.total_places, f.held, f.placed),
            (1, 4, 1, 1)
        );
        assert_eq!(f.free_places, 1);
        assert_eq!(f.stale_offerings, 0);
    }

    #[test]
    fn a_stale_offering_counts_places_but_none_free() {
        let records = [record("a", PlaceType::CrisisBed, 3, 0, 0)];
        let index = HoldIndex::new(&[]);
        let at = t(12);
        let figures = capacity_at(
            &records,
            &index,
            &FreshnessPolicy::default(),
            at,
            Grouping::default(),
        );
        assert_eq!((figures[0].free_places, figures[0].stale_offerings), (0, 1));
        assert_eq!(figures[0].stale_share(), 1.0);
    }

    #[test]
    fn grouping_by_care_profile_counts_an_offering_in_each_of_its_profiles() {
        let records = [
            record("a", PlaceType::FamilyHome, 1, 10, 0),
            record("b", PlaceType::FamilyHome, 2, 20, 0),
        ];
        let index = HoldIndex::new(&[]);
        let grouping = Grouping {
            by_care_profile: true,
            by_age_band: true,
        };
        let figures = capacity_at(
            &records,
            &index,
            &FreshnessPolicy::default(),
            t(1),
            grouping,
        );
        assert_eq!(figures.len(), 2);
        assert!(
            figures
                .iter()
                .all(|f| f.offerings == 2 && f.free_places == 3)
        );
        assert_eq!(
            figures[0].group.care_profile,
            Some(CareProfile::YouthAndParenting)
        );
        assert_eq!(
            figures[0].group.age_band,
            Some(AgeBand::new(12, 17).unwrap())
        );
    }

    #[test]
    fn waiting_times_take_fresh_figures_and_count_stale_ones_apart() {
        let policy = FreshnessPolicy::default();
        let records = [
            record("a", PlaceType::FamilyHome, 1, 10, 0),
            record("b", PlaceType::FamilyHome, 1, 30, 0),
            record("c", PlaceType::FamilyHome, 1, 0, -24 * 8), // stale: not a zero
        ];
        let figures = waiting_at(&records, &policy, t(1));
        assert_eq!(figures.len(), 2);
        let w = figures[0];
        assert_eq!(
            (w.offerings_with_figure, w.offerings_without_figure),
            (2, 1)
        );
        assert_eq!((w.median_days, w.max_days), (Some(20.0), Some(30)));
    }

    #[test]
    fn the_replay_puts_each_publication_in_force_from_its_moment() {
        let mut replay = HistoryReplay::new(
            vec![record("a", PlaceType::CrisisBed, 1, 0, 0)],
            vec![
                record("a", PlaceType::CrisisBed, 2, 0, 5),
                record("b", PlaceType::CrisisBed, 3, 0, 3),
            ],
        );
        let free = |replay: &mut HistoryReplay, at| {
            let mut v: Vec<(String, u32)> = replay
                .advance_to(t(at))
                .map(|r| (r.offering_id.clone(), r.free_places))
                .collect();
            v.sort();
            v
        };
        assert_eq!(free(&mut replay, 1), [("a".to_owned(), 1)]);
        assert_eq!(
            free(&mut replay, 4),
            [("a".to_owned(), 1), ("b".to_owned(), 3)]
        );
        assert_eq!(
            free(&mut replay, 5),
            [("a".to_owned(), 2), ("b".to_owned(), 3)]
        );
    }

    fn placement(outcome: HoldState, minutes: i64, outside: (bool, bool)) -> PlacementRecord {
        PlacementRecord {
            place_type: PlaceType::SecureResidential,
            outcome,
            created_at: t(0),
            ended_at: Some(t(0) + Duration::minutes(minutes)),
            outside_region: outside.0,
            outside_province: outside.1,
        }
    }

    #[test]
    fn placement_outcomes_are_suppressed_against_the_holds_made() {
        let mut records: Vec<PlacementRecord> = [30, 60, 90, 120, 150, 180]
            .iter()
            .map(|m| placement(HoldState::Confirmed, *m, (false, false)))
            .collect();
        records.push(placement(HoldState::Confirmed, 240, (true, true)));
        records.extend((0..6).map(|_| placement(HoldState::Released, 10, (false, false))));
        records.push(placement(HoldState::Expired, 30, (false, false)));
        let figures = placement_figures(&records);
        assert_eq!(figures.len(), 1);
        let f = &figures[0];
        assert_eq!(f.made, Count::Shown(14));
        // One expired: withheld, and with it every other outcome, so that
        // the pattern tells no more than "one of them is small".
        assert_eq!(
            (f.confirmed, f.released, f.expired, f.active),
            (
                Count::Suppressed,
                Count::Suppressed,
                Count::Suppressed,
                Count::Suppressed
            )
        );
        // Lead times and places beside a withheld confirmed count would give
        // it away (over five placements means five or more).
        assert_eq!(f.hours_to_confirm_median, None);
        assert_eq!(f.outside_province, Count::Suppressed);

        // Without the expired hold every outcome is shown, and with it the
        // lead times: 0.5, 1, 1.5, 2, 2.5, 3, 4 hours: median 2, p90 4.
        records.pop();
        let f = &placement_figures(&records)[0];
        assert_eq!(
            (f.confirmed, f.released),
            (Count::Shown(7), Count::Shown(6))
        );
        assert_eq!(f.hours_to_confirm_median, Some(2.0));
        assert_eq!(f.hours_to_confirm_p90, Some(4.0));
        // One of the seven outside the province: withheld, and so is the
        // figure for outside the region, which would give it away with 7.
        assert_eq!(
            (f.outside_region, f.outside_province),
            (Count::Suppressed, Count::Suppressed)
        );
    }

    /// The case: six holds for children of one municipality, five
    /// confirmed (outside the region) and one released.
    #[test]
    fn placements_outside_the_region_do_not_give_away_a_withheld_outcome() {
        let mut records: Vec<PlacementRecord> = (0..5)
            .map(|_| placement(HoldState::Confirmed, 60, (true, false)))
            .collect();
        records.push(placement(HoldState::Released, 30, (false, false)));
        let f = &placement_figures(&records)[0];
        assert_eq!(f.made, Count::Shown(6));
        assert_eq!(
            (f.confirmed, f.released),
            (Count::Suppressed, Count::Suppressed)
        );
        assert_eq!(f.outside_region, Count::Suppressed);
        assert_eq!(f.hours_to_confirm_median, None);
    }

    /// Whole responses, brute force: every dataset of up to `CAP` holds per
    /// kind (confirmed inside the region, elsewhere in the province,
    /// outside it; released; expired) is published, and datasets that
    /// publish the same row are what a reader cannot tell apart. Among
    /// them, each withheld figure must take at least two values. Only
    /// datasets with room to spare below `CAP` are judged, so that the
    /// alternatives a reader would consider are all enumerated.
    #[test]
    fn no_withheld_placement_figure_can_be_worked_out_from_the_whole_row() {
        const CAP: u32 = 8;
        const JUDGED: u32 = 5;
        type Truth = [u32; 7];
        let mut readings: HashMap<String, Vec<([u32; 5], Truth)>> = HashMap::new();
        let mut counts = [0u32; 5];
        loop {
            let [inside, province, abroad, released, expired] = counts;
            let mut records = Vec::new();
            let mut add = |n: u32, outcome, outside| {
                records.extend((0..n).map(|_| placement(outcome, 90, outside)));
            };
            add(inside, HoldState::Confirmed, (false, false));
            add(province, HoldState::Confirmed, (true, false));
            add(abroad, HoldState::Confirmed, (true, true));
            add(released, HoldState::Released, (false, false));
            add(expired, HoldState::Expired, (false, false));
            let confirmed = inside + province + abroad;
            let truth: Truth = [
                confirmed + released + expired,
                confirmed,
                released,
                expired,
                0,
                province + abroad,
                abroad,
            ];
            let published = format!("{:?}", placement_figures(&records));
            readings.entry(published).or_default().push((counts, truth));
            // Next dataset, like an odometer.
            let mut i = 0;
            loop {
                if i == counts.len() {
                    break;
                }
                counts[i] += 1;
                if counts[i] <= CAP {
                    break;
                }
                counts[i] = 0;
                i += 1;
            }
            if counts == [0; 5] {
                break;
            }
        }
        for (published, datasets) in &readings {
            let Some(row) = datasets.first().map(|(counts, _)| {
                let [inside, province, abroad, released, expired] = *counts;
                let mut records = Vec::new();
                for (n, outcome, outside) in [
                    (inside, HoldState::Confirmed, (false, false)),
                    (province, HoldState::Confirmed, (true, false)),
                    (abroad, HoldState::Confirmed, (true, true)),
                    (released, HoldState::Released, (false, false)),
                    (expired, HoldState::Expired, (false, false)),
                ] {
                    records.extend((0..n).map(|_| placement(outcome, 90, outside)));
                }
                placement_figures(&records).into_iter().next()
            }) else {
                continue;
            };
            let Some(row) = row else { continue };
            let cells = [
                row.made,
                row.confirmed,
                row.released,
                row.expired,
                row.active,
                row.outside_region,
                row.outside_province,
            ];
            for (datasets_counts, truth) in datasets {
                if datasets_counts.iter().any(|n| *n > JUDGED) {
                    continue;
                }
                for (cell, published_cell) in cells.iter().enumerate() {
                    if *published_cell != Count::Suppressed {
                        continue;
                    }
                    let values: std::collections::BTreeSet<u32> =
                        datasets.iter().map(|(_, t)| t[cell]).collect();
                    assert!(
                        values.len() >= 2 || !crate::domain::suppression::is_small(truth[cell]),
                        "figure {cell} of {datasets_counts:?} is determined ({values:?}) by {published}"
                    );
                }
            }
        }
    }

    #[test]
    fn lead_times_need_five_placements() {
        let records: Vec<PlacementRecord> = (0..4)
            .map(|_| placement(HoldState::Confirmed, 60, (false, false)))
            .collect();
        let f = &placement_figures(&records)[0];
        assert_eq!(
            (f.hours_to_confirm_median, f.made),
            (None, Count::Suppressed)
        );
        // Parts of a withheld confirmed count are withheld with it.
        assert_eq!(f.outside_region, Count::Suppressed);
    }

    fn unmet(at: i64, types: &[PlaceType], age: Option<u32>) -> UnmetRecord {
        UnmetRecord {
            at: t(at),
            place_types: types.to_vec(),
            care_profiles: CareProfiles::default(),
            child_age: age.map(|a| ChildAge::parse(a).unwrap()),
            child_municipality: Some("GM0392".into()),
        }
    }

    #[test]
    fn unmet_searches_count_once_per_week_and_small_cells_are_withheld() {
        let mut records: Vec<UnmetRecord> = (0..7)
            .map(|h| unmet(h, &[PlaceType::CrisisBed], Some(15)))
            .collect();
        records.extend((0..3).map(|h| unmet(h, &[PlaceType::CrisisBed], Some(9))));
        // Several types asked: counted once, under "any".
        let several = [PlaceType::CrisisBed, PlaceType::FamilyHome];
        records.extend((0..2).map(|h| unmet(h, &several, Some(15))));
        records.push(unmet(24 * 7 + 1, &[PlaceType::CrisisBed], Some(15)));
        let weeks = unmet_demand_by_week(&records, t(0), t(24 * 8)).unwrap();
        assert_eq!(weeks.len(), 2);
        let first = &weeks[0];
        assert_eq!(first.total, Count::Shown(12));
        assert!(
            first
                .gaps
                .iter()
                .any(|(k, _)| k.place_type == Some(PlaceType::CrisisBed)
                    && k.age_band == Some(AgeBand::new(12, 17).unwrap()))
        );
        // 7, 3 and 2: the 3 and the 2 are small, so all three are withheld;
        // 12 over three cells gives none away.
        assert_eq!(first.gaps.len(), 3);
        assert!(first.gaps.iter().all(|(_, c)| *c == Count::Suppressed));
        assert!(first.gaps.iter().any(|(k, _)| k.place_type.is_none()));
        assert_eq!(
            weeks[1].total,
            Count::Suppressed,
            "one search in the last week"
        );
    }

    #[test]
    fn buckets_end_on_whole_steps_and_at_the_period_end() {
        let ends = bucket_ends(t(0), t(50), Duration::hours(24)).unwrap();
        assert_eq!(ends, [t(24), t(48), t(50)]);
        assert_eq!(
            bucket_ends(t(0), t(48), Duration::hours(24)).unwrap(),
            [t(24), t(48)]
        );
        assert!(bucket_ends(t(0), t(24 * 367), Duration::hours(24)).is_none());
    }
}
