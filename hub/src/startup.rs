//! Building and running a hub: binds its listeners, migrates the store,
//! starts the background tasks. `main` and the tests call the same code.

use crate::app::{App, PageTokens, Settings};
use crate::clock::SharedClock;
use crate::config::HubConfig;
use crate::store::Store;
use crate::{grpc, tls};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;

pub struct Hub {
    local_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    fhir_addr: Option<SocketAddr>,
    app: Arc<App>,
    shutdown: CancellationToken,
    /// Cancelled when a stop is asked for (a signal): the drain begins.
    stop_requested: CancellationToken,
    health: tonic_health::server::HealthReporter,
    tasks: Vec<JoinHandle<()>>,
    grace: Duration,
    drain: Duration,
}

/// The health service name that says whether this hub can serve requests
/// now (its database answers); "" says only that the process is alive.
pub const READINESS: &str = "spil.ready";

/// Every service health reports on: the Spil services and, as "", the hub.
const HEALTH_SERVICES: [&str; 8] = [
    "",
    READINESS,
    "spil.v1.Directory",
    "spil.v1.CapacityRegistry",
    "spil.v1.Consultations",
    "spil.v1.Audit",
    "spil.v1.Insights",
    "grpc.health.v1.Health",
];

/// The most request metadata (all headers together) a call may carry.
pub const MAX_METADATA_BYTES: u32 = 64 * 1024;

/// The transport's own limits, in the order a request meets them; the
/// benchmark's echo baseline uses the same.
pub fn grpc_server() -> Server {
    Server::builder()
        // Dead peers are noticed, so their watch streams end.
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        // Long-lived connections end after a while (GOAWAY, then a grace for
        // calls in flight), so clients rebalance across replicas and meet
        // the TLS configuration in force again. Watches resume elsewhere.
        .max_connection_age(Duration::from_secs(30 * 60))
        .max_connection_age_grace(Duration::from_secs(60))
        // One connection cannot take every worker: calls beyond this wait.
        .concurrency_limit_per_connection(256)
        // Beyond that, refuse at once with RESOURCE_EXHAUSTED rather than queue.
        .load_shed(true)
        // Unary calls end after this; long streams are ended by shutdown instead.
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .max_frame_size(Some(1 << 20))
        .initial_stream_window_size(Some(1 << 20))
        .initial_connection_window_size(Some(4 << 20))
        .http2_adaptive_window(Some(false))
        .accept_http1(false)
        // Metadata up to this size reaches the hub, which answers an
        // oversized value (say `x-spil-person`) with INVALID_ARGUMENT naming
        // it; beyond it HTTP/2 answers 431, which gRPC clients see as UNKNOWN.
        .http2_max_header_list_size(MAX_METADATA_BYTES)
        // No more streams per connection than calls it may run at once.
        .max_concurrent_streams(Some(256))
        .trace_fn(|request| tracing::info_span!("grpc", path = %request.uri().path()))
}

