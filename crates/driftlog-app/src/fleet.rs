//! Org-wide scans: many stacks, each a declared and a live state, in one run.
//!
//! `--declared 'stacks/*/terraform.tfstate' --live 'refreshed/*/terraform.tfstate'` expands
//! both globs and pairs the files by what the wildcards matched: each pattern's literal text
//! before its first wildcard and after its last is cut off, and what is left (`app-17` here)
//! names the stack. Stacks are scanned on every core, each alone, so memory follows the
//! largest pair of states rather than their sum; each report keeps only its findings. They
//! share one [`Evidence`]: the event store's handles are opened once and lent from stack to
//! stack. The scans are recorded in the ledger one after another, in stack order, once all
//! are done.

use crate::attribute::Evidence;
use crate::record::Recorder;
use crate::scan::{scan_with, ScanInputs, ScanRequest};
use crate::{AppError, Progress, Quiet};
use driftlog_core::glob::Glob;
use driftlog_core::report::Summary;
use driftlog_core::ScanReport;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One stack: its name and its two states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub declared: PathBuf,
    pub live: PathBuf,
}

/// Whether a `--declared`/`--live` value is a glob over many files.
pub fn is_glob(path: &Path) -> bool {
    path.to_str().is_some_and(Glob::is_pattern)
}

/// The files `pattern` matches, each with the key that names its stack.
fn expand(pattern: &str, option: &str) -> Result<BTreeMap<String, PathBuf>, AppError> {
    let first = pattern.find(['*', '?']).unwrap_or(pattern.len());
    let last = pattern.rfind(['*', '?']).map_or(pattern.len(), |i| i + 1);
    let (prefix, suffix) = (&pattern[..first], &pattern[last..]);
    // Walk from the folder the literal prefix names.
    let root = match prefix.rfind('/') {
        Some(i) => &prefix[..=i],
        None => "",
    };
    let start = if root.is_empty() { "." } else { root };
    let glob = Glob::new(pattern);
    let mut out = BTreeMap::new();
    let walk = Path::new(start)
        .is_dir()
        .then(|| walkdir::WalkDir::new(start).sort_by_file_name());
    for entry in walk.into_iter().flatten() {
        let entry = entry
            .map_err(|e| AppError::Input(format!("{option} {pattern}: walking {start}: {e}")))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let text = path.to_string_lossy();
        // `walkdir` spells paths under "." as "./x"; the pattern does not.
        let text = if root.is_empty() {
            text.strip_prefix("./").unwrap_or(&text).to_owned()
        } else {
            text.into_owned()
        };
        if !glob.matches(&text) || text.len() < prefix.len() + suffix.len() {
            continue;
        }
        let key = text[prefix.len()..text.len() - suffix.len()].to_owned();
        out.insert(key, PathBuf::from(text));
    }
    if out.is_empty() {
        return Err(AppError::Input(format!(
            "{option} {pattern}: no file matches"
        )));
    }
    Ok(out)
}

/// Pair the files of two globs by stack. A stack found on one side only is an error naming it:
/// a missing refreshed state must not pass for a clean stack.
pub fn pair(declared: &str, live: &str) -> Result<Vec<Stack>, AppError> {
    let d = expand(declared, "--declared")?;
    let mut l = expand(live, "--live")?;
    let mut stacks = Vec::with_capacity(d.len());
    let mut unpaired = Vec::new();
    for (name, declared) in d {
        match l.remove(&name) {
            Some(live) => stacks.push(Stack {
                name,
                declared,
                live,
            }),
            None => unpaired.push(format!("{name} (no live state)")),
        }
    }
    unpaired.extend(
        l.into_keys()
            .map(|name| format!("{name} (no declared state)")),
    );
    if !unpaired.is_empty() {
        let shown: Vec<&str> = unpaired.iter().take(10).map(String::as_str).collect();
        return Err(AppError::Input(format!(
            "{} stack(s) have only one state: {}{}",
            unpaired.len(),
            shown.join(", "),
            if unpaired.len() > 10 { ", …" } else { "" }
        )));
    }
    Ok(stacks)
}

/// One stack's outcome.
#[derive(Debug, Clone)]
pub struct StackOutcome {
    pub stack: Stack,
    /// The report, or why the stack could not be scanned (the others still are).
    pub report: Result<ScanReport, String>,
}

/// Every stack's outcome, in stack order, and the totals.
#[derive(Debug, Clone)]
pub struct FleetReport {
    pub stacks: Vec<StackOutcome>,
    pub total: Summary,
    /// Stacks with drift, and stacks that failed.
    pub drifted: usize,
    pub failed: usize,
}

/// Scan every stack with the settings of `template` (its inputs are replaced by each stack's).
/// `--audit` logs are stored once, before the stacks are scanned.
pub fn scan_all(
    stacks: Vec<Stack>,
    template: &ScanRequest,
    ledger: &Recorder,
    progress: &dyn Progress,
) -> Result<FleetReport, AppError> {
    if template.attribution && !template.audit.is_empty() {
        progress.step("storing the audit logs");
        let mut warnings = Vec::new();
        let now = jiff::Timestamp::now().as_microsecond();
        let ingested = crate::attribute::ingest_audit(
            &template.store,
            &template.audit,
            &template.aws,
            now,
            &mut warnings,
            ledger,
        )?;
        for w in warnings {
            tracing::warn!("{w}");
        }
        if let Some(ingested) = &ingested {
            ledger
                .ingest(&template.store, ingested)
                .map_err(|e| AppError::recording("the --audit ingest", e))?;
        }
    }
    let total = stacks.len() as u64;
    let done = AtomicU64::new(0);
    let off = Recorder {
        ledger: "off".into(),
        key: ledger.key.clone(),
    };
    // Every stack attributes through the same handles, opened once.
    let evidence = Evidence::new(&template.store);
    progress.count("stacks", 0, total);
    let outcomes: Vec<StackOutcome> = stacks
        .into_par_iter()
        .map(|stack| {
            let request = ScanRequest {
                inputs: ScanInputs::States {
                    declared: stack.declared.clone(),
                    live: stack.live.clone(),
                },
                audit: Vec::new(),
                ..template.clone()
            };
            let report = scan_with(&request, &off, &Quiet, &evidence).map_err(|e| e.to_string());
            progress.count("stacks", done.fetch_add(1, Ordering::Relaxed) + 1, total);
            StackOutcome { stack, report }
        })
        .collect();
    let mut fleet = FleetReport {
        stacks: Vec::with_capacity(outcomes.len()),
        total: Summary::default(),
        drifted: 0,
        failed: 0,
    };
    progress.step("recording the scans");
    let rules = crate::scan::load_ignore_rules(template.ignore_file.as_deref(), &template.ignore)?;
    ledger
        .ignore_rules(&rules)
        .map_err(|e| AppError::recording("the ignore rules", e))?;
    for outcome in outcomes {
        match &outcome.report {
            Ok(report) => {
                ledger
                    .scan(report)
                    .map_err(|e| AppError::recording("a stack's scan", e))?;
                let s = &report.summary;
                let t = &mut fleet.total;
                t.resources_scanned += s.resources_scanned;
                t.drifted += s.drifted;
                t.changed += s.changed;
                t.deleted += s.deleted;
                t.unmanaged += s.unmanaged;
                t.not_yet_applied += s.not_yet_applied;
                t.suppressed += s.suppressed;
                t.ignored += s.ignored;
                if report.has_drift() {
                    fleet.drifted += 1;
                }
            }
            Err(_) => fleet.failed += 1,
        }
        fleet.stacks.push(outcome);
    }
    Ok(fleet)
}
