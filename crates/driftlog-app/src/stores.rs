//! Where driftlog keeps things: a file (the embedded SQLite default, nothing to set up) or a
//! PostgreSQL database named by a `postgres://` URL (a team's shared store). This is the one
//! place that tells them apart; every use case opens its stores here and works through the
//! same traits either way.
//!
//! With a PostgreSQL store the ledger lives in the same database unless it is given elsewhere,
//! so a team's events and the log that commits to them stay together.

use driftlog_ledger::{Ledger, LedgerError};
use driftlog_store::service::{ServiceDb, ServiceStore};
use driftlog_store::{EventStore, StoreError};
use std::path::Path;

/// Whether `location` names a PostgreSQL database rather than a file.
pub fn is_database(location: &Path) -> bool {
    location.to_str().is_some_and(driftlog_postgres::is_url)
}

/// Whether there is a store at `location` to read: a file that exists, or any database (it is
/// reached, and migrated, on open).
pub fn exists(location: &Path) -> bool {
    is_database(location) || location.exists()
}

/// `location` as messages, logs, reports and the ledger show it: a database URL without its
/// password.
pub fn shown(location: &Path) -> String {
    match location.to_str() {
        Some(url) if driftlog_postgres::is_url(url) => driftlog_postgres::redact(url),
        _ => location.display().to_string(),
    }
}

/// The URL in `location`, when it is one.
fn url(location: &Path) -> Option<&str> {
    location.to_str().filter(|l| driftlog_postgres::is_url(l))
}

/// The event store at `location`, created (or migrated) if needed.
pub fn open_events(location: &Path) -> Result<Box<dyn EventStore>, StoreError> {
    match url(location) {
        Some(url) => Ok(Box::new(driftlog_postgres::PgEventStore::connect(url)?)),
        None => driftlog_store::open(location),
    }
}

/// The event store at `location`, failing if a file store does not exist yet (a database is
/// reached, and migrated, like any other).
pub fn open_events_existing(location: &Path) -> Result<Box<dyn EventStore>, StoreError> {
    match url(location) {
        Some(_) => open_events(location),
        None => driftlog_store::open_existing(location),
    }
}

/// The service's history beside the event store at `location`.
pub fn open_history(location: &Path) -> Result<Box<dyn ServiceStore>, StoreError> {
    match url(location) {
        Some(url) => Ok(Box::new(driftlog_postgres::PgServiceStore::connect(url)?)),
        None => Ok(Box::new(ServiceDb::open(location)?)),
    }
}

/// The ledger at `location`, created if needed.
pub fn open_ledger(location: &Path) -> Result<Ledger, LedgerError> {
    match url(location) {
        Some(url) => Ok(Ledger::with_storage(Box::new(
            driftlog_postgres::PgLedger::connect(url)?,
        ))),
        None => Ledger::open(location),
    }
}

/// The ledger at `location`, failing if a file ledger does not exist yet.
pub fn open_ledger_existing(location: &Path) -> Result<Ledger, LedgerError> {
    match url(location) {
        Some(_) => open_ledger(location),
        None => Ledger::open_existing(location),
    }
}

/// Where the ledger is when none is given: beside a database store, in the same database;
/// otherwise the default file.
pub fn default_ledger(store: &Path, file: &Path) -> std::path::PathBuf {
    if is_database(store) {
        store.to_path_buf()
    } else {
        file.to_path_buf()
    }
}