impl Hub {
    /// Binds, migrates and starts serving; returns once the hub accepts calls.
    pub async fn build(config: HubConfig, clock: SharedClock) -> anyhow::Result<Self> {
        // sea-orm's rustls and ours must agree on one crypto provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        config.validate()?;
        for variable in &config.platform_variables {
            tracing::debug!(%variable, "ignoring a service link the platform injected");
        }
        let tls_config = tls::LiveConfig::load(&config.tls)?;
        let shutdown = CancellationToken::new();
        let app = open_app(&config, clock, shutdown.clone()).await?;

        let listener = TcpListener::bind(config.listen_addr)
            .await
            .with_context(|| format!("failed to listen on {}", config.listen_addr))?;
        let local_addr = listener.local_addr()?;
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        crate::metrics::metrics().ready.set(0);
        for service in HEALTH_SERVICES {
            health_reporter
                .set_service_status(service, tonic_health::ServingStatus::Serving)
                .await;
        }
        let admission = crate::edge::admission::Admission::new(
            config.org_calls_per_second,
            config.org_call_burst,
        );
        // One cap on calls in flight over every edge.
        let in_flight = crate::edge::admission::InFlightLimit::new(config.max_in_flight as usize);
        // One identity check and one share of calls per organisation, for
        // the gRPC and the FHIR edge alike.
        let identity = crate::edge::Identify::new(
            Arc::clone(&app),
            tls_config.peer_trust(),
            Arc::new(admission),
        );
        let routes = grpc::routes(
            Arc::clone(&app),
            grpc::auth::Authenticate(identity.clone()),
            health_service.clone(),
        )?;
        let incoming = tls::incoming(
            listener,
            tls_config.clone(),
            tls::Protocols::Grpc,
            config.max_tls_handshakes as usize,
            config.max_connections as usize,
            shutdown.clone(),
        );

        let mut tasks = Vec::new();
        let signal = shutdown.clone();
        let router = grpc_server()
            // Every call, refused or not, gets a request id, an access line
            // and its counts; over the cap it is refused before it queues;
            // the caller's deadline travels with it down to the database.
            .layer(crate::edge::CallLayer::new(
                grpc::GrpcWire,
                in_flight.clone(),
            ))
            .add_routes(routes);
        tasks.push(tokio::spawn(async move {
            if let Err(error) = router
                .serve_with_incoming_shutdown(incoming, signal.cancelled_owned())
                .await
            {
                tracing::error!(%error, "grpc server failed");
            }
        }));

        let admin_addr = match config.admin_addr {
            None => None,
            Some(addr) => {
                let (admin_addr, task) =
                    serve_admin(addr, health_service, shutdown.clone()).await?;
                tasks.push(task);
                Some(admin_addr)
            }
        };

        let fhir_addr = match config.fhir_listen_addr {
            None => None,
            Some(addr) => {
                let edges = HttpEdges {
                    app: Arc::clone(&app),
                    identity: identity.clone(),
                    in_flight,
                    tls_config: tls_config.clone(),
                };
                let (fhir_addr, task) = serve_http(addr, &config, edges, shutdown.clone()).await?;
                tasks.push(task);
                Some(fhir_addr)
            }
        };

        let stop_requested = CancellationToken::new();
        tasks.extend(background(
            &config,
            &app,
            &tls_config,
            &health_reporter,
            &stop_requested,
            &shutdown,
        ));

        tracing::info!(%local_addr, ?admin_addr, ?fhir_addr, "hub serving");
        Ok(Self {
            local_addr,
            admin_addr,
            fhir_addr,
            app,
            shutdown,
            stop_requested,
            health: health_reporter,
            tasks,
            grace: config.shutdown_grace(),
            drain: config.shutdown_drain(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Where the FHIR endpoint listens, when it is on.
    pub fn fhir_addr(&self) -> Option<SocketAddr> {
        self.fhir_addr
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// A token whose cancellation stops the hub the way a signal does:
    /// health goes NOT_SERVING, the drain delay passes, then [`Hub::stop`].
    pub fn stop_token(&self) -> CancellationToken {
        self.stop_requested.clone()
    }

    /// Serves until a stop is asked for, then stops gracefully: every
    /// health status goes NOT_SERVING at once, the hub keeps serving for
    /// the drain delay (load balancers stop sending), then stops accepting,
    /// ends every watch with UNAVAILABLE and where to resume, and waits for
    /// in-flight calls for at most the grace period.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.stop_requested.cancelled().await;
        tracing::info!(
            drain_ms = self.drain.as_millis() as u64,
            "stopping: draining"
        );
        for service in HEALTH_SERVICES {
            self.health
                .set_service_status(service, tonic_health::ServingStatus::NotServing)
                .await;
        }
        tokio::time::sleep(self.drain).await;
        self.stop().await
    }

    /// Stops accepting, ends watch streams, and waits for the rest to drain.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let drain = futures::future::join_all(self.tasks);
        if tokio::time::timeout(self.grace, drain).await.is_err() {
            tracing::warn!(
                grace_ms = self.grace.as_millis() as u64,
                "shutdown grace ran out"
            );
        }
        Ok(())
    }
}

/// The Prometheus scrape: every instrument as OpenMetrics text.
async fn metrics_text() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        crate::metrics::metrics().render(),
    )
}

/// Sets the gauges of what the registry holds: offerings and stale
/// offerings by place type, consultations by state, overdue consultations. Every replica
/// reports the same registry-wide figures (aggregate them with `max`).
async fn measure_registry(app: &App) {
    let metrics = crate::metrics::metrics();
    match app.registry.stale_offerings().await {
        Ok(counts) => {
            for (place_type, all, stale) in counts {
                let labels = crate::metrics::PlaceTypeLabels {
                    place_type: crate::metrics::snake_case(&format!("{place_type:?}")),
                };
                metrics.offerings.get_or_create(&labels).set(all as i64);
                metrics
                    .stale_offerings
                    .get_or_create(&labels)
                    .set(stale as i64);
            }
        }
        Err(error) => tracing::warn!(%error, "failed to count stale offerings"),
    }
    match app.consultations.consultation_counts().await {
        Ok((by_state, overdue)) => {
            for (state, count) in by_state {
                metrics
                    .consultations
                    .get_or_create(&crate::metrics::StateLabels {
                        state: state.name(),
                    })
                    .set(count as i64);
            }
            metrics.overdue_consultations.set(overdue as i64);
        }
        Err(error) => tracing::warn!(%error, "failed to count consultations"),
    }
}

/// Why a replica is not ready.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unready {
    /// The database did not answer within the interval.
    DatabaseSilent,
    /// This replica's clock is further from the database's than allowed.
    ClockSkewed { skew_ms: i64 },
}

