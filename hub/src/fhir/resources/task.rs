//! A placement request as a FHIR Task: who asked whom, for which held place, and the answer.

use super::*;

/// One provider's part of a placement request as a FHIR Task: asked of
/// the provider (`owner`) by the crisis service (`requester`) for the held
/// offering (`focus`); `requested` until answered, then `accepted`,
/// `rejected` with the reason as `statusReason`, or `cancelled` when
/// withdrawn. Unanswered past its deadline it stays `requested` with
/// business status `overdue`. The request's parts share `groupIdentifier`.
pub fn placement_task(
    c: &Canonical,
    request: &PlacementRequest,
    part: &ProviderRequest,
    now: DateTime<Utc>,
    name_of: &dyn Fn(&str) -> String,
) -> Result<Task, BuilderError> {
    let state = part.state_at(request.answer_due, now);
    let status = match state {
        ProviderRequestState::Open | ProviderRequestState::Overdue => TaskStatus::Requested,
        ProviderRequestState::Accepted => TaskStatus::Accepted,
        ProviderRequestState::Refused => TaskStatus::Rejected,
        ProviderRequestState::Withdrawn => TaskStatus::Cancelled,
    };
    let priority = match request.urgency {
        PlacementUrgency::Crisis => RequestPriority::Stat,
        PlacementUrgency::Urgent => RequestPriority::Urgent,
        PlacementUrgency::Regular => RequestPriority::Routine,
    };
    let mut identifiers = vec![Some(
        Identifier::builder()
            .system(c.url("provider-request"))
            .value(part.id.clone())
            .build()?,
    )];
    if request.erased_at.is_none() {
        // The requester's own pseudonymous reference, never a BSN.
        identifiers.push(Some(
            Identifier::builder()
                .system(c.url("case-reference"))
                .value(request.case_reference.as_str().to_owned())
                .build()?,
        ));
    }
    // Whole seconds: a fraction of 1 and one of 3 digits compare wrongly in
    // some FHIRPath engines (fhirpathpy), which then fail inv-1.
    let second = |at: DateTime<Utc>| date_time(chrono::SubsecRound::trunc_subsecs(at, 0));
    let mut builder = Task::builder()
        .id(part.id.clone())
        .identifier(identifiers)
        .group_identifier(
            Identifier::builder()
                .system(c.url("placement-request"))
                .value(request.id.clone())
                .build()?,
        )
        .status(status)
        .intent(TaskIntent::_Custom("order".to_owned()))
        .priority(priority)
        .description(format!(
            "Placement of a child of {} from municipality {}",
            request.age.get(),
            request.child_municipality.as_str()
        ))
        .focus(
            Reference::builder()
                .reference(format!("HealthcareService/{}", part.offering_id))
                .build()?,
        )
        .authored_on(second(request.created_at))
        .last_modified(second(part.answered_at.unwrap_or(request.created_at)))
        .requester(organisation_reference(
            c,
            request.requester_id.as_str(),
            &name_of(request.requester_id.as_str()),
        )?)
        .owner(organisation_reference(
            c,
            part.provider_id.as_str(),
            &name_of(part.provider_id.as_str()),
        )?)
        .restriction(
            TaskRestriction::builder()
                .period(Period::builder().end(second(request.answer_due)).build()?)
                .build()?,
        );
    if state == ProviderRequestState::Overdue {
        builder = builder.business_status(
            CodeableConcept::builder()
                .text("overdue: unanswered past the deadline".to_owned())
                .build()?,
        );
    }
    if let Some(refusal) = &part.refusal {
        builder = builder.status_reason(concept(
            c,
            &PLACEMENT_REFUSAL_REASONS,
            refusal_reason_code(refusal.reason),
        )?);
    }
    if let Some(note) = &request.note {
        builder = builder.note(vec![Some(
            Annotation::builder()
                .text(note.as_str().to_owned())
                .build()?,
        )]);
    }
    builder.build()
}
