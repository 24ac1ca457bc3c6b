//! `driftlog events`: search the event store.

use crate::cli::{EventsArgs, EventsFormat};
use crate::exit;
use anyhow::{Context, Result};
use driftlog_core::time::{self, Bound, Direction};
use driftlog_report::events::{render_table, write_json, write_json_lines, EventView};
use driftlog_store::{EventQuery, Store};
use std::io::Write;
use std::path::Path;

pub fn run(args: &EventsArgs, store_path: &Path) -> Result<u8> {
    let store = Store::open_existing(store_path)?;
    let now = jiff::Timestamp::now();
    let query = EventQuery {
        resource: args.resource.clone(),
        principal: args.principal.clone(),
        action: args.action.clone(),
        actor_kind: args.actor_kind,
        source: args.source,
        since_us: args
            .since
            .as_deref()
            .map(|t| time::parse(t, now, Bound::Start, Direction::Past).map(|t| t.us))
            .transpose()
            .context("--since")?,
        until_us: args
            .until
            .as_deref()
            .map(|t| time::parse(t, now, Bound::End, Direction::Past).map(|t| t.us))
            .transpose()
            .context("--until")?,
        writes_only: args.writes_only,
        limit: args.limit,
    };
    let found = store.query(&query)?;
    if let (Some(resource), EventsFormat::Table) = (&args.resource, args.format) {
        let ids = store.address_identifiers(resource)?;
        if !ids.is_empty() {
            eprintln!(
                "{resource} stands for {} (as scans reported it)",
                ids.join(", ")
            );
        }
    }
    let raws: Vec<Option<String>> = if args.raw {
        found
            .iter()
            .map(|e| {
                store
                    .raw(e.id)
                    .map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned()))
            })
            .collect::<Result<_, _>>()?
    } else {
        vec![None; found.len()]
    };
    let views: Vec<EventView> = found
        .iter()
        .zip(&raws)
        .map(|(e, raw)| EventView {
            id: e.id,
            event: &e.event,
            raw: raw.as_deref(),
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
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
