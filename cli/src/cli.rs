//! Commands of `spil`: parse arguments, call the hub, print a table (or JSON).

/// Writes one line to standard output and returns early with the error if
/// it cannot: a reader that closed the pipe (`spil watch | head -1`) ends
/// the command, and `main` exits quietly. `println!` would panic instead.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod capacity;
mod chart;
mod consult;
mod insights;
mod labels;
mod nl;
mod place;
mod report;
mod tables;
mod trend_charts;

use crate::render::{Format, Render, show};
use crate::wire::wire;
use anyhow::Context;
use capacity::{confirm, hold, holds, publish, release, search, watch};
use clap::{Parser, Subcommand};
use serde_json::json;
use spil_client::{Identity, SpilClient, pb};
use std::io::Write;
use std::path::PathBuf;
use tonic_types::StatusExt;

/// Where the demo hub keeps its certificates (`spil-hub demo`).
const DEMO_PKI: &str = "spil-demo/pki";

#[derive(Debug, Parser)]
#[command(
    name = "spil",
    version,
    about = "Search, hold and publish youth-care places through a Spil hub"
)]
pub struct Args {
    /// The hub's address.
    #[arg(
        long,
        env = "SPIL_HUB",
        default_value = "https://localhost:50051",
        global = true
    )]
    hub: String,
    /// The CA that signed the hub's server certificate.
    #[arg(long, env = "SPIL_CA", global = true)]
    ca: Option<PathBuf>,
    /// Your organisation's client certificate.
    #[arg(long, env = "SPIL_CERT", global = true)]
    cert: Option<PathBuf>,
    /// Its private key.
    #[arg(long, env = "SPIL_KEY", global = true)]
    key: Option<PathBuf>,
    /// Act as this demo organisation (uses spil-demo/pki/orgs/<ORG>.pem).
    #[arg(long = "as", env = "SPIL_AS", global = true)]
    as_org: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
    /// Who you are (a name or staff id), for consultations and placement
    /// requests; recorded in the audit trail.
    #[arg(long, env = "SPIL_PERSON", global = true)]
    person: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Which organisation your certificate says you are.
    Whoami,
    /// Regions and their municipalities.
    Regions,
    /// Search for places.
    Search(SearchArgs),
    /// Create or update one of your locations (providers).
    Location(LocationArgs),
    /// Publish an offering's numbers (providers).
    Publish(PublishArgs),
    /// Follow capacity changes live; resumes after a reconnect.
    Watch(WatchArgs),
    /// Hold a place while you arrange the placement (crisis services).
    Hold(HoldArgs),
    /// Confirm a hold: it becomes a placement.
    Confirm { hold_id: String },
    /// Release a hold: its place returns at once.
    Release { hold_id: String },
    /// Your holds (crisis services) or the holds on your offerings (providers).
    Holds {
        #[arg(long, value_parser = wire::<pb::HoldState>())]
        state: Vec<pb::HoldState>,
    },
    /// Placement requests: ask providers to take a child, answer, escalate.
    #[command(subcommand)]
    Place(place::PlaceCommand),
    /// Consultations: file, answer, escalate, follow.
    #[command(subcommand)]
    Consult(consult::ConsultCommand),
    /// The audit trail (privacy officer).
    #[command(subcommand)]
    Audit(consult::AuditCommand),
    /// A region's figures: capacity, its trend, waiting times (regions, the operator).
    #[command(subcommand)]
    Insights(insights::InsightsCommand),
}

#[derive(Debug, clap::Args)]
struct SearchArgs {
    #[arg(long = "place-type", value_parser = wire::<pb::PlaceType>())]
    place_types: Vec<pb::PlaceType>,
    #[arg(long = "care-profile", value_parser = wire::<pb::CareProfile>())]
    care_profiles: Vec<pb::CareProfile>,
    /// The child's age in years.
    #[arg(long)]
    age: Option<u32>,
    #[arg(long, value_parser = wire::<pb::ChildGender>())]
    gender: Option<pb::ChildGender>,
    #[arg(long, value_parser = wire::<pb::SecurityLevel>())]
    security: Option<pb::SecurityLevel>,
    #[arg(long = "region")]
    regions: Vec<String>,
    #[arg(long = "municipality")]
    municipalities: Vec<String>,
    /// The child's municipality of residence (CBS code): results nearest first.
    #[arg(long)]
    child_municipality: Option<String>,
    #[arg(long, default_value_t = 0)]
    min_free: u32,
    /// Also list stale and full offerings.
    #[arg(long)]
    all: bool,
    #[arg(long, default_value_t = 50)]
    page_size: i32,
    #[arg(long, default_value = "")]
    page_token: String,
}

