//! Working on the ledger itself: keys, acknowledgements, listing, checkpoints, proofs and
//! verification. The entries that scans and ingests append are in [`crate::record`]; this is
//! what `driftlog ledger …` and the server (proofs, C2SP tlog-tiles) ask of the log directly.

use crate::record::{AckEntry, KeyEntry, Recorder};
use crate::AppError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use driftlog_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion, Hash};
use driftlog_ledger::note::{Checkpoint, SignerKey, VerifierKey};
use driftlog_ledger::tiles::TilePath;
use driftlog_ledger::{Damage, Ledger};
use serde::Serialize;
use std::path::{Path, PathBuf};

fn open(rec: &Recorder) -> Result<Ledger, AppError> {
    if !rec.enabled() {
        return Err(AppError::Usage(
            "--ledger off: there is no ledger to work on".into(),
        ));
    }
    Ok(crate::stores::open_ledger_existing(&rec.ledger)?)
}

fn b64(h: &Hash) -> String {
    B64.encode(h)
}

fn note_error(path: &Path, what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Input(format!("{}: {what}{e}", path.display()))
}

/// The verifier key: `explicit`, else the `.pub` beside the signing key, else the signing
/// key's own public half. `None` when there is no key at all.
pub fn verifier(rec: &Recorder, explicit: Option<&Path>) -> Result<Option<VerifierKey>, AppError> {
    let path = explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| rec.public_key());
    if path.exists() {
        let text = fs_read(&path, "the verifier key")?;
        return VerifierKey::parse(&text)
            .map(Some)
            .map_err(|e| note_error(&path, "", e));
    }
    if explicit.is_some() {
        return Err(AppError::Input(format!(
            "no verifier key at {}",
            path.display()
        )));
    }
    Ok(rec
        .signer()
        .map_err(|e| AppError::recording("the key", e))?
        .map(|s| s.verifier()))
}

fn fs_read(path: &Path, what: &'static str) -> Result<String, AppError> {
    std::fs::read_to_string(path).map_err(|source| AppError::Io {
        path: path.to_owned(),
        what,
        source,
    })
}

fn fs_write(path: &Path, text: &str, private: bool) -> Result<(), AppError> {
    use std::io::Write;
    let io = |source| AppError::Io {
        path: path.to_owned(),
        what: "writing the key",
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// A new signing key, written where the recorder looks for it.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub key: PathBuf,
    pub public: PathBuf,
    pub verifier_key: String,
}

/// Generate a signing key. The change is recorded in the ledger before any checkpoint is
/// signed with the new key, so a verifier can tell a key rotation from a forgery.
pub fn keygen(rec: &Recorder, name: &str, force: bool) -> Result<NewKey, AppError> {
    if !rec.enabled() {
        return Err(AppError::Usage(
            "--ledger off: there is no ledger to work on".into(),
        ));
    }
    let replaced = rec.key.exists();
    if replaced && !force {
        return Err(AppError::Usage(format!(
            "{} exists; pass --force to replace it (checkpoints signed with the old key then need the old public key to verify)",
            rec.key.display()
        )));
    }
    let key = SignerKey::generate(name).map_err(|e| AppError::Usage(e.to_string()))?;
    if let Some(dir) = rec.key.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Io {
            path: dir.to_owned(),
            what: "creating the key's directory",
            source,
        })?;
    }
    rec.key(KeyEntry {
        name: key.name.clone(),
        verifier_key: key.verifier().to_text(),
        replaced,
    })
    .map_err(|e| AppError::recording("the new key", e))?;
    fs_write(&rec.key, &(key.to_text() + "\n"), true)?;
    fs_write(&rec.public_key(), &(key.verifier().to_text() + "\n"), false)?;
    Ok(NewKey {
        key: rec.key.clone(),
        public: rec.public_key(),
        verifier_key: key.verifier().to_text(),
    })
}

/// Someone accepts a drift, for a reason, maybe until a time (`expires` in the time grammar:
/// a date, an instant, or a span counted forward from now).
#[derive(Debug, Clone)]
pub struct AckRequest {
    pub address: String,
    pub reason: String,
    pub by: String,
    pub expires: Option<String>,
}

