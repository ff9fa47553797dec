//! The same instruments over OTLP: when an OTLP endpoint is configured, the
//! registry `/metrics` serves is pushed to it as OpenTelemetry metrics every
//! interval and once more on stop: counters as cumulative monotonic sums,
//! gauges as gauges, histograms with their buckets, labels as attributes.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Pushes the instruments to `endpoint` every `interval` until `stop`, then
/// once more. A failed push is logged and retried at the next interval.
pub async fn push(endpoint: String, interval: Duration, stop: CancellationToken) {
    let started = unix_nanos();
    let mut client: Option<MetricsServiceClient<tonic::transport::Channel>> = None;
    loop {
        let stopping = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep(interval) => false,
        };
        let request = request(&super::metrics().render(), started, unix_nanos());
        if client.is_none() {
            client = MetricsServiceClient::connect(endpoint.clone()).await.ok();
        }
        match client.as_mut() {
            Some(connected) => {
                if let Err(error) = connected.export(request).await {
                    tracing::warn!(%error, "failed to export metrics over OTLP");
                    client = None;
                }
            }
            None => tracing::warn!(%endpoint, "failed to reach the OTLP endpoint for metrics"),
        }
        if stopping {
            return;
        }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The kind of a metric family, from its `# TYPE` line.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A sample's labels, as (name, value) in order.
type Labels = Vec<(String, String)>;

/// One sample line: (name or suffix, labels, value).
type Sample = (String, Labels, f64);

/// One family as the text exposition has it.
struct Family {
    kind: Kind,
    help: String,
    /// (sample name suffix, labels, value) in order.
    samples: Vec<Sample>,
}

/// The OTLP request for one rendering of the registry (OpenMetrics text).
pub fn request(text: &str, started: u64, now: u64) -> ExportMetricsServiceRequest {
    let families = parse(text);
    let metrics = families
        .into_iter()
        .map(|(name, family)| convert(name, family, started, now))
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![attribute("service.name", "spil-hub")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "spil-hub".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| attribute(k, v)).collect()
}

fn parse(text: &str) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            let kind = match kind {
                "counter" => Kind::Counter,
                "histogram" => Kind::Histogram,
                _ => Kind::Gauge,
            };
            families
                .entry(name.to_owned())
                .or_insert_with(|| Family {
                    kind,
                    help: String::new(),
                    samples: Vec::new(),
                })
                .kind = kind;
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(family) = families.get_mut(name) {
                family.help = help.to_owned();
            } else {
                families.insert(
                    name.to_owned(),
                    Family {
                        kind: Kind::Gauge,
                        help: help.to_owned(),
                        samples: Vec::new(),
                    },
                );
            }
        } else if !line.starts_with('#')
            && !line.is_empty()
            && let Some((sample, labels, value)) = sample(line)
            && let Some((name, suffix)) = family_of(&families, &sample)
        {
            families
                .get_mut(&name)
                .expect("found above")
                .samples
                .push((suffix, labels, value));
        }
    }
    families
}

/// The family a sample belongs to (the longest family name it starts
/// with), and the sample's suffix (`_total`, `_bucket`, …).
fn family_of(families: &BTreeMap<String, Family>, sample: &str) -> Option<(String, String)> {
    families
        .keys()
        .filter(|name| sample.starts_with(name.as_str()))
        .max_by_key(|name| name.len())
        .map(|name| (name.clone(), sample[name.len()..].to_owned()))
}

