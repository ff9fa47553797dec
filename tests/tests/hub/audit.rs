//! The audit trail: every consultation call leaves exactly one record, and
//! an altered, deleted or reordered record is found.

use super::support::assert_code;
use prost::Message;
use sea_orm::{ConnectionTrait, Database};
use spil_client::SpilClient;
use spil_tests::fixtures::consultation;
use spil_tests::{TestHub, pb};
use tonic::Code;

const PERSON: &str = "A. Jansen";

/// The methods of `spil.v1.Consultations`, read from the wire contract.
fn consultation_methods() -> Vec<String> {
    service_methods("Consultations")
}

/// The methods of one `spil.v1` service, read from the wire contract.
fn service_methods(name: &str) -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(spil_proto::FILE_DESCRIPTOR_SET).unwrap();
    let service = set
        .file
        .iter()
        .filter(|f| f.package() == "spil.v1")
        .flat_map(|f| f.service.iter())
        .find(|s| s.name() == name)
        .expect("the service in the descriptor set");
    service.method.iter().map(|m| m.name().to_owned()).collect()
}

async fn trail_length(auditor: &SpilClient) -> u64 {
    let report = auditor
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(report.intact, "{report:?}");
    report.records_checked
}

async fn last_record(auditor: &SpilClient) -> pb::AuditEvent {
    let mut page = pb::ListAuditEventsRequest {
        page_size: 1000,
        ..Default::default()
    };
    let mut last = None;
    loop {
        let response = auditor
            .audit()
            .list_audit_events(page.clone())
            .await
            .unwrap()
            .into_inner();
        last = response.events.last().cloned().or(last);
        if response.next_page_token.is_empty() {
            return last.expect("a record");
        }
        page.page_token = response.next_page_token;
    }
}

/// Exactly one record more than `before`, of this type and outcome, by this organisation.
async fn assert_one_record(
    auditor: &SpilClient,
    before: u64,
    event_type: &str,
    outcome: pb::AuditOutcome,
    organisation: &str,
) {
    assert_eq!(
        trail_length(auditor).await,
        before + 1,
        "{event_type} {outcome:?}"
    );
    let record = last_record(auditor).await;
    assert_eq!(record.event_type, event_type);
    assert_eq!(record.outcome, outcome as i32, "{event_type}");
    assert_eq!(record.organisation_id, organisation);
    assert_eq!(
        record.certificate_identity,
        format!("spiffe://spil.local/org/{organisation}")
    );
    if outcome == pb::AuditOutcome::Allowed {
        assert_eq!(record.person, PERSON);
    }
}

