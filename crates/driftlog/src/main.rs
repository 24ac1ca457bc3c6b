//! The `driftlog` binary: argument parsing, wiring and exit codes. The work happens in the
//! library crates; this stays thin.

mod attribute;
mod cli;
mod events;
mod explain;
mod ingest;
mod ledger;
mod scan;

use clap::Parser;
use std::process::ExitCode;

/// Parsing audit logs allocates many short strings on every core; mimalloc's per-thread heaps
/// make that several times cheaper than the system allocator (see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, as `terraform plan -detailed-exitcode` uses them.
pub mod exit {
    pub const CLEAN: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const DRIFT: u8 = 2;
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let ledger = ledger::Paths {
        ledger: cli.ledger.clone(),
        key: cli.ledger_key.clone(),
    };
    let result = match &cli.command {
        cli::Command::Scan(args) => scan::run(args, cli.color, &cli.store, &ledger),
        cli::Command::Ingest(args) => ingest::run(args, &cli.store, &ledger),
        cli::Command::Events(args) => events::run(args, &cli.store),
        cli::Command::Explain(args) => explain::run(args, &cli.store),
        cli::Command::Ledger(args) => ledger::run(args, &ledger),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // A closed pipe (`driftlog scan | head`) is not a failure.
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::from(exit::CLEAN);
            }
            eprintln!("error: {err:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
