//! Publications and search: what a crisis worker sees.

use super::support::assert_bad_field;
use spil_tests::fixtures::*;
use spil_tests::{TestHub, pb};

/// Crisis staff phone before they drive: each location carries its intake
/// desk's number, shown with every offering found there.
#[tokio::test]
async fn a_location_carries_its_intake_phone_to_every_search() {
    let hub = TestHub::spawn().await;
    let kenter = hub.client_as("kenter").await;
    let mut with_phone = location("kenter-haarlem", "GM0392");
    with_phone.location.as_mut().unwrap().intake_phone = "023-555 01 00".into();
    let stored = kenter
        .capacity()
        .upsert_location(with_phone)
        .await
        .unwrap()
        .into_inner()
        .location
        .unwrap();
    assert_eq!(stored.intake_phone, "023-555 01 00");
    crisis_bed_offering(&kenter, "kenter-haarlem", 2, 1).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let found = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap()
        .into_inner();
    let shown = found.results[0]
        .offering
        .as_ref()
        .unwrap()
        .location
        .as_ref()
        .unwrap();
    assert_eq!(shown.intake_phone, "023-555 01 00");

    // A nine-digit number (the shape of a BSN) or a fragment is no phone number.
    for bad in ["111222333", "555-0100", "bel de receptie"] {
        let mut request = location("kenter-haarlem", "GM0392");
        request.location.as_mut().unwrap().intake_phone = bad.into();
        assert_bad_field(
            kenter.capacity().upsert_location(request).await,
            "location.intake_phone",
        );
    }
}

#[tokio::test]
async fn a_publication_is_found_by_search_and_counts_only_while_fresh() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    provider
        .capacity()
        .upsert_location(location("kenter-heemstede", "GM0397"))
        .await
        .unwrap();
    let published = provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![
                update(crisis_key("kenter-haarlem"), 4, 3),
                update(crisis_key("kenter-heemstede"), 2, 1),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(published.offerings.len(), 2);
    assert!(published.revision > 0);

    let found = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap()
        .into_inner();
    let free: Vec<(String, u32)> = found
        .results
        .iter()
        .map(|r| {
            let o = r.offering.as_ref().unwrap();
            (
                o.key.as_ref().unwrap().location_id.clone(),
                o.available_places,
            )
        })
        .collect();
    assert_eq!(
        free,
        [
            ("kenter-haarlem".to_string(), 3),
            ("kenter-heemstede".to_string(), 1)
        ]
    );
    assert_eq!(found.revision, published.revision);

    // A 9-year-old does not fit a 12-17 band; a secure search finds no open bed.
    let young = pb::SearchPlacesRequest {
        child_age: Some(9),
        ..crisis_search()
    };
    assert!(
        crisis
            .capacity()
            .search_places(young)
            .await
            .unwrap()
            .into_inner()
            .results
            .is_empty()
    );
    let secure = pb::SearchPlacesRequest {
        security_level: Some(pb::SecurityLevel::Secure as i32),
        ..crisis_search()
    };
    assert!(
        crisis
            .capacity()
            .search_places(secure)
            .await
            .unwrap()
            .into_inner()
            .results
            .is_empty()
    );

    // Twelve hours after the observation a crisis bed is stale: not found as
    // available, and listed as stale with nothing available when asked for.
    hub.clock.advance(chrono::Duration::hours(12));
    let found = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap()
        .into_inner();
    assert!(
        found.results.is_empty(),
        "stale offerings were offered: {found:?}"
    );
    let overview = pb::SearchPlacesRequest {
        include_unavailable: true,
        ..crisis_search()
    };
    let all = crisis
        .capacity()
        .search_places(overview)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.results.len(), 2);
    for result in &all.results {
        let offering = result.offering.as_ref().unwrap();
        assert_eq!(offering.freshness, pb::Freshness::Stale as i32);
        assert_eq!(offering.available_places, 0);
    }
}

