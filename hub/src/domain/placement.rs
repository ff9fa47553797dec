//! Placement requests: a crisis service asks the providers of up to three
//! held places to take a child; the first acceptance wins. The rules of who
//! may answer what, and what an answer does, as one pure function
//! ([`decide`]); the store loads, decides and persists under the registry lock.

use super::Invalid;
use super::capacity::{CareProfiles, MunicipalityCode, RequestId, SecurityLevel};
use super::consultation::AgeYears;
use super::identity::OrgId;
use super::privacy::{CaseReference, FreeText};
use chrono::{DateTime, Duration, Utc};

/// The most held places one request may go to at once, unless configured.
pub const DEFAULT_MAX_PROVIDERS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlacementUrgency {
    Crisis,
    Urgent,
    Regular,
}

impl PlacementUrgency {
    pub const ALL: [PlacementUrgency; 3] = [Self::Crisis, Self::Urgent, Self::Regular];
}

/// How long a provider has to answer, by urgency; the hold stays that long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementPolicy {
    pub crisis: Duration,
    pub urgent: Duration,
    pub regular: Duration,
    pub max_providers: usize,
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        Self {
            crisis: Duration::hours(1),
            urgent: Duration::hours(8),
            regular: Duration::hours(72),
            max_providers: DEFAULT_MAX_PROVIDERS,
        }
    }
}

impl PlacementPolicy {
    pub fn answer_due(&self, sent_at: DateTime<Utc>, urgency: PlacementUrgency) -> DateTime<Utc> {
        sent_at
            + match urgency {
                PlacementUrgency::Crisis => self.crisis,
                PlacementUrgency::Urgent => self.urgent,
                PlacementUrgency::Regular => self.regular,
            }
    }
}

/// The grounded reasons a provider may refuse on (acceptatieplicht).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefusalReason {
    NoPlace,
    OutsideCareProfile,
    OutsideAgeBand,
    GroupSafety,
    NoStaff,
    MedicalCare,
    Other,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 7] = [
        Self::NoPlace,
        Self::OutsideCareProfile,
        Self::OutsideAgeBand,
        Self::GroupSafety,
        Self::NoStaff,
        Self::MedicalCare,
        Self::Other,
    ];
}

/// Where one provider's part of a request is, as stored. Overdue is not
/// stored: it is an open request past its deadline ([`ProviderRequest::state_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderRequestState {
    Open,
    Accepted,
    Refused,
    Withdrawn,
    /// Open past its deadline, unanswered.
    Overdue,
}

impl ProviderRequestState {
    /// The states a row may hold.
    pub const STORED: [ProviderRequestState; 4] =
        [Self::Open, Self::Accepted, Self::Refused, Self::Withdrawn];
    pub const ALL: [ProviderRequestState; 5] = [
        Self::Open,
        Self::Accepted,
        Self::Refused,
        Self::Withdrawn,
        Self::Overdue,
    ];
}

/// A refusal's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub note: Option<FreeText>,
    /// Another provider's offering the family is referred on to.
    pub referral_offering_id: Option<String>,
}

/// What one provider was asked, and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    pub id: String,
    pub provider_id: OrgId,
    pub offering_id: String,
    pub hold_id: String,
    pub state: ProviderRequestState,
    pub refusal: Option<Refusal>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// One child's placement request and its provider requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRequest {
    pub id: String,
    pub requester_id: OrgId,
    pub case_reference: CaseReference,
    pub age: AgeYears,
    pub child_municipality: MunicipalityCode,
    pub care_profiles: CareProfiles,
    pub security_level: SecurityLevel,
    pub urgency: PlacementUrgency,
    pub note: Option<FreeText>,
    pub created_at: DateTime<Utc>,
    pub answer_due: DateTime<Utc>,
    pub provider_requests: Vec<ProviderRequest>,
    /// Set once the retention period erased its notes and case reference.
    pub erased_at: Option<DateTime<Utc>>,
}

