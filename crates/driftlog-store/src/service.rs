//! The service's history (`driftlog serve`): what each scheduled run saw, each finding's life
//! (first seen, last seen, changed, resolved, acknowledged), the jobs the schedules make, and
//! the alert outbox.
//!
//! Several workers may share one store, so every write that must happen once is guarded here,
//! not in the callers:
//!
//! - A job is a row claimed under a lease ([`ServiceStore::claim_job`]): one worker at a time
//!   holds it; a worker that dies loses it when the lease ends, and another takes it over.
//! - A run is recorded only by the worker that still holds its job's lease, in one transaction
//!   with the findings' transitions and the alerts they cause ([`ServiceStore::record_run`]).
//!   A worker whose lease was taken over gets [`StoreError::LeaseLost`] and records nothing, so
//!   a run is never recorded twice and an alert never sent twice.
//! - Alerts are rows of an outbox, one per target and run, claimed under a lease like jobs.
//!
//! SQLite implements it here ([`ServiceDb`]); PostgreSQL implements the same trait with
//! `SELECT … FOR UPDATE SKIP LOCKED`.

use crate::{Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One finished run of a job, as recorded.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The job's name (`stack:NAME`, `audit:PATH`, `compare:NAME`).
    pub job: String,
    pub stack: Option<String>,
    pub environment: Option<String>,
    pub started_us: i64,
    pub finished_us: i64,
    /// `clean`, `drift`, `partial`, `ingested`, `compared` or `error`.
    pub outcome: String,
    /// What the run did, for people (counts, inputs, the error), as JSON.
    pub summary: Value,
}

/// A finding a stack's run saw.
#[derive(Debug, Clone)]
pub struct Observed {
    pub address: String,
    /// `changed`, `deleted` or `unmanaged`.
    pub kind: String,
    /// Changes when the drift itself changes (another value), not when only its attribution
    /// does.
    pub fingerprint: String,
    /// The finding as the scan reported it (already redacted).
    pub finding: Value,
}

/// How a finding's life moved in a run: what alerts are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Seen for the first time, or again after it was resolved.
    New,
    /// Still there, with another value.
    Changed,
    /// No longer seen.
    Resolved,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Changed => "changed",
            Change::Resolved => "resolved",
        }
    }
}

/// A finding's transition in a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Transition {
    pub change: Change,
    pub finding_id: i64,
    pub stack: String,
    pub environment: String,
    pub address: String,
    pub kind: String,
    pub finding: Value,
}

/// An alert to send: its target's name and the body (signed when sent).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub target: String,
    pub body: String,
}

/// What recording a run did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub run_id: i64,
    pub transitions: Vec<Transition>,
    pub deliveries: usize,
}

/// A job this worker holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub job: String,
    pub worker: String,
    /// When it was due.
    pub due_us: i64,
    /// How many times it has been claimed (more than the runs: a takeover counts).
    pub claims: i64,
}

/// A recorded run, as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub stack: Option<String>,
    pub environment: Option<String>,
    pub started_us: i64,
    pub finished_us: i64,
    pub outcome: String,
    pub open: i64,
    pub new: i64,
    pub changed: i64,
    pub resolved: i64,
    pub summary: Value,
}

/// A finding's life, as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FindingRow {
    pub id: i64,
    pub stack: String,
    pub environment: String,
    pub address: String,
    pub kind: String,
    /// `open` or `resolved`.
    pub state: String,
    pub first_seen_us: i64,
    pub last_seen_us: i64,
    /// When it last became new, changed or resolved.
    pub changed_us: i64,
    pub resolved_us: Option<i64>,
    pub first_run: i64,
    pub last_run: i64,
    pub acknowledged: Option<Acknowledgement>,
    /// The finding as the scan reported it, as stored: served without being parsed again.
    pub finding: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at_us: i64,
    pub note: Option<String>,
}

/// Filters of a findings listing; every one given must match.
#[derive(Debug, Clone, Default)]
pub struct FindingQuery {
    pub stack: Option<String>,
    /// One resource's findings, in every stack (a Terraform address).
    pub address: Option<String>,
    pub environment: Option<String>,
    pub kind: Option<String>,
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// Only findings that became new, changed or resolved at or after this time.
    pub since_us: Option<i64>,
    /// Ids above this one (pagination: the last id of the previous page).
    pub after_id: Option<i64>,
    pub limit: usize,
}

