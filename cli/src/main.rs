//! `spil`: the command line for crisis workers and providers.

// Output goes through `say!`, which returns a closed pipe as an error
// instead of panicking; this keeps `println!` from coming back.
#![deny(clippy::print_stdout)]

mod cli;
mod follow;
mod render;
mod wire;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // The reader has gone (`spil watch | head -1`): that is how such a
        // pipeline ends, not an error.
        Err(error) if closed_pipe(&error) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", cli::describe(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

fn closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
