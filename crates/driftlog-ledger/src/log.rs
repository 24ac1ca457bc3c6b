//! The log itself: entries appended durably to a SQLite file of their own, and `verify`, which
//! recomputes every leaf and root from the stored bytes.
//!
//! Entries are RFC 8785 (JCS) canonical JSON. Each row keeps the
//! entry's bytes and the leaf hash computed at append time; `verify` recomputes both, so a
//! changed byte, a deleted, swapped or inserted row, or a truncated log is found, with the first
//! index where the log stops being what it was.

use crate::merkle::{self, complete_root, leaf_hash, verify_consistency, Hash, ProofError, Tree};
use crate::note::{Checkpoint, NoteError, SignerKey, VerifierKey};
use crate::storage::{SqliteStorage, Storage};
use crate::tiles::{Tiles, WIDTH};
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
    /// A database server's error (PostgreSQL); `location` never carries a password.
    #[error("ledger {}: {message}", location.display())]
    Database { location: PathBuf, message: String },
    #[error("no ledger at {path}: it is created by the first scan or ingest")]
    Missing { path: PathBuf },
    /// An entry the log's size says exists is not stored (`ledger verify` says more).
    #[error("ledger entry {index} is missing (run `driftlog ledger verify`)")]
    Gap { index: u64 },
    /// C2SP tlog-tiles bundles entries after a 16-bit length: a longer one cannot be served.
    #[error(
        "ledger entry {index} is {len} bytes, more than a tlog-tiles entry bundle can hold (65535)"
    )]
    TooLongForBundle { index: u64, len: usize },
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
    pub kind: DamageKind,
    pub reason: String,
}

/// What happened to the log, as far as the stored bytes and the signed checkpoints tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageKind {
    /// An entry's bytes no longer hash to the leaf recorded beside them.
    Altered,
    /// Entries are missing from the middle (a gap, or later entries moved up into it).
    Deleted,
    /// Entries sit at positions other than the ones they record.
    Reordered,
    /// An entry is no longer canonical JSON.
    NotCanonical,
    /// The entries below a signed checkpoint no longer hash to its root, though each matches
    /// its recorded leaf: an entry was rewritten together with its leaf.
    Rewritten,
    /// Fewer entries than a signed checkpoint covers: removed from the end.
    Truncated,
    /// A checkpoint's signature does not verify with the verifier key.
    Resigned,
    /// Two checkpoints that cannot both be views of one append-only log.
    Inconsistent,
}

/// The log: its logic, over any [`Storage`].
pub struct Ledger {
    storage: Box<dyn Storage>,
}

/// RFC 8785 (JCS) bytes of an entry.
///
/// serde_json's compact output is exactly JCS for the values driftlog writes — integers within
/// ±2^53, object keys sorted, keys without characters at or above U+E000 (where UTF-8 byte
/// order, serde_json's, and UTF-16 code-unit order, JCS's, part ways) — and several times
/// faster than a general JCS serializer. Any value outside that subset, or a build in which
/// some crate enabled serde_json's `preserve_order` (maps would keep insertion order), goes
/// through a JCS implementation. A property test checks the two agree.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    if maps_are_sorted() && compact_is_jcs(value) {
        serde_json::to_vec(value).unwrap_or_default()
    } else {
        serde_json_canonicalizer::to_vec(value).unwrap_or_default()
    }
}

/// Whether serde_json's maps iterate in key order in this build.
fn maps_are_sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut map = serde_json::Map::new();
        map.insert("b".into(), Value::Null);
        map.insert("a".into(), Value::Null);
        map.keys().map(String::as_str).eq(["a", "b"])
    })
}

fn compact_is_jcs(value: &Value) -> bool {
    const SAFE: u64 = 1 << 53;
    match value {
        Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= SAFE)
                || n.as_i64().is_some_and(|i| i.unsigned_abs() <= SAFE)
        }
        Value::Array(items) => items.iter().all(compact_is_jcs),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| k.chars().all(|c| c < '\u{E000}') && compact_is_jcs(v)),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

