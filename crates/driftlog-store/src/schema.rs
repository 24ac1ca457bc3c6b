//! The schema and its migrations. `PRAGMA user_version` records how far a store has come; each
//! migration runs once, in its own transaction, in order. Never edit a released migration:
//! add the next one.

use crate::error::Unplaced;
use crate::postings;
use rusqlite::types::Value;
use rusqlite::{Connection, Transaction};

/// One step of the schema: SQL, then (for data that SQL cannot reshape) code, in the same
/// transaction.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Transaction) -> rusqlite::Result<()>>,
    /// It rewrites what an existing store holds more compactly: the freed pages go back to
    /// the file system afterwards.
    compacts: bool,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: V1,
        then: None,
        compacts: false,
    },
    Migration {
        sql: V2,
        then: Some(fill_postings),
        compacts: false,
    },
    Migration {
        sql: V3,
        then: Some(name_the_store),
        compacts: false,
    },
    Migration {
        sql: V4,
        then: None,
        compacts: false,
    },
    Migration {
        sql: V5,
        then: None,
        compacts: false,
    },
    Migration {
        sql: V6,
        then: None,
        compacts: false,
    },
    Migration {
        sql: V7,
        then: Some(fill_facets),
        compacts: false,
    },
    Migration {
        sql: V8,
        then: Some(recompress_evidence),
        compacts: true,
    },
    Migration {
        sql: "",
        then: Some(compact_event_ids),
        compacts: true,
    },
    Migration {
        sql: "",
        then: Some(compact_resource_lists),
        compacts: true,
    },
    Migration {
        sql: V11,
        then: Some(compact_texts_times_and_leaves),
        compacts: true,
    },
    Migration {
        sql: V12,
        then: Some(fill_string_facets),
        compacts: false,
    },
    Migration {
        sql: "",
        then: Some(split_long_lists),
        compacts: false,
    },
    Migration {
        sql: V14,
        then: Some(crate::pieces::cut_blocks),
        compacts: false,
    },
    Migration {
        sql: V15,
        then: None,
        compacts: false,
    },
    Migration {
        sql: V16,
        then: None,
        compacts: false,
    },
    Migration {
        sql: V17,
        then: Some(shape_events),
        compacts: true,
    },
    Migration {
        sql: V18,
        then: None,
        compacts: false,
    },
];

/// The tables of posting lists, each with the column that names what a list is of.
const POSTING_TABLES: [(&str, &str); 3] = [
    ("ref_postings", "name"),
    ("string_postings", "string"),
    ("facet_postings", "facet"),
];

/// 18: the index of each table of posting lists also holds every list's first time and its
/// length, so what a lookup would decode (its cost, `query::Store::list_bytes`) is summed
/// from the index alone. Summed through the rows, a busy facet's cost read a few hundred
/// 16 KB pages (0.6 to 1.5 ms on a million events), more than many whole answers take.
const V18: &str = "DROP INDEX ref_postings_name;
    CREATE INDEX ref_postings_name ON ref_postings (name, last_us, first_us, length(events));
    DROP INDEX string_postings_string;
    CREATE INDEX string_postings_string
        ON string_postings (string, last_us, first_us, length(events));
    DROP INDEX facet_postings_facet;
    CREATE INDEX facet_postings_facet ON facet_postings (facet, last_us, first_us, length(events));";

/// 17: an event's row holds the id of its shape (`crate::shapes`) where ten columns were
/// (account, region, service, outcome, principal type, invoking service, actor rule, user
/// agent, MFA, completeness), and one body (`crate::body`) where eight were (the five free
/// texts, the record's offset and length in its block, the resources): some 22 bytes an event
/// less on generated CloudTrail. SQLite cannot drop columns without rewriting the table once
/// for each, so [`shape_events`] copies the rows once into this table, which then takes the
/// old one's name.
const V17: &str = "CREATE TABLE shapes (
        id    INTEGER PRIMARY KEY,
        shape BLOB NOT NULL UNIQUE
    );
    CREATE TABLE events_shaped (
        id         INTEGER PRIMARY KEY,
        source     INTEGER NOT NULL,
        event_id   TEXT NOT NULL,
        time_us    INTEGER NOT NULL,
        action     INTEGER NOT NULL,
        read_only  INTEGER,
        principal  INTEGER,
        issuer     INTEGER,
        actor_kind INTEGER NOT NULL,
        shape      INTEGER NOT NULL,
        raw_block  INTEGER NOT NULL,
        body       BLOB NOT NULL,
        leaf       BLOB
    );";

/// 17: copy every event into `events_shaped` with its shape and body, in id order, then put
/// it in the place of `events` and key it as schema 16 did. The other columns are copied as
/// they are stored, so the events and their leaves read back unchanged.
fn shape_events(tx: &Transaction) -> rusqlite::Result<()> {
    use crate::texts::{id_of, StoredText, Table};
    const KEPT: &str = "id, source, event_id, time_us, action, read_only, principal, issuer, \
        actor_kind, raw_block, leaf";
    const KEPT_COUNT: usize = 11;
    let mut read = tx.prepare(&format!(
        "SELECT {KEPT}, account, region, service, outcome, principal_type, invoked_by, \
         actor_rule, user_agent, mfa, completeness, error_message, session_name, \
         source_identity, on_behalf_of, source_ip, raw_offset, raw_len, resources \
         FROM events ORDER BY id"
    ))?;
    let placeholders: Vec<String> = (1..=KEPT_COUNT + 2).map(|i| format!("?{i}")).collect();
    let mut write = tx.prepare(&format!(
        "INSERT INTO events_shaped ({KEPT}, shape, body) VALUES ({})",
        placeholders.join(", ")
    ))?;
    let mut shapes: rustc_hash::FxHashMap<Vec<u8>, i64> = Default::default();
    let mut texts: rustc_hash::FxHashMap<String, i64> = Default::default();
    let mut names: rustc_hash::FxHashMap<String, i64> = Default::default();
    let mut bytes = Vec::new();
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let mut values: Vec<Value> = (0..KEPT_COUNT)
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<_>>()?;
        let at = |i: usize| KEPT_COUNT + i;
        let id = |i: usize| row.get::<_, Option<i64>>(at(i));
        let shape = crate::shapes::Shape {
            account: id(0)?,
            region: id(1)?,
            service: id(2)?,
            outcome: id(3)?,
            principal_type: id(4)?,
            invoked_by: id(5)?,
            actor_rule: id(6)?,
            user_agent: id(7)?,
            mfa: row.get(at(8))?,
            completeness: row.get::<_, i64>(at(9))?.clamp(0, i64::from(u8::MAX)) as u8,
        };
        shape.encode_into(&mut bytes);
        let shape = crate::texts::interned_id(tx, "shapes", "shape", &mut shapes, &bytes[..])?;
        let mut body = crate::body::Body::default();
        for (i, slot) in body.texts.iter_mut().enumerate() {
            // Schema 11 made every text an id; a damaged one is left out, as readers did.
            *slot = match crate::texts::decode(row.get_ref(at(10 + i))?) {
                Ok(Some(StoredText::Id(id))) => Some(id),
                Ok(Some(StoredText::Text(text))) => {
                    Some(id_of(tx, Table::Texts, &mut texts, &text)?)
                }
                Ok(None) | Err(_) => None,
            };
        }
        // A place beyond what the writer ever wrote is damage: it reads as an empty record,
        // which `driftlog verify` then names.
        let place = |i: usize| -> rusqlite::Result<u32> {
            Ok(u32::try_from(row.get::<_, i64>(at(i))?).unwrap_or(0))
        };
        body.raw_offset = place(15)?;
        body.raw_len = place(16)?;
        body.resources = match crate::resource_lists::decode(row.get_ref(at(17))?) {
            Ok(crate::resource_lists::StoredResources::Ids(ids)) => ids,
            Ok(crate::resource_lists::StoredResources::Names(listed)) => listed
                .iter()
                .map(|name| id_of(tx, Table::RefNames, &mut names, name))
                .collect::<rusqlite::Result<_>>()?,
            Err(_) => Vec::new(),
        };
        body.encode_into(&mut bytes);
        values.push(Value::Integer(shape));
        values.push(Value::Blob(bytes.clone()));
        write.execute(rusqlite::params_from_iter(values))?;
    }
    drop(rows);
    drop(read);
    drop(write);
    tx.execute_batch(
        "DROP TABLE events;
         ALTER TABLE events_shaped RENAME TO events;
         CREATE INDEX events_key ON events (time_us / 1000000, substr(event_id, 1, 4));",
    )
}

