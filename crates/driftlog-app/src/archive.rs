//! The archive use case: the event store's history written as immutable Parquet files
//! (`driftlog_archive`), in a folder or under an S3 prefix, each file's SHA-256 and row count
//! recorded in the ledger; and checking an archive against those records.
//!
//! Each run archives the events stored since the last run to the same destination: the
//! ledger's `archive` entries say up to which store id each destination holds, so a run
//! repeated after a crash writes the same file names again (unrecorded files are simply
//! replaced) and a run after it starts where the recorded one ended.
//!
//! Reading the store and encoding Parquet run on two threads: the store's reads (and the
//! decompression of the original records) on the caller's, column encoding and zstd on the
//! other.

use crate::record::{ArchiveEntry, ArchiveFile, Entry, Recorder};
use crate::{AppError, Progress};
use driftlog_archive::{ArchiveWriter, FinishedFile, Row};
use driftlog_core::time::{self, Bound, Direction};
use driftlog_ledger::Ledger;
use std::path::{Path, PathBuf};

/// Where an archive lives.
pub enum Target {
    /// A folder (created if needed).
    Dir(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        bucket: String,
        prefix: String,
        client: driftlog_aws::S3,
    },
}

impl Target {
    /// `to` as given: `s3://bucket[/prefix]` or a folder. A folder is created for writing
    /// (`create`) and must exist for checking.
    pub fn open(
        to: &str,
        aws: &driftlog_aws::AwsOptions,
        create: bool,
    ) -> Result<Target, AppError> {
        if let Some(rest) = to.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(AppError::Usage(format!(
                    "{to}: not an s3://BUCKET[/PREFIX] location"
                )));
            }
            return Ok(Target::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
                client: driftlog_aws::S3::connect(aws)?,
            });
        }
        let dir = PathBuf::from(to);
        if create {
            std::fs::create_dir_all(&dir).map_err(|source| AppError::Io {
                path: dir.clone(),
                what: "creating the archive folder",
                source,
            })?;
        }
        let dir = std::fs::canonicalize(&dir).map_err(|source| AppError::Io {
            path: dir.clone(),
            what: "the archive folder",
            source,
        })?;
        Ok(Target::Dir(dir))
    }

    /// The destination as the ledger names it: the folder's absolute path, or the S3 URL.
    pub fn describe(&self) -> String {
        match self {
            Target::Dir(dir) => dir.display().to_string(),
            Target::S3 { bucket, prefix, .. } if prefix.is_empty() => format!("s3://{bucket}"),
            Target::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    fn key(prefix: &str, path: &str) -> String {
        if prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{prefix}/{path}")
        }
    }

    /// Put a finished file at its path. In a folder it is written beside its final name and
    /// renamed, so a reader never sees half a file.
    fn put(&self, file: &FinishedFile) -> Result<(), AppError> {
        match self {
            Target::Dir(dir) => {
                let path = dir.join(&file.path);
                let io = |what, source| AppError::Io {
                    path: path.clone(),
                    what,
                    source,
                };
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| io("creating the partition folder", e))?;
                }
                let partial = path.with_extension("parquet.partial");
                let write = || -> std::io::Result<()> {
                    use std::io::Write;
                    let mut f = std::fs::File::create(&partial)?;
                    f.write_all(&file.bytes)?;
                    f.sync_all()?;
                    std::fs::rename(&partial, &path)
                };
                write().map_err(|e| io("writing an archive file", e))
            }
            Target::S3 {
                bucket,
                prefix,
                client,
            } => Ok(client.put(bucket, &Self::key(prefix, &file.path), file.bytes.clone())?),
        }
    }

    /// The bytes of the file at `path`, if there is one.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, AppError> {
        match self {
            Target::Dir(dir) => {
                let full = dir.join(path);
                match std::fs::read(&full) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(AppError::Io {
                        path: full,
                        what: "reading an archive file",
                        source,
                    }),
                }
            }
            Target::S3 {
                bucket,
                prefix,
                client,
            } => Ok(client
                .get(bucket, &Self::key(prefix, path))?
                .map(|(bytes, _)| bytes)),
        }
    }

    /// Every Parquet file in the archive, by path relative to its root.
    fn list(&self) -> Result<Vec<String>, AppError> {
        let mut out = Vec::new();
        match self {
            Target::Dir(dir) => {
                let mut pending = vec![dir.clone()];
                while let Some(folder) = pending.pop() {
                    let entries = std::fs::read_dir(&folder).map_err(|source| AppError::Io {
                        path: folder.clone(),
                        what: "listing the archive",
                        source,
                    })?;
                    for entry in entries.flatten() {
                        let path = entry.path();
                        if path.is_dir() {
                            pending.push(path);
                        } else if path.extension().is_some_and(|e| e == "parquet") {
                            if let Ok(rel) = path.strip_prefix(dir) {
                                out.push(rel.to_string_lossy().replace('\\', "/"));
                            }
                        }
                    }
                }
            }
            Target::S3 {
                bucket,
                prefix,
                client,
            } => {
                let under = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                };
                for object in client.objects(bucket, &under)? {
                    if object.key.ends_with(".parquet") {
                        out.push(object.key[under.len()..].to_owned());
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// What to archive, and where.
pub struct ArchiveRequest {
    pub store: PathBuf,
    /// A folder or `s3://bucket[/prefix]`.
    pub to: String,
    /// Only events at or after this time (the one time grammar: `90d`, a date, RFC 3339).
    /// Earlier events among those stored since the last run are passed over for good.
    pub since: Option<String>,
    pub aws: driftlog_aws::AwsOptions,
}

/// What a run archived.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveReport {
    pub destination: String,
    /// Store ids above `after` up to `through` were read.
    pub after: i64,
    pub through: i64,
    /// Events written, and events passed over as older than `since`.
    pub events: u64,
    pub skipped: u64,
    pub files: Vec<ArchiveFile>,
    pub bytes: u64,
    /// The ledger entry that records the files.
    pub entry: Option<u64>,
}

/// Events read from the store at a time, and chunks in flight to the encoder (with the files
/// under way, what bounds the run's memory).
const CHUNK: usize = 4096;
const IN_FLIGHT: usize = 2;
/// Memory the Parquet files under way may hold together before the largest is finished early.
const FILES_BUDGET: usize = 256 << 20;

/// Archive the events stored since the last run to the same destination.
pub fn archive(
    request: &ArchiveRequest,
    recorder: &Recorder,
    progress: &dyn Progress,
) -> Result<ArchiveReport, AppError> {
    if !recorder.enabled() {
        return Err(AppError::Usage(
            "archive records every file it writes in the ledger, so that `verify --archive` can \
             check them; it cannot run with --ledger off"
                .into(),
        ));
    }
    let store = crate::stores::open_events_existing(&request.store)?;
    let store_id = store.store_id()?;
    let since_us = request
        .since
        .as_deref()
        .map(|t| time::parse(t, jiff::Timestamp::now(), Bound::Start, Direction::Past))
        .transpose()
        .map_err(|source| AppError::Time {
            option: "--since",
            source,
        })?
        .map(|t| t.us);
    let target = Target::open(&request.to, &request.aws, true)?;
    let destination = target.describe();
    let after = {
        let ledger = crate::stores::open_ledger(&recorder.ledger)?;
        archived_through(&ledger, &store_id, &destination)?
    };
    let total = store.count_after(after)?;
    progress.step("archiving events");

    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Row>>(IN_FLIGHT);
    let run = format!("events-{}", after + 1);
    let (read, written) = std::thread::scope(|s| {
        let writer = s.spawn(|| -> Result<Vec<ArchiveFile>, AppError> {
            let mut writer = ArchiveWriter::new(&run, &store_id).with_budget(FILES_BUDGET);
            let mut files = Vec::new();
            let mut put = |file: FinishedFile| -> Result<(), AppError> {
                target.put(&file)?;
                files.push(ArchiveFile {
                    sha256: file.sha256(),
                    bytes: file.bytes.len() as u64,
                    rows: file.rows,
                    first_id: file.first_id,
                    last_id: file.last_id,
                    path: file.path,
                });
                Ok(())
            };
            for chunk in rx {
                for row in chunk {
                    for file in writer.push(row)? {
                        put(file)?;
                    }
                }
            }
            for file in writer.finish()? {
                put(file)?;
            }
            Ok(files)
        });
        let read = (|| -> Result<(i64, u64, u64), AppError> {
            let tx = tx;
            let (mut cursor, mut events, mut skipped, mut done) = (after, 0, 0, 0);
            loop {
                let chunk = store.events_after(cursor, CHUNK)?;
                let Some(last) = chunk.last() else { break };
                cursor = last.0.id;
                let read = chunk.len() as u64;
                done += read;
                let rows: Vec<Row> = chunk
                    .into_iter()
                    .filter(|(e, _, _)| since_us.is_none_or(|s| e.event.time_us >= s))
                    .map(|(e, raw, recorded)| {
                        // The store may keep only a prefix of the leaf; the archive carries
                        // the whole one, recomputed, when the event still matches it.
                        let leaf = recorded.and_then(|r| {
                            r.whole().or_else(|| {
                                let leaf = driftlog_store::event_leaf(&e.event, &raw);
                                r.matches(&leaf).then_some(leaf)
                            })
                        });
                        Row {
                            id: e.id,
                            event: e.event,
                            raw,
                            leaf,
                        }
                    })
                    .collect();
                skipped += read - rows.len() as u64;
                events += rows.len() as u64;
                progress.count("events", done.min(total), total);
                // The encoder stopped: its error is the one to report.
                if tx.send(rows).is_err() {
                    break;
                }
            }
            Ok((cursor, events, skipped))
        })();
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(AppError::Input("the archive encoder failed".into())));
        (read, written)
    });
    let files = written?;
    let (through, events, skipped) = read?;
    let bytes = files.iter().map(|f| f.bytes).sum();
    let mut report = ArchiveReport {
        destination,
        after,
        through,
        events,
        skipped,
        files,
        bytes,
        entry: None,
    };
    if through > after {
        let entry = ArchiveEntry {
            store: store_id,
            destination: report.destination.clone(),
            after,
            through,
            since: since_us.map(time::format_time_us),
            events,
            files: report.files.clone(),
        };
        report.entry = recorder
            .record(|_| vec![Entry::Archive(entry)])
            .map_err(|e| AppError::recording("the archive", e))?;
    }
    Ok(report)
}

/// The `archive` entries of the ledger for one store and destination, with their positions.
pub(crate) fn archive_entries(
    ledger: &Ledger,
    store_id: &str,
) -> Result<Vec<(u64, ArchiveEntry)>, AppError> {
    let mut out = Vec::new();
    let len = ledger.len()?;
    let mut start = 0;
    while start < len {
        let end = (start + 4096).min(len);
        for e in ledger.entries(start, end)? {
            if e.kind != "archive" {
                continue;
            }
            if let Some(Entry::Archive(a)) = Entry::parse(&e.body) {
                if a.store == store_id {
                    out.push((e.index, a));
                }
            }
        }
        start = end;
    }
    Ok(out)
}

/// The highest store id already archived to `destination` (0: none).
fn archived_through(ledger: &Ledger, store_id: &str, destination: &str) -> Result<i64, AppError> {
    Ok(archive_entries(ledger, store_id)?
        .iter()
        .filter(|(_, a)| a.destination == destination)
        .map(|(_, a)| a.through)
        .max()
        .unwrap_or(0))
}

/// One way an archive differs from what the ledger recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveProblem {
    /// A recorded file is gone.
    Missing { path: String, entry: u64 },
    /// A recorded file's bytes no longer hash to the recorded SHA-256.
    Altered { path: String, entry: u64 },
    /// The file hashes as recorded but its footer counts other rows (the ledger entry and the
    /// file disagree: neither can be trusted).
    Rows {
        path: String,
        entry: u64,
        recorded: u64,
        found: u64,
    },
    /// A Parquet file no entry records (left by a run that stopped before recording, or added).
    Unrecorded { path: String },
}

impl std::fmt::Display for ArchiveProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveProblem::Missing { path, entry } => {
                write!(f, "{path} is missing: ledger entry {entry} recorded it")
            }
            ArchiveProblem::Altered { path, entry } => write!(
                f,
                "{path} was altered: its bytes no longer hash to the SHA-256 ledger entry {entry} recorded"
            ),
            ArchiveProblem::Rows {
                path,
                entry,
                recorded,
                found,
            } => write!(
                f,
                "{path} holds {found} rows; ledger entry {entry} recorded {recorded}"
            ),
            ArchiveProblem::Unrecorded { path } => write!(
                f,
                "{path} is recorded by no ledger entry (left by an archive run that stopped before recording it, or added)"
            ),
        }
    }
}

