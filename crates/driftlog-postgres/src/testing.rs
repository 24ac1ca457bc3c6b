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

/// Copy the events (with their evidence, files and dictionaries) of a store this release wrote
/// at `from` into the store at `to`, migrated to an earlier schema (4 or 5): as that release
/// would have written them, strings in the events' own columns (before migration 6).
pub fn copy_as_earlier_release(from: &str, to: &str) {
    use std::io::{Read as _, Write as _};
    let mut from = Client::connect(from, NoTls).expect("connect to the source database");
    let mut to = Client::connect(to, NoTls).expect("connect to the target database");
    let text = |column: &str| format!("(SELECT text FROM audit_strings WHERE id = {column})");
    let events = format!(
        "SELECT id, {}, CASE WHEN octet_length(event_id) = 16 \
             THEN regexp_replace(encode(event_id, 'hex'), \
                  '(.{{8}})(.{{4}})(.{{4}})(.{{4}})(.{{12}})', '\\1-\\2-\\3-\\4-\\5') \
             ELSE convert_from(rtrim(event_id, '\\xff'::bytea), 'UTF8') END, time_us, {}, {}, {}, {}, read_only, {}, error_message, {}, {}, \
         {}, {}, source_identity, on_behalf_of, {}, mfa, {}, {}, {}, {}, \
         ARRAY(SELECT {} FROM unnest(resources) WITH ORDINALITY AS u(r, n) ORDER BY n), \
         completeness, raw_block, raw_offset, raw_len, leaf FROM audit_events ORDER BY id",
        text("source"),
        text("account"),
        text("region"),
        text("service"),
        text("action"),
        text("outcome"),
        text("principal"),
        text("principal_type"),
        text("issuer"),
        text("session_name"),
        text("invoked_by"),
        text("actor_kind"),
        text("actor_rule"),
        text("source_ip"),
        text("user_agent"),
        text("u.r"),
    );
    // A partitioned store (schema 5) has its months' partitions made first, as its writer did.
    let partitioned: bool = to
        .query_one(
            "SELECT relkind = 'p' FROM pg_class WHERE relname = 'audit_events'",
            &[],
        )
        .expect("read the target's table kind")
        .get(0);
    if partitioned {
        let times: Vec<i64> = from
            .query("SELECT time_us FROM audit_events", &[])
            .expect("read the times")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut tx = to.transaction().expect("begin");
        crate::partitions::ensure(&mut tx, times.into_iter()).expect("make the months' partitions");
        tx.commit().expect("commit");
    }
    for (table, select) in [
        ("audit_events", events),
        (
            "audit_blocks",
            "SELECT * FROM audit_blocks ORDER BY 1".into(),
        ),
        ("audit_files", "SELECT * FROM audit_files ORDER BY 1".into()),
        (
            "audit_dictionaries",
            "SELECT * FROM audit_dictionaries ORDER BY 1".into(),
        ),
    ] {
        let mut rows = Vec::new();
        from.copy_out(&format!("COPY ({select}) TO STDOUT"))
            .expect("copy rows out")
            .read_to_end(&mut rows)
            .expect("read rows");
        let mut sink = to
            .copy_in(&format!("COPY {table} FROM STDIN"))
            .expect("copy rows in");
        sink.write_all(&rows).expect("write rows");
        sink.finish().expect("finish the copy");
    }
}
