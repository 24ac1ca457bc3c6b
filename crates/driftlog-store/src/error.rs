use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the store {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("store {path}: {source}")]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "store {path} has schema version {found}, newer than this driftlog understands ({known}); \
         upgrade driftlog"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("no event store at {path}: run `driftlog ingest` first (or pass --store)")]
    Missing { path: PathBuf },
    #[error("store {path}: a committed batch could not be recorded: {message}")]
    Recording { path: PathBuf, message: String },
    /// A worker's lease on a job ended and another worker took it over: what it did is not
    /// recorded (the other worker's run is).
    #[error("store {path}: the lease on job `{job}` was lost to another worker; its run is not recorded")]
    LeaseLost { path: PathBuf, job: String },
    /// A database server's error (PostgreSQL); `location` never carries a password.
    #[error("store {}: {message}", location.display())]
    Database { location: PathBuf, message: String },
    #[error("store {path}: {what} is damaged: {reason}")]
    Damaged {
        path: PathBuf,
        what: String,
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn sql(path: &Path, source: rusqlite::Error) -> Self {
        StoreError::Sql {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn open(path: &Path, source: rusqlite::Error) -> Self {
        StoreError::Open {
            path: path.into(),
            source,
        }
    }
}

/// Errors from code that does not know the store's path yet.
#[derive(Debug)]
pub(crate) enum Unplaced {
    Sql(rusqlite::Error),
    TooNew { found: i64, known: i64 },
}

impl Unplaced {
    pub(crate) fn at(self, path: &Path) -> StoreError {
        match self {
            Unplaced::Sql(e) => StoreError::sql(path, e),
            Unplaced::TooNew { found, known } => StoreError::TooNew {
                path: path.into(),
                found,
                known,
            },
        }
    }
}

impl From<rusqlite::Error> for Unplaced {
    fn from(e: rusqlite::Error) -> Self {
        Unplaced::Sql(e)
    }
}