/// A request to send, parsed at the edge.
#[derive(Debug, Clone)]
pub struct NewPlacementRequest {
    pub request_id: RequestId,
    pub hold_ids: Vec<String>,
    pub case_reference: CaseReference,
    pub age: AgeYears,
    pub care_profiles: CareProfiles,
    pub security_level: SecurityLevel,
    pub urgency: PlacementUrgency,
    pub note: Option<FreeText>,
}

impl NewPlacementRequest {
    /// The holds named: one to `max`, none twice.
    pub fn check_holds(&self, max: usize) -> Result<(), Invalid> {
        if self.hold_ids.is_empty() || self.hold_ids.len() > max {
            return Err(Invalid::new(format!("name 1 to {max} holds")));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(twice) = self.hold_ids.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(Invalid::new(format!("hold {twice} is named twice")));
        }
        Ok(())
    }
}

/// What a party does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementAction {
    /// The provider takes the child.
    Accept { provider_request_id: String },
    /// The provider refuses, with a reason.
    Refuse {
        provider_request_id: String,
        refusal: Refusal,
    },
    /// The requester withdraws every open provider request.
    Withdraw { placement_request_id: String },
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not the caller's to see or answer: reported as not found.
    #[error("{0} not found")]
    NotFound(String),
    #[error("provider request {0} was withdrawn")]
    Withdrawn(String),
    #[error("provider request {0} passed its answer deadline unanswered")]
    Overdue(String),
    #[error("provider request {0} was answered already")]
    Answered(String),
    #[error("placement request {0} was accepted by a provider; nothing to withdraw")]
    Placed(String),
}

/// What to persist: each provider request's new state, and what becomes of its hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub changes: Vec<Change>,
}

/// One provider request's new state and its hold's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub provider_request_id: String,
    pub hold_id: String,
    pub offering_id: String,
    pub state: ProviderRequestState,
    pub refusal: Option<Refusal>,
    /// True: the hold becomes the placement; false: it is released.
    pub confirm_hold: bool,
}

impl ProviderRequest {
    /// The state as seen at `now`: open past the deadline reads as overdue.
    pub fn state_at(&self, answer_due: DateTime<Utc>, now: DateTime<Utc>) -> ProviderRequestState {
        if self.state == ProviderRequestState::Open && now >= answer_due {
            ProviderRequestState::Overdue
        } else {
            self.state
        }
    }
}

impl PlacementRequest {
    /// Whether `org` may see this request at all: its requester or one of its providers.
    pub fn visible_to(&self, org: &OrgId) -> bool {
        self.requester_id == *org || self.provider_requests.iter().any(|p| p.provider_id == *org)
    }

    /// The request as `org` may see it: a provider sees only its own part.
    pub fn as_seen_by(mut self, org: &OrgId) -> Self {
        if self.requester_id != *org {
            self.provider_requests.retain(|p| p.provider_id == *org);
        }
        self
    }
}

