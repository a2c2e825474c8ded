//! The `cells` binary: `cells start` runs the server; `cells admin ...` manages users
//! and workspaces on the same store, also while a server runs.

mod admin;
mod config;
mod keys;
mod logging;
mod progress;
mod start;
mod tokens;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A self-hosted file server built around personal access tokens.
#[derive(Parser, Debug)]
#[command(name = "cells", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (HTTP: REST, /io; all services in one process).
    Start(start::StartArgs),
    /// Manage users and workspaces.
    Admin(admin::AdminArgs),
}

// Each request makes many small, short-lived allocations (headers, paths, JSON):
// mimalloc serves them with less work than the system allocator (bench/io.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for a mistake of the caller (bad value, unknown user): as clap does.
pub const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Start(args) => start::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Admin(args) => admin::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", cells_core::redact::line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
