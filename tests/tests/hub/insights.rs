//! Regional figures over a seeded history, each checked against a hand
//! computation, and who may read them.

use super::support::{assert_bad_field, assert_code};
use chrono::{DateTime, Duration, Utc};
use spil_client::SpilClient;
use spil_tests::fixtures::*;
use spil_tests::{TestHub, epoch, pb};
use tonic::Code;

const REGION: &str = "zuid-kennemerland";

fn ts(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

fn family_key(location: &str, min_age: u32, max_age: u32) -> pb::OfferingKey {
    pb::OfferingKey {
        place_type: pb::PlaceType::FamilyHome as i32,
        age_band: Some(pb::AgeBand { min_age, max_age }),
        ..crisis_key(location)
    }
}

fn waiting(update: pb::OfferingUpdate, days: u32) -> pb::OfferingUpdate {
    pb::OfferingUpdate {
        waiting_days: days,
        ..update
    }
}

/// (offerings, total, free, held, placed, stale) of one place type.
fn row(
    figures: &[pb::CapacityFigures],
    place_type: pb::PlaceType,
) -> (u32, u32, u32, u32, u32, u32) {
    let f = figures
        .iter()
        .find(|f| f.place_type == place_type as i32)
        .unwrap_or_else(|| panic!("no {place_type:?} in {figures:?}"));
    (
        f.offerings,
        f.total_places,
        f.free_places,
        f.held,
        f.placed,
        f.stale_offerings,
    )
}

async fn overview(
    client: &SpilClient,
    as_of: Option<DateTime<Utc>>,
) -> Result<pb::CapacityOverviewResponse, tonic::Status> {
    client
        .insights()
        .capacity_overview(pb::CapacityOverviewRequest {
            region_id: REGION.into(),
            as_of: as_of.map(ts),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

/// Seeds a history and returns its start. Day 0: Kenter publishes a crisis bed (4 places, 3 free) and a family
/// home (6, 2 free, 40 days' wait); a place is held and confirmed, another
/// held. Day 1: both republished, and a second family home. Meanwhile a
/// provider in IJmond publishes, which Zuid-Kennemerland never sees.
async fn seed(hub: &TestHub) -> DateTime<Utc> {
    let t0 = epoch();
    let kenter = hub.kenter_with_location().await;
    let published = kenter
        .capacity()
        .publish_capacity(publish(
            "day0",
            vec![
                update(crisis_key("kenter-haarlem"), 4, 3),
                waiting(update(family_key("kenter-haarlem", 0, 17), 6, 2), 40),
            ],
        ))
        .await
        .unwrap()
        .into_inner();
    let crisis_offering = published.offerings[0].id.clone();
    let ijmond = hub.client_as("consortium-ijmond").await;
    ijmond
        .capacity()
        .upsert_location(location("ijmond-velsen", "GM0453"))
        .await
        .unwrap();
    ijmond
        .capacity()
        .publish_capacity(publish(
            "ij0",
            vec![update(crisis_key("ijmond-velsen"), 9, 9)],
        ))
        .await
        .unwrap();

    let crisis = hub.client_as("crisisdienst-zkh").await;
    hub.clock.set(t0 + Duration::hours(1));
    let placed = hold_granted(&crisis, "h1", &crisis_offering).await;
    hub.clock.set(t0 + Duration::minutes(80));
    crisis
        .capacity()
        .confirm_hold(pb::ConfirmHoldRequest { hold_id: placed.id })
        .await
        .unwrap();
    hub.clock.set(t0 + Duration::hours(3));
    hold_granted(&crisis, "h2", &crisis_offering).await;
    t0
}

async fn republish_on_day_one(hub: &TestHub, t0: DateTime<Utc>) {
    hub.clock.set(t0 + Duration::days(1));
    let kenter = hub.client_as("kenter").await;
    kenter
        .capacity()
        .publish_capacity(publish(
            "day1",
            vec![
                update(crisis_key("kenter-haarlem"), 4, 2),
                waiting(update(family_key("kenter-haarlem", 0, 17), 6, 1), 20),
                waiting(update(family_key("kenter-haarlem", 12, 17), 3, 0), 10),
            ],
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn capacity_now_and_as_of_any_past_moment_follows_the_history() {
    let hub = TestHub::spawn().await;
    let t0 = seed(&hub).await;
    let region = hub.client_as("regio-zuid-kennemerland").await;

    hub.clock.set(t0 + Duration::minutes(190));
    let now = overview(&region, None).await.unwrap();
    assert_eq!(now.as_of, Some(ts(t0 + Duration::minutes(190))));
    // 3 free - 1 held (h2) - 1 placed (h1, since the publication) = 1.
    assert_eq!(
        row(&now.figures, pb::PlaceType::CrisisBed),
        (1, 4, 1, 1, 1, 0)
    );
    assert_eq!(
        row(&now.figures, pb::PlaceType::FamilyHome),
        (1, 6, 2, 0, 0, 0)
    );
    assert_eq!(
        now.figures.len(),
        2,
        "IJmond's crisis bed is not in this region"
    );

    // Past the crisis bed's 12 hours: stale, so nothing free; h2 expired.
    hub.clock.set(t0 + Duration::hours(13));
    let stale = overview(&region, None).await.unwrap();
    assert_eq!(
        row(&stale.figures, pb::PlaceType::CrisisBed),
        (1, 4, 0, 0, 1, 1)
    );
    let crisis = stale
        .figures
        .iter()
        .find(|f| f.place_type == pb::PlaceType::CrisisBed as i32);
    assert_eq!(crisis.unwrap().stale_share, 1.0);

    republish_on_day_one(&hub, t0).await;
    hub.clock.set(t0 + Duration::days(3));
    // The past is unchanged by what came after it.
    let then = overview(&region, Some(t0 + Duration::minutes(190)))
        .await
        .unwrap();
    assert_eq!(then.figures, now.figures);
    let before_any_hold = overview(&region, Some(t0 + Duration::minutes(30)))
        .await
        .unwrap();
    assert_eq!(
        row(&before_any_hold.figures, pb::PlaceType::CrisisBed),
        (1, 4, 3, 0, 0, 0)
    );
    let before_anything = overview(&region, Some(t0 - Duration::hours(1)))
        .await
        .unwrap();
    assert!(before_anything.figures.is_empty());

    // Day 1's publication replaced day 0's: the placement was before it.
    let day1 = overview(&region, Some(t0 + Duration::days(1)))
        .await
        .unwrap();
    assert_eq!(
        row(&day1.figures, pb::PlaceType::CrisisBed),
        (1, 4, 2, 0, 0, 0)
    );
    assert_eq!(
        row(&day1.figures, pb::PlaceType::FamilyHome),
        (2, 9, 1, 0, 0, 0)
    );

    let grouped = region
        .insights()
        .capacity_overview(pb::CapacityOverviewRequest {
            region_id: REGION.into(),
            by_care_profile: true,
            by_age_band: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let family: Vec<(u32, u32, u32)> = grouped
        .figures
        .iter()
        .filter(|f| f.place_type == pb::PlaceType::FamilyHome as i32)
        .map(|f| {
            assert_eq!(f.care_profile, pb::CareProfile::YouthAndParenting as i32);
            let band = f.age_band.unwrap();
            (band.min_age, band.max_age, f.total_places)
        })
        .collect();
    assert_eq!(family, [(0, 17, 6), (12, 17, 3)]);
}

#[tokio::test]
async fn the_trend_gives_each_day_its_own_figures() {
    let hub = TestHub::spawn().await;
    let t0 = seed(&hub).await;
    republish_on_day_one(&hub, t0).await;
    hub.clock.set(t0 + Duration::days(3));
    let region = hub.client_as("regio-zuid-kennemerland").await;

    let trend = region
        .insights()
        .capacity_trend(pb::CapacityTrendRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(3))),
            bucket: pb::Bucket::Day as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let at: Vec<_> = trend.points.iter().map(|p| p.at.unwrap()).collect();
    assert_eq!(
        at,
        [1, 2, 3].map(|d| ts(t0 + Duration::days(d))),
        "one point at the end of each day"
    );
    let crisis: Vec<_> = trend
        .points
        .iter()
        .map(|p| row(&p.figures, pb::PlaceType::CrisisBed))
        .collect();
    assert_eq!(
        crisis,
        [(1, 4, 2, 0, 0, 0), (1, 4, 0, 0, 0, 1), (1, 4, 0, 0, 0, 1)],
        "fresh after day 1's publication, stale 12 hours later"
    );
    let family: Vec<_> = trend
        .points
        .iter()
        .map(|p| row(&p.figures, pb::PlaceType::FamilyHome))
        .collect();
    assert_eq!(family, [(2, 9, 1, 0, 0, 0); 3]);

    let weekly = region
        .insights()
        .capacity_trend(pb::CapacityTrendRequest {
            region_id: REGION.into(),
            from: Some(ts(t0 - Duration::days(7) - Duration::hours(1))),
            to: Some(ts(t0 + Duration::days(3))),
            bucket: pb::Bucket::Unspecified as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        weekly.points.len(),
        2,
        "a whole week, then the part up to `to`"
    );
    assert!(weekly.points[0].figures.is_empty(), "nothing published yet");
}

#[tokio::test]
async fn waiting_times_summarise_fresh_figures_and_count_stale_ones_apart() {
    let hub = TestHub::spawn().await;
    let t0 = seed(&hub).await;
    republish_on_day_one(&hub, t0).await;
    hub.clock.set(t0 + Duration::days(3));
    let region = hub.client_as("regio-zuid-kennemerland").await;

    let times = region
        .insights()
        .waiting_times(pb::WaitingTimesRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(3))),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let by_type = |figures: &[pb::WaitingFigures], place_type: pb::PlaceType| {
        let f = figures
            .iter()
            .find(|f| f.place_type == place_type as i32)
            .unwrap();
        assert_eq!(f.care_profile, pb::CareProfile::YouthAndParenting as i32);
        (
            f.offerings_with_figure,
            f.offerings_without_figure,
            f.median_days,
            f.max_days,
        )
    };
    // 10 and 20 days: median 15, maximum 20.
    assert_eq!(
        by_type(&times.figures, pb::PlaceType::FamilyHome),
        (2, 0, Some(15.0), Some(20))
    );
    // The crisis bed went stale: no figure, and not a zero.
    assert_eq!(
        by_type(&times.figures, pb::PlaceType::CrisisBed),
        (0, 1, None, None)
    );
    assert_eq!(times.weekly.len(), 1);
    assert_eq!(times.weekly[0].at, Some(ts(t0 + Duration::days(3))));

    let on_day_zero = region
        .insights()
        .waiting_times(pb::WaitingTimesRequest {
            region_id: REGION.into(),
            as_of: Some(ts(t0 + Duration::hours(1))),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        by_type(&on_day_zero.figures, pb::PlaceType::FamilyHome),
        (1, 0, Some(40.0), Some(40))
    );
}

#[tokio::test]
async fn a_region_reads_its_own_figures_a_network_those_it_serves_the_operator_any() {
    let hub = TestHub::spawn().await;
    seed(&hub).await;
    let own = hub.client_as("regio-zuid-kennemerland").await;
    let other_region = hub.client_as("regio-holland-rijnland").await;
    let operator = hub.client_as("spil-beheer").await;

    assert!(overview(&own, None).await.is_ok());
    assert!(overview(&operator, None).await.is_ok());
    assert_code(overview(&other_region, None).await, Code::PermissionDenied);
    // BEN NH serves the Noord-Holland regions; K-EET those of Zuid-Holland.
    let ben = hub.client_as("ben-nh").await;
    assert!(overview(&ben, None).await.is_ok());
    let rijnland = ben
        .insights()
        .capacity_overview(pb::CapacityOverviewRequest {
            region_id: "holland-rijnland".into(),
            ..Default::default()
        })
        .await;
    assert_code(rijnland, Code::PermissionDenied);
    for org in [
        "kenter",
        "crisisdienst-zkh",
        "ret-zkh-ijmond",
        "k-eet",
        "spil-privacy",
    ] {
        let client = hub.client_as(org).await;
        assert_code(overview(&client, None).await, Code::PermissionDenied);
        let waiting = client
            .insights()
            .waiting_times(pb::WaitingTimesRequest {
                region_id: REGION.into(),
                ..Default::default()
            })
            .await;
        assert_code(waiting, Code::PermissionDenied);
    }
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let hub = TestHub::spawn().await;
    let region = hub.client_as("regio-zuid-kennemerland").await;
    let now = epoch();
    let insights = || region.insights();

    let unknown = insights()
        .capacity_overview(pb::CapacityOverviewRequest {
            region_id: "atlantis".into(),
            ..Default::default()
        })
        .await;
    assert_bad_field(unknown, "region_id");
    assert_bad_field(
        overview(&region, Some(now + Duration::hours(1))).await,
        "as_of",
    );

    let trend = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>, bucket: pb::Bucket| {
        let mut client = region.insights();
        async move {
            client
                .capacity_trend(pb::CapacityTrendRequest {
                    region_id: REGION.into(),
                    from: from.map(ts),
                    to: to.map(ts),
                    bucket: bucket as i32,
                })
                .await
        }
    };
    assert_bad_field(trend(None, Some(now), pb::Bucket::Day).await, "from");
    assert_bad_field(
        trend(Some(now), Some(now - Duration::days(1)), pb::Bucket::Day).await,
        "to",
    );
    assert_bad_field(
        trend(
            Some(now - Duration::days(1)),
            Some(now + Duration::days(1)),
            pb::Bucket::Day,
        )
        .await,
        "to",
    );
    assert_bad_field(
        trend(Some(now - Duration::days(400)), Some(now), pb::Bucket::Day).await,
        "bucket",
    );
    let unknown_bucket = insights()
        .capacity_trend(pb::CapacityTrendRequest {
            region_id: REGION.into(),
            from: Some(ts(now - Duration::days(1))),
            to: Some(ts(now)),
            bucket: 99,
        })
        .await;
    assert_bad_field(unknown_bucket, "bucket");
    let half_period = insights()
        .waiting_times(pb::WaitingTimesRequest {
            region_id: REGION.into(),
            to: Some(ts(now)),
            ..Default::default()
        })
        .await;
    assert_bad_field(half_period, "from");
}

#[tokio::test]
async fn unmet_demand_is_counted_per_week_and_small_counts_cannot_be_worked_out() {
    let hub = TestHub::spawn().await;
    let t0 = epoch();
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let search =
        |age: u32, place_type: pb::PlaceType, municipality: &str| pb::SearchPlacesRequest {
            place_types: vec![place_type as i32],
            child_age: Some(age),
            child_municipality_code: municipality.into(),
            ..Default::default()
        };
    // Week 1 in Zuid-Kennemerland: 7 crisis beds for 15-year-olds, 3 for
    // 9-year-olds, 2 family homes; one search for a child from Velsen
    // counts for IJmond. Week 2: one search.
    let mut searches = Vec::new();
    searches.extend((0..7).map(|_| search(15, pb::PlaceType::CrisisBed, "GM0392")));
    searches.extend((0..3).map(|_| search(9, pb::PlaceType::CrisisBed, "GM0397")));
    searches.extend((0..2).map(|_| search(15, pb::PlaceType::FamilyHome, "GM0392")));
    searches.push(search(15, pb::PlaceType::CrisisBed, "GM0453"));
    for (n, request) in searches.into_iter().enumerate() {
        hub.clock.set(t0 + Duration::minutes(n as i64));
        let found = crisis.capacity().search_places(request).await.unwrap();
        assert!(found.into_inner().results.is_empty());
    }
    hub.clock.set(t0 + Duration::days(8));
    crisis
        .capacity()
        .search_places(search(16, pb::PlaceType::CrisisBed, "GM0392"))
        .await
        .unwrap();
    hub.clock.set(t0 + Duration::days(9));

    let region = hub.client_as("regio-zuid-kennemerland").await;
    let unmet = region
        .insights()
        .unmet_demand(pb::UnmetDemandRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(9))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unmet.weeks.len(), 2);
    let first = &unmet.weeks[0];
    let shown = |c: &Option<pb::SuppressibleCount>| c.filter(|c| !c.suppressed).map(|c| c.value);
    assert_eq!(
        shown(&first.searches),
        Some(12),
        "IJmond's search is not here"
    );
    // 7, 3 and 2 searches: the small ones withhold all three, which are
    // listed with the 12 they make; none follows from it.
    assert_eq!(first.gaps.len(), 3);
    assert!(
        first
            .gaps
            .iter()
            .any(|gap| gap.place_type == pb::PlaceType::CrisisBed as i32
                && gap.age_band
                    == Some(pb::AgeBand {
                        min_age: 12,
                        max_age: 17
                    })
                && gap.child_municipality_code == "GM0392")
    );
    for gap in &first.gaps {
        assert_eq!(
            gap.searches,
            Some(pb::SuppressibleCount {
                value: 0,
                suppressed: true
            })
        );
    }
    // What the total leaves for the withheld cells is 5 over 2 cells: no
    // single one follows from it.
    for week in &unmet.weeks {
        if let Some(total) = shown(&week.searches) {
            let visible: u32 = week.gaps.iter().filter_map(|g| shown(&g.searches)).sum();
            let withheld = week
                .gaps
                .iter()
                .filter(|g| shown(&g.searches).is_none())
                .count() as u32;
            if withheld > 0 {
                assert!(withheld >= 2 && total - visible >= 5 && total - visible > withheld);
            }
        }
    }
    assert_eq!(
        unmet.weeks[1].searches,
        Some(pb::SuppressibleCount {
            value: 0,
            suppressed: true
        }),
        "one search in the second week"
    );

    let other = hub.client_as("regio-holland-rijnland").await;
    let refused = other
        .insights()
        .unmet_demand(pb::UnmetDemandRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(9))),
        })
        .await;
    assert_code(refused, Code::PermissionDenied);
}

/// Publishes one offering at a new location of `provider` and returns its id.
async fn offering_at(
    hub: &TestHub,
    provider: &str,
    location_id: &str,
    municipality: &str,
    key: pb::OfferingKey,
) -> String {
    let client = hub.client_as(provider).await;
    client
        .capacity()
        .upsert_location(location(location_id, municipality))
        .await
        .unwrap();
    client
        .capacity()
        .publish_capacity(publish(
            &format!("seed-{location_id}"),
            vec![update(key, 20, 20)],
        ))
        .await
        .unwrap()
        .into_inner()
        .offerings[0]
        .id
        .clone()
}

#[tokio::test]
async fn placements_count_outcomes_lead_times_and_children_placed_far_from_home() {
    let hub = TestHub::spawn().await;
    let t0 = epoch();
    let haarlem = offering_at(
        &hub,
        "kenter",
        "kenter-haarlem",
        "GM0392",
        crisis_key("kenter-haarlem"),
    )
    .await;
    let velsen = offering_at(
        &hub,
        "consortium-ijmond",
        "ijmond-velsen",
        "GM0453",
        crisis_key("ijmond-velsen"),
    )
    .await;
    let secure_key = pb::OfferingKey {
        place_type: pb::PlaceType::SecureResidential as i32,
        security_level: pb::SecurityLevel::Secure as i32,
        ..crisis_key("duinzicht-den-haag")
    };
    let den_haag = offering_at(
        &hub,
        "duinzicht-jeugdzorgplus",
        "duinzicht-den-haag",
        "GM0518",
        secure_key,
    )
    .await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let confirm = |id: String| {
        let mut capacity = crisis.capacity();
        async move {
            capacity
                .confirm_hold(pb::ConfirmHoldRequest { hold_id: id })
                .await
                .unwrap();
        }
    };

    // Six crisis beds confirmed after 10, 20, … 60 minutes, one of them in
    // IJmond; five released; for Haarlem children throughout.
    for n in 0..6i64 {
        let start = t0 + Duration::hours(n);
        hub.clock.set(start);
        let offering = if n == 5 { &velsen } else { &haarlem };
        let two_hours = prost_types::Duration {
            seconds: 7200,
            nanos: 0,
        };
        let request = pb::HoldPlaceRequest {
            duration: Some(two_hours),
            ..hold(&format!("placed-{n}"), offering)
        };
        let held = crisis.capacity().hold_place(request).await.unwrap();
        hub.clock.set(start + Duration::minutes(10 * (n + 1)));
        confirm(held.into_inner().hold.unwrap().id).await;
    }
    hub.clock.set(t0 + Duration::hours(7));
    for n in 0..5 {
        let hold = hold_granted(&crisis, &format!("released-{n}"), &haarlem).await;
        crisis
            .capacity()
            .release_hold(pb::ReleaseHoldRequest { hold_id: hold.id })
            .await
            .unwrap();
    }
    // A secure place in Zuid-Holland for a Haarlem child.
    let secure = hold_granted(&crisis, "secure", &den_haag).await;
    confirm(secure.id).await;
    // A child from Velsen is IJmond's, not Zuid-Kennemerland's.
    crisis
        .capacity()
        .hold_place(pb::HoldPlaceRequest {
            child_municipality_code: "GM0453".into(),
            ..hold("velsen-child", &haarlem)
        })
        .await
        .unwrap();
    hub.clock.set(t0 + Duration::days(1));

    let region = hub.client_as("regio-zuid-kennemerland").await;
    let figures = region
        .insights()
        .placement_figures(pb::PlacementFiguresRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(1))),
        })
        .await
        .unwrap()
        .into_inner();
    let shown = |c: Option<pb::SuppressibleCount>| c.filter(|c| !c.suppressed).map(|c| c.value);
    assert_eq!(figures.rows.len(), 2);
    let beds = &figures.rows[0];
    assert_eq!(beds.place_type, pb::PlaceType::CrisisBed as i32);
    assert_eq!(
        [
            beds.made,
            beds.confirmed,
            beds.released,
            beds.expired,
            beds.active
        ]
        .map(shown),
        [Some(11), Some(6), Some(5), Some(0), Some(0)]
    );
    assert_eq!(
        beds.outside_region.map(|c| c.suppressed),
        Some(true),
        "one is fewer than five"
    );
    // Zero outside the province, but beside the one outside the region
    // it would tell that one child is elsewhere in the province: withheld.
    assert_eq!(shown(beds.outside_province), None);
    // 1/6, 2/6, … 6/6 hours: the median by nearest rank is the third, the
    // 90th percentile the sixth.
    assert_eq!(beds.hours_to_confirm_median, Some(0.5));
    assert_eq!(beds.hours_to_confirm_p90, Some(1.0));
    let secure = &figures.rows[1];
    assert_eq!(secure.place_type, pb::PlaceType::SecureResidential as i32);
    assert_eq!(shown(secure.made), None);
    assert_eq!(
        secure.hours_to_confirm_median, None,
        "fewer than five placements"
    );
    assert_eq!(
        figures.secure_outside_province,
        Some(pb::SuppressibleCount {
            value: 0,
            suppressed: true
        })
    );
}

#[tokio::test]
async fn consultation_figures_count_outcomes_and_lead_times_without_any_content() {
    let hub = TestHub::spawn().await;
    let t0 = epoch();
    let mut filer = hub
        .client_as("crisisdienst-zkh")
        .await
        .consultations("M. Jansen");
    let mut ret = hub
        .client_as("ret-zkh-ijmond")
        .await
        .consultations("J. de Vries");
    let mut ben = hub.client_as("ben-nh").await.consultations("A. Bakker");
    let id_of =
        |r: tonic::Response<pb::FileConsultationResponse>| r.into_inner().consultation.unwrap().id;

    // Ten routine cases and one crisis case from Haarlem, one from Velsen.
    let mut ids = Vec::new();
    for n in 0..10 {
        let filed = filer
            .file_consultation(consultation(&format!("c{n}"), "ret-zkh-ijmond"))
            .await;
        ids.push(id_of(filed.unwrap()));
    }
    let crisis_case = pb::FileConsultationRequest {
        urgency: pb::Urgency::Crisis as i32,
        ..consultation("crisis", "ret-zkh-ijmond")
    };
    filer.file_consultation(crisis_case).await.unwrap();
    let velsen = pb::FileConsultationRequest {
        municipality_code: "GM0453".into(),
        ..consultation("velsen", "ret-zkh-ijmond")
    };
    filer.file_consultation(velsen).await.unwrap();

    let accept = |id: &str| pb::AcceptConsultationRequest {
        consultation_id: id.into(),
        ..Default::default()
    };
    // Cases 0-5 accepted after 1..6 hours, case 6 after 7 hours and then
    // escalated to BEN NH; 7 and 8 declined; 9 left waiting.
    for (n, id) in ids.iter().take(7).enumerate() {
        hub.clock.set(t0 + Duration::hours(n as i64 + 1));
        ret.accept_consultation(accept(id)).await.unwrap();
    }
    let escalated = ret
        .escalate_consultation(pb::EscalateConsultationRequest {
            consultation_id: ids[6].clone(),
            network_id: "ben-nh".into(),
            note: "Comorbiditeit".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .escalated
        .unwrap();
    for id in &ids[7..9] {
        ret.decline_consultation(pb::DeclineConsultationRequest {
            consultation_id: id.clone(),
            reason: pb::DeclineReason::OutsideExpertise as i32,
            note: "buiten expertise".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    // Advice on 0-5 ten hours after filing; BEN NH's on case 6 after twelve.
    hub.clock.set(t0 + Duration::hours(10));
    for id in &ids[..6] {
        ret.start_work(pb::StartWorkRequest {
            consultation_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
        ret.give_advice(pb::GiveAdviceRequest {
            consultation_id: id.clone(),
            advice: "advies".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    hub.clock.set(t0 + Duration::hours(12));
    ben.accept_consultation(accept(&escalated.id))
        .await
        .unwrap();
    ben.start_work(pb::StartWorkRequest {
        consultation_id: escalated.id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    ben.give_advice(pb::GiveAdviceRequest {
        consultation_id: escalated.id.clone(),
        advice: "advies".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    hub.clock.set(t0 + Duration::days(2));

    let region = hub.client_as("regio-zuid-kennemerland").await;
    let figures = region
        .insights()
        .consultation_figures(pb::ConsultationFiguresRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(2))),
        })
        .await
        .unwrap()
        .into_inner();
    let shown = |c: Option<pb::SuppressibleCount>| c.filter(|c| !c.suppressed).map(|c| c.value);
    let total = figures.total.unwrap();
    // Filed 11 (Velsen's is IJmond's, the escalation continues case 6):
    // 7 accepted and advised, 2 declined, 2 pending, 1 escalated and 1
    // overdue. The 2 declined withhold accepted and pending beside them (the
    // three make up the filed 11), the advised with the accepted, and the
    // lead times that would tell there were five or more.
    assert_eq!(shown(total.filed), Some(11));
    assert_eq!(
        [
            total.accepted,
            total.advised,
            total.declined,
            total.escalated,
            total.overdue
        ]
        .map(shown),
        [None; 5]
    );
    assert_eq!(
        (
            total.hours_to_acceptance_median,
            total.hours_to_advice_median
        ),
        (None, None)
    );
    // One crisis case beside ten routine ones: the urgencies are withheld
    // together, or the total would give the one away.
    let filed_by_urgency: Vec<Option<u32>> = figures
        .by_urgency
        .iter()
        .map(|u| shown(u.counts.unwrap().filed))
        .collect();
    assert_eq!(filed_by_urgency, [None, None, None]);
    let domains: Vec<(i32, Option<u32>)> = figures
        .by_problem_domain
        .iter()
        .map(|d| (d.problem_domain, shown(d.counts.unwrap().filed)))
        .collect();
    assert_eq!(
        domains,
        [
            (pb::ProblemDomain::MentalHealth as i32, Some(11)),
            (pb::ProblemDomain::Trauma as i32, Some(11))
        ]
    );
    assert!(
        figures
            .declined_by_reason
            .iter()
            .all(|r| shown(r.declined).is_none_or(|n| n == 0))
    );

    let provider = hub.client_as("kenter").await;
    let refused = provider
        .insights()
        .consultation_figures(pb::ConsultationFiguresRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::days(2))),
        })
        .await;
    assert_code(refused, Code::PermissionDenied);
}

/// Five weeks of a region's life: each week Duinzicht's secure unit
/// shrinks by a place and Kenter's family home grows by one with a
/// shorter wait, more searches find no clinical bed, one child from
/// Haarlem is placed in the secure unit (Zuid-Holland), and one
/// consultation is filed and accepted. Every weekly figure is checked.
#[tokio::test]
async fn five_weeks_of_history_give_each_week_its_figures() {
    let hub = TestHub::spawn().await;
    let t0 = epoch();
    let kenter = hub.kenter_with_location().await;
    let duinzicht = hub.client_as("duinzicht-jeugdzorgplus").await;
    duinzicht
        .capacity()
        .upsert_location(location("duinzicht-wassenaar", "GM0629"))
        .await
        .unwrap();
    let secure_key = pb::OfferingKey {
        place_type: pb::PlaceType::SecureResidential as i32,
        security_level: pb::SecurityLevel::Secure as i32,
        ..crisis_key("duinzicht-wassenaar")
    };
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut filer = crisis.consultations("M. Jansen");
    let mut ret = hub
        .client_as("ret-zkh-ijmond")
        .await
        .consultations("J. de Vries");
    for week in 0..5u32 {
        let monday = t0 + Duration::weeks(i64::from(week));
        hub.clock.set(monday);
        let secure = duinzicht
            .capacity()
            .publish_capacity(publish(
                &format!("secure-{week}"),
                vec![update(secure_key.clone(), 8 - week, 3)],
            ))
            .await
            .unwrap()
            .into_inner()
            .offerings[0]
            .id
            .clone();
        kenter
            .capacity()
            .publish_capacity(publish(
                &format!("family-{week}"),
                vec![waiting(
                    update(family_key("kenter-haarlem", 0, 17), 2 + week, 1),
                    40 - 5 * week,
                )],
            ))
            .await
            .unwrap();
        for n in 0..5 + week {
            hub.clock.set(monday + Duration::minutes(i64::from(n) + 1));
            let unmet = pb::SearchPlacesRequest {
                place_types: vec![pb::PlaceType::ClinicalMentalHealth as i32],
                child_age: Some(15),
                child_municipality_code: "GM0392".into(),
                ..Default::default()
            };
            crisis.capacity().search_places(unmet).await.unwrap();
        }
        hub.clock.set(monday + Duration::hours(1));
        let held = hold_granted(&crisis, &format!("secure-{week}"), &secure).await;
        hub.clock
            .set(monday + Duration::hours(1) + Duration::minutes(15));
        crisis
            .capacity()
            .confirm_hold(pb::ConfirmHoldRequest { hold_id: held.id })
            .await
            .unwrap();
        hub.clock.set(monday + Duration::hours(2));
        let filed = filer
            .file_consultation(consultation(&format!("week-{week}"), "ret-zkh-ijmond"))
            .await
            .unwrap()
            .into_inner()
            .consultation
            .unwrap();
        hub.clock
            .set(monday + Duration::hours(2 + i64::from(week) + 1));
        ret.accept_consultation(pb::AcceptConsultationRequest {
            consultation_id: filed.id,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let end = t0 + Duration::weeks(5) - Duration::hours(1);
    hub.clock.set(end);
    let from = Some(ts(t0 - Duration::hours(1)));
    let to = Some(ts(end));
    let region = hub.client_as("regio-zuid-kennemerland").await;
    let shown = |c: Option<pb::SuppressibleCount>| c.filter(|c| !c.suppressed).map(|c| c.value);

    // Duinzicht is in Haaglanden, so Zuid-Kennemerland's capacity has the
    // family home only; the operator sees the secure unit shrink.
    let trend = |client: SpilClient, region_id: &'static str| async move {
        client
            .insights()
            .capacity_trend(pb::CapacityTrendRequest {
                region_id: region_id.into(),
                from,
                to,
                bucket: pb::Bucket::Week as i32,
            })
            .await
            .unwrap()
            .into_inner()
    };
    let family: Vec<u32> = trend(region.clone(), REGION)
        .await
        .points
        .iter()
        .map(|p| row(&p.figures, pb::PlaceType::FamilyHome).1)
        .collect();
    assert_eq!(family, [2, 3, 4, 5, 6]);
    let operator = hub.client_as("spil-beheer").await;
    let secure: Vec<(u32, u32)> = trend(operator, "haaglanden")
        .await
        .points
        .iter()
        .map(|p| {
            let r = row(&p.figures, pb::PlaceType::SecureResidential);
            (r.1, r.4)
        })
        .collect();
    // (places, placed since that week's publication)
    assert_eq!(secure, [(8, 1), (7, 1), (6, 1), (5, 1), (4, 1)]);

    let waiting = region
        .insights()
        .waiting_times(pb::WaitingTimesRequest {
            region_id: REGION.into(),
            from,
            to,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let medians: Vec<Option<f64>> = waiting
        .weekly
        .iter()
        .map(|p| p.figures[0].median_days)
        .collect();
    assert_eq!(medians, [40.0, 35.0, 30.0, 25.0, 20.0].map(Some));

    let unmet = region
        .insights()
        .unmet_demand(pb::UnmetDemandRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to,
        })
        .await
        .unwrap()
        .into_inner();
    let weekly: Vec<Option<u32>> = unmet.weeks.iter().map(|w| shown(w.searches)).collect();
    assert_eq!(weekly, [5, 6, 7, 8, 9].map(Some));
    assert!(
        unmet.weeks.iter().all(|w| w.gaps.len() == 1
            && w.gaps[0].place_type == pb::PlaceType::ClinicalMentalHealth as i32)
    );

    let placements = region
        .insights()
        .placement_figures(pb::PlacementFiguresRequest {
            region_id: REGION.into(),
            from,
            to,
        })
        .await
        .unwrap()
        .into_inner();
    let secure_row = &placements.rows[0];
    assert_eq!(
        [
            secure_row.made,
            secure_row.confirmed,
            secure_row.outside_region,
            secure_row.outside_province
        ]
        .map(shown),
        [Some(5), Some(5), Some(5), Some(5)]
    );
    assert_eq!(secure_row.hours_to_confirm_median, Some(0.25));
    assert_eq!(
        shown(placements.secure_outside_province),
        Some(5),
        "the goal is zero"
    );

    let consultations = region
        .insights()
        .consultation_figures(pb::ConsultationFiguresRequest {
            region_id: REGION.into(),
            from,
            to,
        })
        .await
        .unwrap()
        .into_inner();
    let total = consultations.total.unwrap();
    assert_eq!([total.filed, total.accepted].map(shown), [Some(5), Some(5)]);
    // Accepted after 1..5 hours: median the 3rd, 90th percentile the 5th.
    assert_eq!(
        (
            total.hours_to_acceptance_median,
            total.hours_to_acceptance_p90
        ),
        (Some(3.0), Some(5.0))
    );
}

/// The case that showed the leak: six crisis-bed holds for Haarlem
/// children, five confirmed in IJmond (outside the region) and one
/// released. The outcomes are withheld; nothing beside them may say
/// "five confirmed" (a figure outside the region, or lead times over five).
#[tokio::test]
async fn placements_far_from_home_do_not_give_away_a_withheld_outcome() {
    let hub = TestHub::spawn().await;
    let t0 = epoch();
    let velsen = offering_at(
        &hub,
        "consortium-ijmond",
        "ijmond-velsen",
        "GM0453",
        crisis_key("ijmond-velsen"),
    )
    .await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    for n in 0..6 {
        hub.clock.set(t0 + Duration::minutes(n));
        let held = hold_granted(&crisis, &format!("far-{n}"), &velsen).await;
        hub.clock
            .set(t0 + Duration::minutes(n) + Duration::seconds(30));
        if n < 5 {
            crisis
                .capacity()
                .confirm_hold(pb::ConfirmHoldRequest { hold_id: held.id })
                .await
                .unwrap();
        } else {
            crisis
                .capacity()
                .release_hold(pb::ReleaseHoldRequest { hold_id: held.id })
                .await
                .unwrap();
        }
    }
    hub.clock.set(t0 + Duration::hours(1));
    let figures = hub
        .client_as("regio-zuid-kennemerland")
        .await
        .insights()
        .placement_figures(pb::PlacementFiguresRequest {
            region_id: REGION.into(),
            from: Some(ts(t0)),
            to: Some(ts(t0 + Duration::hours(1))),
        })
        .await
        .unwrap()
        .into_inner();
    let beds = &figures.rows[0];
    let withheld = |c: Option<pb::SuppressibleCount>| c.is_some_and(|c| c.suppressed);
    assert_eq!(
        beds.made,
        Some(pb::SuppressibleCount {
            value: 6,
            suppressed: false
        })
    );
    assert!(withheld(beds.confirmed) && withheld(beds.released));
    assert!(withheld(beds.outside_region) && withheld(beds.outside_province));
    assert_eq!(
        (beds.hours_to_confirm_median, beds.hours_to_confirm_p90),
        (None, None)
    );
}
