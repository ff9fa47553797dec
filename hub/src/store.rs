//! Persistence: what the hub stores and how concurrent writers are kept
//! from breaking the registry's invariant.
//!
//! Stored: the directory (regions, municipalities, organisations),
//! locations, offerings with their latest publication, holds, the change log
//! the watch replays, idempotency records and anonymous unmet-demand
//! signals. Never stored: a BSN, a child's name, address or date of birth;
//! a hold names only the child's municipality.
//!
//! Concurrency: every change to the registry goes through [`Store::write`],
//! whose first statement takes the registry lock on the revision row. That row lock
//! (PostgreSQL) or write lock (SQLite, taken with `BEGIN IMMEDIATE` on the
//! single writer connection) is held until commit, so each writer reads the
//! counts after every earlier writer committed, and revisions commit in
//! order: the watch can never see revision n+1 before n. Readers use their
//! own pool and never wait for a writer (WAL on SQLite).

mod codes;
mod consultations;
mod directory;
pub mod entities;
mod events;
mod insights;
pub mod migration;
mod placements;
mod registry;
mod shared_read;
mod write;

pub use consultations::{AuditedTxn, ConsultationAccess, ConsultationEvent, NewAuditRecord};
pub use placements::PlacementError;
pub use registry::{HoldOutcome, PublishOutcome, RevisionBatch};
use write::GroupCommit;
pub use write::RegistryWrite;

use crate::domain::capacity::Revision;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqlxPostgresConnector, SqlxSqliteConnector, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Why a store operation failed. Expected outcomes a caller branches on are
/// variants; everything else is [`StoreError::Database`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("unknown municipality {0}")]
    UnknownMunicipality(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Another transaction wrote the same thing at the same moment (a unique
    /// key taken meanwhile, a serialization failure or a deadlock): the
    /// caller may retry. Never a bug of the caller's request.
    #[error("a concurrent write conflicted")]
    Conflict,
    /// The database cannot be reached now (no connection, the pool
    /// exhausted, a timeout, a failover in progress): the caller may retry.
    #[error("the database is unavailable")]
    Unavailable(String),
    #[error("database error")]
    Database(DbErr),
}

/// Why a registry write did not happen: the domain's rules refused it,
/// judged under the lock on what the store read, or the storage failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] crate::domain::hold::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DbErr> for WriteError {
    fn from(error: DbErr) -> Self {
        WriteError::Store(error.into())
    }
}

impl From<crate::domain::hold::HoldConflict> for WriteError {
    fn from(conflict: crate::domain::hold::HoldConflict) -> Self {
        WriteError::Refused(conflict.into())
    }
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        if is_conflict(&error) {
            StoreError::Conflict
        } else if let Some(why) = unavailable(&error) {
            StoreError::Unavailable(why)
        } else {
            StoreError::Database(error)
        }
    }
}

impl StoreError {
    /// The cause as a log line may carry it: the kind of failure and, for a
    /// database error, its SQLSTATE, never the message (PostgreSQL puts row
    /// values in DETAIL and in the text of some errors).
    pub fn redacted(&self) -> String {
        match self {
            StoreError::Database(error) => {
                let code = match error {
                    DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
                    | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => match e.as_ref() {
                        sea_orm::sqlx::Error::Database(e) => {
                            e.code().map(|c| c.into_owned()).unwrap_or_default()
                        }
                        // I/O, TLS, pool: the kind below says it; no code.
                        _ => String::new(),
                    },
                    _ => String::new(),
                };
                let kind = match error {
                    DbErr::Exec(_) => "statement failed",
                    DbErr::Query(_) => "query failed",
                    DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => "connection failed",
                    DbErr::Type(_) | DbErr::Json(_) => "value did not convert",
                    DbErr::RecordNotFound(_)
                    | DbErr::RecordNotInserted
                    | DbErr::RecordNotUpdated => "row missing",
                    _ => "database error",
                };
                format!("{kind} (sqlstate {code})")
            }
            // Our own messages name ids and kinds, never row content.
            other => other.to_string(),
        }
    }
}

