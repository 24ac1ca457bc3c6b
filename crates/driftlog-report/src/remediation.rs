//! Remediation for people (`text`, under each finding in the console and Markdown) and
//! machines (`json`, for `driftlog remediate -f json`; inside scan reports it is the finding's
//! `remediation` field).

use driftlog_core::remediate::Remediation;
use driftlog_core::Finding;
use serde_json::{json, Value};

/// The lines under one finding: revert commands, the codify patch's files and notes, the
/// accept line.
pub fn lines(r: &Remediation) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in r.revert.iter().enumerate() {
        let lead = if i == 0 { "revert:" } else { "    or:" };
        out.push(format!("{lead} {}", c.command));
        let mut note = format!("        ({})", c.note);
        if let Some(u) = &c.undoes {
            note = format!("        (undoes {u}; {})", c.note);
        }
        out.push(note);
    }
    if let Some(codify) = &r.codify {
        if codify.files.is_empty() {
            out.push("codify: nothing patched".to_owned());
        } else {
            out.push(format!("codify: patch {}", codify.files.join(", ")));
        }
        for n in &codify.notes {
            out.push(format!("        {n}"));
        }
    }
    out.push(format!("accept: {}", r.accept));
    out
}

/// Every finding's remediation, with its patch, as text.
pub fn text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!("{} {}\n", f.address, f.kind.as_str()));
        if let Some(r) = &f.remediation {
            for l in lines(r) {
                out.push_str("  ");
                out.push_str(&l);
                out.push('\n');
            }
            if let Some(c) = r.codify.as_ref().filter(|c| !c.patch.is_empty()) {
                for l in c.patch.lines() {
                    out.push_str("    ");
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    if findings.is_empty() {
        out.push_str("No findings in the report: nothing to remediate.\n");
    }
    out
}

/// `driftlog remediate -f json`.
pub fn json(findings: &[Finding], patch: &str) -> Value {
    json!({
        "format_version": crate::formats::REMEDIATION,
        "findings": findings
            .iter()
            .map(|f| json!({"address": f.address, "kind": f.kind.as_str(), "remediation": f.remediation}))
            .collect::<Vec<_>>(),
        "patch": patch,
    })
}
