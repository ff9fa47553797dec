//! Placement requests over mTLS: a crisis service asks the providers of its
//! held places, a provider accepts or refuses with a reason, the first yes
//! wins, and a place under an open request is offered to no one else.

use super::support::{assert_bad_field, assert_code, assert_precondition};
use spil_client::SpilClient;
use spil_tests::fixtures::*;
use spil_tests::{Backend, TestHub, backends, pb};
use tonic::Code;

const PERSON: &str = "Sanne de Vrïes";

/// A crisis bed at each of three providers, in Haarlem, Velsen and Leiden.
async fn three_providers(hub: &TestHub) -> Vec<(String, String)> {
    let mut offerings = Vec::new();
    for (provider, location, municipality) in [
        ("kenter", "kenter-haarlem", "GM0392"),
        ("consortium-ijmond", "ijmond-velsen", "GM0453"),
        ("rijnland-gezinshuizen", "rijnland-leiden", "GM0546"),
    ] {
        let client = hub.client_as(provider).await;
        client
            .capacity()
            .upsert_location(location_in(location, municipality))
            .await
            .unwrap();
        let offering = crisis_bed_offering(&client, location, 2, 1).await;
        offerings.push((provider.to_owned(), offering));
    }
    offerings
}

fn location_in(id: &str, municipality: &str) -> pb::UpsertLocationRequest {
    location(id, municipality)
}

/// Sends a placement request as the crisis service's person and expects it sent.
async fn ask(client: &SpilClient, request: pb::RequestPlacementRequest) -> pb::PlacementRequest {
    client
        .placements(PERSON)
        .request_placement(request)
        .await
        .unwrap()
        .into_inner()
        .placement_request
        .unwrap()
}

