//! One self-contained HTML file per report (`scan`, `compare`, `explain`): inline CSS and
//! JavaScript, no network request, readable without JavaScript (which adds sorting and
//! filtering) and when printed. Templates are in `templates/`, rendered with `minijinja`,
//! whose HTML auto-escaping covers every value taken from an input.
//!
//! The views below hold display strings only, made from the reports with the same text helpers
//! as the console, so a secret the reports redact cannot reach a page either.

use crate::compare::{cell_text, summary_line};
use crate::events::{EventView, Explained};
use crate::text::{attribution_lines, plural, short};
use driftlog_core::cause::{Attribution, Confidence};
use driftlog_core::compare::CompareReport;
use driftlog_core::finding::{Change, FindingKind};
use driftlog_core::time::{format_time_us, parse_time_us};
use driftlog_core::ScanReport;
use minijinja::{context, Environment, Value};
use serde::Serialize;
use std::fmt::Write as _;

const CSS: &str = include_str!("../templates/report.css");
const JS: &str = include_str!("../templates/report.js");
const VALUE_WIDTH: usize = 400;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("../templates/base.html")),
        ("scan.html", include_str!("../templates/scan.html")),
        ("compare.html", include_str!("../templates/compare.html")),
        ("explain.html", include_str!("../templates/explain.html")),
    ] {
        env.add_template(name, source)
            .expect("the bundled templates parse (tested)");
    }
    env
}

/// Any serializable view as a template value.
fn ser<T: Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

fn render(template: &str, ctx: Value) -> String {
    let env = environment();
    let base = context! {
        css => Value::from_safe_string(CSS.to_owned()),
        js => Value::from_safe_string(JS.to_owned()),
        version => env!("CARGO_PKG_VERSION"),
    };
    env.get_template(template)
        .and_then(|t| t.render(context! { ..base, ..ctx }))
        .expect("the bundled templates render every view (tested)")
}

#[derive(Serialize)]
struct Card {
    value: String,
    label: &'static str,
    class: &'static str,
}

fn card(value: impl ToString, label: &'static str, class: &'static str) -> Card {
    Card {
        value: value.to_string(),
        label,
        class,
    }
}

#[derive(Serialize)]
struct ChangeView {
    path: String,
    before: String,
    after: String,
    relevant: bool,
}

fn change_view(c: &Change) -> ChangeView {
    let (before, after) = if c.sensitive && c.added.is_none() {
        ("(sensitive)".to_owned(), "(sensitive, changed)".to_owned())
    } else if let (Some(removed), Some(added)) = (&c.removed, &c.added) {
        let list = |items: &[serde_json::Value], sign: &str, none: &str| {
            if items.is_empty() {
                none.to_owned()
            } else {
                items
                    .iter()
                    .map(|v| format!("{sign} {}", short(v, VALUE_WIDTH)))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        (
            list(removed, "-", "(none removed)"),
            list(added, "+", "(none added)"),
        )
    } else {
        (short(&c.before, VALUE_WIDTH), short(&c.after, VALUE_WIDTH))
    };
    ChangeView {
        path: c.path.clone(),
        before,
        after,
        relevant: c.relevant,
    }
}

#[derive(Serialize)]
struct Line {
    text: String,
    class: &'static str,
}

fn evidence(a: &Attribution) -> Vec<Line> {
    attribution_lines(a)
        .into_iter()
        .map(|text| Line {
            class: if text.starts_with("caused by") {
                "cause"
            } else {
                ""
            },
            text,
        })
        .collect()
}

/// One row of a timeline and its marks.
struct Row {
    label: String,
    marks: Vec<Mark>,
}

#[derive(Clone, Copy, PartialEq)]
enum MarkKind {
    Cause,
    Write,
    Apply,
    Read,
    Failed,
}

struct Mark {
    time_us: i64,
    kind: MarkKind,
    title: String,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Rows of marks on one time axis, as inline SVG (hover a mark for its event).
fn timeline_svg(rows: &[Row]) -> Option<String> {
    let times: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.marks.iter().map(|m| m.time_us))
        .collect();
    let (min, max) = (*times.iter().min()?, *times.iter().max()?);
    let (label_w, width, row_h, top) = (260.0, 1100.0, 26.0, 30.0);
    let plot_w = width - label_w - 30.0;
    let span = (max - min).max(1) as f64;
    let x = |t: i64| label_w + 10.0 + (t - min) as f64 / span * plot_w;
    let height = top + rows.len() as f64 * row_h + 10.0;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="timeline" font-family="system-ui, sans-serif" font-size="12">"#
    );
    // Axis: start, middle and end times.
    for (i, t) in [min, min + (max - min) / 2, max].into_iter().enumerate() {
        let anchor = ["start", "middle", "end"][i];
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="16" fill="#5d6677" text-anchor="{anchor}">{}</text><line x1="{:.1}" x2="{:.1}" y1="22" y2="{:.1}" stroke="#e3e6eb"/>"##,
            x(t),
            escape(&format_time_us(t)),
            x(t),
            x(t),
            height - 6.0
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * row_h + row_h / 2.0;
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}" fill="#1d2330">{}</text><line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#dde1e8"/>"##,
            y + 4.0,
            escape(&crate::text::cut(&row.label, 38)),
            label_w + 10.0,
            label_w + 10.0 + plot_w
        );
        // Causes drawn last, on top of the other writes at the same moment.
        let mut marks: Vec<&Mark> = row.marks.iter().collect();
        marks.sort_by_key(|m| (m.kind == MarkKind::Cause, m.time_us));
        for m in marks {
            let (fill, stroke, r) = match m.kind {
                MarkKind::Cause => ("#c0262d", "#c0262d", 6.0),
                MarkKind::Write => ("#8a93a6", "#8a93a6", 4.5),
                MarkKind::Apply => ("#2b5fb8", "#2b5fb8", 5.0),
                MarkKind::Read => ("#c5cad3", "#c5cad3", 3.0),
                MarkKind::Failed => ("#ffffff", "#a35c00", 4.5),
            };
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="{r}" fill="{fill}" stroke="{stroke}" stroke-width="2"><title>{}</title></circle>"#,
                x(m.time_us),
                escape(&m.title)
            );
        }
    }
    svg.push_str("</svg>");
    Some(svg)
}

