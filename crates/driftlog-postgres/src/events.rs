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

use crate::plan::{query_sql, Plan};
use crate::pool::{redact, Pool};
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
use postgres::{Client, GenericClient, Row, Transaction};
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
    user_agent, resources, completeness, raw_block, raw_offset, raw_len, leaf, facets";

const COPY_TYPES: [Type; 30] = [
    Type::INT8,       // id
    Type::INT4,       // source
    Type::BYTEA,      // event_id (`driftlog_store::event_ids::to_bytes`)
    Type::INT8,       // time_us
    Type::INT4,       // account
    Type::INT4,       // region
    Type::INT4,       // service
    Type::INT4,       // action
    Type::BOOL,       // read_only
    Type::INT4,       // outcome
    Type::TEXT,       // error_message
    Type::INT4,       // principal
    Type::INT4,       // principal_type
    Type::INT4,       // issuer
    Type::INT4,       // session_name
    Type::TEXT,       // source_identity
    Type::TEXT,       // on_behalf_of
    Type::INT4,       // invoked_by
    Type::BOOL,       // mfa
    Type::INT4,       // actor_kind
    Type::INT4,       // actor_rule
    Type::INT4,       // source_ip
    Type::INT4,       // user_agent
    Type::INT4_ARRAY, // resources
    Type::INT2,       // completeness
    Type::INT8,       // raw_block
    Type::INT4,       // raw_offset
    Type::INT4,       // raw_len
    Type::BYTEA,      // leaf
    Type::INT4,       // facets
];

/// The positions in [`READ_COLUMNS`] of the columns that hold ids into `audit_strings`
/// (`crate::strings`), besides `resources`, an array of them.
const STRING_COLUMNS: [usize; 15] = [1, 4, 5, 6, 7, 9, 11, 12, 13, 14, 17, 19, 20, 21, 22];
/// The position of `resources` in [`READ_COLUMNS`].
const RESOURCES: usize = 23;

/// The columns a read returns, in the order [`stored_event`] reads them.
pub(crate) const READ_COLUMNS: &str =
    "id, source, event_id, time_us, account, region, service, action, \
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
    /// The strings of `audit_strings` this handle has met.
    strings: RefCell<Strings>,
}

