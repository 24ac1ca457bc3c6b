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
/// Built without transparent huge pages (`no_thp`): asked for them, the kernel zeroes 2 MiB at
/// the first touch of each, a sixth of the time of a query's short process and more system time
/// in ingest than the TLB saves.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` of `mimalloc.h` (the same in mimalloc 2 and 3), which the
/// bindings of `libmimalloc-sys` do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long memory mimalloc no longer uses stays with the process before it goes back to the
/// system: ten seconds, not mimalloc's one. Ingest frees and refills its batches' memory about
/// every second, so with one second each round was given back and then faulted in and zeroed
/// by the kernel again: half of the page faults of ingesting a million events, and a twentieth
/// of its time (docs/BENCHMARKS.md). A service still returns what it stops using, ten seconds
/// later. `MIMALLOC_PURGE_DELAY` in the environment still decides when set.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        #[allow(unsafe_code)]
        // SAFETY: sets one integer option, which mimalloc reads atomically at its next purge.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000);
        }
    }
}

/// Exit codes, as `terraform plan -detailed-exitcode` uses them. In CI 2 means "drift found",
/// so nothing else ever exits 2: a usage error is an error (1).
pub mod exit {
    pub const CLEAN: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const DRIFT: u8 = 2;
}

fn main() -> ExitCode {
    tune_allocator();
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
    let code = match result {
        Ok(code) => code,
        // A closed pipe (`driftlog scan | head`) is not a failure.
        Err(err)
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            exit::CLEAN
        }
        Err(err) => {
            tracing::debug!(error = ?err, "command failed");
            eprintln!("error: {}", message(&err));
            exit::ERROR
        }
    };
    keep_memory_until_exit();
    ExitCode::from(code)
}

/// When the process ends mimalloc collects its heaps and gives each span of free memory back
/// to the system, a `madvise` call each: after a listing of 87,000 events, 137 calls taking
/// 8.6 ms under `strace`, for memory the kernel reclaims anyway an instant later. A
/// purge delay of -1 (never) turns that off; nothing runs after it but the exit.
fn keep_memory_until_exit() {
    #[allow(unsafe_code)]
    // SAFETY: sets one integer option, which mimalloc reads atomically at its next purge.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
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

    /// The index given to mimalloc is its purge delay's: mimalloc 3's default for it is one
    /// second (and no other option's is). Tests do not tune the allocator.
    #[test]
    fn the_allocator_option_set_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        #[allow(unsafe_code)]
        // SAFETY: reads one integer option.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1000);
    }

    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(io).context("x.tfstate: No such file or directory");
        assert_eq!(message(&err), "x.tfstate: No such file or directory");
        let err = anyhow::anyhow!("disk full").context("appending the scan to the ledger");
        assert_eq!(message(&err), "appending the scan to the ledger: disk full");
    }
}
