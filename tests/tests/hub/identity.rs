//! mTLS identity: who gets in, and what each role may do.

use super::support::assert_code;
use spil_client::Identity;
use spil_hub::domain::identity::OrgId;
use spil_hub::pki::{CertificateAuthority, Validity};
use spil_tests::fixtures::*;
use spil_tests::{TestHub, pb};
use tonic::Code;

/// A connection that must not be served: the handshake or the first call fails.
async fn assert_refused(hub: &TestHub, identity: Option<Identity>) {
    match hub.connect(identity).await {
        Err(_) => {}
        Ok(client) => {
            let result = client.directory().who_am_i(pb::WhoAmIRequest {}).await;
            assert!(
                result.is_err(),
                "a refused certificate was served: {result:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_registered_organisation_is_identified_by_its_certificate() {
    let hub = TestHub::spawn().await;
    let me = hub
        .client_as("crisisdienst-zkh")
        .await
        .directory()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    let org = me.organisation.unwrap();
    assert_eq!(org.id, "crisisdienst-zkh");
    assert_eq!(org.roles, vec![pb::Role::CrisisService as i32]);
    assert_eq!(
        me.certificate_identity,
        "spiffe://spil.local/org/crisisdienst-zkh"
    );
}

#[tokio::test]
async fn no_certificate_a_foreign_ca_an_expired_and_a_revoked_certificate_are_refused() {
    let hub = TestHub::spawn().await;
    assert_refused(&hub, None).await;

    let foreign = CertificateAuthority::generate("someone else's CA").unwrap();
    let cert = foreign
        .issue_client(
            &OrgId::parse("kenter").unwrap(),
            Validity::days_from_now(30),
        )
        .unwrap();
    assert_refused(
        &hub,
        Some(Identity {
            cert_pem: cert.cert_pem,
            key_pem: cert.key_pem,
        }),
    )
    .await;

    let now = time::OffsetDateTime::now_utc();
    let expired = hub
        .client_ca
        .issue_client(
            &OrgId::parse("kenter").unwrap(),
            Validity {
                not_before: now - time::Duration::days(30),
                not_after: now - time::Duration::days(1),
            },
        )
        .unwrap();
    assert_refused(
        &hub,
        Some(Identity {
            cert_pem: expired.cert_pem,
            key_pem: expired.key_pem,
        }),
    )
    .await;

    let revoked = hub.revoked.clone();
    assert_refused(
        &hub,
        Some(Identity {
            cert_pem: revoked.cert_pem,
            key_pem: revoked.key_pem,
        }),
    )
    .await;

    // The same organisation with a valid certificate is served: the refusals were about the certificates.
    let ok = hub
        .client_as("kenter")
        .await
        .directory()
        .who_am_i(pb::WhoAmIRequest {})
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn a_valid_certificate_of_an_unregistered_organisation_is_unauthenticated() {
    let hub = TestHub::spawn().await;
    let client = hub.client_as("nobody-we-know").await;
    assert_code(
        client.directory().who_am_i(pb::WhoAmIRequest {}).await,
        Code::Unauthenticated,
    );
}

#[tokio::test]
async fn each_role_does_only_what_it_may() {
    let hub = TestHub::spawn().await;
    let provider = hub.client_as("kenter").await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let region = hub.client_as("regio-zuid-kennemerland").await;
    let auditor = hub.client_as("spil-privacy").await;
    let team = hub.client_as("ret-zkh-ijmond").await;

    provider
        .capacity()
        .upsert_location(location("kenter-haarlem", "GM0392"))
        .await
        .unwrap();
    let published = provider
        .capacity()
        .publish_capacity(publish(
            "p1",
            vec![update(crisis_key("kenter-haarlem"), 3, 2)],
        ))
        .await
        .unwrap()
        .into_inner();
    let offering_id = published.offerings[0].id.clone();

    // Searching roles search; a region and an auditor do not.
    assert!(
        crisis
            .capacity()
            .search_places(crisis_search())
            .await
            .is_ok()
    );
    assert!(team.capacity().search_places(crisis_search()).await.is_ok());
    assert_code(
        region.capacity().search_places(crisis_search()).await,
        Code::PermissionDenied,
    );
    assert_code(
        auditor.capacity().search_places(crisis_search()).await,
        Code::PermissionDenied,
    );

    // Only providers publish; only crisis services hold.
    assert_code(
        crisis
            .capacity()
            .upsert_location(location("crisis-location", "GM0392"))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        crisis
            .capacity()
            .publish_capacity(publish(
                "p2",
                vec![update(crisis_key("kenter-haarlem"), 3, 3)],
            ))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        provider
            .capacity()
            .hold_place(hold("h1", &offering_id))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        team.capacity().hold_place(hold("h1", &offering_id)).await,
        Code::PermissionDenied,
    );
    let held = hold_granted(&crisis, "h1", &offering_id).await;

    // A provider cannot touch another provider's location.
    let other = hub.client_as("consortium-ijmond").await;
    assert_code(
        other
            .capacity()
            .upsert_location(location("kenter-haarlem", "GM0375"))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        other
            .capacity()
            .publish_capacity(publish(
                "p3",
                vec![update(crisis_key("kenter-haarlem"), 9, 9)],
            ))
            .await,
        Code::PermissionDenied,
    );

    // Another crisis service cannot see or end this hold.
    let other_crisis = hub.client_as("crisisdienst-haaglanden").await;
    assert_code(
        other_crisis
            .capacity()
            .confirm_hold(pb::ConfirmHoldRequest {
                hold_id: held.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let theirs = other_crisis
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.holds.is_empty());

    // The provider sees holds on its own offerings; an auditor lists none.
    let on_mine = provider
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(on_mine.holds.len(), 1);
    assert_code(
        auditor
            .capacity()
            .list_holds(pb::ListHoldsRequest::default())
            .await,
        Code::PermissionDenied,
    );

    // Everyone may read the directory.
    let regions = region
        .directory()
        .list_regions(pb::ListRegionsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(regions.regions.iter().any(|r| r.id == "zuid-kennemerland"
        && r.province == "Noord-Holland"
        && r.municipalities.iter().any(|m| m.code == "GM0392")));
}

#[tokio::test]
async fn a_certificate_revoked_while_the_hub_runs_is_refused_on_new_and_open_connections() {
    let hub = TestHub::spawn().await;
    let (serial, identity) = hub.certificate("kenter");
    let before = hub.connect(Some(identity.clone())).await.unwrap();
    assert!(
        before
            .directory()
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .is_ok()
    );

    hub.revoke(&[hub.revoked.serial.clone(), serial]);
    // The hub notices the new CRL within its reload interval; retry until the patience runs out.
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let refused = match hub.connect(Some(identity.clone())).await {
            Err(_) => true,
            Ok(client) => client
                .directory()
                .who_am_i(pb::WhoAmIRequest {})
                .await
                .is_err(),
        };
        if refused {
            break;
        }
        assert!(
            std::time::Instant::now() < patience,
            "the revoked certificate is still served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The connection opened before the revocation is refused too, on its
    // next request: it does not live on for as long as keepalive holds it.
    let refused = before
        .directory()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .expect_err("the open connection's next call is refused");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    // Other organisations are unaffected.
    let other = hub.client_as("crisisdienst-zkh").await;
    assert!(
        other
            .directory()
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .is_ok()
    );
}

/// Every demo organisation against every capacity call: refused with
/// PERMISSION_DENIED exactly when its roles do not admit the call.
#[tokio::test]
async fn every_role_is_admitted_or_refused_as_the_role_table_says() {
    use spil_hub::domain::authz::{Action, permits};
    let hub = TestHub::spawn().await;
    for (org, _, roles, _) in spil_hub::demo::ORGANISATIONS {
        let client = hub.client_as(org).await;
        let mut capacity = client.capacity();
        let calls: Vec<(Action, Result<(), tonic::Status>)> = vec![
            (
                Action::SearchPlaces,
                capacity.search_places(crisis_search()).await.map(drop),
            ),
            (
                Action::WatchCapacity,
                capacity
                    .watch_capacity(pb::WatchCapacityRequest::default())
                    .await
                    .map(drop),
            ),
            (
                Action::HoldPlace,
                capacity
                    .hold_place(hold("r", "no-such-offering"))
                    .await
                    .map(drop),
            ),
            (
                Action::ConfirmHold,
                capacity
                    .confirm_hold(pb::ConfirmHoldRequest {
                        hold_id: "no-such-hold".into(),
                    })
                    .await
                    .map(drop),
            ),
            (
                Action::ReleaseHold,
                capacity
                    .release_hold(pb::ReleaseHoldRequest {
                        hold_id: "no-such-hold".into(),
                    })
                    .await
                    .map(drop),
            ),
            (
                Action::ListHolds,
                capacity
                    .list_holds(pb::ListHoldsRequest::default())
                    .await
                    .map(drop),
            ),
            (
                Action::ListLocations,
                capacity
                    .list_locations(pb::ListLocationsRequest::default())
                    .await
                    .map(drop),
            ),
            (
                Action::UpsertLocation,
                capacity
                    .upsert_location(location(&format!("{org}-site"), "GM0392"))
                    .await
                    .map(drop),
            ),
            (
                Action::PublishCapacity,
                capacity
                    .publish_capacity(publish(
                        "r",
                        vec![update(crisis_key(&format!("{org}-site")), 1, 1)],
                    ))
                    .await
                    .map(drop),
            ),
        ];
        for (action, result) in calls {
            let denied = matches!(&result, Err(status) if status.code() == Code::PermissionDenied);
            assert_eq!(
                denied,
                !permits(roles.iter(), action),
                "{org} / {action:?}: {result:?}"
            );
        }
        let directory = client
            .directory()
            .list_organisations(pb::ListOrganisationsRequest::default())
            .await;
        assert!(directory.is_ok(), "{org} reads the directory");
    }
}

/// Beyond `max_connections` a new connection is closed at once; when one
/// closes, a new one is served again.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed_until_one_ends() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.max_connections = 2;
    })
    .await;
    let first = hub.client_as("crisisdienst-zkh").await;
    let second = hub.client_as("kenter").await;
    for client in [&first, &second] {
        client
            .directory()
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .unwrap();
    }
    let third = hub.connect(Some(hub.identity("ret-zkh-ijmond"))).await;
    let refused = match third {
        Err(_) => true,
        Ok(client) => client
            .directory()
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .is_err(),
    };
    assert!(refused, "a third connection is not served");
    drop(first);
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let served = match hub.connect(Some(hub.identity("ret-zkh-ijmond"))).await {
            Err(_) => false,
            Ok(client) => client
                .directory()
                .who_am_i(pb::WhoAmIRequest {})
                .await
                .is_ok(),
        };
        if served {
            break;
        }
        assert!(
            std::time::Instant::now() < patience,
            "no connection was served after one closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    second
        .directory()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap();
}