/// Decides what `actor` doing `action` to `request` at `now` changes, or why not.
pub fn decide(
    request: &PlacementRequest,
    actor: &OrgId,
    action: &PlacementAction,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    match action {
        PlacementAction::Accept {
            provider_request_id,
        }
        | PlacementAction::Refuse {
            provider_request_id,
            ..
        } => {
            let answered = request
                .provider_requests
                .iter()
                .find(|p| p.id == *provider_request_id && p.provider_id == *actor)
                .ok_or_else(|| {
                    Refused::NotFound(format!("provider request {provider_request_id}"))
                })?;
            match answered.state_at(request.answer_due, now) {
                ProviderRequestState::Open => {}
                ProviderRequestState::Withdrawn => {
                    return Err(Refused::Withdrawn(answered.id.clone()));
                }
                ProviderRequestState::Overdue => return Err(Refused::Overdue(answered.id.clone())),
                ProviderRequestState::Accepted | ProviderRequestState::Refused => {
                    return Err(Refused::Answered(answered.id.clone()));
                }
            }
            let change = |p: &ProviderRequest, state, refusal, confirm_hold| Change {
                provider_request_id: p.id.clone(),
                hold_id: p.hold_id.clone(),
                offering_id: p.offering_id.clone(),
                state,
                refusal,
                confirm_hold,
            };
            let mut changes = Vec::new();
            if let PlacementAction::Refuse { refusal, .. } = action {
                changes.push(change(
                    answered,
                    ProviderRequestState::Refused,
                    Some(refusal.clone()),
                    false,
                ));
            } else {
                changes.push(change(answered, ProviderRequestState::Accepted, None, true));
                // The first yes wins: every other open request is withdrawn.
                for other in &request.provider_requests {
                    if other.id != answered.id && other.state == ProviderRequestState::Open {
                        changes.push(change(other, ProviderRequestState::Withdrawn, None, false));
                    }
                }
            }
            Ok(Decision { changes })
        }
        PlacementAction::Withdraw { .. } => {
            if request.requester_id != *actor {
                return Err(Refused::NotFound(format!(
                    "placement request {}",
                    request.id
                )));
            }
            if request
                .provider_requests
                .iter()
                .any(|p| p.state == ProviderRequestState::Accepted)
            {
                return Err(Refused::Placed(request.id.clone()));
            }
            let changes = request
                .provider_requests
                .iter()
                .filter(|p| p.state == ProviderRequestState::Open)
                .map(|p| Change {
                    provider_request_id: p.id.clone(),
                    hold_id: p.hold_id.clone(),
                    offering_id: p.offering_id.clone(),
                    state: ProviderRequestState::Withdrawn,
                    refusal: None,
                    confirm_hold: false,
                })
                .collect();
            Ok(Decision { changes })
        }
    }
}

impl RefusalReason {
    /// The reason as the expertise team reads it.
    pub fn dutch(self) -> &'static str {
        match self {
            Self::NoPlace => "toch geen plek",
            Self::OutsideCareProfile => "buiten het zorgprofiel",
            Self::OutsideAgeBand => "buiten de leeftijdsgrens",
            Self::GroupSafety => "veiligheid van de groep",
            Self::NoStaff => "geen personeel beschikbaar",
            Self::MedicalCare => "medische zorg die de groep niet kan bieden",
            Self::Other => "andere reden",
        }
    }
}

/// What an erased request shows instead of its case reference: nothing that
/// links it to the case, unique to the request so that no two erased
/// requests read as one case.
pub fn erased_case_reference(placement_request_id: &str) -> String {
    // Letters only: digits could read as a BSN or a date to the case
    // reference's own checks.
    let letters: String = placement_request_id
        .chars()
        .filter_map(|c| c.to_digit(16))
        .rev()
        .take(12)
        .map(|n| char::from(b'a' + n as u8))
        .collect();
    format!("gewist-{letters}")
}

/// The question an escalation puts to the region's expertise team: the
/// placement that did not succeed, with the refusals' reasons only (never
/// the providers' notes, which the team can ask for).
pub fn escalation_question(refusals: &[RefusalReason], unanswered: usize) -> String {
    let mut counted: std::collections::BTreeMap<RefusalReason, usize> = Default::default();
    for reason in refusals {
        *counted.entry(*reason).or_default() += 1;
    }
    let reasons: Vec<String> = counted
        .iter()
        .map(|(reason, n)| format!("{} ({n}x)", reason.dutch()))
        .collect();
    let mut question = format!("Geen plaatsing gevonden: {} weigering(en)", refusals.len());
    if !reasons.is_empty() {
        question.push_str(&format!(", redenen: {}", reasons.join(", ")));
    }
    if unanswered > 0 {
        question.push_str(&format!("; {unanswered} verzoek(en) niet beantwoord"));
    }
    question.push_str(". Wij vragen het expertiseteam de procesregie over te nemen.");
    question
}

