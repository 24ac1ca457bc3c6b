//! The ingest use case: audit logs into the event store, each committed batch recorded in the
//! ledger as it commits, the run recorded when it ends.

use crate::record::{Recorder, RecordingObserver};
use crate::AppError;
use driftlog_ingest::{Observer, Options, Summary};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to ingest, and where.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    /// Files or directories (walked); `-` for standard input.
    pub paths: Vec<PathBuf>,
    pub store: PathBuf,
    pub options: Options,
    /// Check CloudTrail's digests first; refuse altered log files (`--verify-digests`).
    pub verify_digests: Option<VerifyDigests>,
}

/// `--verify-digests`: where the public keys come from.
#[derive(Debug, Clone, Default)]
pub struct VerifyDigests {
    /// A `list-public-keys` file; `None`: CloudTrail's `ListPublicKeys`.
    pub public_keys: Option<PathBuf>,
    pub aws: driftlog_aws::AwsOptions,
}

/// The options with the digest verdicts for `sources` added, when asked.
fn gated(
    options: &Options,
    verify: Option<&VerifyDigests>,
    sources: &[&std::path::Path],
) -> Result<Options, AppError> {
    let mut options = options.clone();
    if let Some(v) = verify {
        let gate = crate::cloudtrail::digest_gate(sources, v.public_keys.as_deref(), &v.aws)?;
        tracing::info!(
            refused = gate.refused.len(),
            intact = gate.intact.len(),
            "digests checked"
        );
        options.digests = Some(std::sync::Arc::new(gate));
    }
    Ok(options)
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub summary: Summary,
    pub elapsed: Duration,
    /// Events in the store afterwards.
    pub store_events: u64,
}

impl IngestOutcome {
    /// The totals to show for the run into `store`.
    pub fn totals(&self, store: &std::path::Path) -> driftlog_report::ingest::IngestTotals {
        let s = &self.summary;
        driftlog_report::ingest::IngestTotals {
            store: crate::stores::shown(store),
            seconds: self.elapsed.as_secs_f64(),
            files_read: s.files_read,
            files_unchanged: s.files_unchanged,
            files_not_logs: s.files_not_logs,
            files_failed: s.files_failed,
            files_refused: s.files_refused,
            files_unverified: s.files_unverified,
            bytes_read: s.bytes_read,
            events_read: s.events_read,
            inserted: s.stored.inserted,
            duplicates: s.stored.duplicates,
            upgraded: s.stored.upgraded,
            records_rejected: s.records_rejected,
            records_ignored: s.records_ignored,
            store_events: self.store_events,
        }
    }
}

/// Ingest, reporting progress and problems to `observer`. Files or records left out are in
/// the summary (`Summary::has_problems`), not errors: the rest was stored.
pub fn ingest(
    request: &IngestRequest,
    ledger: &Recorder,
    observer: &dyn Observer,
) -> Result<IngestOutcome, AppError> {
    let mut store = crate::stores::open_events(&request.store)?;
    tracing::debug!(
        store = %crate::stores::shown(&request.store),
        paths = ?request.paths,
        batch_events = request.options.batch_events,
        "ingest starting"
    );
    let started = Instant::now();
    let recording = RecordingObserver {
        inner: observer,
        recorder: ledger,
        store_id: store.store_id()?,
    };
    let sources: Vec<&std::path::Path> = request
        .paths
        .iter()
        .filter(|p| p.is_dir())
        .map(PathBuf::as_path)
        .collect();
    let options = gated(&request.options, request.verify_digests.as_ref(), &sources)?;
    let summary = driftlog_ingest::ingest(store.as_mut(), &request.paths, &options, &recording)?;
    ledger
        .ingest(&request.store, &summary)
        .map_err(|e| AppError::recording("the ingest", e))?;
    let elapsed = started.elapsed();
    let store_events = store.event_count()?;
    tracing::info!(
        files_read = summary.files_read,
        files_unchanged = summary.files_unchanged,
        files_failed = summary.files_failed,
        events_read = summary.events_read,
        inserted = summary.stored.inserted,
        duplicates = summary.stored.duplicates,
        records_rejected = summary.records_rejected,
        seconds = elapsed.as_secs_f64(),
        "ingest finished"
    );
    Ok(IngestOutcome {
        summary,
        elapsed,
        store_events,
    })
}

/// What to ingest from S3: a CloudTrail bucket (and prefix), optionally only the delivery days
/// inside a window.
#[derive(Debug, Clone)]
pub struct S3IngestRequest {
    /// `s3://BUCKET[/PREFIX]`.
    pub location: String,
    /// Days to list (inclusive), as `YYYY-MM-DD`; `None`: everything under the prefix.
    pub days: Option<(jiff::civil::Date, jiff::civil::Date)>,
    pub store: PathBuf,
    pub options: Options,
    pub aws: driftlog_aws::AwsOptions,
    pub verify_digests: Option<VerifyDigests>,
}