#[derive(Debug, clap::Args)]
struct LocationArgs {
    /// Your id for the location: lowercase letters, digits and '-'.
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    /// CBS municipality code, e.g. GM0392.
    #[arg(long)]
    municipality: String,
    #[arg(long, requires = "longitude")]
    latitude: Option<f64>,
    #[arg(long, requires = "latitude")]
    longitude: Option<f64>,
    /// The intake desk's functional telephone number (never a person's),
    /// e.g. 023-5550100.
    #[arg(long)]
    intake_phone: Option<String>,
}

#[derive(Debug, clap::Args)]
struct PublishArgs {
    #[arg(long)]
    location: String,
    #[arg(long = "place-type", value_parser = wire::<pb::PlaceType>())]
    place_type: pb::PlaceType,
    #[arg(long = "care-profile", value_parser = wire::<pb::CareProfile>(), required = true)]
    care_profiles: Vec<pb::CareProfile>,
    /// Age band, e.g. 12-17.
    #[arg(long, default_value = "12-17")]
    ages: String,
    #[arg(long, value_parser = wire::<pb::GenderPolicy>(), default_value = "any")]
    gender: pb::GenderPolicy,
    #[arg(long, value_parser = wire::<pb::SecurityLevel>(), default_value = "open")]
    security: pb::SecurityLevel,
    /// Intake around the clock (otherwise office hours).
    #[arg(long)]
    around_the_clock: bool,
    #[arg(long, default_value_t = 0)]
    lead_time_days: u32,
    #[arg(long)]
    total: u32,
    #[arg(long)]
    free: u32,
    #[arg(long, default_value_t = 0)]
    waiting_days: u32,
    /// Idempotency key; a retry with the same key is applied once.
    #[arg(long)]
    request_id: Option<String>,
}

#[derive(Debug, clap::Args)]
struct WatchArgs {
    /// Resume after this revision (0: from now).
    #[arg(long, default_value_t = 0, conflicts_with = "from_oldest")]
    from: u64,
    /// Replay the change log from the oldest revision the hub keeps.
    #[arg(long)]
    from_oldest: bool,
    /// Start with the current state of every matching offering.
    #[arg(long)]
    snapshot: bool,
    #[arg(long = "region")]
    regions: Vec<String>,
    #[arg(long = "place-type", value_parser = wire::<pb::PlaceType>())]
    place_types: Vec<pb::PlaceType>,
    /// Stop after this many messages (for scripts).
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct HoldArgs {
    #[arg(long)]
    offering: String,
    /// The child's municipality of residence (CBS code); no other person data.
    #[arg(long)]
    child_municipality: String,
    /// How long to hold (default 30, at most 240).
    #[arg(long)]
    minutes: Option<i64>,
    #[arg(long)]
    request_id: Option<String>,
}

/// A readable error: the status message plus any field violation the
/// message does not already say.
pub fn describe(error: &anyhow::Error) -> String {
    for cause in error.chain() {
        if let Some(status) = cause.downcast_ref::<tonic::Status>() {
            let mut text = format!("{:?}: {}", status.code(), status.message());
            if let Some(bad) = status.get_details_bad_request() {
                for v in bad.field_violations {
                    let violation = format!("{}: {}", v.field, v.description);
                    if !status.message().contains(&violation) {
                        text.push_str(&format!("\n  {violation}"));
                    }
                }
            }
            return text;
        }
    }
    format!("{error:#}")
}

fn files(args: &Args) -> (PathBuf, PathBuf, PathBuf) {
    let org = args
        .as_org
        .clone()
        .unwrap_or_else(|| "crisisdienst-zkh".into());
    let demo = PathBuf::from(DEMO_PKI);
    (
        args.ca
            .clone()
            .unwrap_or_else(|| demo.join("server-ca.pem")),
        args.cert
            .clone()
            .unwrap_or_else(|| demo.join("orgs").join(format!("{org}.pem"))),
        args.key
            .clone()
            .unwrap_or_else(|| demo.join("orgs").join(format!("{org}-key.pem"))),
    )
}

async fn connect(args: &Args) -> anyhow::Result<SpilClient> {
    let (ca, cert, key) = files(args);
    let ca_pem = std::fs::read_to_string(&ca)
        .with_context(|| format!("failed to read the hub's CA {}", ca.display()))?;
    let identity = Identity::from_files(&cert, &key)?;
    SpilClient::connect(&args.hub, &ca_pem, Some(identity))
        .await
        .with_context(|| format!("failed to connect to {}", args.hub))
}

fn request_id(given: &Option<String>) -> String {
    given
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = connect(&args).await?;
    let format = if args.json {
        Format::Json
    } else {
        Format::Table
    };
    match &args.command {
        Command::Consult(command) => {
            let person = consult::person(&args.person)?;
            consult::consult(&client, &person, command, format).await
        }
        Command::Place(command) => {
            let person = consult::person(&args.person)?;
            place::place(&client, &person, command, format).await
        }
        Command::Audit(command) => consult::audit(&client, command, format).await,
        Command::Insights(command) => insights::insights(&client, command, format).await,
        Command::Whoami => show(format, &whoami(&client).await?),
        Command::Regions => show(format, &regions(&client).await?),
        Command::Search(s) => show(format, &search(&client, s).await?),
        Command::Location(l) => show(format, &location(&client, l).await?),
        Command::Publish(p) => show(format, &publish(&client, p).await?),
        Command::Watch(w) => watch(&client, w, format).await,
        Command::Hold(h) => show(format, &hold(&client, h).await?),
        Command::Confirm { hold_id } => show(format, &confirm(&client, hold_id).await?),
        Command::Release { hold_id } => show(format, &release(&client, hold_id).await?),
        Command::Holds { state } => show(format, &holds(&client, state).await?),
    }
}

/// `spil whoami`: the organisation behind the certificate.
async fn whoami(client: &SpilClient) -> anyhow::Result<pb::WhoAmIResponse> {
    Ok(client
        .directory()
        .who_am_i(pb::WhoAmIRequest {})
        .await?
        .into_inner())
}

impl Render for pb::WhoAmIResponse {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let org = self.organisation.clone().unwrap_or_default();
        let roles: Vec<&str> = org.roles().map(|r| r.as_str_name()).collect();
        writeln!(
            out,
            "{} ({})\nroles: {}\nhome region: {}\ncertificate: {}",
            org.name,
            org.id,
            roles.join(", "),
            org.home_region_id,
            self.certificate_identity
        )
    }

