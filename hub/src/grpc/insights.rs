//! `spil.v1.Insights`: a region's figures, converted at the edge.

use super::auth::caller;
use super::convert::{
    age_band_out, care_profile_out, decline_reason_out, place_type_out, problem_domain_out,
    refusal_reason_out, time_in, timestamp, urgency_out,
};
use crate::app::{App, AppError, Period, Snapshot};
use crate::domain::capacity::PlaceType;
use crate::domain::insights::{
    CapacityFigures, ConsultationCounts, Grouping, LeadTimes, PlacementFigures, RequestCounts,
    UnmetWeek, WaitingFigures,
};
use crate::domain::suppression::Count;
use chrono::{DateTime, Duration, Utc};
use spil_proto::v1 as pb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct InsightsService {
    app: Arc<App>,
}

impl InsightsService {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

fn optional_time(
    path: &str,
    ts: &Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, AppError> {
    ts.as_ref().map(|ts| time_in(path, ts)).transpose()
}

fn bucket_in(value: i32) -> Result<Duration, AppError> {
    match pb::Bucket::try_from(value) {
        Ok(pb::Bucket::Unspecified | pb::Bucket::Week) => Ok(Duration::weeks(1)),
        Ok(pb::Bucket::Day) => Ok(Duration::days(1)),
        Err(_) => Err(AppError::invalid(
            "bucket",
            format!("unknown value {value}"),
        )),
    }
}

fn capacity_out(figures: CapacityFigures) -> pb::CapacityFigures {
    pb::CapacityFigures {
        place_type: place_type_out(figures.group.place_type) as i32,
        care_profile: figures
            .group
            .care_profile
            .map_or(pb::CareProfile::Unspecified, care_profile_out) as i32,
        age_band: figures.group.age_band.map(age_band_out),
        offerings: figures.offerings,
        total_places: figures.total_places,
        free_places: figures.free_places,
        held: figures.held,
        placed: figures.placed,
        stale_offerings: figures.stale_offerings,
        stale_share: figures.stale_share(),
    }
}

fn waiting_out(figures: WaitingFigures) -> pb::WaitingFigures {
    pb::WaitingFigures {
        place_type: place_type_out(figures.place_type) as i32,
        care_profile: care_profile_out(figures.care_profile) as i32,
        offerings_with_figure: figures.offerings_with_figure,
        offerings_without_figure: figures.offerings_without_figure,
        median_days: figures.median_days,
        max_days: figures.max_days,
    }
}

fn count_out(count: Count) -> Option<pb::SuppressibleCount> {
    Some(match count {
        Count::Shown(value) => pb::SuppressibleCount {
            value,
            suppressed: false,
        },
        Count::Suppressed => pb::SuppressibleCount {
            value: 0,
            suppressed: true,
        },
    })
}

fn unmet_week_out(week: UnmetWeek) -> pb::UnmetDemandWeek {
    pb::UnmetDemandWeek {
        start: Some(timestamp(week.start)),
        end: Some(timestamp(week.end)),
        searches: count_out(week.total),
        gaps: week
            .gaps
            .into_iter()
            .map(|(key, count)| pb::UnmetDemandCell {
                place_type: key
                    .place_type
                    .map_or(pb::PlaceType::Unspecified, place_type_out)
                    as i32,
                care_profile: key
                    .care_profile
                    .map_or(pb::CareProfile::Unspecified, care_profile_out)
                    as i32,
                age_band: key.age_band.map(age_band_out),
                child_municipality_code: key.child_municipality.unwrap_or_default(),
                searches: count_out(count),
            })
            .collect(),
    }
}

fn placement_out(row: PlacementFigures) -> pb::PlacementRow {
    pb::PlacementRow {
        place_type: place_type_out(row.place_type) as i32,
        made: count_out(row.made),
        confirmed: count_out(row.confirmed),
        released: count_out(row.released),
        expired: count_out(row.expired),
        active: count_out(row.active),
        hours_to_confirm_median: row.hours_to_confirm_median,
        hours_to_confirm_p90: row.hours_to_confirm_p90,
        outside_region: count_out(row.outside_region),
        outside_province: count_out(row.outside_province),
    }
}

fn lead(times: LeadTimes) -> (Option<f64>, Option<f64>) {
    (times.map(|t| t.0), times.map(|t| t.1))
}

fn consultation_counts_out(counts: ConsultationCounts) -> Option<pb::ConsultationCounts> {
    let (acceptance_median, acceptance_p90) = lead(counts.hours_to_acceptance);
    let (advice_median, advice_p90) = lead(counts.hours_to_advice);
    Some(pb::ConsultationCounts {
        filed: count_out(counts.filed),
        accepted: count_out(counts.accepted),
        declined: count_out(counts.declined),
        escalated: count_out(counts.escalated),
        advised: count_out(counts.advised),
        overdue: count_out(counts.overdue),
        hours_to_acceptance_median: acceptance_median,
        hours_to_acceptance_p90: acceptance_p90,
        hours_to_advice_median: advice_median,
        hours_to_advice_p90: advice_p90,
    })
}

fn request_counts_out(counts: RequestCounts) -> Option<pb::PlacementRequestCounts> {
    let (median, p90) = lead(counts.hours_to_answer);
    Some(pb::PlacementRequestCounts {
        share_answered_in_time: counts.share_answered_in_time(),
        asked: count_out(counts.asked),
        answered: count_out(counts.answered),
        accepted: count_out(counts.accepted),
        refused: count_out(counts.refused),
        withdrawn: count_out(counts.withdrawn),
        overdue: count_out(counts.overdue),
        hours_to_answer_median: median,
        hours_to_answer_p90: p90,
    })
}

impl InsightsService {
    /// A request's `from` and `to`, both required, checked.
    fn period(
        &self,
        from: &Option<prost_types::Timestamp>,
        to: &Option<prost_types::Timestamp>,
    ) -> Result<Period, AppError> {
        self.app
            .insights
            .period(optional_time("from", from)?, optional_time("to", to)?)
    }
}

#[tonic::async_trait]
impl pb::insights_server::Insights for InsightsService {
    async fn placement_request_figures(
        &self,
        request: Request<pb::PlacementRequestFiguresRequest>,
    ) -> Result<Response<pb::PlacementRequestFiguresResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let period = self.period(&request.from, &request.to)?;
        let (revision, figures, discipline) = self
            .app
            .insights
            .placement_request_figures(&caller, &request.region_id, period)
            .await?;
        Ok(Response::new(pb::PlacementRequestFiguresResponse {
            region_id: request.region_id,
            revision: revision.0,
            total: request_counts_out(figures.total),
            refused_by_reason: figures
                .refused_by_reason
                .into_iter()
                .map(|(reason, count)| pb::RefusalReasonCount {
                    reason: refusal_reason_out(reason) as i32,
                    refused: count_out(count),
                })
                .collect(),
            by_provider: figures
                .by_provider
                .into_iter()
                .map(|(provider, counts)| pb::ProviderPlacementRequests {
                    provider_id: provider.as_str().to_owned(),
                    counts: request_counts_out(counts),
                })
                .collect(),
            by_place_type: figures
                .by_place_type
                .into_iter()
                .map(|(place_type, counts)| pb::PlaceTypePlacementRequests {
                    place_type: place_type_out(place_type) as i32,
                    counts: request_counts_out(counts),
                })
                .collect(),
            update_discipline: discipline
                .into_iter()
                .map(|d| pb::UpdateDiscipline {
                    provider_id: d.provider.as_str().to_owned(),
                    offerings: d.offerings,
                    fresh_share: d.fresh_share,
                    longest_stale_hours: d.longest_stale.num_seconds() as f64 / 3600.0,
                    stale_at_end: d.stale_at_end,
                })
                .collect(),
        }))
    }

    async fn consultation_figures(
        &self,
        request: Request<pb::ConsultationFiguresRequest>,
    ) -> Result<Response<pb::ConsultationFiguresResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let period = self.period(&request.from, &request.to)?;
        let (revision, figures) = self
            .app
            .insights
            .consultation_figures(&caller, &request.region_id, period)
            .await?;
        Ok(Response::new(pb::ConsultationFiguresResponse {
            region_id: request.region_id,
            revision: revision.0,
            total: consultation_counts_out(figures.total),
            by_urgency: figures
                .by_urgency
                .into_iter()
                .map(|(urgency, counts)| pb::UrgencyConsultations {
                    urgency: urgency_out(urgency) as i32,
                    counts: consultation_counts_out(counts),
                })
                .collect(),
            by_problem_domain: figures
                .by_problem_domain
                .into_iter()
                .map(|(domain, counts)| pb::ProblemDomainConsultations {
                    problem_domain: problem_domain_out(domain) as i32,
                    counts: consultation_counts_out(counts),
                })
                .collect(),
            declined_by_reason: figures
                .declined_by_reason
                .into_iter()
                .map(|(reason, count)| pb::DeclineReasonCount {
                    reason: decline_reason_out(reason) as i32,
                    declined: count_out(count),
                })
                .collect(),
        }))
    }

