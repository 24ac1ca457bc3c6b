//! The machine format: the report serialized as is. Field names are the schema (docs/reports.md,
//! "json"), and `format_version` says which schema.

use driftlog_core::ScanReport;
use std::io::{self, Write};

pub fn write(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