#[tokio::test]
async fn results_are_sorted_by_free_places_then_freshness_then_distance_and_page_stably() {
    let hub = TestHub::spawn().await;
    let provider = hub.client_as("kenter").await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    // Haarlem (near the child), Leiden (further), Den Haag (furthest), all with coordinates.
    let places = [
        ("near", "GM0392", 52.381, 4.637),
        ("mid", "GM0546", 52.160, 4.497),
        ("far", "GM0518", 52.078, 4.288),
    ];
    for (id, municipality, lat, lon) in places {
        let mut request = location(id, municipality);
        request.location.as_mut().unwrap().coordinates = Some(pb::Coordinates {
            latitude: lat,
            longitude: lon,
        });
        provider.capacity().upsert_location(request).await.unwrap();
    }
    let updates = vec![
        update(crisis_key("far"), 2, 2),
        update(crisis_key("near"), 2, 2),
        update(crisis_key("mid"), 2, 2),
    ];
    provider
        .capacity()
        .publish_capacity(publish("p1", updates))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = crisis
            .capacity()
            .search_places(pb::SearchPlacesRequest {
                page_size: 1,
                page_token: token,
                ..crisis_search()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 3);
        seen.extend(page.results.iter().map(|r| {
            (
                r.offering
                    .as_ref()
                    .unwrap()
                    .key
                    .as_ref()
                    .unwrap()
                    .location_id
                    .clone(),
                r.distance_km.is_some(),
            )
        }));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let order: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(order, ["near", "mid", "far"]);
    assert!(seen.iter().all(|(_, has_distance)| *has_distance));
}

#[tokio::test]
async fn a_search_that_finds_no_fresh_free_place_is_recorded_as_unmet_demand() {
    let hub = TestHub::spawn().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let store = hub.hub().app().store();
    assert_eq!(store.unmet_demand_count().await.unwrap(), 0);
    let found = crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap()
        .into_inner();
    assert!(found.results.is_empty());
    assert_eq!(store.unmet_demand_count().await.unwrap(), 1);

    let provider = hub.kenter_with_location().await;
    provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![update(crisis_key("kenter-haarlem"), 1, 1)],
        ))
        .await
        .unwrap();
    crisis
        .capacity()
        .search_places(crisis_search())
        .await
        .unwrap();
    assert_eq!(
        store.unmet_demand_count().await.unwrap(),
        1,
        "a met search was recorded as unmet"
    );
}

#[tokio::test]
async fn a_publication_is_atomic_when_one_update_is_refused() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let refused = provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![
                update(crisis_key("kenter-haarlem"), 3, 3),
                update(crisis_key("not-a-location"), 1, 1),
            ],
        ))
        .await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::NotFound);
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let overview = pb::SearchPlacesRequest {
        include_unavailable: true,
        ..crisis_search()
    };
    let found = crisis
        .capacity()
        .search_places(overview)
        .await
        .unwrap()
        .into_inner();
    assert!(
        found.results.is_empty(),
        "a refused batch left partial state: {found:?}"
    );
}

#[tokio::test]
async fn a_retried_publication_returns_the_original_revision() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let request = publish("p1", vec![update(crisis_key("kenter-haarlem"), 3, 3)]);
    let first = provider
        .capacity()
        .publish_capacity(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = provider
        .capacity()
        .publish_capacity(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.revision, again.revision);
    assert_eq!(first.offerings[0].id, again.offerings[0].id);
    let reused = provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![update(crisis_key("kenter-haarlem"), 3, 1)],
        ))
        .await;
    assert_eq!(reused.unwrap_err().code(), tonic::Code::AlreadyExists);
}

