//! Consultations, their parties, history, threads and change log, and the
//! audit trail that records every access to them.
//!
//! Every consultation call runs through [`Store::audited`], the one way to
//! read or change consultation content: one [`AuditedTxn`] on the writer,
//! exactly one audit record for the call, and the record and what it records
//! commit together or not at all; a call that fails is rolled back whole and
//! its refusal recorded on its own. A change
//! takes the next consultation revision as its first statement (the row
//! lock orders consultation writers, as the registry revision orders the
//! registry's); the audit sequence row is always taken after it, so two
//! transactions never wait on each other in opposite order.

mod audit;
mod thread;

pub(super) use audit::append_audit;

use super::codes::{code, decode, millis, parsed, time};
use super::entities::{
    audit_event, consultation, consultation_event, consultation_message, consultation_party,
    consultation_transition,
};
use super::{Store, StoreError, Timed};
use crate::domain::audit::{
    AuditAction, AuditEntry, AuditOutcome, AuditQuery, ChainLink, GENESIS, Hash,
};
use crate::domain::capacity::{MunicipalityCode, Revision};
use crate::domain::consultation::{
    AgeYears, CaseContent, Consultation, ConsultationId, ConsultationQuery, ConsultationState,
    DeclineReason, EventKind, ProblemDomains, QuestionType, StateChange, ThreadMessage, Urgency,
};
use crate::domain::identity::OrgId;
use crate::domain::privacy::{CaseReference, FreeText};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Statement,
};
use std::collections::HashMap;

/// An audit record to append: everything but its place in the chain.
#[derive(Debug, Clone)]
pub struct NewAuditRecord {
    pub at: DateTime<Utc>,
    pub event_type: String,
    pub organisation: String,
    pub person: String,
    pub certificate_identity: String,
    pub consultation_id: Option<String>,
    pub action: AuditAction,
    pub outcome: AuditOutcome,
}

/// One event of the consultation change log.
#[derive(Debug, Clone)]
pub struct ConsultationEvent {
    pub revision: Revision,
    pub consultation_id: ConsultationId,
    pub kind: EventKind,
    pub state: ConsultationState,
    pub actor: Option<OrgId>,
    pub at: DateTime<Utc>,
}

/// A transaction that reads or changes consultations and appends audit records.
pub struct AuditedTxn {
    txn: DatabaseTransaction,
    store: Store,
    /// Taken by a change; `None` for a read.
    revision: Option<Revision>,
    /// Audit records appended, counted when they commit.
    audited: std::sync::atomic::AtomicU64,
}

/// What an audited call does to consultations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationAccess {
    /// Reads content; its only write is the audit record.
    Read,
    /// Changes consultations: takes the next consultation revision first,
    /// so changes commit in revision order.
    Change,
}

