//! Where reports go: standard output, or a file written whole or not at all.

use crate::cli::ColorChoice;
use anyhow::{Context, Result};
use driftlog_report::Style;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Colour and width for a console report going to `output` (standard output when `None`).
pub fn style(color: ColorChoice, output: Option<&Path>) -> Style {
    let to_terminal = output.is_none() && std::io::stdout().is_terminal();
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    Style {
        color,
        width: driftlog_report::formats::terminal_width(120),
    }
}

/// Run `write` on standard output, or on a file beside `output` that is renamed into place
/// when complete, so a reader never sees half a report.
pub fn emit(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    match output {
        // Buffered both ways: serializers write many small pieces, and standard output is
        // line-buffered (a file not at all): a system call for each would dominate.
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("{}: cannot create the report file", path.display()))?;
            {
                let mut out = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
                write(&mut out)?;
                out.flush()?;
            }
            // A temporary file is private (0600); a report is as readable as any file the user
            // writes, or as the one it replaces.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map(|m| m.permissions().mode())
                    .unwrap_or(0o644);
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(mode))?;
            }
            tmp.persist(path)
                .with_context(|| format!("{}: cannot write the report", path.display()))?;
        }
    }
    Ok(())
}

/// A command's summary as one JSON document on standard output, with its schema version.
pub fn print_versioned_json(summary: &impl serde::Serialize, format_version: u32) -> Result<()> {
    let mut value = serde_json::to_value(summary)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("format_version".into(), format_version.into());
    }
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
