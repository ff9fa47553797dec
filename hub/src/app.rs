//! Use-cases: who may do what, and the store calls that do it. Speaks
//! domain types only; the gRPC layer converts at its edge.

mod audit;
mod consultations;
mod holds;
mod insights;
mod paging;
mod placements;
pub use placements::{PlacementWatchMessage, PlacementWatchStream};
mod registry;
mod view;
mod watch;

pub use audit::ChainReport;
pub use consultations::{
    Actor, Call, ConsultationWatchItem, ConsultationWatchMessage, ConsultationWatchStream,
    PERSON_HEADER, PERSON_HEADER_UTF8, Parsed, PostMessageCommand, SYSTEM_ACTOR, TransitionCommand,
    TransitionOutcome,
};
pub use insights::{Period, Series, Snapshot};
pub use paging::{Page, PageTokens};
pub use registry::{PublishRequest, PublishedWithin, SearchHit, SearchPage, UpdateRequest};
pub use watch::{StartFrom, WatchFilter, WatchItem, WatchRequest};

use crate::clock::SharedClock;
use crate::domain::authz::{Action, Scope, scope};
use crate::domain::capacity::FreshnessPolicy;
use crate::domain::geo::{Municipality, Region};
use crate::domain::hold::Refusal;
use crate::domain::identity::{Caller, OrgId, Organisation};
use crate::store::{Store, StoreError, WriteError};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A use-case's answer and the moment it was drawn at. What the edge shows
/// beside it (available places, freshness, overdue) is computed at that
/// moment, never at a second reading of the clock.
#[derive(Debug, Clone)]
pub struct Seen<T> {
    pub value: T,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// One wrong field of a request: its path in the request and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Which rule refused a call, for machines: `grpc::status` sends it as the
/// `ErrorInfo` reason, and the contract lists every one (`spil.v1.ErrorReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    OfferingStale,
    NoFreePlace,
    HoldExpired,
    HoldReleased,
    HoldConfirmed,
    IllegalTransition,
    ContentErased,
    ConsultationEnded,
    PlacementWithdrawn,
    PlacementOverdue,
    PlacementAnswered,
    HoldUnderRequest,
    OrganisationRateLimited,
    HubAtCapacity,
    WatchLimitReached,
}

/// Why a use-case refused or failed: a small closed set, each mapped to one
/// gRPC code in `grpc::status`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{description}")]
    FailedPrecondition {
        /// Which precondition failed.
        reason: Reason,
        subject: String,
        description: String,
    },
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    OutOfRange(String),
    #[error("{0}")]
    Unavailable(String),
    /// A concurrent write collided with this one; retrying is safe.
    #[error("{0}")]
    Aborted(String),
    /// The caller's share is used up (calls per second, open watches);
    /// retrying after `retry_after` is welcome.
    #[error("{message}")]
    ResourceExhausted {
        /// Which limit refused the call.
        reason: Reason,
        message: String,
        retry_after: std::time::Duration,
    },
    /// A watch ended by the hub's shutdown; the client reconnects (to any
    /// replica) with `resume_after` as its start revision and misses nothing.
    #[error("the hub is shutting down: reconnect with start_revision {}", resume_after.0)]
    ShuttingDown {
        resume_after: crate::domain::capacity::Revision,
    },
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl AppError {
    /// What the caller reads: the error's own words, or for an internal
    /// error an id to quote, with the cause logged under that id (never
    /// sent). Every edge answers with this.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(source) => {
                let error_id = uuid::Uuid::new_v4();
                tracing::error!(%error_id, cause = %source.redacted(), "internal error");
                format!("internal error {error_id}")
            }
            AppError::Invalid(violations) => violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }

    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        use crate::domain::hold::HoldConflict;
        match refusal {
            Refusal::NotOwner(location) => AppError::PermissionDenied(format!(
                "location {location} belongs to another provider"
            )),
            Refusal::RequestIdReused => AppError::AlreadyExists(
                "request_id was already used with different parameters".into(),
            ),
            Refusal::OfferingStale(id) => AppError::FailedPrecondition {
                reason: Reason::OfferingStale,
                subject: format!("offerings/{id}"),
                description:
                    "the offering is stale: its last publication is older than its validity".into(),
            },
            Refusal::NoFreePlace(id) => AppError::FailedPrecondition {
                reason: Reason::NoFreePlace,
                subject: format!("offerings/{id}"),
                description: "the offering has no free place".into(),
            },
            Refusal::Hold(conflict) => AppError::FailedPrecondition {
                reason: match conflict {
                    HoldConflict::Expired => Reason::HoldExpired,
                    HoldConflict::Released => Reason::HoldReleased,
                    HoldConflict::Confirmed => Reason::HoldConfirmed,
                },
                subject: "hold".into(),
                description: conflict.to_string(),
            },
        }
    }
}