/// Asks the database for its time and holds this replica's clock against
/// it, taking the middle of the round trip as the moment it answered.
async fn check_readiness(
    app: &App,
    every: Duration,
    max_skew: Option<Duration>,
) -> Result<(), Unready> {
    let asked = app.now();
    let answer = tokio::time::timeout(every, app.store().database_time_ms()).await;
    let Ok(Ok(database_ms)) = answer else {
        return Err(Unready::DatabaseSilent);
    };
    let answered = app.now();
    let Some(max_skew) = max_skew else {
        return Ok(());
    };
    let midpoint_ms = asked.timestamp_millis() + (answered - asked).num_milliseconds() / 2;
    let skew_ms = database_ms - midpoint_ms;
    if skew_ms.unsigned_abs() > max_skew.as_millis() as u64 {
        return Err(Unready::ClockSkewed { skew_ms });
    }
    Ok(())
}

/// Readiness follows the database and the clock: NOT_SERVING as soon as a
/// ping fails or takes longer than the interval, or this replica's clock is
/// too far from the database's; SERVING again when both are right.
/// Liveness ("") depends on neither. Ends when a stop is asked for, so that
/// it never reports SERVING during the drain. `clock_agrees` tells
/// housekeeping whether it may decide expiry.
async fn readiness(
    app: Arc<App>,
    health: tonic_health::server::HealthReporter,
    every: Duration,
    max_skew: Option<Duration>,
    clock_agrees: tokio::sync::watch::Sender<bool>,
    stop_requested: CancellationToken,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut state = Ok(());
    crate::metrics::metrics().ready.set(1);
    loop {
        tokio::select! {
            _ = stop_requested.cancelled() => return,
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let checked = check_readiness(&app, every, max_skew).await;
        // A silent database says nothing of the clock: keep what was known.
        if checked != Err(Unready::DatabaseSilent) {
            clock_agrees.send_if_modified(|agrees| {
                let now_agrees = !matches!(checked, Err(Unready::ClockSkewed { .. }));
                std::mem::replace(agrees, now_agrees) != now_agrees
            });
        }
        if checked.is_ok() == state.is_ok() {
            state = checked;
            continue;
        }
        state = checked;
        if stop_requested.is_cancelled() {
            return;
        }
        let status = match state {
            Ok(()) => {
                tracing::info!("database answers and clocks agree: ready");
                tonic_health::ServingStatus::Serving
            }
            Err(Unready::DatabaseSilent) => {
                tracing::warn!("database does not answer: not ready");
                tonic_health::ServingStatus::NotServing
            }
            Err(Unready::ClockSkewed { skew_ms }) => {
                tracing::error!(
                    skew_ms,
                    max_skew_ms = max_skew.map_or(0, |s| s.as_millis() as u64),
                    "this replica's clock is off from the database's: not ready, no housekeeping"
                );
                tonic_health::ServingStatus::NotServing
            }
        };
        crate::metrics::metrics()
            .ready
            .set(i64::from(status == tonic_health::ServingStatus::Serving));
        health.set_service_status(READINESS, status).await;
    }
}

/// Marks expired holds expired, so watchers hear of the returned places,
/// and flags consultations past their answer deadline; about once a minute
/// drops change-log revisions past retention, erases the content of
/// consultations past theirs, and reads the directory again (organisations
/// onboarded through another replica). One replica at a time does this
/// (the store's housekeeping turn), and only while its clock agrees with
/// the database's. Reading the directory is every replica's own business.
async fn housekeeping(
    app: Arc<App>,
    every: Duration,
    clock_agrees: tokio::sync::watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    const PRUNE_EVERY: Duration = Duration::from_secs(60);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The directory and the log were just read at start: the first round can wait.
    let mut last_prune = tokio::time::Instant::now();
    // The gauges of what the registry holds are set at the first round.
    let mut last_measured: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if last_measured.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_measured = Some(tokio::time::Instant::now());
            measure_registry(&app).await;
        }
        let prune = last_prune.elapsed() >= PRUNE_EVERY;
        if prune {
            last_prune = tokio::time::Instant::now();
            if let Err(error) = app.directory.reload_directory().await {
                tracing::warn!(%error, "failed to reload the directory");
            }
        }
        if !*clock_agrees.borrow() {
            continue;
        }
        let _turn = match app.store().housekeeping_turn().await {
            Ok(Some(turn)) => turn,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(%error, "failed to take a turn at housekeeping");
                continue;
            }
        };
        // Each round is a trace of its own (at debug: a round a second is noise).
        let round = async {
            match app.holds.sweep_expired_holds().await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "holds expired"),
                Err(error) => tracing::warn!(%error, "failed to expire holds"),
            }
            match app.consultations.announce_overdue_consultations().await {
                Ok(0) => {}
                Ok(overdue) => tracing::info!(overdue, "consultations overdue"),
                Err(error) => tracing::warn!(%error, "failed to flag overdue consultations"),
            }
            if prune {
                match app.registry.prune_change_log().await {
                    Ok(0) => {}
                    Ok(rows) => tracing::info!(rows, "change log pruned"),
                    Err(error) => tracing::warn!(%error, "failed to prune the change log"),
                }
                match app.consultations.erase_expired_consultations().await {
                    Ok(0) => {}
                    Ok(erased) => tracing::info!(erased, "consultation content erased"),
                    Err(error) => tracing::warn!(%error, "failed to erase consultations"),
                }
                match app.placements.erase_expired_placements().await {
                    Ok(0) => {}
                    Ok(erased) => tracing::info!(erased, "placement request notes erased"),
                    Err(error) => tracing::warn!(%error, "failed to erase placement requests"),
                }
            }
        };
        tracing::Instrument::instrument(round, tracing::debug_span!("housekeeping")).await;
    }
}

