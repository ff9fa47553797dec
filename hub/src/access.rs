//! One access line and one count per call: a request id (the caller's
//! `x-request-id`, or a new one) echoed in the response metadata and in the
//! `ErrorInfo` of every error answered at the response head; method, code,
//! duration and organisation in the access log; calls, latency, calls in
//! flight and refusals by reason in the metrics.

use crate::grpc::status::{ERROR_DOMAIN, reason_of_code};
use crate::metrics::{CallLabels, MethodLabels, OrganisationLabels, ReasonLabels, metrics};
use opentelemetry::trace::TraceContextExt as _;
use std::sync::{Arc, OnceLock};
use tonic::Code;
use tonic::codegen::http::{HeaderValue, Request, Response};
use tonic_types::StatusExt;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header a request id travels in, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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

/// Puts the request id into the error's `ErrorInfo` (one with the code's
/// name as its reason when the error had none) and returns that reason.
fn stamp_error<B>(response: &mut Response<B>, request_id: &str) -> Option<String> {
    let status = tonic::Status::from_header_map(response.headers())?;
    let mut details = status.get_error_details();
    let (reason, domain, mut metadata) = match details.error_info() {
        Some(info) => (
            info.reason.clone(),
            info.domain.clone(),
            info.metadata.clone(),
        ),
        None => (
            reason_of_code(status.code()).to_owned(),
            ERROR_DOMAIN.to_owned(),
            Default::default(),
        ),
    };
    metadata.insert("request_id".to_owned(), request_id.to_owned());
    details.set_error_info(reason.clone(), domain, metadata);
    // A refusal for load or availability says when to come back, also when
    // the transport made it (load shedding): all but a message too large,
    // which no retry can cure.
    if matches!(status.code(), Code::Unavailable | Code::ResourceExhausted)
        && details.retry_info().is_none()
        && reason != "MESSAGE_TOO_LARGE"
    {
        details.set_retry_info(Some(std::time::Duration::from_millis(100)));
    }
    let stamped = tonic::Status::with_error_details(status.code(), status.message(), details);
    let stamped = stamped.into_http::<()>();
    for (name, value) in stamped.headers() {
        if name.as_str().starts_with("grpc-") {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Some(reason)
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

/// The method a call is counted under: its gRPC path, or for the FHIR
/// endpoint the resource type and whether one resource was read, so that
/// ids never become label values.
fn method_label(path: &str) -> String {
    let Some(rest) = path.strip_prefix("/fhir/") else {
        return path.to_owned();
    };
    const TYPES: [&str; 6] = [
        "metadata",
        "Location",
        "HealthcareService",
        "MeasureReport",
        "Measure",
        "CodeSystem",
    ];
    let mut segments = rest.splitn(2, '/');
    match (segments.next(), segments.next()) {
        (Some(kind), None) if TYPES.contains(&kind) => format!("/fhir/{kind}"),
        (Some(kind), Some(_)) if TYPES.contains(&kind) => format!("/fhir/{kind}/{{id}}"),
        _ => "/fhir/other".to_owned(),
    }
}

/// The gRPC code an HTTP answer of the FHIR endpoint corresponds to.
fn code_of_http(status: tonic::codegen::http::StatusCode) -> Code {
    match status.as_u16() {
        200..=299 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        405 => Code::Unimplemented,
        429 => Code::ResourceExhausted,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Internal,
    }
}

/// The tower layer; outermost, so even calls refused for load are seen.
#[derive(Clone, Copy, Default)]
pub struct AccessLayer;

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Access<S>;

    fn layer(&self, inner: S) -> Access<S> {
        Access { inner }
    }
}

#[derive(Clone)]
pub struct Access<S> {
    inner: S,
}

impl<S, B, R> tower::Service<Request<B>> for Access<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    R: Send + 'static,
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
        let method = method_label(request.uri().path());
        let grpc = !method.starts_with("/fhir");
        let started = std::time::Instant::now();
        let in_flight = InFlight::enter();
        let notes = Arc::new(CallNotes::default());
        // One span per call, continuing the caller's trace when it sent a
        // `traceparent`; it names the method, never the request's content.
        let (service, rpc) = method
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", ""));
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method.trim_start_matches('/'),
            otel.kind = "server",
            rpc.system = if grpc { "grpc" } else { "http" },
            rpc.service = service,
            rpc.method = rpc,
            rpc.grpc.status_code = tracing::field::Empty,
            spil.organisation = tracing::field::Empty,
            request_id = %request_id,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&crate::telemetry::HeaderExtractor(request.headers()))
        });
        let _ = span.set_parent(parent);
        // The interceptor may run now or when the future is polled: both see
        // the notes and the span.
        let call =
            span.in_scope(|| NOTES.sync_scope(Arc::clone(&notes), || self.inner.call(request)));
        Box::pin(async move {
            let mut response = NOTES
                .scope(Arc::clone(&notes), call)
                .instrument(span.clone())
                .await?;
            drop(in_flight);
            let elapsed = started.elapsed();
            let grpc_status = response
                .headers()
                .get("grpc-status")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<i32>().ok());
            let code = match grpc_status {
                Some(status) => Code::from_i32(status),
                None if grpc => Code::Ok,
                None => code_of_http(response.status()),
            };
            let reason = if code == Code::Ok || grpc_status.is_none() {
                None
            } else {
                stamp_error(&mut response, &request_id)
            };
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
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
                        reason: reason
                            .clone()
                            .unwrap_or_else(|| reason_of_code(code).to_owned()),
                    })
                    .inc();
            }
            span.record("rpc.grpc.status_code", code as i32);
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
    fn a_fhir_request_is_counted_under_its_resource_type_never_its_id() {
        for (path, label) in [
            (
                "/spil.v1.CapacityRegistry/HoldPlace",
                "/spil.v1.CapacityRegistry/HoldPlace",
            ),
            ("/fhir/metadata", "/fhir/metadata"),
            ("/fhir/HealthcareService", "/fhir/HealthcareService"),
            (
                "/fhir/HealthcareService/01a22f26",
                "/fhir/HealthcareService/{id}",
            ),
            (
                "/fhir/MeasureReport/region-haaglanden",
                "/fhir/MeasureReport/{id}",
            ),
            ("/fhir/Patient/123", "/fhir/other"),
            ("/fhir/anything-at-all", "/fhir/other"),
        ] {
            assert_eq!(method_label(path), label, "{path}");
        }
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
