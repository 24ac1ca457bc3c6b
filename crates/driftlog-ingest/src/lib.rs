//! The ingest pipeline: find the files, skip the ones already in the store, parse the rest on
//! every core, and feed one writer that commits large sorted batches.
//!
//! ```text
//!  inputs ─► plan (walk, skip unchanged) ─► rayon: read + parse ─► channel ─► batcher: pack
//!  evidence ─► writer
//! ```
//!
//! Memory stays bounded whatever the corpus size: the channel holds a few files, the writer at
//! most one batch. Only a single file is read whole (a CloudTrail delivery file, a few MB);
//! JSON-lines files stream.

use driftlog_audit::{Location, Rejection, Sink};
use driftlog_store::evidence::{self, Dictionary};
use driftlog_store::{
    seal_batch, BatchCommit, BatchStats, EventStore, EvidencePacker, FileBatch, PreparedEvent,
    RecordBuffers, Records, StoreError,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// Tuning knobs; the defaults are what the benchmark measured best on two cores.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events per transaction. Larger batches amortise index updates; each costs memory.
    pub batch_events: usize,
    /// CloudTrail's digest verdicts (`ingest --verify-digests`): log files a digest says were
    /// altered are refused, files no valid digest lists are counted as unverified.
    pub digests: Option<std::sync::Arc<DigestGate>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_events: 50_000,
            digests: None,
        }
    }
}

/// What digest validation said about log files, keyed from `AWSLogs/` on (the object key in
/// the trail's bucket), so S3 locations and local copies match alike.
#[derive(Debug, Clone, Default)]
pub struct DigestGate {
    /// Log files to refuse, with why.
    pub refused: std::collections::HashMap<String, String>,
    /// Log files a valid digest lists with a matching hash.
    pub intact: HashSet<String>,
}

impl DigestGate {
    /// The key a file is known by: its path from `AWSLogs/` on.
    pub fn key_of(location: &str) -> Option<&str> {
        location.find("AWSLogs/").map(|i| &location[i..])
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
    /// A batch is durably in the store (called on the writer's thread, before the next batch
    /// is written): the place to record it in the ledger. An error stops the ingest.
    fn batch_committed(&self, _commit: &BatchCommit) -> Result<(), String> {
        Ok(())
    }
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
    /// Files refused because their CloudTrail digest says they were altered (counted in
    /// `files_failed` too).
    pub files_refused: u64,
    /// Files stored though no valid digest vouches for them (not yet digested, or digests
    /// off).
    pub files_unverified: u64,
    pub bytes_read: u64,
    /// Events parsed from the files read.
    pub events_read: u64,
    pub stored: BatchStats,
    /// Records left out one by one.
    pub records_rejected: u64,
    /// Well-formed records that are not audit events (digests, non-audit log entries).
    pub records_ignored: u64,
    /// Every file read: path, SHA-256 and events, for the ledger.
    pub files: Vec<(String, String, u64)>,
    /// The oldest and newest event read, in microseconds.
    pub first_event_us: Option<i64>,
    pub last_event_us: Option<i64>,
}

impl Summary {
    /// Anything left out makes the run a failure (exit 1), though the rest was stored.
    pub fn has_problems(&self) -> bool {
        self.files_failed > 0 || self.records_rejected > 0
    }
}

/// Objects read from a remote store (S3) instead of the file system: the pipeline lists them,
/// skips those already stored, and fetches the rest on the parser threads.
pub trait Remote: Send + Sync {
    /// The objects about to be read, in the order they will be read (those already stored
    /// or refused, and those already fetched for the evidence dictionary's samples, left out):
    /// a source may start fetching them ahead. Each is then fetched exactly once.
    fn will_fetch(&self, _locations: &[String]) {}
    /// The object's bytes, as stored (gzip included).
    fn fetch(&self, location: &str) -> Result<Vec<u8>, String>;
}

/// One remote object as listed: where it is, its size and its version (an ETag). An object
/// stored before with the same location, size and version is skipped without being fetched.
#[derive(Debug, Clone)]
pub struct RemoteFile {
    pub location: String,
    pub size: u64,
    pub version: String,
}

/// A stable 63-bit stamp of a remote object's version, kept where a file's modification time
/// is (`files.mtime_ns`), so the same known-files check serves both.
fn version_stamp(version: &str) -> i64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in version.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h >> 1) as i64
}