fn attribution_marks(a: &Attribution) -> Vec<Mark> {
    let mut marks = Vec::new();
    for (list, kind) in [
        (&a.caused_by, MarkKind::Cause),
        (&a.candidates, MarkKind::Write),
        (&a.attempts, MarkKind::Failed),
    ] {
        for e in list.iter() {
            if let Some(t) = parse_time_us(&e.time) {
                marks.push(Mark {
                    time_us: t,
                    kind,
                    title: crate::text::event_sentence(e),
                });
            }
        }
    }
    marks
}

/// The scan report as a page.
pub fn scan(report: &ScanReport) -> String {
    #[derive(Serialize)]
    struct FindingView {
        address: String,
        kind: &'static str,
        class: &'static str,
        confidence: Option<&'static str>,
        note: Option<String>,
        changes: Vec<ChangeView>,
        evidence: Vec<Line>,
        search: String,
        remediation: Option<RemediationView>,
    }
    #[derive(Serialize)]
    struct RemediationView {
        revert: Vec<Line>,
        patch: String,
        notes: Vec<String>,
        accept: String,
    }
    let s = &report.summary;
    let mut rows = Vec::new();
    let findings: Vec<FindingView> = report
        .findings
        .iter()
        .map(|f| {
            let (kind, class) = match f.kind {
                FindingKind::Changed => ("changed", "warn"),
                FindingKind::Deleted => ("deleted", "bad"),
                FindingKind::Unmanaged => ("unmanaged", "info"),
            };
            if let Some(a) = &f.attribution {
                let marks = attribution_marks(a);
                if !marks.is_empty() {
                    rows.push(Row {
                        label: f.address.clone(),
                        marks,
                    });
                }
            }
            let mut search = f.address.clone();
            for c in &f.changes {
                search.push(' ');
                search.push_str(&c.path);
            }
            let evidence = f.attribution.as_ref().map(evidence).unwrap_or_default();
            for e in &evidence {
                search.push(' ');
                search.push_str(&e.text);
            }
            FindingView {
                address: f.address.clone(),
                kind,
                class,
                confidence: f
                    .attribution
                    .as_ref()
                    .map(|a| a.confidence)
                    .filter(|c| *c != Confidence::None)
                    .map(Confidence::as_str),
                note: match (&f.deposed, &f.previous_address) {
                    (Some(d), _) => Some(format!("deposed object {d}")),
                    (None, Some(p)) => Some(format!("moved from {p}")),
                    _ => None,
                },
                changes: f.changes.iter().map(change_view).collect(),
                evidence,
                search,
                remediation: f.remediation.as_ref().map(|r| RemediationView {
                    revert: r
                        .revert
                        .iter()
                        .map(|c| Line {
                            text: c.command.clone(),
                            class: "",
                        })
                        .collect(),
                    patch: r
                        .codify
                        .as_ref()
                        .map(|c| c.patch.clone())
                        .unwrap_or_default(),
                    notes: r
                        .codify
                        .as_ref()
                        .map(|c| c.notes.clone())
                        .unwrap_or_default(),
                    accept: r.accept.clone(),
                }),
            }
        })
        .collect();
    let headline = if report.has_drift() {
        format!(
            "Drift: {} of {} scanned ({} changed, {} deleted, {} unmanaged)",
            plural(s.drifted, "resource"),
            s.resources_scanned,
            s.changed,
            s.deleted,
            s.unmanaged
        )
    } else {
        format!("No drift in {}", plural(s.resources_scanned, "resource"))
    };
    let a = &report.audit;
    let cards = vec![
        card(s.resources_scanned, "resources scanned", ""),
        card(
            s.changed,
            "changed",
            if s.changed > 0 { "warn" } else { "ok" },
        ),
        card(
            s.deleted,
            "deleted",
            if s.deleted > 0 { "bad" } else { "ok" },
        ),
        card(
            s.unmanaged,
            "unmanaged",
            if s.unmanaged > 0 { "warn" } else { "ok" },
        ),
        card(a.certain + a.likely, "causes found", ""),
        card(s.suppressed, "equivalent, not drift", ""),
    ];
    let pending: Vec<_> = report
        .not_yet_applied
        .iter()
        .map(|p| context! { address => p.address.clone(), actions => p.actions.join(", ") })
        .collect();
    let ignored: Vec<_> = report
        .ignored
        .iter()
        .map(|x| context! { address => x.address.clone(), path => x.path.clone().unwrap_or_default(), rule => x.rule.clone(), origin => x.origin.clone() })
        .collect();
    let subtitle = report
        .inputs
        .iter()
        .map(|i| format!("{}: {}", i.role, i.path))
        .collect::<Vec<_>>()
        .join(" · ");
    render(
        "scan.html",
        context! {
            title => "driftlog scan",
            subtitle,
            drifted => report.has_drift(),
            headline,
            cards => ser(&cards),
            audit_line => crate::text::audit_line(report),
            live_line => crate::text::live_line(report),
            inputs => ser(&report.inputs),
            timeline => timeline_svg(&rows).map(Value::from_safe_string),
            findings => ser(&findings),
            pending,
            suppressed => ser(&report.suppressed),
            ignored,
            warnings => ser(&report.warnings),
        },
    )
}

