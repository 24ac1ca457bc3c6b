//! `driftlog ledger …`: each subcommand is one call into `driftlog_app::ledger`, printed.

use crate::cli::{LedgerArgs, LedgerCommand};
use crate::exit;
use anyhow::Result;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use driftlog_app::ledger::{self as app, AckRequest, LedgerCheck};
use driftlog_app::record::Recorder;

pub fn run(args: &LedgerArgs, rec: &Recorder) -> Result<u8> {
    match &args.command {
        LedgerCommand::Keygen { name, force } => {
            let key = app::keygen(rec, name, *force)?;
            println!(
                "wrote {} (keep it secret) and {}:\n{}",
                key.key.display(),
                key.public.display(),
                key.verifier_key
            );
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
            let request = AckRequest {
                address: address.clone(),
                reason: reason.clone(),
                by: by.clone(),
                expires: expires.clone(),
            };
            let index = app::ack(rec, &request)?;
            println!("recorded acknowledgement of {address} by {by} as ledger entry {index}");
        }
        LedgerCommand::Show { from, to, json } => {
            for e in app::entries(rec, *from, *to)? {
                let body = String::from_utf8_lossy(&e.body);
                if *json {
                    println!("{body}");
                } else {
                    println!("{:>6} {:<8} {} {body}", e.index, e.kind, B64.encode(e.leaf));
                }
            }
        }
        LedgerCommand::Checkpoint => print!("{}", app::checkpoint(rec)?),
        LedgerCommand::Prove {
            entry,
            checkpoint,
            public,
        } => {
            let proof = app::prove(rec, *entry, checkpoint.as_deref(), public.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
        }
        LedgerCommand::Consistency { old, new, public } => {
            let proof = app::consistency(rec, old, new, public.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&proof)?);
        }
        LedgerCommand::Verify { public } => {
            return Ok(if say_check(&app::verify(rec, public.as_deref())?) {
                exit::CLEAN
            } else {
                exit::ERROR
            });
        }
    }
    Ok(exit::CLEAN)
}

/// Say what checking the ledger found; returns whether it is intact.
pub fn say_check(check: &LedgerCheck) -> bool {
    let path = driftlog_app::stores::shown(&check.ledger);
    match &check.damage {
        None => {
            println!(
                "ledger {path}: {} entries verified; {} signed checkpoints{}",
                check.entries,
                check.checkpoints,
                if check.signatures_checked {
                    " verified and consistent"
                } else {
                    " read (no verifier key: signatures not checked)"
                }
            );
            true
        }
        Some(d) => {
            eprintln!("ledger {path}: first bad entry {}: {}", d.index, d.reason);
            false
        }
    }
}
