//! driftlog's event store: every audit event ever ingested, indexed for the questions
//! attribution and incident response ask ("every write to this security group this week").
//!
//! Embedded SQLite (bundled, so there is nothing to install) in WAL mode (a rollback journal
//! while a bulk load runs, see `Store::enter_bulk`). Lookups by resource, principal and action
//! read posting lists (see `postings`). Each batch of files
//! is one transaction that also records the files it came from, so a crash (even `kill -9`)
//! leaves either the whole batch or none of it, and the next run redoes exactly what is
//! missing. Events are deduplicated on `(source, time, event_id)`; files already ingested are
//! skipped by path, size and modification time without being read.
//!
//! ```no_run
//! use driftlog_store::{Store, EventQuery};
//!
//! let store = Store::open(".driftlog/events.db".as_ref())?;
//! let hits = store.query(&EventQuery { resource: Some("sg-0123".into()), ..Default::default() })?;
//! # Ok::<(), driftlog_store::StoreError>(())
//! ```

mod addresses;
mod body;
#[doc(hidden)]
pub mod conformance;
mod error;
pub mod event_ids;
pub mod evidence;
pub mod facets;
pub mod leaves;
mod pieces;
#[doc(hidden)]
pub mod postings;
mod prune;
mod query;
mod resource_lists;
mod schema;
pub mod service;
mod shapes;
mod texts;
mod write;
mod written;

pub use error::StoreError;

use evidence::Dictionary;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Files already stored cleanly: by path (size, modification time in ns), and by content hash.
pub type KnownFiles = (HashMap<String, (u64, i64)>, HashSet<String>);

/// Everything driftlog asks of an event store: what the ingest pipeline (`driftlog-ingest`)
/// writes through, and what the use cases (`driftlog-app`) query. SQLite implements it now; a
/// PostgreSQL store will implement the same, and neither the pipeline nor the use cases change.
/// Open one with [`open`] or [`open_existing`].
pub trait EventStore: Send {
    /// Where the store is, for messages.
    fn location(&self) -> &Path;
    /// This store's identity: the ledger's batch entries name it.
    fn store_id(&self) -> Result<String, StoreError>;
    /// Events with ids up to this one were stored before the ledger committed to contents.
    fn unrecorded_until(&self) -> Result<i64, StoreError>;
    fn known_files(&self) -> Result<KnownFiles, StoreError>;
    fn event_count(&self) -> Result<u64, StoreError>;
    /// How many events have ids above `after` (what [`EventStore::events_after`] would walk).
    fn count_after(&self, after: i64) -> Result<u64, StoreError>;
    /// A large load is about to start: the store may switch to a faster mode for it.
    fn enter_bulk(&self) -> Result<(), StoreError>;
    /// The load ended (also after a failure): back to the normal mode.
    fn leave_bulk(&self) -> Result<(), StoreError>;
    /// Write several files' events in one transaction; what it stored, for the ledger.
    fn write_batch(
        &mut self,
        files: Vec<FileBatch>,
    ) -> Result<(BatchStats, BatchCommit), StoreError>;

    /// The events matching every filter of `q`, oldest first.
    fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;
    /// [`EventStore::query`], handed to `each` a batch at a time, oldest first, until it
    /// answers `Break`. A store that reads in batches hands each as it is read, so a long
    /// listing is printed while the rest is read; this default hands the whole answer at once.
    /// `each` may call the store again (`--raw` reads each batch's records): PostgreSQL then
    /// takes a second pooled connection while the listing holds the first.
    fn query_each(&self, q: &EventQuery, each: &mut EachBatch) -> Result<(), StoreError> {
        let _ = each(self.query(q)?);
        Ok(())
    }
    /// Every event that names any of `identifiers`, oldest first, each once.
    fn events_naming(&self, identifiers: &[String]) -> Result<Vec<StoredEvent>, StoreError>;
    /// Up to `limit` events with ids above `after`, in id order, with their original records
    /// and recorded leaves: what `driftlog verify` recomputes.
    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<EventWithEvidence>, StoreError>;
    /// The original record of a stored event, as logged.
    fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError>;

