//! The capacity watch: a producer task per stream takes the revisions after
//! the client's from the change log and sends them whole through a bounded
//! channel; it waits for the next commit when it has caught up.
//!
//! The log is read once for all streams, by the registry view, which keeps
//! the latest revisions in memory; a stream that has fallen behind what the
//! view keeps reads the log itself. Following the log's revisions, not an
//! in-memory broadcast, is what makes "no gap, no duplicate" hold across
//! reconnects, slow clients and replicas.

use super::{AppError, FieldViolation, WatchUseCases};
use crate::domain::authz::Action;
use crate::domain::capacity::{LocationId, Offering, PlaceType, Revision};
use crate::domain::identity::{Caller, OrgId};
use crate::store::RevisionBatch;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Rows of the change log read per round trip.
const LOG_BATCH_ROWS: u64 = 512;

/// Which offerings a watch follows. Empty lists mean "any".
#[derive(Debug, Clone, Default)]
pub struct WatchFilter {
    pub region_ids: Vec<String>,
    pub place_types: Vec<PlaceType>,
    pub location_ids: Vec<LocationId>,
}

/// Where a watch (capacity or consultations) begins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartFrom {
    /// After the latest committed revision.
    #[default]
    Now,
    /// After this revision, as a client that saw it resumes.
    After(Revision),
    /// From the oldest revision the log still keeps.
    OldestKept,
}

#[derive(Debug, Clone, Default)]
pub struct WatchRequest {
    pub start: StartFrom,
    pub include_snapshot: bool,
    pub filter: WatchFilter,
}

/// One message of the stream: the matching offerings changed at one
/// revision; or the snapshot; or, first on a stream without snapshot, the
/// revision it starts after (`start`, no offerings).
#[derive(Debug, Clone)]
pub struct WatchItem {
    pub revision: Revision,
    pub offerings: Vec<Offering>,
    pub snapshot: bool,
    pub start: bool,
    /// The moment the message was made, and is shown at.
    pub at: chrono::DateTime<chrono::Utc>,
}

struct Matcher {
    filter: WatchFilter,
    /// Providers follow only their own locations.
    provider: Option<OrgId>,
}

impl Matcher {
    fn matches(&self, offering: &Offering) -> bool {
        let f = &self.filter;
        (f.region_ids.is_empty() || f.region_ids.contains(&offering.location.region_id))
            && (f.place_types.is_empty() || f.place_types.contains(&offering.key.place_type))
            && (f.location_ids.is_empty() || f.location_ids.contains(&offering.key.location_id))
            && self
                .provider
                .as_ref()
                .is_none_or(|p| &offering.location.provider_id == p)
    }
}

pub type WatchStream = ReceiverStream<Result<WatchItem, AppError>>;

impl WatchUseCases {
    pub async fn watch(
        &self,
        caller: &Caller,
        request: WatchRequest,
    ) -> Result<WatchStream, AppError> {
        self.authorise(caller, Action::WatchCapacity)?;
        let directory = self.directory();
        let violations: Vec<FieldViolation> = request
            .filter
            .region_ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !directory.regions.iter().any(|r| &r.id == *id))
            .map(|(i, id)| {
                FieldViolation::new(
                    format!("filter.region_ids[{i}]"),
                    format!("unknown region {id}"),
                )
            })
            .collect();
        if !violations.is_empty() {
            return Err(AppError::Invalid(violations));
        }
        let scope = self.scope(caller, Action::WatchCapacity)?;
        let matcher = Matcher {
            filter: request.filter,
            provider: (!scope.everything).then(|| caller.org.id.clone()),
        };

        let current = self.store.current_revision().await?;
        let start = match request.start {
            _ if request.include_snapshot => None,
            StartFrom::Now => Some(current),
            StartFrom::OldestKept => Some(self.store.log_starts_after().await?),
            StartFrom::After(start) if start > current => {
                return Err(AppError::OutOfRange(format!(
                    "revision {} is ahead of the registry (at {})",
                    start.0, current.0
                )));
            }
            StartFrom::After(start) => {
                let oldest = self.store.log_starts_after().await?;
                if start < oldest {
                    return Err(AppError::OutOfRange(format!(
                        "revision {} is no longer kept (the log starts after {}): take a snapshot",
                        start.0, oldest.0
                    )));
                }
                Some(start)
            }
        };

