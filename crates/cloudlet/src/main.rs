//! The `cloudlet` binary: command-line arguments → settings → commands.
//!
//! This crate parses the command line, sets up logging, and runs one command.
//! It makes no decisions of its own about functions, queues, scheduling,
//! infrastructure or pipelines; those live in their crates.

mod ci;
mod cli;
mod client;
mod data_dir;
mod functions;
mod infra;
mod kube;
mod sched;
mod sqs;
mod up;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use cloudlet_core::ErrorChain;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.log_level.as_deref());
    let result = match cli.command {
        cli::Command::Up(args) => up::run(args).map_err(|err| report(&err)),
        cli::Command::Fn(args) => functions::run(args).map_err(|err| report(&err)),
        cli::Command::Sqs(args) => sqs::run(args).map_err(|err| report(&err)),
        cli::Command::Sched(args) => sched::run(args).map_err(|err| report(&err)),
        cli::Command::Kube(args) => kube::run(args),
        cli::Command::Infra(args) => infra::run(args),
        cli::Command::Ci(args) => ci::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(()) => ExitCode::FAILURE,
    }
}

/// Prints an error with its whole chain of causes.
fn report(err: &(dyn std::error::Error + 'static)) {
    let _ = writeln!(std::io::stderr(), "error: {:#}", ErrorChain(err));
}

/// Logs go to stderr. The filter comes from `--log-level` (or
/// `CLOUDLET_LOG_LEVEL`), then `RUST_LOG`, then `info`.
fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => EnvFilter::try_new(level),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    };
    let filter = filter.unwrap_or_else(|err| {
        let _ = writeln!(std::io::stderr(), "warning: ignoring log filter: {err}; logging at `info`");
        EnvFilter::new("info")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}
