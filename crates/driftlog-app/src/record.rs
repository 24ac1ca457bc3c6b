//! What driftlog records in its ledger, and recording it.
//!
//! Every entry is one of the typed structs below, serialized as RFC 8785 canonical JSON with
//! two fields the ledger adds: `kind` (the variant's name) and `seq` (its position). Values of
//! attributes never enter the ledger — paths, identifiers and hashes do — so no secret can.
//! The schemas are documented field by field in docs/ledger.md; a change to one is a new
//! field, never a changed meaning.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use driftlog_core::compare::CompareReport;
use driftlog_core::ScanReport;
use driftlog_ingest::{Observer, Problem, Summary};
use driftlog_ledger::merkle::{Hash, Tree};
use driftlog_ledger::note::SignerKey;
use driftlog_ledger::{Ledger, LedgerError};
use driftlog_store::BatchCommit;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One ledger entry. `kind` is the variant's name in kebab case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Entry {
    Scan(ScanEntry),
    Finding(FindingEntry),
    Ingest(IngestEntry),
    IngestBatch(IngestBatchEntry),
    Key(KeyEntry),
    Ack(AckEntry),
    IgnoreRules(IgnoreRulesEntry),
    Compare(CompareEntry),
    CloudtrailDigest(CloudTrailDigestEntry),
    Archive(ArchiveEntry),
    Prune(PruneEntry),
}

/// A scan: its inputs (by hash), mode, summary counts and attribution counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanEntry {
    pub driftlog_version: String,
    pub mode: String,
    pub inputs: Vec<ScanInput>,
    pub summary: serde_json::Value,
    pub audit: AuditCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanInput {
    pub role: String,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditCounts {
    pub events_in_store: u64,
    pub certain: u64,
    pub likely: u64,
    pub none: u64,
}

/// One finding of the scan at `scan`: which attributes changed (paths only, never values) and
/// the events that caused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingEntry {
    pub scan: u64,
    pub address: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub change: String,
    pub paths: Vec<String>,
    pub identifiers: Vec<String>,
    pub attribution: Option<FindingAttribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingAttribution {
    pub confidence: String,
    pub caused_by: Vec<Cause>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub source: String,
    pub event_id: String,
    pub principal: Option<String>,
    pub action: String,
    pub time: String,
}

/// An ingest run: each file read (path, SHA-256, event count), the totals, and the time span
/// of the events read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestEntry {
    pub store: String,
    pub files: Vec<IngestFile>,
    pub events_read: u64,
    pub events_inserted: u64,
    pub duplicates: u64,
    pub records_rejected: u64,
    pub files_failed: u64,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestFile {
    pub path: String,
    pub sha256: String,
    pub events: u64,
}

/// One committed store batch, committing to the contents of every event it stored: `root` is
/// the RFC 9162 Merkle root (base64) over the leaf hashes of those events' canonical bytes
/// (`AuditEvent::canonical_bytes`: normalized fields plus the SHA-256 of the original record),
/// in ascending store id. `ids` lists those ids as inclusive ranges. `replaced` names events
/// this batch replaced with a more complete copy (Kubernetes stages), with the leaf the
/// replaced copy had, so the earlier batch that committed to it still verifies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatchEntry {
    /// The store's own id (`meta.store_id`): one ledger may record several stores.
    pub store: String,
    pub events: u64,
    pub ids: Vec<(i64, i64)>,
    pub root: String,
    pub replaced: Vec<ReplacedEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplacedEvent {
    pub id: i64,
    /// Base64 leaf of the replaced copy; `null` if that copy predates leaf recording.
    pub leaf: Option<String>,
}

/// A new signing key (its verifier key), before any checkpoint is signed with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub name: String,
    pub verifier_key: String,
    pub replaced: bool,
}

/// Someone accepts a drift: who, why, until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckEntry {
    pub address: String,
    pub reason: String,
    pub by: String,
    pub expires: Option<String>,
}

/// A comparison of environments: each environment's input (by hash), the summary, and every
/// unexpected difference by address and attribute path (never values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareEntry {
    pub driftlog_version: String,
    pub environments: Vec<ScanInput>,
    pub summary: serde_json::Value,
    pub unexpected: Vec<UnexpectedDifference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnexpectedDifference {
    pub address: String,
    /// Environments it is missing from, when that is unexpected.
    pub missing_from: Vec<String>,
    pub paths: Vec<String>,
}

