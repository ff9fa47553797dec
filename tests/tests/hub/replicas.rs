//! Several hubs on one database: the invariant and the watch hold across replicas.

use spil_tests::fixtures::*;
use spil_tests::{TestHub, pb};
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_racing_on_two_replicas_never_exceed_the_free_places() {
    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    let provider = hub.kenter_with_location().await;
    let offering = crisis_bed_offering(&provider, "kenter-haarlem", 5, 5).await;
    let clients = [
        hub.client_as("crisisdienst-zkh").await,
        hub.client_at(&replica, "crisisdienst-haaglanden").await,
    ];
    let attempts = (0..100).map(|i| {
        let mut capacity = clients[i % 2].capacity();
        let request = hold(&format!("race-{i}"), &offering);
        tokio::spawn(async move { capacity.hold_place(request).await })
    });
    let mut granted = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.unwrap() {
            Ok(_) => granted += 1,
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}"),
        }
    }
    assert_eq!(granted, 5);
    replica.stop().await.unwrap();
    hub.stop().await;
}

#[tokio::test]
async fn a_publication_on_one_replica_reaches_a_watch_on_another() {
    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    let provider = hub.kenter_with_location().await;
    let watcher = hub.client_at(&replica, "crisisdienst-zkh").await;
    let mut stream = watcher
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap()
        .into_inner();
    super::support::capacity_watch_start(&mut stream).await;
    let published = provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![update(crisis_key("kenter-haarlem"), 2, 2)],
        ))
        .await
        .unwrap()
        .into_inner();
    let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the other replica's commit arrives")
        .unwrap()
        .unwrap();
    assert_eq!(message.revision, published.revision);
    drop(stream);
    replica.stop().await.unwrap();
    hub.stop().await;
}

