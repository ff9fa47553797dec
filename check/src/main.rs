//! `spil-check`: runs real hub replicas on one database, lets concurrent
//! clients publish, hold, confirm, release, read and watch a few offerings
//! while faults strike (kill -9 and SIGTERM of a replica, the database
//! refusing connections, cut client connections), records every operation
//! with its call and its answer (or that its outcome is unknown), and has
//! a checker from crates.io decide whether any sequential order of the
//! registry's rules explains what the clients saw. Prints "linearizable",
//! or the shortest violating history it found.

mod model;
mod recorder;
mod watch;

use clap::Parser;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "Records a concurrent history against real replicas and checks it")]
pub struct Args {
    /// The spil-hub binary whose replicas are run.
    #[arg(long, default_value = "target/debug/spil-hub")]
    hub_binary: PathBuf,
    /// A PostgreSQL server; a database of the run's own is made on it and
    /// dropped. Without it the replicas share one SQLite file.
    #[arg(long)]
    postgres_url: Option<String>,
    #[arg(long, default_value_t = 2)]
    replicas: usize,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Offerings the clients share: few, so that operations conflict.
    #[arg(long, default_value_t = 3)]
    offerings: usize,
    #[arg(long, default_value_t = 2)]
    watchers: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Faults, struck at even intervals over the run and cycled through:
    /// kill9, term, database, cut.
    #[arg(long, value_delimiter = ',', default_value = "kill9")]
    faults: Vec<recorder::Fault>,
    /// How many faults to strike.
    #[arg(long, default_value_t = 1)]
    fault_count: usize,
    /// Whether clients also read (search); off, only the writes are judged,
    /// which tells a wrong read from a wrong decision.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    reads: bool,
    /// Seeds the clients' choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let run = recorder::run(&args).await?;

    println!(
        "recorded {} operations by {} clients on {} offerings over {} replicas in {:.1} s; \
         {} faults; {} unknown outcomes ({} found out after the run to have happened, {} not); \
         {} holds ended by a provider's answer to a placement request; {} unexpected errors",
        run.operations,
        args.clients,
        args.offerings,
        args.replicas,
        run.elapsed.as_secs_f64(),
        run.faults.len(),
        run.unknown,
        run.resolved.0,
        run.resolved.1,
        run.answered_requests,
        run.unexpected.len()
    );
    for (at, fault) in &run.faults {
        println!("  fault at {:>5.1} s: {fault}", at.as_secs_f64());
    }
    for error in run.unexpected.iter().take(10) {
        println!("  unexpected: {error}");
    }

    let started = Instant::now();
    let verdicts = model::check(&run.events);
    let checked_in = started.elapsed();
    let mut violated = false;
    for verdict in &verdicts {
        match &verdict.violation {
            None => println!(
                "  offering {}: {} operations, linearizable",
                verdict.offering, verdict.operations
            ),
            Some(history) => {
                violated = true;
                println!(
                    "  offering {}: {} operations, NOT linearizable; the shortest refused prefix ({} events):",
                    verdict.offering,
                    verdict.operations,
                    history.len()
                );
                for event in history {
                    let kind = if event.call { "call  " } else { "answer" };
                    println!("    client {:>3} {kind} {:?}", event.process, event.op);
                }
            }
        }
    }
    println!("checked in {:.2} s", checked_in.as_secs_f64());

    let acknowledged = run.acknowledged_revisions;
    for (n, watched) in run.watched.iter().enumerate() {
        let problems = watch::validate(watched, &acknowledged);
        println!(
            "  watcher {n}: {} changes, {} resumptions{}",
            watched.revisions.len(),
            watched.resumptions,
            if problems.is_empty() {
                ", in order, complete, each change one operation from the last"
            } else {
                ""
            }
        );
        for problem in problems.iter().take(10) {
            println!("    {problem}");
        }
        if problems.len() > 10 {
            println!("    … and {} more", problems.len() - 10);
        }
        violated |= !problems.is_empty();
    }
    if !run.unexpected.is_empty() {
        violated = true;
    }
    if run.operations == 0 || run.watched.iter().all(|w| w.revisions.is_empty()) {
        anyhow::bail!("the run recorded nothing to judge");
    }
    if violated {
        println!("NOT linearizable");
        std::process::exit(1);
    }
    println!("linearizable");
    Ok(())
}

/// How long one operation may take before its outcome counts as unknown.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