impl Store {
    /// Runs one consultation call: begins on the writer, runs `work`, then
    /// appends exactly one audit record, `record(Ok(&value))`, and commits
    /// (announcing a change to watchers). If `work` fails, everything it did
    /// is rolled back and `record(Err(&error))` is appended in a transaction
    /// of its own, so a refusal is recorded and nothing else is. Nothing else
    /// begins a consultation transaction.
    pub async fn audited<T, E>(
        &self,
        access: ConsultationAccess,
        record: impl Fn(Result<&T, &E>) -> NewAuditRecord,
        work: impl AsyncFnOnce(&AuditedTxn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let txn = self.begin_audited(access).await?;
        match work(&txn).await {
            Ok(value) => {
                txn.audit(record(Ok(&value))).await?;
                txn.commit().await?;
                Ok(value)
            }
            Err(error) => {
                txn.rollback().await?;
                let refusal = self.begin_audited(ConsultationAccess::Read).await?;
                refusal.audit(record(Err(&error))).await?;
                refusal.commit().await?;
                Err(error)
            }
        }
    }

    /// The one opener of consultation transactions, for [`Store::audited`]
    /// and the hub's own deadline announcements.
    async fn begin_audited(&self, access: ConsultationAccess) -> Result<AuditedTxn, StoreError> {
        let txn = self.begin_write().await?;
        let revision = match access {
            ConsultationAccess::Read => None,
            ConsultationAccess::Change => {
                let revision = Revision(self.next_meta_value(&txn, "consultation_revision").await?);
                self.notify_replicas(&txn, super::CONSULTATION_CHANNEL, revision)
                    .await?;
                Some(revision)
            }
        };
        Ok(AuditedTxn {
            txn,
            store: self.clone(),
            revision,
            audited: Default::default(),
        })
    }

    /// The latest committed consultation revision.
    pub async fn current_consultation_revision(&self) -> Result<Revision, StoreError> {
        super::meta_value(&self.reader, "consultation_revision")
            .await
            .map(Revision)
    }

    /// Consultation events after `after` on consultations `org` is a party to.
    pub async fn consultation_events_after(
        &self,
        org: &OrgId,
        after: Revision,
        limit: u64,
    ) -> Result<Vec<ConsultationEvent>, StoreError> {
        let visible = consultation_party::Entity::find()
            .select_only()
            .column(consultation_party::Column::ConsultationId)
            .filter(consultation_party::Column::OrgId.eq(org.as_str()))
            .into_query();
        let rows = consultation_event::Entity::find()
            .filter(consultation_event::Column::Revision.gt(after.0 as i64))
            .filter(consultation_event::Column::ConsultationId.in_subquery(visible))
            .order_by_asc(consultation_event::Column::Revision)
            .order_by_asc(consultation_event::Column::ConsultationId)
            .limit(limit)
            .all(&self.reader)
            .await?;
        rows.into_iter().map(event_into_domain).collect()
    }

    /// Consultations by id, as they are now (for the watch).
    pub async fn consultations_by_id(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Consultation>, StoreError> {
        let rows = consultation::Entity::find()
            .filter(consultation::Column::Id.is_in(ids.iter().copied()))
            .all(&self.reader)
            .await?;
        assemble(&self.reader, rows)
            .await
            .map(|all| all.into_iter().map(|c| (c.id.to_string(), c)).collect())
    }

    /// How many consultations are in each state, and how many of the
    /// submitted ones are past their answer deadline at `now`.
    pub async fn consultation_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<(ConsultationState, u64)>, u64), StoreError> {
        let mut by_state = Vec::with_capacity(ConsultationState::ALL.len());
        for state in ConsultationState::ALL {
            let count = consultation::Entity::find()
                .filter(consultation::Column::State.eq(code(&ConsultationState::ALL, state)))
                .count(&self.reader)
                .await?;
            by_state.push((state, count));
        }
        let overdue = consultation::Entity::find()
            .filter(
                consultation::Column::State
                    .eq(code(&ConsultationState::ALL, ConsultationState::Submitted)),
            )
            .filter(consultation::Column::AnswerDueAtMs.lte(millis(now)))
            .count(&self.reader)
            .await?;
        Ok((by_state, overdue))
    }

    /// Submitted consultations whose answer deadline passed and that were
    /// not yet announced as overdue: marked, with an event each for the
    /// watch. Returns how many.
    pub async fn announce_overdue(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let due = consultation::Entity::find()
            .filter(
                consultation::Column::State
                    .eq(code(&ConsultationState::ALL, ConsultationState::Submitted)),
            )
            .filter(consultation::Column::AnswerDueAtMs.lte(millis(now)))
            .filter(consultation::Column::OverdueAnnounced.eq(false))
            .limit(1)
            .all(&self.reader)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        // The hub's own change, not a call: watchers learn of it; no one read content.
        let txn = self.begin_audited(ConsultationAccess::Change).await?;
        let rows = consultation::Entity::find()
            .filter(
                consultation::Column::State
                    .eq(code(&ConsultationState::ALL, ConsultationState::Submitted)),
            )
            .filter(consultation::Column::AnswerDueAtMs.lte(millis(now)))
            .filter(consultation::Column::OverdueAnnounced.eq(false))
            .all(&txn.txn)
            .await?;
        let revision = txn.revision();
        for row in &rows {
            consultation::Entity::update_many()
                .col_expr(consultation::Column::OverdueAnnounced, true.into())
                .col_expr(consultation::Column::Revision, (revision.0 as i64).into())
                .filter(consultation::Column::Id.eq(row.id.as_str()))
                .exec(&txn.txn)
                .await?;
            txn.append_event_raw(&row.id, EventKind::DeadlinePassed, row.state, None, now)
                .await?;
        }
        let count = rows.len();
        txn.commit().await?;
        Ok(count)
    }

    /// Ended consultations whose end lies before `ended_before` and whose
    /// content is still there.
    pub async fn consultations_to_erase(
        &self,
        ended_before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<ConsultationId>, StoreError> {
        consultation::Entity::find()
            .filter(consultation::Column::ErasedAtMs.is_null())
            .filter(consultation::Column::EndedAtMs.lt(millis(ended_before)))
            .order_by_asc(consultation::Column::EndedAtMs)
            .limit(limit)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|row| parsed(ConsultationId::parse(&row.id), "consultation id"))
            .collect()
    }

    /// Takes the next value of a `registry_meta` counter; its row stays
    /// locked until the transaction ends.
    async fn next_meta_value(
        &self,
        txn: &DatabaseTransaction,
        key: &str,
    ) -> Result<u64, StoreError> {
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                self.backend,
                "UPDATE registry_meta SET value = value + 1 WHERE key = $1 RETURNING value",
                [key.into()],
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("registry_meta has no {key} row")))?;
        Ok(row.try_get_by_index::<i64>(0)? as u64)
    }
}

