//! The service's history in PostgreSQL: jobs, runs, findings and the alert outbox.

use crate::pool::{describe, redact, Pool, PoolError};
use driftlog_store::service::{
    dollar_placeholders, finding_filter, finding_sql, run_filter, Acknowledgement, Change, Claim,
    DeliveryRow, FindingQuery, FindingRow, NewDelivery, Observed, Param, Recorded, RunQuery,
    RunRecord, RunRow, ServiceStore, Settle, Sighting, StackStatus, Transition, GENERATION,
    NEXT_GENERATION, RECOUNT_ACKS, REFRESH_STACK, STACKS,
};
use driftlog_store::StoreError;
use postgres::types::ToSql;
use postgres::{Client, Row, Transaction};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Claims commit without waiting for the WAL flush. Losing one in a server crash is harmless:
/// the job looks unclaimed, another worker may run it, and only the worker the row names can
/// record a run (`record_run` commits synchronously and checks the owner under a row lock).
const ASYNC_COMMIT: &str = "SET LOCAL synchronous_commit TO OFF";

/// The service's history in PostgreSQL.
pub struct PgServiceStore {
    pool: Arc<Pool>,
}

/// A pool's error as the store reports it.
pub(crate) fn store_error(shown: &Path, e: PoolError) -> StoreError {
    match e {
        PoolError::Database(e) => StoreError::Database {
            location: shown.into(),
            message: describe(&e),
        },
        PoolError::TooNew { found, known } => StoreError::TooNew {
            path: shown.into(),
            found,
            known,
        },
    }
}

impl PgServiceStore {
    /// Connect (a `postgres://` URL or a libpq key=value string) and migrate.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Pool::shared(url).map_err(|e| store_error(&PathBuf::from(redact(url)), e))?;
        Ok(Self { pool })
    }

    /// Run `f` on a pooled connection.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StoreError> {
        with_store(&self.pool, f)
    }
}

/// Run `f` on one of `pool`'s connections, its error as the store reports it.
pub(crate) fn with_store<T>(
    pool: &Pool,
    f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
) -> Result<T, StoreError> {
    pool.with(f)
        .map_err(|e| store_error(&pool.shown, PoolError::Database(e)))
}
fn placeholder(n: usize) -> String {
    format!("${n}")
}

/// A listing's parameters as the driver takes them.
fn bind(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(s) => s as &(dyn ToSql + Sync),
            Param::Int(i) => i as &(dyn ToSql + Sync),
        })
        .collect()
}

const RUN_COLUMNS: &str = "id, job, stack, environment, started_us, finished_us, outcome, open, \
                           new, changed, resolved, summary";

fn run_row(r: &Row) -> RunRow {
    run_row_at(r, 0)
}

/// A run from the row's columns `at..`, in `RUN_COLUMNS` order.
fn run_row_at(r: &Row, at: usize) -> RunRow {
    RunRow {
        id: r.get(at),
        job: r.get(at + 1),
        stack: r.get(at + 2),
        environment: r.get(at + 3),
        started_us: r.get(at + 4),
        finished_us: r.get(at + 5),
        outcome: r.get(at + 6),
        open: r.get(at + 7),
        new: r.get(at + 8),
        changed: r.get(at + 9),
        resolved: r.get(at + 10),
        summary: r.get(at + 11),
    }
}

const FINDING_COLUMNS: &str = "id, stack, environment, address, kind, state, first_seen_us, \
    last_seen_us, changed_us, resolved_us, first_run, last_run, acked_by, acked_us, ack_note, \
    finding::text";

fn finding_row(r: &Row) -> FindingRow {
    let by: Option<String> = r.get(12);
    FindingRow {
        id: r.get(0),
        stack: r.get(1),
        environment: r.get(2),
        address: r.get(3),
        kind: r.get(4),
        state: r.get(5),
        first_seen_us: r.get(6),
        last_seen_us: r.get(7),
        changed_us: r.get(8),
        resolved_us: r.get(9),
        first_run: r.get(10),
        last_run: r.get(11),
        acknowledged: by.map(|by| Acknowledgement {
            by,
            at_us: r.get::<_, Option<i64>>(13).unwrap_or(0),
            note: r.get(14),
        }),
        finding: serde_json::value::RawValue::from_string(r.get(15))
            .expect("PostgreSQL's JSONB text is JSON"),
    }
}

const DELIVERY_COLUMNS: &str =
    "id, target, run, body, created_us, state, attempts, next_us, last_error, done_us";

fn delivery_row(r: &Row) -> DeliveryRow {
    DeliveryRow {
        id: r.get(0),
        target: r.get(1),
        run: r.get(2),
        body: r.get(3),
        created_us: r.get(4),
        state: r.get(5),
        attempts: r.get(6),
        next_us: r.get(7),
        last_error: r.get(8),
        done_us: r.get(9),
    }
}

