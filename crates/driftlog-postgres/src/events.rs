//! The event store in PostgreSQL: what `driftlog ingest` writes and `events`, `explain`,
//! attribution and `verify` read, behind [`EventStore`] like the SQLite store.
//!
//! Events are packed in blocks of one day's events (`crate::blocks`, `audit_event_blocks`),
//! found through posting lists (`crate::lists`) and read as `crate::read` plans. A batch
//! holds an advisory lock from its first read to its commit: batches from several processes
//! take turns, so event ids ascend in commit order, which is what the ledger commits to.
//!
//! Each block keeps a hash of its events' identities: a batch finds the blocks that may hold a
//! copy of any of its events among those overlapping its times (`crate::identities`), and
//! compares the whole identity (time, source, id) in those blocks. Complete events keep the
//! first copy stored; events logged in stages (Kubernetes) are replaced by a more complete
//! copy, in their block, keeping their id. New events, blocks and lists are streamed with
//! `COPY … FROM STDIN (FORMAT binary)`.

use crate::blocks::{self, Row};
use crate::identities::{self, Seen};
use crate::lists::Lists;
use crate::pool::{redact, Pool};
use crate::read::{self, day_start, Filter, ReadError};
use crate::service::{store_error, with_store};
use crate::strings::Strings;
use driftlog_core::glob::Glob;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use driftlog_store::event_ids;
use driftlog_store::evidence::{self, Dictionary};
use driftlog_store::{
    in_key_order, number_blocks, BatchCommit, BatchStats, EventQuery, EventStore,
    EventWithEvidence, FileBatch, KnownFiles, PreparedEvent, RecordedLeaf, StoreError, StoredEvent,
};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, GenericClient, Transaction};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Batches take turns under this advisory lock (an arbitrary, fixed key).
const WRITE_LOCK: i64 = 0x6472_6966_7465_7674;

/// Audit events in PostgreSQL.
pub struct PgEventStore {
    pool: Arc<Pool>,
    /// Recently decompressed evidence blocks, by id.
    evidence: RefCell<HashMap<i64, Arc<Vec<u8>>>>,
    /// Evidence dictionaries read so far, by id.
    dictionaries: RefCell<HashMap<u32, Arc<Dictionary>>>,
    /// The strings of `audit_strings` this handle has met.
    strings: RefCell<Strings>,
    /// The identity hashes of the blocks this handle has read or written.
    seen: RefCell<Seen>,
}

