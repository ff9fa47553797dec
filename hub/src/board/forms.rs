//! What the board's forms share: the acting person's name, asked once per
//! browser session; refusals shown on the field they concern; choices;
//! local times; a fresh request id per form.

use super::nl::{NL, Text};
use super::pages::{field, page, posted};
use super::{Board, PERSON_COOKIE, Visitor, refusal_text};
use crate::app::{Actor, AppError, FieldViolation, PERSON_HEADER, Reason};
use crate::domain::identity::Person;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Amsterdam;

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
pub(super) fn words(violation: &FieldViolation) -> &'static str {
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
pub(super) fn refusal_words(error: &AppError) -> (StatusCode, &'static str) {
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
pub(super) fn safe_return(raw: &str) -> &str {
    let inside = raw.starts_with("/board/") && !raw.contains("//") && !raw.contains('\\');
    if inside { raw } else { "/board/consultaties" }
}

#[derive(Template)]
#[template(path = "board/person.html")]
pub(super) struct PersonView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    csrf: &'a str,
    name: &'a str,
    back: &'a str,
    error: Option<&'static str>,
}

pub(super) fn person_page(
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
pub(super) async fn person_form(
    State(board): State<Board>,
    visitor: Visitor,
    parts: Parts,
) -> Response {
    let back = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "terug")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let name = visitor.person.clone().unwrap_or_default();
    person_page(&board, &visitor, &name, safe_return(&back), None)
}

/// `POST /board/naam`: the name, checked as the hub checks `x-spil-person`,
/// kept in a session cookie.
pub(super) async fn set_person(
    State(board): State<Board>,
    visitor: Visitor,
    body: Bytes,
) -> Response {
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
