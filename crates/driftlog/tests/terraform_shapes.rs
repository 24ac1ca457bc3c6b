//! Issue 10 §1: Terraform files as every Terraform version writes them — 0.12.0's `show -json`
//! (count instances sharing one `address`, child-module resources without their `module.`
//! prefix), 1.0.0's drift entries without `address`, odd entries, duplicate addresses, and
//! files saved as UTF-16 by Windows PowerShell. Fixtures in `tests/data/terraform/` are ours,
//! written in those versions' shapes.

mod common;

use common::{json, scan};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/terraform")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

fn addresses(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_owned(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_raw_state_and_terraform_0_12_show_json_of_it_are_equal() {
    for (declared, live) in [
        ("v0.12.0.tfstate", "v0.12.0-show.json"),
        ("v0.12.0-show.json", "v0.12.0.tfstate"),
    ] {
        let r = scan(&[
            "--declared",
            &data(declared),
            "--live",
            &data(live),
            "-f",
            "json",
        ]);
        assert_eq!(
            r.code, 0,
            "{declared} vs {live}: {}\n{}",
            r.stdout, r.stderr
        );
        let v = json(&r);
        assert_eq!(v["findings"], serde_json::json!([]));
        assert_eq!(v["summary"]["resources_scanned"], 4);
    }
}

#[test]
fn terraform_0_12_show_json_addresses_are_rebuilt_from_their_parts() {
    let r = scan(&[
        "--declared",
        &data("v0.12.0.tfstate"),
        "--live",
        &data("v0.12.0-show-live.json"),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(
        addresses(&v),
        [
            ("aws_instance.web[1]".to_owned(), "changed".to_owned()),
            (
                "module.net.aws_subnet.private[\"b\"]".to_owned(),
                "changed".to_owned()
            ),
        ]
    );
    assert_eq!(
        common::finding(&v, "aws_instance.web[1]")["changes"][0]["after"],
        "t3.large"
    );
}

#[test]
fn terraform_1_0_drift_without_addresses_and_odd_entries() {
    let r = scan(&["--plan", &data("v1.0.0-drift-plan.json"), "-f", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(
        addresses(&v),
        [
            ("aws_instance.web[1]".to_owned(), "changed".to_owned()),
            ("aws_s3_bucket.logs".to_owned(), "deleted".to_owned()),
            (
                "module.net.aws_subnet.private[\"b\"]".to_owned(),
                "changed".to_owned()
            ),
        ]
    );
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    let file = data("v1.0.0-drift-plan.json");
    assert_eq!(
        warnings,
        [
            format!("{file}: resource_drift[2] (line 37): entry skipped: missing field `type`"),
            format!(
                "{file}: resource_drift[3] (line 42): entry skipped: invalid type: string \"update\", expected a sequence"
            ),
        ]
    );
    // The console report shows them too.
    let console = scan(&["--plan", &data("v1.0.0-drift-plan.json")]);
    assert!(
        console.stdout.contains("resource_drift[2] (line 37)"),
        "{}",
        console.stdout
    );
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn duplicate_addresses_are_an_error_naming_both_places() {
    let dir = tempfile::tempdir().unwrap();
    let state = write(
        dir.path(),
        "merged.tfstate",
        r#"{"version": 4, "resources": [
          {"mode": "managed", "type": "aws_instance", "name": "web", "instances": [{"index_key": 0, "attributes": {"id": "i-1"}}]},
          {"mode": "managed", "type": "aws_instance", "name": "web", "instances": [{"index_key": 0, "attributes": {"id": "i-2"}}]}]}"#,
    );
    let show = write(
        dir.path(),
        "show.json",
        r#"{"format_version": "0.1", "values": {"root_module": {"resources": [
          {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web", "values": {}},
          {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web", "values": {}}]}}}"#,
    );
    let plan = write(
        dir.path(),
        "plan.json",
        r#"{"format_version": "1.2", "resource_drift": [
          {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web", "change": {"actions": ["delete"], "before": {}, "after": null}},
          {"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web", "change": {"actions": ["delete"], "before": {}, "after": null}}]}"#,
    );
    let cases = [
        (
            vec!["--declared", &state, "--live", &state],
            format!("error: {state}: resources[0].instances[0] and resources[1].instances[0] both have address aws_instance.web[0]"),
        ),
        (
            vec!["--declared", &show, "--live", &show],
            format!("error: {show}: values.root_module.resources[0] and values.root_module.resources[1] both have address aws_instance.web"),
        ),
        (
            vec!["--plan", &plan],
            format!("error: {plan}: resource_drift[0] (line 2) and resource_drift[1] (line 3) both have address aws_instance.web"),
        ),
    ];
    for (args, want) in cases {
        let r = scan(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with(&want), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

fn utf16le(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in std::str::from_utf8(bytes).unwrap().encode_utf16() {
        out.extend(unit.to_le_bytes());
    }
    out
}

#[test]
fn powershell_utf16_and_utf8_bom_files_read_like_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let plan_text = std::fs::read(data("v1.0.0-drift-plan.json")).unwrap();
    let state_text = std::fs::read(data("v0.12.0.tfstate")).unwrap();
    let live_text = std::fs::read(data("v0.12.0-show-live.json")).unwrap();
    let reference = json(&scan(&[
        "--declared",
        &data("v0.12.0.tfstate"),
        "--live",
        &data("v0.12.0-show-live.json"),
        "-f",
        "json",
    ]));
    let plan_reference = json(&scan(&[
        "--plan",
        &data("v1.0.0-drift-plan.json"),
        "-f",
        "json",
    ]));

    let state16 = dir.path().join("state16.tfstate");
    let live16 = dir.path().join("live16.json");
    let live_bom = dir.path().join("live-bom.json");
    let plan16 = dir.path().join("plan16.json");
    std::fs::write(&state16, utf16le(&state_text)).unwrap();
    std::fs::write(&live16, utf16le(&live_text)).unwrap();
    std::fs::write(&live_bom, [&b"\xEF\xBB\xBF"[..], &live_text].concat()).unwrap();
    std::fs::write(&plan16, utf16le(&plan_text)).unwrap();

    for live in [&live16, &live_bom] {
        let r = scan(&[
            "--declared",
            state16.to_str().unwrap(),
            "--live",
            live.to_str().unwrap(),
            "-f",
            "json",
        ]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        let v = json(&r);
        assert_eq!(v["findings"], reference["findings"]);
        assert_eq!(v["suppressed"], reference["suppressed"]);
        // The file is hashed and measured as it is on disk.
        assert_eq!(
            v["inputs"][0]["bytes"],
            std::fs::metadata(&state16).unwrap().len()
        );
    }
    let r = scan(&["--plan", plan16.to_str().unwrap(), "-f", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(json(&r)["findings"], plan_reference["findings"]);
}

fn terraform() -> Option<PathBuf> {
    let bin = PathBuf::from("/usr/local/bin/terraform");
    if bin.is_file() {
        Some(bin)
    } else {
        eprintln!("SKIP: no terraform at /usr/local/bin/terraform");
        None
    }
}

/// The real Terraform writes a state with `count`, `for_each` and a child module (the built-in
/// `terraform_data` needs no provider download); its own `show -json` of that state must
/// compare equal to the raw file, in both directions.
#[test]
fn real_terraform_state_and_its_show_json_compare_equal() {
    let Some(bin) = terraform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::create_dir(work.join("child")).unwrap();
    std::fs::write(
        work.join("main.tf"),
        r#"
resource "terraform_data" "counted" {
  count = 2
  input = "n-${count.index}"
}
resource "terraform_data" "keyed" {
  for_each = { a = "x", "b c" = "y" }
  input    = { value = each.value, list = [1, 2] }
}
module "child" {
  source = "./child"
  for_each = toset(["one", "two"])
  name   = each.key
}
"#,
    )
    .unwrap();
    std::fs::write(
        work.join("child/main.tf"),
        "variable \"name\" {}\nresource \"terraform_data\" \"inner\" {\n  input = var.name\n  triggers_replace = [var.name]\n}\n",
    )
    .unwrap();
    let tf = |args: &[&str]| {
        let out = Command::new(&bin)
            .arg(format!("-chdir={}", work.display()))
            .args(args)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("run terraform");
        assert!(
            out.status.success(),
            "terraform {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    tf(&["init", "-input=false", "-no-color"]);
    tf(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    let show = tf(&["show", "-json"]);
    std::fs::write(work.join("show.json"), show).unwrap();
    let state = work.join("terraform.tfstate");
    let show = work.join("show.json");
    for (declared, live) in [(&state, &show), (&show, &state)] {
        let r = scan(&[
            "--declared",
            declared.to_str().unwrap(),
            "--live",
            live.to_str().unwrap(),
            "-f",
            "json",
        ]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let v = json(&r);
        assert_eq!(v["summary"]["resources_scanned"], 6);
        assert_eq!(v["findings"], serde_json::json!([]));
    }
}
