//! The history recorder: replicas of the real hub on one database, clients
//! that each run one operation at a time and record its call before sending
//! and its answer after it arrived, watchers that record every revision
//! they see, and the faults, each noted with when it struck.

mod clients;
mod cluster;

use clients::client;
use cluster::{Cluster, hub_command, psql, strike};

use crate::model::{Event, Op, Outcome, ProcessId};
use crate::watch::{Change, Published, Watched};
use crate::{Args, OPERATION_TIMEOUT};
use anyhow::Context;
use spil_client::{Identity, SpilClient, pb};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_stream::StreamExt;

/// A fault the run strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    /// kill -9 of one replica, then a restart.
    Kill9,
    /// SIGTERM of one replica (it drains), then a restart.
    Term,
    /// The database refuses connections for three seconds and drops the open ones.
    Database,
    /// Every client's connection is cut in the middle of an operation.
    Cut,
}

/// What a run recorded.
pub struct Run {
    pub events: Vec<Event>,
    /// Unknown outcomes found out after the run: (happened, did not).
    pub resolved: (usize, usize),
    pub operations: usize,
    pub unknown: usize,
    /// Holds whose end was a provider's answer to a placement request.
    pub answered_requests: usize,
    pub unexpected: Vec<String>,
    pub faults: Vec<(Duration, String)>,
    pub watched: Vec<Watched>,
    pub acknowledged_revisions: BTreeMap<u64, Published>,
    pub elapsed: Duration,
}

const MUNICIPALITY: &str = "GM0392";
const PROVIDER: &str = "kenter";
const CRISIS: &str = "crisisdienst-zkh";
/// The person acting in placement requests, as the audit trail records it.
const PERSON: &str = "spil-check";

/// Everything the clients share.
struct Shared {
    cluster: Cluster,
    offerings: Vec<(String, pb::OfferingKey)>,
    events: Mutex<Vec<Event>>,
    next_process: AtomicUsize,
    next_hold: AtomicU32,
    unknown: AtomicUsize,
    answered_requests: AtomicUsize,
    unexpected: Mutex<Vec<String>>,
    acknowledged: Mutex<BTreeMap<u64, Published>>,
    /// Set by a `cut` fault: each client cuts its next operation short.
    cut: Vec<AtomicBool>,
    stop: AtomicBool,
    /// What each watcher has seen so far.
    watched: Mutex<Vec<Watched>>,
    /// The run's own database (on PostgreSQL), for the outage fault.
    database: String,
    /// Operations whose outcome was unknown when their client moved on.
    open: Mutex<Vec<Open>>,
}

/// An operation whose outcome was unknown, with what it takes to find the
/// outcome out after the run (as etcd's robustness tests resolve theirs
/// from what was persisted).
struct Open {
    process: ProcessId,
    offering: String,
    /// Its call's place in the history.
    call: usize,
    kind: OpenKind,
}

enum OpenKind {
    /// A hold or a publication: retried with the same request id after the
    /// run, it answers with the original if there was one.
    Hold(pb::HoldPlaceRequest),
    Publish(pb::PublishCapacityRequest, u32),
    /// A confirmation or release of a hold: its state after the run says.
    End {
        number: u32,
        id: String,
        confirm: bool,
    },
    /// Nothing to find out by (a read): left open.
    Read,
}

impl Shared {
    /// An offering's place among the run's offerings; one past them for an
    /// offering the run did not make.
    fn index_of(&self, offering_id: &str) -> usize {
        self.offerings
            .iter()
            .position(|(id, _)| id == offering_id)
            .unwrap_or(self.offerings.len())
    }

    /// Records an event and returns its place in the history.
    fn record(&self, process: ProcessId, offering: &str, call: bool, op: Op) -> usize {
        let mut events = self.events.lock().unwrap();
        events.push(Event {
            process,
            offering: offering.to_owned(),
            call,
            op,
        });
        events.len() - 1
    }

    fn left_open(&self, process: ProcessId, offering: &str, call: usize, kind: OpenKind) {
        self.open.lock().unwrap().push(Open {
            process,
            offering: offering.to_owned(),
            call,
            kind,
        });
    }
}