    /// The dictionary new evidence blocks are compressed with (the latest kept), if any.
    fn evidence_dictionary(&self) -> Result<Option<Arc<Dictionary>>, StoreError>;
    /// Keep `dictionary`; from now on it is the latest. Kept in its own transaction, before
    /// any block written with it: a block never names a dictionary the store lacks.
    fn keep_evidence_dictionary(&mut self, dictionary: &Dictionary) -> Result<(), StoreError>;

    /// Up to `limit` ids, ascending, of events older than `before_us` with ids up to
    /// `through`: what a prune may remove next.
    fn prunable(&self, before_us: i64, through: i64, limit: usize) -> Result<Vec<i64>, StoreError>;
    /// Remove the events `ids` and everything that leads only to them (evidence, index
    /// entries), in one transaction; the files they came from stay recorded, so they are not
    /// ingested again. Returns how many events were removed.
    fn delete_events(&mut self, ids: &[i64]) -> Result<u64, StoreError>;
    /// Whole time partitions older than `before_us` throughout, every event in them with an
    /// id up to `through`: what a prune may drop at once instead of deleting row by row.
    /// Stores without partitions (SQLite) have none.
    fn prunable_partitions(
        &self,
        _before_us: i64,
        _through: i64,
    ) -> Result<Vec<Partition>, StoreError> {
        Ok(Vec::new())
    }
    /// Drop partition `p` whole, with the evidence blocks only its events used. Returns how
    /// many events went: none when the partition no longer holds exactly the events `p` lists
    /// (an ingest of old logs since), which the caller then prunes row by row.
    fn drop_partition(&mut self, _p: &Partition) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Remember the identifiers of each Terraform address; returns how many pairs were new.
    fn remember_addresses(&mut self, known: &[(&str, &[String])]) -> Result<u64, StoreError>;
    /// The identifiers remembered for `address`, sorted.
    fn address_identifiers(&self, address: &str) -> Result<Vec<String>, StoreError>;
}

/// A time partition of a store's events (PostgreSQL: one calendar month, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub events: u64,
    /// The ids of its events, as inclusive ranges, ascending.
    pub ids: Vec<(i64, i64)>,
}

