//! The ingest pipeline: find the files, skip the ones already in the store, parse the rest on
//! every core, and feed one writer that commits large sorted batches.
//!
//! ```text
//!  inputs ─► plan (walk, skip unchanged) ─► rayon: read + parse + compress ─► channel ─► writer
//! ```
//!
//! Memory stays bounded whatever the corpus size: the channel holds a few files, the writer at
//! most one batch. Only a single file is read whole (a CloudTrail delivery file, a few MB);
//! JSON-lines files stream.

use crate::{BatchStats, FileBatch, PreparedEvent, Store, StoreError};
use driftlog_audit::{Location, Rejection, Sink};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

/// Tuning knobs; the defaults are what the benchmark measured best on two cores.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events per transaction. Larger batches amortise index updates; each costs memory.
    pub batch_events: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_events: 100_000,
        }
    }
}

/// Something that could not be ingested.
#[derive(Debug, Clone)]
pub enum Problem {
    /// The whole file was left out.
    File { path: String, error: String },
    /// One record was left out; the rest of its file was kept.
    Record {
        path: String,
        location: Location,
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::File { path, error } => write!(f, "{path}: skipped the whole file: {error}"),
            Problem::Record {
                path,
                location,
                reason,
            } => write!(f, "{path}:{location}: skipped record: {reason}"),
        }
    }
}

/// Hooks for progress display and problem reports, called as work happens.
pub trait Observer: Sync {
    fn planned(&self, _files: u64, _bytes: u64) {}
    fn file_done(&self, _bytes: u64, _events: u64) {}
    fn problem(&self, _problem: &Problem) {}
}

/// An observer that watches nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// What an ingest did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files read this run.
    pub files_read: u64,
    /// Files skipped because the store already has them (same path, size and time, or the
    /// same content under another name).
    pub files_unchanged: u64,
    /// Files in walked directories that are not audit logs by name (`README.md`), and
    /// CloudTrail digest files.
    pub files_not_logs: u64,
    /// Files left out whole.
    pub files_failed: u64,
    pub bytes_read: u64,
    /// Events parsed from the files read.
    pub events_read: u64,
    pub stored: BatchStats,
    /// Records left out one by one.
    pub records_rejected: u64,
    /// Well-formed records that are not audit events (digests, non-audit log entries).
    pub records_ignored: u64,
}

impl Summary {
    /// Anything left out makes the run a failure (exit 1), though the rest was stored.
    pub fn has_problems(&self) -> bool {
        self.files_failed > 0 || self.records_rejected > 0
    }
}

/// One file to read.
struct Planned {
    path: PathBuf,
    key: String,
    size: u64,
    mtime_ns: i64,
}

enum Outcome {
    Read {
        batch: FileBatch,
        bytes: u64,
        rejections: Vec<Rejection>,
        ignored: u64,
    },
    SameContent {
        bytes: u64,
    },
    Failed {
        key: String,
        error: String,
        bytes: u64,
    },
}

/// Ingest `inputs` (files, directories walked recursively, `-` for standard input).
pub fn ingest(
    store: &mut Store,
    inputs: &[PathBuf],
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let (known_paths, known_hashes) = store.known_files()?;

    let mut todo = Vec::new();
    let mut stdin = false;
    for input in inputs {
        if input.as_os_str() == "-" {
            stdin = true;
            continue;
        }
        plan(input, &known_paths, &mut todo, &mut summary, observer);
    }
    observer.planned(
        todo.len() as u64 + u64::from(stdin),
        todo.iter().map(|p| p.size).sum(),
    );

    let mut writer = Writer {
        store,
        pending: Vec::new(),
        pending_events: 0,
        batch_events: options.batch_events.max(1),
    };
    if stdin {
        let outcome = read_stdin();
        writer.take(outcome, &known_hashes, &mut summary, observer)?;
    }

    let cancel = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Outcome>(8);
    let result = std::thread::scope(|scope| {
        let cancel = &cancel;
        let known_hashes = &known_hashes;
        scope.spawn(move || {
            todo.par_iter().for_each_with(tx, |tx, file| {
                if cancel.load(Ordering::Relaxed) {
                    return;
                }
                let outcome = read_file(file, known_hashes);
                if tx.send(outcome).is_err() {
                    cancel.store(true, Ordering::Relaxed);
                }
            });
        });
        let mut result = Ok(());
        for outcome in rx.iter() {
            if let Err(e) = writer.take(outcome, known_hashes, &mut summary, observer) {
                cancel.store(true, Ordering::Relaxed);
                result = Err(e);
                break;
            }
        }
        // Dropping the receiver (end of this closure) unblocks producers after a failure.
        drop(rx);
        result
    });
    result?;
    writer.flush(&mut summary)?;
    Ok(summary)
}

