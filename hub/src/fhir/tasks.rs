//! Placement requests as FHIR Tasks: the requester's and the provider's, searched and read.

use super::*;

/// The organisation and the person acting, named in `X-Spil-Person` as
/// gRPC names it in `x-spil-person`; the use-case checks the name.
pub(super) fn actor_of(caller: Caller, parts: &Parts) -> Actor {
    let person = match parts.headers.get(PERSON_HEADER) {
        None => Ok(None),
        Some(value) => std::str::from_utf8(value.as_bytes())
            .map(|name| Some(name.to_owned()))
            .map_err(|_| format!("{PERSON_HEADER} must be UTF-8")),
    };
    Actor { caller, person }
}

/// Each provider's part of `requests` the caller may see, as Tasks.
pub(super) fn tasks(
    edge: &Edge,
    requests: &[crate::domain::placement::PlacementRequest],
    at: DateTime<Utc>,
) -> Result<Vec<Resource>, FhirError> {
    let directory = edge.app.directory.directory();
    let name_of = |id: &str| {
        OrgId::parse(id).map_or_else(
            |_| id.to_owned(),
            |id| Edge::organisation_name(&directory, &id),
        )
    };
    let mut found = Vec::new();
    for request in requests {
        for part in &request.provider_requests {
            found.push(Resource::Task(resources::placement_task(
                &edge.canonical,
                request,
                part,
                at,
                &name_of,
            )?));
        }
    }
    Ok(found)
}

pub(super) async fn search_tasks(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    parts: Parts,
) -> Answer {
    let mut query = Query::of(&parts);
    let page = query.page()?;
    query.finish()?;
    let actor = actor_of(caller, &parts);
    let listed = edge.app.placements.list(&actor, &page).await?;
    let (requests, next) = listed.value;
    let matches = tasks(&edge, &requests, listed.at)?;
    let base = edge.base_url(&parts);
    let next = (!next.is_empty()).then(|| link(&parts, &base, Some(&next)));
    let bundle = resources::searchset(
        link(&parts, &base, None),
        next,
        matches.len(),
        matches,
        Vec::new(),
        &base,
        None,
    )?;
    ok(Resource::Bundle(bundle))
}

pub(super) async fn read_task(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    Path(id): Path<String>,
    parts: Parts,
) -> Answer {
    let actor = actor_of(caller, &parts);
    let seen = edge.app.placements.get_by_part(&actor, &id).await?;
    let mut request = seen.value;
    request.provider_requests.retain(|part| part.id == id);
    tasks(&edge, std::slice::from_ref(&request), seen.at)?
        .pop()
        .map_or_else(
            || Err(FhirError::not_found(format!("Task/{id} not found"))),
            ok,
        )
}
