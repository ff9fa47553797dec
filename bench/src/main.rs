//! `spil-bench`: a load generator for a running hub, over real mTLS with the
//! project's own client. Reports throughput and latency percentiles per
//! scenario, as a table and as JSON lines; with `--echo` and `--etcd` it
//! measures the baselines in the same run and reports every hub figure as a
//! ratio to them.

mod baselines;
mod board;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use prost::Message as _;
use spil_client::{Identity, SpilClient, pb};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::codec::CompressionEncoding;

#[derive(Debug, Parser)]
#[command(
    name = "spil-bench",
    about = "Load a running Spil hub and report throughput and latency"
)]
struct Args {
    #[arg(long, default_value = "https://localhost:50051")]
    hub: String,
    /// The demo PKI folder (server CA and organisations' certificates).
    #[arg(long, default_value = "spil-demo/pki")]
    pki: PathBuf,
    #[arg(long, value_enum, num_args = 1.., default_values = ["search", "publish", "holds", "watch-latency", "watch-fanout", "consultations", "overload", "board-latency"])]
    scenario: Vec<Scenario>,
    /// The echo baseline (`spil-echo`), e.g. https://localhost:50061.
    #[arg(long)]
    echo: Option<String>,
    /// The etcd baseline, e.g. https://localhost:2379.
    #[arg(long)]
    etcd: Option<String>,
    /// Runs of each scenario; medians are reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// The board (`https://localhost:<port>`, the hub's HTTPS listener), for
    /// the board-latency scenario; without it the scenario is skipped.
    #[arg(long)]
    board: Option<String>,
    /// Open boards in the board-latency scenario, one run each.
    #[arg(long, num_args = 1.., default_values_t = [1, 50])]
    boards: Vec<usize>,
    /// Publications per second in the board-latency scenario: a busy
    /// evening's pace, which every board follows whole.
    #[arg(long, default_value_t = 20)]
    board_publish_rate: u64,
    /// Watchers in the watch-fanout scenario.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// The most streams the watch-memory scenario opens (on a hub that has done nothing else).
    #[arg(long, default_value_t = 8000)]
    memory_streams: usize,
    /// The hub's process id, for the watch-memory scenario (reads /proc).
    #[arg(long)]
    hub_pid: Option<u32>,
    /// Seconds each timed scenario runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Locations to seed (five offerings each) before the search scenario; 0 skips seeding.
    #[arg(long, default_value_t = 2000)]
    seed_locations: usize,
    /// Publications per second in the watch scenarios.
    #[arg(long, default_value_t = 1000)]
    publish_rate: u64,
    /// Calls in flight in the overload scenario.
    #[arg(long, default_value_t = 2048)]
    overload_concurrency: usize,
    /// Searches per second the flooding organisation sends in the flood
    /// scenario: 50 times the hub's default share of 200 calls/s.
    #[arg(long, default_value_t = 10_000.0)]
    flood_rate: f64,
    /// Searches per second the other organisation sends in the flood
    /// scenario, well inside its share.
    #[arg(long, default_value_t = 50.0)]
    flood_other_rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Search,
    Publish,
    Holds,
    WatchLatency,
    WatchFanout,
    Consultations,
    Overload,
    WatchMemory,
    /// Needs a hub with its default per-organisation shares, unlike the rest.
    Flood,
    /// Needs `--board`.
    BoardLatency,
}

/// What one scenario measured.
#[derive(Clone)]
struct Report {
    name: String,
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
    note: String,
}