    async fn placement_figures(
        &self,
        request: Request<pb::PlacementFiguresRequest>,
    ) -> Result<Response<pb::PlacementFiguresResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let period = self.period(&request.from, &request.to)?;
        let (revision, rows) = self
            .app
            .insights
            .placement_figures(&caller, &request.region_id, period)
            .await?;
        let secure_outside_province = rows
            .iter()
            .find(|r| r.place_type == PlaceType::SecureResidential)
            .map_or(Count::Shown(0), |r| r.outside_province);
        Ok(Response::new(pb::PlacementFiguresResponse {
            region_id: request.region_id,
            revision: revision.0,
            rows: rows.into_iter().map(placement_out).collect(),
            secure_outside_province: count_out(secure_outside_province),
        }))
    }

    async fn unmet_demand(
        &self,
        request: Request<pb::UnmetDemandRequest>,
    ) -> Result<Response<pb::UnmetDemandResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let period = self.period(&request.from, &request.to)?;
        let (revision, weeks) = self
            .app
            .insights
            .unmet_demand(&caller, &request.region_id, period)
            .await?;
        Ok(Response::new(pb::UnmetDemandResponse {
            region_id: request.region_id,
            revision: revision.0,
            weeks: weeks.into_iter().map(unmet_week_out).collect(),
        }))
    }

    async fn capacity_overview(
        &self,
        request: Request<pb::CapacityOverviewRequest>,
    ) -> Result<Response<pb::CapacityOverviewResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let as_of = optional_time("as_of", &request.as_of)?;
        let grouping = Grouping {
            by_care_profile: request.by_care_profile,
            by_age_band: request.by_age_band,
        };
        let (revision, snapshot) = self
            .app
            .insights
            .capacity_overview(&caller, &request.region_id, as_of, grouping)
            .await?;
        Ok(Response::new(pb::CapacityOverviewResponse {
            region_id: request.region_id,
            as_of: Some(timestamp(snapshot.at)),
            revision: revision.0,
            figures: snapshot.figures.into_iter().map(capacity_out).collect(),
        }))
    }

    async fn capacity_trend(
        &self,
        request: Request<pb::CapacityTrendRequest>,
    ) -> Result<Response<pb::CapacityTrendResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let bucket = bucket_in(request.bucket)?;
        let period = self.period(&request.from, &request.to)?;
        let series = self
            .app
            .insights
            .capacity_trend(&caller, &request.region_id, period, bucket)
            .await?;
        Ok(Response::new(pb::CapacityTrendResponse {
            region_id: request.region_id,
            revision: series.revision.0,
            points: series
                .points
                .into_iter()
                .map(|Snapshot { at, figures }| pb::CapacityTrendPoint {
                    at: Some(timestamp(at)),
                    figures: figures.into_iter().map(capacity_out).collect(),
                })
                .collect(),
        }))
    }

    async fn waiting_times(
        &self,
        request: Request<pb::WaitingTimesRequest>,
    ) -> Result<Response<pb::WaitingTimesResponse>, Status> {
        let caller = caller(&request)?;
        let request = request.into_inner();
        let as_of = optional_time("as_of", &request.as_of)?;
        let from = optional_time("from", &request.from)?;
        let to = optional_time("to", &request.to)?;
        let period: Option<Period> = match (from, to) {
            (None, None) => None,
            (from, to) => Some(self.app.insights.period(from, to)?),
        };
        let (revision, now, weekly) = self
            .app
            .insights
            .waiting_times(&caller, &request.region_id, as_of, period)
            .await?;
        Ok(Response::new(pb::WaitingTimesResponse {
            region_id: request.region_id,
            as_of: Some(timestamp(now.at)),
            revision: revision.0,
            figures: now.figures.into_iter().map(waiting_out).collect(),
            weekly: weekly
                .into_iter()
                .map(|Snapshot { at, figures }| pb::WaitingTimesPoint {
                    at: Some(timestamp(at)),
                    figures: figures.into_iter().map(waiting_out).collect(),
                })
                .collect(),
        }))
    }
}