impl From<WriteError> for AppError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Refused(refusal) => refusal.into(),
            WriteError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            StoreError::UnknownMunicipality(code) => {
                AppError::invalid("municipality_code", format!("unknown municipality {code}"))
            }
            StoreError::Conflict => AppError::Aborted(
                "a concurrent change to the same data won; retry the request".into(),
            ),
            StoreError::Unavailable(why) => {
                tracing::warn!(reason = %why, "database unavailable");
                AppError::Unavailable(
                    "the registry's database is unavailable; retry shortly".into(),
                )
            }
            other @ (StoreError::Corrupt(_) | StoreError::Database(_)) => AppError::Internal(other),
        }
    }
}

/// The directory as the hub serves it: read on every request, so kept in memory.
#[derive(Debug, Default)]
pub struct DirectorySnapshot {
    pub organisations: HashMap<OrgId, Organisation>,
    pub regions: Vec<Region>,
    pub municipalities: HashMap<String, Municipality>,
}

/// Settings the use-cases need, parsed once from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub freshness: FreshnessPolicy,
    pub watch_buffer: usize,
    pub change_log_retention: chrono::Duration,
    pub deadlines: crate::domain::consultation::DeadlinePolicy,
    /// Placement answer deadlines by urgency, and how many providers at once.
    pub placements: crate::domain::placement::PlacementPolicy,
    /// How long an ended consultation keeps its content.
    pub consultation_retention: chrono::Duration,
    /// Open watch streams per organisation.
    pub max_watches: usize,
}

/// What every use-case shares: the store, the clock, the settings, the
/// directory and page tokens, the search view and the shutdown signal.
pub struct Context {
    store: Store,
    clock: SharedClock,
    settings: Settings,
    pages: PageTokens,
    directory: ArcSwap<DirectorySnapshot>,
    /// Reloads one at a time, so an older read never replaces a newer one.
    directory_reload: tokio::sync::Mutex<()>,
    /// Every offering in memory, for search.
    view: view::RegistryView,
    /// Cancelled at shutdown: ends watch streams so the server can drain.
    shutdown: CancellationToken,
    /// Open watch streams per organisation, against `Settings::max_watches`.
    watches: std::sync::Mutex<HashMap<OrgId, usize>>,
}

/// One open watch stream, counted against its organisation's cap until it
/// ends (the producer task drops it).
pub struct WatchSlot {
    context: Arc<Context>,
    org: OrgId,
    kind: &'static str,
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        crate::metrics::metrics()
            .watch_streams
            .get_or_create(&crate::metrics::KindLabels { kind: self.kind })
            .dec();
        let mut open = self.context.watches.lock().expect("watch counts");
        if let Some(n) = open.get_mut(&self.org) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.org);
            }
        }
    }
}

