//! Placement requests' rows. A request changes holds, so every change runs
//! through the registry write (`Store::write`, under the registry lock),
//! with its one audit record in the same transaction; reads run through
//! `Store::audited`. The rules are `domain::placement::decide`.

use super::codes::{code, decode, hold_state, millis, parsed, time};
use super::consultations::{ConsultationAccess, NewAuditRecord, append_audit};
use super::entities::{hold, location, offering, provider_request};
use super::registry::touch_offering;
use super::{Store, StoreError};
use crate::domain::capacity::{CareProfiles, MunicipalityCode, Revision, SecurityLevel};
use crate::domain::consultation::AgeYears;
use crate::domain::hold::{HoldConflict, HoldState, Transition};
use crate::domain::identity::OrgId;
use crate::domain::placement::{
    self as rules, NewPlacementRequest, PlacementAction, PlacementRequest, PlacementUrgency,
    ProviderRequest, ProviderRequestState, Refusal, RefusalReason, Refused,
};
use crate::domain::privacy::{CaseReference, FreeText};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::BTreeSet;

/// Why a placement call did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Hold(#[from] HoldConflict),
    #[error("hold {0} is already under an open placement request")]
    HoldUnderRequest(String),
    #[error("{field}: {description}")]
    Invalid {
        field: &'static str,
        description: String,
    },
    #[error("request_id was used before with other holds")]
    RequestIdReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for PlacementError {
    fn from(error: sea_orm::DbErr) -> Self {
        PlacementError::Store(error.into())
    }
}

/// The audit record of a placement call, drawn from its answer or its error.
pub type Record<'a, T = PlacementRequest> =
    &'a (dyn Fn(Result<&T, &PlacementError>) -> NewAuditRecord + Sync);

fn into_provider_request(row: &provider_request::Model) -> Result<ProviderRequest, StoreError> {
    let refusal = row
        .refusal_reason
        .map(|reason| -> Result<Refusal, StoreError> {
            Ok(Refusal {
                reason: decode(&RefusalReason::ALL, reason, "refusal reason")?,
                note: row
                    .refusal_note
                    .as_deref()
                    .map(|n| parsed(FreeText::parse(n), "refusal note"))
                    .transpose()?,
                referral_offering_id: row.referral_offering_id.clone(),
            })
        })
        .transpose()?;
    Ok(ProviderRequest {
        id: row.id.clone(),
        provider_id: parsed(OrgId::parse(&row.provider_id), "provider id")?,
        offering_id: row.offering_id.clone(),
        hold_id: row.hold_id.clone(),
        state: decode(
            &ProviderRequestState::STORED,
            row.state,
            "provider request state",
        )?,
        refusal,
        answered_at: row.answered_at_ms.map(time).transpose()?,
    })
}

/// One request from its rows (at least one).
fn assemble(rows: &[provider_request::Model]) -> Result<PlacementRequest, StoreError> {
    let first = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("a placement request without rows".into()))?;
    Ok(PlacementRequest {
        id: first.placement_request_id.clone(),
        requester_id: parsed(OrgId::parse(&first.requester_id), "requester id")?,
        case_reference: parsed(
            CaseReference::parse(&first.case_reference),
            "case reference",
        )?,
        age: parsed(AgeYears::new(first.age_years as u32), "age")?,
        child_municipality: parsed(
            MunicipalityCode::parse(&first.child_municipality_code),
            "municipality",
        )?,
        care_profiles: parsed(
            CareProfiles::from_bits(first.care_profiles as u8),
            "care profiles",
        )?,
        security_level: decode(&SecurityLevel::ALL, first.security_level, "security level")?,
        urgency: decode(&PlacementUrgency::ALL, first.urgency, "urgency")?,
        note: first
            .note
            .as_deref()
            .map(|n| parsed(FreeText::parse(n), "note"))
            .transpose()?,
        created_at: time(first.created_at_ms)?,
        answer_due: time(first.answer_due_ms)?,
        provider_requests: rows
            .iter()
            .map(into_provider_request)
            .collect::<Result<_, _>>()?,
        erased_at: first.erased_at_ms.map(time).transpose()?,
    })
}

