//! Consultation use-cases: filing, the lifecycle, the thread, the watch and
//! retention. Every call writes exactly one audit record — allowed or
//! refused — in the same transaction as what it records.

mod thread;
mod watch;

use super::watch::StartFrom;
use super::{AppError, ConsultationUseCases, Page, Seen};
use crate::domain::audit::{AuditAction, AuditOutcome};
use crate::domain::authz::Action;
use crate::domain::capacity::{RequestId, Revision};
use crate::domain::consultation::ConsultationQuery;
use crate::domain::consultation::{
    self, Consultation, ConsultationAction, ConsultationId, ConsultationState, DeclineReason,
    EventKind, NewConsultation, Side, StateChange, ThreadMessage,
};
use crate::domain::identity::{Caller, OrgId, Person};
use crate::domain::privacy::FreeText;
use crate::store::{AuditedTxn, ConsultationAccess, NewAuditRecord};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The metadata key that names the person acting, as visible ASCII; also
/// the field named when the person is refused.
pub const PERSON_HEADER: &str = "x-spil-person";
/// The same as UTF-8 (gRPC binary metadata), for names such as "Zoë Çelik".
pub const PERSON_HEADER_UTF8: &str = "x-spil-person-bin";

/// Who acts: the organisation behind the certificate and the person named
/// in the request metadata, not yet checked. `Err` says why the metadata
/// could not be read as a name.
#[derive(Debug, Clone)]
pub struct Actor {
    pub caller: Caller,
    pub person: Result<Option<String>, String>,
}

/// A request as parsed at the edge. A failed parse is refused and audited
/// like any other refusal, so the use-cases take it as it came.
pub type Parsed<T> = Result<T, AppError>;

/// What a call is, for its audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub event_type: &'static str,
    pub action: AuditAction,
}

impl Call {
    pub const FILE: Call = Call::new("consultation.file", AuditAction::Create);
    pub const GET: Call = Call::new("consultation.get", AuditAction::Read);
    pub const LIST: Call = Call::new("consultation.list", AuditAction::Read);
    pub const POST_MESSAGE: Call = Call::new("consultation.post_message", AuditAction::Update);
    pub const LIST_MESSAGES: Call = Call::new("consultation.list_messages", AuditAction::Read);
    pub const WATCH: Call = Call::new("consultation.watch", AuditAction::Read);
    pub const ERASE: Call = Call::new("consultation.erase", AuditAction::Erase);

    pub(super) const fn new(event_type: &'static str, action: AuditAction) -> Self {
        Self { event_type, action }
    }

    pub fn transition(action: ConsultationAction) -> Call {
        let event_type = match action {
            ConsultationAction::Accept => "consultation.accept",
            ConsultationAction::Decline => "consultation.decline",
            ConsultationAction::StartWork => "consultation.start_work",
            ConsultationAction::GiveAdvice => "consultation.give_advice",
            ConsultationAction::Escalate => "consultation.escalate",
            ConsultationAction::Withdraw => "consultation.withdraw",
            ConsultationAction::Close => "consultation.close",
        };
        Call::new(event_type, AuditAction::Update)
    }
}

/// One transition asked for.
#[derive(Debug, Clone)]
pub struct TransitionCommand {
    pub id: ConsultationId,
    pub action: ConsultationAction,
    pub note: Option<FreeText>,
    pub decline_reason: Option<DeclineReason>,
    /// For an escalation: the supra-regional network.
    pub escalate_to: Option<OrgId>,
    pub request_id: Option<RequestId>,
}

#[derive(Debug, Clone)]
pub struct PostMessageCommand {
    pub id: ConsultationId,
    pub text: FreeText,
    pub request_id: RequestId,
}

/// A consultation after a transition, and the new one an escalation made.
#[derive(Debug, Clone)]
pub struct TransitionOutcome {
    pub consultation: Consultation,
    pub escalated: Option<Consultation>,
}

/// One message of the consultation watch.
#[derive(Debug, Clone)]
pub struct ConsultationWatchItem {
    pub revision: Revision,
    pub kind: EventKind,
    pub state: ConsultationState,
    pub actor: Option<OrgId>,
    pub at: DateTime<Utc>,
    /// As it is when sent.
    pub consultation: Consultation,
    /// Past its answer deadline when sent, computed by the producer.
    pub overdue: bool,
}

/// What the consultation watch sends: first the revision it starts after,
/// then events.
#[derive(Debug, Clone)]
pub enum ConsultationWatchMessage {
    Start(Revision),
    Event(Box<ConsultationWatchItem>),
}

