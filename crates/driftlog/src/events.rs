//! `driftlog events`: search the event store.

use crate::cli::{EventsArgs, EventsFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::events::{EventsRequest, Listed};
use driftlog_report::events::{render_table, write_json, write_json_lines, EventView};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;

pub fn run(args: &EventsArgs, store_path: &Path) -> Result<u8> {
    let request = EventsRequest {
        store: store_path.to_owned(),
        resource: args.resource.clone(),
        principal: args.principal.clone(),
        action: args.action.clone(),
        actor_kind: args.actor_kind,
        source: args.source,
        since: args.since.clone(),
        until: args.until.clone(),
        writes_only: args.writes_only,
        limit: args.limit,
        raw: args.raw,
    };
    if let EventsFormat::Jsonl = args.format {
        stream_json_lines(&request)?;
        return Ok(exit::CLEAN);
    }
    let found = driftlog_app::events::search(&request)?;
    if let (Some(resource), EventsFormat::Table) = (&args.resource, args.format) {
        if !found.address_identifiers.is_empty() {
            eprintln!(
                "{resource} stands for {} (as scans reported it)",
                found.address_identifiers.join(", ")
            );
        }
    }
    let views = views(&found.listed);
    // Standard output is line-buffered: one write per event would be one system call each.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if let EventsFormat::Table = args.format {
        let width = driftlog_report::formats::terminal_width(160);
        out.write_all(render_table(&views, width).as_bytes())?;
    } else {
        // One document: its count comes first, so it is written once all are read.
        write_json(&views, &mut out)?;
    }
    out.flush()?;
    Ok(exit::CLEAN)
}

fn views(listed: &Listed) -> Vec<EventView<'_>> {
    listed
        .iter()
        .map(|(e, raw)| EventView {
            id: e.id,
            event: &e.event,
            raw,
        })
        .collect()
}

/// JSON lines need nothing but the event at hand, so a long listing is written while the
/// store reads on: the search on this thread, the writing on another (each about half of the
/// work), a couple of batches apart. A listing of one batch (any `--limit 20`) is written
/// here once read, without starting a thread, which would cost more than the writing. When
/// the writing fails (a closed pipe), the search stops at its next batch and the writing's
/// error is the answer.
fn stream_json_lines(request: &EventsRequest) -> Result<()> {
    type Writer<'s> = (
        std::sync::mpsc::SyncSender<Listed>,
        std::thread::ScopedJoinHandle<'s, std::io::Result<()>>,
    );
    std::thread::scope(|scope| {
        let mut first: Option<Listed> = None;
        let mut writer: Option<Writer> = None;
        let searched = driftlog_app::events::search_each(request, &mut |batch| {
            let batches = match &writer {
                Some((batches, _)) => batches,
                None => {
                    let Some(earlier) = first.take() else {
                        first = Some(batch);
                        return ControlFlow::Continue(());
                    };
                    let (batches, received) = std::sync::mpsc::sync_channel(2);
                    let handle = scope.spawn(move || write_lines(received));
                    // A failed send means the writer stopped: its error comes from the join.
                    let _ = batches.send(earlier);
                    &writer.insert((batches, handle)).0
                }
            };
            match batches.send(batch) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        });
        let written = match writer {
            Some((batches, handle)) => {
                drop(batches);
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
            // A search that failed after one batch prints nothing.
            None if searched.is_err() => Ok(()),
            None => write_lines(first),
        };
        searched?;
        written?;
        Ok(())
    })
}

/// Each batch's events as JSON lines on standard output (`write_json_lines` buffers).
fn write_lines(batches: impl IntoIterator<Item = Listed>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for batch in batches {
        write_json_lines(&views(&batch), &mut out)?;
    }
    Ok(())
}
