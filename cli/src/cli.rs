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

mod chart;
mod consult;
mod insights;
mod labels;
mod report;
mod trend_charts;

use crate::wire::wire;
use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use spil_client::{Identity, SpilClient, pb};
use std::path::PathBuf;
use std::time::Duration;
use tokio_stream::StreamExt;
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
    /// Who you are (a name or staff id), for consultations; recorded in the audit trail.
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

/// A readable error: the status message plus any field violations.
pub fn describe(error: &anyhow::Error) -> String {
    for cause in error.chain() {
        if let Some(status) = cause.downcast_ref::<tonic::Status>() {
            let mut text = format!("{:?}: {}", status.code(), status.message());
            if let Some(bad) = status.get_details_bad_request() {
                for v in bad.field_violations {
                    text.push_str(&format!("\n  {}: {}", v.field, v.description));
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
    match &args.command {
        Command::Consult(command) => {
            let person = consult::person(&args.person)?;
            consult::consult(&client, &person, command, args.json).await?;
        }
        Command::Audit(command) => consult::audit(&client, command, args.json).await?,
        Command::Insights(command) => insights::insights(&client, command, args.json).await?,
        Command::Whoami => {
            let me = client
                .directory()
                .who_am_i(pb::WhoAmIRequest {})
                .await?
                .into_inner();
            let org = me.organisation.unwrap_or_default();
            let roles: Vec<&str> = org.roles().map(|r| r.as_str_name()).collect();
            if args.json {
                say!(
                    "{}",
                    json!({"id": org.id, "name": org.name, "roles": roles, "home_region_id": org.home_region_id, "certificate_identity": me.certificate_identity})
                );
            } else {
                say!(
                    "{} ({})\nroles: {}\nhome region: {}\ncertificate: {}",
                    org.name,
                    org.id,
                    roles.join(", "),
                    org.home_region_id,
                    me.certificate_identity
                );
            }
        }
        Command::Regions => {
            let regions = client
                .directory()
                .list_regions(pb::ListRegionsRequest {})
                .await?
                .into_inner()
                .regions;
            for r in regions {
                let municipalities: Vec<String> = r
                    .municipalities
                    .iter()
                    .map(|m| format!("{} {}", m.code, m.name))
                    .collect();
                say!(
                    "{} — {} ({})\n  {}",
                    r.id,
                    r.name,
                    r.province,
                    municipalities.join(", ")
                );
            }
        }
        Command::Search(s) => search(&client, s, args.json).await?,
        Command::Location(l) => {
            let coordinates =
                l.latitude
                    .zip(l.longitude)
                    .map(|(latitude, longitude)| pb::Coordinates {
                        latitude,
                        longitude,
                    });
            let saved = client
                .capacity()
                .upsert_location(pb::UpsertLocationRequest {
                    location: Some(pb::Location {
                        id: l.id.clone(),
                        name: l.name.clone(),
                        municipality_code: l.municipality.clone(),
                        coordinates,
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner();
            let loc = saved.location.unwrap_or_default();
            say!(
                "{} location {} in {} ({})",
                if saved.created { "created" } else { "updated" },
                loc.id,
                loc.municipality_code,
                loc.region_id
            );
        }
        Command::Publish(p) => publish(&client, p, args.json).await?,
        Command::Watch(w) => watch(&client, w, args.json).await?,
        Command::Hold(h) => {
            let hold = client
                .capacity()
                .hold_place(pb::HoldPlaceRequest {
                    request_id: request_id(&h.request_id),
                    offering_id: h.offering.clone(),
                    child_municipality_code: h.child_municipality.clone(),
                    duration: h.minutes.map(|m| prost_types::Duration {
                        seconds: m * 60,
                        nanos: 0,
                    }),
                })
                .await?
                .into_inner()
                .hold
                .unwrap_or_default();
            print_holds(&[hold], args.json)?;
        }
        Command::Confirm { hold_id } => {
            let hold = client
                .capacity()
                .confirm_hold(pb::ConfirmHoldRequest {
                    hold_id: hold_id.clone(),
                })
                .await?;
            print_holds(&[hold.into_inner().hold.unwrap_or_default()], args.json)?;
        }
        Command::Release { hold_id } => {
            let hold = client
                .capacity()
                .release_hold(pb::ReleaseHoldRequest {
                    hold_id: hold_id.clone(),
                })
                .await?;
            print_holds(&[hold.into_inner().hold.unwrap_or_default()], args.json)?;
        }
        Command::Holds { state } => {
            let states = state.iter().map(|s| *s as i32).collect();
            let holds = client
                .capacity()
                .list_holds(pb::ListHoldsRequest {
                    states,
                    ..Default::default()
                })
                .await?
                .into_inner()
                .holds;
            print_holds(&holds, args.json)?;
        }
    }
    Ok(())
}

async fn search(client: &SpilClient, s: &SearchArgs, as_json: bool) -> anyhow::Result<()> {
    let request = pb::SearchPlacesRequest {
        place_types: s.place_types.iter().map(|t| *t as i32).collect(),
        care_profiles: s.care_profiles.iter().map(|p| *p as i32).collect(),
        child_age: s.age,
        child_gender: s.gender.map(|g| g as i32),
        security_level: s.security.map(|l| l as i32),
        region_ids: s.regions.clone(),
        municipality_codes: s.municipalities.clone(),
        child_municipality_code: s.child_municipality.clone().unwrap_or_default(),
        min_free_places: s.min_free,
        include_unavailable: s.all,
        page_size: s.page_size,
        page_token: s.page_token.clone(),
    };
    let found = client.capacity().search_places(request).await?.into_inner();
    if as_json {
        let results: Vec<serde_json::Value> = found
            .results
            .iter()
            .map(|r| {
                let mut value =
                    offering_json(r.offering.as_ref().unwrap_or(&pb::Offering::default()));
                value["distance_km"] = json!(r.distance_km);
                value
            })
            .collect();
        say!(
            "{}",
            json!({"results": results, "total_size": found.total_size, "revision": found.revision, "next_page_token": found.next_page_token})
        );
        return Ok(());
    }
    if found.results.is_empty() {
        say!(
            "no {}place found (recorded as unmet demand)",
            if s.all { "" } else { "fresh free " }
        );
        return Ok(());
    }
    say!(
        "{:<36}  {:<22} {:<32} {:<7} {:>5} {:>5} {:>7}  STATUS",
        "OFFERING",
        "TYPE",
        "LOCATION",
        "AGES",
        "FREE",
        "HELD",
        "KM"
    );
    for r in &found.results {
        let o = r.offering.clone().unwrap_or_default();
        let key = o.key.clone().unwrap_or_default();
        let band = key.age_band.unwrap_or_default();
        let location = o.location.clone().unwrap_or_default();
        say!(
            "{:<36}  {:<22} {:<32} {:<7} {:>5} {:>5} {:>7}  {}",
            o.id,
            key.place_type()
                .as_str_name()
                .trim_start_matches("PLACE_TYPE_")
                .to_lowercase(),
            truncate(&location.name, 32),
            format!("{}-{}", band.min_age, band.max_age),
            format!("{}/{}", o.available_places, o.total_places),
            o.held_places,
            r.distance_km.map_or("-".into(), |d| format!("{d:.1}")),
            if o.freshness() == pb::Freshness::Stale {
                "STALE".to_string()
            } else {
                format!("fresh, waiting {}d", o.waiting_days)
            },
        );
    }
    say!(
        "{} of {} at revision {}",
        found.results.len(),
        found.total_size,
        found.revision
    );
    if !found.next_page_token.is_empty() {
        say!("next page: --page-token {}", found.next_page_token);
    }
    Ok(())
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

async fn publish(client: &SpilClient, p: &PublishArgs, as_json: bool) -> anyhow::Result<()> {
    let (min_age, max_age) = p
        .ages
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .context("--ages must look like 12-17")?;
    let update = pb::OfferingUpdate {
        key: Some(pb::OfferingKey {
            location_id: p.location.clone(),
            place_type: p.place_type as i32,
            care_profiles: p.care_profiles.iter().map(|c| *c as i32).collect(),
            age_band: Some(pb::AgeBand { min_age, max_age }),
            gender_policy: p.gender as i32,
            security_level: p.security as i32,
        }),
        intake: (if p.around_the_clock {
            pb::Intake::AroundTheClock
        } else {
            pb::Intake::OfficeHours
        }) as i32,
        lead_time_days: p.lead_time_days,
        total_places: p.total,
        free_places: p.free,
        waiting_days: p.waiting_days,
        observed_at: None,
    };
    let published = client
        .capacity()
        .publish_capacity(pb::PublishCapacityRequest {
            request_id: request_id(&p.request_id),
            updates: vec![update],
        })
        .await?
        .into_inner();
    if as_json {
        let offerings: Vec<_> = published.offerings.iter().map(offering_json).collect();
        say!(
            "{}",
            json!({"revision": published.revision, "offerings": offerings})
        );
    } else {
        for o in &published.offerings {
            say!(
                "published offering {} at revision {}: {} of {} available",
                o.id,
                published.revision,
                o.available_places,
                o.total_places
            );
        }
    }
    Ok(())
}

async fn watch(client: &SpilClient, w: &WatchArgs, as_json: bool) -> anyhow::Result<()> {
    let mut last = w.from;
    let mut snapshot = w.snapshot;
    let mut printed = 0usize;
    let mut backoff = Duration::from_millis(250);
    loop {
        let request = pb::WatchCapacityRequest {
            start_revision: last,
            include_snapshot: snapshot,
            filter: Some(pb::WatchFilter {
                region_ids: w.regions.clone(),
                place_types: w.place_types.iter().map(|t| *t as i32).collect(),
                location_ids: vec![],
            }),
            from_oldest_kept: w.from_oldest && last == 0,
        };
        let mut stream = match client.capacity().watch_capacity(request).await {
            Ok(stream) => stream.into_inner(),
            Err(status) if status.code() == tonic::Code::OutOfRange => {
                eprintln!("revision {last} is no longer kept; starting from a snapshot");
                snapshot = true;
                continue;
            }
            Err(status) if status.code() == tonic::Code::Unavailable => {
                eprintln!("hub unavailable, retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(status) => return Err(status.into()),
        };
        snapshot = false;
        backoff = Duration::from_millis(250);
        while let Some(message) = stream.next().await {
            let message = match message {
                Ok(message) => message,
                Err(status) => {
                    last = spil_client::resume_revision(&status).unwrap_or(last);
                    eprintln!(
                        "watch interrupted ({:?}: {}); resuming after revision {last}",
                        status.code(),
                        status.message()
                    );
                    break;
                }
            };
            last = message.revision;
            if message.stream_start {
                continue;
            }
            for o in &message.offerings {
                if as_json {
                    let mut value = offering_json(o);
                    value["watch_revision"] = json!(message.revision);
                    value["snapshot"] = json!(message.snapshot);
                    say!("{value}");
                } else {
                    let key = o.key.clone().unwrap_or_default();
                    say!(
                        "rev {:>6}{} {:<28} {:<20} free {}/{} held {} placed {} {}",
                        message.revision,
                        if message.snapshot { " (snapshot)" } else { "" },
                        key.location_id,
                        key.place_type()
                            .as_str_name()
                            .trim_start_matches("PLACE_TYPE_")
                            .to_lowercase(),
                        o.available_places,
                        o.total_places,
                        o.held_places,
                        o.placed_places,
                        if o.freshness() == pb::Freshness::Stale {
                            "STALE"
                        } else {
                            "fresh"
                        },
                    );
                }
            }
            printed += 1;
            if w.limit.is_some_and(|limit| printed >= limit) {
                return Ok(());
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

fn offering_json(o: &pb::Offering) -> serde_json::Value {
    let key = o.key.clone().unwrap_or_default();
    let band = key.age_band.unwrap_or_default();
    let location = o.location.clone().unwrap_or_default();
    json!({
        "id": o.id,
        "location_id": key.location_id,
        "location_name": location.name,
        "municipality_code": location.municipality_code,
        "region_id": location.region_id,
        "place_type": key.place_type().as_str_name(),
        "care_profiles": key.care_profiles().map(|p| p.as_str_name()).collect::<Vec<_>>(),
        "min_age": band.min_age,
        "max_age": band.max_age,
        "total_places": o.total_places,
        "published_free_places": o.published_free_places,
        "held_places": o.held_places,
        "placed_places": o.placed_places,
        "available_places": o.available_places,
        "waiting_days": o.waiting_days,
        "freshness": o.freshness().as_str_name(),
        "revision": o.revision,
    })
}

fn print_holds(holds: &[pb::Hold], as_json: bool) -> anyhow::Result<()> {
    for h in holds {
        let expires = h
            .expires_at
            .map(|t| chrono::DateTime::from_timestamp(t.seconds, 0).unwrap_or_default());
        if as_json {
            say!(
                "{}",
                json!({"id": h.id, "offering_id": h.offering_id, "holder_id": h.holder_id, "state": h.state().as_str_name(),
                       "child_municipality_code": h.child_municipality_code, "expires_at": expires.map(|e| e.to_rfc3339())})
            );
        } else {
            say!(
                "{}  {:<9} offering {}  child from {}  expires {}",
                h.id,
                h.state()
                    .as_str_name()
                    .trim_start_matches("HOLD_STATE_")
                    .to_lowercase(),
                h.offering_id,
                h.child_municipality_code,
                expires.map_or("-".into(), |e| e.format("%Y-%m-%d %H:%M UTC").to_string()),
            );
        }
    }
    if holds.is_empty() && !as_json {
        say!("no holds");
    }
    Ok(())
}
