//! Two real `spil-hub serve` processes on one database, as a national
//! deployment runs them: holds, watches, page tokens and consultation
//! events hold across the processes, and no revision is empty. On
//! PostgreSQL when `SPIL_TEST_DATABASE_URL` points at a server (CI sets
//! it), else on one SQLite file.

mod common;

use common::client;
use sea_orm::{ConnectionTrait, Database, Statement};
use spil_client::{SpilClient, pb};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_stream::StreamExt;

const PATIENCE: Duration = Duration::from_secs(20);

fn postgres_url() -> Option<String> {
    #[allow(clippy::disallowed_methods)] // tests choose their backend from the environment
    std::env::var("SPIL_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The environment a hub process gets: only what the test sets.
fn hub_command(args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spil-hub"));
    command.args(args);
    #[allow(clippy::disallowed_methods)] // cleaning the child's environment
    let inherited = std::env::vars();
    for (name, _) in inherited.filter(|(name, _)| name.starts_with("SPIL_")) {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Starts a process and returns it with the address it listens on.
async fn started(mut command: Command) -> (Child, String) {
    let mut child = command.spawn().expect("spil-hub starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("spil-hub listening on ") {
                return addr.to_owned();
            }
        }
        panic!("spil-hub exited before listening");
    })
    .await
    .expect("spil-hub listens in time");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let port = address.rsplit(':').next().unwrap().to_owned();
    (child, format!("https://localhost:{port}"))
}

async fn stop(mut child: Child) {
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("stops in time")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

fn update(location: &str, total: u32, free: u32) -> pb::OfferingUpdate {
    pb::OfferingUpdate {
        key: Some(pb::OfferingKey {
            location_id: location.into(),
            place_type: pb::PlaceType::CrisisBed as i32,
            care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
            age_band: Some(pb::AgeBand {
                min_age: 12,
                max_age: 17,
            }),
            gender_policy: pb::GenderPolicy::Any as i32,
            security_level: pb::SecurityLevel::Open as i32,
        }),
        intake: pb::Intake::AroundTheClock as i32,
        lead_time_days: 0,
        total_places: total,
        free_places: free,
        waiting_days: 0,
        observed_at: None,
    }
}

async fn publish(
    provider: &SpilClient,
    request_id: &str,
    update: pb::OfferingUpdate,
) -> pb::PublishCapacityResponse {
    provider
        .capacity()
        .publish_capacity(pb::PublishCapacityRequest {
            request_id: request_id.into(),
            updates: vec![update],
        })
        .await
        .unwrap()
        .into_inner()
}

fn hold(request_id: String, offering: &str, minutes: i64) -> pb::HoldPlaceRequest {
    pb::HoldPlaceRequest {
        request_id,
        offering_id: offering.into(),
        child_municipality_code: "GM0392".into(),
        duration: Some(prost_types::Duration {
            seconds: minutes * 60,
            nanos: 0,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_serve_processes_on_one_database_agree() {
    let dir = std::env::temp_dir().join(format!("spil-processes-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // A database of its own: a new PostgreSQL database, or an SQLite file.
    let postgres = postgres_url().map(|server| {
        let name = format!("spil_processes_{}", uuid::Uuid::new_v4().simple());
        (server, name)
    });
    let url = match &postgres {
        Some((server, name)) => {
            let admin = Database::connect(server).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            admin.close().await.unwrap();
            let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
        None => format!("sqlite://{}", dir.join("spil.sqlite").display()),
    };

    // The demo seeds the directory and the PKI into the database, then stops.
    let (demo, _) = started(hub_command(
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--dir",
            &dir.display().to_string(),
            "--database-url",
            &url,
        ],
        &[],
    ))
    .await;
    stop(demo).await;

    let pki = dir.join("pki");
    let path = |file: &str| pki.join(file).display().to_string();
    let env: Vec<(String, String)> = [
        ("SPIL_DATABASE_URL", url.clone()),
        (
            "SPIL_PAGE_TOKEN_SECRET",
            "a-secret-every-replica-shares-0123456789".into(),
        ),
        ("SPIL_LISTEN_ADDR", "127.0.0.1:0".into()),
        ("SPIL_TLS__SERVER_CERT", path("server.pem")),
        ("SPIL_TLS__SERVER_KEY", path("server-key.pem")),
        ("SPIL_TLS__CLIENT_CA", path("client-ca.pem")),
        ("SPIL_TLS__CLIENT_CRLS", path("client-ca.crl.pem")),
        ("SPIL_HOLD_SWEEP_INTERVAL_MS", "200".into()),
        ("SPIL_ORG_CALLS_PER_SECOND", "100000".into()),
        ("SPIL_ORG_CALL_BURST", "100000".into()),
        ("SPIL_SHUTDOWN_DRAIN_MS", "100".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (a, at_a) = started(hub_command(&["serve"], &env)).await;
    let (b, at_b) = started(hub_command(&["serve"], &env)).await;
    let on = |hub: &str, org: &str| {
        let dir = dir.clone();
        let hub = hub.to_owned();
        let org = org.to_owned();
        async move { client(&dir, &hub, &org).await }
    };
    let kenter_a = on(&at_a, "kenter").await;
    let crisis = [
        on(&at_a, "crisisdienst-zkh").await,
        on(&at_b, "crisisdienst-zkh").await,
    ];

    // Holds expiring together later: 200 places held for one minute.
    let many = publish(&kenter_a, "many", update("kenter-crisis-haarlem", 200, 200)).await;
    let many_id = many.offerings[0].id.clone();
    let short_holds = futures::future::join_all((0..200).map(|i| {
        let mut capacity = crisis[i % 2].capacity();
        let request = hold(format!("short-{i}"), &many_id, 1);
        async move { capacity.hold_place(request).await }
    }))
    .await;
    assert!(
        short_holds.iter().all(|r| r.is_ok()),
        "200 places for 200 holds"
    );
    let expire_after = Instant::now() + Duration::from_secs(61);

    // 500 concurrent holds for 10 places over both processes: exactly 10.
    kenter_a
        .capacity()
        .upsert_location(pb::UpsertLocationRequest {
            location: Some(pb::Location {
                id: "kenter-proef".into(),
                name: "Kenter proeflocatie".into(),
                municipality_code: "GM0392".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let ten = publish(&kenter_a, "ten", update("kenter-proef", 10, 10)).await;
    let ten_id = ten.offerings[0].id.clone();
    let attempts = futures::future::join_all((0..500).map(|i| {
        let mut capacity = crisis[i % 2].capacity();
        let request = hold(format!("race-{i}"), &ten_id, 30);
        async move { capacity.hold_place(request).await }
    }))
    .await;
    let granted = attempts.iter().filter(|r| r.is_ok()).count();
    assert_eq!(granted, 10);
    for refused in attempts.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            refused.code(),
            tonic::Code::FailedPrecondition,
            "{refused:?}"
        );
    }

    // 200 publications on A reach a watch on B once each, in order.
    let mut watch = crisis[1]
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    let start = watch.next().await.unwrap().unwrap();
    assert!(start.stream_start);
    let mut published = Vec::new();
    for n in 0..200 {
        let done = publish(
            &kenter_a,
            &format!("p{n}"),
            update("kenter-crisis-haarlem", 200, 200 - n % 7),
        )
        .await;
        published.push(done.revision);
    }
    let mut seen = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while seen.last() != published.last() {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, watch.next())
            .await
            .expect("every publication arrives")
            .unwrap()
            .unwrap();
        if message.offerings.iter().any(|o| {
            o.key
                .as_ref()
                .is_some_and(|k| k.location_id == "kenter-crisis-haarlem")
        }) {
            seen.push(message.revision);
        }
    }
    let published_seen: Vec<u64> = seen
        .iter()
        .copied()
        .filter(|r| published.contains(r))
        .collect();
    assert_eq!(published_seen, published, "once each, in order");

    // A page token from A works on B.
    let page = crisis[0]
        .capacity()
        .search_places(pb::SearchPlacesRequest {
            include_unavailable: true,
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!page.next_page_token.is_empty());
    crisis[1]
        .capacity()
        .search_places(pb::SearchPlacesRequest {
            include_unavailable: true,
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("the other replica honours the token");

    // A consultation filed on A reaches a consultation watch on B.
    let mut ret_on_b = on(&at_b, "ret-zkh-ijmond").await.consultations("S. Visser");
    let mut events = ret_on_b
        .watch_consultations(pb::WatchConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(events.next().await.unwrap().unwrap().stream_start);
    let filed = crisis[0]
        .consultations("J. de Vries")
        .file_consultation(pb::FileConsultationRequest {
            request_id: "across".into(),
            addressee_id: "ret-zkh-ijmond".into(),
            case_reference: "CASE-ACROSS".into(),
            age_years: 15,
            municipality_code: "GM0392".into(),
            problem_domains: vec![pb::ProblemDomain::MentalHealth as i32],
            question_type: pb::QuestionType::Advice as i32,
            urgency: pb::Urgency::Urgent as i32,
            question: "Welke vervolgstap?".into(),
            consent_recorded: true,
        })
        .await
        .unwrap()
        .into_inner()
        .consultation
        .unwrap();
    let event = tokio::time::timeout(PATIENCE, async {
        loop {
            let event = events.next().await.unwrap().unwrap();
            if event.consultation_id == filed.id {
                return event;
            }
        }
    })
    .await
    .expect("the filing reaches the other replica's watch");
    assert_eq!(event.kind, pb::ConsultationEventKind::Filed as i32);

    // The 200 short holds expire together; both processes sweep.
    tokio::time::sleep(expire_after.saturating_duration_since(Instant::now())).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let active = crisis[0]
            .capacity()
            .list_holds(pb::ListHoldsRequest {
                states: vec![pb::HoldState::Active as i32],
                page_size: 500,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .holds
            .iter()
            .filter(|h| h.offering_id == many_id)
            .count();
        let db = Database::connect(&url).await.unwrap();
        let unswept = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT count(*) FROM holds WHERE offering_id = '{many_id}' AND ended_at_ms IS NULL"
                ),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        db.close().await.unwrap();
        if active == 0 && unswept == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the holds were not swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every revision ever taken has change-log rows: none is empty.
    let db = Database::connect(&url).await.unwrap();
    let backend = db.get_database_backend();
    let meta = |key: &'static str| {
        let db = &db;
        async move {
            db.query_one_raw(Statement::from_string(
                backend,
                format!("SELECT value FROM registry_meta WHERE key = '{key}'"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
        }
    };
    let latest = meta("revision").await;
    // Revisions older than the retention (the demo's weeks of history)
    // have left the log; the rest must all be there.
    let kept_after = meta("log_starts_after").await;
    let logged: std::collections::BTreeSet<i64> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT DISTINCT revision FROM capacity_events".to_owned(),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0).unwrap())
        .collect();
    db.close().await.unwrap();
    let empty: Vec<i64> = (kept_after + 1..=latest)
        .filter(|r| !logged.contains(r))
        .collect();
    // 200 holds, 10 grants, 202 publications and at least one sweep.
    assert!(
        latest - kept_after >= 413,
        "the test's own revisions are checked: {kept_after}..{latest}"
    );
    assert!(empty.is_empty(), "revisions without a change: {empty:?}");

    stop(a).await;
    stop(b).await;
    if let Some((server, name)) = postgres {
        let admin = Database::connect(&server).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
