//! `driftlog ledger …`, and the entries `scan` and `ingest` append on their own.

use crate::cli::{LedgerArgs, LedgerCommand};
use crate::exit;
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use driftlog_core::time::format_time_us;
use driftlog_core::ScanReport;
use driftlog_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use driftlog_ledger::note::{Checkpoint, SignerKey, VerifierKey};
use driftlog_ledger::Ledger;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Where the ledger and its keys live (from the global options).
pub struct Paths {
    pub ledger: PathBuf,
    pub key: PathBuf,
}

impl Paths {
    /// `--ledger off` turns automatic entries off.
    pub fn enabled(&self) -> bool {
        self.ledger.as_os_str() != "off"
    }

    fn public_key(&self) -> PathBuf {
        self.key.with_extension("pub")
    }

    fn signer(&self) -> Result<Option<SignerKey>> {
        if !self.key.exists() {
            return Ok(None);
        }
        let text = fs_err::read_to_string(&self.key).context("reading the ledger key")?;
        Ok(Some(SignerKey::parse(&text).with_context(|| {
            format!("the ledger key {}", self.key.display())
        })?))
    }

    fn verifier(&self, explicit: Option<&Path>) -> Result<Option<VerifierKey>> {
        let path = explicit
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.public_key());
        if path.exists() {
            let text = fs_err::read_to_string(&path)?;
            return Ok(Some(
                VerifierKey::parse(&text).with_context(|| format!("{}", path.display()))?,
            ));
        }
        if explicit.is_some() {
            bail!("no verifier key at {}", path.display());
        }
        Ok(self.signer()?.map(|s| s.verifier()))
    }
}

/// Append the entries `build` makes (given the position the first will get), then sign a
/// checkpoint when a key is configured. Returns the first entry's position.
fn record(
    paths: &Paths,
    build: impl FnOnce(u64) -> Vec<(&'static str, Value)>,
) -> Result<Option<u64>> {
    if !paths.enabled() {
        return Ok(None);
    }
    let mut ledger = Ledger::open(&paths.ledger)?;
    let entries = build(ledger.len()?);
    if entries.is_empty() {
        return Ok(None);
    }
    let first = ledger.append(&entries)?.first().copied();
    if let Some(signer) = paths.signer()? {
        ledger.checkpoint(&signer)?;
    }
    Ok(first)
}

/// One entry for the scan, one per finding (paths only: values, and so secrets, never enter).
pub fn record_scan(paths: &Paths, report: &ScanReport) -> Result<()> {
    record(paths, |scan_seq| scan_entries(report, scan_seq))?;
    Ok(())
}

/// The scan entry (at `scan_seq`) and its findings' entries, which point back at it.
fn scan_entries(report: &ScanReport, scan_seq: u64) -> Vec<(&'static str, Value)> {
    let mut entries: Vec<(&'static str, Value)> = vec![(
        "scan",
        json!({
            "driftlog_version": report.driftlog_version,
            "mode": report.mode,
            "inputs": report.inputs.iter().map(|i| json!({
                "role": i.role, "path": i.path, "sha256": i.sha256, "bytes": i.bytes,
            })).collect::<Vec<_>>(),
            "summary": report.summary,
            "audit": {
                "events_in_store": report.audit.events_in_store,
                "certain": report.audit.certain,
                "likely": report.audit.likely,
                "none": report.audit.none,
            },
        }),
    )];
    for f in &report.findings {
        let attribution = f.attribution.as_ref().map(|a| {
            json!({
                "confidence": a.confidence.as_str(),
                "caused_by": a.caused_by.iter().map(|c| json!({
                    "source": c.source, "event_id": c.event_id, "principal": c.principal,
                    "action": c.action, "time": c.time,
                })).collect::<Vec<_>>(),
            })
        });
        entries.push((
            "finding",
            json!({
                "scan": scan_seq,
                "address": f.address,
                "type": f.resource_type,
                "change": f.kind.as_str(),
                "paths": f.changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
                "identifiers": f.identifiers,
                "attribution": attribution,
            }),
        ));
    }
    entries
}

/// An `ignore-rules` entry whenever the rules a scan applies differ from the last recorded set
/// (who owns each, why, until when): suppressing drift is a decision the record must show.
pub fn record_ignore_rules(
    paths: &Paths,
    rules: &driftlog_core::ignore::IgnoreRules,
) -> Result<()> {
    if !paths.enabled() {
        return Ok(());
    }
    let current: Vec<Value> = rules
        .rules()
        .iter()
        .map(|r| {
            json!({
                "rule": r.text, "origin": r.origin, "owner": r.owner, "reason": r.reason,
                "expires": r.expires.map(|d| d.to_string()),
            })
        })
        .collect();
    let ledger = Ledger::open(&paths.ledger)?;
    let len = ledger.len()?;
    // The latest recorded set, searching back from the end.
    let mut previous: Option<Value> = None;
    let mut end = len;
    while end > 0 && previous.is_none() {
        let start = end.saturating_sub(256);
        for e in ledger.entries(start, end)?.into_iter().rev() {
            if e.kind == "ignore-rules" {
                previous = serde_json::from_slice::<Value>(&e.body)
                    .ok()
                    .and_then(|v| v.get("rules").cloned());
                break;
            }
        }
        end = start;
    }
    let unchanged = match &previous {
        Some(p) => p == &Value::Array(current.clone()),
        None => current.is_empty(),
    };
    if unchanged {
        return Ok(());
    }
    record(paths, |_| {
        vec![("ignore-rules", json!({ "rules": current }))]
    })?;
    Ok(())
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
    record(paths, |_| {
        vec![(
            "ack",
            json!({"address": address, "reason": reason, "by": by, "expires": expires}),
        )]
    })?
    .context("--ledger off: there is no ledger to record in")
}

pub fn record_ingest(
    paths: &Paths,
    store: &Path,
    s: &driftlog_store::ingest::Summary,
) -> Result<()> {
    if s.files.is_empty() {
        return Ok(());
    }
    record(paths, |_| {
        vec![(
            "ingest",
            json!({
                "store": store.display().to_string(),
                "files": s.files.iter().map(|(path, sha256, events)| json!({
                    "path": path, "sha256": sha256, "events": events,
                })).collect::<Vec<_>>(),
                "events_read": s.events_read,
                "events_inserted": s.stored.inserted,
                "duplicates": s.stored.duplicates,
                "records_rejected": s.records_rejected,
                "files_failed": s.files_failed,
                "first_event": s.first_event_us.map(format_time_us),
                "last_event": s.last_event_us.map(format_time_us),
            }),
        )]
    })?;
    Ok(())
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
            Ledger::open(&paths.ledger)?.append(&[(
                "key",
                json!({"name": key.name, "verifier_key": key.verifier().to_text(), "replaced": paths.key.exists()}),
            )])?;
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
                    let c = read_checkpoint(path, paths.verifier(public.as_deref())?.as_ref())?;
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
            let verifier = paths.verifier(public.as_deref())?;
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
            let verifier = paths.verifier(public.as_deref())?;
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
                    Ok(exit::CLEAN)
                }
                Some(d) => {
                    eprintln!(
                        "ledger {}: first bad entry {}: {}",
                        paths.ledger.display(),
                        d.index,
                        d.reason
                    );
                    Ok(exit::ERROR)
                }
            }
        }
    }
}

/// A file only its owner can read.
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
