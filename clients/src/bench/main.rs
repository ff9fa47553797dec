//! `spil-bench`: a load generator for a running hub, over real mTLS with the
//! project's own client. Reports throughput and latency percentiles per
//! scenario, as a table and as JSON lines.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use spil_client::{Identity, SpilClient, pb};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

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
    #[arg(long, value_enum, num_args = 1.., default_values = ["search", "publish", "holds", "watch-latency"])]
    scenario: Vec<Scenario>,
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
    /// Publications per second in the watch-latency scenario.
    #[arg(long, default_value_t = 200)]
    publish_rate: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Search,
    Publish,
    Holds,
    WatchLatency,
    Consultations,
}

/// What one scenario measured.
struct Report {
    name: String,
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latency_us: Histogram<u64>,
    note: String,
}

impl Report {
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
}

impl Bench {
    async fn clients(&self, org: &str, n: usize) -> anyhow::Result<Vec<SpilClient>> {
        let identity = Identity::from_files(
            self.args.pki.join("orgs").join(format!("{org}.pem")),
            self.args.pki.join("orgs").join(format!("{org}-key.pem")),
        )?;
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            clients.push(
                SpilClient::connect(&self.args.hub, &self.ca_pem, Some(identity.clone())).await?,
            );
        }
        Ok(clients)
    }

    /// Runs `call` from `concurrency` tasks until the time is up.
    async fn timed<F, Fut>(&self, name: &str, clients: Vec<SpilClient>, call: F) -> Report
    where
        F: Fn(SpilClient, u64) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let call = Arc::new(call);
        let deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
        let counter = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..self.args.concurrency)
            .map(|i| {
                let client = clients[i % clients.len()].clone();
                let call = Arc::clone(&call);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let (mut latency, mut ok, mut errors) = (histogram(), 0u64, 0u64);
                    while Instant::now() < deadline {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let t = Instant::now();
                        if call(client.clone(), n).await {
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
            note: format!("{} in flight", self.args.concurrency),
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

    async fn search(&self) -> anyhow::Result<Report> {
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
        Ok(self
            .timed("search (region, page 50)", clients, move |client, n| {
                let regions = Arc::clone(&regions);
                async move {
                    let request = pb::SearchPlacesRequest {
                        region_ids: vec![regions[n as usize % regions.len()].clone()],
                        child_age: Some(14),
                        child_municipality_code: "GM0392".into(),
                        include_unavailable: true,
                        page_size: 50,
                        ..Default::default()
                    };
                    client.capacity().search_places(request).await.is_ok()
                }
            })
            .await)
    }

    async fn publish(&self) -> anyhow::Result<Report> {
        let clients = self.clients("kenter", self.args.connections).await?;
        Ok(self
            .timed("publish (1 offering)", clients, |client, n| async move {
                let request = pb::PublishCapacityRequest {
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
                };
                client.capacity().publish_capacity(request).await.is_ok()
            })
            .await)
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
        let deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
        let mut rounds = 0;
        let mut exact = true;
        while Instant::now() < deadline {
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
            report.elapsed += started.elapsed();
            let mut granted = Vec::new();
            for result in results {
                let (result, took) = result?;
                let _ = report.latency_us.record(took.as_micros() as u64);
                match result {
                    Ok(id) => granted.push(id),
                    Err(_) => report.errors += 1,
                }
            }
            exact &= granted.len() == PLACES as usize;
            report.ok += granted.len() as u64;
            for id in granted {
                crisis[0]
                    .capacity()
                    .release_hold(pb::ReleaseHoldRequest { hold_id: id })
                    .await?;
            }
            rounds += 1;
        }
        report.note = format!(
            "{rounds} rounds, {}; ok/s counts granted holds",
            if exact {
                "exactly 50 granted each round"
            } else {
                "WRONG COUNT"
            }
        );
        Ok(report)
    }

    /// Time from a publication's acknowledgement to its arrival at a watcher.
    async fn watch_latency(&self) -> anyhow::Result<Report> {
        let provider = self.clients("kenter", 1).await?.remove(0);
        let watcher = self.clients("crisisdienst-zkh", 1).await?.remove(0);
        let mut stream = watcher
            .capacity()
            .watch_capacity(pb::WatchCapacityRequest::default())
            .await?
            .into_inner();
        let arrivals = Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
            u64,
            Instant,
        >::new()));
        let sink = Arc::clone(&arrivals);
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                sink.lock()
                    .expect("arrivals")
                    .insert(message.revision, Instant::now());
            }
        });
        let interval = Duration::from_secs_f64(1.0 / self.args.publish_rate as f64);
        let deadline = Instant::now() + Duration::from_secs_f64(self.args.seconds);
        let mut acks = Vec::new();
        let started = Instant::now();
        let mut tick = tokio::time::interval(interval);
        let mut n = 0u64;
        while Instant::now() < deadline {
            tick.tick().await;
            n += 1;
            let published = provider
                .capacity()
                .publish_capacity(pb::PublishCapacityRequest {
                    request_id: uuid::Uuid::new_v4().to_string(),
                    updates: vec![pb::OfferingUpdate {
                        key: Some(bench_key("bench-00001")),
                        intake: pb::Intake::AroundTheClock as i32,
                        lead_time_days: 0,
                        total_places: 4,
                        free_places: (n % 5) as u32,
                        waiting_days: 0,
                        observed_at: None,
                    }],
                })
                .await?
                .into_inner();
            acks.push((published.revision, Instant::now()));
        }
        let elapsed = started.elapsed();
        tokio::time::sleep(Duration::from_secs(1)).await;
        reader.abort();
        let arrivals = arrivals.lock().expect("arrivals");
        let mut report = Report {
            name: "watch latency (1 watcher)".into(),
            ok: 0,
            errors: 0,
            elapsed,
            latency_us: histogram(),
            note: String::new(),
        };
        for (revision, acked) in &acks {
            match arrivals.get(revision) {
                Some(arrived) => {
                    report.ok += 1;
                    let _ =
                        report.latency_us.record(
                            arrived.saturating_duration_since(*acked).as_micros().max(1) as u64,
                        );
                }
                None => report.errors += 1,
            }
        }
        report.note = format!(
            "target {}/s; errors are publications never seen",
            self.args.publish_rate
        );
        Ok(report)
    }
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ca = args.pki.join("server-ca.pem");
    let ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("failed to read {}", ca.display()))?;
    let bench = Bench { args, ca_pem };
    bench.seed().await?;
    for scenario in bench.args.scenario.clone() {
        let report = match scenario {
            Scenario::Search => bench.search().await?,
            Scenario::Publish => bench.publish().await?,
            Scenario::Holds => bench.holds().await?,
            Scenario::WatchLatency => bench.watch_latency().await?,
            Scenario::Consultations => bench.consultations().await?,
        };
        report.print();
    }
    Ok(())
}
