//! `driftlog compare` for people and machines: a matrix per resource (rows are attribute
//! paths, columns environments), in the console and in Markdown; JSON is the report itself.
//!
//! A secret's cell never shows its value: `(secret A)` and `(secret B)` say which
//! environments share one.

use crate::text::{attribution_lines, cut, plural, short};
use crate::Style;
use comfy_table::{presets, ContentArrangement, Table};
use driftlog_core::compare::{Cell, CompareReport, Difference, ResourceDifferences};
use owo_colors::OwoColorize;
use std::fmt::Write as _;
use std::io::{self, Write};

const VALUE_WIDTH: usize = 120;

/// What a cell shows. A set shows only the elements not every environment has, one per line.
pub fn cell_text(cell: &Cell, d: &Difference, max: usize) -> String {
    match (cell.group, &cell.unshared) {
        (None, _) => "(no such resource)".to_owned(),
        (Some(g), _) if d.sensitive => format!("(secret {})", group_letter(g)),
        (Some(_), Some(unshared)) => {
            let mut lines: Vec<String> = unshared
                .iter()
                .map(|v| format!("+ {}", short(v, max)))
                .collect();
            match d.shared {
                Some(0) | None if lines.is_empty() => lines.push("(empty)".to_owned()),
                Some(0) | None => {}
                Some(n) if lines.is_empty() => lines.push(format!("{n} shared")),
                Some(n) => lines.push(format!("and {n} shared")),
            }
            lines.join("\n")
        }
        (Some(_), None) if cell.value.is_null() => "(unset)".to_owned(),
        (Some(_), None) => short(&cell.value, max),
    }
}

/// `A`, `B`, … `Z`, `AA`: a group's name.
pub fn group_letter(g: usize) -> String {
    let mut n = g;
    let mut s = String::new();
    loop {
        s.insert(0, (b'A' + (n % 26) as u8) as char);
        if n < 26 {
            return s;
        }
        n = n / 26 - 1;
    }
}

fn verdict(d: &Difference) -> String {
    match &d.expected {
        Some(e) => format!("expected ({})", e.rule),
        None => "unexpected".to_owned(),
    }
}

fn paint(text: &str, style: Style, f: impl Fn(&str) -> String) -> String {
    if style.color {
        f(text)
    } else {
        text.to_owned()
    }
}

/// One line: how many resources, how many differ, how many of the differences are unexpected.
pub fn summary_line(report: &CompareReport) -> String {
    let s = &report.summary;
    format!(
        "{} across {}: {} missing from some environment, {} with differing attributes; unexpected differences: {}, expected: {}",
        plural(s.resources, "resource"),
        report.environment_names().join(", "),
        s.missing_somewhere,
        s.differing,
        s.unexpected,
        s.expected,
    )
}

fn resource_title(r: &ResourceDifferences, style: Style) -> String {
    let unexpected = r.missing_is_unexpected() || has_unexpected_attribute(r);
    let mark = if unexpected {
        paint("unexpected", style, |t| t.red().to_string())
    } else {
        paint("expected", style, |t| t.green().to_string())
    };
    let mut title = format!(
        "{} {mark}",
        paint(&r.address, style, |t| t.bold().to_string())
    );
    if !r.missing_from.is_empty() {
        let _ = write!(title, " — missing from {}", r.missing_from.join(", "));
        if let Some(e) = &r.missing_expected {
            let _ = write!(title, " (expected: {})", e.rule);
        }
    }
    title
}

/// Who last changed each unexpected difference, environment by environment.
fn last_changes(r: &ResourceDifferences) -> Vec<String> {
    let mut lines = Vec::new();
    for d in r.differences.iter().filter(|d| d.expected.is_none()) {
        for cell in &d.cells {
            if let Some(a) = &cell.last_change {
                let mut found = attribution_lines(a).into_iter();
                if let Some(first) = found.next() {
                    lines.push(format!("{} in {}: {first}", d.path, cell.env));
                }
                lines.extend(found.map(|l| format!("  {l}")));
            }
        }
    }
    lines
}

/// Resources missing from some environment: one row each, a column per environment.
fn presence_table(report: &CompareReport, style: Style) -> Option<String> {
    let missing: Vec<&ResourceDifferences> = report
        .resources
        .iter()
        .filter(|r| !r.missing_from.is_empty())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(style.width);
    let mut header = vec!["missing from some environments".to_owned()];
    header.extend(report.environments.iter().map(|e| e.name.clone()));
    header.push("verdict".to_owned());
    table.set_header(header);
    for r in missing {
        let mut row = vec![r.address.clone()];
        row.extend(report.environments.iter().map(|e| {
            if r.missing_from.contains(&e.name) {
                "missing".to_owned()
            } else {
                "present".to_owned()
            }
        }));
        row.push(match &r.missing_expected {
            Some(e) => format!("expected ({})", e.rule),
            None => paint("unexpected", style, |t| t.red().to_string()),
        });
        table.add_row(row);
    }
    Some(table.to_string())
}

