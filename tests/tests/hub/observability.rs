//! What an operator sees: every call answered with its request id (also
//! inside every error's `ErrorInfo`), and the metrics on the admin port as
//! OpenMetrics text that an independent parser (`openmetrics-parser`,
//! from crates.io) reads, with the instruments moving as calls are
//! made and no case content in any label.

use spil_tests::fixtures::*;
use spil_tests::{TestHub, default_backend, pb};
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;
use tonic_types::StatusExt;

/// One sample of a scrape: name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Scrapes `/metrics` over plain HTTP/1.1 (hyper's client) and parses it
/// with `openmetrics-parser`, a strict parser written against the
/// OpenMetrics specification's test cases by someone outside this project;
/// returns the content type and the text too. Samples are flattened the
/// way Prometheus names them (`_total`, `_bucket` with `le`, `_count`, `_sum`).
async fn scrape(hub: &TestHub) -> (String, String, Vec<Sample>) {
    use http_body_util::BodyExt;
    let admin = hub.hub().admin_addr().expect("an admin port");
    let stream = tokio::net::TcpStream::connect(admin).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = hyper::Request::get(format!("http://{admin}/metrics"))
        .header("host", admin.to_string())
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&body)
        .unwrap_or_else(|error| panic!("the scrape is not valid OpenMetrics: {error:?}\n{body}"));
    (content_type, body, flatten(exposition))
}

fn flatten(
    exposition: openmetrics_parser::MetricsExposition<
        openmetrics_parser::OpenMetricsType,
        openmetrics_parser::OpenMetricsValue,
    >,
) -> Vec<Sample> {
    use openmetrics_parser::OpenMetricsValue as V;
    let mut samples = Vec::new();
    for (name, family) in exposition.families {
        for sample in family.iter_samples() {
            let labels: HashMap<String, String> = sample
                .get_labelset()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut push = |suffix: &str, extra: Option<(&str, String)>, value: f64| {
                let mut labels = labels.clone();
                if let Some((k, v)) = extra {
                    labels.insert(k.to_owned(), v);
                }
                samples.push((format!("{name}{suffix}"), labels, value));
            };
            match &sample.value {
                V::Unknown(n) | V::Gauge(n) | V::StateSet(n) => push("", None, n.as_f64()),
                V::Counter(c) => push("_total", None, c.value.as_f64()),
                V::Histogram(h) | V::GaugeHistogram(h) => {
                    for bucket in &h.buckets {
                        let le = if bucket.upper_bound.is_infinite() {
                            "+Inf".to_owned()
                        } else {
                            bucket.upper_bound.to_string()
                        };
                        push("_bucket", Some(("le", le)), bucket.count.as_f64());
                    }
                    if let Some(count) = h.count {
                        push("_count", None, count as f64);
                    }
                    if let Some(sum) = &h.sum {
                        push("_sum", None, sum.as_f64());
                    }
                }
                V::Summary(s) => {
                    push("_count", None, s.count.map_or(0.0, |c| c as f64));
                    if let Some(sum) = &s.sum {
                        push("_sum", None, sum.as_f64());
                    }
                }
                V::Info => push("_info", None, 1.0),
            }
        }
    }
    samples
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
