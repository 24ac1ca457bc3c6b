//! Every real Terraform file in ../shared/fixtures loads, and every real plan's
//! `resource_drift` is accounted for with its exact address and changed paths.

mod common;
use common::*;
use std::collections::BTreeSet;

/// What each real plan with `resource_drift` must report. A drift entry is either a finding with
/// exactly these paths, or, where Terraform flagged a difference that is no drift (`tags: null`
/// became `{}`), a suppressed difference naming the rule.
/// (file, findings as (address, paths), suppressed as (address, path, rule))
type PlanExpectation = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
    &'static [(&'static str, &'static str, &'static str)],
);

const PLAN_DRIFT: &[PlanExpectation] = &[
    (
        "infracost__instance_with_attachment_after_deploy.json",
        &[("aws_instance.ec2", &["ebs_block_device"])],
        &[
            ("aws_default_subnet.default", "tags", "null_equals_empty"),
            ("aws_instance.ec2", "root_block_device", "null_equals_empty"),
            ("aws_instance.ec2", "tags", "null_equals_empty"),
        ],
    ),
    (
        "terraform__drift__output.json",
        &[("test_instance.should_refresh", &["ami"])],
        &[],
    ),
    (
        "terraform__drift_refresh_only__plan.json",
        &[("tfcoremock_simple_resource.drift", &["string"])],
        &[],
    ),
    (
        "terraform__drift_relevant_attributes__plan.json",
        &[("tfcoremock_simple_resource.base", &["number", "string"])],
        &[],
    ),
    (
        "terraform__drift_simple__plan.json",
        &[("tfcoremock_simple_resource.drift", &["string"])],
        &[],
    ),
    (
        "terraform__moved-drift__output.json",
        &[("test_instance.should_refresh_with_move", &["ami"])],
        &[],
    ),
    (
        "terraform__moved_with_drift__plan.json",
        &[("tfcoremock_simple_resource.base_after", &["string"])],
        &[],
    ),
];

#[test]
fn every_plan_drift_entry_is_reported_exactly() {
    let Some(fx) = fixtures() else { return };
    let dir = fx.join("terraform-plan-json");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        seen += 1;
        let name = path.file_name().unwrap().to_str().unwrap();
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let drift_addresses: BTreeSet<String> = raw["resource_drift"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| d["address"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();

        let r = scan(&["--plan", path.to_str().unwrap(), "-f", "json"]);
        let report = json(&r);
        let got: Vec<(String, Vec<String>)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["address"].as_str().unwrap().to_owned(),
                    f["changes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["path"].as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect();
        let suppressed: Vec<(String, String, String)> = report["suppressed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["address"].as_str().unwrap().to_owned(),
                    s["path"].as_str().unwrap().to_owned(),
                    s["rule"].as_str().unwrap().to_owned(),
                )
            })
            .collect();

        match PLAN_DRIFT.iter().find(|(n, _, _)| *n == name) {
            None => {
                assert!(
                    drift_addresses.is_empty(),
                    "{name}: has resource_drift but no expectation here"
                );
                assert_eq!(r.code, 0, "{name}: no drift expected: {}", r.stderr);
                assert!(got.is_empty(), "{name}: {got:?}");
            }
            Some((_, findings, supp)) => {
                assert_eq!(r.code, 2, "{name}: {}", r.stderr);
                let want: Vec<(String, Vec<String>)> = findings
                    .iter()
                    .map(|(a, p)| ((*a).to_owned(), p.iter().map(|s| (*s).to_owned()).collect()))
                    .collect();
                assert_eq!(got, want, "{name}");
                let want_supp: Vec<(String, String, String)> = supp
                    .iter()
                    .map(|(a, p, r)| ((*a).to_owned(), (*p).to_owned(), (*r).to_owned()))
                    .collect();
                assert_eq!(suppressed, want_supp, "{name}");
                // Every drift entry is accounted for, as a finding or as a suppressed difference.
                let accounted: BTreeSet<String> = got
                    .iter()
                    .map(|(a, _)| a.clone())
                    .chain(suppressed.iter().map(|(a, _, _)| a.clone()))
                    .collect();
                assert_eq!(accounted, drift_addresses, "{name}");
            }
        }
    }
    assert!(seen >= 20, "expected the plan fixtures, saw {seen}");
}

#[test]
fn moved_resources_carry_their_previous_address() {
    let Some(fx) = fixtures() else { return };
    let r = scan(&[
        "--plan",
        fx.join("terraform-plan-json/terraform__moved-drift__output.json")
            .to_str()
            .unwrap(),
        "-f",
        "json",
    ]);
    let v = json(&r);
    assert_eq!(
        v["findings"][0]["previous_address"],
        "test_instance.should_refresh"
    );
    assert_eq!(v["findings"][0]["changes"][0]["before"], "refresh-me");
    assert_eq!(v["findings"][0]["changes"][0]["after"], "refreshed");
}

