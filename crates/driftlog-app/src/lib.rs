//! driftlog's use cases, in one layer that the command line and the server both call: each
//! takes a plain request and reports through plain results and a [`Progress`], so neither
//! front end holds logic of its own.
//!
//! - [`scan`]: read declared and live inputs, compare, ignore, attribute, record.
//! - [`compare`]: environments side by side: what differs, expected or not, and who changed it.
//! - [`cloudtrail`]: CloudTrail digest chains validated and recorded.
//! - [`archive`]: the store's history as partitioned Parquet files, each recorded in the ledger.
//! - [`attribute`]: tie findings to the audit events that caused them.
//! - [`fleet`]: org-wide scans: many stacks' state pairs from two globs, per stack and in total.
//! - [`ingest`]: audit logs into the event store, recorded batch by batch.
//! - [`events`]: search the event store.
//! - [`explain`]: one resource's story: its events, its drift and who caused it.
//! - [`ledger`]: the ledger itself: keys, acknowledgements, checkpoints, proofs, checks.
//! - [`remediate`]: revert commands, codify patches and accept lines for each finding.
//! - [`prune`]: retention: archived events older than a window removed, each batch recorded.
//! - [`record`]: what driftlog writes in its tamper-evident ledger (typed entry schemas) and
//!   writing it, including the per-batch commitments to stored events' contents.
//! - [`service`]: the jobs `driftlog serve` runs on schedules, recorded in the history.
//! - [`stores`]: where the event store, the ledger and the history live: a file or PostgreSQL.
//! - [`verify`]: recomputing the event store against those commitments, naming the first
//!   altered, deleted or inserted event.
//!
//! ```no_run
//! use driftlog_app::scan::{scan, ScanInputs, ScanRequest};
//! use driftlog_app::{record::Recorder, Quiet};
//! let request = ScanRequest {
//!     inputs: ScanInputs::Plan("plan.json".into()),
//!     ignore_file: None,
//!     ignore: vec![],
//!     audit: vec![],
//!     attribution: true,
//!     as_of: None,
//!     store: ".driftlog/events.db".into(),
//!     remediate: None,
//!     aws: Default::default(),
//! };
//! let ledger = Recorder { ledger: "off".into(), key: ".driftlog/ledger.key".into() };
//! let report = scan(&request, &ledger, &Quiet)?;
//! println!("{} drifted", report.summary.drifted);
//! # Ok::<(), driftlog_app::AppError>(())
//! ```

pub mod archive;
pub mod attribute;
pub mod cloudtrail;
pub mod compare;
/// The service configuration (`driftlog.toml`), in its own crate so it is fuzzed alone.
pub use driftlog_config as config;
pub mod events;
pub mod explain;
pub mod fleet;
pub mod ingest;
pub mod ledger;
pub mod prune;
pub mod record;
pub mod remediate;
pub mod scan;
pub mod service;
pub mod source;
pub mod stores;
pub mod verify;

use std::path::PathBuf;

/// Where a long use case reports what it is doing (a spinner on a terminal, a log line in a
/// service). Every method has a default that ignores it.
pub trait Progress: Sync {
    fn step(&self, _what: &str) {}
    /// `done` of `total` units of `what` (a progress bar).
    fn count(&self, _what: &str, _done: u64, _total: u64) {}
}

/// A [`Progress`] that shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Why a use case failed. Each variant carries what the user needs to act: the file, the
/// option, the reason.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Read(#[from] driftlog_terraform::ReadError),
    #[error(transparent)]
    Terraform(#[from] driftlog_terraform::runner::RunError),
    #[error(transparent)]
    Kubernetes(#[from] driftlog_k8s::ReadError),
    #[error(transparent)]
    Cluster(#[from] driftlog_k8s::ClusterError),
    #[error(transparent)]
    Selector(#[from] driftlog_core::k8s::SelectorError),
    #[error(transparent)]
    Ignore(#[from] driftlog_core::ignore::IgnoreError),
    #[error(transparent)]
    Store(#[from] driftlog_store::StoreError),
    #[error(transparent)]
    Ledger(#[from] driftlog_ledger::LedgerError),
    #[error(transparent)]
    Verify(#[from] verify::VerifyError),
    #[error(transparent)]
    Aws(#[from] driftlog_aws::AwsError),
    #[error(transparent)]
    Archive(#[from] driftlog_archive::ArchiveError),
    #[error("{option}: {source}")]
    Time {
        option: &'static str,
        source: driftlog_core::time::TimeError,
    },
    #[error("{what}: {}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("appending {what} to the ledger: {source}")]
    Recording {
        what: &'static str,
        source: record::RecordError,
    },
    /// The inputs cannot be used as given (a state where a plan is needed, an address that is
    /// not in the state).
    #[error("{0}")]
    Input(String),
    /// A request that does not say what to do.
    #[error("{0}")]
    Usage(String),
}

impl AppError {
    pub(crate) fn recording(what: &'static str, source: record::RecordError) -> Self {
        AppError::Recording { what, source }
    }
}
