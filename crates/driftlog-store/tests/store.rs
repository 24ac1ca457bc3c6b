//! The store on its own: evidence round trips, stage upgrades across batches, schema versions.

use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use driftlog_store::{EventQuery, EvidencePacker, FileBatch, PreparedEvent, Store, StoreError};

fn event(id: &str, completeness: u8, resources: &[&str]) -> AuditEvent {
    AuditEvent {
        source: Source::Kubernetes,
        event_id: id.into(),
        time_us: 1_700_000_000_000_000,
        account: None,
        region: None,
        service: Some("apps".into()),
        action: "patch deployments".into(),
        read_only: Some(false),
        outcome: if completeness == 3 {
            Outcome::Success
        } else {
            Outcome::Unknown
        },
        principal: Principal {
            id: Some("jane".into()),
            ..Principal::default()
        },
        actor: Actor::new(ActorKind::Kubectl, "userAgent:kubectl (hint)"),
        source_ip: None,
        user_agent: Some("kubectl/v1.31".into()),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        completeness,
    }
}

fn batch(path: &str, events: Vec<(AuditEvent, &str)>) -> FileBatch {
    let mut packer = EvidencePacker::default();
    let events = events
        .into_iter()
        .map(|(event, raw)| {
            let at = packer.add(raw.as_bytes());
            PreparedEvent::new(event, at, raw.as_bytes())
        })
        .collect();
    FileBatch {
        path: path.into(),
        size: 1,
        mtime_ns: 1,
        sha256: path.into(),
        events,
        blocks: packer.finish(),
        clean: true,
    }
}

#[test]
fn evidence_round_trips_across_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    // Records big enough to spill over several 128 KiB blocks.
    let raws: Vec<String> = (0..40)
        .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(10_000 + i)))
        .collect();
    let events = raws
        .iter()
        .enumerate()
        .map(|(i, raw)| (event(&format!("e{i}"), 3, &["ns/web"]), raw.as_str()))
        .collect();
    let (stats, commit) = store.write_batch(vec![batch("/a", events)]).unwrap();
    assert_eq!(commit.stored.len(), 40);
    assert!(
        commit.stored.windows(2).all(|w| w[0].0 < w[1].0),
        "in id order"
    );
    assert!(commit.replaced.is_empty());
    assert_eq!(stats.inserted, 40);
    let found = store.query(&EventQuery::default()).unwrap();
    assert_eq!(found.len(), 40);
    for stored in found {
        let n: usize = stored.event.event_id[1..].parse().unwrap();
        assert_eq!(store.raw(stored.id).unwrap(), raws[n].as_bytes());
    }
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn a_more_complete_stage_replaces_the_stored_one_in_either_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.db")).unwrap();
    let early = store
        .write_batch(vec![batch(
            "/1",
            vec![(event("a", 0, &["ns/web"]), "{\"stage\":0}")],
        )])
        .unwrap();
    let (early, early_commit) = early;
    assert_eq!(early.inserted, 1);
    let late = store
        .write_batch(vec![batch(
            "/2",
            vec![(event("a", 3, &["ns/web", "uid-1"]), "{\"stage\":3}")],
        )])
        .unwrap();
    let (late, late_commit) = late;
    assert_eq!((late.inserted, late.upgraded), (0, 1));
    // The replacing batch stores the event again and says which leaf the earlier batch
    // committed to.
    let id = early_commit.stored[0].0;
    assert_eq!(late_commit.stored.len(), 1);
    assert_eq!(late_commit.stored[0].0, id);
    assert_ne!(late_commit.stored[0].1, early_commit.stored[0].1);
    assert_eq!(late_commit.replaced, [(id, Some(early_commit.stored[0].1))]);
    let again = store
        .write_batch(vec![batch(
            "/3",
            vec![(event("a", 0, &["ns/web"]), "{\"stage\":0}")],
        )])
        .unwrap();
    let (again, again_commit) = again;
    assert!(again_commit.stored.is_empty());
    assert_eq!(
        again.duplicates, 1,
        "a less complete copy never replaces a better one"
    );

    let stored = store.query(&EventQuery::default()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event.outcome, Outcome::Success);
    assert_eq!(store.raw(stored[0].id).unwrap(), b"{\"stage\":3}");
    let by_uid = store
        .query(&EventQuery {
            resource: Some("uid-1".into()),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(by_uid.len(), 1);
    assert!(store.check().unwrap().is_empty());
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
        .map(|i| (event(&format!("e{i}"), 3, &["ns/web"]), "{}"))
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
    conn.execute("DELETE FROM raw_blocks", []).unwrap();
    assert_eq!(
        store.check().unwrap(),
        [
            "2 events have no evidence block",
            "1 resource references point at no event"
        ]
    );
}