#[tokio::test]
async fn every_consultation_call_writes_exactly_one_audit_record_allowed_or_refused() {
    let hub = TestHub::spawn().await;
    let auditor = hub.client_as("spil-privacy").await;
    let mut crisis = hub
        .client_as("crisisdienst-zkh")
        .await
        .consultations(PERSON);
    let mut ret = hub.client_as("ret-zkh-ijmond").await.consultations(PERSON);
    let mut third = hub
        .client_as("ret-holland-rijnland")
        .await
        .consultations(PERSON);
    let mut region = hub
        .client_as("regio-zuid-kennemerland")
        .await
        .consultations(PERSON);
    let mut filed = 0;
    let mut new_id = |crisis: &mut pb::consultations_client::ConsultationsClient<_>| {
        filed += 1;
        let request = consultation(&format!("a{filed}"), "ret-zkh-ijmond");
        let mut crisis = crisis.clone();
        async move {
            crisis
                .file_consultation(request)
                .await
                .unwrap()
                .into_inner()
                .consultation
                .unwrap()
                .id
        }
    };
    let accepted = |id: &str| pb::AcceptConsultationRequest {
        consultation_id: id.into(),
        ..Default::default()
    };

    let methods = consultation_methods();
    assert_eq!(
        methods.len(),
        13,
        "a new RPC needs its audit check here: {methods:?}"
    );
    for method in &methods {
        let id = new_id(&mut crisis).await;
        let event_type = match method.as_str() {
            "FileConsultation" => "consultation.file",
            "GetConsultation" => "consultation.get",
            "ListConsultations" => "consultation.list",
            "AcceptConsultation" => "consultation.accept",
            "DeclineConsultation" => "consultation.decline",
            "StartWork" => "consultation.start_work",
            "GiveAdvice" => "consultation.give_advice",
            "EscalateConsultation" => "consultation.escalate",
            "WithdrawConsultation" => "consultation.withdraw",
            "CloseConsultation" => "consultation.close",
            "PostMessage" => "consultation.post_message",
            "ListMessages" => "consultation.list_messages",
            "WatchConsultations" => "consultation.watch",
            other => panic!("no audit check for {other}"),
        };
        // Bring the consultation to where the call is allowed.
        match method.as_str() {
            "StartWork" | "EscalateConsultation" => {
                ret.accept_consultation(accepted(&id)).await.unwrap();
            }
            "GiveAdvice" => {
                ret.accept_consultation(accepted(&id)).await.unwrap();
                ret.start_work(pb::StartWorkRequest {
                    consultation_id: id.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            "CloseConsultation" => {
                ret.accept_consultation(accepted(&id)).await.unwrap();
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
            _ => {}
        }

        // Allowed, by the party whose move it is.
        let before = trail_length(&auditor).await;
        let actor = match method.as_str() {
            "FileConsultation" => crisis
                .file_consultation(consultation("allowed", "ret-zkh-ijmond"))
                .await
                .map(drop),
            "GetConsultation" => crisis
                .get_consultation(pb::GetConsultationRequest {
                    consultation_id: id.clone(),
                })
                .await
                .map(drop),
            "ListConsultations" => crisis
                .list_consultations(pb::ListConsultationsRequest::default())
                .await
                .map(drop),
            "AcceptConsultation" => ret.accept_consultation(accepted(&id)).await.map(drop),
            "DeclineConsultation" => ret
                .decline_consultation(pb::DeclineConsultationRequest {
                    consultation_id: id.clone(),
                    reason: pb::DeclineReason::NoCapacity as i32,
                    note: "vol".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "StartWork" => ret
                .start_work(pb::StartWorkRequest {
                    consultation_id: id.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "GiveAdvice" => ret
                .give_advice(pb::GiveAdviceRequest {
                    consultation_id: id.clone(),
                    advice: "advies".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "EscalateConsultation" => ret
                .escalate_consultation(pb::EscalateConsultationRequest {
                    consultation_id: id.clone(),
                    network_id: "ben-nh".into(),
                    note: "bovenregionaal".into(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "WithdrawConsultation" => crisis
                .withdraw_consultation(pb::WithdrawConsultationRequest {
                    consultation_id: id.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "CloseConsultation" => crisis
                .close_consultation(pb::CloseConsultationRequest {
                    consultation_id: id.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "PostMessage" => crisis
                .post_message(pb::PostMessageRequest {
                    consultation_id: id.clone(),
                    text: "aanvulling".into(),
                    request_id: "m".into(),
                })
                .await
                .map(drop),
            "ListMessages" => crisis
                .list_messages(pb::ListMessagesRequest {
                    consultation_id: id.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "WatchConsultations" => crisis
                .watch_consultations(pb::WatchConsultationsRequest::default())
                .await
                .map(drop),
            _ => unreachable!(),
        };
        actor.unwrap_or_else(|status| panic!("{method}: {status:?}"));
        let allowed_by = match method.as_str() {
            "AcceptConsultation"
            | "DeclineConsultation"
            | "StartWork"
            | "GiveAdvice"
            | "EscalateConsultation" => "ret-zkh-ijmond",
            _ => "crisisdienst-zkh",
        };
        assert_one_record(
            &auditor,
            before,
            event_type,
            pb::AuditOutcome::Allowed,
            allowed_by,
        )
        .await;

        // Denied: a region may not take part; a third organisation finds nothing.
        let before = trail_length(&auditor).await;
        let denied = match method.as_str() {
            "FileConsultation" => region
                .file_consultation(consultation("denied", "ret-zkh-ijmond"))
                .await
                .map(drop),
            "ListConsultations" => region
                .list_consultations(pb::ListConsultationsRequest::default())
                .await
                .map(drop),
            "WatchConsultations" => region
                .watch_consultations(pb::WatchConsultationsRequest::default())
                .await
                .map(drop),
            "GetConsultation" => third
                .get_consultation(pb::GetConsultationRequest {
                    consultation_id: id.clone(),
                })
                .await
                .map(drop),
            "AcceptConsultation"
            | "DeclineConsultation"
            | "StartWork"
            | "GiveAdvice"
            | "EscalateConsultation"
            | "WithdrawConsultation"
            | "CloseConsultation" => third.accept_consultation(accepted(&id)).await.map(drop),
            "PostMessage" => third
                .post_message(pb::PostMessageRequest {
                    consultation_id: id.clone(),
                    text: "x".into(),
                    request_id: "m".into(),
                })
                .await
                .map(drop),
            "ListMessages" => third
                .list_messages(pb::ListMessagesRequest {
                    consultation_id: id.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            _ => unreachable!(),
        };
        let (denier, denied_type) = match method.as_str() {
            "FileConsultation" | "ListConsultations" | "WatchConsultations" => {
                assert_code(denied, Code::PermissionDenied);
                ("regio-zuid-kennemerland", event_type)
            }
            "DeclineConsultation"
            | "StartWork"
            | "GiveAdvice"
            | "EscalateConsultation"
            | "WithdrawConsultation"
            | "CloseConsultation" => {
                assert_code(denied, Code::NotFound);
                ("ret-holland-rijnland", "consultation.accept")
            }
            _ => {
                assert_code(denied, Code::NotFound);
                ("ret-holland-rijnland", event_type)
            }
        };
        assert_one_record(
            &auditor,
            before,
            denied_type,
            pb::AuditOutcome::Denied,
            denier,
        )
        .await;
    }
}

#[tokio::test]
async fn only_the_auditor_reads_the_trail_filtered_by_consultation_and_organisation() {
    let hub = TestHub::spawn().await;
    let mut crisis = hub
        .client_as("crisisdienst-zkh")
        .await
        .consultations(PERSON);
    let mut ret = hub.client_as("ret-zkh-ijmond").await.consultations(PERSON);
    let id = crisis
        .file_consultation(consultation("f1", "ret-zkh-ijmond"))
        .await
        .unwrap()
        .into_inner()
        .consultation
        .unwrap()
        .id;
    crisis
        .file_consultation(consultation("f2", "ret-zkh-ijmond"))
        .await
        .unwrap();
    ret.get_consultation(pb::GetConsultationRequest {
        consultation_id: id.clone(),
    })
    .await
    .unwrap();

    for org in ["crisisdienst-zkh", "spil-beheer", "regio-zuid-kennemerland"] {
        let client = hub.client_as(org).await;
        assert_code(
            client
                .audit()
                .verify_audit_chain(pb::VerifyAuditChainRequest {})
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            client
                .audit()
                .list_audit_events(pb::ListAuditEventsRequest::default())
                .await,
            Code::PermissionDenied,
        );
    }
    let auditor = hub.client_as("spil-privacy").await;
    let of_one = auditor
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            consultation_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = of_one
        .events
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(types, ["consultation.file", "consultation.get"]);
    let by_ret = auditor
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            organisation_id: "ret-zkh-ijmond".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_ret.events.len(), 1);
    let later = auditor
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            start_time: Some(prost_types::Timestamp {
                seconds: spil_tests::epoch().timestamp() + 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        later.events.is_empty(),
        "every record was made at the clock's start"
    );
    assert_code(
        auditor
            .audit()
            .list_audit_events(pb::ListAuditEventsRequest {
                consultation_id: "not-a-uuid".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
    );
}

/// Five records, then `tamper` applied to the stored rows; returns the verification.
async fn verify_after(tamper: &str) -> pb::VerifyAuditChainResponse {
    let hub = TestHub::spawn().await;
    let mut crisis = hub
        .client_as("crisisdienst-zkh")
        .await
        .consultations(PERSON);
    for n in 0..5 {
        crisis
            .file_consultation(consultation(&format!("t{n}"), "ret-zkh-ijmond"))
            .await
            .unwrap();
    }
    let auditor = hub.client_as("spil-privacy").await;
    assert_eq!(trail_length(&auditor).await, 5);
    let db = Database::connect(hub.database_url()).await.unwrap();
    for statement in tamper.split(';').filter(|s| !s.trim().is_empty()) {
        db.execute_unprepared(statement).await.unwrap();
    }
    db.close().await.unwrap();
    auditor
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn an_altered_audit_record_is_found() {
    let report =
        verify_after("UPDATE audit_events SET person = 'iemand anders' WHERE seq = 3").await;
    assert!(!report.intact);
    assert_eq!(report.broken_at_seq, 3);
    assert_eq!(report.records_checked, 2);
    assert!(report.problem.contains("altered"), "{}", report.problem);
}

#[tokio::test]
async fn a_deleted_audit_record_is_found() {
    let report = verify_after("DELETE FROM audit_events WHERE seq = 2").await;
    assert!(!report.intact);
    assert_eq!(report.broken_at_seq, 2);
    assert_eq!(report.records_checked, 1);
}

#[tokio::test]
async fn reordered_audit_records_are_found() {
    let report = verify_after(
        "UPDATE audit_events SET seq = 100 WHERE seq = 2;
         UPDATE audit_events SET seq = 2 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = 100",
    )
    .await;
    assert!(!report.intact);
    assert_eq!(report.broken_at_seq, 2);
    assert_eq!(report.records_checked, 1);
}

/// The consultation chokepoint itself: work that changed a consultation
/// and then failed leaves no change, and exactly one audit record, of the
/// refusal. Run through `Store::audited` as every consultation call is.
#[tokio::test]
async fn a_call_failing_after_its_work_began_leaves_no_change_and_one_record_of_its_refusal() {
    use spil_hub::app::{AppError, Reason};
    use spil_hub::domain::audit::{AuditAction, AuditOutcome};
    use spil_hub::domain::consultation::{ConsultationId, ConsultationState, EventKind};
    use spil_hub::store::{ConsultationAccess, NewAuditRecord};

    let hub = TestHub::spawn().await;
    let auditor = hub.client_as("spil-privacy").await;
    let mut crisis = hub
        .client_as("crisisdienst-zkh")
        .await
        .consultations(PERSON);
    let filed = crisis
        .file_consultation(consultation("half-done", "ret-zkh-ijmond"))
        .await
        .unwrap()
        .into_inner()
        .consultation
        .unwrap();
    let id = ConsultationId::parse(&filed.id).unwrap();
    let store = hub.hub().app().store();
    let revision_before = store.current_consultation_revision().await.unwrap();
    let records_before = trail_length(&auditor).await;

    let record = |result: Result<&(), &AppError>| NewAuditRecord {
        at: spil_tests::epoch(),
        event_type: "consultation.test".into(),
        organisation: "crisisdienst-zkh".into(),
        person: PERSON.into(),
        certificate_identity: String::new(),
        consultation_id: Some(filed.id.clone()),
        action: AuditAction::Update,
        outcome: if result.is_ok() {
            AuditOutcome::Allowed
        } else {
            AuditOutcome::Rejected
        },
    };
    let failed = store
        .audited(ConsultationAccess::Change, record, async |txn| {
            let mut changed = txn.consultation(&id).await?.unwrap();
            changed.state = ConsultationState::Closed;
            txn.update_state(&changed).await?;
            txn.append_event(&changed, EventKind::StateChanged, None, spil_tests::epoch())
                .await?;
            Err::<(), _>(AppError::FailedPrecondition {
                reason: Reason::IllegalTransition,
                subject: format!("consultations/{id}"),
                description: "failed after the work began".into(),
            })
        })
        .await;
    assert!(matches!(failed, Err(AppError::FailedPrecondition { .. })));

    let after = store
        .consultations_by_id(&[filed.id.as_str()])
        .await
        .unwrap()
        .remove(&filed.id)
        .unwrap();
    assert_eq!(
        after.state,
        ConsultationState::Submitted,
        "the change was kept"
    );
    assert_eq!(
        store.current_consultation_revision().await.unwrap(),
        revision_before,
        "the change's revision was kept"
    );
    assert_eq!(trail_length(&auditor).await, records_before + 1);
    let refusal = last_record(&auditor).await;
    assert_eq!(refusal.event_type, "consultation.test");
    assert_eq!(refusal.outcome, pb::AuditOutcome::Rejected as i32);
}

/// Every placement call, allowed or refused, writes its audit record naming
/// the request; an escalation writes its two (the withdrawal, and the
/// reading of the case's refusals) and the consultation's filing its one.
#[tokio::test]
async fn every_placement_call_is_audited_allowed_or_refused() {
    use spil_tests::fixtures::{crisis_bed_offering, hold_granted};
    let hub = TestHub::spawn().await;
    let auditor = hub.client_as("spil-privacy").await;
    let kenter = hub.kenter_with_location().await;
    let offering = crisis_bed_offering(&kenter, "kenter-haarlem", 8, 8).await;
    let crisis = hub.client_as("crisisdienst-zkh").await;
    let mut requests = 0;
    let mut send = async || {
        requests += 1;
        let hold = hold_granted(&crisis, &format!("h{requests}"), &offering).await;
        crisis
            .placements(PERSON)
            .request_placement(pb::RequestPlacementRequest {
                request_id: format!("p{requests}"),
                hold_ids: vec![hold.id],
                case_reference: format!("AUDIT-{requests}"),
                age_years: 15,
                care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
                security_level: pb::SecurityLevel::Open as i32,
                urgency: pb::PlacementUrgency::Crisis as i32,
                note: String::new(),
                consent_recorded: true,
            })
            .await
            .unwrap()
            .into_inner()
            .placement_request
            .unwrap()
    };
    let region = hub.client_as("regio-zuid-kennemerland").await;
    let methods = service_methods("Placements");
    assert_eq!(
        methods.len(),
        7,
        "a new RPC needs its audit check here: {methods:?}"
    );
    for method in &methods {
        let sent = send().await;
        let part = sent.provider_requests[0].id.clone();
        let before = trail_length(&auditor).await;
        let (event_type, records) = match method.as_str() {
            "RequestPlacement" => {
                send().await;
                ("placement.request", 1)
            }
            "AnswerPlacementRequest" => {
                kenter
                    .placements(PERSON)
                    .answer_placement_request(pb::AnswerPlacementRequestRequest {
                        provider_request_id: part.clone(),
                        accept: true,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                ("placement.accept", 1)
            }
            "WithdrawPlacementRequest" => {
                crisis
                    .placements(PERSON)
                    .withdraw_placement_request(pb::WithdrawPlacementRequestRequest {
                        placement_request_id: sent.id.clone(),
                    })
                    .await
                    .unwrap();
                ("placement.withdraw", 1)
            }
            "EscalatePlacementCase" => {
                crisis
                    .placements(PERSON)
                    .escalate_placement_case(pb::EscalatePlacementCaseRequest {
                        placement_request_id: sent.id.clone(),
                    })
                    .await
                    .unwrap();
                ("consultation.file", 3)
            }
            "GetPlacementRequest" => {
                kenter
                    .placements(PERSON)
                    .get_placement_request(pb::GetPlacementRequestRequest {
                        placement_request_id: sent.id.clone(),
                    })
                    .await
                    .unwrap();
                ("placement.get", 1)
            }
            "ListPlacementRequests" => {
                crisis
                    .placements(PERSON)
                    .list_placement_requests(pb::ListPlacementRequestsRequest::default())
                    .await
                    .unwrap();
                ("placement.list", 1)
            }
            "WatchPlacementRequests" => {
                let mut stream = kenter
                    .placements(PERSON)
                    .watch_placement_requests(pb::WatchPlacementRequestsRequest::default())
                    .await
                    .unwrap()
                    .into_inner();
                assert!(stream.message().await.unwrap().unwrap().stream_start);
                ("placement.watch", 1)
            }
            other => panic!("no audit check for {other}"),
        };
        assert_eq!(trail_length(&auditor).await, before + records, "{method}");
        let record = last_record(&auditor).await;
        assert_eq!(record.event_type, event_type, "{method}");
        assert_eq!(record.outcome, pb::AuditOutcome::Allowed as i32, "{method}");
        assert_eq!(record.person, PERSON, "{method}");

        // Refused: a region takes no part in placement requests.
        let before = trail_length(&auditor).await;
        let refused = match method.as_str() {
            "RequestPlacement" => region
                .placements(PERSON)
                .request_placement(pb::RequestPlacementRequest::default())
                .await
                .map(|_| ()),
            "AnswerPlacementRequest" => region
                .placements(PERSON)
                .answer_placement_request(pb::AnswerPlacementRequestRequest {
                    provider_request_id: part.clone(),
                    accept: true,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            "WithdrawPlacementRequest" => region
                .placements(PERSON)
                .withdraw_placement_request(pb::WithdrawPlacementRequestRequest {
                    placement_request_id: sent.id.clone(),
                })
                .await
                .map(|_| ()),
            "EscalatePlacementCase" => region
                .placements(PERSON)
                .escalate_placement_case(pb::EscalatePlacementCaseRequest {
                    placement_request_id: sent.id.clone(),
                })
                .await
                .map(|_| ()),
            "GetPlacementRequest" => region
                .placements(PERSON)
                .get_placement_request(pb::GetPlacementRequestRequest {
                    placement_request_id: sent.id.clone(),
                })
                .await
                .map(|_| ()),
            "WatchPlacementRequests" => region
                .placements(PERSON)
                .watch_placement_requests(pb::WatchPlacementRequestsRequest::default())
                .await
                .map(|_| ()),
            _ => region
                .placements(PERSON)
                .list_placement_requests(pb::ListPlacementRequestsRequest::default())
                .await
                .map(|_| ()),
        };
        assert_code(refused, Code::PermissionDenied);
        assert_one_record(
            &auditor,
            before,
            &format!("placement.{}", refused_type(method)),
            pb::AuditOutcome::Denied,
            "regio-zuid-kennemerland",
        )
        .await;
    }
}

/// The event type a refused placement call is recorded under.
fn refused_type(method: &str) -> &'static str {
    match method {
        "RequestPlacement" => "request",
        "AnswerPlacementRequest" => "accept",
        "WithdrawPlacementRequest" => "withdraw",
        "EscalatePlacementCase" => "escalate",
        "GetPlacementRequest" => "get",
        "WatchPlacementRequests" => "watch",
        _ => "list",
    }
}