/// Why the database cannot be reached, when that is what the error says.
/// The reason names a kind of failure, never a value from a row.
fn unavailable(error: &DbErr) -> Option<String> {
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = match error {
        DbErr::ConnectionAcquire(e) => return Some(format!("no connection: {e}")),
        // Any failure to open a connection is the database's unavailability.
        DbErr::Conn(_) => return Some("no connection".into()),
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e.as_ref(),
        _ => return None,
    };
    match sqlx {
        Sqlx::PoolTimedOut => Some("the connection pool is exhausted".into()),
        Sqlx::PoolClosed => Some("the connection pool is closed".into()),
        Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::WorkerCrashed => Some("the connection was lost".into()),
        Sqlx::Database(e) => {
            let code = e.code()?;
            // PostgreSQL: connection exceptions (08…), shutting down or not
            // yet accepting (57P01–57P03), too many connections (53300),
            // query cancelled by statement_timeout (57014), read-only
            // after a failover (25006).
            (code.starts_with("08")
                || matches!(
                    &*code,
                    "57P01" | "57P02" | "57P03" | "53300" | "57014" | "25006"
                ))
            .then(|| format!("database error class {code}"))
        }
        _ => None,
    }
}

/// Whether a database error is a collision with a concurrent transaction.
fn is_conflict(error: &DbErr) -> bool {
    if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = error.sql_err() {
        return true;
    }
    if let DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
    | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) = error
        && let sea_orm::sqlx::Error::Database(e) = e.as_ref()
    {
        // PostgreSQL: serialization_failure, deadlock_detected.
        return matches!(e.code().as_deref(), Some("40001" | "40P01"));
    }
    false
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.sqlite` or `postgres://…`.
    pub database_url: String,
    /// Connections for readers (and, on PostgreSQL, writers too).
    pub pool_size: u32,
    /// PostgreSQL: the longest any statement may run. A write made for a
    /// call with a deadline gets the call's remaining time instead, when
    /// that is shorter.
    pub statement_timeout: Duration,
}

/// The hub's database: a writer and a reader pool, and a signal of the
/// latest committed revision for watchers in this process.
#[derive(Clone)]
pub struct Store {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    backend: DbBackend,
    committed: watch::Sender<Revision>,
    /// The latest committed consultation revision, for consultation watchers.
    consultations_committed: watch::Sender<Revision>,
    /// PostgreSQL only: the pool a LISTEN connection is taken from.
    pg_pool: Option<PgPool>,
    /// SQLite only: the connection that checkpoints the WAL.
    sqlite_checkpointer: Option<SqlitePool>,
    /// Registry writes committing together.
    group: Arc<GroupCommit>,
    statement_timeout: Duration,
    /// Reads of the latest revision, shared by callers arriving together.
    revision_reads: Arc<shared_read::SharedRead>,
}

/// How often the hub reads the latest revisions, under every other way it
/// hears of a commit.
const COMMIT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How often the SQLite WAL is checkpointed (see [`Store::checkpoint_wal`]).
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// The channel on which PostgreSQL replicas announce committed revisions.
const REVISION_CHANNEL: &str = "spil_registry_revision";
/// The same for consultation revisions.
const CONSULTATION_CHANNEL: &str = "spil_consultation_revision";