/// Record an acknowledgement; returns its position in the ledger.
pub fn ack(rec: &Recorder, request: &AckRequest) -> Result<u64, AppError> {
    use driftlog_core::time;
    // Recorded as the instant it stands for: a span such as `30d` counts from now, and the
    // ledger must say which day that was.
    let expires = request
        .expires
        .as_deref()
        .map(|text| {
            time::parse(
                text,
                jiff::Timestamp::now(),
                time::Bound::End,
                time::Direction::Future,
            )
            .map(|t| t.to_string())
        })
        .transpose()
        .map_err(|source| AppError::Time {
            option: "--expires",
            source,
        })?;
    rec.ack(AckEntry {
        address: request.address.clone(),
        reason: request.reason.clone(),
        by: request.by.clone(),
        expires,
    })
    .map_err(|e| AppError::recording("the acknowledgement", e))?
    .ok_or_else(|| AppError::Usage("--ledger off: there is no ledger to record in".into()))
}

/// The stored entries from `from` up to (not including) `to`.
pub fn entries(
    rec: &Recorder,
    from: u64,
    to: Option<u64>,
) -> Result<Vec<driftlog_ledger::Entry>, AppError> {
    Ok(open(rec)?.entries(from, to.unwrap_or(u64::MAX))?)
}

/// A freshly signed checkpoint of the whole log, or the last stored one when there is no
/// signing key.
pub fn checkpoint(rec: &Recorder) -> Result<String, AppError> {
    let mut ledger = open(rec)?;
    match rec
        .signer()
        .map_err(|e| AppError::recording("a checkpoint", e))?
    {
        Some(signer) => Ok(ledger.checkpoint(&signer)?),
        None => ledger.checkpoints()?.pop().map(|(_, note)| note).ok_or_else(|| {
            AppError::Usage(format!(
                "no signing key at {} and no stored checkpoint: run `driftlog ledger keygen --name NAME`",
                rec.key.display()
            ))
        }),
    }
}

/// A checkpoint note, its signature checked.
fn read_checkpoint(path: &Path, verifier: Option<&VerifierKey>) -> Result<Checkpoint, AppError> {
    let note = fs_read(path, "the checkpoint")?;
    let Some(verifier) = verifier else {
        return Err(AppError::Usage(format!(
            "{}: no verifier key to check the checkpoint's signature (run `driftlog ledger keygen`, or pass --pub)",
            path.display()
        )));
    };
    let text = verifier
        .open(&note)
        .map_err(|e| note_error(path, "signature: ", e))?;
    Checkpoint::parse(text).map_err(|e| note_error(path, "", e))
}

/// RFC 9162 inclusion proof, as JSON-ready fields (hashes in base64).
#[derive(Debug, Clone, Serialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root_hash: String,
    pub hashes: Vec<String>,
}

/// Prove that entry `index` is in the tree of `checkpoint` (a signed note file), or of the
/// whole log as it is now. The proof is checked before it is returned.
pub fn prove(
    rec: &Recorder,
    index: u64,
    checkpoint: Option<&Path>,
    public: Option<&Path>,
) -> Result<InclusionProof, AppError> {
    let ledger = open(rec)?;
    let (size, root) = match checkpoint {
        Some(path) => {
            let c = read_checkpoint(path, verifier(rec, public)?.as_ref())?;
            (c.size, c.root)
        }
        None => {
            let size = ledger.len()?;
            (size, ledger.root(size)?)
        }
    };
    proven(&ledger, index, size, root)
}

/// Prove that entry `index` is in the log's first `size` entries (default: all of them),
/// against the root the log has at that size: what the API serves. Checked before returned.
pub fn inclusion(
    rec: &Recorder,
    index: u64,
    size: Option<u64>,
) -> Result<InclusionProof, AppError> {
    let ledger = open(rec)?;
    let size = match size {
        Some(size) => size,
        None => ledger.len()?,
    };
    let root = ledger.root(size)?;
    proven(&ledger, index, size, root)
}

/// The audit path of `index` at `size`, read from the log's tiles, checked against `root`.
fn proven(ledger: &Ledger, index: u64, size: u64, root: Hash) -> Result<InclusionProof, AppError> {
    let proof = ledger.inclusion_proof(index, size)?;
    let stored = ledger
        .entry(index)?
        .ok_or_else(|| AppError::Input(format!("no entry {index} in the ledger")))?;
    let leaf = leaf_hash(&stored.body);
    verify_inclusion(index, size, &leaf, &proof, &root).map_err(|e| {
        AppError::Input(format!(
            "the stored entry is not in that checkpoint's tree: {e}"
        ))
    })?;
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: b64(&leaf),
        root_hash: b64(&root),
        hashes: proof.iter().map(b64).collect(),
    })
}

