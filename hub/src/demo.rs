//! Demo data drawn from DOMAIN.md's world: five regions around Haarlem and
//! Leiden (plus Amsterdam for BEN NH), their municipalities, a crisis
//! service, two RETs, BEN NH, K-EET, providers with crisis beds, family
//! homes, residential groups and a JeugdzorgPlus unit, some fresh and some
//! stale; consultations in several states, one escalated from a RET to BEN
//! NH and an eating-disorder case with K-EET. Loaded through the same
//! use-cases a client calls.

mod history;

pub use history::{HISTORY_WEEKS, seed_consultation_history, seed_history};

use crate::app::{Actor, App, AppError, PublishRequest, TransitionCommand, UpdateRequest};
use crate::domain::capacity::{
    AgeBand, CareProfile, CareProfiles, Coordinates, DisplayName, GenderPolicy, Intake,
    IntakePhone, LocationId, LocationSpec, MunicipalityCode, OfferingKey, PlaceCounts, PlaceType,
    RequestId, SecurityLevel,
};
use crate::domain::consultation::{
    AgeYears, CaseContent, ConsultationAction, ConsultationId, DeclineReason, NewConsultation,
    ProblemDomain, ProblemDomains, QuestionType, Side, Urgency,
};
use crate::domain::geo::{Municipality, Region};
use crate::domain::identity::{Caller, OrgId, Organisation, Role};
use crate::domain::privacy::{CaseReference, FreeText};
use chrono::Duration;

type Place = (&'static str, &'static str, f64, f64);

const REGIONS: &[(&str, &str, &str, &[Place])] = &[
    (
        "zuid-kennemerland",
        "Zuid-Kennemerland",
        "Noord-Holland",
        &[
            ("GM0392", "Haarlem", 52.381, 4.637),
            ("GM0473", "Zandvoort", 52.372, 4.533),
            ("GM0377", "Bloemendaal", 52.406, 4.622),
            ("GM0397", "Heemstede", 52.353, 4.609),
        ],
    ),
    (
        "ijmond",
        "IJmond",
        "Noord-Holland",
        &[
            ("GM0375", "Beverwijk", 52.487, 4.657),
            ("GM0396", "Heemskerk", 52.511, 4.671),
            ("GM0453", "Velsen", 52.460, 4.620),
        ],
    ),
    (
        "haarlemmermeer",
        "Haarlemmermeer",
        "Noord-Holland",
        &[("GM0394", "Haarlemmermeer", 52.302, 4.689)],
    ),
    (
        "amsterdam-amstelland",
        "Amsterdam-Amstelland",
        "Noord-Holland",
        &[
            ("GM0363", "Amsterdam", 52.370, 4.895),
            ("GM0362", "Amstelveen", 52.303, 4.859),
        ],
    ),
    (
        "holland-rijnland",
        "Holland Rijnland",
        "Zuid-Holland",
        &[
            ("GM0546", "Leiden", 52.160, 4.497),
            ("GM0537", "Katwijk", 52.203, 4.418),
            ("GM0484", "Alphen aan den Rijn", 52.129, 4.656),
            ("GM1525", "Teylingen", 52.225, 4.522),
            ("GM0547", "Leiderdorp", 52.158, 4.534),
            ("GM0579", "Oegstgeest", 52.180, 4.469),
            ("GM0575", "Noordwijk", 52.240, 4.447),
            ("GM0534", "Hillegom", 52.291, 4.583),
            ("GM0553", "Lisse", 52.258, 4.557),
        ],
    ),
    (
        "haaglanden",
        "Haaglanden",
        "Zuid-Holland",
        &[
            ("GM0518", "'s-Gravenhage", 52.078, 4.288),
            ("GM0503", "Delft", 52.012, 4.357),
            ("GM0637", "Zoetermeer", 52.057, 4.493),
            ("GM1783", "Westland", 51.994, 4.209),
            ("GM0603", "Rijswijk", 52.036, 4.325),
            ("GM0629", "Wassenaar", 52.143, 4.401),
        ],
    ),
];