impl Ledger {
    /// Open the SQLite ledger at `path` (creating it if needed).
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        Ok(Self::with_storage(Box::new(SqliteStorage::open(path)?)))
    }

    pub fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::Missing { path: path.into() });
        }
        Self::open(path)
    }

    /// A ledger kept in another storage.
    pub fn with_storage(storage: Box<dyn Storage>) -> Self {
        Self { storage }
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64, LedgerError> {
        self.storage.len()
    }

    pub fn is_empty(&self) -> Result<bool, LedgerError> {
        Ok(self.len()? == 0)
    }

    /// Append entries in one durable transaction; returns their indexes. The tiles over them
    /// are indexed afterwards ([`Ledger::index_tiles`]).
    pub fn append(&mut self, entries: &[(&str, Value)]) -> Result<Vec<u64>, LedgerError> {
        let indexes = self.append_entries(entries)?;
        // Derived data: the entries are committed whatever happens here, and whatever is not
        // indexed now is computed on demand and indexed by the next append.
        if let Err(e) = self.index_tiles() {
            tracing::warn!(error = %e, "indexing the ledger's tiles failed; proofs will compute them");
        }
        Ok(indexes)
    }

    fn append_entries(&mut self, entries: &[(&str, Value)]) -> Result<Vec<u64>, LedgerError> {
        self.storage.append(&mut |first| {
            Ok(entries
                .iter()
                .enumerate()
                .map(|(i, (kind, body))| {
                    // Every entry names its own place and kind, so rows moved to another index
                    // no longer verify.
                    let mut body = body.clone();
                    if let Value::Object(map) = &mut body {
                        map.insert("seq".into(), Value::from(first + i as u64));
                        map.insert("kind".into(), Value::from(*kind));
                    }
                    let bytes = canonical_json(&body);
                    let leaf = leaf_hash(&bytes);
                    ((*kind).to_owned(), bytes, leaf)
                })
                .collect())
        })
    }

    /// Entries `from..to` (clamped to the log).
    pub fn entries(&self, from: u64, to: u64) -> Result<Vec<Entry>, LedgerError> {
        self.storage.entries(from, to)
    }

    pub fn entry(&self, index: u64) -> Result<Option<Entry>, LedgerError> {
        Ok(self.entries(index, index + 1)?.into_iter().next())
    }

    /// The log's complete subtrees at its current size, read from its tiles: roots and proofs
    /// at any size read a few thousand hashes, not every leaf.
    pub fn tiles(&self) -> Result<Tiles<'_>, LedgerError> {
        Ok(Tiles {
            storage: &*self.storage,
            size: self.len()?,
        })
    }

    /// Store the level-1-and-up nodes of every complete tile not stored yet (see
    /// [`crate::tiles`]). Appends do it; a log from before tiles gets them all on its next one.
    pub fn index_tiles(&mut self) -> Result<(), LedgerError> {
        let size = self.len()?;
        for level in 1..=crate::tiles::MAX_LEVEL {
            let Some(span) = crate::tiles::span(level) else {
                break;
            };
            let want = size / span;
            if want == 0 {
                break;
            }
            let mut next = self.storage.node_count(level)?;
            while next < want {
                let end = (next + 1024).min(want);
                let hashes: Vec<Hash> = {
                    let tiles = self.tiles()?;
                    let lower = tiles.nodes(level - 1, next * WIDTH, end * WIDTH)?;
                    lower.chunks(WIDTH as usize).map(complete_root).collect()
                };
                self.storage.put_nodes(level, next, &hashes)?;
                next = end;
            }
        }
        Ok(())
    }

    /// The root of the log's first `size` entries, from its tiles.
    pub fn root(&self, size: u64) -> Result<Hash, LedgerError> {
        merkle::root(&self.tiles()?, size)
    }

    /// The audit path of entry `index` in the log's first `size` entries, from its tiles.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        merkle::inclusion_proof(&self.tiles()?, index, size)
    }

    /// That the log's first `first` entries are a prefix of its first `second`, from its tiles.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LedgerError> {
        merkle::consistency_proof(&self.tiles()?, first, second)
    }

    /// The C2SP tlog-tiles hash tile: `width` level-`level` nodes from `index · 256`, each 32
    /// bytes, concatenated; `None` while the log is too small to have them all.
    pub fn hash_tile(
        &self,
        level: u8,
        index: u64,
        width: u64,
    ) -> Result<Option<Vec<u8>>, LedgerError> {
        let tiles = self.tiles()?;
        let (Some(span), Some(from)) = (crate::tiles::span(level), index.checked_mul(WIDTH)) else {
            return Ok(None);
        };
        let to = from + width;
        if to
            .checked_mul(span)
            .is_none_or(|covered| covered > tiles.size)
        {
            return Ok(None);
        }
        Ok(Some(tiles.nodes(level, from, to)?.concat()))
    }

    /// The C2SP tlog-tiles entry bundle: `width` entries from `index · 256`, each after its
    /// length as a big-endian 16-bit number; `None` while the log is too small.
    pub fn entry_bundle(&self, index: u64, width: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        let Some(from) = index.checked_mul(WIDTH) else {
            return Ok(None);
        };
        if from + width > self.len()? {
            return Ok(None);
        }
        let entries = self.entries(from, from + width)?;
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let index = from + i as u64;
            if e.index != index {
                return Err(LedgerError::Gap { index });
            }
            let len = u16::try_from(e.body.len()).map_err(|_| LedgerError::TooLongForBundle {
                index,
                len: e.body.len(),
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&e.body);
        }
        if (entries.len() as u64) < width {
            return Err(LedgerError::Gap {
                index: from + entries.len() as u64,
            });
        }
        Ok(Some(out))
    }

    /// The tree over the stored leaf hashes (as stored; [`Ledger::verify`] checks them).
    pub fn tree(&self) -> Result<Tree, LedgerError> {
        let mut tree = Tree::default();
        self.storage.for_each_leaf(&mut |leaf| tree.push(leaf))?;
        Ok(tree)
    }

    /// Recompute every leaf from the stored bytes and check the indexes run 0, 1, 2… without a
    /// gap, each entry recording its own position. Returns the tree of every recomputed leaf
    /// (all entries, so its size is the log's) and the first damage, if any, named for what it
    /// is: altered, deleted, reordered or not canonical.
    pub fn verify(&self) -> Result<(Tree, Option<Damage>), LedgerError> {
        let mut tree = Tree::default();
        let mut first: Option<Damage> = None;
        // Positions the entries record, kept to tell a deletion from a reordering.
        let mut seqs: Vec<(u64, Option<u64>)> = Vec::new();
        let mut expected = 0u64;
        let damage = |index, kind, reason: String| {
            Some(Damage {
                index,
                kind,
                reason,
            })
        };
        self.storage.for_each(&mut |idx, body, stored| {
            let leaf = leaf_hash(body);
            tree.push(leaf);
            let parsed = serde_json::from_slice::<Value>(body).ok();
            let seq = parsed
                .as_ref()
                .and_then(|v| v.get("seq"))
                .and_then(Value::as_u64);
            seqs.push((idx, seq));
            if first.is_none() {
                if idx != expected {
                    first = damage(
                        expected,
                        DamageKind::Deleted,
                        format!(
                            "entries {expected} to {} were deleted (the next stored entry is {idx})",
                            idx - 1
                        ),
                    );
                } else if *stored != leaf {
                    first = damage(
                        idx,
                        DamageKind::Altered,
                        format!(
                            "entry {idx} was altered: its bytes no longer hash to its recorded leaf"
                        ),
                    );
                } else if seq.is_some() && seq != Some(idx) {
                    // Classified below, once every recorded position is known.
                    first = damage(idx, DamageKind::Reordered, String::new());
                } else if parsed.map(|v| canonical_json(&v) != body).unwrap_or(true) {
                    first = damage(
                        idx,
                        DamageKind::NotCanonical,
                        format!("entry {idx} is not canonical JSON (or records no position)"),
                    );
                }
            }
            expected = idx + 1;
            Ok(())
        })?;
        if let Some(d) = first.as_mut().filter(|d| d.kind == DamageKind::Reordered) {
            // Entries that moved up into a gap still record increasing positions; a reordering
            // records one that goes back.
            let from = seqs.iter().position(|(i, _)| *i == d.index).unwrap_or(0);
            let recorded: Vec<u64> = seqs[from..].iter().filter_map(|(_, s)| *s).collect();
            let at = seqs[from].1.unwrap_or_default();
            if recorded.windows(2).all(|w| w[0] < w[1]) && at > d.index {
                d.kind = DamageKind::Deleted;
                d.reason = format!(
                    "entries {} to {} were deleted and the later entries moved up (entry {} records position {at})",
                    d.index,
                    at - 1,
                    d.index
                );
            } else {
                d.reason = format!(
                    "entry {} records position {at}: entries were reordered",
                    d.index
                );
            }
        }
        Ok((tree, first))
    }

    /// Sign a checkpoint of the whole log as it is (every entry is already durable: appends
    /// commit with `synchronous = FULL`), store it, and return the signed note.
    pub fn checkpoint(&mut self, signer: &SignerKey) -> Result<String, LedgerError> {
        let size = self.len()?;
        let checkpoint = Checkpoint {
            origin: signer.name.clone(),
            size,
            root: self.root(size)?,
        };
        let note = signer.sign(&checkpoint.text())?;
        self.storage.put_checkpoint(size, &note)?;
        Ok(note)
    }

    /// Stored checkpoints, smallest first.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, LedgerError> {
        self.storage.checkpoints()
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
        // Damage to the entries themselves is the real cause; what checkpoints would say about
        // it ("the root differs", "fewer entries") only repeats it less precisely.
        if damage.is_some() {
            return Ok((len, checkpoints.len(), damage));
        }
        let found = |index, kind, reason| {
            Ok((
                len,
                checkpoints.len(),
                Some(Damage {
                    index,
                    kind,
                    reason,
                }),
            ))
        };
        let mut previous: Option<Checkpoint> = None;
        for (size, note) in &checkpoints {
            let good_until = previous.as_ref().map_or(0, |p| p.size);
            let text = match verifier {
                Some(v) => match v.open(note) {
                    Ok(text) => text.to_owned(),
                    Err(e) => {
                        return found(
                            good_until,
                            DamageKind::Resigned,
                            format!(
                                "checkpoint of size {size}: {e} (signed by another key, or forged)"
                            ),
                        )
                    }
                },
                None => note.split("\n\n").next().unwrap_or_default().to_owned() + "\n",
            };
            let checkpoint = Checkpoint::parse(&text)?;
            if checkpoint.size != *size {
                return found(
                    good_until,
                    DamageKind::Inconsistent,
                    format!("checkpoint stored as size {size} says {}", checkpoint.size),
                );
            }
            if checkpoint.size > len {
                return found(
                    len,
                    DamageKind::Truncated,
                    format!(
                        "the log has {len} entries but a signed checkpoint covers {}: entries {len} to {} were removed from the end",
                        checkpoint.size,
                        checkpoint.size - 1
                    ),
                );
            }
            if tree.root(checkpoint.size)? != checkpoint.root {
                return found(
                    good_until,
                    DamageKind::Rewritten,
                    format!(
                        "the entries from {good_until} to {} no longer hash to the signed root of the checkpoint of size {}, though each matches its recorded leaf: an entry was rewritten together with its leaf",
                        checkpoint.size - 1,
                        checkpoint.size
                    ),
                );
            }
            if let Some(p) = &previous {
                let proof = tree.consistency_proof(p.size, checkpoint.size)?;
                if verify_consistency(p.size, checkpoint.size, &p.root, &checkpoint.root, &proof)
                    .is_err()
                {
                    return found(
                        p.size,
                        DamageKind::Inconsistent,
                        format!(
                            "checkpoints {} and {} are not consistent",
                            p.size, checkpoint.size
                        ),
                    );
                }
            }
            previous = Some(checkpoint);
        }
        Ok((len, checkpoints.len(), None))
    }

    /// The stored leaf of an entry, for callers that only need the hash.
    pub fn leaf(&self, index: u64) -> Result<Option<Hash>, LedgerError> {
        self.storage.leaf(index)
    }
}

