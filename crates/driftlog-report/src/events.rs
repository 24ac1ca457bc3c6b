//! Audit events as `driftlog events` prints them: a table for people, JSON or JSON lines for
//! machines. The JSON shape is versioned with the scan report's [`crate::json`] version rules.

use comfy_table::{presets, ContentArrangement, Table};
use driftlog_core::time::format_time_us;
use driftlog_core::{AuditEvent, Outcome};
use serde_json::{json, Value};
use std::io::{self, Write};

/// One event to show: the store's row id, the event, and (with `--raw`) the original record.
pub struct EventView<'a> {
    pub id: i64,
    pub event: &'a AuditEvent,
    pub raw: Option<&'a str>,
}

/// The JSON object for one event.
pub fn event_json(view: &EventView) -> Value {
    let e = view.event;
    let p = &e.principal;
    let outcome = match &e.outcome {
        Outcome::Success => json!({"result": "success"}),
        Outcome::Unknown => json!({"result": "unknown"}),
        Outcome::Failure { code, message } => {
            json!({"result": "failure", "code": code, "message": message})
        }
    };
    let mut v = json!({
        "id": view.id,
        "source": e.source.as_str(),
        "event_id": e.event_id,
        "time": format_time_us(e.time_us),
        "account": e.account,
        "region": e.region,
        "service": e.service,
        "action": e.action,
        "read_only": e.read_only,
        "outcome": outcome,
        "principal": {
            "id": p.id,
            "type": p.kind,
            "issuer": p.issuer,
            "session_name": p.session_name,
            "source_identity": p.source_identity,
            "on_behalf_of": p.on_behalf_of,
            "invoked_by": p.invoked_by,
            "mfa": p.mfa,
        },
        "actor": {"kind": e.actor.kind.as_str(), "rule": e.actor.rule},
        "source_ip": e.source_ip,
        "user_agent": e.user_agent,
        "resources": e.resources,
    });
    if let Some(raw) = view.raw {
        v["raw"] = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    }
    v
}

/// `{"format_version": "1.0", "count": N, "events": [...]}`.
pub fn write_json(events: &[EventView], out: &mut dyn Write) -> io::Result<()> {
    let doc = json!({
        "format_version": crate::formats::EVENTS,
        "count": events.len(),
        "events": events.iter().map(event_json).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// One event object per line.
pub fn write_json_lines(events: &[EventView], out: &mut dyn Write) -> io::Result<()> {
    for view in events {
        serde_json::to_writer(&mut *out, &event_json(view))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A table, oldest first; with raw records, each follows the table, pretty-printed.
pub fn render_table(events: &[EventView], width: u16) -> String {
    if events.is_empty() {
        return "No matching events.\n".to_owned();
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(vec![
            "ID",
            "TIME (UTC)",
            "SOURCE",
            "ACTION",
            "OUTCOME",
            "PRINCIPAL",
            "ACTOR",
            "RESOURCES",
        ]);
    for view in events {
        let e = view.event;
        let mut principal = e.principal.id.clone().unwrap_or_else(|| "-".into());
        if let Some(on_behalf) = &e.principal.on_behalf_of {
            principal.push_str(&format!(" (for {on_behalf})"));
        }
        let resources = match e.resources.len() {
            0 => "-".to_owned(),
            1 | 2 => e.resources.join(", "),
            n => format!("{}, +{} more", e.resources[..2].join(", "), n - 2),
        };
        let action = match e.read_only {
            Some(true) => format!("{} (read)", e.action),
            _ => e.action.clone(),
        };
        table.add_row(vec![
            view.id.to_string(),
            format_time_us(e.time_us),
            e.source.as_str().to_owned(),
            action,
            e.outcome.label().to_owned(),
            principal,
            e.actor.kind.as_str().to_owned(),
            resources,
        ]);
    }
    let mut text = format!("{table}\n{} event(s)\n", events.len());
    for view in events {
        if let Some(raw) = view.raw {
            let pretty = serde_json::from_str::<Value>(raw)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| raw.to_owned());
            text.push_str(&format!(
                "\n── event {} ({} {}) ──\n{pretty}\n",
                view.id, view.event.source, view.event.event_id
            ));
        }
    }
    text
}

/// One resource's story, as `driftlog explain` tells it.
pub struct Explained<'a> {
    /// What the user asked about (an address or an identifier).
    pub target: &'a str,
    /// The identifiers searched for.
    pub identifiers: &'a [String],
    pub store: &'a str,
    /// Every stored event naming it, oldest first.
    pub events: &'a [EventView<'a>],
    /// Its current drift, when state inputs were given and it drifted.
    pub drift: Option<&'a driftlog_core::Finding>,
    /// Whether state inputs were given (so "no drift" can be said).
    pub has_state: bool,
}

/// The versioned JSON document of `explain`.
pub fn explain_json(x: &Explained) -> Value {
    json!({
        "format_version": crate::formats::EXPLAIN,
        "target": x.target,
        "identifiers": x.identifiers,
        "store": x.store,
        "events": x.events.iter().map(event_json).collect::<Vec<_>>(),
        "drift": x.drift,
    })
}

/// The story for people: identifiers, a count of writes and Terraform applies, the events'
/// table, and the current drift with who caused it.
pub fn explain_text(x: &Explained, width: u16) -> String {
    use std::fmt::Write as _;
    let events: Vec<&AuditEvent> = x.events.iter().map(|v| v.event).collect();
    let identifiers = match x.identifiers {
        [] => "(none)".to_owned(),
        ids => ids.join(", "),
    };
    let mut text = format!("{} — identifiers: {identifiers}\n", x.target);
    let applies: Vec<_> = events
        .iter()
        .filter(|e| e.actor.kind == driftlog_core::ActorKind::Terraform && e.is_successful_write())
        .collect();
    let writes = events.iter().filter(|e| e.read_only == Some(false)).count();
    let _ = writeln!(
        text,
        "{} events in {} ({writes} writes, {} by Terraform{})\n",
        events.len(),
        x.store,
        applies.len(),
        applies
            .last()
            .map(|e| format!(", the last at {}", format_time_us(e.time_us)))
            .unwrap_or_default()
    );
    text.push_str(&render_table(x.events, width));
    match x.drift {
        Some(f) => {
            let paths: Vec<&str> = f.changes.iter().map(|c| c.path.as_str()).collect();
            let _ = writeln!(
                text,
                "\nCurrent drift: {} {} ({})",
                f.address,
                f.kind.as_str(),
                paths.join(", ")
            );
            if let Some(a) = &f.attribution {
                for line in crate::text::attribution_lines(a) {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
        None if x.has_state => text.push_str("\nNo current drift.\n"),
        None => {}
    }
    text
}
