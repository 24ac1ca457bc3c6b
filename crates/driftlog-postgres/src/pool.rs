//! Connections and the schema: every part of the team store (service history, events, ledger)
//! reaches the database through one [`Pool`], which migrates it on connect.

use postgres::{Client, NoTls};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// Connections a pool opens at most (the server's readers, jobs and requests share one pool;
/// PostgreSQL's default `max_connections` is 100, for every client of the server together).
const MAX: usize = 16;

/// Each migration runs once, in order; never edit a released one.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE service_runs (
        id          BIGSERIAL PRIMARY KEY,
        job         TEXT NOT NULL,
        stack       TEXT,
        environment TEXT,
        started_us  BIGINT NOT NULL,
        finished_us BIGINT NOT NULL,
        outcome     TEXT NOT NULL,
        open        BIGINT NOT NULL,
        new         BIGINT NOT NULL,
        changed     BIGINT NOT NULL,
        resolved    BIGINT NOT NULL,
        summary     JSONB NOT NULL
    );
    CREATE INDEX service_runs_stack ON service_runs (stack, id);
    CREATE TABLE service_findings (
        id            BIGSERIAL PRIMARY KEY,
        stack         TEXT NOT NULL,
        environment   TEXT NOT NULL,
        address       TEXT NOT NULL,
        kind          TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        state         TEXT NOT NULL,
        first_seen_us BIGINT NOT NULL,
        last_seen_us  BIGINT NOT NULL,
        changed_us    BIGINT NOT NULL,
        resolved_us   BIGINT,
        first_run     BIGINT NOT NULL,
        last_run      BIGINT NOT NULL,
        acked_by      TEXT,
        acked_us      BIGINT,
        ack_note      TEXT,
        finding       JSONB NOT NULL,
        UNIQUE (stack, address, kind)
    );
    CREATE INDEX service_findings_state ON service_findings (state, id);
    CREATE INDEX service_findings_stack ON service_findings (stack, state, id);
    CREATE INDEX service_findings_environment ON service_findings (environment, state, id);
    CREATE INDEX service_findings_changed ON service_findings (changed_us);
    CREATE TABLE service_stacks (
        stack           TEXT PRIMARY KEY,
        environment     TEXT NOT NULL,
        open            BIGINT NOT NULL,
        changed         BIGINT NOT NULL,
        deleted         BIGINT NOT NULL,
        unmanaged       BIGINT NOT NULL,
        acknowledged    BIGINT NOT NULL,
        last_run        BIGINT NOT NULL,
        last_success_us BIGINT
    );
    CREATE TABLE service_jobs (
        name           TEXT PRIMARY KEY,
        due_us         BIGINT NOT NULL,
        owner          TEXT,
        lease_until_us BIGINT,
        claims         BIGINT NOT NULL DEFAULT 0,
        last_run       BIGINT
    );
    CREATE INDEX service_jobs_due ON service_jobs (due_us);
    CREATE TABLE service_deliveries (
        id             BIGSERIAL PRIMARY KEY,
        target         TEXT NOT NULL,
        run            BIGINT NOT NULL,
        body           TEXT NOT NULL,
        created_us     BIGINT NOT NULL,
        state          TEXT NOT NULL,
        attempts       BIGINT NOT NULL DEFAULT 0,
        next_us        BIGINT NOT NULL,
        owner          TEXT,
        lease_until_us BIGINT,
        last_error     TEXT,
        done_us        BIGINT,
        UNIQUE (target, run)
    );
    CREATE INDEX service_deliveries_due ON service_deliveries (state, next_us);
",
    EVENTS_AND_LEDGER,
    // 3: the service history's generation (`ServiceStore::generation`), moved on by every
    // write that changes what the API lists.
    "
    CREATE TABLE service_generation (
        one   SMALLINT PRIMARY KEY CHECK (one = 1),
        value BIGINT NOT NULL
    );
    INSERT INTO service_generation (one, value) VALUES (1, 0);
