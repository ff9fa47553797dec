//! `spil-hub`: parse the command line, start telemetry, run.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    spil_hub::telemetry::init();
    spil_hub::cli::run(spil_hub::cli::Cli::parse()).await
}
