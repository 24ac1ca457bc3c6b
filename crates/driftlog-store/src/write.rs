//! Writing batches of files: one transaction each, so a batch is in the store whole or not at
//! all, together with the record of the files it came from.

use crate::{Store, StoreError};
use driftlog_core::{AuditEvent, Outcome};
use rusqlite::{params, OptionalExtension};

/// An event ready for the store: the raw record is already compressed (done on the parsing
/// threads, so the single writer only writes).
#[derive(Debug, Clone)]
pub struct PreparedEvent {
    pub event: AuditEvent,
    pub raw_lz4: Vec<u8>,
}

impl PreparedEvent {
    pub fn new(event: AuditEvent, raw: &[u8]) -> Self {
        Self {
            event,
            raw_lz4: lz4_flex::compress_prepend_size(raw),
        }
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
    /// Only files read without a single rejected record are recorded as done (and skipped next
    /// time); the others are read again on every run, so their problems keep being reported.
    pub clean: bool,
}

/// What a batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Events new to the store.
    pub inserted: u64,
    /// Events the store already held (same source and id).
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

const UPSERT: &str = "INSERT INTO events (
        id, source, event_id, time_us, account, region, service, action, read_only, outcome,
        error_message, principal, principal_type, issuer, session_name, source_identity,
        on_behalf_of, invoked_by, mfa, actor_kind, actor_rule, source_ip, user_agent, resources,
        completeness)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23, ?24, ?25)
    ON CONFLICT (source, event_id) DO UPDATE SET
        time_us = excluded.time_us, account = excluded.account, region = excluded.region,
        service = excluded.service, action = excluded.action, read_only = excluded.read_only,
        outcome = excluded.outcome, error_message = excluded.error_message,
        principal = excluded.principal, principal_type = excluded.principal_type,
        issuer = excluded.issuer, session_name = excluded.session_name,
        source_identity = excluded.source_identity, on_behalf_of = excluded.on_behalf_of,
        invoked_by = excluded.invoked_by, mfa = excluded.mfa, actor_kind = excluded.actor_kind,
        actor_rule = excluded.actor_rule, source_ip = excluded.source_ip,
        user_agent = excluded.user_agent, resources = excluded.resources,
        completeness = excluded.completeness
    WHERE excluded.completeness > events.completeness
    RETURNING id";

impl Store {
    /// Write several files' events in one transaction.
    pub fn write_batch(&mut self, mut files: Vec<FileBatch>) -> Result<BatchStats, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sql(&path, e);
        let mut stats = BatchStats::default();

        let counts: Vec<i64> = files.iter().map(|f| f.events.len() as i64).collect();
        // Sorted keys touch each index page once per batch instead of at random.
        let mut events: Vec<PreparedEvent> = files
            .iter_mut()
            .flat_map(|f| std::mem::take(&mut f.events))
            .collect();
        events.sort_unstable_by(|a, b| {
            (a.event.source, &a.event.event_id).cmp(&(b.event.source, &b.event.event_id))
        });

        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        {
            let mut next_id: i64 = tx
                .query_row("SELECT coalesce(max(id), 0) + 1 FROM events", [], |r| {
                    r.get(0)
                })
                .map_err(sql)?;
            let mut upsert = tx.prepare_cached(UPSERT).map_err(sql)?;
            let mut raw = tx
                .prepare_cached("INSERT OR REPLACE INTO raw (event, lz4) VALUES (?1, ?2)")
                .map_err(sql)?;
            let mut refs: Vec<(&str, i64)> = Vec::new();
            for p in &events {
                let e = &p.event;
                let (outcome, message) = match &e.outcome {
                    Outcome::Failure { code, message } => (code.as_str(), message.as_deref()),
                    other => (other.label(), None),
                };
                let resources = serde_json::to_string(&e.resources).unwrap_or_default();
                let id: Option<i64> = upsert
                    .query_row(
                        params![
                            next_id,
                            e.source.as_str(),
                            e.event_id,
                            e.time_us,
                            e.account,
                            e.region,
                            e.service,
                            e.action,
                            e.read_only,
                            outcome,
                            message,
                            e.principal.id,
                            e.principal.kind,
                            e.principal.issuer,
                            e.principal.session_name,
                            e.principal.source_identity,
                            e.principal.on_behalf_of,
                            e.principal.invoked_by,
                            e.principal.mfa,
                            e.actor.kind.as_str(),
                            e.actor.rule,
                            e.source_ip,
                            e.user_agent,
                            resources,
                            e.completeness,
                        ],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(sql)?;
                let Some(id) = id else {
                    stats.duplicates += 1;
                    continue;
                };
                if id == next_id {
                    stats.inserted += 1;
                    next_id += 1;
                } else {
                    stats.upgraded += 1;
                }
                raw.execute(params![id, p.raw_lz4]).map_err(sql)?;
                refs.extend(e.resources.iter().map(|r| (r.as_str(), id)));
            }
            refs.sort_unstable();
            refs.dedup();
            let mut insert_ref = tx
                .prepare_cached("INSERT OR IGNORE INTO refs (ref, event) VALUES (?1, ?2)")
                .map_err(sql)?;
            for (r, id) in refs {
                insert_ref.execute(params![r, id]).map_err(sql)?;
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
        }
        tx.commit().map_err(sql)?;
        Ok(stats)
    }
}
