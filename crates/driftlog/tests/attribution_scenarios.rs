//! Issue 4: generated drift scenarios with CloudTrail and an answer key. For every drifted
//! resource, `caused_by` must name the key's event and principal; decoys (reads, failed calls by
//! a third principal, harmless writes, Terraform's own apply) are never chosen. Precision and
//! recall are printed (run with `--nocapture`) and must be 1.0.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The key's simpler actor rule (../shared/tools/README.md), computed from driftlog's fields.
fn key_actor_kind(cause: &Value) -> &'static str {
    let principal = cause["principal"].as_str().unwrap_or("");
    if cause["actor_rule"] == "sessionCredentialFromConsole" {
        "console"
    } else if principal.contains(":assumed-role/") {
        "assumed-role"
    } else if cause["actor_kind"] == "cli" {
        "cli"
    } else {
        "sdk"
    }
}

fn check(resources: usize) {
    let dir = tempfile::tempdir().unwrap();
    if !gen_scenario(resources, dir.path(), None) {
        return;
    }
    let key: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("answer-key.json")).unwrap())
            .unwrap();
    let store = TempStore::new();
    let r = run(driftlog()
        .current_dir(dir.path())
        .arg("--store")
        .arg(store.path())
        .args([
            "scan",
            "--declared",
            "declared.tfstate",
            "--live",
            "live.tfstate",
            "--audit",
            "cloudtrail",
            "--format",
            "json",
        ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    let findings: HashMap<&str, &Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["address"].as_str().unwrap(), f))
        .collect();
    let decoys: HashSet<&str> = key["decoys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["eventID"].as_str().unwrap())
        .collect();

    let drifted = key["drifted"].as_array().unwrap();
    let (mut correct, mut attributed) = (0usize, 0usize);
    let mut wrong = Vec::new();
    for d in drifted {
        let address = d["address"].as_str().unwrap();
        let want = &d["caused_by"];
        let attribution = &findings[address]["attribution"];
        let causes = attribution["caused_by"].as_array().unwrap();
        if causes.is_empty() {
            wrong.push(format!("{address}: no cause found"));
            continue;
        }
        attributed += 1;
        for c in causes {
            assert!(
                !decoys.contains(c["event_id"].as_str().unwrap()),
                "{address}: decoy {} chosen",
                c["event_id"]
            );
        }
        let hit = causes.iter().find(|c| c["event_id"] == want["eventID"]);
        match hit {
            Some(c) if c["principal"] == want["principal_arn"] => {
                assert_eq!(key_actor_kind(c), want["actor_kind"], "{address}: {c}");
                assert_eq!(attribution["confidence"], "certain", "{address}");
                correct += 1;
            }
            _ => wrong.push(format!(
                "{address}: want {} by {}, got {causes:?}",
                want["eventID"], want["principal_arn"]
            )),
        }
    }
    let precision = correct as f64 / attributed.max(1) as f64;
    let recall = correct as f64 / drifted.len() as f64;
    eprintln!(
        "{resources} resources: {} drifted, {correct} attributed correctly, precision {precision:.3}, recall {recall:.3}",
        drifted.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!((precision, recall), (1.0, 1.0));
}

#[test]
fn scenario_1k_resources() {
    check(1_000);
}

#[test]
fn scenario_10k_resources() {
    check(10_000);
}
