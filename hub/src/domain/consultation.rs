//! Consultation requests (consultatieverzoeken): their lifecycle, modelled
//! on the FHIR Task state machine, as a pure function tested over every
//! (state, action) pair; who may file, answer and escalate; deadlines.

use super::Invalid;
use super::capacity::{MunicipalityCode, RequestId};
use super::identity::{OrgId, Organisation, Role};
use super::privacy::{CaseReference, FreeText};
use chrono::{DateTime, Duration, Utc};

mod decision;
pub use decision::{Decision, FollowUp, Refusal, Transition, decide};

/// A consultation's id: a UUID the hub assigns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConsultationId(String);

impl ConsultationId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        uuid::Uuid::parse_str(raw)
            .map(|id| Self(id.to_string()))
            .map_err(|_| Invalid::new("must be a consultation id (a UUID)"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ConsultationId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for ConsultationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Urgency {
    Routine,
    Urgent,
    Crisis,
}

impl Urgency {
    pub const ALL: [Urgency; 3] = [Urgency::Routine, Urgency::Urgent, Urgency::Crisis];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuestionType {
    Advice,
    ProcessDirection,
    PlacementSearch,
}

impl QuestionType {
    pub const ALL: [QuestionType; 3] = [
        QuestionType::Advice,
        QuestionType::ProcessDirection,
        QuestionType::PlacementSearch,
    ];
}

/// What a case is about; several at once is co-morbidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemDomain {
    MentalHealth,
    EatingDisorder,
    MildIntellectualDisability,
    Autism,
    Addiction,
    Trauma,
    /// Domestic violence, abuse, unsafe upbringing.
    Safety,
    Forensic,
    Parenting,
}

impl ProblemDomain {
    pub const ALL: [ProblemDomain; 9] = [
        ProblemDomain::MentalHealth,
        ProblemDomain::EatingDisorder,
        ProblemDomain::MildIntellectualDisability,
        ProblemDomain::Autism,
        ProblemDomain::Addiction,
        ProblemDomain::Trauma,
        ProblemDomain::Safety,
        ProblemDomain::Forensic,
        ProblemDomain::Parenting,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A non-empty set of problem domains, stored as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProblemDomains(u16);

impl ProblemDomains {
    pub fn new(domains: impl IntoIterator<Item = ProblemDomain>) -> Result<Self, Invalid> {
        let bits = domains.into_iter().fold(0, |bits, d| bits | d.bit());
        if bits == 0 {
            return Err(Invalid::new("must name at least one problem domain"));
        }
        Ok(Self(bits))
    }

    pub fn from_bits(bits: u16) -> Result<Self, Invalid> {
        let known = ProblemDomain::ALL.iter().fold(0, |b, d| b | d.bit());
        if bits & !known != 0 {
            return Err(Invalid::new(format!(
                "unknown problem domain bits {bits:#x}"
            )));
        }
        Self::new(
            ProblemDomain::ALL
                .into_iter()
                .filter(|d| bits & d.bit() != 0),
        )
    }

    pub fn bits(self) -> u16 {
        self.0
    }

    pub fn iter(self) -> impl Iterator<Item = ProblemDomain> {
        ProblemDomain::ALL
            .into_iter()
            .filter(move |d| self.0 & d.bit() != 0)
    }

    pub fn contains(self, domain: ProblemDomain) -> bool {
        self.0 & domain.bit() != 0
    }
}

/// Why an addressee declined; the free-text note says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    OutsideExpertise,
    NoCapacity,
    InsufficientInformation,
    /// Regular care suffices; not complex enough for this team.
    NotComplex,
    Other,
}

impl DeclineReason {
    pub const ALL: [DeclineReason; 5] = [
        DeclineReason::OutsideExpertise,
        DeclineReason::NoCapacity,
        DeclineReason::InsufficientInformation,
        DeclineReason::NotComplex,
        DeclineReason::Other,
    ];
}

/// The case as filed: all of it is erased after the retention period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseContent {
    pub case_reference: CaseReference,
    pub age: AgeYears,
    pub question: FreeText,
}

/// What a filer sends; checked and typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsultation {
    pub request_id: RequestId,
    pub addressee: OrgId,
    pub content: CaseContent,
    pub municipality: MunicipalityCode,
    pub problem_domains: ProblemDomains,
    pub question_type: QuestionType,
    pub urgency: Urgency,
}

/// A consultation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consultation {
    pub id: ConsultationId,
    pub filer: OrgId,
    pub addressee: OrgId,
    /// `None` once erased.
    pub content: Option<CaseContent>,
    pub municipality: MunicipalityCode,
    pub problem_domains: ProblemDomains,
    pub question_type: QuestionType,
    pub urgency: Urgency,
    pub state: ConsultationState,
    pub filed_at: DateTime<Utc>,
    pub answer_due_at: DateTime<Utc>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub erased_at: Option<DateTime<Utc>>,
    pub escalated_from: Option<ConsultationId>,
    pub escalated_to: Option<ConsultationId>,
    /// Every organisation that may see it: filer, addressee, and whoever it
    /// was escalated to or from.
    pub parties: Vec<OrgId>,
    /// The consultation revision of its latest change.
    pub revision: u64,
}