/// The hub's own work beside the calls: following certificate files and
/// other replicas' commits, checkpointing, readiness and housekeeping.
fn background(
    config: &HubConfig,
    app: &Arc<App>,
    tls_config: &tls::LiveConfig,
    health_reporter: &tonic_health::server::HealthReporter,
    stop_requested: &CancellationToken,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(
        tls_config
            .clone()
            .follow_files(config.tls_reload_interval(), shutdown.clone()),
    ));

    let store = app.store().clone();
    let signal = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        store.follow_other_replicas(signal).await
    }));
    let store = app.store().clone();
    let signal = shutdown.clone();
    tasks.push(tokio::spawn(
        async move { store.checkpoint_wal(signal).await },
    ));
    let watches = app.watch.clone();
    tasks.push(tokio::spawn(
        async move { watches.keep_view_current().await },
    ));

    let (clock_agrees, clock_agreement) = tokio::sync::watch::channel(true);
    tasks.push(tokio::spawn(readiness(
        Arc::clone(app),
        health_reporter.clone(),
        config.readiness_interval(),
        config.max_clock_skew(),
        clock_agrees,
        stop_requested.clone(),
        shutdown.clone(),
    )));

    tasks.push(tokio::spawn(housekeeping(
        Arc::clone(app),
        config.hold_sweep_interval(),
        clock_agreement,
        shutdown.clone(),
    )));
    tasks
}

