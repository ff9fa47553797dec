//! Time, injected: the only place the hub reads the wall clock, so that
//! expiry, staleness and retention are testable without sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned reader of the wall clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to; for tests.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock poisoned") += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock poisoned") = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock poisoned")
    }
}

/// A moment a shifted clock was asked to jump to that has not come yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} lies in the future")]
pub struct InTheFuture(pub DateTime<Utc>);

/// The wall clock shifted back by a settable amount: the demo replays weeks
/// of history through the real use-cases, then runs at the present.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<Mutex<Duration>>);

impl ShiftedClock {
    /// From now on, `now()` is the wall clock's time at `at`'s distance
    /// from the moment of this call, moving on as the wall clock does.
    /// Refuses a moment after the present: a replayed history may only
    /// record what could have happened by now.
    pub fn jump_to(&self, at: DateTime<Utc>) -> Result<(), InTheFuture> {
        let shift = at - SystemClock.now();
        if shift > Duration::zero() {
            return Err(InTheFuture(at));
        }
        *self.0.lock().expect("clock lock poisoned") = shift;
        Ok(())
    }

    /// Back to the present.
    pub fn reset(&self) {
        *self.0.lock().expect("clock lock poisoned") = Duration::zero();
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + *self.0.lock().expect("clock lock poisoned")
    }
}

pub type SharedClock = Arc<dyn Clock>;
