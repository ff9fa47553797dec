//! Prometheus metrics: one registry for the process, served as text on the
//! admin port (`/metrics`). Labels name methods, codes, operations, kinds
//! and organisations, never case content, persons or children's
//! municipalities.

use prometheus_client::encoding::EncodeLabelSet;
pub mod otlp;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub method: String,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrganisationLabels {
    pub organisation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlaceTypeLabels {
    pub place_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.1 ms to about 13 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// Lag buckets: 0, then 1 to 4,096 revisions behind.
fn lag() -> Histogram {
    Histogram::new(std::iter::once(0.0).chain(exponential_buckets(1.0, 2.0, 13)))
}

/// The hub's instruments.
pub struct Metrics {
    registry: Registry,
    /// Every family's name, prefix included (`spil_calls`).
    names: Vec<String>,
    /// Calls by method and gRPC status code (streams: the code they opened with).
    pub calls: Family<CallLabels, Counter>,
    /// Time to the response head by method (a stream: until it opened).
    pub call_seconds: HistogramFamily<MethodLabels>,
    pub calls_in_flight: Gauge,
    /// Calls refused for load, by the refusal's `ErrorInfo` reason.
    pub refusals: Family<ReasonLabels, Counter>,
    /// Calls per organisation, refused ones included: who is calling how much.
    pub organisation_calls: Family<OrganisationLabels, Counter>,
    pub store_seconds: HistogramFamily<OperationLabels>,
    /// Registry writes committed together by one group commit.
    pub group_commit_batch: Histogram,
    pub watch_streams: Family<KindLabels, Gauge>,
    /// Messages sent on watch streams, by kind.
    pub watch_deliveries: Family<KindLabels, Counter>,
    /// How far behind the newest committed revision a watch stream was when
    /// it sent a message: 0 is a stream keeping up.
    pub watch_lag_revisions: HistogramFamily<KindLabels>,
    /// Hold decisions and transitions: granted, refused, confirmed, released, expired.
    pub holds: Family<OutcomeLabels, Counter>,
    /// Offering updates published.
    pub publications: Counter,
    pub audit_records: Counter,
    /// TLS file reloads by result (ok, failed).
    pub tls_reloads: Family<OutcomeLabels, Counter>,
    /// Unix time of the CRLs' earliest `nextUpdate`.
    pub crl_next_update: Gauge<f64, AtomicU64>,
    /// Unix time the server certificate expires.
    pub server_certificate_expiry: Gauge<f64, AtomicU64>,
    /// Searches that found no free place (unmet-demand signals recorded).
    pub unmet_demand_signals: Counter,
    /// Times the search view was loaded whole from the database.
    pub view_snapshot_reloads: Counter,
    /// Offerings whose publication is too old to show as free, by place type.
    pub stale_offerings: Family<PlaceTypeLabels, Gauge>,
    /// Every offering in the registry, by place type.
    pub offerings: Family<PlaceTypeLabels, Gauge>,
    /// 1 while this replica reports itself ready (`spil.ready`), else 0.
    pub ready: Gauge,
    /// Consultations by state.
    pub consultations: Family<StateLabels, Gauge>,
    /// Submitted consultations past their answer deadline.
    pub overdue_consultations: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut metrics = Self {
            calls: Family::default(),
            call_seconds: Family::new_with_constructor(latency),
            calls_in_flight: Gauge::default(),
            refusals: Family::default(),
            organisation_calls: Family::default(),
            store_seconds: Family::new_with_constructor(latency),
            group_commit_batch: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            watch_streams: Family::default(),
            watch_deliveries: Family::default(),
            watch_lag_revisions: Family::new_with_constructor(lag),
            holds: Family::default(),
            publications: Counter::default(),
            audit_records: Counter::default(),
            tls_reloads: Family::default(),
            crl_next_update: Gauge::default(),
            server_certificate_expiry: Gauge::default(),
            unmet_demand_signals: Counter::default(),
            view_snapshot_reloads: Counter::default(),
            stale_offerings: Family::default(),
            offerings: Family::default(),
            ready: Gauge::default(),
            consultations: Family::default(),
            overdue_consultations: Gauge::default(),
            registry: Registry::default(),
            names: Vec::new(),
        };
        let mut exported = Exported {
            registry: Registry::with_prefix("spil"),
            names: Vec::new(),
        };
        metrics.export_calls(&mut exported);
        metrics.export_registry(&mut exported);
        metrics.registry = exported.registry;
        metrics.names = exported.names;
        metrics
    }

    /// The instruments of calls, the store and the watch streams.
    fn export_calls(&self, exported: &mut Exported) {
        exported.add(
            "calls",
            "gRPC calls by method and status code",
            self.calls.clone(),
        );
        exported.add(
            "call_seconds",
            "Time to the response head by method",
            self.call_seconds.clone(),
        );
        exported.add(
            "calls_in_flight",
            "Calls being served",
            self.calls_in_flight.clone(),
        );
        exported.add(
            "refusals",
            "Calls refused for load, by reason",
            self.refusals.clone(),
        );
        exported.add(
            "organisation_calls",
            "Calls per organisation, refused ones included",
            self.organisation_calls.clone(),
        );
        exported.add(
            "store_operation_seconds",
            "Store operations by name",
            self.store_seconds.clone(),
        );
        exported.add(
            "group_commit_batch",
            "Registry writes committed by one group commit",
            self.group_commit_batch.clone(),
        );
        exported.add(
            "watch_streams_open",
            "Open watch streams by kind",
            self.watch_streams.clone(),
        );
        exported.add(
            "watch_deliveries",
            "Messages sent on watch streams by kind",
            self.watch_deliveries.clone(),
        );
        exported.add(
            "watch_lag_revisions",
            "Revisions between the newest committed one and the one a watch stream sent, by kind",
            self.watch_lag_revisions.clone(),
        );
    }

    /// The instruments of what the registry holds and does.
    fn export_registry(&self, exported: &mut Exported) {
        exported.add(
            "holds",
            "Hold decisions and transitions by outcome",
            self.holds.clone(),
        );
        exported.add(
            "publications",
            "Offering updates published",
            self.publications.clone(),
        );
        exported.add(
            "audit_records",
            "Audit records written",
            self.audit_records.clone(),
        );
        exported.add(
            "tls_reloads",
            "TLS file reloads by outcome",
            self.tls_reloads.clone(),
        );
        exported.add(
            "crl_next_update_timestamp_seconds",
            "When the earliest client CRL must be replaced (Unix time)",
            self.crl_next_update.clone(),
        );
        exported.add(
            "server_certificate_expiry_timestamp_seconds",
            "When the server certificate expires (Unix time)",
            self.server_certificate_expiry.clone(),
        );
        exported.add(
            "unmet_demand_signals",
            "Searches that found no free place",
            self.unmet_demand_signals.clone(),
        );
        exported.add(
            "view_snapshot_reloads",
            "Times the search view was loaded whole from the database",
            self.view_snapshot_reloads.clone(),
        );
        exported.add("stale_offerings", "Offerings whose publication is too old to show as free, by place type (registry-wide; every replica reports it)", self.stale_offerings.clone());
        exported.add(
            "offerings",
            "Offerings in the registry by place type (registry-wide; every replica reports it)",
            self.offerings.clone(),
        );
        exported.add(
            "ready",
            "1 while this replica reports itself ready (spil.ready), else 0",
            self.ready.clone(),
        );
        exported.add(
            "consultations",
            "Consultations by state (registry-wide; every replica reports it)",
            self.consultations.clone(),
        );
        exported.add(
            "overdue_consultations",
            "Submitted consultations past their answer deadline (registry-wide)",
            self.overdue_consultations.clone(),
        );
    }

    /// Every family's name as exported (`spil_calls`; counters add `_total`).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The OpenMetrics text of every instrument.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// Registers `metric` as `spil_<name>` and remembers the name.
/// The registry being filled, and the names it exports.
struct Exported {
    registry: Registry,
    names: Vec<String>,
}

impl Exported {
    fn add(&mut self, name: &str, help: &str, metric: impl prometheus_client::registry::Metric) {
        self.names.push(format!("spil_{name}"));
        self.registry.register(name, help, metric);
    }
}

/// The process's instruments.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Counts one hold outcome.
pub fn hold(outcome: &'static str) {
    metrics()
        .holds
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
}

/// Counts one message sent on a watch stream of `kind`, which sent
/// `revision` when `newest` was the newest committed revision.
pub fn watch_delivery(kind: &'static str, revision: u64, newest: u64) {
    let labels = KindLabels { kind };
    let metrics = metrics();
    metrics.watch_deliveries.get_or_create(&labels).inc();
    metrics
        .watch_lag_revisions
        .get_or_create(&labels)
        .observe(newest.saturating_sub(revision) as f64);
}

/// `CrisisBed` → `crisis_bed`: a label value from a type's name.
pub fn snake_case(name: &str) -> String {
    let mut snake = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alert rules and the dashboard name only instruments the hub has:
    /// a renamed metric would otherwise leave an alert that never fires.
    #[test]
    fn every_metric_the_alerts_and_dashboard_name_exists() {
        let families: Vec<&str> = metrics().names().iter().map(String::as_str).collect();
        let monitoring = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/monitoring");
        let mut named = 0;
        for file in ["alerts.yaml", "dashboard.json"] {
            let source = std::fs::read_to_string(format!("{monitoring}/{file}")).unwrap();
            for (at, _) in source.match_indices("spil_") {
                let name: String = source[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                let family = ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name);
                assert!(
                    families.contains(&family),
                    "{file} names {name}, which the hub does not export"
                );
                named += 1;
            }
        }
        assert!(named > 20, "only {named} metric names found");
    }

    #[test]
    fn label_values_are_snake_case() {
        assert_eq!(snake_case("CrisisBed"), "crisis_bed");
        assert_eq!(snake_case("FosterCare"), "foster_care");
        assert_eq!(snake_case("Open"), "open");
    }
}