/// One file to read.
struct Planned {
    path: PathBuf,
    /// Fetched from here instead of read from `path`.
    remote: Option<std::sync::Arc<dyn Remote>>,
    /// A remote object's bytes, already fetched for the evidence dictionary's samples: never
    /// fetched twice.
    fetched: Option<Vec<u8>>,
    /// Named on the command line (always read) rather than found by walking a directory.
    named: bool,
    key: String,
    size: u64,
    mtime_ns: i64,
}

enum Outcome {
    Read {
        batch: FileBatch,
        /// Its events' original records, which the batcher packs with the batch's others
        /// (none when the file was large enough to be packed on its own, into its `blocks`).
        records: Records,
        bytes: u64,
        rejections: Vec<Rejection>,
        ignored: u64,
    },
    SameContent {
        bytes: u64,
    },
    /// A file found in a directory that holds JSON but no audit format at all (a manifest).
    NotLog {
        bytes: u64,
    },
    Failed {
        key: String,
        error: String,
        bytes: u64,
    },
}

/// Ingest `inputs` (files, directories walked recursively, `-` for standard input).
pub fn ingest<S: EventStore + ?Sized>(
    store: &mut S,
    inputs: &[PathBuf],
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let (known_paths, known_hashes) = store.known_files()?;
    // Shared with the parser tasks on the pool, which outlive no borrow.
    let known_hashes = std::sync::Arc::new(known_hashes);

    let mut todo = Vec::new();
    let mut stdin = false;
    for input in inputs {
        if input.as_os_str() == "-" {
            stdin = true;
            continue;
        }
        plan(input, &known_paths, &mut todo, &mut summary, observer);
    }
    run_planned(store, todo, stdin, summary, known_hashes, options, observer)
}

/// Ingest remote objects (a CloudTrail bucket's listing), fetched through `remote`.
pub fn ingest_remote<S: EventStore + ?Sized>(
    store: &mut S,
    files: Vec<RemoteFile>,
    remote: std::sync::Arc<dyn Remote>,
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let (known_paths, known_hashes) = store.known_files()?;
    let known_hashes = std::sync::Arc::new(known_hashes);
    let mut todo = Vec::new();
    for f in files {
        let stamp = version_stamp(&f.version);
        if is_digest_path(Path::new(&f.location)) {
            summary.files_not_logs += 1;
            continue;
        }
        if known_paths.get(&f.location) == Some(&(f.size, stamp)) {
            summary.files_unchanged += 1;
            continue;
        }
        todo.push(Planned {
            path: PathBuf::from(&f.location),
            remote: Some(remote.clone()),
            fetched: None,
            named: false,
            key: f.location,
            size: f.size,
            mtime_ns: stamp,
        });
    }
    run_planned(store, todo, false, summary, known_hashes, options, observer)
}