impl ServiceStore for PgServiceStore {
    fn ensure_jobs(&self, jobs: &[(String, i64)]) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let insert = tx.prepare(
                "INSERT INTO service_jobs (name, due_us) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )?;
            for (name, due) in jobs {
                tx.execute(&insert, &[name, due])?;
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
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute(ASYNC_COMMIT)?;
            let row = tx.query_opt(
                "UPDATE service_jobs SET owner = $1, lease_until_us = $2 + $3, claims = claims + 1 \
                 WHERE name = (SELECT name FROM service_jobs \
                               WHERE due_us <= $2 AND (owner IS NULL OR lease_until_us < $2) \
                               ORDER BY due_us, name LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING name, due_us, claims",
                &[&worker, &now_us, &lease_us],
            )?;
            tx.commit()?;
            Ok(row.map(|r| Claim {
                job: r.get(0),
                worker: worker.to_owned(),
                due_us: r.get(1),
                claims: r.get(2),
            }))
        })
    }

    fn renew_job(&self, claim: &Claim, until_us: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE service_jobs SET lease_until_us = $3 WHERE name = $1 AND owner = $2",
                &[&claim.job, &claim.worker, &until_us],
            )
            .map(|n| n == 1)
        })
    }

    fn finish_job(&self, claim: &Claim, next_due_us: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE service_jobs SET owner = NULL, lease_until_us = NULL, due_us = $3 \
                 WHERE name = $1 AND owner = $2",
                &[&claim.job, &claim.worker, &next_due_us],
            )
            .map(|n| n == 1)
        })
    }

    fn release_job(&self, claim: &Claim) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE service_jobs SET owner = NULL, lease_until_us = NULL \
                 WHERE name = $1 AND owner = $2",
                &[&claim.job, &claim.worker],
            )
            .map(drop)
        })
    }

    fn run_now(&self, job: &str, now_us: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE service_jobs SET due_us = least(due_us, $2) WHERE name = $1",
                &[&job, &now_us],
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
        let mut lost = false;
        let recorded = self.with(|c| {
            let mut tx = c.transaction()?;
            // The job's row stays locked until the commit: no takeover in between.
            let owner: Option<String> = tx
                .query_opt(
                    "SELECT owner FROM service_jobs WHERE name = $1 FOR UPDATE",
                    &[&claim.job],
                )?
                .and_then(|r| r.get(0));
            if owner.as_deref() != Some(claim.worker.as_str()) {
                lost = true;
                return Ok(None);
            }
            let run_id: i64 = tx
                .query_one(
                    "INSERT INTO service_runs (job, stack, environment, started_us, finished_us, \
                     outcome, open, new, changed, resolved, summary) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, 0, $7) RETURNING id",
                    &[
                        &run.job,
                        &run.stack,
                        &run.environment,
                        &run.started_us,
                        &run.finished_us,
                        &run.outcome,
                        &run.summary,
                    ],
                )?
                .get(0);
            let mut transitions = Vec::new();
            if let (Some(observed), Some(stack)) = (observed, &run.stack) {
                let environment = run.environment.clone().unwrap_or_default();
                transitions = move_findings(
                    &mut tx,
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
                    let environment = run.environment.clone().unwrap_or_default();
                    tx.execute(
                        &dollar_placeholders(REFRESH_STACK),
                        &[stack, &environment, &run_id, &success],
                    )?;
                    tx.query_one("SELECT open FROM service_stacks WHERE stack = $1", &[stack])?
                        .get(0)
                }
                None => 0,
            };
            let count = |c: Change| transitions.iter().filter(|t| t.change == c).count() as i64;
            tx.execute(
                "UPDATE service_runs SET open = $2, new = $3, changed = $4, resolved = $5 WHERE id = $1",
                &[
                    &run_id,
                    &open,
                    &count(Change::New),
                    &count(Change::Changed),
                    &count(Change::Resolved),
                ],
            )?;
            let mut deliveries = 0;
            if !transitions.is_empty() {
                let insert = tx.prepare(
                    "INSERT INTO service_deliveries (target, run, body, created_us, state, next_us) \
                     VALUES ($1, $2, $3, $4, 'pending', $4) ON CONFLICT (target, run) DO NOTHING",
                )?;
                for d in deliver(run_id, &transitions) {
                    deliveries += tx.execute(&insert, &[&d.target, &run_id, &d.body, &run.finished_us])?
                        as usize;
                }
            }
            tx.execute(
                "UPDATE service_jobs SET last_run = $2 WHERE name = $1",
                &[&claim.job, &run_id],
            )?;
            // Last, as in every transaction that takes the generation's row: no lock cycles.
            tx.execute(NEXT_GENERATION, &[])?;
            tx.commit()?;
            Ok(Some(Recorded {
                run_id,
                transitions,
                deliveries,
            }))
        })?;
        match recorded {
            Some(r) => Ok(r),
            None if lost => Err(StoreError::LeaseLost {
                path: self.pool.shown.clone(),
                job: claim.job.clone(),
            }),
            None => unreachable!("a run is either recorded or its lease was lost"),
        }
    }

    fn generation(&self) -> Result<i64, StoreError> {
        self.with(|c| Ok(c.query_one(GENERATION, &[])?.get(0)))
    }

    fn runs(&self, q: &RunQuery) -> Result<Vec<RunRow>, StoreError> {
        let (filter, params) = run_filter(q, placeholder);
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {RUN_COLUMNS} FROM service_runs {filter}"),
                &bind(&params),
            )?;
            Ok(rows.iter().map(run_row).collect())
        })
    }

    fn findings(&self, q: &FindingQuery) -> Result<Vec<FindingRow>, StoreError> {
        let (filter, params) = finding_filter(q, placeholder);
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {FINDING_COLUMNS} FROM service_findings {filter}"),
                &bind(&params),
            )?;
            Ok(rows.iter().map(finding_row).collect())
        })
    }

    fn finding(&self, id: i64) -> Result<Option<FindingRow>, StoreError> {
        self.with(|c| {
            let row = c.query_opt(
                &format!("SELECT {FINDING_COLUMNS} FROM service_findings WHERE id = $1"),
                &[&id],
            )?;
            Ok(row.as_ref().map(finding_row))
        })
    }

    fn acknowledge(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        now_us: i64,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE service_findings SET acked_by = $2, acked_us = $3, ack_note = $4 WHERE id = $1",
                &[&id, &by, &now_us, &note],
            )?;
            tx.execute(&dollar_placeholders(RECOUNT_ACKS), &[&id])?;
            tx.execute(NEXT_GENERATION, &[])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn stacks(&self) -> Result<Vec<StackStatus>, StoreError> {
        self.with(|c| {
            Ok(c.query(STACKS, &[])?
                .iter()
                .map(|r| StackStatus {
                    stack: r.get(0),
                    environment: r.get(1),
                    open: r.get(2),
                    changed: r.get(3),
                    deleted: r.get(4),
                    unmanaged: r.get(5),
                    acknowledged: r.get(6),
                    last_success_us: r.get(7),
                    last_run: Some(run_row_at(r, 8)),
                })
                .collect())
        })
    }

    fn claim_delivery(
        &self,
        worker: &str,
        now_us: i64,
        lease_us: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.batch_execute(ASYNC_COMMIT)?;
            let row = tx.query_opt(
                &format!(
                    "UPDATE service_deliveries SET owner = $1, lease_until_us = $2 + $3, \
                     attempts = attempts + 1 \
                     WHERE id = (SELECT id FROM service_deliveries \
                                 WHERE state = 'pending' AND next_us <= $2 \
                                   AND (owner IS NULL OR lease_until_us < $2) \
                                 ORDER BY next_us, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&worker, &now_us, &lease_us],
            )?;
            tx.commit()?;
            Ok(row.as_ref().map(delivery_row))
        })
    }

    fn settle_delivery(&self, id: i64, worker: &str, how: &Settle) -> Result<(), StoreError> {
        let (state, next, error, done): (&str, Option<i64>, Option<&str>, Option<i64>) = match how {
            Settle::Delivered { at_us } => ("delivered", None, None, Some(*at_us)),
            Settle::Retry { next_us, error } => ("pending", Some(*next_us), Some(error), None),
            Settle::Dead { at_us, error } => ("dead", None, Some(error), Some(*at_us)),
        };
        self.with(|c| {
            c.execute(
                "UPDATE service_deliveries SET state = $3, next_us = coalesce($4, next_us), \
                 last_error = coalesce($5, last_error), done_us = $6, owner = NULL, \
                 lease_until_us = NULL WHERE id = $1 AND owner = $2",
                &[&id, &worker, &state, &next, &error, &done],
            )
            .map(drop)
        })
    }

    fn deliveries(
        &self,
        state: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM service_deliveries \
                     WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT $2"
                ),
                &[&state, &(limit as i64)],
            )?;
            Ok(rows.iter().map(delivery_row).collect())
        })
    }
}

