//! When the database goes away: readiness says so, calls are UNAVAILABLE
//! (not INTERNAL), and both recover when it returns.

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
