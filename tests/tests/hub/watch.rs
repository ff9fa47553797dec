//! The capacity watch: every change once, in order, across reconnects.

use super::support::{assert_bad_field, assert_code};
use spil_tests::fixtures::*;
use spil_tests::{TestHub, pb};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;

const PATIENCE: Duration = Duration::from_secs(10);

async fn next(
    stream: &mut tonic::Streaming<pb::WatchCapacityResponse>,
) -> pb::WatchCapacityResponse {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("a watch message within the patience")
        .expect("the stream is open")
        .expect("a message, not an error")
}

async fn publish_free(provider: &spil_client::SpilClient, request_id: &str, free: u32) -> u64 {
    provider
        .capacity()
        .publish_capacity(publish(
            request_id,
            vec![update(crisis_key("kenter-haarlem"), 5, free)],
        ))
        .await
        .unwrap()
        .into_inner()
        .revision
}

#[tokio::test]
async fn a_watch_resumed_after_a_disconnect_misses_nothing_and_repeats_nothing() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let first = publish_free(&provider, "p0", 5).await;

    let mut stream = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            include_snapshot: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let snapshot = next(&mut stream).await;
    assert!(snapshot.snapshot);
    assert_eq!(snapshot.revision, first);
    assert_eq!(snapshot.offerings[0].available_places, 5);

    let r1 = publish_free(&provider, "p1", 4).await;
    let r2 = publish_free(&provider, "p2", 3).await;
    let got = [next(&mut stream).await, next(&mut stream).await];
    assert_eq!(got.iter().map(|m| m.revision).collect::<Vec<_>>(), [r1, r2]);
    assert_eq!(got[1].offerings[0].published_free_places, 3);
    let last_seen = got[1].revision;
    drop(stream);

    // Changes made while disconnected: publications and a hold.
    let r3 = publish_free(&provider, "p3", 2).await;
    let offering = got[1].offerings[0].id.clone();
    crisis
        .capacity()
        .hold_place(hold("h1", &offering))
        .await
        .unwrap();
    let r5 = publish_free(&provider, "p5", 1).await;

    let mut resumed = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            start_revision: last_seen,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    super::support::capacity_watch_start(&mut resumed).await;
    let mut revisions = Vec::new();
    while revisions.last() != Some(&r5) {
        revisions.push(next(&mut resumed).await.revision);
    }
    assert_eq!(
        revisions.len(),
        3,
        "expected the two publications and the hold: {revisions:?}"
    );
    assert_eq!(revisions[0], r3);
    assert!(
        revisions.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated: {revisions:?}"
    );
    assert!(revisions.iter().all(|r| *r > last_seen));
}

#[tokio::test]
async fn a_hold_and_its_expiry_reach_the_providers_watch() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    publish_free(&provider, "p0", 1).await;
    let mut stream = provider
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    super::support::capacity_watch_start(&mut stream).await;
    let found = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap()
        .into_inner();
    let offering = found.results[0].offering.as_ref().unwrap().id.clone();
    crisis
        .capacity()
        .hold_place(hold("h1", &offering))
        .await
        .unwrap();
    let held = next(&mut stream).await;
    assert_eq!(
        (
            held.offerings[0].held_places,
            held.offerings[0].available_places
        ),
        (1, 0)
    );

    hub.clock.advance(chrono::Duration::minutes(31));
    let expired = next(&mut stream).await;
    assert!(expired.revision > held.revision);
    assert_eq!(
        (
            expired.offerings[0].held_places,
            expired.offerings[0].available_places
        ),
        (0, 1)
    );
}

#[tokio::test]
async fn a_provider_watches_only_its_own_locations() {
    let hub = TestHub::spawn().await;
    let kenter = hub.client_as("kenter").await;
    let ijmond = hub.client_as("consortium-ijmond").await;
    kenter
        .capacity()
        .upsert_location(location("kenter-haarlem", "GM0392"))
        .await
        .unwrap();
    ijmond
        .capacity()
        .upsert_location(location("ijmond-beverwijk", "GM0375"))
        .await
        .unwrap();
    let mut stream = kenter
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    super::support::capacity_watch_start(&mut stream).await;
    ijmond
        .capacity()
        .publish_capacity(publish(
            "i1",
            vec![update(crisis_key("ijmond-beverwijk"), 2, 2)],
        ))
        .await
        .unwrap();
    let own = publish_free(&kenter, "k1", 2).await;
    let message = next(&mut stream).await;
    assert_eq!(
        message.revision, own,
        "another provider's change reached this watch"
    );
}

#[tokio::test]
async fn a_revision_ahead_of_the_registry_is_out_of_range() {
    let hub = TestHub::spawn().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let result = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            start_revision: 1_000_000,
            ..Default::default()
        })
        .await;
    assert_code(result.map(|_| ()), Code::OutOfRange);
}

#[tokio::test]
async fn a_revision_pruned_from_the_change_log_is_out_of_range() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let r1 = publish_free(&provider, "p1", 1).await;
    let r2 = publish_free(&provider, "p2", 2).await;
    hub.clock.advance(chrono::Duration::days(8));
    let r3 = publish_free(&provider, "p3", 3).await;
    let pruned = hub.hub().app().registry.prune_change_log().await.unwrap();
    assert_eq!(pruned, 2, "the two week-old revisions leave the log");

    let result = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            start_revision: r1,
            ..Default::default()
        })
        .await;
    assert_code(result.map(|_| ()), Code::OutOfRange);

    // From the last pruned revision on, nothing is missing: the stream resumes.
    let mut stream = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            start_revision: r2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    super::support::capacity_watch_start(&mut stream).await;
    assert_eq!(next(&mut stream).await.revision, r3);
}