pub type ConsultationWatchStream = ReceiverStream<Result<ConsultationWatchMessage, AppError>>;

impl super::Context {
    /// The audit record of one call: who (organisation, certificate, the
    /// person once checked), what, about which subject, and how it ended.
    pub(super) fn audit_record(
        &self,
        actor: &Actor,
        person: Option<&Person>,
        call: Call,
        consultation_id: Option<&str>,
        outcome: AuditOutcome,
    ) -> NewAuditRecord {
        NewAuditRecord {
            at: self.clock.now(),
            event_type: call.event_type.into(),
            organisation: actor.caller.org.id.as_str().into(),
            // A person that failed its check is not repeated: it may hold a BSN.
            person: person.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            certificate_identity: actor.caller.certificate_identity.clone(),
            consultation_id: consultation_id.map(str::to_owned),
            action: call.action,
            outcome,
        }
    }

    /// The person acting, once the role admits the call at all.
    pub(super) fn check_actor(&self, actor: &Actor, action: Action) -> Result<Person, AppError> {
        self.authorise(&actor.caller, action)?;
        let raw = actor
            .person
            .as_ref()
            .map_err(|why| AppError::invalid(PERSON_HEADER, why.clone()))?;
        Person::parse(raw.as_deref().unwrap_or(""))
            .map_err(|invalid| AppError::invalid(PERSON_HEADER, invalid.0))
    }
}

/// Whether a refusal was about who asked or about what was asked.
pub(super) fn outcome_of(error: &AppError) -> AuditOutcome {
    match error {
        AppError::PermissionDenied(_) | AppError::NotFound(_) | AppError::Unauthenticated(_) => {
            AuditOutcome::Denied
        }
        AppError::Invalid(violations) if violations.iter().any(|v| v.field == PERSON_HEADER) => {
            AuditOutcome::Denied
        }
        _ => AuditOutcome::Rejected,
    }
}

fn not_found(id: &ConsultationId) -> AppError {
    AppError::NotFound(format!("consultation {id} not found"))
}

/// The consultation if `org` may see it; otherwise it does not exist.
async fn visible(
    txn: &AuditedTxn,
    id: &ConsultationId,
    org: &OrgId,
) -> Result<Consultation, AppError> {
    match txn.consultation(id).await? {
        Some(c) if c.is_party(org) => Ok(c),
        _ => Err(not_found(id)),
    }
}

impl ConsultationUseCases {
    /// An answer with the moment the edge shows it at.
    fn seen<T>(&self, value: T) -> Seen<T> {
        Seen {
            value,
            at: self.clock.now(),
        }
    }

    /// Admits a call: the role allows it, the person is named, the request
    /// parsed. A refusal is audited (with the consultation it named, when it
    /// named one) and returned.
    async fn admit<T>(
        &self,
        actor: &Actor,
        action: Action,
        call: Call,
        request: Parsed<T>,
        consultation_of: impl Fn(&T) -> Option<String>,
    ) -> Result<(Person, T), AppError> {
        let person = match self.check_actor(actor, action) {
            Ok(person) => person,
            Err(error) => {
                let id = request.as_ref().ok().and_then(&consultation_of);
                return self.refused(actor, None, call, id.as_deref(), error).await;
            }
        };
        match request {
            Ok(request) => Ok((person, request)),
            Err(error) => self.refused(actor, Some(&person), call, None, error).await,
        }
    }

    /// Runs `work` as one audited call (`Store::audited`): its one audit
    /// record names the call, the actor, the person (once checked) and the
    /// consultation (`consultation_id`, or the one the answer names).
    #[allow(clippy::too_many_arguments)] // what one audit record says
    async fn audited<T>(
        &self,
        access: ConsultationAccess,
        actor: &Actor,
        person: Option<&Person>,
        call: Call,
        consultation_id: Option<&str>,
        named_by_answer: impl Fn(&T) -> Option<String>,
        work: impl AsyncFnOnce(&AuditedTxn) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let record = |result: Result<&T, &AppError>| {
            let (named, outcome) = match result {
                Ok(value) => (named_by_answer(value), AuditOutcome::Allowed),
                Err(error) => (None, outcome_of(error)),
            };
            let id = named.as_deref().or(consultation_id);
            self.audit_record(actor, person, call, id, outcome)
        };
        let result = self.store.audited(access, record, work).await;
        if result.is_err() {
            tracing::info!(event_type = call.event_type, org = %actor.caller.org.id, "consultation call refused");
        }
        result
    }

