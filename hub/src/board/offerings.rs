//! The provider's coordinator's page: its own offerings, those that go
//! stale soonest first, with − and + for free places, "unchanged" to
//! confirm the numbers as they are (freshness is one tap), and the holds on
//! each, all following the registry live.

use super::nl::{self, NL, Text};
use super::pages::{field, page, posted, refused};
use super::{Board, Visitor, refusal_text};
use crate::app::{AppError, Page, PublishRequest, UpdateRequest};
use crate::domain::capacity::{Freshness, Offering, PlaceCounts, RequestId};
use crate::domain::hold::Hold;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Europe::Amsterdam;

/// How long before an offering goes stale the page prompts its provider.
const PROMPT_WINDOW: Duration = Duration::hours(1);

struct HoldLine {
    municipality: String,
    until: String,
}

struct OfferingRow {
    offering_id: String,
    location: String,
    place_type: &'static str,
    ages: String,
    total: u32,
    free: u32,
    held: u32,
    placed: u32,
    stale: bool,
    soon: bool,
    fresh_until: String,
    left: String,
    holds: Vec<HoldLine>,
}

struct Action {
    value: &'static str,
    label: &'static str,
}

const ACTIONS: [Action; 3] = [
    Action {
        value: "ongewijzigd",
        label: NL.unchanged,
    },
    Action {
        value: "min",
        label: NL.fewer,
    },
    Action {
        value: "plus",
        label: NL.more,
    },
];

#[derive(Template)]
#[template(path = "board/offerings_list.html")]
struct ListView<'a> {
    t: &'static Text,
    rows: Vec<OfferingRow>,
    revision: u64,
    csrf: &'a str,
    soon: bool,
    actions: &'static [Action],
}

#[derive(Template)]
#[template(path = "board/offerings.html")]
struct OfferingsView<'a> {
    t: &'static Text,
    title: &'static str,
    org_name: &'a str,
    error: Option<&'static str>,
    list: String,
}

/// A moment in Amsterdam's time, with its day: freshness runs for days.
fn local(at: DateTime<Utc>) -> String {
    at.with_timezone(&Amsterdam)
        .format("%d-%m %H:%M")
        .to_string()
}

/// Time left, in the largest units that matter.
fn duration(minutes: i64) -> String {
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) => format!("{hours} u {minutes} min"),
        _ => format!("{days} d {hours} u"),
    }
}

/// The list, soonest stale first, or why the caller may not see it.
async fn render_list(
    board: &Board,
    visitor: &Visitor,
) -> Result<Result<String, askama::Error>, AppError> {
    let seen = board.app.registry.own_offerings(&visitor.caller).await?;
    let (mut offerings, revision) = seen.value;
    let now = seen.at;
    let page_size = Page {
        size: 500,
        token: String::new(),
    };
    let holds: Vec<Hold> = board
        .app
        .holds
        .active_holds(&visitor.caller, &page_size)
        .await?
        .value;
    let policy = board.app.registry.freshness();
    let directory = board.app.directory.directory();
    offerings.sort_by_key(|o| o.fresh_until(policy));
    let row = |offering: &Offering| {
        let fresh_until = offering.fresh_until(policy);
        let stale = offering.freshness(policy, now) == Freshness::Stale;
        let left = (fresh_until - now).num_minutes().max(0);
        OfferingRow {
            offering_id: offering.id.clone(),
            location: offering.location.name.clone(),
            place_type: nl::place_type(offering.key.place_type),
            ages: format!(
                "{}–{}",
                offering.key.age_band.min(),
                offering.key.age_band.max()
            ),
            total: offering.counts.total(),
            free: offering.counts.free(),
            held: offering.held(now),
            placed: offering.placed,
            stale,
            soon: stale || fresh_until - now <= PROMPT_WINDOW,
            fresh_until: local(fresh_until),
            left: duration(left),
            holds: holds
                .iter()
                .filter(|h| h.offering_id == offering.id && h.expires_at > now)
                .map(|h| HoldLine {
                    municipality: directory
                        .municipalities
                        .get(h.child_municipality.as_str())
                        .map_or_else(
                            || h.child_municipality.as_str().to_owned(),
                            |m| m.name.clone(),
                        ),
                    until: local(h.expires_at),
                })
                .collect(),
        }
    };
    let rows: Vec<OfferingRow> = offerings.iter().map(row).collect();
    let csrf = board.app.form_token(&visitor.binding());
    Ok(ListView {
        t: &NL,
        soon: rows.iter().any(|r| r.soon),
        rows,
        revision: revision.0,
        csrf: &csrf,
        actions: &ACTIONS,
    }
    .render())
}

