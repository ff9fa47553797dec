//! Stopping the real binary as Kubernetes does: SIGTERM, health goes
//! NOT_SERVING while the hub drains, watches end with where to resume, and
//! the process exits 0 in time; also as PID 1 of its own PID namespace.

mod common;

use common::client;
use spil_client::pb;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const DRAIN: Duration = Duration::from_millis(1500);
const GRACE: Duration = Duration::from_millis(2000);

/// `spil-hub demo` with an admin port and short stop timings, optionally
/// under `unshare --pid --fork` so that it runs as PID 1. Returns the child,
/// the hub's own pid, and its mTLS and admin addresses.
async fn start(dir: &Path, as_pid_one: bool) -> (Child, u32, String, String) {
    let hub = env!("CARGO_BIN_EXE_spil-hub");
    let mut command = if as_pid_one {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", hub]);
        c
    } else {
        Command::new(hub)
    };
    let mut child = command
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .env("SPIL_ADMIN_ADDR", "127.0.0.1:0")
        .env("SPIL_SHUTDOWN_DRAIN_MS", DRAIN.as_millis().to_string())
        .env("SPIL_SHUTDOWN_GRACE_MS", GRACE.as_millis().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spil-hub starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (address, admin) = tokio::time::timeout(Duration::from_secs(60), async {
        let (mut address, mut admin) = (None, None);
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(a) = line.strip_prefix("spil-hub listening on ") {
                address = Some(a.to_owned());
            }
            if let Some(a) = line.strip_prefix("spil-hub admin on ") {
                admin = Some(a.to_owned());
            }
            if let (Some(address), Some(admin)) = (&address, &admin) {
                return (address.clone(), admin.clone());
            }
        }
        panic!("spil-hub exited before listening");
    })
    .await
    .expect("spil-hub listens within a minute");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let outer = child.id().expect("a running child");
    // Under unshare the hub is unshare's only child.
    let pid = if as_pid_one {
        let children = std::fs::read_to_string(format!("/proc/{outer}/task/{outer}/children"))
            .expect("unshare's children");
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the hub under unshare")
    } else {
        outer
    };
    let port = address.rsplit(':').next().unwrap();
    (child, pid, format!("https://localhost:{port}"), admin)
}

async fn overall_health(admin: &str) -> Option<ServingStatus> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{admin}"))
        .unwrap()
        .connect()
        .await
        .ok()?;
    let response = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

async fn stops_gracefully(as_pid_one: bool) {
    let dir = std::env::temp_dir().join(format!("spil-stop-{}", uuid::Uuid::new_v4()));
    let (mut child, pid, address, admin) = start(&dir, as_pid_one).await;
    assert_eq!(overall_health(&admin).await, Some(ServingStatus::Serving));
    let crisis = client(&dir, &address, "crisisdienst-zkh").await;
    let mut watch = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    let start = watch.message().await.unwrap().unwrap();
    assert!(start.stream_start);

    let signalled = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // During the drain: NOT_SERVING, yet calls are still answered.
    let mut status = None;
    while signalled.elapsed() < DRAIN {
        status = overall_health(&admin).await;
        if status == Some(ServingStatus::NotServing) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(ServingStatus::NotServing));
    assert!(
        signalled.elapsed() < DRAIN,
        "NOT_SERVING came within the drain"
    );
    crisis
        .directory()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect("still serving while draining");

    // The demo's own housekeeping may change something meanwhile: the
    // stream ends with the last revision it delivered as the resume point.
    let mut last = start.revision;
    let ended = tokio::time::timeout(DRAIN + GRACE, async {
        loop {
            match watch.message().await {
                Ok(Some(message)) => last = message.revision,
                Ok(None) => panic!("the watch ended without a status"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the watch ends");
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    assert_eq!(spil_client::resume_revision(&ended), Some(last));

    let exited = tokio::time::timeout(DRAIN + GRACE + Duration::from_secs(1), child.wait())
        .await
        .expect("the hub exits within drain + grace + 1 s")
        .unwrap();
    assert!(exited.success(), "{exited:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigterm_drains_ends_watches_with_a_resume_point_and_exits_zero() {
    stops_gracefully(false).await;
}

#[tokio::test]
async fn as_pid_one_sigterm_is_handled_the_same() {
    stops_gracefully(true).await;
}
