//! `spil-hub`: parse the command line and run it (telemetry starts once the configuration is read).

mod cli;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cli::run(cli::Cli::parse()).await
}
