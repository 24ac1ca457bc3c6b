//! The default format: one table per drifted resource, a summary line, colour on terminals.

use crate::text::{cut, plural, short};
use crate::Style;
use comfy_table::{presets, ContentArrangement, Table};
use driftlog_core::finding::{Change, FindingKind};
use driftlog_core::ScanReport;
use owo_colors::OwoColorize;
use std::fmt::Write;

const VALUE_WIDTH: usize = 200;

fn paint(text: &str, style: Style, f: impl Fn(&str) -> String) -> String {
    if style.color {
        f(text)
    } else {
        text.to_owned()
    }
}

fn change_cells(change: &Change) -> (String, String) {
    if change.sensitive && change.added.is_none() {
        return ("(sensitive)".into(), "(sensitive, changed)".into());
    }
    match (&change.removed, &change.added) {
        (Some(removed), Some(added)) => {
            let lines = |items: &[serde_json::Value], sign: &str| -> String {
                if items.is_empty() {
                    if sign == "+" {
                        "(none added)"
                    } else {
                        "(none removed)"
                    }
                    .to_owned()
                } else {
                    items
                        .iter()
                        .map(|v| format!("{sign} {}", short(v, VALUE_WIDTH)))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            };
            (lines(removed, "-"), lines(added, "+"))
        }
        _ => (
            short(&change.before, VALUE_WIDTH),
            short(&change.after, VALUE_WIDTH),
        ),
    }
}

fn new_table(style: Style, header: [&str; 3]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width)
        .set_header(header);
    table
}

pub fn render(report: &ScanReport, style: Style) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        let kind = match finding.kind {
            FindingKind::Changed => paint("changed", style, |t| t.yellow().to_string()),
            FindingKind::Deleted => paint("deleted", style, |t| t.red().to_string()),
            FindingKind::Unmanaged => paint("unmanaged", style, |t| t.magenta().to_string()),
        };
        let mut title = format!(
            "{} {kind}",
            paint(&finding.address, style, |t| t.bold().to_string())
        );
        if let Some(deposed) = &finding.deposed {
            let _ = write!(title, " (deposed object {deposed})");
        }
        if let Some(previous) = &finding.previous_address {
            let _ = write!(title, " (moved from {previous})");
        }
        if let Some(stack) = &finding.stack {
            let _ = write!(title, " (in {stack})");
        }
        let _ = writeln!(out, "{title}");
        match finding.kind {
            FindingKind::Changed => {
                let mut table = new_table(style, ["attribute", "declared", "live"]);
                for change in &finding.changes {
                    let (before, after) = change_cells(change);
                    let path = if change.relevant {
                        format!("{} (used by the plan)", change.path)
                    } else {
                        change.path.clone()
                    };
                    table.add_row([path, before, after]);
                }
                let _ = writeln!(out, "{table}");
                for line in crate::text::set_by_lines(finding) {
                    let _ = writeln!(out, "  {line}");
                }
            }
            FindingKind::Deleted => {
                let _ = writeln!(
                    out,
                    "  declared in {}, missing from the live side\n",
                    crate::text::declared_in(finding)
                );
            }
            FindingKind::Unmanaged => {
                let _ = writeln!(
                    out,
                    "  live, but not declared in {}\n",
                    crate::text::declared_in(finding)
                );
            }
        }
        if let Some(attribution) = &finding.attribution {
            for line in crate::text::attribution_lines(attribution) {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(out);
        }
        if let Some(r) = &finding.remediation {
            for line in crate::remediation::lines(r) {
                let _ = writeln!(out, "  {line}");
            }
            if let Some(c) = r.codify.as_ref().filter(|c| !c.patch.is_empty()) {
                for line in c.patch.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
            let _ = writeln!(out);
        }
    }

    if !report.not_yet_applied.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            paint(
                "Not yet applied (pending configuration changes, not drift):",
                style,
                |t| t.bold().to_string()
            )
        );
        let mut table = new_table(style, ["address", "action", "attributes"]);
        for pending in &report.not_yet_applied {
            let paths: Vec<&str> = pending.changes.iter().map(|c| c.path.as_str()).collect();
            table.add_row([
                pending.address.clone(),
                pending.actions.join(", "),
                cut(&paths.join(", "), VALUE_WIDTH),
            ]);
        }
        let _ = writeln!(out, "{table}");
    }

    for expired in &report.expired_ignore_rules {
        let owner = expired
            .owner
            .as_deref()
            .map(|o| format!(", owner {o}"))
            .unwrap_or_default();
        let line = format!(
            "warning: ignore rule expired on {} and no longer applies: {} ({}{owner})",
            expired.expires, expired.rule, expired.origin
        );
        let _ = writeln!(out, "{}", paint(&line, style, |t| t.yellow().to_string()));
    }
    for warning in &report.warnings {
        let _ = writeln!(
            out,
            "{}",
            paint(&format!("warning: {warning}"), style, |t| t
                .yellow()
                .to_string())
        );
    }

    let s = &report.summary;
    let headline = if s.drifted == 0 {
        paint(
            &format!("No drift in {}.", plural(s.resources_scanned, "resource")),
            style,
            |t| t.green().to_string(),
        )
    } else {
        let text = format!(
            "Drift: {} ({} changed, {} deleted, {} unmanaged) of {} scanned.",
            plural(s.drifted, "resource"),
            s.changed,
            s.deleted,
            s.unmanaged,
            s.resources_scanned
        );
        paint(&text, style, |t| t.red().bold().to_string())
    };
    let mut notes = Vec::new();
    if s.not_yet_applied > 0 {
        notes.push(format!(
            "{} not yet applied",
            plural(s.not_yet_applied, "pending change")
        ));
    }
    if s.suppressed > 0 {
        notes.push(format!(
            "{} suppressed as equivalent (see --format json)",
            plural(s.suppressed, "difference")
        ));
    }
    if s.ignored > 0 {
        notes.push(format!("{} ignored by rules", s.ignored));
    }
    let _ = write!(out, "{headline}");
    if !notes.is_empty() {
        let _ = write!(out, " {}.", notes.join("; "));
    }
    out.push('\n');
    if let Some(line) = crate::text::live_line(report) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(line) = crate::text::audit_line(report) {
        let _ = writeln!(out, "{line}");
    }
    out
}