struct Writer<'s> {
    store: &'s mut Store,
    pending: Vec<FileBatch>,
    pending_events: usize,
    batch_events: usize,
}

impl Writer<'_> {
    fn take(
        &mut self,
        outcome: Outcome,
        known_hashes: &HashSet<String>,
        summary: &mut Summary,
        observer: &dyn Observer,
    ) -> Result<(), StoreError> {
        match outcome {
            Outcome::SameContent { bytes } => {
                summary.files_unchanged += 1;
                observer.file_done(bytes, 0);
            }
            Outcome::Failed { key, error, bytes } => {
                summary.files_failed += 1;
                observer.problem(&Problem::File { path: key, error });
                observer.file_done(bytes, 0);
            }
            Outcome::Read {
                batch,
                bytes,
                rejections,
                ignored,
            } => {
                if batch.path == "-" && known_hashes.contains(&batch.sha256) {
                    summary.files_unchanged += 1;
                    return Ok(());
                }
                summary.files_read += 1;
                summary.bytes_read += bytes;
                summary.events_read += batch.events.len() as u64;
                summary.records_rejected += rejections.len() as u64;
                summary.records_ignored += ignored;
                for r in rejections {
                    observer.problem(&Problem::Record {
                        path: batch.path.clone(),
                        location: r.location,
                        reason: r.reason,
                    });
                }
                observer.file_done(bytes, batch.events.len() as u64);
                self.pending_events += batch.events.len();
                self.pending.push(batch);
                if self.pending_events >= self.batch_events {
                    self.flush(summary)?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self, summary: &mut Summary) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.pending_events = 0;
        summary.stored += self.store.write_batch(batch)?;
        Ok(())
    }
}

/// Log files by name, for directory walks only; a file named on the command line is always read.
fn looks_like_log(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [".json", ".jsonl", ".ndjson", ".log", ".gz", ".audit"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn is_digest_path(path: &Path) -> bool {
    path.components()
        .any(|c| c.as_os_str() == "CloudTrail-Digest")
}

fn plan(
    input: &Path,
    known: &HashMap<String, (u64, i64)>,
    todo: &mut Vec<Planned>,
    summary: &mut Summary,
    observer: &dyn Observer,
) {
    let mut consider = |path: &Path, named: bool, summary: &mut Summary| {
        if !named && (!looks_like_log(path) || is_digest_path(path)) {
            summary.files_not_logs += 1;
            return;
        }
        let key = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                summary.files_failed += 1;
                observer.problem(&Problem::File {
                    path: key,
                    error: format!("cannot read: {e}"),
                });
                return;
            }
        };
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        if known.get(&key) == Some(&(meta.len(), mtime_ns)) {
            summary.files_unchanged += 1;
            return;
        }
        todo.push(Planned {
            path: path.to_path_buf(),
            key,
            size: meta.len(),
            mtime_ns,
        });
    };
    match std::fs::metadata(input) {
        Ok(m) if m.is_dir() => {
            let walk = walkdir::WalkDir::new(input)
                .follow_links(true)
                .sort_by_file_name();
            for entry in walk {
                match entry {
                    Ok(e) if e.file_type().is_file() => consider(e.path(), false, summary),
                    Ok(_) => {}
                    Err(e) => {
                        summary.files_failed += 1;
                        observer.problem(&Problem::File {
                            path: e.path().unwrap_or(input).to_string_lossy().into_owned(),
                            error: format!("cannot read: {e}"),
                        });
                    }
                }
            }
        }
        _ => consider(input, true, summary),
    }
}

/// Collects a file's events, compressing each raw record right away (on the parsing thread).
#[derive(Default)]
struct Prepare {
    events: Vec<PreparedEvent>,
    rejections: Vec<Rejection>,
    ignored: u64,
}

impl Sink for Prepare {
    fn event(&mut self, e: driftlog_audit::ParsedEvent) {
        self.events.push(PreparedEvent::new(e.event, &e.raw));
    }
    fn reject(&mut self, r: Rejection) {
        self.rejections.push(r);
    }
    fn ignore(&mut self, _what: &'static str) {
        self.ignored += 1;
    }
}

/// Hashes what passes through, so a file is read once for both parsing and its SHA-256.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Read what the parser left (trailing whitespace) and return the digest.
    fn finish(mut self) -> std::io::Result<(String, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        let digest = self.hasher.finalize();
        Ok((
            digest.iter().map(|b| format!("{b:02x}")).collect(),
            self.bytes,
        ))
    }
}

