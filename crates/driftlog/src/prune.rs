//! `driftlog prune`: retention over the event store, for events already archived.

use crate::cli::{PruneArgs, SummaryFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::prune::PruneRequest;
use driftlog_app::record::Recorder;
use std::path::Path;

/// The prune summary's JSON schema version.
const FORMAT_VERSION: u32 = 1;

pub fn run(args: &PruneArgs, store_path: &Path, rec: &Recorder) -> Result<u8> {
    let progress = crate::scan::Spinner::for_report(false, true);
    let report = driftlog_app::prune::prune(
        &PruneRequest {
            store: store_path.to_owned(),
            retain: args.retain.clone(),
        },
        rec,
        &progress,
    )?;
    drop(progress);
    match args.format {
        SummaryFormat::Text => {
            let entries = match (report.entries.first(), report.entries.last()) {
                (Some(a), Some(z)) if a == z => format!("; ledger entry {a}"),
                (Some(a), Some(z)) => format!("; ledger entries {a}-{z}"),
                _ => String::new(),
            };
            println!(
                "pruned {} events older than {} (archived: store ids up to {}){entries}",
                report.events, report.before, report.archived_through
            );
        }
        SummaryFormat::Json => crate::output::print_versioned_json(&report, FORMAT_VERSION)?,
    }
    Ok(exit::CLEAN)
}
