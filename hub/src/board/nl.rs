//! The board's words: the shared Dutch catalogue (`spil_words::nl`), the
//! domain's values named through it.

use crate::domain::capacity::{CareProfile, PlaceType, SecurityLevel};
use crate::domain::consultation::{
    ConsultationAction, ConsultationState, DeclineReason, ProblemDomain, QuestionType, Urgency,
};
use crate::domain::hold::HoldState;
use crate::domain::placement::{PlacementUrgency, ProviderRequestState, RefusalReason};
use spil_words::nl as words;

pub use spil_words::nl::{NL, Text};

macro_rules! labels {
    ($($name:ident: $ty:ty),+ $(,)?) => {$(
        pub fn $name(value: $ty) -> &'static str {
            words::$name(&format!("{value:?}"))
        }
    )+};
}

labels! {
    place_type: PlaceType,
    care_profile: CareProfile,
    security: SecurityLevel,
    hold_state: HoldState,
    urgency: Urgency,
    question_type: QuestionType,
    problem_domain: ProblemDomain,
    consultation_state: ConsultationState,
    decline_reason: DeclineReason,
    consultation_action: ConsultationAction,
    placement_urgency: PlacementUrgency,
    refusal_reason: RefusalReason,
    provider_request_state: ProviderRequestState,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value added to the domain without its Dutch name would read as
    /// "onbekend" on the board: every one has its own.
    #[test]
    fn every_value_the_board_shows_has_its_dutch_name() {
        let mut names: Vec<&str> = Vec::new();
        names.extend(PlaceType::ALL.map(place_type));
        names.extend(CareProfile::ALL.map(care_profile));
        names.extend(SecurityLevel::ALL.map(security));
        names.extend(
            [
                HoldState::Active,
                HoldState::Confirmed,
                HoldState::Released,
                HoldState::Expired,
            ]
            .map(hold_state),
        );
        names.extend(Urgency::ALL.map(urgency));
        names.extend(QuestionType::ALL.map(question_type));
        names.extend(ProblemDomain::ALL.map(problem_domain));
        names.extend(ConsultationState::ALL.map(consultation_state));
        names.extend(DeclineReason::ALL.map(decline_reason));
        names.extend(ConsultationAction::ALL.map(consultation_action));
        names.extend(PlacementUrgency::ALL.map(placement_urgency));
        names.extend(RefusalReason::ALL.map(refusal_reason));
        names.extend(ProviderRequestState::ALL.map(provider_request_state));
        assert!(!names.contains(&words::UNKNOWN), "{names:?}");
    }
}
