//! The event store in PostgreSQL: what `driftlog ingest` writes and `events`, `explain`,
//! attribution and `verify` read, behind [`EventStore`] like the SQLite store.
//!
//! Writes go through `COPY … FROM STDIN (FORMAT binary)`: a batch's new events stream to the
//! server in one round trip instead of one statement each. `COPY` cannot skip duplicates, so
//! the batch first asks which of its keys `(time, source, event id)` the store already holds
//! (one indexed join over the batch's keys) and copies only the others. Events logged in
//! stages (Kubernetes) go through an upsert, as in the SQLite store, because a more complete
//! copy replaces a stored one. A batch holds an advisory lock from its first read to its
//! commit: batches from several processes take turns, so event ids ascend in commit order,
//! which is what the ledger commits to.
//!
//! Lookups use PostgreSQL's own indexes (measured against posting lists in
//! docs/BENCHMARKS.md): a GIN index over each event's names, B-trees over principal, issuer,
//! action and time.

use crate::pool::{redact, Pool};
use crate::service::{store_error, with_store};
use driftlog_core::glob::Glob;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use driftlog_store::evidence::{self, Dictionary};
use driftlog_store::{
    in_key_order, number_blocks, BatchCommit, BatchStats, EventQuery, EventStore,
    EventWithEvidence, FileBatch, KnownFiles, PreparedEvent, RecordedLeaf, StoreError, StoredEvent,
};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, Row, Transaction};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Batches take turns under this advisory lock (an arbitrary, fixed key).
const WRITE_LOCK: i64 = 0x6472_6966_7465_7674;

/// The columns a batch writes, in the order of [`COPY_TYPES`] and [`row_values`].
const COLUMNS: &str = "id, source, event_id, time_us, account, region, service, action, \
    read_only, outcome, error_message, principal, principal_type, issuer, session_name, \
    source_identity, on_behalf_of, invoked_by, mfa, actor_kind, actor_rule, source_ip, \
    user_agent, resources, completeness, raw_block, raw_offset, raw_len, leaf";

const COPY_TYPES: [Type; 29] = [
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::INT2,
    Type::INT8,
    Type::INT4,
    Type::INT4,
    Type::BYTEA,
];

/// The columns a read returns, in the order [`stored_event`] reads them.
const READ_COLUMNS: &str = "id, source, event_id, time_us, account, region, service, action, \
    read_only, outcome, error_message, principal, principal_type, issuer, session_name, \
    source_identity, on_behalf_of, invoked_by, mfa, actor_kind, actor_rule, source_ip, \
    user_agent, resources, completeness";

/// Audit events in PostgreSQL.
pub struct PgEventStore {
    pool: Arc<Pool>,
    /// Recently decompressed evidence blocks, by id.
    blocks: RefCell<HashMap<i64, Arc<Vec<u8>>>>,
    /// Evidence dictionaries read so far, by id.
    dictionaries: RefCell<HashMap<u32, Arc<Dictionary>>>,
}

