//! Why a Terraform file could not be read. Every variant names the file.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{path}: is a directory; expected a Terraform state (.tfstate) or plan JSON file")]
    Directory { path: PathBuf },

    #[error("{path}: file is empty; expected a Terraform state or plan JSON object")]
    Empty { path: PathBuf },

    #[error("{path}: byte {offset}: expected a JSON object ('{{'), found {found}")]
    NotAnObject {
        path: PathBuf,
        offset: usize,
        found: String,
    },

    #[error("{path}: line {line}, column {column}: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error(
        "{path}: Terraform state format version {found} (Terraform {era}); driftlog reads format 4 \
         (Terraform 0.12 and later). Upgrade the state with Terraform 0.12 or later: run \
         `terraform init` and `terraform apply -refresh-only` (or `terraform state pull > new.tfstate`) \
         in the configuration's directory"
    )]
    OldStateVersion {
        path: PathBuf,
        found: u64,
        era: &'static str,
    },

    #[error("{path}: Terraform state format version {found} is newer than this driftlog understands (format 4); upgrade driftlog")]
    NewStateVersion { path: PathBuf, found: u64 },

    #[error(
        "{path}: plan JSON format_version {found} is not supported; driftlog reads 0.x and 1.x"
    )]
    PlanVersion { path: PathBuf, found: String },

    #[error(
        "{path}: not a Terraform state or plan: expected a state (\"version\": 4 and \"resources\"), \
         `terraform show -json` output (\"values\" or \"resource_changes\"/\"resource_drift\"), found top-level keys [{keys}]"
    )]
    Unrecognized { path: PathBuf, keys: String },

    #[error(
        "{path}: {first} and {second} both have address {address}; an address must name one \
         instance (was the file edited or merged by hand?)"
    )]
    Duplicate {
        path: PathBuf,
        address: String,
        first: String,
        second: String,
    },

    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },

    #[error("{path}: {source}")]
    Engine {
        path: PathBuf,
        source: driftlog_core::EngineError,
    },
}

impl ReadError {
    /// Turn a serde_json error into one that names the file and position.
    pub(crate) fn json(path: &std::path::Path, err: &serde_json::Error) -> Self {
        Self::Json {
            path: path.to_owned(),
            line: err.line(),
            column: err.column(),
            message: without_position(err),
        }
    }
}

/// serde_json's message without the " at line L column C" it appends: messages here say where
/// in the file themselves.
pub(crate) fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}
