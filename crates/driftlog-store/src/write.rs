//! Writing batches of files: one transaction each, so a batch is in the store whole or not at
//! all, together with the record of the files it came from.

use crate::evidence::{Compressor, Dictionary};
use crate::{postings, Store, StoreError};
use driftlog_core::{AuditEvent, Outcome};
use rusqlite::{params, OptionalExtension, ToSql};
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

/// An event ready for the store, with where its raw record sits in its file's evidence.
/// Everything that can be computed from the event alone is computed here, on the parsing
/// threads, so the single writer only binds and steps.
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub event: AuditEvent,
    pub raw: RawRef,
    /// The RFC 9162 leaf hash of the event's canonical bytes (its fields and its evidence's
    /// SHA-256): what the ledger commits to.
    pub leaf: [u8; 32],
}

impl PreparedEvent {
    /// `raw` is the original record, hashed here: this runs on the parser threads, so the
    /// cost is spread over every core instead of falling on the single writer. Where the
    /// record sits in the evidence is known once its block is sealed:
    /// [`EvidencePacker::finish`] places it.
    pub fn new(event: AuditEvent, raw_bytes: &[u8]) -> Self {
        let leaf = event_leaf(&event, raw_bytes);
        Self {
            event,
            raw: RawRef::default(),
            leaf,
        }
    }
}

/// A record's place in the evidence blocks: block (numbered within its batch, see
/// [`number_blocks`], until the writer assigns store ids), byte offset and length in the
/// decompressed block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawRef {
    pub block: u64,
    pub offset: u32,
    pub len: u32,
}

/// The original records of one file's events, as read, before they are packed: parsing
/// threads collect them, and the ingest pipeline hands a batch's files to one
/// [`EvidencePacker`] (see there why).
#[derive(Debug, Default)]
pub struct Records {
    /// The records one after another, each as [`crate::evidence::keep`] shapes it.
    bytes: Vec<u8>,
    /// Each record's group and place in `bytes`, in the order they were added.
    records: Vec<Pending>,
}

impl Records {
    /// Add the record of `event` (without its id, which the event's row holds).
    pub fn add(&mut self, raw: &[u8], event: &AuditEvent) {
        let offset = self.bytes.len();
        crate::evidence::keep(raw, &event.event_id, &mut self.bytes);
        self.records.push(Pending {
            group: group_of(event),
            offset: offset as u32,
            len: (self.bytes.len() - offset) as u32,
        });
    }

    /// Whether it holds a window's worth ([`WINDOW_BYTES`]): a file that reaches it is packed
    /// on its own as it is read (see [`seal_batch`]), so a large file's records never all sit
    /// in memory.
    pub fn fills_a_window(&self) -> bool {
        self.bytes.len() >= WINDOW_BYTES
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Record buffers handed back once their records are packed, for the next files' records.
///
/// A delivery file's records take about as much memory as the file decompressed (half a
/// megabyte of CloudTrail); a fresh buffer grows to that by doubling, every step a copy into
/// new pages the kernel faults in and zeroes: a fifteenth of ingest's CPU on the 1M corpus
/// (docs/BENCHMARKS.md, issue #15 fourteenth part). A buffer that held one file's records
/// takes the next file's without either. Parsers take ([`RecordBuffers::records`]), the
/// packer gives back once it has grouped a window ([`EvidencePacker::recycling`]); what is
/// kept spare is bounded, so memory stays what the records in flight need.
#[derive(Debug, Default)]
pub struct RecordBuffers {
    spare: std::sync::Mutex<Spare>,
}

#[derive(Debug, Default)]
struct Spare {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

/// Most bytes of spare buffers kept: the records of a few windows.
const SPARE_BYTES: usize = 4 * WINDOW_BYTES;

impl RecordBuffers {
    /// Empty records for a file, in a buffer that held an earlier file's if one is spare.
    pub fn records(&self) -> Records {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = spare.buffers.pop().unwrap_or_default();
        spare.bytes -= bytes.capacity();
        Records {
            bytes,
            records: Vec::new(),
        }
    }

    fn give_back(&self, mut bytes: Vec<u8>) {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        // A buffer larger than a window held a large file packed on its own: not kept.
        if bytes.capacity() == 0
            || bytes.capacity() > WINDOW_BYTES
            || spare.bytes + bytes.capacity() > SPARE_BYTES
        {
            return;
        }
        bytes.clear();
        spare.bytes += bytes.capacity();
        spare.buffers.push(bytes);
    }
}

/// Packs records into compressed blocks (see `crate::evidence`).
///
/// Records are grouped by what they did (service, action, principal) before they are
/// compressed, not left in their file's order: records of one call by one caller share nearly
/// all their text, and zstd's fast strategy only finds a match in what its hash table still
/// remembers, so a neighbour of the same shape is worth more than one a hundred records back.
/// The grouping runs over a window of up to [`WINDOW_BYTES`] of records, across the files
/// of a batch, which is then cut into blocks of at most [`BLOCK_BYTES`]: a delivery file
/// holds one caller's calls a few times, eight consecutive files (the same account and
/// region, the next minutes) many times. On generated CloudTrail, blocks grouped within
/// their file took a fifth less than in file order, and grouped over eight files a sixth
/// less again (docs/BENCHMARKS.md, issue #15 twelfth and thirteenth parts). Every record
/// keeps its own offset, so readers never depend on the order.
pub struct EvidencePacker<'d> {
    sealed: Vec<Vec<u8>>,
    /// The records not packed yet, by file, in the order they were added.
    window: Vec<Records>,
    window_bytes: usize,
    /// Where each record added so far ended up, in the order they were added; filled as
    /// windows are sealed.
    placed: Vec<RawRef>,
    dictionary: Option<&'d Dictionary>,
    /// Made at the first sealed block: a file without records costs no zstd context.
    compressor: Option<Compressor<'d>>,
    /// Where the buffers of packed records go back to, if anywhere.
    buffers: Option<&'d RecordBuffers>,
}

/// A record not packed yet: its group (see [`group_of`]), and where it sits among its file's
/// records.
#[derive(Debug, Clone, Copy)]
struct Pending {
    group: u64,
    offset: u32,
    len: u32,
}

impl std::fmt::Debug for EvidencePacker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidencePacker")
            .field("sealed", &self.sealed.len())
            .field("window", &self.window_bytes)
            .field("placed", &self.placed.len())
            .field("dictionary", &self.dictionary.map(Dictionary::id))
            .finish()
    }
}

