//! One tower layer for every call on every edge: a request id (the
//! caller's `x-request-id`, or a new one) echoed in the answer, a span
//! continuing the caller's trace, the hub's cap on calls in flight, the
//! caller's deadline carried down to the database, and at the end one
//! access line and the call's counts (calls, latency, in flight, refusals
//! by reason, per organisation). What differs between edges (how a call is
//! named, how long its caller waits, how an answer reads, how a refusal is
//! written) is the edge's [`Wire`].

use super::admission::InFlightLimit;
use crate::app::{AppError, Reason};
use crate::metrics::{CallLabels, MethodLabels, OrganisationLabels, ReasonLabels, metrics};
use axum::extract::MatchedPath;
use opentelemetry::trace::TraceContextExt as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tonic::Code;
use tonic::codegen::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header a request id travels in, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How one edge's calls read and are answered on its wire.
pub trait Wire: Clone + Send + Sync + 'static {
    /// The protocol, as a span's `rpc.system` names it.
    const SYSTEM: &'static str;

    /// The name a call is counted under, once answered: never an id, and one
    /// name for every call no route took, so that no caller can grow the
    /// metrics' label sets.
    fn method<B>(&self, path: &str, response: &Response<B>) -> String;

    /// The call's span name, known before it runs (the tracing layer takes
    /// a span's name when the span opens): never an id.
    fn span_name<B>(&self, request: &Request<B>) -> String;

    /// How long the caller waits, as its request says.
    fn timeout(&self, headers: &HeaderMap) -> Option<Duration>;

    /// The call's outcome, read from its answer; an error answer also gets
    /// the request id where the wire has room for it. The reason is the
    /// error's own, when the wire carries one.
    fn outcome<B>(&self, response: &mut Response<B>, request_id: &str) -> Outcome;

    /// The answer to a call refused before it ran.
    fn refusal<B: Default>(&self, error: AppError) -> Response<B>;
}

/// How a call ended, in the one vocabulary the counts use for every edge:
/// gRPC's codes, and the error's reason when it has one.
pub struct Outcome {
    pub code: Code,
    pub reason: Option<String>,
}

/// What a call learns about itself on its way in, for its access line.
#[derive(Default)]
struct CallNotes {
    organisation: OnceLock<String>,
}

tokio::task_local! {
    static NOTES: Arc<CallNotes>;
}

/// Records the calling organisation for the access line, the call's span
/// and the per-organisation count.
pub fn note_organisation(organisation: &str) {
    let _ = NOTES.try_with(|notes| notes.organisation.set(organisation.to_owned()));
    tracing::Span::current().record("spil.organisation", organisation);
}

/// A request id from the caller is kept when it is short visible ASCII.
fn request_id_of<B>(request: &Request<B>) -> String {
    request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// The canonical name of a gRPC code, as `ErrorInfo` reasons and labels spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Counts a call in flight until dropped, also when the caller goes away.
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics().calls_in_flight.inc();
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics().calls_in_flight.dec();
    }
}

/// The route an HTTP edge's router took, as its template
/// (`/fhir/Location/{id}`), carried on the answer for [`HttpWire`].
#[derive(Clone)]
struct Route(String);

/// Marks every answer of `router` with the route template that took it.
pub fn routed(router: axum::Router) -> axum::Router {
    router.route_layer(axum::middleware::from_fn(
        async |path: MatchedPath, request: axum::extract::Request, next: axum::middleware::Next| {
            let mut response = next.run(request).await;
            response
                .extensions_mut()
                .insert(Route(path.as_str().to_owned()));
            response
        },
    ))
}

/// The HTTP edges (FHIR and the board, on one listener): calls are named
/// by their route template, outcomes read from the HTTP status, and a
/// refusal is a plain-text status with `Retry-After`.
#[derive(Clone, Copy, Default)]
pub struct HttpWire;

impl Wire for HttpWire {
    const SYSTEM: &'static str = "http";

    fn method<B>(&self, _path: &str, response: &Response<B>) -> String {
        response
            .extensions()
            .get::<Route>()
            .map_or_else(|| "unrouted".to_owned(), |route| route.0.clone())
    }

