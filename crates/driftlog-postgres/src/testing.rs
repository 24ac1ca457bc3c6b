//! For tests (driftlog's own, here and in the binary's crate): the test server and a fresh
//! database per test. Not part of the API.

use postgres::{Client, NoTls};

/// The test server's URL, `$DRIFTLOG_TEST_POSTGRES` (a role that may create databases); `None`,
/// having said so, when it is not set. `.ci/run` starts one (scripts/start-test-postgres).
pub fn server() -> Option<String> {
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
pub struct Database {
    admin: String,
    name: String,
    pub url: String,
}

impl Database {
    pub fn new(admin: &str) -> Self {
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

/// Migrate the database at `url` to schema `version` only: a store as an earlier release left
/// it, for migration tests.
pub fn migrate_to(url: &str, version: usize) {
    let mut c = Client::connect(url, NoTls).expect("connect to the test database");
    if crate::pool::migrate_to(&mut c, version).is_err() {
        panic!("could not migrate the test database to version {version}");
    }
}

/// The partitions of `audit_events` at `url`, by name, with how many events each holds.
pub fn partitions(url: &str) -> Vec<(String, i64)> {
    let mut c = Client::connect(url, NoTls).expect("connect to the test database");
    let names: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1",
            &[],
        )
        .expect("list partitions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    names
        .into_iter()
        .map(|name| {
            let n: i64 = c
                .query_one(&format!("SELECT count(*) FROM {name}"), &[])
                .expect("count a partition")
                .get(0);
            (name, n)
        })
        .collect()
}
