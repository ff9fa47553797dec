//! Weeks of demo history, replayed through the real use-cases on a shifted
//! clock, so that every regional figure has something to show: daily crisis
//! beds and weekly other publications with waiting times (secure beds going
//! down, family homes and small-scale housing going up), searches that find
//! nothing, holds confirmed, released and left to expire, a secure placement
//! outside the child's province, placement requests accepted, refused for
//! every grounded reason, left unanswered and once escalated, and
//! consultations answered and declined.

use super::{PUBLICATIONS, as_org, provider_of, seed_error, seed_locations, transition, update_of};
use crate::app::{App, Page, PublishRequest};
use crate::clock::ShiftedClock;
use crate::domain::capacity::{CareProfiles, ChildAge, MunicipalityCode, PlaceType, RequestId};
use crate::domain::consultation::{
    AgeYears, CaseContent, ConsultationAction, NewConsultation, ProblemDomain, ProblemDomains,
    QuestionType, Urgency,
};
use crate::domain::hold::{HoldDuration, HoldRequest};
use crate::domain::privacy::{CaseReference, FreeText};
use crate::domain::search::SearchFilter;
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::HashMap;

/// How far back the demo's history reaches.
pub const HISTORY_WEEKS: i64 = 6;

/// Replays the history on `clock`, ending yesterday, and resets it to the present.
pub async fn seed_history(app: &App, clock: &ShiftedClock) -> anyhow::Result<()> {
    let start = history_start(app);
    let days = HISTORY_WEEKS * 7;
    clock.jump_to(start)?;
    seed_locations(app).await?;
    let mut offerings: HashMap<usize, String> = HashMap::new();
    let mut refusals = 0;
    for day in 0..days {
        let morning = start + Duration::days(day) + Duration::hours(8);
        clock.jump_to(morning)?;
        publish_day(app, day, days, &mut offerings, false).await?;
        clock.jump_to(morning + Duration::hours(2))?;
        search_day(app, day).await?;
        clock.jump_to(morning + Duration::hours(3))?;
        hold_day(app, clock, day, &offerings, morning + Duration::hours(3)).await?;
        // Four placement requests a day, one after another: a refusal
        // gives its place back for the next.
        for n in day * 4..day * 4 + 4 {
            let asked_at = morning + Duration::hours(4 + (n - day * 4) * 2);
            clock.jump_to(asked_at)?;
            request_one(app, clock, n, &offerings, asked_at, &mut refusals).await?;
        }
        // Crisis beds are valid for 12 hours: their providers publish twice a day.
        clock.jump_to(morning + Duration::hours(12))?;
        publish_day(app, day, days, &mut offerings, true).await?;
    }
    clock.reset();
    Ok(())
}

/// Five consultations a week over the same weeks, each answered in its
/// own time; the clock is reset to the present after.
pub async fn seed_consultation_history(app: &App, clock: &ShiftedClock) -> anyhow::Result<()> {
    let start = history_start(app);
    for n in 0..HISTORY_WEEKS * 5 {
        let filed = start + Duration::days(n * 7 / 5) + Duration::hours(9);
        consultation(app, clock, n, filed).await?;
    }
    clock.reset();
    Ok(())
}

fn history_start(app: &App) -> DateTime<Utc> {
    let today = app
        .now()
        .duration_trunc(Duration::days(1))
        .expect("a day divides time");
    today - Duration::weeks(HISTORY_WEEKS)
}

/// Crisis beds every day, other places once a week; numbers move with the
/// day, secure places shrink and family-style places grow over the weeks.
async fn publish_day(
    app: &App,
    day: i64,
    days: i64,
    offerings: &mut HashMap<usize, String>,
    evening: bool,
) -> anyhow::Result<()> {
    let weeks_left = ((days - day) / 7) as u32;
    for (i, p) in PUBLICATIONS.iter().enumerate() {
        let daily = p.place_type == PlaceType::CrisisBed;
        let due = if evening {
            daily
        } else {
            daily || day % 7 == i as i64 % 7
        };
        if !due {
            continue;
        }
        let total = match p.place_type {
            PlaceType::SecureResidential => p.total + weeks_left,
            PlaceType::FamilyHome | PlaceType::SmallScaleHousing => {
                p.total.saturating_sub(weeks_left / 2).max(1)
            }
            _ => p.total,
        };
        let free = (day as u32 * 3 + i as u32 * 5) % (total + 1);
        let waiting = if daily {
            0
        } else {
            p.waiting_days + weeks_left * 4 + (day as u32 % 5)
        };
        let request = PublishRequest {
            request_id: RequestId::parse(&format!("demo-history-{day}-{i}-{evening}"))
                .expect("valid"),
            updates: vec![update_of(p, (total, free, waiting), app.now())],
        };
        let outcome = app
            .registry
            .publish(&as_org(app, provider_of(p.location)), request)
            .await
            .map_err(seed_error)?;
        offerings.insert(i, outcome.value.offerings[0].id.clone());
    }
    Ok(())
}

