//! The board's pages: the crisis worker's search with live results, holding
//! a place, and the organisation's holds with their time left.

use super::nl::{self, NL, Text};
use super::{Board, Visitor, refusal_text};
use crate::app::{AppError, Page, StartFrom, WatchRequest};
use crate::domain::authz::{Action, permits};
use crate::domain::capacity::{
    CareProfile, CareProfiles, ChildAge, Freshness, MunicipalityCode, Offering, PlaceType,
    RequestId, Revision, SecurityLevel,
};
use crate::domain::hold::{HoldDuration, HoldRequest, HoldState};
use crate::domain::search::SearchFilter;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Amsterdam;
use futures::StreamExt;

/// A page with its status; a new session's cookie goes with it.
pub(super) fn page(
    visitor: &Visitor,
    status: StatusCode,
    html: Result<String, askama::Error>,
) -> Response {
    let Ok(html) = html else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    if let Some(cookie) = &visitor.new_session {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, cookie.clone());
    }
    response
}

#[derive(Template)]
#[template(path = "board/error.html")]
pub(super) struct ErrorPage<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    message: &'static str,
}

pub(super) fn refused(visitor: &Visitor, error: &AppError) -> Response {
    let (status, message) = refusal_text(error);
    error_page(visitor, status, message)
}

/// A page that says only why not.
pub(super) fn error_page(visitor: &Visitor, status: StatusCode, message: &'static str) -> Response {
    let org_name = visitor.caller.org.name.clone();
    let view = ErrorPage {
        t: &NL,
        title: NL.error_title,
        org_name: &org_name,
        message,
    };
    page(visitor, status, view.render())
}

pub async fn home() -> Redirect {
    Redirect::to("/board/zoeken")
}

/// One choice of a select.
struct Choice {
    value: String,
    label: &'static str,
    selected: bool,
}

fn choices<T: Copy + PartialEq + std::fmt::Debug>(
    all: &[T],
    chosen: Option<T>,
    label: fn(T) -> &'static str,
) -> Vec<Choice> {
    all.iter()
        .map(|value| Choice {
            value: format!("{value:?}"),
            label: label(*value),
            selected: chosen == Some(*value),
        })
        .collect()
}

pub(super) fn chosen<T: Copy + std::fmt::Debug>(all: &[T], raw: &str) -> Option<T> {
    all.iter()
        .copied()
        .find(|value| format!("{value:?}") == raw)
}

/// The search form as typed, and what was wrong with it, field by field.
#[derive(Default)]
struct SearchForm {
    age: String,
    municipality: String,
    place_type: Option<PlaceType>,
    care_profile: Option<CareProfile>,
    security: Option<SecurityLevel>,
    age_error: Option<&'static str>,
    municipality_error: Option<&'static str>,
}

impl SearchForm {
    fn of(parts: &Parts) -> (Self, bool) {
        let query = parts.uri.query().unwrap_or("");
        let mut form = Self::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_owned();
            match name.as_ref() {
                "leeftijd" => form.age = value,
                "gemeente" => form.municipality = value.to_uppercase(),
                "soort" => form.place_type = chosen(&PlaceType::ALL, &value),
                "profiel" => form.care_profile = chosen(&CareProfile::ALL, &value),
                "beveiliging" => form.security = chosen(&SecurityLevel::ALL, &value),
                _ => {}
            }
        }
        (form, !query.is_empty())
    }

    /// The filter, or the form with its errors marked.
    fn filter(&mut self) -> Option<SearchFilter> {
        let age = self
            .age
            .parse::<u32>()
            .ok()
            .and_then(|years| ChildAge::parse(years).ok());
        if age.is_none() {
            self.age_error = Some(NL.age_invalid);
        }
        let municipality = MunicipalityCode::parse(&self.municipality).ok();
        if municipality.is_none() {
            self.municipality_error = Some(NL.unknown_municipality);
        }
        Some(SearchFilter {
            place_types: self.place_type.into_iter().collect(),
            care_profiles: CareProfiles::from_profiles(self.care_profile),
            child_age: Some(age?),
            security_level: self.security,
            child_municipality: Some(municipality?),
            // Stale and full ones are shown too, marked: whom to call.
            include_unavailable: true,
            ..SearchFilter::default()
        })
    }
}