impl PgEventStore {
    /// Connect (a `postgres://` URL) and migrate.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Pool::shared(url).map_err(|e| store_error(&PathBuf::from(redact(url)), e))?;
        Ok(Self {
            pool,
            evidence: RefCell::default(),
            dictionaries: RefCell::default(),
            strings: RefCell::default(),
            seen: RefCell::default(),
        })
    }

    /// Evidence dictionary `id`, read once per store handle.
    fn dictionary(&self, id: u32) -> Result<Arc<Dictionary>, StoreError> {
        if let Some(d) = self.dictionaries.borrow().get(&id) {
            return Ok(d.clone());
        }
        let what = || format!("evidence dictionary {id}");
        let row = self.with(|c| {
            c.query_opt(
                "SELECT bytes FROM audit_dictionaries WHERE id = $1",
                &[&i64::from(id)],
            )
        })?;
        let Some(row) = row else {
            return Err(self.damaged(what(), "blocks name it, the store does not have it".into()));
        };
        let d = Arc::new(Dictionary::from_bytes(row.get(0)).map_err(|e| self.damaged(what(), e))?);
        self.dictionaries.borrow_mut().insert(id, d.clone());
        Ok(d)
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        with_store(&self.pool, f)
    }

    /// [`PgEventStore::with`] for reads that may find damage.
    fn reading<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, ReadError>,
    ) -> Result<T, StoreError> {
        let mut damage = None;
        let value = self.with(|c| match f(c) {
            Ok(v) => Ok(Some(v)),
            Err(ReadError::Pg(e)) => Err(e),
            Err(ReadError::Damaged { what, reason }) => {
                damage = Some((what, reason));
                Ok(None)
            }
        })?;
        match (value, damage) {
            (Some(v), _) => Ok(v),
            (None, Some((what, reason))) => Err(self.damaged(what, reason)),
            (None, None) => unreachable!("a read without a value found damage"),
        }
    }

    fn damaged(&self, what: String, reason: String) -> StoreError {
        StoreError::Damaged {
            path: self.pool.shown.clone(),
            what,
            reason,
        }
    }

    /// The names an exact `--resource` stands for (its spellings), found before the query's
    /// connection is taken: finding them may read the store.
    fn resource_names(&self, q: &EventQuery) -> Result<Option<Vec<String>>, StoreError> {
        match &q.resource {
            Some(r) if !Glob::is_pattern(r) => Ok(Some(driftlog_store::spellings(
                self,
                std::slice::from_ref(r),
            )?)),
            _ => Ok(None),
        }
    }

    /// The evidence blocks `ids` (cached ones from memory), decompressed.
    fn load_evidence(&self, ids: &[i64]) -> Result<(), StoreError> {
        let missing: Vec<i64> = {
            let cache = self.evidence.borrow();
            let mut m: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !cache.contains_key(id))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        if missing.is_empty() {
            return Ok(());
        }
        let rows = self.with(|c| {
            c.query(
                "SELECT id, data FROM audit_blocks WHERE id = ANY($1)",
                &[&missing],
            )
        })?;
        let mut cache = self.evidence.borrow_mut();
        // Neighbouring records share blocks (a delivery file's, up to a megabyte); sixteen
        // cover any one resource's story.
        if cache.len() + rows.len() > 16 {
            cache.clear();
        }
        for row in rows {
            let id: i64 = row.get(0);
            let blob: &[u8] = row.get(1);
            let dictionary = evidence::dictionary_of(blob)
                .map(|d| self.dictionary(d))
                .transpose()?;
            let data = evidence::decompress(blob, |_| dictionary).map_err(|e| {
                self.damaged(
                    format!("evidence block {id}"),
                    format!("it does not decompress: {e}"),
                )
            })?;
            cache.insert(id, Arc::new(data));
        }
        Ok(())
    }

    /// The record of stored event `row`, as logged (`evidence::restore`), its evidence block
    /// already loaded.
    fn record(&self, row: &Row) -> Result<Vec<u8>, StoreError> {
        let event = row.id;
        let cache = self.evidence.borrow();
        let data = cache.get(&row.raw_block).ok_or_else(|| {
            self.damaged(
                format!("stored event {event}"),
                format!("its evidence block {} is missing", row.raw_block),
            )
        })?;
        let (offset, len) = (row.raw_offset as usize, row.raw_len as usize);
        let kept = data.get(offset..offset + len).ok_or_else(|| {
            self.damaged(
                format!("stored event {event}"),
                format!("the record lies outside evidence block {}", row.raw_block),
            )
        })?;
        let event_id = event_ids::from_bytes(&row.event_id).ok_or_else(|| {
            self.damaged(
                format!("stored event {event}"),
                "its event id is neither a UUID nor text".into(),
            )
        })?;
        evidence::restore(kept, &event_id)
            .map_err(|reason| self.damaged(format!("stored event {event}"), reason))
    }

    /// The rows matching `f`, handed to `each` in batches as events, oldest first.
    fn each_event(
        &self,
        filter: impl FnOnce(&mut Client, &mut Strings) -> Result<Option<Filter>, postgres::Error>,
        each: &mut driftlog_store::EachBatch,
    ) -> Result<(), StoreError> {
        self.reading(|c| {
            let strings = &mut self.strings.borrow_mut();
            let Some(f) = filter(c, strings)? else {
                return Ok(());
            };
            // No transaction: read committed would give each statement its own snapshot
            // anyway, and a listing tolerates blocks and lists changing under it (a
            // candidate whose event is gone is passed over). Two round trips fewer.
            read::each_row(c, &f, &mut |c, rows| {
                Ok(each(read_events(c, strings, &rows)?))
            })
        })
    }

    /// The block holding event `id`, decoded, if any.
    fn block_of(&self, id: i64) -> Result<Option<Vec<Row>>, StoreError> {
        self.reading(|c| {
            let Some(r) = c.query_opt(
                "SELECT first_id, data FROM audit_event_blocks WHERE first_id <= $1 \
                 ORDER BY first_id DESC LIMIT 1",
                &[&id],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(read::decode(r.get(0), r.get(1))?))
        })
    }
}

/// `rows` as events, their strings read first.
fn read_events(
    c: &mut impl GenericClient,
    strings: &mut Strings,
    rows: &[Row],
) -> Result<Vec<StoredEvent>, postgres::Error> {
    use rayon::prelude::*;
    strings.read(c, rows.iter().flat_map(Row::string_ids))?;
    // On every core: a long listing makes a dozen strings for each of thousands of events.
    let strings = &*strings;
    Ok(rows
        .par_iter()
        .with_min_len(256)
        .map(|r| stored_event(r, strings))
        .collect())
}

