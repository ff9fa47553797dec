//! The FHIR edge: the capacity registry, read-only, as FHIR R4 resources
//! (JSON) for systems that speak FHIR rather than gRPC. It is served on a
//! listener of its own behind the same TLS acceptor and client verifier as
//! gRPC, and asks the same use-cases under the same role rules: whoever may
//! search places reads locations, services and their capacity; a region its
//! own figures.

mod measures;
mod tasks;

pub mod resources;

use measures::*;
use tasks::*;

use crate::app::{Actor, App, AppError, PERSON_HEADER, Page, PublishedWithin};
use crate::domain::capacity::{ChildAge, MunicipalityCode, Offering};
use crate::domain::identity::{Caller, OrgId};
use crate::domain::insights::Grouping;
use crate::domain::search::SearchFilter;
use crate::edge::Identify;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use fhir_model::r4b::codes::{IssueType, ResourceType, SearchParamType};
use fhir_model::r4b::resources::Resource;
pub use resources::Canonical;
use resources::{SearchParameter, Served};
use std::sync::Arc;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

/// The media type of every answer.
const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0";
/// Results per page unless `_count` says otherwise, and the most it may say.
const DEFAULT_COUNT: usize = 50;
const MAX_COUNT: usize = 200;

const COMMON: [SearchParameter; 2] = [
    SearchParameter {
        name: "_count",
        kind: SearchParamType::Number,
        documentation: "Results per page, 1 to 200 (default 50).",
    },
    SearchParameter {
        name: "_page",
        kind: SearchParamType::String,
        documentation: "Opaque: the next page, as Bundle.link next gives it.",
    },
];

/// What the endpoint serves; the capability statement says exactly this.
const SERVED: [Served; 6] = [
    Served {
        kind: ResourceType::Location,
        search: &[
            COMMON[0],
            COMMON[1],
            SearchParameter {
                name: "organization",
                kind: SearchParamType::Token,
                documentation: "Only the locations of this provider (its organisation id).",
            },
        ],
        includes: &[],
        documentation: "A provider's site. Unknown search parameters are refused (400), never ignored.",
    },
    Served {
        kind: ResourceType::HealthcareService,
        search: &[
            COMMON[0],
            COMMON[1],
            SearchParameter {
                name: "_id",
                kind: SearchParamType::Token,
                documentation: "Only these offerings (comma-separated ids).",
            },
            SearchParameter {
                name: "service-type",
                kind: SearchParamType::Token,
                documentation: "Place types (CodeSystem place-type), comma-separated: any of them.",
            },
            SearchParameter {
                name: "characteristic",
                kind: SearchParamType::Token,
                documentation: "A care profile (CodeSystem care-profile); repeated: equipped for all.",
            },
            SearchParameter {
                name: "age",
                kind: SearchParamType::Number,
                documentation: "A child's age in whole years (0 to 23): offerings whose age range holds it.",
            },
            SearchParameter {
                name: "municipality",
                kind: SearchParamType::Token,
                documentation: "CBS municipality codes of the location, comma-separated: any of them.",
            },
            SearchParameter {
                name: "region",
                kind: SearchParamType::Token,
                documentation: "Youth-care regions of the location, comma-separated: any of them.",
            },
            SearchParameter {
                name: "_lastUpdated",
                kind: SearchParamType::Date,
                documentation: "When the offering was last published, with prefix ge, gt, le or lt; repeat for a range.",
            },
        ],
        includes: &["HealthcareService:location"],
        documentation: "An offering: one kind of place at one location. Stale and full offerings are \
                        listed too; their capacity is in MeasureReport offering-{id}.",
    },
    Served {
        kind: ResourceType::MeasureReport,
        search: &[
            SearchParameter {
                name: "subject",
                kind: SearchParamType::Reference,
                documentation: "HealthcareService/{id}: that offering's capacity now.",
            },
            SearchParameter {
                name: "region",
                kind: SearchParamType::Token,
                documentation: "A youth-care region's capacity now, per place type; for the region, \
                                a network serving it, or the operator.",
            },
        ],
        includes: &[],
        documentation: "Capacity after the Measure capacity: read as offering-{id} or region-{id}.",
    },
    Served {
        kind: ResourceType::Measure,
        search: &[],
        includes: &[],
        documentation: "The capacity measure: Measure/capacity.",
    },
    Served {
        kind: ResourceType::CodeSystem,
        search: &[],
        includes: &[],
        documentation: "The hub's code systems: place-type, care-profile, gender-policy, \
                        security-level, freshness, capacity-group, placement-refusal-reason.",
    },
    Served {
        kind: ResourceType::Task,
        search: &[COMMON[0], COMMON[1]],
        includes: &[],
        documentation: "A placement request as one Task per provider asked: the requester reads \
                        every provider's, a provider its own. Reading names the person acting in \
                        the X-Spil-Person header (UTF-8), and is audited as on gRPC.",
    },
];

