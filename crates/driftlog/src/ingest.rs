//! `driftlog ingest`: audit logs into the event store, with a progress bar on terminals.

use crate::cli::{IngestArgs, SummaryFormat};
use crate::exit;
use anyhow::{Context, Result};
use driftlog_app::ingest::IngestRequest;
use driftlog_ingest::{Observer, Options, Problem};
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
        self.files.store(0, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(bytes);
            // The prefix keeps the planned file count for the message.
            bar.set_prefix(files.to_string());
            bar.set_message(format!("0/{files} files, 0 events"));
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

/// The delivery days `--since`/`--until` stand for (a day's folder holds that day's files).
fn days(args: &IngestArgs) -> Result<Option<(jiff::civil::Date, jiff::civil::Date)>> {
    use driftlog_core::time::{parse, Bound, Direction};
    if args.since.is_none() && args.until.is_none() {
        return Ok(None);
    }
    let now = jiff::Timestamp::now();
    let day = |text: &str, bound, option: &str| -> Result<jiff::civil::Date> {
        let t = parse(text, now, bound, Direction::Past).with_context(|| option.to_owned())?;
        let ts = jiff::Timestamp::from_microsecond(t.us)?;
        Ok(jiff::tz::Offset::UTC.to_datetime(ts).date())
    };
    let since = match &args.since {
        Some(t) => day(t, Bound::Start, "--since")?,
        None => jiff::civil::date(2013, 11, 1), // CloudTrail's first deliveries
    };
    let until = match &args.until {
        Some(t) => day(t, Bound::End, "--until")?,
        None => jiff::tz::Offset::UTC.to_datetime(now).date(),
    };
    Ok(Some((since, until)))
}

pub fn run(
    args: &IngestArgs,
    store_path: &Path,
    aws: &driftlog_aws::AwsOptions,
    ledger: &driftlog_app::record::Recorder,
) -> Result<u8> {
    let progress = Progress::new();
    let options = Options {
        batch_events: args.batch_events,
        ..Options::default()
    };
    let s3: Vec<&std::path::PathBuf> = args
        .paths
        .iter()
        .filter(|p| driftlog_aws::is_s3(&p.to_string_lossy()))
        .collect();
    let outcome = if let Some(location) = s3.first() {
        if args.paths.len() > 1 {
            anyhow::bail!("an s3:// location is ingested alone: run one ingest per source");
        }
        let request = driftlog_app::ingest::S3IngestRequest {
            location: location.to_string_lossy().into_owned(),
            days: days(args)?,
            store: store_path.to_owned(),
            options,
            aws: aws.clone(),
            verify_digests: verify_digests(args, aws),
        };
        driftlog_app::ingest::ingest_s3(&request, ledger, &progress)
    } else {
        if args.since.is_some() || args.until.is_some() {
            anyhow::bail!(
                "--since and --until choose the days listed in s3://; local files are read whole"
            );
        }
        let request = IngestRequest {
            paths: args.paths.clone(),
            store: store_path.to_owned(),
            options,
            verify_digests: verify_digests(args, aws),
        };
        driftlog_app::ingest::ingest(&request, ledger, &progress)
    }
    .with_context(|| {
        format!(
            "ingest into {} stopped",
            driftlog_app::stores::shown(store_path)
        )
    })?;
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let totals = outcome.totals(store_path);
    match args.format {
        SummaryFormat::Text => println!("{}", driftlog_report::ingest::text(&totals)),
        SummaryFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&driftlog_report::ingest::json(&totals))?
        ),
    }
    Ok(if totals.has_problems() {
        exit::ERROR
    } else {
        exit::CLEAN
    })
}

fn verify_digests(
    args: &IngestArgs,
    aws: &driftlog_aws::AwsOptions,
) -> Option<driftlog_app::ingest::VerifyDigests> {
    args.verify_digests
        .then(|| driftlog_app::ingest::VerifyDigests {
            public_keys: args.public_keys.clone(),
            aws: aws.clone(),
        })
}