/// Every demo organisation: id, name, roles, home region.
pub const ORGANISATIONS: &[(&str, &str, &[Role], &str)] = &[
    (
        "crisisdienst-zkh",
        "Crisisdienst Jeugd Zuid-Kennemerland, IJmond en Haarlemmermeer",
        &[Role::CrisisService],
        "zuid-kennemerland",
    ),
    (
        "crisisdienst-haaglanden",
        "Crisisdienst Jeugd Haaglanden",
        &[Role::CrisisService],
        "haaglanden",
    ),
    (
        "ret-zkh-ijmond",
        "RET Zuid-Kennemerland/IJmond",
        &[Role::ExpertiseTeam],
        "zuid-kennemerland",
    ),
    (
        "ret-holland-rijnland",
        "RET Holland Rijnland",
        &[Role::ExpertiseTeam],
        "holland-rijnland",
    ),
    (
        "ben-nh",
        "BEN NH (Bovenregionaal Expertisenetwerk Noord-Holland)",
        &[Role::SupraRegionalNetwork],
        "amsterdam-amstelland",
    ),
    (
        "k-eet",
        "K-EET (keten eetstoornissen)",
        &[Role::SupraRegionalNetwork],
        "holland-rijnland",
    ),
    (
        "kenter",
        "Kenter Jeugdhulp",
        &[Role::Provider],
        "zuid-kennemerland",
    ),
    (
        "consortium-ijmond",
        "Consortium Jeugdhulp IJmond",
        &[Role::Provider],
        "ijmond",
    ),
    (
        "rijnland-gezinshuizen",
        "Gezinshuizen Rijnland",
        &[Role::Provider],
        "holland-rijnland",
    ),
    (
        "duinzicht-jeugdzorgplus",
        "Duinzicht JeugdzorgPlus",
        &[Role::Provider],
        "haaglanden",
    ),
    (
        "haaglanden-jeugd-ggz",
        "Jeugd-GGZ Haaglanden",
        &[Role::Provider],
        "haaglanden",
    ),
    (
        "cjg-haarlem",
        "CJG Haarlem",
        &[Role::Referrer],
        "zuid-kennemerland",
    ),
    (
        "regio-zuid-kennemerland",
        "Jeugdregio Zuid-Kennemerland",
        &[Role::Region],
        "zuid-kennemerland",
    ),
    (
        "regio-holland-rijnland",
        "Jeugdregio Holland Rijnland",
        &[Role::Region],
        "holland-rijnland",
    ),
    (
        "spil-privacy",
        "Spil functionaris gegevensbescherming",
        &[Role::Auditor],
        "zuid-kennemerland",
    ),
    (
        "spil-beheer",
        "Spil beheer",
        &[Role::Admin],
        "zuid-kennemerland",
    ),
];

/// Locations: id, provider, name, municipality.
/// The regions each supra-regional network serves: BEN NH those of
/// Noord-Holland, K-EET those of Zuid-Holland.
const SERVED_REGIONS: &[(&str, &[&str])] = &[
    (
        "ben-nh",
        &[
            "zuid-kennemerland",
            "ijmond",
            "haarlemmermeer",
            "amsterdam-amstelland",
        ],
    ),
    ("k-eet", &["holland-rijnland", "haaglanden"]),
];

const LOCATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "kenter-crisis-haarlem",
        "kenter",
        "Kenter crisisopvang Haarlem",
        "GM0392",
    ),
    (
        "kenter-leefgroep-heemstede",
        "kenter",
        "Kenter leefgroep Heemstede",
        "GM0397",
    ),
    (
        "ijmond-crisis-beverwijk",
        "consortium-ijmond",
        "Crisisopvang Beverwijk",
        "GM0375",
    ),
    (
        "ijmond-wonen-velsen",
        "consortium-ijmond",
        "Kleinschalig wonen Velsen",
        "GM0453",
    ),
    (
        "rijnland-gezinshuis-leiden",
        "rijnland-gezinshuizen",
        "Gezinshuis De Linde, Leiden",
        "GM0546",
    ),
    (
        "rijnland-gezinshuis-katwijk",
        "rijnland-gezinshuizen",
        "Gezinshuis Duinrand, Katwijk",
        "GM0537",
    ),
    (
        "duinzicht-gesloten-wassenaar",
        "duinzicht-jeugdzorgplus",
        "Duinzicht JeugdzorgPlus, Wassenaar",
        "GM0629",
    ),
    (
        "ggz-kliniek-den-haag",
        "haaglanden-jeugd-ggz",
        "Jeugd-GGZ kliniek Den Haag",
        "GM0518",
    ),
];

