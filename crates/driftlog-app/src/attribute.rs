//! Attribution for a scan: ingest `--audit` logs if given, then ask the event store who changed
//! each drifted resource.

use crate::record::{Recorder, RecordingObserver};
use crate::AppError;
use driftlog_core::attribution::attribute_with_requests;
use driftlog_core::cause::{Attribution, Confidence};
use driftlog_core::report::AuditSummary;
use driftlog_core::Finding;
use driftlog_ingest::{ingest, Observer, Options, Problem};
use driftlog_store::EventStore;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Collects ingest problems for the report's warnings.
#[derive(Default)]
struct Problems(Mutex<Vec<String>>);

impl Observer for Problems {
    fn problem(&self, problem: &Problem) {
        if let Ok(mut list) = self.0.lock() {
            list.push(problem.to_string());
        }
    }
}

fn attribute_one(
    store: &dyn EventStore,
    finding: &Finding,
    now: i64,
) -> Result<Attribution, AppError> {
    let stored = store.events_naming(&finding.identifiers)?;
    let ids: Vec<i64> = stored.iter().map(|s| s.id).collect();
    let events: Vec<_> = stored.into_iter().map(|s| s.event).collect();
    // The evidence is read only for writes whose action explains the change.
    let mut request = |i: usize| {
        store
            .raw(ids[i])
            .ok()
            .and_then(|raw| driftlog_audit::request_body(&raw))
    };
    Ok(attribute_with_requests(
        finding,
        &finding.identifiers,
        &events,
        now,
        None,
        &mut request,
    ))
}

/// Store `--audit` logs (recorded batch by batch in the ledger); problems become warnings.
pub(crate) fn ingest_audit(
    store: &mut dyn EventStore,
    audit: &[PathBuf],
    warnings: &mut Vec<String>,
    ledger: &Recorder,
) -> Result<driftlog_ingest::Summary, AppError> {
    let problems = Problems::default();
    let recording = RecordingObserver {
        inner: &problems,
        recorder: ledger,
        store_id: store.store_id()?,
    };
    let summary = ingest(store, audit, &Options::default(), &recording)?;
    let problems = problems.0.into_inner().unwrap_or_default();
    if summary.has_problems() {
        warnings.push(format!(
            "audit logs: {} files and {} records were left out; first: {}",
            summary.files_failed,
            summary.records_rejected,
            problems.first().map_or("", String::as_str)
        ));
    }
    Ok(summary)
}

/// Attribute every finding in place; returns the summary for the report and adds warnings.
pub fn attribute_findings(
    findings: &mut [Finding],
    audit: &[PathBuf],
    store_path: &Path,
    until_us: i64,
    warnings: &mut Vec<String>,
    ingested: &mut Option<driftlog_ingest::Summary>,
    ledger: &Recorder,
) -> Result<AuditSummary, AppError> {
    let store_name = store_path.display().to_string();
    if audit.is_empty() && !store_path.exists() {
        return Ok(AuditSummary {
            note: Some(format!(
                "no audit evidence was available (no event store at {store_name}; pass --audit \
                 PATH or run `driftlog ingest`)."
            )),
            ..AuditSummary::default()
        });
    }
    let mut store = driftlog_store::open(store_path)?;
    if !audit.is_empty() {
        *ingested = Some(ingest_audit(store.as_mut(), audit, warnings, ledger)?);
    }
    // From now on `events --resource ADDRESS` finds what these resources' ids find. A store
    // that cannot be written to (read-only, busy) costs that convenience, not the scan.
    let known: Vec<(&str, &[String])> = findings
        .iter()
        .map(|f| (f.address.as_str(), f.identifiers.as_slice()))
        .collect();
    if let Err(e) = store.remember_addresses(&known) {
        warnings.push(format!(
            "could not record the findings' Terraform addresses in the event store: {e}"
        ));
    }
    let events_in_store = store.event_count()?;
    if events_in_store == 0 {
        return Ok(AuditSummary {
            store: Some(store_name.clone()),
            note: Some(format!(
                "no audit evidence was available (the event store {store_name} is empty)."
            )),
            ..AuditSummary::default()
        });
    }
    let now = until_us;
    let mut summary = AuditSummary {
        evidence: true,
        store: Some(store_name),
        events_in_store,
        ..AuditSummary::default()
    };
    // Findings are attributed on every core, each thread reading through its own connection
    // (SQLite in WAL mode serves concurrent readers).
    findings.par_chunks_mut(32).try_for_each_init(
        || driftlog_store::open_existing(store_path),
        |store, chunk| -> Result<(), AppError> {
            let store = store
                .as_ref()
                .map_err(|e| AppError::Input(format!("opening the event store: {e}")))?;
            for finding in chunk {
                finding.attribution = Some(attribute_one(store.as_ref(), finding, now)?);
            }
            Ok(())
        },
    )?;
    for finding in findings.iter() {
        match finding.attribution.as_ref().map(|a| a.confidence) {
            Some(Confidence::Certain) => summary.certain += 1,
            Some(Confidence::Likely) => summary.likely += 1,
            _ => summary.none += 1,
        }
    }
    Ok(summary)
}
