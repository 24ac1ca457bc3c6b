//! Roots and proofs read from the stored tiles agree with the whole tree's at every size, also
//! for a log whose tiles were never indexed; tlog-tiles hash tiles and entry bundles hold what
//! the C2SP spec says.

use driftlog_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion, Subtrees, Tree};
use driftlog_ledger::tiles::WIDTH;
use driftlog_ledger::Ledger;
use serde_json::json;

fn filled(path: &std::path::Path, n: u64, batch: u64) -> Ledger {
    let mut ledger = Ledger::open(path).unwrap();
    let mut done = 0;
    while done < n {
        let size = batch.min(n - done);
        let entries: Vec<(&str, serde_json::Value)> = (done..done + size)
            .map(|i| {
                (
                    "finding",
                    json!({"address": format!("aws_instance.web[{i}]")}),
                )
            })
            .collect();
        ledger.append(&entries).unwrap();
        done += size;
    }
    ledger
}

#[test]
fn proofs_from_tiles_agree_with_the_whole_tree_at_every_size() {
    let dir = tempfile::tempdir().unwrap();
    // Past 65 536 entries: level-2 nodes exist.
    let n = 66_000;
    let ledger = filled(&dir.path().join("l.db"), n, 3_000);
    let tree = ledger.tree().unwrap();
    let tiles = ledger.tiles().unwrap();
    assert_eq!(tiles.size(), n);
    for size in [
        1, 2, 3, 255, 256, 257, 511, 512, 4_097, 65_535, 65_536, 65_537, n,
    ] {
        assert_eq!(
            ledger.root(size).unwrap(),
            tree.root(size).unwrap(),
            "root at {size}"
        );
        for index in [0, 1, size / 3, size / 2, size - 1]
            .into_iter()
            .filter(|i| *i < size)
        {
            let proof = ledger.inclusion_proof(index, size).unwrap();
            assert_eq!(proof, tree.inclusion_proof(index, size).unwrap());
            verify_inclusion(
                index,
                size,
                &tree.leaf(index).unwrap(),
                &proof,
                &tree.root(size).unwrap(),
            )
            .unwrap();
        }
        for first in [1, size / 2, size] {
            let proof = ledger.consistency_proof(first, size).unwrap();
            assert_eq!(proof, tree.consistency_proof(first, size).unwrap());
            verify_consistency(
                first,
                size,
                &tree.root(first).unwrap(),
                &tree.root(size).unwrap(),
                &proof,
            )
            .unwrap();
        }
    }
    assert!(ledger.inclusion_proof(n, n).is_err());
    assert!(ledger.root(n + 1).is_err());
}

#[test]
fn a_log_whose_tiles_were_never_indexed_proves_the_same_and_is_indexed_by_its_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let expected = {
        let ledger = filled(&path, 70_000, 10_000);
        ledger.inclusion_proof(12_345, 70_000).unwrap()
    };
    // As a log written before tiles existed: no stored nodes.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM nodes", [])
        .unwrap();
    let mut ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.inclusion_proof(12_345, 70_000).unwrap(), expected);
    ledger
        .append(&[("finding", json!({"address": "x"}))])
        .unwrap();
    let stored: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM nodes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 70_001 / 256 + 1, "levels 1 and 2 are indexed again");
    assert_eq!(ledger.inclusion_proof(12_345, 70_000).unwrap(), expected);
}

#[test]
fn hash_tiles_and_entry_bundles_hold_what_the_spec_says() {
    let dir = tempfile::tempdir().unwrap();
    let n = 700;
    let ledger = filled(&dir.path().join("l.db"), n, 100);
    let tree = ledger.tree().unwrap();
    // Level 0: leaf hashes.
    let tile = ledger.hash_tile(0, 1, WIDTH).unwrap().unwrap();
    assert_eq!(tile.len(), 256 * 32);
    assert_eq!(&tile[..32], &tree.leaf(256).unwrap());
    // A partial tile: the 188 leaves of tile 2.
    let partial = ledger.hash_tile(0, 2, 188).unwrap().unwrap();
    assert_eq!(partial.len(), 188 * 32);
    assert!(ledger.hash_tile(0, 2, 189).unwrap().is_none(), "not yet");
    assert!(ledger.hash_tile(0, 2, WIDTH).unwrap().is_none());
    // Level 1: roots of complete 256-entry subtrees; two of them at 700 entries.
    let level1 = ledger.hash_tile(1, 0, 2).unwrap().unwrap();
    assert_eq!(&level1[32..], &tree.complete(8, 1).unwrap());
    assert!(ledger.hash_tile(1, 0, 3).unwrap().is_none());
    // The leaves of level-0 tiles rebuild the tree a client checks against a checkpoint.
    let mut rebuilt = Tree::default();
    for (index, width) in [(0, WIDTH), (1, WIDTH), (2, 188)] {
        for h in ledger
            .hash_tile(0, index, width)
            .unwrap()
            .unwrap()
            .chunks(32)
        {
            rebuilt.push(h.try_into().unwrap());
        }
    }
    assert_eq!(rebuilt.root(n).unwrap(), ledger.root(n).unwrap());
    // Entry bundles: big-endian u16 length, then the entry, whose leaf hash is in the tile.
    let bundle = ledger.entry_bundle(2, 188).unwrap().unwrap();
    let (mut rest, mut count) = (&bundle[..], 0u64);
    while !rest.is_empty() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let entry = &rest[2..2 + len];
        assert_eq!(leaf_hash(entry), tree.leaf(512 + count).unwrap());
        rest = &rest[2 + len..];
        count += 1;
    }
    assert_eq!(count, 188);
    assert!(ledger.entry_bundle(2, 189).unwrap().is_none());
}