    /// The HTTP method and the edge (`GET /fhir`): the route is known only
    /// once the router has taken the call.
    fn span_name<B>(&self, request: &Request<B>) -> String {
        let edge = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .filter(|edge| matches!(*edge, "fhir" | "board"))
            .unwrap_or("unrouted");
        format!("{} /{edge}", request.method())
    }

    fn timeout(&self, _headers: &HeaderMap) -> Option<Duration> {
        None
    }

    fn outcome<B>(&self, response: &mut Response<B>, _request_id: &str) -> Outcome {
        match response.extensions().get::<Refused>() {
            Some(Refused(reason)) => Outcome {
                code: Code::ResourceExhausted,
                reason: Some(reason_name(*reason)),
            },
            None => Outcome {
                code: code_of_http(response.status()),
                reason: None,
            },
        }
    }

    fn refusal<B: Default>(&self, error: AppError) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        if let AppError::ResourceExhausted {
            reason,
            retry_after,
            ..
        } = error
        {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds.max(1)));
            response.extensions_mut().insert(Refused(reason));
        }
        response
    }
}

/// An HTTP answer the layer itself wrote to refuse a call for load.
#[derive(Clone, Copy)]
struct Refused(Reason);

/// A reason's name as the contract spells it (`HubAtCapacity` →
/// `HUB_AT_CAPACITY`), for edges whose wire has no reason of its own; the
/// gRPC edge checks that the two spellings agree for every reason.
pub fn reason_name(reason: Reason) -> String {
    let mut name = String::new();
    for (at, letter) in format!("{reason:?}").char_indices() {
        if letter.is_ascii_uppercase() && at > 0 {
            name.push('_');
        }
        name.push(letter.to_ascii_uppercase());
    }
    name
}