impl AuditedTxn {
    /// The revision this change commits at. A read has none.
    pub fn revision(&self) -> Revision {
        self.revision.unwrap_or_default()
    }

    pub async fn consultation(
        &self,
        id: &ConsultationId,
    ) -> Result<Option<Consultation>, StoreError> {
        let Some(row) = consultation::Entity::find_by_id(id.as_str())
            .one(&self.txn)
            .await?
        else {
            return Ok(None);
        };
        Ok(assemble(&self.txn, vec![row]).await?.pop())
    }

    /// An earlier filing with this request id, for idempotent retries.
    pub async fn filed_by_request(
        &self,
        filer: &OrgId,
        request_id: &str,
    ) -> Result<Option<Consultation>, StoreError> {
        let Some(row) = consultation::Entity::find()
            .filter(consultation::Column::FilerId.eq(filer.as_str()))
            .filter(consultation::Column::RequestId.eq(request_id))
            .one(&self.txn)
            .await?
        else {
            return Ok(None);
        };
        Ok(assemble(&self.txn, vec![row]).await?.pop())
    }

    pub async fn insert_consultation(
        &self,
        consultation: &Consultation,
        request_id: &str,
    ) -> Result<(), StoreError> {
        let content = consultation.content.as_ref();
        consultation::ActiveModel {
            id: Set(consultation.id.to_string()),
            filer_id: Set(consultation.filer.as_str().to_owned()),
            addressee_id: Set(consultation.addressee.as_str().to_owned()),
            request_id: Set(request_id.to_owned()),
            case_reference: Set(content.map(|c| c.case_reference.as_str().to_owned())),
            age_years: Set(content.map(|c| i32::from(c.age.get()))),
            question: Set(content.map(|c| c.question.as_str().to_owned())),
            municipality_code: Set(consultation.municipality.as_str().to_owned()),
            problem_domains: Set(i32::from(consultation.problem_domains.bits())),
            question_type: Set(code(&QuestionType::ALL, consultation.question_type)),
            urgency: Set(code(&Urgency::ALL, consultation.urgency)),
            state: Set(code(&ConsultationState::ALL, consultation.state)),
            filed_at_ms: Set(millis(consultation.filed_at)),
            answer_due_at_ms: Set(millis(consultation.answer_due_at)),
            first_answered_at_ms: Set(consultation.first_answered_at.map(millis)),
            ended_at_ms: Set(consultation.ended_at.map(millis)),
            erased_at_ms: Set(None),
            escalated_from_id: Set(consultation.escalated_from.as_ref().map(|i| i.to_string())),
            escalated_to_id: Set(None),
            overdue_announced: Set(false),
            revision: Set(self.revision().0 as i64),
        }
        .insert(&self.txn)
        .await?;
        for party in &consultation.parties {
            self.add_party(&consultation.id, party).await?;
        }
        Ok(())
    }

