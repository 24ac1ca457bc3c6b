//! Every output format of a [`ScanReport`]: `console` for people, `json` for machines,
//! `markdown` for pull-request comments, `sarif` for code-scanning dashboards.
//!
//! Each writer is a pure function of the report (and, for the console, of whether to use
//! colour), so each is snapshot-tested on the same reports.

pub mod compare;
pub mod console;
pub mod digests;
pub mod events;
pub mod fleet;
pub mod formats;
pub mod html;
pub mod ingest;
pub mod json;
pub mod markdown;
pub mod remediation;
pub mod sarif;
pub mod text;

use driftlog_core::ScanReport;
use std::io::{self, Write};

/// The formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Console,
    Json,
    Markdown,
    Sarif,
    Html,
}

/// Options that only affect presentation.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Terminal width for console tables.
    pub width: u16,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            color: false,
            width: 120,
        }
    }
}

/// Render `report` in `format` to `out`.
pub fn write(
    format: Format,
    report: &ScanReport,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Console => out.write_all(console::render(report, style).as_bytes()),
        Format::Json => json::write(report, out),
        Format::Markdown => out.write_all(markdown::render(report).as_bytes()),
        Format::Sarif => sarif::write(report, out),
        Format::Html => out.write_all(html::scan(report).as_bytes()),
    }
}
