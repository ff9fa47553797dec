//! Admission at the edge: every organisation's calls draw from a token
//! bucket of its own, so one organisation's flood is refused at once, before
//! it queues, and never starves another's crisis searches.

use crate::app::AppError;
use crate::domain::identity::OrgId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use tonic::Status;

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
    pub fn admit(&self, org: &OrgId) -> Result<(), Status> {
        self.limiter.check_key(org).map_err(|not_until| {
            let retry_after = not_until.wait_time_from(self.clock.now());
            Status::from(AppError::ResourceExhausted {
                message: format!("organisation {org} is over its share of calls; retry later"),
                retry_after,
            })
        })
    }
}