/// Filters of a runs listing.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub stack: Option<String>,
    /// One job's runs (`compare:NAME`, `audit:PATH`, `stack:NAME`).
    pub job: Option<String>,
    /// Ids below this one (pagination, newest first).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// A value bound to a query's placeholder, whatever the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Int(i64),
}

/// The `WHERE` clause of a findings listing with only the filters given (so the database uses
/// the index that fits: a `(? IS NULL OR …)` clause hides them), then the order and `LIMIT`,
/// with its parameters in order. `placeholder(n)` writes the n-th (1-based) parameter in the
/// database's syntax (`?1`, `$1`).
pub fn finding_filter(q: &FindingQuery, placeholder: fn(usize) -> String) -> (String, Vec<Param>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let mut add = |column: &str, op: &str, p: Param| {
        params.push(p);
        clauses.push(format!("{column} {op} {}", placeholder(params.len())));
    };
    for (column, value) in [
        ("stack", &q.stack),
        ("address", &q.address),
        ("environment", &q.environment),
        ("kind", &q.kind),
        ("state", &q.state),
    ] {
        if let Some(v) = value {
            add(column, "=", Param::Text(v.clone()));
        }
    }
    if let Some(t) = q.since_us {
        add("changed_us", ">=", Param::Int(t));
    }
    if let Some(id) = q.after_id {
        add("id", ">", Param::Int(id));
    }
    finish(clauses, params, "ORDER BY id", q.limit, placeholder)
}

/// The same for a runs listing (newest first).
pub fn run_filter(q: &RunQuery, placeholder: fn(usize) -> String) -> (String, Vec<Param>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    for (column, value) in [("stack", &q.stack), ("job", &q.job)] {
        if let Some(v) = value {
            params.push(Param::Text(v.clone()));
            clauses.push(format!("{column} = {}", placeholder(params.len())));
        }
    }
    if let Some(id) = q.before_id {
        params.push(Param::Int(id));
        clauses.push(format!("id < {}", placeholder(params.len())));
    }
    finish(clauses, params, "ORDER BY id DESC", q.limit, placeholder)
}

fn finish(
    clauses: Vec<String>,
    mut params: Vec<Param>,
    order: &str,
    limit: usize,
    placeholder: fn(usize) -> String,
) -> (String, Vec<Param>) {
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {} ", clauses.join(" AND "))
    };
    params.push(Param::Int(limit as i64));
    (
        format!("{clause}{order} LIMIT {}", placeholder(params.len())),
        params,
    )
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
        }
    }
}

fn sqlite_placeholder(n: usize) -> String {
    format!("?{n}")
}

/// A stack's standing: its open findings and its last runs.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StackStatus {
    pub stack: String,
    pub environment: String,
    pub open: i64,
    pub changed: i64,
    pub deleted: i64,
    pub unmanaged: i64,
    pub acknowledged: i64,
    pub last_run: Option<RunRow>,
    /// When a run last finished without an error.
    pub last_success_us: Option<i64>,
}

/// An alert in the outbox.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub target: String,
    pub run: i64,
    pub body: String,
    pub created_us: i64,
    /// `pending`, `delivered` or `dead` (gave up: the dead-letter record).
    pub state: String,
    pub attempts: i64,
    pub next_us: i64,
    pub last_error: Option<String>,
    pub done_us: Option<i64>,
}

/// How an attempt to deliver ended.
#[derive(Debug, Clone)]
pub enum Settle {
    Delivered {
        at_us: i64,
    },
    /// Failed; try again at `next_us`.
    Retry {
        next_us: i64,
        error: String,
    },
    /// Failed for good.
    Dead {
        at_us: i64,
        error: String,
    },
}

