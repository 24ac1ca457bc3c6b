//! The conformance suites of the event store (`driftlog_store::conformance`) and the service
//! store (`driftlog_store::service::conformance`), the same cases the SQLite stores run, and
//! the ledger's checks, against PostgreSQL: each case in a database of its own, made and
//! dropped here. The server is `$DRIFTLOG_TEST_POSTGRES` (a URL whose role may create
//! databases); `.ci/run` starts one (scripts/start-test-postgres). Without it the test says so
//! and does nothing.

use driftlog_postgres::testing::{server, Database};
use driftlog_postgres::PgServiceStore;
use postgres::{Client, NoTls};

#[test]
fn the_postgres_store_conforms() {
    let Some(admin) = server() else {
        return;
    };
    for (name, case) in driftlog_store::service::conformance::cases() {
        let db = Database::new(&admin);
        let store = PgServiceStore::connect(&db.url).unwrap();
        eprintln!("case {name}");
        case(&store);
    }
}

#[test]
fn two_workers_migrating_at_once_migrate_once_and_a_password_is_never_shown() {
    let Some(admin) = server() else {
        return;
    };
    let db = Database::new(&admin);
    std::thread::scope(|s| {
        let a = s.spawn(|| PgServiceStore::connect(&db.url).map(drop));
        let b = s.spawn(|| PgServiceStore::connect(&db.url).map(drop));
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
    });
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    let versions: i64 = c
        .query_one("SELECT count(*) FROM driftlog_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
    assert_eq!(
        driftlog_postgres::redact("postgres://drift:s3cret@db.internal:5432/driftlog"),
        "postgres://drift:***@db.internal:5432/driftlog"
    );
    let refused = PgServiceStore::connect("postgres://nobody:s3cret-canary@127.0.0.1:1/none")
        .err()
        .expect("nothing listens on port 1");
    assert!(!refused.to_string().contains("s3cret-canary"), "{refused}");
}

#[test]
fn the_postgres_event_store_conforms() {
    let Some(admin) = server() else {
        return;
    };
    for (name, case) in driftlog_store::conformance::cases() {
        let db = Database::new(&admin);
        let mut store = driftlog_postgres::PgEventStore::connect(&db.url).unwrap();
        eprintln!("case {name}");
        case(&mut store);
    }
}

/// The ledger's logic on PostgreSQL rows: appends, signed checkpoints, and tampering found at
/// its index, as with the SQLite rows (driftlog-ledger's tests/tamper.rs).
#[test]
fn a_ledger_in_postgres_verifies_and_finds_tampering() {
    use driftlog_ledger::note::SignerKey;
    use driftlog_ledger::Ledger;
    let Some(admin) = server() else {
        return;
    };
    let db = Database::new(&admin);
    let open = || {
        Ledger::with_storage(Box::new(
            driftlog_postgres::PgLedger::connect(&db.url).unwrap(),
        ))
    };
    let mut ledger = open();
    let entries: Vec<(&str, serde_json::Value)> = (0..20)
        .map(|i| {
            (
                "finding",
                serde_json::json!({"address": format!("aws_instance.web[{i}]")}),
            )
        })
        .collect();
    assert_eq!(
        ledger.append(&entries[..10]).unwrap(),
        (0..10).collect::<Vec<u64>>()
    );
    let key = SignerKey::generate("driftlog.test/ledger").unwrap();
    ledger.checkpoint(&key).unwrap();
    // A second process appends after the first.
    assert_eq!(
        open().append(&entries[10..]).unwrap(),
        (10..20).collect::<Vec<u64>>()
    );
    ledger.checkpoint(&key).unwrap();
    let (len, checked, damage) = ledger.verify_all(Some(&key.verifier())).unwrap();
    assert_eq!((len, checked, damage), (20, 2, None));

    let mut c = Client::connect(&db.url, NoTls).unwrap();
    c.batch_execute(
        "UPDATE ledger_entries SET body = convert_to(replace(convert_from(body, 'UTF8'), 'web[5]', 'web[X]'), 'UTF8') WHERE idx = 5",
    )
    .unwrap();
    let (_, damage) = open().verify().unwrap();
    assert_eq!(damage.expect("the edit is found").index, 5);
}

/// A server's worth of concurrent callers (a hundred threads) queue for the process's few
/// connections instead of exhausting the server's slots; every call succeeds.
#[test]
fn many_callers_at_once_share_a_bounded_number_of_connections() {
    use driftlog_store::service::ServiceStore;
    let Some(admin) = server() else {
        return;
    };
    let db = Database::new(&admin);
    let store = PgServiceStore::connect(&db.url).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let most = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut c = Client::connect(&db.url, NoTls).unwrap();
            let mut most = 0i64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let n: i64 = c
                    .query_one(
                        // Client backends only: an autovacuum or parallel worker in
                        // this database is the server's, not one of the pool's.
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid() \
                         AND backend_type = 'client backend'",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                most = most.max(n);
            }
            most
        });
        let callers: Vec<_> = (0..100)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..20 {
                        store.stacks().unwrap();
                    }
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        watcher.join().unwrap()
    });
    assert!(
        most > 1,
        "the callers ran concurrently ({most} connections)"
    );
    assert!(most <= 16, "{most} connections for one process");
}
