//! The acceptance duty in figures: placement requests for a region's
//! children, answered, refused by reason, late; by provider and by place
//! type, suppressed so no child can be singled out. And how well each
//! provider keeps its published figures fresh, which counts hours, not
//! children.

use super::linked::Linked;
use super::{PublicationRecord, quantile};
use crate::domain::capacity::{FreshnessPolicy, PlaceType};
use crate::domain::identity::OrgId;
use crate::domain::placement::{ProviderRequestState, RefusalReason};
use crate::domain::suppression::{Count, THRESHOLD};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// One provider asked to take one of the region's children: only what the
/// figures need, never the case.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderRequestRecord {
    pub provider: OrgId,
    pub place_type: PlaceType,
    pub created_at: DateTime<Utc>,
    pub answer_due: DateTime<Utc>,
    /// As at the moment the figures are drawn: open past the deadline reads
    /// as overdue.
    pub state: ProviderRequestState,
    pub refusal: Option<RefusalReason>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl ProviderRequestRecord {
    fn answered(&self) -> bool {
        matches!(
            self.state,
            ProviderRequestState::Accepted | ProviderRequestState::Refused
        )
    }

    /// Unanswered past its deadline: still open, or withdrawn after it. It
    /// counts against the provider either way.
    fn late_unanswered(&self) -> bool {
        match self.state {
            ProviderRequestState::Overdue => true,
            ProviderRequestState::Withdrawn => {
                self.answered_at.is_some_and(|at| at >= self.answer_due)
            }
            _ => false,
        }
    }
}

/// The counts of one group, as published, and what may be said of its
/// answer times.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestCounts {
    /// Providers asked (one child asked of three providers counts three).
    pub asked: Count,
    pub answered: Count,
    pub accepted: Count,
    pub refused: Count,
    pub withdrawn: Count,
    /// Unanswered past the deadline.
    pub overdue: Count,
    /// Median and 90th percentile hours to an answer, over five or more.
    pub hours_to_answer: Option<(f64, f64)>,
}

