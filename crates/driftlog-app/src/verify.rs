//! Does the event store still hold what the ledger says was stored?
//!
//! Every committed ingest batch is recorded as an `ingest-batch` entry holding the RFC 9162
//! root over its events' leaves (see [`crate::record::IngestBatchEntry`]). Verification
//! recomputes each stored event's leaf from its fields and original record, rebuilds every
//! batch's root, and compares. Each event also keeps the leaf recorded when it was written:
//! once a batch's root proves those recorded leaves authentic, the event whose recomputed leaf
//! differs is the one that was altered. Ids a batch committed to that the store no longer has
//! were deleted; ids no batch committed to were inserted.

use crate::record::Entry;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use driftlog_ledger::merkle::{Hash, Tree};
use driftlog_ledger::{Ledger, LedgerError};
use driftlog_store::{event_leaf, EventStore, StoreError};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One way the store differs from what the ledger recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The event's contents no longer hash to the leaf the batch committed to.
    Altered { id: i64, event: String, entry: u64 },
    /// A batch committed to this id; the store no longer has it.
    Deleted { id: i64, entry: u64 },
    /// No batch committed to this event.
    Inserted { id: i64, event: String },
    /// The batch's events no longer hash to its root, yet each matches the leaf recorded beside
    /// it: an event was rewritten together with its recorded leaf.
    Rewritten { entry: u64, ids: Vec<(i64, i64)> },
}