/// A placement request as `person` of `client`'s organisation sees it.
async fn read_request(client: &SpilClient, person: &str, id: &str) -> pb::PlacementRequest {
    client
        .placements(person)
        .get_placement_request(pb::GetPlacementRequestRequest {
            placement_request_id: id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .placement_request
        .unwrap()
}

fn placement(request_id: &str, hold_ids: Vec<String>) -> pb::RequestPlacementRequest {
    pb::RequestPlacementRequest {
        request_id: request_id.into(),
        hold_ids,
        case_reference: format!("CASE-{request_id}"),
        age_years: 15,
        care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
        security_level: pb::SecurityLevel::Open as i32,
        urgency: pb::PlacementUrgency::Crisis as i32,
        note: "Jongen van 15, vannacht uit huis geplaatst; geen medicatie.".into(),
        consent_recorded: true,
    }
}

fn accept(id: &str) -> pb::AnswerPlacementRequestRequest {
    pb::AnswerPlacementRequestRequest {
        provider_request_id: id.into(),
        accept: true,
        ..Default::default()
    }
}

fn refuse(id: &str, reason: pb::PlacementRefusalReason) -> pb::AnswerPlacementRequestRequest {
    pb::AnswerPlacementRequestRequest {
        provider_request_id: id.into(),
        accept: false,
        refusal_reason: reason as i32,
        refusal_note: if reason == pb::PlacementRefusalReason::Other {
            "De groep is deze week in quarantaine.".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

/// Free places now on `offering`, as a crisis worker's search shows them.
async fn available(hub: &TestHub, offering: &str) -> u32 {
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
    found
        .results
        .iter()
        .filter_map(|r| r.offering.as_ref())
        .find(|o| o.id == offering)
        .map_or(0, |o| o.available_places)
}

async fn hold_state(hub: &TestHub, hold_id: &str) -> i32 {
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let holds = crisis
        .capacity()
        .list_holds(pb::ListHoldsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .holds;
    holds.iter().find(|h| h.id == hold_id).unwrap().state
}

async fn accepted_then_the_others_withdrawn(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let offerings = three_providers(&hub).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut holds = Vec::new();
    for (n, (_, offering)) in offerings.iter().enumerate() {
        holds.push(hold_granted(&crisis, &format!("h{n}"), offering).await.id);
    }
    let sent = ask(&crisis, placement("p1", holds.clone())).await;
    assert_eq!(sent.provider_requests.len(), 3);
    assert!(
        sent.provider_requests
            .iter()
            .all(|p| p.state == pb::ProviderRequestState::Open as i32)
    );
    // The places stay held past the hold's own time, up to the answer deadline.
    hub.clock.advance(chrono::Duration::minutes(45));
    for (_, offering) in &offerings {
        assert_eq!(available(&hub, offering).await, 0, "held under the request");
    }

    // Each provider sees only its own part.
    let ijmond = hub.client_as("consortium-ijmond").await;
    let inbox = ijmond
        .placements("Dienstdoende coördinator")
        .list_placement_requests(pb::ListPlacementRequestsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .placement_requests;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].provider_requests.len(), 1);
    let own = inbox[0].provider_requests[0].id.clone();
    assert_eq!(inbox[0].note, sent.note);

    // The first yes wins; the others are withdrawn and their places return.
    let answered = ijmond
        .placements("Dienstdoende coördinator")
        .answer_placement_request(accept(&own))
        .await
        .unwrap()
        .into_inner()
        .placement_request
        .unwrap();
    assert_eq!(
        answered.provider_requests[0].state,
        pb::ProviderRequestState::Accepted as i32
    );
    let seen = read_request(&crisis, PERSON, &sent.id).await;
    let states: Vec<(String, i32)> = seen
        .provider_requests
        .iter()
        .map(|p| (p.provider_id.clone(), p.state))
        .collect();
    for (provider, state) in &states {
        let expected = if provider == "consortium-ijmond" {
            pb::ProviderRequestState::Accepted
        } else {
            pb::ProviderRequestState::Withdrawn
        };
        assert_eq!(*state, expected as i32, "{provider}: {states:?}");
    }
    assert_eq!(
        hold_state(&hub, &holds[1]).await,
        pb::HoldState::Confirmed as i32
    );
    assert_eq!(
        hold_state(&hub, &holds[0]).await,
        pb::HoldState::Released as i32
    );
    assert_eq!(
        available(&hub, &offerings[0].1).await,
        1,
        "withdrawn: the place is back"
    );
    assert_eq!(available(&hub, &offerings[1].1).await, 0, "placed");

    // A withdrawn provider that answers late hears it was withdrawn.
    let kenter = hub.client_as("kenter").await;
    let kenter_part = read_request(&kenter, "Nachtcoördinator", &sent.id).await;
    assert_eq!(kenter_part.provider_requests.len(), 1);
    assert_precondition(
        kenter
            .placements("Nachtcoördinator")
            .answer_placement_request(accept(&kenter_part.provider_requests[0].id))
            .await,
        "PLACEMENT_WITHDRAWN",
    );
    // Nothing left to withdraw once placed.
    assert_precondition(
        crisis
            .placements(PERSON)
            .withdraw_placement_request(pb::WithdrawPlacementRequestRequest {
                placement_request_id: sent.id.clone(),
            })
            .await,
        "PLACEMENT_ANSWERED",
    );
    // An organisation not asked does not see it at all.
    let other = hub.client_as("crisisdienst-haaglanden").await;
    assert_code(
        other
            .placements(PERSON)
            .get_placement_request(pb::GetPlacementRequestRequest {
                placement_request_id: sent.id,
            })
            .await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn three_providers_asked_the_first_acceptance_withdraws_the_others() {
    for backend in backends() {
        accepted_then_the_others_withdrawn(backend).await;
    }
}

async fn every_refusal_reason(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let offerings = three_providers(&hub).await;
    let (_, kenter_offering) = &offerings[0];
    let (_, referral) = &offerings[1];
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let kenter = hub.client_as("kenter").await;
    let reasons = [
        pb::PlacementRefusalReason::NoPlace,
        pb::PlacementRefusalReason::OutsideCareProfile,
        pb::PlacementRefusalReason::OutsideAgeBand,
        pb::PlacementRefusalReason::GroupSafety,
        pb::PlacementRefusalReason::NoStaff,
        pb::PlacementRefusalReason::MedicalCare,
        pb::PlacementRefusalReason::Other,
    ];
    for (n, reason) in reasons.into_iter().enumerate() {
        let hold = hold_granted(&crisis, &format!("r{n}"), kenter_offering).await;
        let sent = ask(&crisis, placement(&format!("q{n}"), vec![hold.id.clone()])).await;
        assert_eq!(available(&hub, kenter_offering).await, 0);
        let part = sent.provider_requests[0].id.clone();
        if reason == pb::PlacementRefusalReason::Other {
            // OTHER names its reason; a BSN in the note is refused on the field.
            let mut bare = refuse(&part, reason);
            bare.refusal_note.clear();
            assert_bad_field(
                kenter
                    .placements("Nachtcoördinator")
                    .answer_placement_request(bare)
                    .await,
                "refusal_note",
            );
            let mut bsn = refuse(&part, reason);
            bsn.refusal_note = "Cliënt 111222333 is al bij ons bekend.".into();
            assert_bad_field(
                kenter
                    .placements("Nachtcoördinator")
                    .answer_placement_request(bsn)
                    .await,
                "refusal_note",
            );
        }
        let mut answer = refuse(&part, reason);
        if reason == pb::PlacementRefusalReason::OutsideCareProfile {
            // Under beginselplicht: referred on to another provider's bed.
            answer.referral_offering_id = referral.clone();
        }
        let refused = kenter
            .placements("Nachtcoördinator")
            .answer_placement_request(answer)
            .await
            .unwrap()
            .into_inner()
            .placement_request
            .unwrap();
        let part = &refused.provider_requests[0];
        assert_eq!(part.state, pb::ProviderRequestState::Refused as i32);
        assert_eq!(part.refusal_reason, reason as i32);
        let seen_by_requester = read_request(&crisis, PERSON, &sent.id).await;
        assert_eq!(
            seen_by_requester.provider_requests[0].refusal_reason,
            reason as i32
        );
        if reason == pb::PlacementRefusalReason::OutsideCareProfile {
            assert_eq!(
                seen_by_requester.provider_requests[0].referral_offering_id,
                *referral
            );
        }
        assert_eq!(
            hold_state(&hub, &hold.id).await,
            pb::HoldState::Released as i32
        );
        assert_eq!(
            available(&hub, kenter_offering).await,
            1,
            "a refusal gives the place back"
        );
    }

    // A referral must name another provider's offering.
    let hold = hold_granted(&crisis, "own", kenter_offering).await;
    let sent = ask(&crisis, placement("own", vec![hold.id])).await;
    let mut own = refuse(
        &sent.provider_requests[0].id,
        pb::PlacementRefusalReason::NoStaff,
    );
    own.referral_offering_id = kenter_offering.clone();
    assert_bad_field(
        kenter
            .placements("Nachtcoördinator")
            .answer_placement_request(own)
            .await,
        "referral_offering_id",
    );
}

#[tokio::test]
async fn a_provider_refuses_with_each_reason_and_may_refer_onward() {
    for backend in backends() {
        every_refusal_reason(backend).await;
    }
}

async fn overdue_and_withdrawn(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let offerings = three_providers(&hub).await;
    let (_, offering) = &offerings[0];
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let hold = hold_granted(&crisis, "late", offering).await;
    let sent = ask(&crisis, placement("late", vec![hold.id.clone()])).await;
    // A hold already under an open request cannot be asked for twice.
    assert_precondition(
        crisis
            .placements(PERSON)
            .request_placement(placement("again", vec![hold.id.clone()]))
            .await,
        "HOLD_UNDER_REQUEST",
    );
    // The crisis deadline (one hour) passes unanswered: overdue, the place back.
    hub.clock.advance(chrono::Duration::minutes(61));
    let seen = read_request(&crisis, PERSON, &sent.id).await;
    assert_eq!(
        seen.provider_requests[0].state,
        pb::ProviderRequestState::Overdue as i32
    );
    assert_eq!(
        available(&hub, offering).await,
        1,
        "an expired request gives the place back"
    );
    let kenter = hub.client_as("kenter").await;
    assert_precondition(
        kenter
            .placements("Nachtcoördinator")
            .answer_placement_request(accept(&seen.provider_requests[0].id))
            .await,
        "PLACEMENT_OVERDUE",
    );
    // The requester withdraws it and asks another provider.
    let withdrawn = crisis
        .placements(PERSON)
        .withdraw_placement_request(pb::WithdrawPlacementRequestRequest {
            placement_request_id: sent.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .placement_request
        .unwrap();
    assert_eq!(
        withdrawn.provider_requests[0].state,
        pb::ProviderRequestState::Withdrawn as i32
    );
    let next = hold_granted(&crisis, "next", &offerings[1].1).await;
    crisis
        .placements(PERSON)
        .request_placement(placement("next", vec![next.id]))
        .await
        .unwrap();

    // Bad input, each on its field; roles that take no part are refused.
    assert_bad_field(
        crisis
            .placements(PERSON)
            .request_placement(pb::RequestPlacementRequest {
                consent_recorded: false,
                ..placement("x1", vec!["h".into()])
            })
            .await,
        "consent_recorded",
    );
    assert_bad_field(
        crisis
            .placements(PERSON)
            .request_placement(placement(
                "x2",
                vec!["a".into(), "b".into(), "c".into(), "d".into()],
            ))
            .await,
        "hold_ids",
    );
    assert_bad_field(
        crisis
            .placements(PERSON)
            .request_placement(pb::RequestPlacementRequest {
                note: "BSN 111222333".into(),
                ..placement("x3", vec!["h".into()])
            })
            .await,
        "note",
    );
    assert_bad_field(
        crisis
            .placements("")
            .request_placement(placement("x4", vec!["h".into()]))
            .await,
        "x-spil-person",
    );
    assert_code(
        kenter
            .placements("Nachtcoördinator")
            .request_placement(placement("x5", vec!["h".into()]))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        crisis
            .placements(PERSON)
            .request_placement(placement("x6", vec!["no-such-hold".into()]))
            .await,
        Code::NotFound,
    );
}

#[tokio::test]
async fn an_unanswered_request_goes_overdue_and_gives_its_place_back() {
    for backend in backends() {
        overdue_and_withdrawn(backend).await;
    }
}

/// Two providers of one request accept at the same moment, each through
/// its own replica: exactly one places the child, the other hears it was
/// withdrawn.
async fn race(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let replica = hub.spawn_replica().await;
    let offerings = three_providers(&hub).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    for round in 0..5 {
        let first = hold_granted(&crisis, &format!("a{round}"), &offerings[0].1).await;
        let second = hold_granted(&crisis, &format!("b{round}"), &offerings[1].1).await;
        let sent = crisis
            .placements(PERSON)
            .request_placement(placement(
                &format!("race{round}"),
                vec![first.id, second.id],
            ))
            .await
            .unwrap()
            .into_inner()
            .placement_request
            .unwrap();
        let part_of = |provider: &str| {
            sent.provider_requests
                .iter()
                .find(|p| p.provider_id == provider)
                .unwrap()
                .id
                .clone()
        };
        let kenter = hub.client_as("kenter").await;
        let ijmond = hub.client_at(&replica, "consortium-ijmond").await;
        let (a, b) = tokio::join!(
            async {
                kenter
                    .placements("Nachtcoördinator")
                    .answer_placement_request(accept(&part_of("kenter")))
                    .await
            },
            async {
                ijmond
                    .placements("Dienstdoende coördinator")
                    .answer_placement_request(accept(&part_of("consortium-ijmond")))
                    .await
            }
        );
        let outcomes = [&a, &b];
        let won = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            won, 1,
            "round {round}: exactly one acceptance wins: {a:?} {b:?}"
        );
        let lost = outcomes.into_iter().find_map(|r| r.as_ref().err()).unwrap();
        assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
        let seen = read_request(&crisis, PERSON, &sent.id).await;
        let mut states: Vec<i32> = seen.provider_requests.iter().map(|p| p.state).collect();
        states.sort();
        assert_eq!(
            states,
            [
                pb::ProviderRequestState::Accepted as i32,
                pb::ProviderRequestState::Withdrawn as i32
            ]
        );
        // Republish so the next round finds a free place at each.
        for (provider, _) in &offerings[..2] {
            let client = hub.client_as(provider).await;
            let location = if provider == "kenter" {
                "kenter-haarlem"
            } else {
                "ijmond-velsen"
            };
            crisis_bed_offering(&client, location, 2, 1).await;
        }
    }
    replica.stop().await.unwrap();
}

#[tokio::test]
async fn two_providers_accepting_at_once_on_two_replicas_end_one_way() {
    for backend in backends() {
        race(backend).await;
    }
}

async fn escalated(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let offerings = three_providers(&hub).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    // Two providers refuse the same case; a third request goes unanswered.
    for (n, (provider, reason)) in [
        ("kenter", pb::PlacementRefusalReason::NoStaff),
        ("consortium-ijmond", pb::PlacementRefusalReason::GroupSafety),
    ]
    .into_iter()
    .enumerate()
    {
        let offering = &offerings.iter().find(|(p, _)| p == provider).unwrap().1;
        let hold = hold_granted(&crisis, &format!("e{n}"), offering).await;
        let sent = crisis
            .placements(PERSON)
            .request_placement(pb::RequestPlacementRequest {
                case_reference: "CASE-escalated".into(),
                ..placement(&format!("e{n}"), vec![hold.id])
            })
            .await
            .unwrap()
            .into_inner()
            .placement_request
            .unwrap();
        let mut answer = refuse(&sent.provider_requests[0].id, reason);
        answer.refusal_note = "Notitie die niet naar het expertiseteam gaat.".into();
        hub.client_as(provider)
            .await
            .placements("Nachtcoördinator")
            .answer_placement_request(answer)
            .await
            .unwrap();
    }
    let hold = hold_granted(&crisis, "e2", &offerings[2].1).await;
    let open = crisis
        .placements(PERSON)
        .request_placement(pb::RequestPlacementRequest {
            case_reference: "CASE-escalated".into(),
            ..placement("e2", vec![hold.id.clone()])
        })
        .await
        .unwrap()
        .into_inner()
        .placement_request
        .unwrap();
    let last = open.id;
    hub.clock.advance(chrono::Duration::minutes(61));

    let escalate = pb::EscalatePlacementCaseRequest {
        placement_request_id: last.clone(),
    };
    let escalation = crisis
        .placements(PERSON)
        .escalate_placement_case(escalate.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(escalation.expertise_team_id, "ret-zkh-ijmond");
    assert_eq!(
        escalation.placement_request.unwrap().provider_requests[0].state,
        pb::ProviderRequestState::Withdrawn as i32
    );
    // The team reads the case with the refusals' reasons, never the notes.
    let consultation = hub
        .client_as("ret-zkh-ijmond")
        .await
        .consultations("Procesregisseur RET")
        .get_consultation(pb::GetConsultationRequest {
            consultation_id: escalation.consultation_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .consultation
        .unwrap();
    let content = consultation.content.unwrap();
    assert_eq!(content.case_reference, "CASE-escalated");
    assert_eq!(
        consultation.question_type,
        pb::QuestionType::ProcessDirection as i32
    );
    assert_eq!(consultation.urgency, pb::Urgency::Crisis as i32);
    assert!(
        content.question.contains("2 weigering(en)"),
        "{}",
        content.question
    );
    assert!(
        content.question.contains("geen personeel beschikbaar (1x)"),
        "{}",
        content.question
    );
    assert!(
        content.question.contains("veiligheid van de groep (1x)"),
        "{}",
        content.question
    );
    assert!(
        content.question.contains("1 verzoek(en) niet beantwoord"),
        "{}",
        content.question
    );
    assert!(
        !content.question.contains("Notitie"),
        "{}",
        content.question
    );
    // A retry files no second consultation.
    let again = crisis
        .placements(PERSON)
        .escalate_placement_case(escalate)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.consultation_id, escalation.consultation_id);
    // Only the requester escalates.
    assert_code(
        hub.client_as("rijnland-gezinshuizen")
            .await
            .placements("Nachtcoördinator")
            .escalate_placement_case(pb::EscalatePlacementCaseRequest {
                placement_request_id: last,
            })
            .await,
        Code::PermissionDenied,
    );
}

#[tokio::test]
async fn a_case_nobody_takes_goes_to_the_regions_expertise_team_with_its_refusals() {
    for backend in backends() {
        escalated(backend).await;
    }
}

/// Requests are kept as long as consultations: past the retention period
/// after their deadline, the notes go and the case reference no longer
/// links to the case; what regions count stays.
#[tokio::test]
async fn a_request_loses_its_notes_and_case_reference_after_the_retention_period() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.consultation_retention_days = 30;
    })
    .await;
    let offerings = three_providers(&hub).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let hold = hold_granted(&crisis, "kept", &offerings[0].1).await;
    let sent = ask(&crisis, placement("kept", vec![hold.id])).await;
    hub.client_as("kenter")
        .await
        .placements("Nachtcoördinator")
        .answer_placement_request(refuse(
            &sent.provider_requests[0].id,
            pb::PlacementRefusalReason::Other,
        ))
        .await
        .unwrap();
    let erase = || async {
        hub.hub()
            .app()
            .placements
            .erase_expired_placements()
            .await
            .unwrap()
    };

    hub.clock.advance(chrono::Duration::days(30));
    assert_eq!(erase().await, 0, "the deadline was an hour after sending");
    hub.clock.advance(chrono::Duration::hours(2));
    assert_eq!(erase().await, 1);
    assert_eq!(erase().await, 0, "erased once");

    let erased = read_request(&crisis, PERSON, &sent.id).await;
    assert!(erased.erased_at.is_some());
    assert!(erased.note.is_empty());
    assert!(
        erased.case_reference.starts_with("gewist-"),
        "{}",
        erased.case_reference
    );
    let part = &erased.provider_requests[0];
    assert!(part.refusal_note.is_empty());
    assert_eq!(
        part.refusal_reason,
        pb::PlacementRefusalReason::Other as i32
    );
    assert_eq!(part.state, pb::ProviderRequestState::Refused as i32);
}

/// The next request on a placement watch, within the test's patience.
async fn next_change(
    stream: &mut tonic::Streaming<pb::WatchPlacementRequestsResponse>,
) -> (u64, pb::PlacementRequest) {
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("a change within 10 s")
        .expect("no error")
        .expect("the stream is open");
    assert!(!message.stream_start, "{message:?}");
    (
        message.revision,
        message.placement_request.expect("a request"),
    )
}

async fn watch_from(
    client: &SpilClient,
    person: &str,
    start_revision: u64,
) -> tonic::Streaming<pb::WatchPlacementRequestsResponse> {
    let mut stream = client
        .placements(person)
        .watch_placement_requests(pb::WatchPlacementRequestsRequest {
            start_revision,
            from_oldest_kept: false,
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert!(
        first.stream_start && first.placement_request.is_none(),
        "{first:?}"
    );
    stream
}

async fn followed_live(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let replica = hub.spawn_replica().await;
    let offerings = three_providers(&hub).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    // One provider follows on the other replica: its commits reach it by the poll.
    let kenter = hub.client_at(&replica, "kenter").await;
    let ijmond = hub.client_as("consortium-ijmond").await;
    let mut kenter_watch = watch_from(&kenter, "Nachtcoördinator", 0).await;
    let mut requester_watch = watch_from(&crisis, PERSON, 0).await;

    let mut holds = Vec::new();
    for (n, (_, offering)) in offerings.iter().enumerate() {
        holds.push(hold_granted(&crisis, &format!("w{n}"), offering).await.id);
    }
    let sent = ask(&crisis, placement("watched", holds)).await;

    // The provider sees the request arrive, with only its own part.
    let (_, arrived) = next_change(&mut kenter_watch).await;
    assert_eq!(arrived.id, sent.id);
    assert_eq!(arrived.provider_requests.len(), 1);
    assert_eq!(arrived.provider_requests[0].provider_id, "kenter");
    assert_eq!(
        arrived.provider_requests[0].state,
        pb::ProviderRequestState::Open as i32
    );
    let (seen_at, asked) = next_change(&mut requester_watch).await;
    assert_eq!(asked.provider_requests.len(), 3);

    // The requester stops following; IJmond accepts meanwhile.
    drop(requester_watch);
    let ijmond_part = sent
        .provider_requests
        .iter()
        .find(|p| p.provider_id == "consortium-ijmond")
        .unwrap()
        .id
        .clone();
    ijmond
        .placements("Dienstdoende coördinator")
        .answer_placement_request(accept(&ijmond_part))
        .await
        .unwrap();

    // Kenter learns at once that its part was withdrawn, never that it placed.
    let (_, ended) = next_change(&mut kenter_watch).await;
    assert_eq!(
        ended.provider_requests[0].state,
        pb::ProviderRequestState::Withdrawn as i32
    );
    // Resuming after the last revision it saw, the requester misses nothing.
    let mut resumed = watch_from(&crisis, PERSON, seen_at).await;
    let (_, answered) = next_change(&mut resumed).await;
    let mut states: Vec<i32> = answered.provider_requests.iter().map(|p| p.state).collect();
    states.sort();
    assert_eq!(
        states,
        [
            pb::ProviderRequestState::Accepted as i32,
            pb::ProviderRequestState::Withdrawn as i32,
            pb::ProviderRequestState::Withdrawn as i32,
        ]
    );
    // A start ahead of the hub is refused with the documented code.
    let ahead = crisis
        .placements(PERSON)
        .watch_placement_requests(pb::WatchPlacementRequestsRequest {
            start_revision: u64::MAX / 2,
            from_oldest_kept: false,
        })
        .await;
    assert_eq!(ahead.unwrap_err().code(), Code::OutOfRange);
    drop((kenter_watch, resumed));
    replica.stop().await.unwrap();
}

#[tokio::test]
async fn both_sides_follow_a_request_live_and_resume_without_loss() {
    for backend in backends() {
        followed_live(backend).await;
    }
}

fn ts(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

async fn regional_figures(backend: Backend) {
    let hub = TestHub::spawn_on(backend).await;
    let t0 = spil_tests::epoch();
    let kenter = hub.client_as("kenter").await;
    kenter
        .capacity()
        .upsert_location(location_in("kenter-haarlem", "GM0392"))
        .await
        .unwrap();
    let at_kenter = crisis_bed_offering(&kenter, "kenter-haarlem", 40, 40).await;
    let ijmond = hub.client_as("consortium-ijmond").await;
    ijmond
        .capacity()
        .upsert_location(location_in("ijmond-velsen", "GM0453"))
        .await
        .unwrap();
    let at_ijmond = crisis_bed_offering(&ijmond, "ijmond-velsen", 40, 40).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let ask_one = async |n: usize, offering: &str| {
        let hold = hold_granted(&crisis, &format!("fig-h{n}"), offering).await;
        ask(&crisis, placement(&format!("fig-{n}"), vec![hold.id]))
            .await
            .provider_requests[0]
            .id
            .clone()
    };
    let mut to_kenter = Vec::new();
    for n in 0..10 {
        to_kenter.push(ask_one(n, &at_kenter).await);
    }
    let mut to_ijmond = Vec::new();
    for n in 10..20 {
        to_ijmond.push(ask_one(n, &at_ijmond).await);
    }
    // Half an hour later Kenter takes five and refuses five for want of
    // staff; IJmond refuses five for the group's safety and leaves five.
    hub.clock.set(t0 + chrono::Duration::minutes(30));
    for part in &to_kenter[..5] {
        kenter
            .placements("Nacht")
            .answer_placement_request(accept(part))
            .await
            .unwrap();
    }
    for part in &to_kenter[5..] {
        kenter
            .placements("Nacht")
            .answer_placement_request(refuse(part, pb::PlacementRefusalReason::NoStaff))
            .await
            .unwrap();
    }
    for part in &to_ijmond[..5] {
        ijmond
            .placements("Nacht")
            .answer_placement_request(refuse(part, pb::PlacementRefusalReason::GroupSafety))
            .await
            .unwrap();
    }
    hub.clock.set(t0 + chrono::Duration::hours(3));

    let request = pb::PlacementRequestFiguresRequest {
        region_id: "zuid-kennemerland".into(),
        from: Some(ts(t0 - chrono::Duration::hours(1))),
        to: Some(ts(t0 + chrono::Duration::hours(3))),
    };
    let region = hub.client_as("regio-zuid-kennemerland").await;
    let figures = region
        .insights()
        .placement_request_figures(request.clone())
        .await
        .unwrap()
        .into_inner();
    let shown = |count: &Option<pb::SuppressibleCount>| {
        let count = count.as_ref().unwrap();
        (!count.suppressed).then_some(count.value)
    };
    let total = figures.total.unwrap();
    assert_eq!(shown(&total.asked), Some(20));
    assert_eq!(shown(&total.answered), Some(15));
    assert_eq!(shown(&total.overdue), Some(5));
    assert_eq!(total.share_answered_in_time, Some(0.75));
    assert_eq!(total.hours_to_answer_median, Some(0.5));
    let reasons: Vec<(i32, Option<u32>)> = figures
        .refused_by_reason
        .iter()
        .map(|r| (r.reason, shown(&r.refused)))
        .filter(|(_, n)| *n != Some(0))
        .collect();
    assert_eq!(
        reasons,
        [
            (pb::PlacementRefusalReason::GroupSafety as i32, Some(5)),
            (pb::PlacementRefusalReason::NoStaff as i32, Some(5)),
        ]
    );
    let providers: Vec<&str> = figures
        .by_provider
        .iter()
        .map(|p| p.provider_id.as_str())
        .collect();
    assert_eq!(providers, ["consortium-ijmond", "kenter"]);
    let kenter_row = figures.by_provider[1].counts.as_ref().unwrap();
    assert_eq!(shown(&kenter_row.accepted), Some(5));
    assert_eq!(kenter_row.share_answered_in_time, Some(1.0));
    assert_eq!(figures.by_place_type.len(), 1);
    // Kenter's Haarlem bed was published at the start and stayed fresh.
    let discipline = figures
        .update_discipline
        .iter()
        .find(|d| d.provider_id == "kenter")
        .expect("Kenter has offerings in the region");
    assert!(discipline.fresh_share > 0.99, "{discipline:?}");
    assert_eq!(discipline.stale_at_end, 0);

    // Two more left unanswered by Kenter: seven is shown, but Kenter's two
    // are too few, and nothing shown gives them away.
    for n in 20..22 {
        ask_one(n, &at_kenter).await;
    }
    hub.clock.set(t0 + chrono::Duration::hours(5));
    let later = pb::PlacementRequestFiguresRequest {
        to: Some(ts(t0 + chrono::Duration::hours(5))),
        ..request.clone()
    };
    let figures = region
        .insights()
        .placement_request_figures(later)
        .await
        .unwrap()
        .into_inner();
    let kenter_row = figures.by_provider[1].counts.as_ref().unwrap();
    assert_eq!(shown(&kenter_row.overdue), None);
    assert_eq!(kenter_row.share_answered_in_time, None);
    let total = figures.total.unwrap();
    assert!(
        shown(&total.overdue).is_none()
            || shown(&figures.by_provider[0].counts.as_ref().unwrap().overdue).is_none(),
        "IJmond's five beside a total of seven would give Kenter's two away"
    );

    // The same rule as every regional figure: not for a crisis service.
    let refused = crisis.insights().placement_request_figures(request).await;
    assert_code(refused, Code::PermissionDenied);
}

#[tokio::test]
async fn a_region_reads_its_acceptance_duty_figures_suppressed_where_small() {
    for backend in backends() {
        regional_figures(backend).await;
    }
}