#[derive(Clone)]
struct Edge {
    app: Arc<App>,
    identity: Identify,
    canonical: Arc<resources::Canonical>,
    /// The address integrators reach this endpoint at (`fhir_base_url`),
    /// when the pod's own view of it (the `Host` header) is not it.
    public_base: Option<Arc<str>>,
}

impl Edge {
    /// The address this endpoint is reached at: the configured public one,
    /// or else the one the request itself names.
    fn base_url(&self, parts: &Parts) -> String {
        match &self.public_base {
            Some(base) => base.to_string(),
            None => request_base_url(parts),
        }
    }

    /// An organisation's name as the directory knows it (its id if unknown).
    fn organisation_name(directory: &crate::app::DirectorySnapshot, id: &OrgId) -> String {
        directory
            .organisations
            .get(id)
            .map_or_else(|| id.as_str().to_owned(), |o| o.name.clone())
    }
}

/// The FHIR routes, under `/fhir`.
pub fn router(
    app: Arc<App>,
    identity: Identify,
    canonical: resources::Canonical,
    public_base: Option<&str>,
) -> axum::Router {
    axum::Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/Location", get(search_locations))
        .route("/fhir/Location/{id}", get(read_location))
        .route("/fhir/HealthcareService", get(search_services))
        .route("/fhir/HealthcareService/{id}", get(read_service))
        .route("/fhir/MeasureReport", get(search_reports))
        .route("/fhir/MeasureReport/{id}", get(read_report))
        .route("/fhir/Measure", get(search_measures))
        .route("/fhir/Measure/{id}", get(read_measure))
        .route("/fhir/CodeSystem", get(search_code_systems))
        .route("/fhir/CodeSystem/{id}", get(read_code_system))
        .route("/fhir/Task", get(search_tasks))
        .route("/fhir/Task/{id}", get(read_task))
        .fallback(unknown)
        .with_state(Edge {
            app,
            identity,
            canonical: Arc::new(canonical),
            public_base: public_base.map(|b| Arc::from(b.trim_end_matches('/'))),
        })
}

/// A refusal as an `OperationOutcome` with its HTTP status.
#[derive(Debug)]
struct FhirError {
    status: StatusCode,
    code: IssueType,
    diagnostics: String,
    expressions: Vec<String>,
}

impl FhirError {
    fn invalid(parameter: &str, diagnostics: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: IssueType::Invalid,
            diagnostics: diagnostics.into(),
            expressions: vec![parameter.to_owned()],
        }
    }

    fn not_found(diagnostics: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: IssueType::NotFound,
            diagnostics: diagnostics.into(),
            expressions: Vec::new(),
        }
    }
}

