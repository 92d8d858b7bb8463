//! `otlp`: a command-line tool for the OpenTelemetry Protocol.
//!
//! - `otlp serve` runs an OTLP receiver (gRPC, with OTLP/Arrow streams, and HTTP) and prints one
//!   line per request (per batch, for OTLP/Arrow), optionally writing every request to OTLP/JSON
//!   lines files;
//! - `otlp send` exports the requests of such files to an OTLP endpoint;
//! - `otlp demo` sends a sample of every signal through every protocol to an embedded receiver and
//!   checks that it arrived intact.
//!
//! Errors are printed as `otlp: error: ...` on stderr with exit status 1; usage errors exit with
//! status 2.

// Printing is this binary's job.
#![allow(clippy::print_stdout)]

mod demo;
mod demo_metrics;
mod demo_profiles;
mod error;
mod flames;
mod send;
mod serve;
mod summary;

use clap::{Parser, Subcommand};

/// Heap profiles (`otlp demo`) need the sampling allocator; while no profiler runs it costs
/// one relaxed load per allocation.
#[global_allocator]
static ALLOCATOR: otlp::profile::SamplingAllocator = otlp::profile::SamplingAllocator::system();
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "otlp",
    version,
    about = "Receive, send and try out OpenTelemetry Protocol (OTLP) data",
    propagate_version = true
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run an OTLP receiver (gRPC and HTTP) and print one line per request received.
    Serve(serve::ServeArgs),
    /// Export the requests of OTLP/JSON lines files (as written by `serve --out`).
    Send(send::SendArgs),
    /// Send a sample of every signal through every protocol to an embedded receiver and check
    /// that it arrived intact.
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("otlp: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Demo(args) => demo::run(args).await,
        }
    });
    // Do not wait for tasks still running (a connection the peer keeps open, say).
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp: error: {e}");
            ExitCode::FAILURE
        }
    }
}