async fn rows_of(
    db: &impl ConnectionTrait,
    placement_request_id: &str,
) -> Result<Vec<provider_request::Model>, StoreError> {
    Ok(provider_request::Entity::find()
        .filter(provider_request::Column::PlacementRequestId.eq(placement_request_id))
        .order_by_asc(provider_request::Column::Id)
        .all(db)
        .await?)
}

impl Store {
    /// Sends a placement request to the providers of `new`'s holds: each
    /// hold must be the requester's, active, on its own offering and under
    /// no open request; it is kept until the answer deadline. A retry with
    /// the same request id returns the request sent before.
    pub async fn request_placement(
        &self,
        requester: &OrgId,
        new: &NewPlacementRequest,
        answer_due: DateTime<Utc>,
        now: DateTime<Utc>,
        record: Record<'_>,
    ) -> Result<PlacementRequest, PlacementError> {
        let result = self
            .write("request_placement", async |write| {
                let earlier = provider_request::Entity::find()
                    .filter(provider_request::Column::RequesterId.eq(requester.as_str()))
                    .filter(provider_request::Column::RequestId.eq(new.request_id.as_str()))
                    .order_by_asc(provider_request::Column::Id)
                    .all(write.txn())
                    .await?;
                if !earlier.is_empty() {
                    let held: BTreeSet<&str> = earlier.iter().map(|r| r.hold_id.as_str()).collect();
                    let asked: BTreeSet<&str> = new.hold_ids.iter().map(String::as_str).collect();
                    if held != asked {
                        return Err(PlacementError::RequestIdReused);
                    }
                    let request = assemble(&earlier)?;
                    append_audit(self, write.txn(), record(Ok(&request))).await?;
                    return Ok(request);
                }
                let ordered = holds_to_request(write.txn(), requester, new, now).await?;

                // The holds stay until the deadline; watchers and the search
                // view learn their new expiry with the revision.
                let revision = write.next_revision().await?;
                let txn = write.txn();
                let placement_request_id = uuid::Uuid::now_v7().to_string();
                let mut rows = Vec::new();
                for row in ordered {
                    let mut kept = row.clone().into_active_model();
                    kept.expires_at_ms = Set(row.expires_at_ms.max(millis(answer_due)));
                    kept.update(txn).await?;
                    touch_offering(txn, &row.offering_id, revision, 0, now).await?;
                    let inserted = provider_request::ActiveModel {
                        id: Set(uuid::Uuid::now_v7().to_string()),
                        placement_request_id: Set(placement_request_id.clone()),
                        requester_id: Set(requester.as_str().to_owned()),
                        request_id: Set(new.request_id.as_str().to_owned()),
                        provider_id: Set(row.provider_id.clone()),
                        offering_id: Set(row.offering_id.clone()),
                        hold_id: Set(row.id.clone()),
                        case_reference: Set(new.case_reference.as_str().to_owned()),
                        age_years: Set(i32::from(new.age.get())),
                        child_municipality_code: Set(row.child_municipality_code.clone()),
                        care_profiles: Set(i32::from(new.care_profiles.bits())),
                        security_level: Set(code(&SecurityLevel::ALL, new.security_level)),
                        urgency: Set(code(&PlacementUrgency::ALL, new.urgency)),
                        note: Set(new.note.as_ref().map(|n| n.as_str().to_owned())),
                        created_at_ms: Set(millis(now)),
                        answer_due_ms: Set(millis(answer_due)),
                        state: Set(code(
                            &ProviderRequestState::STORED,
                            ProviderRequestState::Open,
                        )),
                        refusal_reason: Set(None),
                        refusal_note: Set(None),
                        referral_offering_id: Set(None),
                        answered_at_ms: Set(None),
                        erased_at_ms: Set(None),
                        revision: Set(revision.0 as i64),
                    }
                    .insert(txn)
                    .await?;
                    rows.push(inserted);
                }
                rows.sort_by(|a, b| a.id.cmp(&b.id));
                let request = assemble(&rows)?;
                append_audit(self, txn, record(Ok(&request))).await?;
                Ok(request)
            })
            .await;
        self.audit_refusal(result, record).await
    }

