//! Watch latency: from each publication's intended send time to its
//! arrival at every watcher, with misses and duplicates counted.

use crate::*;

impl Bench {
    /// Time from each publication's intended send time to its arrival at
    /// each of `watchers` watchers (on connections of their own), with
    /// publications sent open loop at `publish_rate`; counts publications a
    /// watcher never saw, saw twice, or saw before they were sent.
    pub(crate) async fn watch_latency(&self, watchers: usize) -> anyhow::Result<Report> {
        let provider = self.clients("kenter", 1).await?.remove(0);
        let connections = self
            .clients("crisisdienst-zkh", watchers.clamp(1, 8))
            .await?;
        let mut sinks = Vec::with_capacity(watchers);
        let mut readers = Vec::with_capacity(watchers);
        for w in 0..watchers {
            let stream = connections[w % connections.len()]
                .capacity()
                .watch_capacity(pb::WatchCapacityRequest::default())
                .await?
                .into_inner();
            let (sink, reader) = record_arrivals(stream);
            sinks.push(sink);
            readers.push(reader);
        }
        let sent = open_loop_publications(
            self.args.publish_rate,
            self.warm_up(),
            Duration::from_secs_f64(self.args.seconds),
            move |n| {
                let mut capacity = provider.capacity();
                async move {
                    let request = pb::PublishCapacityRequest {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        updates: vec![pb::OfferingUpdate {
                            key: Some(bench_key(&format!("bench-{:05}", 1 + n % 8))),
                            intake: pb::Intake::AroundTheClock as i32,
                            lead_time_days: 0,
                            total_places: 4,
                            free_places: (n % 5) as u32,
                            waiting_days: 0,
                            observed_at: None,
                        }],
                    };
                    capacity
                        .publish_capacity(request)
                        .await
                        .ok()
                        .map(|published| published.into_inner().revision)
                }
            },
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        for reader in readers {
            reader.abort();
        }
        let name = format!(
            "watch latency ({watchers} watcher{})",
            if watchers == 1 { "" } else { "s" }
        );
        Ok(watch_report(&name, &sent, &sinks, self.args.publish_rate))
    }
}

/// Watch latency as arrival minus intended send time, never clamped; an
/// arrival before the send is an error, as are misses and duplicates. Ack
/// latency and arrival after ack are diagnostics in the note.
pub(crate) fn watch_report(
    name: &str,
    publications: &Publications,
    sinks: &[Arc<std::sync::Mutex<Arrivals>>],
    target_rate: u64,
) -> Report {
    watch_report_of(name, publications, sinks, target_rate, &|_, _| true)
}

/// [`watch_report`] where watcher `w` is to see publication `p` only when
/// `expects(w, p)`.
pub(crate) fn watch_report_of(
    name: &str,
    publications: &Publications,
    sinks: &[Arc<std::sync::Mutex<Arrivals>>],
    target_rate: u64,
    expects: &dyn Fn(usize, &Publication) -> bool,
) -> Report {
    let mut report = Report::new(name, publications.elapsed);
    let (mut missed, mut duplicated, mut early, mut unacked) = (0u64, 0u64, 0u64, 0u64);
    let mut ack_us = histogram();
    let mut after_ack_us = histogram();
    let counted: Vec<&Publication> = publications.sent.iter().filter(|p| p.counted).collect();
    for publication in &counted {
        let _ = ack_us.record(
            publication
                .acked
                .duration_since(publication.intended)
                .as_micros() as u64,
        );
    }
    for (watcher, sink) in sinks.iter().enumerate() {
        let arrivals = sink.lock().expect("arrivals");
        for publication in counted.iter().filter(|p| expects(watcher, p)) {
            let Some(revision) = publication.revision else {
                unacked += 1;
                continue;
            };
            match arrivals.get(&revision) {
                Some((arrived, times)) => {
                    duplicated += u64::from(times - 1);
                    if *arrived < publication.sent {
                        early += 1;
                        continue;
                    }
                    report.ok += 1;
                    let _ = report
                        .latency_us
                        .record(arrived.duration_since(publication.intended).as_micros() as u64);
                    if let Some(after) = arrived.checked_duration_since(publication.acked) {
                        let _ = after_ack_us.record(after.as_micros() as u64);
                    }
                }
                None => missed += 1,
            }
        }
    }
    report.errors = missed + duplicated + early + unacked;
    report.note = format!(
        "latency from intended send; asked {target_rate}/s, sent {:.0}/s; {missed} missed, {duplicated} duplicated, {early} before their send, {unacked} unacknowledged; ack p50 {:.2} ms p99 {:.2} ms; arrival after ack p50 {:.2} ms; ok/s counts deliveries",
        counted.len() as f64 / publications.elapsed.as_secs_f64(),
        ack_us.value_at_quantile(0.5) as f64 / 1000.0,
        ack_us.value_at_quantile(0.99) as f64 / 1000.0,
        after_ack_us.value_at_quantile(0.5) as f64 / 1000.0,
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_publication(start: Instant) -> Publications {
        Publications {
            sent: vec![Publication {
                n: 0,
                revision: Some(7),
                intended: start,
                sent: start + Duration::from_millis(1),
                acked: start + Duration::from_millis(10),
                counted: true,
            }],
            elapsed: Duration::from_secs(1),
        }
    }

    fn arriving(at: Instant) -> Arc<std::sync::Mutex<Arrivals>> {
        Arc::new(std::sync::Mutex::new(Arrivals::from([(7, (at, 1))])))
    }

    #[test]
    fn an_event_delivered_before_its_ack_counts_from_its_intended_send() {
        let start = Instant::now();
        let publications = one_publication(start);
        // Delivered at 5 ms: after the send (1 ms), before the ack (10 ms).
        let report = watch_report(
            "t",
            &publications,
            &[arriving(start + Duration::from_millis(5))],
            1,
        );
        assert_eq!((report.ok, report.errors), (1, 0), "{}", report.note);
        let micros = report.latency_us.max();
        assert!(
            (4_900..=5_100).contains(&micros),
            "5 ms from the intended send, not 0 and not from the ack: {micros} µs"
        );
    }

    #[test]
    fn an_arrival_before_its_send_is_an_error_and_no_latency() {
        let start = Instant::now();
        let publications = one_publication(start);
        let report = watch_report("t", &publications, &[arriving(start)], 1);
        assert_eq!((report.ok, report.errors), (0, 1), "{}", report.note);
        assert!(
            report.note.contains("1 before their send"),
            "{}",
            report.note
        );
    }

    #[test]
    fn a_warm_up_publication_is_not_counted() {
        let start = Instant::now();
        let mut publications = one_publication(start);
        publications.sent[0].counted = false;
        let report = watch_report(
            "t",
            &publications,
            &[arriving(start + Duration::from_millis(5))],
            1,
        );
        assert_eq!((report.ok, report.errors), (0, 0));
    }
}
