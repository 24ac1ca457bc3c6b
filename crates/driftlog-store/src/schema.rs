//! The schema and its migrations. `PRAGMA user_version` records how far a store has come; each
//! migration runs once, in its own transaction, in order. Never edit a released migration:
//! add the next one.

use crate::error::Unplaced;
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: events, their resources, their raw records, and the files they came from.
    "CREATE TABLE files (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        events      INTEGER NOT NULL,
        ingested_at TEXT NOT NULL
    );
    CREATE INDEX files_sha256 ON files (sha256);

    -- Values that repeat across millions of events (principals, user agents, actions,
    -- regions...) are stored once here; the INTEGER columns of `events` are ids into it.
    -- Rows and indexes stay small.
    CREATE TABLE strings (
        id   INTEGER PRIMARY KEY,
        text TEXT NOT NULL UNIQUE
    );

    CREATE TABLE events (
        id              INTEGER PRIMARY KEY,
        source          INTEGER NOT NULL,
        event_id        TEXT NOT NULL,
        time_us         INTEGER NOT NULL,
        account         INTEGER,
        region          INTEGER,
        service         INTEGER,
        action          INTEGER NOT NULL,
        read_only       INTEGER,
        outcome         INTEGER NOT NULL,
        error_message   TEXT,
        principal       INTEGER,
        principal_type  INTEGER,
        issuer          INTEGER,
        session_name    TEXT,
        source_identity TEXT,
        on_behalf_of    TEXT,
        invoked_by      INTEGER,
        mfa             INTEGER,
        actor_kind      INTEGER NOT NULL,
        actor_rule      INTEGER NOT NULL,
        source_ip       TEXT,
        user_agent      INTEGER,
        resources       TEXT NOT NULL,
        completeness    INTEGER NOT NULL,
        raw_block       INTEGER NOT NULL,
        raw_offset      INTEGER NOT NULL,
        raw_len         INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX events_identity ON events (source, event_id);

    -- The original records, packed many to a block and compressed together (records of one
    -- file share most of their text, so a block compresses several times better than a
    -- record alone). Kept apart from `events` so scans never page through evidence.
    CREATE TABLE raw_blocks (
        id  INTEGER PRIMARY KEY,
        lz4 BLOB NOT NULL
    );

    -- Every resource an event names, in time order per resource: the latest writes to one
    -- reads the newest entries of one range and stops.
    CREATE TABLE refs (
        ref     TEXT NOT NULL,
        time_us INTEGER NOT NULL,
        event   INTEGER NOT NULL,
        PRIMARY KEY (ref, time_us, event)
) WITHOUT ROWID;",
];

/// Indexes that serve queries only. A large ingest drops them and builds them again at the
/// end (sorting once is far cheaper than a million random insertions); if it is killed in
/// between, the next open builds them, so a store never stays without them.
pub(crate) const QUERY_INDEXES: &[(&str, &str)] = &[
    ("events_time", "events (time_us)"),
    ("events_principal", "events (principal, time_us)"),
    (
        "events_issuer",
        "events (issuer, time_us) WHERE issuer IS NOT NULL",
    ),
    ("events_action", "events (action, time_us)"),
];

/// Create any missing query index.
pub(crate) fn ensure_query_indexes(conn: &Connection) -> rusqlite::Result<()> {
    for (name, on) in QUERY_INDEXES {
        conn.execute_batch(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on};"))?;
    }
    Ok(())
}

pub(crate) fn drop_query_indexes(conn: &Connection) -> rusqlite::Result<()> {
    for (name, _) in QUERY_INDEXES {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {name};"))?;
    }
    Ok(())
}

/// The schema version this build writes.
pub(crate) const CURRENT: i64 = MIGRATIONS.len() as i64;

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), Unplaced> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > CURRENT {
        return Err(Unplaced::TooNew {
            found,
            known: CURRENT,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and our lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
