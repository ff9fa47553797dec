//! The log as a collector reads it: with `log_format = "json"` every line
//! the real binary writes is one JSON object, and every call has an access
//! line with its method, code, duration, organisation and request id.

mod common;

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn json_logs_have_an_access_line_per_call() {
    let dir = std::env::temp_dir().join(format!("spil-logs-{}", uuid::Uuid::new_v4()));
    let (mut hub, address) =
        common::start_demo_with(&dir, &[("SPIL_LOG_FORMAT", "json")], Stdio::piped()).await;
    let mut lines = BufReader::new(hub.stderr.take().unwrap()).lines();
    let crisis = common::client(&dir, &address, "crisisdienst-zkh").await;
    let mut request = tonic::Request::new(spil_client::pb::SearchPlacesRequest {
        child_age: Some(15),
        child_municipality_code: "GM0392".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", "log-test-1".parse().unwrap());
    let answered = crisis.capacity().search_places(request).await.unwrap();
    assert_eq!(
        answered.metadata().get("x-request-id").unwrap(),
        "log-test-1"
    );

    let access = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let record: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
            if record["request_id"] == "log-test-1" && record["method"].is_string() {
                return record;
            }
        }
        panic!("the hub's log ended without the call's access line");
    })
    .await
    .expect("an access line within 30 s");
    assert_eq!(access["method"], "/spil.v1.CapacityRegistry/SearchPlaces");
    assert_eq!(access["code"], "OK");
    assert_eq!(access["organisation"], "crisisdienst-zkh");
    assert!(
        access["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{access}"
    );
    assert!(
        access["level"].is_string() && access["timestamp"].is_string(),
        "{access}"
    );
    // No case content: the access line has no request fields.
    assert!(!access.to_string().contains("GM0392"), "{access}");
    hub.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