    /// Makes `org` a party, if it is not one already.
    pub async fn add_party(&self, id: &ConsultationId, org: &OrgId) -> Result<(), StoreError> {
        let exists =
            consultation_party::Entity::find_by_id((org.as_str().to_owned(), id.to_string()))
                .one(&self.txn)
                .await?
                .is_some();
        if !exists {
            consultation_party::ActiveModel {
                org_id: Set(org.as_str().to_owned()),
                consultation_id: Set(id.to_string()),
            }
            .insert(&self.txn)
            .await?;
        }
        Ok(())
    }

    /// Stores a consultation's new state and times, stamped with this revision.
    pub async fn update_state(&self, consultation: &Consultation) -> Result<(), StoreError> {
        consultation::Entity::update_many()
            .col_expr(
                consultation::Column::State,
                code(&ConsultationState::ALL, consultation.state).into(),
            )
            .col_expr(
                consultation::Column::FirstAnsweredAtMs,
                consultation.first_answered_at.map(millis).into(),
            )
            .col_expr(
                consultation::Column::EndedAtMs,
                consultation.ended_at.map(millis).into(),
            )
            .col_expr(
                consultation::Column::EscalatedToId,
                consultation
                    .escalated_to
                    .as_ref()
                    .map(|i| i.to_string())
                    .into(),
            )
            .col_expr(
                consultation::Column::Revision,
                (self.revision().0 as i64).into(),
            )
            .filter(consultation::Column::Id.eq(consultation.id.as_str()))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    pub async fn record_transition(
        &self,
        id: &ConsultationId,
        change: &StateChange,
        request_id: &str,
    ) -> Result<(), StoreError> {
        consultation_transition::ActiveModel {
            consultation_id: Set(id.to_string()),
            from_state: Set(code(&ConsultationState::ALL, change.from)),
            to_state: Set(code(&ConsultationState::ALL, change.to)),
            organisation_id: Set(change.organisation.as_str().to_owned()),
            person: Set(change.person.clone()),
            at_ms: Set(millis(change.at)),
            note: Set(change.note.clone()),
            decline_reason: Set(change
                .decline_reason
                .map_or(0, |r| code(&DeclineReason::ALL, r))),
            request_id: Set(request_id.to_owned()),
            ..Default::default()
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Whether `org` already made a transition with this request id.
    pub async fn transition_done(
        &self,
        id: &ConsultationId,
        org: &OrgId,
        request_id: &str,
    ) -> Result<Option<ConsultationState>, StoreError> {
        let row = consultation_transition::Entity::find()
            .filter(consultation_transition::Column::ConsultationId.eq(id.as_str()))
            .filter(consultation_transition::Column::OrganisationId.eq(org.as_str()))
            .filter(consultation_transition::Column::RequestId.eq(request_id))
            .one(&self.txn)
            .await?;
        row.map(|r| decode(&ConsultationState::ALL, r.to_state, "state"))
            .transpose()
    }

    pub async fn history(&self, id: &ConsultationId) -> Result<Vec<StateChange>, StoreError> {
        consultation_transition::Entity::find()
            .filter(consultation_transition::Column::ConsultationId.eq(id.as_str()))
            .order_by_asc(consultation_transition::Column::Id)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(|row| {
                Ok(StateChange {
                    from: decode(&ConsultationState::ALL, row.from_state, "state")?,
                    to: decode(&ConsultationState::ALL, row.to_state, "state")?,
                    organisation: parsed(OrgId::parse(&row.organisation_id), "organisation")?,
                    person: row.person,
                    at: time(row.at_ms)?,
                    note: row.note,
                    decline_reason: (row.decline_reason != 0)
                        .then(|| decode(&DeclineReason::ALL, row.decline_reason, "decline reason"))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Visible consultations of `org`, newest first.
    pub async fn list(
        &self,
        org: &OrgId,
        query: &ConsultationQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Consultation>, StoreError> {
        use crate::domain::consultation::Side;
        let visible = consultation_party::Entity::find()
            .select_only()
            .column(consultation_party::Column::ConsultationId)
            .filter(consultation_party::Column::OrgId.eq(org.as_str()))
            .into_query();
        let mut select =
            consultation::Entity::find().filter(consultation::Column::Id.in_subquery(visible));
        match query.side {
            Some(Side::Filer) => {
                select = select.filter(consultation::Column::FilerId.eq(org.as_str()))
            }
            Some(Side::Addressee) => {
                select = select.filter(consultation::Column::AddresseeId.eq(org.as_str()))
            }
            None => {}
        }
        if !query.states.is_empty() {
            select = select.filter(
                consultation::Column::State.is_in(
                    query
                        .states
                        .iter()
                        .map(|s| code(&ConsultationState::ALL, *s)),
                ),
            );
        }
        if !query.urgencies.is_empty() {
            select = select.filter(
                consultation::Column::Urgency
                    .is_in(query.urgencies.iter().map(|u| code(&Urgency::ALL, *u))),
            );
        }
        if let Some(now) = query.overdue_at {
            select = select
                .filter(
                    consultation::Column::State
                        .eq(code(&ConsultationState::ALL, ConsultationState::Submitted)),
                )
                .filter(consultation::Column::AnswerDueAtMs.lte(millis(now)));
        }
        let rows = select
            .order_by_desc(consultation::Column::FiledAtMs)
            .order_by_desc(consultation::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.txn)
            .await?;
        assemble(&self.txn, rows).await
    }

    /// Logs a change for the watch at this transaction's revision.
    pub async fn append_event(
        &self,
        consultation: &Consultation,
        kind: EventKind,
        actor: Option<&OrgId>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.append_event_raw(
            consultation.id.as_str(),
            kind,
            code(&ConsultationState::ALL, consultation.state),
            actor,
            at,
        )
        .await
    }

    async fn append_event_raw(
        &self,
        id: &str,
        kind: EventKind,
        state: i32,
        actor: Option<&OrgId>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        consultation_event::ActiveModel {
            revision: Set(self.revision().0 as i64),
            consultation_id: Set(id.to_owned()),
            kind: Set(code(&EventKind::ALL, kind)),
            state: Set(state),
            actor_id: Set(actor.map_or(String::new(), |a| a.as_str().to_owned())),
            at_ms: Set(millis(at)),
        }
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Erases a consultation's content, its notes and its thread; state,
    /// times, urgency, problem domains and municipality stay for figures.
    pub async fn erase(&self, id: &ConsultationId, at: DateTime<Utc>) -> Result<(), StoreError> {
        consultation::Entity::update_many()
            .col_expr(
                consultation::Column::CaseReference,
                Option::<String>::None.into(),
            )
            .col_expr(consultation::Column::AgeYears, Option::<i32>::None.into())
            .col_expr(
                consultation::Column::Question,
                Option::<String>::None.into(),
            )
            .col_expr(consultation::Column::ErasedAtMs, Some(millis(at)).into())
            .col_expr(
                consultation::Column::Revision,
                (self.revision().0 as i64).into(),
            )
            .filter(consultation::Column::Id.eq(id.as_str()))
            .exec(&self.txn)
            .await?;
        consultation_transition::Entity::update_many()
            .col_expr(
                consultation_transition::Column::Note,
                Option::<String>::None.into(),
            )
            .filter(consultation_transition::Column::ConsultationId.eq(id.as_str()))
            .exec(&self.txn)
            .await?;
        consultation_message::Entity::update_many()
            .col_expr(
                consultation_message::Column::Text,
                Option::<String>::None.into(),
            )
            .filter(consultation_message::Column::ConsultationId.eq(id.as_str()))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// The transaction, for the other audited areas' reads.
    pub(super) fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.txn.rollback().await?)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.txn.commit().await?;
        crate::metrics::metrics()
            .audit_records
            .inc_by(self.audited.into_inner());
        if let Some(revision) = self.revision {
            self.store.announce_consultation(revision);
        }
        Ok(())
    }
}

fn event_into_domain(row: consultation_event::Model) -> Result<ConsultationEvent, StoreError> {
    Ok(ConsultationEvent {
        revision: Revision(row.revision as u64),
        consultation_id: parsed(
            ConsultationId::parse(&row.consultation_id),
            "consultation id",
        )?,
        kind: decode(&EventKind::ALL, row.kind, "event kind")?,
        state: decode(&ConsultationState::ALL, row.state, "state")?,
        actor: (!row.actor_id.is_empty())
            .then(|| parsed(OrgId::parse(&row.actor_id), "actor"))
            .transpose()?,
        at: time(row.at_ms)?,
    })
}

/// Rows with their parties, as domain consultations.
async fn assemble(
    db: &impl ConnectionTrait,
    rows: Vec<consultation::Model>,
) -> Result<Vec<Consultation>, StoreError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut parties: HashMap<String, Vec<OrgId>> = HashMap::new();
    for party in consultation_party::Entity::find()
        .filter(consultation_party::Column::ConsultationId.is_in(ids))
        .order_by_asc(consultation_party::Column::OrgId)
        .all(db)
        .await?
    {
        parties
            .entry(party.consultation_id)
            .or_default()
            .push(parsed(OrgId::parse(&party.org_id), "party")?);
    }
    rows.into_iter()
        .map(|row| {
            let parties = parties.remove(&row.id).unwrap_or_default();
            consultation_into_domain(row, parties)
        })
        .collect()
}

fn consultation_into_domain(
    row: consultation::Model,
    parties: Vec<OrgId>,
) -> Result<Consultation, StoreError> {
    let content = match (row.case_reference, row.age_years, row.question) {
        (Some(reference), Some(age), Some(question)) => Some(CaseContent {
            case_reference: parsed(CaseReference::parse(&reference), "case reference")?,
            age: parsed(AgeYears::new(age as u32), "age")?,
            question: parsed(FreeText::parse(&question), "question")?,
        }),
        _ => None,
    };
    Ok(Consultation {
        id: parsed(ConsultationId::parse(&row.id), "consultation id")?,
        filer: parsed(OrgId::parse(&row.filer_id), "filer")?,
        addressee: parsed(OrgId::parse(&row.addressee_id), "addressee")?,
        content,
        municipality: parsed(
            MunicipalityCode::parse(&row.municipality_code),
            "municipality",
        )?,
        problem_domains: parsed(
            ProblemDomains::from_bits(row.problem_domains as u16),
            "problem domains",
        )?,
        question_type: decode(&QuestionType::ALL, row.question_type, "question type")?,
        urgency: decode(&Urgency::ALL, row.urgency, "urgency")?,
        state: decode(&ConsultationState::ALL, row.state, "state")?,
        filed_at: time(row.filed_at_ms)?,
        answer_due_at: time(row.answer_due_at_ms)?,
        first_answered_at: row.first_answered_at_ms.map(time).transpose()?,
        ended_at: row.ended_at_ms.map(time).transpose()?,
        erased_at: row.erased_at_ms.map(time).transpose()?,
        escalated_from: row
            .escalated_from_id
            .map(|id| parsed(ConsultationId::parse(&id), "consultation id"))
            .transpose()?,
        escalated_to: row
            .escalated_to_id
            .map(|id| parsed(ConsultationId::parse(&id), "consultation id"))
            .transpose()?,
        parties,
        revision: row.revision as u64,
    })
}
