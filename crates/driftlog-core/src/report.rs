//! The result of one scan, as every output format sees it.
//!
//! The JSON output is this struct serialized; `FORMAT_VERSION` is bumped on any incompatible
//! change to field names or meanings, and new optional fields bump the minor number.

use crate::finding::{Finding, FindingKind, PendingChange, SuppressedChange};
use crate::ignore::{ExpiredRule, IgnoredItem};
use serde::Serialize;

/// Version of the JSON report schema (documented in docs/reports.md).
pub const FORMAT_VERSION: &str = "1.3";

/// One input file the scan read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputFile {
    /// `declared`, `live` or `plan`.
    pub role: String,
    pub path: String,
    /// What the file was detected as (`state_v4`, `show_json_state`, `plan`, `cloud_plan`).
    pub detected: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub resources_scanned: usize,
    pub drifted: usize,
    pub changed: usize,
    pub deleted: usize,
    pub unmanaged: usize,
    pub not_yet_applied: usize,
    pub suppressed: usize,
    pub ignored: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub format_version: &'static str,
    pub driftlog_version: &'static str,
    /// `state` (declared vs live), `plan`, or `terraform` (plan made by running the tool).
    pub mode: String,
    pub inputs: Vec<InputFile>,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub not_yet_applied: Vec<PendingChange>,
    pub suppressed: Vec<SuppressedChange>,
    pub ignored: Vec<IgnoredItem>,
    pub expired_ignore_rules: Vec<ExpiredRule>,
    pub warnings: Vec<String>,
    /// What the audit logs could say about the findings (format 1.1).
    pub audit: AuditSummary,
    /// What a live read of the cloud did (format 1.3; only for `--live aws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSummary>,
    /// Some reads failed (see `live.alerts`): the findings cover only what could be read
    /// (format 1.3; present only when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// A live read: where it looked, what it cost, and what it could not check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveSummary {
    /// `aws`.
    pub provider: String,
    pub regions: Vec<String>,
    /// Declared resources read and found, and read and gone.
    pub read: usize,
    pub missing: usize,
    /// Whether every supported type was listed for unmanaged resources.
    pub enumerated: bool,
    /// API requests made (every attempt), how many were throttled, and retries.
    pub requests: u64,
    pub throttled: u64,
    pub retried: u64,
    /// Attributes (or whole resources) that were not compared, by type.
    pub not_checked: Vec<NotChecked>,
    /// Resources that exist but belong to nobody's configuration by design (AWS defaults).
    pub excluded: Vec<Excluded>,
    /// Reads that failed; any alert makes the report `partial`.
    pub alerts: Vec<LiveAlert>,
}

/// What was not compared for one type, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    #[serde(rename = "type")]
    pub resource_type: String,
    /// How many declared resources of the type this applies to.
    pub resources: usize,
    /// `attributes not read` (the listed ones were not compared), `type not supported`,
    /// `no id in the state`, or `read failed`.
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// A live resource left out of the unmanaged ones, with the rule that left it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    pub region: String,
    pub rule: String,
}

/// A service and region that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveAlert {
    pub service: String,
    pub region: String,
    pub types: Vec<String>,
    /// `denied` (permissions, a region not opted in, an unsupported endpoint) or `failed`.
    pub kind: String,
    pub code: String,
    pub message: String,
}

/// The audit evidence a scan used for attribution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditSummary {
    /// Whether any audit events were available at all.
    pub evidence: bool,
    /// The event store searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub events_in_store: u64,
    /// Findings by attribution confidence.
    pub certain: usize,
    pub likely: usize,
    pub none: usize,
    /// Why there is no attribution, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ScanReport {
    /// Assemble a report; findings are sorted by address so output is stable.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mode: &str,
        inputs: Vec<InputFile>,
        resources_scanned: usize,
        mut findings: Vec<Finding>,
        mut not_yet_applied: Vec<PendingChange>,
        mut suppressed: Vec<SuppressedChange>,
        ignored: Vec<IgnoredItem>,
        expired_ignore_rules: Vec<ExpiredRule>,
        warnings: Vec<String>,
    ) -> Self {
        findings.sort_by(|a, b| (&a.address, &a.deposed).cmp(&(&b.address, &b.deposed)));
        not_yet_applied.sort_by(|a, b| a.address.cmp(&b.address));
        suppressed.sort_by(|a, b| (&a.address, &a.path).cmp(&(&b.address, &b.path)));
        let count = |kind| findings.iter().filter(|f| f.kind == kind).count();
        let summary = Summary {
            resources_scanned,
            drifted: findings.len(),
            changed: count(FindingKind::Changed),
            deleted: count(FindingKind::Deleted),
            unmanaged: count(FindingKind::Unmanaged),
            not_yet_applied: not_yet_applied.len(),
            suppressed: suppressed.len(),
            ignored: ignored.len(),
        };
        Self {
            format_version: FORMAT_VERSION,
            driftlog_version: env!("CARGO_PKG_VERSION"),
            mode: mode.to_owned(),
            inputs,
            summary,
            findings,
            not_yet_applied,
            suppressed,
            ignored,
            expired_ignore_rules,
            warnings,
            audit: AuditSummary::default(),
            live: None,
            partial: false,
        }
    }

    pub fn has_drift(&self) -> bool {
        !self.findings.is_empty()
    }
}
