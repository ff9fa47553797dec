//! The harness every scenario runs in: the load tool's settings made into
//! clients, closed- and open-loop drivers that time each call from its
//! intended send time, the seeded registry, and the figures a run reports.

use crate::*;

/// What one scenario measured.
#[derive(Clone)]
pub(crate) struct Report {
    pub(crate) name: String,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latency_us: Histogram<u64>,
    pub(crate) note: String,
}

impl Report {
    pub(crate) fn new(name: &str, elapsed: Duration) -> Self {
        Self {
            name: name.into(),
            ok: 0,
            errors: 0,
            elapsed,
            latency_us: histogram(),
            note: String::new(),
        }
    }

    pub(crate) fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub(crate) fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub(crate) fn print(&self) {
        let rate = self.ok as f64 / self.elapsed.as_secs_f64();
        let q = |p: f64| self.latency_us.value_at_quantile(p) as f64 / 1000.0;
        println!(
            "{:<24} {:>9.0}/s {:>8} ok {:>6} err  p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  {}",
            self.name,
            rate,
            self.ok,
            self.errors,
            q(0.5),
            q(0.9),
            q(0.99),
            self.latency_us.max() as f64 / 1000.0,
            self.note
        );
        println!(
            "{{\"scenario\":\"{}\",\"per_second\":{rate:.1},\"ok\":{},\"errors\":{},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
            self.name,
            self.ok,
            self.errors,
            q(0.5),
            q(0.9),
            q(0.99),
            self.latency_us.max() as f64 / 1000.0
        );
    }
}

pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

pub(crate) struct Bench {
    pub(crate) args: Args,
    pub(crate) ca_pem: String,
    /// Figures that are no report of their own, collected per run.
    pub(crate) refusal_p99_ms: std::sync::Mutex<Vec<f64>>,
    pub(crate) kib_per_stream: std::sync::Mutex<Vec<f64>>,
    /// Runs of the steady-state holds scenario so far: each run holds on
    /// offerings of its own, so earlier runs' holds take no places from it.
    pub(crate) steady_runs: AtomicU64,
}

impl Bench {
    pub(crate) fn identity(&self, org: &str) -> anyhow::Result<Identity> {
        Ok(Identity::from_files(
            self.args.pki.join("orgs").join(format!("{org}.pem")),
            self.args.pki.join("orgs").join(format!("{org}-key.pem")),
        )?)
    }

