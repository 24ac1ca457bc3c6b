//! Where the log's entries and checkpoints are kept. [`crate::Ledger`] holds the logic (what an
//! entry is, verification, checkpoints); a [`Storage`] only keeps rows, durably and in order.
//! SQLite ([`SqliteStorage`]) is the embedded default; a team store (PostgreSQL) implements
//! the same trait.

use crate::log::{Entry, LedgerError};
use crate::merkle::Hash;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// One row to append: kind, canonical bytes, leaf hash.
pub type Row = (String, Vec<u8>, Hash);

/// Called with each stored entry's index, bytes and recorded leaf.
pub type Visit<'a> = dyn FnMut(u64, &[u8], &Hash) -> Result<(), LedgerError> + 'a;

/// The rows of a log, in index order.
pub trait Storage: Send {
    /// Where the log is, for messages.
    fn location(&self) -> &Path;
    /// The number of entries: one more than the highest index stored.
    fn len(&self) -> Result<u64, LedgerError>;
    fn is_empty(&self) -> Result<bool, LedgerError> {
        Ok(self.len()? == 0)
    }
    /// Append the rows `make` builds given the first index they will have, in one durable
    /// transaction (on disk when this returns). Returns their indexes.
    fn append(
        &mut self,
        make: &mut dyn FnMut(u64) -> Result<Vec<Row>, LedgerError>,
    ) -> Result<Vec<u64>, LedgerError>;
    /// Stored entries with `from <= index < to`, in index order (gaps are possible in a
    /// damaged log).
    fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>, LedgerError>;
    /// Every stored entry's index, bytes and recorded leaf, in index order, streamed and
    /// borrowed: the log may hold millions.
    fn for_each(&self, f: &mut Visit<'_>) -> Result<(), LedgerError>;
    /// Every stored leaf hash in index order, without the entries' bytes (checkpoints and
    /// proofs need only these).
    fn for_each_leaf(&self, f: &mut dyn FnMut(Hash)) -> Result<(), LedgerError>;
    fn leaf(&self, index: u64) -> Result<Option<Hash>, LedgerError>;
    /// Stored level-`level` nodes (see [`crate::tiles`]; level 0: the leaf hashes) from index
    /// `from` on, below `to`, up to the first one not stored.
    fn nodes(&self, level: u8, from: u64, to: u64) -> Result<Vec<Hash>, LedgerError>;
    /// How many level-`level` (≥ 1) nodes are stored: they are stored in order, from 0.
    fn node_count(&self, level: u8) -> Result<u64, LedgerError>;
    /// Store level-`level` (≥ 1) nodes from index `first` on.
    fn put_nodes(&mut self, level: u8, first: u64, hashes: &[Hash]) -> Result<(), LedgerError>;
    /// Keep a signed checkpoint of the log at `size` entries.
    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), LedgerError>;
    /// Stored checkpoints, smallest first.
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError>;
}

/// The log in a SQLite file of its own, written with `synchronous = FULL`.
pub struct SqliteStorage {
    conn: Connection,
    path: PathBuf,
}

fn hash(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    if bytes.len() == 32 {
        h.copy_from_slice(bytes);
    }
    h
}