/// 16: the identity index keys an event by its time in whole seconds, not microseconds:
/// four bytes where eight were (a time after 2038 takes six), 4.4 bytes an event less in all
/// with the cells' overhead. Audit logs mostly stamp whole seconds (CloudTrail always), so
/// the index finds the same few rows for a probe; the writer compares the whole time in the
/// row. Listings in time order read the index by second and order each second's rows
/// themselves (`query::Store::rows_matching`), and a time range is also asked of the second
/// ([`key_second`]) so the index serves it. The pages the old index leaves free are reused
/// by the next ingest.
const V16: &str = "DROP INDEX events_key;
    CREATE INDEX events_key ON events (time_us / 1000000, substr(event_id, 1, 4));";

/// An event's second as the identity index keys it (`V16`): SQLite's `time_us / 1000000`,
/// which truncates toward zero as Rust's division does (so before 1970 a second holds the
/// microseconds above it, and the order of seconds is still the order of times).
pub(crate) fn key_second(time_us: i64) -> i64 {
    time_us / 1_000_000
}

/// The plan SQLite makes for `sql`, one line per step, with every parameter bound to NULL.
#[cfg(test)]
pub(crate) fn plan_of(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let nulls = vec![Value::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// 15: the identity index keys an event by its time and the first four bytes (or characters)
/// of its id, not by its time, source and whole id: 22 bytes an event instead of 39.5. It is
/// no longer unique: the writer finds a stored copy through it and compares the whole id and
/// source in the row (`write::Store::write_batch`), since no prefix of a producer's ids is
/// unique (a UUIDv7 begins with its millisecond, a v1 UUID's last bytes name its host). It
/// still serves time ranges. The pages the old index leaves free are reused by the next
/// ingest.
const V15: &str = "DROP INDEX events_identity;
    CREATE INDEX events_key ON events (time_us, substr(event_id, 1, 4));";

/// 14: evidence blocks in pieces that fill pages (`crate::pieces`); the blocks of an earlier
/// store are cut up by `pieces::cut_blocks`.
const V14: &str = "CREATE TABLE evidence_pieces (
        id   INTEGER PRIMARY KEY,
        data BLOB NOT NULL
    );";

/// 13: posting lists longer than [`postings::MAX_LIST_BYTES`] are split into rows that fit it,
/// so three share a page where a long one left half a page empty. The pages this frees are
/// reused by the next ingest rather than handed back at once: a `VACUUM` of a large store
/// on open costs more than the few megabytes are worth.
fn split_long_lists(tx: &Transaction) -> rusqlite::Result<()> {
    for (table, key) in POSTING_TABLES {
        let long: Vec<(i64, i64, i64, Vec<u8>)> = tx
            .prepare(&format!(
                "SELECT id, {key}, first_us, events FROM {table} WHERE length(events) > ?1"
            ))?
            .query_map([postings::MAX_LIST_BYTES as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut delete = tx.prepare(&format!("DELETE FROM {table} WHERE id = ?1"))?;
        let mut insert = tx.prepare(&format!(
            "INSERT INTO {table} ({key}, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)"
        ))?;
        for (id, key, first_us, list) in long {
            let mut pairs = Vec::new();
            // A damaged list stays as it is, for `driftlog verify` to find.
            if postings::decode(first_us, &list, &mut pairs).is_err() {
                continue;
            }
            delete.execute([id])?;
            postings::write(pairs, |first, last, list| {
                insert
                    .execute(rusqlite::params![key, first, last, list])
                    .map(drop)
            })?;
        }
    }
    Ok(())
}

// 12: which combinations of facets each principal, issuer and action has been seen with
// (`crate::facets::pack`), so a query whose filters no event can meet is answered without
// decoding a list. Only ever added to: an entry whose events were pruned is still true of a
// superset, and a query it fails to rule out is answered by the lists.
const V12: &str = "CREATE TABLE string_facets (
        string INTEGER NOT NULL,
        facets INTEGER NOT NULL,
        PRIMARY KEY (string, facets)
    ) WITHOUT ROWID;";

/// 12: record the facet combinations of every stored event's principal, issuer and action.
fn fill_string_facets(tx: &Transaction) -> rusqlite::Result<()> {
    let texts: rustc_hash::FxHashMap<i64, String> = tx
        .prepare("SELECT id, text FROM strings")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let text = |id: i64| texts.get(&id).map_or("", String::as_str);
    let mut seen: rustc_hash::FxHashSet<(i64, i64)> = Default::default();
    let mut rows =
        tx.prepare("SELECT read_only, actor_kind, source, action, principal, issuer FROM events")?;
    let mut cursor = rows.query([])?;
    while let Some(row) = cursor.next()? {
        let packed = crate::facets::pack_columns(
            row.get::<_, Option<bool>>(0)?,
            text(row.get(1)?),
            text(row.get(2)?),
        );
        for column in 3..6 {
            if let Some(string) = row.get::<_, Option<i64>>(column)? {
                seen.insert((string, packed));
            }
        }
    }
    let mut insert = tx.prepare("INSERT INTO string_facets (string, facets) VALUES (?1, ?2)")?;
    for (string, packed) in seen {
        insert.execute([string, packed])?;
    }
    Ok(())
}

// 11: an event's free-text fields are ids into `texts` (`crate::texts`).
const V11: &str = "CREATE TABLE texts (
        id   INTEGER PRIMARY KEY,
        text TEXT NOT NULL UNIQUE
    );";

/// 11: free-text fields become ids into `texts`, posting lists count time in seconds
/// (`crate::postings`), and rows keep a prefix of the leaf of an event no copy can replace
/// (`crate::leaves`).
fn compact_texts_times_and_leaves(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute(
        &format!(
            "UPDATE events SET leaf = substr(leaf, 1, {prefix}) WHERE length(leaf) = 32 \
             AND NOT (completeness < {last} \
                      AND source IN (SELECT id FROM strings WHERE text = 'kubernetes'))",
            // `AuditEvent::may_be_replaced`, in SQL. Schemas 11 to 14 kept eight bytes.
            prefix = crate::leaves::EARLIER_PREFIX,
            last = driftlog_core::event::LAST_STAGE,
        ),
        [],
    )?;
    let mut known: rustc_hash::FxHashMap<String, i64> = Default::default();
    rewrite_text_columns(
        tx,
        &[
            "error_message",
            "session_name",
            "source_identity",
            "on_behalf_of",
            "source_ip",
        ],
        |text| {
            let id = crate::texts::id_of(tx, crate::texts::Table::Texts, &mut known, text)?;
            Ok(Some(Value::Blob(crate::texts::encode(id))))
        },
    )?;
    for table in ["ref_postings", "string_postings", "facet_postings"] {
        rewrite_rows(tx, table, &["first_us", "events"], None, 4096, |row| {
            let [Value::Integer(first_us), Value::Blob(list)] = row else {
                return Ok(false);
            };
            let mut pairs = Vec::new();
            // A damaged list stays as it is, for `driftlog verify` to find.
            if list.first() == Some(&postings::SECONDS)
                || postings::decode(*first_us, list, &mut pairs).is_err()
            {
                return Ok(false);
            }
            *list = postings::encode(&pairs).2;
            Ok(true)
        })?;
    }
    Ok(())
}

/// 10: an event's resources are the ids of their names in `ref_names`, not a JSON array of
/// the names (`crate::resource_lists`).
fn compact_resource_lists(tx: &Transaction) -> rusqlite::Result<()> {
    let mut known: rustc_hash::FxHashMap<String, i64> = Default::default();
    rewrite_text_columns(tx, &["resources"], |json| {
        // A row that is not a list of names stays as it is, for `driftlog verify` to name.
        let Ok(names) = serde_json::from_str::<Vec<String>>(json) else {
            return Ok(None);
        };
        let ids = names
            .iter()
            .map(|name| crate::texts::id_of(tx, crate::texts::Table::RefNames, &mut known, name))
            .collect::<rusqlite::Result<Vec<i64>>>()?;
        let mut bytes = Vec::new();
        crate::resource_lists::encode(&ids, &mut bytes);
        Ok(Some(Value::Blob(bytes)))
    })
}

/// 9: event ids that are canonical UUIDs are stored as their 16 bytes (`crate::event_ids`).
fn compact_event_ids(tx: &Transaction) -> rusqlite::Result<()> {
    use crate::event_ids::{encode, StoredId};
    rewrite_text_columns(tx, &["event_id"], |text| {
        Ok(match encode(text) {
            StoredId::Uuid(bytes) => Some(Value::Blob(bytes.to_vec())),
            StoredId::Text(_) => None,
        })
    })
}

/// Walk the events whose `columns` still hold text and store what `rewrite` makes of each
/// text value (`None`: the value stays as it is).
fn rewrite_text_columns(
    tx: &Transaction,
    columns: &[&str],
    mut rewrite: impl FnMut(&str) -> rusqlite::Result<Option<Value>>,
) -> rusqlite::Result<()> {
    let any_text: Vec<String> = columns
        .iter()
        .map(|c| format!("typeof({c}) = 'text'"))
        .collect();
    let any_text = format!("({})", any_text.join(" OR "));
    rewrite_rows(tx, "events", columns, Some(&any_text), 4096, |values| {
        let mut changed = false;
        for value in values {
            if let Value::Text(text) = value {
                if let Some(new) = rewrite(text)? {
                    *value = new;
                    changed = true;
                }
            }
        }
        Ok(changed)
    })
}

/// Walk the rows of `table` (those `only` admits, if given) `chunk` at a time in id order,
/// reading `columns`; where `rewrite` changes a row's values (and says so), store them, one
/// statement a row.
fn rewrite_rows(
    tx: &Transaction,
    table: &str,
    columns: &[&str],
    only: Option<&str>,
    chunk: usize,
    mut rewrite: impl FnMut(&mut [Value]) -> rusqlite::Result<bool>,
) -> rusqlite::Result<()> {
    let only = only.map(|c| format!("AND {c}")).unwrap_or_default();
    let mut read = tx.prepare(&format!(
        "SELECT id, {} FROM {table} WHERE id > ?1 {only} ORDER BY id LIMIT {chunk}",
        columns.join(", "),
    ))?;
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 2))
        .collect();
    let mut write = tx.prepare(&format!(
        "UPDATE {table} SET {} WHERE id = ?1",
        sets.join(", ")
    ))?;
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, Vec<Value>)> = read
            .query_map([after], |r| {
                let values = (1..=columns.len())
                    .map(|i| r.get(i))
                    .collect::<rusqlite::Result<_>>()?;
                Ok((r.get(0)?, values))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some((last, _)) = rows.last() else {
            break;
        };
        after = *last;
        for (id, mut values) in rows {
            if rewrite(&mut values)? {
                let mut params: Vec<&dyn rusqlite::ToSql> = vec![&id];
                params.extend(values.iter().map(|v| v as &dyn rusqlite::ToSql));
                write.execute(&params[..])?;
            }
        }
    }
    Ok(())
}

