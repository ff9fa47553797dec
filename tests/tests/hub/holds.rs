//! Holds: granted only while a fresh place is free, and never twice.

use super::support::{assert_code, assert_precondition};
use futures::StreamExt;
use spil_tests::fixtures::*;
use spil_tests::{Backend, TestHub, backends, pb};
use tonic::Code;

async fn one_offering(hub: &TestHub, total: u32, free: u32) -> String {
    let provider = hub.kenter_with_location().await;
    crisis_bed_offering(&provider, "kenter-haarlem", total, free).await
}

async fn available(hub: &TestHub) -> u32 {
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
    found.results[0].offering.as_ref().unwrap().available_places
}

#[tokio::test]
async fn a_hold_takes_a_place_and_confirm_release_and_expiry_decide_its_fate() {
    let hub = TestHub::spawn().await;
    let offering = one_offering(&hub, 4, 2).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;

    let confirmed = hold_granted(&crisis, "h1", &offering).await;
    assert_eq!(confirmed.state, pb::HoldState::Active as i32);
    assert_eq!(available(&hub).await, 1);
    let placed = crisis
        .capacity()
        .confirm_hold(pb::ConfirmHoldRequest {
            hold_id: confirmed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .hold
        .unwrap();
    assert_eq!(placed.state, pb::HoldState::Confirmed as i32);
    assert_eq!(available(&hub).await, 1, "a placement keeps its place");

    let released = hold_granted(&crisis, "h2", &offering).await;
    assert_eq!(available(&hub).await, 0);
    assert_precondition(
        crisis.capacity().hold_place(hold("h3", &offering)).await,
        "NO_FREE_PLACE",
    );
    crisis
        .capacity()
        .release_hold(pb::ReleaseHoldRequest {
            hold_id: released.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        available(&hub).await,
        1,
        "a released hold returns its place at once"
    );
    assert_precondition(
        crisis
            .capacity()
            .confirm_hold(pb::ConfirmHoldRequest {
                hold_id: released.id,
            })
            .await,
        "HOLD_RELEASED",
    );

    // A hold that runs out returns its place without anyone calling.
    let lapsing = hold_granted(&crisis, "h4", &offering).await;
    assert_eq!(available(&hub).await, 0);
    hub.clock.advance(chrono::Duration::minutes(30));
    assert_eq!(available(&hub).await, 1);
    assert_precondition(
        crisis
            .capacity()
            .confirm_hold(pb::ConfirmHoldRequest {
                hold_id: lapsing.id.clone(),
            })
            .await,
        "HOLD_EXPIRED",
    );
    let listed = crisis
        .capacity()
        .list_holds(pb::ListHoldsRequest {
            states: vec![pb::HoldState::Expired as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .holds
            .iter()
            .map(|h| h.id.as_str())
            .collect::<Vec<_>>(),
        [lapsing.id.as_str()]
    );

    // A new publication restates the provider's count: earlier placements are in it.
    let provider = hub.client_as("kenter").await;
    provider
        .capacity()
        .publish_capacity(publish(
            "p2",
            vec![update(crisis_key("kenter-haarlem"), 4, 2)],
        ))
        .await
        .unwrap();
    assert_eq!(available(&hub).await, 2);
}

#[tokio::test]
async fn a_stale_offering_cannot_be_held() {
    let hub = TestHub::spawn().await;
    let offering = one_offering(&hub, 2, 2).await;
    hub.clock.advance(chrono::Duration::hours(13));
    let crisis = hub.client_as("crisisdienst-zkh").await;
    assert_precondition(
        crisis.capacity().hold_place(hold("h1", &offering)).await,
        "OFFERING_STALE",
    );
}

#[tokio::test]
async fn a_retried_hold_returns_the_same_hold_and_a_reused_request_id_is_refused() {
    let hub = TestHub::spawn().await;
    let offering = one_offering(&hub, 3, 3).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let first = hold_granted(&crisis, "h1", &offering).await;
    let again = hold_granted(&crisis, "h1", &offering).await;
    assert_eq!(first.id, again.id);
    assert_eq!(available(&hub).await, 2, "a retry took a second place");
    let mut different = hold("h1", &offering);
    different.child_municipality_code = "GM0375".into();
    assert_code(
        crisis.capacity().hold_place(different).await,
        Code::AlreadyExists,
    );
    // A retry is answered with its hold even when no place is left now,
    // and a request id reused for an offering that does not exist is
    // refused as reused, not as not found.
    hold_granted(&crisis, "h2", &offering).await;
    hold_granted(&crisis, "h3", &offering).await;
    assert_eq!(available(&hub).await, 0);
    let once_more = hold_granted(&crisis, "h1", &offering).await;
    assert_eq!(first.id, once_more.id);
    assert_code(
        crisis
            .capacity()
            .hold_place(hold("h1", "no-such-offering"))
            .await,
        Code::AlreadyExists,
    );
}

async fn race(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let offering = one_offering(&hub, 5, 5).await;
    let clients = [
        hub.client_as("crisisdienst-zkh").await,
        hub.client_as("crisisdienst-haaglanden").await,
    ];
    let attempts = (0..200).map(|i| {
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
    assert_eq!(
        granted, 5,
        "{backend:?}: {granted} holds granted on 5 places"
    );
    assert_eq!(available(&hub).await, 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_holds_on_five_places_grant_exactly_five() {
    for backend in backends() {
        race(backend).await;
    }
}

/// An organisation that runs crisis beds and is a crisis service too (as a
/// joint out-of-hours service with its own unit may be) sees every hold it
/// made and every hold on its own beds, follows the whole registry, and
/// lists every location.
#[tokio::test]
async fn roles_add_up_for_an_organisation_with_several() {
    use spil_hub::domain::identity::{OrgId, Organisation, Role};
    let hub = TestHub::spawn().await;
    hub.hub()
        .app()
        .directory
        .register_organisation(&Organisation {
            id: OrgId::parse("spoed-en-bed").unwrap(),
            name: "Spoed en Bed".into(),
            roles: [Role::Provider, Role::CrisisService].into(),
            home_region_id: "zuid-kennemerland".into(),
            served_region_ids: Default::default(),
        })
        .await
        .unwrap();
    let both = hub.client_as("spoed-en-bed").await;
    both.capacity()
        .upsert_location(location("spoed-haarlem", "GM0392"))
        .await
        .unwrap();
    let own = crisis_bed_offering(&both, "spoed-haarlem", 4, 4).await;
    let kenters = one_offering(&hub, 4, 4).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let on_own_bed = hold_granted(&crisis, "theirs", &own).await;
    let made_elsewhere = hold_granted(&both, "mine", &kenters).await;

    let listed = both
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<String> = listed.holds.into_iter().map(|h| h.id).collect();
    ids.sort();
    let mut expected = vec![on_own_bed.id, made_elsewhere.id];
    expected.sort();
    assert_eq!(ids, expected);

    let locations = both
        .capacity()
        .list_locations(pb::ListLocationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(locations.locations.iter().any(|l| l.id == "kenter-haarlem"));

    // Kenter alone is only a provider: its own beds' holds, not the other one.
    let kenter_holds = hub
        .client_as("kenter")
        .await
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kenter_holds.holds.len(), 1);
    assert_eq!(kenter_holds.holds[0].offering_id, kenters);
}

/// One crisis service floods the hub at many times its share: its excess is
/// refused at once with RESOURCE_EXHAUSTED and RetryInfo, and another crisis
/// service's searches meanwhile all succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_one_organisation_does_not_starve_another() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.org_calls_per_second = 20;
        config.org_call_burst = 20;
    })
    .await;
    one_offering(&hub, 4, 4).await;
    let flooder = hub.client_as("crisisdienst-haaglanden").await;
    let flood = tokio::spawn(async move {
        // 1,000 searches as fast as 50 at a time go: 50× the share of 20/s.
        futures::stream::iter(0..1000)
            .map(|_| {
                let mut capacity = flooder.capacity();
                async move { capacity.search_places(crisis_search()).await }
            })
            .buffer_unordered(50)
            .collect::<Vec<_>>()
            .await
    });
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut other_errors = Vec::new();
    for _ in 0..15 {
        if let Err(status) = crisis.capacity().search_places(crisis_search()).await {
            other_errors.push(status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let results = flood.await.unwrap();
    assert!(other_errors.is_empty(), "{other_errors:?}");
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        refused.len() >= 900,
        "only {} of 1000 refused",
        refused.len()
    );
    for status in refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        let retry = tonic_types::StatusExt::get_details_retry_info(status);
        assert!(retry.is_some_and(|r| r.retry_delay.is_some()), "{status:?}");
    }
}

/// Watch streams count against their organisation's cap until they end.
#[tokio::test]
async fn watches_beyond_an_organisations_cap_are_refused_until_one_ends() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.org_max_watches = 2;
    })
    .await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let open = || async {
        crisis
            .capacity()
            .watch_capacity(pb::WatchCapacityRequest::default())
            .await
    };
    let first = open().await.unwrap().into_inner();
    let _second = open().await.unwrap().into_inner();
    let refused = open().await.expect_err("a third watch is over the cap");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let mut consult = crisis.consultations("J. de Vries");
    let refused = consult
        .watch_consultations(pb::WatchConsultationsRequest::default())
        .await
        .expect_err("consultation watches share the cap");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Another organisation has a cap of its own.
    hub.client_as("kenter")
        .await
        .capacity()
        .watch_capacity(pb::WatchCapacityRequest::default())
        .await
        .unwrap();
    drop(first);
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open().await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(
                    std::time::Instant::now() < patience,
                    "the slot never came back"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Over the hub's limit of calls in flight, a call is refused at once with
/// RESOURCE_EXHAUSTED and RetryInfo instead of queueing; the rest are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_beyond_the_in_flight_limit_are_refused_at_once() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.max_in_flight = 2;
    })
    .await;
    one_offering(&hub, 4, 4).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let results = futures::future::join_all((0..200).map(|_| {
        let mut capacity = crisis.capacity();
        async move { capacity.search_places(crisis_search()).await }
    }))
    .await;
    let served = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(served >= 2, "some are served: {served}");
    assert!(!refused.is_empty(), "200 at once over a limit of 2");
    for status in refused {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        let retry = tonic_types::StatusExt::get_details_retry_info(status);
        assert!(retry.is_some_and(|r| r.retry_delay.is_some()), "{status:?}");
    }
}
