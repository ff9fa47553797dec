//! Logs and traces: structured `tracing` output, filtered by `RUST_LOG`
//! (default: info for the hub, warnings for its dependencies).

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,spil_hub=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