// 8: evidence blocks are zstd frames, most with a dictionary trained on the store's own
// records (`crate::evidence`); the blocks of a store written before are recompressed.
const V8: &str = "ALTER TABLE raw_blocks RENAME COLUMN lz4 TO data;
    CREATE TABLE evidence_dictionaries (
        id    INTEGER PRIMARY KEY,
        bytes BLOB NOT NULL
    );";

// 5: one resource's findings across stacks (the API's timeline), one job's runs.
const V5: &str = "CREATE INDEX service_findings_address ON service_findings (address, id);
    CREATE INDEX service_runs_job ON service_runs (job, id);";

// 6: the service history's generation, a counter every write that changes what the API
// lists moves on (`ServiceStore::generation`): a server keeps a page it rendered until the
// counter moves, and answers conditional requests from it.
const V6: &str = "CREATE TABLE service_generation (
        one   INTEGER PRIMARY KEY CHECK (one = 1),
        value INTEGER NOT NULL
    );
    INSERT INTO service_generation (one, value) VALUES (1, 0);";

// 7: posting lists of writes, actor kinds and sources (`crate::facets`), filled from the
// events of a store written before.
const V7: &str = "CREATE TABLE facet_postings (
        id       INTEGER PRIMARY KEY,
        facet    INTEGER NOT NULL,
        first_us INTEGER NOT NULL,
        last_us  INTEGER NOT NULL,
        events   BLOB NOT NULL
    );
    CREATE INDEX facet_postings_facet ON facet_postings (facet, last_us);";

// 1: events, their resources, their raw records, and the files they came from.
const V1: &str = "CREATE TABLE files (
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
) WITHOUT ROWID;";

// 2: lookups by resource, principal, issuer and action go through posting lists (see
// `postings`) instead of B-tree indexes, so a bulk load appends and never rebuilds an index.
// An event's identity starts with its time, so identities arrive in nearly ascending order
// instead of at random (a re-delivered record carries the same time as the original), and the
// identity index also serves time ranges.
const V2: &str = "
    CREATE TABLE ref_names (
        id   INTEGER PRIMARY KEY,
        text TEXT NOT NULL UNIQUE
    );
    -- The (time, event) pairs of one batch's events that name one resource.
    CREATE TABLE ref_postings (
        id       INTEGER PRIMARY KEY,
        name     INTEGER NOT NULL,
        first_us INTEGER NOT NULL,
        last_us  INTEGER NOT NULL,
        events   BLOB NOT NULL
    );
    CREATE INDEX ref_postings_name ON ref_postings (name, last_us);
    -- The same for the principals, issuers and actions of events (ids into `strings`).
    CREATE TABLE string_postings (
        id       INTEGER PRIMARY KEY,
        string   INTEGER NOT NULL,
        first_us INTEGER NOT NULL,
        last_us  INTEGER NOT NULL,
        events   BLOB NOT NULL
    );
    CREATE INDEX string_postings_string ON string_postings (string, last_us);
    -- Terraform addresses with the identifiers their resources had when a scan reported them
    -- (or `explain` resolved them), so `events --resource ADDRESS` works without the state.
    CREATE TABLE addresses (
        address    TEXT NOT NULL,
        identifier TEXT NOT NULL,
        PRIMARY KEY (address, identifier)
    ) WITHOUT ROWID;
    DROP INDEX IF EXISTS events_time;
    DROP INDEX IF EXISTS events_principal;
    DROP INDEX IF EXISTS events_issuer;
    DROP INDEX IF EXISTS events_action;
    DROP INDEX events_identity;
    CREATE UNIQUE INDEX events_identity ON events (time_us, source, event_id);";

