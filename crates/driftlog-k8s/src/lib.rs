//! Kubernetes readers: turn manifests and live objects into [`driftlog_core::k8s::Object`]s.
//! The compare itself is pure and lives in `driftlog_core::k8s`.

#[cfg(feature = "cluster")]
pub mod cluster;
pub mod files;

#[cfg(feature = "cluster")]
pub use cluster::{read_cluster, ClusterError, ClusterOptions, ClusterRead};
pub use files::{parse, read_path, Read};

/// Why an input could not be read: which file (and document), and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Input { origin: String, message: String },
    #[error(transparent)]
    Object(#[from] driftlog_core::k8s::ObjectError),
}
