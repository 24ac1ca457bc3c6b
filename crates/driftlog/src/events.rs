//! `driftlog events`: search the event store.

use crate::cli::{EventsArgs, EventsFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::events::EventsRequest;
use driftlog_report::events::{render_table, write_json, write_json_lines, EventView};
use std::io::Write;
use std::path::Path;

pub fn run(args: &EventsArgs, store_path: &Path) -> Result<u8> {
    let found = driftlog_app::events::search(&EventsRequest {
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
    })?;
    if let (Some(resource), EventsFormat::Table) = (&args.resource, args.format) {
        if !found.address_identifiers.is_empty() {
            eprintln!(
                "{resource} stands for {} (as scans reported it)",
                found.address_identifiers.join(", ")
            );
        }
    }
    let views: Vec<EventView> = found
        .events
        .iter()
        .map(|(e, raw)| EventView {
            id: e.id,
            event: &e.event,
            raw: raw.as_deref(),
        })
        .collect();
    // Standard output is line-buffered: one write per event would be one system call each.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match args.format {
        EventsFormat::Table => {
            let width = driftlog_report::formats::terminal_width(160);
            out.write_all(render_table(&views, width).as_bytes())?;
        }
        EventsFormat::Json => write_json(&views, &mut out)?,
        EventsFormat::Jsonl => write_json_lines(&views, &mut out)?,
    }
    out.flush()?;
    Ok(exit::CLEAN)
}