impl PgEventStore {
    /// Connect (a `postgres://` URL) and migrate.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Pool::shared(url).map_err(|e| store_error(&PathBuf::from(redact(url)), e))?;
        Ok(Self {
            pool,
            blocks: RefCell::default(),
            dictionaries: RefCell::default(),
            strings: RefCell::default(),
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

    /// The record of stored event `event` (whose event id is `event_id`) at
    /// `(block, offset, len)`, as logged (`evidence::restore`), its block already loaded.
    fn record(
        &self,
        event: i64,
        event_id: &str,
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
        let kept = data.get(offset..offset + len).ok_or_else(|| {
            self.damaged(
                format!("stored event {event}"),
                format!("the record lies outside evidence block {block}"),
            )
        })?;
        evidence::restore(kept, event_id)
            .map_err(|reason| self.damaged(format!("stored event {event}"), reason))
    }
}

/// `rows` (of [`READ_COLUMNS`]) as events, their strings read first.
fn read_events(
    c: &mut impl GenericClient,
    strings: &mut Strings,
    rows: &[Row],
) -> Result<Vec<StoredEvent>, postgres::Error> {
    strings.read(c, rows.iter().flat_map(string_ids))?;
    Ok(rows.iter().map(|r| stored_event(r, strings)).collect())
}

/// The ids of `audit_strings` one row of [`READ_COLUMNS`] holds.
fn string_ids(r: &Row) -> impl Iterator<Item = i32> + '_ {
    let columns = STRING_COLUMNS
        .iter()
        .filter_map(|&i| r.get::<_, Option<i32>>(i));
    columns.chain(r.get::<_, Vec<i32>>(RESOURCES))
}

/// One row of [`READ_COLUMNS`] as an event. An id with no string (only an edit behind
/// driftlog's back makes one) reads as empty, and `verify` names the event as changed.
fn stored_event(r: &Row, strings: &Strings) -> StoredEvent {
    let text = |i: usize| -> Option<String> {
        r.get::<_, Option<i32>>(i)
            .map(|id| strings.text(id).unwrap_or_default().to_owned())
    };
    let resources: Vec<i32> = r.get(RESOURCES);
    StoredEvent {
        id: r.get(0),
        event: AuditEvent {
            source: text(1).and_then(|s| s.parse().ok()).unwrap_or(Source::Aws),
            event_id: event_ids::from_bytes(r.get(2)).unwrap_or_default(),
            time_us: r.get(3),
            account: text(4),
            region: text(5),
            service: text(6),
            action: text(7).unwrap_or_default(),
            read_only: r.get(8),
            outcome: Outcome::from_label(text(9).unwrap_or_default(), r.get(10)),
            principal: Principal {
                id: text(11),
                kind: text(12),
                issuer: text(13),
                session_name: text(14),
                source_identity: r.get(15),
                on_behalf_of: r.get(16),
                invoked_by: text(17),
                mfa: r.get(18),
            },
            actor: Actor {
                kind: text(19)
                    .and_then(|k| k.parse().ok())
                    .unwrap_or(ActorKind::Unknown),
                rule: text(20).unwrap_or_default(),
            },
            source_ip: text(21),
            user_agent: text(22),
            resources: resources
                .iter()
                .map(|&id| strings.text(id).unwrap_or_default().to_owned())
                .collect(),
            completeness: r.get::<_, i16>(24).clamp(0, u8::MAX as i16) as u8,
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

/// The facets of `e` packed (`driftlog_store::facets`; every code fits a byte, three bytes
/// in all).
fn facets_of(e: &AuditEvent) -> i32 {
    driftlog_store::facets::packed(e) as i32
}

/// Every value of `e` stored as an id into `audit_strings`.
fn strings_of(e: &AuditEvent) -> impl Iterator<Item = &str> {
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

/// The values of one event's row, in [`COLUMNS`] order: its strings as their ids (every one
/// interned before the batch's rows are built), the rest borrowed from the event.
struct Values<'a> {
    id: i64,
    p: &'a PreparedEvent,
    event_id: Vec<u8>,
    source: i32,
    account: Option<i32>,
    region: Option<i32>,
    service: Option<i32>,
    action: i32,
    outcome: i32,
    message: Option<&'a str>,
    principal: Option<i32>,
    principal_type: Option<i32>,
    issuer: Option<i32>,
    session_name: Option<i32>,
    invoked_by: Option<i32>,
    actor_kind: i32,
    actor_rule: i32,
    source_ip: Option<i32>,
    user_agent: Option<i32>,
    resources: Vec<i32>,
    leaf: &'a [u8],
    facets: i32,
    completeness: i16,
    block: i64,
    offset: i32,
    len: i32,
}

impl<'a> Values<'a> {
    fn new(id: i64, p: &'a PreparedEvent, strings: &Strings) -> Self {
        let e = &p.event;
        let pr = &e.principal;
        let (outcome, message) = outcome_of(e);
        let of = |t: &str| {
            strings
                .id(t)
                .expect("a batch's strings are interned before its rows are built")
        };
        let of_some = |t: &Option<String>| t.as_deref().map(of);
        Self {
            id,
            p,
            event_id: event_ids::to_bytes(&e.event_id),
            source: of(e.source.as_str()),
            account: of_some(&e.account),
            region: of_some(&e.region),
            service: of_some(&e.service),
            action: of(&e.action),
            outcome: of(outcome),
            message,
            principal: of_some(&pr.id),
            principal_type: of_some(&pr.kind),
            issuer: of_some(&pr.issuer),
            session_name: of_some(&pr.session_name),
            invoked_by: of_some(&pr.invoked_by),
            actor_kind: of(e.actor.kind.as_str()),
            actor_rule: of(&e.actor.rule),
            source_ip: of_some(&e.source_ip),
            user_agent: of_some(&e.user_agent),
            resources: e.resources.iter().map(|r| of(r)).collect(),
            // Eight bytes tell which event changed; the ledger holds the whole leaf.
            leaf: driftlog_store::leaves::kept(e, &p.leaf),
            facets: facets_of(e),
            completeness: e.completeness as i16,
            block: p.raw.block as i64,
            offset: p.raw.offset as i32,
            len: p.raw.len as i32,
        }
    }

    fn row(&self) -> [&(dyn ToSql + Sync); 30] {
        let e = &self.p.event;
        let pr = &e.principal;
        [
            &self.id,
            &self.source,
            &self.event_id,
            &e.time_us,
            &self.account,
            &self.region,
            &self.service,
            &self.action,
            &e.read_only,
            &self.outcome,
            &self.message,
            &self.principal,
            &self.principal_type,
            &self.issuer,
            &self.session_name,
            &pr.source_identity,
            &pr.on_behalf_of,
            &self.invoked_by,
            &pr.mfa,
            &self.actor_kind,
            &self.actor_rule,
            &self.source_ip,
            &self.user_agent,
            &self.resources,
            &self.completeness,
            &self.block,
            &self.offset,
            &self.len,
            &self.leaf,
            &self.facets,
        ]
    }
}

/// Write `files` in one transaction; see the module's documentation.
fn write_batch(
    tx: &mut Transaction,
    strings: &mut Strings,
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
    strings.intern(
        tx,
        plain
            .iter()
            .chain(&staged)
            .flat_map(|p| strings_of(&p.event)),
    )?;
    let strings = &*strings;
    let source_of = |p: &PreparedEvent| {
        strings
            .id(p.event.source.as_str())
            .expect("a batch's strings are interned first")
    };

    // Complete as logged: the first copy wins. Which keys does the store hold already?
    let held: HashSet<(i64, i32, Vec<u8>)> = if plain.is_empty() {
        HashSet::new()
    } else {
        let times: Vec<i64> = plain.iter().map(|p| p.event.time_us).collect();
        let sources: Vec<i32> = plain.iter().map(|p| source_of(p)).collect();
        let ids: Vec<Vec<u8>> = plain
            .iter()
            .map(|p| event_ids::to_bytes(&p.event.event_id))
            .collect();
        tx.query(
            "SELECT e.time_us, e.source, e.event_id FROM audit_events e \
             JOIN unnest($1::int8[], $2::int4[], $3::bytea[]) AS k(t, s, i) \
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
    let mut pairs: HashSet<(i32, i32)> = HashSet::new();
    let mut record = |v: &Values| {
        let named = [Some(v.action), v.principal, v.issuer];
        pairs.extend(named.into_iter().flatten().map(|s| (s, v.facets)));
    };
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
            let stored = !held.is_empty()
                && held.contains(&(key.0, source_of(p), event_ids::to_bytes(key.2)));
            if stored || !taken.insert(key) {
                stats.duplicates += 1;
                continue;
            }
            let values = Values::new(next_id, p, strings);
            writer.write(&values.row())?;
            record(&values);
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
        let placeholders: Vec<String> = (1..=30).map(|n| format!("${n}")).collect();
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
                .query_opt(
                    &previous,
                    &[&e.time_us, &source_of(p), &event_ids::to_bytes(&e.event_id)],
                )?
                .map(|r| (r.get(0), r.get(1)));
            let values = Values::new(next_id, p, strings);
            let Some(id) = tx
                .query_opt(&upsert, &values.row())?
                .map(|r| r.get::<_, i64>(0))
            else {
                stats.duplicates += 1;
                continue;
            };
            record(&values);
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

    // The facets each principal, issuer and action was stored with, and those the store has
    // (`crate::plan`). A duplicate adds nothing: the copy stored first was recorded then.
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
        let written = self.with(|c| {
            let mut tx = c.transaction()?;
            let written = write_batch(&mut tx, &mut self.strings.borrow_mut(), files)?;
            tx.commit()?;
            Ok(written)
        });
        if written.is_err() {
            // Strings added by the rolled-back transaction do not exist.
            self.strings.borrow_mut().forget();
        }
        written
    }

    fn query(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let names = self.resource_names(q)?;
        self.with(|c| {
            let strings = &mut self.strings.borrow_mut();
            let rows = query_sql(c, strings, q, names)?.rows(c)?;
            read_events(c, strings, &rows)
        })
    }

    /// A whole listing is read from the server a batch at a time (a portal), each batch
    /// turned into events and handed on before the next is read; a limited one is read whole
    /// first (it may take several statements, `crate::plan`), then handed on in batches.
    fn query_each(
        &self,
        q: &EventQuery,
        each: &mut driftlog_store::EachBatch,
    ) -> Result<(), StoreError> {
        const BATCH: usize = 4096;
        let names = self.resource_names(q)?;
        self.with(|c| {
            let strings = &mut self.strings.borrow_mut();
            let mut tx = c.transaction()?;
            match query_sql(&mut tx, strings, q, names)? {
                Plan::Statement(sql, args) => {
                    let portal = tx.bind(&sql, &args.bound())?;
                    loop {
                        let rows = tx.query_portal(&portal, BATCH as i32)?;
                        let last = rows.len() < BATCH;
                        if !rows.is_empty()
                            && each(read_events(&mut tx, strings, &rows)?).is_break()
                        {
                            break;
                        }
                        if last {
                            break;
                        }
                    }
                }
                windows => {
                    let rows = windows.rows(&mut tx)?;
                    for chunk in rows.chunks(BATCH) {
                        if each(read_events(&mut tx, strings, chunk)?).is_break() {
                            break;
                        }
                    }
                }
            }
            tx.commit()
        })
    }

    fn events_naming(&self, identifiers: &[String]) -> Result<Vec<StoredEvent>, StoreError> {
        let names = driftlog_store::spellings(self, identifiers)?;
        self.with(|c| {
            let strings = &mut self.strings.borrow_mut();
            let ids = strings.find(c, &names)?;
            let rows = c.query(
                &format!(
                    "SELECT {READ_COLUMNS} FROM audit_events e WHERE e.resources && $1::int4[] \
                     ORDER BY e.time_us, e.id"
                ),
                &[&ids],
            )?;
            read_events(c, strings, &rows)
        })
    }

    fn events_after(&self, after: i64, limit: usize) -> Result<Vec<EventWithEvidence>, StoreError> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let (rows, events) = self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {READ_COLUMNS}, leaf, raw_block, raw_offset, raw_len \
                     FROM audit_events e WHERE e.id > $1 ORDER BY e.id LIMIT $2"
                ),
                &[&after, &limit],
            )?;
            let events = read_events(c, &mut self.strings.borrow_mut(), &rows)?;
            Ok((rows, events))
        })?;
        let at = |r: &Row| -> (i64, i32, i32) { (r.get(26), r.get(27), r.get(28)) };
        let mut out = Vec::with_capacity(rows.len());
        let mut events = events.into_iter();
        // A few dozen rows at a time: their blocks fit the cache together.
        for chunk in rows.chunks(48) {
            let blocks: Vec<i64> = chunk.iter().map(|r| at(r).0).collect();
            self.load_blocks(&blocks)?;
            for (r, event) in chunk.iter().zip(events.by_ref()) {
                let raw = self.record(event.id, &event.event.event_id, at(r))?;
                let leaf: Vec<u8> = r.get(25);
                out.push((event, raw, RecordedLeaf::from_bytes(&leaf)));
            }
        }
        Ok(out)
    }

    fn raw(&self, id: i64) -> Result<Vec<u8>, StoreError> {
        let row = self.with(|c| {
            c.query_opt(
                "SELECT raw_block, raw_offset, raw_len, event_id FROM audit_events WHERE id = $1",
                &[&id],
            )
        })?;
        let Some(row) = row else {
            return Err(self.damaged(format!("stored event {id}"), "it does not exist".into()));
        };
        let at = (row.get(0), row.get(1), row.get(2));
        let event_id = driftlog_store::event_ids::from_bytes(row.get(3)).ok_or_else(|| {
            self.damaged(
                format!("stored event {id}"),
                "its event id is neither a UUID nor text".into(),
            )
        })?;
        self.load_blocks(&[at.0])?;
        self.record(id, &event_id, at)
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