",
    // 4: evidence blocks are zstd frames, most with a dictionary trained on the store's own
    // records (`driftlog_store::evidence`); blocks written before stay lz4 and read as before.
    // They are stored as they are: PostgreSQL's own compression finds nothing left to take.
    "
    ALTER TABLE audit_blocks RENAME COLUMN lz4 TO data;
    ALTER TABLE audit_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
    CREATE TABLE audit_dictionaries (
        id    BIGINT PRIMARY KEY,
        bytes BYTEA NOT NULL
    );
",
    // 5: events partitioned by month of their time (UTC), so retention drops whole months
    // instead of deleting rows (`crate::partitions`). Times outside 1970..9999 go to a default
    // partition. Ids stay unique by the writer's lock (a unique index would have to include
    // the time); an index over them serves `verify`'s walk, one over evidence blocks serves
    // pruning. The events of a store from before are moved over once.
    "
    ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
    DROP INDEX audit_events_resources;
    DROP INDEX audit_events_principal;
    DROP INDEX audit_events_issuer;
    DROP INDEX audit_events_action;
    ALTER TABLE audit_events_unpartitioned
        DROP CONSTRAINT IF EXISTS audit_events_time_us_source_event_id_key;
    CREATE TABLE audit_events (
        LIKE audit_events_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE,
        UNIQUE (time_us, source, event_id)
    ) PARTITION BY RANGE (time_us);
    CREATE TABLE audit_events_other PARTITION OF audit_events DEFAULT;
    DO $$
    DECLARE m TIMESTAMP;
    BEGIN
        FOR m IN SELECT DISTINCT date_trunc('month', to_timestamp(time_us / 1000000.0) AT TIME ZONE 'UTC')
                 FROM audit_events_unpartitioned
                 WHERE time_us >= 0 AND time_us < 253370764800000000
        LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%s) TO (%s)',
                'audit_events_p' || to_char(m, 'YYYY_MM'),
                (extract(epoch FROM m) * 1000000)::BIGINT,
                (extract(epoch FROM m + INTERVAL '1 month') * 1000000)::BIGINT);
        END LOOP;
    END $$;
    INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned;
    DROP TABLE audit_events_unpartitioned;
    CREATE INDEX audit_events_id ON audit_events (id);
    CREATE INDEX audit_events_block ON audit_events (raw_block);
    CREATE INDEX audit_events_resources ON audit_events USING GIN (resources);
    CREATE INDEX audit_events_principal ON audit_events (principal, time_us);
    CREATE INDEX audit_events_issuer ON audit_events (issuer, time_us);
    CREATE INDEX audit_events_action ON audit_events (action, time_us);
