//! The registry as search reads it: every offering in memory, a projection
//! of the change log. Before each search it is brought up to the latest
//! committed revision, so a search sees every commit that preceded it, as a
//! query would; in between it costs no database work. Granting a hold never
//! reads it: that stays a database transaction. Offerings are kept by region,
//! since nearly every search names one: a search reads its regions only.
//!
//! The view also keeps the latest revisions as they came from the log, so
//! that every capacity watch in the process is fed from one read of the log
//! instead of one read per stream, and it tells per region which revision
//! last changed it, so that a publication wakes the watches of its region
//! only, not every watch in the process.

use crate::domain::capacity::{Offering, Revision};
use crate::store::{RevisionBatch, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::watch;

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
    /// Region id → the latest applied revision that changed an offering
    /// filed under it.
    region_changes: Mutex<HashMap<String, watch::Sender<Revision>>>,
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
                // What changed is not known: every region may have.
                for changes in self.region_changes().values() {
                    changes.send_replace(revision);
                }
                continue;
            }
            let mut changed: Vec<(String, Revision)> = Vec::new();
            {
                let mut state = self.state.write().expect("view lock poisoned");
                for batch in batches {
                    for offering in &batch.offerings {
                        let region = &offering.location.region_id;
                        match changed.iter_mut().find(|(r, _)| r == region) {
                            Some((_, revision)) => *revision = batch.revision,
                            None => changed.push((region.clone(), batch.revision)),
                        }
                    }
                    state.apply(batch);
                }
            }
            let regions = self.region_changes();
            for (region, revision) in changed {
                if let Some(changes) = regions.get(&region) {
                    changes.send_replace(revision);
                }
            }
        }
    }

    /// Told the latest applied revision that changed `region`, each time
    /// the view applies one.
    pub fn region_changes_of(&self, region: &str) -> watch::Receiver<Revision> {
        let applied = self.applied();
        self.region_changes()
            .entry(region.to_owned())
            .or_insert_with(|| watch::channel(applied).0)
            .subscribe()
    }

    fn region_changes(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Revision>>> {
        self.region_changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        // `recent` holds consecutive revisions: the first one after `after`
        // is found by its distance from the front, not by walking the
        // thousands kept before it (one walk per stream per wake-up).
        let skip = usize::try_from(after.0 + 1 - first.0).unwrap_or(usize::MAX);
        let found: Vec<_> = state
            .recent
            .range(skip.min(state.recent.len())..)
            .cloned()
            .collect();
        debug_assert!(
            found
                .first()
                .is_none_or(|batch| batch.revision.0 == after.0 + 1)
        );
        Some(found)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::tests::offering as crisis_bed;

    /// A view holding `batches`, as the log gave them.
    fn view_of(batches: impl IntoIterator<Item = RevisionBatch>) -> RegistryView {
        let mut state = State::default();
        for batch in batches {
            state.apply(batch);
        }
        RegistryView {
            state: RwLock::new(state),
            ..RegistryView::default()
        }
    }

    #[test]
    fn the_revisions_after_one_start_right_after_it_and_run_to_the_latest() {
        let view = view_of((1..=100).map(|revision| RevisionBatch {
            revision: Revision(revision),
            offerings: vec![crisis_bed(&format!("o{}", revision % 7), 1, 0, None)],
        }));
        let revisions = |after| {
            view.revisions_after(Revision(after))
                .map(|found| found.iter().map(|b| b.revision.0).collect::<Vec<_>>())
        };
        assert_eq!(revisions(40), Some((41..=100).collect()));
        assert_eq!(revisions(0), Some((1..=100).collect()));
        assert_eq!(revisions(99), Some(vec![100]));
        assert_eq!(revisions(100), Some(vec![]));
        assert_eq!(revisions(250), Some(vec![]));
    }

    #[test]
    fn revisions_the_view_no_longer_holds_are_not_answered_from_it() {
        // Enough offering changes that the oldest revisions are let go.
        let view = view_of((1..=3).map(|revision| {
            RevisionBatch {
                revision: Revision(revision),
                offerings: (0..RECENT_OFFERINGS / 2)
                    .map(|n| crisis_bed(&format!("o{n}"), 1, 0, None))
                    .collect(),
            }
        }));
        assert!(
            view.revisions_after(Revision(0)).is_none(),
            "revision 1 was let go"
        );
        let kept: Vec<_> = view
            .revisions_after(Revision(1))
            .expect("revision 2 is kept")
            .iter()
            .map(|b| b.revision.0)
            .collect();
        assert_eq!(kept, vec![2, 3]);
    }
}
