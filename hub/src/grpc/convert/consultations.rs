//! Wire ↔ domain conversions for consultations and the audit trail.

use super::{Result, field, time_in, timestamp, unknown, unspecified};
use crate::app::{AppError, PostMessageCommand, TransitionCommand};
use crate::domain::audit::AuditQuery;
use crate::domain::audit::{AuditAction, AuditOutcome, ChainLink};
use crate::domain::capacity::{MunicipalityCode, RequestId};
use crate::domain::consultation::ConsultationQuery;
use crate::domain::consultation::{
    AgeYears, CaseContent, Consultation, ConsultationAction, ConsultationId, ConsultationState,
    DeclineReason, EventKind, NewConsultation, ProblemDomain, ProblemDomains, QuestionType, Side,
    StateChange, ThreadMessage, Urgency,
};
use crate::domain::identity::OrgId;
use crate::domain::privacy::{CaseReference, FreeText};
use chrono::{DateTime, Utc};
use spil_proto::v1 as pb;

wire_enum!(consultation_state_in, consultation_state_out, pb::ConsultationState, ConsultationState, {
    Submitted => ConsultationState::Submitted,
    Accepted => ConsultationState::Accepted,
    InProgress => ConsultationState::InProgress,
    AdviceGiven => ConsultationState::AdviceGiven,
    Closed => ConsultationState::Closed,
    Declined => ConsultationState::Declined,
    Withdrawn => ConsultationState::Withdrawn,
    Escalated => ConsultationState::Escalated,
});

wire_enum!(urgency_in, urgency_out, pb::Urgency, Urgency, {
    Routine => Urgency::Routine,
    Urgent => Urgency::Urgent,
    Crisis => Urgency::Crisis,
});

wire_enum!(question_type_in, question_type_out, pb::QuestionType, QuestionType, {
    Advice => QuestionType::Advice,
    ProcessDirection => QuestionType::ProcessDirection,
    PlacementSearch => QuestionType::PlacementSearch,
});

wire_enum!(problem_domain_in, problem_domain_out, pb::ProblemDomain, ProblemDomain, {
    MentalHealth => ProblemDomain::MentalHealth,
    EatingDisorder => ProblemDomain::EatingDisorder,
    MildIntellectualDisability => ProblemDomain::MildIntellectualDisability,
    Autism => ProblemDomain::Autism,
    Addiction => ProblemDomain::Addiction,
    Trauma => ProblemDomain::Trauma,
    Safety => ProblemDomain::Safety,
    Forensic => ProblemDomain::Forensic,
    Parenting => ProblemDomain::Parenting,
});

wire_enum!(decline_reason_in, decline_reason_out, pb::DeclineReason, DeclineReason, {
    OutsideExpertise => DeclineReason::OutsideExpertise,
    NoCapacity => DeclineReason::NoCapacity,
    InsufficientInformation => DeclineReason::InsufficientInformation,
    NotComplex => DeclineReason::NotComplex,
    Other => DeclineReason::Other,
});

wire_enum!(_event_kind_in, event_kind_out, pb::ConsultationEventKind, EventKind, {
    Filed => EventKind::Filed,
    StateChanged => EventKind::StateChanged,
    MessagePosted => EventKind::MessagePosted,
    DeadlinePassed => EventKind::DeadlinePassed,
    Erased => EventKind::Erased,
});

wire_enum!(_audit_action_in, audit_action_out, pb::AuditAction, AuditAction, {
    Create => AuditAction::Create,
    Read => AuditAction::Read,
    Update => AuditAction::Update,
    Erase => AuditAction::Erase,
});

wire_enum!(_audit_outcome_in, audit_outcome_out, pb::AuditOutcome, AuditOutcome, {
    Allowed => AuditOutcome::Allowed,
    Denied => AuditOutcome::Denied,
    Rejected => AuditOutcome::Rejected,
});

pub fn consultation_id(path: &str, raw: &str) -> Result<ConsultationId> {
    if raw.is_empty() {
        return Err(AppError::invalid(path, "is required"));
    }
    field(path, ConsultationId::parse(raw))
}

/// Free text that may be left empty.
fn optional_text(path: &str, raw: &str) -> Result<Option<FreeText>> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        field(path, FreeText::parse(raw)).map(Some)
    }
}

fn optional_request_id(raw: &str) -> Result<Option<RequestId>> {
    if raw.is_empty() {
        Ok(None)
    } else {
        field("request_id", RequestId::parse(raw)).map(Some)
    }
}