/// One result as the crisis worker reads it.
struct Row {
    offering_id: String,
    location: String,
    place_type: &'static str,
    municipality: String,
    free: u32,
    stale: bool,
    confirmed_ago: String,
    distance: Option<String>,
    /// The intake desk's number as typed, and as `tel:` dials it (`+` and
    /// digits only, so safe in the link).
    phone: Option<(String, String)>,
    holdable: bool,
}

#[derive(Template)]
#[template(path = "board/results.html")]
struct ResultsView<'a> {
    t: &'static Text,
    rows: Vec<Row>,
    revision: u64,
    csrf: &'a str,
    municipality: &'a str,
}

#[derive(Template)]
#[template(path = "board/search.html")]
struct SearchView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    form: SearchForm,
    place_types: Vec<Choice>,
    care_profiles: Vec<Choice>,
    security_levels: Vec<Choice>,
    error: Option<&'static str>,
    results: Option<String>,
}

pub(super) fn ago(t: &Text, then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - then).num_minutes();
    match minutes {
        ..1 => t.just_now.to_owned(),
        1..120 => format!("{minutes} {}", t.minutes_ago),
        _ => format!("{} {}", minutes / 60, t.hours_ago),
    }
}

/// Why the results fragment could not be shown.
enum ResultsError {
    Refused(AppError),
    Render,
}

impl From<AppError> for ResultsError {
    fn from(error: AppError) -> Self {
        Self::Refused(error)
    }
}

/// The results of `filter`, rendered as the results fragment.
async fn render_results(
    board: &Board,
    visitor: &Visitor,
    filter: SearchFilter,
    municipality: &str,
) -> Result<String, ResultsError> {
    let found = board
        .app
        .registry
        .search(
            &visitor.caller,
            filter,
            &Page {
                size: 50,
                token: String::new(),
            },
        )
        .await?;
    let policy = board.app.registry.freshness();
    let directory = board.app.directory.directory();
    let may_hold = permits(&visitor.caller.org.roles, Action::HoldPlace);
    let rows = found
        .results
        .into_iter()
        .map(|hit| {
            let offering = hit.offering;
            let stale = offering.freshness(policy, found.at) == Freshness::Stale;
            let free = offering.available(policy, found.at);
            let municipality = directory
                .municipalities
                .get(offering.location.municipality.as_str())
                .map_or_else(
                    || offering.location.municipality.as_str().to_owned(),
                    |m| m.name.clone(),
                );
            Row {
                holdable: may_hold && !stale && free > 0,
                offering_id: offering.id.clone(),
                location: offering.location.name.clone(),
                place_type: nl::place_type(offering.key.place_type),
                municipality,
                free,
                stale,
                confirmed_ago: ago(&NL, offering.observed_at, found.at),
                distance: hit.distance_km.map(|km| format!("{km:.0}")),
                phone: offering
                    .location
                    .intake_phone
                    .as_ref()
                    .map(|p| (p.as_str().to_owned(), p.dialable())),
            }
        })
        .collect();
    let csrf = board.app.form_token(&visitor.binding());
    ResultsView {
        t: &NL,
        rows,
        revision: found.revision.0,
        csrf: &csrf,
        municipality,
    }
    .render()
    .map_err(|_| ResultsError::Render)
}