    fn json(&self) -> Vec<serde_json::Value> {
        let org = self.organisation.clone().unwrap_or_default();
        let roles: Vec<&str> = org.roles().map(|r| r.as_str_name()).collect();
        vec![
            json!({"id": org.id, "name": org.name, "roles": roles, "home_region_id": org.home_region_id, "certificate_identity": self.certificate_identity}),
        ]
    }
}

/// `spil regions`: every region with its municipalities.
async fn regions(client: &SpilClient) -> anyhow::Result<pb::ListRegionsResponse> {
    Ok(client
        .directory()
        .list_regions(pb::ListRegionsRequest {})
        .await?
        .into_inner())
}

impl Render for pb::ListRegionsResponse {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for r in &self.regions {
            let municipalities: Vec<String> = r
                .municipalities
                .iter()
                .map(|m| format!("{} {}", m.code, m.name))
                .collect();
            writeln!(
                out,
                "{} — {} ({})\n  {}",
                r.id,
                r.name,
                r.province,
                municipalities.join(", ")
            )?;
        }
        Ok(())
    }

    fn json(&self) -> Vec<serde_json::Value> {
        self.regions
            .iter()
            .map(|r| {
                let municipalities: Vec<_> = r
                    .municipalities
                    .iter()
                    .map(|m| json!({"code": m.code, "name": m.name}))
                    .collect();
                json!({"id": r.id, "name": r.name, "province": r.province, "municipalities": municipalities})
            })
            .collect()
    }
}

/// `spil location`: create or update one of your locations.
async fn location(
    client: &SpilClient,
    l: &LocationArgs,
) -> anyhow::Result<pb::UpsertLocationResponse> {
    let coordinates = l
        .latitude
        .zip(l.longitude)
        .map(|(latitude, longitude)| pb::Coordinates {
            latitude,
            longitude,
        });
    Ok(client
        .capacity()
        .upsert_location(pb::UpsertLocationRequest {
            location: Some(pb::Location {
                id: l.id.clone(),
                name: l.name.clone(),
                municipality_code: l.municipality.clone(),
                coordinates,
                intake_phone: l.intake_phone.clone().unwrap_or_default(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner())
}

impl Render for pb::UpsertLocationResponse {
    fn table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let loc = self.location.clone().unwrap_or_default();
        writeln!(
            out,
            "{} location {} in {} ({})",
            if self.created { "created" } else { "updated" },
            loc.id,
            loc.municipality_code,
            loc.region_id
        )
    }

    fn json(&self) -> Vec<serde_json::Value> {
        let loc = self.location.clone().unwrap_or_default();
        vec![
            json!({"created": self.created, "id": loc.id, "name": loc.name, "municipality_code": loc.municipality_code, "region_id": loc.region_id}),
        ]
    }
}

/// A moment on the wire.
fn timestamp(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn a_field_violation_the_message_already_says_is_said_once() {
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "child_age: must be between 0 and 23",
            ErrorDetails::with_bad_request(vec![
                tonic_types::FieldViolation::new("child_age", "must be between 0 and 23"),
                tonic_types::FieldViolation::new("place_types", "unknown value 9"),
            ]),
        );
        let text = describe(&anyhow::Error::new(status));
        assert_eq!(
            text,
            "InvalidArgument: child_age: must be between 0 and 23\n  place_types: unknown value 9"
        );
    }
}
