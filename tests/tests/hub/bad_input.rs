//! Bad input: INVALID_ARGUMENT naming the field, and nothing stored.

use super::support::{assert_bad_field, assert_code};
use prost::Message as _;
use spil_tests::fixtures::*;
use spil_tests::{TestHub, pb};
use tonic::Code;

#[tokio::test]
async fn malformed_publications_name_the_offending_field() {
    let hub = TestHub::spawn().await;
    let provider = hub.kenter_with_location().await;
    let mut capacity = provider.capacity();

    let mut unspecified = crisis_key("kenter-haarlem");
    unspecified.place_type = pb::PlaceType::Unspecified as i32;
    assert_bad_field(
        capacity
            .publish_capacity(publish("b1", vec![update(unspecified, 1, 1)]))
            .await,
        "updates[0].key.place_type",
    );

    let mut inverted = crisis_key("kenter-haarlem");
    inverted.age_band = Some(pb::AgeBand {
        min_age: 17,
        max_age: 12,
    });
    assert_bad_field(
        capacity
            .publish_capacity(publish("b2", vec![update(inverted, 1, 1)]))
            .await,
        "updates[0].key.age_band",
    );

    let mut too_old = crisis_key("kenter-haarlem");
    too_old.age_band = Some(pb::AgeBand {
        min_age: 12,
        max_age: 30,
    });
    assert_bad_field(
        capacity
            .publish_capacity(publish("b3", vec![update(too_old, 1, 1)]))
            .await,
        "updates[0].key.age_band",
    );

    assert_bad_field(
        capacity
            .publish_capacity(publish(
                "b4",
                vec![update(crisis_key("kenter-haarlem"), 2, 3)],
            ))
            .await,
        "updates[0].free_places",
    );

    let mut no_profile = crisis_key("kenter-haarlem");
    no_profile.care_profiles.clear();
    assert_bad_field(
        capacity
            .publish_capacity(publish("b5", vec![update(no_profile, 1, 1)]))
            .await,
        "updates[0].key.care_profiles",
    );

    assert_bad_field(
        capacity
            .publish_capacity(publish(
                "b6",
                vec![
                    update(crisis_key("kenter-haarlem"), 1, 1),
                    update(crisis_key("kenter-haarlem"), 2, 2),
                ],
            ))
            .await,
        "updates[1].key",
    );

    let mut future = update(crisis_key("kenter-haarlem"), 1, 1);
    let later = spil_tests::epoch() + chrono::Duration::hours(1);
    future.observed_at = Some(prost_types::Timestamp {
        seconds: later.timestamp(),
        nanos: 0,
    });
    assert_bad_field(
        capacity.publish_capacity(publish("b7", vec![future])).await,
        "updates[0].observed_at",
    );

    assert_bad_field(
        capacity
            .publish_capacity(publish(
                "",
                vec![update(crisis_key("kenter-haarlem"), 1, 1)],
            ))
            .await,
        "request_id",
    );
    assert_bad_field(
        capacity.publish_capacity(publish("b8", vec![])).await,
        "updates",
    );

    assert_bad_field(
        capacity
            .upsert_location(location("kenter-elders", "GM9999"))
            .await,
        "location.municipality_code",
    );
    assert_bad_field(
        capacity
            .upsert_location(location("Bad Id!", "GM0392"))
            .await,
        "location.id",
    );

    // Nothing of the refused requests was stored.
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let overview = pb::SearchPlacesRequest {
        include_unavailable: true,
        ..crisis_search()
    };
    assert!(
        crisis
            .capacity()
            .search_places(overview)
            .await
            .unwrap()
            .into_inner()
            .results
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_searches_and_holds_name_the_offending_field() {
    let hub = TestHub::spawn().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut capacity = crisis.capacity();

    let unspecified = pb::SearchPlacesRequest {
        place_types: vec![0],
        ..crisis_search()
    };
    assert_bad_field(capacity.search_places(unspecified).await, "place_types[0]");
    let too_old = pb::SearchPlacesRequest {
        child_age: Some(24),
        ..crisis_search()
    };
    assert_bad_field(capacity.search_places(too_old).await, "child_age");
    let region = pb::SearchPlacesRequest {
        region_ids: vec!["atlantis".into()],
        ..crisis_search()
    };
    assert_bad_field(capacity.search_places(region).await, "region_ids[0]");
    let municipality = pb::SearchPlacesRequest {
        child_municipality_code: "GM9999".into(),
        ..crisis_search()
    };
    assert_bad_field(
        capacity.search_places(municipality).await,
        "child_municipality_code",
    );
    let negative = pb::SearchPlacesRequest {
        page_size: -1,
        ..crisis_search()
    };
    assert_bad_field(capacity.search_places(negative).await, "page_size");
    let tampered = pb::SearchPlacesRequest {
        page_token: "bm90LWEtdG9rZW4".into(),
        ..crisis_search()
    };
    assert_bad_field(capacity.search_places(tampered).await, "page_token");

    let mut long = hold("h1", "some-offering");
    long.duration = Some(prost_types::Duration {
        seconds: 4 * 3600 + 1,
        nanos: 0,
    });
    assert_bad_field(capacity.hold_place(long).await, "duration");
    let mut nowhere = hold("h2", "some-offering");
    nowhere.child_municipality_code = "GM9999".into();
    assert_bad_field(
        capacity.hold_place(nowhere).await,
        "child_municipality_code",
    );
    assert_code(
        capacity.hold_place(hold("h3", "no-such-offering")).await,
        Code::NotFound,
    );
    assert_bad_field(
        capacity
            .confirm_hold(pb::ConfirmHoldRequest {
                hold_id: String::new(),
            })
            .await,
        "hold_id",
    );
}

#[tokio::test]
async fn a_page_token_from_one_query_is_refused_by_another() {
    let hub = TestHub::spawn().await;
    let provider = hub.client_as("kenter").await;
    for id in ["loc-a", "loc-b"] {
        provider
            .capacity()
            .upsert_location(location(id, "GM0392"))
            .await
            .unwrap();
    }
    provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![
                update(crisis_key("loc-a"), 1, 1),
                update(crisis_key("loc-b"), 1, 1),
            ],
        ))
        .await
        .unwrap();
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let first = crisis
        .capacity()
        .search_places(pb::SearchPlacesRequest {
            page_size: 1,
            ..crisis_search()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    let other_query = pb::SearchPlacesRequest {
        page_size: 1,
        page_token: first.next_page_token,
        child_age: Some(13),
        ..crisis_search()
    };
    assert_bad_field(
        crisis.capacity().search_places(other_query).await,
        "page_token",
    );
}

#[tokio::test]
async fn an_oversized_person_header_is_refused_naming_it() {
    let hub = TestHub::spawn().await;
    let client = hub.client_as("crisisdienst-zkh").await;
    let mut consultations = pb::consultations_client::ConsultationsClient::new(client.channel());
    // Up to the hub's metadata limit (64 KiB with every header, base64
    // included), the hub itself answers and names the field.
    for size in [101, 4_000, 20_000] {
        let mut request =
            tonic::Request::new(consultation(&format!("big-{size}"), "ret-zkh-ijmond"));
        request.metadata_mut().insert_bin(
            "x-spil-person-bin",
            tonic::metadata::MetadataValue::from_bytes("ë".repeat(size).as_bytes()),
        );
        assert_bad_field(
            consultations.file_consultation(request).await,
            "x-spil-person",
        );
        let mut request =
            tonic::Request::new(consultation(&format!("big-ascii-{size}"), "ret-zkh-ijmond"));
        request
            .metadata_mut()
            .insert("x-spil-person", "a".repeat(size).parse().unwrap());
        assert_bad_field(
            consultations.file_consultation(request).await,
            "x-spil-person",
        );
    }
}

#[tokio::test]
async fn a_request_larger_than_its_kind_needs_is_refused_before_decoding() {
    let hub = TestHub::spawn().await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    // 20,000 municipality codes: about 160 KB, over the 64 KiB a search may have.
    let search = pb::SearchPlacesRequest {
        municipality_codes: vec!["GM0392".into(); 20_000],
        ..crisis_search()
    };
    let refused = crisis.capacity().search_places(search).await;
    let status = assert_code(refused, Code::ResourceExhausted);
    assert!(
        status.message().contains("SearchPlacesRequest"),
        "{status:?}"
    );
    // A publication batch has more room: one of 100 KB is decoded (and
    // then refused for what it says, not for its size).
    let provider = hub.kenter_with_location().await;
    let updates = (0..500)
        .map(|_| update(crisis_key(&"x".repeat(200)), 3, 1))
        .collect::<Vec<_>>();
    let request = publish("batch", updates);
    assert!(
        request.encoded_len() > 64 * 1024,
        "{}",
        request.encoded_len()
    );
    assert_code(
        provider.capacity().publish_capacity(request).await,
        Code::InvalidArgument,
    );
}
