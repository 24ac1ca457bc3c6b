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
            store: store.display().to_string(),
            seconds: self.elapsed.as_secs_f64(),
            files_read: s.files_read,
            files_unchanged: s.files_unchanged,
            files_not_logs: s.files_not_logs,
            files_failed: s.files_failed,
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
    let mut store = driftlog_store::open(&request.store)?;
    tracing::debug!(
        store = %request.store.display(),
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
    let summary =
        driftlog_ingest::ingest(store.as_mut(), &request.paths, &request.options, &recording)?;
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
