//! Admission, beside the transport: every organisation's calls draw from a
//! token bucket of its own, and the hub runs a bounded number of calls at
//! once, so a flood is refused at once, before it queues, and one
//! organisation never starves another's crisis searches. Rate limiting
//! runs on the monotonic clock of its own, not the domain's.

use crate::app::{AppError, Reason};
use crate::domain::identity::OrgId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
                reason: Reason::OrganisationRateLimited,
                message: format!("organisation {org} is over its share of calls; retry later"),
                retry_after,
            }
        })
    }
}

/// A cap on the calls the hub runs at once, over every connection, edge
/// and organisation: beyond it a call is refused at once, before it queues,
/// with RESOURCE_EXHAUSTED and RetryInfo. A streaming call counts until its
/// stream is open.
#[derive(Clone)]
pub struct InFlightLimit {
    permits: Arc<Semaphore>,
}

impl InFlightLimit {
    pub fn new(max_in_flight: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
        }
    }

    /// A place for one call, held until dropped; or the refusal.
    pub fn enter(&self) -> Result<OwnedSemaphorePermit, AppError> {
        Arc::clone(&self.permits)
            .try_acquire_owned()
            .map_err(|_| AppError::ResourceExhausted {
                reason: Reason::HubAtCapacity,
                message: "the hub is at its limit of calls in flight; retry shortly".into(),
                retry_after: std::time::Duration::from_millis(100),
            })
    }
}
