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
    if finding.provider == "kubernetes" {
        let mut request = |i: usize| {
            store
                .raw(ids[i])
                .map(|raw| driftlog_audit::kubernetes_request(&raw))
                .unwrap_or_default()
        };
        return Ok(driftlog_core::attribution::kubernetes::attribute(
            finding,
            &events,
            now,
            &mut request,
        ));
    }
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

/// How far back `--audit s3://…` lists a trail's delivery days before the scan's time: as far
/// as CloudTrail's own event history goes.
const S3_AUDIT_DAYS: i64 = 90;

/// Store `--audit` logs (recorded batch by batch in the ledger); problems become warnings.
/// Local files and folders are one run, whose summary is returned for the scan to record;
/// each `s3://BUCKET[/PREFIX]` trail is its own run (recorded as it ends), listing only the
/// delivery days of the [`S3_AUDIT_DAYS`] before `until_us`.
pub(crate) fn ingest_audit(
    store_path: &Path,
    audit: &[PathBuf],
    aws: &driftlog_aws::AwsOptions,
    until_us: i64,
    warnings: &mut Vec<String>,
    ledger: &Recorder,
) -> Result<Option<driftlog_ingest::Summary>, AppError> {
    let note =
        |warnings: &mut Vec<String>, summary: &driftlog_ingest::Summary, problems: Problems| {
            let problems = problems.0.into_inner().unwrap_or_default();
            if summary.has_problems() {
                warnings.push(format!(
                    "audit logs: {} files and {} records were left out; first: {}",
                    summary.files_failed,
                    summary.records_rejected,
                    problems.first().map_or("", String::as_str)
                ));
            }
        };
    let (remote, local): (Vec<&PathBuf>, Vec<&PathBuf>) = audit
        .iter()
        .partition(|p| driftlog_aws::is_s3(&p.to_string_lossy()));
    let until = jiff::tz::Offset::UTC
        .to_datetime(
            jiff::Timestamp::from_microsecond(until_us)
                .map_err(|e| AppError::Input(format!("the scan's time: {e}")))?,
        )
        .date();
    let since = until
        .checked_sub(jiff::Span::new().days(S3_AUDIT_DAYS))
        .unwrap_or(until);
    for location in remote {
        let request = crate::ingest::S3IngestRequest {
            location: location.to_string_lossy().into_owned(),
            days: Some((since, until)),
            store: store_path.to_owned(),
            options: Options::default(),
            aws: aws.clone(),
            verify_digests: None,
        };
        let problems = Problems::default();
        let outcome = crate::ingest::ingest_s3(&request, ledger, &problems)?;
        note(warnings, &outcome.summary, problems);
    }
    if local.is_empty() {
        return Ok(None);
    }
    let mut store = crate::stores::open_events(store_path)?;
    let problems = Problems::default();
    let recording = RecordingObserver {
        inner: &problems,
        recorder: ledger,
        store_id: store.store_id()?,
    };
    let local: Vec<PathBuf> = local.into_iter().cloned().collect();
    let summary = ingest(store.as_mut(), &local, &Options::default(), &recording)?;
    note(warnings, &summary, problems);
    Ok(Some(summary))
}

/// Attribute every finding in place; returns the summary for the report and adds warnings.
#[allow(clippy::too_many_arguments)]
pub fn attribute_findings(
    findings: &mut [Finding],
    audit: &[PathBuf],
    store_path: &Path,
    aws: &driftlog_aws::AwsOptions,
    until_us: i64,
    warnings: &mut Vec<String>,
    ingested: &mut Option<driftlog_ingest::Summary>,
    ledger: &Recorder,
) -> Result<AuditSummary, AppError> {
    let store_name = crate::stores::shown(store_path);
    if audit.is_empty() && !crate::stores::exists(store_path) {
        return Ok(AuditSummary {
            note: Some(format!(
                "no audit evidence was available (no event store at {store_name}; pass --audit \
                 PATH or run `driftlog ingest`)."
            )),
            ..AuditSummary::default()
        });
    }
    if !audit.is_empty() {
        *ingested = ingest_audit(store_path, audit, aws, until_us, warnings, ledger)?;
    }
    let mut store = crate::stores::open_events(store_path)?;
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
        || crate::stores::open_events_existing(store_path),
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