pub async fn run(args: &Args) -> anyhow::Result<Run> {
    let work = std::env::temp_dir().join(format!("spil-check-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&work)?;
    let database = format!("spil_check_{}", uuid::Uuid::new_v4().simple());
    let database_url = match &args.postgres_url {
        Some(url) => {
            psql(url, &format!("CREATE DATABASE {database}"))?;
            format!(
                "{}/{database}",
                url.rsplit_once('/').context("a database URL")?.0
            )
        }
        None => format!("sqlite://{}?mode=rwc", work.join("spil.sqlite").display()),
    };
    let result = record(args, &work, &database_url).await;
    if let Some(url) = &args.postgres_url {
        let _ = psql(
            url,
            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Runs the demo once on the run's database, which seeds the directory
/// (regions, municipalities, organisations) and the PKI, and writes the
/// replicas' configuration beside it.
async fn seed_directory(binary: &Path, work: &Path, database_url: &str) -> anyhow::Result<PathBuf> {
    let pki = work.join("pki");
    let mut demo = hub_command(binary)
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(work)
        .args(["--database-url", database_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("failed to start the demo")?;
    let mut lines = BufReader::new(demo.stdout.take().context("stdout")?).lines();
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("spil-hub listening on ") {
                return Ok(());
            }
        }
        anyhow::bail!("the demo exited before it listened")
    })
    .await
    .context("the demo did not come up")??;
    let pid = demo.id().context("the demo runs")?.to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()?;
    demo.wait().await?;
    let config = work.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "listen_addr = \"127.0.0.1:0\"\n\
             database_url = \"{database_url}\"\n\
             page_token_secret = \"{}\"\n\
             shutdown_drain_ms = 0\n\
             shutdown_grace_ms = 2000\n\
             org_calls_per_second = 100000\n\
             org_call_burst = 100000\n\
             [tls]\n\
             server_cert = \"{p}/server.pem\"\n\
             server_key = \"{p}/server-key.pem\"\n\
             client_ca = \"{p}/client-ca.pem\"\n\
             client_crls = [\"{p}/client-ca.crl.pem\"]\n",
            "c".repeat(48),
            p = pki.display()
        ),
    )?;
    Ok(config)
}

/// One location and one crisis-bed offering with 2 free places each, per
/// offering of the run.
async fn seed_offerings(
    provider: &SpilClient,
    count: usize,
) -> anyhow::Result<Vec<(String, pb::OfferingKey)>> {
    let mut offerings = Vec::new();
    for n in 0..count {
        let location = format!("check-{n}");
        provider
            .capacity()
            .upsert_location(pb::UpsertLocationRequest {
                location: Some(pb::Location {
                    id: location.clone(),
                    name: format!("Controle {n}"),
                    municipality_code: MUNICIPALITY.into(),
                    ..Default::default()
                }),
            })
            .await?;
        let key = pb::OfferingKey {
            location_id: location,
            place_type: pb::PlaceType::CrisisBed as i32,
            care_profiles: vec![pb::CareProfile::YouthAndParenting as i32],
            age_band: Some(pb::AgeBand {
                min_age: 12,
                max_age: 17,
            }),
            gender_policy: pb::GenderPolicy::Any as i32,
            security_level: pb::SecurityLevel::Open as i32,
        };
        let published = provider
            .capacity()
            .publish_capacity(publication(&key, 2))
            .await?
            .into_inner();
        offerings.push((published.offerings[0].id.clone(), key));
    }
    Ok(offerings)
}

async fn record(args: &Args, work: &Path, database_url: &str) -> anyhow::Result<Run> {
    let pki = work.join("pki");
    let binary = &args.hub_binary;
    let config = seed_directory(binary, work, database_url).await?;

    let cluster = Cluster {
        binary: binary.clone(),
        config,
        ca: std::fs::read_to_string(pki.join("server-ca.pem"))?,
        pki,
        replicas: Mutex::new((0..args.replicas).map(|_| None).collect()),
    };
    for index in 0..args.replicas {
        cluster.start(index).await?;
    }
    let provider = cluster.connect(PROVIDER, 0).await?;
    let offerings = seed_offerings(&provider, args.offerings).await?;
    let shared = Arc::new(Shared {
        cluster,
        offerings,
        events: Mutex::new(Vec::new()),
        next_process: AtomicUsize::new(1),
        next_hold: AtomicU32::new(1),
        unknown: AtomicUsize::new(0),
        answered_requests: AtomicUsize::new(0),
        unexpected: Mutex::new(Vec::new()),
        acknowledged: Mutex::new(BTreeMap::new()),
        cut: (0..args.clients).map(|_| AtomicBool::new(false)).collect(),
        stop: AtomicBool::new(false),
        watched: Mutex::new(vec![Watched::default(); args.watchers]),
        open: Mutex::new(Vec::new()),
        database: database_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned(),
    });
    // The offerings' first publications open the history, as process 0.
    for (id, _) in &shared.offerings {
        let op = Op::Publish {
            free: 2,
            outcome: Outcome::Pending,
        };
        shared.record(0, id, true, op);
        shared.record(
            0,
            id,
            false,
            Op::Publish {
                free: 2,
                outcome: Outcome::Known(()),
            },
        );
    }

    let started = Instant::now();
    let watchers: Vec<_> = (0..args.watchers)
        .map(|n| tokio::spawn(watcher(Arc::clone(&shared), n)))
        .collect();
    let clients: Vec<_> = (0..args.clients)
        .map(|n| tokio::spawn(client(Arc::clone(&shared), n, args.seed, args.reads)))
        .collect();
    let faults = strike(&shared, args, started).await;
    shared.stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await?;
    }
    let clients_stopped = std::time::SystemTime::now();
    // Let the watchers catch up with the last acknowledged changes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for watcher in watchers {
        watcher.abort();
        let _ = watcher.await;
    }
    let watched = shared.watched.lock().unwrap().clone();
    let resolved = resolve(&shared, clients_stopped).await;
    shared.cluster.stop_all().await;
    let resolved = resolved?;
    let elapsed = started.elapsed();

    let events = std::mem::take(&mut *shared.events.lock().unwrap());
    Ok(Run {
        resolved,
        operations: events.iter().filter(|e| e.call).count(),
        events,
        unknown: shared.unknown.load(Ordering::SeqCst),
        answered_requests: shared.answered_requests.load(Ordering::SeqCst),
        unexpected: shared.unexpected.lock().unwrap().clone(),
        faults,
        watched,
        acknowledged_revisions: shared.acknowledged.lock().unwrap().clone(),
        elapsed,
    })
}