/// The gRPC code an HTTP answer corresponds to, for the counts.
fn code_of_http(status: StatusCode) -> Code {
    match status.as_u16() {
        200..=399 => Code::Ok,
        400 | 422 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        405 => Code::Unimplemented,
        409 => Code::FailedPrecondition,
        429 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

/// The layer; outermost, so even calls refused for load are seen.
#[derive(Clone)]
pub struct CallLayer<W> {
    wire: W,
    in_flight: InFlightLimit,
}

impl<W> CallLayer<W> {
    pub fn new(wire: W, in_flight: InFlightLimit) -> Self {
        Self { wire, in_flight }
    }
}

impl<S, W: Clone> tower::Layer<S> for CallLayer<W> {
    type Service = Calls<S, W>;

    fn layer(&self, inner: S) -> Calls<S, W> {
        Calls {
            inner,
            wire: self.wire.clone(),
            in_flight: self.in_flight.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Calls<S, W> {
    inner: S,
    wire: W,
    in_flight: InFlightLimit,
}

impl<S, W, B, R> tower::Service<Request<B>> for Calls<S, W>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    W: Wire,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Response<R>, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request_id = request_id_of(&request);
        let path = request.uri().path().to_owned();
        let started = std::time::Instant::now();
        let in_flight = InFlight::enter();
        let notes = Arc::new(CallNotes::default());
        // One span per call, continuing the caller's trace when it sent a
        // `traceparent`; it never carries the request's content.
        let span = tracing::info_span!(
            "rpc",
            otel.name = %self.wire.span_name(&request),
            otel.kind = "server",
            rpc.system = W::SYSTEM,
            rpc.service = tracing::field::Empty,
            rpc.method = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
            spil.organisation = tracing::field::Empty,
            request_id = %request_id,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&crate::telemetry::HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
        let deadline = self
            .wire
            .timeout(request.headers())
            .and_then(|timeout| tokio::time::Instant::now().checked_add(timeout));
        // Over the hub's cap, the call is refused before it queues anywhere.
        let call = match self.in_flight.enter() {
            // The interceptor may run now or when the future is polled:
            // both see the notes and the span.
            Ok(permit) => Ok((
                span.in_scope(|| NOTES.sync_scope(Arc::clone(&notes), || self.inner.call(request))),
                permit,
            )),
            Err(refused) => Err(self.wire.refusal::<R>(refused)),
        };
        let wire = self.wire.clone();
        Box::pin(async move {
            let mut response = match call {
                Ok((call, permit)) => {
                    let answered = NOTES
                        .scope(Arc::clone(&notes), crate::deadline::within(deadline, call))
                        .instrument(span.clone())
                        .await?;
                    drop(permit);
                    answered
                }
                Err(refusal) => refusal,
            };
            drop(in_flight);
            let elapsed = started.elapsed();
            let method = wire.method(&path, &response);
            let Outcome { code, reason } = wire.outcome(&mut response, &request_id);
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            let (service, rpc) = method
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or((method.trim_start_matches('/'), ""));
            span.record("rpc.service", service);
            span.record("rpc.method", rpc);
            span.record("rpc.grpc.status_code", code as i32);
            let instruments = metrics();
            instruments
                .calls
                .get_or_create(&CallLabels {
                    method: method.clone(),
                    code: code_name(code),
                })
                .inc();
            instruments
                .call_seconds
                .get_or_create(&MethodLabels {
                    method: method.clone(),
                })
                .observe(elapsed.as_secs_f64());
            if code == Code::ResourceExhausted {
                instruments
                    .refusals
                    .get_or_create(&ReasonLabels {
                        reason: reason.clone().unwrap_or_else(|| code_name(code).to_owned()),
                    })
                    .inc();
            }
            let trace_id = {
                let context = span.context();
                let trace_id = context.span().span_context().trace_id();
                (trace_id != opentelemetry::trace::TraceId::INVALID).then(|| trace_id.to_string())
            };
            let organisation = notes.organisation.get().map(String::as_str).unwrap_or("");
            if !organisation.is_empty() {
                instruments
                    .organisation_calls
                    .get_or_create(&OrganisationLabels {
                        organisation: organisation.to_owned(),
                    })
                    .inc();
            }
            tracing::info!(
                target: "spil_hub::access",
                method,
                code = code_name(code),
                reason = reason.as_deref().unwrap_or(""),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                organisation,
                request_id,
                trace_id = trace_id.as_deref().unwrap_or(""),
                "call"
            );
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_call_is_counted_under_its_route_template_or_as_unrouted() {
        let mut routed = Response::new(());
        routed
            .extensions_mut()
            .insert(Route("/fhir/Location/{id}".to_owned()));
        assert_eq!(
            HttpWire.method("/fhir/Location/01a22f26", &routed),
            "/fhir/Location/{id}"
        );
        assert_eq!(
            HttpWire.method("/board/anything-at-all", &Response::new(())),
            "unrouted"
        );
    }

    #[test]
    fn an_http_refusal_for_load_says_when_to_come_back() {
        let refusal: Response<String> = HttpWire.refusal(AppError::ResourceExhausted {
            reason: crate::app::Reason::HubAtCapacity,
            message: "full".into(),
            retry_after: Duration::from_millis(100),
        });
        assert_eq!(refusal.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refusal.headers()["retry-after"], "1");
        let mut answered = refusal;
        assert_eq!(
            HttpWire.outcome(&mut answered, "id").reason.as_deref(),
            Some("HUB_AT_CAPACITY")
        );
    }

    #[test]
    fn every_code_has_its_canonical_name() {
        for number in 0..=16 {
            let code = Code::from_i32(number);
            let name = code_name(code);
            assert_eq!(
                name.to_ascii_lowercase().replace('_', ""),
                format!("{code:?}").to_ascii_lowercase(),
                "{number}"
            );
        }
    }

    #[test]
    fn a_request_id_from_the_caller_is_kept_only_when_it_is_plain() {
        let with = |value: &str| {
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(REQUEST_ID_HEADER, HeaderValue::from_str(value).unwrap());
            request_id_of(&request)
        };
        assert_eq!(with("abc-123"), "abc-123");
        assert_ne!(with("two words"), "two words");
        assert_ne!(with(&"x".repeat(129)), "x".repeat(129));
        assert_eq!(request_id_of(&Request::new(())).len(), 36);
    }
}