struct Publication {
    location: &'static str,
    place_type: PlaceType,
    profiles: &'static [CareProfile],
    ages: (u32, u32),
    gender: GenderPolicy,
    security: SecurityLevel,
    intake: Intake,
    total: u32,
    free: u32,
    waiting_days: u32,
    /// How long ago the provider observed the numbers: some are stale on purpose.
    hours_ago: i64,
}

/// `numbers` are total places, free places and waiting days.
const fn publication(
    location: &'static str,
    place_type: PlaceType,
    profiles: &'static [CareProfile],
    ages: (u32, u32),
    (total, free, waiting_days): (u32, u32, u32),
    hours_ago: i64,
) -> Publication {
    Publication {
        location,
        place_type,
        profiles,
        ages,
        gender: GenderPolicy::Any,
        security: SecurityLevel::Open,
        intake: if matches!(place_type, PlaceType::CrisisBed) {
            Intake::AroundTheClock
        } else {
            Intake::OfficeHours
        },
        total,
        free,
        waiting_days,
        hours_ago,
    }
}

use CareProfile::*;
use PlaceType::*;

const PUBLICATIONS: &[Publication] = &[
    publication(
        "kenter-crisis-haarlem",
        CrisisBed,
        &[YouthAndParenting, YouthMentalHealth],
        (12, 17),
        (4, 2, 0),
        1,
    ),
    publication(
        "kenter-crisis-haarlem",
        CrisisBed,
        &[YouthAndParenting],
        (4, 11),
        (2, 1, 0),
        3,
    ),
    publication(
        "kenter-leefgroep-heemstede",
        ResidentialGroup,
        &[YouthAndParenting, MildIntellectualDisability],
        (12, 17),
        (8, 1, 42),
        30,
    ),
    // Observed 20 hours ago: a crisis bed that is stale and must never count as free.
    publication(
        "ijmond-crisis-beverwijk",
        CrisisBed,
        &[YouthAndParenting],
        (12, 17),
        (3, 3, 0),
        20,
    ),
    publication(
        "ijmond-wonen-velsen",
        SmallScaleHousing,
        &[YouthAndParenting],
        (16, 23),
        (6, 2, 21),
        48,
    ),
    publication(
        "rijnland-gezinshuis-leiden",
        FamilyHome,
        &[YouthAndParenting],
        (0, 17),
        (4, 1, 60),
        24,
    ),
    // A week and a half old: stale.
    publication(
        "rijnland-gezinshuis-katwijk",
        FamilyHome,
        &[YouthAndParenting],
        (4, 17),
        (3, 1, 90),
        250,
    ),
    Publication {
        gender: GenderPolicy::Any,
        security: SecurityLevel::Secure,
        ..publication(
            "duinzicht-gesloten-wassenaar",
            SecureResidential,
            &[YouthAndParenting, Forensic],
            (12, 17),
            (10, 1, 14),
            6,
        )
    },
    publication(
        "ggz-kliniek-den-haag",
        ClinicalMentalHealth,
        &[YouthMentalHealth, EatingDisorders],
        (12, 17),
        (6, 0, 35),
        2,
    ),
    publication(
        "ggz-kliniek-den-haag",
        CrisisBed,
        &[YouthMentalHealth],
        (12, 17),
        (2, 1, 0),
        4,
    ),
];

fn seed_error(error: AppError) -> anyhow::Error {
    anyhow::anyhow!("demo seed failed: {error:?}")
}

/// The ids of every demo organisation, for making their certificates.
pub fn organisation_ids() -> Vec<OrgId> {
    ORGANISATIONS
        .iter()
        .map(|(id, ..)| OrgId::parse(id).expect("demo ids are valid"))
        .collect()
}

/// Loads the demo world. Safe to run again: everything is an upsert, and
/// publications carry request ids fixed per hour.
pub async fn seed(app: &App) -> anyhow::Result<()> {
    seed_directory(app).await?;
    seed_capacity(app).await
}