/// A CloudTrail digest validated by `driftlog cloudtrail verify`: CloudTrail's chain of custody
/// continued in driftlog's own log. `valid` is false for a digest that failed (with `reason`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudTrailDigestEntry {
    pub account: String,
    pub region: String,
    pub bucket: String,
    pub key: String,
    pub end: String,
    /// SHA-256 (hex) of the digest's uncompressed bytes.
    pub sha256: String,
    pub signature: Option<String>,
    pub logs_valid: u64,
    pub valid: bool,
    pub reason: Option<String>,
}

/// An archive run (`driftlog archive`): the store's events with ids above `after` up to
/// `through` (those at or after `since`, when given) written as Parquet files under
/// `destination` (a folder's absolute path or an `s3://` URL). Each file by its path under the
/// destination, its SHA-256 (hex), size and row count, and the store ids it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveEntry {
    pub store: String,
    pub destination: String,
    pub after: i64,
    pub through: i64,
    pub since: Option<String>,
    pub events: u64,
    pub files: Vec<ArchiveFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveFile {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows: u64,
    pub first_id: i64,
    pub last_id: i64,
}

/// Events removed from the store by retention (`driftlog prune`), appended before they are
/// removed: the store ids (inclusive ranges) of events older than `before` that the archive
/// holds (ids up to `archived_through`, the highest `through` of the store's `archive`
/// entries). `driftlog verify` counts them as pruned, not deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneEntry {
    pub store: String,
    pub before: String,
    pub archived_through: i64,
    pub events: u64,
    pub ids: Vec<(i64, i64)>,
}

/// The ignore rules a scan applied, whenever they differ from the last recorded set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IgnoreRulesEntry {
    pub rules: Vec<IgnoreRuleRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IgnoreRuleRecord {
    pub rule: String,
    pub origin: String,
    pub owner: Option<String>,
    pub reason: Option<String>,
    pub expires: Option<String>,
}

impl Entry {
    /// The kind and the body as the ledger stores them (the ledger adds `kind` and `seq`).
    pub fn to_parts(&self) -> (&'static str, serde_json::Value) {
        let kind = match self {
            Entry::Scan(_) => "scan",
            Entry::Finding(_) => "finding",
            Entry::Ingest(_) => "ingest",
            Entry::IngestBatch(_) => "ingest-batch",
            Entry::Key(_) => "key",
            Entry::Ack(_) => "ack",
            Entry::IgnoreRules(_) => "ignore-rules",
            Entry::Compare(_) => "compare",
            Entry::CloudtrailDigest(_) => "cloudtrail-digest",
            Entry::Archive(_) => "archive",
            Entry::Prune(_) => "prune",
        };
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.remove("kind");
        }
        (kind, value)
    }

    /// Read an entry back from its stored bytes.
    pub fn parse(body: &[u8]) -> Option<Entry> {
        serde_json::from_slice(body).ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger key {path}: {message}")]
    Key { path: PathBuf, message: String },
}

/// Where the ledger and its signing key live. `off` as the ledger path records nothing.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub ledger: PathBuf,
    pub key: PathBuf,
}

impl Recorder {
    pub fn enabled(&self) -> bool {
        self.ledger.as_os_str() != "off"
    }

    pub fn public_key(&self) -> PathBuf {
        self.key.with_extension("pub")
    }

    /// The signing key, when one exists.
    pub fn signer(&self) -> Result<Option<SignerKey>, RecordError> {
        if !self.key.exists() {
            return Ok(None);
        }
        let key_error = |message: String| RecordError::Key {
            path: self.key.clone(),
            message,
        };
        let text = std::fs::read_to_string(&self.key).map_err(|e| key_error(e.to_string()))?;
        SignerKey::parse(&text)
            .map(Some)
            .map_err(|e| key_error(e.to_string()))
    }

