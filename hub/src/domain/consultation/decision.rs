//! The consultation decision: whether an organisation may move a
//! consultation by an action now, and what the move makes (the state,
//! the history line, the timestamps, an escalation's follow-up). Pure:
//! the use-case loads, decides, and persists what was decided.

use super::{
    Consultation, ConsultationAction, ConsultationId, ConsultationState, DeadlinePolicy,
    DeclineReason, IllegalTransition, Side, StateChange, may_escalate, transition,
};
use crate::domain::authz::{Action, permits};
use crate::domain::identity::{OrgId, Organisation};
use chrono::{DateTime, Utc};

/// One request to move a consultation.
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub action: ConsultationAction,
    /// The organisation acting (behind the client certificate).
    pub actor: &'a Organisation,
    /// The person acting, as checked.
    pub person: &'a str,
    pub note: Option<String>,
    pub decline_reason: Option<DeclineReason>,
    /// For an escalation: the network named, and the organisation the
    /// directory knows by that id (`None`: unknown).
    pub network: Option<(OrgId, Option<&'a Organisation>)>,
}

/// What a transition makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The consultation as it becomes.
    pub updated: Consultation,
    /// Its history line.
    pub change: StateChange,
    /// For an escalation: the consultation filed with the network, its
    /// first history line, and the network that became a party.
    pub follow_up: Option<FollowUp>,
}

/// An escalation's new consultation with the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    pub consultation: Consultation,
    pub change: StateChange,
    pub network: OrgId,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Only this side of the consultation may take the action.
    WrongSide(Side, ConsultationAction),
    /// The actor's roles do not include escalating.
    RoleMayNot(Action),
    /// An escalation names no network.
    NoNetwork,
    /// The network named is unknown.
    UnknownNetwork,
    /// The organisation named is not a supra-regional network.
    NotANetwork,
    /// The state does not allow the action.
    Illegal(IllegalTransition),
    /// Escalation needs the case content, which retention erased.
    ContentErased,
}

