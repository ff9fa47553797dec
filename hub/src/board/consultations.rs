//! The board's consultation pages, for expertise teams and those who ask
//! them: the inbox deadlines first, a consultation's history and thread,
//! filing, and the lifecycle's actions. The person acting is asked once
//! per browser session and goes with every call; a refused field is shown
//! on the field with what the person typed still in it.

mod filing;

pub use filing::{file, new_form};

use super::nl::{self, NL, Text};
use super::pages::{chosen, field, page, posted, refused};
use super::{Board, Visitor};
use crate::app::{
    Actor, AppError, DirectorySnapshot, FieldViolation, Page, PostMessageCommand, StartFrom,
    TransitionCommand,
};
use crate::domain::capacity::{MunicipalityCode, RequestId, Revision};
use crate::domain::consultation::{
    self, AgeYears, CaseContent, Consultation, ConsultationAction, ConsultationId,
    ConsultationQuery, ConsultationState, DeclineReason, NewConsultation, ProblemDomain,
    ProblemDomains, QuestionType, Side, Urgency,
};
use crate::domain::identity::OrgId;
use crate::domain::privacy::{CaseReference, FreeText};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::forms::*;

/// One consultation in a list.
struct ListRow {
    id: String,
    counterpart: String,
    urgency: &'static str,
    question_type: &'static str,
    state: &'static str,
    case_reference: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "board/consultations_list.html")]
struct ListView {
    t: &'static Text,
    revision: u64,
    inbox: Vec<ListRow>,
    outbox: Vec<ListRow>,
}

#[derive(Template)]
#[template(path = "board/consultations.html")]
struct InboxView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    person: &'a str,
    list: String,
}

fn org_name(board: &Board, id: &OrgId) -> String {
    board
        .app
        .directory
        .directory()
        .organisations
        .get(id)
        .map_or_else(|| id.as_str().to_owned(), |org| org.name.clone())
}

/// The open consultations on one side, those to be answered first on top.
async fn open_on(
    board: &Board,
    actor: &Actor,
    side: Side,
) -> Result<(Vec<ListRow>, DateTime<Utc>), AppError> {
    let query = ConsultationQuery {
        side: Some(side),
        states: ConsultationState::ALL
            .into_iter()
            .filter(|state| !state.is_final())
            .collect(),
        ..ConsultationQuery::default()
    };
    let page = Page {
        size: 500,
        token: String::new(),
    };
    let seen = board
        .app
        .consultations
        .list_consultations(actor, Ok(query), Ok(page))
        .await?;
    let now = seen.at;
    let mut found = seen.value.0;
    // Waiting for a first answer before what is under way; earliest due first.
    found.sort_by_key(|c| (c.state != ConsultationState::Submitted, c.answer_due_at));
    let rows = found
        .into_iter()
        .map(|c| ListRow {
            id: c.id.to_string(),
            counterpart: org_name(
                board,
                if side == Side::Addressee {
                    &c.filer
                } else {
                    &c.addressee
                },
            ),
            urgency: nl::urgency(c.urgency),
            question_type: nl::question_type(c.question_type),
            state: nl::consultation_state(c.state),
            case_reference: c
                .content
                .as_ref()
                .map(|content| content.case_reference.as_str().to_owned())
                .unwrap_or_default(),
            due: local(c.answer_due_at),
            overdue: c.is_overdue(now),
        })
        .collect();
    Ok((rows, now))
}

async fn render_list(board: &Board, actor: &Actor) -> Result<String, AppError> {
    // The revision first: an event after it refreshes the list again.
    let revision = board.app.consultations.current_revision().await?;
    let (inbox, _) = open_on(board, actor, Side::Addressee).await?;
    let (outbox, _) = open_on(board, actor, Side::Filer).await?;
    let view = ListView {
        t: &NL,
        revision: revision.0,
        inbox,
        outbox,
    };
    Ok(view.render().unwrap_or_default())
}

/// `GET /board/consultaties`: the inbox and the outbox, live.
pub async fn inbox(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let Some(person) = visitor.person.clone() else {
        return ask_name(&parts);
    };
    let list = match render_list(&board, &actor(&visitor)).await {
        Ok(list) => list,
        Err(error) => return refused_here(&visitor, &error),
    };
    let view = InboxView {
        t: &NL,
        title: NL.consultations_title,
        org_name: &visitor.caller.org.name,
        person: &person,
        list,
    };
    page(&visitor, StatusCode::OK, view.render())
}

