//! Consultation figures for a region: counts and lead times overall, by
//! urgency and by problem domain, suppressed so no child can be singled out.

use super::{quantile, single};
use crate::domain::consultation::{DeclineReason, ProblemDomain, ProblemDomains, Urgency};
use crate::domain::suppression::{Count, THRESHOLD, suppress};
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

fn counts(columns: [Count; 6], raw: Raw) -> ConsultationCounts {
    let [filed, accepted, declined, escalated, advised, overdue] = columns;
    ConsultationCounts {
        filed,
        accepted,
        declined,
        escalated,
        advised,
        overdue,
        hours_to_acceptance: lead_times(raw.to_acceptance),
        hours_to_advice: lead_times(raw.to_advice),
    }
}

/// Counts overall, by urgency (each column suppressed against its total,
/// since the urgencies add up to it), by problem domain (overlapping, so
/// each count on its own) and declines by reason (against all declines).
pub fn consultation_figures(records: &[ConsultationRecord]) -> ConsultationFigures {
    let per_urgency: Vec<Raw> = Urgency::ALL
        .iter()
        .map(|u| raw(records.iter().filter(|r| r.urgency == *u)))
        .collect();
    let columns: Vec<_> = (0..6)
        .map(|c| suppress(&per_urgency.iter().map(|r| r.columns[c]).collect::<Vec<_>>()))
        .collect();
    let reasons = suppress(
        &DeclineReason::ALL
            .iter()
            .map(|reason| {
                records
                    .iter()
                    .filter(|r| r.declined == Some(*reason))
                    .count() as u32
            })
            .collect::<Vec<_>>(),
    );
    let mut totals: [Count; 6] = std::array::from_fn(|c| columns[c].total);
    // Declines are a total for two groups: withheld if either needs it.
    if reasons.total == Count::Suppressed {
        totals[2] = Count::Suppressed;
    }
    let by_urgency = Urgency::ALL
        .into_iter()
        .zip(per_urgency)
        .enumerate()
        .map(|(i, (urgency, raw))| {
            (
                urgency,
                counts(std::array::from_fn(|c| columns[c].cells[i]), raw),
            )
        })
        .collect();
    let by_problem_domain = ProblemDomain::ALL
        .into_iter()
        .filter_map(|domain| {
            let raw = raw(records
                .iter()
                .filter(|r| r.problem_domains.iter().any(|d| d == domain)));
            (raw.columns[0] > 0).then(|| {
                let columns = raw.columns.map(single);
                (domain, counts(columns, raw))
            })
        })
        .collect();
    ConsultationFigures {
        total: counts(totals, raw(records)),
        by_urgency,
        by_problem_domain,
        declined_by_reason: DeclineReason::ALL.into_iter().zip(reasons.cells).collect(),
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
        assert_eq!(
            filed,
            [Count::Shown(8), Count::Suppressed, Count::Suppressed]
        );
        // Accepted: 8 routine, 0 urgent, 3 crisis; the 3 alone would follow
        // from the total of 11, so the 8 is withheld too.
        let accepted: Vec<Count> = figures.by_urgency.iter().map(|(_, c)| c.accepted).collect();
        assert_eq!(
            accepted,
            [Count::Suppressed, Count::Shown(0), Count::Suppressed]
        );
        assert_eq!(figures.total.accepted, Count::Shown(11));
        // Routine acceptance after 1..8 hours: median the 4th, p90 the 8th.
        assert_eq!(
            figures.by_urgency[0].1.hours_to_acceptance,
            Some((4.0, 8.0))
        );
        assert_eq!(figures.by_urgency[2].1.hours_to_acceptance, None);
        assert_eq!(figures.by_problem_domain.len(), 1);
        assert_eq!(figures.by_problem_domain[0].1.filed, Count::Shown(14));
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