impl PgEventStore {
    /// Connect (a `postgres://` URL) and migrate.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Pool::shared(url).map_err(|e| store_error(&PathBuf::from(redact(url)), e))?;
        Ok(Self {
            pool,
            blocks: RefCell::default(),
            dictionaries: RefCell::default(),
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

    fn damaged(&self, what: String, reason: String) -> StoreError {
        StoreError::Damaged {
            path: self.pool.shown.clone(),
            what,
            reason,
        }
    }

    /// The statement of `q`: every filter a clause, oldest first.
    fn query_sql(&self, q: &EventQuery) -> Result<(String, Args), StoreError> {
        let mut args = Args::default();
        let mut clauses = Vec::new();
        if let Some(resource) = &q.resource {
            if Glob::is_pattern(resource) {
                let a = args.add(Glob::new(resource).to_like());
                clauses.push(format!(
                    "EXISTS (SELECT 1 FROM unnest(e.resources) r WHERE r LIKE {a})"
                ));
            } else {
                let names = driftlog_store::spellings(self, std::slice::from_ref(resource))?;
                let a = args.add(names);
                clauses.push(format!("e.resources && {a}::text[]"));
            }
        }
        if let Some(p) = &q.principal {
            clauses.push(format!(
                "({} OR {})",
                text_clause("e.principal", p, &mut args),
                text_clause("e.issuer", p, &mut args)
            ));
        }
        if let Some(action) = &q.action {
            clauses.push(text_clause("e.action", action, &mut args));
        }
        if let Some(kind) = q.actor_kind {
            let a = args.add(kind.as_str().to_owned());
            clauses.push(format!("e.actor_kind = {a}"));
        }
        if let Some(source) = q.source {
            let a = args.add(source.as_str().to_owned());
            clauses.push(format!("e.source = {a}"));
        }
        if let Some(since) = q.since_us {
            let a = args.add(since);
            clauses.push(format!("e.time_us >= {a}"));
        }
        if let Some(until) = q.until_us {
            let a = args.add(until);
            clauses.push(format!("e.time_us <= {a}"));
        }
        if q.writes_only {
            clauses.push("e.read_only = false".into());
        }
        let mut sql = format!("SELECT {READ_COLUMNS} FROM audit_events e");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY e.time_us, e.id");
        if let Some(limit) = q.limit {
            let a = args.add(limit.min(i64::MAX as u64) as i64);
            sql.push_str(&format!(" LIMIT {a}"));
        }
        Ok((sql, args))
    }

    /// Rows of `sql` (which selects [`READ_COLUMNS`]) as events.
    fn events(
        &self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.with(|c| c.query(sql, args))?;
        Ok(rows.iter().map(stored_event).collect())
    }

    /// The evidence blocks `ids` (cached ones from memory), decompressed.
    fn load_blocks(&self, ids: &[i64]) -> Result<(), StoreError> {
        let missing: Vec<i64> = {
            let cache = self.blocks.borrow();
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
        let mut cache = self.blocks.borrow_mut();
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

    /// The record at `(block, offset, len)`, its block already loaded.
    fn record(
        &self,
        event: i64,
        (block, offset, len): (i64, i32, i32),
    ) -> Result<Vec<u8>, StoreError> {
        let cache = self.blocks.borrow();
        let data = cache.get(&block).ok_or_else(|| {
            self.damaged(
                format!("stored event {event}"),
                format!("its evidence block {block} is missing"),
            )
        })?;
        let (offset, len) = (offset.max(0) as usize, len.max(0) as usize);
        data.get(offset..offset + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                self.damaged(
                    format!("stored event {event}"),
                    format!("the record lies outside evidence block {block}"),
                )
            })
    }
}

/// One row of [`READ_COLUMNS`] as an event.
fn stored_event(r: &Row) -> StoredEvent {
    let source: String = r.get(1);
    let actor_kind: String = r.get(19);
    StoredEvent {
        id: r.get(0),
        event: AuditEvent {
            source: source.parse().unwrap_or(Source::Aws),
            event_id: r.get(2),
            time_us: r.get(3),
            account: r.get(4),
            region: r.get(5),
            service: r.get(6),
            action: r.get(7),
            read_only: r.get(8),
            outcome: Outcome::from_label(r.get(9), r.get(10)),
            principal: Principal {
                id: r.get(11),
                kind: r.get(12),
                issuer: r.get(13),
                session_name: r.get(14),
                source_identity: r.get(15),
                on_behalf_of: r.get(16),
                invoked_by: r.get(17),
                mfa: r.get(18),
            },
            actor: Actor {
                kind: actor_kind.parse().unwrap_or(ActorKind::Unknown),
                rule: r.get(20),
            },
            source_ip: r.get(21),
            user_agent: r.get(22),
            resources: r.get(23),
            completeness: r.get::<_, i16>(24).clamp(0, u8::MAX as i16) as u8,
        },
    }
}

/// The values of one event's row, in [`COLUMNS`] order (borrowed from the event).
struct Values<'a> {
    id: i64,
    p: &'a PreparedEvent,
    source: &'static str,
    actor_kind: &'static str,
    leaf: &'a [u8],
    outcome: &'a str,
    message: Option<&'a str>,
    completeness: i16,
    block: i64,
    offset: i32,
    len: i32,
}

impl<'a> Values<'a> {
    fn new(id: i64, p: &'a PreparedEvent) -> Self {
        let (outcome, message) = match &p.event.outcome {
            Outcome::Failure { code, message } => (code.as_str(), message.as_deref()),
            other => (other.label(), None),
        };
        Self {
            id,
            p,
            source: p.event.source.as_str(),
            actor_kind: p.event.actor.kind.as_str(),
            // Eight bytes tell which event changed; the ledger holds the whole leaf.
            leaf: driftlog_store::leaves::kept(&p.event, &p.leaf),
            outcome,
            message,
            completeness: p.event.completeness as i16,
            block: p.raw.block as i64,
            offset: p.raw.offset as i32,
            len: p.raw.len as i32,
        }
    }

    fn row(&self) -> [&(dyn ToSql + Sync); 29] {
        let e = &self.p.event;
        let pr = &e.principal;
        [
            &self.id,
            &self.source,
            &e.event_id,
            &e.time_us,
            &e.account,
            &e.region,
            &e.service,
            &e.action,
            &e.read_only,
            &self.outcome,
            &self.message,
            &pr.id,
            &pr.kind,
            &pr.issuer,
            &pr.session_name,
            &pr.source_identity,
            &pr.on_behalf_of,
            &pr.invoked_by,
            &pr.mfa,
            &self.actor_kind,
            &e.actor.rule,
            &e.source_ip,
            &e.user_agent,
            &e.resources,
            &self.completeness,
            &self.block,
            &self.offset,
            &self.len,
            &self.leaf,
        ]
    }
}

/// Write `files` in one transaction; see the module's documentation.
fn write_batch(
    tx: &mut Transaction,
    mut files: Vec<FileBatch>,
) -> Result<(BatchStats, BatchCommit), postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    let mut stats = BatchStats::default();
    let first_block: i64 = tx
        .query_one("SELECT coalesce(max(id), 0) + 1 FROM audit_blocks", &[])?
        .get(0);
    let blocks = number_blocks(&mut files, first_block);
    let mut block_used = vec![false; blocks.len()];
    let (plain, staged): (Vec<&PreparedEvent>, Vec<&PreparedEvent>) = in_key_order(&files)
        .into_iter()
        .partition(|p| p.event.completeness == 0);
    crate::partitions::ensure(tx, plain.iter().chain(&staged).map(|p| p.event.time_us))?;

    // Complete as logged: the first copy wins. Which keys does the store hold already?
    let held: HashSet<(i64, String, String)> = if plain.is_empty() {
        HashSet::new()
    } else {
        let times: Vec<i64> = plain.iter().map(|p| p.event.time_us).collect();
        let sources: Vec<&str> = plain.iter().map(|p| p.event.source.as_str()).collect();
        let ids: Vec<&str> = plain.iter().map(|p| p.event.event_id.as_str()).collect();
        tx.query(
            "SELECT e.time_us, e.source, e.event_id FROM audit_events e \
             JOIN unnest($1::int8[], $2::text[], $3::text[]) AS k(t, s, i) \
               ON e.time_us = k.t AND e.source = k.s AND e.event_id = k.i",
            &[&times, &sources, &ids],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    let mut next_id: i64 = tx
        .query_one("SELECT coalesce(max(id), 0) + 1 FROM audit_events", &[])?
        .get(0);
    let first_new_id = next_id;
    let mut inserted: Vec<(i64, [u8; 32])> = Vec::new();
    {
        let mut taken: HashSet<(i64, &str, &str)> = HashSet::new();
        let sink = tx.copy_in(&format!(
            "COPY audit_events ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))?;
        let mut writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
        for p in &plain {
            let e = &p.event;
            let key = (e.time_us, e.source.as_str(), e.event_id.as_str());
            // A fresh ingest holds nothing yet: no key copies for the lookup then.
            let stored =
                !held.is_empty() && held.contains(&(key.0, key.1.to_owned(), key.2.to_owned()));
            if stored || !taken.insert(key) {
                stats.duplicates += 1;
                continue;
            }
            writer.write(&Values::new(next_id, p).row())?;
            inserted.push((next_id, p.leaf));
            block_used[(p.raw.block - first_block as u64) as usize] = true;
            stats.inserted += 1;
            next_id += 1;
        }
        writer.finish()?;
    }

    // Logged in stages: a more complete copy replaces the stored one, whose leaf an earlier
    // ledger entry committed to and must stay known.
    let mut restored: HashMap<i64, [u8; 32]> = HashMap::new();
    let mut replaced: HashMap<i64, Option<[u8; 32]>> = HashMap::new();
    if !staged.is_empty() {
        let updates = COLUMNS
            .split(',')
            .map(str::trim)
            .filter(|c| !matches!(*c, "id" | "source" | "event_id"))
            .map(|c| format!("{c} = excluded.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let placeholders: Vec<String> = (1..=29).map(|n| format!("${n}")).collect();
        let upsert = tx.prepare_typed(
            &format!(
                "INSERT INTO audit_events ({COLUMNS}) VALUES ({}) \
                 ON CONFLICT (time_us, source, event_id) DO UPDATE SET {updates} \
                 WHERE excluded.completeness > audit_events.completeness \
                 RETURNING id",
                placeholders.join(", ")
            ),
            &COPY_TYPES,
        )?;
        let previous = tx.prepare(
            "SELECT id, leaf FROM audit_events WHERE time_us = $1 AND source = $2 AND event_id = $3",
        )?;
        for p in staged {
            let e = &p.event;
            let before: Option<(i64, Vec<u8>)> = tx
                .query_opt(&previous, &[&e.time_us, &e.source.as_str(), &e.event_id])?
                .map(|r| (r.get(0), r.get(1)));
            let Some(id) = tx
                .query_opt(&upsert, &Values::new(next_id, p).row())?
                .map(|r| r.get::<_, i64>(0))
            else {
                stats.duplicates += 1;
                continue;
            };
            if id == next_id {
                stats.inserted += 1;
                next_id += 1;
                inserted.push((id, p.leaf));
            } else {
                stats.upgraded += 1;
                let old = before
                    .filter(|(old, _)| *old == id)
                    .and_then(|(_, leaf)| <[u8; 32]>::try_from(leaf.as_slice()).ok());
                // A copy inserted by this same batch replaces nothing an earlier batch
                // committed to; replaced twice, the leaf that counts is the first one.
                if id < first_new_id {
                    replaced.entry(id).or_insert(old);
                }
                restored.insert(id, p.leaf);
            }
            block_used[(p.raw.block - first_block as u64) as usize] = true;
        }
    }

    {
        let sink = tx.copy_in("COPY audit_blocks (id, data) FROM STDIN (FORMAT binary)")?;
        let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
        for (i, block) in blocks.iter().enumerate() {
            if block_used[i] {
                writer.write(&[&(first_block + i as i64), &block.as_slice()])?;
            }
        }
        writer.finish()?;
    }

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

    Ok((stats, BatchCommit::assemble(inserted, restored, replaced)))
}

/// Arguments of a dynamic statement, numbered as they are added.
#[derive(Default)]
struct Args {
    values: Vec<Box<dyn ToSql + Sync>>,
}

impl Args {
    fn add(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.values.push(Box::new(v));
        format!("${}", self.values.len())
    }

    fn bound(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|v| v.as_ref()).collect()
    }
}

/// `column = $n`, or `column LIKE $n` for a glob.
fn text_clause(column: &str, text: &str, args: &mut Args) -> String {
    if Glob::is_pattern(text) {
        let a = args.add(Glob::new(text).to_like());
        format!("{column} LIKE {a}")
    } else {
        let a = args.add(text.to_owned());
        format!("{column} = {a}")
    }
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
        self.with(|c| c.query_one("SELECT count(*) FROM audit_events", &[]))
            .map(|r| r.get::<_, i64>(0) as u64)
    }

    fn prunable(&self, before_us: i64, through: i64, limit: usize) -> Result<Vec<i64>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.with(|c| {
            c.query(
                "SELECT id FROM audit_events WHERE id <= $1 AND time_us < $2 ORDER BY id LIMIT $3",
                &[&through, &before_us, &limit],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn delete_events(&mut self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let removed = self.with(|c| {
            let mut tx = c.transaction()?;
            let blocks: Vec<i64> = tx
                .query(
                    "DELETE FROM audit_events WHERE id = ANY($1) RETURNING raw_block",
                    &[&ids],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.execute(
                "DELETE FROM audit_blocks b WHERE b.id = ANY($1) \
                 AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.raw_block = b.id)",
                &[&blocks],
            )?;
            tx.commit()?;
            Ok(blocks.len() as u64)
        })?;
        self.blocks.borrow_mut().clear();
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
        self.blocks.borrow_mut().clear();
        Ok(dropped)
    }

    fn count_after(&self, after: i64) -> Result<u64, StoreError> {
        self.with(|c| c.query_one("SELECT count(*) FROM audit_events WHERE id > $1", &[&after]))
            .map(|r| r.get::<_, i64>(0) as u64)
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
        self.with(|c| {
            let mut tx = c.transaction()?;
            let written = write_batch(&mut tx, files)?;
            tx.commit()?;
            Ok(written)
        })
    }

    fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let (sql, args) = self.query_sql(q)?;
        self.events(&sql, &args.bound())
    }

    /// The rows are turned into events as they arrive from the server, a batch at a time
    /// (the server sends them all; the client holds a batch).
    fn query_each(
        &self,
        q: &EventQuery,
        each: &mut driftlog_store::EachBatch,
    ) -> Result<(), StoreError> {
        const BATCH: usize = 4096;
        let (sql, args) = self.query_sql(q)?;
        self.with(|c| {
            let mut rows = c.query_raw(&sql, args.bound())?;
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(row) = rows.next()? {
                batch.push(stored_event(&row));
                if batch.len() == BATCH && each(std::mem::take(&mut batch)).is_break() {
                    return Ok(());
                }
            }
            if !batch.is_empty() {
                let _ = each(batch);
            }
            Ok(())
        })
    }

    fn events_naming(&self, identifiers: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let names = driftlog_store::spellings(self, identifiers)?;
        self.events(
            &format!(
                "SELECT {READ_COLUMNS} FROM audit_events e WHERE e.resources && $1::text[] \
                 ORDER BY e.time_us, e.id"
            ),
            &[&names],
        )
    }

    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<EventWithEvidence>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let rows = self.with(|c| {
            c.query(
                &format!(
                    "SELECT {READ_COLUMNS}, leaf, raw_block, raw_offset, raw_len \
                     FROM audit_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2"
                ),
                &[&after, &limit],
            )
        })?;
        let at = |r: &Row| -> (i64, i32, i32) { (r.get(26), r.get(27), r.get(28)) };
        let mut out = Vec::with_capacity(rows.len());
        // A few dozen rows at a time: their blocks fit the cache together.
        for chunk in rows.chunks(48) {
            let blocks: Vec<i64> = chunk.iter().map(|r| at(r).0).collect();
            self.load_blocks(&blocks)?;
            for r in chunk {
                let event = stored_event(r);
                let raw = self.record(event.id, at(r))?;
                let leaf: Vec<u8> = r.get(25);
                out.push((event, raw, RecordedLeaf::from_bytes(&leaf)));
            }
        }
        Ok(out)
    }

    fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        let row = self.with(|c| {
            c.query_opt(
                "SELECT raw_block, raw_offset, raw_len FROM audit_events WHERE id = $1",
                &[&id],
            )
        })?;
        let Some(row) = row else {
            return Err(self.damaged(format!("stored event {id}"), "it does not exist".into()));
        };
        let at = (row.get(0), row.get(1), row.get(2));
        self.load_blocks(&[at.0])?;
        self.record(id, at)
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
            c.query(
                "SELECT identifier FROM audit_addresses WHERE address = $1 ORDER BY 1",
                &[&address],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}