/// Ascending ids as inclusive ranges.
pub fn id_ranges(ids: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for id in ids {
        match out.last_mut() {
            Some(last) if last.1 + 1 == id => last.1 = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// Every spelling under which events may name any of `resources`: the names themselves, the
/// identifiers the store remembers for each that is a Terraform address, and all of those
/// lower-cased (Azure keeps resource ids lower-cased: they are case-insensitive there).
/// Sorted, each once. Every store's resource lookup starts here.
pub fn spellings(
    store: &(impl EventStore + ?Sized),
    resources: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut names = resources.to_vec();
    for resource in resources {
        names.extend(store.address_identifiers(resource)?);
    }
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    names.extend(lower);
    names.sort_unstable();
    names.dedup();
    Ok(names)
}

/// Open the store at `location` (creating it if needed) and bring its schema up to date.
pub fn open(location: &Path) -> Result<Box<dyn EventStore>, StoreError> {
    Ok(Box::new(Store::open(location)?))
}

/// Open the store at `location`, failing if it does not exist yet.
pub fn open_existing(location: &Path) -> Result<Box<dyn EventStore>, StoreError> {
    Ok(Box::new(Store::open_existing(location)?))
}

impl EventStore for Store {
    fn location(&self) -> &Path {
        &self.path
    }
    fn store_id(&self) -> Result<String, StoreError> {
        Store::store_id(self)
    }
    fn unrecorded_until(&self) -> Result<i64, StoreError> {
        Store::unrecorded_until(self)
    }
    fn known_files(&self) -> Result<KnownFiles, StoreError> {
        Store::known_files(self)
    }
    fn event_count(&self) -> Result<u64, StoreError> {
        Store::event_count(self)
    }
    fn count_after(&self, after: i64) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events WHERE id > ?1", [after], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| StoreError::sql(&self.path, e))
    }
    fn enter_bulk(&self) -> Result<(), StoreError> {
        Store::enter_bulk(self)
    }
    fn leave_bulk(&self) -> Result<(), StoreError> {
        Store::leave_bulk(self)
    }
    fn write_batch(
        &mut self,
        files: Vec<FileBatch>,
    ) -> Result<(BatchStats, BatchCommit), StoreError> {
        Store::write_batch(self, files)
    }
    fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        Store::query(self, q)
    }
    fn query_each(&self, q: &EventQuery, each: &mut EachBatch) -> Result<(), StoreError> {
        Store::query_each(self, q, each)
    }
    fn events_naming(&self, identifiers: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        Store::events_naming(self, identifiers)
    }
    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<EventWithEvidence>, StoreError> {
        Store::events_after(self, after, limit)
    }
    fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        Store::raw(self, id)
    }
    fn evidence_dictionary(&self) -> Result<Option<Arc<Dictionary>>, StoreError> {
        let latest: Option<u32> = self
            .conn
            .query_row("SELECT max(id) FROM evidence_dictionaries", [], |r| {
                r.get(0)
            })
            .map_err(|e| StoreError::sql(&self.path, e))?;
        latest.map(|id| self.dictionary(id)).transpose()
    }
    fn keep_evidence_dictionary(&mut self, dictionary: &Dictionary) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO evidence_dictionaries (id, bytes) VALUES (?1, ?2)",
                rusqlite::params![dictionary.id(), dictionary.bytes()],
            )
            .map(drop)
            .map_err(|e| StoreError::sql(&self.path, e))
    }
    fn prunable(&self, before_us: i64, through: i64, limit: usize) -> Result<Vec<i64>, StoreError> {
        Store::prunable(self, before_us, through, limit)
    }
    fn delete_events(&mut self, ids: &[i64]) -> Result<u64, StoreError> {
        Store::delete_events(self, ids)
    }
    fn remember_addresses(&mut self, known: &[(&str, &[String])]) -> Result<u64, StoreError> {
        Store::remember_addresses(self, known.iter().copied())
    }
    fn address_identifiers(&self, address: &str) -> Result<Vec<String>, StoreError> {
        Store::address_identifiers(self, address)
    }
}
pub use leaves::RecordedLeaf;
pub use query::{EachBatch, EventQuery, EventWithEvidence, StoredEvent};
pub use write::{
    event_leaf, in_key_order, number_blocks, seal_batch, BatchCommit, BatchStats, EvidencePacker,
    FileBatch, PreparedEvent, RawRef, RecordBuffers, Records,
};

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The store's default location, relative to the working directory.
pub const DEFAULT_PATH: &str = ".driftlog/events.db";

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The `strings` table in memory, for the writer (loaded on the first write).
    strings: rustc_hash::FxHashMap<String, i64>,
    strings_loaded: bool,
    /// Ids of resource names the writer has seen (a bounded cache of `ref_names`).
    ref_names: rustc_hash::FxHashMap<String, i64>,
    /// Ids of free texts the writer has seen (a bounded cache of `texts`).
    texts: rustc_hash::FxHashMap<String, i64>,
    /// Ids of shapes the writer has seen, by their bytes (a bounded cache of `shapes`).
    shape_ids: rustc_hash::FxHashMap<Vec<u8>, i64>,
    /// The identities this writer stored, while they are all the store holds.
    written: written::Written,
    /// Recently decompressed evidence blocks, by id.
    blocks: std::cell::RefCell<std::collections::HashMap<i64, std::sync::Arc<Vec<u8>>>>,
    /// Evidence dictionaries read so far, by id.
    dictionaries: std::cell::RefCell<HashMap<u32, std::sync::Arc<evidence::Dictionary>>>,
    /// Whether lookups read through a memory map yet ([`Store::map_for_lookups`]).
    mapped: std::cell::Cell<bool>,
    /// The `strings` table by id, for readers (loaded on the first query).
    names: std::cell::RefCell<Option<std::sync::Arc<query::Names>>>,
    /// Names of the resources of events read so far, by id in `ref_names` (bounded).
    ref_texts: std::cell::RefCell<query::RefTexts>,
    /// Free texts of events read so far, by id in `texts` (bounded).
    free_texts: std::cell::RefCell<query::RefTexts>,
    /// Shapes of events read so far, by id in `shapes` (bounded).
    shapes: std::cell::RefCell<rustc_hash::FxHashMap<i64, shapes::Shape>>,
    /// What one candidate's row costs the query planner, in bytes of posting lists
    /// ([`query::ROW_BYTES`]; tests set the extremes).
    row_bytes: u64,
}

