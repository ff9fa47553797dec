//! Traces and metrics as an OpenTelemetry collector receives them: the real
//! binary exports over OTLP to a receiver in this test (the OTLP protocol's
//! own generated services), continues the caller's W3C `traceparent`, names
//! the method, code and organisation on the call's span, nests the store
//! operation under it, pushes the same instruments `/metrics` serves, and
//! flushes what it has when it stops.

mod common;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Keeps every metric it is pushed.
#[derive(Clone, Default)]
struct MetricsReceiver(Arc<Mutex<Vec<Metric>>>);

#[tonic::async_trait]
impl MetricsService for MetricsReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let metrics = request
            .into_inner()
            .resource_metrics
            .into_iter()
            .flat_map(|r| r.scope_metrics)
            .flat_map(|s| s.metrics);
        self.0.lock().unwrap().extend(metrics);
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone()?.value)
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[tokio::test]
async fn a_call_continues_the_callers_trace_down_to_the_store() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_addr = listener.local_addr().unwrap();
    let received = Receiver::default();
    let pushed = MetricsReceiver::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(received.clone()))
        .add_service(MetricsServiceServer::new(pushed.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    let dir = std::env::temp_dir().join(format!("spil-tracing-{}", uuid::Uuid::new_v4()));
    let endpoint = format!("http://{receiver_addr}");
    let (mut hub, address) = common::start_demo_with(
        &dir,
        &[
            ("SPIL_OTLP_ENDPOINT", endpoint.as_str()),
            ("SPIL_SHUTDOWN_DRAIN_MS", "0"),
        ],
        Stdio::null(),
    )
    .await;
    let kenter = common::client(&dir, &address, "kenter").await;
    let mut request = tonic::Request::new(spil_client::pb::UpsertLocationRequest {
        location: Some(spil_client::pb::Location {
            id: "kenter-traced".into(),
            name: "Kenter, traced".into(),
            municipality_code: "GM0392".into(),
            ..Default::default()
        }),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-{PARENT_ID}-01").parse().unwrap(),
    );
    kenter.capacity().upsert_location(request).await.unwrap();

    // Stopping flushes the batch of spans not yet exported.
    let pid = hub.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exited = tokio::time::timeout(Duration::from_secs(30), hub.wait())
        .await
        .expect("the hub stops")
        .unwrap();
    assert!(exited.success(), "{exited:?}");

    let spans = received.0.lock().unwrap().clone();
    let ours: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == TRACE_ID)
        .collect();
    let call = ours
        .iter()
        .find(|s| s.name == "spil.v1.CapacityRegistry/UpsertLocation")
        .unwrap_or_else(|| panic!("no span for the call among {ours:?}"));
    assert_eq!(
        hex(&call.parent_span_id),
        PARENT_ID,
        "the caller's span is the parent"
    );
    assert_eq!(
        attribute(call, "rpc.method"),
        Some(Value::StringValue("UpsertLocation".into()))
    );
    assert_eq!(
        attribute(call, "spil.organisation"),
        Some(Value::StringValue("kenter".into()))
    );
    assert_eq!(
        attribute(call, "rpc.grpc.status_code"),
        Some(Value::IntValue(0))
    );
    let store = ours
        .iter()
        .find(|s| s.name == "upsert_location")
        .unwrap_or_else(|| panic!("no store span among {ours:?}"));
    assert_eq!(
        store.parent_span_id, call.span_id,
        "the store works inside the call"
    );
    // The span says who called what, never the request's content.
    let everything = format!("{ours:?}");
    assert!(!everything.contains("GM0392") && !everything.contains("Kenter, traced"));

    // The metrics, pushed at the latest on stop: the call was counted and timed.
    let metrics = pushed.0.lock().unwrap().clone();
    let method = Value::StringValue("/spil.v1.CapacityRegistry/UpsertLocation".into());
    let calls = metrics
        .iter()
        .rev()
        .find(|m| m.name == "spil_calls")
        .unwrap_or_else(|| panic!("no spil_calls among {} metrics", metrics.len()));
    let Some(metric::Data::Sum(calls)) = &calls.data else {
        panic!("spil_calls is a sum: {calls:?}");
    };
    assert!(calls.is_monotonic);
    assert!(calls.data_points.iter().any(|p| {
        p.attributes.iter().any(|kv| {
            kv.key == "method" && kv.value.clone().and_then(|v| v.value) == Some(method.clone())
        })
    }));
    let latency = metrics
        .iter()
        .rev()
        .find(|m| m.name == "spil_call_seconds")
        .expect("the latency histogram is pushed");
    let Some(metric::Data::Histogram(latency)) = &latency.data else {
        panic!("spil_call_seconds is a histogram: {latency:?}");
    };
    assert!(
        latency
            .data_points
            .iter()
            .any(|p| p.count >= 1 && !p.bucket_counts.is_empty())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
