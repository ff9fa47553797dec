//! When the database goes away or a replica's clock is off: readiness says
//! so, calls are UNAVAILABLE (not INTERNAL), and both recover when it is
//! put right. A caller's deadline reaches the database; housekeeping runs
//! on one replica at a time.

use sea_orm::{ConnectionTrait, Database};
use spil_tests::fixtures::*;
use spil_tests::{Backend, TestHub, default_backend};
use std::time::{Duration, Instant};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const PATIENCE: Duration = Duration::from_secs(10);

async fn readiness(hub: &TestHub) -> Option<ServingStatus> {
    let admin = hub.hub().admin_addr().expect("an admin port");
    let channel = tonic::transport::Channel::from_shared(format!("http://{admin}"))
        .unwrap()
        .connect()
        .await
        .ok()?;
    let status = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: spil_hub::startup::READINESS.into(),
        })
        .await
        .ok()?
        .into_inner()
        .status;
    ServingStatus::try_from(status).ok()
}

/// Polls until `readiness` is `wanted`, within the patience.
async fn until_ready_is(hub: &TestHub, wanted: ServingStatus) {
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if readiness(hub).await == Some(wanted) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readiness did not become {wanted:?} within {PATIENCE:?}");
}

#[tokio::test]
async fn readiness_and_calls_follow_the_database() {
    let backend = default_backend();
    let hub = TestHub::spawn_with(backend, |config| {
        config.admin_addr = Some("127.0.0.1:0".parse().unwrap());
        config.readiness_interval_ms = 200;
    })
    .await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    until_ready_is(&hub, ServingStatus::Serving).await;
    crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap();
    if backend != Backend::Postgres {
        // An embedded SQLite file cannot be made to refuse its own process.
        return;
    }
    let (server, name) = hub.postgres_database().unwrap();
    let admin = Database::connect(server).await.unwrap();
    let refuse = |allow: bool| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}");
    admin.execute_unprepared(&refuse(false)).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await
        .unwrap();

    until_ready_is(&hub, ServingStatus::NotServing).await;
    let refused = crisis.capacity().search_places(crisis_search()).await;
    let status = refused.expect_err("no database, no search");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let retry = tonic_types::StatusExt::get_details_retry_info(&status);
    assert!(retry.is_some(), "UNAVAILABLE carries RetryInfo: {status:?}");

    admin.execute_unprepared(&refuse(true)).await.unwrap();
    until_ready_is(&hub, ServingStatus::Serving).await;
    let started = Instant::now();
    loop {
        match crisis.capacity().search_places(crisis_search()).await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(started.elapsed() < PATIENCE, "searches did not come back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    admin.close().await.unwrap();
}

/// Stored holds the sweeper has not ended yet.
async fn unended_holds(hub: &TestHub) -> i64 {
    let db = Database::connect(hub.database_url()).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM holds WHERE ended_at_ms IS NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    let count = row.try_get_by_index::<i64>(0).unwrap();
    db.close().await.unwrap();
    count
}

/// A replica whose clock is days off the database's is not ready and
/// decides no expiry; set right, it is ready and sweeps.
#[tokio::test]
async fn a_replica_with_a_wrong_clock_is_not_ready_and_expires_nothing() {
    let hub = TestHub::spawn_with(default_backend(), |config| {
        config.admin_addr = Some("127.0.0.1:0".parse().unwrap());
        config.readiness_interval_ms = 100;
        config.max_clock_skew_ms = 5_000;
    })
    .await;
    // The test clock starts at a fixed moment in the past.
    until_ready_is(&hub, ServingStatus::NotServing).await;

    let provider = hub.kenter_with_location().await;
    let offering = crisis_bed_offering(&provider, "kenter-haarlem", 2, 2).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    hold_granted(&crisis, "hold-1", &offering).await;
    // Past the hold's expiry by this replica's clock, still days off the database's.
    hub.clock.advance(chrono::Duration::days(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(unended_holds(&hub).await, 1, "a skewed replica swept");

    hub.clock
        .set(spil_hub::clock::Clock::now(&spil_hub::clock::SystemClock));
    until_ready_is(&hub, ServingStatus::Serving).await;
    let started = Instant::now();
    while unended_holds(&hub).await != 0 {
        assert!(started.elapsed() < PATIENCE, "the hold was never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On PostgreSQL, one replica at a time has the housekeeping turn.
#[tokio::test]
async fn housekeeping_is_one_replicas_turn_at_a_time() {
    if default_backend() != Backend::Postgres {
        // One SQLite file is one process's.
        return;
    }
    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    // Both replicas' own housekeeping takes the turn now and then: wait for it.
    let take = |store: spil_hub::store::Store| async move {
        let started = Instant::now();
        loop {
            if let Some(turn) = store.housekeeping_turn().await.unwrap() {
                return turn;
            }
            assert!(started.elapsed() < PATIENCE, "never had the turn");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let first = take(hub.hub().app().store().clone()).await;
    for _ in 0..5 {
        let second = replica.app().store().housekeeping_turn().await.unwrap();
        assert!(second.is_none(), "two replicas had the turn at once");
    }
    drop(first);
    let _second = take(replica.app().store().clone()).await;
    assert!(
        hub.hub()
            .app()
            .store()
            .housekeeping_turn()
            .await
            .unwrap()
            .is_none(),
        "the turn went back while the replica had it"
    );
}

/// A write whose caller stops waiting stops in the database too: a write
/// stuck behind a lock is cancelled there at the call's deadline, instead
/// of waiting (and holding a connection) for an answer nobody reads.
#[tokio::test]
async fn a_callers_deadline_reaches_the_database() {
    if default_backend() != Backend::Postgres {
        // SQLite has no statement timeout; its writer waits on a busy timeout.
        return;
    }
    let hub = TestHub::spawn().await;
    let (_, name) = hub.postgres_database().unwrap();
    let kenter = hub.client_as("kenter").await;
    let blocker = Database::connect(hub.database_url()).await.unwrap();
    let lock = sea_orm::TransactionTrait::begin(&blocker).await.unwrap();
    lock.execute_unprepared("SELECT value FROM registry_meta WHERE key = 'revision' FOR UPDATE")
        .await
        .unwrap();

    let mut request = tonic::Request::new(location("kenter-haarlem", "GM0392"));
    request.set_timeout(Duration::from_millis(300));
    let status = kenter
        .capacity()
        .upsert_location(request)
        .await
        .expect_err("the registry is locked");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    let waiting = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{name}' \
         AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    );
    let started = Instant::now();
    loop {
        let row = blocker
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                waiting.clone(),
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get_by_index::<i64>(0).unwrap() == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the hub's statement still waits in the database after its caller gave up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lock.rollback().await.unwrap();
    kenter
        .capacity()
        .upsert_location(location("kenter-haarlem", "GM0392"))
        .await
        .expect("writes go on once the lock is gone");
    blocker.close().await.unwrap();
}