impl Context {
    /// A slot for one more watch of `org` (of `kind`, for the metrics), or
    /// RESOURCE_EXHAUSTED at its cap.
    fn watch_slot(
        self: &Arc<Self>,
        org: &OrgId,
        kind: &'static str,
    ) -> Result<WatchSlot, AppError> {
        let mut open = self.watches.lock().expect("watch counts");
        let n = open.entry(org.clone()).or_default();
        if *n >= self.settings.max_watches {
            return Err(AppError::ResourceExhausted {
                reason: Reason::WatchLimitReached,
                message: format!("organisation {org} has {n} watch streams open, the most it may"),
                retry_after: std::time::Duration::from_secs(5),
            });
        }
        *n += 1;
        crate::metrics::metrics()
            .watch_streams
            .get_or_create(&crate::metrics::KindLabels { kind })
            .inc();
        Ok(WatchSlot {
            context: Arc::clone(self),
            org: org.clone(),
            kind,
        })
    }
}

/// Declares a use-case type: a cheap handle on the shared [`Context`].
macro_rules! use_cases {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Arc<Context>);

        impl std::ops::Deref for $name {
            type Target = Context;

            fn deref(&self) -> &Context {
                &self.0
            }
        }
    )+};
}

use_cases! {
    /// Who is calling, organisations and regions.
    DirectoryUseCases,
    /// Locations, publications and search.
    RegistryUseCases,
    /// Holding, confirming and releasing places.
    HoldUseCases,
    /// Following the registry's changes.
    WatchUseCases,
    /// Consultations, their thread and their watch, every call audited.
    ConsultationUseCases,
    /// Placement requests: a crisis service asks, a provider answers; audited.
    PlacementUseCases,
    /// The audit trail, for the privacy officer.
    AuditUseCases,
    /// A region's figures.
    InsightUseCases,
}

/// The use-cases, by service. An edge (gRPC today) or a cross-cutting layer
/// touches the service it needs, not one object for everything.
pub struct App {
    pub directory: DirectoryUseCases,
    pub registry: RegistryUseCases,
    pub holds: HoldUseCases,
    pub watch: WatchUseCases,
    pub consultations: ConsultationUseCases,
    pub placements: PlacementUseCases,
    pub audit: AuditUseCases,
    pub insights: InsightUseCases,
}