impl Store {
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let url = config.database_url.as_str();
        let mut pg_pool = None;
        let mut sqlite_checkpointer = None;
        let (writer, reader, backend) = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| DbErr::Custom(format!("invalid SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Acknowledged means on disk: FULL syncs the WAL at every commit.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // A commit never checkpoints: that copies the WAL into the
                // database file and syncs it, a stall in the commit path.
                // `checkpoint_wal` does it beside the writer.
                .pragma("wal_autocheckpoint", "0");
            // One writer connection: SQLite admits one writer at a time anyway,
            // and queueing in the pool is cheaper than spinning on SQLITE_BUSY.
            let writer_pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(sqlx_err)?;
            let checkpointer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await
                .map_err(sqlx_err)?;
            sqlite_checkpointer = Some(checkpointer);
            let reader_pool = SqlitePoolOptions::new()
                .max_connections(config.pool_size.max(1))
                .connect_with(options.read_only(true))
                .await
                .map_err(sqlx_err)?;
            (
                SqlxSqliteConnector::from_sqlx_sqlite_pool(writer_pool),
                SqlxSqliteConnector::from_sqlx_sqlite_pool(reader_pool),
                DbBackend::Sqlite,
            )
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| DbErr::Custom(format!("invalid PostgreSQL URL: {e}")))?
                .options([(
                    "statement_timeout",
                    config.statement_timeout.as_millis().max(1).to_string(),
                )]);
            let pool = PgPoolOptions::new()
                .max_connections(config.pool_size.max(2))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(sqlx_err)?;
            pg_pool = Some(pool.clone());
            let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
            (db.clone(), db, DbBackend::Postgres)
        } else {
            return Err(
                DbErr::Custom("database_url must start with sqlite: or postgres:".into()).into(),
            );
        };
        let store = Self {
            writer,
            reader,
            backend,
            committed: watch::channel(Revision(0)).0,
            consultations_committed: watch::channel(Revision(0)).0,
            group: Arc::default(),
            pg_pool,
            sqlite_checkpointer,
            statement_timeout: config.statement_timeout,
            revision_reads: Arc::default(),
        };
        Ok(store)
    }

    /// Applies pending migrations, then learns the current revision.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        if self.backend == DbBackend::Postgres {
            // Replicas start together: one migrates, the others wait on the
            // lock and then find nothing left to do. PostgreSQL's DDL is
            // transactional, so a failed migration leaves nothing behind.
            let txn = self.writer.begin().await?;
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7465696)")
                .await?;
            migration::Migrator::up(&txn, None).await?;
            txn.commit().await?;
        } else {
            migration::Migrator::up(&self.writer, None).await?;
        }
        let current = self.current_revision().await?;
        self.committed.send_replace(current);
        self.consultations_committed
            .send_replace(self.current_consultation_revision().await?);
        Ok(())
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// The latest revision committed by this process; changes wake watchers.
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.committed.subscribe()
    }

    /// The latest consultation revision committed by this process.
    pub fn subscribe_consultations(&self) -> watch::Receiver<Revision> {
        self.consultations_committed.subscribe()
    }

    /// Tells this process's watchers that `revision` is committed.
    fn announce(&self, revision: Revision) {
        raise(&self.committed, revision);
    }

    /// Tells this process's consultation watchers that `revision` is committed.
    fn announce_consultation(&self, revision: Revision) {
        raise(&self.consultations_committed, revision);
    }

    /// Wakes this process's watchers when another process commits: on
    /// PostgreSQL by LISTEN, as each replica notifies at commit; and on any
    /// database by reading the latest revisions once every
    /// [`COMMIT_POLL_INTERVAL`], so that a notification lost while
    /// reconnecting, or a second hub on the same SQLite file, costs latency,
    /// never an event. The change log stays the truth: a notification
    /// carries only the revision. Returns at shutdown.
    pub async fn follow_other_replicas(&self, shutdown: CancellationToken) {
        let mut poll = tokio::time::interval(COMMIT_POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let Some(pool) = &self.pg_pool else {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = poll.tick() => self.announce_latest().await,
                }
            }
        };
        loop {
            let mut listener = match PgListener::connect_with(pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "failed to open a LISTEN connection");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            if let Err(error) = listener
                .listen_all([REVISION_CHANNEL, CONSULTATION_CHANNEL])
                .await
            {
                tracing::warn!(%error, "failed to LISTEN");
                continue;
            }
            loop {
                let notification = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    // Also whatever was committed while not listening.
                    _ = poll.tick() => {
                        self.announce_latest().await;
                        continue;
                    }
                    received = listener.try_recv() => received,
                };
                match notification {
                    Ok(Some(notification)) => {
                        if let Ok(revision) = notification.payload().parse() {
                            if notification.channel() == CONSULTATION_CHANNEL {
                                self.announce_consultation(Revision(revision));
                            } else {
                                self.announce(Revision(revision));
                            }
                        }
                    }
                    // The connection dropped; try_recv reconnects on the next call.
                    Ok(None) => self.announce_latest().await,
                    Err(error) => {
                        tracing::warn!(%error, "LISTEN connection failed");
                        break;
                    }
                }
            }
        }
    }

    /// SQLite: copies committed WAL frames into the database file every
    /// [`CHECKPOINT_INTERVAL`], beside the writer instead of inside one of
    /// its commits, so the WAL stays short without a commit ever waiting
    /// for the copy. PASSIVE: it never blocks a writer or a reader, and
    /// leaves what a reader still needs for the next round. Returns at
    /// shutdown, after a last checkpoint; at once on PostgreSQL.
    pub async fn checkpoint_wal(&self, shutdown: CancellationToken) {
        let Some(pool) = &self.sqlite_checkpointer else {
            return;
        };
        let mut every = tokio::time::interval(CHECKPOINT_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = every.tick() => false,
            };
            if let Err(error) = sea_orm::sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await
            {
                tracing::warn!(%error, "WAL checkpoint failed");
            }
            if stopping {
                return;
            }
        }
    }

    /// Announces the latest committed revisions, whoever committed them.
    async fn announce_latest(&self) {
        if let Ok(current) = self.current_revision().await {
            self.announce(current);
        }
        if let Ok(current) = self.current_consultation_revision().await {
            self.announce_consultation(current);
        }
    }

    /// The latest committed revision: every commit acknowledged before this
    /// call is at or below it. Callers arriving together share one query.
    pub async fn current_revision(&self) -> Result<Revision, StoreError> {
        self.revision_reads
            .read(|| meta_value(&self.reader, "revision"))
            .await
            .map(Revision)
    }

    /// Every revision at or before this one has left the change log.
    pub async fn log_starts_after(&self) -> Result<Revision, StoreError> {
        meta_value(&self.reader, "log_starts_after")
            .await
            .map(Revision)
    }

    /// Whether the database answers; for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.reader.ping().await.map_err(Into::into)
    }

    /// The database server's clock, in milliseconds since the Unix epoch:
    /// the one clock replicas compare theirs with.
    pub async fn database_time_ms(&self) -> Result<i64, StoreError> {
        let sql = match self.backend {
            DbBackend::Postgres => {
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
            }
            _ => "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        };
        let row = self
            .reader
            .query_one_raw(Statement::from_string(self.backend, sql))
            .await?
            .ok_or_else(|| StoreError::Corrupt("the database told no time".into()))?;
        Ok(row.try_get_by_index::<i64>(0)?)
    }

    /// This replica's turn at housekeeping, or `None` while another
    /// replica has it: on PostgreSQL an advisory lock held by a transaction
    /// for as long as the turn lives (so it ends with the turn, or with the
    /// connection if the replica dies). On SQLite one process is the hub.
    pub async fn housekeeping_turn(&self) -> Result<Option<HousekeepingTurn>, StoreError> {
        if self.backend != DbBackend::Postgres {
            return Ok(Some(HousekeepingTurn { _lock: None }));
        }
        let txn = self.writer.begin().await?;
        let row = txn
            .query_one_raw(Statement::from_string(
                self.backend,
                format!("SELECT pg_try_advisory_xact_lock({HOUSEKEEPING_LOCK})"),
            ))
            .await?
            .ok_or_else(|| StoreError::Corrupt("no answer to an advisory lock".into()))?;
        let ours = row.try_get_by_index::<bool>(0)?;
        Ok(ours.then_some(HousekeepingTurn { _lock: Some(txn) }))
    }
}