impl RequestCounts {
    /// Of the requests that came to their deadline unwithdrawn, the share
    /// answered by it, where both counts are shown. The hub takes no answer
    /// after the deadline, so an answer is always in time.
    pub fn share_answered_in_time(&self) -> Option<f64> {
        match (self.answered, self.overdue) {
            (Count::Shown(answered), Count::Shown(overdue)) if answered + overdue > 0 => {
                Some(f64::from(answered) / f64::from(answered + overdue))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacementRequestFigures {
    pub total: RequestCounts,
    pub refused_by_reason: Vec<(RefusalReason, Count)>,
    /// Providers asked, by id.
    pub by_provider: Vec<(OrgId, RequestCounts)>,
    /// Place types asked for.
    pub by_place_type: Vec<(PlaceType, RequestCounts)>,
}

/// The published columns, in order.
const COLUMNS: usize = 6;

#[derive(Default)]
struct Raw {
    columns: [u32; COLUMNS],
    to_answer: Vec<f64>,
}

fn raw<'a>(records: impl IntoIterator<Item = &'a ProviderRequestRecord>) -> Raw {
    let mut raw = Raw::default();
    for r in records {
        let flags = [
            true,
            r.answered(),
            r.state == ProviderRequestState::Accepted,
            r.state == ProviderRequestState::Refused,
            r.state == ProviderRequestState::Withdrawn,
            r.late_unanswered(),
        ];
        for (column, flag) in raw.columns.iter_mut().zip(flags) {
            *column += u32::from(flag);
        }
        if r.answered() {
            raw.to_answer.extend(
                r.answered_at
                    .map(|at| (at - r.created_at).num_seconds() as f64 / 3600.0),
            );
        }
    }
    raw
}

/// Adds one group's counts and how they add up: answered, withdrawn and
/// still open make the asked; accepted and refused the answered; overdue
/// and the rest the asked.
fn row_cells(linked: &mut Linked, raw: &Raw) -> [usize; COLUMNS] {
    let [asked, answered, _, _, withdrawn, overdue] = raw.columns;
    let cells = raw.columns.map(|v| linked.cell(v));
    let [
        c_asked,
        c_answered,
        c_accepted,
        c_refused,
        c_withdrawn,
        c_overdue,
    ] = cells;
    let open = linked.cell(asked.saturating_sub(answered + withdrawn));
    linked.group(vec![c_answered, c_withdrawn, open], c_asked);
    linked.group(vec![c_accepted, c_refused], c_answered);
    let not_overdue = linked.cell(asked.saturating_sub(overdue));
    linked.group(vec![c_overdue, not_overdue], c_asked);
    cells
}

fn counts(cells: [Count; COLUMNS], raw: Raw) -> RequestCounts {
    let [asked, answered, accepted, refused, withdrawn, overdue] = cells;
    let mut times = raw.to_answer;
    // Lead times over five tell there were five: only beside a shown count.
    let hours_to_answer =
        if (times.len() as u32) < THRESHOLD || !matches!(answered, Count::Shown(_)) {
            None
        } else {
            times.sort_by(f64::total_cmp);
            quantile(&times, 0.5).zip(quantile(&times, 0.9))
        };
    RequestCounts {
        asked,
        answered,
        accepted,
        refused,
        withdrawn,
        overdue,
        hours_to_answer,
    }
}

/// Overall, by provider, by place type, and refusals by reason. Providers
/// and place types each partition the requests, so each column of theirs
/// adds up to the total's, and the reasons add up to the refusals: every
/// such sum is a group of one suppression (`Linked`), settled together.
pub fn placement_request_figures(records: &[ProviderRequestRecord]) -> PlacementRequestFigures {
    let mut linked = Linked::default();
    let total_raw = raw(records);
    let total = row_cells(&mut linked, &total_raw);

    let mut providers: Vec<&OrgId> = records.iter().map(|r| &r.provider).collect();
    providers.sort();
    providers.dedup();
    let per_provider: Vec<(OrgId, Raw)> = providers
        .into_iter()
        .map(|p| (p.clone(), raw(records.iter().filter(|r| &r.provider == p))))
        .collect();
    let per_type: Vec<(PlaceType, Raw)> = PlaceType::ALL
        .into_iter()
        .map(|t| (t, raw(records.iter().filter(|r| r.place_type == t))))
        .filter(|(_, raw)| raw.columns[0] > 0)
        .collect();
    let provider_cells: Vec<[usize; COLUMNS]> = per_provider
        .iter()
        .map(|(_, raw)| row_cells(&mut linked, raw))
        .collect();
    let type_cells: Vec<[usize; COLUMNS]> = per_type
        .iter()
        .map(|(_, raw)| row_cells(&mut linked, raw))
        .collect();
    for rows in [&provider_cells, &type_cells] {
        for column in 0..COLUMNS {
            linked.group(rows.iter().map(|r| r[column]).collect(), total[column]);
        }
    }
    let reasons: Vec<usize> = RefusalReason::ALL
        .iter()
        .map(|reason| {
            let n = records
                .iter()
                .filter(|r| r.state == ProviderRequestState::Refused && r.refusal == Some(*reason))
                .count() as u32;
            linked.cell(n)
        })
        .collect();
    linked.group(reasons.clone(), total[3]);
    linked.settle();

    let publish = |cells: &[usize; COLUMNS]| cells.map(|c| linked.count(c));
    PlacementRequestFigures {
        total: counts(publish(&total), total_raw),
        refused_by_reason: RefusalReason::ALL
            .into_iter()
            .zip(reasons.iter().map(|c| linked.count(*c)))
            .collect(),
        by_provider: per_provider
            .into_iter()
            .zip(&provider_cells)
            .map(|((provider, raw), cells)| (provider, counts(publish(cells), raw)))
            .collect(),
        by_place_type: per_type
            .into_iter()
            .zip(&type_cells)
            .map(|((place_type, raw), cells)| (place_type, counts(publish(cells), raw)))
            .collect(),
    }
}

/// How one provider kept its region's offerings fresh over a period.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateDiscipline {
    pub provider: OrgId,
    /// Offerings it had in the region during the period.
    pub offerings: u32,
    /// Offering-hours fresh over offering-hours published, 0 to 1.
    pub fresh_share: f64,
    /// The longest time one of its offerings stood stale in the period.
    pub longest_stale: Duration,
    /// Stale at the period's end: whom the region calls.
    pub stale_at_end: u32,
}

/// Each provider's share of offering-hours fresh in `[from, to]` and its
/// longest stale stretch, from the publication in force at `from` and the
/// publications during the period. An offering counts from its first
/// publication; it is fresh until its place type's validity after the
/// moment its figures were observed, and stale from then until the next
/// publication. Hours of offerings, not children: no child is counted, so
/// nothing here needs suppression.
pub fn update_discipline(
    at_start: &[PublicationRecord],
    during: &[PublicationRecord],
    provider_of: &HashMap<String, OrgId>,
    policy: &FreshnessPolicy,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<UpdateDiscipline> {
    // Per offering, its publications in order: (in force from, observed at, place type).
    let mut timelines: HashMap<&str, Vec<(DateTime<Utc>, &PublicationRecord)>> = HashMap::new();
    for record in at_start {
        timelines
            .entry(record.offering_id.as_str())
            .or_default()
            .push((from, record));
    }
    for record in during {
        timelines
            .entry(record.offering_id.as_str())
            .or_default()
            .push((record.published_at.max(from), record));
    }
    #[derive(Default)]
    struct Tally {
        offerings: u32,
        fresh: Duration,
        published: Duration,
        longest_stale: Duration,
        stale_at_end: u32,
    }
    let mut tallies: HashMap<&OrgId, Tally> = HashMap::new();
    for (offering, mut timeline) in timelines {
        let Some(provider) = provider_of.get(offering) else {
            continue;
        };
        timeline.sort_by_key(|(start, record)| (*start, record.published_at));
        let tally = tallies.entry(provider).or_default();
        tally.offerings += 1;
        let mut stale_since: Option<DateTime<Utc>> = None;
        for (i, (start, record)) in timeline.iter().enumerate() {
            let end = timeline.get(i + 1).map_or(to, |(next, _)| *next).min(to);
            if end <= *start {
                continue;
            }
            let fresh_until = record.observed_at + policy.validity(record.place_type);
            let fresh_end = fresh_until.clamp(*start, end);
            tally.published += end - *start;
            tally.fresh += fresh_end - *start;
            if fresh_end > *start {
                // A fresh publication ends the stale stretch before it.
                if let Some(since) = stale_since.take() {
                    tally.longest_stale = tally.longest_stale.max(*start - since);
                }
            }
            if fresh_end < end {
                stale_since.get_or_insert(fresh_end);
            }
        }
        if let Some(since) = stale_since {
            tally.longest_stale = tally.longest_stale.max(to - since);
            tally.stale_at_end += 1;
        }
    }
    let mut disciplines: Vec<UpdateDiscipline> = tallies
        .into_iter()
        .map(|(provider, t)| UpdateDiscipline {
            provider: provider.clone(),
            offerings: t.offerings,
            fresh_share: if t.published > Duration::zero() {
                t.fresh.num_seconds() as f64 / t.published.num_seconds() as f64
            } else {
                0.0
            },
            longest_stale: t.longest_stale,
            stale_at_end: t.stale_at_end,
        })
        .collect();
    // The least fresh first: the ones a region calls.
    disciplines.sort_by(|a, b| {
        a.fresh_share
            .total_cmp(&b.fresh_share)
            .then_with(|| a.provider.cmp(&b.provider))
    });
    disciplines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::capacity::{AgeBand, CareProfiles};

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).unwrap()
    }

    fn asked(provider: &str, state: ProviderRequestState) -> ProviderRequestRecord {
        ProviderRequestRecord {
            provider: org(provider),
            place_type: PlaceType::CrisisBed,
            created_at: at(0),
            answer_due: at(1),
            answered_at: match state {
                ProviderRequestState::Accepted | ProviderRequestState::Refused => Some(at(0)),
                _ => None,
            },
            refusal: (state == ProviderRequestState::Refused).then_some(RefusalReason::NoStaff),
            state,
        }
    }

    #[test]
    fn counts_partition_and_a_small_provider_withholds_its_group() {
        let mut records: Vec<_> = (0..6)
            .map(|_| asked("kenter", ProviderRequestState::Accepted))
            .collect();
        records.extend((0..6).map(|_| asked("kenter", ProviderRequestState::Refused)));
        records.extend((0..2).map(|_| asked("ijmond", ProviderRequestState::Refused)));
        let figures = placement_request_figures(&records);
        assert_eq!(figures.total.asked, Count::Shown(14));
        // IJmond's 2 refusals withhold its row; Kenter's 6 beside the
        // total's 8 would give them away, so the refusals are withheld
        // everywhere, and the acceptances beside them (answered less
        // accepted would be the refusals).
        assert_eq!(figures.by_provider.len(), 2);
        assert!(
            figures
                .by_provider
                .iter()
                .all(|(_, c)| c.refused == Count::Suppressed)
        );
        assert_eq!(figures.total.refused, Count::Suppressed);
        assert_eq!(figures.total.accepted, Count::Suppressed);
        assert!(
            figures
                .refused_by_reason
                .iter()
                .all(|(_, c)| matches!(c, Count::Suppressed | Count::Shown(0)))
        );

        // Five and more everywhere: everything is shown.
        records.extend((0..3).map(|_| asked("ijmond", ProviderRequestState::Refused)));
        let figures = placement_request_figures(&records);
        assert_eq!(figures.total.refused, Count::Shown(11));
        assert_eq!(figures.total.accepted, Count::Shown(6));
        let no_staff = figures
            .refused_by_reason
            .iter()
            .find(|(reason, _)| *reason == RefusalReason::NoStaff);
        assert_eq!(no_staff, Some(&(RefusalReason::NoStaff, Count::Shown(11))));
        assert_eq!(figures.total.overdue, Count::Shown(0));
        assert_eq!(figures.total.share_answered_in_time(), Some(1.0));
        assert_eq!(figures.total.hours_to_answer.map(|(p50, _)| p50), Some(0.0));
    }

    /// Every count of a response, in a fixed order.
    fn published(f: &PlacementRequestFigures) -> Vec<Count> {
        let row = |c: &RequestCounts| {
            [
                c.asked,
                c.answered,
                c.accepted,
                c.refused,
                c.withdrawn,
                c.overdue,
            ]
        };
        let mut cells = row(&f.total).to_vec();
        for (_, c) in &f.by_provider {
            cells.extend(row(c));
        }
        for (_, c) in &f.by_place_type {
            cells.extend(row(c));
        }
        cells.extend(f.refused_by_reason.iter().map(|(_, c)| *c));
        cells
    }

    /// The true counts behind `published`, in the same order.
    fn truth(records: &[ProviderRequestRecord], f: &PlacementRequestFigures) -> Vec<u32> {
        let row = |rs: Vec<&ProviderRequestRecord>| raw(rs).columns;
        let mut cells = row(records.iter().collect()).to_vec();
        for (provider, _) in &f.by_provider {
            cells.extend(row(records
                .iter()
                .filter(|r| &r.provider == provider)
                .collect()));
        }
        for (place_type, _) in &f.by_place_type {
            cells.extend(row(records
                .iter()
                .filter(|r| r.place_type == *place_type)
                .collect()));
        }
        for reason in RefusalReason::ALL {
            cells.push(records.iter().filter(|r| r.refusal == Some(reason)).count() as u32);
        }
        cells
    }

    /// Whole responses, brute force: every dataset of up to `CAP` provider
    /// requests of each kind (two providers; accepted, refused for one of
    /// two reasons, or withdrawn) is published; datasets that publish alike
    /// are what a reader who knows the rules cannot tell apart. Among them
    /// each withheld count of 1–4 must take at least two values, the
    /// refusals by reason included. Judged where the counts leave room
    /// below `CAP`.
    #[test]
    fn no_withheld_refusal_or_request_count_can_be_worked_out_from_the_whole_response() {
        const CAP: u32 = 3;
        const JUDGED: u32 = 2;
        const KINDS: usize = 8;
        let record = |kind: usize| {
            let provider = ["kenter", "ijmond"][kind / 4];
            match kind % 4 {
                0 => asked(provider, ProviderRequestState::Accepted),
                1 => asked(provider, ProviderRequestState::Refused),
                2 => ProviderRequestRecord {
                    refusal: Some(RefusalReason::GroupSafety),
                    ..asked(provider, ProviderRequestState::Refused)
                },
                _ => asked(provider, ProviderRequestState::Withdrawn),
            }
        };
        type Reading = (Vec<Option<u32>>, Vec<String>, Vec<bool>);
        let mut alike: HashMap<Reading, Vec<Vec<u32>>> = HashMap::new();
        let mut judged = Vec::new();
        let mut counts = [0u32; KINDS];
        loop {
            let records: Vec<ProviderRequestRecord> = (0..KINDS)
                .flat_map(|k| (0..counts[k]).map(move |_| k))
                .map(record)
                .collect();
            let figures = placement_request_figures(&records);
            let shown = published(&figures);
            // What a reader sees: every count, which providers have rows,
            // and which lead times are given.
            let key = (
                shown.iter().map(|c| c.shown()).collect::<Vec<_>>(),
                figures
                    .by_provider
                    .iter()
                    .map(|(p, _)| p.as_str().to_owned())
                    .collect(),
                std::iter::once(&figures.total)
                    .chain(figures.by_provider.iter().map(|(_, c)| c))
                    .map(|c| c.hours_to_answer.is_some())
                    .collect(),
            );
            let truth = truth(&records, &figures);
            if counts.iter().all(|n| *n <= JUDGED) {
                judged.push((counts, key.clone(), shown, truth.clone()));
            }
            alike.entry(key).or_default().push(truth);
            let mut i = 0;
            while i < KINDS {
                counts[i] += 1;
                if counts[i] <= CAP {
                    break;
                }
                counts[i] = 0;
                i += 1;
            }
            if i == KINDS {
                break;
            }
        }
        for (counts, key, shown, truth) in judged {
            let twins = &alike[&key];
            for (i, cell) in shown.iter().enumerate() {
                if *cell == Count::Suppressed && (1..THRESHOLD).contains(&truth[i]) {
                    let values: std::collections::BTreeSet<u32> =
                        twins.iter().map(|t| t[i]).collect();
                    assert!(
                        values.len() >= 2,
                        "count {i} ({}) of {counts:?} is determined: {key:?}",
                        truth[i]
                    );
                }
            }
        }
    }

    fn publication(offering: &str, observed: i64, published: i64) -> PublicationRecord {
        PublicationRecord {
            offering_id: offering.into(),
            place_type: PlaceType::CrisisBed,
            care_profiles: CareProfiles::default(),
            age_band: AgeBand::new(12, 17).unwrap(),
            total_places: 4,
            free_places: 1,
            waiting_days: 0,
            observed_at: at(observed),
            published_at: at(published),
        }
    }

    #[test]
    fn fresh_hours_and_the_longest_stale_stretch_per_provider() {
        let policy = FreshnessPolicy::default();
        let validity = policy.validity(PlaceType::CrisisBed).num_hours();
        let providers: HashMap<String, OrgId> = [
            ("a".to_owned(), org("kenter")),
            ("b".to_owned(), org("kenter")),
        ]
        .into();
        // Offering a: fresh from 0 for `validity` hours, then stale until
        // republished at 3 × validity, fresh to the end (4 × validity).
        let during = [publication("a", 3 * validity, 3 * validity)];
        let at_start = [publication("a", 0, 0), publication("b", 0, 0)];
        let discipline = update_discipline(
            &at_start,
            &during,
            &providers,
            &policy,
            at(0),
            at(4 * validity),
        );
        assert_eq!(discipline.len(), 1);
        let kenter = &discipline[0];
        assert_eq!(kenter.offerings, 2);
        // a: 2 of 4 validity-spans fresh; b: 1 of 4.
        assert!((kenter.fresh_share - 3.0 / 8.0).abs() < 1e-9, "{kenter:?}");
        // b stood stale from validity to the end: 3 spans.
        assert_eq!(kenter.longest_stale, Duration::hours(3 * validity));
        assert_eq!(kenter.stale_at_end, 1);
    }
}