",
    // 6: values that repeat across events (principals, issuers, user agents, actions,
    // regions, resource names...) are stored once in `audit_strings`; the events' columns hold
    // their ids (`crate::strings`). On a million generated CloudTrail events the rows take a
    // third of the pages and the indexes over who and what a quarter (docs/BENCHMARKS.md).
    // Rare free texts (error messages, source identities, on-behalf-of users) stay text, and
    // event ids are bytes (`driftlog_store::event_ids::to_bytes`: a UUID's 16, not its 36
    // characters, in the row and the identity index). Each event also keeps its facets (write or not, actor kind, source) packed
    // in one integer, the codes of `driftlog_store::facets`; the indexes over who and what
    // lead with the name and then the facets, and `audit_string_facets` records which facets
    // each name was stored with, so a query reads only the events that match (`crate::plan`).
    // The events of a store from before are converted in place, once: one rewrite of the
    // table, then its indexes.
    "
    DROP INDEX audit_events_principal;
    DROP INDEX audit_events_issuer;
    DROP INDEX audit_events_action;
    ALTER TABLE audit_events ADD COLUMN facets INTEGER;
    CREATE TABLE audit_strings (
        id   INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        text TEXT NOT NULL UNIQUE
    );
    INSERT INTO audit_strings (text)
        SELECT DISTINCT t FROM audit_events e,
            unnest(ARRAY[e.source, e.account, e.region, e.service, e.action, e.outcome,
                         e.principal, e.principal_type, e.issuer, e.session_name,
                         e.invoked_by, e.actor_kind, e.actor_rule, e.source_ip,
                         e.user_agent] || e.resources) AS t
        WHERE t IS NOT NULL
        ORDER BY t;
    CREATE FUNCTION driftlog_migration_string(t TEXT) RETURNS INTEGER
        LANGUAGE sql STABLE STRICT AS 'SELECT id FROM audit_strings WHERE text = t';
    CREATE FUNCTION driftlog_migration_strings(t TEXT[]) RETURNS INTEGER[]
        LANGUAGE sql STABLE STRICT AS
        'SELECT coalesce(array_agg(s.id ORDER BY u.n), ''{}'')
         FROM unnest(t) WITH ORDINALITY AS u(text, n) JOIN audit_strings s ON s.text = u.text';
    CREATE FUNCTION driftlog_migration_facets(read_only BOOLEAN, kind TEXT, source TEXT)
        RETURNS INTEGER LANGUAGE sql IMMUTABLE AS $$
        -- (`|` and `<<` bind alike in PostgreSQL, left to right: every shift in brackets.)
        SELECT (CASE WHEN read_only = false THEN 1 ELSE 2 END)
             | ((16 + CASE kind WHEN 'console' THEN 0 WHEN 'cli' THEN 1 WHEN 'sdk' THEN 2
                     WHEN 'terraform' THEN 3 WHEN 'cloudformation' THEN 4 WHEN 'kubectl' THEN 5
                     WHEN 'service' THEN 6 ELSE 7 END) << 8)
             | ((32 + CASE source WHEN 'kubernetes' THEN 1 WHEN 'gcp' THEN 2 WHEN 'azure' THEN 3
                     ELSE 0 END) << 16)
        $$;
    CREATE FUNCTION driftlog_migration_event_id(id TEXT) RETURNS BYTEA
        LANGUAGE sql IMMUTABLE STRICT AS $$
        SELECT CASE
            WHEN id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN decode(replace(id, '-', ''), 'hex')
            WHEN octet_length(id) = 15 THEN convert_to(id, 'UTF8') || '\\xffff'::bytea
            ELSE convert_to(id, 'UTF8') || '\\xff'::bytea
        END
        $$;
    ALTER TABLE audit_events
        ALTER COLUMN event_id TYPE BYTEA USING driftlog_migration_event_id(event_id),
        ALTER COLUMN facets TYPE INTEGER
            USING driftlog_migration_facets(read_only, actor_kind, source),
        ALTER COLUMN source TYPE INTEGER USING driftlog_migration_string(source),
        ALTER COLUMN account TYPE INTEGER USING driftlog_migration_string(account),
        ALTER COLUMN region TYPE INTEGER USING driftlog_migration_string(region),
        ALTER COLUMN service TYPE INTEGER USING driftlog_migration_string(service),
        ALTER COLUMN action TYPE INTEGER USING driftlog_migration_string(action),
        ALTER COLUMN outcome TYPE INTEGER USING driftlog_migration_string(outcome),
        ALTER COLUMN principal TYPE INTEGER USING driftlog_migration_string(principal),
        ALTER COLUMN principal_type TYPE INTEGER USING driftlog_migration_string(principal_type),
        ALTER COLUMN issuer TYPE INTEGER USING driftlog_migration_string(issuer),
        ALTER COLUMN session_name TYPE INTEGER USING driftlog_migration_string(session_name),
        ALTER COLUMN invoked_by TYPE INTEGER USING driftlog_migration_string(invoked_by),
        ALTER COLUMN actor_kind TYPE INTEGER USING driftlog_migration_string(actor_kind),
        ALTER COLUMN actor_rule TYPE INTEGER USING driftlog_migration_string(actor_rule),
        ALTER COLUMN source_ip TYPE INTEGER USING driftlog_migration_string(source_ip),
        ALTER COLUMN user_agent TYPE INTEGER USING driftlog_migration_string(user_agent),
        ALTER COLUMN resources TYPE INTEGER[] USING driftlog_migration_strings(resources);
    DROP FUNCTION driftlog_migration_string(TEXT);
    DROP FUNCTION driftlog_migration_strings(TEXT[]);
    DROP FUNCTION driftlog_migration_facets(BOOLEAN, TEXT, TEXT);
    DROP FUNCTION driftlog_migration_event_id(TEXT);
    ALTER TABLE audit_events ALTER COLUMN facets SET NOT NULL;
    CREATE TABLE audit_string_facets (
        string INTEGER NOT NULL,
        facets INTEGER NOT NULL,
        PRIMARY KEY (string, facets)
    );
    INSERT INTO audit_string_facets (string, facets)
        SELECT action, facets FROM audit_events
        UNION SELECT principal, facets FROM audit_events WHERE principal IS NOT NULL
        UNION SELECT issuer, facets FROM audit_events WHERE issuer IS NOT NULL;
    CREATE TABLE audit_facets (facets INTEGER PRIMARY KEY);
    INSERT INTO audit_facets (facets) SELECT DISTINCT facets FROM audit_string_facets;
    CREATE INDEX audit_events_principal ON audit_events (principal, facets, time_us);
    CREATE INDEX audit_events_issuer ON audit_events (issuer, facets, time_us)
        WHERE issuer IS NOT NULL;
    CREATE INDEX audit_events_action ON audit_events (action, facets, time_us);
    CREATE INDEX audit_events_facets ON audit_events (facets, time_us);