impl Default for EvidencePacker<'static> {
    fn default() -> Self {
        EvidencePacker::new(None)
    }
}

/// Blocks are cut at this size: large enough that a block compresses well and is stored
/// without waste, small enough that reading one record decompresses little (about half a
/// millisecond for a full block).
///
/// Why not smaller: a block is one SQLite row, and a row of 5 to 16 KB fills a 16 KB page
/// alone. 128 KiB blocks compressed to about 10 KB, so the evidence of a million CloudTrail
/// events took 179 MB of pages for 124 MB of frames. A frame larger than a page fills whole
/// overflow pages and shares the leaf page with others; the evidence is about 0.6 of what it
/// was.
pub(crate) const BLOCK_BYTES: usize = 1 << 20;

/// Records are grouped over this much before they are cut into blocks: eight blocks' worth,
/// eight delivery files of CloudTrail. Measured on 64 consecutive files, grouping over 1, 2,
/// 4, 8 and 16 files then cutting at [`BLOCK_BYTES`] gave 94.8, 88.6, 83.9, 79.9 and 77.5
/// bytes a record; the window is memory the packer holds, so it stops where the gain slows.
pub(crate) const WINDOW_BYTES: usize = 8 * BLOCK_BYTES;

thread_local! {
    /// The buffer a block is grouped into before it is compressed, kept per thread.
    static GROUPED_BLOCK: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The group a record is placed in: its service, then its action and principal, each hashed
/// (a fixed hash, so the same records always make the same blocks). Sorting by this puts
/// records of one service together and, within it, those of one call by one caller; two names
/// that happen to share a hash only share a group, which costs a little compression and
/// nothing else.
fn group_of(event: &AuditEvent) -> u64 {
    use std::hash::{Hash, Hasher};
    let hash = |parts: &[Option<&str>]| {
        let mut h = rustc_hash::FxHasher::default();
        parts.hash(&mut h);
        h.finish()
    };
    let service = hash(&[event.service.as_deref()]);
    let call = hash(&[Some(event.action.as_str()), event.principal.id.as_deref()]);
    (service & 0xFFFF_FFFF_0000_0000) | (call >> 32)
}

impl<'d> EvidencePacker<'d> {
    /// A packer that compresses with `dictionary` (the store's latest), or without one.
    pub fn new(dictionary: Option<&'d Dictionary>) -> Self {
        EvidencePacker {
            sealed: Vec::new(),
            window: Vec::new(),
            window_bytes: 0,
            placed: Vec::new(),
            dictionary,
            compressor: None,
            buffers: None,
        }
    }

    /// This packer, handing the buffers of the records it has packed back to `buffers`.
    pub fn recycling(mut self, buffers: &'d RecordBuffers) -> Self {
        self.buffers = Some(buffers);
        self
    }

    /// Add the record of `event` (one at a time: tests, and stores written by hand).
    /// [`finish`](Self::finish) tells where it went.
    pub fn add(&mut self, raw: &[u8], event: &AuditEvent) {
        let mut records = Records::default();
        records.add(raw, event);
        self.add_records(records);
    }

    /// Add a file's records, in their order. [`finish`](Self::finish) tells where they went.
    pub fn add_records(&mut self, records: Records) {
        if records.is_empty() {
            return;
        }
        self.window_bytes += records.bytes.len();
        self.window.push(records);
        if self.window_bytes >= WINDOW_BYTES {
            self.seal();
        }
    }

    /// Group the window's records (see [`EvidencePacker`]), cut them into blocks, compress
    /// each, and record where each record now sits.
    fn seal(&mut self) {
        let mut window = std::mem::take(&mut self.window);
        // (group, file in the window, record in its file), in the order they were added.
        let mut order: Vec<(u64, u32, u32)> = Vec::new();
        for (f, records) in window.iter().enumerate() {
            for (r, record) in records.records.iter().enumerate() {
                order.push((record.group, f as u32, r as u32));
            }
        }
        let first = self.placed.len();
        let mut at = first;
        let mut index: Vec<usize> = Vec::with_capacity(window.len());
        for records in &window {
            index.push(at);
            at += records.records.len();
        }
        self.placed.resize(at, RawRef::default());
        // Stable: records of one group stay in the order they were added.
        order.sort_by_key(|&(group, _, _)| group);
        let mut grouped = GROUPED_BLOCK.take();
        grouped.clear();
        for (_, f, r) in order {
            let records = &window[f as usize];
            let record = records.records[r as usize];
            if !grouped.is_empty() && grouped.len() + record.len as usize > BLOCK_BYTES {
                self.compress(&grouped);
                grouped.clear();
            }
            self.placed[index[f as usize] + r as usize] = RawRef {
                block: self.sealed.len() as u64,
                offset: grouped.len() as u32,
                len: record.len,
            };
            let start = record.offset as usize;
            grouped.extend_from_slice(&records.bytes[start..start + record.len as usize]);
        }
        if !grouped.is_empty() {
            self.compress(&grouped);
        }
        GROUPED_BLOCK.set(grouped);
        for records in window.drain(..) {
            if let Some(buffers) = self.buffers {
                buffers.give_back(records.bytes);
            }
        }
        self.window = window;
        self.window_bytes = 0;
    }

    fn compress(&mut self, block: &[u8]) {
        let dictionary = self.dictionary;
        let compressed = self
            .compressor
            .get_or_insert_with(|| Compressor::new(dictionary))
            .compress(block);
        self.sealed.push(compressed);
    }

    /// The compressed blocks, in the order [`RawRef::block`] numbers them; each of `events`
    /// (the events whose records were added, in the order they were added) is given its
    /// record's place.
    ///
    /// # Panics
    /// When `events` are not as many as the records added: a caller's bug.
    pub fn finish<'e>(
        mut self,
        events: impl IntoIterator<Item = &'e mut PreparedEvent>,
    ) -> Vec<Vec<u8>> {
        if !self.window.is_empty() {
            self.seal();
        }
        let mut placed = self.placed.iter();
        for event in events {
            event.raw = *placed
                .next()
                .expect("as many events as records added to the packer");
        }
        assert!(
            placed.next().is_none(),
            "every record added to a packer belongs to an event"
        );
        self.sealed
    }
}

