//! `spil-hub`: parse the command line and run it (telemetry starts once the configuration is read).

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    spil_hub::cli::run(spil_hub::cli::Cli::parse()).await
}
