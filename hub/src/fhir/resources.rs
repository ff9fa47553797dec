//! The registry as FHIR resources: locations, offerings as services, their
//! capacity as SANER-shaped measure reports, and the hub's own code systems,
//! measure and capability statement.

mod code_systems;
mod task;

pub use code_systems::*;
pub use task::placement_task;

use crate::domain::capacity::{
    CareProfile, Freshness, FreshnessPolicy, GenderPolicy, Intake, Location, Offering, PlaceType,
    Revision, SecurityLevel,
};
use crate::domain::insights::CapacityFigures;
use crate::domain::placement::{
    PlacementRequest, PlacementUrgency, ProviderRequest, ProviderRequestState, RefusalReason,
};
use chrono::{DateTime, Utc};
use fhir_model::r4b::codes::{
    self, BundleType, CapabilityStatementKind, CodeSystemContentMode, DaysOfWeek, FHIRVersion,
    IssueSeverity, IssueType, LocationMode, LocationStatus, MeasureReportStatus, MeasureReportType,
    PublicationStatus, RequestPriority, RestfulCapabilityMode, SearchEntryMode, SearchParamType,
    TaskIntent, TaskStatus,
};
use fhir_model::r4b::resources::{
    Bundle, BundleEntry, BundleEntrySearch, BundleLink, CapabilityStatement,
    CapabilityStatementImplementation, CapabilityStatementRest, CapabilityStatementRestResource,
    CapabilityStatementRestResourceInteraction, CapabilityStatementRestResourceSearchParam,
    CapabilityStatementSoftware, CodeSystem, CodeSystemConcept, HealthcareService,
    HealthcareServiceAvailableTime, HealthcareServiceEligibility, Location as FhirLocation,
    LocationPosition, Measure, MeasureGroup, MeasureGroupStratifier, MeasureReport,
    MeasureReportGroup, MeasureReportGroupStratifier, MeasureReportGroupStratifierStratum,
    OperationOutcome, OperationOutcomeIssue, Resource, Task, TaskRestriction,
};
use fhir_model::r4b::types::{
    Address, Annotation, CodeableConcept, Coding, ContactPoint, Extension, ExtensionValue,
    Identifier, Meta, Period, Quantity, Reference,
};
use fhir_model::{BuilderError, Instant};

/// Where the hub's own definitions live (`fhir_canonical_base`): code
/// systems, the capacity measure and identifier systems are named under it.
/// Integrators put these URLs in their own profiles and mappings, so a
/// deployment keeps its base for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical(String);

impl Canonical {
    /// `base` without a trailing slash (one is removed).
    pub fn new(base: &str) -> Self {
        Self(base.trim_end_matches('/').to_owned())
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.0)
    }
}
/// The capacity measure every report refers to.
pub const CAPACITY_MEASURE_ID: &str = "capacity";
/// The standard extension that says why a value is absent.
const DATA_ABSENT_REASON: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";

fn system_url(c: &Canonical, system: &HubCodeSystem) -> String {
    c.url(&format!("CodeSystem/{}", system.id))
}

fn coding(c: &Canonical, system: &HubCodeSystem, code: &str) -> Result<Coding, BuilderError> {
    let display = system
        .concepts
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, display, _)| (*display).to_owned());
    let mut builder = Coding::builder()
        .system(system_url(c, system))
        .code(code.to_owned());
    if let Some(display) = display {
        builder = builder.display(display);
    }
    builder.build()
}

fn concept(
    c: &Canonical,
    system: &HubCodeSystem,
    code: &str,
) -> Result<CodeableConcept, BuilderError> {
    CodeableConcept::builder()
        .coding(vec![Some(coding(c, system, code)?)])
        .build()
}

pub fn instant(at: DateTime<Utc>) -> Instant {
    // Microseconds are the store's precision; chrono's range lies within time's.
    let nanos = i128::from(at.timestamp_micros()) * 1_000;
    Instant(
        fhir_model::time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(fhir_model::time::OffsetDateTime::UNIX_EPOCH),
    )
}

pub fn date_time(at: DateTime<Utc>) -> fhir_model::DateTime {
    fhir_model::DateTime::DateTime(instant(at))
}

