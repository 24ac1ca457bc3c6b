//! The log itself: entries appended durably to a SQLite file of their own, and `verify`, which
//! recomputes every leaf and root from the stored bytes.
//!
//! Entries are canonical JSON (keys sorted, no whitespace, integers and strings only — the
//! subset on which RFC 8785 JCS and serde_json's compact output agree). Each row keeps the
//! entry's bytes and the leaf hash computed at append time; `verify` recomputes both, so a
//! changed byte, a deleted, swapped or inserted row, or a truncated log is found, with the first
//! index where the log stops being what it was.

use crate::merkle::{leaf_hash, verify_consistency, Hash, ProofError, Tree};
use crate::note::{Checkpoint, NoteError, SignerKey, VerifierKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("ledger {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no ledger at {path}: it is created by the first scan or ingest")]
    Missing { path: PathBuf },
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub index: u64,
    pub kind: String,
    /// The canonical JSON bytes, exactly as hashed.
    pub body: Vec<u8>,
    pub leaf: Hash,
}

/// The first problem `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub index: u64,
    pub reason: String,
}

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

/// RFC 8785 subset: serde_json's `Value` keeps object keys sorted, and its compact output
/// escapes exactly what JCS escapes.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

impl Ledger {
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
             );",
        )
        .map_err(sql)?;
        Ok(Self {
            conn,
            path: path.into(),
        })
    }

    pub fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Missing { path: path.into() });
        }
        Self::open(path)
    }

    fn sql(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64, LedgerError> {
        self.conn
            .query_row("SELECT coalesce(max(idx) + 1, 0) FROM entries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    pub fn is_empty(&self) -> Result<bool, LedgerError> {
        Ok(self.len()? == 0)
    }

    /// Append entries in one durable transaction; returns their indexes.
    pub fn append(&mut self, entries: &[(&str, Value)]) -> Result<Vec<u64>, LedgerError> {
        let path = self.path.clone();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let mut next: i64 = tx
            .query_row("SELECT coalesce(max(idx) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        let mut indexes = Vec::with_capacity(entries.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO entries (idx, kind, body, leaf) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sql)?;
            for (kind, body) in entries {
                // Every entry names its own place and kind, so rows moved to another index no
                // longer verify.
                let mut body = body.clone();
                if let Value::Object(map) = &mut body {
                    map.insert("seq".into(), Value::from(next));
                    map.insert("kind".into(), Value::from(*kind));
                }
                let bytes = canonical_json(&body);
                let leaf = leaf_hash(&bytes);
                insert
                    .execute(params![next, kind, bytes, &leaf[..]])
                    .map_err(sql)?;
                indexes.push(next as u64);
                next += 1;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(indexes)
    }

    /// Entries `from..to` (clamped to the log).
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, kind, body, leaf FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![from as i64, to.min(i64::MAX as u64) as i64], |r| {
                let leaf: Vec<u8> = r.get(3)?;
                let mut hash = [0u8; 32];
                if leaf.len() == 32 {
                    hash.copy_from_slice(&leaf);
                }
                Ok(Entry {
                    index: r.get::<_, i64>(0)? as u64,
                    kind: r.get(1)?,
                    body: r.get(2)?,
                    leaf: hash,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    pub fn entry(&self, index: u64) -> Result<Option<Entry>, LedgerError> {
        Ok(self.entries(index, index + 1)?.into_iter().next())
    }

    /// The tree over the stored leaf hashes (as stored; [`Ledger::verify`] checks them).
    pub fn tree(&self) -> Result<Tree, LedgerError> {
        let mut tree = Tree::default();
        let mut stmt = self
            .conn
            .prepare("SELECT leaf FROM entries ORDER BY idx")
            .map_err(|e| self.sql(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
            let leaf: Vec<u8> = row.get(0).map_err(|e| self.sql(e))?;
            let mut hash = [0u8; 32];
            if leaf.len() == 32 {
                hash.copy_from_slice(&leaf);
            }
            tree.push(hash);
        }
        Ok(tree)
    }

    /// Recompute every leaf from the stored bytes and check the indexes run 0, 1, 2… without a
    /// gap. Returns the tree of the recomputed leaves and the first damage, if any.
    pub fn verify(&self) -> Result<(Tree, Option<Damage>), LedgerError> {
        let mut tree = Tree::default();
        let mut stmt = self
            .conn
            .prepare("SELECT idx, body, leaf FROM entries ORDER BY idx")
            .map_err(|e| self.sql(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.sql(e))?;
        let mut expected = 0u64;
        while let Some(row) = rows.next().map_err(|e| self.sql(e))? {
            let idx = row.get::<_, i64>(0).map_err(|e| self.sql(e))? as u64;
            let body: Vec<u8> = row.get(1).map_err(|e| self.sql(e))?;
            let stored: Vec<u8> = row.get(2).map_err(|e| self.sql(e))?;
            if idx != expected {
                return Ok((
                    tree,
                    Some(Damage {
                        index: expected,
                        reason: format!("entry {expected} is missing (the next stored is {idx})"),
                    }),
                ));
            }
            let leaf = leaf_hash(&body);
            if stored != leaf {
                return Ok((
                    tree,
                    Some(Damage {
                        index: idx,
                        reason: format!("entry {idx} does not hash to its recorded leaf"),
                    }),
                ));
            }
            let parsed = serde_json::from_slice::<Value>(&body).ok();
            if parsed
                .as_ref()
                .and_then(|v| v.get("seq"))
                .and_then(Value::as_u64)
                != Some(idx)
            {
                return Ok((
                    tree,
                    Some(Damage {
                        index: idx,
                        reason: format!("entry {idx} records another position (moved or swapped)"),
                    }),
                ));
            }
            if parsed.map(|v| canonical_json(&v) != body).unwrap_or(true) {
                return Ok((
                    tree,
                    Some(Damage {
                        index: idx,
                        reason: format!("entry {idx} is not canonical JSON"),
                    }),
                ));
            }
            tree.push(leaf);
            expected += 1;
        }
        Ok((tree, None))
    }

    /// Sign a checkpoint of the whole log as it is (every entry is already durable: appends
    /// commit with `synchronous = FULL`), store it, and return the signed note.
    pub fn checkpoint(&mut self, signer: &SignerKey) -> Result<String, LedgerError> {
        let tree = self.tree()?;
        let size = tree.len();
        let checkpoint = Checkpoint {
            origin: signer.name.clone(),
            size,
            root: tree.root(size)?,
        };
        let note = signer.sign(&checkpoint.text())?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?1, ?2)",
                params![size as i64, note],
            )
            .map_err(|e| self.sql(e))?;
        Ok(note)
    }

    /// Stored checkpoints, smallest first.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError> {
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

    /// Everything [`Ledger::verify`] checks, plus every stored checkpoint: its signature, that the
    /// log still holds all the entries it covers with the same root, and that each is consistent
    /// with the one before. Returns the number of checkpoints checked and the first damage.
    pub fn verify_all(
        &self,
        verifier: Option<&VerifierKey>,
    ) -> Result<(u64, usize, Option<Damage>), LedgerError> {
        let (tree, damage) = self.verify()?;
        let len = tree.len();
        let checkpoints = self.checkpoints()?;
        let mut previous: Option<Checkpoint> = None;
        for (size, note) in &checkpoints {
            let text = match verifier {
                Some(v) => match v.open(note) {
                    Ok(text) => text.to_owned(),
                    Err(e) => {
                        return Ok((
                            len,
                            checkpoints.len(),
                            Some(Damage {
                                index: previous.as_ref().map_or(0, |p| p.size),
                                reason: format!("checkpoint of size {size}: {e}"),
                            }),
                        ))
                    }
                },
                None => {
                    note.split(
                        "

",
                    )
                    .next()
                    .unwrap_or_default()
                    .to_owned()
                        + "
"
                }
            };
            let checkpoint = Checkpoint::parse(&text)?;
            let good_until = previous.as_ref().map_or(0, |p| p.size);
            if checkpoint.size != *size {
                return Ok((
                    len,
                    checkpoints.len(),
                    Some(Damage {
                        index: good_until,
                        reason: format!(
                            "checkpoint stored as size {size} says {}",
                            checkpoint.size
                        ),
                    }),
                ));
            }
            if checkpoint.size > len {
                return Ok((len, checkpoints.len(), Some(Damage {
                    index: len,
                    reason: format!(
                        "the log has {len} entries but a signed checkpoint covers {}: entries were removed from the end",
                        checkpoint.size
                    ),
                })));
            }
            if tree.root(checkpoint.size)? != checkpoint.root {
                let index = damage
                    .as_ref()
                    .map_or(good_until, |d| d.index.min(checkpoint.size));
                return Ok((
                    len,
                    checkpoints.len(),
                    Some(Damage {
                        index,
                        reason: format!(
                        "the entries below {} no longer hash to the signed root of that checkpoint",
                        checkpoint.size
                    ),
                    }),
                ));
            }
            if let Some(p) = &previous {
                let proof = tree.consistency_proof(p.size, checkpoint.size)?;
                if verify_consistency(p.size, checkpoint.size, &p.root, &checkpoint.root, &proof)
                    .is_err()
                {
                    return Ok((
                        len,
                        checkpoints.len(),
                        Some(Damage {
                            index: p.size,
                            reason: format!(
                                "checkpoints {} and {} are not consistent",
                                p.size, checkpoint.size
                            ),
                        }),
                    ));
                }
            }
            previous = Some(checkpoint);
        }
        Ok((len, checkpoints.len(), damage))
    }

    /// The stored leaf of an entry, for callers that only need the hash.
    pub fn leaf(&self, index: u64) -> Result<Option<Hash>, LedgerError> {
        let leaf: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT leaf FROM entries WHERE idx = ?1",
                [index as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        Ok(leaf.filter(|l| l.len() == 32).map(|l| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&l);
            h
        }))
    }
}