/// A row as an event. An id with no string (only an edit behind driftlog's back makes one)
/// reads as empty, and `verify` names the event as changed.
fn stored_event(r: &Row, strings: &Strings) -> StoredEvent {
    let str = |id: i32| strings.text(id).unwrap_or_default();
    let text = |id: Option<i32>| -> Option<String> { id.map(|id| str(id).to_owned()) };
    StoredEvent {
        id: r.id,
        event: AuditEvent {
            source: str(r.source).parse().unwrap_or(Source::Aws),
            event_id: event_ids::from_bytes(&r.event_id).unwrap_or_default(),
            time_us: r.time_us,
            account: text(r.account),
            region: text(r.region),
            service: text(r.service),
            action: text(Some(r.action)).unwrap_or_default(),
            read_only: r.read_only,
            outcome: Outcome::from_label(str(r.outcome).to_owned(), r.error_message.clone()),
            principal: Principal {
                id: text(r.principal),
                kind: text(r.principal_type),
                issuer: text(r.issuer),
                session_name: text(r.session_name),
                source_identity: r.source_identity.clone(),
                on_behalf_of: r.on_behalf_of.clone(),
                invoked_by: text(r.invoked_by),
                mfa: r.mfa,
            },
            actor: Actor {
                kind: str(r.actor_kind).parse().unwrap_or(ActorKind::Unknown),
                rule: text(Some(r.actor_rule)).unwrap_or_default(),
            },
            source_ip: text(r.source_ip),
            user_agent: text(r.user_agent),
            resources: r
                .resources
                .iter()
                .map(|&id| strings.text(id).unwrap_or_default().to_owned())
                .collect(),
            completeness: r.completeness,
        },
    }
}

/// An event's failure code (or outcome label) and message.
fn outcome_of(e: &AuditEvent) -> (&str, Option<&str>) {
    match &e.outcome {
        Outcome::Failure { code, message } => (code.as_str(), message.as_deref()),
        other => (other.label(), None),
    }
}

/// Every value of `e` stored as an id into `audit_strings`.
fn strings_of(e: &AuditEvent) -> impl Iterator<Item = &str> + Clone {
    let pr = &e.principal;
    let optional = [
        e.account.as_deref(),
        e.region.as_deref(),
        e.service.as_deref(),
        pr.id.as_deref(),
        pr.kind.as_deref(),
        pr.issuer.as_deref(),
        pr.session_name.as_deref(),
        pr.invoked_by.as_deref(),
        e.source_ip.as_deref(),
        e.user_agent.as_deref(),
    ];
    [
        e.source.as_str(),
        e.action.as_str(),
        outcome_of(e).0,
        e.actor.kind.as_str(),
        e.actor.rule.as_str(),
    ]
    .into_iter()
    .chain(optional.into_iter().flatten())
    .chain(e.resources.iter().map(String::as_str))
}

/// The row of event `p` with id `id`, its strings as their ids (every one interned before the
/// batch's rows are built).
fn row_of(id: i64, p: &PreparedEvent, strings: &Strings) -> Row {
    let e = &p.event;
    let pr = &e.principal;
    let (outcome, message) = outcome_of(e);
    let of = |t: &str| {
        strings
            .id(t)
            .expect("a batch's strings are interned before its rows are built")
    };
    let of_some = |t: &Option<String>| t.as_deref().map(of);
    Row {
        id,
        time_us: e.time_us,
        source: of(e.source.as_str()),
        event_id: event_ids::to_bytes(&e.event_id),
        action: of(&e.action),
        outcome: of(outcome),
        actor_kind: of(e.actor.kind.as_str()),
        actor_rule: of(&e.actor.rule),
        account: of_some(&e.account),
        region: of_some(&e.region),
        service: of_some(&e.service),
        principal: of_some(&pr.id),
        principal_type: of_some(&pr.kind),
        issuer: of_some(&pr.issuer),
        session_name: of_some(&pr.session_name),
        invoked_by: of_some(&pr.invoked_by),
        source_ip: of_some(&e.source_ip),
        user_agent: of_some(&e.user_agent),
        read_only: e.read_only,
        mfa: pr.mfa,
        completeness: e.completeness,
        error_message: message.map(str::to_owned),
        source_identity: pr.source_identity.clone(),
        on_behalf_of: pr.on_behalf_of.clone(),
        resources: e.resources.iter().map(|r| of(r)).collect(),
        facets: driftlog_store::facets::packed(e) as i32,
        raw_block: p.raw.block as i64,
        raw_offset: p.raw.offset,
        raw_len: p.raw.len,
        // Four bytes tell which event changed; the ledger holds the whole leaf.
        leaf: driftlog_store::leaves::kept(e, &p.leaf).to_vec(),
    }
}

/// An event's identity as a block holds it: time, source's id, id as stored.
type Identity = (i64, i32, Vec<u8>);

fn identity(r: &Row) -> Identity {
    (r.time_us, r.source, r.event_id.clone())
}

/// A stored block a batch read: its first time (which names its partition) and its rows.
struct StoredBlock {
    min_us: i64,
    rows: Vec<Row>,
    /// Whether an upgrade changed a row: the block is written back.
    changed: bool,
}