// 3: the ledger commits to each stored event's contents. Every event keeps the leaf hash of its
// canonical bytes (`AuditEvent::canonical_bytes`) as written, so `driftlog verify` can name
// which event changed once a batch's root no longer matches its ledger entry. The store has an
// identity of its own, which ledger entries name (one ledger may record several stores).
// Events stored before this version have no leaf and are counted as unrecorded, not damaged.
const V3: &str = "
    ALTER TABLE events ADD COLUMN leaf BLOB;
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );";

// 4: the service's history (`driftlog serve`, see `crate::service`): runs, each finding's
// life, scheduled jobs claimed under a lease, and the alert outbox.
const V4: &str = "
    CREATE TABLE service_runs (
        id          INTEGER PRIMARY KEY,
        job         TEXT NOT NULL,
        stack       TEXT,
        environment TEXT,
        started_us  INTEGER NOT NULL,
        finished_us INTEGER NOT NULL,
        outcome     TEXT NOT NULL,
        open        INTEGER NOT NULL,
        new         INTEGER NOT NULL,
        changed     INTEGER NOT NULL,
        resolved    INTEGER NOT NULL,
        summary     TEXT NOT NULL
    );
    CREATE INDEX service_runs_stack ON service_runs (stack, id);
    CREATE TABLE service_findings (
        id          INTEGER PRIMARY KEY,
        stack       TEXT NOT NULL,
        environment TEXT NOT NULL,
        address     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state       TEXT NOT NULL,
        first_seen_us INTEGER NOT NULL,
        last_seen_us  INTEGER NOT NULL,
        changed_us    INTEGER NOT NULL,
        resolved_us   INTEGER,
        first_run   INTEGER NOT NULL,
        last_run    INTEGER NOT NULL,
        acked_by    TEXT,
        acked_us    INTEGER,
        ack_note    TEXT,
        finding     TEXT NOT NULL,
        UNIQUE (stack, address, kind)
    );
    CREATE INDEX service_findings_state ON service_findings (state, id);
    CREATE INDEX service_findings_stack ON service_findings (stack, state, id);
    CREATE INDEX service_findings_environment ON service_findings (environment, state, id);
    CREATE INDEX service_findings_changed ON service_findings (changed_us);
    CREATE TABLE service_stacks (
        stack           TEXT PRIMARY KEY,
        environment     TEXT NOT NULL,
        open            INTEGER NOT NULL,
        changed         INTEGER NOT NULL,
        deleted         INTEGER NOT NULL,
        unmanaged       INTEGER NOT NULL,
        acknowledged    INTEGER NOT NULL,
        last_run        INTEGER NOT NULL,
        last_success_us INTEGER
    );
    CREATE TABLE service_jobs (
        name           TEXT PRIMARY KEY,
        due_us         INTEGER NOT NULL,
        owner          TEXT,
        lease_until_us INTEGER,
        claims         INTEGER NOT NULL DEFAULT 0,
        last_run       INTEGER
    );
    CREATE TABLE service_deliveries (
        id             INTEGER PRIMARY KEY,
        target         TEXT NOT NULL,
        run            INTEGER NOT NULL,
        body           TEXT NOT NULL,
        created_us     INTEGER NOT NULL,
        state          TEXT NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        next_us        INTEGER NOT NULL,
        owner          TEXT,
        lease_until_us INTEGER,
        last_error     TEXT,
        done_us        INTEGER,
        UNIQUE (target, run)
    );
    CREATE INDEX service_deliveries_due ON service_deliveries (state, next_us);";

/// A random store id, and the last event id stored before version 3.
fn name_the_store(tx: &Transaction) -> rusqlite::Result<()> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        rusqlite::Error::ToSqlConversionFailure(Box::new(std::io::Error::other(e.to_string())))
    })?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('store_id', ?1)",
        [hex::encode(bytes)],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) SELECT 'unrecorded_until', coalesce(max(id), 0) FROM events",
        [],
    )?;
    Ok(())
}

/// Fill the posting lists from version 1's `refs` table and `events` columns, then drop `refs`.
fn fill_postings(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("INSERT INTO ref_names (text) SELECT DISTINCT ref FROM refs ORDER BY ref;")?;
    fill(
        tx,
        "SELECT n.id, r.time_us, r.event FROM refs r JOIN ref_names n ON n.text = r.ref \
         ORDER BY 1, 2, 3",
        "INSERT INTO ref_postings (name, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
    )?;
    fill(
        tx,
        "SELECT action, time_us, id FROM events \
         UNION SELECT principal, time_us, id FROM events WHERE principal IS NOT NULL \
         UNION SELECT issuer, time_us, id FROM events WHERE issuer IS NOT NULL \
         ORDER BY 1, 2, 3",
        "INSERT INTO string_postings (string, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
    )?;
    tx.execute_batch("DROP TABLE refs;")
}

/// List every stored event under its facets (schema 7).
fn fill_facets(tx: &Transaction) -> rusqlite::Result<()> {
    fill(
        tx,
        &crate::facets::fill_select(),
        "INSERT INTO facet_postings (facet, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
    )
}

/// Train a dictionary on the first records of a store written before schema 8 and rewrite
/// every evidence block with it (lz4 to zstd). The records themselves do not change, so
/// neither do the ledger's leaves.
fn recompress_evidence(tx: &Transaction) -> rusqlite::Result<()> {
    use crate::evidence::{self, Compressor, Dictionary};
    let blocks: i64 = tx.query_row("SELECT count(*) FROM raw_blocks", [], |r| r.get(0))?;
    if blocks == 0 {
        return Ok(());
    }
    // Samples: whole records of the first blocks, cut where the events say they lie.
    let mut samples: Vec<Vec<u8>> = Vec::new();
    let mut sampled = 0;
    {
        let mut places = tx.prepare(
            "SELECT raw_block, raw_offset, raw_len FROM events ORDER BY raw_block, raw_offset",
        )?;
        let mut read = tx.prepare("SELECT data FROM raw_blocks WHERE id = ?1")?;
        let mut rows = places.query([])?;
        let mut current: Option<(i64, Vec<u8>)> = None;
        while let Some(row) = rows.next()? {
            let (block, offset, len): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let (offset, len) = (offset as usize, len as usize);
            if current.as_ref().is_none_or(|(b, _)| *b != block) {
                let blob: Vec<u8> = read.query_row([block], |r| r.get(0))?;
                // A damaged block stays as it is, for `driftlog verify` to name.
                let data = evidence::decompress(&blob, |_| None).unwrap_or_default();
                current = Some((block, data));
            }
            let data = &current.as_ref().expect("just read").1;
            if let Some(record) = data.get(offset..offset + len) {
                sampled += record.len();
                samples.push(record.to_vec());
            }
            if sampled >= evidence::SAMPLE_BYTES {
                break;
            }
        }
    }
    let dictionary = Dictionary::train(&samples, 0);
    drop(samples);
    if let Some(d) = &dictionary {
        tx.execute(
            "INSERT INTO evidence_dictionaries (id, bytes) VALUES (?1, ?2)",
            rusqlite::params![d.id(), d.bytes()],
        )?;
    }
    let mut compressor = Compressor::new(dictionary.as_ref());
    // Blocks are up to a megabyte: a few hundred at a time.
    rewrite_rows(tx, "raw_blocks", &["data"], None, 256, |row| {
        let [Value::Blob(blob)] = row else {
            return Ok(false);
        };
        if evidence::dictionary_of(blob).is_some() {
            return Ok(false);
        }
        let Ok(data) = evidence::decompress(blob, |_| None) else {
            return Ok(false);
        };
        *blob = compressor.compress(&data);
        Ok(true)
    })
}

