//! The board's placement requests: a crisis service asks the providers of
//! its held places to take a child and follows the answers; a provider sees
//! what it was asked, live, and accepts or refuses with a grounded reason.
//! The same use-cases, rules and audit as gRPC; refused fields are shown on
//! the field with what the person typed kept.

use super::forms::{FieldErrors, Pick, actor, ask_name, local, new_request_id, picks};
use super::nl::{self, NL, Text};
use super::pages::{chosen, error_page, event_stream, field, offerings_by_id, page, posted};
use super::{Board, Visitor, refusal_text};
use crate::app::{AppError, Page, PlacementWatchMessage, Reason, StartFrom};
use crate::domain::capacity::{CareProfile, CareProfiles, RequestId, Revision, SecurityLevel};
use crate::domain::consultation::AgeYears;
use crate::domain::hold::HoldState;
use crate::domain::placement::{
    NewPlacementRequest, PlacementAction, PlacementRequest, PlacementUrgency, ProviderRequestState,
    Refusal, RefusalReason,
};
use crate::domain::privacy::{CaseReference, FreeText};
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;

/// A placement refusal in the person's words.
fn refusal_words(error: &AppError) -> (StatusCode, &'static str) {
    match error {
        AppError::PermissionDenied(_) => (StatusCode::FORBIDDEN, NL.not_allowed_placements),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, NL.not_found),
        AppError::FailedPrecondition { reason, .. } => (
            StatusCode::CONFLICT,
            match reason {
                Reason::PlacementWithdrawn => NL.placement_withdrawn,
                Reason::PlacementOverdue => NL.placement_overdue,
                Reason::PlacementAnswered => NL.placement_answered,
                Reason::HoldUnderRequest => NL.hold_under_request,
                _ => refusal_text(error).1,
            },
        ),
        AppError::Invalid(_) => (StatusCode::BAD_REQUEST, NL.field_invalid),
        other => refusal_text(other),
    }
}

/// One provider's part as the page shows it.
struct PartRow {
    id: String,
    provider: String,
    location: String,
    state: &'static str,
    open: bool,
    refusal: Option<String>,
}

/// One request as the page shows it, from either side.
struct RequestRow {
    id: String,
    counterpart: String,
    case_reference: String,
    age: u8,
    municipality: String,
    care: String,
    security: &'static str,
    urgency: &'static str,
    note: Option<String>,
    due_local: String,
    due_iso: String,
    parts: Vec<PartRow>,
    /// Some part still waits for an answer before its deadline.
    open: bool,
    /// A provider took the child.
    placed: bool,
}

/// What the person typed into one answer form, kept across a refusal.
#[derive(Default)]
struct TypedAnswer {
    part: String,
    reason: Option<RefusalReason>,
    note: String,
    referral: String,
}

#[derive(Template)]
#[template(path = "board/placements_list.html")]
struct ListView<'a> {
    t: &'static Text,
    revision: u64,
    csrf: &'a str,
    asked_of_us: Vec<RequestRow>,
    asked_by_us: Vec<RequestRow>,
    reasons: Vec<Pick>,
    typed: TypedAnswer,
    errors: FieldErrors,
}

impl ListView<'_> {
    fn error_of(&self, part: &str, field: &str) -> Option<&'static str> {
        (self.typed.part == part)
            .then(|| self.errors.get(field))
            .flatten()
    }

    fn note_of(&self, part: &str) -> &str {
        if self.typed.part == part {
            &self.typed.note
        } else {
            ""
        }
    }

    fn referral_of(&self, part: &str) -> &str {
        if self.typed.part == part {
            &self.typed.referral
        } else {
            ""
        }
    }

    fn reason_chosen(&self, part: &str, value: &str) -> bool {
        self.typed.part == part
            && self.typed.reason.map(|r| format!("{r:?}")).as_deref() == Some(value)
    }
}

#[derive(Template)]
#[template(path = "board/placements.html")]
struct PlacementsView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    person: &'a str,
    list: String,
    error: Option<&'static str>,
}