/// The advisory lock key of housekeeping (beside the migration lock's).
const HOUSEKEEPING_LOCK: i64 = 7_465_697;

/// While alive, no other replica runs housekeeping.
pub struct HousekeepingTurn {
    /// Rolled back on drop, which releases the lock.
    _lock: Option<DatabaseTransaction>,
}

/// Moves a revision signal forward, never back.
fn raise(signal: &watch::Sender<Revision>, revision: Revision) {
    signal.send_if_modified(|latest| {
        if revision > *latest {
            *latest = revision;
            true
        } else {
            false
        }
    });
}

async fn meta_value(db: &impl ConnectionTrait, key: &str) -> Result<u64, StoreError> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT value FROM registry_meta WHERE key = $1",
            [key.into()],
        ))
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("registry_meta has no {key} row")))?;
    Ok(row.try_get_by_index::<i64>(0)? as u64)
}

fn sqlx_err(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into()))
}

/// Logs how long a named store operation took; the metrics hook.
struct Timed {
    name: &'static str,
    started: Instant,
}

impl Timed {
    fn start(name: &'static str) -> Self {
        Self {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        crate::metrics::metrics()
            .store_seconds
            .get_or_create(&crate::metrics::OperationLabels {
                operation: self.name,
            })
            .observe(self.started.elapsed().as_secs_f64());
        tracing::debug!(
            operation = self.name,
            elapsed_us = self.started.elapsed().as_micros() as u64,
            "store operation"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_database_error_carries_no_row_values() {
        let error = StoreError::Database(DbErr::Custom(
            "duplicate key: Key (case_reference)=(CJG-HLM-7810) already exists".into(),
        ));
        let logged = error.redacted();
        assert!(!logged.contains("CJG-HLM-7810"), "{logged}");
        assert!(logged.contains("database error"), "{logged}");
        let ours = StoreError::NotFound("offering 42".into()).redacted();
        assert_eq!(ours, "offering 42 not found");
    }
}

/// A store on an SQLite file of its own, removed when dropped; for tests.
#[cfg(test)]
pub(crate) struct ScratchStore {
    pub store: Store,
    path: std::path::PathBuf,
}

#[cfg(test)]
impl ScratchStore {
    pub async fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "spil-store-{}-{}.sqlite",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        let store = Store::connect(&StoreConfig {
            database_url: format!("sqlite://{}", path.display()),
            pool_size: 2,
            statement_timeout: Duration::from_secs(5),
        })
        .await
        .expect("connect");
        store.migrate().await.expect("migrate");
        Self { store, path }
    }
}

#[cfg(test)]
impl Drop for ScratchStore {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

#[cfg(test)]
mod group_commit_tests {
    use super::*;

    async fn mark(txn: &DatabaseTransaction, key: &str) -> Result<(), StoreError> {
        txn.execute_unprepared(&format!(
            "INSERT INTO registry_meta (key, value) VALUES ('{key}', 1)"
        ))
        .await?;
        Ok(())
    }

    async fn marked(store: &Store, key: &str) -> bool {
        meta_value(&store.reader, key).await.is_ok()
    }

    /// A writer that leaves its group open for a writer waiting behind it
    /// still returns, committed, when that writer goes away instead.
    #[tokio::test]
    async fn a_group_left_open_for_a_writer_that_leaves_still_commits() {
        let scratch = ScratchStore::new().await;
        let store = &scratch.store;
        let first = store.write("test", async |write| {
            mark(write.txn(), "left-open").await?;
            // Until the second writer queues behind this one.
            while store.group.waiting.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            Ok::<(), StoreError>(())
        });
        let second = async {
            tokio::task::yield_now().await;
            tokio::time::timeout(
                Duration::from_millis(50),
                store.write("test", async |write| {
                    mark(write.txn(), "gone").await?;
                    std::future::pending::<Result<(), StoreError>>().await
                }),
            )
            .await
        };
        let (first, second) =
            tokio::join!(tokio::time::timeout(Duration::from_secs(10), first), second);
        assert!(matches!(first, Ok(Ok(()))), "{first:?}");
        assert!(second.is_err(), "the second writer was cut off");
        assert!(marked(store, "left-open").await);
        assert!(!marked(store, "gone").await);
    }

    /// Writers that fail, or whose callers go away mid-work, leave nothing
    /// behind, whether they were a group's first member (working in its
    /// transaction itself) or a later one (in a savepoint); every writer
    /// that returned success is committed.
    #[tokio::test]
    async fn only_what_succeeded_is_committed() {
        let scratch = ScratchStore::new().await;
        let store = &scratch.store;

        // A first member cut off after writing: the group goes with it.
        let cut_off = tokio::time::timeout(
            Duration::from_millis(100),
            store.write("test", async |write| {
                mark(write.txn(), "cut-off-first").await?;
                std::future::pending::<Result<(), StoreError>>().await
            }),
        )
        .await;
        assert!(cut_off.is_err(), "the write was cut off");
        store
            .write("test", async |write| {
                mark(write.txn(), "after-cut-off").await
            })
            .await
            .expect("the next write commits");
        assert!(marked(store, "after-cut-off").await);
        assert!(!marked(store, "cut-off-first").await);

        // Many writers at once form groups: some fail after writing, some are
        // cut off, the rest succeed.
        let outcomes = futures::future::join_all((0..60).map(|i| {
            let store = store.clone();
            async move {
                let key = format!("w{i}");
                let write = store.write("test", async |write| {
                    mark(write.txn(), &key).await?;
                    match i % 3 {
                        0 => Ok(()),
                        1 => Err(StoreError::Conflict),
                        _ => {
                            tokio::task::yield_now().await;
                            std::future::pending().await
                        }
                    }
                });
                // A hung writer holds up the writers behind it until its
                // caller gives up: the cut-off ones give up soon.
                let patience = if i % 3 == 2 { 20 } else { 10_000 };
                let outcome = tokio::time::timeout(Duration::from_millis(patience), write).await;
                (key, i % 3, outcome)
            }
        }))
        .await;
        for (key, kind, outcome) in outcomes {
            match kind {
                0 => assert!(matches!(outcome, Ok(Ok(()))), "{key}: {outcome:?}"),
                1 => assert!(matches!(outcome, Ok(Err(StoreError::Conflict))), "{key}"),
                _ => assert!(outcome.is_err(), "{key} was cut off"),
            }
            assert_eq!(marked(store, &key).await, kind == 0, "{key}");
        }
    }
}
