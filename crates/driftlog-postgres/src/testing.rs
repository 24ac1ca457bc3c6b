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

/// A fresh database at the latest schema and a client on it, for tests of the store's parts
/// beneath its API; `None` (having said why) without a test server.
pub fn migrated() -> Option<(Database, Client)> {
    let db = Database::new(&server()?);
    migrate_to(&db.url, usize::MAX);
    let c = Client::connect(&db.url, NoTls).expect("connect to the test database");
    Some((db, c))
}

/// Migrate the database at `url` to schema `version` only: a store as an earlier release left
/// it, for migration tests.
pub fn migrate_to(url: &str, version: usize) {
    let mut c = Client::connect(url, NoTls).expect("connect to the test database");
    if crate::pool::migrate_to(&mut c, version).is_err() {
        panic!("could not migrate the test database to version {version}");
    }
}

/// The month partitions of the events at `url` (of `audit_event_blocks`), by name, with how
/// many events each holds.
pub fn partitions(url: &str) -> Vec<(String, i64)> {
    let mut c = Client::connect(url, NoTls).expect("connect to the test database");
    let names: Vec<String> = c
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'audit_event_blocks'::regclass ORDER BY 1",
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
                .query_one(
                    &format!("SELECT coalesce(sum(events), 0)::int8 FROM {name}"),
                    &[],
                )
                .expect("count a partition")
                .get(0);
            (name, n)
        })
        .collect()
}

/// Every stored event's id and packed facets at `url`, in id order: from its blocks, or from
/// `audit_events` in a store not yet migrated to them.
pub fn facets(url: &str) -> Vec<(i64, i32)> {
    let mut c = Client::connect(url, NoTls).expect("connect to the test database");
    let blocks: bool = c
        .query_one("SELECT to_regclass('audit_event_blocks') IS NOT NULL", &[])
        .expect("look for the blocks")
        .get(0);
    if !blocks {
        return c
            .query("SELECT id, facets FROM audit_events ORDER BY id", &[])
            .expect("read the events")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    }
    let mut out: Vec<(i64, i32)> = rows(&mut c).iter().map(|r| (r.id, r.facets)).collect();
    out.sort_unstable();
    out
}

/// Every event of the store `c` is connected to, from its blocks.
fn rows(c: &mut Client) -> Vec<crate::blocks::Row> {
    c.query("SELECT data FROM audit_event_blocks ORDER BY first_id", &[])
        .expect("read the blocks")
        .iter()
        .flat_map(|r| crate::blocks::decode(r.get(0)).expect("a block this release wrote"))
        .collect()
}

/// The columns of `audit_events` as schema 6 has them, in order.
const ROW_COLUMNS: &str = "id BIGINT, source INTEGER, event_id BYTEA, time_us BIGINT, \
    account INTEGER, region INTEGER, service INTEGER, action INTEGER, read_only BOOLEAN, \
    outcome INTEGER, error_message TEXT, principal INTEGER, principal_type INTEGER, \
    issuer INTEGER, session_name INTEGER, source_identity TEXT, on_behalf_of TEXT, \
    invoked_by INTEGER, mfa BOOLEAN, actor_kind INTEGER, actor_rule INTEGER, \
    source_ip INTEGER, user_agent INTEGER, resources INTEGER[], completeness SMALLINT, \
    raw_block BIGINT, raw_offset INTEGER, raw_len INTEGER, leaf BYTEA, facets INTEGER";

/// The events of the store `c` is connected to, unpacked into a temporary `audit_events`
/// with a row each, as schema 6 kept them.
fn unpack(c: &mut Client) {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    let rows = rows(c);
    c.batch_execute(&format!("CREATE TEMP TABLE audit_events ({ROW_COLUMNS})"))
        .expect("make the rows' table");
    let types = [
        Type::INT8,
        Type::INT4,
        Type::BYTEA,
        Type::INT8,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::BOOL,
        Type::INT4,
        Type::TEXT,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::BOOL,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::INT4_ARRAY,
        Type::INT2,
        Type::INT8,
        Type::INT4,
        Type::INT4,
        Type::BYTEA,
        Type::INT4,
    ];
    let sink = c
        .copy_in("COPY audit_events FROM STDIN (FORMAT binary)")
        .expect("copy rows in");
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for r in &rows {
        let (completeness, offset, len) = (
            i16::from(r.completeness),
            r.raw_offset as i32,
            r.raw_len as i32,
        );
        w.write(&[
            &r.id,
            &r.source,
            &r.event_id,
            &r.time_us,
            &r.account,
            &r.region,
            &r.service,
            &r.action,
            &r.read_only,
            &r.outcome,
            &r.error_message,
            &r.principal,
            &r.principal_type,
            &r.issuer,
            &r.session_name,
            &r.source_identity,
            &r.on_behalf_of,
            &r.invoked_by,
            &r.mfa,
            &r.actor_kind,
            &r.actor_rule,
            &r.source_ip,
            &r.user_agent,
            &r.resources,
            &completeness,
            &r.raw_block,
            &offset,
            &len,
            &r.leaf,
            &r.facets,
        ])
        .expect("write a row");
    }
    w.finish().expect("finish the rows");
}

