//! The gRPC edge's [`Wire`]: a call is named by its method, its deadline
//! read from `grpc-timeout`, its outcome from `grpc-status`, and every
//! error answered at the response head carries the request id in its
//! `ErrorInfo` (and RetryInfo when it was refused for load).

use super::status::{ERROR_DOMAIN, reason_of_code};
use crate::app::AppError;
use crate::edge::{Outcome, Wire};
use std::time::Duration;
use tonic::Code;
use tonic::codegen::http::{HeaderMap, Request, Response};
use tonic_types::StatusExt;

#[derive(Clone, Copy, Default)]
pub struct GrpcWire;

impl Wire for GrpcWire {
    const SYSTEM: &'static str = "grpc";

    /// The method's path; a path no service answers is "unrouted".
    fn method<B>(&self, path: &str, response: &Response<B>) -> String {
        if grpc_status(response) == Some(Code::Unimplemented as i32) {
            "unrouted".to_owned()
        } else {
            path.to_owned()
        }
    }

    /// The method's path, as gRPC's semantic conventions name a span.
    fn span_name<B>(&self, request: &Request<B>) -> String {
        request.uri().path().trim_start_matches('/').to_owned()
    }

    fn timeout(&self, headers: &HeaderMap) -> Option<Duration> {
        headers
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
    }

    fn outcome<B>(&self, response: &mut Response<B>, request_id: &str) -> Outcome {
        match grpc_status(response) {
            None | Some(0) => Outcome {
                code: Code::Ok,
                reason: None,
            },
            Some(code) => Outcome {
                code: Code::from_i32(code),
                reason: stamp_error(response, request_id),
            },
        }
    }

    fn refusal<B: Default>(&self, error: AppError) -> Response<B> {
        tonic::Status::from(error).into_http()
    }
}

/// The `grpc-status` an answer carries at its head, if any (a streaming
/// answer carries it in its trailers).
fn grpc_status<B>(response: &Response<B>) -> Option<i32> {
    response
        .headers()
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
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

/// Reads a `grpc-timeout` header value (at most 8 digits and a unit, as the
/// gRPC HTTP/2 protocol defines it). A malformed value counts as absent:
/// tonic answers it itself before any handler runs.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit_at = value.len().checked_sub(1)?;
    let (digits, unit) = (value.get(..unit_at)?, value.get(unit_at..)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_as_the_protocol_defines_them() {
        let table = [
            ("1H", Some(Duration::from_secs(3600))),
            ("2M", Some(Duration::from_secs(120))),
            ("30S", Some(Duration::from_secs(30))),
            ("250m", Some(Duration::from_millis(250))),
            ("99999999u", Some(Duration::from_micros(99_999_999))),
            ("5n", Some(Duration::from_nanos(5))),
            ("123456789m", None),
            ("m", None),
            ("", None),
            ("10x", None),
            ("-1S", None),
            ("1.5S", None),
            ("10é", None),
        ];
        for (value, wanted) in table {
            assert_eq!(parse_grpc_timeout(value), wanted, "{value:?}");
        }
    }
}
