//! `driftlog explain`: everything the audit logs say about one resource, in time order, with its
//! current drift and who caused it when state files are given.

use crate::cli::{EventsFormat, ExplainArgs};
use crate::exit;
use anyhow::Result;
use driftlog_core::attribution::attribute_with_requests;
use driftlog_core::time::format_time_us;
use driftlog_core::{ActorKind, Finding};
use driftlog_report::events::{event_json, render_table, EventView};
use driftlog_store::Store;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

pub fn run(args: &ExplainArgs, store_path: &Path) -> Result<u8> {
    let has_state = args.declared.is_some() || args.plan.is_some();
    let mut store = Store::open_existing(store_path)?;
    let (mut finding, identifiers): (Option<Finding>, Vec<String>) = if has_state {
        let (finding, ids) = driftlog_app::scan::resource_in_states(
            args.declared.as_deref(),
            args.live.as_deref(),
            args.plan.as_deref(),
            &args.target,
        )?;
        store.remember_addresses([(args.target.as_str(), ids.as_slice())])?;
        (finding, ids)
    } else {
        // An address a scan (or an earlier `explain`) has seen stands for its identifiers.
        let mut ids = vec![args.target.clone()];
        ids.extend(store.address_identifiers(&args.target)?);
        (None, ids)
    };
    let stored = store.events_naming(&identifiers)?;
    let events: Vec<_> = stored.iter().map(|s| s.event.clone()).collect();
    if let Some(f) = finding.as_mut() {
        let now = jiff::Timestamp::now().as_microsecond();
        let mut request = |i: usize| {
            store
                .raw(stored[i].id)
                .ok()
                .and_then(|raw| driftlog_audit::request_body(&raw))
        };
        f.attribution = Some(attribute_with_requests(
            f,
            &identifiers,
            &events,
            now,
            None,
            &mut request,
        ));
    }
    let views: Vec<EventView> = stored
        .iter()
        .map(|s| EventView {
            id: s.id,
            event: &s.event,
            raw: None,
        })
        .collect();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        EventsFormat::Json | EventsFormat::Jsonl => {
            let doc = serde_json::json!({
                "format_version": "1.0",
                "target": args.target,
                "identifiers": identifiers,
                "store": store_path.display().to_string(),
                "events": views.iter().map(event_json).collect::<Vec<_>>(),
                "drift": finding,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            out.write_all(b"\n")?;
        }
        EventsFormat::Table => {
            let mut text = format!(
                "{} — identifiers: {}\n",
                args.target,
                if identifiers.is_empty() {
                    "(none)".to_owned()
                } else {
                    identifiers.join(", ")
                }
            );
            let applies: Vec<_> = events
                .iter()
                .filter(|e| e.actor.kind == ActorKind::Terraform && e.is_successful_write())
                .collect();
            let writes = events.iter().filter(|e| e.read_only == Some(false)).count();
            let _ = writeln!(
                text,
                "{} events in {} ({} writes, {} by Terraform{})\n",
                events.len(),
                store_path.display(),
                writes,
                applies.len(),
                applies
                    .last()
                    .map(|e| format!(", the last at {}", format_time_us(e.time_us)))
                    .unwrap_or_default()
            );
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(160);
            text.push_str(&render_table(&views, width));
            match &finding {
                Some(f) => {
                    let _ = writeln!(
                        text,
                        "\nCurrent drift: {} {} ({})",
                        f.address,
                        f.kind.as_str(),
                        f.changes
                            .iter()
                            .map(|c| c.path.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    if let Some(a) = &f.attribution {
                        for line in driftlog_report::text::attribution_lines(a) {
                            let _ = writeln!(text, "  {line}");
                        }
                    }
                }
                None if has_state => {
                    let _ = writeln!(text, "\nNo current drift.");
                }
                None => {}
            }
            out.write_all(text.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(exit::CLEAN)
}
