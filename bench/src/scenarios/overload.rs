//! Overload: crisis searches offered open loop far beyond what the hub
//! serves, goodput within the deadline and the time to a refusal.

use crate::*;

impl Bench {
    /// Far more callers than the hub admits. First the same search
    /// unloaded (the scenario's concurrency, closed loop) gives D, three
    /// times its p99, and its throughput; then `overload_concurrency`
    /// callers send it with D as the gRPC deadline, once retrying at once
    /// after a refusal and once backing off. Goodput counts calls that
    /// succeeded within D; refusals are RESOURCE_EXHAUSTED only, any other
    /// error is reported apart; the offered load and the load tool's own
    /// CPU are reported, so a tool that cannot offer the load is seen.
    pub(crate) async fn overload(&self) -> anyhow::Result<Vec<(&'static str, Report)>> {
        let clients = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let mut unloaded = self
            .timed(
                "overload: the search unloaded",
                clients.clone(),
                |client, _| async move { crisis_search(client, None).await.is_ok() },
            )
            .await;
        let within = Duration::from_micros(3 * unloaded.latency_us.value_at_quantile(0.99).max(1));
        unloaded.note = format!(
            "{}; D = 3 × p99 = {:.2} ms",
            unloaded.note,
            within.as_secs_f64() * 1000.0
        );
        let mut measured = vec![("overload-unloaded", unloaded)];
        for (key, back_off) in [("overload", false), ("overload-backoff", true)] {
            let report = self.overload_run(&clients, within, back_off).await?;
            measured.push((key, report));
        }
        Ok(measured)
    }

    pub(crate) async fn overload_run(
        &self,
        clients: &[SpilClient],
        within: Duration,
        back_off: bool,
    ) -> anyhow::Result<Report> {
        let warm_up = self.warm_up();
        let started = Instant::now() + warm_up;
        let deadline = started + Duration::from_secs_f64(self.args.seconds);
        let cpu_before = own_cpu_seconds();
        let tasks: Vec<_> = (0..self.args.overload_concurrency)
            .map(|i| {
                let client = clients[i % clients.len()].clone();
                tokio::spawn(async move {
                    let mut seen = Overload::default();
                    let mut backoff = Duration::from_millis(5);
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let result = crisis_search(client.clone(), Some(within)).await;
                        let took = t.elapsed();
                        let counted = t >= started;
                        let refused = matches!(&result, Err(status) if status.code() == tonic::Code::ResourceExhausted);
                        if counted {
                            seen.sent += 1;
                            match &result {
                                Ok(()) if took <= within => {
                                    let _ = seen.good.record(took.as_micros() as u64);
                                }
                                Ok(()) => seen.late += 1,
                                Err(_) if refused => {
                                    let _ = seen.refused.record(took.as_micros() as u64);
                                }
                                Err(status) => {
                                    *seen.other_errors.entry(format!("{:?}", status.code())).or_default() += 1;
                                }
                            }
                        }
                        if result.is_ok() {
                            backoff = Duration::from_millis(5);
                        } else if back_off {
                            // Jittered exponential back-off, as a well-behaved client does.
                            let jitter = (i as u64 * 7919 + took.as_micros() as u64) % 1000;
                            tokio::time::sleep(backoff + Duration::from_micros(jitter)).await;
                            backoff = (backoff * 2).min(Duration::from_millis(200));
                        }
                    }
                    seen
                })
            })
            .collect();
        let mut seen = Overload::default();
        for task in tasks {
            seen.add(task.await?)?;
        }
        let elapsed = started.elapsed();
        let cpu = (own_cpu_seconds() - cpu_before) / (elapsed + warm_up).as_secs_f64();
        let name = if back_off {
            "overload (back-off)"
        } else {
            "overload (no back-off)"
        };
        let mut report = Report::new(name, elapsed);
        report.ok = seen.good.len();
        let other_errors: u64 = seen.other_errors.values().sum();
        report.errors = seen.refused.len() + other_errors + seen.late;
        report.latency_us = seen.good.clone();
        report.note = format!(
            "{} callers, deadline D {:.2} ms; offered {:.0}/s; ok = succeeded within D; {} refused (p50 {:.2} ms, p99 {:.2} ms), {} late, {} other errors {:?}; load tool CPU {:.0} %",
            self.args.overload_concurrency,
            within.as_secs_f64() * 1000.0,
            seen.sent as f64 / elapsed.as_secs_f64(),
            seen.refused.len(),
            seen.refused.value_at_quantile(0.5) as f64 / 1000.0,
            seen.refused.value_at_quantile(0.99) as f64 / 1000.0,
            seen.late,
            other_errors,
            seen.other_errors,
            cpu * 100.0
        );
        if !back_off {
            self.refusal_p99_ms
                .lock()
                .expect("refusals")
                .push(seen.refused.value_at_quantile(0.99) as f64 / 1000.0);
        }
        Ok(report)
    }
}

/// A search a crisis service makes for a bed tonight, within `deadline`
/// (sent as the gRPC deadline) when one is given.
pub(crate) async fn crisis_search(
    client: SpilClient,
    deadline: Option<Duration>,
) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(pb::SearchPlacesRequest {
        region_ids: vec!["zuid-kennemerland".into()],
        child_age: Some(14),
        include_unavailable: true,
        page_size: 50,
        ..Default::default()
    });
    if let Some(deadline) = deadline {
        request.set_timeout(deadline);
    }
    client.capacity().search_places(request).await.map(drop)
}

/// What the callers of one overload run saw.
pub(crate) struct Overload {
    pub(crate) sent: u64,
    pub(crate) good: Histogram<u64>,
    pub(crate) refused: Histogram<u64>,
    pub(crate) late: u64,
    /// By gRPC code.
    pub(crate) other_errors: std::collections::BTreeMap<String, u64>,
}

impl Default for Overload {
    fn default() -> Self {
        Self {
            sent: 0,
            good: histogram(),
            refused: histogram(),
            late: 0,
            other_errors: Default::default(),
        }
    }
}

impl Overload {
    pub(crate) fn add(&mut self, other: Overload) -> anyhow::Result<()> {
        self.sent += other.sent;
        self.good.add(other.good)?;
        self.refused.add(other.refused)?;
        self.late += other.late;
        for (code, count) in other.other_errors {
            *self.other_errors.entry(code).or_default() += count;
        }
        Ok(())
    }
}