fn run_planned<S: EventStore + ?Sized>(
    store: &mut S,
    todo: Vec<Planned>,
    stdin: bool,
    mut summary: Summary,
    known_hashes: std::sync::Arc<HashSet<String>>,
    options: &Options,
    observer: &dyn Observer,
) -> Result<Summary, StoreError> {
    let mut todo = match &options.digests {
        None => todo,
        Some(gate) => todo
            .into_iter()
            .filter(|p| {
                let key = DigestGate::key_of(&p.key);
                if let Some(reason) = key.and_then(|k| gate.refused.get(k)) {
                    summary.files_failed += 1;
                    summary.files_refused += 1;
                    observer.problem(&Problem::File {
                        path: p.key.clone(),
                        error: format!("refused (--verify-digests): {reason}"),
                    });
                    return false;
                }
                if !key.is_some_and(|k| gate.intact.contains(k)) {
                    summary.files_unverified += 1;
                }
                true
            })
            .collect(),
    };
    let planned_bytes: u64 = todo.iter().map(|p| p.size).sum();
    observer.planned(todo.len() as u64 + u64::from(stdin), planned_bytes);

    let stored_before = store.event_count()?;
    let dictionary = evidence_dictionary(store, &mut todo)?;
    // Only now: the objects fetched for the samples above are read from memory.
    if let Some(remote) = todo.iter().find_map(|p| p.remote.clone()) {
        let ahead: Vec<String> = todo
            .iter()
            .filter(|p| p.fetched.is_none())
            .map(|p| p.key.clone())
            .collect();
        remote.will_fetch(&ahead);
    }
    // Record buffers go round: parsers fill them, the batcher packs and hands them back.
    let buffers = Arc::new(RecordBuffers::default());
    let cancel = AtomicBool::new(false);
    let (to_writer, from_parsers) = sync_channel::<Outcome>(8);
    // A full batch is handed over when the committer is done with the previous one: while it
    // commits, the batcher gathers the next (and parsers run a few files ahead of it), so
    // parsing never stops for a commit. No second batch waits: on two cores the single
    // writer then fell up to two batches behind, and wrote them alone, one core idle, once
    // parsing had ended (docs/BENCHMARKS.md, issue #15 fourteenth part).
    let (to_committer, batches) = sync_channel::<ToCommitter>(0);
    let writing: &mut S = store;
    let (flushed, committed) = std::thread::scope(|scope| {
        let cancel = &cancel;
        let known = &known_hashes;
        let committer = scope.spawn(move || commit_batches(writing, batches, cancel, observer));
        let shared_known = known_hashes.clone();
        let shared_dictionary = dictionary.clone();
        let shared_buffers = buffers.clone();
        scope.spawn(move || {
            parse_in_order(
                todo,
                shared_known,
                shared_dictionary,
                shared_buffers,
                to_writer,
                cancel,
            )
        });
        let mut batcher = Batcher {
            to_committer,
            pending: Vec::new(),
            packer: EvidencePacker::new(dictionary.as_deref()).recycling(&buffers),
            dictionary: dictionary.as_deref(),
            buffers: &buffers,
            pending_events: 0,
            batch_events: options.batch_events.max(1),
            bulk: Bulk::Undecided {
                planned_bytes,
                stored_before,
            },
            seen_bytes: 0,
            seen_events: 0,
        };
        let mut flushed = Ok(());
        if stdin {
            flushed = batcher.take(
                read_stdin(dictionary.as_deref(), &buffers),
                known,
                &mut summary,
                observer,
            );
        }
        if flushed.is_ok() {
            for outcome in from_parsers.iter() {
                flushed = batcher.take(outcome, known, &mut summary, observer);
                if flushed.is_err() {
                    break;
                }
            }
        }
        if flushed.is_ok() {
            flushed = batcher.flush();
        }
        if flushed.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        // Closing the channels lets the parsers and the committer finish.
        drop(batcher);
        drop(from_parsers);
        let committed = committer
            .join()
            .unwrap_or_else(|_| Err(CommitError::Panicked));
        (flushed, committed)
    });
    // Even after a failure, the store returns to the WAL.
    let journal = store.leave_bulk();
    match committed {
        Ok(stats) => summary.stored = stats,
        Err(CommitError::Store(e)) => return Err(e),
        Err(CommitError::Panicked) => {
            return Err(StoreError::Io {
                path: store.location().into(),
                source: std::io::Error::other("the store writer thread panicked"),
            })
        }
    }
    // A send fails only when the committer stopped, and its error was returned above.
    let _ = flushed;
    journal?;
    Ok(summary)
}

enum ToCommitter {
    /// A large ingest begins: see [`Store::enter_bulk`].
    EnterBulk,
    Batch(Vec<FileBatch>),
}

enum CommitError {
    Store(StoreError),
    Panicked,
}