/// The comparison of environments as a page: the environments, what is missing where, and a
/// matrix per resource with equal values sharing a colour.
pub fn compare(report: &CompareReport) -> String {
    #[derive(Serialize)]
    struct CellView {
        text: String,
        class: String,
    }
    #[derive(Serialize)]
    struct RowView {
        path: String,
        cells: Vec<CellView>,
        unexpected: bool,
        rule: Option<String>,
    }
    #[derive(Serialize)]
    struct ResourceView {
        address: String,
        unexpected: bool,
        rows: Vec<RowView>,
        evidence: Vec<String>,
        search: String,
    }
    let s = &report.summary;
    let envs: Vec<_> = report
        .environments
        .iter()
        .map(|e| {
            context! {
                name => e.name.clone(), path => e.input.path.clone(), resources => e.resources,
                accounts => e.accounts.join(", "), regions => e.regions.join(", "),
                tokens => e.tokens.join(", "),
            }
        })
        .collect();
    let missing: Vec<_> = report
        .resources
        .iter()
        .filter(|r| !r.missing_from.is_empty())
        .map(|r| {
            let present: Vec<bool> = report
                .environments
                .iter()
                .map(|e| !r.missing_from.contains(&e.name))
                .collect();
            context! {
                address => r.address.clone(),
                present,
                unexpected => r.missing_is_unexpected(),
                rule => r.missing_expected.as_ref().map(|e| e.rule.clone()),
            }
        })
        .collect();
    let resources: Vec<ResourceView> = report
        .resources
        .iter()
        .filter(|r| !r.differences.is_empty())
        .map(|r| {
            let mut evidence = Vec::new();
            for d in r.differences.iter().filter(|d| d.expected.is_none()) {
                for c in &d.cells {
                    if let Some(a) = &c.last_change {
                        evidence.extend(
                            attribution_lines(a)
                                .into_iter()
                                .map(|l| format!("{} in {}: {l}", d.path, c.env)),
                        );
                    }
                }
            }
            let mut search = r.address.clone();
            for d in &r.differences {
                search.push(' ');
                search.push_str(&d.path);
            }
            ResourceView {
                address: r.address.clone(),
                unexpected: r.differences.iter().any(|d| d.expected.is_none()),
                rows: r
                    .differences
                    .iter()
                    .map(|d| RowView {
                        path: d.path.clone(),
                        cells: d
                            .cells
                            .iter()
                            .map(|c| CellView {
                                text: cell_text(c, d, VALUE_WIDTH),
                                class: match c.group {
                                    None => "missing".to_owned(),
                                    Some(g) => format!("g{}", g.min(5)),
                                },
                            })
                            .collect(),
                        unexpected: d.expected.is_none(),
                        rule: d.expected.as_ref().map(|e| e.rule.clone()),
                    })
                    .collect(),
                evidence,
                search,
            }
        })
        .collect();
    let names = report.environment_names().join(" · ");
    let cards = vec![
        card(s.resources, "resources", ""),
        card(
            s.missing_somewhere,
            "missing somewhere",
            if s.missing_somewhere > 0 {
                "warn"
            } else {
                "ok"
            },
        ),
        card(s.differing, "with differences", ""),
        card(
            s.unexpected,
            "unexpected",
            if s.unexpected > 0 { "bad" } else { "ok" },
        ),
        card(s.expected, "expected", "ok"),
    ];
    render(
        "compare.html",
        context! {
            title => format!("driftlog compare: {names}"),
            subtitle => report.environments.iter().map(|e| format!("{}: {}", e.name, e.input.path)).collect::<Vec<_>>().join(" · "),
            unexpected => report.has_unexpected(),
            headline => summary_line(report),
            cards => ser(&cards),
            envs,
            missing,
            resources => ser(&resources),
            warnings => ser(&report.warnings),
        },
    )
}