/// Everything the service asks of its store. See the module documentation for what each
/// guarantees when several workers share it.
pub trait ServiceStore: Send + Sync {
    /// Make sure each job exists; a new job is first due at its time. Existing jobs keep their
    /// own due times.
    fn ensure_jobs(&self, jobs: &[(String, i64)]) -> Result<(), StoreError>;
    /// Claim the job due longest ago whose lease is free or expired, for `lease_us`.
    fn claim_job(
        &self,
        worker: &str,
        now_us: i64,
        lease_us: i64,
    ) -> Result<Option<Claim>, StoreError>;
    /// Extend a held lease; `false` if it was lost.
    fn renew_job(&self, claim: &Claim, until_us: i64) -> Result<bool, StoreError>;
    /// The job is done: free it, due next at `next_due_us`. `false` if the lease was lost.
    fn finish_job(&self, claim: &Claim, next_due_us: i64) -> Result<bool, StoreError>;
    /// Give a job back unfinished (shutdown): it stays due.
    fn release_job(&self, claim: &Claim) -> Result<(), StoreError>;
    /// Make a job due now (a run on demand); `false` if there is no such job.
    fn run_now(&self, job: &str, now_us: i64) -> Result<bool, StoreError>;
    /// Record a run of a held job. With `observed`, the stack's findings move: new ones open,
    /// changed ones change, and (when `resolve_missing`, which a partial read must not set)
    /// open ones not seen are resolved. `deliver` turns the run's transitions into alerts,
    /// written in the same transaction.
    fn record_run(
        &self,
        claim: &Claim,
        run: &RunRecord,
        observed: Option<&[Observed]>,
        resolve_missing: bool,
        deliver: &dyn Fn(i64, &[Transition]) -> Vec<NewDelivery>,
    ) -> Result<Recorded, StoreError>;

    /// A number that moves on with every write that changes what [`Self::runs`],
    /// [`Self::findings`], [`Self::finding`] and [`Self::stacks`] answer (a run recorded, an
    /// acknowledgement), committed with that write. A reader that asked for the generation
    /// *before* a listing may give that listing again, unread, for as long as the store
    /// still says the same generation: the API's page cache and ETags rest on this.
    fn generation(&self) -> Result<i64, StoreError>;
    fn runs(&self, q: &RunQuery) -> Result<Vec<RunRow>, StoreError>;
    fn findings(&self, q: &FindingQuery) -> Result<Vec<FindingRow>, StoreError>;
    fn finding(&self, id: i64) -> Result<Option<FindingRow>, StoreError>;
    /// Acknowledge an open finding; `false` if there is no such finding.
    fn acknowledge(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        now_us: i64,
    ) -> Result<bool, StoreError>;
    /// Every stack that has run, with its standing.
    fn stacks(&self) -> Result<Vec<StackStatus>, StoreError>;

    /// Claim the pending alert due longest ago, for `lease_us`.
    fn claim_delivery(
        &self,
        worker: &str,
        now_us: i64,
        lease_us: i64,
    ) -> Result<Option<DeliveryRow>, StoreError>;
    fn settle_delivery(&self, id: i64, worker: &str, how: &Settle) -> Result<(), StoreError>;
    /// Alerts, newest first (`state`: only those).
    fn deliveries(&self, state: Option<&str>, limit: usize)
        -> Result<Vec<DeliveryRow>, StoreError>;
}

/// The service's history in the SQLite event store (schema version 4): one connection that
/// writes, and a few that read (WAL: reads never wait for a write, and each other not at all).
pub struct ServiceDb {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
}

/// Reading connections: enough for both cores' request threads to never queue on one.
const READERS: usize = 8;

impl ServiceDb {
    /// Open (creating it if needed) the store at `path` and bring its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer = Store::open(path)?.conn;
        let readers = (0..READERS)
            .map(|_| Store::open(path).map(|s| Mutex::new(s.conn)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            path: path.into(),
            writer: Mutex::new(writer),
            readers,
            next_reader: Default::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, e: rusqlite::Error) -> StoreError {
        StoreError::sql(&self.path, e)
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|e| self.sql(e))
    }

    /// On a free reading connection (the first one not in use, from a rotating start), else
    /// wait for the next in turn.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = self.readers.len();
        let conn = (0..n)
            .find_map(|i| self.readers[(start + i) % n].try_lock().ok())
            .unwrap_or_else(|| {
                self.readers[start % n]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
            });
        f(&conn).map_err(|e| self.sql(e))
    }
}