/// The only thread that writes to the store.
/// Parse files on the rayon pool and hand their outcomes on in the order they were planned, so
/// the same inputs always store the same events in the same order (two different records
/// that share one identity keep the same copy on every run). Files are started in order and at
/// most a small window of them is in flight, so memory stays bounded and no core waits for a
/// whole group to finish.
fn parse_in_order(
    todo: Vec<Planned>,
    known: std::sync::Arc<HashSet<String>>,
    dictionary: Option<Arc<Dictionary>>,
    buffers: Arc<RecordBuffers>,
    to_writer: std::sync::mpsc::SyncSender<Outcome>,
    cancel: &AtomicBool,
) {
    let window = (rayon::current_num_threads() * 4).max(8);
    let mut in_flight: std::collections::VecDeque<std::sync::mpsc::Receiver<Outcome>> =
        std::collections::VecDeque::with_capacity(window);
    let forward = |rx: std::sync::mpsc::Receiver<Outcome>| match rx.recv() {
        Ok(outcome) => to_writer.send(outcome).is_ok(),
        // The task panicked: its file is lost; stop rather than store a partial result.
        Err(_) => false,
    };
    for file in todo {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let known = known.clone();
        let dictionary = dictionary.clone();
        let buffers = buffers.clone();
        rayon::spawn(move || {
            let _ = tx.send(read_file(&file, &known, dictionary.as_deref(), &buffers));
        });
        in_flight.push_back(rx);
        if in_flight.len() >= window {
            let oldest = in_flight.pop_front().expect("window is not empty");
            if !forward(oldest) {
                cancel.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
    while let Some(rx) = in_flight.pop_front() {
        if !forward(rx) {
            cancel.store(true, Ordering::Relaxed);
            return;
        }
    }
}

fn commit_batches<S: EventStore + ?Sized>(
    store: &mut S,
    batches: std::sync::mpsc::Receiver<ToCommitter>,
    cancel: &AtomicBool,
    observer: &dyn Observer,
) -> Result<BatchStats, CommitError> {
    let mut stats = BatchStats::default();
    for message in batches {
        let done = match message {
            ToCommitter::EnterBulk => store.enter_bulk(),
            ToCommitter::Batch(files) => store.write_batch(files).and_then(|(s, commit)| {
                stats += s;
                if commit.stored.is_empty() {
                    return Ok(());
                }
                observer
                    .batch_committed(&commit)
                    .map_err(|message| StoreError::Recording {
                        path: store.location().into(),
                        message,
                    })
            }),
        };
        if let Err(e) = done {
            cancel.store(true, Ordering::Relaxed);
            return Err(CommitError::Store(e));
        }
    }
    Ok(stats)
}

/// The committer has stopped (its error is reported from its side).
struct Stopped;

/// Whether this ingest writes in bulk mode (see [`Store::enter_bulk`]).
enum Bulk {
    Undecided {
        planned_bytes: u64,
        stored_before: u64,
    },
    Yes,
    No,
}

/// Gathers files into batches for the committer, packs their evidence, and keeps the counts.
struct Batcher<'d> {
    to_committer: std::sync::mpsc::SyncSender<ToCommitter>,
    pending: Vec<FileBatch>,
    /// The records of the pending files' events, packed across files (see
    /// [`EvidencePacker`]: grouping the calls of several files compresses better than of
    /// one); its blocks go with the batch.
    packer: EvidencePacker<'d>,
    dictionary: Option<&'d Dictionary>,
    buffers: &'d RecordBuffers,
    pending_events: usize,
    batch_events: usize,
    bulk: Bulk,
    seen_bytes: u64,
    seen_events: u64,
}

impl Batcher<'_> {
    fn take(
        &mut self,
        outcome: Outcome,
        known_hashes: &HashSet<String>,
        summary: &mut Summary,
        observer: &dyn Observer,
    ) -> Result<(), Stopped> {
        match outcome {
            Outcome::SameContent { bytes } => {
                summary.files_unchanged += 1;
                observer.file_done(bytes, 0);
            }
            Outcome::NotLog { bytes } => {
                summary.files_not_logs += 1;
                observer.file_done(bytes, 0);
            }
            Outcome::Failed { key, error, bytes } => {
                summary.files_failed += 1;
                observer.problem(&Problem::File { path: key, error });
                observer.file_done(bytes, 0);
            }
            Outcome::Read {
                batch,
                records,
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
                summary.files.push((
                    batch.path.clone(),
                    batch.sha256.clone(),
                    batch.events.len() as u64,
                ));
                for e in &batch.events {
                    let t = e.event.time_us;
                    summary.first_event_us = Some(summary.first_event_us.map_or(t, |f| f.min(t)));
                    summary.last_event_us = Some(summary.last_event_us.map_or(t, |l| l.max(t)));
                }
                self.seen_bytes += bytes_on_disk(&batch, bytes);
                self.seen_events += batch.events.len() as u64;
                self.pending_events += batch.events.len();
                self.packer.add_records(records);
                self.pending.push(batch);
                if self.pending_events >= self.batch_events {
                    self.decide_bulk()?;
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    /// At the first full batch, estimate the whole ingest from what was read so far: when it
    /// brings at least 100k events and at least half as many as the store holds, most pages it
    /// writes are new, and the rollback journal writes them once instead of twice. Small
    /// ingests stay in the WAL, where readers never wait.
    fn decide_bulk(&mut self) -> Result<(), Stopped> {
        if let Bulk::Undecided {
            planned_bytes,
            stored_before,
        } = self.bulk
        {
            let per_byte = self.seen_events as f64 / self.seen_bytes.max(1) as f64;
            let expected = (per_byte * planned_bytes as f64) as u64;
            self.bulk = if expected >= 100_000 && expected >= stored_before / 2 {
                self.send(ToCommitter::EnterBulk)?;
                Bulk::Yes
            } else {
                Bulk::No
            };
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.pending);
        self.pending_events = 0;
        let packer = std::mem::replace(
            &mut self.packer,
            EvidencePacker::new(self.dictionary).recycling(self.buffers),
        );
        seal_batch(packer, &mut batch);
        self.send(ToCommitter::Batch(batch))
    }

    fn send(&self, message: ToCommitter) -> Result<(), Stopped> {
        self.to_committer.send(message).map_err(|_| Stopped)
    }
}

/// The size that planning counted for this file (compressed size on disk).
fn bytes_on_disk(batch: &FileBatch, read: u64) -> u64 {
    if batch.size > 0 {
        batch.size
    } else {
        read
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

/// JSON files that travel with logs but are none: manifests of exports and generated corpora,
/// package and schema files.
fn is_not_log_by_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name == "manifest.json"
        || name.ends_with(".manifest.json")
        || name.ends_with("-manifest.json")
        || name == "package.json"
        || name.ends_with(".schema.json")
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
            remote: None,
            fetched: None,
            named,
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

/// Collects a file's events and their original records, which the batcher packs with the
/// batch's other files; a file that grows past a window is packed here as it is read, so its
/// records never all sit in memory (a Kubernetes audit log of gigabytes streams).
struct Prepare<'d> {
    events: Vec<PreparedEvent>,
    records: Records,
    /// Made once the file's records fill a window.
    packer: Option<EvidencePacker<'d>>,
    dictionary: Option<&'d Dictionary>,
    buffers: &'d RecordBuffers,
    rejections: Vec<Rejection>,
    ignored: u64,
}

thread_local! {
    /// How many events the last file parsed on this thread held. The next file's list is given
    /// room for as many (one trail's delivery files are alike) instead of growing by doubling,
    /// every step a copy into fresh pages (a profile of the 1M corpus put 2.6% of ingest's CPU
    /// in faulting those pages in). Bounded, so one large file does not make every later small
    /// one reserve its size.
    static LAST_FILE_EVENTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The most events a file's list is given room for before its first event.
const EVENTS_RESERVED: usize = 4096;

impl<'d> Prepare<'d> {
    fn new(dictionary: Option<&'d Dictionary>, buffers: &'d RecordBuffers) -> Self {
        Prepare {
            events: Vec::with_capacity(LAST_FILE_EVENTS.get().min(EVENTS_RESERVED)),
            records: buffers.records(),
            packer: None,
            dictionary,
            buffers,
            rejections: Vec::new(),
            ignored: 0,
        }
    }
}

impl Sink for Prepare<'_> {
    fn event(&mut self, e: driftlog_audit::ParsedEvent<'_>) {
        self.records.add(&e.raw, &e.event);
        self.events.push(PreparedEvent::new(e.event, &e.raw));
        if self.records.fills_a_window() {
            let dictionary = self.dictionary;
            self.packer
                .get_or_insert_with(|| EvidencePacker::new(dictionary))
                .add_records(std::mem::replace(&mut self.records, self.buffers.records()));
        }
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
        Ok((hex::encode(digest), self.bytes))
    }
}

/// Open a planned file: fetched whole from its remote (or already), or from disk.
fn open(file: &Planned) -> Result<Box<dyn std::io::Read>, String> {
    if let Some(bytes) = &file.fetched {
        return Ok(Box::new(std::io::Cursor::new(bytes.clone())));
    }
    match &file.remote {
        Some(remote) => remote
            .fetch(&file.key)
            .map(|bytes| Box::new(std::io::Cursor::new(bytes)) as Box<dyn std::io::Read>)
            .map_err(|e| format!("cannot fetch: {e}")),
        None => std::fs::File::open(&file.path)
            .map(|h| Box::new(h) as Box<dyn std::io::Read>)
            .map_err(|e| format!("cannot read: {e}")),
    }
}

/// The records of one file, for training the evidence dictionary; nothing if it does not
/// read or parse (the pipeline reports that when it reads the file for real). A remote
/// object's bytes are kept for the pipeline.
fn sample(file: &mut Planned, samples: &mut Vec<Vec<u8>>) -> usize {
    struct Samples<'s>(&'s mut Vec<Vec<u8>>, usize);
    impl Sink for Samples<'_> {
        fn event(&mut self, e: driftlog_audit::ParsedEvent<'_>) {
            // In the form blocks keep them: the dictionary learns what it will meet.
            let mut kept = Vec::with_capacity(e.raw.len());
            evidence::keep(&e.raw, &e.event.event_id, &mut kept);
            self.1 += kept.len();
            self.0.push(kept);
        }
        fn reject(&mut self, _: Rejection) {}
        fn ignore(&mut self, _: &'static str) {}
    }
    if let Some(remote) = &file.remote {
        match remote.fetch(&file.key) {
            Ok(bytes) => file.fetched = Some(bytes),
            Err(_) => return 0,
        }
    }
    let Ok(handle) = open(file) else {
        return 0;
    };
    let mut sink = Samples(samples, 0);
    let _ = driftlog_audit::read(handle, &mut sink);
    sink.1
}

/// The dictionary this run compresses evidence with: the store's latest, or, for a store
/// without one, one trained now on the records of the first files to read, when they hold
/// enough of them (see `driftlog_store::evidence`). Kept in the store before any block uses it.
fn evidence_dictionary<S: EventStore + ?Sized>(
    store: &mut S,
    todo: &mut [Planned],
) -> Result<Option<Arc<Dictionary>>, StoreError> {
    if let Some(d) = store.evidence_dictionary()? {
        return Ok(Some(d));
    }
    // A run this small cannot hold enough records (even gzip'd CloudTrail is 100+ bytes a
    // record): it is not read twice for nothing, and a later, larger run trains.
    if todo.iter().map(|p| p.size).sum::<u64>() < evidence::MIN_SAMPLES as u64 * 100 {
        return Ok(None);
    }
    let mut samples = Vec::new();
    let mut sampled = 0;
    for file in todo.iter_mut().take(64) {
        sampled += sample(file, &mut samples);
        if sampled >= evidence::SAMPLE_BYTES {
            break;
        }
    }
    let Some(dictionary) = Dictionary::train(&samples, 0) else {
        return Ok(None);
    };
    store.keep_evidence_dictionary(&dictionary)?;
    Ok(Some(Arc::new(dictionary)))
}

fn read_file(
    file: &Planned,
    known_hashes: &HashSet<String>,
    dictionary: Option<&Dictionary>,
    buffers: &RecordBuffers,
) -> Outcome {
    let failed = |error: String| Outcome::Failed {
        key: file.key.clone(),
        error,
        bytes: file.size,
    };
    let handle = match open(file) {
        Ok(h) => h,
        Err(e) => return failed(e),
    };
    let mut reader = Hashing::new(handle);
    let mut sink = Prepare::new(dictionary, buffers);
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
    let unrecognised = sink.events.is_empty()
        && sink.ignored == 0
        && !sink.rejections.is_empty()
        && sink
            .rejections
            .iter()
            .all(|r| r.reason.starts_with(driftlog_audit::UNRECOGNISED));
    if unrecognised && !file.named {
        // A walked file whose name says log but whose JSON is no audit format: named, with the
        // reason, and counted as failed, never dropped in silence. Only files whose name says
        // they are not logs are passed over quietly.
        if is_not_log_by_name(&file.path) {
            return Outcome::NotLog { bytes };
        }
        return failed(format!(
            "JSON, but no known audit log shape ({}); if it is a log, please report its format",
            sink.rejections[0].reason
        ));
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

fn read_stdin(dictionary: Option<&Dictionary>, buffers: &RecordBuffers) -> Outcome {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        return Outcome::Failed {
            key: "-".into(),
            error: format!("cannot read standard input: {e}"),
            bytes: 0,
        };
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let mut sink = Prepare::new(dictionary, buffers);
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
    let mut events = sink.events;
    LAST_FILE_EVENTS.set(events.len());
    let (blocks, records) = match sink.packer {
        // Packed on its own: its blocks go with it (`driftlog_store::seal_batch`).
        Some(mut packer) => {
            packer.add_records(sink.records);
            (packer.finish(&mut events), Records::default())
        }
        None => (Vec::new(), sink.records),
    };
    Outcome::Read {
        batch: FileBatch {
            path: key,
            size,
            mtime_ns,
            sha256,
            events,
            blocks,
            clean,
        },
        records,
        bytes,
        rejections: sink.rejections,
        ignored: sink.ignored,
    }
}