/// Group the rows of `select` (key, time, event; ordered by key) into posting lists.
fn fill(tx: &Transaction, select: &str, insert: &str) -> rusqlite::Result<()> {
    let mut rows = tx.prepare(select)?;
    let mut insert = tx.prepare(insert)?;
    let mut write = |key: i64, pairs: Vec<(i64, i64)>| {
        postings::write(pairs, |first, last, list| {
            insert
                .execute(rusqlite::params![key, first, last, list])
                .map(drop)
        })
    };
    let mut current: Option<(i64, Vec<(i64, i64)>)> = None;
    let mut cursor = rows.query([])?;
    while let Some(row) = cursor.next()? {
        let key: i64 = row.get(0)?;
        match &mut current {
            Some((k, pairs)) if *k == key => pairs.push((row.get(1)?, row.get(2)?)),
            _ => {
                if let Some((k, pairs)) = current.take() {
                    write(k, pairs)?;
                }
                current = Some((key, vec![(row.get(1)?, row.get(2)?)]));
            }
        }
    }
    if let Some((k, pairs)) = current {
        write(k, pairs)?;
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
    let mut compacted = false;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and our lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(step.sql)?;
        if let Some(then) = step.then {
            then(&tx)?;
        }
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        compacted |= step.compacts && found > 0;
    }
    if compacted {
        // Recompressed blocks and shorter ids left many pages free: give them back to the
        // file system once, now, rather than keep a store twice its size.
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventQuery, Store};

    /// The first column of every row `sql` returns.
    fn column<T: rusqlite::types::FromSql>(conn: &Connection, sql: &str) -> Vec<T> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The names of the indexes on `events`.
    fn event_indexes(conn: &Connection) -> Vec<String> {
        column(
            conn,
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'",
        )
    }

    #[test]
    fn a_version_1_store_keeps_its_references_through_migration_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(V1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO strings (id, text) VALUES
                    (1, 'aws'), (2, 'RunInstances'), (3, 'success'), (4, 'cli'), (5, 'a rule'),
                    (6, 'arn:aws:iam::1:user/ana'), (7, 'arn:aws:sts::1:assumed-role/ci/x'),
                    (8, 'arn:aws:iam::1:role/ci'), (9, 'TerminateInstances');
                 INSERT INTO raw_blocks (id, lz4) VALUES (1, x'00000000');
                 INSERT INTO events (id, source, event_id, time_us, action, outcome,
                    actor_kind, actor_rule, resources, completeness, raw_block, raw_offset, raw_len)
                 VALUES (1, 1, 'e1', 100, 2, 3, 4, 5, '[\"i-1\"]', 0, 1, 0, 0),
                        (2, 1, 'e2', 200, 2, 3, 4, 5, '[\"i-1\",\"sg-1\"]', 0, 1, 0, 0),
                        (3, 1, 'e3', 50, 9, 3, 4, 5, '[\"i-1\"]', 0, 1, 0, 0);
                 UPDATE events SET principal = 6 WHERE id = 1;
                 UPDATE events SET principal = 7, issuer = 8 WHERE id IN (2, 3);
                 CREATE INDEX events_principal ON events (principal, time_us);
                 CREATE INDEX events_time ON events (time_us);
                 INSERT INTO refs (ref, time_us, event) VALUES
                    ('i-1', 100, 1), ('i-1', 200, 2), ('sg-1', 200, 2), ('i-1', 50, 3);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let naming = |resource: &str, since_us: Option<i64>| -> Vec<i64> {
            let q = EventQuery {
                resource: Some(resource.into()),
                since_us,
                ..EventQuery::default()
            };
            store.query(&q).unwrap().iter().map(|e| e.id).collect()
        };
        assert_eq!(naming("i-1", None), [3, 1, 2]);
        assert_eq!(naming("i-1", Some(100)), [1, 2]);
        assert_eq!(naming("sg-1", None), [2]);
        assert!(naming("sg-2", None).is_empty());
        let by =
            |q: EventQuery| -> Vec<i64> { store.query(&q).unwrap().iter().map(|e| e.id).collect() };
        let principal = |p: &str| EventQuery {
            principal: Some(p.into()),
            ..EventQuery::default()
        };
        assert_eq!(by(principal("arn:aws:iam::1:user/ana")), [1]);
        assert_eq!(by(principal("arn:aws:iam::1:role/ci")), [3, 2], "by issuer");
        assert_eq!(by(principal("arn:aws:sts::*")), [3, 2], "glob");
        let action = |a: &str| EventQuery {
            action: Some(a.into()),
            ..EventQuery::default()
        };
        assert_eq!(by(action("RunInstances")), [1, 2]);
        assert_eq!(by(action("*Instances")), [3, 1, 2]);
        assert_eq!(
            by(EventQuery {
                limit: Some(1),
                ..action("*Instances")
            }),
            [3]
        );
        assert_eq!(store.check().unwrap(), Vec::<String>::new());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT);
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'refs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "version 1's refs table is gone");
        assert_eq!(
            event_indexes(&conn),
            ["events_key"],
            "lookups use posting lists"
        );
    }

    /// A store of the release before schema 6 and 7 (no generation, no facet lists) gets
    /// them on open, the lists from its events, and then answers every combination of
    /// filters as one written with them does.
    #[test]
    fn a_schema_5_store_gets_its_facet_lists_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let mut store = Store::open(&path).unwrap();
            crate::conformance::write_filter_matrix(&mut store);
        }
        as_schema_7(&path);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TABLE facet_postings; DROP TABLE service_generation; \
                 PRAGMA user_version = 5;",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let lists: i64 = store
            .conn
            .query_row("SELECT count(*) FROM facet_postings", [], |r| r.get(0))
            .unwrap();
        assert!(lists >= 8, "one list per facet value at least: {lists}");
        crate::conformance::check_filter_matrix(&store);
    }

    /// A store written before schema 12 learns which facets its principals, issuers and
    /// actions were stored with: the same combinations ingest records, and every lookup what
    /// it was.
    #[test]
    fn a_schema_11_store_gets_its_string_facets_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let combinations = |store: &Store| -> Vec<(i64, i64)> {
            store
                .conn
                .prepare("SELECT string, facets FROM string_facets ORDER BY 1, 2")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let written = {
            let mut store = Store::open(&path).unwrap();
            crate::conformance::write_filter_matrix(&mut store);
            combinations(&store)
        };
        assert!(written.len() > 20, "{written:?}");
        let conn = Connection::open(&path).unwrap();
        as_schema_13(&conn);
        conn.execute_batch("DROP TABLE string_facets; PRAGMA user_version = 11;")
            .unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(combinations(&store), written);
        crate::conformance::check_filter_matrix(&store);
    }

    #[test]
    fn a_schema_12_store_gets_its_long_lists_split_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let mut store = Store::open(&path).unwrap();
            crate::conformance::write_filter_matrix(&mut store);
        }
        // Every list of the store, decoded: (table, key, pair), each once.
        let lists = |conn: &Connection| {
            let mut all = std::collections::BTreeSet::new();
            let mut longest = 0;
            for (table, key) in POSTING_TABLES {
                let rows: Vec<(i64, i64, i64, Vec<u8>)> = conn
                    .prepare(&format!(
                        "SELECT {key}, first_us, last_us, events FROM {table}"
                    ))
                    .unwrap()
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for (k, first, last, list) in rows {
                    let mut pairs = Vec::new();
                    postings::decode(first, &list, &mut pairs).unwrap();
                    assert_eq!(pairs.last().unwrap().0, last);
                    longest = longest.max(list.len());
                    all.extend(pairs.into_iter().map(|p| (table, k, p)));
                }
            }
            (all, longest)
        };
        // As schema 12 wrote them: a busy facet's list of thousands of pairs in one row (here
        // the facet's own pairs, each many times over, which lookups count once).
        let conn = Connection::open(&path).unwrap();
        let (facet, pairs): (i64, Vec<(i64, i64)>) = {
            let (facet, first, list): (i64, i64, Vec<u8>) = conn
                .query_row(
                    "SELECT facet, first_us, events FROM facet_postings ORDER BY length(events) DESC",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            let mut pairs = Vec::new();
            postings::decode(first, &list, &mut pairs).unwrap();
            (facet, pairs)
        };
        let mut repeated: Vec<(i64, i64)> = pairs.iter().copied().cycle().take(8000).collect();
        repeated.sort_unstable();
        let (first, last, list) = postings::encode(&repeated);
        assert!(
            list.len() > 2 * postings::MAX_LIST_BYTES,
            "{} bytes",
            list.len()
        );
        conn.execute(
            "INSERT INTO facet_postings (facet, first_us, last_us, events) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![facet, first, last, list],
        )
        .unwrap();
        as_schema_13(&conn);
        conn.execute_batch("PRAGMA user_version = 12;").unwrap();
        let (before, longest) = lists(&conn);
        assert!(longest > postings::MAX_LIST_BYTES);
        drop(conn);

        let store = Store::open(&path).unwrap();
        let (after, longest) = lists(&store.conn);
        assert!(longest <= postings::MAX_LIST_BYTES, "{longest} bytes");
        assert_eq!(after, before);
        crate::conformance::check_filter_matrix(&store);
    }

    /// A store as schema 14 left it: a unique identity index of time, source and whole id,
    /// and rows keeping eight bytes of their leaves.
    fn as_schema_14(conn: &Connection) {
        let store = Store::open(std::path::Path::new(conn.path().unwrap())).unwrap();
        for (event, raw, leaf) in store.events_after(0, usize::MAX).unwrap() {
            if leaf.is_some_and(|l| l.whole().is_none()) {
                let leaf = crate::event_leaf(&event.event, &raw);
                conn.execute(
                    "UPDATE events SET leaf = ?2 WHERE id = ?1",
                    rusqlite::params![event.id, &leaf[..8]],
                )
                .unwrap();
            }
        }
        as_schema_16(conn);
        conn.execute_batch(
            "DROP INDEX events_key; \
             CREATE UNIQUE INDEX events_identity ON events (time_us, source, event_id); \
             PRAGMA user_version = 14;",
        )
        .unwrap();
    }

    /// A store as schema 16 left it: the fields of an event's shape and body in eighteen
    /// columns of its row, no `shapes` table.
    fn as_schema_16(conn: &Connection) {
        conn.execute_batch(
            "ALTER TABLE events ADD COLUMN account INTEGER; \
             ALTER TABLE events ADD COLUMN region INTEGER; \
             ALTER TABLE events ADD COLUMN service INTEGER; \
             ALTER TABLE events ADD COLUMN outcome INTEGER; \
             ALTER TABLE events ADD COLUMN principal_type INTEGER; \
             ALTER TABLE events ADD COLUMN invoked_by INTEGER; \
             ALTER TABLE events ADD COLUMN actor_rule INTEGER; \
             ALTER TABLE events ADD COLUMN user_agent INTEGER; \
             ALTER TABLE events ADD COLUMN mfa INTEGER; \
             ALTER TABLE events ADD COLUMN completeness INTEGER NOT NULL DEFAULT 0; \
             ALTER TABLE events ADD COLUMN error_message TEXT; \
             ALTER TABLE events ADD COLUMN session_name TEXT; \
             ALTER TABLE events ADD COLUMN source_identity TEXT; \
             ALTER TABLE events ADD COLUMN on_behalf_of TEXT; \
             ALTER TABLE events ADD COLUMN source_ip TEXT; \
             ALTER TABLE events ADD COLUMN raw_offset INTEGER NOT NULL DEFAULT 0; \
             ALTER TABLE events ADD COLUMN raw_len INTEGER NOT NULL DEFAULT 0; \
             ALTER TABLE events ADD COLUMN resources TEXT NOT NULL DEFAULT '';",
        )
        .unwrap();
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
            .prepare("SELECT e.id, s.shape, e.body FROM events e JOIN shapes s ON s.id = e.shape")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (id, shape, body) in rows {
            let s = crate::shapes::Shape::decode(&shape).unwrap();
            let b = crate::body::Body::decode(&body).unwrap();
            let mut resources = Vec::new();
            crate::resource_lists::encode(&b.resources, &mut resources);
            let [m, sn, si, ob, ip] = b.texts.map(|t| t.map(crate::texts::encode));
            conn.execute(
                "UPDATE events SET account = ?2, region = ?3, service = ?4, outcome = ?5, \
                 principal_type = ?6, invoked_by = ?7, actor_rule = ?8, user_agent = ?9, \
                 mfa = ?10, completeness = ?11, error_message = ?12, session_name = ?13, \
                 source_identity = ?14, on_behalf_of = ?15, source_ip = ?16, raw_offset = ?17, \
                 raw_len = ?18, resources = ?19 WHERE id = ?1",
                rusqlite::params![
                    id,
                    s.account,
                    s.region,
                    s.service,
                    s.outcome,
                    s.principal_type,
                    s.invoked_by,
                    s.actor_rule,
                    s.user_agent,
                    s.mfa,
                    s.completeness,
                    m,
                    sn,
                    si,
                    ob,
                    ip,
                    b.raw_offset,
                    b.raw_len,
                    resources
                ],
            )
            .unwrap();
        }
        conn.execute_batch(
            "ALTER TABLE events DROP COLUMN shape; ALTER TABLE events DROP COLUMN body; \
             DROP TABLE shapes; PRAGMA user_version = 16;",
        )
        .unwrap();
    }

    /// A store as schema 15 left it: the identity index keyed by the whole time.
    fn as_schema_15(conn: &Connection) {
        as_schema_16(conn);
        conn.execute_batch(
            "DROP INDEX events_key; \
             CREATE INDEX events_key ON events (time_us, substr(event_id, 1, 4)); \
             PRAGMA user_version = 15;",
        )
        .unwrap();
    }

    /// How the store defines its identity index (`events_key`).
    fn key_index(conn: &Connection) -> String {
        conn.query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'events_key'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// A schema 14 store finds its stored events through the new identity index: every
    /// lookup answers as before, the same events written again are duplicates, and a more
    /// complete copy of a staged event still replaces the stored one.
    #[test]
    fn a_schema_14_store_keys_its_events_by_time_and_id_prefix_on_open() {
        keys_its_events_by_second_and_id_prefix_on_open(as_schema_14, true);
    }

    /// The same from a schema 15 store, whose index keyed the whole time.
    #[test]
    fn a_schema_15_store_keys_its_events_by_second_on_open() {
        keys_its_events_by_second_and_id_prefix_on_open(as_schema_15, false);
    }

    /// The same from a schema 16 store, whose rows held the fields of their shape.
    #[test]
    fn a_schema_16_store_keeps_its_lookups_when_shaped_on_open() {
        keys_its_events_by_second_and_id_prefix_on_open(as_schema_16, false);
    }

    /// A schema 16 store's rows become shaped on open: every event, its evidence and its
    /// recorded leaf read back as they were, each distinct combination of the ten fields is
    /// one shape, and the ten columns are gone.
    #[test]
    fn a_schema_16_store_gets_its_events_shaped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let everything = |store: &Store| -> Vec<String> {
            store
                .events_after(0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|e| format!("{e:?}"))
                .collect()
        };
        let before = {
            let mut store = Store::open(&path).unwrap();
            crate::conformance::write_filter_matrix(&mut store);
            everything(&store)
        };
        assert!(before.len() > 50, "{}", before.len());
        let conn = Connection::open(&path).unwrap();
        as_schema_16(&conn);
        let distinct: i64 = conn
            .query_row(
                "SELECT count(*) FROM (SELECT DISTINCT account, region, service, outcome, \
                 principal_type, invoked_by, actor_rule, user_agent, mfa, completeness \
                 FROM events)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        drop(conn);

        let store = Store::open(&path).unwrap();
        assert_eq!(everything(&store), before);
        assert!(store.check().unwrap().is_empty());
        let shapes: i64 = store
            .conn
            .query_row("SELECT count(*) FROM shapes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(shapes, distinct);
        let columns: Vec<String> =
            column(&store.conn, "SELECT name FROM pragma_table_info('events')");
        assert!(columns.contains(&"shape".to_string()), "{columns:?}");
        assert!(columns.contains(&"body".to_string()), "{columns:?}");
        for gone in [
            "account",
            "user_agent",
            "mfa",
            "completeness",
            "source_ip",
            "resources",
        ] {
            assert!(!columns.contains(&gone.to_string()), "{columns:?}");
        }
        assert_eq!(event_indexes(&store.conn), ["events_key"]);
    }

    /// `eight_byte_leaves`: the downgrade leaves rows with the leaf prefixes of schema 14.
    fn keys_its_events_by_second_and_id_prefix_on_open(
        downgrade: fn(&Connection),
        eight_byte_leaves: bool,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let batch = || {
            let staged = crate::conformance::k8s("staged", 0, &["ns/web"]);
            let complete =
                crate::conformance::k8s("complete", driftlog_core::event::LAST_STAGE, &[]);
            crate::conformance::batch(
                "/staged",
                vec![(staged, "{}".into()), (complete, "{}".into())],
            )
        };
        {
            let mut store = Store::open(&path).unwrap();
            crate::conformance::write_filter_matrix(&mut store);
            store.write_batch(vec![batch()]).unwrap();
        }
        let before = every_answer(&Store::open(&path).unwrap());
        downgrade(&Connection::open(&path).unwrap());

        let mut store = Store::open(&path).unwrap();
        assert_eq!(every_answer(&store), before);
        assert!(store.check().unwrap().is_empty());
        assert_eq!(event_indexes(&store.conn), ["events_key"]);
        assert!(
            key_index(&store.conn).contains("(time_us / 1000000, substr(event_id, 1, 4))"),
            "{}",
            key_index(&store.conn)
        );
        if eight_byte_leaves {
            let kept: Vec<i64> = column(&store.conn, "SELECT length(leaf) FROM events");
            assert!(
                kept.contains(&8),
                "rows of before keep their eight bytes: {kept:?}"
            );
        }
        let (stats, _) = store.write_batch(vec![batch()]).unwrap();
        assert_eq!((stats.inserted, stats.duplicates), (0, 2));
        let later =
            crate::conformance::k8s("staged", driftlog_core::event::LAST_STAGE, &["ns/web"]);
        let later = crate::conformance::batch("/later", vec![(later, "{}".into())]);
        let (stats, _) = store.write_batch(vec![later]).unwrap();
        assert_eq!((stats.inserted, stats.upgraded), (0, 1));
        assert_eq!(every_answer(&store).len(), before.len());
    }

    /// Put a store written now back as schema 13 kept evidence: a row per block.
    fn as_schema_13(conn: &Connection) {
        as_schema_14(conn);
        let blocks: Vec<i64> = column(
            conn,
            "SELECT DISTINCT id >> 20 FROM evidence_pieces ORDER BY 1",
        );
        let blocks: Vec<(i64, Vec<u8>)> = blocks
            .into_iter()
            .map(|b| (b, crate::pieces::read(conn, b).unwrap().unwrap()))
            .collect();
        conn.execute_batch(
            "DROP TABLE evidence_pieces; \
             CREATE TABLE raw_blocks (id INTEGER PRIMARY KEY, data BLOB NOT NULL); \
             PRAGMA user_version = 13;",
        )
        .unwrap();
        for (id, data) in blocks {
            conn.execute(
                "INSERT INTO raw_blocks (id, data) VALUES (?1, ?2)",
                rusqlite::params![id, data],
            )
            .unwrap();
        }
    }

    #[test]
    fn a_schema_13_store_gets_its_blocks_cut_into_pieces_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let mut store = Store::open(&path).unwrap();
            // Records that compress badly, so blocks take many pieces; and many small ones.
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            let events = (0..100)
                .map(|i| {
                    let noise: String = (0..400)
                        .map(|_| {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            format!("{:02x}", state as u8)
                        })
                        .collect();
                    let e = crate::conformance::k8s(&format!("n{i}"), 3, &["ns/web"]);
                    (e, format!(r#"{{"noise":"{noise}"}}"#))
                })
                .collect();
            store
                .write_batch(vec![crate::conformance::batch("/noise", events)])
                .unwrap();
            crate::conformance::write_filter_matrix(&mut store);
        }
        let before = every_answer(&Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        as_schema_13(&conn);
        let longest: i64 = conn
            .query_row("SELECT max(length(data)) FROM raw_blocks", [], |r| r.get(0))
            .unwrap();
        assert!(longest > 4 * crate::pieces::PIECE_BYTES as i64);
        drop(conn);

        let store = Store::open(&path).unwrap();
        assert_eq!(every_answer(&store), before);
        assert!(store.check().unwrap().is_empty());
        let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT count(*) FROM sqlite_schema WHERE name = 'raw_blocks'"),
            0
        );
        assert!(
            count("SELECT max(length(data)) FROM evidence_pieces")
                <= crate::pieces::PIECE_BYTES as i64
        );
    }

    /// Turn a store written now into one as the release before schema 8 wrote it: lz4
    /// evidence blocks in a column named for it, no dictionaries, event ids as text, resources
    /// as JSON arrays of their names.
    fn as_schema_7(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        let blocks: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT DISTINCT id >> 20 FROM evidence_pieces ORDER BY 1")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|b| {
                let b = b.unwrap();
                (b, crate::pieces::read(&conn, b).unwrap().unwrap())
            })
            .collect();
        let store = Store::open(path).unwrap();
        let events = store.events_after(0, usize::MAX).unwrap();
        as_schema_16(&conn);
        for (event, raw, _) in events {
            let e = &event.event;
            let leaf = crate::event_leaf(e, &raw);
            let message = match &e.outcome {
                driftlog_core::Outcome::Failure { message, .. } => message.clone(),
                _ => None,
            };
            conn.execute(
                "UPDATE events SET event_id = ?2, resources = ?3, error_message = ?4, \
                 session_name = ?5, source_identity = ?6, on_behalf_of = ?7, source_ip = ?8, \
                 leaf = ?9 WHERE id = ?1",
                rusqlite::params![
                    event.id,
                    e.event_id,
                    serde_json::to_string(&e.resources).unwrap(),
                    message,
                    e.principal.session_name,
                    e.principal.source_identity,
                    e.principal.on_behalf_of,
                    e.source_ip,
                    &leaf[..],
                ],
            )
            .unwrap();
        }
        for table in ["ref_postings", "string_postings", "facet_postings"] {
            let lists: Vec<(i64, i64, Vec<u8>)> = conn
                .prepare(&format!("SELECT id, first_us, events FROM {table}"))
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for (id, first_us, list) in lists {
                let mut pairs = Vec::new();
                postings::decode(first_us, &list, &mut pairs).unwrap();
                conn.execute(
                    &format!("UPDATE {table} SET events = ?2 WHERE id = ?1"),
                    rusqlite::params![id, postings::encode_in_micros(&pairs)],
                )
                .unwrap();
            }
        }
        conn.execute_batch(
            "DROP TABLE evidence_pieces; \
             CREATE TABLE raw_blocks (id INTEGER PRIMARY KEY, data BLOB NOT NULL);",
        )
        .unwrap();
        for (id, blob) in blocks {
            let dictionary =
                crate::evidence::dictionary_of(&blob).map(|d| store.dictionary(d).unwrap());
            let data = crate::evidence::decompress(&blob, |_| dictionary).unwrap();
            conn.execute(
                "INSERT INTO raw_blocks (id, data) VALUES (?1, ?2)",
                rusqlite::params![id, lz4_flex::compress_prepend_size(&data)],
            )
            .unwrap();
        }
        conn.execute_batch(
            "ALTER TABLE raw_blocks RENAME COLUMN data TO lz4; \
             DROP TABLE evidence_dictionaries; DROP TABLE texts; DROP TABLE string_facets; \
             DROP INDEX events_key; \
             CREATE UNIQUE INDEX events_identity ON events (time_us, source, event_id); \
             PRAGMA user_version = 7;",
        )
        .unwrap();
    }

    /// Every lookup a store answers, as text: compared before and after a migration.
    fn every_answer(store: &Store) -> Vec<String> {
        let queries = [
            EventQuery::default(),
            EventQuery {
                resource: Some("ns/web".into()),
                ..EventQuery::default()
            },
            EventQuery {
                resource: Some("ns/pod-3".into()),
                ..EventQuery::default()
            },
            EventQuery {
                principal: Some("jane".into()),
                limit: Some(20),
                ..EventQuery::default()
            },
        ];
        crate::conformance::every_answer(store, &queries)
    }

    /// A store the release before schema 8 wrote (lz4 evidence, ids and resources as text)
    /// is compacted on open: a dictionary trained on its records, every block a zstd frame
    /// that names it, UUIDs in 16 bytes, resources as ids, the file smaller, and every lookup
    /// and record what it was.
    #[test]
    fn a_schema_7_store_is_compacted_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let raws = crate::conformance::sample_records(3_000);
        {
            let mut store = Store::open(&path).unwrap();
            for (b, chunk) in raws.chunks(500).enumerate() {
                let events = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| {
                        let id = format!("{:08x}-0000-4000-8000-{i:012x}", b);
                        let pod = format!("ns/pod-{}", i % 7);
                        let resources: &[&str] = match i % 3 {
                            0 => &[],
                            1 => &["ns/web"],
                            _ => &["ns/web", &pod],
                        };
                        // A few logged at an early stage only: a later copy may replace them.
                        let stage = if i % 50 == 1 { 1 } else { 3 };
                        let mut e = crate::conformance::k8s(&id, stage, resources);
                        // Free texts, some repeated, some not.
                        e.source_ip = Some(format!("10.0.{b}.{}", i % 40));
                        e.principal.session_name = Some(format!("session-{}", i % 3));
                        e.principal.on_behalf_of = (i % 4 == 0).then(|| format!("user-{i}"));
                        if i % 5 == 0 {
                            e.outcome = driftlog_core::Outcome::Failure {
                                code: "Forbidden".into(),
                                message: Some(format!("denied {}", i % 2)),
                            };
                        }
                        (e, raw.clone())
                    })
                    .collect();
                store
                    .write_batch(vec![crate::conformance::batch(&format!("/f{b}"), events)])
                    .unwrap();
            }
        }
        let before = every_answer(&Store::open(&path).unwrap());
        as_schema_7(&path);
        let lz4_bytes = std::fs::metadata(&path).unwrap().len();

        let store = Store::open(&path).unwrap();
        assert_eq!(every_answer(&store), before);
        assert!(store.check().unwrap().is_empty());
        let dictionary = crate::EventStore::evidence_dictionary(&store)
            .unwrap()
            .expect("trained")
            .id();
        let named: Vec<Option<u32>> = store
            .conn
            .prepare("SELECT DISTINCT id >> 20 FROM evidence_pieces")
            .unwrap()
            .query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|b| {
                let block = crate::pieces::read(&store.conn, b.unwrap())
                    .unwrap()
                    .unwrap();
                crate::evidence::dictionary_of(&block)
            })
            .collect();
        assert!(!named.is_empty());
        assert!(named.iter().all(|d| *d == Some(dictionary)), "{named:?}");
        let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let uuids = count("SELECT count(*) FROM events WHERE typeof(event_id) = 'blob'");
        assert_eq!(uuids, 3_000, "every UUID in 16 bytes");
        // Resources and free texts are ids in every event's body (schema 17).
        let bodies: Vec<Vec<u8>> = column(&store.conn, "SELECT body FROM events");
        let bodies: Vec<crate::body::Body> = bodies
            .iter()
            .map(|b| crate::body::Body::decode(b).unwrap())
            .collect();
        assert_eq!(bodies.len(), 3_000);
        assert_eq!(
            bodies.iter().filter(|b| b.texts[4].is_some()).count(),
            3_000,
            "every source address an id"
        );
        assert_eq!(
            bodies.iter().filter(|b| b.resources.is_empty()).count(),
            6 * 167,
            "a third of each file's events name no resource"
        );
        let whole = count("SELECT count(*) FROM events WHERE length(leaf) != 8");
        assert_eq!(whole, 60, "only staged events keep their whole leaf");
        // 6 × 40 addresses, 3 sessions, 125 users, 2 messages.
        assert_eq!(count("SELECT count(*) FROM texts"), 240 + 3 + 125 + 2);
        for table in ["ref_postings", "string_postings", "facet_postings"] {
            let in_micros = count(&format!(
                "SELECT count(*) FROM {table} WHERE substr(events, 1, 1) != x'01'"
            ));
            assert_eq!(in_micros, 0, "{table}: every list in seconds");
        }
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT);
        drop(store);
        let zstd_bytes = std::fs::metadata(&path).unwrap().len();
        assert!(zstd_bytes < lz4_bytes, "{zstd_bytes} < {lz4_bytes}");
    }

    proptest::proptest! {
        /// The second the writer and readers bind is the one SQLite computes for the index,
        /// for any time, before 1970 too.
        #[test]
        fn key_second_is_sqlites_division(time_us in proptest::num::i64::ANY) {
            let conn = Connection::open_in_memory().unwrap();
            let second: i64 = conn
                .query_row("SELECT ?1 / 1000000", [time_us], |r| r.get(0))
                .unwrap();
            proptest::prop_assert_eq!(key_second(time_us), second);
        }
    }
}
