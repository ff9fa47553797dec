//! The board's consultation pages, for expertise teams and those who ask
//! them: the inbox deadlines first, a consultation's history and thread,
//! filing, and the lifecycle's actions. The person acting is asked once
//! per browser session and goes with every call; a refused field is shown
//! on the field with what the person typed still in it.

use super::nl::{self, NL, Text};
use super::pages::{chosen, field, page, posted, refused};
use super::{Board, PERSON_COOKIE, Visitor, refusal_text};
use crate::app::{
    Actor, AppError, FieldViolation, PERSON_HEADER, Page, PostMessageCommand, Reason, StartFrom,
    TransitionCommand,
};
use crate::domain::capacity::{MunicipalityCode, RequestId, Revision};
use crate::domain::consultation::{
    self, AgeYears, CaseContent, Consultation, ConsultationAction, ConsultationId,
    ConsultationQuery, ConsultationState, DeclineReason, NewConsultation, ProblemDomain,
    ProblemDomains, QuestionType, Side, Urgency,
};
use crate::domain::identity::{OrgId, Person};
use crate::domain::privacy::{CaseReference, FreeText};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Amsterdam;
use futures::StreamExt;

/// A choice of a select or a checkbox, with a label that may be a name.
pub(super) struct Pick {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

pub(super) fn picks<T: Copy + PartialEq + std::fmt::Debug>(
    all: &[T],
    chosen: &[T],
    label: fn(T) -> &'static str,
) -> Vec<Pick> {
    all.iter()
        .map(|value| Pick {
            value: format!("{value:?}"),
            label: label(*value).to_owned(),
            selected: chosen.contains(value),
        })
        .collect()
}

pub(super) fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&Amsterdam)
        .format("%d-%m-%Y %H:%M")
        .to_string()
}

/// The fields a refusal named, each with the words the person reads.
#[derive(Default)]
pub(super) struct FieldErrors(Vec<(String, &'static str)>);

impl FieldErrors {
    pub(super) fn of(error: &AppError) -> Self {
        match error {
            AppError::Invalid(violations) => Self(
                violations
                    .iter()
                    .map(|v| (v.field.clone(), words(v)))
                    .collect(),
            ),
            _ => Self::default(),
        }
    }

    pub(super) fn get(&self, field: &str) -> Option<&'static str> {
        self.0
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, words)| *words)
    }

    /// Refusals of fields the form does not show (the person, say).
    pub(super) fn elsewhere(&self, shown: &[&str]) -> Option<&'static str> {
        self.0
            .iter()
            .find(|(name, _)| !shown.contains(&name.as_str()))
            .map(|(name, words)| {
                if name == PERSON_HEADER {
                    NL.person_missing
                } else {
                    *words
                }
            })
    }
}

/// A field's refusal in the person's words. The rules' own words are
/// English for integrators; these say the same to a coordinator.
fn words(violation: &FieldViolation) -> &'static str {
    let description = violation.description.as_str();
    match violation.field.as_str() {
        _ if description.contains("BSN") => NL.bsn_refused,
        "consent_recorded" => NL.consent_required,
        "problem_domains" | "care_profiles" => NL.choose_one,
        "hold_ids" => NL.choose_holds,
        "case_reference" => NL.case_reference_invalid,
        "municipality_code" => NL.unknown_municipality,
        "age_years" => NL.age_invalid,
        PERSON_HEADER => NL.person_invalid,
        _ if description.contains("empty") || description.contains("required") => NL.required,
        _ if description.contains("at most") => NL.too_long,
        _ => NL.field_invalid,
    }
}

/// A page-level refusal in the person's words.
fn refusal_words(error: &AppError) -> (StatusCode, &'static str) {
    match error {
        AppError::PermissionDenied(_) => (StatusCode::FORBIDDEN, NL.not_allowed_consultations),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, NL.not_found),
        AppError::FailedPrecondition { reason, .. } => (
            StatusCode::CONFLICT,
            match reason {
                Reason::IllegalTransition => NL.illegal_transition,
                Reason::ConsultationEnded => NL.consultation_ended,
                Reason::ContentErased => NL.content_erased,
                _ => NL.try_again,
            },
        ),
        AppError::Invalid(_) => (StatusCode::BAD_REQUEST, NL.field_invalid),
        other => refusal_text(other),
    }
}

pub(super) fn actor(visitor: &Visitor) -> Actor {
    Actor {
        caller: visitor.caller.clone(),
        person: Ok(visitor.person.clone()),
    }
}