fn has_unexpected_attribute(r: &ResourceDifferences) -> bool {
    r.differences.iter().any(|d| d.expected.is_none())
}

/// The console report: resources missing somewhere, then a matrix for every resource with an
/// unexpected difference (its expected rows too, for context). Resources whose differences
/// are all expected are counted, and shown with `show_expected`.
pub fn console(report: &CompareReport, style: Style, show_expected: bool) -> String {
    let mut out = String::new();
    let names = report.environment_names();
    if let Some(table) = presence_table(report, style) {
        let _ = writeln!(out, "{table}\n");
    }
    let mut only_expected = 0;
    for r in report
        .resources
        .iter()
        .filter(|r| !r.differences.is_empty())
    {
        if !has_unexpected_attribute(r) && !show_expected {
            only_expected += 1;
            continue;
        }
        let _ = writeln!(out, "{}", resource_title(r, style));
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(style.width);
        let mut header = vec!["attribute".to_owned()];
        header.extend(names.iter().map(|n| n.to_string()));
        header.push("verdict".to_owned());
        table.set_header(header);
        for d in &r.differences {
            let mut row = vec![d.path.clone()];
            row.extend(d.cells.iter().map(|c| cell_text(c, d, VALUE_WIDTH)));
            let v = verdict(d);
            row.push(match d.expected {
                None => paint(&v, style, |t| t.red().to_string()),
                Some(_) => v,
            });
            table.add_row(row);
        }
        let _ = writeln!(out, "{table}");
        for line in last_changes(r) {
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    if only_expected > 0 {
        let _ = writeln!(
            out,
            "{} differ only as the rules expect (--show-expected lists them)",
            plural(only_expected, "more resource")
        );
    }
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out, "{}", summary_line(report));
    out
}

fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace('`', "'")
}

/// The Markdown report (a pull-request comment or a wiki page).
pub fn markdown(report: &CompareReport) -> String {
    let mut out = String::new();
    let names = report.environment_names();
    let _ = writeln!(out, "## driftlog compare: {}\n", names.join(" · "));
    let _ = writeln!(out, "{}\n", summary_line(report));
    let _ = writeln!(out, "| environment | input | accounts | regions |");
    let _ = writeln!(out, "|---|---|---|---|");
    for e in &report.environments {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} |",
            md_escape(&e.name),
            md_escape(&e.input.path),
            e.accounts.join(", "),
            e.regions.join(", ")
        );
    }
    out.push('\n');
    for r in &report.resources {
        let _ = writeln!(out, "### `{}`\n", md_escape(&r.address));
        if !r.missing_from.is_empty() {
            let _ = writeln!(
                out,
                "Missing from {}{}.\n",
                r.missing_from.join(", "),
                match &r.missing_expected {
                    Some(e) => format!(" (expected: `{}`)", md_escape(&e.rule)),
                    None => " — **unexpected**".to_owned(),
                }
            );
        }
        if !r.differences.is_empty() {
            let _ = writeln!(out, "| attribute | {} | verdict |", names.join(" | "));
            let _ = writeln!(out, "|---|{}---|", "---|".repeat(names.len()));
            for d in &r.differences {
                let cells: Vec<String> = d
                    .cells
                    .iter()
                    .map(|c| {
                        let lines: Vec<String> = cell_text(c, d, 60)
                            .lines()
                            .map(|l| format!("`{}`", md_escape(l)))
                            .collect();
                        lines.join("<br>")
                    })
                    .collect();
                let v = match &d.expected {
                    Some(e) => format!("expected (`{}`)", md_escape(&e.rule)),
                    None => "**unexpected**".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {v} |",
                    md_escape(&d.path),
                    cells.join(" | ")
                );
            }
            out.push('\n');
        }
        for line in last_changes(r) {
            let _ = writeln!(out, "- {}", md_escape(&cut(&line, 300)));
        }
        if r.differences.iter().any(|d| d.expected.is_none()) && !last_changes(r).is_empty() {
            out.push('\n');
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "**Warnings**\n");
        for w in &report.warnings {
            let _ = writeln!(out, "- {}", md_escape(w));
        }
    }
    out
}

/// The JSON report (documented in docs/compare.md), pretty-printed.
pub fn json(report: &CompareReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
