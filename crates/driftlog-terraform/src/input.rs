//! Getting an input's bytes: memory-mapped for files (no copy, the page cache is shared with
//! the other readers), read whole for stdin and pipes.

use crate::error::ReadError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct Input {
    /// As the user named it (`-` for stdin).
    pub path: PathBuf,
    /// The file as it is (hashed and measured as such).
    bytes: Bytes,
    /// The same text as UTF-8, when the file was in another encoding (UTF-16 from Windows
    /// PowerShell's `>`), or `None` when the file's own bytes are the text.
    utf8: Option<Vec<u8>>,
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
        Ok(Self::new(path, Bytes::Mapped(map)))
    }

    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Self {
        Self::new(path, Bytes::Owned(bytes))
    }

    fn new(path: &Path, bytes: Bytes) -> Self {
        let utf8 = driftlog_core::text::to_utf8(bytes.as_slice()).map(|t| t.into_bytes());
        Self {
            path: path.into(),
            bytes,
            utf8,
        }
    }

    /// The input's text as UTF-8 (a UTF-8 byte order mark, if any, is left for the parser).
    pub fn bytes(&self) -> &[u8] {
        match &self.utf8 {
            Some(text) => text,
            None => self.bytes.as_slice(),
        }
    }

    /// SHA-256 of the file as it is on disk.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.bytes.as_slice()))
    }

    /// Size of the file as it is on disk.
    pub fn len(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.as_slice().is_empty()
    }
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
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
