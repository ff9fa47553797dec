//! The registry's one write path, [`Store::write`], and its group commit:
//! writers that arrive together share one transaction and one disk sync,
//! each in a savepoint of its own, in revision order.

use super::*;

/// A registry write in progress (see [`Store::write`]): its savepoint in
/// the group's transaction, which holds the registry lock, and the latest
/// revision it took.
pub struct RegistryWrite<'s> {
    store: &'s Store,
    /// The group's transaction.
    group: &'s DatabaseTransaction,
    /// This write's savepoint in it, once it has one.
    savepoint: Option<DatabaseTransaction>,
    /// A deciding write's savepoint begins with its first revision.
    savepoint_at_revision: bool,
    latest: Option<Revision>,
}

impl RegistryWrite<'_> {
    pub fn txn(&self) -> &DatabaseTransaction {
        self.savepoint.as_ref().unwrap_or(self.group)
    }

    /// The next revision, for a change the change log records. A write that
    /// changes nothing takes none, so no revision is ever empty.
    pub async fn next_revision(&mut self) -> Result<Revision, StoreError> {
        if self.savepoint_at_revision && self.savepoint.is_none() {
            self.savepoint = Some(self.group.begin().await?);
        }
        let revision = self.store.next_revision(self.txn()).await?;
        self.latest = Some(revision);
        Ok(revision)
    }
}

/// Where a registry write's savepoint begins (see [`Store::write_deciding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Savepoint {
    First,
    AtFirstRevision,
}

/// Rows changed on the writer connection so far (SQLite), to check that a
/// deciding write changed nothing before its first revision.
#[cfg(debug_assertions)]
pub(super) async fn changes_made(txn: &DatabaseTransaction) -> i64 {
    match txn.get_database_backend() {
        DbBackend::Sqlite => txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT total_changes()",
            ))
            .await
            .expect("total_changes() answers")
            .expect("total_changes() returns a row")
            .try_get_by_index::<i64>(0)
            .expect("total_changes() is an integer"),
        _ => 0,
    }
}

/// Registry writes that commit together: one transaction, one disk sync.
#[derive(Default)]
pub(super) struct GroupCommit {
    /// The transaction of the group forming now, if one is.
    forming: tokio::sync::Mutex<Option<Group>>,
    /// Writers waiting for `forming`: while any wait, the group waits for them.
    pub(super) waiting: AtomicUsize,
    groups: AtomicU64,
}

/// A group of registry writes in one open transaction.
pub(super) struct Group {
    id: u64,
    txn: DatabaseTransaction,
    /// One per write whose savepoint is in the transaction; told how the commit went.
    members: Vec<oneshot::Sender<Result<(), CommitFailed>>>,
    latest: Option<Revision>,
    /// PostgreSQL: a member set a statement timeout of its own.
    timeout_set: bool,
}

/// Why a group's commit failed, as each member reports it.
#[derive(Debug, Clone)]
pub(super) enum CommitFailed {
    Conflict,
    Unavailable(String),
    Failed(String),
}

impl From<CommitFailed> for StoreError {
    fn from(failed: CommitFailed) -> Self {
        match failed {
            CommitFailed::Conflict => StoreError::Conflict,
            CommitFailed::Unavailable(why) => StoreError::Unavailable(why),
            CommitFailed::Failed(why) => {
                StoreError::Database(DbErr::Custom(format!("the group commit failed: {why}")))
            }
        }
    }
}

impl From<&StoreError> for CommitFailed {
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::Conflict => CommitFailed::Conflict,
            StoreError::Unavailable(why) => CommitFailed::Unavailable(why.clone()),
            other => CommitFailed::Failed(other.redacted()),
        }
    }
}

