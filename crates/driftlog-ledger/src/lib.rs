//! driftlog's tamper-evident record: a Merkle tree exactly as RFC 9162 (Certificate
//! Transparency 2.0, same hashing as RFC 6962) defines it, with inclusion and consistency
//! proofs that any RFC 9162 verifier accepts.
//!
//! ```
//! use driftlog_ledger::merkle::{leaf_hash, verify_inclusion, Tree};
//!
//! let mut tree = Tree::default();
//! for entry in [&b"scan 1"[..], b"finding 1", b"ingest 1"] {
//!     tree.push(leaf_hash(entry));
//! }
//! let root = tree.root(3).unwrap();
//! let proof = tree.inclusion_proof(1, 3).unwrap();
//! verify_inclusion(1, 3, &leaf_hash(b"finding 1"), &proof, &root).unwrap();
//! ```

pub mod log;
pub mod merkle;
pub mod note;
pub mod storage;
pub mod tiles;

pub use log::{canonical_json, Damage, DamageKind, Entry, Ledger, LedgerError};