#[cfg(test)]
mod jcs_tests {
    use super::canonical_json;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::from),
            "[\\u{0}-\\u{1f}\"\\\\/a\\u{e9}\\u{e000}\\u{fb33}\\u{1f600}]{0,6}"
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    "[a-z\\u{e9}\\u{e000}\\u{fb33}\\u{1f600}]{0,4}",
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The fast path, wherever it is taken, writes what a JCS implementation writes.
        #[test]
        fn always_jcs(v in value()) {
            prop_assert_eq!(
                canonical_json(&v),
                serde_json_canonicalizer::to_vec(&v).unwrap()
            );
        }
    }

    #[test]
    fn keys_sorted_by_utf16_units_whatever_the_insertion_order() {
        let mut map = serde_json::Map::new();
        for key in [
            "zeta",
            "alpha",
            "\u{fb33}",
            "\u{1f600}",
            "\u{20ac}",
            "Beta",
            "1",
        ] {
            map.insert(key.into(), json!(1));
        }
        let bytes = canonical_json(&serde_json::Value::Object(map));
        // RFC 8785 §3.2.3: by UTF-16 code units, so U+1F600 (a surrogate pair, D83D…) sorts
        // before U+FB33, unlike in code-point or UTF-8 order.
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "{\"1\":1,\"Beta\":1,\"alpha\":1,\"zeta\":1,\"\u{20ac}\":1,\"\u{1f600}\":1,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn numbers_and_strings_as_rfc_8785_writes_them() {
        // RFC 8785 appendix B examples and §3.2.2.2 string escapes.
        let v = json!({"n": [0.0, -0.0, 1e21, 1e-7, 0.000001, 123456789012345680000.0, 4.5, 2e-3],
                       "s": "\u{0}\u{1f}\"\\/\u{7f}\u{e9}\n"});
        assert_eq!(
            String::from_utf8(canonical_json(&v)).unwrap(),
            "{\"n\":[0,0,1e+21,1e-7,0.000001,123456789012345680000,4.5,0.002],\"s\":\"\\u0000\\u001f\\\"\\\\/\u{7f}\u{e9}\\n\"}"
        );
    }
}
