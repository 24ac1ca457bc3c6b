//! `driftlog compare`: environments built from one configuration, with planted differences
//! (expected and unexpected) from `bench/gen-envs`, a small set of our own in
//! `tests/data/compare/`, and two versions of a real state from the shared fixtures.

mod common;

use common::{driftlog, fixtures, json, run, snapshot, workspace_root, Run};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// `driftlog compare` run in `dir` (so its `.driftlog-compare` applies) with `args`.
fn compare(dir: &Path, args: &[&str]) -> Run {
    run(driftlog().current_dir(dir).arg("compare").args(args))
}

fn three(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "--env",
        "dev=dev.tfstate",
        "--env",
        "staging=staging.tfstate",
        "--env",
        "prod=prod.tfstate",
        "--env-token",
        "prod=production",
    ];
    args.extend_from_slice(extra);
    compare(dir, &args)
}

/// (address, path) of every attribute difference, unexpected or expected.
fn differences(report: &Value, unexpected: bool) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for r in report["resources"].as_array().unwrap() {
        for d in r["differences"].as_array().unwrap() {
            if d.get("expected").is_none() == unexpected {
                out.insert((
                    r["address"].as_str().unwrap().to_owned(),
                    d["path"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    out
}

fn key(list: &Value) -> BTreeSet<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["address"].as_str().unwrap().to_owned(),
                d["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Exactly the planted differences: every unexpected one, none of the expected ones called
/// unexpected, every missing resource with its verdict, and the secret never printed.
fn planted_differences_found(resources: usize) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(workspace_root().join("bench/gen-envs"))
        .args(["--resources", &resources.to_string(), "--out"])
        .arg(dir.path())
        .status()
        .expect("run bench/gen-envs");
    assert!(status.success());
    let answers: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ANSWERS.json")).unwrap()).unwrap();

    let r = three(dir.path(), &["--format", "json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    assert_eq!(report["format_version"], "1.0");
    assert_eq!(differences(&report, true), key(&answers["unexpected"]));
    assert_eq!(differences(&report, false), key(&answers["expected"]));
    let missing: BTreeSet<(String, String, bool)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["missing_from"].as_array().unwrap().is_empty())
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["missing_from"].to_string(),
                r.get("missing_expected").is_some(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, bool)> = answers["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["address"].as_str().unwrap().to_owned(),
                m["missing_from"].to_string(),
                m["expected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(missing, want);
    let canary = answers["canary"].as_str().unwrap();
    assert!(!r.stdout.contains(canary));
    for format in ["console", "markdown"] {
        let out = three(dir.path(), &["--format", format, "--show-expected"]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(!out.stdout.contains(canary), "{format} shows the secret");
    }
}

#[test]
fn planted_differences_at_1k_resources() {
    planted_differences_found(1000);
}

#[test]
fn planted_differences_at_30k_resources() {
    planted_differences_found(30_000);
}

#[test]
fn console_matrix_on_our_environment_set() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    let r = three(&dir, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stdout.contains("CANARY"));
    insta::assert_snapshot!(snapshot(&r, &[]));
}

#[test]
fn markdown_on_our_environment_set() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    let r = three(&dir, &["--format", "markdown", "--no-attribution"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stdout.contains("CANARY"));
    insta::assert_snapshot!(r.stdout);
}

#[test]
fn rules_decide_the_exit_code() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    // Every remaining difference declared expected (and the queue allowed to be missing).
    let r = compare(
        &dir,
        &[
            "--env",
            "dev=dev.tfstate",
            "--env",
            "prod=prod.tfstate",
            "--env-token",
            "prod=production",
            "--expect",
            "aws_security_group.web ingress",
            "--expect",
            "module.db.* engine_version dev!=prod",
            "--expect",
            "module.db.* password",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = json(&r);
    assert_eq!(report["summary"]["unexpected"], 0);
    // `prod>dev` holds here (100 > 20): expected.
    let db = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "module.db.aws_db_instance.main")
        .unwrap();
    let storage = db["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "allocated_storage")
        .unwrap();
    assert_eq!(
        storage["expected"]["reason"], "prod holds the most data",
        "{storage}"
    );
}

#[test]
fn usage_and_rule_errors_exit_1() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    let one = compare(&dir, &["--env", "dev=dev.tfstate"]);
    assert_eq!(one.code, 1);
    assert!(
        one.stderr.contains("at least two environments"),
        "{}",
        one.stderr
    );

    let bad = compare(&dir, &["--env", "dev", "--env", "prod=prod.tfstate"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("expected NAME=FILE"), "{}", bad.stderr);

    let twice = compare(&dir, &["--env", "a=dev.tfstate", "--env", "a=prod.tfstate"]);
    assert_eq!(twice.code, 1);
    assert!(twice.stderr.contains("given twice"), "{}", twice.stderr);

    // The directory's rules name `staging`: compared without it, the report says which rule
    // part applies to nothing (a typo would look the same).
    let subset = compare(
        &dir,
        &["--env", "dev=dev.tfstate", "--env", "prod=prod.tfstate"],
    );
    assert_eq!(subset.code, 2, "{}", subset.stderr);
    assert!(
        subset.stdout.contains(
            "warning: .driftlog-compare:5: names staging, not among the environments compared (dev, prod)"
        ),
        "{}",
        subset.stdout
    );
    let bad_rule = compare(
        &dir,
        &[
            "--env",
            "dev=dev.tfstate",
            "--env",
            "prod=prod.tfstate",
            "--expect",
            "aws_instance.*",
        ],
    );
    assert_eq!(bad_rule.code, 1);
    assert!(
        bad_rule
            .stderr
            .contains("--expect #1: 'aws_instance.*' needs an attribute path"),
        "{}",
        bad_rule.stderr
    );

    let missing = compare(
        &dir,
        &[
            "--env",
            "dev=dev.tfstate",
            "--env",
            "prod=nope.tfstate",
            "--rules",
            "/dev/null",
        ],
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("nope.tfstate"),
        "{}",
        missing.stderr
    );
}

#[test]
fn each_comparison_is_recorded_in_the_ledger() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    let ledger = tempfile::tempdir().unwrap();
    let path = ledger.path().join("ledger.db");
    let r = run(driftlog()
        .current_dir(&dir)
        .arg("--ledger")
        .arg(&path)
        .args([
            "compare",
            "--env",
            "dev=dev.tfstate",
            "--env",
            "staging=staging.tfstate",
        ])
        .args(["--env", "prod=prod.tfstate", "--format", "json"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let show = run(driftlog()
        .arg("--ledger")
        .arg(&path)
        .args(["ledger", "show", "--json"]));
    assert_eq!(show.code, 0, "{}", show.stderr);
    let entry: Value = serde_json::from_str(show.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(entry["kind"], "compare");
    assert_eq!(entry["environments"][2]["role"], "prod");
    assert_eq!(
        entry["environments"][2]["sha256"].as_str().unwrap().len(),
        64
    );
    let unexpected = entry["unexpected"].as_array().unwrap();
    assert!(unexpected
        .iter()
        .any(|u| u["address"] == "aws_security_group.web" && u["paths"][0] == "ingress"));
    assert!(unexpected
        .iter()
        .any(|u| u["address"] == "aws_sqs_queue.jobs" && u["missing_from"][0] == "staging"));
    // Paths and hashes only: no value, so no secret, ever enters the ledger.
    assert!(!show.stdout.contains("CANARY"));
    assert!(!show.stdout.contains("m5.large"));
}

/// Two versions of one real state (a driftctl acceptance-test state, and a copy changed the
/// way a second environment would be: account, region and names for another environment, one
/// bucket's versioning and one tag changed) compare with exactly the differences a person
/// would list.
#[test]
fn two_versions_of_a_real_state() {
    let Some(fixtures) = fixtures() else {
        return;
    };
    let original = fixtures.join("terraform-state/driftctl__aws_s3_full.tfstate");
    let text = std::fs::read_to_string(&original).unwrap();
    let mut state: Value = serde_json::from_str(&text).unwrap();
    let resources = state["resources"].as_array().unwrap().clone();
    // What the fixture holds, so the test says what it changes.
    let account = find_account(&text).expect("the fixture names its account in ARNs");
    let mut bucket_changed = None;
    for (i, r) in resources.iter().enumerate() {
        if r["type"] == "aws_s3_bucket" && bucket_changed.is_none() {
            let attrs = &mut state["resources"][i]["instances"][0]["attributes"];
            attrs["versioning"] = serde_json::json!([{"enabled": true, "mfa_delete": false}]);
            attrs["tags"] = serde_json::json!({"Owner": "someone-else"});
            bucket_changed = Some(r["name"].as_str().unwrap().to_owned());
        }
    }
    let bucket = bucket_changed.expect("an aws_s3_bucket in the fixture");
    // The second environment: another account id everywhere.
    let copy = serde_json::to_string_pretty(&state)
        .unwrap()
        .replace(&account, "999988887777");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.tfstate"), copy).unwrap();
    let r = run(driftlog()
        .current_dir(dir.path())
        .args(["compare", "--env"])
        .arg(format!("one={}", original.display()))
        .args(["--env", "two=other.tfstate", "--format", "json"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    assert_eq!(report["environments"][1]["accounts"][0], "999988887777");
    let found = differences(&report, true);
    let address = format!("aws_s3_bucket.{bucket}");
    let paths: BTreeSet<&str> = found
        .iter()
        .filter(|(a, _)| *a == address)
        .map(|(_, p)| p.as_str())
        .collect();
    assert!(paths.contains("tags.Owner"), "{found:?}");
    assert!(
        paths.iter().any(|p| p.starts_with("versioning")),
        "{found:?}"
    );
    // Nothing else: the account id is the environment's, not a difference.
    assert!(
        found.iter().all(|(a, _)| *a == address),
        "unexpected differences elsewhere: {found:?}"
    );
}

/// The first 12-digit account id in an ARN of `text`.
fn find_account(text: &str) -> Option<String> {
    text.match_indices("arn:aws:").find_map(|(at, _)| {
        let parts: Vec<&str> = text[at..].splitn(6, ':').collect();
        let account = parts.get(4)?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (*account).to_owned())
    })
}

/// With the prod account's CloudTrail in the store, the rule added only in prod names the
/// console session that added it, in that environment's cell.
#[test]
fn unexpected_differences_name_who_changed_them() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    let store = common::TempStore::new();
    let ingested = store.ingest(&[&dir.join("prod-cloudtrail.json")]);
    assert_eq!(ingested.code, 0, "{}", ingested.stderr);
    let with_store = |format: &str| {
        run(driftlog()
            .current_dir(&dir)
            .arg("--store")
            .arg(store.path())
            .args([
                "compare",
                "--env",
                "dev=dev.tfstate",
                "--env",
                "staging=staging.tfstate",
            ])
            .args([
                "--env",
                "prod=prod.tfstate",
                "--env-token",
                "prod=production",
            ])
            .args(["--format", format]))
    };
    let r = with_store("json");
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    let sg = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "aws_security_group.web")
        .unwrap();
    let cells = sg["differences"][0]["cells"].as_array().unwrap();
    assert!(cells[0].get("last_change").is_none(), "dev: {}", cells[0]);
    let change = &cells[2]["last_change"];
    assert_eq!(change["confidence"], "certain", "{change}");
    assert_eq!(
        change["caused_by"][0]["action"],
        "AuthorizeSecurityGroupIngress"
    );
    assert_eq!(
        change["caused_by"][0]["principal"],
        "arn:aws:sts::333333333333:assumed-role/Admin/pat"
    );
    let console = with_store("console");
    assert!(
        console
            .stdout
            .contains("ingress in prod: caused by (certain)"),
        "{}",
        console.stdout
    );
}

/// A state compared with itself under names that occur in no value (and `a` or `us`, which
/// occur inside regions and zones) differs in nothing.
#[test]
fn an_environment_equals_itself() {
    let dir = workspace_root().join("crates/driftlog/tests/data/compare");
    for (a, b) in [("a", "b"), ("us", "east"), ("one", "two")] {
        let r = compare(
            &dir,
            &[
                "--env",
                &format!("{a}=prod.tfstate"),
                "--env",
                &format!("{b}=prod.tfstate"),
            ],
        );
        assert_eq!(r.code, 0, "{a}/{b}: {}", r.stdout);
    }
}
