//! Issue 15: one scan over many stacks (`--declared GLOB --live GLOB`): a generated scenario
//! split into stacks (bench/gen-stacks) finds, stack by stack and in total, exactly what the
//! whole scenario's scan finds, attributed from the same audit logs; a stack with one state
//! only, or a stack that cannot be read, is an error that names it.

mod common;

use common::{driftlog, json, run, workspace_root};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn split(scenario: &Path, out: &Path, stacks: usize) {
    let status = Command::new("python3")
        .arg(workspace_root().join("bench/gen-stacks"))
        .arg(scenario)
        .arg(out)
        .arg(stacks.to_string())
        .status()
        .expect("python3");
    assert!(status.success());
}

fn addresses(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_owned(),
                f["attribution"]["caused_by"][0]["event_id"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn stacks_scanned_together_find_what_the_whole_scenario_finds() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario");
    if !common::gen_scenario(300, &scenario, Some(300)) {
        return;
    }
    let stacks = dir.path().join("stacks");
    split(&scenario, &stacks, 40);
    let store = dir.path().join("events.db");
    let trail = scenario.join("cloudtrail");
    let scan = |args: &[&str]| {
        run(driftlog()
            .env("DRIFTLOG_STORE", &store)
            .current_dir(dir.path())
            .arg("scan")
            .args(args))
    };

    let whole = scan(&[
        "--declared",
        "scenario/declared.tfstate",
        "--live",
        "scenario/live.tfstate",
        "--audit",
        trail.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(whole.code, 2, "{}", whole.stderr);
    let whole = json(&whole);

    let all_stacks = |more: &[&str]| {
        let mut args = vec![
            "--declared",
            "stacks/*/declared.tfstate",
            "--live",
            "stacks/*/live.tfstate",
        ];
        args.extend_from_slice(more);
        scan(&args)
    };
    let fleet = all_stacks(&["-f", "json"]);
    assert_eq!(fleet.code, 2, "{}", fleet.stderr);
    let fleet = json(&fleet);
    assert_eq!(fleet["format_version"], "1.0");
    let stacks_out = fleet["stacks"].as_array().unwrap();
    assert_eq!(stacks_out.len(), 40);
    assert_eq!(fleet["summary"]["stacks"], 40);
    assert_eq!(fleet["summary"]["stacks_failed"], 0);
    // Every stack by its name, in order, with its own inputs.
    assert_eq!(stacks_out[0]["name"], "stack-00");
    assert_eq!(
        stacks_out[0]["declared"],
        "stacks/stack-00/declared.tfstate"
    );
    assert_eq!(stacks_out[0]["live"], "stacks/stack-00/live.tfstate");

    // The totals are the whole scenario's, and so is every finding with its cause.
    for field in [
        "resources_scanned",
        "drifted",
        "changed",
        "deleted",
        "unmanaged",
    ] {
        assert_eq!(
            fleet["summary"]["total"][field], whole["summary"][field],
            "{field}"
        );
    }
    let mut found = BTreeSet::new();
    let mut drifted_stacks = 0;
    for s in stacks_out {
        let report = &s["report"];
        if report["summary"]["drifted"].as_u64().unwrap() > 0 {
            drifted_stacks += 1;
        }
        found.extend(addresses(report));
    }
    assert_eq!(found, addresses(&whole));
    assert!(
        found.iter().any(|(_, cause)| cause != "-"),
        "findings are attributed from the store"
    );
    assert_eq!(fleet["summary"]["stacks_drifted"], drifted_stacks);

    // The table shows the stacks with drift and the totals.
    let table = all_stacks(&[]);
    assert_eq!(table.code, 2);
    assert!(
        table.stdout.contains(&format!(
            "40 stacks: {drifted_stacks} drifted, 0 failed; {} resources, {} drifted",
            whole["summary"]["resources_scanned"], whole["summary"]["drifted"]
        )),
        "{}",
        table.stdout
    );

    // Each stack's scan is recorded in the ledger as a scan of its own.
    let ledger = dir.path().join("ledger.db");
    let recorded = run(driftlog()
        .env("DRIFTLOG_STORE", &store)
        .env("DRIFTLOG_LEDGER", &ledger)
        .current_dir(dir.path())
        .args(["scan", "--declared", "stacks/*/declared.tfstate"])
        .args(["--live", "stacks/*/live.tfstate"]));
    assert_eq!(recorded.code, 2, "{}", recorded.stderr);
    let show = run(driftlog()
        .env("DRIFTLOG_LEDGER", &ledger)
        .args(["ledger", "show", "--json"]));
    let scans = show
        .stdout
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["kind"] == "scan")
        .count();
    assert_eq!(scans, 40);

    // A stack with one state only is named, and nothing is reported as clean.
    std::fs::remove_file(stacks.join("stack-07/live.tfstate")).unwrap();
    let r = all_stacks(&[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("stack-07 (no live state)"),
        "{}",
        r.stderr
    );

    // A stack that cannot be read fails alone; the others are still scanned.
    std::fs::write(stacks.join("stack-07/live.tfstate"), "{not json").unwrap();
    let r = all_stacks(&["-f", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["summary"]["stacks_failed"], 1);
    let bad = &v["stacks"][7];
    assert_eq!(bad["name"], "stack-07");
    assert!(
        bad["error"].as_str().unwrap().contains("live.tfstate"),
        "{bad}"
    );
    assert_eq!(
        v["stacks"][8]["report"]["format_version"],
        whole["format_version"]
    );
}

#[test]
fn an_org_wide_scan_refuses_what_only_one_stack_can_do() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["--declared", "a/*/d.tfstate", "--live", "b.tfstate"],
            "a glob for both --declared and --live",
        ),
        (
            vec![
                "--declared",
                "a/*/d.tfstate",
                "--live",
                "a/*/l.tfstate",
                "-f",
                "sarif",
            ],
            "console, json or markdown",
        ),
        (
            vec!["--declared", "a/*/d.tfstate", "--live", "a/*/l.tfstate"],
            "no file matches",
        ),
    ] {
        let r = run(driftlog().current_dir(dir.path()).arg("scan").args(&args));
        assert_eq!(r.code, 1, "{args:?}");
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
}
