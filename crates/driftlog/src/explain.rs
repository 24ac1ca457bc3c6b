//! `driftlog explain`: everything the audit logs say about one resource, in time order, with its
//! current drift and who caused it when state files are given.

use crate::cli::{EventsFormat, ExplainArgs};
use crate::exit;
use anyhow::Result;
use driftlog_app::explain::{ExplainRequest, Explanation};
use driftlog_core::time::format_time_us;
use driftlog_core::ActorKind;
use driftlog_report::events::{event_json, render_table, EventView};
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

pub fn run(args: &ExplainArgs, store_path: &Path) -> Result<u8> {
    let request = ExplainRequest {
        target: args.target.clone(),
        declared: args.declared.clone(),
        live: args.live.clone(),
        plan: args.plan.clone(),
        store: store_path.to_owned(),
    };
    let has_state = request.has_state();
    let Explanation {
        identifiers,
        events: stored,
        drift: finding,
    } = driftlog_app::explain::explain(&request)?;
    let events: Vec<_> = stored.iter().map(|s| s.event.clone()).collect();
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
                "format_version": driftlog_report::formats::EXPLAIN,
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
            let width = driftlog_report::formats::terminal_width(160);
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