fn publication(key: &pb::OfferingKey, free: u32) -> pb::PublishCapacityRequest {
    pb::PublishCapacityRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        updates: vec![pb::OfferingUpdate {
            key: Some(key.clone()),
            intake: pb::Intake::AroundTheClock as i32,
            lead_time_days: 0,
            total_places: 4,
            free_places: free,
            waiting_days: 0,
            observed_at: None,
        }],
    }
}

/// One watcher on the run's offerings, resuming after the last revision it
/// saw whenever its stream is cut, on whichever replica is up.
async fn watcher(shared: Arc<Shared>, n: usize) {
    let locations: Vec<String> = shared
        .offerings
        .iter()
        .map(|(_, k)| k.location_id.clone())
        .collect();
    let mut last = 0u64;
    let mut turn = n;
    let mut first = true;
    loop {
        turn += 1;
        let Ok(crisis) = shared.cluster.connect(CRISIS, turn).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let request = pb::WatchCapacityRequest {
            start_revision: last,
            filter: Some(pb::WatchFilter {
                location_ids: locations.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Ok(stream) = crisis.capacity().watch_capacity(request).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if !first {
            shared.watched.lock().unwrap()[n].resumptions += 1;
        }
        first = false;
        let mut stream = stream.into_inner();
        while let Some(Ok(message)) = stream.next().await {
            if message.stream_start || message.snapshot {
                if last == 0 {
                    last = message.revision;
                }
                continue;
            }
            last = message.revision;
            let changes = message.offerings.iter().map(|offering| Change {
                revision: message.revision,
                offering: shared.index_of(&offering.id),
                published_free: offering.published_free_places,
                held: offering.held_places,
                placed: offering.placed_places,
                available: offering.available_places,
                stale: offering.freshness() == pb::Freshness::Stale,
            });
            let mut watched = shared.watched.lock().unwrap();
            watched[n].revisions.push(message.revision);
            watched[n].changes.extend(changes);
        }
    }
}

/// Finds out what the operations with unknown outcomes did, now that the
/// run is over: a hold or publication retried with its request id answers
/// with the original if it was made during the run (its time or revision
/// says so); a confirmation or release shows in its hold's state. One that
/// happened gets its answer at the end of the history (when, within its
/// call and the end, stays open); one that did not is taken out.
async fn resolve(
    shared: &Shared,
    clients_stopped: std::time::SystemTime,
) -> anyhow::Result<(usize, usize)> {
    let open = std::mem::take(&mut *shared.open.lock().unwrap());
    if open.is_empty() {
        return Ok((0, 0));
    }
    let provider = shared.cluster.connect(PROVIDER, 0).await?;
    let crisis = shared.cluster.connect(CRISIS, 0).await?;
    let stopped: prost_types::Timestamp = clients_stopped.into();
    let last_revision = last_revision(shared);
    let states = hold_states(&crisis).await?;
    let (mut happened, mut not) = (0, 0);
    let mut removed = BTreeSet::new();
    let mut answers = Vec::new();
    for open in open {
        let outcome = match &open.kind {
            OpenKind::Read => None,
            OpenKind::Hold(request) => {
                // A refusal now means no hold was made under this request id.
                let hold = match crisis.capacity().hold_place(request.clone()).await {
                    Ok(answer) => answer.into_inner().hold,
                    Err(status) if status.code() == tonic::Code::FailedPrecondition => None,
                    Err(status) => return Err(status.into()),
                };
                let created = hold.and_then(|h| h.created_at);
                let during = created
                    .is_some_and(|c| (c.seconds, c.nanos) < (stopped.seconds, stopped.nanos));
                during.then(|| {
                    let number = shared.next_hold.fetch_add(1, Ordering::SeqCst);
                    Op::Hold {
                        outcome: Outcome::Known(Some(number)),
                    }
                })
            }
            OpenKind::Publish(request, free) => {
                let answer = provider
                    .capacity()
                    .publish_capacity(request.clone())
                    .await?
                    .into_inner();
                (answer.revision <= last_revision).then_some(Op::Publish {
                    free: *free,
                    outcome: Outcome::Known(()),
                })
            }
            OpenKind::End {
                number,
                id,
                confirm,
            } => {
                let wanted = if *confirm {
                    pb::HoldState::Confirmed
                } else {
                    pb::HoldState::Released
                };
                (states.get(id) == Some(&wanted)).then(|| {
                    let outcome = Outcome::Known(true);
                    if *confirm {
                        Op::Confirm {
                            hold: *number,
                            outcome,
                        }
                    } else {
                        Op::Release {
                            hold: *number,
                            outcome,
                        }
                    }
                })
            }
        };
        match (&open.kind, outcome) {
            (OpenKind::Read, _) => {}
            (_, Some(op)) => {
                happened += 1;
                answers.push(Event {
                    process: open.process,
                    offering: open.offering,
                    call: false,
                    op,
                });
            }
            (_, None) => {
                not += 1;
                removed.insert(open.call);
            }
        }
    }
    let mut events = shared.events.lock().unwrap();
    let kept: Vec<Event> = std::mem::take(&mut *events)
        .into_iter()
        .enumerate()
        .filter(|(index, _)| !removed.contains(index))
        .map(|(_, event)| event)
        .collect();
    *events = kept;
    events.extend(answers);
    Ok((happened, not))
}

/// The latest revision any answer or watcher of the run has shown.
fn last_revision(shared: &Shared) -> u64 {
    shared
        .acknowledged
        .lock()
        .unwrap()
        .last_key_value()
        .map(|(revision, _)| *revision)
        .unwrap_or(0)
        .max(
            shared
                .watched
                .lock()
                .unwrap()
                .iter()
                .filter_map(|w| w.revisions.last().copied())
                .max()
                .unwrap_or(0),
        )
}

/// Every hold of the crisis service, by id, as it now is.
async fn hold_states(
    crisis: &SpilClient,
) -> anyhow::Result<std::collections::HashMap<String, pb::HoldState>> {
    let mut states = std::collections::HashMap::new();
    let mut page = pb::ListHoldsRequest {
        page_size: 1000,
        ..Default::default()
    };
    loop {
        let listed = crisis
            .capacity()
            .list_holds(page.clone())
            .await?
            .into_inner();
        for hold in listed.holds {
            states.insert(hold.id.clone(), hold.state());
        }
        if listed.next_page_token.is_empty() {
            break;
        }
        page.page_token = listed.next_page_token;
    }
    Ok(states)
}
