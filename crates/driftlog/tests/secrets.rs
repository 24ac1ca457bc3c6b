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

#[test]
fn a_changed_secret_is_reported_as_changed_but_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let declared = dir.path().join("declared.tfstate");
    let live = dir.path().join("live.tfstate");
    std::fs::write(&declared, db_state(CANARY_OLD, "db.t3.micro").to_string()).unwrap();
    std::fs::write(&live, db_state(CANARY_NEW, "db.t3.large").to_string()).unwrap();
    for format in ["console", "json", "markdown", "sarif"] {
        let r = scan(&[
            "--declared",
            declared.to_str().unwrap(),
            "--live",
            live.to_str().unwrap(),
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
        if format == "json" {
            let v = json(&r);
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
        }
    }
}

#[test]
fn real_fixtures_with_sensitive_values_do_not_leak() {
    let Some(fx) = fixtures() else { return };
    // A show-json state with sensitive_values, compared against a copy where every secret changed.
    let state =
        fx.join("terraform-state-show-json/terraform-json__110_sensitive_values__state.json");
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let mut changed = original.clone();
    let mut secrets = Vec::new();
    for r in changed["values"]["root_module"]["resources"]
        .as_array_mut()
        .unwrap()
    {
        let sensitive = r["sensitive_values"].clone();
        if let Some(map) = sensitive.as_object() {
            for (k, v) in map {
                if v == &json!(true) {
                    secrets.push(r["values"][k].to_string());
                    r["values"][k] = json!("CANARY-FIXTURE-CHANGED");
                }
            }
        }
    }
    assert!(!secrets.is_empty(), "the fixture has sensitive values");
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.json");
    std::fs::write(&live, changed.to_string()).unwrap();
    for format in ["console", "json", "markdown", "sarif"] {
        let r = scan(&[
            "--declared",
            state.to_str().unwrap(),
            "--live",
            live.to_str().unwrap(),
            "-f",
            format,
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            !r.stdout.contains("CANARY-FIXTURE-CHANGED"),
            "{format} leaked the new secret"
        );
        for s in &secrets {
            let bare = s.trim_matches('"');
            if bare.len() > 3 {
                assert!(!r.stdout.contains(bare), "{format} leaked {bare}");
            }
        }
    }
}