/// Searches by the crisis service for places the region lacks: recorded as
/// unmet demand.
async fn search_day(app: &App, day: i64) -> anyhow::Result<()> {
    let crisis = as_org(app, "crisisdienst-zkh");
    // (place type, age, municipality, on how many days of three)
    let searches = [
        (PlaceType::ClinicalMentalHealth, 15, "GM0392", 3),
        (PlaceType::ClinicalMentalHealth, 16, "GM0392", 2),
        (PlaceType::SecureResidential, 14, "GM0392", 3),
        (PlaceType::FamilyHome, 8, "GM0397", 2),
    ];
    for (n, (place_type, age, municipality, days_of_three)) in searches.into_iter().enumerate() {
        if (day + n as i64) % 3 >= days_of_three {
            continue;
        }
        let filter = SearchFilter {
            place_types: vec![place_type],
            care_profiles: CareProfiles::default(),
            child_age: Some(ChildAge::parse(age).expect("valid")),
            region_ids: vec!["zuid-kennemerland".into()],
            child_municipality: Some(MunicipalityCode::parse(municipality).expect("valid")),
            ..SearchFilter::default()
        };
        let page = Page {
            size: 10,
            token: String::new(),
        };
        app.registry
            .search(&crisis, filter, &page)
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}

/// A crisis bed held for a Haarlem child most days: usually confirmed,
/// sometimes released or left to expire; every week a secure place in
/// Wassenaar (Zuid-Holland) for a child from Noord-Holland.
async fn hold_day(
    app: &App,
    clock: &ShiftedClock,
    day: i64,
    offerings: &HashMap<usize, String>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let crisis = as_org(app, "crisisdienst-zkh");
    let secure = PUBLICATIONS
        .iter()
        .position(|p| p.place_type == PlaceType::SecureResidential);
    // A bed in Haarlem, and one in Beverwijk (IJmond), outside the region.
    let mut targets: Vec<usize> = ["kenter-crisis-haarlem", "ijmond-crisis-beverwijk"]
        .into_iter()
        .filter_map(|location| PUBLICATIONS.iter().position(|p| p.location == location))
        .collect();
    if day % 7 == 5 {
        targets.extend(secure);
    }
    for (n, index) in targets.into_iter().enumerate() {
        let Some(offering_id) = offerings.get(&index) else {
            continue;
        };
        let request = HoldRequest {
            request_id: RequestId::parse(&format!("demo-history-hold-{day}-{n}")).expect("valid"),
            offering_id: offering_id.clone(),
            child_municipality: MunicipalityCode::parse(if n == 0 { "GM0392" } else { "GM0397" })
                .expect("valid"),
            duration: HoldDuration::parse(None).expect("the default is valid"),
        };
        // No free place that day: the crisis service looks elsewhere.
        let Ok(outcome) = app.holds.hold(&crisis, request).await else {
            continue;
        };
        clock.jump_to(at + Duration::minutes(10 + (day % 4) * 5))?;
        let hold_id = outcome.hold.id;
        let secure_place = Some(index) == secure;
        match (day + n as i64) % 6 {
            _ if secure_place => drop(
                app.holds
                    .confirm_hold(&crisis, &hold_id)
                    .await
                    .map_err(seed_error)?,
            ),
            4 => drop(
                app.holds
                    .release_hold(&crisis, &hold_id)
                    .await
                    .map_err(seed_error)?,
            ),
            5 => {} // left to expire
            _ => drop(
                app.holds
                    .confirm_hold(&crisis, &hold_id)
                    .await
                    .map_err(seed_error)?,
            ),
        }
        clock.jump_to(at)?;
    }
    Ok(())
}

/// One consultation for a child from Zuid-Kennemerland, answered as a RET
/// would: mostly accepted within hours and advised within days, some declined.
async fn consultation(
    app: &App,
    clock: &ShiftedClock,
    n: i64,
    filed: DateTime<Utc>,
) -> anyhow::Result<()> {
    const DOMAINS: [&[ProblemDomain]; 4] = [
        &[ProblemDomain::MentalHealth, ProblemDomain::Trauma],
        &[ProblemDomain::Autism, ProblemDomain::Parenting],
        &[
            ProblemDomain::MildIntellectualDisability,
            ProblemDomain::Addiction,
        ],
        &[ProblemDomain::Safety],
    ];
    let filer = crate::app::Actor {
        caller: as_org(app, "cjg-haarlem"),
        person: Ok(Some("demo: M. Bakker".into())),
    };
    let team = crate::app::Actor {
        caller: as_org(app, "ret-zkh-ijmond"),
        person: Ok(Some("demo: S. Visser".into())),
    };
    clock.jump_to(filed)?;
    let command = NewConsultation {
        request_id: RequestId::parse(&format!("demo-history-consultation-{n}")).expect("valid"),
        addressee: crate::domain::identity::OrgId::parse("ret-zkh-ijmond").expect("valid"),
        content: CaseContent {
            case_reference: CaseReference::parse(&format!("CJG-HIST-{n:03}")).expect("valid"),
            age: AgeYears::new(8 + (n % 10) as u32).expect("valid"),
            question: FreeText::parse("Vastgelopen hulpverlening; welke route adviseert het team?")
                .expect("valid"),
        },
        municipality: MunicipalityCode::parse(if n % 3 == 0 { "GM0397" } else { "GM0392" })
            .expect("valid"),
        problem_domains: ProblemDomains::new(DOMAINS[n as usize % 4].iter().copied())
            .expect("valid"),
        question_type: QuestionType::Advice,
        urgency: if n % 4 == 0 {
            Urgency::Urgent
        } else {
            Urgency::Routine
        },
    };
    let case = app
        .consultations
        .file_consultation(&filer, Ok(command))
        .await
        .map_err(seed_error)?;
    let steps: &[(i64, ConsultationAction, &str)] = if n % 7 == 3 {
        &[(5, ConsultationAction::Decline, "")]
    } else {
        &[
            (2 + n % 20, ConsultationAction::Accept, ""),
            (30, ConsultationAction::StartWork, ""),
            (
                48 + (n % 5) * 24,
                ConsultationAction::GiveAdvice,
                "Advies: ambulant gezinsbehandeling met school",
            ),
        ]
    };
    for (hours, action, note) in steps {
        // A step whose time has not come yet is left for the present: the
        // consultation stays in its state, as a recent one would.
        if clock.jump_to(filed + Duration::hours(*hours)).is_err() {
            break;
        }
        app.consultations
            .transition_consultation(
                &team,
                *action,
                Ok(transition(&case.value.id, *action, note)),
            )
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}

/// Holds the crisis beds request `n` asks for: one of Kenter's in Haarlem
/// or IJmond's in Beverwijk, or for every tenth one of each at once. A
/// provider with no free place that day is not asked.
async fn hold_beds(
    app: &App,
    crisis: &crate::domain::identity::Caller,
    n: i64,
    offerings: &HashMap<usize, String>,
) -> Vec<String> {
    // Kenter's two crisis beds in Haarlem and IJmond's in Beverwijk.
    let beds: Vec<usize> = PUBLICATIONS
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.place_type == PlaceType::CrisisBed
                && matches!(
                    p.location,
                    "kenter-crisis-haarlem" | "ijmond-crisis-beverwijk"
                )
        })
        .map(|(i, _)| i)
        .collect();
    let kind = n % 10;
    let asked: Vec<usize> = if kind == 8 {
        // Kenter's older-children bed and IJmond's: two providers at once.
        vec![beds[0], beds[beds.len() - 1]]
    } else {
        vec![beds[n as usize % beds.len()]]
    };
    let mut holds = Vec::new();
    for (i, index) in asked.iter().enumerate() {
        let Some(offering_id) = offerings.get(index) else {
            continue;
        };
        let request = HoldRequest {
            request_id: RequestId::parse(&format!("demo-history-placement-hold-{n}-{i}"))
                .expect("valid"),
            offering_id: offering_id.clone(),
            child_municipality: MunicipalityCode::parse("GM0392").expect("valid"),
            duration: HoldDuration::parse(None).expect("the default is valid"),
        };
        // No free place that day: this provider is not asked.
        if let Ok(outcome) = app.holds.hold(crisis, request).await {
            holds.push(outcome.hold.id);
        }
    }
    holds
}

