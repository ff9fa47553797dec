//! Placement request use-cases: a crisis service asks the providers of its
//! held places to take a child; a provider accepts or refuses with a
//! reason; the requester withdraws. Every call, allowed or refused, writes
//! one audit record naming the request; the rules are
//! `domain::placement::decide`, applied by the store under the registry lock.

use super::consultations::{Actor, Call, Parsed, outcome_of};
use super::watch::StartFrom;
use super::{AppError, Page, PlacementUseCases, Reason, Seen};
use crate::domain::audit::{AuditAction, AuditOutcome};
use crate::domain::authz::Action;
use crate::domain::capacity::Revision;
use crate::domain::capacity::{MunicipalityCode, RequestId};
use crate::domain::consultation::{
    CaseContent, Consultation, NewConsultation, ProblemDomains, QuestionType,
};
use crate::domain::identity::Person;
use crate::domain::identity::{OrgId, Role};
use crate::domain::placement::{
    self as rules, NewPlacementRequest, PlacementAction, PlacementRequest, RefusalReason, Refused,
};
use crate::domain::privacy::FreeText;
use crate::store::{ConsultationAccess, NewAuditRecord, PlacementError};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const REQUEST: Call = Call::new("placement.request", AuditAction::Create);
const ACCEPT: Call = Call::new("placement.accept", AuditAction::Update);
const REFUSE: Call = Call::new("placement.refuse", AuditAction::Update);
const WITHDRAW: Call = Call::new("placement.withdraw", AuditAction::Update);
const ESCALATE: Call = Call::new("placement.escalate", AuditAction::Update);
const ERASE: Call = Call::new("placement.erase", AuditAction::Erase);
const GET: Call = Call::new("placement.get", AuditAction::Read);
const LIST: Call = Call::new("placement.list", AuditAction::Read);
const WATCH: Call = Call::new("placement.watch", AuditAction::Read);

/// Rows read per round trip by a placement watch.
const CHANGE_BATCH: u64 = 256;

/// What the placement watch sends: first the revision it starts after,
/// then each request the caller sent or was asked, as it is after a change.
#[derive(Debug, Clone)]
pub enum PlacementWatchMessage {
    Start(Revision),
    Changed {
        revision: Revision,
        request: Box<PlacementRequest>,
        /// When it was read: deadlines are judged at this moment.
        at: chrono::DateTime<chrono::Utc>,
    },
}

pub type PlacementWatchStream = ReceiverStream<Result<PlacementWatchMessage, AppError>>;

impl From<PlacementError> for AppError {
    fn from(error: PlacementError) -> Self {
        let precondition =
            |reason, subject: &str, description: String| AppError::FailedPrecondition {
                reason,
                subject: subject.into(),
                description,
            };
        match error {
            PlacementError::Refused(refused) => {
                let description = refused.to_string();
                match refused {
                    Refused::NotFound(_) => AppError::NotFound(description),
                    Refused::Withdrawn(_) => {
                        precondition(Reason::PlacementWithdrawn, "provider_request", description)
                    }
                    Refused::Overdue(_) => {
                        precondition(Reason::PlacementOverdue, "provider_request", description)
                    }
                    Refused::Answered(_) => {
                        precondition(Reason::PlacementAnswered, "provider_request", description)
                    }
                    Refused::Placed(_) => {
                        precondition(Reason::PlacementAnswered, "placement_request", description)
                    }
                }
            }
            PlacementError::Hold(conflict) => crate::domain::hold::Refusal::Hold(conflict).into(),
            PlacementError::HoldUnderRequest(hold) => precondition(
                Reason::HoldUnderRequest,
                "hold",
                format!("hold {hold} is already under an open placement request"),
            ),
            PlacementError::Invalid { field, description } => AppError::invalid(field, description),
            PlacementError::RequestIdReused => AppError::AlreadyExists(
                "request_id was used before for a placement request with other holds".into(),
            ),
            PlacementError::Store(error) => error.into(),
        }
    }
}

