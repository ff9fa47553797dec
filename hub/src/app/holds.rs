//! Hold use-cases: a crisis service holds a place, confirms or releases
//! it; a provider sees the holds on its beds. Whether a hold may be granted
//! is decided under the registry lock (`domain::hold`).

use super::{AppError, HoldUseCases, Page, Seen};
use crate::domain::authz::Action;
use crate::domain::hold::{Hold, HoldRequest, HoldState};
use crate::domain::identity::Caller;
use crate::store::HoldOutcome;

impl HoldUseCases {
    pub async fn hold(
        &self,
        caller: &Caller,
        request: HoldRequest,
    ) -> Result<HoldOutcome, AppError> {
        self.authorise(caller, Action::HoldPlace)?;
        if !self
            .directory()
            .municipalities
            .contains_key(request.child_municipality.as_str())
        {
            return Err(AppError::invalid(
                "child_municipality_code",
                format!(
                    "unknown municipality {}",
                    request.child_municipality.as_str()
                ),
            ));
        }
        let outcome = self
            .store
            .hold(
                &caller.org.id,
                &request,
                &self.settings.freshness,
                self.clock.now(),
            )
            .await;
        match &outcome {
            Ok(outcome) if !outcome.replayed => crate::metrics::hold("granted"),
            Err(crate::store::WriteError::Refused(_)) => crate::metrics::hold("refused"),
            _ => {}
        }
        Ok(outcome?)
    }

    pub async fn confirm_hold(&self, caller: &Caller, hold_id: &str) -> Result<Hold, AppError> {
        self.authorise(caller, Action::ConfirmHold)?;
        let hold = self
            .store
            .end_hold(&caller.org.id, hold_id, true, self.clock.now())
            .await?;
        crate::metrics::hold("confirmed");
        Ok(hold)
    }

    pub async fn release_hold(&self, caller: &Caller, hold_id: &str) -> Result<Hold, AppError> {
        self.authorise(caller, Action::ReleaseHold)?;
        let hold = self
            .store
            .end_hold(&caller.org.id, hold_id, false, self.clock.now())
            .await?;
        crate::metrics::hold("released");
        Ok(hold)
    }

    /// A crisis service lists the holds it made; a provider those on its offerings.
    pub async fn list_holds(
        &self,
        caller: &Caller,
        states: Vec<HoldState>,
        page: &Page,
    ) -> Result<(Vec<Hold>, String), AppError> {
        let reach = self.scope(caller, Action::ListHolds)?;
        let scope = format!("holds:{states:?}");
        let offset = self.pages.offset(page, &scope)?;
        let now = self.clock.now();
        let holds = self
            .store
            .list_holds(
                &caller.org.id,
                reach,
                &states,
                now,
                offset as u64,
                page.size as u64 + 1,
            )
            .await?;
        let mut holds = holds;
        let next = if holds.len() > page.size {
            holds.truncate(page.size);
            self.pages.encode_offset(&scope, offset + page.size)
        } else {
            String::new()
        };
        // Report the state as it is now, also for holds the sweeper has not reached yet.
        for hold in &mut holds {
            if hold.state_at(now) == HoldState::Expired && hold.state == HoldState::Active {
                hold.state = HoldState::Expired;
                hold.ended_at = Some(hold.expires_at);
            }
        }
        Ok((holds, next))
    }

    /// The caller's active holds (a first page of `page.size`), with the
    /// moment they were read at, which a page counts their time left from.
    pub async fn active_holds(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> Result<Seen<Vec<Hold>>, AppError> {
        let (holds, _) = self
            .list_holds(caller, vec![HoldState::Active], page)
            .await?;
        Ok(Seen {
            value: holds,
            at: self.clock.now(),
        })
    }

    /// Marks holds past their time as expired; run periodically.
    pub async fn sweep_expired_holds(&self) -> Result<usize, AppError> {
        let expired = self.store.expire_holds(self.clock.now()).await?;
        crate::metrics::metrics()
            .holds
            .get_or_create(&crate::metrics::OutcomeLabels { outcome: "expired" })
            .inc_by(expired as u64);
        Ok(expired)
    }
}
