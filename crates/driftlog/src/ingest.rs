//! `driftlog ingest`: audit logs into the event store, with a progress bar on terminals.

use crate::cli::{IngestArgs, SummaryFormat};
use crate::exit;
use anyhow::{Context, Result};
use driftlog_app::ingest::IngestRequest;
use driftlog_ingest::{Observer, Options, Problem, Summary};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Problems printed one by one before the rest are only counted.
const SHOWN_PROBLEMS: u64 = 50;

struct Progress {
    bar: Option<ProgressBar>,
    files: AtomicU64,
    events: AtomicU64,
    problems: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            files: AtomicU64::new(0),
            events: AtomicU64::new(0),
            problems: AtomicU64::new(0),
        }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

impl Observer for Progress {
    fn planned(&self, files: u64, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(bytes);
            bar.set_message(format!("0/{files} files, 0 events"));
        }
        self.files.store(0, Ordering::Relaxed);
        // Keep the planned file count for the message.
        self.problems.fetch_add(0, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_prefix(files.to_string());
        }
    }

    fn file_done(&self, bytes: u64, events: u64) {
        let files = self.files.fetch_add(1, Ordering::Relaxed) + 1;
        let events = self.events.fetch_add(events, Ordering::Relaxed) + events;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            bar.set_message(format!("{files}/{} files, {events} events", bar.prefix()));
        }
    }

    fn problem(&self, problem: &Problem) {
        let n = self.problems.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= SHOWN_PROBLEMS {
            self.say(&format!("warning: {problem}"));
        } else if n == SHOWN_PROBLEMS + 1 {
            self.say("warning: more problems follow; only their count is shown in the summary");
        }
    }
}

pub fn run(args: &IngestArgs, store_path: &Path, ledger: &crate::ledger::Paths) -> Result<u8> {
    let progress = Progress::new();
    let request = IngestRequest {
        paths: args.paths.clone(),
        store: store_path.to_owned(),
        options: Options {
            batch_events: args.batch_events,
        },
    };
    let outcome = driftlog_app::ingest::ingest(&request, ledger, &progress)
        .with_context(|| format!("ingest into {} stopped", store_path.display()))?;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let (summary, elapsed, total) = (&outcome.summary, outcome.elapsed, outcome.store_events);
    match args.format {
        SummaryFormat::Text => println!("{}", text_summary(summary, elapsed, total, store_path)),
        SummaryFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_summary(summary, elapsed, total, store_path))?
        ),
    }
    Ok(if summary.has_problems() {
        exit::ERROR
    } else {
        exit::CLEAN
    })
}

fn text_summary(s: &Summary, elapsed: Duration, total: u64, store: &Path) -> String {
    let secs = elapsed.as_secs_f64();
    let mb = s.bytes_read as f64 / 1e6;
    let mut text = format!(
        "ingested {} events from {} files ({mb:.1} MB) in {secs:.1} s: {} new, {} already stored",
        s.events_read, s.files_read, s.stored.inserted, s.stored.duplicates,
    );
    if s.stored.upgraded > 0 {
        text.push_str(&format!(
            ", {} replaced by a more complete copy",
            s.stored.upgraded
        ));
    }
    text.push_str(&format!(
        "\n{} files unchanged since the last ingest (skipped)",
        s.files_unchanged
    ));
    if s.files_not_logs > 0 {
        text.push_str(&format!(
            "; {} files in directories are not audit logs by name or are CloudTrail digests (skipped)",
            s.files_not_logs
        ));
    }
    if s.records_ignored > 0 {
        text.push_str(&format!(
            "\n{} records are not audit events (digests, other log entries) and were skipped",
            s.records_ignored
        ));
    }
    if s.has_problems() {
        text.push_str(&format!(
            "\nleft out: {} files and {} records (see the warnings above); the rest was stored",
            s.files_failed, s.records_rejected
        ));
    }
    text.push_str(&format!(
        "\nstore {} now holds {total} events",
        store.display()
    ));
    text
}

fn json_summary(s: &Summary, elapsed: Duration, total: u64, store: &Path) -> serde_json::Value {
    serde_json::json!({
        "format_version": driftlog_report::formats::INGEST_SUMMARY,
        "store": store.display().to_string(),
        "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "files": {
            "read": s.files_read,
            "unchanged": s.files_unchanged,
            "not_logs": s.files_not_logs,
            "failed": s.files_failed,
        },
        "bytes_read": s.bytes_read,
        "events": {
            "read": s.events_read,
            "inserted": s.stored.inserted,
            "duplicates": s.stored.duplicates,
            "upgraded": s.stored.upgraded,
        },
        "records": {
            "rejected": s.records_rejected,
            "ignored": s.records_ignored,
        },
        "store_events": total,
    })
}
