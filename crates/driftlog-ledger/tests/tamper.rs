//! Tampering with the stored log is found by `verify`, with the first bad index.

use driftlog_ledger::merkle::{leaf_hash, verify_inclusion};
use driftlog_ledger::Ledger;
use serde_json::json;

fn filled(dir: &tempfile::TempDir, n: u64) -> std::path::PathBuf {
    let path = dir.path().join("ledger.db");
    let mut ledger = Ledger::open(&path).unwrap();
    let entries: Vec<(&str, serde_json::Value)> = (0..n)
        .map(|i| {
            (
                "finding",
                json!({"address": format!("aws_instance.web[{i}]"), "paths": ["instance_type"]}),
            )
        })
        .collect();
    ledger.append(&entries).unwrap();
    path
}

fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn an_intact_log_verifies_and_proves() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled(&dir, 20);
    let ledger = Ledger::open(&path).unwrap();
    let (tree, damage) = ledger.verify().unwrap();
    assert_eq!(damage, None);
    assert_eq!(tree.len(), 20);
    let entry = ledger.entry(7).unwrap().unwrap();
    assert!(String::from_utf8_lossy(&entry.body).contains("\"seq\":7"));
    let proof = tree.inclusion_proof(7, 20).unwrap();
    verify_inclusion(
        7,
        20,
        &leaf_hash(&entry.body),
        &proof,
        &tree.root(20).unwrap(),
    )
    .unwrap();
}

#[test]
fn every_kind_of_tampering_is_found_at_its_index() {
    for (what, sql, bad) in [
        ("a byte flipped", "UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), 'web[5]', 'web[X]') AS BLOB) WHERE idx = 5", 5),
        ("an entry deleted", "DELETE FROM entries WHERE idx = 9", 9),
        // Through a spare index: the primary key forbids swapping in one statement.
        ("two entries swapped", "UPDATE entries SET idx = -1 WHERE idx = 3; UPDATE entries SET idx = 3 WHERE idx = 4; UPDATE entries SET idx = 4 WHERE idx = -1;", 3),
        ("a leaf rewritten", "UPDATE entries SET leaf = zeroblob(32) WHERE idx = 12", 12),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = filled(&dir, 20);
        raw(&path).execute_batch(sql).unwrap();
        let (_, damage) = Ledger::open(&path).unwrap().verify().unwrap();
        let damage = damage.unwrap_or_else(|| panic!("{what} was not found"));
        assert_eq!(damage.index, bad, "{what}: {}", damage.reason);
    }
}

mod with_checkpoints {
    use super::*;
    use driftlog_ledger::note::SignerKey;

    fn signed(dir: &tempfile::TempDir) -> (std::path::PathBuf, SignerKey) {
        let path = filled(dir, 10);
        let key = SignerKey::generate("driftlog.test/ledger").unwrap();
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.checkpoint(&key).unwrap();
        let more: Vec<(&str, serde_json::Value)> =
            (0..5).map(|i| ("scan", json!({"n": i}))).collect();
        ledger.append(&more).unwrap();
        ledger.checkpoint(&key).unwrap();
        (path, key)
    }

    /// With signed checkpoints covering the damage, `verify_all` still names what happened to
    /// the entries, not what the checkpoints would say about it ("removed from the end").
    #[test]
    fn each_kind_of_damage_is_told_apart() {
        use driftlog_ledger::DamageKind::*;
        for (what, sql, index, kind) in [
            ("a byte changed", "UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), 'web[5]', 'web[X]') AS BLOB) WHERE idx = 5", 5, Altered),
            ("an entry deleted", "DELETE FROM entries WHERE idx = 9", 9, Deleted),
            ("an entry deleted and the rest moved up", "DELETE FROM entries WHERE idx = 9; UPDATE entries SET idx = idx - 1 WHERE idx > 9", 9, Deleted),
            ("two entries swapped", "UPDATE entries SET idx = -1 WHERE idx = 3; UPDATE entries SET idx = 3 WHERE idx = 4; UPDATE entries SET idx = 4 WHERE idx = -1;", 3, Reordered),
            ("the end cut off", "DELETE FROM entries WHERE idx >= 12", 12, Truncated),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (path, key) = signed(&dir);
            raw(&path).execute_batch(sql).unwrap();
            let (_, _, damage) = Ledger::open(&path)
                .unwrap()
                .verify_all(Some(&key.verifier()))
                .unwrap();
            let damage = damage.unwrap_or_else(|| panic!("{what} was not found"));
            assert_eq!((damage.index, damage.kind), (index, kind), "{what}: {}", damage.reason);
        }
    }

    #[test]
    fn an_intact_log_with_checkpoints_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed(&dir);
        let (len, checked, damage) = Ledger::open(&path)
            .unwrap()
            .verify_all(Some(&key.verifier()))
            .unwrap();
        assert_eq!((len, checked, damage), (15, 2, None));
    }

    #[test]
    fn rewriting_an_entry_with_its_leaf_is_caught_by_the_signed_root() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed(&dir);
        // A careful forger recomputes the leaf too: only the signed root can tell.
        let ledger = Ledger::open(&path).unwrap();
        let entry = ledger.entry(4).unwrap().unwrap();
        let forged = String::from_utf8(entry.body)
            .unwrap()
            .replace("web[4]", "web[9]");
        let leaf = leaf_hash(forged.as_bytes());
        raw(&path)
            .execute(
                "UPDATE entries SET body = ?1, leaf = ?2 WHERE idx = 4",
                rusqlite::params![forged.as_bytes(), &leaf[..]],
            )
            .unwrap();
        let (_, _, damage) = ledger.verify_all(Some(&key.verifier())).unwrap();
        let damage = damage.expect("forgery found");
        assert_eq!(damage.index, 0, "{}", damage.reason);
        assert_eq!(damage.kind, driftlog_ledger::DamageKind::Rewritten);
        assert!(damage.reason.contains("signed root"), "{}", damage.reason);
    }

    #[test]
    fn truncation_and_a_replaced_signature_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed(&dir);
        raw(&path)
            .execute("DELETE FROM entries WHERE idx >= 12", [])
            .unwrap();
        let (_, _, damage) = Ledger::open(&path)
            .unwrap()
            .verify_all(Some(&key.verifier()))
            .unwrap();
        let damage = damage.expect("truncation found");
        assert_eq!(damage.index, 12, "{}", damage.reason);
        assert_eq!(damage.kind, driftlog_ledger::DamageKind::Truncated);

        let dir = tempfile::tempdir().unwrap();
        let (path, key) = signed(&dir);
        let other = SignerKey::generate("driftlog.test/ledger").unwrap();
        let ledger = Ledger::open(&path).unwrap();
        let (size, note) = ledger.checkpoints().unwrap()[1].clone();
        let text = note.split("\n\n").next().unwrap().to_owned() + "\n";
        let resigned = other.sign(&text).unwrap();
        raw(&path)
            .execute(
                "UPDATE checkpoints SET note = ?1 WHERE size = ?2",
                rusqlite::params![resigned, size as i64],
            )
            .unwrap();
        let (_, _, damage) = ledger.verify_all(Some(&key.verifier())).unwrap();
        let damage = damage.expect("foreign signature found");
        assert_eq!(damage.index, 10, "{}", damage.reason);
        assert_eq!(damage.kind, driftlog_ledger::DamageKind::Resigned);
        assert!(
            damage.reason.contains("no valid signature"),
            "{}",
            damage.reason
        );
    }
}
