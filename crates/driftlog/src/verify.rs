//! `driftlog verify`: the ledger is intact, and the event store holds exactly the events the
//! ledger committed to.

use crate::cli::VerifyArgs;
use crate::exit;
use anyhow::Result;
use driftlog_app::verify::verify_store;
use driftlog_ledger::Ledger;
use driftlog_store::Store;
use std::path::Path;

pub fn run(args: &VerifyArgs, store_path: &Path, paths: &crate::ledger::Paths) -> Result<u8> {
    let ledger = Ledger::open_existing(&paths.ledger)?;
    if !crate::ledger::verify_ledger(&ledger, paths, args.public.as_deref())? {
        return Ok(exit::ERROR);
    }
    let store = Store::open_existing(store_path)?;
    let v = verify_store(&store, &ledger)?;
    let store_name = store_path.display();
    if let Some(first) = v.problems.first() {
        eprintln!("store {store_name}: {first}");
        if v.problems.len() > 1 {
            eprintln!(
                "store {store_name}: {} more problem(s); the next: {}",
                v.problems.len() - 1,
                v.problems[1..]
                    .iter()
                    .take(5)
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        return Ok(exit::ERROR);
    }
    let unrecorded = if v.unrecorded > 0 {
        format!(
            "; {} stored before the ledger recorded event contents (not checked)",
            v.unrecorded
        )
    } else {
        String::new()
    };
    println!(
        "store {store_name}: {} events match the {} batch entries of the ledger that commit to them{unrecorded}",
        v.committed, v.batches
    );
    Ok(exit::CLEAN)
}
