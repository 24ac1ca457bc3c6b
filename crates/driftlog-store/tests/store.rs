//! The SQLite store on its own: the conformance suite, schema versions, its integrity check.

use driftlog_store::conformance::{batch, k8s};
use driftlog_store::{Store, StoreError};

/// The conformance suite every event store passes (PostgreSQL runs it too), each case on a
/// fresh SQLite store.
#[test]
fn the_sqlite_store_conforms() {
    for (name, case) in driftlog_store::conformance::cases() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        eprintln!("case {name}");
        case(&mut store);
        assert!(
            store.check().unwrap().is_empty(),
            "{name} leaves a sound store"
        );
    }
}

#[test]
fn a_store_from_a_newer_driftlog_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(Store::open(&path).unwrap());
    // Reopening is a no-op migration.
    drop(Store::open(&path).unwrap());
    assert!(
        set_user_version_to_99(&path),
        "the WAL was folded into the file"
    );
    match Store::open(&path) {
        Err(StoreError::TooNew { found, .. }) => assert_eq!(found, 99),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

/// Set `user_version` to 99 without a SQLite dependency in this test: the header field sits at
/// byte offset 60 of the database file (big-endian u32), per the SQLite file format.
fn set_user_version_to_99(path: &std::path::Path) -> bool {
    // Make sure the WAL is folded into the main file first.
    drop(Store::open(path).unwrap());
    let wal = path.with_extension("db-wal");
    if wal.exists() && std::fs::metadata(&wal).unwrap().len() > 0 {
        return false;
    }
    let mut bytes = std::fs::read(path).unwrap();
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
    true
}

#[test]
fn check_finds_a_missing_event_and_a_missing_evidence_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = Store::open(&path).unwrap();
    let events = (0..3)
        .map(|i| (k8s(&format!("e{i}"), 3, &["ns/web"]), "{}".to_owned()))
        .collect();
    store.write_batch(vec![batch("/a", events)]).unwrap();
    assert!(store.check().unwrap().is_empty());
    // Damage the file behind the store's back: an event its posting lists name, then the
    // evidence block the others point at.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM events WHERE id = 2", []).unwrap();
    assert_eq!(
        store.check().unwrap(),
        ["1 resource references point at no event"],
        "the event is named by resource, principal and action lists: counted once"
    );
    conn.execute("DELETE FROM evidence_pieces", []).unwrap();
    assert_eq!(
        store.check().unwrap(),
        [
            "2 events have no evidence block",
            "1 resource references point at no event"
        ]
    );
}