impl App {
    pub async fn new(
        store: Store,
        clock: SharedClock,
        settings: Settings,
        pages: PageTokens,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, StoreError> {
        let context = Arc::new(Context {
            store,
            clock,
            settings,
            pages,
            directory: ArcSwap::from_pointee(DirectorySnapshot::default()),
            directory_reload: tokio::sync::Mutex::new(()),
            view: view::RegistryView::default(),
            shutdown,
            watches: Default::default(),
        });
        context.reload_directory().await?;
        Ok(Arc::new(Self {
            directory: DirectoryUseCases(Arc::clone(&context)),
            registry: RegistryUseCases(Arc::clone(&context)),
            holds: HoldUseCases(Arc::clone(&context)),
            watch: WatchUseCases(Arc::clone(&context)),
            consultations: ConsultationUseCases(Arc::clone(&context)),
            placements: PlacementUseCases(Arc::clone(&context)),
            audit: AuditUseCases(Arc::clone(&context)),
            insights: InsightUseCases(context),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.directory.store
    }

    /// The injected clock's now: the one moment a reply is drawn at.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.directory.now()
    }

    /// A token that ties a web form to what it was served for (`binding`:
    /// the browser session and the certificate), signed with the page-token
    /// secret that every replica shares.
    pub fn form_token(&self, binding: &str) -> String {
        self.directory.pages.encode(FORM_TOKEN_SCOPE, binding)
    }

    /// Whether `token` was made by [`App::form_token`] for `binding`.
    pub fn form_token_matches(&self, binding: &str, token: &str) -> bool {
        self.directory
            .pages
            .decode(FORM_TOKEN_SCOPE, token)
            .is_ok_and(|signed| signed == binding)
    }
}

const FORM_TOKEN_SCOPE: &str = "web-form";

impl Context {
    /// Reads the directory from the store again, e.g. after onboarding.
    pub async fn reload_directory(&self) -> Result<(), StoreError> {
        let _one = self.directory_reload.lock().await;
        let organisations = self
            .store
            .organisations()
            .await?
            .into_iter()
            .map(|org| (org.id.clone(), org))
            .collect();
        let regions = self.store.regions().await?;
        let municipalities = regions
            .iter()
            .flat_map(|r| r.municipalities.iter())
            .map(|m| (m.code.as_str().to_owned(), m.clone()))
            .collect();
        self.directory.store(Arc::new(DirectorySnapshot {
            organisations,
            regions,
            municipalities,
        }));
        Ok(())
    }

    pub fn directory(&self) -> Arc<DirectorySnapshot> {
        self.directory.load_full()
    }

    /// Refuses the caller unless one of its roles admits `action`.
    pub fn authorise(&self, caller: &Caller, action: Action) -> Result<(), AppError> {
        self.scope(caller, action).map(|_| ())
    }

    /// What the caller reaches with `action` (`authz::scope`), or refused.
    pub fn scope(&self, caller: &Caller, action: Action) -> Result<Scope, AppError> {
        if let Some(scope) = scope(&caller.org.roles, action) {
            Ok(scope)
        } else {
            let roles: Vec<&str> = caller.org.roles.iter().map(|r| r.name()).collect();
            Err(AppError::PermissionDenied(format!(
                "organisation {} with roles [{}] may not {action:?}",
                caller.org.id,
                roles.join(", ")
            )))
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn freshness(&self) -> &FreshnessPolicy {
        &self.settings.freshness
    }
}

impl DirectoryUseCases {
    /// The caller behind a verified certificate's URI SANs: exactly one
    /// registered organisation, or nobody.
    pub fn identify(&self, uri_sans: &[String]) -> Result<Caller, AppError> {
        let directory = self.directory.load();
        let mut known = uri_sans.iter().filter_map(|uri| {
            OrgId::from_spiffe_id(uri)
                .and_then(|id| directory.organisations.get(&id).cloned())
                .map(|org| (org, uri.clone()))
        });
        match (known.next(), known.next()) {
            (Some((org, uri)), None) => Ok(Caller {
                org,
                certificate_identity: uri,
            }),
            (Some(_), Some(_)) => Err(AppError::Unauthenticated(
                "the client certificate names more than one organisation".into(),
            )),
            (None, _) => Err(AppError::Unauthenticated(
                "the client certificate names no registered organisation".into(),
            )),
        }
    }

    /// Registers or updates an organisation (onboarding, demo seed, tests).
    pub async fn register_organisation(&self, org: &Organisation) -> Result<(), AppError> {
        self.store.upsert_organisation(org).await?;
        self.reload_directory().await?;
        Ok(())
    }

    /// Registers or updates a region and its municipalities.
    pub async fn register_region(&self, region: &Region) -> Result<(), AppError> {
        self.store.upsert_region(region).await?;
        self.reload_directory().await?;
        Ok(())
    }

    /// Organisations ordered by id, a page at a time.
    pub fn list_organisations(
        &self,
        caller: &Caller,
        page: &Page,
    ) -> Result<(Vec<Organisation>, String), AppError> {
        self.authorise(caller, Action::ReadDirectory)?;
        let directory = self.directory.load();
        let mut orgs: Vec<Organisation> = directory.organisations.values().cloned().collect();
        orgs.sort_by(|a, b| a.id.cmp(&b.id));
        let offset = self.pages.offset(page, "organisations")?;
        let slice: Vec<Organisation> = orgs.iter().skip(offset).take(page.size).cloned().collect();
        let next = if offset + slice.len() < orgs.len() {
            self.pages
                .encode_offset("organisations", offset + slice.len())
        } else {
            String::new()
        };
        Ok((slice, next))
    }

    pub fn list_regions(&self, caller: &Caller) -> Result<Vec<Region>, AppError> {
        self.authorise(caller, Action::ReadDirectory)?;
        Ok(self.directory.load().regions.clone())
    }
}