        let slot = self.0.watch_slot(&caller.org.id, "capacity")?;
        let (tx, rx) = mpsc::channel(self.settings.watch_buffer);
        let app = self.clone();
        // The producer stays in the call's span for as long as the stream lives.
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let _slot = slot;
            if let Err(error) = app.produce(start, matcher, &tx).await {
                let _ = tx.send(Err(error)).await;
            }
        }));
        Ok(ReceiverStream::new(rx))
    }

    /// Feeds one stream until the client leaves or the hub shuts down.
    async fn produce(
        &self,
        start: Option<Revision>,
        matcher: Matcher,
        tx: &mpsc::Sender<Result<WatchItem, AppError>>,
    ) -> Result<(), AppError> {
        let mut committed = self.store.subscribe();
        // A watch of some regions wakes when one of them changes; any other
        // watch at every commit.
        let mut regions: Vec<_> = matcher
            .filter
            .region_ids
            .iter()
            .map(|region| self.view.region_changes_of(region))
            .collect();
        let mut last = match start {
            Some(start) => {
                // Even with nothing to send yet, the client learns where it
                // stands, so a reconnect resumes from here and loses nothing.
                let item = WatchItem {
                    revision: start,
                    offerings: Vec::new(),
                    snapshot: false,
                    start: true,
                    at: self.clock.now(),
                };
                if tx.send(Ok(item)).await.is_err() {
                    return Ok(());
                }
                start
            }
            None => {
                let at = self.clock.now();
                let (revision, offerings) = self.store.snapshot(at).await?;
                let offerings = offerings
                    .into_iter()
                    .filter(|o| matcher.matches(o))
                    .collect();
                let item = WatchItem {
                    revision,
                    offerings,
                    snapshot: true,
                    start: false,
                    at,
                };
                if tx.send(Ok(item)).await.is_err() {
                    return Ok(());
                }
                revision
            }
        };
        loop {
            // Marked seen before the commit is read: a change after this
            // point wakes the wait below, one before it is in what is read.
            for region in &mut regions {
                region.borrow_and_update();
            }
            let committed_revision = *committed.borrow_and_update();
            let batches = self.revisions_after(last, committed_revision).await?;
            if batches.is_empty() {
                tokio::select! {
                    _ = self.shutdown.cancelled() => {
                        return Err(AppError::ShuttingDown { resume_after: last });
                    }
                    _ = tx.closed() => return Ok(()),
                    _ = next_change(&mut committed, &mut regions) => {}
                }
                continue;
            }
            if batches[0].revision.0 > last.0 + 1 {
                // Every revision has at least one change: a hole means the
                // log was pruned past this stream while it lagged behind.
                let oldest = self.store.log_starts_after().await?;
                if last < oldest {
                    return Err(AppError::OutOfRange(format!(
                        "revision {} is no longer kept (the log starts after {}): take a snapshot",
                        last.0, oldest.0
                    )));
                }
            }
            for batch in batches {
                let offerings: Vec<Offering> = batch
                    .offerings
                    .iter()
                    .filter(|o| matcher.matches(o))
                    .cloned()
                    .collect();
                if !offerings.is_empty() {
                    let item = WatchItem {
                        revision: batch.revision,
                        offerings,
                        snapshot: false,
                        start: false,
                        at: self.clock.now(),
                    };
                    tokio::select! {
                        sent = tx.send(Ok(item)) => match sent {
                            Ok(()) => crate::metrics::watch_delivery(
                                "capacity",
                                batch.revision.0,
                                committed.borrow().0,
                            ),
                            Err(_) => return Ok(()),
                        },
                        // Not sent: the client resumes from what it has.
                        _ = self.shutdown.cancelled() => {
                            return Err(AppError::ShuttingDown { resume_after: last });
                        }
                    }
                }
                last = batch.revision;
            }
        }
    }

    /// Keeps the registry view at the latest committed revision, so that a
    /// watch of some regions is woken by the view when one of them changes
    /// instead of reading at every commit. Runs until the hub stops.
    pub async fn keep_view_current(&self) {
        let mut committed = self.store.subscribe();
        let mut failing = false;
        loop {
            let target = *committed.borrow_and_update();
            match self
                .view
                .catch_up(&self.store, target, self.clock.now())
                .await
            {
                Ok(()) => {
                    failing = false;
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = committed.changed() => {}
                    }
                }
                Err(error) => {
                    // Said once an outage: readiness reports the database.
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%error, "the registry view could not catch up; trying again");
                    }
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
                    }
                }
            }
        }
    }

    /// The revisions after `last` up to `committed`: from the registry view
    /// when it holds them, which it brings up to `committed` first; else
    /// from the log.
    async fn revisions_after(
        &self,
        last: Revision,
        committed: Revision,
    ) -> Result<Vec<Arc<RevisionBatch>>, AppError> {
        if committed <= last {
            return Ok(Vec::new());
        }
        self.view
            .catch_up(&self.store, committed, self.clock.now())
            .await?;
        if let Some(batches) = self.view.revisions_after(last) {
            return Ok(batches);
        }
        let batches = self.store.changes_after(last, LOG_BATCH_ROWS).await?;
        Ok(batches.into_iter().map(Arc::new).collect())
    }
}

/// The next commit, or for a watch of some regions the next change to one
/// of them.
async fn next_change(
    committed: &mut tokio::sync::watch::Receiver<Revision>,
    regions: &mut [tokio::sync::watch::Receiver<Revision>],
) {
    if regions.is_empty() {
        let _ = committed.changed().await;
    } else {
        let changes = regions.iter_mut().map(|region| Box::pin(region.changed()));
        let _ = futures::future::select_all(changes).await;
    }
}