",
    // 7: events packed in blocks of one day's events (`crate::blocks`), found through posting
    // lists (`crate::lists`): a row and seven index entries an event took 457 bytes, where
    // the whole store's goal is 202. Both tables are partitioned by month like the events
    // were (`crate::partitions`); `crate::events::pack_events` moves a store's events over,
    // then drops `audit_events`. Blocks and their identity hashes (`crate::identities`) are
    // stored as written: zstd and random hashes leave PostgreSQL's compression nothing to take.
    "
    CREATE TABLE audit_event_blocks (
        first_id   BIGINT NOT NULL,
        last_id    BIGINT NOT NULL,
        events     INTEGER NOT NULL,
        min_us     BIGINT NOT NULL,
        max_us     BIGINT NOT NULL,
        identities BYTEA NOT NULL,
        evidence   BIGINT[] NOT NULL,
        data       BYTEA NOT NULL
    ) PARTITION BY RANGE (min_us);
    ALTER TABLE audit_event_blocks ALTER COLUMN identities SET STORAGE EXTERNAL;
    ALTER TABLE audit_event_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
    CREATE TABLE audit_event_blocks_other PARTITION OF audit_event_blocks DEFAULT;
    CREATE INDEX audit_event_blocks_first_id ON audit_event_blocks (first_id);
    CREATE INDEX audit_event_blocks_min_us ON audit_event_blocks (min_us);
    CREATE TABLE audit_lists (
        kind     SMALLINT NOT NULL,
        key      INTEGER NOT NULL,
        first_us BIGINT NOT NULL,
        last_us  BIGINT NOT NULL,
        bytes    INTEGER NOT NULL,
        list     BYTEA NOT NULL
    ) PARTITION BY RANGE (first_us);
    CREATE TABLE audit_lists_other PARTITION OF audit_lists DEFAULT;
    CREATE INDEX audit_lists_key ON audit_lists (kind, key, last_us) INCLUDE (first_us, bytes);
",
];

/// The migration after which [`crate::events::pack_events`] runs.
const PACKED_EVENTS: usize = 7;

/// An arbitrary, fixed key for the migration's advisory lock.
const MIGRATION_LOCK: i64 = 0x6472_6966_746c_6f67;

