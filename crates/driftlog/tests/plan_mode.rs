//! `--plan` specifics on files written for these tests (tests/data): the HCP Terraform redacted
//! plan format, and pending configuration kept apart from drift.

mod common;
use common::*;

fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn hcp_terraform_redacted_plan_is_read() {
    let r = scan(&[
        "--plan",
        data("cloud-redacted-plan.json").to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["inputs"][0]["detected"], "cloud_plan");
    assert_eq!(
        v["findings"][0]["address"],
        "module.app.aws_sqs_queue.jobs[\"eu\"]"
    );
    let paths: Vec<&str> = v["findings"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    // `kms_master_key_id: null` vs absent is no change.
    assert_eq!(paths, ["visibility_timeout_seconds"]);
    assert_eq!(v["summary"]["resources_scanned"], 1);
    // The plan reverts the timeout (implied by the drift) and changes a tag (pending config):
    // only the tag is "not yet applied".
    let pending = &v["not_yet_applied"][0];
    assert_eq!(pending["actions"], serde_json::json!(["update"]));
    let pending_paths: Vec<&str> = pending["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(pending_paths, ["tags.Team"]);
}

#[test]
fn a_plan_as_the_live_side_uses_its_prior_state() {
    let dir = tempfile::tempdir().unwrap();
    let declared = dir.path().join("declared.json");
    std::fs::write(
        &declared,
        r#"{"format_version": "1.0", "values": {"root_module": {"child_modules": [{"resources": [
            {"address": "module.app.aws_sqs_queue.jobs[\"eu\"]", "mode": "managed", "type": "aws_sqs_queue", "name": "jobs",
             "provider_name": "registry.terraform.io/hashicorp/aws", "values": {"name": "jobs-eu", "visibility_timeout_seconds": 30, "tags": {"Team": "core"}}}]}]}}}"#,
    )
    .unwrap();
    let r = scan(&[
        "--declared",
        declared.to_str().unwrap(),
        "--live",
        data("cloud-redacted-plan.json").to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["inputs"][0]["detected"], "show_json_state");
    assert_eq!(
        v["findings"][0]["changes"][0]["path"],
        "visibility_timeout_seconds"
    );
    assert_eq!(v["findings"][0]["changes"][0]["before"], 30);
    assert_eq!(v["findings"][0]["changes"][0]["after"], 90);
}
