//! Placement request use-cases: a crisis service asks the providers of its
//! held places to take a child; a provider accepts or refuses with a
//! reason; the requester withdraws. Every call, allowed or refused, writes
//! one audit record naming the request; the rules are
//! `domain::placement::decide`, applied by the store under the registry lock.

use super::consultations::{Actor, Parsed, outcome_of};
use super::{AppError, Page, PlacementUseCases, Reason, Seen};
use crate::domain::audit::{AuditAction, AuditOutcome};
use crate::domain::authz::Action;
use crate::domain::identity::Person;
use crate::domain::placement::{NewPlacementRequest, PlacementAction, PlacementRequest, Refused};
use crate::store::{ConsultationAccess, NewAuditRecord, PlacementError};

/// What a call is, for its audit record.
#[derive(Debug, Clone, Copy)]
struct Call {
    event_type: &'static str,
    action: AuditAction,
}

const REQUEST: Call = Call {
    event_type: "placement.request",
    action: AuditAction::Create,
};
const ACCEPT: Call = Call {
    event_type: "placement.accept",
    action: AuditAction::Update,
};
const REFUSE: Call = Call {
    event_type: "placement.refuse",
    action: AuditAction::Update,
};
const WITHDRAW: Call = Call {
    event_type: "placement.withdraw",
    action: AuditAction::Update,
};
const GET: Call = Call {
    event_type: "placement.get",
    action: AuditAction::Read,
};
const LIST: Call = Call {
    event_type: "placement.list",
    action: AuditAction::Read,
};

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
    fn record(
        &self,
        actor: &Actor,
        person: Option<&Person>,
        call: Call,
        subject: Option<&str>,
        outcome: AuditOutcome,
    ) -> NewAuditRecord {
        NewAuditRecord {
            at: self.clock.now(),
            event_type: call.event_type.into(),
            organisation: actor.caller.org.id.as_str().into(),
            person: person.map(|p| p.as_str().to_owned()).unwrap_or_default(),
            certificate_identity: actor.caller.certificate_identity.clone(),
            // The trail's subject column: here the placement request.
            consultation_id: subject.map(str::to_owned),
            action: call.action,
            outcome,
        }
    }

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
            Ok(request) => self.record(
                actor,
                Some(person),
                call,
                Some(&request.id),
                AuditOutcome::Allowed,
            ),
            Err(error) => {
                let outcome = placement_outcome(error);
                self.record(actor, Some(person), call, subject, outcome)
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
                let record = self.record(actor, person.as_ref(), call, subject, outcome_of(&error));
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

    pub async fn get(
        &self,
        actor: &Actor,
        placement_request_id: &str,
    ) -> Result<Seen<PlacementRequest>, AppError> {
        let subject = Some(placement_request_id);
        let (person, ()) = self
            .admit(actor, Action::TakePartInPlacements, GET, subject, Ok(()))
            .await?;
        let record = self.recorder(actor, &person, GET, subject);
        let found = self
            .store
            .placement_request(&actor.caller.org.id, placement_request_id, &record)
            .await?;
        Ok(Seen {
            value: found,
            at: self.clock.now(),
        })
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
            self.record(actor, Some(&person), LIST, None, outcome)
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

/// Whether a placement refusal was about who asked (not theirs to see)
/// or about what was asked.
fn placement_outcome(error: &PlacementError) -> AuditOutcome {
    match error {
        PlacementError::Refused(Refused::NotFound(_))
        | PlacementError::Store(crate::store::StoreError::NotFound(_)) => AuditOutcome::Denied,
        _ => AuditOutcome::Rejected,
    }
}
