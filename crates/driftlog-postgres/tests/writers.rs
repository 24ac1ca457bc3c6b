//! Several writers on one store (schema 7): each remembers the identity hashes of the blocks
//! it has read or written (`identities::Seen`), and that memory must neither let a duplicate
//! another writer stored through, nor hide an event another writer has since removed.

use driftlog_core::AuditEvent;
use driftlog_postgres::testing::{self, Database};
use driftlog_postgres::PgEventStore;
use driftlog_store::conformance::{batch, k8s};
use driftlog_store::{EventQuery, EventStore};

/// Events `from..to`, one second apart, each naming its own resource.
fn events(from: i64, to: i64) -> Vec<(AuditEvent, String)> {
    (from..to)
        .map(|i| {
            let mut e = k8s(&format!("ev-{i}"), 0, &[&format!("ns/r{i}")]);
            e.time_us += i * 1_000_000;
            (e, format!("{{\"auditID\":\"ev-{i}\"}}"))
        })
        .collect()
}

fn ids(store: &PgEventStore) -> Vec<String> {
    store
        .query(&EventQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.event.event_id)
        .collect()
}

#[test]
fn writers_find_each_others_copies_and_never_hide_a_removed_event() {
    let Some(admin) = testing::server() else {
        return;
    };
    let db = Database::new(&admin);
    let mut a = PgEventStore::connect(&db.url).unwrap();
    let mut b = PgEventStore::connect(&db.url).unwrap();
    // More than a block's worth, so the copies are spread over several blocks.
    let (stats, _) = a.write_batch(vec![batch("/a1", events(0, 600))]).unwrap();
    assert_eq!(stats.inserted, 600);
    // B has seen nothing: it reads A's blocks' hashes and finds the copies.
    let (stats, _) = b.write_batch(vec![batch("/b1", events(500, 700))]).unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (100, 100));
    // A has seen its own blocks, not B's: it reads B's and finds those copies too.
    let (stats, _) = a.write_batch(vec![batch("/a2", events(650, 800))]).unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (100, 50));
    assert_eq!(a.event_count().unwrap(), 800);

    // B removes events A has seen; A then stores them again.
    let gone: Vec<i64> = a
        .query(&EventQuery::default())
        .unwrap()
        .iter()
        .filter(|e| e.event.event_id.as_str() < "ev-105" && e.event.event_id.len() == 6)
        .map(|e| e.id)
        .collect();
    assert_eq!(gone.len(), 5, "ev-100 to ev-104");
    assert_eq!(b.delete_events(&gone).unwrap(), 5);
    assert_eq!(a.event_count().unwrap(), 795);
    let (stats, _) = a.write_batch(vec![batch("/a3", events(100, 110))]).unwrap();
    assert_eq!((stats.inserted, stats.duplicates), (5, 5));
    let stored = ids(&a);
    assert_eq!(stored.len(), 800);
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 800, "each event once");
    assert_eq!(ids(&b), stored, "both writers read the same store");
}