#[test]
fn relevant_attributes_are_marked_and_pending_config_is_separate() {
    let Some(fx) = fixtures() else { return };
    let r = scan(&[
        "--plan",
        fx.join("terraform-plan-json/terraform__drift_relevant_attributes__plan.json")
            .to_str()
            .unwrap(),
        "-f",
        "json",
    ]);
    let v = json(&r);
    let changes = v["findings"][0]["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["relevant"] == true), "{changes:?}");
    // The pending changes are listed apart from drift and never counted as drift.
    assert_eq!(v["summary"]["drifted"], 1);
    let pending: Vec<&str> = v["not_yet_applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["address"].as_str().unwrap())
        .collect();
    assert!(!pending.is_empty());
    assert!(pending.iter().all(|a| !a.is_empty()));
}

#[test]
fn a_normal_plan_without_drift_lists_pending_changes_and_exits_0() {
    let Some(fx) = fixtures() else { return };
    let r = scan(&[
        "--plan",
        fx.join("terraform-plan-json/infracost__terraform_v0.12_plan.json")
            .to_str()
            .unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["summary"]["drifted"], 0);
    assert!(v["summary"]["not_yet_applied"].as_u64().unwrap() > 0);
    let first = &v["not_yet_applied"][0];
    assert!(first["actions"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn every_state_loads_and_old_formats_get_a_clear_error() {
    let Some(fx) = fixtures() else { return };
    let mut v4 = 0;
    for dir in ["terraform-state", "terraform-state-show-json"] {
        for entry in std::fs::read_dir(fx.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with(".md") {
                continue;
            }
            let raw: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let p = path.to_str().unwrap();
            let r = scan(&["--declared", p, "--live", p, "-f", "json"]);
            match raw["version"].as_u64() {
                Some(v) if v < 4 => {
                    assert_eq!(r.code, 1, "{name}");
                    assert!(
                        r.stderr.contains(&format!("format version {v}"))
                            && r.stderr.contains("Terraform 0.12"),
                        "{name}: {}",
                        r.stderr
                    );
                    assert!(
                        r.stderr.contains(&name),
                        "error names the file: {}",
                        r.stderr
                    );
                    assert_eq!(r.stderr.lines().count(), 1, "one-line error: {}", r.stderr);
                }
                _ => {
                    v4 += 1;
                    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
                    let report = json(&r);
                    assert_eq!(report["summary"]["drifted"], 0, "{name}");
                    let managed = raw["resources"].as_array().map_or(0, |rs| {
                        rs.iter()
                            .filter(|r| r["mode"] == "managed")
                            .map(|r| r["instances"].as_array().map_or(0, Vec::len))
                            .sum::<usize>()
                    });
                    if dir == "terraform-state" {
                        assert_eq!(
                            report["summary"]["resources_scanned"], managed,
                            "{name}: every managed instance read"
                        );
                    }
                }
            }
        }
    }
    assert!(
        v4 >= 30,
        "expected the format-4 and show-json fixtures, saw {v4}"
    );
}

#[test]
fn addresses_follow_terraform_syntax() {
    let Some(fx) = fixtures() else { return };
    // Compare real states with an empty live state: every managed instance is reported deleted,
    // so the report lists every address driftlog derived (modules, count, for_each).
    let cases: &[(&str, &[&str])] = &[
        (
            "terraform__v4-modules.in.tfstate",
            &[
                "module.modA.null_resource.resource",
                "module.modB.null_resource.bar[\"a\"]",
                "module.modB.null_resource.bar[\"b\"]",
                "null_resource.bar",
            ],
        ),
        (
            "terraform__state-list-nested-modules__terraform.tfstate",
            &[
                "module.count[0].test_instance.count",
                "module.count[1].test_instance.count",
                "module.nest.module.subnest.test_instance.subnest",
                "module.nest.test_instance.nest",
                "module.nonexist.module.child.test_instance.child",
                "test_instance.root",
            ],
        ),
        (
            "driftctl__module.iam_iam-user.tfstate",
            &[
                "module.iam_iam-user.aws_iam_access_key.this_no_pgp[0]",
                "module.iam_iam-user.aws_iam_user.this[0]",
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.tfstate");
    std::fs::write(&empty, r#"{"version": 4, "resources": []}"#).unwrap();
    for (file, want) in cases {
        let r = scan(&[
            "--declared",
            fx.join("terraform-state").join(file).to_str().unwrap(),
            "--live",
            empty.to_str().unwrap(),
            "-f",
            "json",
        ]);
        assert_eq!(r.code, 2, "{file}: {}", r.stderr);
        let v = json(&r);
        let got: Vec<&str> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["address"].as_str().unwrap())
            .collect();
        assert_eq!(&got, want, "{file}");
        assert!(v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] == "deleted"));
    }
}