/// The consultation's problem domains, from the care the child needs.
pub fn problem_domains_for(care: CareProfiles) -> Vec<super::consultation::ProblemDomain> {
    use super::capacity::CareProfile;
    use super::consultation::ProblemDomain;
    let mut domains: Vec<ProblemDomain> = care
        .iter()
        .map(|profile| match profile {
            CareProfile::YouthAndParenting => ProblemDomain::Parenting,
            CareProfile::YouthMentalHealth => ProblemDomain::MentalHealth,
            CareProfile::MildIntellectualDisability => ProblemDomain::MildIntellectualDisability,
            CareProfile::Forensic => ProblemDomain::Forensic,
            CareProfile::EatingDisorders => ProblemDomain::EatingDisorder,
        })
        .collect();
    if domains.is_empty() {
        domains.push(ProblemDomain::Parenting);
    }
    domains
}

impl PlacementUrgency {
    /// The consultation urgency an escalation carries.
    pub fn consultation_urgency(self) -> super::consultation::Urgency {
        use super::consultation::Urgency;
        match self {
            Self::Crisis => Urgency::Crisis,
            Self::Urgent => Urgency::Urgent,
            Self::Regular => Urgency::Routine,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).unwrap()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn asked(id: &str, provider: &str) -> ProviderRequest {
        ProviderRequest {
            id: id.into(),
            provider_id: org(provider),
            offering_id: format!("offering-{id}"),
            hold_id: format!("hold-{id}"),
            state: ProviderRequestState::Open,
            refusal: None,
            answered_at: None,
        }
    }

    fn three_way() -> PlacementRequest {
        PlacementRequest {
            id: "r".into(),
            requester_id: org("crisisdienst"),
            case_reference: CaseReference::parse("case-1").unwrap(),
            age: AgeYears::new(15).unwrap(),
            child_municipality: MunicipalityCode::parse("GM0392").unwrap(),
            care_profiles: CareProfiles::from_profiles([]),
            security_level: SecurityLevel::Open,
            urgency: PlacementUrgency::Crisis,
            note: None,
            created_at: at(0),
            answer_due: at(60),
            provider_requests: vec![
                asked("a", "kenter"),
                asked("b", "lindenhof"),
                asked("c", "parlan"),
            ],
            erased_at: None,
        }
    }

    fn withdraw() -> PlacementAction {
        PlacementAction::Withdraw {
            placement_request_id: "r".into(),
        }
    }

    fn accept(id: &str) -> PlacementAction {
        PlacementAction::Accept {
            provider_request_id: id.into(),
        }
    }

    fn refuse(id: &str, reason: RefusalReason) -> PlacementAction {
        PlacementAction::Refuse {
            provider_request_id: id.into(),
            refusal: Refusal {
                reason,
                note: None,
                referral_offering_id: None,
            },
        }
    }

    #[test]
    fn the_first_acceptance_takes_the_place_and_withdraws_the_others() {
        let decision = decide(&three_way(), &org("lindenhof"), &accept("b"), at(5)).unwrap();
        let states: Vec<_> = decision
            .changes
            .iter()
            .map(|c| (c.provider_request_id.as_str(), c.state, c.confirm_hold))
            .collect();
        assert_eq!(
            states,
            [
                ("b", ProviderRequestState::Accepted, true),
                ("a", ProviderRequestState::Withdrawn, false),
                ("c", ProviderRequestState::Withdrawn, false),
            ]
        );
    }

    #[test]
    fn a_refusal_releases_only_its_own_hold() {
        let decision = decide(
            &three_way(),
            &org("kenter"),
            &refuse("a", RefusalReason::GroupSafety),
            at(5),
        )
        .unwrap();
        assert_eq!(decision.changes.len(), 1);
        assert_eq!(decision.changes[0].state, ProviderRequestState::Refused);
        assert!(!decision.changes[0].confirm_hold);
    }

    #[test]
    fn who_may_answer_what_and_when() {
        let mut request = three_way();
        // Another provider's request, or the requester answering: not found.
        assert!(matches!(
            decide(&request, &org("kenter"), &accept("b"), at(5)),
            Err(Refused::NotFound(_))
        ));
        assert!(matches!(
            decide(&request, &org("crisisdienst"), &accept("a"), at(5)),
            Err(Refused::NotFound(_))
        ));
        // At the deadline, unanswered is overdue.
        assert_eq!(
            decide(&request, &org("kenter"), &accept("a"), at(60)),
            Err(Refused::Overdue("a".into()))
        );
        // Once another accepted, the rest hear they were withdrawn.
        request.provider_requests[1].state = ProviderRequestState::Accepted;
        request.provider_requests[0].state = ProviderRequestState::Withdrawn;
        assert_eq!(
            decide(&request, &org("kenter"), &accept("a"), at(5)),
            Err(Refused::Withdrawn("a".into()))
        );
        assert_eq!(
            decide(
                &request,
                &org("lindenhof"),
                &refuse("b", RefusalReason::NoStaff),
                at(5)
            ),
            Err(Refused::Answered("b".into()))
        );
        assert_eq!(
            decide(&request, &org("crisisdienst"), &withdraw(), at(5)),
            Err(Refused::Placed("r".into()))
        );
        assert!(matches!(
            decide(&request, &org("kenter"), &withdraw(), at(5)),
            Err(Refused::NotFound(_))
        ));
    }

    #[test]
    fn a_withdrawal_ends_every_open_request_and_keeps_the_answered() {
        let mut request = three_way();
        request.provider_requests[0].state = ProviderRequestState::Refused;
        let decision = decide(&request, &org("crisisdienst"), &withdraw(), at(90)).unwrap();
        let ended: Vec<_> = decision
            .changes
            .iter()
            .map(|c| c.provider_request_id.as_str())
            .collect();
        assert_eq!(ended, ["b", "c"], "overdue ones are withdrawn too");
    }

    #[test]
    fn a_provider_sees_only_its_own_part() {
        let seen = three_way().as_seen_by(&org("parlan"));
        assert_eq!(seen.provider_requests.len(), 1);
        assert_eq!(seen.provider_requests[0].id, "c");
        assert_eq!(
            three_way()
                .as_seen_by(&org("crisisdienst"))
                .provider_requests
                .len(),
            3
        );
    }

    #[test]
    fn an_escalation_names_reasons_only() {
        let question = escalation_question(
            &[
                RefusalReason::NoStaff,
                RefusalReason::GroupSafety,
                RefusalReason::NoStaff,
            ],
            1,
        );
        assert_eq!(
            question,
            "Geen plaatsing gevonden: 3 weigering(en), redenen: veiligheid van de groep (1x), \
             geen personeel beschikbaar (2x); 1 verzoek(en) niet beantwoord. Wij vragen het \
             expertiseteam de procesregie over te nemen."
        );
        assert!(
            FreeText::parse(&question).is_ok(),
            "within the free-text rules"
        );
    }

    proptest::proptest! {
        #[test]
        fn an_erased_case_reference_is_always_a_valid_one(id in ".*") {
            let erased = erased_case_reference(&id);
            proptest::prop_assert!(CaseReference::parse(&erased).is_ok(), "{}", erased);
        }
    }

    #[test]
    fn erased_requests_do_not_read_as_one_case() {
        let one = erased_case_reference("01a24309-a42b-779a-b0dc-3b68e813f188");
        let other = erased_case_reference("01a24309-a43b-7230-a2f2-4cb9e012a20c");
        assert_ne!(one, other);
    }

    #[test]
    fn deadlines_follow_urgency() {
        let policy = PlacementPolicy::default();
        assert_eq!(policy.answer_due(at(0), PlacementUrgency::Crisis), at(60));
        assert_eq!(
            policy.answer_due(at(0), PlacementUrgency::Urgent),
            at(8 * 60)
        );
        assert_eq!(
            policy.answer_due(at(0), PlacementUrgency::Regular),
            at(72 * 60)
        );
    }
}