    /// Records a refusal made before any work (through the same chokepoint)
    /// and returns the error.
    async fn refused<T>(
        &self,
        actor: &Actor,
        person: Option<&Person>,
        call: Call,
        consultation_id: Option<&str>,
        error: AppError,
    ) -> Result<T, AppError> {
        self.audited(
            ConsultationAccess::Read,
            actor,
            person,
            call,
            consultation_id,
            |_: &T| None,
            async |_| Err(error),
        )
        .await
    }

    pub async fn file_consultation(
        &self,
        actor: &Actor,
        command: Parsed<NewConsultation>,
    ) -> Result<Seen<Consultation>, AppError> {
        let call = Call::FILE;
        let command = command.and_then(|c| self.check_filing(c));
        let (person, command) = self
            .admit(actor, Action::FileConsultation, call, command, |_| None)
            .await?;
        let value = self
            .audited(
                ConsultationAccess::Change,
                actor,
                Some(&person),
                call,
                None,
                |filed: &Consultation| Some(filed.id.to_string()),
                async |txn| self.file_in(txn, actor, &person, command).await,
            )
            .await?;
        Ok(self.seen(value))
    }

    /// The addressee and municipality exist, and the addressee may be asked.
    fn check_filing(&self, command: NewConsultation) -> Result<NewConsultation, AppError> {
        let directory = self.directory();
        match directory.organisations.get(&command.addressee) {
            Some(org) if consultation::may_be_addressed(org) => {}
            Some(_) => {
                return Err(AppError::invalid(
                    "addressee_id",
                    "may not be asked for consultation: not an expertise team, network or provider",
                ));
            }
            None => return Err(AppError::invalid("addressee_id", "unknown organisation")),
        }
        if !directory
            .municipalities
            .contains_key(command.municipality.as_str())
        {
            return Err(AppError::invalid(
                "municipality_code",
                format!("unknown municipality {}", command.municipality.as_str()),
            ));
        }
        Ok(command)
    }

    async fn file_in(
        &self,
        txn: &AuditedTxn,
        actor: &Actor,
        person: &Person,
        command: NewConsultation,
    ) -> Result<Consultation, AppError> {
        let filer = &actor.caller.org.id;
        if &command.addressee == filer {
            return Err(AppError::invalid(
                "addressee_id",
                "a consultation is addressed to another organisation",
            ));
        }
        if let Some(earlier) = txn
            .filed_by_request(filer, command.request_id.as_str())
            .await?
        {
            let same = earlier.addressee == command.addressee
                && earlier.content.as_ref() == Some(&command.content)
                && earlier.municipality == command.municipality
                && earlier.problem_domains == command.problem_domains
                && earlier.question_type == command.question_type
                && earlier.urgency == command.urgency;
            return if same {
                Ok(earlier)
            } else {
                Err(AppError::AlreadyExists(
                    "request_id was already used for another consultation".into(),
                ))
            };
        }
        let now = self.clock.now();
        let consultation = Consultation {
            id: ConsultationId::new(),
            parties: vec![filer.clone(), command.addressee.clone()],
            filer: filer.clone(),
            addressee: command.addressee,
            content: Some(command.content),
            municipality: command.municipality,
            problem_domains: command.problem_domains,
            question_type: command.question_type,
            urgency: command.urgency,
            state: ConsultationState::Submitted,
            filed_at: now,
            answer_due_at: self.settings.deadlines.answer_due(now, command.urgency),
            first_answered_at: None,
            ended_at: None,
            erased_at: None,
            escalated_from: None,
            escalated_to: None,
            revision: txn.revision().0,
        };
        txn.insert_consultation(&consultation, command.request_id.as_str())
            .await?;
        txn.record_transition(
            &consultation.id,
            &StateChange {
                from: ConsultationState::Submitted,
                to: ConsultationState::Submitted,
                organisation: filer.clone(),
                person: person.as_str().to_owned(),
                at: now,
                note: None,
                decline_reason: None,
            },
            command.request_id.as_str(),
        )
        .await?;
        txn.append_event(&consultation, EventKind::Filed, Some(filer), now)
            .await?;
        Ok(consultation)
    }

    /// One consultation and its history.
    pub async fn get_consultation(
        &self,
        actor: &Actor,
        id: Parsed<ConsultationId>,
    ) -> Result<Seen<(Consultation, Vec<StateChange>)>, AppError> {
        let call = Call::GET;
        let (person, id) = self
            .admit(actor, Action::TakePartInConsultations, call, id, |id| {
                Some(id.to_string())
            })
            .await?;
        let value = self
            .audited(
                ConsultationAccess::Read,
                actor,
                Some(&person),
                call,
                Some(id.as_str()),
                |_| None,
                async |txn| {
                    let consultation = visible(txn, &id, &actor.caller.org.id).await?;
                    let history = txn.history(&id).await?;
                    Ok((consultation, history))
                },
            )
            .await?;
        Ok(self.seen(value))
    }