/// Everything read from one source file.
#[derive(Debug, Clone)]
pub struct FileBatch {
    /// Absolute path, or `-` for standard input.
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    pub events: Vec<PreparedEvent>,
    /// Compressed evidence blocks that events of its batch point into (see [`number_blocks`]:
    /// numbered across the batch's files).
    pub blocks: Vec<Vec<u8>>,
    /// Only files read without a single rejected record are recorded as done (and skipped next
    /// time); the others are read again on every run, so their problems keep being reported.
    pub clean: bool,
}

/// What a batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Events new to the store.
    pub inserted: u64,
    /// Events the store already held (same source, time and id).
    pub duplicates: u64,
    /// Events that replaced a less complete copy (a Kubernetes `ResponseComplete` stage
    /// arriving after `RequestReceived`).
    pub upgraded: u64,
}

impl std::ops::AddAssign for BatchStats {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.duplicates += o.duplicates;
        self.upgraded += o.upgraded;
    }
}

/// An event's row (`schema::V17`): what the filters read, the id of its shape
/// (`crate::shapes`), its evidence block, its body (`crate::body`) and its leaf.
const COLUMNS: &str = "id, source, event_id, time_us, action, read_only, principal, issuer, \
    actor_kind, shape, raw_block, body, leaf";
const VALUES: &str = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13";

