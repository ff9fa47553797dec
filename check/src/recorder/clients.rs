//! The recording clients: each a process that publishes, holds, ends holds (directly or through a placement request) and searches, recording every call and its answer, or leaving it open when the answer is lost.

use super::*;

/// A small deterministic generator for the clients' choices.
pub(super) struct Choices(u64);

impl Choices {
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// How an answer came out, for the history.
pub(super) enum Answer<T> {
    Known(T),
    Unknown,
}

/// A call's outcome: answered, refused in a way the rules name, or unknown.
pub(super) fn classify<T, R>(
    result: Result<Result<tonic::Response<T>, tonic::Status>, tokio::time::error::Elapsed>,
    refused: tonic::Code,
    on_ok: impl FnOnce(T) -> R,
    on_refused: R,
    shared: &Shared,
    what: &str,
) -> Answer<R> {
    match result {
        Ok(Ok(response)) => Answer::Known(on_ok(response.into_inner())),
        Ok(Err(status)) if status.code() == refused => Answer::Known(on_refused),
        Ok(Err(status)) => {
            let expected = matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::Unknown
                    | tonic::Code::Cancelled
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Internal
                    | tonic::Code::Aborted
                    | tonic::Code::ResourceExhausted
            );
            if !expected {
                shared.unexpected.lock().unwrap().push(format!(
                    "{what}: {:?} {}",
                    status.code(),
                    status.message()
                ));
            }
            Answer::Unknown
        }
        Err(_) => Answer::Unknown,
    }
}

