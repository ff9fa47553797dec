//! The board: web pages for the people the hub is for, the third edge
//! beside gRPC and FHIR. Served on the HTTPS listener with the same TLS
//! acceptor, client verifier and CRL; the client certificate in the
//! browser's store is the organisation, and the same use-cases and role
//! rules answer. Server-rendered with askama (compile-time checked,
//! escaping), one script file, no build step.
//!
//! A client certificate is an ambient credential, so every state-changing
//! request must come from the board itself (`Sec-Fetch-Site`, else
//! `Origin`) and carry a form token bound to the browser session and the
//! certificate; the CSP forbids inline script and framing.

mod consultations;
mod forms;
mod nl;
mod offerings;
mod pages;
mod placements;

use crate::app::{App, AppError, Reason};
use crate::domain::identity::Caller;
use crate::edge::Identify;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::Arc;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

pub use nl::Text;

/// What every board handler shares.
#[derive(Clone)]
struct Board {
    app: Arc<App>,
    identity: Identify,
}

/// The board's routes, under `/board`.
pub fn router(app: Arc<App>, identity: Identify) -> axum::Router {
    axum::Router::new()
        .route("/board", get(pages::home))
        .route("/board/zoeken", get(pages::search))
        .route("/board/zoeken/resultaten", get(pages::results))
        .route("/board/vasthouden", post(pages::hold))
        .route("/board/holds", get(pages::holds))
        .route("/board/holds/bevestigen", post(pages::confirm))
        .route("/board/holds/vrijgeven", post(pages::release))
        .route("/board/aanbod", get(offerings::offerings))
        .route("/board/aanbod/lijst", get(offerings::list))
        .route("/board/aanbod/bijwerken", post(offerings::update))
        .route(
            "/board/naam",
            get(forms::person_form).post(forms::set_person),
        )
        .route("/board/consultaties", get(consultations::inbox))
        .route("/board/consultaties/lijst", get(consultations::inbox_list))
        .route("/board/consultaties/live", get(consultations::live))
        .route(
            "/board/consultaties/nieuw",
            get(consultations::new_form).post(consultations::file),
        )
        .route("/board/consultaties/{id}", get(consultations::detail))
        .route(
            "/board/consultaties/{id}/bericht",
            post(consultations::message),
        )
        .route("/board/consultaties/{id}/actie", post(consultations::act))
        .route("/board/plaatsingen", get(placements::placements))
        .route("/board/plaatsingen/lijst", get(placements::list))
        .route("/board/plaatsingen/live", get(placements::live))
        .route(
            "/board/plaatsingen/nieuw",
            get(placements::new_form).post(placements::request),
        )
        .route("/board/plaatsingen/antwoord", post(placements::answer))
        .route("/board/plaatsingen/intrekken", post(placements::withdraw))
        .route("/board/plaatsingen/opschalen", post(placements::escalate))
        .route("/board/live", get(pages::live))
        .route("/board/static/board.js", get(script))
        .route("/board/static/board.css", get(style))
        .layer(middleware::from_fn(guard))
        .with_state(Board { app, identity })
}

/// The security headers every answer carries, and the refusal of any
/// state-changing request that did not come from the board's own pages.
async fn guard(request: Request, next: Next) -> Response {
    let changes_state = request.method() != Method::GET && request.method() != Method::HEAD;
    let mut response = if changes_state && !same_origin(request.headers()) {
        (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            nl::NL.forbidden_cross_site,
        )
            .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Pages show who holds what; a shared workstation keeps none of them.
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Fetch Metadata first (every current browser sends it), the Origin
/// header where it is missing; a request with neither is not a browser's
/// cross-site form, and still needs the form token.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.to_str().ok() == Some("same-origin");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let expected = host.map(|host| format!("https://{host}"));
        return origin.to_str().ok() == expected.as_deref();
    }
    true
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../static/board.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/board.css"),
    )
        .into_response()
}

/// The browser session's cookie.
const SESSION_COOKIE: &str = "spil_board";
/// The person acting, asked once per browser session (a session cookie, so
/// it goes when the browser closes), sent with every consultation call as
/// the CLI sends `x-spil-person`.
const PERSON_COOKIE: &str = "spil_person";

/// Who is asking: the organisation of the connection's client certificate,
/// and the browser session (a random cookie, made on the first page).
struct Visitor {
    caller: Caller,
    session: String,
    /// Set when the session is new: the cookie to send.
    new_session: Option<HeaderValue>,
    /// The name given on this browser session's first consultation page.
    person: Option<String>,
}

impl Visitor {
    /// What a form token is bound to.
    fn binding(&self) -> String {
        format!("{}|{}", self.session, self.caller.certificate_identity)
    }
}

impl FromRequestParts<Board> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, board: &Board) -> Result<Self, Response> {
        let certs = parts
            .extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs);
        let caller = board
            .identity
            .identify(certs.as_deref().map(Vec::as_slice))
            .map_err(|error| {
                (
                    StatusCode::FORBIDDEN,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    error.to_string(),
                )
                    .into_response()
            })?;
        let cookies: Vec<(&str, &str)> = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|cookies| cookies.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .collect();
        let existing = cookies
            .iter()
            .find(|(name, value)| *name == SESSION_COOKIE && is_session_id(value))
            .map(|(_, value)| (*value).to_owned());
        let person = cookies
            .iter()
            .find(|(name, _)| *name == PERSON_COOKIE)
            .and_then(|(_, value)| {
                form_urlencoded::parse(format!("n={value}").as_bytes())
                    .next()
                    .map(|(_, name)| name.into_owned())
            })
            .filter(|name| !name.trim().is_empty());
        let (session, new_session) = match existing {
            Some(session) => (session, None),
            None => {
                let session = uuid::Uuid::new_v4().simple().to_string();
                let cookie = format!(
                    "{SESSION_COOKIE}={session}; Path=/board; Secure; HttpOnly; SameSite=Strict"
                );
                let cookie = HeaderValue::from_str(&cookie).expect("a cookie of hex digits");
                (session, Some(cookie))
            }
        };
        Ok(Self {
            caller,
            session,
            new_session,
            person,
        })
    }
}

fn is_session_id(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the person reads when a call is refused: the rule in plain words,
/// with the HTTP status that fits.
fn refusal_text(error: &AppError) -> (StatusCode, &'static str) {
    let t = &nl::NL;
    match error {
        AppError::PermissionDenied(_) => (StatusCode::FORBIDDEN, t.not_allowed),
        AppError::FailedPrecondition { reason, .. } => (
            StatusCode::CONFLICT,
            match reason {
                Reason::NoFreePlace => t.no_free_place,
                Reason::OfferingStale => t.offering_stale,
                Reason::HoldExpired | Reason::HoldReleased | Reason::HoldConfirmed => t.hold_ended,
                _ => t.try_again,
            },
        ),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, t.hold_ended),
        AppError::Invalid(_) => (StatusCode::BAD_REQUEST, t.try_again),
        AppError::ResourceExhausted { .. } | AppError::Unavailable(_) | AppError::Aborted(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, t.try_again)
        }
        AppError::Internal(_) => {
            // Logged under an id; the person is asked to try again.
            let _ = error.public_message();
            (StatusCode::INTERNAL_SERVER_ERROR, t.try_again)
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, t.try_again),
    }
}
