//! Reads of the history regional figures are computed from: publications in
//! force at a moment (one index seek per offering), publications and holds
//! of a period (index ranges), never a scan of all history.

use super::codes::{code, decode, hold_state, millis, parsed, place_type_bits, time};
use super::entities::{
    consultation, consultation_transition, hold, offering, offering_publication, provider_request,
    unmet_demand,
};
use super::{Store, StoreError, Timed};
use crate::domain::capacity::{AgeBand, CareProfiles, ChildAge, PlaceType};
use crate::domain::consultation::{
    ConsultationState, DeclineReason, ProblemDomains, Urgency, is_overdue,
};
use crate::domain::hold::{Hold, HoldState};
use crate::domain::identity::OrgId;
use crate::domain::insights::{
    ConsultationRecord, HoldRecord, ProviderRequestRecord, PublicationRecord, UnmetRecord,
};
use crate::domain::placement::{ProviderRequestState, RefusalReason};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, JoinType, Order, Query};
use sea_orm::{
    ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::HashMap;

impl Store {
    /// For every offering of `region_id`, the publication in force at `at`.
    pub async fn publications_in_force(
        &self,
        region_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<PublicationRecord>, StoreError> {
        let _timed = Timed::start("publications_in_force");
        let (p, q, o) = (Alias::new("p"), Alias::new("q"), Alias::new("o"));
        use offering_publication::Column as P;
        // The latest publication of offering `o` at `at`: the in-force index
        // answers it with one seek.
        let latest = Query::select()
            .column((q.clone(), P::Revision))
            .from_as(offering_publication::Entity, q.clone())
            .and_where(
                Expr::col((q.clone(), P::OfferingId)).equals((o.clone(), offering::Column::Id)),
            )
            .and_where(Expr::col((q.clone(), P::PublishedAtMs)).lte(millis(at)))
            .order_by((q.clone(), P::PublishedAtMs), Order::Desc)
            .order_by((q.clone(), P::Revision), Order::Desc)
            .limit(1)
            .to_owned();
        let query = Query::select()
            .column((p.clone(), Asterisk))
            .from_as(offering::Entity, o.clone())
            .join_as(
                JoinType::InnerJoin,
                offering_publication::Entity,
                p.clone(),
                Expr::col((p.clone(), P::OfferingId)).equals((o.clone(), offering::Column::Id)),
            )
            .and_where(Expr::col((o.clone(), offering::Column::RegionId)).eq(region_id))
            .and_where(Expr::col((p.clone(), P::Revision)).in_subquery(latest))
            .to_owned();
        let statement = self.reader.get_database_backend().build(&query);
        let rows = offering_publication::Model::find_by_statement(statement)
            .all(&self.reader)
            .await?;
        rows.into_iter().map(record).collect()
    }

    /// The publications in `region_id` after `from`, up to and including `to`.
    pub async fn publications_between(
        &self,
        region_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<PublicationRecord>, StoreError> {
        let _timed = Timed::start("publications_between");
        let rows = offering_publication::Entity::find()
            .filter(offering_publication::Column::RegionId.eq(region_id))
            .filter(offering_publication::Column::PublishedAtMs.gt(millis(from)))
            .filter(offering_publication::Column::PublishedAtMs.lte(millis(to)))
            .order_by_asc(offering_publication::Column::PublishedAtMs)
            .order_by_asc(offering_publication::Column::Revision)
            .all(&self.reader)
            .await?;
        rows.into_iter().map(record).collect()
    }

    /// The holds on offerings of `region_id` made from `from` to `to`.
    pub async fn holds_made_between(
        &self,
        region_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HoldRecord>, StoreError> {
        let _timed = Timed::start("holds_made_between");
        let in_region = offering::Entity::find()
            .select_only()
            .column(offering::Column::Id)
            .filter(offering::Column::RegionId.eq(region_id))
            .into_query();
        let rows = hold::Entity::find()
            .filter(hold::Column::CreatedAtMs.gte(millis(from)))
            .filter(hold::Column::CreatedAtMs.lte(millis(to)))
            .filter(hold::Column::OfferingId.in_subquery(in_region))
            .all(&self.reader)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(HoldRecord {
                    confirmed: row.state == hold_state(HoldState::Confirmed),
                    created_at: time(row.created_at_ms)?,
                    expires_at: time(row.expires_at_ms)?,
                    ended_at: row.ended_at_ms.map(time).transpose()?,
                    offering_id: row.offering_id,
                })
            })
            .collect()
    }
}

impl Store {
    /// Unmet-demand signals counted for `region_id` from `from` until `to`.
    pub async fn unmet_demand_between(
        &self,
        region_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UnmetRecord>, StoreError> {
        let _timed = Timed::start("unmet_demand_between");
        let rows = unmet_demand::Entity::find()
            .filter(unmet_demand::Column::RegionId.eq(region_id))
            .filter(unmet_demand::Column::AtMs.gte(millis(from)))
            .filter(unmet_demand::Column::AtMs.lt(millis(to)))
            .all(&self.reader)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(UnmetRecord {
                    at: time(row.at_ms)?,
                    place_types: PlaceType::ALL
                        .into_iter()
                        .filter(|t| row.place_types & place_type_bits(&[*t]) != 0)
                        .collect(),
                    care_profiles: parsed(
                        CareProfiles::from_bits(row.care_profiles as u8),
                        "care profiles",
                    )?,
                    child_age: row
                        .child_age
                        .map(|age| parsed(ChildAge::parse(age as u32), "child age"))
                        .transpose()?,
                    child_municipality: row.child_municipality_code,
                })
            })
            .collect()
    }
}

/// A hold with its offering's place type and region.
pub struct HoldWithPlace {
    pub hold: Hold,
    pub place_type: PlaceType,
    pub region_id: String,
}

impl Store {
    /// The holds made from `from` until `to` for children living in
    /// `municipalities`, with where their places were.
    pub async fn holds_for_children_of(
        &self,
        municipalities: &[&str],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HoldWithPlace>, StoreError> {
        let _timed = Timed::start("holds_for_children_of");
        let rows = hold::Entity::find()
            .filter(hold::Column::CreatedAtMs.gte(millis(from)))
            .filter(hold::Column::CreatedAtMs.lt(millis(to)))
            .filter(hold::Column::ChildMunicipalityCode.is_in(municipalities.iter().copied()))
            .find_also_related(offering::Entity)
            .all(&self.reader)
            .await?;
        rows.into_iter()
            .map(|(hold, offering)| {
                let offering = offering.ok_or_else(|| {
                    StoreError::Corrupt(format!("hold {} without its offering", hold.id))
                })?;
                Ok(HoldWithPlace {
                    place_type: decode(&PlaceType::ALL, offering.place_type, "place type")?,
                    region_id: offering.region_id,
                    hold: hold.into_domain()?,
                })
            })
            .collect()
    }
}

impl Store {
    /// Consultations filed from `from` until `to` for children living in
    /// `municipalities` (escalations count with the case they continue),
    /// reduced to what the figures need.
    pub async fn consultations_for_children_of(
        &self,
        municipalities: &[&str],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConsultationRecord>, StoreError> {
        let _timed = Timed::start("consultations_for_children_of");
        let cases = consultation::Entity::find()
            .filter(consultation::Column::FiledAtMs.gte(millis(from)))
            .filter(consultation::Column::FiledAtMs.lt(millis(to)))
            .filter(consultation::Column::MunicipalityCode.is_in(municipalities.iter().copied()))
            .filter(consultation::Column::EscalatedFromId.is_null())
            .all(&self.reader)
            .await?;
        let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        ids.extend(cases.iter().filter_map(|c| c.escalated_to_id.as_deref()));
        let milestones = [
            ConsultationState::Accepted,
            ConsultationState::AdviceGiven,
            ConsultationState::Declined,
        ]
        .map(|state| code(&ConsultationState::ALL, state));
        let transitions = consultation_transition::Entity::find()
            .filter(consultation_transition::Column::ConsultationId.is_in(ids.iter().copied()))
            .filter(consultation_transition::Column::ToState.is_in(milestones))
            .order_by_asc(consultation_transition::Column::AtMs)
            .all(&self.reader)
            .await?;
        // The first transition of each consultation into each milestone
        // (rows come in time order).
        let mut milestone: HashMap<(&str, i32), &consultation_transition::Model> = HashMap::new();
        for t in &transitions {
            milestone
                .entry((t.consultation_id.as_str(), t.to_state))
                .or_insert(t);
        }
        let first = |id: &str, state: ConsultationState| {
            milestone
                .get(&(id, code(&ConsultationState::ALL, state)))
                .copied()
        };
        cases
            .iter()
            .map(|case| {
                let state = decode(&ConsultationState::ALL, case.state, "state")?;
                let advised = first(&case.id, ConsultationState::AdviceGiven).or_else(|| {
                    case.escalated_to_id
                        .as_deref()
                        .and_then(|next| first(next, ConsultationState::AdviceGiven))
                });
                Ok(ConsultationRecord {
                    urgency: decode(&Urgency::ALL, case.urgency, "urgency")?,
                    problem_domains: parsed(
                        ProblemDomains::from_bits(case.problem_domains as u16),
                        "problem domains",
                    )?,
                    filed_at: time(case.filed_at_ms)?,
                    accepted_at: first(&case.id, ConsultationState::Accepted)
                        .map(|t| time(t.at_ms))
                        .transpose()?,
                    advised_at: advised.map(|t| time(t.at_ms)).transpose()?,
                    declined: first(&case.id, ConsultationState::Declined)
                        .map(|t| decode(&DeclineReason::ALL, t.decline_reason, "decline reason"))
                        .transpose()?,
                    escalated: case.escalated_to_id.is_some(),
                    overdue: is_overdue(state, time(case.answer_due_at_ms)?, now),
                })
            })
            .collect()
    }
}

fn record(row: offering_publication::Model) -> Result<PublicationRecord, StoreError> {
    Ok(PublicationRecord {
        place_type: decode(&PlaceType::ALL, row.place_type, "place type")?,
        care_profiles: parsed(
            CareProfiles::from_bits(row.care_profiles as u8),
            "care profiles",
        )?,
        age_band: parsed(
            AgeBand::new(row.age_min as u32, row.age_max as u32),
            "age band",
        )?,
        total_places: row.total_places as u32,
        free_places: row.free_places as u32,
        waiting_days: row.waiting_days as u32,
        observed_at: time(row.observed_at_ms)?,
        published_at: time(row.published_at_ms)?,
        offering_id: row.offering_id,
    })
}

impl Store {
    /// The providers asked to take a child from one of `municipalities`,
    /// in requests sent from `from` until `to`, each as it stands at `now`.
    pub async fn provider_requests_for_children_of(
        &self,
        municipalities: &[&str],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ProviderRequestRecord>, StoreError> {
        let _timed = Timed::start("provider_requests_for_children_of");
        let rows = provider_request::Entity::find()
            .filter(provider_request::Column::CreatedAtMs.gte(millis(from)))
            .filter(provider_request::Column::CreatedAtMs.lt(millis(to)))
            .filter(
                provider_request::Column::ChildMunicipalityCode
                    .is_in(municipalities.iter().copied()),
            )
            .all(&self.reader)
            .await?;
        let offerings: HashMap<String, i32> = offering::Entity::find()
            .select_only()
            .column(offering::Column::Id)
            .column(offering::Column::PlaceType)
            .filter(offering::Column::Id.is_in(rows.iter().map(|r| r.offering_id.as_str())))
            .into_tuple::<(String, i32)>()
            .all(&self.reader)
            .await?
            .into_iter()
            .collect();
        rows.into_iter()
            .map(|row| {
                let stored = decode(
                    &ProviderRequestState::STORED,
                    row.state,
                    "provider request state",
                )?;
                let answer_due = time(row.answer_due_ms)?;
                let state = if stored == ProviderRequestState::Open && now >= answer_due {
                    ProviderRequestState::Overdue
                } else {
                    stored
                };
                let place_type = offerings.get(&row.offering_id).ok_or_else(|| {
                    StoreError::Corrupt(format!("offering {} gone", row.offering_id))
                })?;
                Ok(ProviderRequestRecord {
                    provider: parsed(OrgId::parse(&row.provider_id), "provider id")?,
                    place_type: decode(&PlaceType::ALL, *place_type, "place type")?,
                    created_at: time(row.created_at_ms)?,
                    answer_due,
                    state,
                    refusal: row
                        .refusal_reason
                        .map(|reason| decode(&RefusalReason::ALL, reason, "refusal reason"))
                        .transpose()?,
                    answered_at: row.answered_at_ms.map(time).transpose()?,
                })
            })
            .collect()
    }

    /// Which provider each offering of `region_id` belongs to.
    pub async fn offering_providers(
        &self,
        region_id: &str,
    ) -> Result<HashMap<String, OrgId>, StoreError> {
        let rows: Vec<(String, String)> = offering::Entity::find()
            .select_only()
            .column(offering::Column::Id)
            .column(offering::Column::ProviderId)
            .filter(offering::Column::RegionId.eq(region_id))
            .into_tuple()
            .all(&self.reader)
            .await?;
        rows.into_iter()
            .map(|(offering, provider)| {
                Ok((offering, parsed(OrgId::parse(&provider), "provider id")?))
            })
            .collect()
    }
}
