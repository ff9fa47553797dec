//! Holds: many crisis services racing for few places, and the steady state
//! of holds spread over many offerings.

use crate::*;

impl Bench {
    /// Many crisis services race for few places; successes must equal the places.
    pub(crate) async fn holds(&self) -> anyhow::Result<Report> {
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
    pub(crate) async fn holds_steady(&self) -> anyhow::Result<Report> {
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
}