impl From<AppError> for FhirError {
    fn from(error: AppError) -> Self {
        let (status, code) = match &error {
            AppError::Invalid(_) | AppError::OutOfRange(_) => {
                (StatusCode::BAD_REQUEST, IssueType::Invalid)
            }
            AppError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, IssueType::Login),
            AppError::PermissionDenied(_) => (StatusCode::FORBIDDEN, IssueType::Forbidden),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, IssueType::NotFound),
            AppError::FailedPrecondition { .. } | AppError::AlreadyExists(_) => {
                (StatusCode::CONFLICT, IssueType::Conflict)
            }
            AppError::ResourceExhausted { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, IssueType::Throttled)
            }
            AppError::Unavailable(_) | AppError::Aborted(_) | AppError::ShuttingDown { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, IssueType::Transient)
            }
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, IssueType::Exception),
        };
        // The use-cases name fields as the gRPC requests spell them; here
        // they are search parameters.
        let expressions = match &error {
            AppError::Invalid(violations) => violations
                .iter()
                .map(|v| {
                    let field = v.field.split('[').next().unwrap_or(&v.field);
                    match field {
                        "region_ids" | "region_id" => "region",
                        "municipality_codes" => "municipality",
                        other => other,
                    }
                    .to_owned()
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            status,
            code,
            diagnostics: error.public_message(),
            expressions,
        }
    }
}

impl From<fhir_model::BuilderError> for FhirError {
    fn from(error: fhir_model::BuilderError) -> Self {
        let error_id = uuid::Uuid::new_v4();
        tracing::error!(%error_id, %error, "a FHIR resource could not be built");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: IssueType::Exception,
            diagnostics: format!("internal error {error_id}"),
            expressions: Vec::new(),
        }
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        match resources::operation_outcome(self.code, self.diagnostics, self.expressions) {
            Ok(outcome) => json(self.status, &Resource::OperationOutcome(outcome)),
            Err(_) => self.status.into_response(),
        }
    }
}

fn json(status: StatusCode, resource: &Resource) -> Response {
    match serde_json::to_vec(resource) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

type Answer = Result<Response, FhirError>;

fn ok(resource: Resource) -> Answer {
    Ok(json(StatusCode::OK, &resource))
}

/// The organisation the connection's client certificate identifies.
struct Identified(Caller);

impl FromRequestParts<Edge> for Identified {
    type Rejection = FhirError;

    async fn from_request_parts(parts: &mut Parts, edge: &Edge) -> Result<Self, FhirError> {
        let certs = parts
            .extensions
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs);
        Ok(Self(
            edge.identity
                .identify(certs.as_deref().map(Vec::as_slice))?,
        ))
    }
}

/// The request's search parameters, each taken once it is understood; any
/// left over is refused, never silently ignored.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn of(parts: &Parts) -> Self {
        let pairs = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            // The format is always JSON; asking for it is fine.
            .filter(|(name, value)| {
                !(name == "_format"
                    && (value == "json" || value.starts_with("application/fhir+json")))
            })
            .collect();
        Self { pairs }
    }

    fn take_all(&mut self, name: &str) -> Vec<String> {
        let (taken, kept) = std::mem::take(&mut self.pairs)
            .into_iter()
            .partition(|(n, _)| n == name);
        self.pairs = kept;
        taken.into_iter().map(|(_, value)| value).collect()
    }

    fn take_one(&mut self, name: &str) -> Result<Option<String>, FhirError> {
        let mut values = self.take_all(name);
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.pop()),
            _ => Err(FhirError::invalid(
                name,
                format!("{name} may be given once"),
            )),
        }
    }

    /// Comma-separated values of every occurrence, each without a `system|`.
    fn take_tokens(&mut self, name: &str) -> Vec<String> {
        self.take_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(|v| v.rsplit('|').next().unwrap_or(v).to_owned())
            .collect()
    }

    fn page(&mut self) -> Result<Page, FhirError> {
        let size = match self.take_one("_count")? {
            None => DEFAULT_COUNT,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1 => n.min(MAX_COUNT),
                _ => {
                    return Err(FhirError::invalid(
                        "_count",
                        "must be a whole number from 1",
                    ));
                }
            },
        };
        let token = self.take_one("_page")?.unwrap_or_default();
        Ok(Page { size, token })
    }

    fn finish(self) -> Result<(), FhirError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((name, _)) => Err(FhirError::invalid(
                name,
                format!(
                    "unknown search parameter {name:?}: see /fhir/metadata for the supported ones"
                ),
            )),
        }
    }
}

/// The address this endpoint is reached at, from the request itself.
fn request_base_url(parts: &Parts) -> String {
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "localhost".to_owned());
    format!("https://{host}/fhir")
}