/// A stack's counters after a run (`?1` stack, `?2` environment, `?3` run, `?4` when it
/// succeeded or NULL), so listing stacks reads one row each instead of counting findings.
/// The same SQL in SQLite and PostgreSQL (which writes `$1` for `?1`: [`dollar_placeholders`]).
pub const REFRESH_STACK: &str = "INSERT INTO service_stacks (stack, environment, open, changed, \
     deleted, unmanaged, acknowledged, last_run, last_success_us) \
     SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), count(*), \
            count(*) FILTER (WHERE kind = 'changed'), count(*) FILTER (WHERE kind = 'deleted'), \
            count(*) FILTER (WHERE kind = 'unmanaged'), count(*) FILTER (WHERE acked_by IS NOT NULL), \
            CAST(?3 AS BIGINT), CAST(?4 AS BIGINT) \
     FROM service_findings WHERE stack = ?1 AND state = 'open' \
     ON CONFLICT (stack) DO UPDATE SET environment = excluded.environment, open = excluded.open, \
        changed = excluded.changed, deleted = excluded.deleted, unmanaged = excluded.unmanaged, \
        acknowledged = excluded.acknowledged, last_run = excluded.last_run, \
        last_success_us = coalesce(excluded.last_success_us, service_stacks.last_success_us)";

/// SQL written with `?N` placeholders, for PostgreSQL (`$N`). Only for the constants here,
/// whose `?` are all placeholders.
pub fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

/// How a run's sighting of a finding moves it, from the state and fingerprint the store had
/// (`None`: never seen). One rule for every store; each runs the matching statement of
/// [`finding_sql`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// Never seen: [`finding_sql::INSERT`].
    First,
    /// Back after a fix: a new finding again, acknowledged by nobody yet ([`finding_sql::REOPEN`]).
    Back,
    /// Another value: what was acknowledged is not what is there now ([`finding_sql::CHANGE`]).
    Changed,
    /// The same drift; its attribution may have been found since ([`finding_sql::SEEN`]).
    Same,
}

impl Sighting {
    pub fn of(known: Option<(&str, &str)>, fingerprint: &str) -> Self {
        match known {
            None => Sighting::First,
            Some(("resolved", _)) => Sighting::Back,
            Some((_, known)) if known != fingerprint => Sighting::Changed,
            Some(_) => Sighting::Same,
        }
    }

    /// The transition it is, if any.
    pub fn change(self) -> Option<Change> {
        match self {
            Sighting::First | Sighting::Back => Some(Change::New),
            Sighting::Changed => Some(Change::Changed),
            Sighting::Same => None,
        }
    }
}

/// The statements that move a finding, written once for SQLite (`?N`) and PostgreSQL
/// ([`dollar_placeholders`]).
pub mod finding_sql {
    /// `?1` stack, `?2` environment, `?3` address, `?4` kind, `?5` fingerprint, `?6` now,
    /// `?7` run, `?8` finding; returns the id.
    pub const INSERT: &str = "INSERT INTO service_findings (stack, environment, address, kind, \
         fingerprint, state, first_seen_us, last_seen_us, changed_us, first_run, last_run, finding) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?6, ?6, ?7, ?7, ?8) RETURNING id";
    /// `?1` id, `?2` fingerprint, `?3` now, `?4` run, `?5` finding, `?6` environment.
    pub const REOPEN: &str = "UPDATE service_findings SET state = 'open', fingerprint = ?2, \
         first_seen_us = ?3, last_seen_us = ?3, changed_us = ?3, resolved_us = NULL, \
         first_run = ?4, last_run = ?4, acked_by = NULL, acked_us = NULL, ack_note = NULL, \
         finding = ?5, environment = ?6 WHERE id = ?1";
    /// `?1` id, `?2` fingerprint, `?3` now, `?4` run, `?5` finding.
    pub const CHANGE: &str = "UPDATE service_findings SET fingerprint = ?2, last_seen_us = ?3, \
         changed_us = ?3, last_run = ?4, acked_by = NULL, acked_us = NULL, ack_note = NULL, \
         finding = ?5 WHERE id = ?1";
    /// `?1` id, `?2` now, `?3` run, `?4` finding.
    pub const SEEN: &str = "UPDATE service_findings SET last_seen_us = ?2, last_run = ?3, \
         finding = ?4 WHERE id = ?1";
    /// `?1` id, `?2` now, `?3` run.
    pub const RESOLVE: &str = "UPDATE service_findings SET state = 'resolved', resolved_us = ?2, \
         changed_us = ?2, last_run = ?3 WHERE id = ?1";
}

/// The acknowledged count of the stack of finding `?1`, after an acknowledgement.
pub const RECOUNT_ACKS: &str = "UPDATE service_stacks SET acknowledged = \
     (SELECT count(*) FROM service_findings f WHERE f.stack = service_stacks.stack \
        AND f.state = 'open' AND f.acked_by IS NOT NULL) \
     WHERE stack = (SELECT stack FROM service_findings WHERE id = ?1)";