/// `GET /board/consultaties/lijst`: the lists alone, for the live refresh.
pub async fn inbox_list(State(board): State<Board>, visitor: Visitor) -> Response {
    match render_list(&board, &actor(&visitor)).await {
        Ok(html) => page(&visitor, StatusCode::OK, Ok(html)),
        Err(error) => refusal_words(&error).0.into_response(),
    }
}

/// A refusal as a page, in the consultation pages' words.
fn refused_here(visitor: &Visitor, error: &AppError) -> Response {
    match error {
        AppError::PermissionDenied(_)
        | AppError::NotFound(_)
        | AppError::FailedPrecondition { .. } => {
            let (status, message) = refusal_words(error);
            super::pages::error_page(visitor, status, message)
        }
        other => refused(visitor, other),
    }
}

/// `GET /board/consultaties/live`: one `change` event per consultation
/// event after `?seit=` (or `Last-Event-ID`) on the organisation's
/// consultations.
pub async fn live(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let start = super::pages::resume_point(&parts).map_or(StartFrom::Now, |revision| {
        StartFrom::After(Revision(revision))
    });
    let stream = match board
        .app
        .consultations
        .watch_consultations(&actor(&visitor), Ok(start))
        .await
    {
        Ok(stream) => stream,
        Err(error) => return refusal_words(&error).0.into_response(),
    };
    let events = stream
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(|item| {
            std::future::ready(match item {
                Ok(crate::app::ConsultationWatchMessage::Event(item)) => {
                    let revision = item.revision.0.to_string();
                    Some(Ok::<_, std::convert::Infallible>(
                        Event::default()
                            .event("change")
                            .id(&revision)
                            .data(revision),
                    ))
                }
                _ => None,
            })
        });
    super::pages::event_stream(events)
}

/// What the detail page shows of the consultation.
struct Shown {
    id: String,
    state: &'static str,
    overdue: bool,
    due: String,
    filed: String,
    filer: String,
    addressee: String,
    municipality: String,
    urgency: &'static str,
    question_type: &'static str,
    domains: String,
    /// `None` once erased.
    content: Option<(String, u8, String)>,
    escalated_to: Option<String>,
    escalated_from: Option<String>,
}

struct HistoryRow {
    at: String,
    state: &'static str,
    who: String,
    note: Option<String>,
    reason: Option<&'static str>,
}

struct MessageRow {
    at: String,
    who: String,
    text: Option<String>,
}

#[derive(Template)]
#[template(path = "board/consultation.html")]
struct DetailView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    person: &'a str,
    csrf: &'a str,
    c: Shown,
    history: Vec<HistoryRow>,
    messages: Vec<MessageRow>,
    /// Open: the thread takes messages.
    open: bool,
    actions: Vec<Pick>,
    decline_reasons: Vec<Pick>,
    networks: Vec<Pick>,
    typed: Typed,
    errors: FieldErrors,
    error: Option<&'static str>,
}

impl DetailView<'_> {
    fn error_of(&self, field: &str) -> Option<&'static str> {
        self.errors.get(field)
    }
}

/// What the person typed into the page's two forms, kept across a refusal.
#[derive(Default)]
struct Typed {
    message: String,
    message_request: String,
    note: String,
    action_request: String,
    reason: Option<DeclineReason>,
    network: String,
}

/// The actions the visitor's side may take now, with what they ask for.
struct Choices {
    actions: Vec<Pick>,
    decline_reasons: Vec<Pick>,
    networks: Vec<Pick>,
}

/// What the visitor may do with `consultation`: the lifecycle's actions
/// open to its side, the reasons to decline with, the networks it may
/// escalate to (each with what the person chose before, if refused).
fn choices(
    visitor: &Visitor,
    consultation: &Consultation,
    directory: &DirectorySnapshot,
    typed: &Typed,
) -> Choices {
    let side = consultation.side_of(&visitor.caller.org.id);
    let actions: Vec<Pick> = ConsultationAction::ALL
        .into_iter()
        .filter(|action| {
            Some(action.side()) == side
                && consultation::transition(consultation.state, *action).is_ok()
        })
        .filter(|action| {
            *action != ConsultationAction::Escalate
                || directory
                    .organisations
                    .values()
                    .any(|to| consultation::may_escalate(&visitor.caller.org, to))
        })
        .map(|action| Pick {
            value: format!("{action:?}"),
            label: nl::consultation_action(action).to_owned(),
            selected: false,
        })
        .collect();
    let may = |action: ConsultationAction| actions.iter().any(|a| a.value == format!("{action:?}"));
    let decline_reasons = if may(ConsultationAction::Decline) {
        picks(
            &DeclineReason::ALL,
            typed.reason.as_slice(),
            nl::decline_reason,
        )
    } else {
        Vec::new()
    };
    let mut networks: Vec<Pick> = if may(ConsultationAction::Escalate) {
        directory
            .organisations
            .values()
            .filter(|to| consultation::may_escalate(&visitor.caller.org, to))
            .map(|to| Pick {
                value: to.id.as_str().to_owned(),
                label: to.name.clone(),
                selected: to.id.as_str() == typed.network,
            })
            .collect()
    } else {
        Vec::new()
    };
    networks.sort_by(|a, b| a.label.cmp(&b.label));
    Choices {
        actions,
        decline_reasons,
        networks,
    }
}

