//! `driftlog ledger …`, and the entries `scan` and `ingest` append on their own.

use crate::cli::{LedgerArgs, LedgerCommand};
use crate::exit;
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use driftlog_app::record::{AckEntry, KeyEntry, Recorder};
use driftlog_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use driftlog_ledger::note::{Checkpoint, SignerKey, VerifierKey};
use driftlog_ledger::Ledger;
use serde_json::json;
use std::path::Path;

/// Where the ledger and its keys live (from the global options).
pub type Paths = Recorder;

/// The verifier key: `--pub FILE`, else the `.pub` beside the signing key, else the signing
/// key's own public half.
fn verifier(paths: &Paths, explicit: Option<&Path>) -> Result<Option<VerifierKey>> {
    let path = explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| paths.public_key());
    if path.exists() {
        let text = fs_err::read_to_string(&path)?;
        return Ok(Some(
            VerifierKey::parse(&text).with_context(|| format!("{}", path.display()))?,
        ));
    }
    if explicit.is_some() {
        bail!("no verifier key at {}", path.display());
    }
    Ok(paths.signer()?.map(|s| s.verifier()))
}

/// `driftlog ledger ack`: someone accepts a drift, for a reason, maybe until a date.
fn record_ack(
    paths: &Paths,
    address: &str,
    reason: &str,
    by: &str,
    expires: Option<&str>,
) -> Result<u64> {
    // Recorded as written when it is a date, else as the instant it stands for (a span such
    // as `30d` counts from now, and the ledger must say which day that was).
    let expires = expires
        .map(|text| {
            driftlog_core::time::parse(
                text,
                jiff::Timestamp::now(),
                driftlog_core::time::Bound::End,
                driftlog_core::time::Direction::Future,
            )
            .map(|t| t.to_string())
        })
        .transpose()
        .context("--expires")?;
    paths
        .ack(AckEntry {
            address: address.to_owned(),
            reason: reason.to_owned(),
            by: by.to_owned(),
            expires,
        })?
        .context("--ledger off: there is no ledger to record in")
}

fn b64(h: &[u8; 32]) -> String {
    B64.encode(h)
}

fn read_checkpoint(path: &Path, verifier: Option<&VerifierKey>) -> Result<Checkpoint> {
    let note = fs_err::read_to_string(path)?;
    let text = match verifier {
        Some(v) => v
            .open(&note)
            .with_context(|| format!("{}: signature", path.display()))?
            .to_owned(),
        None => bail!(
            "{}: no verifier key to check the checkpoint's signature (run `driftlog ledger keygen`, or pass --pub)",
            path.display()
        ),
    };
    Checkpoint::parse(&text).with_context(|| format!("{}", path.display()))
}