/// Move the generation on (the same SQL in both databases): last in each transaction that
/// changes what the API lists.
pub const NEXT_GENERATION: &str = "UPDATE service_generation SET value = value + 1";

/// The current generation.
pub const GENERATION: &str = "SELECT value FROM service_generation";

/// The stacks with their counters and last run: the same SQL in both databases.
pub const STACKS: &str = "SELECT s.stack, s.environment, s.open, s.changed, s.deleted, \
     s.unmanaged, s.acknowledged, s.last_success_us, r.id, r.job, r.stack, r.environment, \
     r.started_us, r.finished_us, r.outcome, r.open, r.new, r.changed, r.resolved, r.summary \
     FROM service_stacks s JOIN service_runs r ON r.id = s.last_run ORDER BY s.stack";

const RUN_COLUMNS: &str = "id, job, stack, environment, started_us, finished_us, outcome, open, \
                           new, changed, resolved, summary";

fn run_row(r: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    run_row_at(r, 0)
}

/// A run from the row's columns `at..`, in [`RUN_COLUMNS`] order.
fn run_row_at(r: &rusqlite::Row, at: usize) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(at)?,
        job: r.get(at + 1)?,
        stack: r.get(at + 2)?,
        environment: r.get(at + 3)?,
        started_us: r.get(at + 4)?,
        finished_us: r.get(at + 5)?,
        outcome: r.get(at + 6)?,
        open: r.get(at + 7)?,
        new: r.get(at + 8)?,
        changed: r.get(at + 9)?,
        resolved: r.get(at + 10)?,
        summary: json(r.get::<_, String>(at + 11)?),
    })
}

const FINDING_COLUMNS: &str = "id, stack, environment, address, kind, state, first_seen_us, \
    last_seen_us, changed_us, resolved_us, first_run, last_run, acked_by, acked_us, ack_note, \
    finding";

fn finding_row(r: &rusqlite::Row) -> rusqlite::Result<FindingRow> {
    let by: Option<String> = r.get(12)?;
    Ok(FindingRow {
        id: r.get(0)?,
        stack: r.get(1)?,
        environment: r.get(2)?,
        address: r.get(3)?,
        kind: r.get(4)?,
        state: r.get(5)?,
        first_seen_us: r.get(6)?,
        last_seen_us: r.get(7)?,
        changed_us: r.get(8)?,
        resolved_us: r.get(9)?,
        first_run: r.get(10)?,
        last_run: r.get(11)?,
        acknowledged: match by {
            Some(by) => Some(Acknowledgement {
                by,
                at_us: r.get::<_, Option<i64>>(13)?.unwrap_or(0),
                note: r.get(14)?,
            }),
            None => None,
        },
        finding: raw(r.get::<_, String>(15)?),
    })
}

const DELIVERY_COLUMNS: &str =
    "id, target, run, body, created_us, state, attempts, next_us, last_error, done_us";

fn delivery_row(r: &rusqlite::Row) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.get(0)?,
        target: r.get(1)?,
        run: r.get(2)?,
        body: r.get(3)?,
        created_us: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        next_us: r.get(7)?,
        last_error: r.get(8)?,
        done_us: r.get(9)?,
    })
}

/// Stored JSON as it is (stored by this code, so it is JSON; a damaged row reads as a string).
fn raw(text: String) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(text).unwrap_or_else(|e| {
        serde_json::value::to_raw_value(&e.to_string()).expect("a string serializes")
    })
}

impl FindingRow {
    /// The finding as a value, for code that reads its fields.
    pub fn finding_value(&self) -> Value {
        serde_json::from_str(self.finding.get()).unwrap_or(Value::Null)
    }
}

fn json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Whether `claim` still holds its job's lease, inside a transaction.
fn holds(conn: &Connection, claim: &Claim) -> rusqlite::Result<bool> {
    let owner: Option<Option<String>> = conn
        .query_row(
            "SELECT owner FROM service_jobs WHERE name = ?1",
            [&claim.job],
            |r| r.get(0),
        )
        .optional()?;
    Ok(owner.flatten().as_deref() == Some(claim.worker.as_str()))
}