/// Objects the pipeline will read, fetched ahead in its order (see [`driftlog_aws::Prefetch`]).
struct S3Fetch {
    s3: driftlog_aws::S3,
    prefetch: std::sync::OnceLock<driftlog_aws::Prefetch>,
}

impl driftlog_ingest::Remote for S3Fetch {
    fn will_fetch(&self, locations: &[String]) {
        if let Ok(p) = self.s3.prefetch(locations.to_vec(), FETCH_AHEAD) {
            let _ = self.prefetch.set(p);
        }
    }

    fn fetch(&self, location: &str) -> Result<Vec<u8>, String> {
        if let Some(p) = self.prefetch.get() {
            return p.take(location);
        }
        let (bucket, key) = driftlog_aws::parse_s3(location)
            .ok_or_else(|| format!("{location}: not an S3 location"))?;
        self.s3
            .get(bucket, key)
            .map_err(|e| e.to_string())?
            .map(|(bytes, _)| bytes)
            .ok_or_else(|| "gone since it was listed".to_owned())
    }
}

/// Objects fetched ahead of the parsers: enough to keep both cores busy while each request
/// waits on the network, few enough to bound memory (CloudTrail files are small).
const FETCH_AHEAD: usize = 32;

/// The day folders of a CloudTrail delivery layout under `prefix` that fall in `days`
/// (`…/AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`): accounts and regions are
/// listed, the days are generated, so days outside the window are never listed.
fn day_prefixes(
    s3: &driftlog_aws::S3,
    bucket: &str,
    prefix: &str,
    days: (jiff::civil::Date, jiff::civil::Date),
) -> Result<Vec<String>, AppError> {
    let err = |e: driftlog_aws::AwsError| AppError::Input(e.to_string());
    let mut regions = Vec::new();
    let mut frontier = vec![prefix.to_owned()];
    // Down to `…/CloudTrail/`: AWSLogs, an organization id, accounts (a few levels at most).
    for _ in 0..5 {
        let mut next = Vec::new();
        for p in frontier {
            for folder in s3.folders(bucket, &p).map_err(err)? {
                let last = folder
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                if last == "CloudTrail" {
                    regions.extend(s3.folders(bucket, &folder).map_err(err)?);
                } else if !last.starts_with("CloudTrail-") {
                    next.push(folder);
                }
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    let mut out = Vec::new();
    for region in regions {
        let mut day = days.0;
        while day <= days.1 {
            out.push(format!(
                "{region}{:04}/{:02}/{:02}/",
                day.year(),
                day.month(),
                day.day()
            ));
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
    }
    Ok(out)
}

/// Ingest a CloudTrail bucket in S3: list (only the window's days, when given), skip what is
/// stored (location, ETag, size), fetch the rest on the parser threads. An interrupted run
/// resumes where it stopped: each committed batch's files are known.
pub fn ingest_s3(
    request: &S3IngestRequest,
    ledger: &Recorder,
    observer: &dyn Observer,
) -> Result<IngestOutcome, AppError> {
    let rest = request.location.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let s3 = driftlog_aws::S3::connect(&request.aws).map_err(|e| AppError::Input(e.to_string()))?;
    let prefixes = match request.days {
        Some(days) => day_prefixes(&s3, bucket, prefix, days)?,
        None => vec![prefix.to_owned()],
    };
    let mut files = Vec::new();
    for p in &prefixes {
        for o in s3
            .objects(bucket, p)
            .map_err(|e| AppError::Input(e.to_string()))?
        {
            files.push(driftlog_ingest::RemoteFile {
                location: format!("s3://{bucket}/{}", o.key),
                size: o.size,
                version: o.etag,
            });
        }
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let mut store = crate::stores::open_events(&request.store)?;
    let started = Instant::now();
    let recording = RecordingObserver {
        inner: observer,
        recorder: ledger,
        store_id: store.store_id()?,
    };
    let remote: std::sync::Arc<dyn driftlog_ingest::Remote> = std::sync::Arc::new(S3Fetch {
        s3,
        prefetch: std::sync::OnceLock::new(),
    });
    let location = PathBuf::from(&request.location);
    let options = gated(
        &request.options,
        request.verify_digests.as_ref(),
        &[location.as_path()],
    )?;
    let summary =
        driftlog_ingest::ingest_remote(store.as_mut(), files, remote, &options, &recording)?;
    ledger
        .ingest(&request.store, &summary)
        .map_err(|e| AppError::recording("the ingest", e))?;
    Ok(IngestOutcome {
        elapsed: started.elapsed(),
        store_events: store.event_count()?,
        summary,
    })
}