const DETAIL_FIELDS: [&str; 4] = ["text", "note", "reason", "network_id"];

async fn detail_page(
    board: &Board,
    visitor: &Visitor,
    id: &str,
    typed: Typed,
    error: Option<&AppError>,
) -> Response {
    let actor = actor(visitor);
    let parsed =
        || ConsultationId::parse(id).map_err(|e| AppError::invalid("consultation_id", e.0));
    let seen = match board
        .app
        .consultations
        .get_consultation(&actor, parsed())
        .await
    {
        Ok(seen) => seen,
        Err(error) => return refused_here(visitor, &error),
    };
    let (consultation, history) = seen.value;
    let now = seen.at;
    let messages = match board
        .app
        .consultations
        .list_messages(
            &actor,
            parsed(),
            Ok(Page {
                size: 500,
                token: String::new(),
            }),
        )
        .await
    {
        Ok((messages, _)) => messages,
        Err(error) => return refused_here(visitor, &error),
    };
    let directory = board.app.directory.directory();
    let Choices {
        actions,
        decline_reasons,
        networks,
    } = choices(visitor, &consultation, &directory, &typed);
    let name_of = |id: &OrgId| {
        directory
            .organisations
            .get(id)
            .map_or_else(|| id.as_str().to_owned(), |org| org.name.clone())
    };
    let shown = shown(&consultation, now, &name_of, board);
    let history = history
        .into_iter()
        .map(|change| HistoryRow {
            at: local(change.at),
            state: nl::consultation_state(change.to),
            who: format!("{} ({})", name_of(&change.organisation), change.person),
            note: change.note,
            reason: change.decline_reason.map(nl::decline_reason),
        })
        .collect();
    let messages = messages
        .into_iter()
        .map(|message| MessageRow {
            at: local(message.posted_at),
            who: format!("{} ({})", name_of(&message.author), message.person),
            text: message.text,
        })
        .collect();
    let errors = error.map(FieldErrors::of).unwrap_or_default();
    let page_error = match error {
        Some(AppError::Invalid(_)) => errors.elsewhere(&DETAIL_FIELDS),
        Some(other) => Some(refusal_words(other).1),
        None => None,
    };
    let status = error.map_or(StatusCode::OK, |error| refusal_words(error).0);
    let typed = Typed {
        message_request: if typed.message_request.is_empty() {
            new_request_id()
        } else {
            typed.message_request
        },
        action_request: if typed.action_request.is_empty() {
            new_request_id()
        } else {
            typed.action_request
        },
        ..typed
    };
    let csrf = board.app.form_token(&visitor.binding());
    let person = visitor.person.clone().unwrap_or_default();
    let view = DetailView {
        t: &NL,
        title: NL.consultations_title,
        org_name: &visitor.caller.org.name,
        person: &person,
        csrf: &csrf,
        open: !consultation.state.is_final(),
        c: shown,
        history,
        messages,
        actions,
        decline_reasons,
        networks,
        typed,
        errors,
        error: page_error,
    };
    page(visitor, status, view.render())
}

fn shown(
    c: &Consultation,
    now: DateTime<Utc>,
    name_of: &dyn Fn(&OrgId) -> String,
    board: &Board,
) -> Shown {
    let directory = board.app.directory.directory();
    Shown {
        id: c.id.to_string(),
        state: nl::consultation_state(c.state),
        overdue: c.is_overdue(now),
        due: local(c.answer_due_at),
        filed: local(c.filed_at),
        filer: name_of(&c.filer),
        addressee: name_of(&c.addressee),
        municipality: directory
            .municipalities
            .get(c.municipality.as_str())
            .map_or_else(|| c.municipality.as_str().to_owned(), |m| m.name.clone()),
        urgency: nl::urgency(c.urgency),
        question_type: nl::question_type(c.question_type),
        domains: c
            .problem_domains
            .iter()
            .map(nl::problem_domain)
            .collect::<Vec<_>>()
            .join(", "),
        content: c.content.as_ref().map(|content| {
            (
                content.case_reference.as_str().to_owned(),
                content.age.get(),
                content.question.as_str().to_owned(),
            )
        }),
        escalated_to: c.escalated_to.as_ref().map(ToString::to_string),
        escalated_from: c.escalated_from.as_ref().map(ToString::to_string),
    }
}