    /// A provider's answer to its provider request, or the requester's
    /// withdrawal of its placement request, decided by `domain::placement::decide` on
    /// the rows as they are under the registry lock: the holds follow
    /// (confirmed into the placement, or released), in one transaction.
    pub async fn act_on_placement(
        &self,
        actor: &OrgId,
        action: &PlacementAction,
        now: DateTime<Utc>,
        record: Record<'_>,
    ) -> Result<PlacementRequest, PlacementError> {
        let result = self
            .write("act_on_placement", async |write| {
                let placement_request_id = match action {
                    PlacementAction::Withdraw {
                        placement_request_id,
                    } => placement_request_id.clone(),
                    PlacementAction::Accept {
                        provider_request_id,
                    }
                    | PlacementAction::Refuse {
                        provider_request_id,
                        ..
                    } => provider_request::Entity::find_by_id(provider_request_id.as_str())
                        .one(write.txn())
                        .await?
                        .filter(|row| row.provider_id == actor.as_str())
                        .map(|row| row.placement_request_id)
                        .ok_or_else(|| {
                            StoreError::NotFound(format!("provider request {provider_request_id}"))
                        })?,
                };
                let placement_request_id = placement_request_id.as_str();
                let rows = rows_of(write.txn(), placement_request_id).await?;
                if rows.is_empty() {
                    return Err(StoreError::NotFound(format!(
                        "placement request {placement_request_id}"
                    ))
                    .into());
                }
                let request = assemble(&rows)?;
                if !request.visible_to(actor) {
                    return Err(StoreError::NotFound(format!(
                        "placement request {placement_request_id}"
                    ))
                    .into());
                }
                let decision = rules::decide(&request, actor, action, now)?;
                if let PlacementAction::Refuse { refusal, .. } = action
                    && let Some(referred) = &refusal.referral_offering_id
                {
                    check_referral(write.txn(), actor, referred).await?;
                }
                if decision.changes.is_empty() {
                    let request = request.as_seen_by(actor);
                    append_audit(self, write.txn(), record(Ok(&request))).await?;
                    return Ok(request);
                }
                let revision = write.next_revision().await?;
                let txn = write.txn();
                for change in &decision.changes {
                    let row = hold::Entity::find_by_id(change.hold_id.as_str())
                        .one(txn)
                        .await?
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("hold {} gone", change.hold_id))
                        })?;
                    let current = row.clone().into_domain()?;
                    let transition = if change.confirm_hold {
                        current.confirm(now)?
                    } else {
                        // A hold that ran out already gave its place back.
                        current.release(now).unwrap_or(Transition::Unchanged)
                    };
                    let mut placed = 0;
                    if let Transition::To(state) = transition {
                        let mut ended = row.into_active_model();
                        ended.state = Set(hold_state(state));
                        ended.ended_at_ms = Set(Some(millis(now)));
                        ended.update(txn).await?;
                        placed = i32::from(state == HoldState::Confirmed);
                    }
                    // Every change at this revision is in the capacity log,
                    // even when its hold had run out already: no revision
                    // is ever empty, and watchers see the request's end.
                    touch_offering(txn, &change.offering_id, revision, placed, now).await?;
                    let refusal = change.refusal.as_ref();
                    provider_request::ActiveModel {
                        id: Set(change.provider_request_id.clone()),
                        state: Set(code(&ProviderRequestState::STORED, change.state)),
                        refusal_reason: Set(refusal.map(|r| code(&RefusalReason::ALL, r.reason))),
                        refusal_note: Set(refusal
                            .and_then(|r| r.note.as_ref())
                            .map(|n| n.as_str().to_owned())),
                        referral_offering_id: Set(
                            refusal.and_then(|r| r.referral_offering_id.clone())
                        ),
                        answered_at_ms: Set(Some(millis(now))),
                        revision: Set(revision.0 as i64),
                        ..Default::default()
                    }
                    .update(txn)
                    .await?;
                }
                let request =
                    assemble(&rows_of(txn, placement_request_id).await?)?.as_seen_by(actor);
                append_audit(self, txn, record(Ok(&request))).await?;
                Ok(request)
            })
            .await;
        self.audit_refusal(result, record).await
    }

    /// One placement request as `org` may see it, named by its own id or,
    /// with `by_part`, by one of its provider requests' ids; audited.
    pub async fn placement_request(
        &self,
        org: &OrgId,
        placement_request_id: &str,
        by_part: bool,
        record: Record<'_>,
    ) -> Result<PlacementRequest, PlacementError> {
        self.audited(ConsultationAccess::Read, record, async |txn| {
            let named = if by_part {
                provider_request::Entity::find_by_id(placement_request_id)
                    .one(txn.db())
                    .await?
                    .map(|row| row.placement_request_id)
            } else {
                Some(placement_request_id.to_owned())
            };
            let rows = match named {
                Some(id) => rows_of(txn.db(), &id).await?,
                None => Vec::new(),
            };
            let found = if rows.is_empty() {
                None
            } else {
                Some(assemble(&rows)?)
            };
            found
                .filter(|r| r.visible_to(org))
                .map(|r| r.as_seen_by(org))
                .ok_or_else(|| {
                    StoreError::NotFound(format!("placement request {placement_request_id}")).into()
                })
        })
        .await
    }

    /// The placement requests `org` sent or was asked that changed after
    /// `after`, as it may see them now, each with the revision of its
    /// latest change that `org` sees, oldest first. A request that changed
    /// twice comes once, as it is now. At most about `limit` rows are read;
    /// a revision is never split, so resuming after the last one sent
    /// misses nothing.
    pub async fn placement_changes_after(
        &self,
        org: &OrgId,
        after: Revision,
        limit: u64,
    ) -> Result<Vec<(Revision, PlacementRequest)>, StoreError> {
        let concerns = || {
            sea_orm::Condition::any()
                .add(provider_request::Column::RequesterId.eq(org.as_str()))
                .add(provider_request::Column::ProviderId.eq(org.as_str()))
        };
        let mut changed: Vec<(String, i64)> = provider_request::Entity::find()
            .select_only()
            .column(provider_request::Column::PlacementRequestId)
            .column(provider_request::Column::Revision)
            .filter(provider_request::Column::Revision.gt(after.0 as i64))
            .filter(concerns())
            .order_by_asc(provider_request::Column::Revision)
            .limit(limit)
            .into_tuple()
            .all(&self.reader)
            .await?;
        if changed.len() as u64 == limit
            && let Some(&(_, last)) = changed.last()
        {
            // The last revision may go on past the limit: read all of it.
            changed.retain(|(_, revision)| *revision != last);
            let whole: Vec<(String, i64)> = provider_request::Entity::find()
                .select_only()
                .column(provider_request::Column::PlacementRequestId)
                .column(provider_request::Column::Revision)
                .filter(provider_request::Column::Revision.eq(last))
                .filter(concerns())
                .into_tuple()
                .all(&self.reader)
                .await?;
            changed.extend(whole);
        }
        // Each request once, at the latest revision it changed at here.
        let mut latest: Vec<(i64, String)> = Vec::new();
        for (id, revision) in changed {
            match latest.iter_mut().find(|(_, seen)| *seen == id) {
                Some(entry) => entry.0 = entry.0.max(revision),
                None => latest.push((revision, id)),
            }
        }
        latest.sort();
        let ids: Vec<&str> = latest.iter().map(|(_, id)| id.as_str()).collect();
        let rows = provider_request::Entity::find()
            .filter(provider_request::Column::PlacementRequestId.is_in(ids))
            .order_by_asc(provider_request::Column::Id)
            .all(&self.reader)
            .await?;
        latest
            .into_iter()
            .map(|(revision, id)| {
                let own: Vec<provider_request::Model> = rows
                    .iter()
                    .filter(|row| row.placement_request_id == id)
                    .cloned()
                    .collect();
                Ok((Revision(revision as u64), assemble(&own)?.as_seen_by(org)))
            })
            .collect()
    }

    /// The requests `org` sent or was asked, newest first, as it may see
    /// them; one audit record for the page.
    pub async fn placement_requests(
        &self,
        org: &OrgId,
        offset: u64,
        limit: u64,
        record: Record<'_, Vec<PlacementRequest>>,
    ) -> Result<Vec<PlacementRequest>, PlacementError> {
        self.audited(ConsultationAccess::Read, record, async |txn| {
            let ids: Vec<(String, i64)> = provider_request::Entity::find()
                .select_only()
                .column(provider_request::Column::PlacementRequestId)
                .column_as(provider_request::Column::CreatedAtMs.max(), "created")
                .filter(
                    sea_orm::Condition::any()
                        .add(provider_request::Column::RequesterId.eq(org.as_str()))
                        .add(provider_request::Column::ProviderId.eq(org.as_str())),
                )
                .group_by(provider_request::Column::PlacementRequestId)
                .order_by_desc(sea_orm::sea_query::Expr::col("created"))
                .order_by_desc(provider_request::Column::PlacementRequestId)
                .offset(offset)
                .limit(limit)
                .into_tuple()
                .all(txn.db())
                .await?;
            let mut requests = Vec::new();
            for (id, _) in ids {
                requests.push(assemble(&rows_of(txn.db(), &id).await?)?.as_seen_by(org));
            }
            Ok(requests)
        })
        .await
    }

    /// What became of every provider request `requester` sent for one case:
    /// the refusals' reasons, and how many went unanswered past their
    /// deadline (still open, or withdrawn after it); audited.
    pub async fn case_history(
        &self,
        requester: &OrgId,
        case_reference: &CaseReference,
        now: DateTime<Utc>,
        record: Record<'_, (Vec<RefusalReason>, usize)>,
    ) -> Result<(Vec<RefusalReason>, usize), PlacementError> {
        self.audited(ConsultationAccess::Read, record, async |txn| {
            let rows = provider_request::Entity::find()
                .filter(provider_request::Column::RequesterId.eq(requester.as_str()))
                .filter(provider_request::Column::CaseReference.eq(case_reference.as_str()))
                .all(txn.db())
                .await?;
            let mut refusals = Vec::new();
            let mut unanswered = 0;
            for row in &rows {
                let state = decode(
                    &ProviderRequestState::STORED,
                    row.state,
                    "provider request state",
                )?;
                match state {
                    ProviderRequestState::Refused => {
                        let reason = row.refusal_reason.ok_or_else(|| {
                            StoreError::Corrupt(format!("refusal {} without a reason", row.id))
                        })?;
                        refusals.push(decode(&RefusalReason::ALL, reason, "refusal reason")?);
                    }
                    ProviderRequestState::Open if millis(now) >= row.answer_due_ms => {
                        unanswered += 1
                    }
                    ProviderRequestState::Withdrawn
                        if row.answered_at_ms.is_some_and(|at| at >= row.answer_due_ms) =>
                    {
                        unanswered += 1
                    }
                    _ => {}
                }
            }
            Ok((refusals, unanswered))
        })
        .await
    }

    /// Placement requests whose answer deadline lies before `due_before`
    /// and whose notes and case reference are still there.
    pub async fn placements_to_erase(
        &self,
        due_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = provider_request::Entity::find()
            .select_only()
            .column(provider_request::Column::PlacementRequestId)
            .filter(provider_request::Column::ErasedAtMs.is_null())
            .filter(provider_request::Column::AnswerDueMs.lt(millis(due_before)))
            .group_by(provider_request::Column::PlacementRequestId)
            .limit(limit)
            .into_tuple()
            .all(&self.reader)
            .await?;
        Ok(ids)
    }

    /// Erases one placement request's free text (its note and the refusals'
    /// notes) and replaces its case reference, keeping what the regions
    /// count (states, reasons, times); with its audit record, under the
    /// registry lock like every placement change. `false` when another
    /// replica erased it first.
    pub async fn erase_placement(
        &self,
        placement_request_id: &str,
        due_before: DateTime<Utc>,
        now: DateTime<Utc>,
        record: &(dyn Fn() -> NewAuditRecord + Sync),
    ) -> Result<bool, StoreError> {
        self.write("erase_placement", async |write| {
            let rows = rows_of(write.txn(), placement_request_id).await?;
            let due = rows
                .iter()
                .any(|r| r.erased_at_ms.is_none() && r.answer_due_ms < millis(due_before));
            if !due {
                return Ok(false);
            }
            provider_request::Entity::update_many()
                .col_expr(
                    provider_request::Column::Note,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    provider_request::Column::RefusalNote,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    provider_request::Column::CaseReference,
                    Expr::value(rules::erased_case_reference(placement_request_id)),
                )
                .col_expr(
                    provider_request::Column::ErasedAtMs,
                    Expr::value(millis(now)),
                )
                .filter(provider_request::Column::PlacementRequestId.eq(placement_request_id))
                .exec(write.txn())
                .await?;
            append_audit(self, write.txn(), record()).await?;
            Ok(true)
        })
        .await
    }

    /// Passes a placement call's answer on; a refusal is first recorded in
    /// an audit record of its own, since the call's transaction rolled back.
    async fn audit_refusal(
        &self,
        result: Result<PlacementRequest, PlacementError>,
        record: Record<'_>,
    ) -> Result<PlacementRequest, PlacementError> {
        if let Err(error) = &result {
            self.audited(
                ConsultationAccess::Read,
                |_: Result<&(), &StoreError>| record(Err(error)),
                async |_| Ok(()),
            )
            .await?;
        }
        result
    }
}