/// Migration 2: the event store and the ledger. Events keep their fields as native columns
/// (PostgreSQL's own indexes answer the lookups: a GIN index over the names each event
/// carries, B-trees over who and what), and their original records packed in the same
/// evidence blocks as the SQLite store, so a record reads back byte for byte.
const EVENTS_AND_LEDGER: &str = "
    CREATE TABLE audit_events (
        id              BIGINT PRIMARY KEY,
        source          TEXT NOT NULL,
        event_id        TEXT NOT NULL,
        time_us         BIGINT NOT NULL,
        account         TEXT,
        region          TEXT,
        service         TEXT,
        action          TEXT NOT NULL,
        read_only       BOOLEAN,
        outcome         TEXT NOT NULL,
        error_message   TEXT,
        principal       TEXT,
        principal_type  TEXT,
        issuer          TEXT,
        session_name    TEXT,
        source_identity TEXT,
        on_behalf_of    TEXT,
        invoked_by      TEXT,
        mfa             BOOLEAN,
        actor_kind      TEXT NOT NULL,
        actor_rule      TEXT NOT NULL,
        source_ip       TEXT,
        user_agent      TEXT,
        resources       TEXT[] NOT NULL,
        completeness    SMALLINT NOT NULL,
        raw_block       BIGINT NOT NULL,
        raw_offset      INTEGER NOT NULL,
        raw_len         INTEGER NOT NULL,
        leaf            BYTEA NOT NULL,
        UNIQUE (time_us, source, event_id)
    );
    CREATE INDEX audit_events_resources ON audit_events USING GIN (resources);
    CREATE INDEX audit_events_principal ON audit_events (principal, time_us);
    CREATE INDEX audit_events_issuer ON audit_events (issuer, time_us);
    CREATE INDEX audit_events_action ON audit_events (action, time_us);
    CREATE TABLE audit_blocks (
        id  BIGINT PRIMARY KEY,
        lz4 BYTEA NOT NULL
    );
    CREATE TABLE audit_files (
        path        TEXT PRIMARY KEY,
        size        BIGINT NOT NULL,
        mtime_ns    BIGINT NOT NULL,
        sha256      TEXT NOT NULL,
        events      BIGINT NOT NULL,
        ingested_at TEXT NOT NULL
    );
    CREATE TABLE audit_addresses (
        address    TEXT NOT NULL,
        identifier TEXT NOT NULL,
        PRIMARY KEY (address, identifier)
    );
    CREATE TABLE audit_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    INSERT INTO audit_meta (key, value)
        VALUES ('store_id', md5(random()::text || clock_timestamp()::text));
    CREATE TABLE ledger_entries (
        idx  BIGINT PRIMARY KEY,
        kind TEXT NOT NULL,
        body BYTEA NOT NULL,
        leaf BYTEA NOT NULL
    );
    CREATE TABLE ledger_checkpoints (
        size BIGINT PRIMARY KEY,
        note TEXT NOT NULL
    );
    CREATE TABLE ledger_nodes (
        level SMALLINT NOT NULL,
        idx   BIGINT NOT NULL,
        hash  BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    );
";

/// A URL with its password (and nothing else) replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Whether a store or ledger location names a PostgreSQL database rather than a file.
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The server's message, with its detail when there is one; otherwise the client's, with its
/// cause ("error connecting to server: Connection refused").
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{} ({d})", db.message()),
            None => db.message().to_owned(),
        },
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text.push_str(": ");
                text.push_str(&c.to_string());
                cause = c.source();
            }
            text
        }
    }
}

/// A database error, or the version check refusing a schema from a newer driftlog.
#[derive(Debug)]
pub(crate) enum PoolError {
    Database(postgres::Error),
    TooNew { found: i64, known: i64 },
}

impl From<postgres::Error> for PoolError {
    fn from(e: postgres::Error) -> Self {
        PoolError::Database(e)
    }
}

/// A few connections to one database, shared by everything in the process that uses it
/// ([`Pool::shared`]). A connection that broke (the server restarted) is
/// dropped and the next call opens a new one, so callers ride through a restart with at most
/// the failed call's error.
pub(crate) struct Pool {
    url: String,
    /// Where the database is, for messages: the URL without its password.
    pub(crate) shown: PathBuf,
    slots: Mutex<Slots>,
    /// Signalled when a connection is given back or a slot frees.
    freed: Condvar,
}

/// The pool's connections: idle ones, and how many exist (idle or in use).
#[derive(Default)]
struct Slots {
    idle: Vec<Client>,
    open: usize,
}

/// Every pool this process opened, by URL.
static POOLS: OnceLock<Mutex<HashMap<String, Arc<Pool>>>> = OnceLock::new();