impl ServiceStore for ServiceDb {
    fn ensure_jobs(&self, jobs: &[(String, i64)]) -> Result<(), StoreError> {
        self.write(|conn| {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO service_jobs (name, due_us) VALUES (?1, ?2) \
                     ON CONFLICT (name) DO NOTHING",
                )?;
                for (name, due) in jobs {
                    insert.execute(params![name, due])?;
                }
            }
            tx.commit()
        })
    }

    fn claim_job(
        &self,
        worker: &str,
        now_us: i64,
        lease_us: i64,
    ) -> Result<Option<Claim>, StoreError> {
        // One statement: SQLite runs it under its write lock, so two workers never claim the
        // same row.
        self.write(|conn| {
            conn.query_row(
                "UPDATE service_jobs SET owner = ?1, lease_until_us = ?2 + ?3, claims = claims + 1 \
                 WHERE name = (SELECT name FROM service_jobs \
                               WHERE due_us <= ?2 AND (owner IS NULL OR lease_until_us < ?2) \
                               ORDER BY due_us, name LIMIT 1) \
                 RETURNING name, due_us, claims",
                params![worker, now_us, lease_us],
                |r| {
                    Ok(Claim {
                        job: r.get(0)?,
                        worker: worker.to_owned(),
                        due_us: r.get(1)?,
                        claims: r.get(2)?,
                    })
                },
            )
            .optional()
        })
    }

    fn renew_job(&self, claim: &Claim, until_us: i64) -> Result<bool, StoreError> {
        self.write(|conn| {
            conn.execute(
                "UPDATE service_jobs SET lease_until_us = ?3 WHERE name = ?1 AND owner = ?2",
                params![claim.job, claim.worker, until_us],
            )
            .map(|n| n == 1)
        })
    }

    fn finish_job(&self, claim: &Claim, next_due_us: i64) -> Result<bool, StoreError> {
        self.write(|conn| {
            conn.execute(
                "UPDATE service_jobs SET owner = NULL, lease_until_us = NULL, due_us = ?3 \
                 WHERE name = ?1 AND owner = ?2",
                params![claim.job, claim.worker, next_due_us],
            )
            .map(|n| n == 1)
        })
    }

    fn release_job(&self, claim: &Claim) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute(
                "UPDATE service_jobs SET owner = NULL, lease_until_us = NULL \
                 WHERE name = ?1 AND owner = ?2",
                params![claim.job, claim.worker],
            )
            .map(drop)
        })
    }

    fn run_now(&self, job: &str, now_us: i64) -> Result<bool, StoreError> {
        self.write(|conn| {
            conn.execute(
                "UPDATE service_jobs SET due_us = min(due_us, ?2) WHERE name = ?1",
                params![job, now_us],
            )
            .map(|n| n == 1)
        })
    }

    fn record_run(
        &self,
        claim: &Claim,
        run: &RunRecord,
        observed: Option<&[Observed]>,
        resolve_missing: bool,
        deliver: &dyn Fn(i64, &[Transition]) -> Vec<NewDelivery>,
    ) -> Result<Recorded, StoreError> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sql(e))?;
        if !holds(&tx, claim).map_err(|e| self.sql(e))? {
            return Err(StoreError::LeaseLost {
                path: self.path.clone(),
                job: claim.job.clone(),
            });
        }
        let recorded = (|| -> rusqlite::Result<Recorded> {
            tx.execute(
                "INSERT INTO service_runs (job, stack, environment, started_us, finished_us, \
                 outcome, open, new, changed, resolved, summary) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0, 0, ?7)",
                params![
                    run.job,
                    run.stack,
                    run.environment,
                    run.started_us,
                    run.finished_us,
                    run.outcome,
                    run.summary.to_string()
                ],
            )?;
            let run_id = tx.last_insert_rowid();
            let mut transitions = Vec::new();
            if let (Some(observed), Some(stack)) = (observed, &run.stack) {
                let environment = run.environment.clone().unwrap_or_default();
                transitions = move_findings(
                    &tx,
                    run_id,
                    run.finished_us,
                    stack,
                    &environment,
                    observed,
                    resolve_missing,
                )?;
            }
            let open: i64 = match &run.stack {
                Some(stack) => {
                    let success = (run.outcome != "error").then_some(run.finished_us);
                    let environment = run.environment.as_deref().unwrap_or("");
                    tx.execute(REFRESH_STACK, params![stack, environment, run_id, success])?;
                    tx.query_row(
                        "SELECT open FROM service_stacks WHERE stack = ?1",
                        [stack],
                        |r| r.get(0),
                    )?
                }
                None => 0,
            };
            let count = |c: Change| transitions.iter().filter(|t| t.change == c).count() as i64;
            tx.execute(
                "UPDATE service_runs SET open = ?2, new = ?3, changed = ?4, resolved = ?5 \
                 WHERE id = ?1",
                params![
                    run_id,
                    open,
                    count(Change::New),
                    count(Change::Changed),
                    count(Change::Resolved)
                ],
            )?;
            let mut deliveries = 0;
            if !transitions.is_empty() {
                let mut insert = tx.prepare(
                    "INSERT INTO service_deliveries (target, run, body, created_us, state, next_us) \
                     VALUES (?1, ?2, ?3, ?4, 'pending', ?4) ON CONFLICT (target, run) DO NOTHING",
                )?;
                for d in deliver(run_id, &transitions) {
                    deliveries += insert.execute(params![d.target, run_id, d.body, run.finished_us])?;
                }
            }
            tx.execute(
                "UPDATE service_jobs SET last_run = ?2 WHERE name = ?1",
                params![claim.job, run_id],
            )?;
            tx.execute(NEXT_GENERATION, [])?;
            Ok(Recorded {
                run_id,
                transitions,
                deliveries,
            })
        })()
        .map_err(|e| self.sql(e))?;
        tx.commit().map_err(|e| self.sql(e))?;
        Ok(recorded)
    }

    fn generation(&self) -> Result<i64, StoreError> {
        self.read(|conn| conn.prepare_cached(GENERATION)?.query_row([], |r| r.get(0)))
    }

    fn runs(&self, q: &RunQuery) -> Result<Vec<RunRow>, StoreError> {
        let (filter, params) = run_filter(q, sqlite_placeholder);
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM service_runs {filter}"))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), run_row)?;
            rows.collect()
        })
    }

    fn findings(&self, q: &FindingQuery) -> Result<Vec<FindingRow>, StoreError> {
        let (filter, params) = finding_filter(q, sqlite_placeholder);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {FINDING_COLUMNS} FROM service_findings {filter}"
            ))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), finding_row)?;
            rows.collect()
        })
    }

    fn finding(&self, id: i64) -> Result<Option<FindingRow>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {FINDING_COLUMNS} FROM service_findings WHERE id = ?1"),
                [id],
                finding_row,
            )
            .optional()
        })
    }

    fn acknowledge(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        now_us: i64,
    ) -> Result<bool, StoreError> {
        self.write(|conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                "UPDATE service_findings SET acked_by = ?2, acked_us = ?3, ack_note = ?4 \
                 WHERE id = ?1",
                params![id, by, now_us, note],
            )?;
            tx.execute(RECOUNT_ACKS, [id])?;
            tx.execute(NEXT_GENERATION, [])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn stacks(&self) -> Result<Vec<StackStatus>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(STACKS)?;
            let rows = stmt.query_map([], |r| {
                Ok(StackStatus {
                    stack: r.get(0)?,
                    environment: r.get(1)?,
                    open: r.get(2)?,
                    changed: r.get(3)?,
                    deleted: r.get(4)?,
                    unmanaged: r.get(5)?,
                    acknowledged: r.get(6)?,
                    last_success_us: r.get(7)?,
                    last_run: Some(run_row_at(r, 8)?),
                })
            })?;
            rows.collect()
        })
    }

    fn claim_delivery(
        &self,
        worker: &str,
        now_us: i64,
        lease_us: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        self.write(|conn| {
            conn.query_row(
                &format!(
                    "UPDATE service_deliveries SET owner = ?1, lease_until_us = ?2 + ?3, \
                     attempts = attempts + 1 \
                     WHERE id = (SELECT id FROM service_deliveries \
                                 WHERE state = 'pending' AND next_us <= ?2 \
                                   AND (owner IS NULL OR lease_until_us < ?2) \
                                 ORDER BY next_us, id LIMIT 1) \
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                params![worker, now_us, lease_us],
                delivery_row,
            )
            .optional()
        })
    }

    fn settle_delivery(&self, id: i64, worker: &str, how: &Settle) -> Result<(), StoreError> {
        self.write(|conn| {
            let (state, next, error, done): (&str, Option<i64>, Option<&str>, Option<i64>) =
                match how {
                    Settle::Delivered { at_us } => ("delivered", None, None, Some(*at_us)),
                    Settle::Retry { next_us, error } => {
                        ("pending", Some(*next_us), Some(error), None)
                    }
                    Settle::Dead { at_us, error } => ("dead", None, Some(error), Some(*at_us)),
                };
            conn.execute(
                "UPDATE service_deliveries SET state = ?3, next_us = coalesce(?4, next_us), \
                 last_error = coalesce(?5, last_error), done_us = ?6, owner = NULL, \
                 lease_until_us = NULL \
                 WHERE id = ?1 AND owner = ?2",
                params![id, worker, state, next, error, done],
            )
            .map(drop)
        })
    }

    fn deliveries(
        &self,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM service_deliveries \
                 WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![state, limit as i64], delivery_row)?;
            rows.collect()
        })
    }
}