/// Regions, municipalities and organisations only.
pub async fn seed_directory(app: &App) -> anyhow::Result<()> {
    for (id, name, province, places) in REGIONS {
        let region = Region {
            id: (*id).into(),
            name: (*name).into(),
            province: (*province).into(),
            municipalities: places
                .iter()
                .map(|(code, name, lat, lon)| Municipality {
                    code: MunicipalityCode::parse(code).expect("demo codes are valid"),
                    name: (*name).into(),
                    region_id: (*id).into(),
                    coordinates: Coordinates::new(*lat, *lon).ok(),
                })
                .collect(),
        };
        app.directory
            .register_region(&region)
            .await
            .map_err(seed_error)?;
    }
    for (id, name, roles, region) in ORGANISATIONS {
        app.directory
            .register_organisation(&Organisation {
                id: OrgId::parse(id).expect("demo ids are valid"),
                name: (*name).into(),
                roles: roles.iter().copied().collect(),
                home_region_id: (*region).into(),
                served_region_ids: SERVED_REGIONS
                    .iter()
                    .filter(|(network, _)| network == id)
                    .flat_map(|(_, regions)| regions.iter().map(|r| (*r).to_owned()))
                    .collect(),
            })
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}

/// The Netherlands has 42 youth-care regions; the demo names six.
pub const NATIONAL_REGIONS: usize = 42;

/// Fills the directory up to [`NATIONAL_REGIONS`] with synthetic regions of
/// one municipality each, so that load tests see a national registry's
/// shape. Their codes (GM9001 and up) are not CBS codes.
pub async fn seed_national_scale(app: &App) -> anyhow::Result<()> {
    for n in 1..=NATIONAL_REGIONS.saturating_sub(REGIONS.len()) {
        let id = format!("synthetic-{n:02}");
        let region = Region {
            id: id.clone(),
            name: format!("Synthetische regio {n}"),
            province: "Utrecht".into(),
            municipalities: vec![Municipality {
                code: MunicipalityCode::parse(&format!("GM{:04}", 9000 + n))
                    .expect("synthetic codes are valid"),
                name: format!("Synthetische gemeente {n}"),
                region_id: id,
                coordinates: Coordinates::new(52.0 + n as f64 / 100.0, 5.1).ok(),
            }],
        };
        app.directory
            .register_region(&region)
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}

/// The demo's locations, upserted.
async fn seed_locations(app: &App) -> anyhow::Result<()> {
    let directory = app.directory.directory();
    for (n, (id, provider, name, municipality)) in LOCATIONS.iter().enumerate() {
        let coordinates = directory
            .municipalities
            .get(*municipality)
            .and_then(|m| m.coordinates);
        let spec = LocationSpec {
            id: LocationId::parse(id).expect("demo ids are valid"),
            name: DisplayName::parse(name).expect("demo names are valid"),
            municipality: MunicipalityCode::parse(municipality).expect("demo codes are valid"),
            coordinates,
            // A made-up company number per desk (088 is for organisations).
            intake_phone: Some(
                IntakePhone::parse(&format!("088-555 {:02} {:02}", 10 + n / 100, n % 100))
                    .expect("demo phone numbers are valid"),
            ),
        };
        app.registry
            .upsert_location(&as_org(app, provider), spec)
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}

/// A demo organisation acting, as the seed does.
fn as_org(app: &App, id: &str) -> Caller {
    Caller {
        org: app.directory.directory().organisations
            [&OrgId::parse(id).expect("demo ids are valid")]
            .clone(),
        certificate_identity: "demo-seed".into(),
    }
}

/// The provider owning a demo location.
fn provider_of(location: &str) -> &'static str {
    LOCATIONS
        .iter()
        .find(|(id, ..)| *id == location)
        .map(|(_, provider, ..)| *provider)
        .expect("a demo location")
}

/// One demo offering's numbers as a publication's update.
fn update_of(
    p: &Publication,
    (total, free, waiting_days): (u32, u32, u32),
    observed_at: chrono::DateTime<chrono::Utc>,
) -> UpdateRequest {
    UpdateRequest {
        key: OfferingKey {
            location_id: LocationId::parse(p.location).expect("demo ids are valid"),
            place_type: p.place_type,
            care_profiles: CareProfiles::from_profiles(p.profiles.iter().copied()),
            age_band: AgeBand::new(p.ages.0, p.ages.1).expect("demo ages are valid"),
            gender_policy: p.gender,
            security_level: p.security,
        },
        intake: p.intake,
        lead_time_days: if p.intake == Intake::AroundTheClock {
            0
        } else {
            7
        },
        counts: PlaceCounts::new(total, free).expect("demo counts are valid"),
        waiting_days,
        observed_at: Some(observed_at),
    }
}

/// Locations and publications, some fresh and some stale.
pub async fn seed_capacity(app: &App) -> anyhow::Result<()> {
    seed_locations(app).await?;
    let now = app.now();
    for (i, p) in PUBLICATIONS.iter().enumerate() {
        let update = update_of(
            p,
            (p.total, p.free, p.waiting_days),
            now - Duration::hours(p.hours_ago),
        );
        let request = PublishRequest {
            request_id: RequestId::parse(&format!("demo-seed-{i}-{}", now.timestamp() / 3600))
                .expect("valid"),
            updates: vec![update],
        };
        app.registry
            .publish(&as_org(app, provider_of(p.location)), request)
            .await
            .map_err(seed_error)?;
    }
    Ok(())
}

/// A demo consultation: who asks whom, about what, and how far it got.
struct DemoConsultation {
    filer: &'static str,
    addressee: &'static str,
    case: &'static str,
    age: u32,
    municipality: &'static str,
    domains: &'static [ProblemDomain],
    question_type: QuestionType,
    urgency: Urgency,
    question: &'static str,
    /// Actions by the addressee, then the filer, in order, with their notes.
    steps: &'static [(ConsultationAction, &'static str)],
    escalate_to: Option<&'static str>,
}

