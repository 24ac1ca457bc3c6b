//! Generated drift scenarios with an answer key (`../shared/tools/gen-corpus scenario`): findings
//! must equal the key's `drifted` set exactly in both modes, none of its `not_drift` look-alikes
//! may be reported, and the canary secret must appear in no output.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::path::Path;

type Key = BTreeSet<(String, String, Vec<String>)>;

fn expected(dir: &Path) -> (Key, BTreeSet<String>, String) {
    let key: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("answer-key.json")).unwrap()).unwrap();
    let drifted = key["drifted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut attrs: Vec<String> = d["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            attrs.sort();
            (
                d["address"].as_str().unwrap().to_owned(),
                d["kind"].as_str().unwrap().to_owned(),
                attrs,
            )
        })
        .collect();
    let not_drift = key["not_drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["address"].as_str().unwrap().to_owned())
        .collect();
    (
        drifted,
        not_drift,
        key["canary_secret"].as_str().unwrap().to_owned(),
    )
}

fn found(report: &serde_json::Value) -> Key {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut paths: Vec<String> = f["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["path"].as_str().unwrap().to_owned())
                .collect();
            paths.sort();
            (
                f["address"].as_str().unwrap().to_owned(),
                f["kind"].as_str().unwrap().to_owned(),
                paths,
            )
        })
        .collect()
}

fn check_scenario(resources: usize) {
    let dir = tempfile::tempdir().unwrap();
    if !gen_scenario(resources, dir.path(), Some(0)) {
        return;
    }
    let (drifted, not_drift, canary) = expected(dir.path());
    assert!(
        drifted.len() > resources / 50,
        "the scenario has drift to find"
    );
    let declared = dir.path().join("declared.tfstate");
    let live = dir.path().join("live.tfstate");
    let plan = dir.path().join("plan.json");
    let modes: [Vec<&str>; 2] = [
        vec![
            "--declared",
            declared.to_str().unwrap(),
            "--live",
            live.to_str().unwrap(),
        ],
        vec!["--plan", plan.to_str().unwrap()],
    ];
    for mode in &modes {
        let mut args = mode.clone();
        args.extend(["-f", "json"]);
        let r = scan(&args);
        assert_eq!(r.code, 2, "{mode:?}: {}", r.stderr);
        let report = json(&r);
        let got = found(&report);
        let missing: Vec<_> = drifted.difference(&got).collect();
        let extra: Vec<_> = got.difference(&drifted).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{mode:?}: missing {missing:?}, extra {extra:?}"
        );
        let reported: BTreeSet<String> = got.iter().map(|(a, _, _)| a.clone()).collect();
        let cried_wolf: Vec<_> = not_drift.intersection(&reported).collect();
        assert!(
            cried_wolf.is_empty(),
            "{mode:?}: not-drift look-alikes reported: {cried_wolf:?}"
        );
        assert!(!r.stdout.contains(&canary), "{mode:?}: canary in JSON");
        for format in ["console", "markdown", "sarif"] {
            let mut args = mode.clone();
            args.extend(["-f", format]);
            let r = scan(&args);
            assert_eq!(r.code, 2);
            assert!(
                !r.stdout.contains(&canary) && !r.stderr.contains(&canary),
                "{mode:?} {format}: canary leaked"
            );
        }
    }
    // In state mode every not-drift case is seen and explained, not silently dropped.
    let r = scan(&[
        "--declared",
        declared.to_str().unwrap(),
        "--live",
        live.to_str().unwrap(),
        "-f",
        "json",
    ]);
    let suppressed: BTreeSet<String> = json(&r)["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["address"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        not_drift.is_subset(&suppressed),
        "unexplained: {:?}",
        not_drift.difference(&suppressed).collect::<Vec<_>>()
    );
}

#[test]
fn scenario_1k_matches_the_answer_key() {
    check_scenario(1_000);
}

#[test]
fn scenario_10k_matches_the_answer_key() {
    check_scenario(10_000);
}