impl Problem {
    /// The event id the problem is about (for ordering: the first problem by id is reported).
    pub fn id(&self) -> i64 {
        match self {
            Problem::Altered { id, .. }
            | Problem::Deleted { id, .. }
            | Problem::Inserted { id, .. } => *id,
            Problem::Rewritten { ids, .. } => ids.first().map_or(0, |r| r.0),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Altered { id, event, entry } => write!(
                f,
                "event {id} ({event}) was altered: its contents no longer hash to the leaf ledger entry {entry} committed to"
            ),
            Problem::Deleted { id, entry } => write!(
                f,
                "event {id} was deleted: ledger entry {entry} committed to it and the store no longer has it"
            ),
            Problem::Inserted { id, event } => write!(
                f,
                "event {id} ({event}) was inserted: no ledger entry commits to it (added by hand, or stored by an ingest that stopped before recording it)"
            ),
            Problem::Rewritten { entry, ids } => write!(
                f,
                "ledger entry {entry}: events {} no longer hash to its root although each matches its own recorded leaf: an event was rewritten together with its recorded leaf",
                ids.iter()
                    .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
}

/// What verification found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Events in the store.
    pub events: u64,
    /// Ledger batch entries for this store, and the events they commit to.
    pub batches: u64,
    pub committed: u64,
    /// Events stored before the ledger committed to contents (store schema < 3).
    pub unrecorded: u64,
    /// Committed events that retention removed (`prune` entries): not checked, not damage.
    pub pruned: u64,
    /// Every problem, in event id order.
    pub problems: Vec<Problem>,
}

/// Sorted inclusive ranges, overlapping or adjacent ones joined.
fn merge(sorted: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(sorted.len());
    for (a, z) in sorted {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(z),
            _ => out.push((a, z)),
        }
    }
    out
}

fn decode(b64: &str) -> Option<Hash> {
    B64.decode(b64).ok().and_then(|v| v.try_into().ok())
}

fn root(leaves: &[Hash]) -> Option<Hash> {
    let mut tree = Tree::default();
    for l in leaves {
        tree.push(*l);
    }
    tree.root(tree.len()).ok()
}

/// Check every event of `store` against the batch entries `ledger` holds for it.
pub fn verify_store(store: &dyn EventStore, ledger: &Ledger) -> Result<Verification, VerifyError> {
    let store_id = store.store_id()?;
    let legacy_until = store.unrecorded_until()?;

    // The batch entries for this store, in ledger order.
    let mut batches = Vec::new();
    // Ids retention removed (`prune` entries), as inclusive ranges.
    let mut pruned: Vec<(i64, i64)> = Vec::new();
    let len = ledger.len()?;
    let mut start = 0;
    while start < len {
        let end = (start + 4096).min(len);
        for e in ledger.entries(start, end)? {
            if e.kind != "ingest-batch" && e.kind != "prune" {
                continue;
            }
            match Entry::parse(&e.body) {
                Some(Entry::IngestBatch(b)) if b.store == store_id => batches.push((e.index, b)),
                Some(Entry::Prune(p)) if p.store == store_id => pruned.extend(p.ids),
                _ => {}
            }
        }
        start = end;
    }

    pruned.sort_unstable();
    let was_pruned = |id: i64| {
        let i = pruned.partition_point(|r| r.1 < id);
        pruned.get(i).is_some_and(|r| r.0 <= id)
    };

    // Which ids some batch committed to: every batch's ranges, merged.
    let mut committed: Vec<(i64, i64)> = batches
        .iter()
        .flat_map(|(_, b)| b.ids.iter().copied())
        .collect();
    committed.sort_unstable();
    let committed = merge(committed);
    let is_committed = |id: i64| {
        let i = committed.partition_point(|r| r.1 < id);
        committed.get(i).is_some_and(|r| r.0 <= id)
    };

    // The leaf each batch committed to for an event a later batch replaced (a Kubernetes
    // event stored again more complete). Only replaced ids need to know which batch held them
    // before: a map of those, not of every event.
    let mut replaced_ids: Vec<i64> = batches
        .iter()
        .flat_map(|(_, b)| b.replaced.iter().map(|r| r.id))
        .collect();
    replaced_ids.sort_unstable();
    replaced_ids.dedup();
    let mut owner: HashMap<i64, usize> = HashMap::new();
    let mut committed_leaf: HashMap<(usize, i64), Option<Hash>> = HashMap::new();
    for (i, (_, b)) in batches.iter().enumerate() {
        for r in &b.replaced {
            if let Some(&earlier) = owner.get(&r.id) {
                committed_leaf.insert((earlier, r.id), r.leaf.as_deref().and_then(decode));
            }
        }
        for &(a, z) in &b.ids {
            let from = replaced_ids.partition_point(|&id| id < a);
            for &id in replaced_ids[from..].iter().take_while(|&&id| id <= z) {
                owner.insert(id, i);
            }
        }
    }

    // Every stored event, recomputed: its id and leaf (40 bytes, so ten million events fit in
    // 400 MB), and apart, the few whose recorded leaf differs from it.
    let mut stored: Vec<(i64, Hash)> = Vec::new();
    let mut differing: std::collections::HashSet<i64> = Default::default();
    let mut after = i64::MIN;
    loop {
        let chunk = store.events_after(after, 4096)?;
        let Some(last) = chunk.last() else { break };
        after = last.0.id;
        for (e, raw, recorded) in chunk {
            let recomputed = event_leaf(&e.event, &raw);
            // (Events from before the ledger committed to contents have no leaf to differ.)
            if !recorded.is_some_and(|r| r.matches(&recomputed)) && e.id > legacy_until {
                differing.insert(e.id);
            }
            stored.push((e.id, recomputed));
        }
    }
    let find = |id: i64| {
        stored
            .binary_search_by_key(&id, |s| s.0)
            .ok()
            .map(|i| stored[i].1)
    };
    // "source event-id" of an event a problem names (read again: problems are few).
    let label = |id: i64| -> Result<String, VerifyError> {
        Ok(store
            .events_after(id.saturating_sub(1), 1)?
            .first()
            .filter(|(e, _, _)| e.id == id)
            .map(|(e, _, _)| format!("{} {}", e.event.source, e.event.event_id))
            .unwrap_or_default())
    };

    let mut out = Verification {
        events: stored.len() as u64,
        batches: batches.len() as u64,
        ..Verification::default()
    };
    for (i, (seq, b)) in batches.iter().enumerate() {
        let mut recomputed = Vec::new();
        let mut suspects = Vec::new();
        let mut deleted = false;
        // Some of the batch's events were pruned: its root cannot be rebuilt from the store.
        let mut partial = false;
        for &(a, z) in &b.ids {
            for id in a..=z {
                out.committed += 1;
                let Some(leaf) = find(id) else {
                    if was_pruned(id) {
                        out.pruned += 1;
                        partial = true;
                    } else {
                        out.problems.push(Problem::Deleted { id, entry: *seq });
                        deleted = true;
                    }
                    continue;
                };
                match committed_leaf.get(&(i, id)) {
                    // Replaced later: this batch's copy is gone by design; the later entry
                    // says what it was.
                    Some(leaf) => recomputed.push(leaf.unwrap_or([0; 32])),
                    None => {
                        recomputed.push(leaf);
                        if differing.contains(&id) {
                            suspects.push(id);
                        }
                    }
                }
            }
        }
        let want = decode(&b.root);
        if !deleted && !partial && root(&recomputed) == want {
            continue;
        }
        if deleted || partial || !suspects.is_empty() {
            // Events that no longer match the leaf recorded beside them changed. (With every
            // event there, the recorded leaves still giving the root makes them authentic and
            // these exactly the altered events; without the deleted or pruned events the root
            // cannot be rebuilt, but a mismatch is still a change.)
            for id in suspects {
                out.problems.push(Problem::Altered {
                    id,
                    event: label(id)?,
                    entry: *seq,
                });
            }
        } else {
            out.problems.push(Problem::Rewritten {
                entry: *seq,
                ids: b.ids.clone(),
            });
        }
    }
    for &(id, _) in &stored {
        if id <= legacy_until {
            out.unrecorded += 1;
        } else if !is_committed(id) {
            out.problems.push(Problem::Inserted {
                id,
                event: label(id)?,
            });
        }
    }
    out.problems.sort_by_key(Problem::id);
    tracing::debug!(
        events = out.events,
        batches = out.batches,
        problems = out.problems.len(),
        "store verified against the ledger"
    );
    Ok(out)
}

/// What `driftlog verify` found: the ledger's own check, then — only when the ledger is intact,
/// since a damaged ledger vouches for nothing — the store against it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub ledger: crate::ledger::LedgerCheck,
    pub store: Option<Verification>,
}

impl Checked {
    pub fn intact(&self) -> bool {
        self.ledger.intact() && self.store.as_ref().is_some_and(|s| s.problems.is_empty())
    }
}

/// Check the ledger, then the event store at `store` against it.
pub fn verify(
    store: &std::path::Path,
    rec: &crate::record::Recorder,
    public: Option<&std::path::Path>,
) -> Result<Checked, crate::AppError> {
    let ledger = crate::ledger::verify(rec, public)?;
    if !ledger.intact() {
        return Ok(Checked {
            ledger,
            store: None,
        });
    }
    let log = crate::stores::open_ledger_existing(&rec.ledger)?;
    let events = crate::stores::open_events_existing(store)?;
    let store = Some(verify_store(events.as_ref(), &log)?);
    Ok(Checked { ledger, store })
}
