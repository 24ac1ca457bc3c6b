//! Events partitioned by month (schema 5): a store of the release before is moved into
//! months on connect with every lookup equal, and retention drops whole months with the
//! evidence only they used.

use driftlog_postgres::testing::{self, partitions, Database};
use driftlog_postgres::PgEventStore;
use driftlog_store::conformance::{batch, k8s};
use driftlog_store::{EventQuery, EventStore};
use postgres::{Client, NoTls};

/// 2024-10-15T00:00:00Z and 2024-11-15T00:00:00Z.
const OCTOBER: i64 = 1_728_950_400_000_000;
const NOVEMBER: i64 = 1_731_628_800_000_000;
/// 2024-11-01T00:00:00Z.
const NOVEMBER_FIRST: i64 = 1_730_419_200_000_000;

fn event(id: &str, time_us: i64, resource: &str) -> (driftlog_core::AuditEvent, String) {
    let mut e = k8s(id, 0, &[resource]);
    e.time_us = time_us;
    (e, format!("{{\"id\":\"{id}\",\"t\":{time_us}}}"))
}

/// Every lookup a store answers, as text, for before/after comparisons.
fn every_answer(store: &dyn EventStore) -> Vec<String> {
    let queries = [
        EventQuery::default(),
        EventQuery {
            resource: Some("ns/old".into()),
            ..EventQuery::default()
        },
        EventQuery {
            since_us: Some(NOVEMBER_FIRST),
            ..EventQuery::default()
        },
        EventQuery {
            principal: Some("jane".into()),
            limit: Some(2),
            ..EventQuery::default()
        },
    ];
    driftlog_store::conformance::every_answer(store, &queries)
}

fn write_months(store: &mut dyn EventStore) {
    // October alone, a file straddling the month's end (one evidence block for both
    // months), November alone, and one event from before 1970 (the default partition).
    store
        .write_batch(vec![batch(
            "/october",
            (0..5)
                .map(|i| event(&format!("oct{i}"), OCTOBER + i, "ns/old"))
                .collect(),
        )])
        .unwrap();
    store
        .write_batch(vec![batch(
            "/straddling",
            vec![
                event("eve", NOVEMBER_FIRST - 1, "ns/old"),
                event("dawn", NOVEMBER_FIRST, "ns/new"),
            ],
        )])
        .unwrap();
    store
        .write_batch(vec![batch(
            "/november",
            (0..3)
                .map(|i| event(&format!("nov{i}"), NOVEMBER + i, "ns/new"))
                .collect(),
        )])
        .unwrap();
    store
        .write_batch(vec![batch(
            "/ancient",
            vec![event("ancient", -86_400_000_000, "ns/old")],
        )])
        .unwrap();
}

#[test]
fn a_store_from_before_partitions_is_moved_into_months_on_connect() {
    let Some(admin) = testing::server() else {
        return;
    };
    let db = Database::new(&admin);
    // The same events written by this release, for the answers to compare with.
    let want = {
        let other = Database::new(&admin);
        let mut store = PgEventStore::connect(&other.url).unwrap();
        write_months(&mut store);
        every_answer(&store)
    };
    // A schema-4 store: one table. Its rows are written as this release would, then moved
    // back into one plain table.
    testing::migrate_to(&db.url, 4);
    {
        let staging = Database::new(&admin);
        let mut store = PgEventStore::connect(&staging.url).unwrap();
        write_months(&mut store);
        drop(store);
        testing::copy_as_earlier_release(&staging.url, &db.url);
        let mut c = Client::connect(&db.url, NoTls).unwrap();
        let kind: String = c
            .query_one(
                "SELECT relkind::text FROM pg_class WHERE relname = 'audit_events'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(kind, "r", "a plain table before");
    }
    let store = PgEventStore::connect(&db.url).unwrap();
    assert_eq!(every_answer(&store), want);
    assert_eq!(
        partitions(&db.url),
        [
            ("audit_event_blocks_other".to_owned(), 1),
            ("audit_event_blocks_p2024_10".to_owned(), 6),
            ("audit_event_blocks_p2024_11".to_owned(), 4),
        ]
    );
}

#[test]
fn retention_drops_whole_months_and_the_evidence_only_they_used() {
    let Some(admin) = testing::server() else {
        return;
    };
    let db = Database::new(&admin);
    let mut store = PgEventStore::connect(&db.url).unwrap();
    write_months(&mut store);
    let blocks = |url: &str| -> i64 {
        Client::connect(url, NoTls)
            .unwrap()
            .query_one("SELECT count(*) FROM audit_blocks", &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(blocks(&db.url), 4);
    let october_ids: Vec<i64> = store
        .query(&EventQuery {
            until_us: Some(NOVEMBER_FIRST - 1),
            since_us: Some(0),
            ..EventQuery::default()
        })
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(october_ids.len(), 6);
    let through = store.event_count().unwrap() as i64 + 10;

    // Only months wholly before the cut, and wholly archived.
    assert!(store
        .prunable_partitions(NOVEMBER_FIRST - 1, through)
        .unwrap()
        .is_empty());
    let max_october = *october_ids.iter().max().unwrap();
    assert!(store
        .prunable_partitions(NOVEMBER, max_october - 1)
        .unwrap()
        .is_empty());
    let found = store.prunable_partitions(NOVEMBER, through).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let october = &found[0];
    assert_eq!(october.name, "audit_event_blocks_p2024_10");
    assert_eq!(october.events, 6);
    let mut sorted = october_ids.clone();
    sorted.sort();
    assert_eq!(october.ids, driftlog_store::id_ranges(sorted));

    // A partition that changed since it was listed is left for row-by-row pruning.
    let mut stale = october.clone();
    stale.events += 1;
    assert_eq!(store.drop_partition(&stale).unwrap(), 0);

    assert_eq!(store.drop_partition(october).unwrap(), 6);
    assert_eq!(store.drop_partition(october).unwrap(), 0, "already gone");
    assert_eq!(
        partitions(&db.url),
        [
            ("audit_event_blocks_other".to_owned(), 1),
            ("audit_event_blocks_p2024_11".to_owned(), 4),
        ]
    );
    // October's own block went; the straddling file's block stays for November's event.
    assert_eq!(blocks(&db.url), 3);
    let left: Vec<String> = store
        .events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(e, raw, _)| format!("{} {}", e.event.event_id, String::from_utf8_lossy(&raw)))
        .collect();
    assert_eq!(left.len(), 5);
    assert!(
        left.iter().any(|l| l.starts_with("dawn {\"id\":\"dawn\"")),
        "{left:?}"
    );
    assert!(store
        .query(&EventQuery {
            resource: Some("ns/old".into()),
            since_us: Some(0),
            ..EventQuery::default()
        })
        .unwrap()
        .is_empty());
    // New events of a dropped month make it again.
    store
        .write_batch(vec![batch("/late", vec![event("late", OCTOBER, "ns/old")])])
        .unwrap();
    assert_eq!(partitions(&db.url).len(), 3);
}
