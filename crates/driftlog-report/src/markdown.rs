//! For a pull-request comment: a summary table, then one collapsible section per resource.

use crate::text::{plural, short};
use driftlog_core::finding::{Change, FindingKind};
use driftlog_core::ScanReport;
use std::fmt::Write;

const VALUE_WIDTH: usize = 120;

/// Make text safe inside a table cell and inline code.
/// Running text: only what Markdown or HTML would misread is escaped.
fn prose(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('<', "&lt;")
}

fn cell(text: &str) -> String {
    let escaped = text.replace('|', "\\|").replace('`', "'");
    if escaped.is_empty() {
        " ".to_owned()
    } else {
        format!("`{escaped}`")
    }
}

fn values(change: &Change) -> (String, String) {
    if change.sensitive && change.added.is_none() {
        return ("*(sensitive)*".into(), "*(sensitive, changed)*".into());
    }
    match (&change.removed, &change.added) {
        (Some(removed), Some(added)) => {
            let list = |items: &[serde_json::Value], sign: &str| {
                if items.is_empty() {
                    "—".to_owned()
                } else {
                    items
                        .iter()
                        .map(|v| cell(&format!("{sign} {}", short(v, VALUE_WIDTH))))
                        .collect::<Vec<_>>()
                        .join("<br>")
                }
            };
            (list(removed, "-"), list(added, "+"))
        }
        _ => (
            cell(&short(&change.before, VALUE_WIDTH)),
            cell(&short(&change.after, VALUE_WIDTH)),
        ),
    }
}

pub fn render(report: &ScanReport) -> String {
    let s = &report.summary;
    let mut out = String::new();
    if s.drifted == 0 {
        let _ = writeln!(out, "## driftlog: no drift\n");
    } else {
        let _ = writeln!(
            out,
            "## driftlog: {} drifted\n",
            plural(s.drifted, "resource")
        );
    }
    let _ = writeln!(
        out,
        "| scanned | changed | deleted | unmanaged | not yet applied | suppressed | ignored |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        s.resources_scanned,
        s.changed,
        s.deleted,
        s.unmanaged,
        s.not_yet_applied,
        s.suppressed,
        s.ignored
    );
    for finding in &report.findings {
        let _ = writeln!(
            out,
            "<details><summary><code>{}</code> — {}</summary>\n",
            finding.address.replace('<', "&lt;"),
            finding.kind.as_str()
        );
        match finding.kind {
            FindingKind::Changed => {
                let _ = writeln!(out, "| attribute | declared | live |\n|---|---|---|");
                for change in &finding.changes {
                    let (before, after) = values(change);
                    let _ = writeln!(out, "| {} | {before} | {after} |", cell(&change.path));
                }
                let set_by = crate::text::set_by_lines(finding);
                if !set_by.is_empty() {
                    out.push('\n');
                }
                for line in set_by {
                    let _ = writeln!(out, "- {}", prose(&line));
                }
            }
            FindingKind::Deleted => {
                let _ = writeln!(
                    out,
                    "Declared in {}, missing from the live side.",
                    crate::text::declared_in(finding)
                );
            }
            FindingKind::Unmanaged => {
                let _ = writeln!(
                    out,
                    "Live, but not declared in {}.",
                    crate::text::declared_in(finding)
                );
            }
        }
        if let Some(attribution) = &finding.attribution {
            out.push('\n');
            for line in crate::text::attribution_lines(attribution) {
                let _ = writeln!(out, "- {}", prose(&line));
            }
        }
        if let Some(r) = &finding.remediation {
            let _ = writeln!(out, "\n**How to fix it**\n");
            let _ = writeln!(out, "Revert:\n\n```sh");
            for c in &r.revert {
                let _ = writeln!(out, "# {}\n{}", c.note, c.command);
            }
            let _ = writeln!(out, "```");
            if let Some(c) = &r.codify {
                if !c.patch.is_empty() {
                    let _ = writeln!(
                        out,
                        "\nCodify (accept the live value):\n\n```diff\n{}```",
                        c.patch
                    );
                }
                for n in &c.notes {
                    let _ = writeln!(out, "- {}", prose(n));
                }
            }
            let _ = writeln!(
                out,
                "\nAccept for now (`.driftlogignore`):\n\n```\n{}\n```",
                r.accept
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if !report.not_yet_applied.is_empty() {
        let _ = writeln!(
            out,
            "### Not yet applied (pending configuration, not drift)\n"
        );
        let _ = writeln!(out, "| address | action | attributes |\n|---|---|---|");
        for p in &report.not_yet_applied {
            let paths: Vec<String> = p.changes.iter().map(|c| cell(&c.path)).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(&p.address),
                p.actions.join(", "),
                paths.join(", ")
            );
        }
        out.push('\n');
    }
    for e in &report.expired_ignore_rules {
        let _ = writeln!(
            out,
            "> **Expired ignore rule** ({}, expired {}): {}\n",
            e.origin,
            e.expires,
            cell(&e.rule)
        );
    }
    for w in &report.warnings {
        let _ = writeln!(out, "> **Warning:** {w}\n");
    }
    if let Some(line) = crate::text::live_line(report) {
        let _ = writeln!(out, "{}\n", prose(&line));
    }
    if let Some(line) = crate::text::audit_line(report) {
        let _ = writeln!(out, "{}", prose(&line));
    }
    out
}
