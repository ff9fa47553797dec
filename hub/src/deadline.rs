//! The caller's deadline (`grpc-timeout`), carried with the call's task, so
//! that the database stops working on a call when its caller stops waiting.

use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `call` with `deadline` as the current call's deadline.
pub async fn within<F: std::future::Future>(deadline: Option<Instant>, call: F) -> F::Output {
    match deadline {
        Some(deadline) => DEADLINE.scope(deadline, call).await,
        None => call.await,
    }
}

/// Time left before the current call's deadline; `None` without one (or
/// outside a call, e.g. housekeeping). Zero once it has passed.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
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

/// A tower layer that reads each request's `grpc-timeout` and runs the call
/// within that deadline (see [`remaining`]).
#[derive(Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = WithDeadline<S>;

    fn layer(&self, inner: S) -> WithDeadline<S> {
        WithDeadline { inner }
    }
}

#[derive(Clone)]
pub struct WithDeadline<S> {
    inner: S,
}

impl<S, B> tower::Service<tonic::codegen::http::Request<B>> for WithDeadline<S>
where
    S: tower::Service<tonic::codegen::http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            .and_then(|timeout| Instant::now().checked_add(timeout));
        Box::pin(within(deadline, self.inner.call(request)))
    }
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

    #[tokio::test]
    async fn the_deadline_is_seen_inside_the_call_and_not_outside() {
        assert_eq!(remaining(), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        let inside = within(Some(deadline), async { remaining() }).await;
        assert!(inside.is_some_and(|left| left <= Duration::from_secs(5)));
        let gone = within(Some(Instant::now()), async { remaining() }).await;
        assert_eq!(gone, Some(Duration::ZERO));
    }
}