    pub(crate) async fn clients(&self, org: &str, n: usize) -> anyhow::Result<Vec<SpilClient>> {
        let identity = self.identity(org)?;
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            clients.push(
                SpilClient::connect(&self.args.hub, &self.ca_pem, Some(identity.clone())).await?,
            );
        }
        Ok(clients)
    }

    /// Runs `call` from `concurrency` tasks until the time is up.
    pub(crate) async fn timed<C, F, Fut>(&self, name: &str, clients: Vec<C>, call: F) -> Report
    where
        C: Clone + Send + Sync + 'static,
        F: Fn(C, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        self.timed_with(name, clients, self.args.concurrency, call)
            .await
    }

    /// The warm-up before every timed run: connections, caches and the
    /// server's pools settle before anything is counted.
    pub(crate) fn warm_up(&self) -> Duration {
        Duration::from_secs_f64((self.args.seconds / 4.0).min(1.0))
    }

    /// Runs `call` from `concurrency` tasks, closed loop: a warm-up whose
    /// calls are not counted, then the timed run.
    pub(crate) async fn timed_with<C, F, Fut>(
        &self,
        name: &str,
        clients: Vec<C>,
        concurrency: usize,
        call: F,
    ) -> Report
    where
        C: Clone + Send + Sync + 'static,
        F: Fn(C, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let call = Arc::new(call);
        let started = Instant::now() + self.warm_up();
        let deadline = started + Duration::from_secs_f64(self.args.seconds);
        let counter = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..concurrency)
            .map(|i| {
                let client = clients[i % clients.len()].clone();
                let call = Arc::clone(&call);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let (mut latency, mut ok, mut errors) = (histogram(), 0u64, 0u64);
                    while Instant::now() < deadline {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let t = Instant::now();
                        let succeeded = call(client.clone(), n).await;
                        if t < started {
                            continue;
                        }
                        if succeeded {
                            ok += 1;
                            let _ = latency.record(t.elapsed().as_micros() as u64);
                        } else {
                            errors += 1;
                        }
                    }
                    (latency, ok, errors)
                })
            })
            .collect();
        let mut report = Report {
            name: name.into(),
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency_us: histogram(),
            note: format!("{concurrency} in flight"),
        };
        for task in tasks {
            let (latency, ok, errors) = task.await.expect("load task");
            report.latency_us.add(latency).expect("same bounds");
            report.ok += ok;
            report.errors += errors;
        }
        report.elapsed = started.elapsed();
        report
    }

    pub(crate) async fn seed(&self) -> anyhow::Result<()> {
        let n = self.args.seed_locations;
        if n == 0 {
            return Ok(());
        }
        let provider = self.clients("kenter", 1).await?.remove(0);
        let regions = provider
            .directory()
            .list_regions(pb::ListRegionsRequest {})
            .await?
            .into_inner()
            .regions;
        let municipalities: Vec<String> = regions
            .iter()
            .flat_map(|r| r.municipalities.iter().map(|m| m.code.clone()))
            .collect();
        let started = Instant::now();
        let mut updates = Vec::new();
        for i in 0..n {
            let id = format!("bench-{i:05}");
            provider
                .capacity()
                .upsert_location(pb::UpsertLocationRequest {
                    location: Some(pb::Location {
                        id: id.clone(),
                        name: format!("Bench locatie {i}"),
                        municipality_code: municipalities[i % municipalities.len()].clone(),
                        ..Default::default()
                    }),
                })
                .await?;
            for (t, place_type) in [1, 2, 3, 5, 7].into_iter().enumerate() {
                updates.push(pb::OfferingUpdate {
                    key: Some(pb::OfferingKey {
                        location_id: id.clone(),
                        place_type,
                        care_profiles: vec![1 + (i % 5) as i32],
                        age_band: Some(pb::AgeBand {
                            min_age: if t % 2 == 0 { 12 } else { 4 },
                            max_age: 17,
                        }),
                        gender_policy: pb::GenderPolicy::Any as i32,
                        security_level: pb::SecurityLevel::Open as i32,
                    }),
                    intake: pb::Intake::AroundTheClock as i32,
                    lead_time_days: 0,
                    total_places: 4,
                    free_places: (i % 3) as u32,
                    waiting_days: (i % 40) as u32,
                    observed_at: None,
                });
            }
            if updates.len() >= 500 || i + 1 == n {
                provider
                    .capacity()
                    .publish_capacity(pb::PublishCapacityRequest {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        updates: std::mem::take(&mut updates),
                    })
                    .await?;
            }
        }
        println!(
            "seeded {n} locations, {} offerings, in {:.1} s",
            n * 5,
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// Per watcher: revision → (first arrival, times seen).
pub(crate) type Arrivals = std::collections::HashMap<u64, (Instant, u32)>;

/// Records when each revision of a capacity watch first arrives, and how
/// often, until the stream ends; the stream's start is no change.
pub(crate) fn record_arrivals(
    mut stream: tonic::Streaming<pb::WatchCapacityResponse>,
) -> (Arc<std::sync::Mutex<Arrivals>>, tokio::task::JoinHandle<()>) {
    let sink = Arc::new(std::sync::Mutex::new(Arrivals::new()));
    let arrivals = Arc::clone(&sink);
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            if message.stream_start {
                continue;
            }
            arrivals
                .lock()
                .expect("arrivals")
                .entry(message.revision)
                .or_insert((Instant::now(), 0))
                .1 += 1;
        }
    });
    (sink, reader)
}

/// One publication of a watch-latency run.
pub(crate) struct Publication {
    /// Its number, in the order it was meant to leave.
    pub(crate) n: u64,
    /// Its revision, once acknowledged.
    pub(crate) revision: Option<u64>,
    /// start + n / rate: when it was meant to leave.
    pub(crate) intended: Instant,
    /// When it actually left.
    pub(crate) sent: Instant,
    pub(crate) acked: Instant,
    /// False during the warm-up: sent and watched, not counted.
    pub(crate) counted: bool,
}

/// What the publisher of a watch-latency run did.
pub(crate) struct Publications {
    pub(crate) sent: Vec<Publication>,
    pub(crate) elapsed: Duration,
}

/// Publishes open loop: publication n is meant to leave at start + n/rate
/// and is sent then (or as soon as the sender catches up), without waiting
/// for earlier ones to be acknowledged. Those of the first `warm_up` are
/// not counted.
pub(crate) async fn open_loop_publications<F, Fut>(
    rate: u64,
    warm_up: Duration,
    seconds: Duration,
    publish: F,
) -> Publications
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Option<u64>> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let begin = Instant::now();
    let start = begin + warm_up;
    let mut calls = tokio::task::JoinSet::new();
    let mut n = 0u32;
    loop {
        let intended = begin + interval * n;
        if intended >= start + seconds {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        let call = publish(u64::from(n));
        let number = u64::from(n);
        calls.spawn(async move {
            let sent = Instant::now();
            let revision = call.await;
            Publication {
                n: number,
                revision,
                intended,
                sent,
                acked: Instant::now(),
                counted: intended >= start,
            }
        });
        n += 1;
    }
    let elapsed = start.elapsed();
    let mut sent = Vec::with_capacity(n as usize);
    while let Some(publication) = calls.join_next().await {
        sent.push(publication.expect("publication task"));
    }
    Publications { sent, elapsed }
}

