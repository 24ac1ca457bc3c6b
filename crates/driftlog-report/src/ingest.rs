//! What an ingest did, for people (`text`) and machines (`json`, versioned). The numbers are
//! plain fields so this crate needs no reader or store to render them.

use crate::text::plural;
use serde_json::{json, Value};

/// The totals of one ingest run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestTotals {
    pub store: String,
    pub seconds: f64,
    pub files_read: u64,
    pub files_unchanged: u64,
    pub files_not_logs: u64,
    pub files_failed: u64,
    /// With `--verify-digests`: files refused (altered), and stored without a valid digest.
    pub files_refused: u64,
    pub files_unverified: u64,
    pub bytes_read: u64,
    pub events_read: u64,
    pub inserted: u64,
    pub duplicates: u64,
    /// Stored events replaced by a more complete copy of the same event.
    pub upgraded: u64,
    pub records_rejected: u64,
    pub records_ignored: u64,
    /// Events in the store afterwards.
    pub store_events: u64,
}

impl IngestTotals {
    /// Anything left out makes the run a failure, though the rest was stored.
    pub fn has_problems(&self) -> bool {
        self.files_failed > 0 || self.records_rejected > 0
    }
}

/// A few lines: what was read, what was new, what was skipped or left out and why.
pub fn text(t: &IngestTotals) -> String {
    let mb = t.bytes_read as f64 / 1e6;
    let mut text = format!(
        "ingested {} events from {} files ({mb:.1} MB) in {:.1} s: {} new, {} already stored",
        t.events_read, t.files_read, t.seconds, t.inserted, t.duplicates,
    );
    if t.upgraded > 0 {
        text.push_str(&format!(
            ", {} replaced by a more complete copy",
            t.upgraded
        ));
    }
    text.push_str(&format!(
        "\n{} files unchanged since the last ingest (skipped)",
        t.files_unchanged
    ));
    if t.files_not_logs > 0 {
        text.push_str(&format!(
            "; {} files in directories are not audit logs by name or are CloudTrail digests (skipped)",
            t.files_not_logs
        ));
    }
    if t.records_ignored > 0 {
        text.push_str(&format!(
            "\n{} records are not audit events (digests, other log entries) and were skipped",
            t.records_ignored
        ));
    }
    if t.files_refused > 0 || t.files_unverified > 0 {
        text.push_str(&format!(
            "\ndigests: {} refused as altered, {} stored without a valid digest vouching for them",
            plural(t.files_refused as usize, "file"),
            plural(t.files_unverified as usize, "file")
        ));
    }
    if t.has_problems() {
        text.push_str(&format!(
            "\nleft out: {} and {} (see the warnings above); the rest was stored",
            plural(t.files_failed as usize, "file"),
            plural(t.records_rejected as usize, "record")
        ));
    }
    text.push_str(&format!(
        "\nstore {} now holds {} events",
        t.store, t.store_events
    ));
    text
}

/// The versioned JSON summary (docs/audit-logs.md).
pub fn json(t: &IngestTotals) -> Value {
    let mut v = json!({
        "format_version": crate::formats::INGEST_SUMMARY,
        "store": t.store,
        "seconds": (t.seconds * 1000.0).round() / 1000.0,
        "files": {
            "read": t.files_read,
            "unchanged": t.files_unchanged,
            "not_logs": t.files_not_logs,
            "failed": t.files_failed,
        },
        "bytes_read": t.bytes_read,
        "events": {
            "read": t.events_read,
            "inserted": t.inserted,
            "duplicates": t.duplicates,
            "upgraded": t.upgraded,
        },
        "records": {
            "rejected": t.records_rejected,
            "ignored": t.records_ignored,
        },
        "store_events": t.store_events,
    });
    // 1.1: only with --verify-digests.
    if t.files_refused > 0 || t.files_unverified > 0 {
        v["files"]["refused"] = json!(t.files_refused);
        v["files"]["unverified"] = json!(t.files_unverified);
    }
    v
}