/// Placement request `n` for a Haarlem child, at one of three crisis beds
/// (two providers) in turn: accepted, refused for each grounded reason in turn, left
/// unanswered past its deadline (then withdrawn), or sent to two at once
/// where the second provider's yes wins; once, after a refusal, the case
/// goes to the region's expertise team.
async fn request_one(
    app: &App,
    clock: &ShiftedClock,
    n: i64,
    offerings: &HashMap<usize, String>,
    at: DateTime<Utc>,
    refusals: &mut usize,
) -> anyhow::Result<()> {
    use crate::domain::placement::{
        NewPlacementRequest, PlacementAction, PlacementUrgency, Refusal, RefusalReason,
    };
    let person = |org: &str, name: &str| crate::app::Actor {
        caller: as_org(app, org),
        person: Ok(Some(format!("demo: {name}"))),
    };
    let crisis = person("crisisdienst-zkh", "R. de Boer");
    let kind = n % 10;
    let holds = hold_beds(app, &crisis.caller, n, offerings).await;
    if holds.is_empty() {
        return Ok(());
    }
    let request = NewPlacementRequest {
        request_id: RequestId::parse(&format!("demo-history-placement-{n}")).expect("valid"),
        hold_ids: holds,
        case_reference: CaseReference::parse(&format!("CDZ-HIST-{n:03}")).expect("valid"),
        age: AgeYears::new(13 + (n % 5) as u32).expect("valid"),
        care_profiles: CareProfiles::from_profiles([
            crate::domain::capacity::CareProfile::YouthAndParenting,
        ]),
        security_level: crate::domain::capacity::SecurityLevel::Open,
        urgency: PlacementUrgency::Crisis,
        note: Some(FreeText::parse("Vannacht uit huis geplaatst; geen medicatie.").expect("valid")),
    };
    let sent = app
        .placements
        .request(&crisis, Ok(request))
        .await
        .map_err(seed_error)?
        .value;
    let answer_as = |part: &crate::domain::placement::ProviderRequest| {
        person(part.provider_id.as_str(), "dienstdoende coördinator")
    };
    let parts = sent.provider_requests.clone();
    clock.jump_to(at + Duration::minutes(15 + (n % 4) * 10))?;
    match kind {
        // Nobody answers in time; the crisis service withdraws and looks on.
        9 => {
            clock.jump_to(at + Duration::hours(2))?;
            let withdraw = PlacementAction::Withdraw {
                placement_request_id: sent.id.clone(),
            };
            app.placements
                .act(&crisis, Ok(withdraw))
                .await
                .map_err(seed_error)?;
        }
        // Two asked at once: the second says yes first.
        _ if parts.len() > 1 => {
            let last = parts.last().expect("two parts");
            let accept = PlacementAction::Accept {
                provider_request_id: last.id.clone(),
            };
            app.placements
                .act(&answer_as(last), Ok(accept))
                .await
                .map_err(seed_error)?;
        }
        0 | 5 => {
            let accept = PlacementAction::Accept {
                provider_request_id: parts[0].id.clone(),
            };
            app.placements
                .act(&answer_as(&parts[0]), Ok(accept))
                .await
                .map_err(seed_error)?;
        }
        _ => {
            // Each grounded reason in turn.
            let reason = RefusalReason::ALL[*refusals % RefusalReason::ALL.len()];
            *refusals += 1;
            let refuse = PlacementAction::Refuse {
                provider_request_id: parts[0].id.clone(),
                refusal: Refusal {
                    reason,
                    note: (reason == RefusalReason::Other).then(|| {
                        FreeText::parse("De groep wordt deze week verbouwd.").expect("valid")
                    }),
                    referral_offering_id: None,
                },
            };
            app.placements
                .act(&answer_as(&parts[0]), Ok(refuse))
                .await
                .map_err(seed_error)?;
            if n == 63 {
                app.placements
                    .escalate(&crisis, &sent.id)
                    .await
                    .map_err(seed_error)?;
            }
        }
    }
    clock.jump_to(at)?;
    Ok(())
}
