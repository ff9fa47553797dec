//! The hub's memory per open watch stream, as a least-squares slope.

use crate::*;

impl Bench {
    /// The hub's memory per open watch stream, on a hub process that has
    /// done nothing else: anonymous RSS with 0, ⅛, ¼, ½ and all of
    /// `memory_streams` idle streams open, and again once one matching event
    /// has reached every stream; each figure is the least-squares slope.
    pub(crate) async fn watch_memory(&self) -> anyhow::Result<Report> {
        let pid = self
            .args
            .hub_pid
            .ok_or_else(|| anyhow::anyhow!("watch-memory needs --hub-pid"))?;
        let most = self.args.memory_streams;
        // No more than 200 streams on a connection (the hub allows 256).
        let clients = self.clients("crisisdienst-zkh", most.div_ceil(200)).await?;
        let provider = self.clients("kenter", 1).await?.remove(0);
        provider
            .capacity()
            .upsert_location(pb::UpsertLocationRequest {
                location: Some(pb::Location {
                    id: "bench-memory".into(),
                    name: "Bench memory".into(),
                    municipality_code: "GM0392".into(),
                    ..Default::default()
                }),
            })
            .await?;
        let delivered = Arc::new(AtomicU64::new(0));
        let mut readers = Vec::new();
        let (mut idle, mut after_event) = (Vec::new(), Vec::new());
        let started = Instant::now();
        for (step, count) in [0, most / 8, most / 4, most / 2, most]
            .into_iter()
            .enumerate()
        {
            while readers.len() < count {
                let mut stream = clients[readers.len() % clients.len()]
                    .capacity()
                    .watch_capacity(pb::WatchCapacityRequest::default())
                    .await?
                    .into_inner();
                let delivered = Arc::clone(&delivered);
                readers.push(tokio::spawn(async move {
                    while let Some(Ok(message)) = stream.next().await {
                        if !message.offerings.is_empty() {
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            idle.push((count as f64, anon_rss_kib(pid)? as f64));
            // One change every stream matches; wait until each has it.
            let before = delivered.load(Ordering::Relaxed);
            let update = pb::OfferingUpdate {
                key: Some(bench_key("bench-memory")),
                intake: pb::Intake::AroundTheClock as i32,
                total_places: 4,
                free_places: (step % 4) as u32,
                ..Default::default()
            };
            provider
                .capacity()
                .publish_capacity(pb::PublishCapacityRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    updates: vec![update],
                })
                .await?;
            let waiting = Instant::now();
            while delivered.load(Ordering::Relaxed) < before + count as u64 {
                anyhow::ensure!(
                    waiting.elapsed() < Duration::from_secs(60),
                    "the event reached {} of {count} streams",
                    delivered.load(Ordering::Relaxed) - before
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            after_event.push((count as f64, anon_rss_kib(pid)? as f64));
        }
        for reader in &readers {
            reader.abort();
        }
        let (idle_slope, event_slope) = (slope(&idle), slope(&after_event));
        let mut report = Report::new("watch memory", started.elapsed());
        report.ok = most as u64;
        report.note = format!(
            "{idle_slope:.2} KiB per idle stream, {event_slope:.2} KiB once an event reached each (least-squares slopes of anonymous RSS over {:?} streams; {:.0} → {:.0} KiB idle)",
            idle.iter().map(|(n, _)| *n as usize).collect::<Vec<_>>(),
            idle.first().map_or(0.0, |p| p.1),
            idle.last().map_or(0.0, |p| p.1),
        );
        self.kib_per_stream.lock().expect("memory").push(idle_slope);
        Ok(report)
    }
}

/// The least-squares slope of y over x.
pub(crate) fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    num / den
}

/// Anonymous resident memory of a process (heap and stacks, not mapped
/// files), from /proc.
pub(crate) fn anon_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no RssAnon for process {pid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_memory_over_streams_is_least_squares() {
        let points = [
            (0.0, 1000.0),
            (1000.0, 9000.0),
            (2000.0, 17000.0),
            (4000.0, 33100.0),
        ];
        assert!((slope(&points) - 8.0).abs() < 0.05, "{}", slope(&points));
    }
}
