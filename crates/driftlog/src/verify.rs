//! `driftlog verify`: the ledger is intact, and the event store holds exactly the events the
//! ledger committed to.

use crate::cli::VerifyArgs;
use crate::exit;
use anyhow::Result;
use driftlog_app::record::Recorder;
use std::path::Path;

pub fn run(args: &VerifyArgs, store_path: &Path, rec: &Recorder) -> Result<u8> {
    let checked = driftlog_app::verify::verify(store_path, rec, args.public.as_deref())?;
    let (true, Some(v)) = (crate::ledger::say_check(&checked.ledger), &checked.store) else {
        return Ok(exit::ERROR);
    };
    let store_name = driftlog_app::stores::shown(store_path);
    if let Some(first) = v.problems.first() {
        eprintln!("store {store_name}: {first}");
        if let Some(rest) = v.problems.get(1..).filter(|r| !r.is_empty()) {
            let next: Vec<String> = rest.iter().take(5).map(|p| p.to_string()).collect();
            eprintln!(
                "store {store_name}: {} more problem(s); the next: {}",
                rest.len(),
                next.join("; ")
            );
        }
        return Ok(exit::ERROR);
    }
    let unrecorded = match v.unrecorded {
        0 => String::new(),
        n => format!("; {n} stored before the ledger recorded event contents (not checked)"),
    };
    println!(
        "store {store_name}: {} events match the {} batch entries of the ledger that commit to them{unrecorded}",
        v.committed, v.batches
    );
    Ok(exit::CLEAN)
}