const CONSULTATIONS: &[DemoConsultation] = &[
    DemoConsultation {
        filer: "crisisdienst-zkh",
        addressee: "ret-zkh-ijmond",
        case: "CDZ-2026-0412",
        age: 15,
        municipality: "GM0392",
        domains: &[ProblemDomain::MentalHealth, ProblemDomain::Trauma],
        question_type: QuestionType::ProcessDirection,
        urgency: Urgency::Urgent,
        question: "Derde crisisopname dit jaar; ambulante hulp loopt vast. Wie neemt regie en welke vervolgplek past?",
        steps: &[],
        escalate_to: None,
    },
    DemoConsultation {
        filer: "cjg-haarlem",
        addressee: "ret-zkh-ijmond",
        case: "CJG-HLM-7781",
        age: 11,
        municipality: "GM0397",
        domains: &[ProblemDomain::Autism, ProblemDomain::Parenting],
        question_type: QuestionType::Advice,
        urgency: Urgency::Routine,
        question: "Schoolweigering sinds een half jaar, ouders uitgeput. Welke combinatie van onderwijs en zorg raadt het team aan?",
        steps: &[
            (
                ConsultationAction::Accept,
                "Casusoverleg volgende week dinsdag",
            ),
            (ConsultationAction::StartWork, ""),
        ],
        escalate_to: None,
    },
    DemoConsultation {
        filer: "cjg-haarlem",
        addressee: "ret-zkh-ijmond",
        case: "CJG-HLM-7702",
        age: 16,
        municipality: "GM0392",
        domains: &[
            ProblemDomain::MentalHealth,
            ProblemDomain::Addiction,
            ProblemDomain::MildIntellectualDisability,
        ],
        question_type: QuestionType::PlacementSearch,
        urgency: Urgency::Urgent,
        question: "LVB met verslaving en psychiatrie; geen passend aanbod in de regio gevonden.",
        steps: &[(ConsultationAction::Accept, "")],
        escalate_to: Some("ben-nh"),
    },
    DemoConsultation {
        filer: "ret-holland-rijnland",
        addressee: "k-eet",
        case: "RET-HR-2026-033",
        age: 14,
        municipality: "GM0546",
        domains: &[ProblemDomain::EatingDisorder],
        question_type: QuestionType::Advice,
        urgency: Urgency::Urgent,
        question: "Snel gewichtsverlies, weigert klinische opname. Welk behandeltraject adviseert K-EET?",
        steps: &[
            (ConsultationAction::Accept, ""),
            (ConsultationAction::StartWork, ""),
            (
                ConsultationAction::GiveAdvice,
                "Start FBT (family based treatment) met medische monitoring; bij verdere daling dagbehandeling",
            ),
        ],
        escalate_to: None,
    },
    DemoConsultation {
        filer: "crisisdienst-haaglanden",
        addressee: "haaglanden-jeugd-ggz",
        case: "CDH-2026-1190",
        age: 17,
        municipality: "GM0518",
        domains: &[ProblemDomain::MentalHealth],
        question_type: QuestionType::PlacementSearch,
        urgency: Urgency::Crisis,
        question: "Acute suïcidaliteit, thuis niet veilig; zoekt klinische plek deze week.",
        steps: &[(
            ConsultationAction::Decline,
            "Kliniek vol tot eind volgende maand",
        )],
        escalate_to: None,
    },
    DemoConsultation {
        filer: "crisisdienst-zkh",
        addressee: "ret-zkh-ijmond",
        case: "CDZ-2026-0355",
        age: 13,
        municipality: "GM0453",
        domains: &[ProblemDomain::Safety, ProblemDomain::Parenting],
        question_type: QuestionType::Advice,
        urgency: Urgency::Routine,
        question: "Herhaald huiselijk geweld; welke route na de crisisplaatsing?",
        steps: &[
            (ConsultationAction::Accept, ""),
            (ConsultationAction::StartWork, ""),
            (
                ConsultationAction::GiveAdvice,
                "Gezinshuis in de regio, met systeemgerichte behandeling en Veilig Thuis betrokken",
            ),
            (ConsultationAction::Close, "Advies overgenomen"),
        ],
        escalate_to: None,
    },
];