/// `name{a="x",b="y"} 1.5` → (name, labels, value).
fn sample(line: &str) -> Option<Sample> {
    let (head, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    let Some((name, rest)) = head.split_once('{') else {
        return Some((head.to_owned(), Vec::new(), value));
    };
    let body = rest.strip_suffix('}')?;
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(escaped) => value.push(escaped),
                    None => return None,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').to_owned(), value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some((name.to_owned(), labels, value))
}

fn number(labels: &[(String, String)], value: f64, started: u64, now: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: started,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

fn convert(name: String, family: Family, started: u64, now: u64) -> Metric {
    let data = match family.kind {
        Kind::Counter => metric::Data::Sum(Sum {
            data_points: family
                .samples
                .iter()
                .filter(|(suffix, _, _)| suffix == "_total")
                .map(|(_, labels, value)| number(labels, *value, started, now))
                .collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        Kind::Gauge => metric::Data::Gauge(Gauge {
            data_points: family
                .samples
                .iter()
                .filter(|(suffix, _, _)| suffix.is_empty())
                .map(|(_, labels, value)| number(labels, *value, started, now))
                .collect(),
        }),
        Kind::Histogram => metric::Data::Histogram(Histogram {
            data_points: histogram_points(&family.samples, started, now),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
    };
    Metric {
        name,
        description: family.help,
        data: Some(data),
        ..Default::default()
    }
}

/// One data point per label set: OpenMetrics buckets are cumulative, OTLP's
/// count each bucket alone.
fn histogram_points(samples: &[Sample], started: u64, now: u64) -> Vec<HistogramDataPoint> {
    type Point = (Vec<(f64, f64)>, f64, f64);
    let mut points: BTreeMap<Labels, Point> = BTreeMap::new();
    for (suffix, labels, value) in samples {
        let mut key: Labels = labels.iter().filter(|(k, _)| k != "le").cloned().collect();
        key.sort();
        let point = points.entry(key).or_insert((Vec::new(), 0.0, 0.0));
        match suffix.as_str() {
            "_bucket" => {
                let le =
                    labels
                        .iter()
                        .find(|(k, _)| k == "le")
                        .and_then(|(_, v)| match v.as_str() {
                            "+Inf" => Some(f64::INFINITY),
                            v => v.parse().ok(),
                        });
                if let Some(le) = le {
                    point.0.push((le, *value));
                }
            }
            "_sum" => point.1 = *value,
            "_count" => point.2 = *value,
            _ => {}
        }
    }
    points
        .into_iter()
        .map(|(labels, (mut buckets, sum, count))| {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut below = 0.0;
            let bucket_counts = buckets
                .iter()
                .map(|(_, cumulative)| {
                    let alone = (cumulative - below).max(0.0) as u64;
                    below = *cumulative;
                    alone
                })
                .collect();
            HistogramDataPoint {
                attributes: attributes(&labels),
                start_time_unix_nano: started,
                time_unix_nano: now,
                count: count as u64,
                sum: Some(sum),
                bucket_counts,
                explicit_bounds: buckets
                    .iter()
                    .map(|(le, _)| *le)
                    .filter(|le| le.is_finite())
                    .collect(),
                ..Default::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP spil_calls Calls by method and status code.
# TYPE spil_calls counter
spil_calls_total{method="/spil.v1.Directory/WhoAmI",code="OK"} 3
# HELP spil_ready Whether the hub is ready.
# TYPE spil_ready gauge
spil_ready 1
# HELP spil_call_seconds Call latency.
# TYPE spil_call_seconds histogram
spil_call_seconds_sum{method="/m"} 0.5
spil_call_seconds_count{method="/m"} 4
spil_call_seconds_bucket{le="0.1",method="/m"} 1
spil_call_seconds_bucket{le="1.0",method="/m"} 4
spil_call_seconds_bucket{le="+Inf",method="/m"} 4
# EOF
"#;

    fn find<'a>(request: &'a ExportMetricsServiceRequest, name: &str) -> &'a metric::Data {
        request.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.data.as_ref())
            .unwrap_or_else(|| panic!("{name} is exported"))
    }

    #[test]
    fn counters_gauges_and_histograms_keep_their_kind_labels_and_values() {
        let request = request(TEXT, 1, 2);
        let metric::Data::Sum(calls) = find(&request, "spil_calls") else {
            panic!("a counter is a sum");
        };
        assert!(calls.is_monotonic);
        assert_eq!(calls.data_points.len(), 1);
        let point = &calls.data_points[0];
        assert_eq!(point.value, Some(number_data_point::Value::AsDouble(3.0)));
        assert_eq!(point.attributes.len(), 2);
        assert_eq!(point.attributes[0].key, "method");
        let metric::Data::Gauge(ready) = find(&request, "spil_ready") else {
            panic!("a gauge is a gauge");
        };
        assert_eq!(
            ready.data_points[0].value,
            Some(number_data_point::Value::AsDouble(1.0))
        );
        let metric::Data::Histogram(latency) = find(&request, "spil_call_seconds") else {
            panic!("a histogram is a histogram");
        };
        let point = &latency.data_points[0];
        assert_eq!((point.count, point.sum), (4, Some(0.5)));
        assert_eq!(point.explicit_bounds, vec![0.1, 1.0]);
        assert_eq!(
            point.bucket_counts,
            vec![1, 3, 0],
            "per bucket, not cumulative"
        );
    }

    #[test]
    fn the_hub_s_own_registry_converts_whole() {
        // A labelled counter and histogram have samples only once used.
        super::super::hold("granted");
        super::super::watch_delivery("capacity", 1, 2);
        let text = super::super::metrics().render();
        let request = request(&text, 1, 2);
        let exported: Vec<&str> = request.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        let families: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split(' ').next())
            .collect();
        assert!(families.contains(&"spil_holds") && families.contains(&"spil_watch_lag_revisions"));
        assert_eq!(exported, {
            let mut sorted = families.clone();
            sorted.sort_unstable();
            sorted
        });
        let metric::Data::Histogram(lag) = find(&request, "spil_watch_lag_revisions") else {
            panic!("the lag is a histogram");
        };
        assert!(lag.data_points.iter().any(|p| p.count >= 1));
    }
}
