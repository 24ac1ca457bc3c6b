//! Repeated values stored once, facets packed (schema 6): a store of the release before, whose
//! events hold their strings in their own columns, is converted on connect, and every lookup
//! answers as before.

use driftlog_postgres::testing::{self, Database};
use driftlog_postgres::PgEventStore;
use driftlog_store::conformance::{batch, every_answer, k8s, write_filter_matrix};
use driftlog_store::{EventQuery, EventStore};
use postgres::{Client, NoTls};

/// Lookups by exact values, globs, resources, facets and values no event has (compared with a
/// store this release wrote, which the conformance suite's filter matrix holds to filtering
/// by hand).
fn queries() -> Vec<EventQuery> {
    let q = EventQuery::default;
    vec![
        q(),
        EventQuery {
            principal: Some("arn:aws:iam::1:user/p3".into()),
            ..q()
        },
        EventQuery {
            principal: Some("arn:aws:iam::1:role/*".into()),
            writes_only: true,
            ..q()
        },
        EventQuery {
            resource: Some("r7".into()),
            action: Some("Put*".into()),
            ..q()
        },
        EventQuery {
            resource: Some("s*".into()),
            limit: Some(5),
            ..q()
        },
        EventQuery {
            principal: Some("nobody".into()),
            ..q()
        },
        EventQuery {
            resource: Some("no-such-resource".into()),
            ..q()
        },
        EventQuery {
            source: Some(driftlog_core::Source::Kubernetes),
            writes_only: true,
            limit: Some(4),
            ..q()
        },
        EventQuery {
            actor_kind: Some(driftlog_core::ActorKind::Console),
            limit: Some(7),
            ..q()
        },
        EventQuery {
            resource: Some("ns/ids".into()),
            ..q()
        },
    ]
}

/// The filter matrix, and events whose ids take every form (`event_ids::to_bytes`): a UUID,
/// one in capitals (kept as text), texts of 15 and 16 bytes (one and two end bytes), and
/// one beyond ASCII.
fn write_events(store: &mut dyn EventStore) {
    write_filter_matrix(store);
    let ids = [
        "3038ebd2-c98a-4c65-9b6e-e22506292313",
        "3038EBD2-C98A-4C65-9B6E-E22506292313",
        "abcdefghijklmno",
        "abcdefghijklmnop",
        "überwachung-1",
    ];
    let events = ids
        .iter()
        .map(|id| (k8s(id, 0, &["ns/ids"]), format!("{{\"id\":\"{id}\"}}")))
        .collect();
    store.write_batch(vec![batch("/ids", events)]).unwrap();
}

#[test]
fn a_store_with_strings_in_its_rows_is_converted_on_connect() {
    let Some(admin) = testing::server() else {
        return;
    };
    // Each event's packed facets, as this release's writer computes them.
    let facets = testing::facets;
    let other = Database::new(&admin);
    let (want, want_facets) = {
        let mut store = PgEventStore::connect(&other.url).unwrap();
        write_events(&mut store);
        (every_answer(&store, &queries()), facets(&other.url))
    };
    let db = Database::new(&admin);
    testing::migrate_to(&db.url, 5);
    {
        let staging = Database::new(&admin);
        let mut store = PgEventStore::connect(&staging.url).unwrap();
        write_events(&mut store);
        drop(store);
        testing::copy_as_earlier_release(&staging.url, &db.url);
    }
    let column_type = |c: &mut Client, column: &str| -> String {
        c.query_one(
            "SELECT data_type FROM information_schema.columns \
             WHERE table_name = 'audit_events' AND column_name = $1",
            &[&column],
        )
        .unwrap()
        .get(0)
    };
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    assert_eq!(
        column_type(&mut c, "principal"),
        "text",
        "strings in the rows before"
    );

    testing::migrate_to(&db.url, 6);
    assert_eq!(
        facets(&db.url),
        want_facets,
        "the migration packs facets as the writer does"
    );
    assert_eq!(column_type(&mut c, "principal"), "integer");
    assert_eq!(column_type(&mut c, "resources"), "ARRAY");
    let mut store = PgEventStore::connect(&db.url).unwrap();
    assert_eq!(every_answer(&store, &queries()), want);
    assert_eq!(facets(&db.url), want_facets, "and blocks keep them");
    // Each value once, however many events and columns hold it.
    let (strings, distinct): (i64, i64) = c
        .query_one(
            "SELECT count(*), count(DISTINCT text) FROM audit_strings",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(strings, distinct);
    assert!(strings > 0);

    // The converted store takes new events, reusing the strings it holds.
    let before = strings;
    write_events(&mut store);
    let after: i64 = c
        .query_one("SELECT count(*) FROM audit_strings", &[])
        .unwrap()
        .get(0);
    assert_eq!(after, before, "the same events again add no string");
    assert_eq!(every_answer(&store, &queries()), want, "and are duplicates");
}

#[test]
fn a_store_of_the_release_before_is_packed_in_blocks_on_connect() {
    let Some(admin) = testing::server() else {
        return;
    };
    let other = Database::new(&admin);
    let (want, want_facets, want_after) = {
        let mut store = PgEventStore::connect(&other.url).unwrap();
        write_events(&mut store);
        let after = store.events_after(0, usize::MAX).unwrap();
        (
            every_answer(&store, &queries()),
            testing::facets(&other.url),
            after
                .into_iter()
                .map(|(e, raw, leaf)| (e.id, e.event.event_id, raw, leaf))
                .collect::<Vec<_>>(),
        )
    };
    // Schema 6: a row per event, strings as ids.
    let db = Database::new(&admin);
    testing::migrate_to(&db.url, 6);
    {
        let staging = Database::new(&admin);
        let mut store = PgEventStore::connect(&staging.url).unwrap();
        write_events(&mut store);
        drop(store);
        testing::copy_as_earlier_release(&staging.url, &db.url);
    }
    assert_eq!(testing::facets(&db.url), want_facets, "rows before");
    let mut store = PgEventStore::connect(&db.url).unwrap();
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    let rows: bool = c
        .query_one("SELECT to_regclass('audit_events') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!rows, "the rows' table is gone");
    assert_eq!(every_answer(&store, &queries()), want);
    assert_eq!(testing::facets(&db.url), want_facets);
    let after: Vec<_> = store
        .events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(e, raw, leaf)| (e.id, e.event.event_id, raw, leaf))
        .collect();
    assert_eq!(after, want_after, "ids, records and leaves as before");
    // Still a store that takes events: the same again are duplicates.
    write_events(&mut store);
    assert_eq!(every_answer(&store, &queries()), want);
}
