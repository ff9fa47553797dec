//! Durability of the real binary: what the hub acknowledged survives `kill -9`.

mod common;

use common::{client, start_demo};
use spil_client::pb;

fn crisis_bed_update(free: u32) -> pb::OfferingUpdate {
    pb::OfferingUpdate {
        key: Some(pb::OfferingKey {
            location_id: "kenter-crisis-haarlem".into(),
            place_type: pb::PlaceType::CrisisBed as i32,
            care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
            age_band: Some(pb::AgeBand {
                min_age: 4,
                max_age: 11,
            }),
            gender_policy: pb::GenderPolicy::Any as i32,
            security_level: pb::SecurityLevel::Open as i32,
        }),
        intake: pb::Intake::AroundTheClock as i32,
        lead_time_days: 0,
        total_places: 6,
        free_places: free,
        waiting_days: 0,
        observed_at: None,
    }
}

#[tokio::test]
async fn acknowledged_publications_and_holds_survive_kill_minus_nine() {
    let dir = std::env::temp_dir().join(format!("spil-crash-{}", uuid::Uuid::new_v4()));
    let (mut hub, address) = start_demo(&dir).await;
    let provider = client(&dir, &address, "kenter").await;
    let crisis = client(&dir, &address, "crisisdienst-zkh").await;

    let publish = pb::PublishCapacityRequest {
        request_id: "before-the-crash".into(),
        updates: vec![crisis_bed_update(5)],
    };
    let published = provider
        .capacity()
        .publish_capacity(publish.clone())
        .await
        .unwrap()
        .into_inner();
    let offering = published.offerings[0].id.clone();
    let hold = crisis
        .capacity()
        .hold_place(pb::HoldPlaceRequest {
            request_id: "hold-before-the-crash".into(),
            offering_id: offering.clone(),
            child_municipality_code: "GM0392".into(),
            duration: None,
        })
        .await
        .unwrap()
        .into_inner()
        .hold
        .unwrap();

    hub.start_kill().unwrap(); // SIGKILL: no shutdown, no flush beyond what commit did
    hub.wait().await.unwrap();

    let (_hub, address) = start_demo(&dir).await;
    let provider = client(&dir, &address, "kenter").await;
    let crisis = client(&dir, &address, "crisisdienst-zkh").await;
    let holds = crisis
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        holds.holds.iter().any(|h| h.id == hold.id),
        "the acknowledged hold was lost"
    );
    let again = provider
        .capacity()
        .publish_capacity(publish)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.revision, published.revision,
        "the publication was applied again or lost"
    );
    let offering = &again.offerings[0];
    assert_eq!(
        (
            offering.published_free_places,
            offering.held_places,
            offering.available_places
        ),
        (5, 1, 4)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