/// RFC 9162 consistency proof between two signed checkpoints.
#[derive(Debug, Clone, Serialize)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: String,
    pub new_root: String,
    pub hashes: Vec<String>,
}

/// Prove that the log of checkpoint `old` is a prefix of the log of `new`, and that this log
/// holds both. The proof is checked before it is returned.
pub fn consistency(
    rec: &Recorder,
    old: &Path,
    new: &Path,
    public: Option<&Path>,
) -> Result<ConsistencyProof, AppError> {
    let ledger = open(rec)?;
    let verifier = verifier(rec, public)?;
    let (a, b) = (
        read_checkpoint(old, verifier.as_ref())?,
        read_checkpoint(new, verifier.as_ref())?,
    );
    let proof = ledger.consistency_proof(a.size, b.size)?;
    verify_consistency(a.size, b.size, &a.root, &b.root, &proof).map_err(|e| {
        AppError::Input(format!(
            "the two checkpoints are not consistent with each other and this log: {e}"
        ))
    })?;
    Ok(ConsistencyProof {
        old_size: a.size,
        new_size: b.size,
        old_root: b64(&a.root),
        new_root: b64(&b.root),
        hashes: proof.iter().map(b64).collect(),
    })
}

/// Prove that the log's first `first` entries are a prefix of its first `second` (default:
/// all), with the roots it has at both sizes: what the API serves. Checked before returned.
pub fn consistency_between(
    rec: &Recorder,
    first: u64,
    second: Option<u64>,
) -> Result<ConsistencyProof, AppError> {
    let ledger = open(rec)?;
    let second = match second {
        Some(size) => size,
        None => ledger.len()?,
    };
    let proof = ledger.consistency_proof(first, second)?;
    let (a, b) = (ledger.root(first)?, ledger.root(second)?);
    verify_consistency(first, second, &a, &b, &proof)
        .map_err(|e| AppError::Input(format!("the log is not consistent with itself: {e}")))?;
    Ok(ConsistencyProof {
        old_size: first,
        new_size: second,
        old_root: b64(&a),
        new_root: b64(&b),
        hashes: proof.iter().map(b64).collect(),
    })
}

/// A C2SP tlog-tiles resource: `path` is what follows `tile/` (`0/x001/234`,
/// `1/000.p/17`, `entries/005`). `None` when the path names no tile or the log is too small
/// for it yet.
pub fn tile(rec: &Recorder, path: &str) -> Result<Option<Vec<u8>>, AppError> {
    let Some(tile) = TilePath::parse(path) else {
        return Ok(None);
    };
    let ledger = open(rec)?;
    Ok(match tile {
        TilePath::Hashes {
            level,
            index,
            width,
        } => ledger.hash_tile(level, index, width)?,
        TilePath::Entries { index, width } => ledger.entry_bundle(index, width)?,
    })
}

/// What checking every entry and checkpoint found.
#[derive(Debug, Clone)]
pub struct LedgerCheck {
    pub ledger: PathBuf,
    pub entries: u64,
    pub checkpoints: usize,
    /// Whether checkpoint signatures were checked (a verifier key was found).
    pub signatures_checked: bool,
    /// The first damage, if any.
    pub damage: Option<Damage>,
}

impl LedgerCheck {
    pub fn intact(&self) -> bool {
        self.damage.is_none()
    }
}

/// Check every entry and checkpoint of the ledger.
pub fn verify(rec: &Recorder, public: Option<&Path>) -> Result<LedgerCheck, AppError> {
    let ledger = open(rec)?;
    let verifier = verifier(rec, public)?;
    let (entries, checkpoints, damage) = ledger.verify_all(verifier.as_ref())?;
    Ok(LedgerCheck {
        ledger: rec.ledger.clone(),
        entries,
        checkpoints,
        signatures_checked: verifier.is_some(),
        damage,
    })
}

/// The ledger at a glance (the dashboard's ledger panel): its size and its latest stored
/// checkpoint, without signing a new one.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerStatus {
    pub entries: u64,
    /// The size the latest checkpoint covers, and the note itself.
    pub checkpoint_size: Option<u64>,
    pub checkpoint: Option<String>,
}

pub fn status(rec: &Recorder) -> Result<LedgerStatus, AppError> {
    let ledger = open(rec)?;
    let last = ledger.checkpoints()?.pop();
    Ok(LedgerStatus {
        entries: ledger.len()?,
        checkpoint_size: last.as_ref().map(|(size, _)| *size),
        checkpoint: last.map(|(_, note)| note),
    })
}