/// A watch following one region is woken by its region's changes only;
/// a change on another replica wakes it too, and another region's never
/// reaches it.
#[tokio::test]
async fn a_watch_of_one_region_sees_its_regions_changes_from_any_replica_and_no_other() {
    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    let provider = hub.kenter_with_location().await;
    provider
        .capacity()
        .upsert_location(location("kenter-leiden", "GM0546"))
        .await
        .unwrap();
    let watcher = hub.client_at(&replica, "crisisdienst-zkh").await;
    let mut stream = watcher
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            filter: Some(pb::WatchFilter {
                region_ids: vec!["zuid-kennemerland".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    super::support::capacity_watch_start(&mut stream).await;
    for (n, (location, free)) in [
        ("kenter-leiden", 3),
        ("kenter-haarlem", 2),
        ("kenter-leiden", 1),
        ("kenter-haarlem", 1),
    ]
    .into_iter()
    .enumerate()
    {
        let published = provider
            .capacity()
            .publish_capacity(publish(
                &format!("p{n}"),
                vec![update(crisis_key(location), 4, free)],
            ))
            .await
            .unwrap()
            .into_inner();
        if location == "kenter-leiden" {
            continue;
        }
        let message = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the region's change arrives")
            .unwrap()
            .unwrap();
        assert_eq!(message.revision, published.revision, "{message:?}");
        assert_eq!(message.offerings.len(), 1);
        assert_eq!(
            message.offerings[0].key.as_ref().unwrap().location_id,
            "kenter-haarlem"
        );
        assert_eq!(message.offerings[0].published_free_places, free);
    }
    drop(stream);
    replica.stop().await.unwrap();
    hub.stop().await;
}

#[tokio::test]
async fn a_search_on_one_replica_sees_what_was_just_committed_on_another() {
    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_at(&replica, "crisisdienst-zkh").await;
    for (i, free) in [3, 1, 2].into_iter().enumerate() {
        provider
            .capacity()
            .publish_capacity(publish(
                &format!("p{i}"),
                vec![update(crisis_key("kenter-haarlem"), 4, free)],
            ))
            .await
            .unwrap();
        let found = crisis
            .capacity()
            .search_places(crisis_search())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            found.results[0].offering.as_ref().unwrap().available_places,
            free
        );
    }
    replica.stop().await.unwrap();
    hub.stop().await;
}

/// Codes a write racing an identical or conflicting write may end with.
/// INTERNAL or UNKNOWN would mean a database collision leaked as a bug.
const RACE_OUTCOMES: &[Code] = &[
    Code::Ok,
    Code::PermissionDenied,
    Code::AlreadyExists,
    Code::FailedPrecondition,
    Code::Aborted,
];

fn code_of<T>(result: &Result<T, tonic::Status>) -> Code {
    result.as_ref().map_or_else(|s| s.code(), |_| Code::Ok)
}

#[track_caller]
fn assert_race_outcomes<T>(what: &str, results: &[Result<T, tonic::Status>]) {
    for result in results {
        if let Err(status) = result {
            assert!(RACE_OUTCOMES.contains(&status.code()), "{what}: {status:?}");
        }
    }
}

/// Every kind of write, sent at the same moment to two replicas on one
/// database, with the same request id (or the same new key): each ends in
/// one stored outcome, and none answers INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_write_racing_on_two_replicas_stores_one_outcome() {
    let hub = TestHub::spawn().await;
    let replica = hub.spawn_replica().await;
    const ROUNDS: usize = 8;

    // One provider creating the same new location on both: both succeed.
    let kenter = [
        hub.client_as("kenter").await,
        hub.client_at(&replica, "kenter").await,
    ];
    for round in 0..ROUNDS {
        let id = format!("kenter-new-{round}");
        let results = futures::future::join_all(kenter.iter().map(|c| {
            let mut capacity = c.capacity();
            let request = location(&id, "GM0392");
            async move { capacity.upsert_location(request).await }
        }))
        .await;
        assert_race_outcomes("same provider, same location", &results);
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let created = results
            .iter()
            .filter(|r| r.as_ref().unwrap().get_ref().created)
            .count();
        assert_eq!(created, 1, "one of them created it");
    }

    // Two providers racing for one new location id: one owns it.
    let rivals = [
        hub.client_as("kenter").await,
        hub.client_at(&replica, "consortium-ijmond").await,
    ];
    for round in 0..ROUNDS {
        let id = format!("contested-{round}");
        let results = futures::future::join_all(rivals.iter().map(|c| {
            let mut capacity = c.capacity();
            let request = location(&id, "GM0392");
            async move { capacity.upsert_location(request).await }
        }))
        .await;
        assert_race_outcomes("two providers, one location", &results);
        let codes: Vec<Code> = results.iter().map(code_of).collect();
        assert_eq!(
            codes.iter().filter(|c| **c == Code::Ok).count(),
            1,
            "{codes:?}"
        );
    }

    // The same publication (one request id) on both: one revision.
    hub.kenter_with_location().await;
    for round in 0..ROUNDS {
        let request_id = format!("publish-{round}");
        let results = futures::future::join_all(kenter.iter().map(|c| {
            let mut capacity = c.capacity();
            let request = publish(
                &request_id,
                vec![update(crisis_key("kenter-haarlem"), 6, 6)],
            );
            async move { capacity.publish_capacity(request).await }
        }))
        .await;
        assert_race_outcomes("one publication twice", &results);
        let revisions: Vec<u64> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| r.get_ref().revision)
            .collect();
        assert!(revisions.windows(2).all(|w| w[0] == w[1]), "{revisions:?}");
    }
    let offering = kenter[0]
        .capacity()
        // A place for every round: a confirmation keeps its place.
        .publish_capacity(publish(
            "latest",
            vec![update(crisis_key("kenter-haarlem"), 20, 20)],
        ))
        .await
        .unwrap()
        .into_inner()
        .offerings[0]
        .id
        .clone();

    // The same hold (one request id) on both: one hold; then confirm on
    // one and release on the other at once: one of them wins.
    let crisis = [
        hub.client_as("crisisdienst-zkh").await,
        hub.client_at(&replica, "crisisdienst-zkh").await,
    ];
    for round in 0..ROUNDS {
        let request_id = format!("hold-{round}");
        let results = futures::future::join_all(crisis.iter().map(|c| {
            let mut capacity = c.capacity();
            let request = hold(&request_id, &offering);
            async move { capacity.hold_place(request).await }
        }))
        .await;
        assert_race_outcomes("one hold twice", &results);
        let ids: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| r.get_ref().hold.as_ref().unwrap().id.clone())
            .collect();
        assert!(
            !ids.is_empty() && ids.iter().all(|id| *id == ids[0]),
            "{results:?}"
        );
        let hold_id = ids[0].clone();
        let mut confirm = crisis[0].capacity();
        let mut release = crisis[1].capacity();
        let (confirmed, released) = tokio::join!(
            confirm.confirm_hold(pb::ConfirmHoldRequest {
                hold_id: hold_id.clone()
            }),
            release.release_hold(pb::ReleaseHoldRequest { hold_id }),
        );
        assert_race_outcomes("confirm", std::slice::from_ref(&confirmed));
        assert_race_outcomes("release", std::slice::from_ref(&released));
        assert_eq!(
            [code_of(&confirmed), code_of(&released)]
                .iter()
                .filter(|c| **c == Code::Ok)
                .count(),
            1,
            "{confirmed:?} {released:?}"
        );
    }

    // The same consultation (one request id) filed on both: one consultation;
    // the same message posted on both: one message.
    let filers = [
        hub.client_as("crisisdienst-zkh")
            .await
            .consultations("J. de Vries"),
        hub.client_at(&replica, "crisisdienst-zkh")
            .await
            .consultations("J. de Vries"),
    ];
    for round in 0..ROUNDS {
        let request_id = format!("file-{round}");
        let results = futures::future::join_all(filers.iter().map(|c| {
            let mut c = c.clone();
            let request = consultation(&request_id, "ret-zkh-ijmond");
            async move { c.file_consultation(request).await }
        }))
        .await;
        assert_race_outcomes("one filing twice", &results);
        let ids: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| r.get_ref().consultation.as_ref().unwrap().id.clone())
            .collect();
        assert!(
            !ids.is_empty() && ids.iter().all(|id| *id == ids[0]),
            "{ids:?}"
        );
        let message_id = format!("message-{round}");
        let posted = futures::future::join_all(filers.iter().map(|c| {
            let mut c = c.clone();
            let request = pb::PostMessageRequest {
                consultation_id: ids[0].clone(),
                text: "Is er al een plek gevonden?".into(),
                request_id: message_id.clone(),
            };
            async move { c.post_message(request).await }
        }))
        .await;
        assert_race_outcomes("one message twice", &posted);
        let thread = filers[0]
            .clone()
            .list_messages(pb::ListMessagesRequest {
                consultation_id: ids[0].clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(thread.messages.len(), 1);
    }
    replica.stop().await.unwrap();
    hub.stop().await;
}
