//! Capacity as MeasureReports (per offering and per region), the Measure they report on, and the hub's code systems.

use super::*;

/// A report, and the moment it describes.
pub(super) type Report = (Resource, DateTime<Utc>);

pub(super) async fn offering_report(
    edge: &Edge,
    caller: &Caller,
    id: &str,
) -> Result<Report, FhirError> {
    let seen = edge.app.registry.catalogue_offering(caller, id).await?;
    let (offering, revision) = &seen.value;
    let report = resources::offering_report(
        &edge.canonical,
        offering,
        *revision,
        edge.app.registry.freshness(),
        seen.at,
    )?;
    Ok((Resource::MeasureReport(report), seen.at))
}

pub(super) async fn region_report(
    edge: &Edge,
    caller: &Caller,
    region: &str,
) -> Result<Report, FhirError> {
    let (revision, snapshot) = edge
        .app
        .insights
        .capacity_overview(caller, region, None, Grouping::default())
        .await?;
    let report = resources::region_report(
        &edge.canonical,
        region,
        &snapshot.figures,
        revision,
        snapshot.at,
    )?;
    Ok((Resource::MeasureReport(report), snapshot.at))
}

pub(super) async fn search_reports(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    parts: Parts,
) -> Answer {
    let mut query = Query::of(&parts);
    let subject = query.take_one("subject")?;
    let region = query.take_one("region")?;
    query.finish()?;
    let (report, at) = match (subject, region) {
        (Some(subject), None) => {
            let id = subject
                .strip_prefix("HealthcareService/")
                .ok_or_else(|| FhirError::invalid("subject", "must be HealthcareService/{id}"))?;
            offering_report(&edge, &caller, id).await?
        }
        (None, Some(region)) => region_report(&edge, &caller, &region).await?,
        _ => {
            return Err(FhirError::invalid(
                "subject",
                "give either subject=HealthcareService/{id} or region={id}",
            ));
        }
    };
    unpaged(&edge, &parts, vec![report], Some(at))
}

pub(super) async fn read_report(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    Path(id): Path<String>,
) -> Answer {
    if let Some(offering) = id.strip_prefix("offering-") {
        ok(offering_report(&edge, &caller, offering).await?.0)
    } else if let Some(region) = id.strip_prefix("region-") {
        ok(region_report(&edge, &caller, region).await?.0)
    } else {
        Err(FhirError::not_found(format!(
            "MeasureReport/{id} not found"
        )))
    }
}

/// A searchset of everything found at once, on one page.
pub(super) fn unpaged(
    edge: &Edge,
    parts: &Parts,
    found: Vec<Resource>,
    at: Option<DateTime<Utc>>,
) -> Answer {
    let base = edge.base_url(parts);
    ok(Resource::Bundle(resources::searchset(
        link(parts, &base, None),
        None,
        found.len(),
        found,
        Vec::new(),
        &base,
        at,
    )?))
}

/// A one-resource searchset for the definitional resources.
pub(super) fn definitions(edge: &Edge, parts: &Parts, resource: Resource) -> Answer {
    Query::of(parts).finish()?;
    unpaged(edge, parts, vec![resource], None)
}

pub(super) async fn search_measures(
    State(edge): State<Edge>,
    Identified(_): Identified,
    parts: Parts,
) -> Answer {
    let measure = resources::capacity_measure(&edge.canonical)?;
    definitions(&edge, &parts, Resource::Measure(measure))
}

pub(super) async fn read_measure(
    State(edge): State<Edge>,
    Identified(_): Identified,
    Path(id): Path<String>,
) -> Answer {
    if id == resources::CAPACITY_MEASURE_ID {
        ok(Resource::Measure(resources::capacity_measure(
            &edge.canonical,
        )?))
    } else {
        Err(FhirError::not_found(format!("Measure/{id} not found")))
    }
}

pub(super) async fn search_code_systems(
    State(edge): State<Edge>,
    Identified(_): Identified,
    parts: Parts,
) -> Answer {
    Query::of(&parts).finish()?;
    let systems = resources::CODE_SYSTEMS
        .iter()
        .map(|s| resources::code_system(&edge.canonical, s).map(Resource::CodeSystem))
        .collect::<Result<Vec<_>, _>>()?;
    unpaged(&edge, &parts, systems, None)
}

pub(super) async fn read_code_system(
    State(edge): State<Edge>,
    Identified(_): Identified,
    Path(id): Path<String>,
) -> Answer {
    let system = resources::CODE_SYSTEMS
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| FhirError::not_found(format!("CodeSystem/{id} not found")))?;
    ok(Resource::CodeSystem(resources::code_system(
        &edge.canonical,
        system,
    )?))
}
