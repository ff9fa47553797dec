//! The capacity registry's rows: locations, publications, holds and the
//! change log. Every write here goes through `Store::write`.

mod locations;
mod log;

use super::codes::{self, code, hold_state, millis, place_type};
use super::entities::{
    capacity_event, hold, location, municipality, offering, offering_publication, publish_request,
    unmet_demand,
};
use super::events::CapacityEvent;
use super::{Store, StoreError, WriteError};
use crate::domain::authz::Scope;
use crate::domain::capacity::{
    FreshnessPolicy, GenderPolicy, Intake, Location, LocationSpec, Offering, OfferingUpdate,
    Revision, SecurityLevel,
};
use crate::domain::hold::{self as rules, Hold, HoldRequest, HoldState, Refusal, Transition};
use crate::domain::identity::OrgId;
use crate::domain::search::SearchFilter;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, FromQueryResult, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use std::collections::{BTreeSet, HashMap};

/// What a publication returned: its revision and the offerings as now stored.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    pub revision: Revision,
    pub offerings: Vec<Offering>,
}

/// A hold and whether it was made now or found as the answer to a retry.
#[derive(Debug, Clone)]
pub struct HoldOutcome {
    pub hold: Hold,
    pub replayed: bool,
}

/// Every offering change committed at one revision.
#[derive(Debug, Clone)]
pub struct RevisionBatch {
    pub revision: Revision,
    pub offerings: Vec<Offering>,
}

/// When the active, unexpired holds run out, per offering.
type HoldsUntil = HashMap<String, Vec<i64>>;

/// The offering and expiry of active, unexpired holds, of the given
/// offerings or of all; one index range per offering
/// (`ix_holds_offering_running`).
fn active_holds_query(
    offering_ids: Option<&[&str]>,
    now: DateTime<Utc>,
) -> sea_orm::Select<hold::Entity> {
    let mut query = hold::Entity::find()
        .select_only()
        .column(hold::Column::OfferingId)
        .column(hold::Column::ExpiresAtMs)
        .filter(hold::Column::State.eq(hold_state(HoldState::Active)))
        .filter(hold::Column::ExpiresAtMs.gt(millis(now)));
    if let Some(ids) = offering_ids {
        query = query.filter(hold::Column::OfferingId.is_in(ids.iter().copied()));
    }
    query
}

async fn active_holds(
    db: &impl ConnectionTrait,
    offering_ids: Option<&[&str]>,
    now: DateTime<Utc>,
) -> Result<HoldsUntil, StoreError> {
    let rows: Vec<(String, i64)> = active_holds_query(offering_ids, now)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_offering = HoldsUntil::new();
    for (id, until) in rows {
        by_offering.entry(id).or_default().push(until);
    }
    Ok(by_offering)
}

/// When one offering's running holds run out.
async fn running_holds_of(
    db: &impl ConnectionTrait,
    offering_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    Ok(active_holds(db, Some(&[offering_id]), now)
        .await?
        .remove(offering_id)
        .unwrap_or_default())
}

fn holds_of<'a>(holds: &'a HoldsUntil, offering_id: &str) -> &'a [i64] {
    holds.get(offering_id).map_or(&[], Vec::as_slice)
}

/// Joins offering rows with their locations and active holds.
fn assemble(
    rows: Vec<(offering::Model, Option<location::Model>)>,
    holds: &HoldsUntil,
) -> Result<Vec<Offering>, StoreError> {
    rows.into_iter()
        .map(|(row, loc)| {
            let loc = loc.ok_or_else(|| {
                StoreError::Corrupt(format!("offering {} has no location", row.id))
            })?;
            let until = holds_of(holds, &row.id).to_vec();
            row.into_domain(loc.into_domain()?, &until)
        })
        .collect()
}

