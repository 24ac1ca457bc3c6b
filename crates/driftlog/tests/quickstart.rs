//! The README's first command: the bundled example, in every output format.

mod common;
use common::*;

/// The README's first command, with a store of its own (shown as `[store]`).
fn scan_quickstart(format: &str) -> Run {
    scan_quickstart_with(&["--format", format])
}

fn scan_quickstart_with(extra: &[&str]) -> Run {
    let store = TempStore::new();
    let r = run(driftlog()
        .current_dir(workspace_root())
        .arg("--store")
        .arg(store.path())
        .args([
            "scan",
            "--declared",
            "examples/quickstart/declared.tfstate",
            "--live",
            "examples/quickstart/live.tfstate",
            "--audit",
            "examples/quickstart/cloudtrail",
        ])
        .args(extra));
    let path = store.path().display().to_string();
    Run {
        stdout: r.stdout.replace(&path, "[store]"),
        stderr: r.stderr.replace(&path, "[store]"),
        ..r
    }
}

/// The scan time bounds every attribution window; snapshots show a placeholder.
fn without_scan_time(mut v: serde_json::Value) -> serde_json::Value {
    for f in v["findings"].as_array_mut().unwrap() {
        if f.get("attribution").is_some() {
            f["attribution"]["window"]["until"] = "[scan time]".into();
        }
    }
    v
}

#[test]
fn without_audit_logs_the_report_says_so() {
    let r = run(driftlog().current_dir(workspace_root()).args([
        "scan",
        "--declared",
        "examples/quickstart/declared.tfstate",
        "--live",
        "examples/quickstart/live.tfstate",
    ]));
    assert_eq!(r.code, 2);
    assert!(!r.stdout.contains("caused by"));
    insta::assert_snapshot!("quickstart_console_without_audit", r.stdout);
}

#[test]
fn every_drift_in_the_quickstart_is_attributed() {
    let r = scan_quickstart("json");
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["audit"]["certain"], 4);
    let cause = |address: &str| {
        let f = finding(&v, address);
        assert_eq!(f["attribution"]["confidence"], "certain", "{address}");
        f["attribution"]["caused_by"][0].clone()
    };
    let sg = cause("aws_security_group.web");
    assert_eq!(sg["action"], "AuthorizeSecurityGroupIngress");
    assert_eq!(
        sg["principal"],
        "arn:aws:sts::123456789012:assumed-role/Admin/break-glass"
    );
    assert_eq!(sg["actor_kind"], "console");
    assert_eq!(sg["mfa"], true);
    assert_eq!(sg["source_ip"], "203.0.113.9");
    assert_eq!(
        cause("aws_instance.web[1]")["action"],
        "ModifyInstanceAttribute"
    );
    assert_eq!(cause("aws_instance.web[1]")["actor_kind"], "cli");
    assert_eq!(cause("aws_s3_bucket.assets")["actor_kind"], "sdk");
    assert_eq!(cause("aws_sqs_queue.jobs")["action"], "DeleteQueue");
    let sg_finding = finding(&v, "aws_security_group.web");
    assert_eq!(
        sg_finding["attribution"]["attempts"][0]["outcome"],
        "Client.UnauthorizedOperation"
    );
    assert!(sg_finding["attribution"]["window"]["since_reason"]
        .as_str()
        .unwrap()
        .contains("last Terraform write"));
}

#[test]
fn console_report_shows_the_drift_and_exits_2() {
    let r = scan_quickstart("console");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        !r.stdout.contains('\u{1b}'),
        "no colour when NO_COLOR is set and stdout is not a terminal"
    );
    insta::assert_snapshot!("quickstart_console", r.stdout);
}

