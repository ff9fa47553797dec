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
    let offering = provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![update(crisis_key("kenter-haarlem"), 5, 5)],
        ))
        .await
        .unwrap()
        .into_inner()
        .offerings[0]
        .id
        .clone();
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