/// `GET /board/zoeken`: the form, and with a query its results.
pub async fn search(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let (mut form, searched) = SearchForm::of(&parts);
    let org_name = visitor.caller.org.name.clone();
    let mut status = StatusCode::OK;
    let mut error = None;
    let mut results = None;
    if searched {
        if let Some(filter) = form.filter() {
            let municipality = form.municipality.clone();
            match render_results(&board, &visitor, filter, &municipality).await {
                Ok(html) => results = Some(html),
                Err(ResultsError::Render) => {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                Err(ResultsError::Refused(AppError::PermissionDenied(_))) => {
                    status = StatusCode::FORBIDDEN;
                    error = Some(NL.not_allowed_search);
                }
                Err(ResultsError::Refused(AppError::Invalid(violations))) => {
                    status = StatusCode::BAD_REQUEST;
                    if violations.iter().any(|v| v.field.contains("municipality")) {
                        form.municipality_error = Some(NL.unknown_municipality);
                    } else {
                        error = Some(NL.try_again);
                    }
                }
                Err(ResultsError::Refused(other)) => {
                    let (code, message) = refusal_text(&other);
                    status = code;
                    error = Some(message);
                }
            }
        } else {
            status = StatusCode::BAD_REQUEST;
        }
    }
    let view = SearchView {
        t: &NL,
        title: NL.search_title,
        org_name: &org_name,
        place_types: choices(&PlaceType::ALL, form.place_type, nl::place_type),
        care_profiles: choices(&CareProfile::ALL, form.care_profile, nl::care_profile),
        security_levels: choices(&SecurityLevel::ALL, form.security, nl::security),
        form,
        error,
        results,
    };
    page(&visitor, status, view.render())
}

/// `GET /board/zoeken/resultaten`: the results fragment alone, for the
/// live refresh.
pub async fn results(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let (mut form, _) = SearchForm::of(&parts);
    let Some(filter) = form.filter() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match render_results(&board, &visitor, filter, &form.municipality).await {
        Ok(html) => page(&visitor, StatusCode::OK, Ok(html)),
        Err(ResultsError::Refused(error)) => refusal_text(&error).0.into_response(),
        Err(ResultsError::Render) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The fields of a posted form, once its token is checked.
pub(super) fn posted(
    board: &Board,
    visitor: &Visitor,
    body: &Bytes,
) -> Result<Vec<(String, String)>, Box<Response>> {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let token = fields
        .iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.as_str())
        .unwrap_or("");
    if visitor.new_session.is_some() || !board.app.form_token_matches(&visitor.binding(), token) {
        let org_name = visitor.caller.org.name.clone();
        let view = ErrorPage {
            t: &NL,
            title: NL.error_title,
            org_name: &org_name,
            message: NL.form_expired,
        };
        return Err(Box::new(page(
            visitor,
            StatusCode::FORBIDDEN,
            view.render(),
        )));
    }
    Ok(fields)
}

pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, value)| value.as_str())
}

/// `POST /board/vasthouden`: holds one place; only the municipality is sent.
pub async fn hold(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let Ok(municipality) = MunicipalityCode::parse(field(&fields, "gemeente")) else {
        return refused(&visitor, &AppError::invalid("gemeente", "unknown"));
    };
    let request = HoldRequest {
        request_id: RequestId::parse(&uuid::Uuid::new_v4().to_string())
            .expect("a UUID is a request id"),
        offering_id: field(&fields, "aanbod").to_owned(),
        child_municipality: municipality,
        duration: HoldDuration::parse(None).expect("the default duration is valid"),
    };
    match board.app.holds.hold(&visitor.caller, request).await {
        Ok(_) => Redirect::to("/board/holds").into_response(),
        Err(error) => holds_page(&board, &visitor, Some(&error)).await,
    }
}

/// One hold as the page shows it.
struct HoldRow {
    id: String,
    location: String,
    place_type: &'static str,
    municipality: String,
    state: &'static str,
    active: bool,
    expires_local: String,
    expires_iso: String,
    left: String,
}

#[derive(Template)]
#[template(path = "board/holds.html")]
struct HoldsView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    holds: Vec<HoldRow>,
    csrf: &'a str,
    error: Option<&'static str>,
}

async fn holds_page(board: &Board, visitor: &Visitor, error: Option<&AppError>) -> Response {
    let page_size = Page {
        size: 100,
        token: String::new(),
    };
    let listed = board
        .app
        .holds
        .active_holds(&visitor.caller, &page_size)
        .await;
    let (holds, now) = match listed {
        Ok(seen) => (seen.value, seen.at),
        Err(error) => return refused(visitor, &error),
    };
    let directory = board.app.directory.directory();
    let offerings =
        offerings_by_id(board, visitor, holds.iter().map(|h| h.offering_id.clone())).await;
    let mut rows = Vec::new();
    for hold in holds {
        let offering = offerings.get(&hold.offering_id);
        let state = hold.state_at(now);
        let left = (hold.expires_at - now).num_seconds().max(0);
        rows.push(HoldRow {
            id: hold.id.clone(),
            location: offering
                .map_or_else(|| hold.offering_id.clone(), |o| o.location.name.clone()),
            place_type: offering.map_or("", |o| nl::place_type(o.key.place_type)),
            municipality: directory
                .municipalities
                .get(hold.child_municipality.as_str())
                .map_or_else(
                    || hold.child_municipality.as_str().to_owned(),
                    |m| m.name.clone(),
                ),
            state: nl::hold_state(state),
            active: state == HoldState::Active,
            expires_local: hold
                .expires_at
                .with_timezone(&Amsterdam)
                .format("%H:%M")
                .to_string(),
            expires_iso: hold.expires_at.to_rfc3339(),
            left: format!("{}:{:02}", left / 60, left % 60),
        });
    }
    let (status, message) = match error {
        Some(error) => {
            let (status, message) = refusal_text(error);
            (status, Some(message))
        }
        None => (StatusCode::OK, None),
    };
    let csrf = board.app.form_token(&visitor.binding());
    let org_name = visitor.caller.org.name.clone();
    let view = HoldsView {
        t: &NL,
        title: NL.holds_title,
        org_name: &org_name,
        holds: rows,
        csrf: &csrf,
        error: message,
    };
    page(visitor, status, view.render())
}