/// The leaf the ledger commits to for an event with this original record.
pub fn event_leaf(event: &AuditEvent, raw: &[u8]) -> [u8; 32] {
    thread_local! {
        static CANONICAL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let raw_sha256: [u8; 32] = Sha256::digest(raw).into();
    CANONICAL.with_borrow_mut(|buf| {
        buf.clear();
        event.write_canonical(&raw_sha256, buf);
        driftlog_ledger::merkle::leaf_hash(buf)
    })
}

/// What one committed batch stored, for the ledger: the events it inserted or replaced, by
/// store id, with their leaves, in id order; and, for each event it replaced, the leaf the
/// replaced copy had (which the earlier batch's ledger entry committed to).
#[derive(Debug, Clone, Default)]
pub struct BatchCommit {
    pub stored: Vec<(i64, [u8; 32])>,
    pub replaced: Vec<(i64, Option<[u8; 32]>)>,
}

impl BatchCommit {
    /// What a batch stored, from what its writer saw: the events it `inserted` (ids ascending),
    /// the latest leaf of each event it stored again (`restored`: a Kubernetes stage replacing
    /// another, possibly one this batch inserted), and for each event an earlier batch stored
    /// and this one replaced, the leaf that earlier batch committed to.
    pub fn assemble(
        inserted: Vec<(i64, [u8; 32])>,
        restored: impl IntoIterator<Item = (i64, [u8; 32])>,
        replaced: impl IntoIterator<Item = (i64, Option<[u8; 32]>)>,
    ) -> Self {
        let mut restored: FxHashMap<i64, [u8; 32]> = restored.into_iter().collect();
        let mut stored = inserted;
        if !restored.is_empty() {
            for (id, leaf) in &mut stored {
                if let Some(latest) = restored.remove(id) {
                    *leaf = latest;
                }
            }
            stored.extend(restored);
            stored.sort_unstable_by_key(|(id, _)| *id);
        }
        let mut replaced: Vec<_> = replaced.into_iter().collect();
        replaced.sort_unstable_by_key(|(id, _)| *id);
        BatchCommit { stored, replaced }
    }
}

/// Give every evidence block of `files` its store id, from `first_block` on (moving the
/// events' [`RawRef::block`] with them), and take the blocks out, in id order. Blocks whose
/// events all turn out to be duplicates are then simply not written.
///
/// A batch's blocks are numbered from 0 across its files, as their `blocks` list them in
/// order: the ingest packs a batch's records together (an event's record may sit in a block
/// another file of the batch carries), and a batch of one file is numbered as before.
pub fn number_blocks(files: &mut [FileBatch], first_block: i64) -> Vec<Vec<u8>> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for f in files.iter_mut() {
        for e in &mut f.events {
            e.raw.block += first_block as u64;
        }
        blocks.append(&mut f.blocks);
    }
    blocks
}

/// Give a batch of `files` its evidence blocks, numbered across it as [`number_blocks`]
/// expects: first those `packer` packed from the records of the files that brought no blocks
/// (each file's records added in the files' order), then the blocks of the files packed on
/// their own (larger than a window: see [`Records::fills_a_window`]), in the files' order.
/// The first file carries the packer's blocks.
///
/// # Panics
/// When the packer's records are not those of the files without blocks: a caller's bug.
pub fn seal_batch(packer: EvidencePacker<'_>, files: &mut [FileBatch]) {
    let packed = packer.finish(
        files
            .iter_mut()
            .filter(|f| f.blocks.is_empty())
            .flat_map(|f| f.events.iter_mut()),
    );
    let mut base = packed.len() as u64;
    for f in files.iter_mut().filter(|f| !f.blocks.is_empty()) {
        for e in &mut f.events {
            e.raw.block += base;
        }
        base += f.blocks.len() as u64;
    }
    match files.first_mut() {
        Some(first) => {
            let own = std::mem::replace(&mut first.blocks, packed);
            first.blocks.extend(own);
        }
        None => assert!(packed.is_empty(), "blocks without a file"),
    }
}

/// The batch's events in key order (time, source, event id), the order every store writes them
/// in. Stable: for one event logged twice in a batch, the file order decides which comes first.
pub fn in_key_order(files: &[FileBatch]) -> Vec<&PreparedEvent> {
    let mut events: Vec<&PreparedEvent> = files.iter().flat_map(|f| &f.events).collect();
    events.sort_by(|a, b| {
        let (a, b) = (&a.event, &b.event);
        (a.time_us, a.source, &a.event_id).cmp(&(b.time_us, b.source, &b.event_id))
    });
    events
}

/// A new event's row.
fn insert_sql() -> String {
    format!("INSERT INTO events ({COLUMNS}) VALUES ({VALUES})")
}

/// The stored copy of an event, if any: found through the identity index (`schema::V16`) by
/// its second and the id's first bytes, and told apart from any other event sharing them by
/// its time, whole id and source. `?1` time, `?2` source, `?3` id as stored, `?4` its
/// [`key_prefix`](crate::event_ids::StoredId::key_prefix), `?5` its
/// [`key_second`](crate::schema::key_second). Both keys are bound as values: SQLite uses an
/// index on an expression only for that expression of the column, and with `event_id = ?3`
/// beside it would read `substr(event_id, …)` as an expression of the parameter.
/// It answers the row's id, its shape (whose completeness decides whether the new copy
/// replaces it) and its leaf.
const STORED_COPY: &str = "SELECT e.id, s.shape, e.leaf FROM events e \
     LEFT JOIN shapes s ON s.id = e.shape \
     WHERE time_us / 1000000 = ?5 AND substr(event_id, 1, 4) = ?4 \
     AND time_us = ?1 AND source = ?2 AND event_id = ?3";