pub(super) fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Sends a person without a name to the name page first, and back after.
pub(super) fn ask_name(parts: &Parts) -> Response {
    let back = parts
        .uri
        .path_and_query()
        .map_or("/board/consultaties", |p| p.as_str());
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("terug", back)
        .finish();
    Redirect::to(&format!("/board/naam?{query}")).into_response()
}

/// Only a page of the board itself is a place to go back to.
fn safe_return(raw: &str) -> &str {
    let inside = raw.starts_with("/board/") && !raw.contains("//") && !raw.contains('\\');
    if inside { raw } else { "/board/consultaties" }
}

#[derive(Template)]
#[template(path = "board/person.html")]
struct PersonView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    csrf: &'a str,
    name: &'a str,
    back: &'a str,
    error: Option<&'static str>,
}

fn person_page(
    board: &Board,
    visitor: &Visitor,
    name: &str,
    back: &str,
    error: Option<&'static str>,
) -> Response {
    let csrf = board.app.form_token(&visitor.binding());
    let view = PersonView {
        t: &NL,
        title: NL.person_title,
        org_name: &visitor.caller.org.name,
        csrf: &csrf,
        name,
        back,
        error,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(visitor, status, view.render())
}

/// `GET /board/naam`: who is acting, asked once per browser session.
pub async fn person_form(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let back = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "terug")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let name = visitor.person.clone().unwrap_or_default();
    person_page(&board, &visitor, &name, safe_return(&back), None)
}