fn rows(
    board: &Board,
    visitor: &Visitor,
    requests: Vec<PlacementRequest>,
    locations: &std::collections::HashMap<String, String>,
    now: DateTime<Utc>,
) -> (Vec<RequestRow>, Vec<RequestRow>) {
    let directory = board.app.directory.directory();
    let name = |id: &crate::domain::identity::OrgId| {
        directory
            .organisations
            .get(id)
            .map_or_else(|| id.as_str().to_owned(), |org| org.name.clone())
    };
    let own = &visitor.caller.org.id;
    let (mut of_us, mut by_us) = (Vec::new(), Vec::new());
    for request in requests {
        let parts: Vec<PartRow> = request
            .provider_requests
            .iter()
            .map(|part| {
                let state = part.state_at(request.answer_due, now);
                PartRow {
                    id: part.id.clone(),
                    provider: name(&part.provider_id),
                    location: locations
                        .get(&part.offering_id)
                        .cloned()
                        .unwrap_or_else(|| part.offering_id.clone()),
                    state: nl::provider_request_state(state),
                    open: state == ProviderRequestState::Open,
                    refusal: part.refusal.as_ref().map(|refusal| {
                        let mut text = nl::refusal_reason(refusal.reason).to_owned();
                        if let Some(note) = &refusal.note {
                            text.push_str(": ");
                            text.push_str(note.as_str());
                        }
                        if let Some(referred) = &refusal.referral_offering_id {
                            text.push_str(&format!(" · {} {referred}", NL.referred_to));
                        }
                        text
                    }),
                }
            })
            .collect();
        let asked_by_us = request.requester_id == *own;
        let row = RequestRow {
            id: request.id.clone(),
            counterpart: if asked_by_us {
                String::new()
            } else {
                name(&request.requester_id)
            },
            case_reference: request.case_reference.as_str().to_owned(),
            age: request.age.get(),
            municipality: directory
                .municipalities
                .get(request.child_municipality.as_str())
                .map_or_else(
                    || request.child_municipality.as_str().to_owned(),
                    |m| m.name.clone(),
                ),
            care: request
                .care_profiles
                .iter()
                .map(nl::care_profile)
                .collect::<Vec<_>>()
                .join(", "),
            security: nl::security(request.security_level),
            urgency: nl::placement_urgency(request.urgency),
            note: request.note.as_ref().map(|n| n.as_str().to_owned()),
            due_local: local(request.answer_due),
            due_iso: request.answer_due.to_rfc3339(),
            open: parts.iter().any(|p| p.open),
            placed: request
                .provider_requests
                .iter()
                .any(|p| p.state == ProviderRequestState::Accepted),
            parts,
        };
        if asked_by_us {
            by_us.push(row);
        } else {
            of_us.push(row);
        }
    }
    // What still waits for an answer first, the earliest deadline on top.
    for list in [&mut of_us, &mut by_us] {
        list.sort_by(|a, b| b.open.cmp(&a.open).then(a.due_iso.cmp(&b.due_iso)));
    }
    (of_us, by_us)
}

async fn render_list(
    board: &Board,
    visitor: &Visitor,
    typed: TypedAnswer,
    error: Option<&AppError>,
) -> Result<String, AppError> {
    let revision = board.app.placements.current_revision().await?;
    let page = Page {
        size: 200,
        token: String::new(),
    };
    let listed = board.app.placements.list(&actor(visitor), &page).await?;
    let now = listed.at;
    let requests = listed.value.0;
    let asked: Vec<String> = requests
        .iter()
        .flat_map(|r| &r.provider_requests)
        .map(|p| p.offering_id.clone())
        .collect();
    let offerings = offerings_by_id(board, visitor, asked.into_iter()).await;
    let locations = offerings
        .into_iter()
        .map(|(id, offering)| (id, offering.location.name))
        .collect();
    let (asked_of_us, asked_by_us) = rows(board, visitor, requests, &locations, now);
    let csrf = board.app.form_token(&visitor.binding());
    let view = ListView {
        t: &NL,
        revision: revision.0,
        csrf: &csrf,
        asked_of_us,
        asked_by_us,
        reasons: picks(&RefusalReason::ALL, &[], nl::refusal_reason),
        typed,
        errors: error.map(FieldErrors::of).unwrap_or_default(),
    };
    Ok(view.render().unwrap_or_default())
}