/// The offerings named, in one read of the view (not one per name); those
/// the caller may not see, or that are gone, are missing.
pub(super) async fn offerings_by_id(
    board: &Board,
    visitor: &Visitor,
    ids: impl Iterator<Item = String>,
) -> std::collections::HashMap<String, Offering> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Default::default();
    }
    let page = Page {
        size: ids.len(),
        token: String::new(),
    };
    let filter = SearchFilter {
        include_unavailable: true,
        ..SearchFilter::default()
    };
    board
        .app
        .registry
        .catalogue(&visitor.caller, &filter, &Default::default(), &ids, &page)
        .await
        .map(|found| {
            found
                .results
                .into_iter()
                .map(|hit| (hit.offering.id.clone(), hit.offering))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /board/holds`: the organisation's active holds.
pub async fn holds(State(board): State<Board>, visitor: Visitor) -> Response {
    holds_page(&board, &visitor, None).await
}

async fn end_hold(board: Board, visitor: Visitor, body: Bytes, confirm: bool) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let hold_id = field(&fields, "hold");
    let ended = if confirm {
        board.app.holds.confirm_hold(&visitor.caller, hold_id).await
    } else {
        board.app.holds.release_hold(&visitor.caller, hold_id).await
    };
    match ended {
        Ok(_) => Redirect::to("/board/holds").into_response(),
        Err(error) => holds_page(&board, &visitor, Some(&error)).await,
    }
}

/// `POST /board/holds/bevestigen`: the hold becomes the placement.
pub async fn confirm(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    end_hold(board, visitor, body, true).await
}

/// `POST /board/holds/vrijgeven`: the place returns at once.
pub async fn release(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    end_hold(board, visitor, body, false).await
}

/// `GET /board/live`: one `change` event per registry revision after the
/// page's (`?seit=`), or after the browser's `Last-Event-ID` when it
/// reconnects by itself, so a dropped connection misses nothing.
pub async fn live(State(board): State<Board>, visitor: Visitor, parts: Parts) -> Response {
    let since = resume_point(&parts);
    let request = WatchRequest {
        start: since.map_or(StartFrom::Now, |revision| {
            StartFrom::After(Revision(revision))
        }),
        include_snapshot: false,
        filter: Default::default(),
    };
    let stream = match board.app.watch.watch(&visitor.caller, request).await {
        Ok(stream) => stream,
        Err(error) => return refusal_text(&error).0.into_response(),
    };
    // The stream ends with the watch (an error, or the hub stopping); the
    // browser reconnects with the last id it saw.
    let events = stream
        .take_while(|item| std::future::ready(item.is_ok()))
        .filter_map(|item| {
            std::future::ready(match item {
                Ok(item) if !item.start => Some(Ok::<_, std::convert::Infallible>(
                    Event::default()
                        .event("change")
                        .id(item.revision.0.to_string())
                        .data(item.revision.0.to_string()),
                )),
                _ => None,
            })
        });
    event_stream(events)
}

/// The revision a live stream starts after: the browser's `Last-Event-ID`
/// when it reconnects by itself, else the page's `?seit=`.
pub(super) fn resume_point(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .or_else(|| {
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .find(|(name, _)| name == "seit")
                .and_then(|(_, value)| value.parse::<u64>().ok())
        })
}

/// Server-Sent Events, kept alive, unbuffered by proxies.
pub(super) fn event_stream(
    events: impl futures::Stream<Item = Result<Event, std::convert::Infallible>> + Send + 'static,
) -> Response {
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
