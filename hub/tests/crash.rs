//! Durability of the real binary: what the hub acknowledged survives `kill -9`.

use spil_client::{Identity, SpilClient, pb};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `spil-hub demo` on a free port and returns it with its address.
async fn start_demo(dir: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spil-hub"))
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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

async fn client(dir: &Path, hub: &str, org: &str) -> SpilClient {
    let pki = dir.join("pki");
    let ca = std::fs::read_to_string(pki.join("server-ca.pem")).unwrap();
    let identity = Identity::from_files(
        pki.join("orgs").join(format!("{org}.pem")),
        pki.join("orgs").join(format!("{org}-key.pem")),
    )
    .unwrap();
    SpilClient::connect(hub, &ca, Some(identity)).await.unwrap()
}

fn crisis_bed_update(free: u32) -> pb::OfferingUpdate {
    pb::OfferingUpdate {
        key: Some(pb::OfferingKey {
            location_id: "kenter-crisis-haarlem".into(),
            place_type: pb::PlaceType::CrisisBed as i32,
            care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
            age_band: Some(pb::AgeBand {
                min_age: 4,
                max_age: 11,
            }),
            gender_policy: pb::GenderPolicy::Any as i32,
            security_level: pb::SecurityLevel::Open as i32,
        }),
        intake: pb::Intake::AroundTheClock as i32,
        lead_time_days: 0,
        total_places: 6,
        free_places: free,
        waiting_days: 0,
        observed_at: None,
    }
}

#[tokio::test]
async fn acknowledged_publications_and_holds_survive_kill_minus_nine() {
    let dir = std::env::temp_dir().join(format!("spil-crash-{}", uuid::Uuid::new_v4()));
    let (mut hub, address) = start_demo(&dir).await;
    let provider = client(&dir, &address, "kenter").await;
    let crisis = client(&dir, &address, "crisisdienst-zkh").await;

    let publish = pb::PublishCapacityRequest {
        request_id: "before-the-crash".into(),
        updates: vec![crisis_bed_update(5)],
    };
    let published = provider
        .capacity()
        .publish_capacity(publish.clone())
        .await
        .unwrap()
        .into_inner();
    let offering = published.offerings[0].id.clone();
    let hold = crisis
        .capacity()
        .hold_place(pb::HoldPlaceRequest {
            request_id: "hold-before-the-crash".into(),
            offering_id: offering.clone(),
            child_municipality_code: "GM0392".into(),
            duration: None,
        })
        .await
        .unwrap()
        .into_inner()
        .hold
        .unwrap();

    hub.start_kill().unwrap(); // SIGKILL: no shutdown, no flush beyond what commit did
    hub.wait().await.unwrap();

    let (_hub, address) = start_demo(&dir).await;
    let provider = client(&dir, &address, "kenter").await;
    let crisis = client(&dir, &address, "crisisdienst-zkh").await;
    let holds = crisis
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        holds.holds.iter().any(|h| h.id == hold.id),
        "the acknowledged hold was lost"
    );
    let again = provider
        .capacity()
        .publish_capacity(publish)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.revision, published.revision,
        "the publication was applied again or lost"
    );
    let offering = &again.offerings[0];
    assert_eq!(
        (
            offering.published_free_places,
            offering.held_places,
            offering.available_places
        ),
        (5, 1, 4)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