    /// Append entries, then sign a checkpoint when a key exists. `build` gets the position the
    /// first entry will have. Returns that position (`None` when recording is off or there is
    /// nothing to record).
    pub fn record(
        &self,
        build: impl FnOnce(u64) -> Vec<Entry>,
    ) -> Result<Option<u64>, RecordError> {
        self.append(build, true)
    }

    /// `checkpoint`: sign one afterwards. A checkpoint hashes every leaf of the log, so entries
    /// made many times in one run (committed batches) leave it to the run's last entry.
    fn append(
        &self,
        build: impl FnOnce(u64) -> Vec<Entry>,
        checkpoint: bool,
    ) -> Result<Option<u64>, RecordError> {
        if !self.enabled() {
            return Ok(None);
        }
        let mut ledger = crate::stores::open_ledger(&self.ledger)?;
        let entries = build(ledger.len()?);
        if entries.is_empty() {
            return Ok(None);
        }
        let parts: Vec<(&str, serde_json::Value)> = entries.iter().map(Entry::to_parts).collect();
        let first = ledger.append(&parts)?.first().copied();
        if checkpoint {
            if let Some(signer) = self.signer()? {
                ledger.checkpoint(&signer)?;
            }
        }
        Ok(first)
    }

    /// The scan and one entry per finding.
    pub fn scan(&self, report: &ScanReport) -> Result<(), RecordError> {
        self.record(|seq| scan_entries(report, seq))?;
        Ok(())
    }

    /// A comparison and its unexpected differences, in one entry.
    pub fn compare(&self, report: &CompareReport) -> Result<Option<u64>, RecordError> {
        let entry = CompareEntry {
            driftlog_version: report.driftlog_version.to_owned(),
            environments: report
                .environments
                .iter()
                .map(|e| ScanInput {
                    role: e.name.clone(),
                    path: e.input.path.clone(),
                    sha256: e.input.sha256.clone(),
                    bytes: e.input.bytes,
                })
                .collect(),
            summary: serde_json::to_value(&report.summary).unwrap_or_default(),
            unexpected: report
                .resources
                .iter()
                .filter_map(|r| {
                    let paths: Vec<String> = r
                        .differences
                        .iter()
                        .filter(|d| d.expected.is_none())
                        .map(|d| d.path.clone())
                        .collect();
                    let missing_from = if r.missing_is_unexpected() {
                        r.missing_from.clone()
                    } else {
                        Vec::new()
                    };
                    (!paths.is_empty() || !missing_from.is_empty()).then(|| UnexpectedDifference {
                        address: r.address.clone(),
                        missing_from,
                        paths,
                    })
                })
                .collect(),
        };
        self.record(|_| vec![Entry::Compare(entry)])
    }

    /// An ingest run's files and totals.
    pub fn ingest(&self, store: &Path, s: &Summary) -> Result<(), RecordError> {
        // A run that stored anything is recorded (and signs over its batch entries).
        if s.files.is_empty() && s.stored.inserted == 0 && s.stored.upgraded == 0 {
            return Ok(());
        }
        let time = |us: Option<i64>| us.map(driftlog_core::time::format_time_us);
        self.record(|_| {
            vec![Entry::Ingest(IngestEntry {
                store: crate::stores::shown(store),
                files: s
                    .files
                    .iter()
                    .map(|(path, sha256, events)| IngestFile {
                        path: path.clone(),
                        sha256: sha256.clone(),
                        events: *events,
                    })
                    .collect(),
                events_read: s.events_read,
                events_inserted: s.stored.inserted,
                duplicates: s.stored.duplicates,
                records_rejected: s.records_rejected,
                files_failed: s.files_failed,
                first_event: time(s.first_event_us),
                last_event: time(s.last_event_us),
            })]
        })?;
        Ok(())
    }

    /// A committed store batch (see [`IngestBatchEntry`]). Durable at once, but signed over by
    /// the checkpoint of the run's [`Recorder::ingest`] entry, not one checkpoint per batch.
    pub fn ingest_batch(&self, store_id: &str, commit: &BatchCommit) -> Result<(), RecordError> {
        self.append(
            |_| vec![Entry::IngestBatch(batch_entry(store_id, commit))],
            false,
        )?;
        Ok(())
    }

