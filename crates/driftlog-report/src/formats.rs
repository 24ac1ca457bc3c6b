//! Every machine format's version, in one place. A major number changes on any incompatible
//! change; fields are only ever added within one.

/// `driftlog scan -f json` (the report struct carries it).
pub const SCAN: &str = driftlog_core::report::FORMAT_VERSION;
/// `driftlog compare -f json` (the report struct carries it).
pub const COMPARE: &str = driftlog_core::compare::FORMAT_VERSION;
/// `driftlog remediate -f json`.
pub const REMEDIATION: &str = "1.0";
/// `driftlog cloudtrail verify -f json`.
pub const CLOUDTRAIL_VERIFY: &str = "1.0";
/// `driftlog events -f json` / `jsonl`.
pub const EVENTS: &str = "1.0";
/// `driftlog explain -f json`.
pub const EXPLAIN: &str = "1.0";
/// `driftlog ingest -f json`, the run's summary.
pub const INGEST_SUMMARY: &str = "1.1";

/// The width tables are laid out for: `$COLUMNS` when set (terminals and CI set it), else
/// `default`.
pub fn terminal_width(default: u16) -> u16 {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|w| *w > 0)
        .unwrap_or(default)
}