pub fn new_consultation(request: pb::FileConsultationRequest) -> Result<NewConsultation> {
    if !request.consent_recorded {
        return Err(AppError::invalid(
            "consent_recorded",
            "the family's consent to share this case must be recorded before filing",
        ));
    }
    let domains = request
        .problem_domains
        .iter()
        .enumerate()
        .map(|(i, d)| problem_domain_in(&format!("problem_domains[{i}]"), *d))
        .collect::<Result<Vec<_>>>()?;
    Ok(NewConsultation {
        request_id: field("request_id", RequestId::parse(&request.request_id))?,
        addressee: field("addressee_id", OrgId::parse(&request.addressee_id))?,
        content: CaseContent {
            case_reference: field(
                "case_reference",
                CaseReference::parse(&request.case_reference),
            )?,
            age: field("age_years", AgeYears::new(request.age_years))?,
            question: field("question", FreeText::parse(&request.question))?,
        },
        municipality: field(
            "municipality_code",
            MunicipalityCode::parse(&request.municipality_code),
        )?,
        problem_domains: field("problem_domains", ProblemDomains::new(domains))?,
        question_type: question_type_in("question_type", request.question_type)?,
        urgency: urgency_in("urgency", request.urgency)?,
    })
}

/// A transition request's common parts; `note_field` names the text field
/// and `note_required` whether it may be empty.
pub fn transition(
    action: ConsultationAction,
    id: &str,
    note_field: &str,
    note: &str,
    note_required: bool,
    request_id: &str,
) -> Result<TransitionCommand> {
    let id = consultation_id("consultation_id", id)?;
    let note = optional_text(note_field, note)?;
    if note_required && note.is_none() {
        return Err(AppError::invalid(note_field, "is required"));
    }
    Ok(TransitionCommand {
        id,
        action,
        note,
        decline_reason: None,
        escalate_to: None,
        request_id: optional_request_id(request_id)?,
    })
}

pub fn decline(request: pb::DeclineConsultationRequest) -> Result<TransitionCommand> {
    let mut command = transition(
        ConsultationAction::Decline,
        &request.consultation_id,
        "note",
        &request.note,
        true,
        &request.request_id,
    )?;
    command.decline_reason = Some(decline_reason_in("reason", request.reason)?);
    Ok(command)
}

pub fn escalate(request: pb::EscalateConsultationRequest) -> Result<TransitionCommand> {
    let mut command = transition(
        ConsultationAction::Escalate,
        &request.consultation_id,
        "note",
        &request.note,
        true,
        &request.request_id,
    )?;
    command.escalate_to = Some(field("network_id", OrgId::parse(&request.network_id))?);
    Ok(command)
}

pub fn post_message(request: pb::PostMessageRequest) -> Result<PostMessageCommand> {
    Ok(PostMessageCommand {
        id: consultation_id("consultation_id", &request.consultation_id)?,
        text: field("text", FreeText::parse(&request.text))?,
        request_id: field("request_id", RequestId::parse(&request.request_id))?,
    })
}

pub fn consultation_query(request: &pb::ListConsultationsRequest) -> Result<ConsultationQuery> {
    let side = match pb::ConsultationRole::try_from(request.r#box) {
        Ok(pb::ConsultationRole::Unspecified) => None,
        Ok(pb::ConsultationRole::Outbox) => Some(Side::Filer),
        Ok(pb::ConsultationRole::Inbox) => Some(Side::Addressee),
        Err(_) => {
            return Err(AppError::invalid(
                "box",
                format!("unknown value {}", request.r#box),
            ));
        }
    };
    Ok(ConsultationQuery {
        side,
        states: request
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| consultation_state_in(&format!("states[{i}]"), *s))
            .collect::<Result<_>>()?,
        urgencies: request
            .urgencies
            .iter()
            .enumerate()
            .map(|(i, u)| urgency_in(&format!("urgencies[{i}]"), *u))
            .collect::<Result<_>>()?,
        // The moment is filled in by the use-case from its clock.
        overdue_at: request.overdue_only.then(DateTime::<Utc>::default),
    })
}

