//! Wire ↔ domain conversions for placement requests.

use super::{
    Result, care_profile_out, care_profiles_in, field, security_level_in, security_level_out,
    timestamp, unknown, unspecified,
};
use crate::app::AppError;
use crate::domain::capacity::RequestId;
use crate::domain::consultation::AgeYears;
use crate::domain::placement::{
    NewPlacementRequest, PlacementAction, PlacementRequest, PlacementUrgency, ProviderRequest,
    ProviderRequestState, Refusal, RefusalReason,
};
use crate::domain::privacy::{CaseReference, FreeText};
use chrono::{DateTime, Utc};
use spil_proto::v1 as pb;

wire_enum!(placement_urgency_in, placement_urgency_out, pb::PlacementUrgency, PlacementUrgency, {
    Crisis => PlacementUrgency::Crisis,
    Urgent => PlacementUrgency::Urgent,
    Regular => PlacementUrgency::Regular,
});

wire_enum!(refusal_reason_in, refusal_reason_out, pb::PlacementRefusalReason, RefusalReason, {
    NoPlace => RefusalReason::NoPlace,
    OutsideCareProfile => RefusalReason::OutsideCareProfile,
    OutsideAgeBand => RefusalReason::OutsideAgeBand,
    GroupSafety => RefusalReason::GroupSafety,
    NoStaff => RefusalReason::NoStaff,
    MedicalCare => RefusalReason::MedicalCare,
    Other => RefusalReason::Other,
});

wire_enum!(_provider_request_state_in, provider_request_state_out, pb::ProviderRequestState, ProviderRequestState, {
    Open => ProviderRequestState::Open,
    Accepted => ProviderRequestState::Accepted,
    Refused => ProviderRequestState::Refused,
    Withdrawn => ProviderRequestState::Withdrawn,
    Overdue => ProviderRequestState::Overdue,
});

/// Optional free text: empty is none; otherwise checked (no BSN, its length).
fn optional_text(path: &str, raw: &str) -> Result<Option<FreeText>> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        field(path, FreeText::parse(raw)).map(Some)
    }
}

pub fn new_placement_request(request: pb::RequestPlacementRequest) -> Result<NewPlacementRequest> {
    if !request.consent_recorded {
        return Err(AppError::invalid(
            "consent_recorded",
            "the family's consent to share this case must be recorded before asking",
        ));
    }
    let care_profiles = care_profiles_in("care_profiles", &request.care_profiles)?;
    if care_profiles.is_empty() {
        return Err(AppError::invalid("care_profiles", "name at least one"));
    }
    Ok(NewPlacementRequest {
        request_id: field("request_id", RequestId::parse(&request.request_id))?,
        hold_ids: request.hold_ids,
        case_reference: field(
            "case_reference",
            CaseReference::parse(&request.case_reference),
        )?,
        age: field("age_years", AgeYears::new(request.age_years))?,
        care_profiles,
        security_level: security_level_in("security_level", request.security_level)?,
        urgency: placement_urgency_in("urgency", request.urgency)?,
        note: optional_text("note", &request.note)?,
    })
}

pub fn placement_answer(request: pb::AnswerPlacementRequestRequest) -> Result<PlacementAction> {
    if request.provider_request_id.is_empty() {
        return Err(AppError::invalid("provider_request_id", "must be given"));
    }
    let provider_request_id = request.provider_request_id;
    if request.accept {
        return Ok(PlacementAction::Accept {
            provider_request_id,
        });
    }
    let reason = refusal_reason_in("refusal_reason", request.refusal_reason)?;
    let note = optional_text("refusal_note", &request.refusal_note)?;
    if reason == RefusalReason::Other && note.is_none() {
        return Err(AppError::invalid(
            "refusal_note",
            "a refusal for another reason states it in the note",
        ));
    }
    Ok(PlacementAction::Refuse {
        provider_request_id,
        refusal: Refusal {
            reason,
            note,
            referral_offering_id: (!request.referral_offering_id.is_empty())
                .then_some(request.referral_offering_id),
        },
    })
}

fn provider_request_out(
    part: ProviderRequest,
    answer_due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> pb::ProviderRequest {
    let state = part.state_at(answer_due, now);
    let refusal = part.refusal.as_ref();
    pb::ProviderRequest {
        id: part.id.clone(),
        provider_id: part.provider_id.as_str().to_owned(),
        offering_id: part.offering_id.clone(),
        hold_id: part.hold_id.clone(),
        state: provider_request_state_out(state) as i32,
        refusal_reason: refusal.map_or(pb::PlacementRefusalReason::Unspecified, |r| {
            refusal_reason_out(r.reason)
        }) as i32,
        refusal_note: refusal
            .and_then(|r| r.note.as_ref())
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        referral_offering_id: refusal
            .and_then(|r| r.referral_offering_id.clone())
            .unwrap_or_default(),
        answered_at: part.answered_at.map(timestamp),
    }
}

/// A placement request as the wire shows it at `now` (open past the
/// deadline reads as overdue).
pub fn placement_request_out(
    request: PlacementRequest,
    now: DateTime<Utc>,
) -> pb::PlacementRequest {
    let due = request.answer_due;
    pb::PlacementRequest {
        id: request.id,
        requester_id: request.requester_id.as_str().to_owned(),
        case_reference: request.case_reference.as_str().to_owned(),
        age_years: u32::from(request.age.get()),
        child_municipality_code: request.child_municipality.as_str().to_owned(),
        care_profiles: request
            .care_profiles
            .iter()
            .map(|p| care_profile_out(p) as i32)
            .collect(),
        security_level: security_level_out(request.security_level) as i32,
        urgency: placement_urgency_out(request.urgency) as i32,
        note: request
            .note
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        created_at: Some(timestamp(request.created_at)),
        answer_due: Some(timestamp(due)),
        erased_at: request.erased_at.map(timestamp),
        provider_requests: request
            .provider_requests
            .into_iter()
            .map(|p| provider_request_out(p, due, now))
            .collect(),
    }
}