async fn placements_page(
    board: &Board,
    visitor: &Visitor,
    typed: TypedAnswer,
    error: Option<&AppError>,
) -> Response {
    let list = match render_list(board, visitor, typed, error).await {
        Ok(list) => list,
        Err(refused) => {
            let (status, message) = refusal_words(&refused);
            return error_page(visitor, status, message);
        }
    };
    let message = match error {
        Some(AppError::Invalid(_)) => None,
        Some(other) => Some(refusal_words(other).1),
        None => None,
    };
    let person = visitor.person.clone().unwrap_or_default();
    let view = PlacementsView {
        t: &NL,
        title: NL.placements_title,
        org_name: &visitor.caller.org.name,
        person: &person,
        list,
        error: message,
    };
    let status = error.map_or(StatusCode::OK, |e| refusal_words(e).0);
    page(visitor, status, view.render())
}

/// `GET /board/plaatsingen`: requests asked of us and by us, live.
pub async fn placements(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    if visitor.person.is_none() {
        return ask_name(&parts);
    }
    placements_page(&board, &visitor, TypedAnswer::default(), None).await
}

/// `GET /board/plaatsingen/lijst`: the lists alone, for the live refresh.
pub async fn list(State(board): State<Board>, visitor: Visitor) -> Response {
    match render_list(&board, &visitor, TypedAnswer::default(), None).await {
        Ok(html) => page(&visitor, StatusCode::OK, Ok(html)),
        Err(error) => refusal_words(&error).0.into_response(),
    }
}