impl Consultation {
    pub fn is_party(&self, org: &OrgId) -> bool {
        self.parties.contains(org)
    }

    /// Which side `org` acts on; a party on neither side (an escalation
    /// partner) may read but not act.
    pub fn side_of(&self, org: &OrgId) -> Option<Side> {
        if &self.addressee == org {
            Some(Side::Addressee)
        } else if &self.filer == org {
            Some(Side::Filer)
        } else {
            None
        }
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        is_overdue(self.state, self.answer_due_at, now)
    }
}

/// One transition in a consultation's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub from: ConsultationState,
    pub to: ConsultationState,
    pub organisation: OrgId,
    pub person: String,
    pub at: DateTime<Utc>,
    /// `None` when none was given, or once erased.
    pub note: Option<String>,
    pub decline_reason: Option<DeclineReason>,
}

/// A message in a consultation's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMessage {
    pub id: String,
    pub consultation_id: ConsultationId,
    pub author: OrgId,
    pub person: String,
    /// `None` once erased.
    pub text: Option<String>,
    pub posted_at: DateTime<Utc>,
}

/// What a consultation event in the watch stream says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Filed,
    StateChanged,
    MessagePosted,
    DeadlinePassed,
    Erased,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Filed,
        EventKind::StateChanged,
        EventKind::MessagePosted,
        EventKind::DeadlinePassed,
        EventKind::Erased,
    ];
}

/// A child's age in years, 0 to 23 (youth care runs to 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgeYears(u8);

impl AgeYears {
    pub fn new(years: u32) -> Result<Self, Invalid> {
        if years > 23 {
            return Err(Invalid::new("must be between 0 and 23"));
        }
        Ok(Self(years as u8))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Time to a first answer, by urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePolicy {
    pub crisis: Duration,
    pub urgent: Duration,
    pub routine: Duration,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            crisis: Duration::hours(24),
            urgent: Duration::days(5),
            routine: Duration::days(28),
        }
    }
}

impl DeadlinePolicy {
    /// When the addressee must have accepted or declined.
    pub fn answer_due(&self, filed_at: DateTime<Utc>, urgency: Urgency) -> DateTime<Utc> {
        filed_at
            + match urgency {
                Urgency::Crisis => self.crisis,
                Urgency::Urgent => self.urgent,
                Urgency::Routine => self.routine,
            }
    }
}

/// Whether a consultation is still waiting for its first answer past its due time.
pub fn is_overdue(state: ConsultationState, answer_due: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state == ConsultationState::Submitted && now >= answer_due
}

/// Who may file a consultation at all.
pub fn may_file(org: &Organisation) -> bool {
    [Role::ExpertiseTeam, Role::Referrer, Role::CrisisService]
        .iter()
        .any(|r| org.has_role(*r))
}

/// Who may be asked: an expertise team, a supra-regional network or a provider.
pub fn may_be_addressed(org: &Organisation) -> bool {
    [
        Role::ExpertiseTeam,
        Role::SupraRegionalNetwork,
        Role::Provider,
    ]
    .iter()
    .any(|r| org.has_role(*r))
}

/// An expertise team escalates to a supra-regional network, and only there.
pub fn may_escalate(from: &Organisation, to: &Organisation) -> bool {
    from.has_role(Role::ExpertiseTeam)
        && to.has_role(Role::SupraRegionalNetwork)
        && from.id != to.id
}

/// Where a consultation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsultationState {
    Submitted,
    Accepted,
    InProgress,
    AdviceGiven,
    Closed,
    Declined,
    Withdrawn,
    /// Forwarded to a supra-regional network; the new record carries on.
    Escalated,
}

