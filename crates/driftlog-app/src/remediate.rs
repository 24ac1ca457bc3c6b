//! The remediation use case: for each finding, the commands that revert it, the patch that
//! codifies it (with the configuration), and the ignore line that accepts it for now — for a
//! scan as it runs (`scan --remediate`) or for a saved JSON report (`driftlog remediate`).

use crate::AppError;
use driftlog_core::remediate::remediate as remediate_one;
use driftlog_core::time::{self, Bound, Direction};
use driftlog_core::Finding;
use driftlog_terraform::codify::Config;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How to remediate.
#[derive(Debug, Clone, Default)]
pub struct RemediateOptions {
    /// The Terraform configuration to patch (codify); `None`: no patches.
    pub config: Option<PathBuf>,
    /// Who accepts a drift in the ignore lines.
    pub owner: String,
    /// Until when (the time grammar; a span counts from now), for the ignore lines.
    pub expires: String,
    /// Write every codify edit as one patch to this file.
    pub patch: Option<PathBuf>,
    /// Append the accept lines to this ignore file.
    pub generate_ignore: Option<PathBuf>,
}

/// What remediating wrote besides the findings' own remediation.
#[derive(Debug, Clone, Default)]
pub struct Remediated {
    /// Every codify edit, against the files on disk (empty without a configuration).
    pub patch: String,
    pub patch_written: Option<PathBuf>,
    pub ignore_lines: usize,
    pub ignore_written: Option<PathBuf>,
}

/// The date an `expires` value stands for (`30d` → the day 30 days from now).
fn expiry_date(text: &str) -> Result<String, AppError> {
    let t = time::parse(text, jiff::Timestamp::now(), Bound::End, Direction::Future).map_err(
        |source| AppError::Time {
            option: "--expires",
            source,
        },
    )?;
    let ts = jiff::Timestamp::from_microsecond(t.us).map_err(|e| AppError::Usage(e.to_string()))?;
    Ok(ts.strftime("%Y-%m-%d").to_string())
}

/// Fill every finding's remediation and write the patch and ignore lines asked for.
pub fn remediate(
    findings: &mut [Finding],
    options: &RemediateOptions,
) -> Result<Remediated, AppError> {
    let expires = expiry_date(&options.expires)?;
    let mut config = match &options.config {
        Some(dir) => Some(Config::open(dir).map_err(|e| AppError::Input(e.to_string()))?),
        None => None,
    };
    let mut lines = Vec::new();
    for f in findings.iter_mut() {
        let mut r = remediate_one(f, &options.owner, &expires);
        if let Some(config) = config.as_mut() {
            r.codify = Some(config.codify(f));
        }
        lines.push(r.accept.clone());
        f.remediation = Some(r);
    }
    let mut out = Remediated {
        patch: config.as_ref().map(Config::patch).unwrap_or_default(),
        ignore_lines: lines.len(),
        ..Remediated::default()
    };
    if let Some(path) = &options.patch {
        write_whole(path, out.patch.as_bytes(), "writing the patch")?;
        out.patch_written = Some(path.clone());
    }
    if let Some(path) = &options.generate_ignore {
        append_lines(path, &lines)?;
        out.ignore_written = Some(path.clone());
    }
    Ok(out)
}

fn io<'p>(path: &'p Path, what: &'static str) -> impl Fn(std::io::Error) -> AppError + 'p {
    move |source| AppError::Io {
        path: path.to_owned(),
        what,
        source,
    }
}

fn write_whole(path: &Path, bytes: &[u8], what: &'static str) -> Result<(), AppError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(path, what))?;
    tmp.write_all(bytes).map_err(io(path, what))?;
    tmp.persist(path).map_err(|e| io(path, what)(e.error))?;
    Ok(())
}

/// Append to an ignore file, with a header saying where the lines came from.
fn append_lines(path: &Path, lines: &[String]) -> Result<(), AppError> {
    let what = "appending to the ignore file";
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path, what))?;
    let mut text = format!(
        "# Accepted by driftlog remediate on {}:\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d")
    );
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).map_err(io(path, what))
}

/// The findings of a saved `scan -f json` report.
pub fn read_report(path: &Path) -> Result<Vec<Finding>, AppError> {
    let text = std::fs::read_to_string(path).map_err(io(path, "reading the report"))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        AppError::Input(format!(
            "{}: not a driftlog JSON report: {e}",
            path.display()
        ))
    })?;
    let version = doc
        .get("format_version")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if version.split('.').next() != Some("1") || doc.get("findings").is_none() {
        return Err(AppError::Input(format!(
            "{}: not a driftlog scan report of format 1.x (`driftlog scan -f json`); found format_version {version:?}",
            path.display()
        )));
    }
    serde_json::from_value(doc["findings"].clone()).map_err(|e| {
        AppError::Input(format!(
            "{}: findings do not have the scan report's shape: {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_a_date() {
        assert_eq!(expiry_date("2027-01-31").unwrap(), "2027-01-31");
        let in_30 = expiry_date("30d").unwrap();
        assert_eq!(in_30.len(), 10);
        assert!(expiry_date("tomorrowish").is_err());
    }
}