/// The hub itself, as the reporter of its capacity reports.
const HUB_ORGANISATION: (&str, &str) = ("spil", "Spil");

/// An organisation by its id, shown by its name.
fn organisation_reference(c: &Canonical, id: &str, name: &str) -> Result<Reference, BuilderError> {
    Reference::builder()
        .identifier(
            Identifier::builder()
                .system(c.url("organisation"))
                .value(id.to_owned())
                .build()?,
        )
        .display(name.to_owned())
        .build()
}

/// A provider location; `municipality_name` and `provider_name` as the
/// directory knows them.
pub fn location(
    c: &Canonical,
    location: &Location,
    municipality_name: Option<&str>,
    provider_name: &str,
) -> Result<FhirLocation, BuilderError> {
    let mut address = Address::builder()
        .district(location.municipality.as_str().to_owned())
        .country("NL".to_owned());
    if let Some(name) = municipality_name {
        address = address.city(name.to_owned());
    }
    let mut builder = FhirLocation::builder()
        .id(location.id.as_str().to_owned())
        .identifier(vec![Some(
            Identifier::builder()
                .system(c.url("location"))
                .value(location.id.as_str().to_owned())
                .build()?,
        )])
        .status(LocationStatus::Active)
        .mode(LocationMode::Instance)
        .name(location.name.clone())
        .address(address.build()?)
        .managing_organization(organisation_reference(
            c,
            location.provider_id.as_str(),
            provider_name,
        )?);
    if let Some(phone) = &location.intake_phone {
        // The intake desk's functional number: a work phone of the location.
        builder = builder.telecom(vec![Some(
            ContactPoint::builder()
                .system(codes::ContactPointSystem::Phone)
                .value(phone.as_str().to_owned())
                .r#use(codes::ContactPointUse::Work)
                .build()?,
        )]);
    }
    if let Some(at) = location.coordinates {
        builder = builder.position(
            LocationPosition::builder()
                .latitude(at.latitude)
                .longitude(at.longitude)
                .build()?,
        );
    }
    builder.build()
}

/// Freshness and revision, so that a reader never takes stale numbers for current ones.
fn meta(
    c: &Canonical,
    revision: Revision,
    last_updated: DateTime<Utc>,
    freshness: Option<Freshness>,
) -> Result<Meta, BuilderError> {
    let mut builder = Meta::builder()
        .version_id(revision.0.to_string())
        .last_updated(instant(last_updated));
    if let Some(freshness) = freshness {
        let code = match freshness {
            Freshness::Fresh => "fresh",
            Freshness::Stale => "stale",
        };
        builder = builder.tag(vec![Some(coding(c, &FRESHNESS, code)?)]);
    }
    builder.build()
}