impl ConsultationState {
    pub const ALL: [ConsultationState; 8] = [
        ConsultationState::Submitted,
        ConsultationState::Accepted,
        ConsultationState::InProgress,
        ConsultationState::AdviceGiven,
        ConsultationState::Closed,
        ConsultationState::Declined,
        ConsultationState::Withdrawn,
        ConsultationState::Escalated,
    ];

    /// The name clients know it by.
    pub fn name(self) -> &'static str {
        match self {
            Self::Submitted => "SUBMITTED",
            Self::Accepted => "ACCEPTED",
            Self::InProgress => "IN_PROGRESS",
            Self::AdviceGiven => "ADVICE_GIVEN",
            Self::Closed => "CLOSED",
            Self::Declined => "DECLINED",
            Self::Withdrawn => "WITHDRAWN",
            Self::Escalated => "ESCALATED",
        }
    }

    /// Whether nothing can happen to it any more (and its content may be
    /// erased after the retention period).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Closed | Self::Declined | Self::Withdrawn | Self::Escalated
        )
    }
}

/// What someone does to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsultationAction {
    Accept,
    Decline,
    StartWork,
    GiveAdvice,
    Escalate,
    Withdraw,
    Close,
}

impl ConsultationAction {
    pub const ALL: [ConsultationAction; 7] = [
        ConsultationAction::Accept,
        ConsultationAction::Decline,
        ConsultationAction::StartWork,
        ConsultationAction::GiveAdvice,
        ConsultationAction::Escalate,
        ConsultationAction::Withdraw,
        ConsultationAction::Close,
    ];

    pub fn verb(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::StartWork => "start work on",
            Self::GiveAdvice => "give advice on",
            Self::Escalate => "escalate",
            Self::Withdraw => "withdraw",
            Self::Close => "close",
        }
    }

    /// Which side of the consultation may take this action.
    pub fn side(self) -> Side {
        match self {
            Self::Withdraw | Self::Close => Side::Filer,
            Self::Accept | Self::Decline | Self::StartWork | Self::GiveAdvice | Self::Escalate => {
                Side::Addressee
            }
        }
    }
}

/// The two parties to a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Filer,
    Addressee,
}

/// An action that the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a consultation that is {}", action.verb(), state.name())]
pub struct IllegalTransition {
    pub state: ConsultationState,
    pub action: ConsultationAction,
}

/// The state after `action`, or why it is not allowed now.
pub fn transition(
    state: ConsultationState,
    action: ConsultationAction,
) -> Result<ConsultationState, IllegalTransition> {
    use ConsultationAction as A;
    use ConsultationState as S;
    match (state, action) {
        (S::Submitted, A::Accept) => Ok(S::Accepted),
        (S::Submitted | S::Accepted, A::Decline) => Ok(S::Declined),
        (S::Accepted, A::StartWork) => Ok(S::InProgress),
        (S::InProgress, A::GiveAdvice) => Ok(S::AdviceGiven),
        (S::Accepted | S::InProgress, A::Escalate) => Ok(S::Escalated),
        (S::Submitted | S::Accepted | S::InProgress, A::Withdraw) => Ok(S::Withdrawn),
        (S::AdviceGiven, A::Close) => Ok(S::Closed),
        _ => Err(IllegalTransition { state, action }),
    }
}

/// Which consultations a list call wants.
#[derive(Debug, Clone, Default)]
pub struct ConsultationQuery {
    /// `Some(Filer)`: outbox; `Some(Addressee)`: inbox; `None`: everything visible.
    pub side: Option<Side>,
    pub states: Vec<ConsultationState>,
    pub urgencies: Vec<Urgency>,
    /// Only those past their answer deadline at this moment.
    pub overdue_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::ConsultationAction::*;
    use super::ConsultationState::*;
    use super::*;