/// Store `rows` (new events, ids ascending) as blocks of one day's events, with their lists:
/// what a batch and the migration to blocks both do. The months' partitions exist. Returns
/// each block's first id and identity hashes.
pub(crate) fn store_rows(
    tx: &mut Transaction,
    rows: &[Row],
) -> Result<Vec<(i64, Vec<u32>)>, postgres::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sink = tx.copy_in(
        "COPY audit_event_blocks (first_id, last_id, events, min_us, max_us, identities, \
         evidence, data) FROM STDIN (FORMAT binary)",
    )?;
    let mut writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::INT8,
            Type::INT4,
            Type::INT8,
            Type::INT8,
            Type::BYTEA,
            Type::INT8_ARRAY,
            Type::BYTEA,
        ],
    );
    let mut written = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let day = day_start(rows[start].time_us);
        let mut end = start + 1;
        while end < rows.len()
            && end - start < blocks::MAX_EVENTS
            && day_start(rows[end].time_us) == day
        {
            end += 1;
        }
        let block = &rows[start..end];
        write_block(&mut writer, block)?;
        written.push((block[0].id, block.iter().map(Row::identity_hash).collect()));
        start = end;
    }
    writer.finish()?;
    let mut lists = Lists::default();
    for r in rows {
        lists.add(r);
    }
    lists.write(tx)?;
    Ok(written)
}

/// The columns of block `rows`' row, in the order of `COPY`'s and `UPDATE`'s lists: first and
/// last id, count, first and last time, identity hashes, evidence blocks, data.
struct BlockRow {
    first_id: i64,
    last_id: i64,
    events: i32,
    min_us: i64,
    max_us: i64,
    identities: Vec<u8>,
    evidence: Vec<i64>,
    data: Vec<u8>,
}

impl BlockRow {
    fn of(rows: &[Row]) -> Self {
        let mut evidence: Vec<i64> = rows.iter().map(|r| r.raw_block).collect();
        evidence.sort_unstable();
        evidence.dedup();
        Self {
            first_id: rows.iter().map(|r| r.id).min().unwrap_or(0),
            last_id: rows.iter().map(|r| r.id).max().unwrap_or(0),
            events: rows.len() as i32,
            min_us: rows.iter().map(|r| r.time_us).min().unwrap_or(0),
            max_us: rows.iter().map(|r| r.time_us).max().unwrap_or(0),
            identities: identities::to_bytes(rows.iter().map(Row::identity_hash)),
            evidence,
            data: blocks::encode(rows),
        }
    }

    fn values(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.first_id,
            &self.last_id,
            &self.events,
            &self.min_us,
            &self.max_us,
            &self.identities,
            &self.evidence,
            &self.data,
        ]
    }
}

fn write_block(writer: &mut BinaryCopyInWriter, rows: &[Row]) -> Result<(), postgres::Error> {
    writer.write(&BlockRow::of(rows).values())
}

/// Rewrite stored block `first_id` (first time `min_us`) as `rows`, or delete it when none
/// are left.
fn rewrite_block(
    tx: &mut Transaction,
    first_id: i64,
    min_us: i64,
    rows: &[Row],
) -> Result<(), postgres::Error> {
    if rows.is_empty() {
        tx.execute(
            "DELETE FROM audit_event_blocks WHERE first_id = $1 AND min_us = $2",
            &[&first_id, &min_us],
        )?;
        return Ok(());
    }
    let block = BlockRow::of(rows);
    let mut values: Vec<&(dyn ToSql + Sync)> = vec![&first_id, &min_us];
    values.extend(block.values());
    tx.execute(
        "UPDATE audit_event_blocks SET first_id = $3, last_id = $4, events = $5, min_us = $6, \
         max_us = $7, identities = $8, evidence = $9, data = $10 \
         WHERE first_id = $1 AND min_us = $2",
        &values,
    )?;
    Ok(())
}

/// Write `files` in one transaction; see the module's documentation.
/// Blocks a batch wrote (first id, identity hashes) and rewrote (first id before), for the
/// writer's [`Seen`] once it commits.
type BlocksChanged = (Vec<(i64, Vec<u32>)>, Vec<i64>);

