//! Sensitive values never reach any output, in any format, whether or not they changed.

mod common;
use common::*;
use serde_json::json;

const CANARY_OLD: &str = "CANARY-OLD-7d1c2b";
const CANARY_NEW: &str = "CANARY-NEW-91aa0e";

fn db_state(password: &str, class: &str) -> serde_json::Value {
    json!({"version": 4, "terraform_version": "1.9.8", "serial": 1, "lineage": "x", "outputs": {},
        "resources": [{"mode": "managed", "type": "aws_db_instance", "name": "main",
            "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
            "instances": [{"schema_version": 2, "attributes": {"identifier": "app", "instance_class": class, "password": password,
                "connection": [{"host": "db.internal", "token": password}]},
                "sensitive_attributes": [[{"type": "get_attr", "value": "password"}],
                                         [{"type": "get_attr", "value": "connection"}, {"type": "index", "value": {"value": 0, "type": "number"}}, {"type": "get_attr", "value": "token"}]]}]}]})
}

const FORMATS: [&str; 4] = ["console", "json", "markdown", "sarif"];

/// Scan `declared` against `live` in every format, assert that no canary reaches stdout or
/// stderr, and return each format's run.
fn scan_every_format(declared: &str, live: &str) -> Vec<(&'static str, Run)> {
    let dir = tempfile::tempdir().unwrap();
    let (d, l) = (
        dir.path().join("declared.tfstate"),
        dir.path().join("live.tfstate"),
    );
    std::fs::write(&d, declared).unwrap();
    std::fs::write(&l, live).unwrap();
    FORMATS
        .iter()
        .map(|format| {
            let r = scan(&[
                "--declared",
                d.to_str().unwrap(),
                "--live",
                l.to_str().unwrap(),
                "-f",
                format,
            ]);
            assert_eq!(r.code, 2, "{format}: {}", r.stderr);
            for canary in [CANARY_OLD, CANARY_NEW] {
                assert!(
                    !r.stdout.contains(canary) && !r.stderr.contains(canary),
                    "{format} leaked {canary}"
                );
            }
            (*format, r)
        })
        .collect()
}

#[test]
fn a_changed_secret_is_reported_as_changed_but_never_shown() {
    let runs = scan_every_format(
        &db_state(CANARY_OLD, "db.t3.micro").to_string(),
        &db_state(CANARY_NEW, "db.t3.large").to_string(),
    );
    let (_, r) = runs.iter().find(|(f, _)| *f == "json").unwrap();
    let v = json(r);
    let changes = v["findings"][0]["changes"].as_array().unwrap();
    let password = changes
        .iter()
        .find(|c| c["path"] == "password")
        .expect("password change reported");
    assert_eq!(password["sensitive"], true);
    assert_eq!(password["before"], "(sensitive)");
    let token = changes
        .iter()
        .find(|c| c["path"] == "connection[0].token")
        .expect("nested secret change reported");
    assert_eq!(token["sensitive"], true);
    assert!(changes
        .iter()
        .any(|c| c["path"] == "instance_class" && c["after"] == "db.t3.large"));
}

#[test]
fn real_fixtures_with_sensitive_values_do_not_leak() {
    let Some(fx) = fixtures() else { return };
    // A real OpenTofu state whose `password` is marked sensitive: give it a value on each side.
    let state = fx.join("terraform-state/opentofu__show-json_conditions_for-refresh.tfstate");
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let with_password = |password: &str, ami: &str| {
        let mut v = original.clone();
        for r in v["resources"].as_array_mut().unwrap() {
            r["instances"][0]["attributes"]["password"] = json!(password);
            r["instances"][0]["attributes"]["ami"] = json!(ami);
        }
        v.to_string()
    };
    for (format, r) in scan_every_format(
        &with_password(CANARY_OLD, "ami-test"),
        &with_password(CANARY_NEW, "ami-new"),
    ) {
        assert!(
            r.stdout.contains("ami-new"),
            "{format}: the ordinary change is shown"
        );
    }

    // A real plan whose pending value is sensitive (`after_sensitive`): listed, never shown.
    let plan = fx.join("terraform-plan-json/terraform__sensitive-values__output.json");
    for format in FORMATS {
        let r = scan(&["--plan", plan.to_str().unwrap(), "-f", format]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            !r.stdout.contains("boop"),
            "{format} leaked the sensitive planned value"
        );
    }
}
