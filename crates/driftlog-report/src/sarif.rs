//! SARIF 2.1.0, as GitHub code scanning and other dashboards load it: one rule per finding
//! kind, one result per drifted resource, located at the input file that declares it.

use driftlog_core::finding::{Finding, FindingKind};
use driftlog_core::ScanReport;
use serde_json::{json, Value};
use std::io::{self, Write};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn rule(kind: FindingKind) -> Value {
    let (id, name, short, full, level) = match kind {
        FindingKind::Changed => (
            "drift/changed",
            "ResourceChanged",
            "Resource changed outside Terraform",
            "A managed resource's live attributes differ from what Terraform last applied.",
            "error",
        ),
        FindingKind::Deleted => (
            "drift/deleted",
            "ResourceDeleted",
            "Resource deleted outside Terraform",
            "A resource in the Terraform state no longer exists.",
            "error",
        ),
        FindingKind::Unmanaged => (
            "drift/unmanaged",
            "ResourceUnmanaged",
            "Resource not managed by Terraform",
            "A live resource is not declared in any Terraform state.",
            "warning",
        ),
    };
    json!({
        "id": id,
        "name": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": "Apply the configuration to revert the change, or update the configuration to adopt it; `driftlog scan --format json` lists every changed attribute."},
        "defaultConfiguration": {"level": level},
    })
}

fn rule_index(kind: FindingKind) -> usize {
    match kind {
        FindingKind::Changed => 0,
        FindingKind::Deleted => 1,
        FindingKind::Unmanaged => 2,
    }
}

fn message(f: &Finding) -> String {
    let what = match f.kind {
        FindingKind::Changed => {
            let paths: Vec<&str> = f.changes.iter().map(|c| c.path.as_str()).collect();
            format!(
                "{} drifted: {} changed outside {}.",
                f.address,
                paths.join(", "),
                crate::text::declared_in(f)
            )
        }
        FindingKind::Deleted => format!(
            "{} was deleted outside {}.",
            f.address,
            crate::text::declared_in(f)
        ),
        FindingKind::Unmanaged if f.provider == "kubernetes" => {
            format!("{} exists but is not declared in the manifests.", f.address)
        }
        FindingKind::Unmanaged => format!("{} exists but is not managed by Terraform.", f.address),
    };
    match f
        .attribution
        .as_ref()
        .and_then(|a| a.caused_by.first().map(|c| (a, c)))
    {
        Some((a, cause)) => format!(
            "{what} Caused by ({}): {}.",
            a.confidence.as_str(),
            crate::text::event_sentence(cause)
        ),
        None => what,
    }
}

/// A stable identity for a result across runs, so dashboards track it rather than re-open it.
fn fingerprint(f: &Finding) -> String {
    let mut key = format!(
        "{}|{}|{}",
        f.address,
        f.deposed.as_deref().unwrap_or(""),
        f.kind.as_str()
    );
    for c in &f.changes {
        key.push('|');
        key.push_str(&c.path);
    }
    // FNV-1a: only needs to be stable and well spread, not secret.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

pub fn to_value(report: &ScanReport) -> Value {
    // The declared side (state or plan) is where the resource is described.
    let artifact = report
        .inputs
        .iter()
        .find(|i| i.role != "live")
        .map_or_else(|| "terraform".to_owned(), |i| i.path.clone());
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": rule(f.kind)["id"],
                "ruleIndex": rule_index(f.kind),
                "level": rule(f.kind)["defaultConfiguration"]["level"],
                "message": {"text": message(f)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": artifact},
                        "region": {"startLine": 1}
                    },
                    "logicalLocations": [{"fullyQualifiedName": f.address, "kind": "resource"}]
                }],
                "partialFingerprints": {"driftlogFinding/v1": fingerprint(f)},
                "properties": {
                    "resourceType": f.resource_type,
                    "provider": f.provider,
                    "changes": f.changes,
                    "identifiers": f.identifiers,
                    "attribution": f.attribution,
                }
            });
            // How to fix it, only when asked for (`--remediate`).
            if let Some(r) = &f.remediation {
                result["properties"]["remediation"] = json!(r);
            }
            result
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "driftlog",
                "version": report.driftlog_version,
                "informationUri": "https://github.com/driftlog/driftlog",
                "rules": [rule(FindingKind::Changed), rule(FindingKind::Deleted), rule(FindingKind::Unmanaged)],
            }},
            "automationDetails": {"id": format!("driftlog/{}/", report.mode)},
            "results": results,
        }]
    })
}

pub fn write(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(report))?;
    out.write_all(b"\n")
}