/// Copy the events (with their evidence, files and dictionaries) of a store this release wrote
/// at `from` into the store at `to`, migrated to an earlier schema (4, 5 or 6): a row per
/// event as that release would have written them, strings in the events' own columns before
/// migration 6, ids into `audit_strings` from it on.
pub fn copy_as_earlier_release(from: &str, to: &str) {
    use std::io::{Read as _, Write as _};
    let mut from = Client::connect(from, NoTls).expect("connect to the source database");
    let mut to = Client::connect(to, NoTls).expect("connect to the target database");
    unpack(&mut from);
    let interned: bool = to
        .query_one(
            "SELECT data_type = 'integer' FROM information_schema.columns \
             WHERE table_name = 'audit_events' AND column_name = 'source'",
            &[],
        )
        .expect("read the target's column type")
        .get(0);
    let text = |column: &str| format!("(SELECT text FROM audit_strings WHERE id = {column})");
    let events = if interned {
        "SELECT * FROM audit_events ORDER BY id".to_owned()
    } else {
        format!(
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
    )
    };
    // A partitioned store (schema 5 on) has its months' partitions made first, as its writer
    // did.
    let partitioned: bool = to
        .query_one(
            "SELECT relkind = 'p' FROM pg_class WHERE relname = 'audit_events'",
            &[],
        )
        .expect("read the target's table kind")
        .get(0);
    if partitioned {
        let months: std::collections::BTreeSet<crate::partitions::Month> = from
            .query("SELECT time_us FROM audit_events", &[])
            .expect("read the times")
            .iter()
            .filter_map(|r| crate::partitions::Month::of(r.get(0)))
            .collect();
        for m in months {
            to.batch_execute(&format!(
                "CREATE TABLE audit_events_p{} PARTITION OF audit_events FOR VALUES FROM ({}) TO ({})",
                m.suffix(),
                m.from_us,
                m.to_us
            ))
            .expect("make a month's partition");
        }
    }
    let mut tables = vec![
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
    ];
    if interned {
        for table in ["audit_strings", "audit_string_facets", "audit_facets"] {
            tables.push((table, format!("SELECT * FROM {table} ORDER BY 1")));
        }
    }
    for (table, select) in tables {
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
    if interned {
        to.batch_execute(
            "SELECT setval(pg_get_serial_sequence('audit_strings', 'id'), \
             (SELECT coalesce(max(id), 1) FROM audit_strings))",
        )
        .expect("move the strings' sequence on");
    }
}

/// Change the action of stored event `id` at `url` to `action`, in its block, as an edit
/// behind driftlog's back would (for `verify`'s tests).
pub fn change_action(url: &str, id: i64, action: &str) {
    let mut c = Client::connect(url, NoTls).expect("connect to the test database");
    let mut tx = c.transaction().expect("begin");
    let action: i32 = tx
        .query_one(
            "INSERT INTO audit_strings (text) VALUES ($1) \
             ON CONFLICT (text) DO UPDATE SET text = excluded.text RETURNING id",
            &[&action],
        )
        .expect("intern the action")
        .get(0);
    let block = tx
        .query_one(
            "SELECT first_id, data FROM audit_event_blocks WHERE first_id <= $1 \
             ORDER BY first_id DESC LIMIT 1",
            &[&id],
        )
        .expect("find the event's block");
    let first: i64 = block.get(0);
    let mut rows = crate::blocks::decode(block.get(1)).expect("a block this release wrote");
    rows.iter_mut()
        .find(|r| r.id == id)
        .expect("the event is in its block")
        .action = action;
    tx.execute(
        "UPDATE audit_event_blocks SET data = $2 WHERE first_id = $1",
        &[&first, &crate::blocks::encode(&rows)],
    )
    .expect("write the block back");
    tx.commit().expect("commit");
}