/// `GET /board/consultaties/{id}`: the consultation, its history and thread.
pub async fn detail(
    State(board): State<Board>,
    visitor: Visitor,
    Path(id): Path<String>,
    parts: Parts,
) -> Response {
    if visitor.person.is_none() {
        return ask_name(&parts);
    }
    detail_page(&board, &visitor, &id, Typed::default(), None).await
}

/// `POST /board/consultaties/{id}/bericht`: a message to the thread.
pub async fn message(
    State(board): State<Board>,
    visitor: Visitor,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let typed = Typed {
        message: field(&fields, "text").to_owned(),
        message_request: field(&fields, "request_id").to_owned(),
        ..Typed::default()
    };
    let command = (|| {
        Ok(PostMessageCommand {
            id: ConsultationId::parse(&id)
                .map_err(|e| AppError::invalid("consultation_id", e.0))?,
            text: FreeText::parse(&typed.message).map_err(|e| AppError::invalid("text", e.0))?,
            request_id: RequestId::parse(&typed.message_request)
                .map_err(|e| AppError::invalid("request_id", e.0))?,
        })
    })();
    match board
        .app
        .consultations
        .post_message(&actor(&visitor), command)
        .await
    {
        Ok(_) => Redirect::to(&format!("/board/consultaties/{id}#berichten")).into_response(),
        Err(error) => detail_page(&board, &visitor, &id, typed, Some(&error)).await,
    }
}

/// `POST /board/consultaties/{id}/actie`: accept, decline, start work,
/// advise, escalate, withdraw or close; the button pressed names it.
pub async fn act(
    State(board): State<Board>,
    visitor: Visitor,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let typed = Typed {
        note: field(&fields, "note").to_owned(),
        action_request: field(&fields, "request_id").to_owned(),
        reason: chosen(&DeclineReason::ALL, field(&fields, "reason")),
        network: field(&fields, "network_id").to_owned(),
        ..Typed::default()
    };
    let Some(action) = chosen(&ConsultationAction::ALL, field(&fields, "action")) else {
        return detail_page(
            &board,
            &visitor,
            &id,
            typed,
            Some(&AppError::invalid("action", "unknown action")),
        )
        .await;
    };
    let command = transition_command(&id, action, &typed);
    match board
        .app
        .consultations
        .transition_consultation(&actor(&visitor), action, command)
        .await
    {
        Ok(_) => Redirect::to(&format!("/board/consultaties/{id}")).into_response(),
        Err(error) => detail_page(&board, &visitor, &id, typed, Some(&error)).await,
    }
}

/// The transition as the contract's rules read it: a note is required to
/// decline, to advise and to escalate.
fn transition_command(
    id: &str,
    action: ConsultationAction,
    typed: &Typed,
) -> Result<TransitionCommand, AppError> {
    let id = ConsultationId::parse(id).map_err(|e| AppError::invalid("consultation_id", e.0))?;
    let note_required = matches!(
        action,
        ConsultationAction::Decline | ConsultationAction::GiveAdvice | ConsultationAction::Escalate
    );
    let note = if typed.note.trim().is_empty() {
        if note_required {
            return Err(AppError::invalid("note", "is required"));
        }
        None
    } else {
        Some(FreeText::parse(&typed.note).map_err(|e| AppError::invalid("note", e.0))?)
    };
    let decline_reason = match action {
        ConsultationAction::Decline => Some(
            typed
                .reason
                .ok_or_else(|| AppError::invalid("reason", "is required"))?,
        ),
        _ => None,
    };
    let escalate_to = match action {
        ConsultationAction::Escalate => {
            Some(OrgId::parse(&typed.network).map_err(|e| AppError::invalid("network_id", e.0))?)
        }
        _ => None,
    };
    Ok(TransitionCommand {
        id,
        action,
        note,
        decline_reason,
        escalate_to,
        request_id: RequestId::parse(&typed.action_request).ok(),
    })
}
