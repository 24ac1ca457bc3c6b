//! Local audit directories, watched: a file written or moved into one makes its audit job due
//! at once (through the store, like a run on demand, so exactly one worker ingests it), instead
//! of waiting for the job's schedule. The schedule still runs: it catches whatever the watcher
//! cannot see (a directory that did not exist at start, a network filesystem, a dropped
//! event). Bursts are gathered for a second, so a shipper writing a hundred files causes one
//! ingest, and a file still being written is read after its last write.

use crate::State;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long a burst of file events is gathered before the jobs are made due.
const SETTLE: Duration = Duration::from_secs(1);

/// Watch every local audit directory; the watcher lives as long as the value returned.
/// Directories that cannot be watched are logged and left to their schedules.
pub fn start(
    state: &Arc<State>,
    stop: watch::Receiver<bool>,
) -> Option<notify::RecommendedWatcher> {
    let dirs = state.service.local_audit_dirs();
    if dirs.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    // Events name paths under the directory as it was given to the watcher; its canonical
    // form is matched too, for a watcher that resolves links.
    let routes: Vec<(PathBuf, String)> = dirs
        .iter()
        .flat_map(|(job, dir)| {
            let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            [(dir.clone(), job.clone()), (canonical, job.clone())]
        })
        .collect();
    let handler = move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Writes and arrivals only: the ingest's own reads (opens, closes after reading, access
        // times) must not make the job due again.
        if !matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any)
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        ) {
            return;
        }
        for path in &event.paths {
            if let Some((_, job)) = routes.iter().find(|(dir, _)| path.starts_with(dir)) {
                let _ = tx.send(job.clone());
            }
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch audit directories; they are read on their schedules");
            return None;
        }
    };
    for (job, dir) in &dirs {
        match watcher.watch(dir, RecursiveMode::Recursive) {
            Ok(()) => {
                tracing::info!(job = %job, dir = %dir.display(), "watching for new audit files")
            }
            Err(e) => {
                tracing::warn!(job = %job, dir = %dir.display(), error = %e, "cannot watch; read on its schedule")
            }
        }
    }
    tokio::spawn(make_due(state.clone(), rx, stop));
    Some(watcher)
}

/// Gather the jobs named in a burst, then make each due now.
async fn make_due(
    state: Arc<State>,
    mut rx: mpsc::UnboundedReceiver<String>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            job = rx.recv() => job,
            _ = stop.changed() => None,
        };
        let Some(first) = first else { return };
        let mut jobs = BTreeSet::from([first]);
        let settle = tokio::time::sleep(SETTLE);
        tokio::pin!(settle);
        loop {
            tokio::select! {
                more = rx.recv() => match more {
                    Some(job) => {
                        jobs.insert(job);
                        // Still being written: wait for the last write.
                        settle.as_mut().reset(tokio::time::Instant::now() + SETTLE);
                    }
                    None => return,
                },
                _ = &mut settle => break,
            }
        }
        for job in jobs {
            let now = driftlog_app::service::now_us();
            let name = job.clone();
            match state.blocking(move |s| s.run_now(&name, now)).await {
                Ok(_) => tracing::info!(job = %job, "new audit files: due now"),
                Err(e) => tracing::warn!(job = %job, error = %e, "could not make the job due"),
            }
        }
    }
}