/// `GET /board/plaatsingen/live`: one `change` event per request change
/// after `?seit=` (or `Last-Event-ID`).
pub async fn live(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let start = super::pages::resume_point(&parts).map_or(StartFrom::Now, |revision| {
        StartFrom::After(Revision(revision))
    });
    let stream = match board
        .app
        .placements
        .watch(&actor(&visitor), Ok(start))
        .await
    {
        Ok(stream) => stream,
        Err(error) => return refusal_words(&error).0.into_response(),
    };
    let events = stream
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(|item| {
            std::future::ready(match item {
                Ok(PlacementWatchMessage::Changed { revision, .. }) => {
                    let revision = revision.0.to_string();
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
    event_stream(events)
}

/// `POST /board/plaatsingen/antwoord`: the provider accepts or refuses.
pub async fn answer(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let typed = TypedAnswer {
        part: field(&fields, "provider_request_id").to_owned(),
        reason: chosen(&RefusalReason::ALL, field(&fields, "refusal_reason")),
        note: field(&fields, "refusal_note").to_owned(),
        referral: field(&fields, "referral_offering_id").trim().to_owned(),
    };
    let action = if field(&fields, "action") == "accept" {
        Ok(PlacementAction::Accept {
            provider_request_id: typed.part.clone(),
        })
    } else {
        refusal(&typed)
    };
    match board.app.placements.act(&actor(&visitor), action).await {
        Ok(_) => Redirect::to("/board/plaatsingen").into_response(),
        Err(error) => placements_page(&board, &visitor, typed, Some(&error)).await,
    }
}

/// A refusal as the contract's rules read it: a reason from the closed
/// list, a note for "other", never a BSN.
fn refusal(typed: &TypedAnswer) -> Result<PlacementAction, AppError> {
    let reason = typed
        .reason
        .ok_or_else(|| AppError::invalid("refusal_reason", "is required"))?;
    let note = if typed.note.trim().is_empty() {
        None
    } else {
        Some(FreeText::parse(&typed.note).map_err(|e| AppError::invalid("refusal_note", e.0))?)
    };
    if reason == RefusalReason::Other && note.is_none() {
        return Err(AppError::invalid("refusal_note", "is required"));
    }
    Ok(PlacementAction::Refuse {
        provider_request_id: typed.part.clone(),
        refusal: Refusal {
            reason,
            note,
            referral_offering_id: (!typed.referral.is_empty()).then(|| typed.referral.clone()),
        },
    })
}

/// `POST /board/plaatsingen/intrekken`: the requester withdraws.
pub async fn withdraw(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let action = PlacementAction::Withdraw {
        placement_request_id: field(&fields, "placement_request_id").to_owned(),
    };
    match board.app.placements.act(&actor(&visitor), Ok(action)).await {
        Ok(_) => Redirect::to("/board/plaatsingen").into_response(),
        Err(error) => placements_page(&board, &visitor, TypedAnswer::default(), Some(&error)).await,
    }
}

/// `POST /board/plaatsingen/opschalen`: the case goes to the region's
/// expertise team as a consultation; the page shows it.
pub async fn escalate(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let id = field(&fields, "placement_request_id");
    match board.app.placements.escalate(&actor(&visitor), id).await {
        Ok(seen) => {
            let (_, consultation) = seen.value;
            Redirect::to(&format!("/board/consultaties/{}", consultation.id)).into_response()
        }
        Err(error) => placements_page(&board, &visitor, TypedAnswer::default(), Some(&error)).await,
    }
}

/// One of the caller's active holds, to choose for a request.
struct HoldChoice {
    id: String,
    label: String,
    chosen: bool,
}

/// The request form as typed.
#[derive(Default)]
struct RequestForm {
    request_id: String,
    holds: Vec<String>,
    case_reference: String,
    age: String,
    care: Vec<CareProfile>,
    security: Option<SecurityLevel>,
    urgency: Option<PlacementUrgency>,
    note: String,
    consent: bool,
}

impl RequestForm {
    fn of(fields: &[(String, String)]) -> Self {
        fn all<'a>(
            fields: &'a [(String, String)],
            name: &'a str,
        ) -> impl Iterator<Item = String> + 'a {
            fields
                .iter()
                .filter(move |(n, _)| n == name)
                .map(|(_, value)| value.clone())
        }
        Self {
            request_id: field(fields, "request_id").to_owned(),
            holds: all(fields, "hold_ids").collect(),
            case_reference: field(fields, "case_reference").trim().to_owned(),
            age: field(fields, "age_years").trim().to_owned(),
            care: all(fields, "care_profiles")
                .filter_map(|value| chosen(&CareProfile::ALL, &value))
                .collect(),
            security: chosen(&SecurityLevel::ALL, field(fields, "security_level")),
            urgency: chosen(&PlacementUrgency::ALL, field(fields, "urgency")),
            note: field(fields, "note").to_owned(),
            consent: field(fields, "consent_recorded") == "ja",
        }
    }

    /// The request, or every field that is wrong.
    fn parse(&self) -> Result<NewPlacementRequest, AppError> {
        let mut wrong = Vec::new();
        let mut note_wrong = |name: &str, description: String| {
            wrong.push(crate::app::FieldViolation::new(name, description));
        };
        if !self.consent {
            note_wrong(
                "consent_recorded",
                "the family's consent must be recorded".into(),
            );
        }
        if self.holds.is_empty() {
            note_wrong("hold_ids", "name 1 to 3 holds".into());
        }
        let request_id = RequestId::parse(&self.request_id)
            .map_err(|e| note_wrong("request_id", e.0))
            .ok();
        let case_reference = CaseReference::parse(&self.case_reference)
            .map_err(|e| note_wrong("case_reference", e.0))
            .ok();
        let age = self
            .age
            .parse::<u32>()
            .map_err(|_| "must be a whole number of years".to_owned())
            .and_then(|years| AgeYears::new(years).map_err(|e| e.0))
            .map_err(|e| note_wrong("age_years", e))
            .ok();
        let care = CareProfiles::from_profiles(self.care.iter().copied());
        if care.is_empty() {
            note_wrong("care_profiles", "name at least one".into());
        }
        if self.urgency.is_none() {
            note_wrong("urgency", "is required".into());
        }
        let note = if self.note.trim().is_empty() {
            Some(None)
        } else {
            FreeText::parse(&self.note)
                .map(Some)
                .map_err(|e| note_wrong("note", e.0))
                .ok()
        };
        match (request_id, case_reference, age, self.urgency, note) {
            (Some(request_id), Some(case_reference), Some(age), Some(urgency), Some(note))
                if wrong.is_empty() =>
            {
                Ok(NewPlacementRequest {
                    request_id,
                    hold_ids: self.holds.clone(),
                    case_reference,
                    age,
                    care_profiles: care,
                    security_level: self.security.unwrap_or(SecurityLevel::Open),
                    urgency,
                    note,
                })
            }
            _ => Err(AppError::Invalid(wrong)),
        }
    }
}

#[derive(Template)]
#[template(path = "board/placement_new.html")]
struct NewView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    person: &'a str,
    csrf: &'a str,
    form: RequestForm,
    holds: Vec<HoldChoice>,
    care_profiles: Vec<Pick>,
    security_levels: Vec<Pick>,
    urgencies: Vec<Pick>,
    errors: FieldErrors,
    error: Option<&'static str>,
}

impl NewView<'_> {
    fn error_of(&self, field: &str) -> Option<&'static str> {
        self.errors.get(field)
    }
}