/// The same search as `parts` asked for, at `page_token` (or as it was).
fn link(parts: &Parts, base: &str, page_token: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        if page_token.is_none() || name != "_page" {
            query.append_pair(&name, &value);
        }
    }
    if let Some(token) = page_token {
        query.append_pair("_page", token);
    }
    let query = query.finish();
    let path = parts.uri.path().trim_start_matches("/fhir");
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}

async fn metadata(State(edge): State<Edge>, Identified(_): Identified, parts: Parts) -> Answer {
    Query::of(&parts).finish()?;
    ok(Resource::CapabilityStatement(
        resources::capability_statement(&SERVED, &edge.base_url(&parts))?,
    ))
}

/// A location, its municipality and provider named from `directory` (read
/// once per request).
fn location_resource(
    edge: &Edge,
    directory: &crate::app::DirectorySnapshot,
    location: &crate::domain::capacity::Location,
) -> Result<Resource, FhirError> {
    let municipality = directory
        .municipalities
        .get(location.municipality.as_str())
        .map(|m| m.name.as_str());
    Ok(Resource::Location(resources::location(
        &edge.canonical,
        location,
        municipality,
        &Edge::organisation_name(directory, &location.provider_id),
    )?))
}

async fn search_locations(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    parts: Parts,
) -> Answer {
    let mut query = Query::of(&parts);
    let page = query.page()?;
    let provider = query
        .take_one("organization")?
        .map(|raw| {
            let id = raw.rsplit('|').next().unwrap_or(&raw).to_owned();
            OrgId::parse(&id).map_err(|e| FhirError::invalid("organization", e.0))
        })
        .transpose()?;
    query.finish()?;
    let (locations, next) = edge
        .app
        .registry
        .list_locations(&caller, provider, &page)
        .await?;
    let base = edge.base_url(&parts);
    let directory = edge.app.directory.directory();
    let matches = locations
        .iter()
        .map(|l| location_resource(&edge, &directory, l))
        .collect::<Result<Vec<_>, _>>()?;
    let total = matches.len();
    let next = (!next.is_empty()).then(|| link(&parts, &base, Some(&next)));
    let bundle = resources::searchset(
        link(&parts, &base, None),
        next,
        total,
        matches,
        Vec::new(),
        &base,
        None,
    )?;
    ok(Resource::Bundle(bundle))
}

async fn read_location(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    Path(id): Path<String>,
) -> Answer {
    let location = edge.app.registry.location(&caller, &id).await?;
    ok(location_resource(
        &edge,
        &edge.app.directory.directory(),
        &location,
    )?)
}

/// The `_lastUpdated` bounds: `ge`, `gt`, `le` or `lt` and an instant.
fn published_within(values: &[String]) -> Result<PublishedWithin, FhirError> {
    let mut within = PublishedWithin::default();
    for value in values {
        let (prefix, raw) = value.split_at(value.len().min(2));
        let at = DateTime::parse_from_rfc3339(raw)
            .map_err(|_| {
                FhirError::invalid(
                    "_lastUpdated",
                    "must be ge, gt, le or lt and an instant with its time zone, e.g. ge2026-12-01T08:00:00Z",
                )
            })?
            .with_timezone(&Utc);
        match prefix {
            "ge" => within.after = Some((at, true)),
            "gt" => within.after = Some((at, false)),
            "le" => within.before = Some((at, true)),
            "lt" => within.before = Some((at, false)),
            _ => {
                return Err(FhirError::invalid(
                    "_lastUpdated",
                    "only the prefixes ge, gt, le and lt are supported",
                ));
            }
        }
    }
    Ok(within)
}