impl SqliteStorage {
    /// Open (creating it if needed).
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| LedgerError::Io {
                path: parent.into(),
                source,
            })?;
        }
        let sql = |source| LedgerError::Sql {
            path: path.into(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        // FULL: an append is on disk when it returns, so nothing is ever signed over an entry a
        // power cut could take back.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 10000;
             CREATE TABLE IF NOT EXISTS entries (
                 idx  INTEGER PRIMARY KEY,
                 kind TEXT NOT NULL,
                 body BLOB NOT NULL,
                 leaf BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS checkpoints (
                 size INTEGER PRIMARY KEY,
                 note TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS nodes (
                 level INTEGER NOT NULL,
                 idx   INTEGER NOT NULL,
                 hash  BLOB NOT NULL,
                 PRIMARY KEY (level, idx)
             ) WITHOUT ROWID;",
        )
        .map_err(sql)?;
        Ok(Self {
            conn,
            path: path.into(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError::Sql {
            path: self.path.clone(),
            source,
        }
    }
}

impl Storage for SqliteStorage {
    fn location(&self) -> &Path {
        &self.path
    }

    fn len(&self) -> Result<u64, LedgerError> {
        self.conn
            .query_row("SELECT coalesce(max(idx) + 1, 0) FROM entries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    fn append(
        &mut self,
        make: &mut dyn FnMut(u64) -> Result<Vec<Row>, LedgerError>,
    ) -> Result<Vec<u64>, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let first: i64 = tx
            .query_row("SELECT coalesce(max(idx) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        let rows = make(first as u64)?;
        let mut indexes = Vec::with_capacity(rows.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO entries (idx, kind, body, leaf) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql)?;
            for (i, (kind, body, leaf)) in rows.iter().enumerate() {
                let idx = first + i as i64;
                insert
                    .execute(params![idx, kind, body, &leaf[..]])
                    .map_err(sql)?;
                indexes.push(idx as u64);
            }
        }
        tx.commit().map_err(sql)?;
        Ok(indexes)
    }

    fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, kind, body, leaf FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(
                params![
                    from.min(i64::MAX as u64) as i64,
                    to.min(i64::MAX as u64) as i64
                ],
                |r| {
                    Ok(Entry {
                        index: r.get::<_, i64>(0)? as u64,
                        kind: r.get(1)?,
                        body: r.get(2)?,
                        leaf: hash(&r.get::<_, Vec<u8>>(3)?),
                    })
                },
            )
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    fn for_each(&self, f: &mut Visit<'_>) -> Result<(), LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, body, leaf FROM entries ORDER BY idx")
            .map_err(|e| self.sql(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql(e))?;
        while let Some(r) = rows.next().map_err(|e| self.sql(e))? {
            let idx = r.get::<_, i64>(0).map_err(|e| self.sql(e))? as u64;
            let bytes = |i| -> Result<&[u8], LedgerError> {
                Ok(match r.get_ref(i).map_err(|e| self.sql(e))? {
                    ValueRef::Blob(b) | ValueRef::Text(b) => b,
                    _ => &[],
                })
            };
            let leaf = hash(bytes(2)?);
            f(idx, bytes(1)?, &leaf)?;
        }
        Ok(())
    }

    fn for_each_leaf(&self, f: &mut dyn FnMut(Hash)) -> Result<(), LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT leaf FROM entries ORDER BY idx")
            .map_err(|e| self.sql(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql(e))?;
        while let Some(r) = rows.next().map_err(|e| self.sql(e))? {
            f(hash(&r.get::<_, Vec<u8>>(0).map_err(|e| self.sql(e))?));
        }
        Ok(())
    }

    fn leaf(&self, index: u64) -> Result<Option<Hash>, LedgerError> {
        let leaf: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT leaf FROM entries WHERE idx = ?1",
                [index.min(i64::MAX as u64) as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(leaf.filter(|l| l.len() == 32).map(|l| hash(&l)))
    }

    fn nodes(&self, level: u8, from: u64, to: u64) -> Result<Vec<Hash>, LedgerError> {
        let (from, to) = (
            from.min(i64::MAX as u64) as i64,
            to.min(i64::MAX as u64) as i64,
        );
        let mut stmt = if level == 0 {
            self.conn
                .prepare_cached("SELECT idx, leaf FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
        } else {
            self.conn.prepare_cached(
                "SELECT idx, hash FROM nodes WHERE level = ?3 AND idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
        }
        .map_err(|e| self.sql(e))?;
        let bind: &[&dyn rusqlite::ToSql] = if level == 0 {
            &[&from, &to]
        } else {
            &[&from, &to, &level]
        };
        let mut rows = stmt.query(bind).map_err(|e| self.sql(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.sql(e))? {
            let idx: i64 = r.get(0).map_err(|e| self.sql(e))?;
            if idx != from + out.len() as i64 {
                break;
            }
            let bytes = r.get_ref(1).map_err(|e| self.sql(e))?;
            out.push(hash(bytes.as_blob().unwrap_or_default()));
        }
        Ok(out)
    }

    fn node_count(&self, level: u8) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT coalesce(max(idx) + 1, 0) FROM nodes WHERE level = ?1",
                [level],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    fn put_nodes(&mut self, level: u8, first: u64, hashes: &[Hash]) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            source,
        };
        // Derived data: a power cut may take the last ones back (they are recomputed), so their
        // commit need not wait for the disk as the entries' does.
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        let written = (|| {
            let tx = self.conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                )?;
                for (i, h) in hashes.iter().enumerate() {
                    insert.execute(params![level, (first + i as u64) as i64, &h[..]])?;
                }
            }
            tx.commit()
        })();
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        written.map_err(sql)
    }

    fn put_checkpoint(&mut self, size: u64, note: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?1, ?2)",
                params![size as i64, note],
            )
            .map(drop)
            .map_err(|e| self.sql(e))
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT size, note FROM checkpoints ORDER BY size")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }
}