    /// The ignore rules, when they differ from the last recorded set.
    pub fn ignore_rules(
        &self,
        rules: &driftlog_core::ignore::IgnoreRules,
    ) -> Result<(), RecordError> {
        if !self.enabled() {
            return Ok(());
        }
        let current: Vec<IgnoreRuleRecord> = rules
            .rules()
            .iter()
            .map(|r| IgnoreRuleRecord {
                rule: r.text.clone(),
                origin: r.origin.clone(),
                owner: r.owner.clone(),
                reason: r.reason.clone(),
                expires: r.expires.map(|t| t.to_string()),
            })
            .collect();
        let ledger = crate::stores::open_ledger(&self.ledger)?;
        let previous = latest(&ledger, "ignore-rules", |e| match e {
            Entry::IgnoreRules(r) => Some(r.rules),
            _ => None,
        })?;
        let unchanged = match &previous {
            Some(p) => p == &current,
            None => current.is_empty(),
        };
        if !unchanged {
            self.record(|_| vec![Entry::IgnoreRules(IgnoreRulesEntry { rules: current })])?;
        }
        Ok(())
    }

    /// Validated CloudTrail digests, each once: a digest already recorded with the same
    /// contents and verdict is not appended again. Returns how many were appended.
    pub fn cloudtrail_digests(
        &self,
        digests: Vec<CloudTrailDigestEntry>,
    ) -> Result<usize, RecordError> {
        if !self.enabled() || digests.is_empty() {
            return Ok(0);
        }
        let known: std::collections::HashSet<(String, String, bool)> =
            match crate::stores::open_ledger(&self.ledger) {
                Ok(ledger) => all_of(&ledger, "cloudtrail-digest", |e| match e {
                    Entry::CloudtrailDigest(d) => Some((d.key, d.sha256, d.valid)),
                    _ => None,
                })?
                .into_iter()
                .collect(),
                Err(e) => return Err(e.into()),
            };
        let new: Vec<Entry> = digests
            .into_iter()
            .filter(|d| !known.contains(&(d.key.clone(), d.sha256.clone(), d.valid)))
            .map(Entry::CloudtrailDigest)
            .collect();
        let n = new.len();
        self.record(|_| new)?;
        Ok(n)
    }

    /// An acknowledgement; returns its position.
    pub fn ack(&self, ack: AckEntry) -> Result<Option<u64>, RecordError> {
        self.record(|_| vec![Entry::Ack(ack)])
    }

    /// A new key, recorded before anything is signed with it.
    pub fn key(&self, entry: KeyEntry) -> Result<(), RecordError> {
        let mut ledger = crate::stores::open_ledger(&self.ledger)?;
        ledger.append(&[Entry::Key(entry).to_parts()])?;
        Ok(())
    }
}

/// The newest entry of `kind` that `pick` accepts, searching back from the end. Only entries
/// of that kind are parsed: a ledger holds millions of others.
fn latest<T>(
    ledger: &Ledger,
    kind: &str,
    pick: impl Fn(Entry) -> Option<T>,
) -> Result<Option<T>, RecordError> {
    let mut end = ledger.len()?;
    while end > 0 {
        let start = end.saturating_sub(256);
        for e in ledger.entries(start, end)?.into_iter().rev() {
            if e.kind != kind {
                continue;
            }
            if let Some(found) = Entry::parse(&e.body).and_then(&pick) {
                return Ok(Some(found));
            }
        }
        end = start;
    }
    Ok(None)
}

/// Every entry of `kind` that `pick` accepts, oldest first (only those entries are parsed).
fn all_of<T>(
    ledger: &Ledger,
    kind: &str,
    pick: impl Fn(Entry) -> Option<T>,
) -> Result<Vec<T>, RecordError> {
    let (len, mut start, mut out) = (ledger.len()?, 0, Vec::new());
    while start < len {
        let end = (start + 4096).min(len);
        for e in ledger.entries(start, end)? {
            if e.kind == kind {
                out.extend(Entry::parse(&e.body).and_then(&pick));
            }
        }
        start = end;
    }
    Ok(out)
}

