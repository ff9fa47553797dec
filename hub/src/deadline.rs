//! The caller's deadline, carried with the call's task, so
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

#[cfg(test)]
mod tests {
    use super::*;

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