/// Rows per batched statement of [`move_findings`].
const BATCH: usize = 5_000;

/// Move the stack's findings for what a run saw (the same rules as the SQLite store; the
/// conformance suite holds both to them). The stack's rows are read once, locked.
fn move_findings(
    tx: &mut Transaction,
    run_id: i64,
    now_us: i64,
    stack: &str,
    environment: &str,
    observed: &[Observed],
    resolve_missing: bool,
) -> Result<Vec<Transition>, postgres::Error> {
    let mut known: HashMap<(String, String), (i64, String, String, Value)> = tx
        .query(
            "SELECT id, address, kind, state, fingerprint, finding FROM service_findings \
             WHERE stack = $1 FOR UPDATE",
            &[&stack],
        )?
        .iter()
        .map(|r| {
            (
                (r.get(1), r.get(2)),
                (r.get(0), r.get(3), r.get(4), r.get(5)),
            )
        })
        .collect();
    let reopen = tx.prepare(&dollar_placeholders(finding_sql::REOPEN))?;
    let change = tx.prepare(&dollar_placeholders(finding_sql::CHANGE))?;
    let mut transitions = Vec::new();
    // The two kinds a large stack has by the thousand go in batches: findings seen for the
    // first time (a stack's first run) and findings seen again unchanged (every run).
    let mut fresh: Vec<&Observed> = Vec::new();
    let mut seen: Vec<(i64, &Value)> = Vec::new();
    for o in observed {
        let known = known.remove(&(o.address.clone(), o.kind.clone()));
        let sighting = Sighting::of(
            known.as_ref().map(|(_, s, f, _)| (s.as_str(), f.as_str())),
            &o.fingerprint,
        );
        let id: i64 = match (sighting, known) {
            (_, None) => {
                fresh.push(o);
                continue;
            }
            (Sighting::Back, Some((id, ..))) => {
                tx.execute(
                    &reopen,
                    &[
                        &id,
                        &o.fingerprint,
                        &now_us,
                        &run_id,
                        &o.finding,
                        &environment,
                    ],
                )?;
                id
            }
            (Sighting::Changed, Some((id, ..))) => {
                tx.execute(
                    &change,
                    &[&id, &o.fingerprint, &now_us, &run_id, &o.finding],
                )?;
                id
            }
            (_, Some((id, ..))) => {
                seen.push((id, &o.finding));
                id
            }
        };
        let moved = sighting.change().map(|c| (id, c));
        if let Some((id, change)) = moved {
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
    for chunk in seen.chunks(BATCH) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let findings: Vec<&Value> = chunk.iter().map(|(_, f)| *f).collect();
        tx.execute(
            "UPDATE service_findings SET last_seen_us = $1, last_run = $2, finding = t.finding \
             FROM unnest($3::int8[], $4::jsonb[]) AS t(id, finding) \
             WHERE service_findings.id = t.id",
            &[&now_us, &run_id, &ids, &findings],
        )?;
    }
    for chunk in fresh.chunks(BATCH) {
        let addresses: Vec<&str> = chunk.iter().map(|o| o.address.as_str()).collect();
        let kinds: Vec<&str> = chunk.iter().map(|o| o.kind.as_str()).collect();
        let fingerprints: Vec<&str> = chunk.iter().map(|o| o.fingerprint.as_str()).collect();
        let findings: Vec<&Value> = chunk.iter().map(|o| &o.finding).collect();
        let ids: HashMap<(String, String), i64> = tx
            .query(
                "INSERT INTO service_findings (stack, environment, address, kind, fingerprint, \
                 state, first_seen_us, last_seen_us, changed_us, first_run, last_run, finding) \
                 SELECT $1, $2, t.address, t.kind, t.fingerprint, 'open', $3, $3, $3, $4, $4, \
                        t.finding \
                 FROM unnest($5::text[], $6::text[], $7::text[], $8::jsonb[]) \
                      AS t(address, kind, fingerprint, finding) \
                 RETURNING id, address, kind",
                &[
                    &stack,
                    &environment,
                    &now_us,
                    &run_id,
                    &addresses,
                    &kinds,
                    &fingerprints,
                    &findings,
                ],
            )?
            .iter()
            .map(|r| ((r.get(1), r.get(2)), r.get(0)))
            .collect();
        for o in chunk {
            let Some(&id) = ids.get(&(o.address.clone(), o.kind.clone())) else {
                continue;
            };
            transitions.push(Transition {
                change: Change::New,
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
        let resolve = tx.prepare(&dollar_placeholders(finding_sql::RESOLVE))?;
        let mut gone: Vec<_> = known
            .into_iter()
            .filter(|(_, (_, state, _, _))| state == "open")
            .collect();
        gone.sort_by_key(|(_, (id, ..))| *id);
        for ((address, kind), (id, _, _, finding)) in gone {
            tx.execute(&resolve, &[&id, &now_us, &run_id])?;
            transitions.push(Transition {
                change: Change::Resolved,
                finding_id: id,
                stack: stack.to_owned(),
                environment: environment.to_owned(),
                address,
                kind,
                finding,
            });
        }
    }
    transitions.sort_by(|a, b| (&a.address, &a.kind).cmp(&(&b.address, &b.kind)));
    Ok(transitions)
}