pub fn run(args: &LedgerArgs, paths: &Paths) -> Result<u8> {
    if !paths.enabled() {
        bail!("--ledger off: there is no ledger to work on");
    }
    match &args.command {
        LedgerCommand::Keygen { name, force } => {
            if paths.key.exists() && !force {
                bail!(
                    "{} exists; pass --force to replace it (checkpoints signed with the old key then need the old public key to verify)",
                    paths.key.display()
                );
            }
            let key = SignerKey::generate(name)?;
            if let Some(dir) = paths.key.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs_err::create_dir_all(dir)?;
            }
            // A key change is itself recorded, before any checkpoint is signed with the new key.
            paths.key(KeyEntry {
                name: key.name.clone(),
                verifier_key: key.verifier().to_text(),
                replaced: paths.key.exists(),
            })?;
            write_private(&paths.key, &(key.to_text() + "\n"))?;
            fs_err::write(paths.public_key(), key.verifier().to_text() + "\n")?;
            println!(
                "wrote {} (keep it secret) and {}:\n{}",
                paths.key.display(),
                paths.public_key().display(),
                key.verifier().to_text()
            );
            Ok(exit::CLEAN)
        }
        LedgerCommand::Ack {
            address,
            reason,
            by,
            expires,
        } => {
            let by = by
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".to_owned());
            let index = record_ack(paths, address, reason, &by, expires.as_deref())?;
            println!("recorded acknowledgement of {address} by {by} as ledger entry {index}");
            Ok(exit::CLEAN)
        }
        LedgerCommand::Show { from, to, json } => {
            let ledger = Ledger::open_existing(&paths.ledger)?;
            let entries = ledger.entries(*from, to.unwrap_or(u64::MAX))?;
            for e in entries {
                let body = String::from_utf8_lossy(&e.body);
                if *json {
                    println!("{body}");
                } else {
                    println!("{:>6} {:<8} {} {}", e.index, e.kind, b64(&e.leaf), body);
                }
            }
            Ok(exit::CLEAN)
        }
        LedgerCommand::Checkpoint => {
            let mut ledger = Ledger::open_existing(&paths.ledger)?;
            match paths.signer()? {
                Some(signer) => print!("{}", ledger.checkpoint(&signer)?),
                None => match ledger.checkpoints()?.pop() {
                    Some((_, note)) => print!("{note}"),
                    None => bail!(
                        "no signing key at {} and no stored checkpoint: run `driftlog ledger keygen --name NAME`",
                        paths.key.display()
                    ),
                },
            }
            Ok(exit::CLEAN)
        }
        LedgerCommand::Prove {
            entry,
            checkpoint,
            public,
        } => {
            let ledger = Ledger::open_existing(&paths.ledger)?;
            let tree = ledger.tree()?;
            let (size, root) = match checkpoint {
                Some(path) => {
                    let c = read_checkpoint(path, verifier(paths, public.as_deref())?.as_ref())?;
                    (c.size, c.root)
                }
                None => (tree.len(), tree.root(tree.len())?),
            };
            let proof = tree.inclusion_proof(*entry, size)?;
            let stored = ledger.entry(*entry)?.context("no such entry")?;
            let leaf = leaf_hash(&stored.body);
            verify_inclusion(*entry, size, &leaf, &proof, &root)
                .context("the stored entry is not in that checkpoint's tree")?;
            let out = json!({
                "leaf_index": entry,
                "tree_size": size,
                "leaf_hash": b64(&leaf),
                "root_hash": b64(&root),
                "hashes": proof.iter().map(b64).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(exit::CLEAN)
        }
        LedgerCommand::Consistency { old, new, public } => {
            let ledger = Ledger::open_existing(&paths.ledger)?;
            let verifier = verifier(paths, public.as_deref())?;
            let (a, b) = (
                read_checkpoint(old, verifier.as_ref())?,
                read_checkpoint(new, verifier.as_ref())?,
            );
            let tree = ledger.tree()?;
            let proof = tree.consistency_proof(a.size, b.size)?;
            verify_consistency(a.size, b.size, &a.root, &b.root, &proof)
                .context("the two checkpoints are not consistent with each other and this log")?;
            let out = json!({
                "old_size": a.size,
                "new_size": b.size,
                "hashes": proof.iter().map(b64).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(exit::CLEAN)
        }
        LedgerCommand::Verify { public } => {
            let ledger = Ledger::open_existing(&paths.ledger)?;
            Ok(if verify_ledger(&ledger, paths, public.as_deref())? {
                exit::CLEAN
            } else {
                exit::ERROR
            })
        }
    }
}

/// Check every entry and checkpoint; say what was found. Returns whether the ledger is intact.
pub fn verify_ledger(ledger: &Ledger, paths: &Paths, public: Option<&Path>) -> Result<bool> {
    let verifier = verifier(paths, public)?;
    let (len, checked, damage) = ledger.verify_all(verifier.as_ref())?;
    match damage {
        None => {
            println!(
                "ledger {}: {len} entries verified; {checked} signed checkpoints{}",
                paths.ledger.display(),
                if verifier.is_some() {
                    " verified and consistent"
                } else {
                    " read (no verifier key: signatures not checked)"
                }
            );
            Ok(true)
        }
        Some(d) => {
            eprintln!(
                "ledger {}: first bad entry {}: {}",
                paths.ledger.display(),
                d.index,
                d.reason
            );
            Ok(false)
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt;
        let mut f = fs_err::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    #[cfg(not(unix))]
    fs_err::write(path, text)?;
    Ok(())
}