const REQUEST_FIELDS: [&str; 8] = [
    "hold_ids",
    "case_reference",
    "age_years",
    "care_profiles",
    "security_level",
    "urgency",
    "note",
    "consent_recorded",
];

async fn new_page(
    board: &Board,
    visitor: &Visitor,
    form: RequestForm,
    error: Option<&AppError>,
) -> Response {
    let page_size = Page {
        size: 100,
        token: String::new(),
    };
    let holds = match board
        .app
        .holds
        .active_holds(&visitor.caller, &page_size)
        .await
    {
        Ok(seen) => seen,
        Err(error) => {
            let (status, message) = refusal_words(&error);
            return error_page(visitor, status, message);
        }
    };
    let now = holds.at;
    let active: Vec<_> = holds
        .value
        .into_iter()
        .filter(|h| h.state_at(now) == HoldState::Active)
        .collect();
    let offerings =
        offerings_by_id(board, visitor, active.iter().map(|h| h.offering_id.clone())).await;
    let holds = active
        .into_iter()
        .map(|hold| {
            let place = offerings.get(&hold.offering_id).map_or_else(
                || hold.offering_id.clone(),
                |o| format!("{} · {}", o.location.name, nl::place_type(o.key.place_type)),
            );
            HoldChoice {
                chosen: form.holds.contains(&hold.id),
                label: format!("{place} · {} {}", NL.until, local(hold.expires_at)),
                id: hold.id,
            }
        })
        .collect();
    let errors = error.map(FieldErrors::of).unwrap_or_default();
    let message = match error {
        Some(AppError::Invalid(_)) => errors.elsewhere(&REQUEST_FIELDS),
        Some(other) => Some(refusal_words(other).1),
        None => None,
    };
    let status = error.map_or(StatusCode::OK, |e| refusal_words(e).0);
    let csrf = board.app.form_token(&visitor.binding());
    let person = visitor.person.clone().unwrap_or_default();
    let view = NewView {
        t: &NL,
        title: NL.new_placement,
        org_name: &visitor.caller.org.name,
        person: &person,
        csrf: &csrf,
        holds,
        care_profiles: picks(&CareProfile::ALL, &form.care, nl::care_profile),
        security_levels: picks(
            &SecurityLevel::ALL,
            &[form.security.unwrap_or(SecurityLevel::Open)],
            nl::security,
        ),
        urgencies: picks(
            &PlacementUrgency::ALL,
            form.urgency.as_slice(),
            nl::placement_urgency,
        ),
        form,
        errors,
        error: message,
    };
    page(visitor, status, view.render())
}

/// `GET /board/plaatsingen/nieuw`: the request form over the caller's holds.
pub async fn new_form(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    if visitor.person.is_none() {
        return ask_name(&parts);
    }
    let holds = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .filter(|(name, _)| name == "hold")
        .map(|(_, value)| value.into_owned())
        .collect();
    let form = RequestForm {
        request_id: new_request_id(),
        holds,
        ..RequestForm::default()
    };
    new_page(&board, &visitor, form, None).await
}

/// `POST /board/plaatsingen/nieuw`: sends the request; on a refusal the
/// form comes back as typed, the wrong fields marked.
pub async fn request(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let form = RequestForm::of(&fields);
    match board
        .app
        .placements
        .request(&actor(&visitor), form.parse())
        .await
    {
        Ok(_) => Redirect::to("/board/plaatsingen").into_response(),
        Err(error) => new_page(&board, &visitor, form, Some(&error)).await,
    }
}