fn write_batch(
    tx: &mut Transaction,
    strings: &mut Strings,
    seen: &mut Seen,
    mut files: Vec<FileBatch>,
) -> Result<(BatchStats, BatchCommit, BlocksChanged), ReadError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    let mut stats = BatchStats::default();
    let first_block: i64 = tx
        .query_one("SELECT coalesce(max(id), 0) + 1 FROM audit_blocks", &[])?
        .get(0);
    let evidence_blocks = number_blocks(&mut files, first_block);
    let mut block_used = vec![false; evidence_blocks.len()];
    let events = in_key_order(&files);
    crate::partitions::ensure(tx, events.iter().map(|p| p.event.time_us))?;
    strings.intern(tx, events.iter().flat_map(|p| strings_of(&p.event)))?;
    let strings = &*strings;

    // Blocks' ids never overlap: the block that starts last ends last (read by the index).
    let mut next_id: i64 = tx
        .query_opt(
            "SELECT last_id FROM audit_event_blocks ORDER BY first_id DESC LIMIT 1",
            &[],
        )?
        .map_or(0, |r| r.get::<_, i64>(0))
        + 1;
    // Complete as logged, the first copy wins; logged in stages, the more complete one.
    let (plain, staged): (Vec<&PreparedEvent>, Vec<&PreparedEvent>) =
        events.into_iter().partition(|p| p.event.completeness == 0);
    let rows: Vec<Row> = plain
        .iter()
        .chain(&staged)
        .map(|p| row_of(0, p, strings))
        .collect();

    // The stored blocks that may hold a copy of any of the batch's events: among those
    // overlapping its times, the ones whose hashes hold an event's (`crate::identities`).
    let mut stored: BTreeMap<i64, StoredBlock> = BTreeMap::new();
    if let (Some(lo), Some(hi)) = (
        rows.iter().map(|r| r.time_us).min(),
        rows.iter().map(|r| r.time_us).max(),
    ) {
        let overlapping: Vec<i64> = read::heads(tx, lo, hi)?.iter().map(|h| h.0).collect();
        let unseen: Vec<i64> = overlapping
            .iter()
            .copied()
            .filter(|&b| !seen.has(b))
            .collect();
        if !unseen.is_empty() {
            for r in tx.query(
                "SELECT first_id, identities FROM audit_event_blocks \
                 WHERE first_id = ANY($1) AND min_us >= $2 AND min_us <= $3",
                &[&unseen, &day_start(lo), &hi],
            )? {
                seen.add(r.get(0), identities::from_bytes(r.get(1)));
            }
        }
        let mut holding: Vec<i64> = Vec::new();
        for r in &rows {
            let h = r.identity_hash();
            if seen.may_hold(h) {
                holding.extend(seen.holding(h, &overlapping));
            }
        }
        holding.sort_unstable();
        holding.dedup();
        if !holding.is_empty() {
            for r in read::fetch(tx, &holding, day_start(lo), hi)? {
                stored.insert(
                    r.get(0),
                    StoredBlock {
                        min_us: r.get(2),
                        rows: read::decode(r.get(0), r.get(1))?,
                        changed: false,
                    },
                );
            }
        }
    }
    // Where each stored identity is: its block and place in it.
    let mut held: HashMap<Identity, (i64, usize)> = HashMap::new();
    for (&first, block) in &stored {
        for (i, r) in block.rows.iter().enumerate() {
            held.insert(identity(r), (first, i));
        }
    }

    let mut new_rows: Vec<Row> = Vec::new();
    let mut taken: HashMap<Identity, usize> = HashMap::new();
    let mut inserted: Vec<(i64, [u8; 32])> = Vec::new();
    let mut restored: HashMap<i64, [u8; 32]> = HashMap::new();
    let mut replaced: HashMap<i64, Option<[u8; 32]>> = HashMap::new();
    // Evidence blocks a replaced copy's record was in: freed if nothing else uses them.
    let mut superseded_evidence: Vec<i64> = Vec::new();
    for (p, mut row) in plain.iter().chain(&staged).zip(rows) {
        let key = identity(&row);
        let complete = p.event.completeness == 0;
        if let Some(&i) = taken.get(&key) {
            // A second copy in this batch.
            let copy = &mut new_rows[i];
            if complete || row.completeness <= copy.completeness {
                stats.duplicates += 1;
                continue;
            }
            row.id = copy.id;
            *copy = row;
            restored.insert(copy.id, p.leaf);
            stats.upgraded += 1;
        } else if let Some(&(first, i)) = held.get(&key) {
            let block = stored.get_mut(&first).expect("held blocks are stored");
            let copy = &mut block.rows[i];
            if complete || row.completeness <= copy.completeness {
                stats.duplicates += 1;
                continue;
            }
            row.id = copy.id;
            let old = <[u8; 32]>::try_from(copy.leaf.as_slice()).ok();
            replaced.entry(row.id).or_insert(old);
            restored.insert(row.id, p.leaf);
            superseded_evidence.push(copy.raw_block);
            *copy = row;
            block.changed = true;
            stats.upgraded += 1;
        } else {
            row.id = next_id;
            next_id += 1;
            taken.insert(key, new_rows.len());
            inserted.push((row.id, p.leaf));
            new_rows.push(row);
            stats.inserted += 1;
        }
        block_used[(p.raw.block - first_block as u64) as usize] = true;
    }

    // Evidence first: blocks of events name it.
    {
        let sink = tx.copy_in("COPY audit_blocks (id, data) FROM STDIN (FORMAT binary)")?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
        for (i, block) in evidence_blocks.iter().enumerate() {
            if block_used[i] {
                writer.write(&[&(first_block + i as i64), &block.as_slice()])?;
            }
        }
        writer.finish()?;
    }
    let written = store_rows(tx, &new_rows)?;
    let mut rewritten = Vec::new();
    let mut upgraded_lists = Lists::default();
    for (&first, block) in stored.iter().filter(|(_, b)| b.changed) {
        rewritten.push(first);
        rewrite_block(tx, first, block.min_us, &block.rows)?;
        for r in block.rows.iter().filter(|r| restored.contains_key(&r.id)) {
            upgraded_lists.add(r);
        }
    }
    upgraded_lists.write(tx)?;
    blocks::forget_evidence(tx, &superseded_evidence)?;

    // The facets each principal, issuer and action was stored with, and those the store has
    // (`crate::read`). A duplicate adds nothing: the copy stored first was recorded then.
    let mut pairs: HashSet<(i32, i32)> = HashSet::new();
    let upgraded_rows = stored
        .values()
        .flat_map(|b| &b.rows)
        .filter(|r| restored.contains_key(&r.id));
    for r in new_rows.iter().chain(upgraded_rows) {
        let named = [Some(r.action), r.principal, r.issuer];
        pairs.extend(named.into_iter().flatten().map(|s| (s, r.facets)));
    }
    let (names, facets): (Vec<i32>, Vec<i32>) = pairs.into_iter().unzip();
    tx.execute(
        "INSERT INTO audit_string_facets (string, facets) \
         SELECT * FROM unnest($1::int4[], $2::int4[]) ON CONFLICT DO NOTHING",
        &[&names, &facets],
    )?;
    tx.execute(
        "INSERT INTO audit_facets (facets) SELECT DISTINCT unnest($1::int4[]) \
         ON CONFLICT DO NOTHING",
        &[&facets],
    )?;

    let now = jiff::Timestamp::now().to_string();
    let record = tx.prepare(
        "INSERT INTO audit_files (path, size, mtime_ns, sha256, events, ingested_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (path) DO UPDATE SET size = excluded.size,
            mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,
            events = excluded.events, ingested_at = excluded.ingested_at",
    )?;
    for f in &files {
        if !f.clean || f.path == "-" {
            continue;
        }
        tx.execute(
            &record,
            &[
                &f.path,
                &(f.size as i64),
                &f.mtime_ns,
                &f.sha256,
                &(f.events.len() as i64),
                &now,
            ],
        )?;
    }

    Ok((
        stats,
        BatchCommit::assemble(inserted, restored, replaced),
        (written, rewritten),
    ))
}

