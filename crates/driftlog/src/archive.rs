//! `driftlog archive`: the store's history as Parquet files, recorded in the ledger.

use crate::cli::{ArchiveArgs, SummaryFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::archive::{ArchiveReport, ArchiveRequest};
use driftlog_app::record::Recorder;
use std::path::Path;

/// The archive summary's JSON schema version.
const FORMAT_VERSION: u32 = 1;

pub fn run(
    args: &ArchiveArgs,
    store_path: &Path,
    aws: &driftlog_aws::AwsOptions,
    rec: &Recorder,
) -> Result<u8> {
    let progress = crate::scan::Spinner::for_report(false, true);
    let report = driftlog_app::archive::archive(
        &ArchiveRequest {
            store: store_path.to_owned(),
            to: args.to.clone(),
            since: args.since.clone(),
            aws: aws.clone(),
        },
        rec,
        &progress,
    )?;
    drop(progress);
    match args.format {
        SummaryFormat::Text => println!("{}", text(&report)),
        SummaryFormat::Json => crate::output::print_versioned_json(&report, FORMAT_VERSION)?,
    }
    Ok(exit::CLEAN)
}

fn text(r: &ArchiveReport) -> String {
    if r.through == r.after {
        return format!(
            "nothing new to archive: {} already holds every stored event (through id {})",
            r.destination, r.after
        );
    }
    let skipped = match r.skipped {
        0 => String::new(),
        n => format!("; {n} older than --since passed over"),
    };
    let entry = r
        .entry
        .map(|e| format!("; ledger entry {e}"))
        .unwrap_or_default();
    format!(
        "archived {} events (store ids {}-{}) into {} files, {:.1} MB, under {}{skipped}{entry}",
        r.events,
        r.after + 1,
        r.through,
        r.files.len(),
        r.bytes as f64 / 1e6,
        r.destination
    )
}
