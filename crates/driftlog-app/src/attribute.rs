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
use std::sync::{Mutex, OnceLock};

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

/// The event store attribution reads, for one scan or for every stack of an org-wide scan.
///
/// Opening a store costs more than attributing a small stack's findings: SQLite reads the
/// schema, every statement is prepared again, the page cache starts cold, the string table is
/// loaded again, and a PostgreSQL store is connected to again. So handles are opened on first
/// use, lent to one thread at a time, and kept for the next stack; a run holds at most one per
/// thread that attributes at once. Attribution only reads (and remembers addresses), so what a
/// handle caches stays true for the whole run.
pub struct Evidence {
    location: PathBuf,
    /// Handles not lent out.
    idle: Mutex<Vec<Box<dyn EventStore>>>,
    /// How many events the store holds, counted once the first scan needs it (a count reads a
    /// whole index of a large store; nothing is added while findings are attributed).
    events: OnceLock<u64>,
}

impl Evidence {
    /// The store at `location`; nothing is opened until attribution needs it.
    pub fn new(location: &Path) -> Self {
        Evidence {
            location: location.to_owned(),
            idle: Mutex::new(Vec::new()),
            events: OnceLock::new(),
        }
    }

    pub fn location(&self) -> &Path {
        &self.location
    }

    /// Run `f` with a handle to the store, lent to this thread alone until `f` returns.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn EventStore) -> Result<R, AppError>,
    ) -> Result<R, AppError> {
        let lent = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut store = match lent {
            Some(store) => store,
            // Created (or migrated) by the first handle; the others find it up to date.
            None => crate::stores::open_events(&self.location)?,
        };
        let result = f(store.as_mut());
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(store);
        result
    }

    /// How many events the store holds (counted once per run).
    fn event_count(&self) -> Result<u64, AppError> {
        if let Some(n) = self.events.get() {
            return Ok(*n);
        }
        let n = self.with(|store| Ok(store.event_count()?))?;
        Ok(*self.events.get_or_init(|| n))
    }
}

/// Attribute every finding in place; returns the summary for the report and adds warnings.
#[allow(clippy::too_many_arguments)]
pub fn attribute_findings(
    findings: &mut [Finding],
    audit: &[PathBuf],
    evidence: &Evidence,
    aws: &driftlog_aws::AwsOptions,
    until_us: i64,
    warnings: &mut Vec<String>,
    ingested: &mut Option<driftlog_ingest::Summary>,
    ledger: &Recorder,
) -> Result<AuditSummary, AppError> {
    let store_path = evidence.location();
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
    // From now on `events --resource ADDRESS` finds what these resources' ids find. A store
    // that cannot be written to (read-only, busy) costs that convenience, not the scan.
    let known: Vec<(&str, &[String])> = findings
        .iter()
        .map(|f| (f.address.as_str(), f.identifiers.as_slice()))
        .collect();
    if let Err(e) = evidence.with(|store| Ok(store.remember_addresses(&known)?)) {
        warnings.push(format!(
            "could not record the findings' Terraform addresses in the event store: {e}"
        ));
    }
    let events_in_store = evidence.event_count()?;
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
    // Findings are attributed on every core, each thread reading through its own handle
    // (SQLite in WAL mode serves concurrent readers).
    findings
        .par_chunks_mut(32)
        .try_for_each(|chunk| -> Result<(), AppError> {
            evidence.with(|store| {
                for finding in chunk.iter_mut() {
                    finding.attribution = Some(attribute_one(&*store, finding, now)?);
                }
                Ok(())
            })
        })?;
    for finding in findings.iter() {
        match finding.attribution.as_ref().map(|a| a.confidence) {
            Some(Confidence::Certain) => summary.certain += 1,
            Some(Confidence::Likely) => summary.likely += 1,
            _ => summary.none += 1,
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(evidence: &Evidence) -> usize {
        evidence.idle.lock().unwrap().len()
    }

    #[test]
    fn one_handle_serves_scan_after_scan() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = Evidence::new(&dir.path().join("events.db"));
        assert_eq!(idle(&evidence), 0, "nothing is opened before it is needed");
        for _ in 0..50 {
            evidence
                .with(|store| {
                    store.remember_addresses(&[("aws_s3_bucket.a", &["a".to_owned()][..])])?;
                    Ok(())
                })
                .unwrap();
        }
        assert_eq!(evidence.event_count().unwrap(), 0);
        assert_eq!(
            idle(&evidence),
            1,
            "fifty uses one after another share a handle"
        );
    }

    #[test]
    fn threads_at_once_get_a_handle_each_and_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = Evidence::new(&dir.path().join("events.db"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let barrier = std::sync::Barrier::new(3);
        pool.broadcast(|_| {
            evidence
                .with(|_| {
                    // All three hold a handle at the same moment.
                    barrier.wait();
                    Ok(())
                })
                .unwrap()
        });
        assert_eq!(idle(&evidence), 3);
        pool.install(|| {
            (0..300).into_par_iter().for_each(|_| {
                evidence.with(|store| Ok(store.event_count()?)).unwrap();
            })
        });
        assert!(
            idle(&evidence) <= 3,
            "{} handles for 3 threads",
            idle(&evidence)
        );
    }
}
