//! Org-wide scans (`scan --declared GLOB --live GLOB`): one line per stack and the totals, for
//! people (a table, or Markdown for a pull request), and one versioned JSON document holding
//! every stack's whole scan report.

use comfy_table::{presets, ContentArrangement, Table};
use driftlog_core::report::Summary;
use driftlog_core::ScanReport;
use serde_json::{json, Value};

/// The JSON document's schema version.
pub const FORMAT_VERSION: &str = "1.0";

/// One stack to show.
pub struct StackView<'a> {
    pub name: &'a str,
    pub declared: String,
    pub live: String,
    /// The stack's report, or why it could not be scanned.
    pub report: Result<&'a ScanReport, &'a str>,
}

fn attributed(report: &ScanReport) -> usize {
    report
        .findings
        .iter()
        .filter(|f| {
            f.attribution
                .as_ref()
                .is_some_and(|a| !a.caused_by.is_empty())
        })
        .count()
}

fn row(s: &Summary) -> [String; 5] {
    [
        s.resources_scanned.to_string(),
        s.drifted.to_string(),
        s.changed.to_string(),
        s.deleted.to_string(),
        s.unmanaged.to_string(),
    ]
}

const HEADER: [&str; 8] = [
    "STACK",
    "RESOURCES",
    "DRIFTED",
    "CHANGED",
    "DELETED",
    "UNMANAGED",
    "ATTRIBUTED",
    "STATUS",
];

fn status(report: &Result<&ScanReport, &str>) -> String {
    match report {
        Ok(r) if r.has_drift() => "drift".into(),
        Ok(_) => "clean".into(),
        Err(e) => format!("error: {e}"),
    }
}

fn summary_line(stacks: &[StackView], total: &Summary) -> String {
    let drifted = stacks
        .iter()
        .filter(|s| s.report.is_ok_and(ScanReport::has_drift))
        .count();
    let failed = stacks.iter().filter(|s| s.report.is_err()).count();
    format!(
        "{} stacks: {drifted} drifted, {failed} failed; {} resources, {} drifted ({} changed, {} deleted, {} unmanaged)",
        stacks.len(),
        total.resources_scanned,
        total.drifted,
        total.changed,
        total.deleted,
        total.unmanaged
    )
}

/// A table for a terminal: only the stacks with drift or errors unless `all`, then the totals.
pub fn console(stacks: &[StackView], total: &Summary, width: u16, all: bool) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(HEADER.to_vec());
    let mut shown = 0;
    for s in stacks {
        let interesting = !matches!(&s.report, Ok(r) if !r.has_drift());
        if !all && !interesting {
            continue;
        }
        shown += 1;
        let (counts, attributed) = match &s.report {
            Ok(r) => (row(&r.summary).to_vec(), attributed(r).to_string()),
            Err(_) => (vec!["-".into(); 5], "-".into()),
        };
        let mut cells = vec![s.name.to_owned()];
        cells.extend(counts);
        cells.push(attributed);
        cells.push(status(&s.report));
        table.add_row(cells);
    }
    let mut out = String::new();
    if shown > 0 {
        out.push_str(&format!("{table}\n"));
    }
    let hidden = stacks.len() - shown;
    if hidden > 0 {
        out.push_str(&format!(
            "{hidden} clean stacks not shown (--format json lists every stack)\n"
        ));
    }
    out.push_str(&summary_line(stacks, total));
    out.push('\n');
    out
}

/// A Markdown table of every stack with drift or errors, then the totals.
pub fn markdown(stacks: &[StackView], total: &Summary) -> String {
    let mut out = String::from("## driftlog: org-wide scan\n\n");
    out.push_str(&summary_line(stacks, total));
    out.push_str("\n\n");
    let rows: Vec<&StackView> = stacks
        .iter()
        .filter(|s| !matches!(&s.report, Ok(r) if !r.has_drift()))
        .collect();
    if rows.is_empty() {
        out.push_str("No stack drifted.\n");
        return out;
    }
    out.push_str(&format!("| {} |\n", HEADER.join(" | ")));
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---|\n");
    for s in rows {
        let (counts, attributed) = match &s.report {
            Ok(r) => (row(&r.summary).to_vec(), attributed(r).to_string()),
            Err(_) => (vec!["-".into(); 5], "-".into()),
        };
        let status = status(&s.report).replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {} | {attributed} | {status} |\n",
            s.name,
            counts.join(" | ")
        ));
    }
    out
}

/// `{"format_version", "summary", "stacks": [{"name", "declared", "live", "report" | "error"}]}`.
pub fn json(stacks: &[StackView], total: &Summary) -> Value {
    let drifted = stacks
        .iter()
        .filter(|s| s.report.is_ok_and(ScanReport::has_drift))
        .count();
    let failed = stacks.iter().filter(|s| s.report.is_err()).count();
    json!({
        "format_version": FORMAT_VERSION,
        "summary": {
            "stacks": stacks.len(),
            "stacks_drifted": drifted,
            "stacks_failed": failed,
            "total": total,
        },
        "stacks": stacks.iter().map(|s| {
            let mut v = json!({"name": s.name, "declared": s.declared, "live": s.live});
            match &s.report {
                Ok(r) => v["report"] = serde_json::to_value(r).unwrap_or(Value::Null),
                Err(e) => v["error"] = json!(e),
            }
            v
        }).collect::<Vec<_>>(),
    })
}