impl PlacementUseCases {
    /// The audit record of a call that reached the store, drawn from its
    /// answer (which names the request) or its error.
    fn recorder<'a>(
        &'a self,
        actor: &'a Actor,
        person: &'a Person,
        call: Call,
        subject: Option<&'a str>,
    ) -> impl Fn(Result<&PlacementRequest, &PlacementError>) -> NewAuditRecord + Sync + 'a {
        move |result| match result {
            Ok(request) => self.audit_record(
                actor,
                Some(person),
                call,
                Some(&request.id),
                AuditOutcome::Allowed,
            ),
            Err(error) => {
                let outcome = placement_outcome(error);
                self.audit_record(actor, Some(person), call, subject, outcome)
            }
        }
    }

    /// Admits a call: the role allows it, the person is named, the request
    /// parsed. A refusal is audited and returned.
    async fn admit<T>(
        &self,
        actor: &Actor,
        action: Action,
        call: Call,
        subject: Option<&str>,
        request: Parsed<T>,
    ) -> Result<(Person, T), AppError> {
        let checked = self
            .check_actor(actor, action)
            .and_then(|person| request.map(|request| (person, request)));
        match checked {
            Ok(admitted) => Ok(admitted),
            Err(error) => {
                let person = self.check_actor(actor, action).ok();
                let record =
                    self.audit_record(actor, person.as_ref(), call, subject, outcome_of(&error));
                self.store
                    .audited(
                        ConsultationAccess::Read,
                        |_: Result<&(), &AppError>| record.clone(),
                        async |_| Ok(()),
                    )
                    .await?;
                Err(error)
            }
        }
    }

    /// Sends a placement request to the providers of the caller's holds.
    pub async fn request(
        &self,
        actor: &Actor,
        request: Parsed<NewPlacementRequest>,
    ) -> Result<Seen<PlacementRequest>, AppError> {
        let max = self.settings.placements.max_providers;
        let request = request.and_then(|r| {
            r.check_holds(max)
                .map_err(|invalid| AppError::invalid("hold_ids", invalid.0))?;
            Ok(r)
        });
        let (person, new) = self
            .admit(actor, Action::RequestPlacement, REQUEST, None, request)
            .await?;
        let now = self.clock.now();
        let due = self.settings.placements.answer_due(now, new.urgency);
        let record = self.recorder(actor, &person, REQUEST, None);
        let sent = self
            .store
            .request_placement(&actor.caller.org.id, &new, due, now, &record)
            .await?;
        Ok(Seen {
            value: sent,
            at: now,
        })
    }

    /// A provider's answer to its provider request, or the requester's
    /// withdrawal of the whole request.
    pub async fn act(
        &self,
        actor: &Actor,
        action: Parsed<PlacementAction>,
    ) -> Result<Seen<PlacementRequest>, AppError> {
        let (call, role_action) = match &action {
            Ok(PlacementAction::Accept { .. }) => (ACCEPT, Action::AnswerPlacement),
            Ok(PlacementAction::Refuse { .. }) | Err(_) => (REFUSE, Action::AnswerPlacement),
            Ok(PlacementAction::Withdraw { .. }) => (WITHDRAW, Action::RequestPlacement),
        };
        let named = match &action {
            Ok(PlacementAction::Withdraw {
                placement_request_id,
            }) => Some(placement_request_id.clone()),
            _ => None,
        };
        let subject = named.as_deref();
        let (person, action) = self
            .admit(actor, role_action, call, subject, action)
            .await?;
        let record = self.recorder(actor, &person, call, subject);
        let now = self.clock.now();
        let answered = self
            .store
            .act_on_placement(&actor.caller.org.id, &action, now, &record)
            .await?;
        Ok(Seen {
            value: answered,
            at: now,
        })
    }

    /// Turns the case into a consultation to the expertise team of the
    /// child's region, which takes over process direction: the request's
    /// open provider requests are withdrawn (their places given back), and
    /// the consultation carries the case's refusals, reasons only. Audited
    /// as the escalation (the withdrawal and the history read) and as the
    /// consultation's filing; a retry files no second consultation.
    pub async fn escalate(
        &self,
        actor: &Actor,
        placement_request_id: &str,
    ) -> Result<Seen<(PlacementRequest, Consultation)>, AppError> {
        let subject = Some(placement_request_id);
        let (person, ()) = self
            .admit(actor, Action::RequestPlacement, ESCALATE, subject, Ok(()))
            .await?;
        let now = self.clock.now();
        let record = self.recorder(actor, &person, ESCALATE, subject);
        let withdrawal = PlacementAction::Withdraw {
            placement_request_id: placement_request_id.to_owned(),
        };
        let request = self
            .store
            .act_on_placement(&actor.caller.org.id, &withdrawal, now, &record)
            .await?;
        let history_record = |result: Result<&(Vec<RefusalReason>, usize), &PlacementError>| {
            let outcome = result.map_or_else(placement_outcome, |_| AuditOutcome::Allowed);
            self.audit_record(actor, Some(&person), ESCALATE, subject, outcome)
        };
        let (refusals, unanswered) = self
            .store
            .case_history(
                &actor.caller.org.id,
                &request.case_reference,
                now,
                &history_record,
            )
            .await?;
        let consultation = NewConsultation {
            request_id: RequestId::parse(&format!("escalation-{}", request.id)).map_err(built)?,
            addressee: self.expertise_team_for(&request.child_municipality)?,
            content: CaseContent {
                case_reference: request.case_reference.clone(),
                age: request.age,
                question: FreeText::parse(&rules::escalation_question(&refusals, unanswered))
                    .map_err(built)?,
            },
            municipality: request.child_municipality.clone(),
            problem_domains: ProblemDomains::new(rules::problem_domains_for(request.care_profiles))
                .map_err(built)?,
            question_type: QuestionType::ProcessDirection,
            urgency: request.urgency.consultation_urgency(),
        };
        let filed = super::ConsultationUseCases(Arc::clone(&self.0))
            .file_consultation(actor, Ok(consultation))
            .await?;
        Ok(Seen {
            value: (request, filed.value),
            at: now,
        })
    }

    /// Erases the notes and case reference of placement requests whose
    /// answer deadline passed more than the consultations' retention period
    /// ago, each with its audit record; run periodically.
    pub async fn erase_expired_placements(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let cutoff = now - self.settings.consultation_retention;
        let mut erased = 0;
        loop {
            let due = self.store.placements_to_erase(cutoff, 100).await?;
            if due.is_empty() {
                return Ok(erased);
            }
            let mut progressed = false;
            for id in due {
                let record = || NewAuditRecord {
                    at: now,
                    event_type: ERASE.event_type.into(),
                    organisation: super::consultations::SYSTEM_ACTOR.into(),
                    person: "retention".into(),
                    certificate_identity: String::new(),
                    consultation_id: Some(id.clone()),
                    action: ERASE.action,
                    outcome: AuditOutcome::Allowed,
                };
                if self
                    .store
                    .erase_placement(&id, cutoff, now, &record)
                    .await?
                {
                    erased += 1;
                    progressed = true;
                }
            }
            if !progressed {
                return Ok(erased);
            }
        }
    }

    /// The expertise team of the region `municipality` lies in.
    fn expertise_team_for(&self, municipality: &MunicipalityCode) -> Result<OrgId, AppError> {
        let directory = self.directory();
        let region = directory
            .municipalities
            .get(municipality.as_str())
            .map(|m| m.region_id.clone())
            .ok_or_else(|| {
                AppError::invalid(
                    "child_municipality_code",
                    "the municipality is in no region",
                )
            })?;
        let mut teams: Vec<&OrgId> = directory
            .organisations
            .values()
            .filter(|org| org.has_role(Role::ExpertiseTeam) && org.home_region_id == region)
            .map(|org| &org.id)
            .collect();
        teams.sort();
        teams.first().map(|id| (*id).clone()).ok_or_else(|| {
            AppError::NotFound(format!(
                "no expertise team of region {region} in the directory"
            ))
        })
    }

    pub async fn get(
        &self,
        actor: &Actor,
        placement_request_id: &str,
    ) -> Result<Seen<PlacementRequest>, AppError> {
        self.get_named(actor, placement_request_id, false).await
    }

    /// The request one provider request belongs to, as the caller may see it.
    pub async fn get_by_part(
        &self,
        actor: &Actor,
        provider_request_id: &str,
    ) -> Result<Seen<PlacementRequest>, AppError> {
        self.get_named(actor, provider_request_id, true).await
    }

    async fn get_named(
        &self,
        actor: &Actor,
        placement_request_id: &str,
        by_part: bool,
    ) -> Result<Seen<PlacementRequest>, AppError> {
        let subject = Some(placement_request_id);
        let (person, ()) = self
            .admit(actor, Action::TakePartInPlacements, GET, subject, Ok(()))
            .await?;
        let record = self.recorder(actor, &person, GET, subject);
        let found = self
            .store
            .placement_request(&actor.caller.org.id, placement_request_id, by_part, &record)
            .await?;
        Ok(Seen {
            value: found,
            at: self.clock.now(),
        })
    }

    /// The registry's latest revision: where a page drawn now resumes its
    /// watch from. A number only, so no audit record.
    pub async fn current_revision(&self) -> Result<Revision, AppError> {
        Ok(self.store.current_revision().await?)
    }

    /// Streams the caller's placement requests as they change, after
    /// `start`: the provider sees requests arrive and end, the requester
    /// sees the answers. Opening the stream is audited once, as the
    /// consultation watch is; a request that changed twice while the
    /// stream caught up comes once, as it is now.
    pub async fn watch(
        &self,
        actor: &Actor,
        start: Parsed<StartFrom>,
    ) -> Result<PlacementWatchStream, AppError> {
        // Where to start is known before admission, so a start ahead of
        // the hub is refused and audited like any other bad request.
        let current = self.store.current_revision().await?;
        let start = start.and_then(|start| match start {
            StartFrom::Now => Ok(current),
            StartFrom::OldestKept => Ok(Revision(0)),
            StartFrom::After(start) if start > current => Err(AppError::OutOfRange(format!(
                "revision {} is ahead of the hub (at {})",
                start.0, current.0
            ))),
            StartFrom::After(start) => Ok(start),
        });
        let (person, start) = self
            .admit(actor, Action::TakePartInPlacements, WATCH, None, start)
            .await?;
        let record = self.audit_record(actor, Some(&person), WATCH, None, AuditOutcome::Allowed);
        let slot = self
            .store
            .audited(
                ConsultationAccess::Read,
                |_: Result<&super::WatchSlot, &AppError>| record.clone(),
                async |_| self.0.watch_slot(&actor.caller.org.id, "placements"),
            )
            .await?;
        let (tx, rx) = mpsc::channel(self.settings.watch_buffer);
        let app = self.clone();
        let org = actor.caller.org.id.clone();
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let _slot = slot;
            if let Err(error) = app.produce_placement_changes(org, start, &tx).await {
                let _ = tx.send(Err(error)).await;
            }
        }));
        Ok(ReceiverStream::new(rx))
    }

    async fn produce_placement_changes(
        &self,
        org: OrgId,
        mut last: Revision,
        tx: &mpsc::Sender<Result<PlacementWatchMessage, AppError>>,
    ) -> Result<(), AppError> {
        let mut committed = self.store.subscribe();
        if tx
            .send(Ok(PlacementWatchMessage::Start(last)))
            .await
            .is_err()
        {
            return Ok(());
        }
        loop {
            let changes = self
                .store
                .placement_changes_after(&org, last, CHANGE_BATCH)
                .await?;
            if changes.is_empty() {
                // Another replica's commits are seen by the poll.
                tokio::select! {
                    _ = self.shutdown.cancelled() => {
                        return Err(AppError::ShuttingDown { resume_after: last });
                    }
                    _ = tx.closed() => return Ok(()),
                    _ = committed.changed() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
                continue;
            }
            for (revision, request) in changes {
                let message = PlacementWatchMessage::Changed {
                    revision,
                    request: Box::new(request),
                    at: self.clock.now(),
                };
                tokio::select! {
                    sent = tx.send(Ok(message)) => if sent.is_err() {
                        return Ok(());
                    },
                    _ = self.shutdown.cancelled() => {
                        return Err(AppError::ShuttingDown { resume_after: last });
                    }
                }
                last = revision;
            }
        }
    }

    /// The requests the caller sent or was asked, newest first.
    pub async fn list(
        &self,
        actor: &Actor,
        page: &Page,
    ) -> Result<Seen<(Vec<PlacementRequest>, String)>, AppError> {
        let (person, ()) = self
            .admit(actor, Action::TakePartInPlacements, LIST, None, Ok(()))
            .await?;
        let scope = "placement_requests";
        let offset = self.pages.offset(page, scope)?;
        let record = |result: Result<&Vec<PlacementRequest>, &PlacementError>| {
            let outcome = match result {
                Ok(_) => AuditOutcome::Allowed,
                Err(error) => placement_outcome(error),
            };
            self.audit_record(actor, Some(&person), LIST, None, outcome)
        };
        let mut requests = self
            .store
            .placement_requests(
                &actor.caller.org.id,
                offset as u64,
                page.size as u64 + 1,
                &record,
            )
            .await?;
        let next = if requests.len() > page.size {
            requests.truncate(page.size);
            self.pages.encode_offset(scope, offset + page.size)
        } else {
            String::new()
        };
        Ok(Seen {
            value: (requests, next),
            at: self.clock.now(),
        })
    }
}

/// A value the hub built itself that its own rules refused: a defect here.
fn built(invalid: crate::domain::Invalid) -> AppError {
    AppError::Internal(crate::store::StoreError::Corrupt(format!(
        "an escalation the hub built is invalid: {}",
        invalid.0
    )))
}

/// Whether a placement refusal was about who asked (not theirs to see)
/// or about what was asked.
fn placement_outcome(error: &PlacementError) -> AuditOutcome {
    match error {
        PlacementError::Refused(Refused::NotFound(_))
        | PlacementError::Store(crate::store::StoreError::NotFound(_)) => AuditOutcome::Denied,
        _ => AuditOutcome::Rejected,
    }
}