fn service_filter(query: &mut Query) -> Result<(SearchFilter, Vec<String>), FhirError> {
    let mut filter = SearchFilter {
        include_unavailable: true,
        ..SearchFilter::default()
    };
    for code in query.take_tokens("service-type") {
        filter
            .place_types
            .push(resources::place_type_of(&code).ok_or_else(|| {
                FhirError::invalid("service-type", format!("unknown place type {code:?}"))
            })?);
    }
    let mut profiles = Vec::new();
    for value in query.take_all("characteristic") {
        if value.contains(',') {
            return Err(FhirError::invalid(
                "characteristic",
                "give one care profile per parameter: repeated, an offering must have them all",
            ));
        }
        let code = value.rsplit('|').next().unwrap_or(&value);
        profiles.push(resources::care_profile_of(code).ok_or_else(|| {
            FhirError::invalid("characteristic", format!("unknown care profile {code:?}"))
        })?);
    }
    filter.care_profiles = crate::domain::capacity::CareProfiles::from_profiles(profiles);
    if let Some(age) = query.take_one("age")? {
        let years = age
            .parse::<u32>()
            .ok()
            .and_then(|years| ChildAge::parse(years).ok())
            .ok_or_else(|| FhirError::invalid("age", "must be whole years from 0 to 23"))?;
        filter.child_age = Some(years);
    }
    for code in query.take_tokens("municipality") {
        filter.municipalities.push(
            MunicipalityCode::parse(&code).map_err(|e| FhirError::invalid("municipality", e.0))?,
        );
    }
    filter.region_ids = query.take_tokens("region");
    let ids = query.take_tokens("_id");
    Ok((filter, ids))
}

async fn search_services(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    parts: Parts,
) -> Answer {
    let mut query = Query::of(&parts);
    let page = query.page()?;
    let (filter, ids) = service_filter(&mut query)?;
    let published = published_within(&query.take_all("_lastUpdated"))?;
    let include_locations = match query.take_all("_include").as_slice() {
        [] => false,
        [one] if one == "HealthcareService:location" => true,
        _ => {
            return Err(FhirError::invalid(
                "_include",
                "only HealthcareService:location can be included",
            ));
        }
    };
    query.finish()?;
    let found = edge
        .app
        .registry
        .catalogue(&caller, &filter, &published, &ids, &page)
        .await?;
    let policy = edge.app.registry.freshness();
    let directory = edge.app.directory.directory();
    let offerings: Vec<&Offering> = found.results.iter().map(|hit| &hit.offering).collect();
    let matches = offerings
        .iter()
        .map(|o| {
            let provider = Edge::organisation_name(&directory, &o.location.provider_id);
            resources::healthcare_service(&edge.canonical, o, &provider, policy, found.at)
                .map(Resource::HealthcareService)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut included = Vec::new();
    if include_locations {
        let mut seen: Vec<&str> = Vec::new();
        for offering in &offerings {
            let id = offering.location.id.as_str();
            if !seen.contains(&id) {
                seen.push(id);
                included.push(location_resource(&edge, &directory, &offering.location)?);
            }
        }
    }
    let base = edge.base_url(&parts);
    let next = (!found.next_page_token.is_empty())
        .then(|| link(&parts, &base, Some(&found.next_page_token)));
    let total = found.total_size;
    ok(Resource::Bundle(resources::searchset(
        link(&parts, &base, None),
        next,
        total,
        matches,
        included,
        &base,
        Some(found.at),
    )?))
}

async fn read_service(
    State(edge): State<Edge>,
    Identified(caller): Identified,
    Path(id): Path<String>,
) -> Answer {
    let seen = edge.app.registry.catalogue_offering(&caller, &id).await?;
    let (offering, _) = &seen.value;
    let provider = Edge::organisation_name(
        &edge.app.directory.directory(),
        &offering.location.provider_id,
    );
    ok(Resource::HealthcareService(resources::healthcare_service(
        &edge.canonical,
        offering,
        &provider,
        edge.app.registry.freshness(),
        seen.at,
    )?))
}

async fn unknown(parts: Parts) -> FhirError {
    if parts.method != axum::http::Method::GET {
        FhirError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: IssueType::NotSupported,
            diagnostics: "this endpoint is read-only".into(),
            expressions: Vec::new(),
        }
    } else {
        FhirError::not_found(format!(
            "{} is not served here: see /fhir/metadata",
            parts.uri.path()
        ))
    }
}