/// A referral names an existing offering of another provider.
async fn check_referral(
    db: &impl ConnectionTrait,
    actor: &OrgId,
    offering_id: &str,
) -> Result<(), PlacementError> {
    let found = offering::Entity::find_by_id(offering_id)
        .find_also_related(location::Entity)
        .one(db)
        .await?;
    match found {
        Some((_, Some(location))) if location.provider_id != actor.as_str() => Ok(()),
        Some(_) => Err(PlacementError::Invalid {
            field: "referral_offering_id",
            description: "refer to another provider's offering, not one of your own".into(),
        }),
        None => Err(PlacementError::Invalid {
            field: "referral_offering_id",
            description: format!("unknown offering {offering_id}"),
        }),
    }
}

/// The requester's holds a new request names, in the order named: each
/// active, on offerings of their own, for a child of one municipality, and
/// none already under an open request.
async fn holds_to_request(
    txn: &sea_orm::DatabaseTransaction,
    requester: &OrgId,
    new: &NewPlacementRequest,
    now: DateTime<Utc>,
) -> Result<Vec<hold::Model>, PlacementError> {
    let holds = hold::Entity::find()
        .filter(hold::Column::Id.is_in(new.hold_ids.iter().map(String::as_str)))
        .all(txn)
        .await?;
    let mut ordered = Vec::new();
    for id in &new.hold_ids {
        let row = holds
            .iter()
            .find(|h| h.id == *id && h.holder_id == requester.as_str())
            .ok_or_else(|| StoreError::NotFound(format!("hold {id}")))?;
        let current = row.clone().into_domain()?;
        match current.state_at(now) {
            HoldState::Active => {}
            HoldState::Expired => return Err(HoldConflict::Expired.into()),
            HoldState::Released => return Err(HoldConflict::Released.into()),
            HoldState::Confirmed => return Err(HoldConflict::Confirmed.into()),
        }
        ordered.push(row.clone());
    }
    let offerings: BTreeSet<&str> = ordered.iter().map(|h| h.offering_id.as_str()).collect();
    if offerings.len() != ordered.len() {
        return Err(PlacementError::Invalid {
            field: "hold_ids",
            description: "two holds on one offering".into(),
        });
    }
    let municipalities: BTreeSet<&str> = ordered
        .iter()
        .map(|h| h.child_municipality_code.as_str())
        .collect();
    if municipalities.len() != 1 {
        return Err(PlacementError::Invalid {
            field: "hold_ids",
            description: "the holds are for children of different municipalities".into(),
        });
    }
    if let Some(taken) = provider_request::Entity::find()
        .filter(provider_request::Column::HoldId.is_in(new.hold_ids.iter().map(String::as_str)))
        .filter(provider_request::Column::State.eq(code(
            &ProviderRequestState::STORED,
            ProviderRequestState::Open,
        )))
        .one(txn)
        .await?
    {
        return Err(PlacementError::HoldUnderRequest(taken.hold_id));
    }
    Ok(ordered)
}