/// `POST /board/naam`: the name, checked as the hub checks `x-spil-person`,
/// kept in a session cookie.
pub async fn set_person(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let back = safe_return(field(&fields, "terug")).to_owned();
    let typed = field(&fields, "naam");
    let Ok(person) = Person::parse(typed) else {
        return person_page(&board, &visitor, typed, &back, Some(NL.person_invalid));
    };
    let value: String = form_urlencoded::byte_serialize(person.as_str().as_bytes()).collect();
    let cookie = format!("{PERSON_COOKIE}={value}; Path=/board; Secure; HttpOnly; SameSite=Strict");
    let mut response = Redirect::to(&back).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

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

/// The filing form as typed.
#[derive(Default)]
struct FilingForm {
    request_id: String,
    addressee: String,
    municipality: String,
    age: String,
    case_reference: String,
    domains: Vec<ProblemDomain>,
    question_type: Option<QuestionType>,
    urgency: Option<Urgency>,
    question: String,
    consent: bool,
}

impl FilingForm {
    fn of(fields: &[(String, String)]) -> Self {
        Self {
            request_id: field(fields, "request_id").to_owned(),
            addressee: field(fields, "addressee_id").to_owned(),
            municipality: field(fields, "municipality_code").trim().to_uppercase(),
            age: field(fields, "age_years").trim().to_owned(),
            case_reference: field(fields, "case_reference").trim().to_owned(),
            domains: fields
                .iter()
                .filter(|(name, _)| name == "problem_domains")
                .filter_map(|(_, value)| chosen(&ProblemDomain::ALL, value))
                .collect(),
            question_type: chosen(&QuestionType::ALL, field(fields, "question_type")),
            urgency: chosen(&Urgency::ALL, field(fields, "urgency")),
            question: field(fields, "question").to_owned(),
            consent: field(fields, "consent_recorded") == "ja",
        }
    }

    /// The consultation to file, or every field that is wrong.
    fn parse(&self) -> Result<NewConsultation, AppError> {
        let mut wrong = Vec::new();
        let mut check = |name: &str, result: Result<(), String>| {
            if let Err(description) = result {
                wrong.push(FieldViolation::new(name, description));
            }
        };
        let request_id = RequestId::parse(&self.request_id);
        check(
            "request_id",
            request_id.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let addressee = OrgId::parse(&self.addressee);
        check(
            "addressee_id",
            addressee.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let municipality = MunicipalityCode::parse(&self.municipality);
        check(
            "municipality_code",
            municipality.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let age = self
            .age
            .parse::<u32>()
            .map_err(|_| "must be a whole number of years".to_owned())
            .and_then(|years| AgeYears::new(years).map_err(|e| e.0));
        check("age_years", age.as_ref().map(|_| ()).map_err(Clone::clone));
        let case_reference = CaseReference::parse(&self.case_reference);
        check(
            "case_reference",
            case_reference.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        let domains = ProblemDomains::new(self.domains.iter().copied());
        check(
            "problem_domains",
            domains.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        check(
            "question_type",
            self.question_type
                .map(|_| ())
                .ok_or_else(|| "is required".to_owned()),
        );
        check(
            "urgency",
            self.urgency
                .map(|_| ())
                .ok_or_else(|| "is required".to_owned()),
        );
        let question = FreeText::parse(&self.question);
        check(
            "question",
            question.as_ref().map(|_| ()).map_err(|e| e.0.clone()),
        );
        if !self.consent {
            check(
                "consent_recorded",
                Err(
                    "the family's consent to share this case must be recorded before filing".into(),
                ),
            );
        }
        match (
            request_id,
            addressee,
            municipality,
            age,
            case_reference,
            domains,
            self.question_type,
            self.urgency,
            question,
        ) {
            (
                Ok(request_id),
                Ok(addressee),
                Ok(municipality),
                Ok(age),
                Ok(case_reference),
                Ok(problem_domains),
                Some(question_type),
                Some(urgency),
                Ok(question),
            ) if wrong.is_empty() => Ok(NewConsultation {
                request_id,
                addressee,
                content: CaseContent {
                    case_reference,
                    age,
                    question,
                },
                municipality,
                problem_domains,
                question_type,
                urgency,
            }),
            _ => Err(AppError::Invalid(wrong)),
        }
    }
}

#[derive(Template)]
#[template(path = "board/consultation_new.html")]
struct NewView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    person: &'a str,
    csrf: &'a str,
    form: FilingForm,
    addressees: Vec<Pick>,
    domains: Vec<Pick>,
    question_types: Vec<Pick>,
    urgencies: Vec<Pick>,
    errors: FieldErrors,
    error: Option<&'static str>,
}

impl NewView<'_> {
    fn error_of(&self, field: &str) -> Option<&'static str> {
        self.errors.get(field)
    }
}

const FILING_FIELDS: [&str; 9] = [
    "addressee_id",
    "municipality_code",
    "age_years",
    "case_reference",
    "problem_domains",
    "question_type",
    "urgency",
    "question",
    "consent_recorded",
];

fn new_page(
    board: &Board,
    visitor: &Visitor,
    form: FilingForm,
    error: Option<&AppError>,
) -> Response {
    let person = visitor.person.clone().unwrap_or_default();
    let directory = board.app.directory.directory();
    let mut addressees: Vec<Pick> = directory
        .organisations
        .values()
        .filter(|org| org.id != visitor.caller.org.id && consultation::may_be_addressed(org))
        .map(|org| Pick {
            value: org.id.as_str().to_owned(),
            label: org.name.clone(),
            selected: org.id.as_str() == form.addressee,
        })
        .collect();
    addressees.sort_by(|a, b| a.label.cmp(&b.label));
    let errors = error.map(FieldErrors::of).unwrap_or_default();
    let page_error = match error {
        Some(AppError::Invalid(_)) => errors.elsewhere(&FILING_FIELDS),
        Some(other) => Some(refusal_words(other).1),
        None => None,
    };
    let status = match error {
        Some(error) => refusal_words(error).0,
        None => StatusCode::OK,
    };
    let csrf = board.app.form_token(&visitor.binding());
    let view = NewView {
        t: &NL,
        title: NL.new_consultation,
        org_name: &visitor.caller.org.name,
        person: &person,
        csrf: &csrf,
        addressees,
        domains: picks(&ProblemDomain::ALL, &form.domains, nl::problem_domain),
        question_types: picks(
            &QuestionType::ALL,
            form.question_type.as_slice(),
            nl::question_type,
        ),
        urgencies: picks(&Urgency::ALL, form.urgency.as_slice(), nl::urgency),
        form,
        errors,
        error: page_error,
    };
    page(visitor, status, view.render())
}

/// `GET /board/consultaties/nieuw`: the filing form.
pub async fn new_form(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    if visitor.person.is_none() {
        return ask_name(&parts);
    }
    let form = FilingForm {
        request_id: new_request_id(),
        ..FilingForm::default()
    };
    new_page(&board, &visitor, form, None)
}

/// `POST /board/consultaties/nieuw`: files it; on a refusal the form comes
/// back as typed, the wrong fields marked.
pub async fn file(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let form = FilingForm::of(&fields);
    let filed = board
        .app
        .consultations
        .file_consultation(&actor(&visitor), form.parse())
        .await;
    match filed {
        Ok(seen) => Redirect::to(&format!("/board/consultaties/{}", seen.value.id)).into_response(),
        Err(error) => new_page(&board, &visitor, form, Some(&error)),
    }
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
    let own = &visitor.caller.org.id;
    let directory = board.app.directory.directory();
    let side = consultation.side_of(own);
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
