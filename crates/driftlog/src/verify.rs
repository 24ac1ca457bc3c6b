//! `driftlog verify`: the ledger is intact, the event store holds exactly the events the
//! ledger committed to, and (with `--archive`) the archive holds exactly the files it recorded.

use crate::cli::VerifyArgs;
use crate::exit;
use anyhow::Result;
use driftlog_app::record::Recorder;
use std::path::Path;

pub fn run(
    args: &VerifyArgs,
    store_path: &Path,
    aws: &driftlog_aws::AwsOptions,
    rec: &Recorder,
) -> Result<u8> {
    let checked = driftlog_app::verify::verify(store_path, rec, args.public.as_deref())?;
    let (true, Some(v)) = (crate::ledger::say_check(&checked.ledger), &checked.store) else {
        return Ok(exit::ERROR);
    };
    let store_name = driftlog_app::stores::shown(store_path);
    let mut code = exit::CLEAN;
    if let Some(first) = v.problems.first() {
        eprintln!("store {store_name}: {first}");
        say_more(&format!("store {store_name}"), &v.problems[1..]);
        code = exit::ERROR;
    } else {
        let unrecorded = match v.unrecorded {
            0 => String::new(),
            n => format!("; {n} stored before the ledger recorded event contents (not checked)"),
        };
        let pruned = match v.pruned {
            0 => String::new(),
            n => format!("; {n} removed by retention after they were archived (`prune` entries)"),
        };
        println!(
            "store {store_name}: {} events match the {} batch entries of the ledger that commit to them{unrecorded}{pruned}",
            v.committed - v.pruned,
            v.batches
        );
    }
    if let Some(to) = &args.archive {
        let a = driftlog_app::archive::verify_at(store_path, rec, to, aws)?;
        if let Some(first) = a.problems.first() {
            eprintln!("archive {}: {first}", a.destination);
            say_more(&format!("archive {}", a.destination), &a.problems[1..]);
            code = exit::ERROR;
        } else {
            println!(
                "archive {}: {} files ({} rows) match the {} archive entries of the ledger that record them",
                a.destination, a.files, a.rows, a.entries
            );
        }
    }
    Ok(code)
}

/// After the first problem, how many more and the next few.
fn say_more(what: &str, rest: &[impl std::fmt::Display]) {
    if rest.is_empty() {
        return;
    }
    let next: Vec<String> = rest.iter().take(5).map(|p| p.to_string()).collect();
    eprintln!(
        "{what}: {} more problem(s); the next: {}",
        rest.len(),
        next.join("; ")
    );
}
