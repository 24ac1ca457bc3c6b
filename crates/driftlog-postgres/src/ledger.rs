//! The ledger's rows in PostgreSQL: [`driftlog_ledger::Ledger`] keeps the logic (entries,
//! verification, checkpoints), this only keeps rows, durably and in order, beside the events
//! they commit to. Appends from several processes take turns under a table lock, so indexes
//! never collide and the log never forks.

use crate::pool::{describe, redact, Pool, PoolError};
use driftlog_ledger::merkle::Hash;
use driftlog_ledger::storage::{Row, Storage, Visit};
use driftlog_ledger::{Entry, LedgerError};
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A ledger's rows in PostgreSQL.
pub struct PgLedger {
    pool: Arc<Pool>,
}

fn hash(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    if bytes.len() == 32 {
        h.copy_from_slice(bytes);
    }
    h
}

fn ledger_error(shown: &Path, e: PoolError) -> LedgerError {
    LedgerError::Database {
        location: shown.into(),
        message: match e {
            PoolError::Database(e) => describe(&e),
            PoolError::TooNew { found, known } => format!(
                "schema version {found} is newer than this driftlog understands ({known}); upgrade driftlog"
            ),
        },
    }
}

impl PgLedger {
    /// Connect (a `postgres://` URL) and migrate.
    pub fn connect(url: &str) -> Result<Self, LedgerError> {
        let pool = Pool::shared(url).map_err(|e| ledger_error(&PathBuf::from(redact(url)), e))?;
        Ok(Self { pool })
    }

    /// Run `f` on a pooled connection; `f` may fail with the ledger's own error too.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<Result<T, LedgerError>, postgres::Error>,
    ) -> Result<T, LedgerError> {
        self.pool
            .with(f)
            .map_err(|e| ledger_error(&self.pool.shown, PoolError::Database(e)))?
    }
}

impl Storage for PgLedger {
    fn location(&self) -> &Path {
        &self.pool.shown
    }

    fn len(&self) -> Result<u64, LedgerError> {
        self.with(|c| {
            let n: i64 = c
                .query_one("SELECT coalesce(max(idx) + 1, 0) FROM ledger_entries", &[])?
                .get(0);
            Ok(Ok(n as u64))
        })
    }

    fn append(
        &mut self,
        make: &mut dyn FnMut(u64) -> Result<Vec<Row>, LedgerError>,
    ) -> Result<Vec<u64>, LedgerError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            // Readers go on; another append waits for this one's commit.
            tx.batch_execute("LOCK TABLE ledger_entries IN EXCLUSIVE MODE")?;
            let first: i64 = tx
                .query_one("SELECT coalesce(max(idx) + 1, 0) FROM ledger_entries", &[])?
                .get(0);
            let rows = match make(first as u64) {
                Ok(rows) => rows,
                // Dropping the transaction rolls it back.
                Err(e) => return Ok(Err(e)),
            };
            let insert = tx.prepare(
                "INSERT INTO ledger_entries (idx, kind, body, leaf) VALUES ($1, $2, $3, $4)",
            )?;
            let mut indexes = Vec::with_capacity(rows.len());
            for (i, (kind, body, leaf)) in rows.iter().enumerate() {
                let idx = first + i as i64;
                tx.execute(&insert, &[&idx, kind, body, &leaf.as_slice()])?;
                indexes.push(idx as u64);
            }
            tx.commit()?;
            Ok(Ok(indexes))
        })
    }

    fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>, LedgerError> {
        let (from, to) = (
            from.min(i64::MAX as u64) as i64,
            to.min(i64::MAX as u64) as i64,
        );
        self.with(|c| {
            let rows = c.query(
                "SELECT idx, kind, body, leaf FROM ledger_entries \
                 WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&from, &to],
            )?;
            Ok(Ok(rows
                .iter()
                .map(|r| Entry {
                    index: r.get::<_, i64>(0) as u64,
                    kind: r.get(1),
                    body: r.get(2),
                    leaf: hash(r.get(3)),
                })
                .collect()))
        })
    }

    fn for_each(&self, f: &mut Visit<'_>) -> Result<(), LedgerError> {
        self.with(|c| {
            let mut rows = c.query_raw(
                "SELECT idx, body, leaf FROM ledger_entries ORDER BY idx",
                std::iter::empty::<i64>(),
            )?;
            while let Some(r) = rows.next()? {
                let idx = r.get::<_, i64>(0) as u64;
                if let Err(e) = f(idx, r.get(1), &hash(r.get(2))) {
                    return Ok(Err(e));
                }
            }
            Ok(Ok(()))
        })
    }

    fn for_each_leaf(&self, f: &mut dyn FnMut(Hash)) -> Result<(), LedgerError> {
        self.with(|c| {
            let mut rows = c.query_raw(
                "SELECT leaf FROM ledger_entries ORDER BY idx",
                std::iter::empty::<i64>(),
            )?;
            while let Some(r) = rows.next()? {
                f(hash(r.get(0)));
            }
            Ok(Ok(()))
        })
    }

    fn leaf(&self, index: u64) -> Result<Option<Hash>, LedgerError> {
        let index = index.min(i64::MAX as u64) as i64;
        self.with(|c| {
            let leaf: Option<Vec<u8>> = c
                .query_opt("SELECT leaf FROM ledger_entries WHERE idx = $1", &[&index])?
                .map(|r| r.get(0));
            Ok(Ok(leaf.filter(|l| l.len() == 32).map(|l| hash(&l))))
        })
    }

    fn nodes(&self, level: u8, from: u64, to: u64) -> Result<Vec<Hash>, LedgerError> {
        let (from, to) = (
            from.min(i64::MAX as u64) as i64,
            to.min(i64::MAX as u64) as i64,
        );
        self.with(|c| {
            let rows = if level == 0 {
                c.query(
                    "SELECT idx, leaf FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                    &[&from, &to],
                )?
            } else {
                c.query(
                    "SELECT idx, hash FROM ledger_nodes \
                     WHERE level = $3 AND idx >= $1 AND idx < $2 ORDER BY idx",
                    &[&from, &to, &(level as i16)],
                )?
            };
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                if r.get::<_, i64>(0) != from + out.len() as i64 {
                    break;
                }
                out.push(hash(r.get(1)));
            }
            Ok(Ok(out))
        })
    }

    fn node_count(&self, level: u8) -> Result<u64, LedgerError> {
        self.with(|c| {
            let n: i64 = c
                .query_one(
                    "SELECT coalesce(max(idx) + 1, 0) FROM ledger_nodes WHERE level = $1",
                    &[&(level as i16)],
                )?
                .get(0);
            Ok(Ok(n as u64))
        })
    }

    fn put_nodes(&mut self, level: u8, first: u64, hashes: &[Hash]) -> Result<(), LedgerError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let insert = tx.prepare(
                "INSERT INTO ledger_nodes (level, idx, hash) VALUES ($1, $2, $3) \
                 ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
            )?;
            for (i, h) in hashes.iter().enumerate() {
                let idx = (first + i as u64) as i64;
                tx.execute(&insert, &[&(level as i16), &idx, &h.as_slice()])?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
    }

    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), LedgerError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO ledger_checkpoints (size, note) VALUES ($1, $2) \
                 ON CONFLICT (size) DO UPDATE SET note = excluded.note",
                &[&(size as i64), &note],
            )?;
            Ok(Ok(()))
        })
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError> {
        self.with(|c| {
            let rows = c.query(
                "SELECT size, note FROM ledger_checkpoints ORDER BY size",
                &[],
            )?;
            Ok(Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
                .collect()))
        })
    }
}
