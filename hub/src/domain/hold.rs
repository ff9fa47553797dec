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

/// Why a write to the registry is refused: decided under the registry
/// lock, on what the store read, by the rules below. Not a storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("request id reused with different parameters")]
    RequestIdReused,
    #[error("offering {0} is stale")]
    OfferingStale(String),
    #[error("offering {0} has no free place")]
    NoFreePlace(String),
    #[error("location {0} belongs to another provider")]
    NotOwner(String),
    #[error(transparent)]
    Hold(#[from] HoldConflict),
}

/// A retried hold request: answered with the earlier hold when it asks the
/// same, refused when it reuses the request id for something else.
pub fn replay(request: &HoldRequest, earlier: &Hold) -> Result<(), Refusal> {
    let same = earlier.offering_id == request.offering_id
        && earlier.child_municipality == request.child_municipality
        && earlier.expires_at - earlier.created_at == request.duration.get();
    if same {
        Ok(())
    } else {
        Err(Refusal::RequestIdReused)
    }
}

/// Whether a new hold on `offering` may be granted at `now`: only while it
/// is fresh and has a place available (`capacity::available_places`).
pub fn may_grant(
    offering: &super::capacity::Offering,
    policy: &super::capacity::FreshnessPolicy,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if offering.freshness(policy, now) == super::capacity::Freshness::Stale {
        return Err(Refusal::OfferingStale(offering.id.clone()));
    }
    if offering.available(policy, now) == 0 {
        return Err(Refusal::NoFreePlace(offering.id.clone()));
    }
    Ok(())
}

/// Whether `provider` may change a location that `owner` holds (`None`: a
/// new location).
pub fn may_change_location(
    location: &super::capacity::LocationId,
    owner: Option<&OrgId>,
    provider: &OrgId,
) -> Result<(), Refusal> {
    match owner {
        Some(owner) if owner != provider => Err(Refusal::NotOwner(location.as_str().to_owned())),
        _ => Ok(()),
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
    fn a_retry_asking_the_same_is_answered_and_one_asking_else_refused() {
        let earlier = hold(HoldState::Active);
        let request = HoldRequest {
            request_id: earlier.request_id.clone(),
            offering_id: "o".into(),
            child_municipality: MunicipalityCode::parse("GM0392").unwrap(),
            duration: HoldDuration::parse(None).unwrap(),
        };
        assert_eq!(replay(&request, &earlier), Ok(()));
        let elsewhere = HoldRequest {
            offering_id: "other".into(),
            ..request.clone()
        };
        assert_eq!(replay(&elsewhere, &earlier), Err(Refusal::RequestIdReused));
        let longer = HoldRequest {
            duration: HoldDuration::parse(Some(Duration::hours(1))).unwrap(),
            ..request
        };
        assert_eq!(replay(&longer, &earlier), Err(Refusal::RequestIdReused));
    }

    #[test]
    fn only_the_owner_changes_a_location() {
        let id = crate::domain::capacity::LocationId::parse("kenter-haarlem").unwrap();
        let kenter = OrgId::parse("kenter").unwrap();
        let other = OrgId::parse("lindenhout").unwrap();
        assert_eq!(may_change_location(&id, None, &kenter), Ok(()));
        assert_eq!(may_change_location(&id, Some(&kenter), &kenter), Ok(()));
        assert_eq!(
            may_change_location(&id, Some(&kenter), &other),
            Err(Refusal::NotOwner("kenter-haarlem".into()))
        );
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