/// A watch started "from now" learns its starting revision at once; ended
/// by its replica's shutdown, it is told where to resume; resumed there on
/// another replica, it gets what was published in between, once.
#[tokio::test]
async fn a_watch_from_now_resumes_across_a_shutdown_without_losing_a_change() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let before = publish_free(&provider, "p0", 5).await;
    let replica = hub.spawn_replica().await;
    let watcher = hub.client_at(&replica, "crisisdienst-zkh").await;
    let mut stream = watcher
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    let start = super::support::capacity_watch_start(&mut stream).await;
    assert_eq!(start, before, "it starts after the latest commit");

    replica.stop().await.unwrap();
    let ended = tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("the stream ends at shutdown")
        .expect("with a status")
        .expect_err("an error, not a message");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert_eq!(spil_client::resume_revision(&ended), Some(start));

    // Published while the watcher was away, on the other replica.
    let missed = publish_free(&provider, "p1", 4).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut resumed = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            start_revision: start,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        super::support::capacity_watch_start(&mut resumed).await,
        start
    );
    assert_eq!(next(&mut resumed).await.revision, missed);
}

#[tokio::test]
async fn a_watch_replays_the_log_from_its_oldest_kept_revision() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let published = [
        publish_free(&provider, "p1", 1).await,
        publish_free(&provider, "p2", 2).await,
        publish_free(&provider, "p3", 3).await,
    ];
    let mut stream = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            from_oldest_kept: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let start = super::support::capacity_watch_start(&mut stream).await;
    assert!(start < published[0]);
    let mut seen = Vec::new();
    while seen.last() != Some(&published[2]) {
        seen.push(next(&mut stream).await.revision);
    }
    assert!(published.iter().all(|r| seen.contains(r)), "{seen:?}");
    assert_bad_field(
        crisis
            .capacity()
            .watch_capacity(pb::WatchCapacityRequest {
                from_oldest_kept: true,
                start_revision: 1,
                ..Default::default()
            })
            .await
            .map(drop),
        "start_revision",
    );
}

/// `spil_client::follow` resumes where it was: a replica that stops ends
/// the stream with the revision to resume after, the follower reopens on
/// the other replica and the next change arrives once, nothing missed.
#[tokio::test]
async fn the_clients_follower_resumes_on_another_replica_without_loss() {
    use spil_client::follow::{Interruption, follow};
    use std::sync::{Arc, Mutex};

    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    let kenter = hub.kenter_with_location().await;
    let on_replica = hub.client_at(&replica, "crisisdienst-zkh").await;
    let on_hub = hub.client_as("crisisdienst-zkh").await;
    let (seen, mut arrivals) = tokio::sync::mpsc::unbounded_channel();
    let interruptions = Arc::new(Mutex::new(Vec::new()));
    let told = Arc::clone(&interruptions);
    // Followed from a known revision, so no change can slip in before the
    // stream opens.
    let from = kenter
        .capacity()
        .publish_capacity(publish(
            "follow-0",
            vec![update(crisis_key("kenter-haarlem"), 4, 3)],
        ))
        .await
        .unwrap()
        .into_inner()
        .revision;
    let mut opened = 0;
    let mut changes = 0;
    let follower = tokio::spawn(async move {
        follow(
            from,
            move |last| {
                opened += 1;
                // The first stream on the replica, every later one on the hub.
                let client = if opened == 1 {
                    on_replica.clone()
                } else {
                    on_hub.clone()
                };
                async move {
                    client
                        .capacity()
                        .watch_capacity(pb::WatchCapacityRequest {
                            start_revision: last,
                            ..Default::default()
                        })
                        .await
                        .map(tonic::Response::into_inner)
                }
            },
            move |change: &pb::WatchCapacityResponse| {
                let _ = seen.send(change.revision);
                changes += 1;
                Ok::<_, tonic::Status>(changes < 2)
            },
            move |interruption| {
                if let Interruption::Ended { resume_after, .. } = interruption {
                    told.lock().unwrap().push(resume_after);
                }
            },
        )
        .await
    });
    let first = kenter
        .capacity()
        .publish_capacity(publish(
            "follow-1",
            vec![update(crisis_key("kenter-haarlem"), 4, 2)],
        ))
        .await
        .unwrap()
        .into_inner()
        .revision;
    let arrived = tokio::time::timeout(PATIENCE, arrivals.recv()).await;
    assert_eq!(arrived.unwrap(), Some(first));

    replica.stop().await.unwrap();
    let second = kenter
        .capacity()
        .publish_capacity(publish(
            "follow-2",
            vec![update(crisis_key("kenter-haarlem"), 4, 1)],
        ))
        .await
        .unwrap()
        .into_inner()
        .revision;
    let arrived = tokio::time::timeout(PATIENCE, arrivals.recv()).await;
    assert_eq!(arrived.unwrap(), Some(second));
    tokio::time::timeout(PATIENCE, follower)
        .await
        .expect("the follower ends after two changes")
        .unwrap()
        .unwrap();
    assert_eq!(*interruptions.lock().unwrap(), vec![first]);
}
