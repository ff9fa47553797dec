//! `spil-bench`: a load generator for a running hub, over real mTLS with the
//! project's own client. Reports throughput and latency percentiles per
//! scenario, as a table and as JSON lines; with `--echo` and `--etcd` it
//! measures the baselines in the same run and reports every hub figure as a
//! ratio to them.

mod baselines;
mod harness;
mod scenarios;
mod summary;

use harness::*;
use scenarios::*;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use prost::Message as _;
use spil_client::{Identity, SpilClient, pb};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::codec::CompressionEncoding;

#[derive(Debug, Parser)]
#[command(
    name = "spil-bench",
    about = "Load a running Spil hub and report throughput and latency"
)]
struct Args {
    #[arg(long, default_value = "https://localhost:50051")]
    hub: String,
    /// The demo PKI folder (server CA and organisations' certificates).
    #[arg(long, default_value = "spil-demo/pki")]
    pki: PathBuf,
    #[arg(long, value_enum, num_args = 1.., default_values = ["search", "publish", "holds", "watch-latency", "watch-fanout", "consultations", "overload", "board-latency"])]
    scenario: Vec<Scenario>,
    /// The echo baseline (`spil-echo`), e.g. https://localhost:50061.
    #[arg(long)]
    echo: Option<String>,
    /// The etcd baseline, e.g. https://localhost:2379.
    #[arg(long)]
    etcd: Option<String>,
    /// Runs of each scenario; medians are reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// The board (`https://localhost:<port>`, the hub's HTTPS listener), for
    /// the board-latency scenario; without it the scenario is skipped.
    #[arg(long)]
    board: Option<String>,
    /// Open boards in the board-latency scenario, one run each.
    #[arg(long, num_args = 1.., default_values_t = [1, 50])]
    boards: Vec<usize>,
    /// Publications per second in the board-latency scenario: a busy
    /// evening's pace, which every board follows whole.
    #[arg(long, default_value_t = 20)]
    board_publish_rate: u64,
    /// Watchers in the watch-regions scenario, one run each.
    #[arg(long, num_args = 1.., default_values_t = [1, 100, 1000, 10_000])]
    region_watchers: Vec<usize>,
    /// Publications per second in the watch-regions scenario, spread over
    /// every region (each run also at `publish_rate` when it differs).
    #[arg(long, default_value_t = 50)]
    region_publish_rate: u64,
    /// Watchers in the watch-fanout scenario.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// The most streams the watch-memory scenario opens (on a hub that has done nothing else).
    #[arg(long, default_value_t = 8000)]
    memory_streams: usize,
    /// The hub's process id, for the watch-memory scenario (reads /proc).
    #[arg(long)]
    hub_pid: Option<u32>,
    /// Seconds each timed scenario runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Locations to seed (five offerings each) before the search scenario; 0 skips seeding.
    #[arg(long, default_value_t = 2000)]
    seed_locations: usize,
    /// Publications per second in the watch scenarios.
    #[arg(long, default_value_t = 1000)]
    publish_rate: u64,
    /// The publish scenario publishes to the offerings of 50 seeded
    /// locations from this one on, so that load tools beside each other
    /// (one per replica) each have offerings of their own.
    #[arg(long, default_value_t = 0)]
    publish_first_location: u64,
    /// Calls in flight in the overload scenario.
    #[arg(long, default_value_t = 2048)]
    overload_concurrency: usize,
    /// Searches per second the flooding organisation sends in the flood
    /// scenario: 50 times the hub's default share of 200 calls/s.
    #[arg(long, default_value_t = 10_000.0)]
    flood_rate: f64,
    /// Searches per second the other organisation sends in the flood
    /// scenario, well inside its share.
    #[arg(long, default_value_t = 50.0)]
    flood_other_rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Search,
    Publish,
    Holds,
    WatchLatency,
    WatchFanout,
    Consultations,
    Overload,
    WatchMemory,
    /// Needs a hub with its default per-organisation shares, unlike the rest.
    Flood,
    /// Needs `--board`.
    BoardLatency,
    /// Watchers following one region each; needs seeded locations.
    WatchRegions,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let ca = args.pki.join("server-ca.pem");
    let ca_pem =
        std::fs::read_to_string(&ca).with_context(|| format!("failed to read {}", ca.display()))?;
    let bench = Bench {
        args,
        ca_pem,
        refusal_p99_ms: Default::default(),
        kib_per_stream: Default::default(),
        steady_runs: AtomicU64::new(0),
    };
    bench.seed().await?;
    let mut runs: std::collections::BTreeMap<&'static str, Vec<Report>> = Default::default();
    for round in 0..bench.args.repeat.max(1) {
        if bench.args.repeat > 1 {
            println!("# run {} of {}", round + 1, bench.args.repeat);
        }
        for scenario in bench.args.scenario.clone() {
            let mut measured: Vec<(&'static str, Report)> = Vec::new();
            match scenario {
                Scenario::Search => {
                    let (search, sizes) = bench.search().await?;
                    measured.push(("search", search));
                    let (gzip, _) = bench
                        .search_accepting(Some(CompressionEncoding::Gzip))
                        .await?;
                    measured.push(("search-gzip", gzip));
                    if let Some(echo) = &bench.args.echo {
                        measured.push(("echo-sized", bench.echo_sized(echo, sizes).await?));
                        measured.push(("echo-100", bench.echo_small(echo).await?));
                    }
                }
                Scenario::Publish => {
                    measured.push(("publish", bench.publish().await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-put", bench.etcd_put(etcd).await?));
                    }
                }
                Scenario::Holds => {
                    measured.push(("holds", bench.holds().await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-holds", bench.etcd_holds(etcd).await?));
                    }
                    measured.push(("holds-steady", bench.holds_steady().await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-steady", bench.etcd_steady(etcd).await?));
                    }
                }
                Scenario::WatchLatency => {
                    measured.push(("watch-1", bench.watch_latency(1).await?));
                    if let Some(etcd) = &bench.args.etcd {
                        measured.push(("etcd-watch-1", bench.etcd_watch_latency(etcd).await?));
                    }
                }
                Scenario::WatchFanout => {
                    measured.push(("watch-n", bench.watch_latency(bench.args.watchers).await?));
                }
                Scenario::WatchRegions => {
                    let rates = [bench.args.region_publish_rate, bench.args.publish_rate];
                    for rate in rates
                        .into_iter()
                        .take(if rates[0] == rates[1] { 1 } else { 2 })
                    {
                        for watchers in bench.args.region_watchers.clone() {
                            let key: &'static str =
                                Box::leak(format!("regions-{watchers}@{rate}").into_boxed_str());
                            measured.push((key, bench.watch_regions(watchers, rate).await?));
                        }
                    }
                }
                Scenario::Consultations => {
                    measured.push(("consultations", bench.consultations().await?));
                }
                Scenario::Overload => measured.extend(bench.overload().await?),
                Scenario::BoardLatency => {
                    if let Some(board) = bench.args.board.clone() {
                        for boards in bench.args.boards.clone() {
                            let key = if boards == 1 { "board-1" } else { "board-n" };
                            measured.push((key, bench.board_latency(&board, boards).await?));
                        }
                    }
                }
                Scenario::Flood => {
                    let flood = bench.flood().await?;
                    measured.push(("flood-other-quiet", flood.other_quiet));
                    measured.push(("flood-other-flooded", flood.other_flooded));
                    measured.push(("flood-refusals", flood.refusals));
                }
                Scenario::WatchMemory => {
                    if bench.args.hub_pid.is_some() {
                        measured.push(("watch-memory", bench.watch_memory().await?));
                    }
                }
            }
            for (key, report) in measured {
                report.print();
                runs.entry(key).or_default().push(report);
            }
        }
    }
    bench.print_summary(&runs);
    Ok(())
}