/// A demo transition: a decline gives "no capacity"; an empty note is none.
fn transition(id: &ConsultationId, action: ConsultationAction, note: &str) -> TransitionCommand {
    TransitionCommand {
        id: id.clone(),
        action,
        note: (!note.is_empty()).then(|| FreeText::parse(note).expect("demo notes are valid")),
        decline_reason: (action == ConsultationAction::Decline)
            .then_some(DeclineReason::NoCapacity),
        escalate_to: None,
        request_id: None,
    }
}

/// Consultations in several states. Filed once, like capacity.
pub async fn seed_consultations(app: &App) -> anyhow::Result<()> {
    let directory = app.directory.directory();
    let actor = |id: &str, person: &str| Actor {
        caller: Caller {
            org: directory.organisations[&OrgId::parse(id).expect("demo ids are valid")].clone(),
            certificate_identity: "demo-seed".into(),
        },
        person: Ok(Some(person.into())),
    };
    for (i, c) in CONSULTATIONS.iter().enumerate() {
        let filer = actor(c.filer, "demo: M. Bakker");
        let answerer = actor(c.addressee, "demo: S. Visser");
        let command = NewConsultation {
            request_id: RequestId::parse(&format!("demo-consultation-{i}")).expect("valid"),
            addressee: OrgId::parse(c.addressee).expect("demo ids are valid"),
            content: CaseContent {
                case_reference: CaseReference::parse(c.case).expect("demo references are valid"),
                age: AgeYears::new(c.age).expect("demo ages are valid"),
                question: FreeText::parse(c.question).expect("demo questions are valid"),
            },
            municipality: MunicipalityCode::parse(c.municipality).expect("demo codes are valid"),
            problem_domains: ProblemDomains::new(c.domains.iter().copied())
                .expect("demo domains are valid"),
            question_type: c.question_type,
            urgency: c.urgency,
        };
        let filed = app
            .consultations
            .file_consultation(&filer, Ok(command))
            .await
            .map_err(seed_error)?;
        let step =
            |action: ConsultationAction, note: &str| transition(&filed.value.id, action, note);
        for (action, note) in c.steps {
            let by = match action.side() {
                Side::Filer => &filer,
                Side::Addressee => &answerer,
            };
            app.consultations
                .transition_consultation(by, *action, Ok(step(*action, note)))
                .await
                .map_err(seed_error)?;
        }
        if let Some(network) = c.escalate_to {
            let mut command = step(
                ConsultationAction::Escalate,
                "Drie domeinen tegelijk: bovenregionale expertise nodig",
            );
            command.escalate_to = Some(OrgId::parse(network).expect("demo ids are valid"));
            let outcome = app
                .consultations
                .transition_consultation(&answerer, ConsultationAction::Escalate, Ok(command))
                .await
                .map_err(seed_error)?;
            if let Some(follow_up) = outcome.value.escalated {
                let network = actor(network, "demo: R. de Boer");
                let accept = transition(
                    &follow_up.id,
                    ConsultationAction::Accept,
                    "Bespreking in het netwerkoverleg",
                );
                app.consultations
                    .transition_consultation(&network, ConsultationAction::Accept, Ok(accept))
                    .await
                    .map_err(seed_error)?;
            }
        }
    }
    Ok(())
}