#[tokio::test]
async fn a_location_that_moves_takes_its_offerings_to_the_new_region() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![update(crisis_key("kenter-haarlem"), 2, 2)],
        ))
        .await
        .unwrap();
    let in_region = |region: &str| pb::SearchPlacesRequest {
        region_ids: vec![region.into()],
        ..crisis_search()
    };
    let found = crisis
        .capacity()
        .search_places(in_region("zuid-kennemerland"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.results.len(), 1);

    let mut moved = location("kenter-haarlem", "GM0546");
    moved.location.as_mut().unwrap().name = "Kenter, now in Leiden".into();
    provider.capacity().upsert_location(moved).await.unwrap();
    let old = crisis
        .capacity()
        .search_places(in_region("zuid-kennemerland"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        old.results.is_empty(),
        "the offering stayed in its old region"
    );
    let new = crisis
        .capacity()
        .search_places(in_region("holland-rijnland"))
        .await
        .unwrap()
        .into_inner();
    let location = new.results[0]
        .offering
        .as_ref()
        .unwrap()
        .location
        .clone()
        .unwrap();
    assert_eq!(
        (location.name.as_str(), location.region_id.as_str()),
        ("Kenter, now in Leiden", "holland-rijnland")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publications_commit_together_yet_each_stands_alone() {
    let mut hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    // A revision to watch from (0 would mean "from now").
    let before = provider
        .capacity()
        .publish_capacity(publish(
            "initial",
            vec![update(crisis_key("kenter-haarlem"), 60, 1)],
        ))
        .await
        .unwrap()
        .into_inner()
        .revision;
    // Arriving at once, these share commits: a refused one, and retries of
    // one request, must not disturb the others.
    let calls = (0..60u32).map(|i| {
        let mut capacity = provider.capacity();
        let request = match i % 6 {
            0 => publish(
                &format!("refused-{i}"),
                vec![update(crisis_key("not-a-location"), 1, 1)],
            ),
            1 => publish("retried", vec![update(crisis_key("kenter-haarlem"), 9, 9)]),
            _ => publish(
                &format!("p-{i}"),
                vec![update(crisis_key("kenter-haarlem"), 60, i)],
            ),
        };
        tokio::spawn(async move { (i, capacity.publish_capacity(request).await) })
    });
    let mut accepted = Vec::new();
    let mut retried = Vec::new();
    for call in futures::future::join_all(calls).await {
        let (i, result) = call.unwrap();
        match i % 6 {
            0 => assert_eq!(result.unwrap_err().code(), tonic::Code::NotFound),
            1 => retried.push(result.unwrap().into_inner().revision),
            _ => accepted.push((result.unwrap().into_inner().revision, i)),
        }
    }
    retried.dedup();
    assert_eq!(retried.len(), 1, "every retry answers with one revision");
    let mut revisions: Vec<u64> = accepted.iter().map(|(r, _)| *r).collect();
    revisions.push(retried[0]);
    revisions.sort_unstable();
    revisions.dedup();
    assert_eq!(revisions.len(), 41, "one revision per accepted publication");
    assert_eq!(
        (revisions[0], revisions[40]),
        (before + 1, before + 41),
        "refused publications leave no hole in the revisions"
    );

    // The watch replays exactly those revisions, in order.
    let mut stream = crisis
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest {
            start_revision: before,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    super::support::capacity_watch_start(&mut stream).await;
    let mut watched = Vec::new();
    while watched.len() < revisions.len() {
        let message = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tokio_stream::StreamExt::next(&mut stream),
        )
        .await
        .unwrap_or_else(|_| panic!("every revision arrives: got {watched:?} of {revisions:?}"))
        .unwrap()
        .unwrap();
        watched.push(message.revision);
    }
    assert_eq!(watched, revisions);
    drop(stream);

    // What was acknowledged survives a restart: the last publication stands.
    let (_, last_free) = accepted.iter().max().copied().unwrap();
    let last_free = if revisions[40] == retried[0] {
        9
    } else {
        last_free
    };
    hub.restart().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let found = crisis
        .capacity()
        .search_places(pb::SearchPlacesRequest {
            include_unavailable: true,
            ..crisis_search()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.revision, before + 41);
    assert_eq!(
        found.results[0]
            .offering
            .as_ref()
            .unwrap()
            .published_free_places,
        last_free
    );
    hub.stop().await;
}