async fn offerings_page(board: &Board, visitor: &Visitor, error: Option<&AppError>) -> Response {
    let list = match render_list(board, visitor).await {
        Ok(Ok(list)) => list,
        Ok(Err(_)) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Err(AppError::PermissionDenied(_)) => {
            let refusal = AppError::PermissionDenied(NL.not_allowed_offerings.into());
            return refused(visitor, &refusal);
        }
        Err(error) => return refused(visitor, &error),
    };
    let (status, message) = match error {
        Some(error) => {
            let (status, message) = refusal_text(error);
            (status, Some(message))
        }
        None => (StatusCode::OK, None),
    };
    let org_name = visitor.caller.org.name.clone();
    let view = OfferingsView {
        t: &NL,
        title: NL.offerings_title,
        org_name: &org_name,
        error: message,
        list,
    };
    page(visitor, status, view.render())
}

/// `GET /board/aanbod`: the provider's offerings.
pub async fn offerings(State(board): State<Board>, visitor: Visitor) -> Response {
    offerings_page(&board, &visitor, None).await
}

/// `GET /board/aanbod/lijst`: the list alone, for the live refresh.
pub async fn list(State(board): State<Board>, visitor: Visitor) -> Response {
    match render_list(&board, &visitor).await {
        Ok(html) => page(&visitor, StatusCode::OK, html),
        Err(error) => refusal_text(&error).0.into_response(),
    }
}

/// `POST /board/aanbod/bijwerken`: one place fewer or more, or the same
/// numbers confirmed as observed now; a publication like any other.
pub async fn update(State(board): State<Board>, visitor: Visitor, body: Bytes) -> Response {
    let fields = match posted(&board, &visitor, &body) {
        Ok(fields) => fields,
        Err(refusal) => return *refusal,
    };
    let own = match board.app.registry.own_offerings(&visitor.caller).await {
        Ok(seen) => seen.value.0,
        Err(error) => return refused(&visitor, &error),
    };
    let Some(offering) = own.iter().find(|o| o.id == field(&fields, "aanbod")) else {
        let unknown = AppError::NotFound("offering".into());
        return offerings_page(&board, &visitor, Some(&unknown)).await;
    };
    let (total, free) = (offering.counts.total(), offering.counts.free());
    let free = match field(&fields, "actie") {
        "min" => free.saturating_sub(1),
        "plus" => (free + 1).min(total),
        _ => free,
    };
    let counts = PlaceCounts::new(total, free).expect("free stays within total");
    let request = PublishRequest {
        request_id: RequestId::parse(&uuid::Uuid::new_v4().to_string())
            .expect("a UUID is a request id"),
        updates: vec![UpdateRequest {
            key: offering.key.clone(),
            intake: offering.intake,
            lead_time_days: offering.lead_time_days,
            counts,
            waiting_days: offering.waiting_days,
            // Observed now: the numbers were looked at and confirmed.
            observed_at: None,
        }],
    };
    match board.app.registry.publish(&visitor.caller, request).await {
        Ok(_) => Redirect::to("/board/aanbod").into_response(),
        Err(error) => offerings_page(&board, &visitor, Some(&error)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn time_left_reads_in_the_largest_units_that_matter() {
        assert_eq!(duration(45), "45 min");
        assert_eq!(duration(80), "1 u 20 min");
        assert_eq!(duration(7199), "4 d 23 u");
    }
}
