//! `driftlog events`: search the event store.

use crate::cli::{EventsArgs, EventsFormat};
use crate::exit;
use anyhow::{bail, Context, Result};
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
            .map(|t| parse_time(t, now, Bound::Start))
            .transpose()
            .context("--since")?,
        until_us: args
            .until
            .as_deref()
            .map(|t| parse_time(t, now, Bound::End))
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
            let width = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(160);
            out.write_all(render_table(&views, width).as_bytes())?;
        }
        EventsFormat::Json => write_json(&views, &mut out)?,
        EventsFormat::Jsonl => write_json_lines(&views, &mut out)?,
    }
    out.flush()?;
    Ok(exit::CLEAN)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    Start,
    End,
}

/// RFC 3339, a date (the whole day), or an age before now (`30m`, `12h`, `7d`).
fn parse_time(text: &str, now: jiff::Timestamp, bound: Bound) -> Result<i64> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts.as_microsecond());
    }
    if let Ok(date) = t.parse::<jiff::civil::Date>() {
        let start = date.to_zoned_datetime(jiff::tz::TimeZone::UTC)?.timestamp();
        return Ok(match bound {
            Bound::Start => start.as_microsecond(),
            Bound::End => start.as_microsecond() + 86_400_000_000 - 1,
        });
    }
    let split = t.len().saturating_sub(1);
    if let (Ok(n), Some(unit)) = (t[..split].parse::<i64>(), t.get(split..)) {
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => 0,
        };
        if seconds > 0 && n >= 0 {
            return Ok(now.as_microsecond() - n.saturating_mul(seconds) * 1_000_000);
        }
    }
    bail!("`{text}` is not a time: use RFC 3339 (2024-11-04T09:00:00Z), a date (2024-11-04) or an age (30m, 12h, 7d)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now: jiff::Timestamp = "2024-11-10T00:00:00Z".parse().unwrap();
        let day = parse_time("2024-11-04", now, Bound::Start).unwrap();
        assert_eq!(
            day,
            "2024-11-04T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_microsecond()
        );
        let end = parse_time("2024-11-04", now, Bound::End).unwrap();
        assert_eq!(end - day, 86_400_000_000 - 1);
        let week = parse_time("7d", now, Bound::Start).unwrap();
        assert_eq!(now.as_microsecond() - week, 7 * 86_400_000_000);
        assert!(parse_time("yesterday", now, Bound::Start).is_err());
    }
}
