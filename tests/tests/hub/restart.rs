//! Durability: what was acknowledged survives a restart.

use spil_tests::fixtures::*;
use spil_tests::{TestHub, backends, pb};

#[tokio::test]
async fn a_restart_keeps_every_acknowledged_publication_and_hold() {
    for backend in backends() {
        let mut hub = TestHub::spawn_on(backend).await;
        let provider = hub.kenter_with_location().await;
        let crisis = hub.client_as("crisisdienst-zkh").await;
        let published = provider
            .capacity()
            .publish_capacity(publish(
                "p1",
                vec![update(crisis_key("kenter-haarlem"), 4, 3)],
            ))
            .await
            .unwrap()
            .into_inner();
        let offering = published.offerings[0].id.clone();
        let held = hold_granted(&crisis, "h1", &offering).await;

        hub.restart().await;

        let crisis = hub.client_as("crisisdienst-zkh").await;
        let found = crisis
            .capacity()
            .search_places(crisis_search())
            .await
            .unwrap()
            .into_inner();
        let offering = found.results[0].offering.as_ref().unwrap();
        assert_eq!(
            (
                offering.published_free_places,
                offering.held_places,
                offering.available_places
            ),
            (3, 1, 2)
        );
        assert_eq!(found.revision, published.revision + 1, "{backend:?}");
        let holds = crisis
            .capacity()
            .list_holds(pb::ListHoldsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(holds.holds[0].id, held.id);
        // The idempotency record survived too: a retry is answered, not applied again.
        let again = crisis
            .capacity()
            .hold_place(hold("h1", &offering.id))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.hold.unwrap().id, held.id);
        hub.stop().await;
    }
}
