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
    let views = views(&found.events);
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

fn views(events: &[Listed]) -> Vec<EventView<'_>> {
    events
        .iter()
        .map(|(e, raw)| EventView {
            id: e.id,
            event: &e.event,
            raw: raw.as_deref(),
        })
        .collect()
}

/// JSON lines need nothing but the event at hand, so they are written while the store reads
/// on: the search on this thread, the writing on another (each about half of a long
/// listing's work), a couple of batches apart. When the writing fails (a closed pipe), the
/// search stops at its next batch and the writing's error is the answer.
fn stream_json_lines(request: &EventsRequest) -> Result<()> {
    let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Listed>>(2);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<()> {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            for batch in received {
                write_json_lines(&views(&batch), &mut out)?;
            }
            out.flush()
        });
        let searched =
            driftlog_app::events::search_each(request, &mut |batch| match batches.send(batch) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            });
        drop(batches);
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        searched?;
        written?;
        Ok(())
    })
}
