//! Regional figures: who may read which region's, and the history reads
//! that feed the pure computations in `domain::insights`.

use super::{AppError, DirectorySnapshot, InsightUseCases};
use crate::domain::authz::Action;
use crate::domain::capacity::Revision;
use crate::domain::identity::{Caller, Role};
use crate::domain::insights::{
    CapacityFigures, ConsultationFigures, Grouping, HistoryReplay, HoldIndex, MAX_BUCKETS,
    PlacementFigures, PlacementRecord, PlacementRequestFigures, UnmetWeek, UpdateDiscipline,
    WaitingFigures, bucket_ends, capacity_at, consultation_figures, holds_needed_from,
    placement_figures, placement_request_figures, unmet_demand_by_week, update_discipline,
    waiting_at,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// Figures at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot<T> {
    pub at: DateTime<Utc>,
    pub figures: Vec<T>,
}

/// A series of figures, with the registry revision it was drawn from.
#[derive(Debug, Clone)]
pub struct Series<T> {
    pub revision: Revision,
    pub points: Vec<Snapshot<T>>,
}

/// A period of a request, checked: `from` before `to`, `to` not in the future.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl InsightUseCases {
    /// Refuses unless the caller may read `region_id`'s figures: the
    /// operator any region's, a region its own, a supra-regional network
    /// those of the regions it serves.
    fn authorise_region(&self, caller: &Caller, region_id: &str) -> Result<(), AppError> {
        self.authorise(caller, Action::ReadInsights)?;
        if !self.directory().regions.iter().any(|r| r.id == region_id) {
            return Err(AppError::invalid(
                "region_id",
                format!("unknown region {region_id:?}"),
            ));
        }
        let org = &caller.org;
        if org.has_role(Role::Admin)
            || (org.has_role(Role::Region) && org.home_region_id == region_id)
            || (org.has_role(Role::SupraRegionalNetwork)
                && org.served_region_ids.contains(region_id))
        {
            Ok(())
        } else {
            Err(AppError::PermissionDenied(format!(
                "{} may not read the figures of region {region_id}",
                org.id.as_str(),
            )))
        }
    }

    /// `as_of`, or now; never in the future.
    fn moment(&self, as_of: Option<DateTime<Utc>>, field: &str) -> Result<DateTime<Utc>, AppError> {
        let now = self.clock.now();
        match as_of {
            Some(at) if at > now => Err(AppError::invalid(field, "must not be in the future")),
            Some(at) => Ok(at),
            None => Ok(now),
        }
    }

    /// Checks a period: both ends given, in order, not ending in the future.
    pub fn period(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Period, AppError> {
        let from = from.ok_or_else(|| AppError::invalid("from", "a period needs a start"))?;
        let to = to.ok_or_else(|| AppError::invalid("to", "a period needs an end"))?;
        if from > self.clock.now() {
            return Err(AppError::invalid("from", "must not be in the future"));
        }
        if from >= to {
            return Err(AppError::invalid("to", "must be after from"));
        }
        if to > self.clock.now() {
            return Err(AppError::invalid("to", "must not be in the future"));
        }
        Ok(Period { from, to })
    }

    pub async fn capacity_overview(
        &self,
        caller: &Caller,
        region_id: &str,
        as_of: Option<DateTime<Utc>>,
        grouping: Grouping,
    ) -> Result<(Revision, Snapshot<CapacityFigures>), AppError> {
        self.authorise_region(caller, region_id)?;
        let at = self.moment(as_of, "as_of")?;
        let revision = self.store.current_revision().await?;
        let policy = self.settings.freshness;
        let in_force = self.store.publications_in_force(region_id, at).await?;
        let holds = self
            .store
            .holds_made_between(region_id, holds_needed_from(at, &policy), at)
            .await?;
        let figures = capacity_at(&in_force, &HoldIndex::new(&holds), &policy, at, grouping);
        Ok((revision, Snapshot { at, figures }))
    }

    /// Capacity per place type at the end of each bucket of `period`.
    pub async fn capacity_trend(
        &self,
        caller: &Caller,
        region_id: &str,
        period: Period,
        bucket: Duration,
    ) -> Result<Series<CapacityFigures>, AppError> {
        self.authorise_region(caller, region_id)?;
        let ends = buckets(period, bucket, "bucket")?;
        let revision = self.store.current_revision().await?;
        let policy = self.settings.freshness;
        let mut replay = self.replay(region_id, period).await?;
        let holds = self
            .store
            .holds_made_between(
                region_id,
                holds_needed_from(period.from, &policy),
                period.to,
            )
            .await?;
        let holds = HoldIndex::new(&holds);
        let points = ends
            .into_iter()
            .map(|at| Snapshot {
                at,
                figures: capacity_at(
                    replay.advance_to(at),
                    &holds,
                    &policy,
                    at,
                    Grouping::default(),
                ),
            })
            .collect();
        Ok(Series { revision, points })
    }

    /// Waiting times at `as_of` (or now), and weekly over `period` if given.
    pub async fn waiting_times(
        &self,
        caller: &Caller,
        region_id: &str,
        as_of: Option<DateTime<Utc>>,
        period: Option<Period>,
    ) -> Result<
        (
            Revision,
            Snapshot<WaitingFigures>,
            Vec<Snapshot<WaitingFigures>>,
        ),
        AppError,
    > {
        self.authorise_region(caller, region_id)?;
        let at = self.moment(as_of, "as_of")?;
        let revision = self.store.current_revision().await?;
        let policy = self.settings.freshness;
        let in_force = self.store.publications_in_force(region_id, at).await?;
        let now = Snapshot {
            at,
            figures: waiting_at(&in_force, &policy, at),
        };
        let mut weekly = Vec::new();
        if let Some(period) = period {
            let ends = buckets(period, Duration::weeks(1), "to")?;
            let mut replay = self.replay(region_id, period).await?;
            weekly = ends
                .into_iter()
                .map(|at| Snapshot {
                    at,
                    figures: waiting_at(replay.advance_to(at), &policy, at),
                })
                .collect();
        }
        Ok((revision, now, weekly))
    }

    /// Unmet searches for the region, per week of `period`, suppressed.
    pub async fn unmet_demand(
        &self,
        caller: &Caller,
        region_id: &str,
        period: Period,
    ) -> Result<(Revision, Vec<UnmetWeek>), AppError> {
        self.authorise_region(caller, region_id)?;
        let revision = self.store.current_revision().await?;
        let records = self
            .store
            .unmet_demand_between(region_id, period.from, period.to)
            .await?;
        let weeks = unmet_demand_by_week(&records, period.from, period.to).ok_or_else(|| {
            AppError::invalid(
                "from",
                format!("the period has more than {MAX_BUCKETS} weeks"),
            )
        })?;
        Ok((revision, weeks))
    }

    /// Holds for the region's children made in `period`, per place type.
    pub async fn placement_figures(
        &self,
        caller: &Caller,
        region_id: &str,
        period: Period,
    ) -> Result<(Revision, Vec<PlacementFigures>), AppError> {
        self.authorise_region(caller, region_id)?;
        let revision = self.store.current_revision().await?;
        let now = self.clock.now();
        let directory = self.directory();
        let provinces: HashMap<&str, &str> = directory
            .regions
            .iter()
            .map(|r| (r.id.as_str(), r.province.as_str()))
            .collect();
        let province_of = |region: &str| provinces.get(region).copied();
        let home_province = province_of(region_id);
        let municipalities = municipalities_of(&directory, region_id);
        let holds = self
            .store
            .holds_for_children_of(&municipalities, period.from, period.to)
            .await?;
        let records: Vec<PlacementRecord> = holds
            .into_iter()
            .map(|h| PlacementRecord {
                place_type: h.place_type,
                outcome: h.hold.state_at(now),
                created_at: h.hold.created_at,
                ended_at: h.hold.ended_at,
                outside_region: h.region_id != region_id,
                outside_province: province_of(&h.region_id) != home_province,
            })
            .collect();
        Ok((revision, placement_figures(&records)))
    }

    /// Consultations for the region's children filed in `period`.
    pub async fn consultation_figures(
        &self,
        caller: &Caller,
        region_id: &str,
        period: Period,
    ) -> Result<(Revision, ConsultationFigures), AppError> {
        self.authorise_region(caller, region_id)?;
        let revision = self.store.current_revision().await?;
        let directory = self.directory();
        let municipalities = municipalities_of(&directory, region_id);
        let records = self
            .store
            .consultations_for_children_of(
                &municipalities,
                period.from,
                period.to,
                self.clock.now(),
            )
            .await?;
        Ok((revision, consultation_figures(&records)))
    }

    /// The acceptance duty for the region's children in `period`: the
    /// providers asked, their answers and refusals by reason, suppressed;
    /// and how each provider with offerings in the region kept them fresh.
    pub async fn placement_request_figures(
        &self,
        caller: &Caller,
        region_id: &str,
        period: Period,
    ) -> Result<(Revision, PlacementRequestFigures, Vec<UpdateDiscipline>), AppError> {
        self.authorise_region(caller, region_id)?;
        let revision = self.store.current_revision().await?;
        let directory = self.directory();
        let municipalities = municipalities_of(&directory, region_id);
        let records = self
            .store
            .provider_requests_for_children_of(
                &municipalities,
                period.from,
                period.to,
                self.clock.now(),
            )
            .await?;
        let at_start = self
            .store
            .publications_in_force(region_id, period.from)
            .await?;
        let during = self
            .store
            .publications_between(region_id, period.from, period.to)
            .await?;
        let providers = self.store.offering_providers(region_id).await?;
        let discipline = update_discipline(
            &at_start,
            &during,
            &providers,
            &self.settings.freshness,
            period.from,
            period.to,
        );
        Ok((revision, placement_request_figures(&records), discipline))
    }

    async fn replay(&self, region_id: &str, period: Period) -> Result<HistoryReplay, AppError> {
        let at_start = self
            .store
            .publications_in_force(region_id, period.from)
            .await?;
        let during = self
            .store
            .publications_between(region_id, period.from, period.to)
            .await?;
        Ok(HistoryReplay::new(at_start, during))
    }
}

/// The codes of the region's municipalities.
fn municipalities_of<'a>(directory: &'a DirectorySnapshot, region_id: &str) -> Vec<&'a str> {
    directory
        .municipalities
        .values()
        .filter(|m| m.region_id == region_id)
        .map(|m| m.code.as_str())
        .collect()
}

fn buckets(period: Period, bucket: Duration, field: &str) -> Result<Vec<DateTime<Utc>>, AppError> {
    bucket_ends(period.from, period.to, bucket).ok_or_else(|| {
        AppError::invalid(
            field,
            format!("the period has more than {MAX_BUCKETS} buckets: choose a longer bucket or a shorter period"),
        )
    })
}
