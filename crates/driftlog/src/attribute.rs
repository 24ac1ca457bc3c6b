//! Attribution for `driftlog scan`: ingest `--audit` logs if given, then ask the event store who
//! changed each drifted resource.

use anyhow::{Context, Result};
use driftlog_core::attribution::{attribute, Confidence};
use driftlog_core::report::AuditSummary;
use driftlog_core::Finding;
use driftlog_store::ingest::{ingest, Observer, Options, Problem};
use driftlog_store::Store;
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

/// Attribute every finding in place; returns the summary for the report and adds warnings.
pub fn attribute_findings(
    findings: &mut [Finding],
    audit: &[PathBuf],
    store_path: &Path,
    warnings: &mut Vec<String>,
) -> Result<AuditSummary> {
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
    let mut store = Store::open(store_path)?;
    if !audit.is_empty() {
        let problems = Problems::default();
        let summary = ingest(&mut store, audit, &Options::default(), &problems)
            .with_context(|| format!("ingesting --audit logs into {store_name}"))?;
        let problems = problems.0.into_inner().unwrap_or_default();
        if summary.has_problems() {
            warnings.push(format!(
                "audit logs: {} files and {} records were left out; first: {}",
                summary.files_failed,
                summary.records_rejected,
                problems.first().map_or("", String::as_str)
            ));
        }
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
    let now = jiff::Timestamp::now().as_microsecond();
    let mut summary = AuditSummary {
        evidence: true,
        store: Some(store_name),
        events_in_store,
        ..AuditSummary::default()
    };
    for finding in findings.iter_mut() {
        let events: Vec<_> = store
            .events_naming(&finding.identifiers)?
            .into_iter()
            .map(|stored| stored.event)
            .collect();
        let attribution = attribute(finding, &finding.identifiers, &events, now, None);
        match attribution.confidence {
            Confidence::Certain => summary.certain += 1,
            Confidence::Likely => summary.likely += 1,
            Confidence::None => summary.none += 1,
        }
        finding.attribution = Some(attribution);
    }
    Ok(summary)
}