fn scan_entries(report: &ScanReport, scan_seq: u64) -> Vec<Entry> {
    let mut entries = vec![Entry::Scan(ScanEntry {
        driftlog_version: report.driftlog_version.to_string(),
        mode: report.mode.clone(),
        inputs: report
            .inputs
            .iter()
            .map(|i| ScanInput {
                role: i.role.clone(),
                path: i.path.clone(),
                sha256: i.sha256.clone(),
                bytes: i.bytes,
            })
            .collect(),
        summary: serde_json::to_value(&report.summary).unwrap_or_default(),
        audit: AuditCounts {
            events_in_store: report.audit.events_in_store,
            certain: report.audit.certain as u64,
            likely: report.audit.likely as u64,
            none: report.audit.none as u64,
        },
    })];
    for f in &report.findings {
        entries.push(Entry::Finding(FindingEntry {
            scan: scan_seq,
            address: f.address.clone(),
            resource_type: f.resource_type.clone(),
            change: f.kind.as_str().to_owned(),
            paths: f.changes.iter().map(|c| c.path.clone()).collect(),
            identifiers: f.identifiers.clone(),
            attribution: f.attribution.as_ref().map(|a| FindingAttribution {
                confidence: a.confidence.as_str().to_owned(),
                caused_by: a
                    .caused_by
                    .iter()
                    .map(|c| Cause {
                        source: c.source.clone(),
                        event_id: c.event_id.clone(),
                        principal: c.principal.clone(),
                        action: c.action.clone(),
                        time: c.time.clone(),
                    })
                    .collect(),
            }),
        }));
    }
    entries
}

/// The RFC 9162 root over leaves, as base64.
pub fn root_b64(leaves: impl IntoIterator<Item = Hash>) -> String {
    let mut tree = Tree::default();
    for leaf in leaves {
        tree.push(leaf);
    }
    let size = tree.len();
    B64.encode(tree.root(size).unwrap_or_default())
}

/// Sorted ids as inclusive ranges: `[1, 2, 3, 7]` → `[(1, 3), (7, 7)]`.
pub fn id_ranges(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for id in ids {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == id => *end = id,
            _ => out.push((id, id)),
        }
    }
    out
}

fn batch_entry(store_id: &str, commit: &BatchCommit) -> IngestBatchEntry {
    IngestBatchEntry {
        store: store_id.to_owned(),
        events: commit.stored.len() as u64,
        ids: id_ranges(commit.stored.iter().map(|(id, _)| *id)),
        root: root_b64(commit.stored.iter().map(|(_, leaf)| *leaf)),
        replaced: commit
            .replaced
            .iter()
            .map(|(id, leaf)| ReplacedEvent {
                id: *id,
                leaf: leaf.map(|l| B64.encode(l)),
            })
            .collect(),
    }
}

/// An ingest observer that records each committed batch in the ledger as it commits, and
/// passes everything on to `inner` (a progress bar, a problem printer).
pub struct RecordingObserver<'a> {
    pub inner: &'a dyn Observer,
    pub recorder: &'a Recorder,
    pub store_id: String,
}

impl Observer for RecordingObserver<'_> {
    fn planned(&self, files: u64, bytes: u64) {
        self.inner.planned(files, bytes)
    }
    fn file_done(&self, bytes: u64, events: u64) {
        self.inner.file_done(bytes, events)
    }
    fn problem(&self, problem: &Problem) {
        self.inner.problem(problem)
    }
    fn batch_committed(&self, commit: &BatchCommit) -> Result<(), String> {
        self.inner.batch_committed(commit)?;
        self.recorder
            .ingest_batch(&self.store_id, commit)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(id_ranges([1, 2, 3, 7, 9, 10]), [(1, 3), (7, 7), (9, 10)]);
        assert!(id_ranges([]).is_empty());
    }

    #[test]
    fn entries_round_trip_with_their_kind() {
        let e = Entry::Ack(AckEntry {
            address: "aws_s3_bucket.logs".into(),
            reason: "migration".into(),
            by: "alice".into(),
            expires: None,
        });
        let (kind, body) = e.to_parts();
        assert_eq!(kind, "ack");
        assert!(body.get("kind").is_none());
        let mut stored = body.clone();
        stored["kind"] = "ack".into();
        stored["seq"] = 3.into();
        assert_eq!(Entry::parse(&serde_json::to_vec(&stored).unwrap()), Some(e));
    }
}