/// A writer's place in the forming group, holding it while the writer's
/// work runs. A first member works in the group's transaction itself
/// (`bare`): if it is dropped there, cut off mid-work, the group is
/// dropped with it and its transaction rolled back, so nothing half-done
/// is ever committed by a later member.
pub(super) struct Member<'a> {
    forming: tokio::sync::MutexGuard<'a, Option<Group>>,
    bare: bool,
}

impl Drop for Member<'_> {
    fn drop(&mut self) {
        if self.bare {
            // Dropping the transaction queues its rollback.
            self.forming.take();
        }
    }
}

/// Counts a writer as waiting for the forming group until it is dropped,
/// so a writer that gives up is not waited for.
pub(super) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn join(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Store {
    /// The one way to change the registry: runs `work` in a savepoint of
    /// the transaction of the group forming now (beginning one, which takes
    /// the registry lock before anything is read), and returns once that
    /// group committed; then this process's watchers hear the latest
    /// revision it took. It is all measured under `operation`. When `work`
    /// fails its savepoint is rolled back, the group goes on without it and
    /// the error returns at once.
    ///
    /// Group commit: writers that arrive while a group is forming or
    /// committing join the next group, so one disk sync serves them all.
    /// A group commits when its last waiting writer is in, or, if every
    /// writer waiting leaves, by a task started with the group, so a caller
    /// that goes away never leaves the lock held.
    pub async fn write<T, E>(
        &self,
        operation: &'static str,
        work: impl AsyncFnOnce(&mut RegistryWrite<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.write_as(operation, Savepoint::First, work).await
    }

    /// A registry write that first decides, reading only, whether to change
    /// anything, and changes nothing before it takes its first revision:
    /// on SQLite its savepoint begins there, so a refusal costs no savepoint.
    /// `work` must not write before [`RegistryWrite::next_revision`]; debug
    /// builds check it.
    pub async fn write_deciding<T, E>(
        &self,
        operation: &'static str,
        work: impl AsyncFnOnce(&mut RegistryWrite<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let when = match self.backend {
            DbBackend::Sqlite => Savepoint::AtFirstRevision,
            // PostgreSQL sets each member's statement timeout with its savepoint.
            _ => Savepoint::First,
        };
        self.write_as(operation, when, work).await
    }

    pub(super) async fn write_as<T, E>(
        &self,
        operation: &'static str,
        when: Savepoint,
        work: impl AsyncFnOnce(&mut RegistryWrite<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        use tracing::Instrument as _;
        let _timed = Timed::start(operation);
        let span = tracing::info_span!("store", otel.name = operation, operation);
        async {
            let mut member = Member {
                forming: {
                    let _waiting = Waiting::join(&self.group.waiting);
                    self.group.forming.lock().await
                },
                bare: false,
            };
            let group = match &mut *member.forming {
                Some(group) => group,
                empty => empty.insert(self.begin_group().await?),
            };
            // The group's first member needs no savepoint: if it fails, the
            // group has nothing else to keep and is rolled back whole.
            member.bare = group.members.is_empty();
            let deciding = !member.bare && when == Savepoint::AtFirstRevision;
            let savepoint = if member.bare || deciding {
                None
            } else {
                match self.begin_member(group).await {
                    Ok(savepoint) => Some(savepoint),
                    Err(error) => {
                        let error = StoreError::from(error);
                        self.abandon_group(&mut member.forming, &error).await;
                        return Err(error.into());
                    }
                }
            };
            let (outcome, latest, savepoint) = {
                let group = &member.forming.as_ref().expect("the group is open").txn;
                #[cfg(debug_assertions)]
                let changes_before = if deciding {
                    changes_made(group).await
                } else {
                    0
                };
                let mut write = RegistryWrite {
                    store: self,
                    group,
                    savepoint,
                    savepoint_at_revision: deciding,
                    latest: None,
                };
                let outcome = work(&mut write).await;
                #[cfg(debug_assertions)]
                if deciding && write.savepoint.is_none() {
                    assert_eq!(
                        changes_before,
                        changes_made(group).await,
                        "{operation}: a deciding write changed rows before its first revision"
                    );
                }
                (outcome, write.latest, write.savepoint)
            };
            let bare = std::mem::replace(&mut member.bare, false);
            let ended = match (savepoint, &outcome) {
                (Some(savepoint), Ok(_)) => savepoint.commit().await,
                (Some(savepoint), Err(_)) => savepoint.rollback().await,
                (None, Ok(_)) => Ok(()),
                (None, Err(_)) if bare => {
                    // Nothing else is in the group: it ends here.
                    self.roll_back_group(&mut member.forming).await;
                    Ok(())
                }
                // A deciding write that refused before changing anything.
                (None, Err(_)) => Ok(()),
            };
            if let Err(error) = ended {
                // The transaction itself is in doubt: no member may commit.
                let error = StoreError::from(error);
                self.abandon_group(&mut member.forming, &error).await;
                return Err(error.into());
            }
            if bare && outcome.is_err() {
                // It read only what was committed, and its group is gone.
                return outcome;
            }
            // A later member read what the members before it wrote, which
            // is not committed yet: its answer, a refusal too, waits for the
            // group's commit, or a read after it could see the state before
            // what it was decided on (the linearizability check found so). If
            // the group fails, what a refusal rested on never happened, and
            // the caller hears of the failure instead.
            let (told, committed) = oneshot::channel();
            let group = member.forming.as_mut().expect("the group is open");
            if outcome.is_ok() {
                group.latest = group.latest.max(latest);
            }
            group.members.push(told);
            if self.group.waiting.load(Ordering::SeqCst) == 0 {
                self.commit_group(&mut member.forming).await;
            }
            drop(member);
            committed
                .await
                .map_err(|_| StoreError::Unavailable("the group commit was cut off".into()))?
                .map_err(StoreError::from)?;
            outcome
        }
        .instrument(span)
        .await
    }

    /// Opens a group's transaction with the registry lock, and starts the
    /// task that commits it if no member does. Started here, it queues on
    /// the lock soon after the group opens, which also bounds the group:
    /// started only once a member left the group open, groups grew and
    /// publish and watch latency measured worse (BENCHMARKS).
    pub(super) async fn begin_group(&self) -> Result<Group, StoreError> {
        let txn = self.begin_write().await?;
        self.lock_registry(&txn).await?;
        let id = self.group.groups.fetch_add(1, Ordering::SeqCst);
        self.start_committer(id);
        Ok(Group {
            id,
            txn,
            members: Vec::new(),
            latest: None,
            // begin_write set the opener's deadline on the transaction.
            timeout_set: self.backend == DbBackend::Postgres
                && crate::deadline::remaining().is_some(),
        })
    }

    /// Starts the task that commits group `id` once the writers queued
    /// before it are in, unless one of them commits it first.
    pub(super) fn start_committer(&self, id: u64) {
        let store = self.clone();
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let mut forming = store.group.forming.lock().await;
                if forming.as_ref().is_some_and(|group| group.id == id) {
                    store.commit_group(&mut forming).await;
                }
            },
            tracing::info_span!("group_commit"),
        ));
    }

    /// A member's savepoint. On PostgreSQL its statements stop at the
    /// caller's deadline (57014, answered UNAVAILABLE) instead of holding
    /// the lock for an answer nobody reads.
    pub(super) async fn begin_member(
        &self,
        group: &mut Group,
    ) -> Result<DatabaseTransaction, DbErr> {
        let savepoint = group.txn.begin().await?;
        if self.backend == DbBackend::Postgres {
            let deadline = crate::deadline::remaining();
            if deadline.is_some() || group.timeout_set {
                let limit = deadline.map_or(self.statement_timeout, |left| {
                    left.min(self.statement_timeout)
                });
                savepoint
                    .execute_unprepared(&format!(
                        "SET LOCAL statement_timeout = {}",
                        limit.as_millis().max(1)
                    ))
                    .await?;
                group.timeout_set = deadline.is_some();
            }
        }
        Ok(savepoint)
    }

    /// Commits the forming group and tells each member how it went.
    pub(super) async fn commit_group(&self, forming: &mut Option<Group>) {
        let Some(group) = forming.take() else {
            return;
        };
        crate::metrics::metrics()
            .group_commit_batch
            .observe(group.members.len() as f64);
        let outcome = group
            .txn
            .commit()
            .await
            .map_err(|error| CommitFailed::from(&StoreError::from(error)));
        if outcome.is_ok()
            && let Some(revision) = group.latest
        {
            self.announce(revision);
        }
        for member in group.members {
            let _ = member.send(outcome.clone());
        }
    }

    /// Rolls the forming group back and fails its members: its transaction
    /// can no longer be trusted.
    pub(super) async fn abandon_group(&self, forming: &mut Option<Group>, error: &StoreError) {
        for member in self.roll_back_group(forming).await {
            let _ = member.send(Err(CommitFailed::from(error)));
        }
    }

    /// Rolls the forming group back; returns its members, still to be told.
    pub(super) async fn roll_back_group(
        &self,
        forming: &mut Option<Group>,
    ) -> Vec<oneshot::Sender<Result<(), CommitFailed>>> {
        let Some(group) = forming.take() else {
            return Vec::new();
        };
        if let Err(rollback) = group.txn.rollback().await {
            tracing::warn!(error = %rollback, "failed to roll back a group commit");
        }
        group.members
    }

    /// Starts a write transaction on the writer (SQLite: `BEGIN IMMEDIATE`,
    /// the write lock at once). Only a registry write's group and the
    /// audited consultation transaction call it.
    pub(super) async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == DbBackend::Sqlite)
                .then_some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self.writer.begin_with_options(options).await?;
        if self.backend == DbBackend::Postgres
            && let Some(left) = crate::deadline::remaining()
        {
            // The caller stops waiting at its deadline; so does the database
            // (57014, answered UNAVAILABLE), instead of holding locks for
            // an answer nobody reads.
            let millis = left.min(self.statement_timeout).as_millis().max(1);
            txn.execute_unprepared(&format!("SET LOCAL statement_timeout = {millis}"))
                .await?;
        }
        Ok(txn)
    }

    /// Tells the other replicas, at commit, that `revision` of `channel` is committed.
    pub(super) async fn notify_replicas(
        &self,
        txn: &DatabaseTransaction,
        channel: &str,
        revision: Revision,
    ) -> Result<(), DbErr> {
        if self.backend == DbBackend::Postgres {
            // Delivered to the other replicas at commit, dropped on rollback.
            txn.execute_raw(Statement::from_sql_and_values(
                self.backend,
                "SELECT pg_notify($1, $2)",
                [channel.into(), revision.0.to_string().into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Takes the registry's write lock without taking a revision, for a
    /// write that may change nothing the change log records (a location
    /// without offerings). On SQLite `begin_write` already holds it.
    pub(super) async fn lock_registry(&self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        if self.backend == DbBackend::Postgres {
            txn.execute_raw(Statement::from_string(
                self.backend,
                "SELECT value FROM registry_meta WHERE key = 'revision' FOR UPDATE",
            ))
            .await?;
        }
        Ok(())
    }

    /// Takes the next revision. The first statement of every registry write.
    pub(super) async fn next_revision(&self, txn: &DatabaseTransaction) -> Result<Revision, DbErr> {
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                self.backend,
                "UPDATE registry_meta SET value = value + 1 WHERE key = 'revision' RETURNING value",
                [],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("registry_meta has no revision row".into()))?;
        let revision = Revision(row.try_get_by_index::<i64>(0)? as u64);
        self.notify_replicas(txn, REVISION_CHANNEL, revision)
            .await?;
        Ok(revision)
    }
}
