//! What an operator sees: every call answered with its request id (also
//! inside every error's `ErrorInfo`), and the metrics on the admin port as
//! OpenMetrics text that an independent parser (Python's
//! `prometheus_client`) reads, with the instruments moving as calls are
//! made and no case content in any label.

use spil_tests::fixtures::*;
use spil_tests::{TestHub, default_backend, pb};
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

/// One sample of a scrape: name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Scrapes `/metrics` with curl over plain HTTP/1.1 and parses it with the
/// Prometheus project's own Python parser; returns the content type and
/// the text too. The hub runs on the test's runtime, so the scrape waits
/// on a thread of its own.
async fn scrape(hub: &TestHub) -> (String, String, Vec<Sample>) {
    let admin = hub.hub().admin_addr().expect("an admin port");
    tokio::task::spawn_blocking(move || scrape_blocking(admin))
        .await
        .unwrap()
}

fn scrape_blocking(admin: std::net::SocketAddr) -> (String, String, Vec<Sample>) {
    let output = std::process::Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--http1.1",
            "--dump-header",
            "-",
        ])
        .arg(format!("http://{admin}/metrics"))
        .output()
        .expect("curl runs");
    assert!(output.status.success(), "{output:?}");
    let response = String::from_utf8(output.stdout).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("headers, then the body");
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .expect("a content type");
    let parser = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
             samples = [[s.name, s.labels, s.value]\n\
                        for family in text_string_to_metric_families(sys.stdin.read())\n\
                        for s in family.samples]\n\
             print(json.dumps(samples))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    parser
        .stdin
        .as_ref()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let parsed = parser.wait_with_output().unwrap();
    assert!(
        parsed.status.success(),
        "the scrape is not valid OpenMetrics: {}\n{body}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let samples: Vec<Sample> = serde_json::from_slice(&parsed.stdout).unwrap();
    (content_type, body.to_owned(), samples)
}

/// The value of the sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .sum()
}

#[tokio::test]
async fn every_answer_carries_its_request_id_and_every_error_names_it_in_error_info() {
    let hub = TestHub::spawn().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;

    let mut request = tonic::Request::new(crisis_search());
    request
        .metadata_mut()
        .insert("x-request-id", "zoek-42".parse().unwrap());
    let found = crisis.capacity().search_places(request).await.unwrap();
    assert_eq!(found.metadata().get("x-request-id").unwrap(), "zoek-42");

    // Without one, the hub makes one.
    let found = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap();
    let made = found
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(made.len(), 36, "{made}");

    // Errors of every kind: one with its own reason, one without.
    let mut missing = tonic::Request::new(pb::ConfirmHoldRequest {
        hold_id: "no-such-hold".into(),
    });
    missing
        .metadata_mut()
        .insert("x-request-id", "bevestig-7".parse().unwrap());
    let status = crisis.capacity().confirm_hold(missing).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "bevestig-7");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "NOT_FOUND");
    assert_eq!(info.metadata.get("request_id").unwrap(), "bevestig-7");

    let invalid = crisis
        .capacity()
        .search_places(pb::SearchPlacesRequest {
            child_age: Some(24),
            ..crisis_search()
        })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument, "{invalid:?}");
    let request_id = invalid
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    let info = invalid.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata.get("request_id").unwrap(), request_id);
    assert!(
        invalid.get_details_bad_request().is_some(),
        "the field violations survive: {invalid:?}"
    );
}

#[tokio::test]
async fn the_metrics_follow_the_calls_and_name_no_child() {
    let hub = TestHub::spawn_with(default_backend(), |config| {
        config.admin_addr = Some("127.0.0.1:0".parse().unwrap());
        config.org_calls_per_second = 5;
        config.org_call_burst = 5;
    })
    .await;
    let (content_type, _, before) = scrape(&hub).await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let search = "/spil.v1.CapacityRegistry/SearchPlaces";

    let kenter = hub.kenter_with_location().await;
    let offering = crisis_bed_offering(&kenter, "kenter-haarlem", 2, 2).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut watch = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    hold_granted(&crisis, "hold-1", &offering).await;
    // The hold's change reaches the stream: one delivery, with its lag.
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), watch.message())
            .await
            .expect("the hold's change is watched")
            .unwrap()
            .expect("the stream stays open");
        if !message.snapshot && !message.stream_start {
            break;
        }
    }
    // A consultation whose case reference must appear in no label.
    crisis
        .consultations("J. de Vries")
        .file_consultation(consultation("metrics-1", "ret-zkh-ijmond"))
        .await
        .unwrap();
    // Over the share of 5 calls: some are refused.
    let mut refused = 0;
    for _ in 0..10 {
        if let Err(status) = crisis.capacity().search_places(crisis_search()).await {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            refused += 1;
        }
    }
    assert!(refused > 0);

    let (_, text, after) = scrape(&hub).await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(grew("spil_calls_total", &[("method", search), ("code", "OK")]) >= 1.0);
    assert!(
        grew(
            "spil_calls_total",
            &[("method", search), ("code", "RESOURCE_EXHAUSTED")]
        ) >= f64::from(refused)
    );
    assert!(grew("spil_call_seconds_count", &[("method", search)]) >= 1.0);
    assert!(
        grew(
            "spil_refusals_total",
            &[("reason", "ORGANISATION_RATE_LIMITED")]
        ) >= f64::from(refused)
    );
    assert!(
        grew(
            "spil_organisation_calls_total",
            &[("organisation", "crisisdienst-zkh")]
        ) >= 1.0
    );
    assert!(grew("spil_holds_total", &[("outcome", "granted")]) >= 1.0);
    assert!(grew("spil_publications_total", &[]) >= 1.0);
    assert!(
        grew(
            "spil_store_operation_seconds_count",
            &[("operation", "hold")]
        ) >= 1.0
    );
    assert!(value(&after, "spil_watch_streams_open", &[("kind", "capacity")]) >= 1.0);
    assert!(grew("spil_watch_deliveries_total", &[("kind", "capacity")]) >= 1.0);
    assert!(grew("spil_watch_lag_revisions_count", &[("kind", "capacity")]) >= 1.0);
    assert!(value(&after, "spil_group_commit_batch_count", &[]) >= 1.0);
    let now = spil_hub::clock::Clock::now(&spil_hub::clock::SystemClock).timestamp() as f64;
    assert!(
        value(
            &after,
            "spil_server_certificate_expiry_timestamp_seconds",
            &[]
        ) > now
    );
    assert!(value(&after, "spil_crl_next_update_timestamp_seconds", &[]) > now);
    // The registry's gauges are set from the first housekeeping round: every
    // place type and state has one, zeros included.
    assert!(
        after.iter().any(|(n, l, _)| n == "spil_stale_offerings"
            && l.get("place_type").map(String::as_str) == Some("crisis_bed")),
        "{text}"
    );
    assert!(
        after.iter().any(|(n, l, _)| n == "spil_consultations"
            && l.get("state").map(String::as_str) == Some("SUBMITTED")),
        "{text}"
    );
    assert!(
        after
            .iter()
            .any(|(n, _, _)| n == "spil_overdue_consultations")
    );
    // Labels carry methods, codes and organisations, never a child's municipality.
    for (_, labels, _) in &after {
        for value in labels.values() {
            assert!(
                value != "GM0392" && value != "CASE-metrics-1",
                "a label carries case content: {value}"
            );
        }
    }
    assert!(
        !text.contains("GM0392") && !text.contains("CASE-metrics-1"),
        "{text}"
    );
}
