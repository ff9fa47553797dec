//! The registry as search reads it: every offering in memory, a projection
//! of the change log. Before each search it is brought up to the latest
//! committed revision, so a search sees every commit that preceded it, as a
//! query would; in between it costs no database work. Granting a hold never
//! reads it: that stays a database transaction. Offerings are kept by region,
//! since nearly every search names one: a search reads its regions only.
//!
//! The view also keeps the latest revisions as they came from the log, so
//! that every capacity watch in the process is fed from one read of the log
//! instead of one read per stream.

use crate::domain::capacity::{Offering, Revision};
use crate::store::{RevisionBatch, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, RwLock};

/// Rows of the change log read per round trip while catching up.
const CATCH_UP_ROWS: u64 = 4096;

/// Offering changes kept for watchers; a watcher further behind reads the log.
const RECENT_OFFERINGS: usize = 16_384;

#[derive(Default)]
struct State {
    applied: Revision,
    /// Region id → offering id → offering.
    by_region: HashMap<String, HashMap<String, Offering>>,
    /// Offering id → the region it is filed under; a location may move.
    region_of: HashMap<String, String>,
    /// The latest revisions, contiguous and ending at `applied`.
    recent: VecDeque<Arc<RevisionBatch>>,
    /// How many offerings `recent` holds.
    recent_offerings: usize,
}

impl State {
    fn replace_all(&mut self, revision: Revision, offerings: Vec<Offering>) {
        self.applied = revision;
        self.by_region.clear();
        self.region_of.clear();
        // The log is not known to reach back to here: watchers read it.
        self.recent.clear();
        self.recent_offerings = 0;
        for offering in offerings {
            self.upsert(offering);
        }
    }

    fn upsert(&mut self, offering: Offering) {
        let region = &offering.location.region_id;
        if let Some(previous) = self.region_of.get(&offering.id)
            && previous != region
            && let Some(old) = self.by_region.get_mut(previous)
        {
            old.remove(&offering.id);
        }
        self.region_of.insert(offering.id.clone(), region.clone());
        self.by_region
            .entry(region.clone())
            .or_default()
            .insert(offering.id.clone(), offering);
    }

    fn apply(&mut self, batch: RevisionBatch) {
        for offering in &batch.offerings {
            self.upsert(offering.clone());
        }
        self.applied = batch.revision;
        self.recent_offerings += batch.offerings.len();
        self.recent.push_back(Arc::new(batch));
        while self.recent.len() > 1 && self.recent_offerings > RECENT_OFFERINGS {
            if let Some(dropped) = self.recent.pop_front() {
                self.recent_offerings -= dropped.offerings.len();
            }
        }
    }
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
                crate::metrics::metrics().view_snapshot_reloads.inc();
                self.state
                    .write()
                    .expect("view lock poisoned")
                    .replace_all(revision, offerings);
                continue;
            }
            let mut state = self.state.write().expect("view lock poisoned");
            for batch in batches {
                state.apply(batch);
            }
        }
    }

    /// The revisions after `after`, up to the view's, from memory; `None`
    /// when the view no longer holds (or never held) the one after `after`.
    pub fn revisions_after(&self, after: Revision) -> Option<Vec<Arc<RevisionBatch>>> {
        let state = self.state.read().expect("view lock poisoned");
        if after >= state.applied {
            return Some(Vec::new());
        }
        let first = state.recent.front()?.revision;
        if first.0 > after.0 + 1 {
            return None;
        }
        Some(
            state
                .recent
                .iter()
                .skip_while(|batch| batch.revision <= after)
                .cloned()
                .collect(),
        )
    }

    fn applied(&self) -> Revision {
        self.state.read().expect("view lock poisoned").applied
    }

    /// Runs `read` over the offerings in `regions` (every region when
    /// empty), under a read lock.
    pub fn read<T>(
        &self,
        regions: &[String],
        read: impl FnOnce(&mut dyn Iterator<Item = &Offering>) -> T,
    ) -> T {
        let state = self.state.read().expect("view lock poisoned");
        if regions.is_empty() {
            read(&mut state.by_region.values().flat_map(HashMap::values))
        } else {
            read(
                &mut regions
                    .iter()
                    .enumerate()
                    // A region named twice is read once.
                    .filter(|(i, region)| !regions[..*i].contains(region))
                    .filter_map(|(_, region)| state.by_region.get(region))
                    .flat_map(HashMap::values),
            )
        }
    }
}
