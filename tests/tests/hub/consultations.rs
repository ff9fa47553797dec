//! Consultations: lifecycle, escalation, who may do and see what, privacy,
//! deadlines and retention.

use super::support::{assert_bad_field, assert_code, assert_precondition};
use chrono::Duration;
use spil_tests::fixtures::consultation;
use spil_tests::{TestHub, pb};
use tonic::Code;

const PERSON: &str = "J. de Vries";

type Consultations = pb::consultations_client::ConsultationsClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        spil_client::PersonHeader,
    >,
>;

async fn as_org(hub: &TestHub, org: &str) -> Consultations {
    hub.client_as(org).await.consultations(PERSON)
}

async fn file(
    client: &mut Consultations,
    request: pb::FileConsultationRequest,
) -> pb::Consultation {
    client
        .file_consultation(request)
        .await
        .unwrap()
        .into_inner()
        .consultation
        .unwrap()
}

async fn get(client: &mut Consultations, id: &str) -> pb::GetConsultationResponse {
    client
        .get_consultation(pb::GetConsultationRequest {
            consultation_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn accept(id: &str) -> pb::AcceptConsultationRequest {
    pb::AcceptConsultationRequest {
        consultation_id: id.into(),
        ..Default::default()
    }
}

fn start(id: &str) -> pb::StartWorkRequest {
    pb::StartWorkRequest {
        consultation_id: id.into(),
        ..Default::default()
    }
}

fn advise(id: &str, advice: &str) -> pb::GiveAdviceRequest {
    pb::GiveAdviceRequest {
        consultation_id: id.into(),
        advice: advice.into(),
        ..Default::default()
    }
}

fn decline(id: &str, note: &str) -> pb::DeclineConsultationRequest {
    pb::DeclineConsultationRequest {
        consultation_id: id.into(),
        reason: pb::DeclineReason::OutsideExpertise as i32,
        note: note.into(),
        ..Default::default()
    }
}

fn escalate(id: &str, network: &str) -> pb::EscalateConsultationRequest {
    pb::EscalateConsultationRequest {
        consultation_id: id.into(),
        network_id: network.into(),
        note: "Comorbiditeit vraagt bovenregionale expertise".into(),
        ..Default::default()
    }
}

fn withdraw(id: &str) -> pb::WithdrawConsultationRequest {
    pb::WithdrawConsultationRequest {
        consultation_id: id.into(),
        ..Default::default()
    }
}

fn close(id: &str) -> pb::CloseConsultationRequest {
    pb::CloseConsultationRequest {
        consultation_id: id.into(),
        ..Default::default()
    }
}

fn state(c: &pb::Consultation) -> pb::ConsultationState {
    pb::ConsultationState::try_from(c.state).unwrap()
}

#[tokio::test]
async fn a_consultation_goes_from_filing_to_advice_and_is_closed_by_its_filer() {
    let hub = TestHub::spawn().await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;

    let filed = file(&mut crisis, consultation("c1", "ret-zkh-ijmond")).await;
    assert_eq!(state(&filed), pb::ConsultationState::Submitted);
    assert_eq!(filed.filer_id, "crisisdienst-zkh");
    assert_eq!(filed.content.as_ref().unwrap().case_reference, "CASE-c1");
    let retried = file(&mut crisis, consultation("c1", "ret-zkh-ijmond")).await;
    assert_eq!(
        retried.id, filed.id,
        "a retried filing returns the same consultation"
    );
    let mut other = consultation("c1", "ret-zkh-ijmond");
    other.age_years = 12;
    assert_code(crisis.file_consultation(other).await, Code::AlreadyExists);

    let id = filed.id.as_str();
    let inbox = ret
        .list_consultations(pb::ListConsultationsRequest {
            r#box: pb::ConsultationRole::Inbox as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inbox.consultations.len(), 1);
    assert_eq!(inbox.consultations[0].id, filed.id);

    hub.clock.advance(Duration::hours(2));
    let accepted = ret
        .accept_consultation(accept(id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        state(accepted.consultation.as_ref().unwrap()),
        pb::ConsultationState::Accepted
    );
    ret.post_message(pb::PostMessageRequest {
        consultation_id: id.into(),
        text: "Graag het laatste behandelplan".into(),
        request_id: "m1".into(),
    })
    .await
    .unwrap();
    crisis
        .post_message(pb::PostMessageRequest {
            consultation_id: id.into(),
            text: "Volgt vandaag".into(),
            request_id: "m1".into(),
        })
        .await
        .unwrap();
    ret.start_work(start(id)).await.unwrap();
    let advised = ret
        .give_advice(advise(id, "Start FACT-jeugd; systeemtherapie erbij"))
        .await
        .unwrap()
        .into_inner()
        .consultation
        .unwrap();
    assert_eq!(state(&advised), pb::ConsultationState::AdviceGiven);
    let closed = crisis
        .close_consultation(close(id))
        .await
        .unwrap()
        .into_inner();
    let closed = closed.consultation.unwrap();
    assert_eq!(state(&closed), pb::ConsultationState::Closed);
    assert!(closed.ended_at.is_some());
    assert_eq!(
        closed.first_answered_at.unwrap().seconds,
        filed.filed_at.unwrap().seconds + 7200,
        "the first answer is the acceptance"
    );

    let shown = get(&mut crisis, id).await;
    let steps: Vec<(i32, i32, &str)> = shown
        .history
        .iter()
        .map(|c| (c.from_state, c.to_state, c.organisation_id.as_str()))
        .collect();
    use pb::ConsultationState as S;
    assert_eq!(
        steps,
        vec![
            (S::Submitted as i32, S::Submitted as i32, "crisisdienst-zkh"),
            (S::Submitted as i32, S::Accepted as i32, "ret-zkh-ijmond"),
            (S::Accepted as i32, S::InProgress as i32, "ret-zkh-ijmond"),
            (
                S::InProgress as i32,
                S::AdviceGiven as i32,
                "ret-zkh-ijmond"
            ),
            (S::AdviceGiven as i32, S::Closed as i32, "crisisdienst-zkh"),
        ]
    );
    assert!(shown.history.iter().all(|c| c.person == PERSON));
    assert_eq!(
        shown.history[3].note,
        "Start FACT-jeugd; systeemtherapie erbij"
    );
    let thread = ret
        .list_messages(pb::ListMessagesRequest {
            consultation_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let authors: Vec<&str> = thread
        .messages
        .iter()
        .map(|m| m.author_organisation_id.as_str())
        .collect();
    assert_eq!(authors, ["ret-zkh-ijmond", "crisisdienst-zkh"]);
    assert_precondition(
        crisis
            .post_message(pb::PostMessageRequest {
                consultation_id: id.into(),
                text: "nog iets".into(),
                request_id: "m2".into(),
            })
            .await,
        "CONSULTATION_ENDED",
    );
}

#[tokio::test]
async fn an_escalation_links_both_records_and_the_network_takes_over() {
    let hub = TestHub::spawn().await;
    let mut cjg = as_org(&hub, "cjg-haarlem").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    let mut ben = as_org(&hub, "ben-nh").await;
    let mut keet = as_org(&hub, "k-eet").await;

    let original = file(&mut cjg, consultation("e1", "ret-zkh-ijmond")).await;
    let id = original.id.as_str();
    assert_code(
        ben.get_consultation(pb::GetConsultationRequest {
            consultation_id: id.into(),
        })
        .await,
        Code::NotFound,
    );
    ret.accept_consultation(accept(id)).await.unwrap();
    assert_bad_field(
        ret.escalate_consultation(escalate(id, "kenter")).await,
        "network_id",
    );
    let outcome = ret
        .escalate_consultation(escalate(id, "ben-nh"))
        .await
        .unwrap()
        .into_inner();
    let escalated_original = outcome.consultation.unwrap();
    let follow_up = outcome.escalated.unwrap();
    assert_eq!(state(&escalated_original), pb::ConsultationState::Escalated);
    assert_eq!(escalated_original.escalated_to_id, follow_up.id);
    assert_eq!(follow_up.escalated_from_id, original.id);
    assert_eq!(follow_up.addressee_id, "ben-nh");
    assert_eq!(follow_up.filer_id, "cjg-haarlem");
    assert_eq!(state(&follow_up), pb::ConsultationState::Submitted);
    assert_eq!(
        follow_up.content, original.content,
        "the case travels with it"
    );

    // Everyone involved sees both records; the history stays with the original.
    for client in [&mut cjg, &mut ret, &mut ben] {
        let shown = get(client, id).await;
        assert_eq!(shown.history.len(), 3);
        get(client, &follow_up.id).await;
    }
    // A third organisation sees neither.
    for target in [id, follow_up.id.as_str()] {
        assert_code(
            keet.get_consultation(pb::GetConsultationRequest {
                consultation_id: target.into(),
            })
            .await,
            Code::NotFound,
        );
    }
    // The network answers the new record; the team that escalated may read but not act.
    assert_code(
        ret.accept_consultation(accept(&follow_up.id)).await,
        Code::PermissionDenied,
    );
    ben.accept_consultation(accept(&follow_up.id))
        .await
        .unwrap();
    let ben_inbox = ben
        .list_consultations(pb::ListConsultationsRequest {
            r#box: pb::ConsultationRole::Inbox as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ben_inbox.consultations.len(), 1);
    assert_eq!(ben_inbox.consultations[0].id, follow_up.id);
    let everything = ben
        .list_consultations(pb::ListConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        everything.consultations.len(),
        2,
        "inbox plus what was escalated to it"
    );
    // Only an expertise team escalates.
    let mut kenter = as_org(&hub, "kenter").await;
    let to_provider = file(&mut cjg, consultation("e2", "kenter")).await;
    kenter
        .accept_consultation(accept(&to_provider.id))
        .await
        .unwrap();
    assert_code(
        kenter
            .escalate_consultation(escalate(&to_provider.id, "ben-nh"))
            .await,
        Code::PermissionDenied,
    );
}

/// Drives a consultation from crisisdienst-zkh to ret-zkh-ijmond into `target`.
async fn consultation_in(
    hub: &TestHub,
    crisis: &mut Consultations,
    ret: &mut Consultations,
    target: pb::ConsultationState,
    n: usize,
) -> String {
    use pb::ConsultationState as S;
    let id = file(crisis, consultation(&format!("s{n}"), "ret-zkh-ijmond"))
        .await
        .id;
    let _ = hub;
    let path: &[S] = match target {
        S::Submitted => &[],
        S::Accepted => &[S::Accepted],
        S::InProgress => &[S::Accepted, S::InProgress],
        S::AdviceGiven => &[S::Accepted, S::InProgress, S::AdviceGiven],
        S::Closed => &[S::Accepted, S::InProgress, S::AdviceGiven, S::Closed],
        S::Declined => &[S::Declined],
        S::Withdrawn => &[S::Withdrawn],
        S::Escalated => &[S::Accepted, S::Escalated],
        S::Unspecified => unreachable!(),
    };
    for step in path {
        match step {
            S::Accepted => drop(ret.accept_consultation(accept(&id)).await.unwrap()),
            S::InProgress => drop(ret.start_work(start(&id)).await.unwrap()),
            S::AdviceGiven => drop(ret.give_advice(advise(&id, "advies")).await.unwrap()),
            S::Closed => drop(crisis.close_consultation(close(&id)).await.unwrap()),
            S::Declined => drop(
                ret.decline_consultation(decline(&id, "buiten expertise"))
                    .await
                    .unwrap(),
            ),
            S::Withdrawn => drop(crisis.withdraw_consultation(withdraw(&id)).await.unwrap()),
            S::Escalated => drop(
                ret.escalate_consultation(escalate(&id, "ben-nh"))
                    .await
                    .unwrap(),
            ),
            _ => unreachable!(),
        }
    }
    id
}

#[tokio::test]
async fn every_illegal_transition_is_refused_naming_the_current_state() {
    use pb::ConsultationState as S;
    let hub = TestHub::spawn().await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    // The legal moves, from DOMAIN.md's lifecycle; everything else is refused.
    let legal: &[(S, &str)] = &[
        (S::Submitted, "accept"),
        (S::Submitted, "decline"),
        (S::Submitted, "withdraw"),
        (S::Accepted, "decline"),
        (S::Accepted, "start"),
        (S::Accepted, "escalate"),
        (S::Accepted, "withdraw"),
        (S::InProgress, "advise"),
        (S::InProgress, "escalate"),
        (S::InProgress, "withdraw"),
        (S::AdviceGiven, "close"),
    ];
    let states = [
        (S::Submitted, "SUBMITTED"),
        (S::Accepted, "ACCEPTED"),
        (S::InProgress, "IN_PROGRESS"),
        (S::AdviceGiven, "ADVICE_GIVEN"),
        (S::Closed, "CLOSED"),
        (S::Declined, "DECLINED"),
        (S::Withdrawn, "WITHDRAWN"),
        (S::Escalated, "ESCALATED"),
    ];
    let mut refused = 0;
    for (n, (target, name)) in states.into_iter().enumerate() {
        let id = consultation_in(&hub, &mut crisis, &mut ret, target, n).await;
        for action in [
            "accept", "decline", "start", "advise", "escalate", "withdraw", "close",
        ] {
            if legal.contains(&(target, action)) {
                continue;
            }
            let result = match action {
                "accept" => ret.accept_consultation(accept(&id)).await.map(|_| ()),
                "decline" => ret
                    .decline_consultation(decline(&id, "nee"))
                    .await
                    .map(|_| ()),
                "start" => ret.start_work(start(&id)).await.map(|_| ()),
                "advise" => ret.give_advice(advise(&id, "advies")).await.map(|_| ()),
                "escalate" => ret
                    .escalate_consultation(escalate(&id, "ben-nh"))
                    .await
                    .map(|_| ()),
                "withdraw" => crisis
                    .withdraw_consultation(withdraw(&id))
                    .await
                    .map(|_| ()),
                "close" => crisis.close_consultation(close(&id)).await.map(|_| ()),
                _ => unreachable!(),
            };
            let status = assert_code(result, Code::FailedPrecondition);
            assert!(
                status.message().contains(name),
                "{action} on {name}: {}",
                status.message()
            );
            refused += 1;
        }
    }
    assert_eq!(refused, 8 * 7 - legal.len());
}

#[tokio::test]
async fn each_role_files_and_answers_only_as_it_may() {
    let hub = TestHub::spawn().await;
    // Expertise teams, referrers and crisis services file.
    for (n, filer) in [
        "ret-holland-rijnland",
        "cjg-haarlem",
        "crisisdienst-haaglanden",
    ]
    .into_iter()
    .enumerate()
    {
        let mut client = as_org(&hub, filer).await;
        file(
            &mut client,
            consultation(&format!("r{n}"), "ret-zkh-ijmond"),
        )
        .await;
    }
    // Providers, networks, regions, the auditor and the operator do not.
    for org in [
        "kenter",
        "ben-nh",
        "regio-zuid-kennemerland",
        "spil-privacy",
        "spil-beheer",
    ] {
        let mut client = as_org(&hub, org).await;
        assert_code(
            client
                .file_consultation(consultation("x", "ret-zkh-ijmond"))
                .await,
            Code::PermissionDenied,
        );
    }
    // Regions never see content, not even a list.
    let mut region = as_org(&hub, "regio-zuid-kennemerland").await;
    assert_code(
        region
            .list_consultations(pb::ListConsultationsRequest::default())
            .await,
        Code::PermissionDenied,
    );
    // A region is not someone to ask.
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    assert_bad_field(
        crisis
            .file_consultation(consultation("to-region", "regio-zuid-kennemerland"))
            .await,
        "addressee_id",
    );
    // The filer does not answer its own question; the addressee does not withdraw it.
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    let id = file(&mut crisis, consultation("c", "ret-zkh-ijmond"))
        .await
        .id;
    assert_code(
        crisis.accept_consultation(accept(&id)).await,
        Code::PermissionDenied,
    );
    assert_code(
        ret.withdraw_consultation(withdraw(&id)).await,
        Code::PermissionDenied,
    );
    ret.accept_consultation(accept(&id)).await.unwrap();
    crisis.withdraw_consultation(withdraw(&id)).await.unwrap();
}

#[tokio::test]
async fn a_consultation_does_not_exist_for_a_third_organisation() {
    let hub = TestHub::spawn().await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut third = as_org(&hub, "ret-holland-rijnland").await;
    let id = file(&mut crisis, consultation("v1", "ret-zkh-ijmond"))
        .await
        .id;
    let unknown = "01890000-0000-7000-8000-000000000000";
    for target in [id.as_str(), unknown] {
        let seen = third
            .get_consultation(pb::GetConsultationRequest {
                consultation_id: target.into(),
            })
            .await;
        let status = assert_code(seen, Code::NotFound);
        assert!(
            !status.message().contains("permission"),
            "existence must not leak"
        );
        assert_code(
            third.accept_consultation(accept(target)).await,
            Code::NotFound,
        );
        assert_code(
            third
                .post_message(pb::PostMessageRequest {
                    consultation_id: target.into(),
                    text: "hallo".into(),
                    request_id: "m".into(),
                })
                .await,
            Code::NotFound,
        );
        assert_code(
            third
                .list_messages(pb::ListMessagesRequest {
                    consultation_id: target.into(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
    }
    let listed = third
        .list_consultations(pb::ListConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.consultations.is_empty());
}

#[tokio::test]
async fn a_bsn_is_refused_in_every_free_text_field_and_never_echoed() {
    let hub = TestHub::spawn().await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    // 111222333 and 123456782 pass the 11-test; 123456789 does not.
    let valid = [
        "BSN 111222333",
        "bsn: 1234.56.782",
        "123 456 782",
        "111 - 222 - 333",
        "111 222  333",
        "111\n222\n333",
        "111\t222\t333",
        "１１１２２２３３３",
    ];
    let invalid_nine_digits = "dossiernummer 123456789";

    for (n, text) in valid.iter().enumerate() {
        let mut request = consultation(&format!("q{n}"), "ret-zkh-ijmond");
        request.question = format!("Vraag over jeugdige met {text}");
        let status = assert_code(
            crisis.file_consultation(request.clone()).await,
            Code::InvalidArgument,
        );
        assert!(
            !status.message().chars().any(|c| c.is_numeric()),
            "{status:?}"
        );
        assert_bad_field(crisis.file_consultation(request).await, "question");
    }
    let mut request = consultation("ok", "ret-zkh-ijmond");
    request.question = format!("Vraag, {invalid_nine_digits}");
    let id = file(&mut crisis, request).await.id;
    let mut reference = consultation("ref", "ret-zkh-ijmond");
    reference.case_reference = "111222333".into();
    assert_bad_field(crisis.file_consultation(reference).await, "case_reference");

    let bsn = valid[0];
    let mut note = accept(&id);
    note.note = bsn.into();
    assert_bad_field(ret.accept_consultation(note).await, "note");
    assert_bad_field(ret.decline_consultation(decline(&id, bsn)).await, "note");
    let message = |text: &str| pb::PostMessageRequest {
        consultation_id: id.clone(),
        text: text.into(),
        request_id: format!("m-{}", text.len()),
    };
    assert_bad_field(ret.post_message(message(bsn)).await, "text");
    ret.post_message(message(invalid_nine_digits))
        .await
        .unwrap();
    let mut withdrawal = withdraw(&id);
    withdrawal.note = bsn.into();
    assert_bad_field(crisis.withdraw_consultation(withdrawal).await, "note");
    ret.accept_consultation(accept(&id)).await.unwrap();
    let mut escalation = escalate(&id, "ben-nh");
    escalation.note = bsn.into();
    assert_bad_field(ret.escalate_consultation(escalation).await, "note");
    ret.start_work(start(&id)).await.unwrap();
    assert_bad_field(ret.give_advice(advise(&id, bsn)).await, "advice");
    ret.give_advice(advise(&id, invalid_nine_digits))
        .await
        .unwrap();
    let mut closing = close(&id);
    closing.note = bsn.into();
    assert_bad_field(crisis.close_consultation(closing).await, "note");
}

#[tokio::test]
async fn without_consent_or_a_named_person_nothing_is_filed() {
    let hub = TestHub::spawn().await;
    let client = hub.client_as("crisisdienst-zkh").await;
    let mut crisis = client.consultations(PERSON);
    let mut request = consultation("nc", "ret-zkh-ijmond");
    request.consent_recorded = false;
    assert_bad_field(crisis.file_consultation(request).await, "consent_recorded");
    let mut anonymous = pb::consultations_client::ConsultationsClient::new(client.channel());
    assert_bad_field(
        anonymous
            .file_consultation(consultation("np", "ret-zkh-ijmond"))
            .await,
        "x-spil-person",
    );
    assert_bad_field(
        anonymous
            .list_consultations(pb::ListConsultationsRequest::default())
            .await,
        "x-spil-person",
    );
    let mut bsn_person = client.consultations("medewerker 111222333");
    assert_bad_field(
        bsn_person
            .file_consultation(consultation("bp", "ret-zkh-ijmond"))
            .await,
        "x-spil-person",
    );
    let listed = crisis
        .list_consultations(pb::ListConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.consultations.is_empty(),
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn names_are_carried_as_written_in_utf8() {
    let hub = TestHub::spawn().await;
    let client = hub.client_as("crisisdienst-zkh").await;
    let auditor = hub.client_as("spil-privacy").await;
    let names = [
        "Zoë Çelik",
        "Ünal Öztürk",
        "Anne-Marie van der Meer-Ağaoğlu",
        "Đorđe Nguyễn",
        "Fatıma El Idrissi",
        "Siân O'Brien",
    ];
    for (n, name) in names.iter().enumerate() {
        let mut crisis = client.consultations(name);
        let filed = file(
            &mut crisis,
            consultation(&format!("utf8-{n}"), "ret-zkh-ijmond"),
        )
        .await;
        let history = get(&mut crisis, &filed.id).await.history;
        assert_eq!(history[0].person, *name);
        let trail = auditor
            .audit()
            .list_audit_events(pb::ListAuditEventsRequest {
                consultation_id: filed.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(trail.events.iter().all(|e| e.person == *name), "{trail:?}");
    }
    let mut too_long = client.consultations(&"ë".repeat(101));
    assert_bad_field(
        too_long
            .file_consultation(consultation("long", "ret-zkh-ijmond"))
            .await,
        "x-spil-person",
    );
    // A plain-ASCII header still works for clients that send one.
    let mut ascii = pb::consultations_client::ConsultationsClient::new(client.channel());
    let mut request = tonic::Request::new(consultation("ascii", "ret-zkh-ijmond"));
    request
        .metadata_mut()
        .insert("x-spil-person", "J. de Vries".parse().unwrap());
    ascii.file_consultation(request).await.unwrap();
    // Latin-1 bytes in the ASCII header are refused with a pointer to the UTF-8 one.
    let mut request = tonic::Request::new(consultation("latin1", "ret-zkh-ijmond"));
    request.metadata_mut().insert(
        "x-spil-person",
        tonic::metadata::MetadataValue::try_from(&b"Zo\xeb"[..]).unwrap(),
    );
    let status = assert_code(
        ascii.file_consultation(request).await,
        Code::InvalidArgument,
    );
    assert!(status.message().contains("x-spil-person-bin"), "{status:?}");
}

#[tokio::test]
async fn a_consultation_past_its_deadline_is_overdue_for_both_sides() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.consultation_crisis_deadline_hours = 6;
    })
    .await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    let mut request = consultation("d1", "ret-zkh-ijmond");
    request.urgency = pb::Urgency::Crisis as i32;
    let filed = file(&mut crisis, request).await;
    assert_eq!(
        filed.answer_due_at.unwrap().seconds - filed.filed_at.unwrap().seconds,
        6 * 3600,
        "the configured crisis deadline"
    );
    let routine = file(&mut crisis, consultation("d2", "ret-zkh-ijmond")).await;
    assert_eq!(
        routine.answer_due_at.unwrap().seconds - routine.filed_at.unwrap().seconds,
        28 * 24 * 3600
    );
    let mut watch = ret
        .watch_consultations(pb::WatchConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    super::support::consultation_watch_start(&mut watch).await;

    hub.clock.advance(Duration::hours(6) - Duration::seconds(1));
    assert!(!get(&mut ret, &filed.id).await.consultation.unwrap().overdue);
    hub.clock.advance(Duration::seconds(1));
    for client in [&mut crisis, &mut ret] {
        assert!(get(client, &filed.id).await.consultation.unwrap().overdue);
        let overdue = client
            .list_consultations(pb::ListConsultationsRequest {
                overdue_only: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<&str> = overdue
            .consultations
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, [filed.id.as_str()]);
    }
    // The housekeeping round flags it on the watch too.
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), watch.message())
        .await
        .expect("a deadline event within the patience")
        .unwrap()
        .unwrap();
    assert_eq!(event.consultation_id, filed.id);
    assert_eq!(event.kind, pb::ConsultationEventKind::DeadlinePassed as i32);
    assert!(event.overdue);
    // Answering ends it.
    let accepted = ret
        .accept_consultation(accept(&filed.id))
        .await
        .unwrap()
        .into_inner();
    assert!(!accepted.consultation.unwrap().overdue);
}

#[tokio::test]
async fn the_watch_resumes_after_a_revision_without_gaps_or_repeats() {
    let hub = TestHub::spawn().await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    let mut third = as_org(&hub, "ret-holland-rijnland").await;
    let mut watch = ret
        .watch_consultations(pb::WatchConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    super::support::consultation_watch_start(&mut watch).await;
    let mut others = third
        .watch_consultations(pb::WatchConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    super::support::consultation_watch_start(&mut others).await;
    let id = file(&mut crisis, consultation("w1", "ret-zkh-ijmond"))
        .await
        .id;
    ret.accept_consultation(accept(&id)).await.unwrap();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.kind, pb::ConsultationEventKind::Filed as i32);
    assert_eq!(first.case_reference, "CASE-w1");
    drop(watch);
    ret.start_work(start(&id)).await.unwrap();
    let mut resumed = ret
        .watch_consultations(pb::WatchConsultationsRequest {
            start_revision: first.revision,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    super::support::consultation_watch_start(&mut resumed).await;
    let second = resumed.message().await.unwrap().unwrap();
    let third_event = resumed.message().await.unwrap().unwrap();
    assert_eq!(second.state, pb::ConsultationState::Accepted as i32);
    assert_eq!(third_event.state, pb::ConsultationState::InProgress as i32);
    assert!(first.revision < second.revision && second.revision < third_event.revision);
    assert_code(
        ret.watch_consultations(pb::WatchConsultationsRequest {
            start_revision: 1_000_000,
            ..Default::default()
        })
        .await,
        Code::OutOfRange,
    );
    // The third organisation's stream stays silent.
    let silent =
        tokio::time::timeout(std::time::Duration::from_millis(300), others.message()).await;
    assert!(
        silent.is_err(),
        "a third organisation hears nothing: {silent:?}"
    );
}

#[tokio::test]
async fn ended_consultations_lose_their_content_after_the_retention_period() {
    let hub = TestHub::spawn_with(spil_tests::default_backend(), |config| {
        config.consultation_retention_days = 30;
    })
    .await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    let ended = file(&mut crisis, consultation("r1", "ret-zkh-ijmond"))
        .await
        .id;
    ret.post_message(pb::PostMessageRequest {
        consultation_id: ended.clone(),
        text: "Wat is de vraag precies?".into(),
        request_id: "m1".into(),
    })
    .await
    .unwrap();
    ret.decline_consultation(decline(&ended, "Past beter bij K-EET"))
        .await
        .unwrap();
    let open = file(&mut crisis, consultation("r2", "ret-zkh-ijmond"))
        .await
        .id;

    hub.clock.advance(Duration::days(29));
    assert_eq!(
        hub.hub()
            .app()
            .consultations
            .erase_expired_consultations()
            .await
            .unwrap(),
        0
    );
    hub.clock.advance(Duration::days(2));
    assert_eq!(
        hub.hub()
            .app()
            .consultations
            .erase_expired_consultations()
            .await
            .unwrap(),
        1
    );

    let erased = get(&mut crisis, &ended).await;
    let consultation = erased.consultation.unwrap();
    assert!(consultation.content.is_none());
    assert!(consultation.erased_at.is_some());
    assert_eq!(
        state(&consultation),
        pb::ConsultationState::Declined,
        "the state stays"
    );
    assert_eq!(
        consultation.urgency,
        pb::Urgency::Routine as i32,
        "figures stay"
    );
    assert_eq!(erased.history.len(), 2, "the history stays");
    assert!(
        erased.history.iter().all(|c| c.note.is_empty()),
        "its notes go"
    );
    let thread = crisis
        .list_messages(pb::ListMessagesRequest {
            consultation_id: ended.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(thread.messages.len(), 1);
    assert!(thread.messages[0].text.is_empty());
    assert!(
        get(&mut crisis, &open)
            .await
            .consultation
            .unwrap()
            .content
            .is_some()
    );

    let auditor = hub.client_as("spil-privacy").await;
    let trail = auditor
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            consultation_id: ended.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let erasures: Vec<&pb::AuditEvent> = trail
        .events
        .iter()
        .filter(|e| e.action == pb::AuditAction::Erase as i32)
        .collect();
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0].organisation_id, "spil-hub");
}

#[tokio::test]
async fn a_consultation_watch_replays_from_the_first_event_and_says_where_to_resume() {
    let hub = TestHub::spawn().await;
    let mut crisis = as_org(&hub, "crisisdienst-zkh").await;
    let filed = file(&mut crisis, consultation("o1", "ret-zkh-ijmond")).await;

    let mut ret = as_org(&hub, "ret-zkh-ijmond").await;
    let mut replay = ret
        .watch_consultations(pb::WatchConsultationsRequest {
            from_oldest_kept: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        super::support::consultation_watch_start(&mut replay).await,
        0
    );
    let first = replay.message().await.unwrap().unwrap();
    assert_eq!(first.consultation_id, filed.id);

    let replica = hub.spawn_replica().await;
    let mut on_replica = hub
        .client_at(&replica, "ret-zkh-ijmond")
        .await
        .consultations(PERSON);
    let mut stream = on_replica
        .watch_consultations(pb::WatchConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let start = super::support::consultation_watch_start(&mut stream).await;
    assert!(start >= first.revision);
    replica.stop().await.unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends at shutdown")
        .expect_err("with an error");
    assert_eq!(ended.code(), Code::Unavailable);
    assert_eq!(spil_client::resume_revision(&ended), Some(start));
}