/// Migration 7: move the events of `audit_events` (one row each) into blocks and lists, in
/// id order, a window at a time; the table is dropped after.
pub(crate) fn pack_events(tx: &mut Transaction) -> Result<(), postgres::Error> {
    const WINDOW: i64 = 65_536;
    let mut after = i64::MIN;
    loop {
        let rows: Vec<Row> = tx
            .query(
                "SELECT id, time_us, source, event_id, action, outcome, actor_kind, actor_rule, \
                 account, region, service, principal, principal_type, issuer, session_name, \
                 invoked_by, source_ip, user_agent, read_only, mfa, completeness, \
                 error_message, source_identity, on_behalf_of, resources, facets, raw_block, \
                 raw_offset, raw_len, leaf \
                 FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2",
                &[&after, &WINDOW],
            )?
            .iter()
            .map(|r| Row {
                id: r.get(0),
                time_us: r.get(1),
                source: r.get(2),
                event_id: r.get(3),
                action: r.get(4),
                outcome: r.get(5),
                actor_kind: r.get(6),
                actor_rule: r.get(7),
                account: r.get(8),
                region: r.get(9),
                service: r.get(10),
                principal: r.get(11),
                principal_type: r.get(12),
                issuer: r.get(13),
                session_name: r.get(14),
                invoked_by: r.get(15),
                source_ip: r.get(16),
                user_agent: r.get(17),
                read_only: r.get(18),
                mfa: r.get(19),
                completeness: r.get::<_, i16>(20).clamp(0, i16::from(u8::MAX)) as u8,
                error_message: r.get(21),
                source_identity: r.get(22),
                on_behalf_of: r.get(23),
                resources: r.get(24),
                facets: r.get(25),
                raw_block: r.get(26),
                // A place beyond what a writer ever wrote is damage: it reads as an empty
                // record, which `driftlog verify` then names.
                raw_offset: u32::try_from(r.get::<_, i32>(27)).unwrap_or(0),
                raw_len: u32::try_from(r.get::<_, i32>(28)).unwrap_or(0),
                leaf: r.get(29),
            })
            .collect();
        let Some(last) = rows.last() else {
            break;
        };
        after = last.id;
        crate::partitions::ensure(tx, rows.iter().map(|r| r.time_us))?;
        store_rows(tx, &rows)?;
        if (rows.len() as i64) < WINDOW {
            break;
        }
    }
    tx.batch_execute("DROP TABLE audit_events")
}

impl EventStore for PgEventStore {
    fn location(&self) -> &Path {
        &self.pool.shown
    }