/// Opens the database (migrating it when so configured) and the use-cases
/// over it.
async fn open_app(
    config: &HubConfig,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<App>> {
    let store = Store::connect(&config.store_config())
        .await
        .context("failed to open the database")?;
    if config.migrate_on_start {
        store
            .migrate()
            .await
            .context("failed to migrate the database")?;
    }

    let secret = match &config.page_token_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => [
            uuid::Uuid::new_v4().into_bytes(),
            uuid::Uuid::new_v4().into_bytes(),
        ]
        .concat(),
    };
    let settings = Settings {
        freshness: config.freshness(),
        watch_buffer: config.watch_buffer,
        change_log_retention: config.change_log_retention(),
        deadlines: config.consultation_deadlines(),
        placements: config.placement_policy(),
        consultation_retention: config.consultation_retention(),
        max_watches: config.org_max_watches as usize,
    };
    let app = App::new(
        store,
        clock,
        settings,
        PageTokens::new(&secret),
        shutdown.clone(),
    )
    .await
    .context("failed to load the directory")?;
    Ok(app)
}

/// gRPC health and `/metrics` on one plaintext port, for probes and
/// scrapers that have no client certificate.
async fn serve_admin(
    addr: SocketAddr,
    health_service: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let admin = TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {addr}"))?;
    let admin_addr = admin.local_addr()?;
    let signal = shutdown.clone();
    let task = tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(admin);
        // gRPC health over HTTP/2 and `/metrics` over HTTP/1.1
        // (or 2) on one plaintext port, for probes and scrapers
        // that have no client certificate.
        let routes = tonic::service::Routes::new(health_service)
            .into_axum_router()
            .route("/metrics", axum::routing::get(metrics_text));
        if let Err(error) = Server::builder()
            .accept_http1(true)
            .add_routes(routes.into())
            .serve_with_incoming_shutdown(incoming, signal.cancelled_owned())
            .await
        {
            tracing::error!(%error, "admin server failed");
        }
    });
    Ok((admin_addr, task))
}

/// What the HTTPS edges (FHIR and the board) are served with.
struct HttpEdges {
    app: Arc<App>,
    identity: crate::edge::Identify,
    in_flight: crate::edge::admission::InFlightLimit,
    tls_config: tls::LiveConfig,
}

/// FHIR and the board on one HTTPS listener: the same acceptor, verifier
/// and CRL as gRPC, with limits of its own.
async fn serve_http(
    addr: SocketAddr,
    config: &HubConfig,
    edges: HttpEdges,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to listen on {addr}"))?;
    let fhir_addr = listener.local_addr()?;
    let incoming = tls::incoming(
        listener,
        edges.tls_config.clone(),
        tls::Protocols::Http,
        config.max_tls_handshakes as usize,
        config.max_connections as usize,
        shutdown.clone(),
    );
    // FHIR and the board: the two HTTP edges share the listener.
    let routes = crate::edge::routed(
        crate::fhir::router(
            Arc::clone(&edges.app),
            edges.identity.clone(),
            crate::fhir::Canonical::new(&config.fhir_canonical_base),
            config.fhir_base_url.as_deref(),
        )
        .merge(crate::board::router(
            Arc::clone(&edges.app),
            edges.identity.clone(),
        )),
    );
    let signal = shutdown.clone();
    let task = tokio::spawn(async move {
        if let Err(error) = Server::builder()
            .accept_http1(true)
            .timeout(Duration::from_secs(30))
            // The same layer as gRPC's, in HTTP's words.
            .layer(crate::edge::CallLayer::new(
                crate::edge::HttpWire,
                edges.in_flight,
            ))
            .add_routes(routes.into())
            .serve_with_incoming_shutdown(incoming, signal.cancelled_owned())
            .await
        {
            tracing::error!(%error, "FHIR server failed");
        }
    });
    Ok((fhir_addr, task))
}
