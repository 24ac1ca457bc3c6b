//! The `driftlog` binary: argument parsing, wiring and exit codes. The work happens in the
//! library crates; this stays thin.

mod archive;
mod cli;
mod cloudtrail;
mod compare;
mod config;
mod events;
mod explain;
mod ingest;
mod ledger;
mod output;
mod prune;
mod remediate;
mod scan;
mod serve;
mod verify;

use clap::Parser;
use std::process::ExitCode;

/// Parsing audit logs allocates many short strings on every core; mimalloc's per-thread heaps
/// make that several times cheaper than the system allocator (see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, as `terraform plan -detailed-exitcode` uses them. In CI 2 means "drift found",
/// so nothing else ever exits 2: a usage error is an error (1).
pub mod exit {
    pub const CLEAN: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const DRIFT: u8 = 2;
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are printed to stdout and succeed; clap would exit 2
            // for a usage error, which CI would read as drift.
            let code = if err.use_stderr() {
                exit::ERROR
            } else {
                exit::CLEAN
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    // A service's log is its record of what it did; a command's output is its report.
    let default_level = match cli.command {
        cli::Command::Serve(_) => cli::LogLevel::Info,
        _ => cli::LogLevel::Warn,
    };
    cli::init_logging(&cli.logging, default_level);
    let ledger = driftlog_app::record::Recorder {
        ledger: cli.ledger.clone().unwrap_or_else(|| {
            driftlog_app::stores::default_ledger(&cli.store, ".driftlog/ledger.db".as_ref())
        }),
        key: cli.ledger_key.clone(),
    };
    let result = match &cli.command {
        cli::Command::Scan(args) => {
            scan::run(args, cli.color, &cli.store, &cli.aws.options(), &ledger)
        }
        cli::Command::Compare(args) => {
            compare::run(args, cli.color, &cli.store, &cli.aws.options(), &ledger)
        }
        cli::Command::Ingest(args) => ingest::run(args, &cli.store, &cli.aws.options(), &ledger),
        cli::Command::Events(args) => events::run(args, &cli.store),
        cli::Command::Explain(args) => explain::run(args, &cli.store),
        cli::Command::Ledger(args) => ledger::run(args, &ledger),
        cli::Command::Remediate(args) => remediate::run(args),
        cli::Command::Cloudtrail(args) => cloudtrail::run(args, &cli.aws.options(), &ledger),
        cli::Command::Config(args) => config::run(args),
        cli::Command::Serve(args) => serve::run(args, &cli.aws.options()),
        cli::Command::Token(args) => serve::token(args),
        cli::Command::Archive(args) => archive::run(args, &cli.store, &cli.aws.options(), &ledger),
        cli::Command::Prune(args) => prune::run(args, &cli.store, &ledger),
        cli::Command::Verify(args) => verify::run(args, &cli.store, &cli.aws.options(), &ledger),
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
            tracing::debug!(error = ?err, "command failed");
            eprintln!("error: {}", message(&err));
            ExitCode::from(exit::ERROR)
        }
    }
}

/// The error and its causes on one line, each said once: library errors that name their file
/// often include their cause's text already (`x.tfstate: No such file or directory`), and
/// printing the chain as it is would repeat it.
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(io).context("x.tfstate: No such file or directory");
        assert_eq!(message(&err), "x.tfstate: No such file or directory");
        let err = anyhow::anyhow!("disk full").context("appending the scan to the ledger");
        assert_eq!(message(&err), "appending the scan to the ledger: disk full");
    }
}
