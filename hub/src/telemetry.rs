//! Logs and traces: structured `tracing` output on stderr, as text or as
//! one JSON object a line, filtered by `RUST_LOG` (default: info for the
//! hub, warnings for its dependencies); and, when an OTLP endpoint is
//! configured, the same spans exported as OpenTelemetry traces that
//! continue the caller's W3C `traceparent`, and the metrics pushed there too.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people at a terminal.
    #[default]
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

/// How often the metrics are pushed over OTLP.
pub const METRICS_PUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

/// Telemetry in force; [`Telemetry::shutdown`] flushes the spans not yet
/// exported and pushes the metrics a last time.
#[must_use = "shut telemetry down on stop, or the last spans are lost"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
    metrics: Option<(
        tokio_util::sync::CancellationToken,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Telemetry {
    pub async fn shutdown(self) {
        if let Some((stop, pushing)) = self.metrics {
            stop.cancel();
            let _ = pushing.await;
        }
        if let Some(traces) = self.traces
            && let Err(error) = traces.shutdown()
        {
            tracing::warn!(%error, "failed to flush traces");
        }
    }
}

/// Sets up logging, and trace and metric export to `otlp_endpoint` (OTLP
/// over gRPC; metrics every `metrics_interval`) when there is one, once,
/// after the configuration is read. Later calls (tests starting several
/// hubs) keep the first subscriber.
pub fn init(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
    metrics_interval: std::time::Duration,
) -> anyhow::Result<Telemetry> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,spil_hub=info"));
    let log = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let traces = match otlp_endpoint {
        None => None,
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|error| anyhow::anyhow!("failed to set up OTLP export: {error}"))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(
                        opentelemetry_sdk::Resource::builder()
                            .with_service_name("spil-hub")
                            .build(),
                    )
                    .build(),
            )
        }
    };
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let export = traces
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("spil-hub")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(log)
        .with(export)
        .try_init();
    let metrics = otlp_endpoint.map(|endpoint| {
        let stop = tokio_util::sync::CancellationToken::new();
        let pushing = tokio::spawn(crate::metrics::otlp::push(
            endpoint.to_owned(),
            metrics_interval,
            stop.clone(),
        ));
        (stop, pushing)
    });
    Ok(Telemetry { traces, metrics })
}

/// Reads W3C trace context from request headers.
pub struct HeaderExtractor<'a>(pub &'a tonic::codegen::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