pub fn consultation_out(consultation: Consultation, now: DateTime<Utc>) -> pb::Consultation {
    let overdue = consultation.is_overdue(now);
    pb::Consultation {
        id: consultation.id.to_string(),
        filer_id: consultation.filer.as_str().to_owned(),
        addressee_id: consultation.addressee.as_str().to_owned(),
        content: consultation.content.map(|c| pb::CaseContent {
            case_reference: c.case_reference.as_str().to_owned(),
            age_years: u32::from(c.age.get()),
            question: c.question.as_str().to_owned(),
        }),
        municipality_code: consultation.municipality.as_str().to_owned(),
        problem_domains: consultation
            .problem_domains
            .iter()
            .map(|d| problem_domain_out(d) as i32)
            .collect(),
        question_type: question_type_out(consultation.question_type) as i32,
        urgency: urgency_out(consultation.urgency) as i32,
        // A consultation is never stored without consent.
        consent_recorded: true,
        state: consultation_state_out(consultation.state) as i32,
        filed_at: Some(timestamp(consultation.filed_at)),
        answer_due_at: Some(timestamp(consultation.answer_due_at)),
        overdue,
        first_answered_at: consultation.first_answered_at.map(timestamp),
        ended_at: consultation.ended_at.map(timestamp),
        erased_at: consultation.erased_at.map(timestamp),
        escalated_from_id: consultation
            .escalated_from
            .map(|i| i.to_string())
            .unwrap_or_default(),
        escalated_to_id: consultation
            .escalated_to
            .map(|i| i.to_string())
            .unwrap_or_default(),
        party_ids: consultation
            .parties
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        revision: consultation.revision,
    }
}

pub fn state_change_out(change: StateChange) -> pb::StateChange {
    pb::StateChange {
        from_state: consultation_state_out(change.from) as i32,
        to_state: consultation_state_out(change.to) as i32,
        organisation_id: change.organisation.as_str().to_owned(),
        person: change.person,
        at: Some(timestamp(change.at)),
        note: change.note.unwrap_or_default(),
        decline_reason: change
            .decline_reason
            .map_or(pb::DeclineReason::Unspecified, decline_reason_out)
            as i32,
    }
}

pub fn message_out(message: ThreadMessage) -> pb::ThreadMessage {
    pb::ThreadMessage {
        id: message.id,
        consultation_id: message.consultation_id.to_string(),
        author_organisation_id: message.author.as_str().to_owned(),
        author_person: message.person,
        text: message.text.unwrap_or_default(),
        posted_at: Some(timestamp(message.posted_at)),
    }
}

pub fn watch_message_out(
    message: crate::app::ConsultationWatchMessage,
) -> pb::WatchConsultationsResponse {
    match message {
        crate::app::ConsultationWatchMessage::Start(revision) => pb::WatchConsultationsResponse {
            revision: revision.0,
            stream_start: true,
            ..Default::default()
        },
        crate::app::ConsultationWatchMessage::Event(item) => watch_item_out(*item),
    }
}

fn watch_item_out(item: crate::app::ConsultationWatchItem) -> pb::WatchConsultationsResponse {
    let c = item.consultation;
    pb::WatchConsultationsResponse {
        revision: item.revision.0,
        consultation_id: c.id.to_string(),
        kind: event_kind_out(item.kind) as i32,
        state: consultation_state_out(item.state) as i32,
        actor_organisation_id: item
            .actor
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        at: Some(timestamp(item.at)),
        overdue: item.overdue,
        case_reference: c
            .content
            .map(|content| content.case_reference.as_str().to_owned())
            .unwrap_or_default(),
        urgency: urgency_out(c.urgency) as i32,
        filer_id: c.filer.as_str().to_owned(),
        addressee_id: c.addressee.as_str().to_owned(),
        answer_due_at: Some(timestamp(c.answer_due_at)),
        stream_start: false,
    }
}

pub fn audit_query(request: &pb::ListAuditEventsRequest) -> Result<AuditQuery> {
    let consultation_id = (!request.consultation_id.is_empty())
        .then(|| consultation_id("consultation_id", &request.consultation_id))
        .transpose()?
        .map(|id| id.to_string());
    let organisation = (!request.organisation_id.is_empty())
        .then(|| field("organisation_id", OrgId::parse(&request.organisation_id)))
        .transpose()?
        .map(|id| id.as_str().to_owned());
    Ok(AuditQuery {
        consultation_id,
        organisation,
        from: request
            .start_time
            .as_ref()
            .map(|t| time_in("start_time", t))
            .transpose()?,
        until: request
            .end_time
            .as_ref()
            .map(|t| time_in("end_time", t))
            .transpose()?,
    })
}

pub fn audit_event_out(link: ChainLink) -> pb::AuditEvent {
    pb::AuditEvent {
        seq: link.entry.seq,
        at: Some(timestamp(link.entry.at)),
        event_type: link.entry.event_type,
        organisation_id: link.entry.organisation,
        person: link.entry.person,
        certificate_identity: link.entry.certificate_identity,
        consultation_id: link.entry.consultation_id.unwrap_or_default(),
        action: audit_action_out(link.entry.action) as i32,
        outcome: audit_outcome_out(link.entry.outcome) as i32,
        prev_hash: hex::encode(link.prev_hash),
        hash: hex::encode(link.hash),
    }
}
