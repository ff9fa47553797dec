//! Consultation figures for a region: counts and lead times overall, by
//! urgency and by problem domain, suppressed so no child can be singled out.

use super::linked::Linked;
use super::quantile;
use crate::domain::consultation::{DeclineReason, ProblemDomain, ProblemDomains, Urgency};
use crate::domain::suppression::{Count, THRESHOLD};
use chrono::{DateTime, Utc};

/// One consultation filed for a child from the region: only what the
/// figures need, never content.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationRecord {
    pub urgency: Urgency,
    pub problem_domains: ProblemDomains,
    pub filed_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// By the addressee, or by the network the case was escalated to.
    pub advised_at: Option<DateTime<Utc>>,
    pub declined: Option<DeclineReason>,
    pub escalated: bool,
    pub overdue: bool,
}

/// Median and 90th percentile in hours, over five values or more.
pub type LeadTimes = Option<(f64, f64)>;

/// The figures of one group, as published.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationCounts {
    pub filed: Count,
    pub accepted: Count,
    pub declined: Count,
    pub escalated: Count,
    pub advised: Count,
    pub overdue: Count,
    pub hours_to_acceptance: LeadTimes,
    pub hours_to_advice: LeadTimes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConsultationFigures {
    pub total: ConsultationCounts,
    pub by_urgency: Vec<(Urgency, ConsultationCounts)>,
    pub by_problem_domain: Vec<(ProblemDomain, ConsultationCounts)>,
    pub declined_by_reason: Vec<(DeclineReason, Count)>,
}

/// Counts before suppression.
#[derive(Default)]
struct Raw {
    columns: [u32; 6],
    to_acceptance: Vec<f64>,
    to_advice: Vec<f64>,
}

fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 3600.0
}

fn lead_times(mut values: Vec<f64>) -> LeadTimes {
    if (values.len() as u32) < THRESHOLD {
        return None;
    }
    values.sort_by(f64::total_cmp);
    quantile(&values, 0.5).zip(quantile(&values, 0.9))
}

fn raw<'a>(records: impl IntoIterator<Item = &'a ConsultationRecord>) -> Raw {
    let mut raw = Raw::default();
    for r in records {
        let flags = [
            true,
            r.accepted_at.is_some(),
            r.declined.is_some(),
            r.escalated,
            r.advised_at.is_some(),
            r.overdue,
        ];
        for (column, flag) in raw.columns.iter_mut().zip(flags) {
            *column += u32::from(flag);
        }
        raw.to_acceptance
            .extend(r.accepted_at.map(|at| hours(r.filed_at, at)));
        raw.to_advice
            .extend(r.advised_at.map(|at| hours(r.filed_at, at)));
    }
    raw
}

/// A group's figures. Lead times over five cases or more tell that there
/// were five: they are shown only beside a count that is itself shown.
fn counts(columns: [Count; 6], raw: Raw) -> ConsultationCounts {
    let [filed, accepted, declined, escalated, advised, overdue] = columns;
    let beside =
        |count: Count, times: LeadTimes| times.filter(|_| matches!(count, Count::Shown(_)));
    ConsultationCounts {
        filed,
        accepted,
        declined,
        escalated,
        advised,
        overdue,
        hours_to_acceptance: beside(accepted, lead_times(raw.to_acceptance)),
        hours_to_advice: beside(advised, lead_times(raw.to_advice)),
    }
}

/// The cells of one group of consultations: the six published counts and
/// the complements that make their relations groups of their own.
struct RowCells {
    columns: [usize; 6],
}

/// Adds one group's counts and the relations among them: accepted,
/// declined and still pending partition the filed ones; advised and
/// escalated are parts of the accepted ones; overdue is part of the filed.
fn row_cells(linked: &mut Linked, raw: &Raw) -> RowCells {
    let [filed, accepted, declined, escalated, advised, overdue] = raw.columns;
    let columns = raw.columns.map(|v| linked.cell(v));
    let [
        c_filed,
        c_accepted,
        c_declined,
        c_escalated,
        c_advised,
        c_overdue,
    ] = columns;
    let pending = linked.cell(filed.saturating_sub(accepted + declined));
    linked.group(vec![c_accepted, c_declined, pending], c_filed);
    let not_advised = linked.cell(accepted.saturating_sub(advised));
    linked.group(vec![c_advised, not_advised], c_accepted);
    let not_escalated = linked.cell(accepted.saturating_sub(escalated));
    linked.group(vec![c_escalated, not_escalated], c_accepted);
    let not_overdue = linked.cell(filed.saturating_sub(overdue));
    linked.group(vec![c_overdue, not_overdue], c_filed);
    RowCells { columns }
}

