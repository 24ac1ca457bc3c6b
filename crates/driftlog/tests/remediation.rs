//! Remediation end to end: codify patches applied to real `.tf` files stay valid for the real
//! Terraform (`fmt -check`, `validate`) and make the configuration match what is live
//! (`plan -detailed-exitcode` exits 0); revert commands carry what the attributed CloudTrail
//! calls changed; accept lines are ignore rules `scan` reads back.

mod common;

use common::{driftlog, gen_scenario, json, run, scan, workspace_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn terraform() -> Option<PathBuf> {
    let bin = PathBuf::from("/usr/local/bin/terraform");
    if bin.is_file() {
        Some(bin)
    } else {
        eprintln!("SKIP: no terraform at /usr/local/bin/terraform");
        None
    }
}

fn tf(bin: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("run terraform")
}

fn ok(out: std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "terraform {what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const MAIN: &str = r#"# Inputs that someone will change out of band.
resource "terraform_data" "web" {
  input = {
    instance_type = "t3.medium" # sized for launch
    owner         = "web-team"
  }
}

resource "terraform_data" "policy" {
  input = <<-EOT
    {"Version": "2012-10-17", "Statement": []}
  EOT
}

module "app" {
  source   = "./modules/app"
  for_each = toset(["api", "jobs"])
  name     = each.key
}
"#;

const APP: &str = r#"variable "name" {}

resource "terraform_data" "this" {
  # The size of the service.
  input            = "small"
  triggers_replace = [var.name]
}

resource "terraform_data" "named" {
  input = "svc-${var.name}"
}
"#;

fn set_input(
    state: &mut Value,
    address_type: &str,
    name: &str,
    module: Option<&str>,
    index: Option<&str>,
    value: Value,
) {
    for r in state["resources"].as_array_mut().unwrap() {
        if r["type"] != address_type || r["name"] != name {
            continue;
        }
        if r.get("module").and_then(Value::as_str) != module {
            continue;
        }
        for i in r["instances"].as_array_mut().unwrap() {
            if index.is_some() && i.get("index_key").and_then(Value::as_str) != index {
                continue;
            }
            // Raw state keeps a dynamic value with its type; `output` mirrors `input`.
            let typed = match &value {
                Value::String(_) => serde_json::json!({"value": value, "type": "string"}),
                other => {
                    serde_json::json!({"value": other, "type": ["object", {"instance_type": "string", "owner": "string"}]})
                }
            };
            i["attributes"]["input"] = typed.clone();
            i["attributes"]["output"] = typed;
        }
    }
}

/// Apply, change inputs in a copy of the state as an out-of-band change would, scan with
/// --config --remediate, apply the codify patch: Terraform then sees no change against the
/// changed state, and the patched files pass `fmt -check` and `validate`.
#[test]
fn codify_patches_make_the_configuration_match_what_is_live() {
    let Some(bin) = terraform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("infra");
    std::fs::create_dir_all(work.join("modules/app")).unwrap();
    std::fs::write(work.join("main.tf"), MAIN).unwrap();
    std::fs::write(work.join("modules/app/main.tf"), APP).unwrap();
    ok(
        tf(&bin, &work, &["init", "-input=false", "-no-color"]),
        "init",
    );
    ok(
        tf(
            &bin,
            &work,
            &["apply", "-auto-approve", "-input=false", "-no-color"],
        ),
        "apply",
    );
    let declared = dir.path().join("declared.tfstate");
    std::fs::copy(work.join("terraform.tfstate"), &declared).unwrap();

    // Out of band: a map entry, a heredoc policy, and a module instance's value.
    let mut state: Value = serde_json::from_slice(&std::fs::read(&declared).unwrap()).unwrap();
    set_input(
        &mut state,
        "terraform_data",
        "web",
        None,
        None,
        serde_json::json!({"instance_type": "t3.xlarge", "owner": "web-team"}),
    );
    set_input(&mut state, "terraform_data", "policy", None, None, Value::String("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}\n".into()));
    // Both instances of a module with for_each: its file serves them all.
    for instance in ["module.app[\"api\"]", "module.app[\"jobs\"]"] {
        set_input(
            &mut state,
            "terraform_data",
            "this",
            Some(instance),
            None,
            Value::String("large".into()),
        );
    }
    state["serial"] = serde_json::json!(state["serial"].as_u64().unwrap() + 1);
    let live = dir.path().join("live.tfstate");
    std::fs::write(&live, serde_json::to_vec_pretty(&state).unwrap()).unwrap();

    let patch = dir.path().join("accept.patch");
    let r = scan(&[
        "--declared",
        declared.to_str().unwrap(),
        "--live",
        live.to_str().unwrap(),
        "--config",
        work.to_str().unwrap(),
        "--patch",
        patch.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 4, "{findings:#?}");
    for f in findings {
        let rem = &f["remediation"];
        assert!(
            rem["revert"][0]["command"]
                .as_str()
                .unwrap()
                .starts_with("terraform apply -target="),
            "{rem}"
        );
        assert!(
            rem["accept"].as_str().unwrap().contains("expires="),
            "{rem}"
        );
    }
    let module = findings
        .iter()
        .find(|f| f["address"] == "module.app[\"api\"].terraform_data.this")
        .unwrap();
    let notes = module["remediation"]["codify"]["notes"].to_string();
    assert!(
        notes.contains("`for_each`") || notes.contains("every instance"),
        "{notes}"
    );

    // Apply the patch the way a person would, in the configuration directory.
    let text = std::fs::read_to_string(&patch).unwrap();
    assert!(
        text.contains("+++ b/main.tf") && text.contains("+++ b/modules/app/main.tf"),
        "{text}"
    );
    let applied = Command::new("patch")
        .args(["-p1", "--no-backup-if-mismatch", "-i"])
        .arg(&patch)
        .current_dir(&work)
        .output()
        .expect("run patch");
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stdout)
    );
    let main = std::fs::read_to_string(work.join("main.tf")).unwrap();
    assert!(
        main.contains("instance_type = \"t3.xlarge\" # sized for launch"),
        "{main}"
    );
    assert!(main.contains("# Inputs that someone will change out of band."));

    ok(
        tf(&bin, &work, &["fmt", "-check", "-recursive", "-no-color"]),
        "fmt -check",
    );
    ok(tf(&bin, &work, &["validate", "-no-color"]), "validate");
    // The configuration now says what is live: no change against the changed state.
    std::fs::copy(&live, work.join("terraform.tfstate")).unwrap();
    let plan = tf(
        &bin,
        &work,
        &[
            "plan",
            "-detailed-exitcode",
            "-refresh=false",
            "-input=false",
            "-no-color",
            "-lock=false",
        ],
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan after the patch: {}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
}

/// On a generated scenario with its CloudTrail, every AWS CLI revert command names the
/// resource and the values the attributed call changed, as its request parameters have them.
#[test]
fn revert_commands_match_the_attributed_requests() {
    let dir = tempfile::tempdir().unwrap();
    if !gen_scenario(300, dir.path(), Some(600)) {
        return;
    }
    let store = dir.path().join("events.db");
    let r = run(driftlog()
        .arg("--store")
        .arg(&store)
        .args(["scan", "--declared"])
        .arg(dir.path().join("declared.tfstate"))
        .arg("--live")
        .arg(dir.path().join("live.tfstate"))
        .arg("--audit")
        .arg(dir.path().join("cloudtrail"))
        .args(["--remediate", "-f", "json"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    // Every event's request parameters, by event id.
    let events = run(driftlog().arg("--store").arg(&store).args([
        "events",
        "--writes-only",
        "--raw",
        "--limit",
        "1000000",
        "--format",
        "json",
    ]));
    assert_eq!(events.code, 0, "{}", events.stderr);
    let events = json(&events);
    let request = |id: &str| -> Value {
        let e = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_id"] == id)
            .unwrap_or_else(|| panic!("event {id}"));
        let raw = match &e["raw"] {
            Value::String(text) => serde_json::from_str(text).unwrap(),
            other => other.clone(),
        };
        raw["requestParameters"].clone()
    };
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for f in report["findings"].as_array().unwrap() {
        let Some(cause) = f["attribution"]["caused_by"]
            .as_array()
            .and_then(|c| c.first())
        else {
            continue;
        };
        let action = cause["action"].as_str().unwrap();
        let req = request(cause["event_id"].as_str().unwrap());
        for c in f["remediation"]["revert"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
        {
            let words = shlex_split(c["command"].as_str().unwrap());
            let arg = |flag: &str| -> String {
                let i = words
                    .iter()
                    .position(|w| w == flag)
                    .unwrap_or_else(|| panic!("{flag} in {words:?}"));
                words[i + 1].clone()
            };
            match (action, words[2].as_str()) {
                ("AuthorizeSecurityGroupIngress", "revoke-security-group-ingress")
                | ("RevokeSecurityGroupIngress", "authorize-security-group-ingress") => {
                    assert_eq!(arg("--group-id"), req["groupId"].as_str().unwrap());
                    let perms: Value = serde_json::from_str(&arg("--ip-permissions")).unwrap();
                    let items = req["ipPermissions"]["items"].as_array().unwrap();
                    assert_eq!(
                        perms.as_array().unwrap().len(),
                        items.len(),
                        "{perms} vs {items:?}"
                    );
                    for (p, item) in perms.as_array().unwrap().iter().zip(items) {
                        assert_eq!(p["FromPort"], item["fromPort"]);
                        assert_eq!(p["ToPort"], item["toPort"]);
                        assert_eq!(p["IpProtocol"], item["ipProtocol"]);
                        let cidrs: Vec<&Value> = p["IpRanges"]
                            .as_array()
                            .map(|r| r.iter().map(|x| &x["CidrIp"]).collect())
                            .unwrap_or_default();
                        let want: Vec<&Value> = item["ipRanges"]["items"]
                            .as_array()
                            .map(|r| r.iter().map(|x| &x["cidrIp"]).collect())
                            .unwrap_or_default();
                        assert_eq!(cidrs, want);
                        let groups: Vec<&Value> = p["UserIdGroupPairs"]
                            .as_array()
                            .map(|r| r.iter().map(|x| &x["GroupId"]).collect())
                            .unwrap_or_default();
                        let want: Vec<&Value> = item["groups"]["items"]
                            .as_array()
                            .map(|r| r.iter().map(|x| &x["groupId"]).collect())
                            .unwrap_or_default();
                        assert_eq!(groups, want);
                    }
                }
                ("ModifyInstanceAttribute", "stop-instances") => {
                    assert_eq!(arg("--instance-ids"), req["instanceId"].as_str().unwrap());
                }
                ("PutBucketPolicy", "put-bucket-policy") => {
                    assert_eq!(arg("--bucket"), req["bucketName"].as_str().unwrap());
                }
                ("UpdateAssumeRolePolicy", "update-assume-role-policy") => {
                    assert_eq!(arg("--role-name"), req["roleName"].as_str().unwrap());
                }
                ("SetQueueAttributes", "set-queue-attributes") => {
                    assert_eq!(arg("--queue-url"), req["queueUrl"].as_str().unwrap());
                    let attrs: Value = serde_json::from_str(&arg("--attributes")).unwrap();
                    let mut mine: Vec<&String> = attrs.as_object().unwrap().keys().collect();
                    let mut theirs: Vec<&String> =
                        req["attributes"].as_object().unwrap().keys().collect();
                    mine.sort();
                    theirs.sort();
                    assert_eq!(mine, theirs);
                }
                ("CreateTags", "delete-tags") | ("CreateTags", "create-tags") => {
                    let ids: Vec<&str> = req["resourcesSet"]["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|i| i["resourceId"].as_str())
                        .collect();
                    assert!(ids.contains(&arg("--resources").as_str()), "{ids:?}");
                }
                ("TagRole", "untag-role") | ("TagRole", "tag-role") => {
                    assert_eq!(arg("--role-name"), req["roleName"].as_str().unwrap());
                }
                ("TagQueue", "untag-queue") | ("TagQueue", "tag-queue") => {
                    assert_eq!(arg("--queue-url"), req["queueUrl"].as_str().unwrap());
                }
                ("TagResource20170331v2", "untag-resource")
                | ("TagResource20170331v2", "tag-resource") => {
                    assert_eq!(arg("--resource"), req["resource"].as_str().unwrap());
                }
                _ => continue,
            }
            *checked.entry(action.to_owned()).or_default() += 1;
        }
    }
    // Every kind of change the scenario makes was checked at least once.
    for action in [
        "AuthorizeSecurityGroupIngress",
        "ModifyInstanceAttribute",
        "PutBucketPolicy",
        "SetQueueAttributes",
    ] {
        assert!(
            checked.get(action).is_some_and(|n| *n > 0),
            "no {action} checked: {checked:?}"
        );
    }
    eprintln!("revert commands checked against requests: {checked:?}");
}

fn shlex_split(command: &str) -> Vec<String> {
    // The commands are POSIX-quoted; Python's shlex reads them as a shell would.
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))",
            command,
        ])
        .output()
        .expect("python3");
    serde_json::from_slice(&out.stdout).expect("shlex output")
}

/// Accept lines are ignore rules: written with --generate-ignore, the next scan leaves those
/// findings out and says which rule did.
#[test]
fn accept_lines_are_ignore_rules_the_next_scan_reads() {
    let dir = tempfile::tempdir().unwrap();
    let quick = workspace_root().join("examples/quickstart");
    let ignore = dir.path().join("accepted.driftlogignore");
    let first = run(driftlog()
        .args(["scan", "--declared"])
        .arg(quick.join("declared.tfstate"))
        .arg("--live")
        .arg(quick.join("live.tfstate"))
        .arg("--generate-ignore")
        .arg(&ignore)
        .args(["--owner", "alice", "--expires", "2099-01-31", "-f", "json"]));
    assert_eq!(first.code, 2, "{}", first.stderr);
    let lines = std::fs::read_to_string(&ignore).unwrap();
    assert_eq!(
        lines
            .lines()
            .filter(|l| l.contains("owner=alice expires=")
                || l.contains("expires=2099-01-31 owner=alice"))
            .count(),
        4,
        "{lines}"
    );
    let second = run(driftlog()
        .args(["scan", "--declared"])
        .arg(quick.join("declared.tfstate"))
        .arg("--live")
        .arg(quick.join("live.tfstate"))
        .arg("--ignore-file")
        .arg(&ignore)
        .args(["-f", "json"]));
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert_eq!(json(&second)["summary"]["ignored"], 4);
}

/// `driftlog remediate` works from a saved report, and refuses what is not one.
#[test]
fn remediate_reads_a_saved_report() {
    let dir = tempfile::tempdir().unwrap();
    let quick = workspace_root().join("examples/quickstart");
    let report = dir.path().join("drift.json");
    let r = run(driftlog()
        .args(["scan", "--declared"])
        .arg(quick.join("declared.tfstate"))
        .arg("--live")
        .arg(quick.join("live.tfstate"))
        .args(["-f", "json", "-o"])
        .arg(&report));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = run(driftlog()
        .arg("remediate")
        .arg(&report)
        .args(["-f", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = json(&r);
    assert_eq!(doc["format_version"], "1.0");
    let sg = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["address"] == "aws_security_group.web")
        .unwrap();
    let commands: Vec<&str> = sg["remediation"]["revert"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands[0],
        "terraform apply -target=aws_security_group.web"
    );
    assert!(
        commands[1].starts_with("aws ec2 revoke-security-group-ingress --group-id sg-"),
        "{commands:?}"
    );
    let console = run(driftlog().arg("remediate").arg(&report));
    assert_eq!(console.code, 0);
    assert!(
        console
            .stdout
            .contains("revert: terraform apply -target=aws_security_group.web"),
        "{}",
        console.stdout
    );

    std::fs::write(dir.path().join("not.json"), "{\"format_version\": \"9.0\"}").unwrap();
    let bad = run(driftlog().arg("remediate").arg(dir.path().join("not.json")));
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("not a driftlog scan report of format 1.x"),
        "{}",
        bad.stderr
    );
}
