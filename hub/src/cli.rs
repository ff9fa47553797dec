//! The `spil-hub` command line: serve, make a development PKI, run the demo.

use anyhow::Context;
use clap::{Parser, Subcommand};
use spil_hub::clock::{ShiftedClock, SystemClock};
use spil_hub::config::HubConfig;
use spil_hub::domain::identity::{OrgId, Organisation, Role};
use spil_hub::pki::{PkiLayout, init_dev_pki};
use spil_hub::startup::Hub;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "spil-hub",
    version,
    about = "The Spil hub: youth-care capacity and consultations over mTLS gRPC"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve with a configuration file and SPIL_… environment variables.
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// The effective configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run the database migrations and exit (a Kubernetes Job before a
    /// rollout, with `migrate_on_start = false` on the hubs).
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create development certificates: CAs, server certificate, one client certificate per organisation.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Register or update an organisation in the hub's database.
    Org {
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Comma-separated roles, e.g. provider or crisis_service.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[arg(long)]
        home_region: String,
        /// Comma-separated regions a supra-regional network serves; it reads their figures.
        #[arg(long, value_delimiter = ',')]
        serves: Vec<String>,
    },
    /// Start a hub with demo data, development certificates and an embedded database.
    Demo {
        /// Folder for the certificates and the database.
        #[arg(long, default_value = "spil-demo")]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: SocketAddr,
        /// Another database than the folder's SQLite file, e.g. postgres://… (benchmarks).
        #[arg(long)]
        database_url: Option<String>,
        /// Add synthetic regions up to the country's 42 (benchmarks).
        #[arg(long)]
        national_scale: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) with
    /// secrets redacted, after checking it as `serve` would.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    Init {
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// Organisations to issue client certificates for (repeatable).
        #[arg(long = "org")]
        orgs: Vec<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if !matches!(cli.command, Command::Serve { .. } | Command::Demo { .. }) {
        spil_hub::telemetry::init(
            spil_hub::telemetry::LogFormat::Text,
            None,
            spil_hub::telemetry::METRICS_PUSH_INTERVAL,
        )?
        .shutdown()
        .await;
    }
    match cli.command {
        Command::Serve { config } => {
            let config = HubConfig::load(config.as_deref())?;
            let telemetry = spil_hub::telemetry::init(
                config.log_format,
                config.otlp_endpoint.as_deref(),
                config.otlp_metrics_interval(),
            )?;
            config.validate_for_replicas()?;
            serve(Hub::build(config, Arc::new(SystemClock)).await?, telemetry).await
        }
        Command::Config {
            command: ConfigCommand::Check { config },
        } => {
            let config = HubConfig::load(config.as_deref())?;
            config.validate_for_replicas()?;
            print!("{}", config.redacted()?);
            Ok(())
        }
        Command::Migrate { config } => {
            let config = HubConfig::load(config.as_deref())?;
            let store = spil_hub::store::Store::connect(&spil_hub::store::StoreConfig {
                pool_size: 1,
                ..config.store_config()
            })
            .await?;
            store.migrate().await?;
            println!("the database is migrated");
            Ok(())
        }
        Command::Pki {
            command: PkiCommand::Init { dir, orgs },
        } => {
            let orgs = orgs
                .iter()
                .map(|id| OrgId::parse(id).map_err(|e| anyhow::anyhow!("--org {id}: {e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            init_dev_pki(&PkiLayout::new(&dir), &orgs)?;
            println!("development certificates are in {}", dir.display());
            Ok(())
        }
        Command::Org {
            config,
            id,
            name,
            roles,
            home_region,
            serves,
        } => {
            let config = HubConfig::load(config.as_deref())?;
            let roles = roles
                .iter()
                .map(|r| Role::from_name(r).with_context(|| format!("unknown role {r}")))
                .collect::<anyhow::Result<_>>()?;
            let org = Organisation {
                id: OrgId::parse(&id).map_err(|e| anyhow::anyhow!("--id: {e}"))?,
                name,
                roles,
                home_region_id: home_region,
                served_region_ids: serves.into_iter().collect(),
            };
            let store = spil_hub::store::Store::connect(&spil_hub::store::StoreConfig {
                pool_size: 1,
                ..config.store_config()
            })
            .await?;
            store.migrate().await?;
            store.upsert_organisation(&org).await?;
            println!(
                "registered {} ({}); running hubs pick it up within a minute",
                org.id,
                org.id.spiffe_id()
            );
            Ok(())
        }
        Command::Demo {
            dir,
            listen,
            database_url,
            national_scale,
        } => demo(dir, listen, database_url, national_scale).await,
    }
}

async fn demo(
    dir: PathBuf,
    listen: SocketAddr,
    database_url: Option<String>,
    national_scale: bool,
) -> anyhow::Result<()> {
    let layout = PkiLayout::new(dir.join("pki"));
    init_dev_pki(&layout, &spil_hub::demo::organisation_ids())?;
    // The environment's `SPIL_…` settings apply to the demo too (an admin
    // port, shutdown timings); its address, database and PKI are its own.
    let settings = HubConfig::load(None)?;
    // FHIR beside gRPC, on the next port, unless the environment says where.
    let fhir_listen_addr = settings.fhir_listen_addr.or_else(|| {
        let port = match listen.port() {
            0 => 0,
            port => port.checked_add(1)?,
        };
        Some(SocketAddr::new(listen.ip(), port))
    });
    let config = HubConfig {
        listen_addr: listen,
        fhir_listen_addr,
        database_url: spil_hub::config::Secret::new(
            database_url
                .unwrap_or_else(|| format!("sqlite://{}", dir.join("spil.sqlite").display())),
        ),
        // The history replay moves the hub's clock back on purpose.
        max_clock_skew_ms: 0,
        ..settings
    }
    .with_paths_under(&dir);
    let telemetry = spil_hub::telemetry::init(
        config.log_format,
        config.otlp_endpoint.as_deref(),
        config.otlp_metrics_interval(),
    )?;
    // The demo replays weeks of history on a shifted clock before it runs
    // at the present.
    let clock = ShiftedClock::default();
    let hub = Hub::build(config, Arc::new(clock.clone())).await?;
    spil_hub::demo::seed_directory(hub.app()).await?;
    if national_scale {
        spil_hub::demo::seed_national_scale(hub.app()).await?;
    }
    // Seeded once: a restarted demo keeps what happened since. Benchmarks
    // (national scale) start without the history.
    let fresh_capacity = hub.app().store().current_revision().await?.0 == 0;
    let fresh_consultations = hub.app().store().current_consultation_revision().await?.0 == 0;
    if fresh_capacity {
        if !national_scale {
            spil_hub::demo::seed_history(hub.app(), &clock).await?;
        }
        spil_hub::demo::seed_capacity(hub.app()).await?;
    }
    if fresh_consultations {
        if !national_scale {
            spil_hub::demo::seed_consultation_history(hub.app(), &clock).await?;
        }
        spil_hub::demo::seed_consultations(hub.app()).await?;
    }
    let addr = hub.local_addr();
    let pki = layout.dir.display();
    println!(
        "\nSpil demo hub listening on https://{addr} (mTLS; data in {dir})\n\n\
         Call it with the CLI from the repository root, for example as the crisis service\n\
         (the README's tour goes on from here):\n\n  \
         alias spil='cargo run -q -p spil-cli --bin spil --'\n  \
         export SPIL_HUB=https://localhost:{port} SPIL_CA={pki}/server-ca.pem\n  \
         export SPIL_CERT={pki}/orgs/crisisdienst-zkh.pem SPIL_KEY={pki}/orgs/crisisdienst-zkh-key.pem\n  \
         spil whoami\n  \
         spil search --place-type crisis-bed --age 15 --child-municipality GM0392\n\n\
         Consultations name the person acting (recorded in the audit trail):\n\n  \
         export SPIL_PERSON=\"J. de Vries\"\n  \
         spil consult list\n\n\
         The registry as FHIR R4, with the same certificates:\n\n  \
         curl --cacert $SPIL_CA --cert $SPIL_CERT --key $SPIL_KEY \\\n    \
         'https://localhost:{fhir_port}/fhir/HealthcareService?service-type=crisis-bed&age=15'\n\n\
         The board, in a browser with an organisation's certificate imported (the README's\n\
         \"The board\" says how):\n\n  \
         https://localhost:{fhir_port}/board\n\n\
         Every organisation's certificate is in {pki}/orgs/. Stop with Ctrl-C.\n",
        dir = dir.display(),
        port = addr.port(),
        fhir_port = hub.fhir_addr().map_or(0, |a| a.port()),
    );
    serve(hub, telemetry).await
}

async fn serve(hub: Hub, telemetry: spil_hub::telemetry::Telemetry) -> anyhow::Result<()> {
    // Plain lines for operators and scripts, whatever the log settings.
    println!("spil-hub listening on {}", hub.local_addr());
    if let Some(admin) = hub.admin_addr() {
        println!("spil-hub admin on {admin}");
    }
    if let Some(fhir) = hub.fhir_addr() {
        println!("spil-hub FHIR on https://{fhir}/fhir");
        println!("spil-hub board on https://{fhir}/board");
    }
    // SIGTERM (Kubernetes, also as PID 1 in a container) and SIGINT (Ctrl-C)
    // both start a graceful stop.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("failed to listen for SIGTERM")?;
    let token = hub.stop_token();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "stop requested"),
            _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "stop requested"),
        }
        token.cancel();
    });
    let stopped = hub.run_until_stopped().await;
    telemetry.shutdown().await;
    stopped
}
