//! Holds (reserveringen): a crisis service keeps one place for a short
//! while, then confirms it into a placement, releases it, or lets it expire.

use super::Invalid;
use super::capacity::{MunicipalityCode, RequestId};
use super::identity::OrgId;
use chrono::{DateTime, Duration, Utc};

/// How long a hold lasts unless the caller asks otherwise.
pub const DEFAULT_HOLD: Duration = Duration::minutes(30);
/// The longest hold the hub grants.
pub const MAX_HOLD: Duration = Duration::hours(4);
/// The shortest hold worth making.
pub const MIN_HOLD: Duration = Duration::minutes(1);

/// A hold's duration, within [`MIN_HOLD`]..=[`MAX_HOLD`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HoldDuration(Duration);

impl HoldDuration {
    pub fn parse(requested: Option<Duration>) -> Result<Self, Invalid> {
        match requested {
            None => Ok(Self(DEFAULT_HOLD)),
            Some(d) if d > MAX_HOLD => Err(Invalid::new("must be at most 4 hours")),
            Some(d) if d < MIN_HOLD => Err(Invalid::new("must be at least 1 minute")),
            Some(d) => Ok(Self(d)),
        }
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

/// A hold as the caller asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HoldRequest {
    pub request_id: RequestId,
    pub offering_id: String,
    pub child_municipality: MunicipalityCode,
    pub duration: HoldDuration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldState {
    Active,
    Confirmed,
    Released,
    Expired,
}

impl HoldState {
    pub const ALL: [HoldState; 4] = [
        HoldState::Active,
        HoldState::Confirmed,
        HoldState::Released,
        HoldState::Expired,
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hold {
    pub id: String,
    pub offering_id: String,
    pub holder_id: OrgId,
    pub request_id: RequestId,
    pub child_municipality: MunicipalityCode,
    /// The stored state; see [`Hold::state_at`] for the state that counts.
    pub state: HoldState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Why a hold cannot make the transition asked of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HoldConflict {
    #[error("the hold expired before it was confirmed")]
    Expired,
    #[error("the hold was released")]
    Released,
    #[error("the hold was already confirmed")]
    Confirmed,
}

/// What a confirm or release does to a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Move to this state now.
    To(HoldState),
    /// Already there: a retry, answered with the hold as it is.
    Unchanged,
}

impl Hold {
    /// An active hold whose time has passed has expired, whether or not the
    /// sweeper has marked it yet: expiry needs nobody to call.
    pub fn state_at(&self, now: DateTime<Utc>) -> HoldState {
        effective_state(self.state, self.expires_at, now)
    }

    pub fn confirm(&self, now: DateTime<Utc>) -> Result<Transition, HoldConflict> {
        match self.state_at(now) {
            HoldState::Active => Ok(Transition::To(HoldState::Confirmed)),
            HoldState::Confirmed => Ok(Transition::Unchanged),
            HoldState::Released => Err(HoldConflict::Released),
            HoldState::Expired => Err(HoldConflict::Expired),
        }
    }

    pub fn release(&self, now: DateTime<Utc>) -> Result<Transition, HoldConflict> {
        match self.state_at(now) {
            HoldState::Active => Ok(Transition::To(HoldState::Released)),
            HoldState::Released => Ok(Transition::Unchanged),
            HoldState::Confirmed => Err(HoldConflict::Confirmed),
            HoldState::Expired => Err(HoldConflict::Expired),
        }
    }
}

pub fn effective_state(
    stored: HoldState,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> HoldState {
    match stored {
        HoldState::Active if now >= expires_at => HoldState::Expired,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(state: HoldState) -> Hold {
        let created_at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        Hold {
            id: "h".into(),
            offering_id: "o".into(),
            holder_id: OrgId::parse("crisisdienst").unwrap(),
            request_id: RequestId::parse("r1").unwrap(),
            child_municipality: MunicipalityCode::parse("GM0392").unwrap(),
            state,
            created_at,
            expires_at: created_at + DEFAULT_HOLD,
            ended_at: None,
        }
    }

    #[test]
    fn durations_beyond_four_hours_are_refused() {
        assert_eq!(HoldDuration::parse(None).unwrap().get(), DEFAULT_HOLD);
        assert!(HoldDuration::parse(Some(Duration::hours(4))).is_ok());
        assert!(HoldDuration::parse(Some(Duration::hours(4) + Duration::seconds(1))).is_err());
        assert!(HoldDuration::parse(Some(Duration::seconds(5))).is_err());
    }

    #[test]
    fn an_active_hold_past_its_time_has_expired() {
        let h = hold(HoldState::Active);
        assert_eq!(
            h.state_at(h.expires_at - Duration::seconds(1)),
            HoldState::Active
        );
        assert_eq!(h.state_at(h.expires_at), HoldState::Expired);
    }

    #[test]
    fn every_state_and_transition_is_decided() {
        use HoldState::*;
        let cases = [
            (
                Active,
                Ok(Transition::To(Confirmed)),
                Ok(Transition::To(Released)),
            ),
            (
                Confirmed,
                Ok(Transition::Unchanged),
                Err(HoldConflict::Confirmed),
            ),
            (
                Released,
                Err(HoldConflict::Released),
                Ok(Transition::Unchanged),
            ),
            (
                Expired,
                Err(HoldConflict::Expired),
                Err(HoldConflict::Expired),
            ),
        ];
        for (state, confirm, release) in cases {
            let h = hold(state);
            let now = h.created_at;
            assert_eq!(h.confirm(now), confirm, "confirm from {state:?}");
            assert_eq!(h.release(now), release, "release from {state:?}");
        }
        let expired = hold(Active);
        assert_eq!(
            expired.confirm(expired.expires_at),
            Err(HoldConflict::Expired)
        );
    }
}