/// An offering's row, its location's and its running holds' expiries.
async fn load_offering_rows(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<(offering::Model, location::Model, Vec<i64>)>, StoreError> {
    let Some((row, loc)) = offering::Entity::find_by_id(id)
        .find_also_related(location::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let loc =
        loc.ok_or_else(|| StoreError::Corrupt(format!("offering {} has no location", row.id)))?;
    let until = running_holds_of(db, id, now).await?;
    Ok(Some((row, loc, until)))
}

async fn load_offering(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Offering>, StoreError> {
    load_offering_rows(db, id, now)
        .await?
        .map(|(row, loc, until)| row.into_domain(loc.into_domain()?, &until))
        .transpose()
}

/// What a hold decides on, in one statement: the offering's row, its
/// location's, and whether `holder` made this request before (the id of
/// that hold); then its running holds' expiries. `None` without the offering.
async fn load_for_hold(
    db: &impl ConnectionTrait,
    holder: &OrgId,
    request: &HoldRequest,
    now: DateTime<Utc>,
) -> Result<Option<(offering::Model, location::Model, Vec<i64>, Option<String>)>, StoreError> {
    let statement = hold_decision_query(holder, request, db.get_database_backend());
    let Some(found) = db.query_one_raw(statement).await? else {
        return Ok(None);
    };
    let row = offering::Model::from_query_result(&found, "A_")?;
    let location = location::Model::from_query_result_optional(&found, "B_")?
        .ok_or_else(|| StoreError::Corrupt(format!("offering {} has no location", row.id)))?;
    let earlier: Option<String> = found.try_get("", "earlier_hold_id")?;
    let until = running_holds_of(db, &row.id, now).await?;
    Ok(Some((row, location, until, earlier)))
}

/// The offering and location of a hold request, and the id of `holder`'s
/// earlier hold with the same request id, as one statement.
fn hold_decision_query(
    holder: &OrgId,
    request: &HoldRequest,
    backend: sea_orm::DbBackend,
) -> sea_orm::Statement {
    let earlier = Query::select()
        .column(hold::Column::Id)
        .from(hold::Entity)
        .and_where(hold::Column::HolderId.eq(holder.as_str()))
        .and_where(hold::Column::RequestId.eq(request.request_id.as_str()))
        .to_owned();
    offering::Entity::find_by_id(request.offering_id.as_str())
        .find_also_related(location::Entity)
        .expr_as(
            Expr::from(earlier.into_sub_query_statement()),
            "earlier_hold_id",
        )
        .build(backend)
}

/// `holder`'s earlier hold made with this request id.
async fn earlier_hold(
    db: &impl ConnectionTrait,
    holder: &OrgId,
    request: &HoldRequest,
) -> Result<Option<hold::Model>, StoreError> {
    Ok(hold::Entity::find()
        .filter(hold::Column::HolderId.eq(holder.as_str()))
        .filter(hold::Column::RequestId.eq(request.request_id.as_str()))
        .one(db)
        .await?)
}

/// The answer to a retry: the earlier hold, if the retry asks for the same.
fn replayed(request: &HoldRequest, earlier: hold::Model) -> Result<HoldOutcome, WriteError> {
    let earlier = earlier.into_domain()?;
    rules::replay(request, &earlier)?;
    Ok(HoldOutcome {
        hold: earlier,
        replayed: true,
    })
}

/// Appends an offering's new state to the change log under `revision`.
async fn append_event(
    txn: &DatabaseTransaction,
    revision: Revision,
    row: &offering::Model,
    holds_until_ms: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let payload = CapacityEvent::new(row, holds_until_ms);
    capacity_event::ActiveModel {
        revision: Set(revision.0 as i64),
        offering_id: Set(row.id.clone()),
        payload: Set(payload.encode()),
        at_ms: Set(millis(now)),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Moves an offering to `revision` after a hold ended, adds `placed`
/// placements, and logs its new state.
pub(super) async fn touch_offering(
    txn: &DatabaseTransaction,
    offering_id: &str,
    revision: Revision,
    placed: i32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let saved = offering::Entity::update_many()
        .col_expr(offering::Column::Revision, Expr::value(revision.0 as i64))
        .col_expr(
            offering::Column::PlacedSincePublication,
            Expr::col(offering::Column::PlacedSincePublication).add(placed),
        )
        .filter(offering::Column::Id.eq(offering_id))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or_else(|| StoreError::Corrupt(format!("hold on missing offering {offering_id}")))?;
    let until = running_holds_of(txn, offering_id, now).await?;
    append_event(txn, revision, &saved, &until, now).await
}

impl Store {
    /// Applies one provider's publication atomically under a new revision.
    /// A retry with the same request id and fingerprint returns the original
    /// revision and the offerings as they are now, and changes nothing.
    pub async fn publish(
        &self,
        provider: &OrgId,
        request_id: &str,
        fingerprint: &str,
        updates: &[OfferingUpdate],
        now: DateTime<Utc>,
    ) -> Result<PublishOutcome, WriteError> {
        self.write("publish", async |write| {
            let txn = write.txn();
            if let Some(earlier) = publish_request::Entity::find_by_id((
                provider.as_str().to_owned(),
                request_id.to_owned(),
            ))
            .one(txn)
            .await?
            {
                if earlier.fingerprint != fingerprint {
                    return Err(Refusal::RequestIdReused.into());
                }
                let ids: Vec<String> = serde_json::from_str(&earlier.offering_ids)
                    .map_err(|e| StoreError::Corrupt(format!("offering ids: {e}")))?;
                let mut offerings = Vec::with_capacity(ids.len());
                for id in &ids {
                    offerings.extend(load_offering(txn, id, now).await?);
                }
                return Ok(PublishOutcome {
                    revision: Revision(earlier.revision as u64),
                    offerings,
                });
            }

            let location_ids: BTreeSet<&str> =
                updates.iter().map(|u| u.key.location_id.as_str()).collect();
            let locations: HashMap<String, location::Model> = location::Entity::find()
                .filter(location::Column::Id.is_in(location_ids.iter().copied()))
                .all(txn)
                .await?
                .into_iter()
                .map(|l| (l.id.clone(), l))
                .collect();
            for update in updates {
                let location_id = update.key.location_id.as_str();
                let location = locations
                    .get(location_id)
                    .ok_or_else(|| StoreError::NotFound(format!("location {location_id}")))?;
                if location.provider_id != provider.as_str() {
                    return Err(Refusal::NotOwner(location_id.to_owned()).into());
                }
            }

            let revision = write.next_revision().await?;
            let txn = write.txn();
            let mut published = Vec::with_capacity(updates.len());
            for update in updates {
                let location = &locations[update.key.location_id.as_str()];
                published.push(
                    self.publish_one(txn, location, update, revision, now)
                        .await?,
                );
            }

            let ids: Vec<&str> = published.iter().map(|(row, _)| row.id.as_str()).collect();
            publish_request::ActiveModel {
                provider_id: Set(provider.as_str().to_owned()),
                request_id: Set(request_id.to_owned()),
                fingerprint: Set(fingerprint.to_owned()),
                revision: Set(revision.0 as i64),
                offering_ids: Set(serde_json::to_string(&ids).expect("strings serialize")),
                created_at_ms: Set(millis(now)),
            }
            .insert(txn)
            .await?;

            let holds = active_holds(txn, Some(&ids), now).await?;
            let mut offerings = Vec::with_capacity(published.len());
            for (row, location) in published {
                let until = holds_of(&holds, &row.id);
                append_event(txn, revision, &row, until, now).await?;
                offerings.push(row.into_domain(location.into_domain()?, until)?);
            }
            Ok(PublishOutcome {
                revision,
                offerings,
            })
        })
        .await
    }

    async fn publish_one(
        &self,
        txn: &DatabaseTransaction,
        location: &location::Model,
        update: &OfferingUpdate,
        revision: Revision,
        now: DateTime<Utc>,
    ) -> Result<(offering::Model, location::Model), StoreError> {
        let key = &update.key;
        let row = offering::ActiveModel {
            // Kept only when the key is new: an offering keeps its id.
            id: Set(uuid::Uuid::now_v7().to_string()),
            location_id: Set(key.location_id.as_str().to_owned()),
            provider_id: Set(location.provider_id.clone()),
            region_id: Set(location.region_id.clone()),
            place_type: Set(place_type(key.place_type)),
            care_profiles: Set(codes::care_profile_bits(key.care_profiles)),
            age_min: Set(i32::from(key.age_band.min())),
            age_max: Set(i32::from(key.age_band.max())),
            gender_policy: Set(code(&GenderPolicy::ALL, key.gender_policy)),
            security_level: Set(code(&SecurityLevel::ALL, key.security_level)),
            intake: Set(code(&Intake::ALL, update.intake)),
            lead_time_days: Set(update.lead_time_days as i32),
            total_places: Set(update.counts.total() as i32),
            free_places: Set(update.counts.free() as i32),
            waiting_days: Set(update.waiting_days as i32),
            observed_at_ms: Set(millis(update.observed_at)),
            published_at_ms: Set(millis(now)),
            published_revision: Set(revision.0 as i64),
            revision: Set(revision.0 as i64),
            // A publication states the provider's own count: placements made
            // through the hub before it are in that count already.
            placed_since_publication: Set(0),
        };
        // One statement inserts a new offering or updates the one with
        // this key (`ux_offerings_key`).
        let saved = offering::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([
                    offering::Column::LocationId,
                    offering::Column::PlaceType,
                    offering::Column::CareProfiles,
                    offering::Column::AgeMin,
                    offering::Column::AgeMax,
                    offering::Column::GenderPolicy,
                    offering::Column::SecurityLevel,
                ])
                .update_columns([
                    offering::Column::ProviderId,
                    offering::Column::RegionId,
                    offering::Column::Intake,
                    offering::Column::LeadTimeDays,
                    offering::Column::TotalPlaces,
                    offering::Column::FreePlaces,
                    offering::Column::WaitingDays,
                    offering::Column::ObservedAtMs,
                    offering::Column::PublishedAtMs,
                    offering::Column::PublishedRevision,
                    offering::Column::Revision,
                    offering::Column::PlacedSincePublication,
                ])
                .to_owned(),
            )
            .exec_with_returning(txn)
            .await?;
        offering_publication::ActiveModel {
            offering_id: Set(saved.id.clone()),
            revision: Set(saved.published_revision),
            region_id: Set(saved.region_id.clone()),
            place_type: Set(saved.place_type),
            care_profiles: Set(saved.care_profiles),
            age_min: Set(saved.age_min),
            age_max: Set(saved.age_max),
            total_places: Set(saved.total_places),
            free_places: Set(saved.free_places),
            waiting_days: Set(saved.waiting_days),
            observed_at_ms: Set(saved.observed_at_ms),
            published_at_ms: Set(saved.published_at_ms),
        }
        .insert(txn)
        .await?;
        Ok((saved, location.clone()))
    }

    /// One offering with its location and live counts.
    pub async fn offering(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Offering>, StoreError> {
        load_offering(&self.reader, id, now).await
    }

    /// Records a search that found no fresh free place. No person data.
    pub async fn record_unmet_demand(
        &self,
        searcher: &OrgId,
        filter: &SearchFilter,
        region_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        unmet_demand::ActiveModel {
            at_ms: Set(millis(now)),
            searcher_id: Set(searcher.as_str().to_owned()),
            place_types: Set(codes::place_type_bits(&filter.place_types)),
            care_profiles: Set(codes::care_profile_bits(filter.care_profiles)),
            child_age: Set(filter.child_age.map(|a| i32::from(a.years()))),
            region_ids: Set(filter.region_ids.join(",")),
            child_municipality_code: Set(filter
                .child_municipality
                .as_ref()
                .map(|m| m.as_str().to_owned())),
            region_id: Set(region_id.map(str::to_owned)),
            ..Default::default()
        }
        .insert(&self.writer)
        .await?;
        Ok(())
    }

    /// How many unmet-demand signals were recorded; for tests and figures.
    pub async fn unmet_demand_count(&self) -> Result<u64, StoreError> {
        Ok(unmet_demand::Entity::find().count(&self.reader).await?)
    }

    /// Holds one place, if the offering is fresh and has one free
    /// (`hold::may_grant`, judged under the lock). Retries with the same
    /// request id return the original hold and change nothing.
    pub async fn hold(
        &self,
        holder: &OrgId,
        request: &HoldRequest,
        policy: &FreshnessPolicy,
        now: DateTime<Utc>,
    ) -> Result<HoldOutcome, WriteError> {
        self.write_deciding("hold", async |write| {
            let txn = write.txn();
            let Some((row, location, mut holds_until, earlier)) =
                load_for_hold(txn, holder, request, now).await?
            else {
                // No such offering; a retry names the one it held.
                return match earlier_hold(txn, holder, request).await? {
                    Some(earlier) => replayed(request, earlier),
                    None => Err(
                        StoreError::NotFound(format!("offering {}", request.offering_id)).into(),
                    ),
                };
            };
            if earlier.is_some()
                && let Some(earlier) = earlier_hold(txn, holder, request).await?
            {
                return replayed(request, earlier);
            }
            let offering = row
                .clone()
                .into_domain(location.into_domain()?, &holds_until)?;
            rules::may_grant(&offering, policy, now)?;

            let revision = write.next_revision().await?;
            let txn = write.txn();
            let expires_at_ms = millis(now + request.duration.get());
            let hold = hold::ActiveModel {
                id: Set(uuid::Uuid::now_v7().to_string()),
                offering_id: Set(offering.id.clone()),
                provider_id: Set(offering.location.provider_id.as_str().to_owned()),
                holder_id: Set(holder.as_str().to_owned()),
                request_id: Set(request.request_id.as_str().to_owned()),
                child_municipality_code: Set(request.child_municipality.as_str().to_owned()),
                duration_secs: Set(request.duration.get().num_seconds()),
                state: Set(hold_state(HoldState::Active)),
                created_at_ms: Set(millis(now)),
                expires_at_ms: Set(expires_at_ms),
                ended_at_ms: Set(None),
            }
            .insert(txn)
            .await?;
            // Under the registry lock the row read above is the row stored:
            // the offering moves to this revision with one more hold.
            offering::Entity::update_many()
                .col_expr(offering::Column::Revision, Expr::value(revision.0 as i64))
                .filter(offering::Column::Id.eq(row.id.as_str()))
                .exec(txn)
                .await?;
            let row = offering::Model {
                revision: revision.0 as i64,
                ..row
            };
            holds_until.push(expires_at_ms);
            append_event(txn, revision, &row, &holds_until, now).await?;
            Ok(HoldOutcome {
                hold: hold.into_domain()?,
                replayed: false,
            })
        })
        .await
    }

    /// Confirms or releases one of `holder`'s holds. Another organisation's
    /// hold is reported as not found.
    pub async fn end_hold(
        &self,
        holder: &OrgId,
        hold_id: &str,
        confirm: bool,
        now: DateTime<Utc>,
    ) -> Result<Hold, WriteError> {
        let operation = if confirm {
            "confirm_hold"
        } else {
            "release_hold"
        };
        self.write(operation, async |write| {
            let row = hold::Entity::find_by_id(hold_id)
                .one(write.txn())
                .await?
                .filter(|h| h.holder_id == holder.as_str())
                .ok_or_else(|| StoreError::NotFound(format!("hold {hold_id}")))?;
            let current = row.clone().into_domain()?;
            let transition = if confirm {
                current.confirm(now)
            } else {
                current.release(now)
            }?;
            let new_state = match transition {
                // A retry: answered with the hold as it is, nothing written.
                Transition::Unchanged => return Ok(current),
                Transition::To(state) => state,
            };
            let revision = write.next_revision().await?;
            let txn = write.txn();
            let mut active = row.into_active_model();
            active.state = Set(hold_state(new_state));
            active.ended_at_ms = Set(Some(millis(now)));
            let saved = active.update(txn).await?;
            let placed = i32::from(new_state == HoldState::Confirmed);
            touch_offering(txn, &saved.offering_id, revision, placed, now).await?;
            Ok(saved.into_domain()?)
        })
        .await
    }

    /// Marks holds past their expiry as expired, so that watchers hear their
    /// places came back. Availability never waited for this: an active hold
    /// past its time is not counted anywhere. A sweep that finds nothing
    /// under the lock (another replica was first) takes no revision.
    pub async fn expire_holds(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let due = hold::Entity::find()
            .filter(hold::Column::State.eq(hold_state(HoldState::Active)))
            .filter(hold::Column::ExpiresAtMs.lte(millis(now)))
            .count(&self.reader)
            .await?;
        if due == 0 {
            return Ok(0);
        }
        self.write("expire_holds", async |write| {
            let expired = hold::Entity::find()
                .filter(hold::Column::State.eq(hold_state(HoldState::Active)))
                .filter(hold::Column::ExpiresAtMs.lte(millis(now)))
                .limit(1000)
                .all(write.txn())
                .await?;
            if expired.is_empty() {
                return Ok(0);
            }
            let revision = write.next_revision().await?;
            let txn = write.txn();
            let offerings: BTreeSet<String> =
                expired.iter().map(|h| h.offering_id.clone()).collect();
            for row in &expired {
                let ended = row.expires_at_ms;
                let mut active = row.clone().into_active_model();
                active.state = Set(hold_state(HoldState::Expired));
                active.ended_at_ms = Set(Some(ended));
                active.update(txn).await?;
            }
            for offering_id in &offerings {
                touch_offering(txn, offering_id, revision, 0, now).await?;
            }
            Ok(expired.len())
        })
        .await
    }

    /// Holds newest first: those `org` made, or (as a provider) those on its offerings.
    pub async fn list_holds(
        &self,
        org: &OrgId,
        scope: Scope,
        states: &[HoldState],
        now: DateTime<Utc>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Hold>, StoreError> {
        let mut owner = Condition::any();
        if scope.own_locations {
            owner = owner.add(hold::Column::ProviderId.eq(org.as_str()));
        }
        if scope.holds_made {
            owner = owner.add(hold::Column::HolderId.eq(org.as_str()));
        }
        if !scope.own_locations && !scope.holds_made {
            return Ok(Vec::new());
        }
        // A hold's state counts as it is now: an active hold past its time
        // is expired whether or not the sweeper has marked it.
        let active = hold_state(HoldState::Active);
        let mut wanted = Condition::any();
        for state in states {
            wanted = wanted.add(match state {
                HoldState::Active => Condition::all()
                    .add(hold::Column::State.eq(active))
                    .add(hold::Column::ExpiresAtMs.gt(millis(now))),
                HoldState::Expired => Condition::any()
                    .add(hold::Column::State.eq(hold_state(HoldState::Expired)))
                    .add(
                        Condition::all()
                            .add(hold::Column::State.eq(active))
                            .add(hold::Column::ExpiresAtMs.lte(millis(now))),
                    ),
                other => Condition::all().add(hold::Column::State.eq(hold_state(*other))),
            });
        }
        let mut query = hold::Entity::find().filter(owner);
        if !states.is_empty() {
            query = query.filter(wanted);
        }
        query
            .order_by_desc(hold::Column::CreatedAtMs)
            .order_by_desc(hold::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(hold::Model::into_domain)
            .collect()
    }

    /// Every offering and the revision they reflect, read in one transaction.
    pub async fn snapshot(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Revision, Vec<Offering>), StoreError> {
        let txn = self.reader.begin().await?;
        let revision = Revision(super::meta_value(&txn, "revision").await?);
        let rows = offering::Entity::find()
            .find_also_related(location::Entity)
            .order_by_asc(offering::Column::Id)
            .all(&txn)
            .await?;
        let held = active_holds(&txn, None, now).await?;
        txn.commit().await?;
        Ok((revision, assemble(rows, &held)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, QueryTrait, Statement};

    /// How SQLite's planner runs each lookup a hold or a publication makes
    /// under the registry lock. Each must be a range of an index led by the
    /// key it looks up: a plan that reads every active hold, or a whole
    /// table, makes each write slower as the registry's history grows.
    #[tokio::test]
    async fn every_locked_lookup_is_an_index_range_on_its_key() {
        let scratch = crate::store::ScratchStore::new().await;
        let store = &scratch.store;
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time");
        let running = QueryTrait::build(
            &active_holds_query(Some(&["offering-a", "offering-b"]), now),
            DbBackend::Sqlite,
        );
        let lookups: [(&str, Statement, &str); 5] = [
            (
                "running holds of offerings",
                running,
                "ix_holds_offering_running (offering_id=? AND state=? AND expires_at_ms>?)",
            ),
            (
                "a hold by its request id",
                QueryTrait::build(
                    &hold::Entity::find()
                        .filter(hold::Column::HolderId.eq("org"))
                        .filter(hold::Column::RequestId.eq("request")),
                    DbBackend::Sqlite,
                ),
                "ux_holds_request (holder_id=? AND request_id=?)",
            ),
            (
                "an offering with its location",
                QueryTrait::build(
                    &offering::Entity::find_by_id("offering-a").find_also_related(location::Entity),
                    DbBackend::Sqlite,
                ),
                "(id=?)",
            ),
            (
                "an earlier publication by request id",
                QueryTrait::build(
                    &publish_request::Entity::find_by_id(("org".to_owned(), "r".to_owned())),
                    DbBackend::Sqlite,
                ),
                "(provider_id=? AND request_id=?)",
            ),
            (
                "the change log after a revision",
                QueryTrait::build(
                    &capacity_event::Entity::find()
                        .filter(capacity_event::Column::Revision.gt(7))
                        .order_by_asc(capacity_event::Column::Revision)
                        .order_by_asc(capacity_event::Column::OfferingId),
                    DbBackend::Sqlite,
                ),
                "(revision>?)",
            ),
        ];
        for (what, statement, expected) in lookups {
            let explain = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("EXPLAIN QUERY PLAN {}", statement.sql),
                statement.values.map(|v| v.0).unwrap_or_default(),
            );
            let plan: Vec<String> = store
                .reader
                .query_all_raw(explain)
                .await
                .expect("explain")
                .iter()
                .map(|row| row.try_get_by_index::<String>(3).expect("detail"))
                .collect();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN")),
                "{what}: reads a whole table: {plan:?}"
            );
            assert!(
                plan.iter().any(|step| step.contains(expected)),
                "{what}: expected a range of {expected}, planned {plan:?}"
            );
        }
    }
}
