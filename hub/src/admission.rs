//! Admission, beside the transport: every organisation's calls draw from a
//! token bucket of its own, and the hub runs a bounded number of calls at
//! once, so a flood is refused at once, before it queues, and one
//! organisation never starves another's crisis searches. Rate limiting
//! runs on the monotonic clock of its own, not the domain's.

use crate::app::AppError;
use crate::domain::identity::OrgId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

pub struct Admission {
    limiter: DefaultKeyedRateLimiter<OrgId>,
    clock: DefaultClock,
}

impl Admission {
    /// `per_second` sustained, `burst` at once, per organisation.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one call of `org`, or refuses it with RESOURCE_EXHAUSTED and
    /// RetryInfo saying when the next one would be admitted.
    pub fn admit(&self, org: &OrgId) -> Result<(), AppError> {
        self.limiter.check_key(org).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(self.clock.now());
            AppError::ResourceExhausted {
                reason: crate::app::Reason::OrganisationRateLimited,
                message: format!("organisation {org} is over its share of calls; retry later"),
                retry_after,
            }
        })
    }
}

/// A cap on the calls the hub runs at once, over every connection and
/// organisation: beyond it a call is refused at once, before it queues,
/// with RESOURCE_EXHAUSTED and RetryInfo. A streaming call counts until its
/// stream is open.
#[derive(Clone)]
pub struct InFlightLimit {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl InFlightLimit {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(max_in_flight.max(1))),
        }
    }
}

impl<S> tower::Layer<S> for InFlightLimit {
    type Service = InFlight<S>;

    fn layer(&self, inner: S) -> InFlight<S> {
        InFlight {
            inner,
            permits: std::sync::Arc::clone(&self.permits),
        }
    }
}

#[derive(Clone)]
pub struct InFlight<S> {
    inner: S,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl<S, B> tower::Service<tonic::codegen::http::Request<B>> for InFlight<S>
where
    S: tower::Service<
            tonic::codegen::http::Request<B>,
            Response = tonic::codegen::http::Response<tonic::body::Body>,
        >,
    S::Future: Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        match std::sync::Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => {
                let call = self.inner.call(request);
                Box::pin(async move {
                    let response = call.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => {
                let refused = tonic::Status::from(AppError::ResourceExhausted {
                    reason: crate::app::Reason::HubAtCapacity,
                    message: "the hub is at its limit of calls in flight; retry shortly".into(),
                    retry_after: std::time::Duration::from_millis(100),
                });
                Box::pin(async move { Ok(refused.into_http()) })
            }
        }
    }
}