impl Store {
    /// Open (creating it and its folder if needed) and bring the schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.into(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError::open(path, e))?;
        // `rarray(?)`: a list of ids bound as one parameter (resource lookups).
        rusqlite::vtab::array::load_module(&conn).map_err(|e| StoreError::open(path, e))?;
        let mut store = Self {
            conn,
            path: path.into(),
            strings: Default::default(),
            strings_loaded: false,
            ref_names: Default::default(),
            texts: Default::default(),
            shape_ids: Default::default(),
            written: Default::default(),
            blocks: Default::default(),
            dictionaries: Default::default(),
            names: Default::default(),
            ref_texts: Default::default(),
            free_texts: Default::default(),
            shapes: Default::default(),
            mapped: Default::default(),
            row_bytes: query::ROW_BYTES,
        };
        store.configure()?;
        schema::migrate(&mut store.conn).map_err(|e| e.at(path))?;
        Ok(store)
    }

    /// This store's identity (random, made when it was created or migrated to schema 3): the
    /// ledger's batch entries name it.
    pub fn store_id(&self) -> Result<String, StoreError> {
        self.meta("store_id")?.ok_or_else(|| StoreError::Damaged {
            path: self.path.clone(),
            what: "the store's metadata".into(),
            reason: "no store_id".into(),
        })
    }

    /// Lookups (`events`, attribution, `explain`) read through a memory map of the file: a
    /// page already in the OS's cache is used where it lies instead of being copied into
    /// freshly allocated cache memory, which halved a listing that touches most of the events
    /// table. Done at the first lookup, not on open: an ingest or a `verify` walk reads through
    /// the bounded page cache as before, so their memory is not the mapped file's size. SQLite
    /// caps the map at its compile-time limit (2 GiB) and reads what lies beyond as before;
    /// writes never go through it.
    pub(crate) fn map_for_lookups(&self) -> Result<(), StoreError> {
        if !self.mapped.replace(true) {
            self.conn
                .execute_batch("PRAGMA mmap_size = 1099511627776;")
                .map_err(|e| StoreError::sql(&self.path, e))?;
        }
        Ok(())
    }

    /// Events with ids up to this one were stored before the ledger committed to contents.
    pub fn unrecorded_until(&self) -> Result<i64, StoreError> {
        Ok(self
            .meta("unrecorded_until")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| StoreError::sql(&self.path, e))
    }

    /// Open for reading only, failing if the store does not exist yet.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.into() });
        }
        Self::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        // The large page cache keeps the hot parts of the indexes in memory while a batch is
        // written; it is a bound, not an allocation.
        self.conn
            .execute_batch(
                "PRAGMA page_size = 16384;
                 PRAGMA foreign_keys = ON;
                 PRAGMA temp_store = MEMORY;
                 PRAGMA cache_size = -262144;
                 PRAGMA busy_timeout = 10000;",
            )
            .map_err(|e| StoreError::sql(&self.path, e))?;
        self.set_journal()
    }

    /// The everyday journal. WAL: readers never block the writer, and a commit is one
    /// sequential append. synchronous=NORMAL: a process crash loses nothing committed; a power
    /// cut may lose the last transactions but never corrupts the file.
    ///
    /// Changing the journal needs the store to itself. When another connection holds it (a
    /// bulk ingest in rollback-journal mode, or readers while that ingest ends), the journal
    /// stays as it is for now: whichever connection opens the store next restores the WAL.
    fn set_journal(&self) -> Result<(), StoreError> {
        let switched = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
        match switched {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) => {}
            Err(e) => return Err(StoreError::sql(&self.path, e)),
        }
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| StoreError::sql(&self.path, e))
    }

    /// Prepare for a large ingest (a million events into a small store): journal with a
    /// rollback journal instead of the WAL. Nearly every page such an ingest writes is new, and
    /// SQLite journals only pages that existed before the transaction, so each page is written
    /// once, where the WAL writes it twice (log, then checkpoint). With `synchronous=FULL` the
    /// rollback journal is as crash-safe as the WAL. If another connection holds the store open
    /// the journal cannot change, and the WAL stays.
    ///
    /// A run killed in bulk mode leaves a store that the next open repairs: SQLite rolls back
    /// the interrupted transaction, and [`Store::open`] restores the WAL.
    pub(crate) fn enter_bulk(&self) -> Result<(), StoreError> {
        let mode: rusqlite::Result<String> =
            self.conn
                .query_row("PRAGMA journal_mode = TRUNCATE", [], |r| r.get(0));
        if mode.is_ok_and(|m| m.eq_ignore_ascii_case("truncate")) {
            self.conn
                .pragma_update(None, "synchronous", "FULL")
                .map_err(|e| StoreError::sql(&self.path, e))?;
        }
        Ok(())
    }

    /// End an ingest: return to the WAL. Safe to call when [`Store::enter_bulk`] was not.
    pub(crate) fn leave_bulk(&self) -> Result<(), StoreError> {
        self.set_journal()
    }

    /// One number from the store.
    fn count(&self, sql: &str) -> Result<u64, StoreError> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| StoreError::sql(&self.path, e))
    }

    /// How many events the store holds.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        self.count("SELECT count(*) FROM events")
    }

    /// The events the recorded files brought, by the files' own counts (equal to
    /// [`Store::event_count`] when no event appears in two files).
    pub fn recorded_file_events(&self) -> Result<u64, StoreError> {
        self.count("SELECT coalesce(sum(events), 0) FROM files")
    }

    /// SQLite's own integrity check plus driftlog's invariants: every event's evidence block
    /// exists and every resource reference points at an event. Returns the problems found.
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let mut problems: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(err)?
            .into_iter()
            .filter(|line| line != "ok")
            .collect();
        let orphans = self.count(&format!(
            "SELECT count(*) FROM events e WHERE NOT {}",
            pieces::HAS_BLOCK
        ))?;
        if orphans > 0 {
            problems.push(format!("{orphans} events have no evidence block"));
        }
        let dangling = self.dangling_references()?;
        if dangling > 0 {
            problems.push(format!("{dangling} resource references point at no event"));
        }
        Ok(problems)
    }

    /// References (in the posting lists) to events the store does not hold.
    fn dangling_references(&self) -> Result<u64, StoreError> {
        let err = |e| StoreError::sql(&self.path, e);
        let mut ids = Vec::new();
        for table in ["ref_postings", "string_postings", "facet_postings"] {
            let pairs = self.postings(
                &format!("SELECT id, first_us, events FROM {table}"),
                [],
                i64::MIN,
                i64::MAX,
            )?;
            ids.extend(pairs.into_iter().map(|(_, id)| id));
        }
        ids.sort_unstable();
        ids.dedup();
        // Walk both id lists in order.
        let mut events = self
            .conn
            .prepare("SELECT id FROM events ORDER BY id")
            .map_err(err)?;
        let mut stored = events.query([]).map_err(err)?;
        let mut next_stored = || -> Result<Option<i64>, StoreError> {
            Ok(match stored.next().map_err(err)? {
                Some(r) => Some(r.get(0).map_err(err)?),
                None => None,
            })
        };
        let mut current = next_stored()?;
        let mut dangling = 0;
        for id in ids {
            while current.is_some_and(|c| c < id) {
                current = next_stored()?;
            }
            if current != Some(id) {
                dangling += 1;
            }
        }
        Ok(dangling)
    }

    /// How many source files the store has recorded as completely ingested.
    pub fn file_count(&self) -> Result<u64, StoreError> {
        self.count("SELECT count(*) FROM files")
    }
}