/// One client: one operation at a time until the run ends.
pub(super) async fn client(shared: Arc<Shared>, n: usize, seed: u64, reads: bool) {
    let mut choices =
        Choices(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((n as u64 + 1) * 0x2545_F491));
    let mut process = shared.next_process.fetch_add(1, Ordering::SeqCst);
    let mut connections: Option<(SpilClient, SpilClient)> = None;
    // This client's granted holds still active: (number, id, offering).
    let mut holds: Vec<(u32, String, String)> = Vec::new();
    let mut turn = n;
    while !shared.stop.load(Ordering::SeqCst) {
        let (provider, crisis) = match &connections {
            Some(pair) => pair.clone(),
            None => {
                turn += 1;
                let pair = async {
                    Ok::<_, anyhow::Error>((
                        shared.cluster.connect(PROVIDER, turn).await?,
                        shared.cluster.connect(CRISIS, turn).await?,
                    ))
                }
                .await;
                match pair {
                    Ok(pair) => {
                        connections = Some(pair.clone());
                        pair
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
        };
        let cut = shared.cut[n].swap(false, Ordering::SeqCst);
        let timeout = if cut {
            Duration::from_millis(1)
        } else {
            OPERATION_TIMEOUT
        };
        let call = Call {
            shared: &shared,
            process,
            provider: &provider,
            crisis: &crisis,
            timeout,
        };
        let (offering, key) =
            shared.offerings[choices.below(shared.offerings.len() as u64) as usize].clone();
        let roll = if reads {
            choices.below(100)
        } else {
            choices.below(70)
        };
        let step = if roll < 15 {
            let free = choices.below(4) as u32;
            publish(&call, &offering, &key, free).await
        } else if roll < 45 || holds.is_empty() && roll < 70 {
            hold(&call, offering, &mut holds).await
        } else if roll < 70 {
            let (number, id, offering) =
                holds.swap_remove(choices.below(holds.len() as u64) as usize);
            let confirm = choices.below(2) == 0;
            let through_request = choices.below(2) == 0;
            end_hold(&call, (number, id, offering), confirm, through_request).await
        } else {
            search(&call).await
        };
        match step {
            Step::Known | Step::Skipped => {}
            // Perhaps under a request now: a new process, without backing off.
            Step::LeftRequest => {
                shared.unknown.fetch_add(1, Ordering::SeqCst);
                process = shared.next_process.fetch_add(1, Ordering::SeqCst);
                connections = None;
            }
            // The outcome is unknown: the call stays open to the end of the
            // history, and this client goes on as a new process on a new connection.
            Step::Unknown => {
                shared.unknown.fetch_add(1, Ordering::SeqCst);
                process = shared.next_process.fetch_add(1, Ordering::SeqCst);
                connections = None;
                // Each open operation widens the checker's search: back off
                // rather than pile them up while a replica or the database is down.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// How one operation of a client ended.
pub(super) enum Step {
    /// Answered: its outcome is in the history.
    Known,
    /// Not sent: the hold it was for had already ended.
    Skipped,
    /// A placement request whose answer was lost: the hold is left be.
    LeftRequest,
    /// Unanswered: the operation stays open to the end of the history.
    Unknown,
}

impl From<bool> for Step {
    fn from(known: bool) -> Self {
        if known { Step::Known } else { Step::Unknown }
    }
}

/// What one operation of a client works with.
pub(super) struct Call<'a> {
    pub(super) shared: &'a Shared,
    pub(super) process: ProcessId,
    pub(super) provider: &'a SpilClient,
    pub(super) crisis: &'a SpilClient,
    pub(super) timeout: Duration,
}

/// Publishes `free` places on the offering.
pub(super) async fn publish(
    call: &Call<'_>,
    offering: &str,
    key: &pb::OfferingKey,
    free: u32,
) -> Step {
    let op = Op::Publish {
        free,
        outcome: Outcome::Pending,
    };
    let at = call.shared.record(call.process, offering, true, op);
    let request = publication(key, free);
    let result = tokio::time::timeout(
        call.timeout,
        call.provider.capacity().publish_capacity(request.clone()),
    )
    .await;
    let answer = classify(
        result,
        tonic::Code::FailedPrecondition,
        |r| Some(r.revision),
        None,
        call.shared,
        "publish",
    );
    let answered = matches!(answer, Answer::Known(Some(_)));
    if let Answer::Known(Some(revision)) = answer {
        let published = Published {
            offering: call.shared.index_of(offering),
            free,
        };
        call.shared
            .acknowledged
            .lock()
            .unwrap()
            .insert(revision, published);
    }
    if answered {
        call.shared.record(
            call.process,
            offering,
            false,
            Op::Publish {
                free,
                outcome: Outcome::Known(()),
            },
        );
    } else {
        call.shared
            .left_open(call.process, offering, at, OpenKind::Publish(request, free));
    }
    answered.into()
}

/// Holds a place on the offering; a granted hold joins the client's holds.
pub(super) async fn hold(
    call: &Call<'_>,
    offering: String,
    holds: &mut Vec<(u32, String, String)>,
) -> Step {
    let at = call.shared.record(
        call.process,
        &offering,
        true,
        Op::Hold {
            outcome: Outcome::Pending,
        },
    );
    let request = pb::HoldPlaceRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        offering_id: offering.clone(),
        child_municipality_code: MUNICIPALITY.into(),
        duration: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
    };
    let result = tokio::time::timeout(
        call.timeout,
        call.crisis.capacity().hold_place(request.clone()),
    )
    .await;
    match classify(
        result,
        tonic::Code::FailedPrecondition,
        |r| r.hold.map(|h| h.id),
        None,
        call.shared,
        "hold",
    ) {
        Answer::Known(granted) => {
            let number = granted.map(|id| {
                let number = call.shared.next_hold.fetch_add(1, Ordering::SeqCst);
                holds.push((number, id, offering.clone()));
                number
            });
            call.shared.record(
                call.process,
                &offering,
                false,
                Op::Hold {
                    outcome: Outcome::Known(number),
                },
            );
            true
        }
        Answer::Unknown => {
            call.shared
                .left_open(call.process, &offering, at, OpenKind::Hold(request));
            false
        }
    }
    .into()
}

/// Ends one of the client's holds: confirms or releases it, directly or
/// through a placement request the provider accepts or refuses.
pub(super) async fn end_hold(
    call: &Call<'_>,
    (number, id, offering): (u32, String, String),
    confirm: bool,
    through_request: bool,
) -> Step {
    // Half the holds end through a placement request: the crisis
    // service asks the provider, which accepts (the hold becomes the
    // placement, as a confirmation) or refuses (the place returns, as
    // a release). While the request is open the hold keeps its place,
    // so the request itself changes nothing the rules count.
    let answered_by = if through_request {
        match request_placement(call, number, &id).await {
            Ok(part) => Some(part),
            Err(step) => return step,
        }
    } else {
        None
    };
    let op = |outcome| {
        if confirm {
            Op::Confirm {
                hold: number,
                outcome,
            }
        } else {
            Op::Release {
                hold: number,
                outcome,
            }
        }
    };
    let at = call
        .shared
        .record(call.process, &offering, true, op(Outcome::Pending));
    let end = OpenKind::End {
        number,
        id: id.clone(),
        confirm,
    };
    let result = if let Some(part) = answered_by.clone() {
        let answer = pb::AnswerPlacementRequestRequest {
            provider_request_id: part,
            accept: confirm,
            refusal_reason: if confirm {
                pb::PlacementRefusalReason::Unspecified
            } else {
                pb::PlacementRefusalReason::NoPlace
            } as i32,
            ..Default::default()
        };
        tokio::time::timeout(
            call.timeout,
            call.provider
                .placements(PERSON)
                .answer_placement_request(answer),
        )
        .await
        .map(|r| r.map(|r| r.map(|_| ())))
    } else if confirm {
        tokio::time::timeout(
            call.timeout,
            call.crisis
                .capacity()
                .confirm_hold(pb::ConfirmHoldRequest { hold_id: id }),
        )
        .await
        .map(|r| r.map(|r| r.map(|_| ())))
    } else {
        tokio::time::timeout(
            call.timeout,
            call.crisis
                .capacity()
                .release_hold(pb::ReleaseHoldRequest { hold_id: id }),
        )
        .await
        .map(|r| r.map(|r| r.map(|_| ())))
    };
    match classify(
        result,
        tonic::Code::FailedPrecondition,
        |()| true,
        false,
        call.shared,
        "confirm or release",
    ) {
        Answer::Known(done) => {
            if answered_by.is_some() && done {
                call.shared.answered_requests.fetch_add(1, Ordering::SeqCst);
            }
            call.shared
                .record(call.process, &offering, false, op(Outcome::Known(done)));
            Step::Known
        }
        Answer::Unknown => {
            call.shared.left_open(call.process, &offering, at, end);
            Step::Unknown
        }
    }
}

/// Puts hold `id` under a placement request to its provider; the
/// provider's part of the request, or how the step ended without one.
pub(super) async fn request_placement(
    call: &Call<'_>,
    number: u32,
    id: &str,
) -> Result<String, Step> {
    let request = pb::RequestPlacementRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        hold_ids: vec![id.to_owned()],
        case_reference: format!("CHECK-{number}"),
        age_years: 15,
        care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
        security_level: pb::SecurityLevel::Open as i32,
        urgency: pb::PlacementUrgency::Crisis as i32,
        note: String::new(),
        consent_recorded: true,
    };
    let result = tokio::time::timeout(
        call.timeout,
        call.crisis.placements(PERSON).request_placement(request),
    )
    .await;
    match classify(
        result,
        tonic::Code::FailedPrecondition,
        |r| {
            r.placement_request
                .and_then(|p| p.provider_requests.into_iter().next())
                .map(|p| p.id)
        },
        None,
        call.shared,
        "request placement",
    ) {
        Answer::Known(Some(part)) => Ok(part),
        // Refused: the hold had ended, which the history shows.
        Answer::Known(None) => Err(Step::Skipped),
        // Perhaps under a request now: the hold keeps its place
        // either way, and this client leaves it be.
        Answer::Unknown => Err(Step::LeftRequest),
    }
}

/// Searches the crisis beds: a read of every offering of the run.
pub(super) async fn search(call: &Call<'_>) -> Step {
    let mut calls = Vec::new();
    for (id, _) in &call.shared.offerings {
        calls.push((
            id.clone(),
            call.shared.record(
                call.process,
                id,
                true,
                Op::Read {
                    outcome: Outcome::Pending,
                },
            ),
        ));
    }
    let search = pb::SearchPlacesRequest {
        place_types: vec![pb::PlaceType::CrisisBed as i32],
        municipality_codes: vec![MUNICIPALITY.into()],
        include_unavailable: true,
        page_size: 100,
        ..Default::default()
    };
    let result =
        tokio::time::timeout(call.timeout, call.crisis.capacity().search_places(search)).await;
    match classify(
        result,
        tonic::Code::FailedPrecondition,
        |r| r.results,
        Vec::new(),
        call.shared,
        "search",
    ) {
        Answer::Known(results) => {
            for (id, _) in &call.shared.offerings {
                let shown = results
                    .iter()
                    .filter_map(|r| r.offering.as_ref())
                    .find(|o| &o.id == id)
                    .map_or(0, |o| o.available_places);
                call.shared.record(
                    call.process,
                    id,
                    false,
                    Op::Read {
                        outcome: Outcome::Known(shown),
                    },
                );
            }
            true
        }
        Answer::Unknown => {
            for (id, at) in calls {
                call.shared.left_open(call.process, &id, at, OpenKind::Read);
            }
            false
        }
    }
    .into()
}