/// Decides `request` on `current`, at `now`, under consultation revision
/// `revision`. An escalation's follow-up gets `follow_up_id`.
pub fn decide(
    current: &Consultation,
    request: Transition<'_>,
    revision: u64,
    now: DateTime<Utc>,
    deadlines: &DeadlinePolicy,
    follow_up_id: ConsultationId,
) -> Result<Decision, Refusal> {
    let action = request.action;
    let org = &request.actor.id;
    if current.side_of(org) != Some(action.side()) {
        return Err(Refusal::WrongSide(action.side(), action));
    }
    let network = if action == ConsultationAction::Escalate {
        if !permits(&request.actor.roles, Action::EscalateConsultation) {
            return Err(Refusal::RoleMayNot(Action::EscalateConsultation));
        }
        match request.network {
            None => return Err(Refusal::NoNetwork),
            Some((_, None)) => return Err(Refusal::UnknownNetwork),
            Some((id, Some(network))) if may_escalate(request.actor, network) => Some(id),
            Some(_) => return Err(Refusal::NotANetwork),
        }
    } else {
        None
    };
    let next = transition(current.state, action).map_err(Refusal::Illegal)?;

    let change = StateChange {
        from: current.state,
        to: next,
        organisation: org.clone(),
        person: request.person.to_owned(),
        at: now,
        note: request.note,
        decline_reason: request.decline_reason,
    };
    let mut updated = current.clone();
    updated.state = next;
    updated.revision = revision;
    let answers = matches!(
        action,
        ConsultationAction::Accept | ConsultationAction::Decline
    );
    if answers && updated.first_answered_at.is_none() {
        updated.first_answered_at = Some(now);
    }
    if next.is_final() {
        updated.ended_at = Some(now);
    }
    let follow_up = match network {
        None => None,
        Some(network) => {
            let content = current.content.clone().ok_or(Refusal::ContentErased)?;
            let consultation = Consultation {
                id: follow_up_id,
                parties: vec![current.filer.clone(), org.clone(), network.clone()],
                filer: current.filer.clone(),
                addressee: network.clone(),
                content: Some(content),
                municipality: current.municipality.clone(),
                problem_domains: current.problem_domains,
                question_type: current.question_type,
                urgency: current.urgency,
                state: ConsultationState::Submitted,
                filed_at: now,
                answer_due_at: deadlines.answer_due(now, current.urgency),
                first_answered_at: None,
                ended_at: None,
                erased_at: None,
                escalated_from: Some(current.id.clone()),
                escalated_to: None,
                revision,
            };
            let first = StateChange {
                from: ConsultationState::Submitted,
                to: ConsultationState::Submitted,
                decline_reason: None,
                ..change.clone()
            };
            updated.parties.push(network.clone());
            updated.parties.sort();
            updated.escalated_to = Some(consultation.id.clone());
            Some(FollowUp {
                consultation,
                change: first,
                network,
            })
        }
    };
    Ok(Decision {
        updated,
        change,
        follow_up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::capacity::MunicipalityCode;
    use crate::domain::consultation::{
        AgeYears, CaseContent, ProblemDomain, ProblemDomains, QuestionType, Urgency,
    };
    use crate::domain::identity::Role;
    use crate::domain::privacy::{CaseReference, FreeText};
    use chrono::Duration;

    fn org(id: &str, roles: &[Role]) -> Organisation {
        Organisation {
            id: OrgId::parse(id).unwrap(),
            name: id.into(),
            roles: roles.iter().copied().collect(),
            home_region_id: "zuid-kennemerland".into(),
            served_region_ids: Default::default(),
        }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn filed(state: ConsultationState) -> Consultation {
        Consultation {
            id: ConsultationId::new(),
            filer: OrgId::parse("crisisdienst-zkh").unwrap(),
            addressee: OrgId::parse("ret-zkh").unwrap(),
            content: Some(CaseContent {
                case_reference: CaseReference::parse("CDZ-1").unwrap(),
                age: AgeYears::new(15).unwrap(),
                question: FreeText::parse("Welke vervolgstap?").unwrap(),
            }),
            municipality: MunicipalityCode::parse("GM0392").unwrap(),
            problem_domains: ProblemDomains::new([ProblemDomain::MentalHealth]).unwrap(),
            question_type: QuestionType::Advice,
            urgency: Urgency::Urgent,
            state,
            filed_at: at(0),
            answer_due_at: at(120),
            first_answered_at: None,
            ended_at: None,
            erased_at: None,
            escalated_from: None,
            escalated_to: None,
            parties: vec![
                OrgId::parse("crisisdienst-zkh").unwrap(),
                OrgId::parse("ret-zkh").unwrap(),
            ],
            revision: 1,
        }
    }

    fn request<'a>(
        action: ConsultationAction,
        actor: &'a Organisation,
        network: Option<(OrgId, Option<&'a Organisation>)>,
    ) -> Transition<'a> {
        Transition {
            action,
            actor,
            person: "J. de Vries",
            note: Some("waarom".into()),
            decline_reason: None,
            network,
        }
    }

    fn decided(current: &Consultation, request: Transition<'_>) -> Result<Decision, Refusal> {
        decide(
            current,
            request,
            7,
            at(3),
            &DeadlinePolicy::default(),
            ConsultationId::new(),
        )
    }

    #[test]
    fn an_accept_by_the_addressee_answers_it_and_records_who_and_when() {
        let ret = org("ret-zkh", &[Role::ExpertiseTeam]);
        let current = filed(ConsultationState::Submitted);
        let decision = decided(&current, request(ConsultationAction::Accept, &ret, None)).unwrap();
        assert_eq!(decision.updated.state, ConsultationState::Accepted);
        assert_eq!(decision.updated.first_answered_at, Some(at(3)));
        assert_eq!(decision.updated.ended_at, None);
        assert_eq!(decision.updated.revision, 7);
        assert_eq!(decision.change.from, ConsultationState::Submitted);
        assert_eq!(decision.change.person, "J. de Vries");
        assert_eq!(decision.follow_up, None);
    }

    #[test]
    fn an_end_state_stamps_the_end_and_keeps_the_first_answer() {
        let crisis = org("crisisdienst-zkh", &[Role::CrisisService]);
        let mut current = filed(ConsultationState::AdviceGiven);
        current.first_answered_at = Some(at(1));
        let decision =
            decided(&current, request(ConsultationAction::Close, &crisis, None)).unwrap();
        assert_eq!(decision.updated.state, ConsultationState::Closed);
        assert_eq!(decision.updated.ended_at, Some(at(3)));
        assert_eq!(decision.updated.first_answered_at, Some(at(1)));
    }

    #[test]
    fn each_refusal_is_told_apart() {
        let ret = org("ret-zkh", &[Role::ExpertiseTeam]);
        let crisis = org("crisisdienst-zkh", &[Role::CrisisService]);
        let provider_ret = org("ret-zkh", &[Role::Provider]);
        let ben = org("ben-nh", &[Role::SupraRegionalNetwork]);
        let kenter = org("kenter", &[Role::Provider]);
        let ben_id = ben.id.clone();
        let accepted = filed(ConsultationState::Accepted);
        let mut erased = filed(ConsultationState::Accepted);
        erased.content = None;
        let cases: Vec<(&Consultation, Transition<'_>, Refusal)> = vec![
            (
                &accepted,
                request(ConsultationAction::Accept, &crisis, None),
                Refusal::WrongSide(Side::Addressee, ConsultationAction::Accept),
            ),
            (
                &accepted,
                request(ConsultationAction::Close, &ret, None),
                Refusal::WrongSide(Side::Filer, ConsultationAction::Close),
            ),
            (
                &accepted,
                request(
                    ConsultationAction::Escalate,
                    &provider_ret,
                    Some((ben_id.clone(), Some(&ben))),
                ),
                Refusal::RoleMayNot(Action::EscalateConsultation),
            ),
            (
                &accepted,
                request(ConsultationAction::Escalate, &ret, None),
                Refusal::NoNetwork,
            ),
            (
                &accepted,
                request(
                    ConsultationAction::Escalate,
                    &ret,
                    Some((ben_id.clone(), None)),
                ),
                Refusal::UnknownNetwork,
            ),
            (
                &accepted,
                request(
                    ConsultationAction::Escalate,
                    &ret,
                    Some((kenter.id.clone(), Some(&kenter))),
                ),
                Refusal::NotANetwork,
            ),
            (
                &accepted,
                request(ConsultationAction::Accept, &ret, None),
                Refusal::Illegal(IllegalTransition {
                    state: ConsultationState::Accepted,
                    action: ConsultationAction::Accept,
                }),
            ),
            (
                &erased,
                request(
                    ConsultationAction::Escalate,
                    &ret,
                    Some((ben_id.clone(), Some(&ben))),
                ),
                Refusal::ContentErased,
            ),
        ];
        for (current, request, refusal) in cases {
            let action = request.action;
            assert_eq!(decided(current, request), Err(refusal), "{action:?}");
        }
    }

    #[test]
    fn an_escalation_files_a_linked_follow_up_with_the_network() {
        let ret = org("ret-zkh", &[Role::ExpertiseTeam]);
        let ben = org("ben-nh", &[Role::SupraRegionalNetwork]);
        let current = filed(ConsultationState::InProgress);
        let decision = decided(
            &current,
            request(
                ConsultationAction::Escalate,
                &ret,
                Some((ben.id.clone(), Some(&ben))),
            ),
        )
        .unwrap();
        let follow_up = decision.follow_up.expect("a follow-up");
        let filed = &follow_up.consultation;
        assert_eq!(decision.updated.state, ConsultationState::Escalated);
        assert_eq!(decision.updated.escalated_to.as_ref(), Some(&filed.id));
        assert!(decision.updated.is_party(&ben.id));
        assert_eq!(filed.escalated_from.as_ref(), Some(&current.id));
        assert_eq!(filed.addressee, ben.id);
        assert_eq!(filed.state, ConsultationState::Submitted);
        assert_eq!(filed.content, current.content);
        assert_eq!(filed.answer_due_at, at(3) + Duration::days(5));
        assert!(filed.is_party(&current.filer) && filed.is_party(&ret.id));
        assert_eq!(follow_up.change.to, ConsultationState::Submitted);
        assert_eq!(follow_up.change.note.as_deref(), Some("waarom"));
        assert_eq!(follow_up.network, ben.id);
    }
}