impl Report {
    fn new(name: &str, elapsed: Duration) -> Self {
        Self {
            name: name.into(),
            ok: 0,
            errors: 0,
            elapsed,
            latency_us: histogram(),
            note: String::new(),
        }
    }

    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn print(&self) {
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

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

struct Bench {
    args: Args,
    ca_pem: String,
    /// Figures that are no report of their own, collected per run.
    refusal_p99_ms: std::sync::Mutex<Vec<f64>>,
    kib_per_stream: std::sync::Mutex<Vec<f64>>,
    /// Runs of the steady-state holds scenario so far: each run holds on
    /// offerings of its own, so earlier runs' holds take no places from it.
    steady_runs: AtomicU64,
}

impl Bench {
    fn identity(&self, org: &str) -> anyhow::Result<Identity> {
        Ok(Identity::from_files(
            self.args.pki.join("orgs").join(format!("{org}.pem")),
            self.args.pki.join("orgs").join(format!("{org}-key.pem")),
        )?)
    }

    async fn clients(&self, org: &str, n: usize) -> anyhow::Result<Vec<SpilClient>> {
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
    async fn timed<C, F, Fut>(&self, name: &str, clients: Vec<C>, call: F) -> Report
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
    fn warm_up(&self) -> Duration {
        Duration::from_secs_f64((self.args.seconds / 4.0).min(1.0))
    }

    /// Runs `call` from `concurrency` tasks, closed loop: a warm-up whose
    /// calls are not counted, then the timed run.
    async fn timed_with<C, F, Fut>(
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

    async fn seed(&self) -> anyhow::Result<()> {
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

    async fn search(&self) -> anyhow::Result<(Report, SearchSizes)> {
        self.search_accepting(None).await
    }

    /// The same searches, with the client accepting `compression`: the hub
    /// then compresses every answer. The note gives the wire size of the
    /// mean answer compressed and plain.
    async fn search_accepting(
        &self,
        compression: Option<CompressionEncoding>,
    ) -> anyhow::Result<(Report, SearchSizes)> {
        let clients = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let regions: Vec<String> = clients[0]
            .directory()
            .list_regions(pb::ListRegionsRequest {})
            .await?
            .into_inner()
            .regions
            .into_iter()
            .map(|r| r.id)
            .collect();
        let regions = Arc::new(regions);
        // The sizes a sized echo must match: the request as encoded, and the
        // mean answer over one search of every region.
        let (mut answers, mut gzipped) = (0usize, 0usize);
        for n in 0..regions.len() {
            let answer = clients[0]
                .capacity()
                .search_places(search_request(&regions, n as u64))
                .await?
                .into_inner()
                .encode_to_vec();
            answers += answer.len();
            gzipped += gzipped_len(&answer)?;
        }
        let sizes = SearchSizes {
            request: search_request(&regions, 0).encoded_len(),
            response: answers / regions.len().max(1),
        };
        let name = match compression {
            None => "search (region, page 50)".to_owned(),
            Some(encoding) => format!("search (region, page 50), answers in {encoding}"),
        };
        let searches = regions.len().max(1);
        let mut report = self
            .timed(&name, clients, move |client, n| {
                let regions = Arc::clone(&regions);
                async move {
                    let mut capacity = client.capacity();
                    if let Some(encoding) = compression {
                        capacity = capacity.accept_compressed(encoding);
                    }
                    capacity
                        .search_places(search_request(&regions, n))
                        .await
                        .is_ok()
                }
            })
            .await;
        report.note = format!(
            "{}; request {} B, mean answer {} B ({} B gzipped)",
            report.note,
            sizes.request,
            sizes.response,
            gzipped / searches
        );
        Ok((report, sizes))
    }

    async fn publish(&self) -> anyhow::Result<Report> {
        let clients = self.clients("kenter", self.args.connections).await?;
        let mut report = self
            .timed("publish (1 offering)", clients, |client, n| async move {
                client
                    .capacity()
                    .publish_capacity(publication(n))
                    .await
                    .is_ok()
            })
            .await;
        report.note = format!(
            "{}; {} B a publication",
            report.note,
            publication(0).encoded_len()
        );
        Ok(report)
    }

    /// Many crisis services race for few places; successes must equal the places.
    async fn holds(&self) -> anyhow::Result<Report> {
        const PLACES: u32 = 50;
        let provider = self.clients("kenter", 1).await?.remove(0);
        let crisis = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let mut report = Report {
            name: "holds (race for 50)".into(),
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency_us: histogram(),
            note: String::new(),
        };
        let mut deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
        let mut rounds = 0;
        let mut exact = true;
        let mut refused = 0u64;
        // The first round warms up (connections, caches) and is not counted.
        let mut warming = true;
        while warming || Instant::now() < deadline {
            let offering = provider
                .capacity()
                .publish_capacity(pb::PublishCapacityRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    updates: vec![pb::OfferingUpdate {
                        key: Some(bench_key("bench-00000")),
                        intake: pb::Intake::AroundTheClock as i32,
                        lead_time_days: 0,
                        total_places: PLACES,
                        free_places: PLACES,
                        waiting_days: 0,
                        observed_at: None,
                    }],
                })
                .await?
                .into_inner()
                .offerings
                .remove(0)
                .id;
            // Release what the last round held, so each round starts from PLACES free.
            let started = Instant::now();
            let attempts = (0..(PLACES as usize * 4)).map(|i| {
                let mut capacity = crisis[i % crisis.len()].capacity();
                let offering = offering.clone();
                tokio::spawn(async move {
                    let t = Instant::now();
                    let result = capacity
                        .hold_place(pb::HoldPlaceRequest {
                            request_id: uuid::Uuid::new_v4().to_string(),
                            offering_id: offering,
                            child_municipality_code: "GM0392".into(),
                            duration: Some(prost_types::Duration {
                                seconds: 60,
                                nanos: 0,
                            }),
                        })
                        .await;
                    (
                        result.map(|r| r.into_inner().hold.unwrap_or_default().id),
                        t.elapsed(),
                    )
                })
            });
            let results = futures::future::join_all(attempts).await;
            let took_round = started.elapsed();
            let mut granted = Vec::new();
            let (mut round_refused, mut round_errors) = (0u64, 0u64);
            let mut latencies = Vec::new();
            for result in results {
                let (result, took) = result?;
                latencies.push(took.as_micros() as u64);
                match result {
                    Ok(id) => granted.push(id),
                    // No place left: a decision, not an error.
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                        round_refused += 1;
                    }
                    Err(_) => round_errors += 1,
                }
            }
            exact &= granted.len() == PLACES as usize;
            if warming {
                warming = false;
                deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
            } else {
                report.elapsed += took_round;
                report.ok += granted.len() as u64;
                refused += round_refused;
                report.errors += round_errors;
                for micros in latencies {
                    let _ = report.latency_us.record(micros);
                }
                rounds += 1;
            }
            for id in granted {
                crisis[0]
                    .capacity()
                    .release_hold(pb::ReleaseHoldRequest { hold_id: id })
                    .await?;
            }
        }
        report.note = format!(
            "{rounds} rounds, {}; {:.0} decisions/s (granted + refused); ok/s counts granted holds",
            if exact {
                "exactly 50 granted each round"
            } else {
                "WRONG COUNT"
            },
            (report.ok + refused) as f64 / report.elapsed.as_secs_f64().max(1e-9)
        );
        Ok(report)
    }

    /// Steady state: holds spread over many offerings, `concurrency` in
    /// flight from the crisis service, next to no contention; each hold one
    /// durable decision, as each compare-and-put of the etcd baseline is.
    async fn holds_steady(&self) -> anyhow::Result<Report> {
        let provider = self.clients("kenter", 1).await?.remove(0);
        let run = self.steady_runs.fetch_add(1, Ordering::Relaxed);
        let offerings = self.args.seed_locations.clamp(1, 200);
        let updates = (0..offerings)
            .map(|i| pb::OfferingUpdate {
                key: Some(pb::OfferingKey {
                    // A care profile per run (never the race's, 1): offerings
                    // of this run's own.
                    care_profiles: vec![2 + (run % 4) as i32],
                    ..bench_key(&format!("bench-{i:05}"))
                }),
                intake: pb::Intake::AroundTheClock as i32,
                lead_time_days: 0,
                total_places: 999,
                free_places: 999,
                waiting_days: 0,
                observed_at: None,
            })
            .collect();
        let ids: Vec<String> = provider
            .capacity()
            .publish_capacity(pb::PublishCapacityRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
                updates,
            })
            .await?
            .into_inner()
            .offerings
            .into_iter()
            .map(|o| o.id)
            .collect();
        let ids = Arc::new(ids);
        let clients = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        Ok(self
            .timed(
                &format!("holds (steady, {offerings} offerings)"),
                clients,
                move |client, n| {
                    let ids = Arc::clone(&ids);
                    async move {
                        client
                            .capacity()
                            .hold_place(pb::HoldPlaceRequest {
                                request_id: uuid::Uuid::new_v4().to_string(),
                                offering_id: ids[n as usize % ids.len()].clone(),
                                child_municipality_code: "GM0392".into(),
                                duration: None,
                            })
                            .await
                            .is_ok()
                    }
                },
            )
            .await)
    }

    /// Time from each publication's intended send time to its arrival at
    /// each of `watchers` watchers (on connections of their own), with
    /// publications sent open loop at `publish_rate`; counts publications a
    /// watcher never saw, saw twice, or saw before they were sent.
    async fn watch_latency(&self, watchers: usize) -> anyhow::Result<Report> {
        let provider = self.clients("kenter", 1).await?.remove(0);
        let connections = self
            .clients("crisisdienst-zkh", watchers.clamp(1, 8))
            .await?;
        let mut sinks = Vec::with_capacity(watchers);
        let mut readers = Vec::with_capacity(watchers);
        for w in 0..watchers {
            let mut stream = connections[w % connections.len()]
                .capacity()
                .watch_capacity(pb::WatchCapacityRequest::default())
                .await?
                .into_inner();
            let sink = Arc::new(std::sync::Mutex::new(Arrivals::new()));
            sinks.push(Arc::clone(&sink));
            readers.push(tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    if message.stream_start {
                        continue;
                    }
                    sink.lock()
                        .expect("arrivals")
                        .entry(message.revision)
                        .or_insert((Instant::now(), 0))
                        .1 += 1;
                }
            }));
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

    /// Far more callers than the hub admits. First the same search
    /// unloaded (the scenario's concurrency, closed loop) gives D, three
    /// times its p99, and its throughput; then `overload_concurrency`
    /// callers send it with D as the gRPC deadline, once retrying at once
    /// after a refusal and once backing off. Goodput counts calls that
    /// succeeded within D; refusals are RESOURCE_EXHAUSTED only, any other
    /// error is reported apart; the offered load and the load tool's own
    /// CPU are reported, so a tool that cannot offer the load is seen.
    async fn overload(&self) -> anyhow::Result<Vec<(&'static str, Report)>> {
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

    async fn overload_run(
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
                                Err(_) => seen.other_errors += 1,
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
        report.errors = seen.refused.len() + seen.other_errors + seen.late;
        report.latency_us = seen.good.clone();
        report.note = format!(
            "{} callers, deadline D {:.2} ms; offered {:.0}/s; ok = succeeded within D; {} refused (p50 {:.2} ms, p99 {:.2} ms), {} late, {} other errors; load tool CPU {:.0} %",
            self.args.overload_concurrency,
            within.as_secs_f64() * 1000.0,
            seen.sent as f64 / elapsed.as_secs_f64(),
            seen.refused.len(),
            seen.refused.value_at_quantile(0.5) as f64 / 1000.0,
            seen.refused.value_at_quantile(0.99) as f64 / 1000.0,
            seen.late,
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

    /// One crisis service floods the hub at `flood_rate` searches/s while
    /// another searches at `flood_other_rate`, both open loop, against a hub
    /// with its default per-organisation shares. The other's searches are
    /// first measured alone (the baseline, same rate and connections), then
    /// under the flood; the flood's refusals are timed from their intended
    /// send time, like every call here.
    async fn flood(&self) -> anyhow::Result<Flood> {
        let flooder = self
            .clients("crisisdienst-haaglanden", self.args.connections)
            .await?;
        let other = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let seconds = Duration::from_secs_f64(self.args.seconds);
        let other_rate = self.args.flood_other_rate;
        let search = |client| crisis_search(client, None);
        let quiet = open_loop(other_rate, seconds, &other, search).await;
        let flood = tokio::spawn({
            let rate = self.args.flood_rate;
            async move { open_loop(rate, seconds, &flooder, search).await }
        });
        let flooded = open_loop(other_rate, seconds, &other, search).await;
        let flood = flood.await?;
        let other_quiet = quiet.report("flood: other org, alone");
        let mut other_flooded = flooded.report("flood: other org, flooded");
        other_flooded.note = format!(
            "{}; beside a flood of {:.0}/s",
            other_flooded.note, flood.sent_per_second
        );
        let mut refusals = Report::new("flood: refusals", flood.elapsed);
        refusals.ok = flood.refused.len();
        refusals.errors = flood.other_errors;
        refusals.latency_us = flood.refused.clone();
        refusals.note = format!(
            "sent {:.0}/s of {:.0}/s asked; {} admitted (p99 {:.2} ms); ok counts RESOURCE_EXHAUSTED, err anything else",
            flood.sent_per_second,
            self.args.flood_rate,
            flood.admitted.len(),
            flood.admitted.value_at_quantile(0.99) as f64 / 1000.0
        );
        Ok(Flood {
            other_quiet,
            other_flooded,
            refusals,
        })
    }

    /// The hub's memory per open watch stream, on a hub process that has
    /// done nothing else: anonymous RSS with 0, ⅛, ¼, ½ and all of
    /// `memory_streams` idle streams open, and again once one matching event
    /// has reached every stream; each figure is the least-squares slope.
    async fn watch_memory(&self) -> anyhow::Result<Report> {
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
fn slope(points: &[(f64, f64)]) -> f64 {
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
fn anon_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no RssAnon for process {pid}"))
}

impl Bench {
    /// File → accept → start → advise cycles: four audited writes each,
    /// the crisis service filing and the RET answering.
    async fn consultations(&self) -> anyhow::Result<Report> {
        const PERSON: &str = "spil-bench";
        let filers = self
            .clients("crisisdienst-zkh", self.args.connections)
            .await?;
        let team = Arc::new(
            self.clients("ret-zkh-ijmond", self.args.connections)
                .await?,
        );
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mut report = self
            .timed("consultation cycle (4 calls)", filers, move |filer, n| {
                let team = Arc::clone(&team);
                let request_id = format!("bench-{run}-{n}");
                async move {
                    let answerer = team[n as usize % team.len()].consultations(PERSON);
                    let cycle = async {
                        let id = filer
                            .consultations(PERSON)
                            .file_consultation(pb::FileConsultationRequest {
                                request_id,
                                addressee_id: "ret-zkh-ijmond".into(),
                                case_reference: format!("BENCH-{n}"),
                                age_years: 14,
                                municipality_code: "GM0392".into(),
                                problem_domains: vec![pb::ProblemDomain::MentalHealth as i32],
                                question_type: pb::QuestionType::Advice as i32,
                                urgency: pb::Urgency::Routine as i32,
                                question: "Welke behandelrichting past?".into(),
                                consent_recorded: true,
                            })
                            .await?
                            .into_inner()
                            .consultation
                            .unwrap_or_default()
                            .id;
                        let mut answerer = answerer;
                        answerer
                            .accept_consultation(pb::AcceptConsultationRequest {
                                consultation_id: id.clone(),
                                ..Default::default()
                            })
                            .await?;
                        answerer
                            .start_work(pb::StartWorkRequest {
                                consultation_id: id.clone(),
                                ..Default::default()
                            })
                            .await?;
                        answerer
                            .give_advice(pb::GiveAdviceRequest {
                                consultation_id: id,
                                advice: "Ambulant traject met systeemtherapie".into(),
                                ..Default::default()
                            })
                            .await?;
                        Ok::<_, tonic::Status>(())
                    };
                    cycle.await.is_ok()
                }
            })
            .await;
        report.note = format!(
            "{} in flight; ok/s counts whole cycles",
            self.args.concurrency
        );
        Ok(report)
    }
}

/// Per watcher: revision → (first arrival, times seen).
type Arrivals = std::collections::HashMap<u64, (Instant, u32)>;

/// One publication of a watch-latency run.
struct Publication {
    /// Its revision, once acknowledged.
    revision: Option<u64>,
    /// start + n / rate: when it was meant to leave.
    intended: Instant,
    /// When it actually left.
    sent: Instant,
    acked: Instant,
    /// False during the warm-up: sent and watched, not counted.
    counted: bool,
}

/// What the publisher of a watch-latency run did.
struct Publications {
    sent: Vec<Publication>,
    elapsed: Duration,
}

/// Publishes open loop: publication n is meant to leave at start + n/rate
/// and is sent then (or as soon as the sender catches up), without waiting
/// for earlier ones to be acknowledged. Those of the first `warm_up` are
/// not counted.
async fn open_loop_publications<F, Fut>(
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
        calls.spawn(async move {
            let sent = Instant::now();
            let revision = call.await;
            Publication {
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

/// Watch latency as arrival minus intended send time, never clamped; an
/// arrival before the send is an error, as are misses and duplicates. Ack
/// latency and arrival after ack are diagnostics in the note.
fn watch_report(
    name: &str,
    publications: &Publications,
    sinks: &[Arc<std::sync::Mutex<Arrivals>>],
    target_rate: u64,
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
    for sink in sinks {
        let arrivals = sink.lock().expect("arrivals");
        for publication in &counted {
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

fn bench_key(location: &str) -> pb::OfferingKey {
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
fn publication(n: u64) -> pb::PublishCapacityRequest {
    pb::PublishCapacityRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        updates: vec![pb::OfferingUpdate {
            key: Some(bench_key(&format!("bench-{:05}", n % 50))),
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
fn gzipped_len(bytes: &[u8]) -> anyhow::Result<usize> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

/// The encoded sizes of the search scenario's calls, for the sized echo.
#[derive(Clone, Copy)]
struct SearchSizes {
    request: usize,
    response: usize,
}

/// The search scenario's n-th search: a crisis search in one region after another.
fn search_request(regions: &[String], n: u64) -> pb::SearchPlacesRequest {
    pb::SearchPlacesRequest {
        region_ids: vec![regions[n as usize % regions.len()].clone()],
        child_age: Some(14),
        child_municipality_code: "GM0392".into(),
        include_unavailable: true,
        page_size: 50,
        ..Default::default()
    }
}

/// The median of each figure over repeated runs.
#[derive(Clone, Copy, Default)]
struct Medians {
    per_second: f64,
    p50: f64,
    p99: f64,
}

/// How far a figure moved between repeats: (largest − smallest) / median.
fn spread(values: &[f64]) -> f64 {
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The flood scenario's three figures.
struct Flood {
    other_quiet: Report,
    other_flooded: Report,
    refusals: Report,
}

/// A search a crisis service makes for a bed tonight, within `deadline`
/// (sent as the gRPC deadline) when one is given.
async fn crisis_search(
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
struct Overload {
    sent: u64,
    good: Histogram<u64>,
    refused: Histogram<u64>,
    late: u64,
    other_errors: u64,
}

impl Default for Overload {
    fn default() -> Self {
        Self {
            sent: 0,
            good: histogram(),
            refused: histogram(),
            late: 0,
            other_errors: 0,
        }
    }
}

impl Overload {
    fn add(&mut self, other: Overload) -> anyhow::Result<()> {
        self.sent += other.sent;
        self.good.add(other.good)?;
        self.refused.add(other.refused)?;
        self.late += other.late;
        self.other_errors += other.other_errors;
        Ok(())
    }
}

/// CPU seconds this process has used (user and system), from /proc.
fn own_cpu_seconds() -> f64 {
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
struct OpenLoop {
    admitted: Histogram<u64>,
    refused: Histogram<u64>,
    other_errors: u64,
    sent_per_second: f64,
    elapsed: Duration,
}

impl OpenLoop {
    /// The admitted calls as a report; a refusal is an error here.
    fn report(&self, name: &str) -> Report {
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
async fn open_loop<F, Fut>(
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

fn medians(reports: &[Report]) -> Medians {
    Medians {
        per_second: median(reports.iter().map(Report::per_second).collect()),
        p50: median(reports.iter().map(|r| r.ms(0.5)).collect()),
        p99: median(reports.iter().map(|r| r.ms(0.99)).collect()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ca = args.pki.join("server-ca.pem");
    let ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("failed to read {}", ca.display()))?;
    let bench = Bench {
        args,
        ca_pem,
        refusal_p99_ms: Default::default(),
        kib_per_stream: Default::default(),
        steady_runs: AtomicU64::new(0),
    };
    bench.seed().await?;
    let mut runs: std::collections::BTreeMap<&'static str, Vec<Report>> = Default::default();
    for round in 0..bench.args.repeat.max(1) {
        if bench.args.repeat > 1 {
            println!("# run {} of {}", round + 1, bench.args.repeat);
        }
        for scenario in bench.args.scenario.clone() {
            let mut measured: Vec<(&'static str, Report)> = Vec::new();
            match scenario {
                Scenario::Search => {
                    let (search, sizes) = bench.search().await?;
                    measured.push(("search", search));
                    let (gzip, _) = bench
                        .search_accepting(Some(CompressionEncoding::Gzip))
                        .await?;
                    measured.push(("search-gzip", gzip));
                    if let Some(echo) = &bench.args.echo {
                        measured.push(("echo-sized", bench.echo_sized(echo, sizes).await?));
                        measured.push(("echo-100", bench.echo_small(echo).await?));
                    }
                }
                Scenario::Publish => {
                    measured.push(("publish", bench.publish().await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-put", bench.etcd_put(etcd).await?));
                    }
                }
                Scenario::Holds => {
                    measured.push(("holds", bench.holds().await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-holds", bench.etcd_holds(etcd).await?));
                    }
                    measured.push(("holds-steady", bench.holds_steady().await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-steady", bench.etcd_steady(etcd).await?));
                    }
                }
                Scenario::WatchLatency => {
                    measured.push(("watch-1", bench.watch_latency(1).await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-watch-1", bench.etcd_watch_latency(etcd).await?));
                    }
                }
                Scenario::WatchFanout => {
                    measured.push(("watch-n", bench.watch_latency(bench.args.watchers).await?));
                }
                Scenario::Consultations => {
                    measured.push(("consultations", bench.consultations().await?));
                }
                Scenario::Overload => measured.extend(bench.overload().await?),
                Scenario::BoardLatency => {
                    if let Some(board) = bench.args.board.clone() {
                        for boards in bench.args.boards.clone() {
                            let key = if boards == 1 { "board-1" } else { "board-n" };
                            measured.push((key, bench.board_latency(&board, boards).await?));
                        }
                    }
                }
                Scenario::Flood => {
                    let flood = bench.flood().await?;
                    measured.push(("flood-other-quiet", flood.other_quiet));
                    measured.push(("flood-other-flooded", flood.other_flooded));
                    measured.push(("flood-refusals", flood.refusals));
                }
                Scenario::WatchMemory => {
                    if bench.args.hub_pid.is_some() {
                        measured.push(("watch-memory", bench.watch_memory().await?));
                    }
                }
            }
            for (key, report) in measured {
                report.print();
                runs.entry(key).or_default().push(report);
            }
        }
    }
    bench.print_summary(&runs);
    Ok(())
}

impl Bench {
    /// Medians of every scenario, then each hub figure as a ratio to its
    /// baseline from the same run, beside the target it is held to.
    fn print_summary(&self, runs: &std::collections::BTreeMap<&'static str, Vec<Report>>) {
        let m = |key: &str| runs.get(key).map(|r| medians(r));
        println!("\n## medians over {} run(s)", self.args.repeat.max(1));
        println!(
            "{:<16} {:>10} {:>10} {:>10}",
            "scenario", "per s", "p50 ms", "p99 ms"
        );
        for (key, reports) in runs {
            let x = medians(reports);
            println!(
                "{key:<16} {:>10.0} {:>10.2} {:>10.2}",
                x.per_second, x.p50, x.p99
            );
        }
        // A baseline whose rate moved more than 15 % between repeats makes
        // every ratio against it noisy.
        let baselines = [
            "echo-sized",
            "echo-100",
            "etcd-put",
            "etcd-holds",
            "etcd-steady",
            "etcd-watch-1",
            "overload-unloaded",
            "flood-other-quiet",
        ];
        let mut noisy = Vec::new();
        println!("\n## baselines between repeats (noisy above 15 %)");
        for key in baselines {
            if let Some(reports) = runs.get(key) {
                let rates: Vec<f64> = reports.iter().map(Report::per_second).collect();
                let spread = spread(&rates);
                let verdict = if spread > 0.15 {
                    noisy.push(key);
                    "NOISY"
                } else {
                    "steady"
                };
                println!("{key:<20} {:>6.1} %  {verdict}", spread * 100.0);
            }
        }
        println!("\n## ratios (target; stretch)");
        let ratio = |label: &str, value: f64, target: &str, baseline: &str| {
            let noise = if noisy.contains(&baseline) {
                "  (baseline noisy)"
            } else {
                ""
            };
            println!("{label:<56} {value:>8.2}   {target}{noise}");
        };
        if let (Some(search), Some(echo)) = (m("search"), m("echo-sized")) {
            ratio(
                "search throughput / sized echo throughput",
                search.per_second / echo.per_second,
                "≥ 0.50; 0.70",
                "echo-sized",
            );
            ratio(
                "search p99 / sized echo p99",
                search.p99 / echo.p99,
                "≤ 3; 2",
                "echo-sized",
            );
        }
        if let (Some(search), Some(gzip)) = (m("search"), m("search-gzip")) {
            // What compression costs the hub's CPU (it saves the wire, see the note).
            ratio(
                "search with gzip answers / plain (throughput)",
                gzip.per_second / search.per_second,
                "(cost)",
                "search",
            );
        }
        if let (Some(search), Some(echo)) = (m("search"), m("echo-100")) {
            ratio(
                "search throughput / 100-byte echo throughput",
                search.per_second / echo.per_second,
                "≥ 0.30",
                "echo-100",
            );
        }
        if let (Some(publish), Some(put)) = (m("publish"), m("etcd-put")) {
            ratio(
                "durable publish rate / etcd mTLS put rate",
                publish.per_second / put.per_second,
                "≥ 1.0",
                "etcd-put",
            );
        }
        if let (Some(watch), Some(etcd)) = (m("watch-1"), m("etcd-watch-1")) {
            ratio(
                "watch p50 from send / etcd's, 1 watcher",
                watch.p50 / etcd.p50,
                "≤ 2; 1",
                "etcd-watch-1",
            );
            ratio(
                "watch p99 from send / etcd's, 1 watcher",
                watch.p99 / etcd.p99,
                "≤ 2; 1",
                "etcd-watch-1",
            );
        }
        if let Some(fanout) = m("watch-n") {
            ratio(
                &format!("watch p99 from send, {} watchers (ms)", self.args.watchers),
                fanout.p99,
                "≤ 5 ms; 3 ms, 0 missed, 0 duplicated",
                "",
            );
        }
        if let (Some(holds), Some(slots)) = (m("holds"), m("etcd-holds")) {
            ratio(
                "holds granted/s / etcd slot reservation granted/s",
                holds.per_second / slots.per_second,
                "≥ 1.0; 2.0, exactly K every round",
                "etcd-holds",
            );
        }
        if let (Some(steady), Some(cas)) = (m("holds-steady"), m("etcd-steady")) {
            ratio(
                "steady holds/s / etcd compare-and-put/s",
                steady.per_second / cas.per_second,
                "≥ 1.0",
                "etcd-steady",
            );
        }
        if let (Some(overload), Some(backoff), Some(unloaded)) =
            (m("overload"), m("overload-backoff"), m("overload-unloaded"))
        {
            ratio(
                "overload goodput within D / unloaded, no back-off",
                overload.per_second / unloaded.per_second,
                "≥ 0.90; 0.95",
                "overload-unloaded",
            );
            ratio(
                "overload goodput within D / unloaded, back-off",
                backoff.per_second / unloaded.per_second,
                "(reported)",
                "overload-unloaded",
            );
            let refusals = median(self.refusal_p99_ms.lock().expect("refusals").clone());
            ratio(
                "overload refusal p99, no back-off (ms)",
                refusals,
                "< 5 ms; 1 ms",
                "",
            );
        }
        if let (Some(quiet), Some(flooded), Some(refusals)) = (
            m("flood-other-quiet"),
            m("flood-other-flooded"),
            m("flood-refusals"),
        ) {
            ratio(
                "flood: other organisation's search p99, flooded / quiet",
                flooded.p99 / quiet.p99,
                "≤ 2, no errors",
                "flood-other-quiet",
            );
            ratio(
                "flood: refusal p99 from intended send (ms)",
                refusals.p99,
                "< 10 ms",
                "",
            );
        }
        let memory = self.kib_per_stream.lock().expect("memory").clone();
        if !memory.is_empty() {
            ratio(
                "memory per idle watch stream (KiB, slope; largest run)",
                memory.into_iter().fold(0.0, f64::max),
                "≤ 8; 4",
                "",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_publication(start: Instant) -> Publications {
        Publications {
            sent: vec![Publication {
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