/// One resource's story as a page: its events on a timeline and in a table, and its drift.
pub fn explain(x: &Explained) -> String {
    let events: Vec<_> = x
        .events
        .iter()
        .map(|v: &EventView| {
            let e = v.event;
            let actor = e.actor.kind.as_str();
            let principal = e.principal.id.clone().unwrap_or_default();
            let write = match e.read_only {
                Some(false) => "write",
                Some(true) => "read",
                None => "?",
            };
            let outcome = e.outcome.label().to_owned();
            let time = format_time_us(e.time_us);
            context! {
                search => format!("{} {} {} {} {}", time, e.action, principal, actor, outcome),
                time, action => e.action.clone(), principal, actor, write, outcome,
                source => e.source.as_str(),
            }
        })
        .collect();
    let marks: Vec<Mark> = x
        .events
        .iter()
        .map(|v| {
            let e = v.event;
            let kind = if !e.is_successful_write() && e.read_only == Some(false) {
                MarkKind::Failed
            } else if e.actor.kind == driftlog_core::ActorKind::Terraform && e.is_successful_write()
            {
                MarkKind::Apply
            } else if e.is_successful_write() {
                MarkKind::Cause
            } else {
                MarkKind::Read
            };
            Mark {
                time_us: e.time_us,
                kind,
                title: format!(
                    "{} {} by {} ({})",
                    format_time_us(e.time_us),
                    e.action,
                    e.principal.id.as_deref().unwrap_or("?"),
                    e.outcome.label()
                ),
            }
        })
        .collect();
    // Reads, writes and applies each on their own row, so a busy reader does not hide a write.
    let mut rows = Vec::new();
    for (label, kinds) in [
        ("writes", &[MarkKind::Cause][..]),
        ("failed writes", &[MarkKind::Failed][..]),
        ("Terraform applies", &[MarkKind::Apply][..]),
        ("reads", &[MarkKind::Read][..]),
    ] {
        let row: Vec<Mark> = marks
            .iter()
            .filter(|m| kinds.contains(&m.kind))
            .map(|m| Mark {
                time_us: m.time_us,
                kind: m.kind,
                title: m.title.clone(),
            })
            .collect();
        if !row.is_empty() {
            rows.push(Row {
                label: label.to_owned(),
                marks: row,
            });
        }
    }
    let writes = x
        .events
        .iter()
        .filter(|v| v.event.read_only == Some(false))
        .count();
    let drift = x.drift.map(|f| {
        context! {
            address => f.address.clone(),
            kind => f.kind.as_str(),
            changes => ser(f.changes.iter().map(change_view).collect::<Vec<_>>()),
            evidence => ser(f.attribution.as_ref().map(evidence).unwrap_or_default()),
        }
    });
    let headline = match (x.drift, x.has_state) {
        (Some(f), _) => format!("{} {}", f.address, f.kind.as_str()),
        (None, true) => "No current drift".to_owned(),
        (None, false) => format!("{} in the audit logs", plural(x.events.len(), "event")),
    };
    render(
        "explain.html",
        context! {
            title => format!("driftlog explain: {}", x.target),
            subtitle => format!("event store {}", x.store),
            headline,
            drift,
            cards => ser(vec![
                card(x.events.len(), "events", ""),
                card(writes, "writes", if writes > 0 { "warn" } else { "ok" }),
                card(x.events.iter().filter(|v| v.event.actor.kind == driftlog_core::ActorKind::Terraform && v.event.is_successful_write()).count(), "by Terraform", ""),
            ]),
            identifiers => ser(x.identifiers),
            timeline => timeline_svg(&rows).map(Value::from_safe_string),
            events,
        },
    )
}