/// What checking an archive found.
#[derive(Debug, Clone, Default)]
pub struct ArchiveCheck {
    pub destination: String,
    /// `archive` entries for this store and destination, the files they record, and their rows.
    pub entries: u64,
    pub files: u64,
    pub rows: u64,
    pub problems: Vec<ArchiveProblem>,
}

/// Check every file the ledger recorded for this store at `target`: present, the same bytes
/// (SHA-256), the same row count; and no Parquet file there that no entry records.
pub fn verify_archive(
    ledger: &Ledger,
    store_id: &str,
    target: &Target,
) -> Result<ArchiveCheck, AppError> {
    let destination = target.describe();
    let all = archive_entries(ledger, store_id)?;
    let entries: Vec<&(u64, ArchiveEntry)> = all
        .iter()
        .filter(|(_, a)| a.destination == destination)
        .collect();
    if entries.is_empty() {
        let mut known: Vec<&str> = all.iter().map(|(_, a)| a.destination.as_str()).collect();
        known.sort_unstable();
        known.dedup();
        return Err(AppError::Input(if known.is_empty() {
            format!("the ledger records no archive of this store (looked for {destination})")
        } else {
            format!(
                "the ledger records no archive of this store at {destination}; it records archives at {}",
                known.join(", ")
            )
        }));
    }
    let mut check = ArchiveCheck {
        destination,
        entries: entries.len() as u64,
        ..ArchiveCheck::default()
    };
    let mut recorded = std::collections::HashSet::new();
    for (seq, entry) in entries {
        for file in &entry.files {
            recorded.insert(file.path.clone());
            check.files += 1;
            let Some(bytes) = target.get(&file.path)? else {
                check.problems.push(ArchiveProblem::Missing {
                    path: file.path.clone(),
                    entry: *seq,
                });
                continue;
            };
            use sha2::Digest;
            if hex::encode(sha2::Sha256::digest(&bytes)) != file.sha256 {
                check.problems.push(ArchiveProblem::Altered {
                    path: file.path.clone(),
                    entry: *seq,
                });
                continue;
            }
            let found = driftlog_archive::row_count(&file.path, bytes)?;
            if found != file.rows {
                check.problems.push(ArchiveProblem::Rows {
                    path: file.path.clone(),
                    entry: *seq,
                    recorded: file.rows,
                    found,
                });
                continue;
            }
            check.rows += found;
        }
    }
    for path in target.list()? {
        if !recorded.contains(&path) {
            check.problems.push(ArchiveProblem::Unrecorded { path });
        }
    }
    Ok(check)
}

/// Check the archive at `to` against the ledger's records for the store at `store`.
pub fn verify_at(
    store: &Path,
    recorder: &Recorder,
    to: &str,
    aws: &driftlog_aws::AwsOptions,
) -> Result<ArchiveCheck, AppError> {
    let events = crate::stores::open_events_existing(store)?;
    let store_id = events.store_id()?;
    let ledger = crate::stores::open_ledger_existing(&recorder.ledger)?;
    let target = Target::open(to, aws, false)?;
    verify_archive(&ledger, &store_id, &target)
}
