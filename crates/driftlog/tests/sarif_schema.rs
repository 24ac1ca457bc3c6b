//! Issue 10 §3: SARIF output is valid against the official SARIF 2.1.0 JSON schema (the copy
//! Microsoft ships in its SARIF Multitool npm package), checked by a real JSON Schema
//! validator (Python's `jsonschema`). `scripts/install-test-tools`, run by `.ci/run`, installs
//! both; without them the test skips locally and fails in CI.

mod common;

use common::{quickstart, scan, workspace_root};
use std::path::PathBuf;
use std::process::Command;

const VALIDATE: &str = r#"
import json, sys
from jsonschema.validators import validator_for
schema = json.load(open(sys.argv[1]))
cls = validator_for(schema)
cls.check_schema(schema)
validator = cls(schema)
bad = 0
for path in sys.argv[2:]:
    for error in validator.iter_errors(json.load(open(path))):
        bad += 1
        print(f"{path}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
sys.exit(1 if bad else 0)
"#;

fn schema() -> Option<PathBuf> {
    let path = std::env::var_os("DRIFTLOG_SARIF_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            workspace_root().join(
                "target/ci-tools/node_modules/@microsoft/sarif-multitool-linux/sarif-2.1.0.json",
            )
        });
    let has_validator = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if path.is_file() && has_validator {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run scripts/install-test-tools: no SARIF schema at {} or no python3 jsonschema",
        path.display()
    );
    eprintln!("SKIP: run scripts/install-test-tools for the SARIF schema and validator");
    None
}

fn validate(schema: &PathBuf, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(VALIDATE)
        .arg(schema)
        .args(files)
        .output()
        .expect("python3");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn sarif_reports_are_valid_against_the_official_schema() {
    let Some(schema) = schema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    // The quickstart (changed, deleted, a secret, attribution, remediation) and a plan with pending
    // configuration changes and an unmanaged resource.
    let quick = dir.path().join("quickstart.sarif");
    let r = scan(&[
        "--declared",
        quickstart("declared.tfstate").to_str().unwrap(),
        "--live",
        quickstart("live.tfstate").to_str().unwrap(),
        "--audit",
        quickstart("cloudtrail").to_str().unwrap(),
        "--store",
        dir.path().join("events.db").to_str().unwrap(),
        "--remediate",
        "-f",
        "sarif",
        "-o",
        quick.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    files.push(quick);
    let plan = dir.path().join("plan.sarif");
    let plan_input =
        workspace_root().join("crates/driftlog/tests/data/terraform/v1.0.0-drift-plan.json");
    let r = scan(&[
        "--plan",
        plan_input.to_str().unwrap(),
        "-f",
        "sarif",
        "-o",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    files.push(plan);
    let clean = dir.path().join("clean.sarif");
    let state = quickstart("declared.tfstate");
    let r = scan(&[
        "--declared",
        state.to_str().unwrap(),
        "--live",
        state.to_str().unwrap(),
        "-f",
        "sarif",
        "-o",
        clean.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    files.push(clean);

    let (ok, report) = validate(&schema, &files);
    assert!(ok, "schema violations:\n{report}");

    // The validator does find violations: a result with a level SARIF does not define.
    let mut broken: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    broken["runs"][0]["results"][0]["level"] = "critical".into();
    let bad = dir.path().join("broken.sarif");
    std::fs::write(&bad, serde_json::to_vec(&broken).unwrap()).unwrap();
    let (ok, report) = validate(&schema, &[bad]);
    assert!(!ok && report.contains("level"), "{report}");
}
