//! The registry as search reads it: every offering in memory, a projection
//! of the change log. Before each search it is brought up to the latest
//! committed revision, so a search sees every commit that preceded it, as a
//! query would; in between it costs no database work. Granting a hold never
//! reads it: that stays a database transaction.

use crate::domain::capacity::{Offering, Revision};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::RwLock;

/// Rows of the change log read per round trip while catching up.
const CATCH_UP_ROWS: u64 = 4096;

#[derive(Default)]
struct State {
    applied: Revision,
    offerings: HashMap<String, Offering>,
}

#[derive(Default)]
pub struct RegistryView {
    state: RwLock<State>,
    /// One catch-up at a time; the others wait and then find it done.
    catching_up: tokio::sync::Mutex<()>,
}

impl RegistryView {
    /// Brings the view up to at least `target`.
    pub async fn catch_up(
        &self,
        store: &Store,
        target: Revision,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.applied() >= target {
            return Ok(());
        }
        let _one = self.catching_up.lock().await;
        loop {
            let applied = self.applied();
            if applied >= target {
                return Ok(());
            }
            let batches = store.changes_after(applied, CATCH_UP_ROWS).await?;
            let contiguous = batches
                .first()
                .is_some_and(|b| b.revision.0 == applied.0 + 1);
            if !contiguous {
                // Never loaded, or the log no longer reaches back to where the
                // view stands: start again from a snapshot.
                let (revision, offerings) = store.snapshot(now).await?;
                let mut state = self.state.write().expect("view lock poisoned");
                state.applied = revision;
                state.offerings = offerings.into_iter().map(|o| (o.id.clone(), o)).collect();
                continue;
            }
            let mut state = self.state.write().expect("view lock poisoned");
            for batch in batches {
                for offering in batch.offerings {
                    state.offerings.insert(offering.id.clone(), offering);
                }
                state.applied = batch.revision;
            }
        }
    }

    fn applied(&self) -> Revision {
        self.state.read().expect("view lock poisoned").applied
    }

    /// Runs `read` over every offering, under a read lock.
    pub fn read<T>(&self, read: impl FnOnce(&mut dyn Iterator<Item = &Offering>) -> T) -> T {
        let state = self.state.read().expect("view lock poisoned");
        read(&mut state.offerings.values())
    }
}
