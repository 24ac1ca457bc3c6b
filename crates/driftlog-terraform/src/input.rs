//! Getting an input's bytes: memory-mapped for files (no copy, the page cache is shared with
//! the other readers), read whole for stdin and pipes.

use crate::error::ReadError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct Input {
    /// As the user named it (`-` for stdin).
    pub path: PathBuf,
    bytes: Bytes,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Input {
    /// Open a file, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        if path.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|source| ReadError::Io {
                    path: path.into(),
                    source,
                })?;
            return Ok(Self::from_bytes(path, buf));
        }
        let io = |source| ReadError::Io {
            path: path.into(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(ReadError::Directory { path: path.into() });
        }
        let file = std::fs::File::open(path).map_err(io)?;
        if !meta.is_file() || meta.len() == 0 {
            // Pipes and process substitutions cannot be mapped; empty files cannot either.
            let mut buf = Vec::new();
            (&file).read_to_end(&mut buf).map_err(io)?;
            return Ok(Self::from_bytes(path, buf));
        }
        let map = map_file(&file).map_err(io)?;
        Ok(Self {
            path: path.into(),
            bytes: Bytes::Mapped(map),
        })
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Self {
        Self {
            path: path.into(),
            bytes: Bytes::Owned(bytes),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    pub fn sha256_hex(&self) -> String {
        let digest = Sha256::digest(self.bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

#[allow(unsafe_code)]
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is read-only. If another process truncates the file while driftlog
    // reads it, access faults; that is the same trade-off ripgrep makes for large inputs.
    unsafe { memmap2::Mmap::map(file) }
}

/// The path shown in messages and reports.
pub fn display_path(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}
