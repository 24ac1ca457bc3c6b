//! Retention: remove events older than a window from the store, once they are archived.
//!
//! Only events the archive holds go (ids up to the highest `through` of this store's `archive`
//! entries, to any destination), in batches. Each batch is appended to the ledger as a `prune`
//! entry *before* it is removed: a crash in between leaves events the ledger says were pruned
//! still in the store, which verification accepts, never events missing without a record.
//! `driftlog verify` then counts pruned events apart from deleted ones.

use crate::record::{Entry, PruneEntry, Recorder};
use crate::{AppError, Progress};
use driftlog_core::time::{self, Bound, Direction};
use std::path::PathBuf;

pub struct PruneRequest {
    pub store: PathBuf,
    /// How long to keep events: an age (`90d`), or a date or instant to keep from.
    pub retain: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PruneReport {
    /// Events older than this were removed (RFC 3339).
    pub before: String,
    /// The highest store id any archive of this store holds.
    pub archived_through: i64,
    pub events: u64,
    /// Ledger entries appended, one per batch.
    pub entries: Vec<u64>,
}

/// Events removed per transaction (and per ledger entry).
const BATCH: usize = 50_000;

pub fn prune(
    request: &PruneRequest,
    recorder: &Recorder,
    progress: &dyn Progress,
) -> Result<PruneReport, AppError> {
    if !recorder.enabled() {
        return Err(AppError::Usage(
            "prune records what it removes in the ledger, and removes only what an archive \
             recorded there holds; it cannot run with --ledger off"
                .into(),
        ));
    }
    let before_us = time::parse(
        &request.retain,
        jiff::Timestamp::now(),
        Bound::Start,
        Direction::Past,
    )
    .map_err(|source| AppError::Time {
        option: "--retain",
        source,
    })?
    .us;
    let mut store = crate::stores::open_events_existing(&request.store)?;
    let store_id = store.store_id()?;
    let archived_through = {
        let ledger = crate::stores::open_ledger(&recorder.ledger)?;
        crate::archive::archive_entries(&ledger, &store_id)?
            .iter()
            .map(|(_, a)| a.through)
            .max()
    };
    let Some(archived_through) = archived_through else {
        return Err(AppError::Input(format!(
            "nothing of the store {} is archived yet: prune removes only archived events; run \
             `driftlog archive --to DEST` first",
            crate::stores::shown(&request.store)
        )));
    };
    let mut report = PruneReport {
        before: time::format_time_us(before_us),
        archived_through,
        events: 0,
        entries: Vec::new(),
    };
    progress.step("pruning archived events");
    // Each removal is recorded first, as one `prune` entry.
    let record = |report: &mut PruneReport, events: u64, ids: Vec<(i64, i64)>| {
        let entry = PruneEntry {
            store: store_id.clone(),
            before: report.before.clone(),
            archived_through,
            events,
            ids,
        };
        if let Some(seq) = recorder
            .record(|_| vec![Entry::Prune(entry)])
            .map_err(|e| AppError::recording("the prune", e))?
        {
            report.entries.push(seq);
        }
        Ok::<_, AppError>(())
    };
    // Whole months first where the store keeps them apart (PostgreSQL): dropped, not deleted.
    for partition in store.prunable_partitions(before_us, archived_through)? {
        record(&mut report, partition.events, partition.ids.clone())?;
        // Dropped whole or not at all; what stays is pruned row by row below, under an entry
        // of its own (the ledger may name an event twice as pruned, never one it missed).
        report.events += store.drop_partition(&partition)?;
        progress.count("events pruned", report.events, report.events);
    }
    loop {
        let ids = store.prunable(before_us, archived_through, BATCH)?;
        if ids.is_empty() {
            break;
        }
        record(
            &mut report,
            ids.len() as u64,
            driftlog_store::id_ranges(ids.iter().copied()),
        )?;
        report.events += store.delete_events(&ids)?;
        progress.count("events pruned", report.events, report.events);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_become_inclusive_ranges() {
        assert_eq!(
            driftlog_store::id_ranges([1, 2, 3, 5, 7, 8]),
            vec![(1, 3), (5, 5), (7, 8)]
        );
        assert!(driftlog_store::id_ranges([]).is_empty());
    }
}