pub(crate) fn bench_key(location: &str) -> pb::OfferingKey {
    pb::OfferingKey {
        location_id: location.into(),
        place_type: pb::PlaceType::CrisisBed as i32,
        care_profiles: vec![1],
        age_band: Some(pb::AgeBand {
            min_age: 12,
            max_age: 17,
        }),
        gender_policy: pb::GenderPolicy::Any as i32,
        security_level: pb::SecurityLevel::Open as i32,
    }
}

/// The publish scenario's n-th publication: one offering's numbers. etcd's
/// puts carry it encoded, so both sides write the same bytes.
pub(crate) fn publication(n: u64) -> pb::PublishCapacityRequest {
    publication_from(0, n)
}

/// The `n`th publication to the offerings of the 50 seeded locations from
/// `first` on.
pub(crate) fn publication_from(first: u64, n: u64) -> pb::PublishCapacityRequest {
    pb::PublishCapacityRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        updates: vec![pb::OfferingUpdate {
            key: Some(bench_key(&format!("bench-{:05}", first + n % 50))),
            intake: pb::Intake::AroundTheClock as i32,
            lead_time_days: 0,
            total_places: 4,
            free_places: (n % 5) as u32,
            waiting_days: 0,
            observed_at: None,
        }],
    }
}

/// The length of `bytes` gzipped at the default level, as tonic's gzip
/// encoder writes them.
pub(crate) fn gzipped_len(bytes: &[u8]) -> anyhow::Result<usize> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// The median of each figure over repeated runs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Medians {
    pub(crate) per_second: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

/// How far a figure moved between repeats: (largest − smallest) / median.
pub(crate) fn spread(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    (high - low) / median(values.to_vec())
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// CPU seconds this process has used (user and system), from /proc.
pub(crate) fn own_cpu_seconds() -> f64 {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks of 1/100 s on Linux.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// What an open-loop run saw, each latency from the call's intended send time.
pub(crate) struct OpenLoop {
    pub(crate) admitted: Histogram<u64>,
    pub(crate) refused: Histogram<u64>,
    pub(crate) other_errors: u64,
    pub(crate) sent_per_second: f64,
    pub(crate) elapsed: Duration,
}

impl OpenLoop {
    /// The admitted calls as a report; a refusal is an error here.
    pub(crate) fn report(&self, name: &str) -> Report {
        let mut report = Report::new(name, self.elapsed);
        report.ok = self.admitted.len();
        report.errors = self.refused.len() + self.other_errors;
        report.latency_us = self.admitted.clone();
        report.note = format!("open loop at {:.0}/s", self.sent_per_second);
        report
    }
}

/// Sends `call` at `rate` per second for `seconds` without waiting for
/// answers, round-robin over `clients`. Call n is meant to leave at
/// start + n/rate and its latency counts from then, so a sender that falls
/// behind shows up as latency instead of hiding it (coordinated omission).
pub(crate) async fn open_loop<F, Fut>(
    rate: f64,
    seconds: Duration,
    clients: &[SpilClient],
    call: F,
) -> OpenLoop
where
    F: Fn(SpilClient) -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>> + Send + 'static,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    let mut n = 0u32;
    loop {
        let intended = start + interval * n;
        if intended >= start + seconds {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        let call = call(clients[n as usize % clients.len()].clone());
        calls.spawn(async move {
            let outcome = call.await.map_err(|status| status.code());
            (intended.elapsed(), outcome)
        });
        n += 1;
    }
    let elapsed = start.elapsed();
    let mut seen = OpenLoop {
        admitted: histogram(),
        refused: histogram(),
        other_errors: 0,
        sent_per_second: f64::from(n) / elapsed.as_secs_f64(),
        elapsed,
    };
    while let Some(finished) = calls.join_next().await {
        let (took, outcome) = finished.expect("call task");
        let micros = took.as_micros() as u64;
        match outcome {
            Ok(()) => {
                let _ = seen.admitted.record(micros);
            }
            Err(tonic::Code::ResourceExhausted) => {
                let _ = seen.refused.record(micros);
            }
            Err(_) => seen.other_errors += 1,
        }
    }
    seen
}

pub(crate) fn medians(reports: &[Report]) -> Medians {
    Medians {
        per_second: median(reports.iter().map(Report::per_second).collect()),
        p50: median(reports.iter().map(|r| r.ms(0.5)).collect()),
        p99: median(reports.iter().map(|r| r.ms(0.99)).collect()),
    }
}