    /// Every (state, action) pair and its outcome, written out in full.
    const TABLE: &[(
        ConsultationState,
        ConsultationAction,
        Option<ConsultationState>,
    )] = &[
        (Submitted, Accept, Some(Accepted)),
        (Submitted, Decline, Some(Declined)),
        (Submitted, StartWork, None),
        (Submitted, GiveAdvice, None),
        (Submitted, Escalate, None),
        (Submitted, Withdraw, Some(Withdrawn)),
        (Submitted, Close, None),
        (Accepted, Accept, None),
        (Accepted, Decline, Some(Declined)),
        (Accepted, StartWork, Some(InProgress)),
        (Accepted, GiveAdvice, None),
        (Accepted, Escalate, Some(Escalated)),
        (Accepted, Withdraw, Some(Withdrawn)),
        (Accepted, Close, None),
        (InProgress, Accept, None),
        (InProgress, Decline, None),
        (InProgress, StartWork, None),
        (InProgress, GiveAdvice, Some(AdviceGiven)),
        (InProgress, Escalate, Some(Escalated)),
        (InProgress, Withdraw, Some(Withdrawn)),
        (InProgress, Close, None),
        (AdviceGiven, Accept, None),
        (AdviceGiven, Decline, None),
        (AdviceGiven, StartWork, None),
        (AdviceGiven, GiveAdvice, None),
        (AdviceGiven, Escalate, None),
        (AdviceGiven, Withdraw, None),
        (AdviceGiven, Close, Some(Closed)),
    ];

    #[test]
    fn every_state_and_action_has_the_outcome_in_the_table() {
        for state in ConsultationState::ALL {
            for action in ConsultationAction::ALL {
                let expected = if state.is_final() {
                    None
                } else {
                    TABLE
                        .iter()
                        .find(|(s, a, _)| *s == state && *a == action)
                        .unwrap_or_else(|| panic!("({state:?}, {action:?}) missing from the table"))
                        .2
                };
                match (transition(state, action), expected) {
                    (Ok(next), Some(want)) => assert_eq!(next, want, "({state:?}, {action:?})"),
                    (Err(e), None) => assert_eq!(e, IllegalTransition { state, action }),
                    (got, want) => panic!("({state:?}, {action:?}): got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn the_filer_withdraws_and_closes_the_addressee_does_the_rest() {
        assert_eq!(Withdraw.side(), Side::Filer);
        assert_eq!(Close.side(), Side::Filer);
        assert_eq!(GiveAdvice.side(), Side::Addressee);
        assert_eq!(Escalate.side(), Side::Addressee);
    }

    fn org(id: &str, roles: &[Role]) -> Organisation {
        Organisation {
            id: crate::domain::identity::OrgId::parse(id).unwrap(),
            name: id.into(),
            roles: roles.iter().copied().collect(),
            home_region_id: "zuid-kennemerland".into(),
            served_region_ids: Default::default(),
        }
    }

    #[test]
    fn an_expertise_team_escalates_only_to_a_supra_regional_network() {
        let ret = org("ret", &[Role::ExpertiseTeam]);
        let ben = org("ben-nh", &[Role::SupraRegionalNetwork]);
        let provider = org("kenter", &[Role::Provider]);
        assert!(may_escalate(&ret, &ben));
        assert!(!may_escalate(&ret, &provider));
        assert!(!may_escalate(&provider, &ben));
        assert!(may_file(&ret) && !may_file(&provider) && !may_file(&ben));
        assert!(may_be_addressed(&provider) && may_be_addressed(&ben));
        assert!(!may_be_addressed(&org("regio", &[Role::Region])));
    }

    #[test]
    fn deadlines_follow_urgency_and_only_an_unanswered_consultation_is_overdue() {
        let filed = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let policy = DeadlinePolicy::default();
        let due = policy.answer_due(filed, Urgency::Crisis);
        assert_eq!(due - filed, Duration::hours(24));
        assert_eq!(
            policy.answer_due(filed, Urgency::Urgent) - filed,
            Duration::days(5)
        );
        assert_eq!(
            policy.answer_due(filed, Urgency::Routine) - filed,
            Duration::days(28)
        );
        assert!(!is_overdue(Submitted, due, due - Duration::seconds(1)));
        assert!(is_overdue(Submitted, due, due));
        assert!(!is_overdue(Accepted, due, due + Duration::days(1)));
    }

    #[test]
    fn problem_domains_round_trip_through_their_bits_and_are_never_empty() {
        let domains =
            ProblemDomains::new([ProblemDomain::EatingDisorder, ProblemDomain::Autism]).unwrap();
        assert_eq!(ProblemDomains::from_bits(domains.bits()), Ok(domains));
        assert_eq!(domains.iter().count(), 2);
        assert!(ProblemDomains::new([]).is_err());
        assert!(ProblemDomains::from_bits(1 << 15).is_err());
        assert!(AgeYears::new(23).is_ok() && AgeYears::new(24).is_err());
    }
}