    /// The caller's consultations, newest first.
    pub async fn list_consultations(
        &self,
        actor: &Actor,
        query: Parsed<ConsultationQuery>,
        page: Parsed<Page>,
    ) -> Result<Seen<(Vec<Consultation>, String)>, AppError> {
        let call = Call::LIST;
        let person = match self.check_actor(actor, Action::TakePartInConsultations) {
            Ok(person) => person,
            Err(e) => return self.refused(actor, None, call, None, e).await,
        };
        let scope_and_offset = query.and_then(|query| {
            let page = page?;
            let scope = format!(
                "consultations:{:?}:{:?}:{:?}:{}",
                query.side,
                query.states,
                query.urgencies,
                query.overdue_at.is_some()
            );
            let offset = self.pages.offset(&page, &scope)?;
            Ok((query, page, scope, offset))
        });
        let (mut query, page, scope, offset) = match scope_and_offset {
            Ok(parsed) => parsed,
            Err(e) => return self.refused(actor, Some(&person), call, None, e).await,
        };
        let now = self.clock.now();
        if query.overdue_at.is_some() {
            query.overdue_at = Some(now);
        }
        let value = self
            .audited(
                ConsultationAccess::Read,
                actor,
                Some(&person),
                call,
                None,
                |_| None,
                async |txn| {
                    let mut found = txn
                        .list(
                            &actor.caller.org.id,
                            &query,
                            offset as u64,
                            page.size as u64 + 1,
                        )
                        .await?;
                    let next = if found.len() > page.size {
                        found.truncate(page.size);
                        self.pages.encode_offset(&scope, offset + page.size)
                    } else {
                        String::new()
                    };
                    Ok((found, next))
                },
            )
            .await?;
        Ok(self.seen(value))
    }

    /// Accept, decline, start work, give advice, escalate, withdraw or close.
    pub async fn transition_consultation(
        &self,
        actor: &Actor,
        action: ConsultationAction,
        command: Parsed<TransitionCommand>,
    ) -> Result<Seen<TransitionOutcome>, AppError> {
        let call = Call::transition(action);
        let (person, command) = self
            .admit(actor, Action::TakePartInConsultations, call, command, |c| {
                Some(c.id.to_string())
            })
            .await?;
        let id = command.id.to_string();
        let value = self
            .audited(
                ConsultationAccess::Change,
                actor,
                Some(&person),
                call,
                Some(&id),
                |_| None,
                async |txn| self.transition_in(txn, actor, &person, command).await,
            )
            .await?;
        Ok(self.seen(value))
    }

    async fn transition_in(
        &self,
        txn: &AuditedTxn,
        actor: &Actor,
        person: &Person,
        command: TransitionCommand,
    ) -> Result<TransitionOutcome, AppError> {
        let org = &actor.caller.org.id;
        let consultation = visible(txn, &command.id, org).await?;
        if let Some(request_id) = &command.request_id
            && txn
                .transition_done(&command.id, org, request_id.as_str())
                .await?
                .is_some()
        {
            // A retry of a transition that was made: answer as then.
            let escalated = match &consultation.escalated_to {
                Some(next) => txn.consultation(next).await?,
                None => None,
            };
            return Ok(TransitionOutcome {
                consultation,
                escalated,
            });
        }
        let directory = self.directory();
        let network = command.escalate_to.clone().map(|id| {
            let known = directory.organisations.get(&id);
            (id, known)
        });
        let request = consultation::Transition {
            action: command.action,
            actor: &actor.caller.org,
            person: person.as_str(),
            note: command.note.map(|n| n.as_str().to_owned()),
            decline_reason: command.decline_reason,
            network,
        };
        let decision = consultation::decide(
            &consultation,
            request,
            txn.revision().0,
            self.clock.now(),
            &self.settings.deadlines,
            ConsultationId::new(),
        )
        .map_err(|refusal| self.refusal(&actor.caller, &command.id, refusal))?;

        let consultation::Decision {
            updated,
            change,
            follow_up,
        } = decision;
        let now = change.at;
        if let Some(follow_up) = &follow_up {
            let filed = &follow_up.consultation;
            txn.insert_consultation(filed, &format!("escalation:{}", updated.id))
                .await?;
            txn.record_transition(&filed.id, &follow_up.change, "")
                .await?;
            txn.append_event(filed, EventKind::Filed, Some(org), now)
                .await?;
            txn.add_party(&updated.id, &follow_up.network).await?;
        }
        let request_id = command.request_id.as_ref().map_or("", |r| r.as_str());
        txn.record_transition(&updated.id, &change, request_id)
            .await?;
        txn.update_state(&updated).await?;
        txn.append_event(&updated, EventKind::StateChanged, Some(org), now)
            .await?;
        Ok(TransitionOutcome {
            consultation: updated,
            escalated: follow_up.map(|f| f.consultation),
        })
    }

