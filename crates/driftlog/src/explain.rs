//! `driftlog explain`: everything the audit logs say about one resource, in time order, with its
//! current drift and who caused it when state files are given.

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::explain::ExplainRequest;
use driftlog_report::events::{explain_json, explain_text, EventView, Explained};
use std::path::Path;

pub fn run(args: &ExplainArgs, store_path: &Path) -> Result<u8> {
    let request = ExplainRequest {
        target: args.target.clone(),
        declared: args.declared.clone(),
        live: args.live.clone(),
        plan: args.plan.clone(),
        store: store_path.to_owned(),
    };
    let found = driftlog_app::explain::explain(&request)?;
    let views: Vec<EventView> = found
        .events
        .iter()
        .map(|s| EventView {
            id: s.id,
            event: &s.event,
            raw: None,
        })
        .collect();
    let store = driftlog_app::stores::shown(store_path);
    let explained = Explained {
        target: &args.target,
        identifiers: &found.identifiers,
        store: &store,
        events: &views,
        drift: found.drift.as_ref(),
        has_state: request.has_state(),
    };
    crate::output::emit(args.output.as_deref(), |out| match args.format {
        ExplainFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &explain_json(&explained))?;
            out.write_all(b"\n")
        }
        ExplainFormat::Table => {
            let width = driftlog_report::formats::terminal_width(160);
            out.write_all(explain_text(&explained, width).as_bytes())
        }
        ExplainFormat::Html => out.write_all(driftlog_report::html::explain(&explained).as_bytes()),
    })?;
    Ok(exit::CLEAN)
}