fn read_file(file: &Planned, known_hashes: &HashSet<String>) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        key: file.key.clone(),
        error,
        bytes: file.size,
    };
    let handle = match std::fs::File::open(&file.path) {
        Ok(h) => h,
        Err(e) => return failed(format!("cannot read: {e}")),
    };
    let mut reader = Hashing::new(handle);
    let mut sink = Prepare::default();
    let parsed = driftlog_audit::read(&mut reader, &mut sink);
    let (sha256, bytes) = match reader.finish() {
        Ok(done) => done,
        Err(e) => return failed(format!("cannot read: {e}")),
    };
    if let Err(e) = parsed {
        return failed(e.to_string());
    }
    if known_hashes.contains(&sha256) {
        return Outcome::SameContent { bytes };
    }
    finish(
        file.key.clone(),
        file.size,
        file.mtime_ns,
        sha256,
        bytes,
        sink,
    )
}

fn read_stdin() -> Outcome {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        return Outcome::Failed {
            key: "-".into(),
            error: format!("cannot read standard input: {e}"),
            bytes: 0,
        };
    }
    let sha256: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut sink = Prepare::default();
    if let Err(e) = driftlog_audit::read(&bytes[..], &mut sink) {
        return Outcome::Failed {
            key: "-".into(),
            error: e.to_string(),
            bytes: bytes.len() as u64,
        };
    }
    let size = bytes.len() as u64;
    finish("-".into(), size, 0, sha256, size, sink)
}

fn finish(
    key: String,
    size: u64,
    mtime_ns: i64,
    sha256: String,
    bytes: u64,
    sink: Prepare,
) -> Outcome {
    let clean = sink.rejections.is_empty();
    Outcome::Read {
        batch: FileBatch {
            path: key,
            size,
            mtime_ns,
            sha256,
            events: sink.events,
            clean,
        },
        bytes,
        rejections: sink.rejections,
        ignored: sink.ignored,
    }
}

impl Store {
    /// Files already ingested cleanly: by path (size, mtime) and by content hash.
    #[allow(clippy::type_complexity)]
    fn known_files(&self) -> Result<(HashMap<String, (u64, i64)>, HashSet<String>), StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT path, size, mtime_ns, sha256 FROM files")
            .map_err(err)?;
        let mut paths = HashMap::new();
        let mut hashes = HashSet::new();
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(err)?;
        for row in rows {
            let (path, size, mtime, sha) = row.map_err(err)?;
            paths.insert(path, (size as u64, mtime));
            hashes.insert(sha);
        }
        Ok((paths, hashes))
    }
}