impl Store {
    /// Files already ingested cleanly: by path (size, mtime) and by content hash.
    pub fn known_files(&self) -> Result<KnownFiles, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(store: &Store) -> String {
        store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    }

    /// A writer that skips looking for stored copies of identities it never stored (see
    /// `written`) still finds one another writer stored in between.
    #[test]
    fn a_copy_stored_by_another_writer_between_batches_is_found() {
        use crate::conformance::{batch, k8s};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let one = |id: &str| {
            let e = k8s(id, 3, &["ns/web"]);
            let raw = format!("{{\"auditID\":\"{id}\"}}");
            batch(&format!("/logs/{id}.json"), vec![(e, raw)])
        };
        let mut a = Store::open(&path).unwrap();
        let mut b = Store::open(&path).unwrap();
        assert_eq!(a.write_batch(vec![one("first")]).unwrap().0.inserted, 1);
        assert_eq!(b.write_batch(vec![one("second")]).unwrap().0.inserted, 1);
        let (stats, _) = a.write_batch(vec![one("second"), one("third")]).unwrap();
        assert_eq!((stats.inserted, stats.duplicates), (1, 1));
        // And on a store that was not empty as it began.
        let mut c = Store::open(&path).unwrap();
        let (stats, _) = c.write_batch(vec![one("first"), one("fourth")]).unwrap();
        assert_eq!((stats.inserted, stats.duplicates), (1, 1));
        assert_eq!(c.event_count().unwrap(), 4);
    }