/// Move the stack's findings for what a run saw; the transitions, in address order.
fn move_findings(
    tx: &Connection,
    run_id: i64,
    now_us: i64,
    stack: &str,
    environment: &str,
    observed: &[Observed],
    resolve_missing: bool,
) -> rusqlite::Result<Vec<Transition>> {
    let mut transitions = Vec::new();
    let mut seen = HashSet::new();
    let mut find = tx.prepare_cached(
        "SELECT id, state, fingerprint FROM service_findings \
         WHERE stack = ?1 AND address = ?2 AND kind = ?3",
    )?;
    for o in observed {
        let finding = o.finding.to_string();
        let known: Option<(i64, String, String)> = find
            .query_row(params![stack, o.address, o.kind], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let sighting = Sighting::of(
            known.as_ref().map(|(_, s, f)| (s.as_str(), f.as_str())),
            &o.fingerprint,
        );
        let id = match (sighting, known) {
            (_, None) => tx.query_row(
                finding_sql::INSERT,
                params![
                    stack,
                    environment,
                    o.address,
                    o.kind,
                    o.fingerprint,
                    now_us,
                    run_id,
                    finding
                ],
                |r| r.get(0),
            )?,
            (Sighting::Back, Some((id, ..))) => {
                tx.execute(
                    finding_sql::REOPEN,
                    params![id, o.fingerprint, now_us, run_id, finding, environment],
                )?;
                id
            }
            (Sighting::Changed, Some((id, ..))) => {
                tx.execute(
                    finding_sql::CHANGE,
                    params![id, o.fingerprint, now_us, run_id, finding],
                )?;
                id
            }
            (_, Some((id, ..))) => {
                tx.execute(finding_sql::SEEN, params![id, now_us, run_id, finding])?;
                id
            }
        };
        let change = sighting.change();
        seen.insert(id);
        if let Some(change) = change {
            transitions.push(Transition {
                change,
                finding_id: id,
                stack: stack.to_owned(),
                environment: environment.to_owned(),
                address: o.address.clone(),
                kind: o.kind.clone(),
                finding: o.finding.clone(),
            });
        }
    }
    if resolve_missing {
        let mut open = tx.prepare_cached(
            "SELECT id, address, kind, finding FROM service_findings \
             WHERE stack = ?1 AND state = 'open' ORDER BY id",
        )?;
        let gone: Vec<(i64, String, String, String)> = open
            .query_map([stack], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .filter(|r| r.as_ref().map_or(true, |(id, ..)| !seen.contains(id)))
            .collect::<rusqlite::Result<_>>()?;
        for (id, address, kind, finding) in gone {
            tx.execute(finding_sql::RESOLVE, params![id, now_us, run_id])?;
            transitions.push(Transition {
                change: Change::Resolved,
                finding_id: id,
                stack: stack.to_owned(),
                environment: environment.to_owned(),
                address,
                kind,
                finding: json(finding),
            });
        }
    }
    transitions.sort_by(|a, b| (&a.address, &a.kind).cmp(&(&b.address, &b.kind)));
    Ok(transitions)
}

#[doc(hidden)]
pub mod conformance;

#[cfg(test)]
mod tests {
    /// The conformance suite, each case on a fresh SQLite store.
    #[test]
    fn the_sqlite_store_conforms() {
        for (name, case) in super::conformance::cases() {
            let dir = tempfile::tempdir().unwrap();
            let db = super::ServiceDb::open(&dir.path().join("events.db")).unwrap();
            eprintln!("case {name}");
            case(&db);
        }
    }
}
