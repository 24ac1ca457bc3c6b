//! driftlog's PostgreSQL team store: the service's history, the event store and the ledger,
//! behind the same traits as the embedded SQLite stores ([`ServiceStore`],
//! [`driftlog_store::EventStore`], [`driftlog_ledger::storage::Storage`]), so several
//! `driftlog serve` processes (and the CLI) on several machines share one database.
//!
//! - Jobs and alerts are claimed with `SELECT … FOR UPDATE SKIP LOCKED`: a worker never waits
//!   for a row another worker holds, and never gets the same one.
//! - A run is recorded in one transaction that first locks its job's row and checks the lease
//!   is still this worker's, so a worker whose job was taken over records nothing.
//! - Events are packed in compressed blocks of one day's events and found through posting
//!   lists, as the SQLite store finds them (`blocks`, `lists`, `read`); they arrive with
//!   `COPY … FROM STDIN (FORMAT binary)`, one transaction per batch of files, under an
//!   advisory lock so ids ascend in commit order (the ledger commits to them).
//! - Connections come from a small pool; a connection that broke (the server restarted) is
//!   dropped and the next call opens a new one, so the service rides through a restart with
//!   at most the failed call's error.
//! - Events are partitioned by month of their time, so retention drops whole months.
//! - The schema is versioned in `driftlog_schema` and migrated on connect, under an advisory
//!   lock so two workers starting together migrate once.
//!
//! The conformance suites in `driftlog_store` (events, service) run against it
//! (tests/conformance.rs), the same cases the SQLite stores run.

mod blocks;
mod events;
mod identities;
mod ledger;
mod lists;
mod partitions;
mod pool;
mod read;
mod service;
mod strings;
#[doc(hidden)]
pub mod testing;

pub use events::PgEventStore;
pub use ledger::PgLedger;
pub use pool::{is_url, redact};
pub use service::PgServiceStore;

#[cfg(doc)]
use driftlog_store::service::ServiceStore;