    #[test]
    fn bulk_mode_switches_the_journal_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("events.db")).unwrap();
        assert_eq!(journal(&store), "wal");
        store.enter_bulk().unwrap();
        assert_eq!(journal(&store), "truncate");
        store.leave_bulk().unwrap();
        assert_eq!(journal(&store), "wal");
    }

    #[test]
    fn bulk_mode_keeps_the_wal_while_another_connection_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let writer = Store::open(&path).unwrap();
        let reader = Store::open(&path).unwrap();
        // The reader is inside a read transaction, as during a long query.
        reader
            .conn
            .execute_batch("BEGIN; SELECT count(*) FROM events;")
            .unwrap();
        writer.enter_bulk().unwrap();
        assert_eq!(journal(&writer), "wal", "the switch waits for no reader");
        assert_eq!(reader.event_count().unwrap(), 0);
        reader.conn.execute_batch("COMMIT").unwrap();
        writer.leave_bulk().unwrap();
        assert_eq!(journal(&writer), "wal");
    }

    #[test]
    fn a_reader_arriving_during_bulk_mode_does_not_fail_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let writer = Store::open(&path).unwrap();
        writer.enter_bulk().unwrap();
        assert_eq!(journal(&writer), "truncate");
        // Opening tries to restore the WAL; the bulk writer holds the store, so it waits for
        // nothing and reads in rollback-journal mode.
        let reader = Store::open(&path).unwrap();
        reader
            .conn
            .execute_batch("BEGIN; SELECT count(*) FROM events;")
            .unwrap();
        writer.leave_bulk().unwrap();
        reader.conn.execute_batch("COMMIT").unwrap();
        drop(reader);
        // The next open (or the writer's next ingest) restores it.
        drop(writer);
        let again = Store::open(&path).unwrap();
        assert_eq!(journal(&again), "wal");
    }
}