/// An offering as the service it is: what, for whom, when, where;
/// `provider_name` as the directory knows it.
pub fn healthcare_service(
    c: &Canonical,
    offering: &Offering,
    provider_name: &str,
    policy: &FreshnessPolicy,
    at: DateTime<Utc>,
) -> Result<HealthcareService, BuilderError> {
    let key = &offering.key;
    let mut characteristics = key
        .care_profiles
        .iter()
        .map(|p| concept(c, &CARE_PROFILES, care_profile_code(p)).map(Some))
        .collect::<Result<Vec<_>, _>>()?;
    characteristics.push(Some(concept(
        c,
        &GENDER_POLICIES,
        gender_policy_code(key.gender_policy),
    )?));
    characteristics.push(Some(concept(
        c,
        &SECURITY_LEVELS,
        security_level_code(key.security_level),
    )?));
    let every_day = vec![
        Some(DaysOfWeek::Mon),
        Some(DaysOfWeek::Tue),
        Some(DaysOfWeek::Wed),
        Some(DaysOfWeek::Thu),
        Some(DaysOfWeek::Fri),
        Some(DaysOfWeek::Sat),
        Some(DaysOfWeek::Sun),
    ];
    let available = match offering.intake {
        Intake::AroundTheClock => HealthcareServiceAvailableTime::builder()
            .days_of_week(every_day)
            .all_day(true)
            .build()?,
        Intake::OfficeHours => HealthcareServiceAvailableTime::builder()
            .days_of_week(every_day.into_iter().take(5).collect())
            .available_start_time(fhir_model::Time(
                fhir_model::time::Time::from_hms(9, 0, 0).expect("a valid time"),
            ))
            .available_end_time(fhir_model::Time(
                fhir_model::time::Time::from_hms(17, 0, 0).expect("a valid time"),
            ))
            .build()?,
    };
    let band = key.age_band;
    let place = PLACE_TYPES
        .concepts
        .iter()
        .find(|(c, _, _)| *c == place_type_code(key.place_type))
        .map_or("Place", |(_, display, _)| display);
    HealthcareService::builder()
        .id(offering.id.clone())
        .meta(meta(
            c,
            offering.revision,
            offering.published_at,
            Some(offering.freshness(policy, at)),
        )?)
        .active(true)
        .provided_by(organisation_reference(
            c,
            offering.location.provider_id.as_str(),
            provider_name,
        )?)
        .r#type(vec![Some(concept(
            c,
            &PLACE_TYPES,
            place_type_code(key.place_type),
        )?)])
        .location(vec![Some(
            Reference::builder()
                .reference(format!("Location/{}", key.location_id.as_str()))
                .display(offering.location.name.clone())
                .build()?,
        )])
        .name(format!("{place} at {}", offering.location.name))
        .eligibility(vec![Some(
            HealthcareServiceEligibility::builder()
                .code(
                    CodeableConcept::builder()
                        .text(format!("Aged {} to {}", band.min(), band.max()))
                        .build()?,
                )
                .comment(format!(
                    "Children aged {} to {} years inclusive.",
                    band.min(),
                    band.max()
                ))
                .build()?,
        )])
        .characteristic(characteristics)
        .appointment_required(false)
        .available_time(vec![Some(available)])
        .build()
}

/// A count, or nothing with the reason it is absent (never a zero in its place).
fn score(value: Option<u32>) -> Result<Quantity, BuilderError> {
    match value {
        Some(value) => Quantity::builder()
            .value(f64::from(value))
            .unit("places".to_owned())
            .system("http://unitsofmeasure.org".to_owned())
            .code("{places}".to_owned())
            .build(),
        None => Quantity::builder()
            .extension(vec![
                Extension::builder()
                    .url(DATA_ABSENT_REASON.to_owned())
                    .value(ExtensionValue::Code("temp-unknown".to_owned()))
                    .build()?,
            ])
            .build(),
    }
}

/// The groups of the capacity measure, each a count or absent.
struct Counts {
    total: u32,
    occupied: Option<u32>,
    free: Option<u32>,
    held: u32,
    placed: u32,
    stale: u32,
}

impl Counts {
    fn of_offering(offering: &Offering, policy: &FreshnessPolicy, at: DateTime<Utc>) -> Self {
        let total = offering.counts.total();
        let fresh = offering.freshness(policy, at) == Freshness::Fresh;
        let free = offering.available(policy, at);
        Self {
            total,
            occupied: fresh.then(|| total.saturating_sub(free)),
            free: fresh.then_some(free),
            held: offering.held(at),
            placed: offering.placed,
            stale: if fresh { 0 } else { total },
        }
    }

    fn of_figures<'a>(figures: impl IntoIterator<Item = &'a CapacityFigures>) -> Self {
        let mut counts = Self {
            total: 0,
            occupied: Some(0),
            free: Some(0),
            held: 0,
            placed: 0,
            stale: 0,
        };
        for f in figures {
            counts.total += f.total_places;
            counts.free = counts.free.map(|free| free + f.free_places);
            counts.occupied = counts.occupied.map(|occupied| {
                occupied + (f.total_places - f.stale_places).saturating_sub(f.free_places)
            });
            counts.held += f.held;
            counts.placed += f.placed;
            counts.stale += f.stale_places;
        }
        counts
    }

    fn by_group(&self) -> [(&'static str, Option<u32>); 6] {
        [
            ("total", Some(self.total)),
            ("occupied", self.occupied),
            ("free", self.free),
            ("held", Some(self.held)),
            ("placed", Some(self.placed)),
            ("stale", Some(self.stale)),
        ]
    }
}

