//! The `spil` binary as a shell user runs it, against a real hub.

use spil_tests::TestHub;
use spil_tests::fixtures::{crisis_key, publish, update};
use std::process::Stdio;
use std::time::Duration;

/// `spil watch | head -1`: once `head` has its line and leaves, the next
/// write finds the pipe closed, and `spil` ends quietly with status 0.
#[tokio::test]
async fn a_command_into_a_closed_pipe_exits_quietly() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let identity = hub.identity("crisisdienst-zkh");
    let write = |name: &str, contents: &str| {
        let path = hub.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let ca = write("cli-ca.pem", &hub.server_ca_pem);
    let cert = write("cli-cert.pem", &identity.cert_pem);
    let key = write("cli-key.pem", &identity.key_pem);
    let stderr = hub.dir.join("cli-stderr.txt");

    let mut pipeline = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(r#"set -o pipefail; "$SPIL" watch 2>"$ERR" | head -1"#)
        .env("SPIL", env!("CARGO_BIN_EXE_spil"))
        .env("ERR", &stderr)
        .env("SPIL_HUB", hub.address())
        .env("SPIL_CA", &ca)
        .env("SPIL_CERT", &cert)
        .env("SPIL_KEY", &key)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Publish until the pipeline is over: the first change fills `head`'s
    // line, a later one meets the closed pipe.
    let mut n = 0;
    let status = loop {
        if let Some(status) = pipeline.try_wait().unwrap() {
            break status;
        }
        assert!(n < 200, "the pipeline did not end");
        n += 1;
        provider
            .capacity()
            .publish_capacity(publish(
                &format!("p{n}"),
                vec![update(crisis_key("kenter-haarlem"), 6, n % 6)],
            ))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = pipeline.wait_with_output().await.unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(printed.contains("kenter-haarlem"), "{printed}");
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read_to_string(&stderr).unwrap(), "");
}

/// `spil --as <provider> place watch --limit 1`: the provider's terminal
/// shows a placement request as it arrives, with its note, and ends.
#[tokio::test]
async fn a_provider_sees_a_placement_request_arrive_in_the_terminal() {
    use spil_tests::fixtures::{crisis_bed_offering, hold_granted};
    use spil_tests::pb;
    let hub = TestHub::spawn().await;
    let kenter = hub.kenter_with_location().await;
    let offering = crisis_bed_offering(&kenter, "kenter-haarlem", 2, 1).await;
    let identity = hub.identity("kenter");
    let write = |name: &str, contents: &str| {
        let path = hub.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let watcher = tokio::process::Command::new(env!("CARGO_BIN_EXE_spil"))
        .args(["place", "watch", "--limit", "1"])
        .env("SPIL_HUB", hub.address())
        .env("SPIL_CA", write("place-ca.pem", &hub.server_ca_pem))
        .env("SPIL_CERT", write("place-cert.pem", &identity.cert_pem))
        .env("SPIL_KEY", write("place-key.pem", &identity.key_pem))
        .env("SPIL_PERSON", "Nachtcoördinator")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The watch starts from now: ask once it is surely open.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let hold = hold_granted(&crisis, "terminal", &offering).await;
    crisis
        .placements("Sanne de Vries")
        .request_placement(pb::RequestPlacementRequest {
            request_id: "terminal".into(),
            hold_ids: vec![hold.id],
            case_reference: "CLI-WATCH-1".into(),
            age_years: 15,
            care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
            security_level: pb::SecurityLevel::Open as i32,
            urgency: pb::PlacementUrgency::Crisis as i32,
            note: "Geen medicatie.".into(),
            consent_recorded: true,
        })
        .await
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), watcher.wait_with_output())
        .await
        .expect("the watch ends after one change")
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("CLI-WATCH-1"), "{printed}");
    assert!(printed.contains("Geen medicatie."), "{printed}");
}