    fn store_id(&self) -> Result<String, StoreError> {
        self.with(|c| {
            c.query_one("SELECT value FROM audit_meta WHERE key = 'store_id'", &[])
                .map(|r| r.get(0))
        })
    }

    /// Every event this store holds was stored with its leaf.
    fn unrecorded_until(&self) -> Result<i64, StoreError> {
        Ok(0)
    }

    fn known_files(&self) -> Result<KnownFiles, StoreError> {
        let rows =
            self.with(|c| c.query("SELECT path, size, mtime_ns, sha256 FROM audit_files", &[]))?;
        let mut paths = HashMap::new();
        let mut hashes = HashSet::new();
        for r in rows {
            paths.insert(r.get(0), (r.get::<_, i64>(1) as u64, r.get(2)));
            hashes.insert(r.get(3));
        }
        Ok((paths, hashes))
    }

    fn event_count(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_one(
                "SELECT coalesce(sum(events), 0)::int8 FROM audit_event_blocks",
                &[],
            )
        })
        .map(|r| r.get::<_, i64>(0) as u64)
    }

    fn prunable(&self, before_us: i64, through: i64, limit: usize) -> Result<Vec<i64>, StoreError> {
        self.reading(|c| {
            let mut tx = c.transaction()?;
            let portal = tx.bind(
                "SELECT first_id, data FROM audit_event_blocks \
                 WHERE min_us < $1 AND first_id <= $2 ORDER BY first_id",
                &[&before_us, &through],
            )?;
            let mut ids = Vec::new();
            'blocks: loop {
                let rows = tx.query_portal(&portal, 16)?;
                for r in &rows {
                    let prunable = |id, time, _| time < before_us && id <= through;
                    for row in read::decode_where(r.get(0), r.get(1), prunable)? {
                        if ids.len() >= limit {
                            break 'blocks;
                        }
                        ids.push(row.id);
                    }
                }
                if rows.len() < 16 {
                    break;
                }
            }
            tx.commit()?;
            ids.sort_unstable();
            Ok(ids)
        })
    }

    fn delete_events(&mut self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let removed = self.reading(|c| {
            let mut tx = c.transaction()?;
            // Batches take turns with the delete: none rewrites a block meanwhile.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let blocks = tx.query(
                "SELECT b.first_id, b.min_us, b.data FROM audit_event_blocks b \
                 WHERE b.first_id IN (SELECT DISTINCT (SELECT max(first_id) \
                    FROM audit_event_blocks WHERE first_id <= i) FROM unnest($1::int8[]) i)",
                &[&ids],
            )?;
            let mut removed = 0u64;
            let mut freed = Vec::new();
            for b in &blocks {
                let first: i64 = b.get(0);
                let mut rows = read::decode(first, b.get(2))?;
                let before = rows.len();
                rows.retain(|r| {
                    let gone = ids.binary_search(&r.id).is_ok();
                    if gone {
                        freed.push(r.raw_block);
                    }
                    !gone
                });
                if rows.len() != before {
                    removed += (before - rows.len()) as u64;
                    rewrite_block(&mut tx, first, b.get(1), &rows)?;
                    self.seen.borrow_mut().forget_block(first);
                }
            }
            freed.sort_unstable();
            freed.dedup();
            blocks::forget_evidence(&mut tx, &freed)?;
            tx.commit()?;
            Ok(removed)
        })?;
        self.evidence.borrow_mut().clear();
        Ok(removed)
    }

    fn prunable_partitions(
        &self,
        before_us: i64,
        through: i64,
    ) -> Result<Vec<driftlog_store::Partition>, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let found = crate::partitions::prunable(&mut tx, before_us, through)?;
            tx.commit()?;
            Ok(found)
        })
    }

    fn drop_partition(&mut self, p: &driftlog_store::Partition) -> Result<u64, StoreError> {
        let dropped = self.with(|c| {
            let mut tx = c.transaction()?;
            // Batches take turns with the drop: none adds an event to the month meanwhile.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let dropped = crate::partitions::drop(&mut tx, p)?;
            tx.commit()?;
            Ok(dropped)
        })?;
        self.evidence.borrow_mut().clear();
        Ok(dropped)
    }

    fn count_after(&self, after: i64) -> Result<u64, StoreError> {
        let later: i64 = self
            .with(|c| {
                c.query_one(
                    "SELECT coalesce(sum(events), 0)::int8 FROM audit_event_blocks \
                     WHERE first_id > $1",
                    &[&after],
                )
            })?
            .get(0);
        // The block that holds `after` may hold later events too.
        let within = self
            .block_of(after)?
            .map_or(0, |rows| rows.iter().filter(|r| r.id > after).count());
        Ok(later as u64 + within as u64)
    }

    /// Nothing to switch: every batch is already one streamed, durable transaction.
    fn enter_bulk(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn leave_bulk(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn write_batch(
        &mut self,
        files: Vec<FileBatch>,
    ) -> Result<(BatchStats, BatchCommit), StoreError> {
        let seen = &mut self.seen.borrow_mut();
        let written = self.reading(|c| {
            let mut tx = c.transaction()?;
            let written = write_batch(&mut tx, &mut self.strings.borrow_mut(), seen, files)?;
            tx.commit()?;
            Ok(written)
        });
        match written {
            Ok((stats, commit, (blocks, rewritten))) => {
                for first in rewritten {
                    seen.forget_block(first);
                }
                for (first, hashes) in blocks {
                    seen.add(first, hashes);
                }
                Ok((stats, commit))
            }
            Err(e) => {
                // Strings added by the rolled-back transaction do not exist.
                self.strings.borrow_mut().forget();
                Err(e)
            }
        }
    }

    fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut all = Vec::new();
        self.query_each(q, &mut |batch| {
            all.extend(batch);
            ControlFlow::Continue(())
        })?;
        Ok(all)
    }

    /// The answer is read and handed on a batch at a time (`crate::read`): a long listing is
    /// printed while the rest is read.
    fn query_each(
        &self,
        q: &EventQuery,
        each: &mut driftlog_store::EachBatch,
    ) -> Result<(), StoreError> {
        let names = self.resource_names(q)?;
        self.each_event(|c, strings| read::resolve(c, strings, q, names), each)
    }

    fn events_naming(&self, identifiers: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let names = driftlog_store::spellings(self, identifiers)?;
        let mut all = Vec::new();
        self.each_event(
            |c, strings| {
                let ids = strings.find(c, &names)?;
                Ok((!ids.is_empty()).then(|| Filter::naming(ids)))
            },
            &mut |batch| {
                all.extend(batch);
                ControlFlow::Continue(())
            },
        )?;
        Ok(all)
    }

    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<EventWithEvidence>, StoreError> {
        let (rows, events) = self.reading(|c| {
            let blocks = c.query(
                "SELECT first_id, data FROM audit_event_blocks WHERE first_id >= \
                    (SELECT coalesce(max(first_id), $1) FROM audit_event_blocks \
                     WHERE first_id <= $1) \
                 ORDER BY first_id LIMIT $2",
                &[
                    &after,
                    &((limit / blocks::MAX_EVENTS + 2).min(i64::MAX as usize) as i64),
                ],
            )?;
            let mut rows = Vec::new();
            for b in &blocks {
                let mut block = read::decode(b.get(0), b.get(1))?;
                block.retain(|r| r.id > after);
                block.sort_unstable_by_key(|r| r.id);
                rows.extend(block);
                if rows.len() >= limit {
                    break;
                }
            }
            rows.truncate(limit);
            let events = read_events(c, &mut self.strings.borrow_mut(), &rows)?;
            Ok((rows, events))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        // A few dozen rows at a time: their evidence blocks fit the cache together.
        for (chunk, events) in rows.chunks(48).zip(events.chunks(48)) {
            let blocks: Vec<i64> = chunk.iter().map(|r| r.raw_block).collect();
            self.load_evidence(&blocks)?;
            for (r, event) in chunk.iter().zip(events) {
                let raw = self.record(r)?;
                out.push((event.clone(), raw, RecordedLeaf::from_bytes(&r.leaf)));
            }
        }
        Ok(out)
    }

    fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        let row = self
            .block_of(id)?
            .and_then(|rows| rows.into_iter().find(|r| r.id == id));
        let Some(row) = row else {
            return Err(self.damaged(format!("stored event {id}"), "it does not exist".into()));
        };
        self.load_evidence(&[row.raw_block])?;
        self.record(&row)
    }

    fn remember_addresses(&mut self, known: &[(&str, &[String])]) -> Result<u64, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let insert = tx.prepare(
                "INSERT INTO audit_addresses (address, identifier) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )?;
            let mut added = 0;
            for (address, identifiers) in known {
                for id in identifiers.iter() {
                    added += tx.execute(&insert, &[address, id])?;
                }
            }
            tx.commit()?;
            Ok(added)
        })
    }

    fn evidence_dictionary(&self) -> Result<Option<Arc<Dictionary>>, StoreError> {
        let latest: Option<i64> = self
            .with(|c| c.query_one("SELECT max(id) FROM audit_dictionaries", &[]))?
            .get(0);
        latest.map(|id| self.dictionary(id as u32)).transpose()
    }

    fn keep_evidence_dictionary(&mut self, dictionary: &Dictionary) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO audit_dictionaries (id, bytes) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET bytes = EXCLUDED.bytes",
                &[&i64::from(dictionary.id()), &dictionary.bytes()],
            )
        })
        .map(drop)
    }

    fn address_identifiers(&self, address: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.with(|c| {
            c.query_typed(
                "SELECT identifier FROM audit_addresses WHERE address = $1 ORDER BY 1",
                &[(&address, Type::TEXT)],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