/// Events logged in stages (Kubernetes): a more complete copy replaces the stored one in its
/// row (`?1`, the row's id), with the same parameters as [`insert_sql`].
fn replace_sql() -> String {
    let updates = COLUMNS
        .split(',')
        .map(str::trim)
        .enumerate()
        .filter(|(_, c)| !matches!(*c, "id" | "source" | "event_id" | "time_us"))
        .map(|(i, c)| format!("{c} = ?{}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    format!("UPDATE events SET {updates} WHERE id = ?1")
}

impl Store {
    /// Write several files' events in one transaction.
    pub fn write_batch(
        &mut self,
        files: Vec<FileBatch>,
    ) -> Result<(BatchStats, BatchCommit), StoreError> {
        let result = self.write_batch_in_transaction(files);
        if result.is_err() {
            // Ids interned in the rolled-back transaction do not exist: forget them all.
            self.strings.clear();
            self.strings_loaded = false;
            self.ref_names.clear();
            self.texts.clear();
            self.shape_ids.clear();
            self.written = crate::written::Written::Off;
        }
        result
    }

    fn write_batch_in_transaction(
        &mut self,
        mut files: Vec<FileBatch>,
    ) -> Result<(BatchStats, BatchCommit), StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sql(&path, e);
        let mut stats = BatchStats::default();
        // New events, in ascending id as they are inserted (the hot path: a plain push).
        let mut inserted: Vec<(i64, [u8; 32])> = Vec::new();
        // Events stored again in this batch (Kubernetes stages), by id, and the leaf each
        // replaced copy had when an earlier batch committed to it.
        let mut restored: FxHashMap<i64, [u8; 32]> = FxHashMap::default();
        let mut replaced: FxHashMap<i64, Option<[u8; 32]>> = FxHashMap::default();

        let counts: Vec<i64> = files.iter().map(|f| f.events.len() as i64).collect();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        // Give every block its store id now; blocks whose events all turn out to be duplicates
        // are not written.
        let first_block = crate::pieces::next_block(&tx).map_err(sql)?;
        let blocks = number_blocks(&mut files, first_block);
        let mut block_used = vec![false; blocks.len()];
        // Sorted keys touch each index page once per batch instead of at random.
        let events = in_key_order(&files);

        if !self.strings_loaded {
            let mut all = tx.prepare("SELECT text, id FROM strings").map_err(sql)?;
            let rows = all
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .map_err(sql)?;
            for row in rows {
                let (text, id) = row.map_err(sql)?;
                self.strings.insert(text, id);
            }
            self.strings_loaded = true;
        }
        let last_id = {
            let strings = &mut self.strings;
            let mut add_string = tx
                .prepare_cached(
                    "INSERT INTO strings (text) VALUES (?1) \
                     ON CONFLICT (text) DO UPDATE SET text = excluded.text RETURNING id",
                )
                .map_err(sql)?;
            let mut intern = |text: &str| -> Result<i64, StoreError> {
                if let Some(id) = strings.get(text) {
                    return Ok(*id);
                }
                let id: i64 = add_string.query_row([text], |r| r.get(0)).map_err(sql)?;
                strings.insert(text.to_owned(), id);
                Ok(id)
            };
            // Resource names are ids into `ref_names` in the row as in the posting lists
            // (`crate::resource_lists`).
            use crate::texts::{id_of, Table};
            let ref_names = &mut self.ref_names;
            let mut intern_ref =
                |text: &str| id_of(&tx, Table::RefNames, ref_names, text).map_err(sql);
            // Free-text fields are ids into `texts` (`crate::texts`).
            let texts = &mut self.texts;
            let mut free_text = |text: Option<&str>| {
                text.map(|t| id_of(&tx, Table::Texts, texts, t))
                    .transpose()
                    .map_err(sql)
            };
            let shape_ids = &mut self.shape_ids;
            let mut shape_bytes: Vec<u8> = Vec::new();
            let mut shape_of = |shape: &crate::shapes::Shape| {
                shape.encode_into(&mut shape_bytes);
                crate::texts::interned_id(&tx, "shapes", "shape", shape_ids, &shape_bytes[..])
                    .map_err(sql)
            };
            let mut body = crate::body::Body::default();
            let mut body_bytes: Vec<u8> = Vec::new();
            let mut next_id: i64 = tx
                .query_row("SELECT coalesce(max(id), 0) + 1 FROM events", [], |r| {
                    r.get(0)
                })
                .map_err(sql)?;
            let first_new_id = next_id;
            let written = &mut self.written;
            written.begin(next_id);
            let mut insert = tx.prepare_cached(&insert_sql()).map_err(sql)?;
            let mut replace = tx.prepare_cached(&replace_sql()).map_err(sql)?;
            let mut stored_copy = tx.prepare_cached(STORED_COPY).map_err(sql)?;
            // What the batch's events name, for the posting lists: resources by their id in
            // `ref_names`, principals, issuers and actions by their id in `strings`. Events
            // come in time order, so every list is built in order.
            let mut resources: FxHashMap<i64, Vec<(i64, i64)>> = FxHashMap::default();
            let mut who_what: FxHashMap<i64, Vec<(i64, i64)>> = FxHashMap::default();
            let mut facets: FxHashMap<i64, Vec<(i64, i64)>> = FxHashMap::default();
            let mut string_facets: FxHashSet<(i64, i64)> = FxHashSet::default();
            for p in events {
                let e = &p.event;
                let (outcome, message) = match &e.outcome {
                    Outcome::Failure { code, message } => (code.as_str(), message.as_deref()),
                    other => (other.label(), None),
                };
                let (block, offset, len) = (p.raw.block as i64, p.raw.offset, p.raw.len);
                let pr = &e.principal;
                let action = intern(&e.action)?;
                let principal = pr.id.as_deref().map(&mut intern).transpose()?;
                let issuer = pr.issuer.as_deref().map(&mut intern).transpose()?;
                let source = intern(e.source.as_str())?;
                let leaf = crate::leaves::kept(e, &p.leaf);
                let event_id = crate::event_ids::encode(&e.event_id);
                body.texts = [
                    free_text(message)?,
                    free_text(pr.session_name.as_deref())?,
                    free_text(pr.source_identity.as_deref())?,
                    free_text(pr.on_behalf_of.as_deref())?,
                    free_text(e.source_ip.as_deref())?,
                ];
                (body.raw_offset, body.raw_len) = (offset, len);
                body.resources.clear();
                for r in &e.resources {
                    body.resources.push(intern_ref(r)?);
                }
                body.encode_into(&mut body_bytes);
                let body_bytes = &body_bytes[..];
                let shape = shape_of(&crate::shapes::Shape {
                    account: e.account.as_deref().map(&mut intern).transpose()?,
                    region: e.region.as_deref().map(&mut intern).transpose()?,
                    service: e.service.as_deref().map(&mut intern).transpose()?,
                    outcome: Some(intern(outcome)?),
                    principal_type: pr.kind.as_deref().map(&mut intern).transpose()?,
                    invoked_by: pr.invoked_by.as_deref().map(&mut intern).transpose()?,
                    actor_rule: Some(intern(&e.actor.rule)?),
                    user_agent: e.user_agent.as_deref().map(&mut intern).transpose()?,
                    mfa: pr.mfa,
                    completeness: e.completeness,
                })?;
                let values: [&dyn ToSql; 13] = [
                    &next_id,
                    &source,
                    &event_id,
                    &e.time_us,
                    &action,
                    &e.read_only,
                    &principal,
                    &issuer,
                    &intern(e.actor.kind.as_str())?,
                    &shape,
                    &block,
                    &body_bytes,
                    &leaf,
                ];
                // The stored copy's id, completeness (a copy whose shape is lost counts as the
                // least complete) and leaf, looked for only if there may be one.
                let identity =
                    crate::written::Written::identity(e.time_us, e.source.as_str(), &e.event_id);
                let may_hold = written.may_hold(identity);
                let stored: Option<(i64, u8, Option<Vec<u8>>)> = may_hold
                    .then(|| {
                        stored_copy
                            .query_row(
                                params![
                                    e.time_us,
                                    source,
                                    event_id,
                                    event_id.key_prefix(),
                                    crate::schema::key_second(e.time_us)
                                ],
                                |r| {
                                    let completeness =
                                        crate::shapes::Shape::from_sql(r.get_ref(1)?)
                                            .map_or(0, |s| s.completeness);
                                    Ok((r.get(0)?, completeness, r.get(2)?))
                                },
                            )
                            .optional()
                    })
                    .transpose()
                    .map_err(sql)?
                    .flatten();
                // A copy this replaces (logged in stages) was committed to by an earlier
                // ledger entry, whose leaf must stay known.
                let mut previous: Option<(i64, Option<Vec<u8>>)> = None;
                let id = match stored {
                    None => {
                        insert.execute(&values[..]).map_err(sql)?;
                        written.stored(identity);
                        Some(next_id)
                    }
                    Some((id, completeness, leaf)) if e.completeness > completeness => {
                        let mut values = values;
                        values[0] = &id;
                        replace.execute(&values[..]).map_err(sql)?;
                        previous = Some((id, leaf));
                        Some(id)
                    }
                    // The first copy wins among equally complete ones.
                    Some(_) => None,
                };
                let Some(id) = id else {
                    stats.duplicates += 1;
                    continue;
                };
                if id == next_id {
                    stats.inserted += 1;
                    next_id += 1;
                    inserted.push((id, p.leaf));
                } else {
                    stats.upgraded += 1;
                    // The earlier stage's references stay: the request named them too.
                    let old = previous
                        .filter(|(old, _)| *old == id)
                        .and_then(|(_, leaf)| leaf)
                        .and_then(|l| <[u8; 32]>::try_from(l.as_slice()).ok());
                    // A copy inserted by this same batch replaces nothing an earlier batch
                    // committed to; replaced twice, the leaf that counts is the first one.
                    if id < first_new_id {
                        replaced.entry(id).or_insert(old);
                    }
                    restored.insert(id, p.leaf);
                }
                block_used[(p.raw.block - first_block as u64) as usize] = true;
                for &r in &body.resources {
                    resources.entry(r).or_default().push((e.time_us, id));
                }
                let codes = crate::facets::of(e);
                let packed = crate::facets::pack(codes);
                for s in [Some(action), principal, issuer].into_iter().flatten() {
                    who_what.entry(s).or_default().push((e.time_us, id));
                    string_facets.insert((s, packed));
                }
                for f in codes {
                    facets.entry(f).or_default().push((e.time_us, id));
                }
            }
            for (i, block) in blocks.iter().enumerate() {
                if block_used[i] {
                    crate::pieces::insert(&tx, first_block + i as i64, block).map_err(sql)?;
                }
            }
            write_postings(&tx, resources, who_what, facets).map_err(sql)?;
            let mut insert_string_facets = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO string_facets (string, facets) VALUES (?1, ?2)",
                )
                .map_err(sql)?;
            for (string, packed) in string_facets {
                insert_string_facets
                    .execute(params![string, packed])
                    .map_err(sql)?;
            }

            let now = jiff::Timestamp::now().to_string();
            let mut record = tx
                .prepare_cached(
                    "INSERT INTO files (path, size, mtime_ns, sha256, events, ingested_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (path) DO UPDATE SET size = excluded.size,
                        mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,
                        events = excluded.events, ingested_at = excluded.ingested_at",
                )
                .map_err(sql)?;
            for (f, count) in files.iter().zip(counts) {
                if !f.clean || f.path == "-" {
                    continue;
                }
                record
                    .execute(params![
                        f.path,
                        f.size as i64,
                        f.mtime_ns,
                        f.sha256,
                        count,
                        now
                    ])
                    .map_err(sql)?;
            }
            next_id - 1
        };
        tx.commit().map_err(sql)?;
        self.written.committed(last_id);
        Ok((stats, BatchCommit::assemble(inserted, restored, replaced)))
    }
}