/// Counts overall, by urgency and by problem domain, and declines by
/// reason. Every relation a reader could use is a group of the same
/// suppression: the urgencies add up to the total in each column, the
/// reasons to the declines, and within each group of consultations the
/// counts are parts of one another (`row_cells`). A domain's count is
/// withheld where the total's is (domains overlap, so they add up to
/// nothing, but each is at most the total).
pub fn consultation_figures(records: &[ConsultationRecord]) -> ConsultationFigures {
    let mut linked = Linked::default();
    let total_raw = raw(records);
    let total = row_cells(&mut linked, &total_raw);
    let per_urgency: Vec<(Urgency, Raw)> = Urgency::ALL
        .iter()
        .map(|u| (*u, raw(records.iter().filter(|r| r.urgency == *u))))
        .collect();
    let urgency_cells: Vec<RowCells> = per_urgency
        .iter()
        .map(|(_, raw)| row_cells(&mut linked, raw))
        .collect();
    for column in 0..6 {
        let parts = urgency_cells.iter().map(|r| r.columns[column]).collect();
        linked.group(parts, total.columns[column]);
    }
    let per_domain: Vec<(ProblemDomain, Raw)> = ProblemDomain::ALL
        .into_iter()
        .map(|domain| {
            let raw = raw(records
                .iter()
                .filter(|r| r.problem_domains.iter().any(|d| d == domain)));
            (domain, raw)
        })
        .filter(|(_, raw)| raw.columns[0] > 0)
        .collect();
    let domain_cells: Vec<RowCells> = per_domain
        .iter()
        .map(|(_, raw)| row_cells(&mut linked, raw))
        .collect();
    for row in &domain_cells {
        for column in 0..6 {
            linked
                .follows
                .push((total.columns[column], row.columns[column]));
        }
    }
    let reasons: Vec<usize> = DeclineReason::ALL
        .iter()
        .map(|reason| {
            let n = records
                .iter()
                .filter(|r| r.declined == Some(*reason))
                .count() as u32;
            linked.cell(n)
        })
        .collect();
    linked.group(reasons.clone(), total.columns[2]);
    linked.settle();

    let publish = |cells: &RowCells| cells.columns.map(|c| linked.count(c));
    ConsultationFigures {
        total: counts(publish(&total), total_raw),
        by_urgency: per_urgency
            .into_iter()
            .zip(&urgency_cells)
            .map(|((urgency, raw), cells)| (urgency, counts(publish(cells), raw)))
            .collect(),
        by_problem_domain: per_domain
            .into_iter()
            .zip(&domain_cells)
            .map(|((domain, raw), cells)| (domain, counts(publish(cells), raw)))
            .collect(),
        declined_by_reason: DeclineReason::ALL
            .into_iter()
            .zip(reasons.iter().map(|c| linked.count(*c)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn case(urgency: Urgency, accepted_after: Option<i64>) -> ConsultationRecord {
        ConsultationRecord {
            urgency,
            problem_domains: ProblemDomains::new([ProblemDomain::MentalHealth]).unwrap(),
            filed_at: at(0),
            accepted_at: accepted_after.map(at),
            advised_at: None,
            declined: None,
            escalated: false,
            overdue: false,
        }
    }

    #[test]
    fn urgencies_are_suppressed_against_the_total_and_lead_times_need_five() {
        let mut records: Vec<_> = (1..=8).map(|h| case(Urgency::Routine, Some(h))).collect();
        records.extend((0..3).map(|_| case(Urgency::Urgent, None)));
        records.extend((0..3).map(|_| case(Urgency::Crisis, Some(1))));
        let figures = consultation_figures(&records);
        assert_eq!(figures.total.filed, Count::Shown(14));
        let filed: Vec<Count> = figures.by_urgency.iter().map(|(_, c)| c.filed).collect();
        // 8, 3 and 3: a small one withholds its whole group.
        assert_eq!(filed, [Count::Suppressed; 3]);
        let accepted: Vec<Count> = figures.by_urgency.iter().map(|(_, c)| c.accepted).collect();
        assert_eq!(accepted, [Count::Suppressed; 3]);
        // 11 accepted of 14 would leave 3 pending: withheld as well, and
        // with it the lead times that would tell there were five or more.
        assert_eq!(figures.total.accepted, Count::Suppressed);
        assert_eq!(figures.total.hours_to_acceptance, None);
        assert_eq!(figures.by_urgency[0].1.hours_to_acceptance, None);

        // Five accepted urgent and five accepted crisis cases: nothing is
        // small, and every figure and lead time is shown.
        let mut records: Vec<_> = (1..=8).map(|h| case(Urgency::Routine, Some(h))).collect();
        records.extend((0..5).map(|_| case(Urgency::Urgent, Some(1))));
        records.extend((0..5).map(|_| case(Urgency::Crisis, Some(1))));
        let figures = consultation_figures(&records);
        assert_eq!(figures.total.accepted, Count::Shown(18));
        // 1..8 hours and ten times 1: the 9th and the 17th of 18.
        assert_eq!(figures.total.hours_to_acceptance, Some((1.0, 7.0)));
        assert_eq!(
            figures.by_urgency[0].1.hours_to_acceptance,
            Some((4.0, 8.0))
        );
        assert_eq!(figures.by_problem_domain.len(), 1);
        assert_eq!(figures.by_problem_domain[0].1.filed, Count::Shown(18));
    }

    /// Every count of a response, in a fixed order.
    fn published_cells(f: &ConsultationFigures) -> Vec<Count> {
        let row = |c: &ConsultationCounts| {
            [
                c.filed,
                c.accepted,
                c.declined,
                c.escalated,
                c.advised,
                c.overdue,
            ]
        };
        let mut cells = row(&f.total).to_vec();
        for (_, c) in &f.by_urgency {
            cells.extend(row(c));
        }
        for (_, c) in &f.by_problem_domain {
            cells.extend(row(c));
        }
        cells.extend(f.declined_by_reason.iter().map(|(_, c)| *c));
        cells
    }

    /// The true counts behind `published_cells`, from the records.
    fn true_cells(records: &[ConsultationRecord]) -> Vec<u32> {
        let row = |rs: &[&ConsultationRecord]| {
            let n =
                |p: &dyn Fn(&ConsultationRecord) -> bool| rs.iter().filter(|r| p(r)).count() as u32;
            [
                rs.len() as u32,
                n(&|r| r.accepted_at.is_some()),
                n(&|r| r.declined.is_some()),
                n(&|r| r.escalated),
                n(&|r| r.advised_at.is_some()),
                n(&|r| r.overdue),
            ]
        };
        let all: Vec<&ConsultationRecord> = records.iter().collect();
        let mut cells = row(&all).to_vec();
        for u in Urgency::ALL {
            let rs: Vec<_> = records.iter().filter(|r| r.urgency == u).collect();
            cells.extend(row(&rs));
        }
        if !records.is_empty() {
            cells.extend(row(&all));
        }
        for reason in DeclineReason::ALL {
            cells.push(
                records
                    .iter()
                    .filter(|r| r.declined == Some(reason))
                    .count() as u32,
            );
        }
        cells
    }

    /// Whole responses, brute force: every dataset of up to `CAP`
    /// consultations of each kind (routine or urgent; pending, accepted,
    /// advised or declined) is published; datasets that publish alike are
    /// what a reader who knows the rules cannot tell apart. Among them
    /// each withheld count of 1–4 must take at least two values. Judged
    /// where the counts leave room below `CAP`.
    #[test]
    fn no_withheld_consultation_figure_can_be_worked_out_from_the_whole_response() {
        const CAP: u32 = 3;
        const JUDGED: u32 = 2;
        const KINDS: usize = 8;
        let record = |kind: usize| {
            let urgency = [Urgency::Routine, Urgency::Urgent][kind / 4];
            let mut r = case(urgency, None);
            match kind % 4 {
                0 => {}
                1 => r.accepted_at = Some(at(2)),
                2 => {
                    r.accepted_at = Some(at(2));
                    r.advised_at = Some(at(30));
                }
                _ => r.declined = Some(DeclineReason::NoCapacity),
            }
            r
        };
        type Reading = (Vec<Option<u32>>, Vec<bool>);
        let mut alike: std::collections::HashMap<Reading, Vec<Vec<u32>>> = Default::default();
        let mut judged = Vec::new();
        let mut counts = [0u32; KINDS];
        loop {
            let records: Vec<ConsultationRecord> = (0..KINDS)
                .flat_map(|k| (0..counts[k]).map(move |_| k))
                .map(record)
                .collect();
            let figures = consultation_figures(&records);
            let published = published_cells(&figures);
            // What a reader sees: every count, and which lead times are
            // given (their values are the same in every dataset here).
            let lead_times: Vec<bool> = std::iter::once(&figures.total)
                .chain(figures.by_urgency.iter().map(|(_, c)| c))
                .chain(figures.by_problem_domain.iter().map(|(_, c)| c))
                .flat_map(|c| [c.hours_to_acceptance.is_some(), c.hours_to_advice.is_some()])
                .collect();
            let key = (
                published.iter().map(|c| c.shown()).collect::<Vec<_>>(),
                lead_times,
            );
            let truth = true_cells(&records);
            if counts.iter().all(|n| *n <= JUDGED) {
                judged.push((counts, key.clone(), published, truth.clone()));
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
        for (counts, key, published, truth) in judged {
            let twins = &alike[&key];
            for (i, cell) in published.iter().enumerate() {
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

    #[test]
    fn declines_by_reason_withhold_the_total_when_they_must() {
        let mut records: Vec<_> = (0..6).map(|_| case(Urgency::Routine, None)).collect();
        records[0].declined = Some(DeclineReason::NoCapacity);
        records[1].declined = Some(DeclineReason::NoCapacity);
        let figures = consultation_figures(&records);
        assert_eq!(figures.total.declined, Count::Suppressed);
        assert!(
            figures
                .declined_by_reason
                .iter()
                .all(|(_, c)| matches!(c, Count::Suppressed | Count::Shown(0)))
        );
    }
}
