//! Boards as a nation would have them: many watch streams, each following
//! one region, several on one connection, while publications at a national
//! pace land in every region. Each watcher is to see its region's changes
//! once and no other region's.

use crate::*;

impl Bench {
    /// `watchers` streams, watcher `w` following region `w mod regions`,
    /// at most 200 on one connection; publications open loop at `rate`,
    /// each on one of the seeded locations, spread over every region.
    /// Latency from each publication's intended send to its arrival at every
    /// watcher of its region; a change of another region reaching a watcher
    /// counts as an error, as do misses and duplicates.
    pub(crate) async fn watch_regions(&self, watchers: usize, rate: u64) -> anyhow::Result<Report> {
        anyhow::ensure!(
            self.args.seed_locations > 0,
            "the region watch publishes on the seeded locations: seed some"
        );
        let provider = self.clients("kenter", 1).await?.remove(0);
        // The region of each seeded location, as `seed` placed them.
        let regions = provider
            .directory()
            .list_regions(pb::ListRegionsRequest {})
            .await?
            .into_inner()
            .regions;
        let region_ids: Vec<String> = regions.iter().map(|r| r.id.clone()).collect();
        let by_municipality: Vec<usize> = regions
            .iter()
            .enumerate()
            .flat_map(|(r, region)| region.municipalities.iter().map(move |_| r))
            .collect();
        let locations = self.args.seed_locations as u64;
        let location_of = move |n: u64| (n * 7919) % locations;
        let region_of = {
            let by_municipality = by_municipality.clone();
            move |n: u64| by_municipality[location_of(n) as usize % by_municipality.len()]
        };
        let watcher_region = |w: usize| w % region_ids.len();

        let connections = self
            .clients("crisisdienst-zkh", watchers.div_ceil(200).max(1))
            .await?;
        let mut sinks = Vec::with_capacity(watchers);
        let mut readers = Vec::with_capacity(watchers);
        let mut opening = Vec::with_capacity(watchers);
        for w in 0..watchers {
            let client = connections[w % connections.len()].clone();
            let region = region_ids[watcher_region(w)].clone();
            opening.push(async move {
                let mut stream = client
                    .capacity()
                    .watch_capacity(pb::WatchCapacityRequest {
                        filter: Some(pb::WatchFilter {
                            region_ids: vec![region],
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                // Open once the hub has said where the stream starts.
                stream.next().await.transpose()?;
                Ok::<_, anyhow::Error>(stream)
            });
        }
        let mut opened = Vec::with_capacity(watchers);
        let mut opening = opening.into_iter();
        loop {
            let batch: Vec<_> = opening.by_ref().take(500).collect();
            if batch.is_empty() {
                break;
            }
            for stream in futures::future::join_all(batch).await {
                opened.push(stream?);
            }
        }
        for stream in opened {
            let (sink, reader) = record_arrivals(stream);
            sinks.push(sink);
            readers.push(reader);
        }
        let sent = open_loop_publications(
            rate,
            self.warm_up(),
            Duration::from_secs_f64(self.args.seconds),
            move |n| {
                let mut capacity = provider.capacity();
                let i = location_of(n);
                async move {
                    let request = pb::PublishCapacityRequest {
                        request_id: uuid::Uuid::new_v4().to_string(),
                        updates: vec![seeded_update(i, (n % 4) as u32)],
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
        let expects = |w: usize, p: &Publication| region_of(p.n) == watcher_region(w);
        let name = format!("watch, {watchers} following one region each, {rate}/s");
        let mut report = watch_report_of(&name, &sent, &sinks, rate, &expects);
        let foreign = foreign_deliveries(&sent, &sinks, &expects);
        report.errors += foreign;
        report.note = format!("{}; {foreign} of another region", report.note);
        Ok(report)
    }
}

/// The update `seed` made for location `i`'s first offering (crisis beds,
/// 12 to 17), with `free` places: the same offering, new figures.
fn seeded_update(i: u64, free: u32) -> pb::OfferingUpdate {
    pb::OfferingUpdate {
        key: Some(pb::OfferingKey {
            location_id: format!("bench-{i:05}"),
            place_type: 1,
            care_profiles: vec![1 + (i % 5) as i32],
            age_band: Some(pb::AgeBand {
                min_age: 12,
                max_age: 17,
            }),
            gender_policy: pb::GenderPolicy::Any as i32,
            security_level: pb::SecurityLevel::Open as i32,
        }),
        intake: pb::Intake::AroundTheClock as i32,
        lead_time_days: 0,
        total_places: 4,
        free_places: free,
        waiting_days: (i % 40) as u32,
        observed_at: None,
    }
}

/// Deliveries of a counted publication to a watcher not meant to see it.
pub(crate) fn foreign_deliveries(
    publications: &Publications,
    sinks: &[Arc<std::sync::Mutex<Arrivals>>],
    expects: &dyn Fn(usize, &Publication) -> bool,
) -> u64 {
    let mut foreign = 0;
    for (watcher, sink) in sinks.iter().enumerate() {
        let arrivals = sink.lock().expect("arrivals");
        for publication in publications.sent.iter().filter(|p| p.counted) {
            let arrived = publication
                .revision
                .and_then(|revision| arrivals.get(&revision));
            if arrived.is_some() && !expects(watcher, publication) {
                foreign += 1;
            }
        }
    }
    foreign
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two publications, revisions 7 (region 0) and 8 (region 1); one
    /// watcher of region 0.
    fn two_regions(start: Instant) -> Publications {
        let publication = |n: u64, revision: u64| Publication {
            n,
            revision: Some(revision),
            intended: start,
            sent: start + Duration::from_millis(1),
            acked: start + Duration::from_millis(10),
            counted: true,
        };
        Publications {
            sent: vec![publication(0, 7), publication(1, 8)],
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_watcher_answers_only_for_its_region_and_another_regions_change_is_an_error() {
        let start = Instant::now();
        let publications = two_regions(start);
        let expects = |_: usize, p: &Publication| p.n == 0;
        let at = start + Duration::from_millis(5);
        let own_only = Arc::new(std::sync::Mutex::new(Arrivals::from([(7, (at, 1))])));
        let report = watch_report_of(
            "t",
            &publications,
            std::slice::from_ref(&own_only),
            1,
            &expects,
        );
        assert_eq!((report.ok, report.errors), (1, 0), "{}", report.note);
        assert_eq!(foreign_deliveries(&publications, &[own_only], &expects), 0);
        let both = Arc::new(std::sync::Mutex::new(Arrivals::from([
            (7, (at, 1)),
            (8, (at, 1)),
        ])));
        assert_eq!(foreign_deliveries(&publications, &[both], &expects), 1);
        let none = Arc::new(std::sync::Mutex::new(Arrivals::new()));
        let report = watch_report_of("t", &publications, &[none], 1, &expects);
        assert_eq!(
            (report.ok, report.errors),
            (0, 1),
            "one missed: {}",
            report.note
        );
    }
}
