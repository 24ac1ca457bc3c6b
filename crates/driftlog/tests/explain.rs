//! Issue 4: `driftlog explain` tells one resource's story from the store, by Terraform address
//! (with state inputs) or by any identifier.

mod common;
use common::*;

fn quickstart_store() -> TempStore {
    let store = TempStore::new();
    let r = store.ingest(&[&workspace_root().join("examples/quickstart/cloudtrail")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    store
}

const STATES: [&str; 4] = [
    "--declared",
    "examples/quickstart/declared.tfstate",
    "--live",
    "examples/quickstart/live.tfstate",
];

/// `driftlog explain TARGET [the quickstart states] EXTRA...`
fn explain(store: &TempStore, target: &str, states: bool, extra: &[&str]) -> Run {
    let states: &[&str] = if states { &STATES } else { &[] };
    run(driftlog()
        .current_dir(workspace_root())
        .arg("--store")
        .arg(store.path())
        .args(["explain", target])
        .args(states)
        .args(extra))
}

#[test]
fn an_address_with_state_shows_timeline_drift_and_cause() {
    let store = quickstart_store();
    let r = explain(
        &store,
        "aws_security_group.web",
        true,
        &["--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["identifiers"][0], "sg-0123456789abcdef0");
    let actions: Vec<(&str, &str)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("AuthorizeSecurityGroupIngress", "terraform"),
            ("AuthorizeSecurityGroupIngress", "cli"),
            ("DescribeSecurityGroups", "console"),
            ("AuthorizeSecurityGroupIngress", "console"),
        ],
        "oldest first: the apply, the denied attempt, the look, the change"
    );
    let a = &v["drift"]["attribution"];
    assert_eq!(a["confidence"], "certain");
    assert_eq!(
        a["caused_by"][0]["principal"],
        "arn:aws:sts::123456789012:assumed-role/Admin/break-glass"
    );

    let table = explain(&store, "aws_security_group.web", true, &[]);
    assert!(table.stdout.contains("4 events"), "{}", table.stdout);
    assert!(table
        .stdout
        .contains("1 by Terraform, the last at 2026-11-13T09:00:04Z"));
    assert!(table.stdout.contains("caused by (certain) [ingress]"));
}

#[test]
fn an_identifier_alone_and_a_resource_without_drift() {
    let store = quickstart_store();
    let by_id = explain(&store, "i-014f1a2b3c4d5e6f7", false, &["--format", "json"]);
    assert_eq!(by_id.code, 0, "{}", by_id.stderr);
    let v = json(&by_id);
    assert_eq!(v["drift"], serde_json::Value::Null);
    assert_eq!(
        v["events"].as_array().unwrap().len(),
        4,
        "apply, stop, modify, start"
    );

    let calm = explain(&store, "aws_instance.web[0]", true, &[]);
    assert_eq!(calm.code, 0);
    assert!(calm.stdout.contains("No matching events."));
    assert!(calm.stdout.contains("No current drift."));

    let unknown = explain(&store, "aws_instance.nope", true, &[]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("aws_instance.nope is not in"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn an_address_a_scan_reported_is_a_resource_for_events_and_explain() {
    let store = quickstart_store();
    // Unknown yet: the address names nothing in the logs.
    assert!(store
        .events(&["--resource", "aws_security_group.web"])
        .is_empty());
    let scan = run(driftlog()
        .current_dir(workspace_root())
        .arg("--store")
        .arg(store.path())
        .arg("scan")
        .args(STATES)
        .args(["--format", "json"]));
    assert_eq!(scan.code, 2, "{}", scan.stderr);

    let by_address = store.events(&["--resource", "aws_security_group.web"]);
    let by_id = store.events(&["--resource", "sg-0123456789abcdef0"]);
    assert_eq!(by_address.len(), 4);
    assert_eq!(by_address, by_id);
    // The table says what the address stands for.
    let table = run(driftlog().arg("--store").arg(store.path()).args([
        "events",
        "--resource",
        "aws_security_group.web",
    ]));
    assert!(
        table.stderr.contains(
            "aws_security_group.web stands for \
             arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0, \
             sg-0123456789abcdef0"
        ),
        "{}",
        table.stderr
    );
    // And `explain` needs no state for it any more.
    let r = explain(
        &store,
        "aws_security_group.web",
        false,
        &["--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["events"].as_array().unwrap().len(), 4);
}