    /// A refused transition as the error every edge maps.
    fn refusal(
        &self,
        caller: &Caller,
        id: &ConsultationId,
        refusal: consultation::Refusal,
    ) -> AppError {
        use consultation::Refusal as R;
        match refusal {
            R::WrongSide(side, action) => {
                let who = match side {
                    Side::Filer => "the filer",
                    Side::Addressee => "the addressee",
                };
                AppError::PermissionDenied(format!(
                    "only {who} may {} this consultation",
                    action.verb()
                ))
            }
            R::RoleMayNot(action) => self
                .authorise(caller, action)
                .err()
                .unwrap_or_else(|| AppError::PermissionDenied(format!("may not {action:?}"))),
            R::NoNetwork => AppError::invalid("network_id", "must be given"),
            R::UnknownNetwork => AppError::invalid("network_id", "unknown organisation"),
            R::NotANetwork => AppError::invalid("network_id", "is not a supra-regional network"),
            R::Illegal(illegal) => AppError::FailedPrecondition {
                reason: crate::app::Reason::IllegalTransition,
                subject: format!("consultations/{id}"),
                description: illegal.to_string(),
            },
            R::ContentErased => AppError::FailedPrecondition {
                reason: crate::app::Reason::ContentErased,
                subject: format!("consultations/{id}"),
                description: "the consultation's content was erased".into(),
            },
        }
    }

    /// How many consultations are in each state, and how many submitted
    /// ones are past their answer deadline; for the metrics.
    pub async fn consultation_counts(
        &self,
    ) -> Result<
        (
            Vec<(crate::domain::consultation::ConsultationState, u64)>,
            u64,
        ),
        AppError,
    > {
        Ok(self.store.consultation_counts(self.clock.now()).await?)
    }

    /// Flags consultations that passed their answer deadline, for watchers;
    /// run periodically.
    pub async fn announce_overdue_consultations(&self) -> Result<usize, AppError> {
        Ok(self.store.announce_overdue(self.clock.now()).await?)
    }

    /// Erases the content of consultations that ended more than the
    /// retention period ago, each with its audit record; run periodically.
    pub async fn erase_expired_consultations(&self) -> Result<usize, AppError> {
        let now = self.clock.now();
        let cutoff = now - self.settings.consultation_retention;
        let mut erased = 0;
        loop {
            let due = self.store.consultations_to_erase(cutoff, 100).await?;
            if due.is_empty() {
                return Ok(erased);
            }
            for id in due {
                let record = |result: Result<&(), &AppError>| NewAuditRecord {
                    at: now,
                    event_type: Call::ERASE.event_type.into(),
                    organisation: SYSTEM_ACTOR.into(),
                    person: "retention".into(),
                    certificate_identity: String::new(),
                    consultation_id: Some(id.to_string()),
                    action: Call::ERASE.action,
                    outcome: match result {
                        Ok(()) => AuditOutcome::Allowed,
                        Err(_) => AuditOutcome::Rejected,
                    },
                };
                let work = async |txn: &AuditedTxn| {
                    let consultation = txn.consultation(&id).await?;
                    // Another replica erased it since it was listed.
                    let Some(mut consultation) =
                        consultation.filter(|c| c.erased_at.is_none() && c.state.is_final())
                    else {
                        return Err(AppError::FailedPrecondition {
                            reason: crate::app::Reason::ContentErased,
                            subject: format!("consultations/{id}"),
                            description: "already erased".into(),
                        });
                    };
                    txn.erase(&id, now).await?;
                    consultation.content = None;
                    txn.append_event(&consultation, EventKind::Erased, None, now)
                        .await?;
                    Ok(())
                };
                match self
                    .store
                    .audited(ConsultationAccess::Change, record, work)
                    .await
                {
                    Ok(()) => erased += 1,
                    Err(AppError::FailedPrecondition { .. }) => {}
                    Err(error) => return Err(error),
                }
            }
        }
    }
}

/// The organisation named in audit records of the hub's own actions.
pub const SYSTEM_ACTOR: &str = "spil-hub";
