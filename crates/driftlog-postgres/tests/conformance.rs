//! The service store's conformance suite (`driftlog_store::service::conformance`, the same
//! cases the SQLite store runs) against PostgreSQL: each case in a database of its own, made
//! and dropped here. The server is `$DRIFTLOG_TEST_POSTGRES` (a URL whose role may create
//! databases); `.ci/run` starts one (scripts/start-test-postgres). Without it the test says so
//! and does nothing.

use driftlog_postgres::PgServiceStore;
use postgres::{Client, NoTls};

fn server() -> Option<String> {
    match std::env::var("DRIFTLOG_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIP: DRIFTLOG_TEST_POSTGRES is not set (scripts/start-test-postgres starts a server and prints it)"
            );
            None
        }
    }
}

/// A fresh database on the server; dropped when the guard goes.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn new(admin: &str) -> Self {
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("driftlog_test_{}", hex::encode(bytes));
        let mut c = Client::connect(admin, NoTls).expect("connect to the test server");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = match admin.rfind('/') {
            Some(i) if admin[..i].contains('@') || admin.starts_with("postgres") => {
                let (base, rest) = admin.split_at(i);
                let query = rest.find('?').map_or("", |q| &rest[q..]);
                format!("{base}/{name}{query}")
            }
            _ => format!("{admin} dbname={name}"),
        };
        Self {
            admin: admin.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.admin, NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

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