/// Append one posting list per resource, principal, issuer and action named in the batch, and
/// per facet (`crate::facets`) its events have.
fn write_postings(
    tx: &rusqlite::Transaction,
    resources: FxHashMap<i64, Vec<(i64, i64)>>,
    who_what: FxHashMap<i64, Vec<(i64, i64)>>,
    facets: FxHashMap<i64, Vec<(i64, i64)>>,
) -> rusqlite::Result<()> {
    let mut insert_ref = tx.prepare_cached(
        "INSERT INTO ref_postings (name, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut insert_string = tx.prepare_cached(
        "INSERT INTO string_postings (string, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (name, pairs) in resources {
        postings::write(pairs, |first, last, list| {
            insert_ref
                .execute(params![name, first, last, list])
                .map(drop)
        })?;
    }
    for (string, pairs) in who_what {
        postings::write(pairs, |first, last, list| {
            insert_string
                .execute(params![string, first, last, list])
                .map(drop)
        })?;
    }
    let mut insert_facet = tx.prepare_cached(
        "INSERT INTO facet_postings (facet, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (facet, pairs) in facets {
        postings::write(pairs, |first, last, list| {
            insert_facet
                .execute(params![facet, first, last, list])
                .map(drop)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Packs records of `calls` (each an action and a record length) and returns, per event,
    /// its place, its record as logged, and its block decompressed.
    fn packed(calls: &[(u8, usize)]) -> (Vec<PreparedEvent>, Vec<String>, Vec<Vec<u8>>) {
        let mut packer = EvidencePacker::default();
        let mut raws = Vec::new();
        let mut events: Vec<PreparedEvent> = calls
            .iter()
            .enumerate()
            .map(|(i, &(action, len))| {
                let mut event = crate::conformance::k8s(&format!("id-{i:08}"), 3, &["ns/web"]);
                event.action = format!("call{action}");
                let raw = format!(
                    "{{\"eventID\":\"{}\",\"pad\":\"{}\"}}",
                    event.event_id,
                    "x".repeat(len)
                );
                packer.add(raw.as_bytes(), &event);
                let prepared = PreparedEvent::new(event, raw.as_bytes());
                raws.push(raw);
                prepared
            })
            .collect();
        let blocks = packer
            .finish(&mut events)
            .iter()
            .map(|b| crate::evidence::decompress(b, |_| None).unwrap())
            .collect();
        (events, raws, blocks)
    }

    #[test]
    fn packed_records_hand_their_buffers_back_within_bounds() {
        let buffers = RecordBuffers::default();
        let event = crate::conformance::k8s("id-00000001", 3, &["ns/web"]);
        let raw = format!(
            "{{\"eventID\":\"{}\",\"pad\":\"{}\"}}",
            event.event_id,
            "x".repeat(900)
        );
        let mut records = buffers.records();
        for _ in 0..100 {
            records.add(raw.as_bytes(), &event);
        }
        let capacity = records.bytes.capacity();
        let mut packer = EvidencePacker::default().recycling(&buffers);
        packer.add_records(records);
        let mut events: Vec<PreparedEvent> = (0..100)
            .map(|_| PreparedEvent::new(event.clone(), raw.as_bytes()))
            .collect();
        assert_eq!(packer.finish(&mut events).len(), 1);
        // The next file's records land in the buffer the first one's filled, emptied.
        let again = buffers.records();
        assert!(again.is_empty() && again.bytes.is_empty());
        assert_eq!(again.bytes.capacity(), capacity);
        assert!(
            buffers.records().bytes.capacity() == 0,
            "only one was given back"
        );
        // A buffer past a window (a large file's) is let go; spare bytes stay bounded.
        buffers.give_back(Vec::with_capacity(WINDOW_BYTES + 1));
        assert_eq!(buffers.records().bytes.capacity(), 0);
        for _ in 0..10 {
            buffers.give_back(Vec::with_capacity(WINDOW_BYTES));
        }
        let spare = buffers.spare.lock().unwrap();
        assert_eq!(spare.buffers.len(), SPARE_BYTES / WINDOW_BYTES);
        assert!(spare.bytes <= SPARE_BYTES);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the order records arrive in, each reads back as logged from its place, the
        /// places of a block tile it exactly, and in each block the records of one call sit
        /// together, in the order they arrived.
        #[test]
        fn records_are_grouped_by_call_and_each_reads_back_from_its_place(
            calls in proptest::collection::vec((0u8..4, 0usize..(BLOCK_BYTES / 3)), 1..24)
        ) {
            let (events, raws, blocks) = packed(&calls);
            for (event, raw) in events.iter().zip(&raws) {
                let at = event.raw;
                let block = &blocks[at.block as usize];
                let kept = &block[at.offset as usize..(at.offset + at.len) as usize];
                let restored = crate::evidence::restore(kept, &event.event.event_id).unwrap();
                prop_assert_eq!(restored, raw.as_bytes());
            }
            for (n, block) in blocks.iter().enumerate() {
                let mut in_block: Vec<&PreparedEvent> =
                    events.iter().filter(|e| e.raw.block == n as u64).collect();
                in_block.sort_by_key(|e| e.raw.offset);
                let mut end = 0;
                for e in &in_block {
                    prop_assert_eq!(e.raw.offset, end);
                    end += e.raw.len;
                }
                prop_assert_eq!(end as usize, block.len());
                let mut seen: Vec<&str> = Vec::new();
                for pair in in_block.windows(2) {
                    let (a, b) = (&pair[0].event, &pair[1].event);
                    if a.action == b.action {
                        prop_assert!(a.event_id < b.event_id, "arrival order kept in a call");
                    } else {
                        prop_assert!(!seen.contains(&b.action.as_str()), "{} split", b.action);
                        seen.push(&a.action);
                    }
                }
            }
        }
    }

    /// The probe of every written event reads the identity index by both its keys: a plan
    /// that used only the second would read every row of that second, on a busy trail
    /// thousands per event. The shape of a row found is read by its id.
    #[test]
    fn the_identity_probe_searches_the_key_index_by_second_and_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(
            crate::schema::plan_of(&store.conn, STORED_COPY),
            [
                "SEARCH e USING INDEX events_key (<expr>=? AND <expr>=?)",
                "SEARCH s USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"
            ]
        );
    }

    #[test]
    fn a_block_of_interleaved_calls_is_stored_grouped() {
        let calls: Vec<(u8, usize)> = (0..12).map(|i| ((i % 3) as u8, 10)).collect();
        let (events, _, blocks) = packed(&calls);
        assert_eq!(blocks.len(), 1);
        let mut order: Vec<(u32, &str)> = events
            .iter()
            .map(|e| (e.raw.offset, e.event.action.as_str()))
            .collect();
        order.sort();
        let runs = order.windows(2).filter(|w| w[0].1 != w[1].1).count() + 1;
        assert_eq!(runs, 3, "{order:?}");
    }
}