#[test]
fn json_report_has_the_documented_schema() {
    let r = scan_quickstart("json");
    assert_eq!(r.code, 2);
    let v = json(&r);
    assert_eq!(v["format_version"], "1.3");
    assert_eq!(v["summary"]["drifted"], 4);
    assert_eq!(v["summary"]["changed"], 3);
    assert_eq!(v["summary"]["deleted"], 1);
    let sg = finding(&v, "aws_security_group.web");
    assert_eq!(sg["type"], "aws_security_group");
    assert_eq!(sg["kind"], "changed");
    assert_eq!(sg["changes"][0]["path"], "ingress");
    assert_eq!(sg["changes"][0]["added"][0]["from_port"], 22);
    assert_eq!(sg["changes"][0]["removed"], serde_json::json!([]));
    insta::assert_json_snapshot!("quickstart_json", without_scan_time(v));
}

#[test]
fn markdown_report() {
    let r = scan_quickstart("markdown");
    assert_eq!(r.code, 2);
    insta::assert_snapshot!("quickstart_markdown", r.stdout);
}

#[test]
fn sarif_report_is_sarif_2_1_0() {
    let r = scan_quickstart("sarif");
    assert_eq!(r.code, 2);
    let v = json(&r);
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for result in results {
        let idx = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(result["ruleId"], rules[idx]);
        assert!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string());
        assert!(result["partialFingerprints"]["driftlogFinding/v1"].is_string());
        assert!(result["message"]["text"].as_str().unwrap().contains(
            result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                .as_str()
                .unwrap()
        ));
    }
    let mut v = v;
    for result in v["runs"][0]["results"].as_array_mut().unwrap() {
        result["properties"]["attribution"]["window"]["until"] = "[scan time]".into();
    }
    insta::assert_json_snapshot!("quickstart_sarif", v);
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let r = run(driftlog()
        .current_dir(workspace_root())
        .args([
            "scan",
            "--declared",
            "examples/quickstart/declared.tfstate",
            "--live",
            "examples/quickstart/live.tfstate",
            "-f",
            "json",
            "-o",
        ])
        .arg(&out));
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["summary"]["drifted"], 4);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary files left behind"
    );
}

#[test]
fn no_drift_exits_0() {
    let r = scan(&[
        "--declared",
        quickstart("declared.tfstate").to_str().unwrap(),
        "--live",
        quickstart("declared.tfstate").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("No drift in 11 resources."),
        "{}",
        r.stdout
    );
}

#[test]
fn help_teaches() {
    let r = run(driftlog().args(["scan", "--help"]));
    assert_eq!(r.code, 0);
    for needle in [
        "--declared",
        "--plan",
        "--terraform",
        "--format",
        "--ignore",
        "refresh-only",
    ] {
        assert!(r.stdout.contains(needle), "scan --help lacks {needle}");
    }
    let top = run(driftlog().arg("--help"));
    assert!(top.stdout.contains("0 no drift, 1 error, 2 drift found"));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let args = [
        "scan",
        "--declared",
        "examples/quickstart/declared.tfstate",
        "--live",
        "examples/quickstart/live.tfstate",
    ];
    let plain = run(driftlog().current_dir(workspace_root()).args(args));
    assert!(!plain.stdout.contains('\u{1b}'));
    let forced = run(driftlog()
        .current_dir(workspace_root())
        .args(args)
        .arg("--color=always"));
    assert!(
        forced.stdout.contains("\u{1b}["),
        "ANSI colour with --color=always"
    );
    assert_eq!(forced.code, 2);
}

#[test]
fn events_after_the_live_side_was_observed_are_not_causes() {
    let r = scan_quickstart_with(&["--as-of", "2026-11-20T14:00:00Z", "-f", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    let sg = finding(&v, "aws_security_group.web");
    let a = &sg["attribution"];
    assert_eq!(
        a["confidence"], "none",
        "the console change came after 14:00"
    );
    assert_eq!(
        a["attempts"].as_array().unwrap().len(),
        1,
        "the 13:55 attempt did not"
    );
    assert_eq!(a["window"]["until"], "2026-11-20T14:00:00Z");
    assert_eq!(v["audit"]["certain"], 2, "the resize and the re-tag");
}
