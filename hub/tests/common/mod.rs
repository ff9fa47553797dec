//! The real `spil-hub demo` binary on a free port, and clients of it.

#![allow(dead_code)] // each test binary uses a part

use spil_client::{Identity, SpilClient};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `spil-hub demo` on a free port and returns it with its address.
pub async fn start_demo(dir: &Path) -> (Child, String) {
    start_demo_with(dir, &[], Stdio::null()).await
}

/// The same with `SPIL_…` settings, and its log (stderr) where `stderr` says.
pub async fn start_demo_with(
    dir: &Path,
    settings: &[(&str, &str)],
    stderr: Stdio,
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spil-hub"))
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("spil-hub starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("spil-hub listening on ") {
                return addr.to_owned();
            }
        }
        panic!("spil-hub exited before listening");
    })
    .await
    .expect("spil-hub listens within a minute");
    // Keep draining stdout so the hub never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let port = address.rsplit(':').next().unwrap();
    (child, format!("https://localhost:{port}"))
}

pub async fn client(dir: &Path, hub: &str, org: &str) -> SpilClient {
    let pki = dir.join("pki");
    let ca = std::fs::read_to_string(pki.join("server-ca.pem")).unwrap();
    let identity = Identity::from_files(
        pki.join("orgs").join(format!("{org}.pem")),
        pki.join("orgs").join(format!("{org}-key.pem")),
    )
    .unwrap();
    SpilClient::connect(hub, &ca, Some(identity)).await.unwrap()
}
