//! `driftlog cloudtrail verify` for people (per account and region, each hour's verdict) and
//! machines (versioned JSON).

use crate::text::plural;
use driftlog_core::integrity::{Status, Validation};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The text report: per account and region, the invalid hours with why, the chain's breaks,
/// and the counts; one summary line.
pub fn text(v: &Validation, recorded: usize) -> String {
    let mut out = String::new();
    let mut groups: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, d) in v.digests.iter().enumerate() {
        groups
            .entry((d.account.as_str(), d.region.as_str()))
            .or_default()
            .push(i);
    }
    for ((account, region), indexes) in &groups {
        let digests: Vec<_> = indexes.iter().map(|i| &v.digests[*i]).collect();
        let valid = digests
            .iter()
            .filter(|d| d.status == Status::Valid && d.logs_invalid.is_empty())
            .count();
        let logs: usize = digests.iter().map(|d| d.logs_valid).sum();
        let first = digests.first().map(|d| d.start.as_str()).unwrap_or("");
        let last = digests.last().map(|d| d.end.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "{account} {region}: {} of {} valid ({first} to {last}), {} intact",
            valid,
            plural(digests.len(), "digest"),
            plural(logs, "log file")
        );
        for d in &digests {
            if let Status::Invalid { reason } = &d.status {
                let _ = writeln!(out, "  INVALID {} {}: {reason}", d.end, d.key);
                for (key, why) in d.logs_invalid.iter().skip(1) {
                    let _ = writeln!(out, "          {key}: {why}");
                }
            }
        }
        for b in v
            .breaks
            .iter()
            .filter(|b| b.account == *account && b.region == *region)
        {
            let what = if b.kind == "missing" {
                "MISSING"
            } else {
                "GAP    "
            };
            let _ = writeln!(out, "  {what} before {}: {}", b.after, b.detail);
        }
    }
    let missing = v.breaks.iter().filter(|b| b.kind == "missing").count();
    let gaps = v.breaks.len() - missing;
    let _ = writeln!(
        out,
        "{}: {} valid, {} invalid, {missing} missing, {gaps} {}; {recorded} newly recorded in the ledger",
        plural(v.digests.len(), "digest"),
        v.valid(),
        v.invalid(),
        if gaps == 1 { "gap" } else { "gaps" }
    );
    out
}

/// The JSON report.
pub fn json(v: &Validation) -> Value {
    json!({
        "format_version": crate::formats::CLOUDTRAIL_VERIFY,
        "valid": v.valid(),
        "invalid": v.invalid(),
        "failed": v.failed(),
        "digests": v.digests,
        "breaks": v.breaks,
    })
}