/// What a report's `meta` says of the data behind it.
struct Version {
    revision: Revision,
    last_updated: DateTime<Utc>,
    freshness: Option<Freshness>,
}

/// A report of `counts` at `at`, made at that moment.
fn report(
    c: &Canonical,
    id: String,
    subject: Reference,
    counts: &Counts,
    strata: &[(PlaceType, Counts)],
    version: Version,
    at: DateTime<Utc>,
) -> Result<MeasureReport, BuilderError> {
    let groups = counts
        .by_group()
        .into_iter()
        .enumerate()
        .map(|(i, (code, value))| {
            let mut group = MeasureReportGroup::builder()
                .code(concept(c, &CAPACITY_GROUPS, code)?)
                .measure_score(score(value)?);
            if !strata.is_empty() {
                let stratum = strata
                    .iter()
                    .map(|(place_type, counts)| {
                        MeasureReportGroupStratifierStratum::builder()
                            .value(concept(c, &PLACE_TYPES, place_type_code(*place_type))?)
                            .measure_score(score(counts.by_group()[i].1)?)
                            .build()
                            .map(Some)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                group = group.stratifier(vec![Some(
                    MeasureReportGroupStratifier::builder()
                        .code(vec![Some(
                            CodeableConcept::builder()
                                .text("place type".to_owned())
                                .build()?,
                        )])
                        .stratum(stratum)
                        .build()?,
                )]);
            }
            group.build().map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    MeasureReport::builder()
        .id(id)
        .meta(meta(
            c,
            version.revision,
            version.last_updated,
            version.freshness,
        )?)
        .status(MeasureReportStatus::Complete)
        .r#type(MeasureReportType::Summary)
        .measure(c.url(&format!("Measure/{CAPACITY_MEASURE_ID}")))
        .subject(subject)
        .date(date_time(at))
        .reporter(organisation_reference(
            c,
            HUB_ORGANISATION.0,
            HUB_ORGANISATION.1,
        )?)
        .period(
            Period::builder()
                .start(date_time(at))
                .end(date_time(at))
                .build()?,
        )
        .group(groups)
        .build()
}

/// One offering's capacity at `at`: free and occupied absent when stale.
pub fn offering_report(
    c: &Canonical,
    offering: &Offering,
    revision: Revision,
    policy: &FreshnessPolicy,
    at: DateTime<Utc>,
) -> Result<MeasureReport, BuilderError> {
    report(
        c,
        format!("offering-{}", offering.id),
        Reference::builder()
            .reference(format!("HealthcareService/{}", offering.id))
            .build()?,
        &Counts::of_offering(offering, policy, at),
        &[],
        Version {
            revision,
            last_updated: offering.published_at,
            freshness: Some(offering.freshness(policy, at)),
        },
        at,
    )
}

/// A region's capacity at `at`, per place type as strata.
pub fn region_report(
    c: &Canonical,
    region_id: &str,
    figures: &[CapacityFigures],
    revision: Revision,
    at: DateTime<Utc>,
) -> Result<MeasureReport, BuilderError> {
    let strata: Vec<(PlaceType, Counts)> = PlaceType::ALL
        .iter()
        .map(|t| {
            (
                *t,
                Counts::of_figures(figures.iter().filter(|f| f.group.place_type == *t)),
            )
        })
        .collect();
    report(
        c,
        format!("region-{region_id}"),
        Reference::builder()
            .identifier(
                Identifier::builder()
                    .system(c.url("region"))
                    .value(region_id.to_owned())
                    .build()?,
            )
            .display(format!("Youth-care region {region_id}"))
            .build()?,
        &Counts::of_figures(figures),
        &strata,
        Version {
            revision,
            last_updated: at,
            freshness: None,
        },
        at,
    )
}

/// The capacity measure: what each group of a report counts.
pub fn capacity_measure(c: &Canonical) -> Result<Measure, BuilderError> {
    let groups = CAPACITY_GROUPS
        .concepts
        .iter()
        .map(|(code, _, definition)| {
            MeasureGroup::builder()
                .code(concept(c, &CAPACITY_GROUPS, code)?)
                .description((*definition).to_owned())
                .stratifier(vec![Some(
                    MeasureGroupStratifier::builder()
                        .code(
                            CodeableConcept::builder()
                                .text("place type".to_owned())
                                .build()?,
                        )
                        .description(
                            "In a region's report: the same count per place type.".to_owned(),
                        )
                        .build()?,
                )])
                .build()
                .map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Measure::builder()
        .id(CAPACITY_MEASURE_ID.to_owned())
        .url(c.url(&format!("Measure/{CAPACITY_MEASURE_ID}")))
        .name("SpilCapacity".to_owned())
        .title("Youth-care places: total, occupied, free, held, placed and stale".to_owned())
        .status(PublicationStatus::Active)
        .description(
            "Shaped after the HL7 SANER bed-capacity measures: per offering or per region, \
             the places in each group as a count. Free and occupied add up to total less the \
             places of stale offerings; a stale offering's free and occupied places are absent \
             with a data-absent-reason, never reported as 0."
                .to_owned(),
        )
        .scoring(
            CodeableConcept::builder()
                .coding(vec![Some(
                    Coding::builder()
                        .system("http://terminology.hl7.org/CodeSystem/measure-scoring".to_owned())
                        .code("continuous-variable".to_owned())
                        .build()?,
                )])
                .build()?,
        )
        .group(groups)
        .build()
}

/// What a search parameter of a resource is, for the capability statement.
#[derive(Clone, Copy)]
pub struct SearchParameter {
    pub name: &'static str,
    pub kind: SearchParamType,
    pub documentation: &'static str,
}

/// When the capability statement last changed.
const STATEMENT_DATE: &str = "2026-12-01";

/// A resource type the endpoint serves: its search parameters and includes.
pub struct Served {
    pub kind: codes::ResourceType,
    pub search: &'static [SearchParameter],
    pub includes: &'static [&'static str],
    pub documentation: &'static str,
}

/// Exactly what the endpoint supports.
pub fn capability_statement(
    served: &[Served],
    base: &str,
) -> Result<CapabilityStatement, BuilderError> {
    let resources = served
        .iter()
        .map(|s| {
            let mut interactions = vec![Some(
                CapabilityStatementRestResourceInteraction::builder()
                    .code("read".to_owned())
                    .build()?,
            )];
            if !s.search.is_empty() {
                interactions.push(Some(
                    CapabilityStatementRestResourceInteraction::builder()
                        .code("search-type".to_owned())
                        .build()?,
                ));
            }
            let params = s
                .search
                .iter()
                .map(|p| {
                    CapabilityStatementRestResourceSearchParam::builder()
                        .name(p.name.to_owned())
                        .r#type(p.kind)
                        .documentation(p.documentation.to_owned())
                        .build()
                        .map(Some)
                })
                .collect::<Result<Vec<_>, _>>()?;
            CapabilityStatementRestResource::builder()
                .r#type(s.kind.clone())
                .documentation(s.documentation.to_owned())
                .interaction(interactions)
                .search_include(s.includes.iter().map(|i| Some((*i).to_owned())).collect())
                .search_param(params)
                .build()
                .map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    CapabilityStatement::builder()
        .id("spil".to_owned())
        .name("SpilCapacity".to_owned())
        .title("Spil: youth-care capacity, read-only".to_owned())
        .status(PublicationStatus::Active)
        .date(fhir_model::DateTime::Date(
            // When this statement last changed: change it with the endpoint.
            STATEMENT_DATE.parse().expect("a valid date"),
        ))
        .publisher("Spil".to_owned())
        .description(
            "The shared capacity registry of Dutch youth care, read-only, over mutually \
             authenticated TLS with an organisation's client certificate: whoever may search \
             places reads locations, services and their capacity; a region its own figures."
                .to_owned(),
        )
        .kind(CapabilityStatementKind::Instance)
        .software(
            CapabilityStatementSoftware::builder()
                .name("spil-hub".to_owned())
                .version(env!("CARGO_PKG_VERSION").to_owned())
                .build()?,
        )
        .implementation(
            CapabilityStatementImplementation::builder()
                .description("This Spil hub's FHIR endpoint".to_owned())
                .url(base.to_owned())
                .build()?,
        )
        .fhir_version(FHIRVersion::N401)
        .format(vec![Some("json".to_owned())])
        .rest(vec![Some(
            CapabilityStatementRest::builder()
                .mode(RestfulCapabilityMode::Server)
                .documentation(
                    "Paged with Bundle.link next; _count up to 200 (default 50).".to_owned(),
                )
                .resource(resources)
                .build()?,
        )])
        .build()
}

/// A page of search results as a searchset, with the next page's link.
pub fn searchset(
    self_url: String,
    next_url: Option<String>,
    total: usize,
    matches: Vec<Resource>,
    included: Vec<Resource>,
    base: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Bundle, BuilderError> {
    let mut links = vec![Some(
        BundleLink::builder()
            .relation("self".to_owned())
            .url(self_url)
            .build()?,
    )];
    if let Some(next) = next_url {
        links.push(Some(
            BundleLink::builder()
                .relation("next".to_owned())
                .url(next)
                .build()?,
        ));
    }
    let entry = |resource: Resource, mode: SearchEntryMode| -> Result<_, BuilderError> {
        let full_url = resource_url(base, &resource);
        let mut builder = BundleEntry::builder()
            .resource(resource)
            .search(BundleEntrySearch::builder().mode(mode).build()?);
        if let Some(url) = full_url {
            builder = builder.full_url(url);
        }
        builder.build().map(Some)
    };
    let mut entries = Vec::with_capacity(matches.len() + included.len());
    for resource in matches {
        entries.push(entry(resource, SearchEntryMode::Match)?);
    }
    for resource in included {
        entries.push(entry(resource, SearchEntryMode::Include)?);
    }
    let mut bundle = Bundle::builder()
        .r#type(BundleType::Searchset)
        .total(total as u32)
        .link(links)
        .entry(entries);
    if let Some(at) = at {
        bundle = bundle.timestamp(instant(at));
    }
    bundle.build()
}

fn resource_url(base: &str, resource: &Resource) -> Option<String> {
    let (kind, id) = match resource {
        Resource::Location(r) => ("Location", r.id.clone()),
        Resource::HealthcareService(r) => ("HealthcareService", r.id.clone()),
        Resource::MeasureReport(r) => ("MeasureReport", r.id.clone()),
        Resource::Measure(r) => ("Measure", r.id.clone()),
        Resource::CodeSystem(r) => ("CodeSystem", r.id.clone()),
        Resource::Task(r) => ("Task", r.id.clone()),
        _ => return None,
    };
    id.map(|id| format!("{base}/{kind}/{id}"))
}

/// An error as FHIR says it: one issue, what was wrong, and where.
pub fn operation_outcome(
    code: IssueType,
    diagnostics: String,
    expressions: Vec<String>,
) -> Result<OperationOutcome, BuilderError> {
    OperationOutcome::builder()
        .issue(vec![Some(
            OperationOutcomeIssue::builder()
                .severity(IssueSeverity::Error)
                .code(code)
                .diagnostics(diagnostics)
                .expression(expressions.into_iter().map(Some).collect())
                .build()?,
        )])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code tables are indexed by the enums' order: a place type or
    /// care profile added or moved in one and not the other fails here.
    #[test]
    fn every_code_names_its_own_value_and_back() {
        assert_eq!(PLACE_TYPES.concepts.len(), PlaceType::ALL.len());
        for place_type in PlaceType::ALL {
            assert_eq!(place_type_of(place_type_code(place_type)), Some(place_type));
        }
        assert_eq!(CARE_PROFILES.concepts.len(), CareProfile::ALL.len());
        for profile in CareProfile::ALL {
            assert_eq!(care_profile_of(care_profile_code(profile)), Some(profile));
        }
        for system in CODE_SYSTEMS {
            let mut codes: Vec<&str> = system.concepts.iter().map(|(c, _, _)| *c).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(
                codes.len(),
                system.concepts.len(),
                "{} repeats a code",
                system.id
            );
        }
    }
}