impl Pool {
    /// The process's pool for `url`, connected and migrated on first use. The event store, the
    /// ledger and the service's history share it, and so do the stores a server opens per
    /// request: one migration check per process, and connections reused, not opened each time.
    pub(crate) fn shared(url: &str) -> Result<Arc<Self>, PoolError> {
        let pools = POOLS.get_or_init(Default::default);
        if let Some(pool) = pools.lock().unwrap_or_else(|p| p.into_inner()).get(url) {
            return Ok(pool.clone());
        }
        // Connected outside the lock; two threads racing here both migrate, safely (the
        // migration takes an advisory lock), and one pool is kept.
        let pool = Arc::new(Self::connect(url)?);
        Ok(pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(url.to_owned())
            .or_insert(pool)
            .clone())
    }

    /// Connect (a `postgres://` URL or a libpq key=value string) and migrate.
    fn connect(url: &str) -> Result<Self, PoolError> {
        let pool = Self {
            url: url.to_owned(),
            shown: PathBuf::from(redact(url)),
            slots: Mutex::new(Slots::default()),
            freed: Condvar::new(),
        };
        let mut client = pool.take()?;
        let migrated = migrate(&mut client);
        pool.give_back(client);
        migrated.map(|()| pool)
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, or a new one while fewer than [`MAX`] exist; otherwise wait for one
    /// to be given back. Under load (a server's 200 concurrent requests) callers queue here
    /// instead of exhausting the server's connection slots.
    fn take(&self) -> Result<Client, postgres::Error> {
        let mut slots = self.slots();
        loop {
            while let Some(c) = slots.idle.pop() {
                if !c.is_closed() {
                    return Ok(c);
                }
                slots.open -= 1;
            }
            if slots.open < MAX {
                slots.open += 1;
                drop(slots);
                return Client::connect(&self.url, NoTls).inspect_err(|_| {
                    self.slots().open -= 1;
                    self.freed.notify_one();
                });
            }
            slots = self.freed.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Return a connection; one that broke (the server restarted) is dropped and its slot
    /// freed, so the next call opens a new one.
    fn give_back(&self, client: Client) {
        let mut slots = self.slots();
        if client.is_closed() {
            slots.open -= 1;
        } else {
            slots.idle.push(client);
        }
        drop(slots);
        self.freed.notify_one();
    }

    /// Run `f` on a pooled connection.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, postgres::Error> {
        let mut client = self.take()?;
        let result = f(&mut client);
        self.give_back(client);
        result
    }
}

/// Bring the schema up to date, once even when several processes start together.
fn migrate(client: &mut Client) -> Result<(), PoolError> {
    // Every start but the first after an upgrade finds the schema current: it is read, not
    // written, so no lock is taken and no commit waits for the disk.
    let current = client
        .query_typed_one("SELECT version FROM driftlog_schema", &[])
        .is_ok_and(|r| r.get::<_, i64>(0) == MIGRATIONS.len() as i64);
    if current {
        return Ok(());
    }
    migrate_to(client, MIGRATIONS.len())
}

/// Bring the schema to version `version` (tests make the stores of earlier releases with it).
pub(crate) fn migrate_to(client: &mut Client, version: usize) -> Result<(), PoolError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS driftlog_schema (version BIGINT NOT NULL);
         INSERT INTO driftlog_schema (version)
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM driftlog_schema);",
    )?;
    let found: i64 = tx
        .query_one("SELECT version FROM driftlog_schema", &[])?
        .get(0);
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(PoolError::TooNew { found, known });
    }
    let version = version.min(MIGRATIONS.len());
    for (n, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .map(|(i, sql)| (i + 1, sql))
        .take(version)
        .skip(found as usize)
    {
        tx.batch_execute(sql)?;
        if n == PACKED_EVENTS {
            crate::events::pack_events(&mut tx)?;
        }
    }
    tx.execute(
        "UPDATE driftlog_schema SET version = $1",
        &[&(version as i64).max(found)],
    )?;
    Ok(tx.commit()?)
}
