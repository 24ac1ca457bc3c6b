//! What can go wrong, and where.

use std::fmt;

/// Where a record sits in its file: the line it starts on and, inside a document, the path to
/// it (`Records[3]`, `[2].data.Records[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: u64,
    pub pointer: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if !self.pointer.is_empty() {
            write!(f, " ({})", self.pointer)?;
        }
        Ok(())
    }
}

/// A record left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub location: Location,
    pub reason: String,
}

/// A file that could not be read at all; none of its events count.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt gzip data: {0}")]
    Gzip(std::io::Error),
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("empty file: no JSON document or JSON lines")]
    Empty,
}
