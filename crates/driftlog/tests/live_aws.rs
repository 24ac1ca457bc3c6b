//! `scan --live aws` against a real `moto_server`: an account made the way Terraform makes one
//! (tests/support/moto_account.py writes its state from the configuration, never from
//! driftlog's projections), changed out of band, with resources nobody declared. The scan must
//! find exactly the answer key, exclude AWS defaults, name the creators the audit logs hold,
//! survive throttling unchanged, and turn AccessDenied into a partial report.

mod common;

use common::moto::{aws_env, start, Moto};
use common::proxy::Proxy;
use common::{driftlog, json, run, workspace_root};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn support(file: &str) -> PathBuf {
    workspace_root()
        .join("crates/driftlog/tests/support")
        .join(file)
}

/// The scenario account in `moto`, its files in `dir`; the answer key.
fn seed(moto: &Moto, dir: &Path) -> Value {
    let out = Command::new("python3")
        .arg(support("moto_account.py"))
        .args(["scenario", "--endpoint", &moto.endpoint, "--out"])
        .arg(dir)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "seed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap()
}

/// `scan --live aws` of the scenario through `endpoint`, its own store in `dir`.
fn live_scan(endpoint: &str, dir: &Path, store: &str, extra: &[&str]) -> common::Run {
    run(aws_env(&mut driftlog())
        .current_dir(dir)
        .args(["--endpoint-url", endpoint, "--store", store])
        .args(["scan", "--declared", "declared.tfstate", "--live", "aws"])
        .args(["--audit", "cloudtrail", "-f", "json"])
        .args(extra))
}

fn by_address(report: &Value) -> BTreeMap<String, &Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["address"].as_str().unwrap().to_owned(), f))
        .collect()
}

fn top_levels(f: &Value) -> BTreeSet<String> {
    f["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let p = c["path"].as_str().unwrap();
            p.split(['.', '[']).next().unwrap().to_owned()
        })
        .collect()
}

/// Every finding of the report against the answer key.
fn assert_matches_answer_key(report: &Value, expected: &Value) {
    let found = by_address(report);
    let changed: BTreeMap<String, BTreeSet<String>> = found
        .iter()
        .filter(|(_, f)| f["kind"] == "changed")
        .map(|(a, f)| (a.clone(), top_levels(f)))
        .collect();
    let want_changed: BTreeMap<String, BTreeSet<String>> = expected["changed"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(a, attrs)| {
            let set = attrs
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect();
            (a.clone(), set)
        })
        .collect();
    assert_eq!(changed, want_changed, "changed resources and attributes");
    let deleted: BTreeSet<&str> = found
        .iter()
        .filter(|(_, f)| f["kind"] == "deleted")
        .map(|(a, _)| a.as_str())
        .collect();
    let want_deleted: BTreeSet<&str> = expected["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(deleted, want_deleted, "deleted resources");
    let unmanaged: Vec<&Value> = found
        .values()
        .filter(|f| f["kind"] == "unmanaged")
        .copied()
        .collect();
    let want = expected["unmanaged"].as_object().unwrap();
    assert_eq!(unmanaged.len(), want.len(), "unmanaged: {unmanaged:#?}");
    for f in unmanaged {
        let w = &want[f["type"].as_str().unwrap()];
        assert_eq!(f["discovery"]["id"], w["id"], "{f:#}");
        assert_eq!(f["discovery"]["found_by"], w["found_by"], "{f:#}");
        if let Some(creator) = w.get("creator") {
            let cause = &f["attribution"]["caused_by"][0];
            assert_eq!(f["attribution"]["confidence"], "certain", "{f:#}");
            assert_eq!(&cause["principal"], creator, "{f:#}");
            assert_eq!(&cause["actor_kind"], &w["actor_kind"], "{f:#}");
        }
    }
}

#[test]
fn a_moto_account_scans_to_exactly_the_answer_key() {
    let Some(moto) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let expected = seed(&moto, dir.path());
    let r = live_scan(
        &moto.endpoint,
        dir.path(),
        "events.db",
        &["--generate-imports", "imports.tf"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    assert_matches_answer_key(&report, &expected);
    assert!(report.get("partial").is_none(), "{:#}", report["live"]);
    let live = &report["live"];
    assert_eq!(live["alerts"], serde_json::json!([]));
    assert_eq!(live["missing"], 1);
    // Defaults are excluded with their rule, never unmanaged.
    let excluded = live["excluded"].as_array().unwrap();
    let rules: BTreeSet<(&str, &str)> = excluded
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["rule"].as_str().unwrap()))
        .collect();
    assert!(
        rules.contains(&("aws_vpc", "the account's default VPC")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("aws_security_group", "every VPC's default security group")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("aws_subnet", "a default subnet of the default VPC")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&(
            "aws_route_table",
            "a VPC's main route table, made with the VPC"
        )),
        "{rules:?}"
    );
    // The group whose rules are declared three ways is not drift, nor are its rules unmanaged.
    let ids = &expected["ids"];
    assert!(
        !r.stdout.contains(ids["db"].as_str().unwrap())
            || !by_address(&report).contains_key("aws_security_group.db")
    );
    // What was not compared is listed, by type.
    let not_checked = live["not_checked"].as_array().unwrap();
    assert!(not_checked
        .iter()
        .any(|n| n["type"] == "aws_cloudwatch_log_group"
            && n["reason"] == "type not supported by live reads"));
    assert!(not_checked.iter().any(|n| n["type"] == "aws_vpc"
        && n["attributes"]
            .as_array()
            .unwrap()
            .contains(&"enable_dns_hostnames".into())));
    // The deleted queue created and deleted by hand is not unmanaged; the warning says so.
    assert!(report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("no longer exist")));

    // The imports file: one block per unmanaged resource, formatted as terraform fmt would.
    let imports = std::fs::read_to_string(dir.path().join("imports.tf")).unwrap();
    for (_, w) in expected["unmanaged"].as_object().unwrap() {
        assert!(
            imports.contains(&format!("  id = {}\n", w["id"])),
            "{imports}"
        );
    }
    assert!(
        imports.contains("created by arn:aws:iam::123456789012:user/alice"),
        "{imports}"
    );
    if Path::new("/usr/local/bin/terraform").exists() || which("terraform") {
        let fmt = Command::new(if which("terraform") {
            "terraform"
        } else {
            "/usr/local/bin/terraform"
        })
        .args(["fmt", "-check", "-diff", "imports.tf"])
        .current_dir(dir.path())
        .output()
        .unwrap();
        assert!(
            fmt.status.success(),
            "terraform fmt -check: {}",
            String::from_utf8_lossy(&fmt.stdout)
        );
    } else {
        eprintln!("SKIP (part): terraform not installed; imports.tf not fmt-checked");
    }

    // The database password never appears: not in the report, the imports, or the store.
    let canary = expected["canary"].as_str().unwrap();
    assert!(!r.stdout.contains(canary) && !r.stderr.contains(canary));
    assert!(!imports.contains(canary));
    let store = std::fs::read(dir.path().join("events.db")).unwrap();
    assert!(!store.windows(canary.len()).any(|w| w == canary.as_bytes()));

    // Console output names the creators too.
    let console = run(aws_env(&mut driftlog())
        .current_dir(dir.path())
        .args(["--endpoint-url", &moto.endpoint, "--store", "events.db"])
        .args(["scan", "--declared", "declared.tfstate", "--live", "aws"]));
    assert_eq!(console.code, 2, "{}", console.stderr);
    assert!(
        console
            .stdout
            .contains("aws_sqs_queue.manual-debug unmanaged"),
        "{}",
        console.stdout
    );
    assert!(
        console
            .stdout
            .contains("CreateQueue by arn:aws:iam::123456789012:user/alice via console"),
        "{}",
        console.stdout
    );

    // Two regions: the second one's defaults are listed and excluded, nothing else changes.
    let two = live_scan(
        &moto.endpoint,
        dir.path(),
        "events2.db",
        &["--regions", "us-east-1,eu-west-1"],
    );
    assert_eq!(two.code, 2, "{}", two.stderr);
    let two = json(&two);
    assert_eq!(
        two["live"]["regions"],
        serde_json::json!(["eu-west-1", "us-east-1"])
    );
    assert_matches_answer_key(&two, &expected);
    assert!(two["live"]["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["region"] == "eu-west-1" && e["type"] == "aws_vpc"));

    // Without listing, only the audit logs find what nobody declared.
    let managed = live_scan(
        &moto.endpoint,
        dir.path(),
        "events3.db",
        &["--managed-only"],
    );
    let managed = json(&managed);
    let found: Vec<&str> = managed["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "unmanaged")
        .map(|f| f["discovery"]["found_by"].as_str().unwrap())
        .collect();
    assert_eq!(
        found,
        vec!["audit-log", "audit-log"],
        "{:#}",
        managed["findings"]
    );
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn throttled_at_30_percent_the_result_is_the_same() {
    let Some(moto) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    seed(&moto, dir.path());
    // Both runs go through a proxy, so queue URLs (which moto builds from the Host) agree.
    let calm = Proxy::start(&moto, 0.0, "", 0);
    let busy = Proxy::start(&moto, 0.3, "", 0);
    // One observation time for both, so attribution windows agree.
    let now = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap();
    let as_of = ["--as-of", now.trim()];
    let a = live_scan(&calm.endpoint, dir.path(), "calm.db", &as_of);
    let b = live_scan(&busy.endpoint, dir.path(), "busy.db", &as_of);
    assert_eq!(a.code, 2, "{}", a.stderr);
    assert_eq!(b.code, 2, "{}", b.stderr);
    // Queue URLs carry the host moto was reached by.
    let host = |r: &common::Run, endpoint: &str| -> Value {
        serde_json::from_str(&r.stdout.replace(endpoint, "http://PROXY")).unwrap()
    };
    let (a, b) = (host(&a, &calm.endpoint), host(&b, &busy.endpoint));
    assert_eq!(a["findings"], b["findings"]);
    assert_eq!(a["summary"], b["summary"]);
    assert_eq!(a["live"]["excluded"], b["live"]["excluded"]);
    assert!(b.get("partial").is_none(), "{:#}", b["live"]["alerts"]);
    // Every attempt is counted, the throttled ones too, and they match what the proxy saw.
    let stats = busy.stats();
    assert!(stats["throttled"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(b["live"]["requests"], stats["requests"], "{stats}");
    assert_eq!(b["live"]["throttled"], stats["throttled"], "{stats}");
    // Unthrottled, each object is read once: requests are those of the calm run exactly.
    let calm_stats = calm.stats();
    assert_eq!(a["live"]["requests"], calm_stats["requests"]);
    assert_eq!(
        b["live"]["requests"].as_u64().unwrap() - b["live"]["throttled"].as_u64().unwrap(),
        a["live"]["requests"].as_u64().unwrap()
    );
}

#[test]
fn access_denied_on_one_service_gives_a_partial_report() {
    let Some(moto) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let expected = seed(&moto, dir.path());
    let proxy = Proxy::start(&moto, 0.0, "sns", 0);
    let r = live_scan(&proxy.endpoint, dir.path(), "events.db", &[]);
    assert_eq!(r.code, 2, "drift is still drift: {}", r.stderr);
    let report = json(&r);
    assert_eq!(report["partial"], true);
    let alerts = report["live"]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["service"], "sns");
    assert_eq!(alerts[0]["kind"], "denied");
    assert_eq!(alerts[0]["code"], "AuthorizationError");
    assert!(report["live"]["not_checked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "aws_sns_topic" && n["reason"] == "read failed (see alerts)"));
    // The rest is complete.
    let found = by_address(&report);
    for address in expected["changed"].as_object().unwrap().keys() {
        assert!(found.contains_key(address), "{address}");
    }
    // The topic nobody declared is still found, from the audit logs, with its creator.
    let topic = found
        .values()
        .find(|f| f["type"] == "aws_sns_topic")
        .expect("the topic");
    assert_eq!(topic["discovery"]["found_by"], "audit-log");
    assert_eq!(topic["discovery"]["seen_live"], false);
    assert_eq!(
        topic["attribution"]["caused_by"][0]["principal"],
        "arn:aws:iam::123456789012:user/bob"
    );
    assert!(r.stdout.contains("\"partial\": true"));
}

#[test]
fn no_answer_from_aws_is_an_error_not_a_clean_report() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("declared.tfstate");
    std::fs::write(
        &state,
        r#"{"version":4,"terraform_version":"1.9.8","serial":1,"lineage":"l","outputs":{},"resources":[
        {"mode":"managed","type":"aws_sqs_queue","name":"q","provider":"provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances":[{"schema_version":0,"attributes":{"id":"https://sqs.us-east-1.amazonaws.com/1/q","name":"q"}}]}]}"#,
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = run(aws_env(&mut driftlog())
        .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .args([
            "scan",
            "--no-attribution",
            "--managed-only",
            "--live",
            "aws",
            "--declared",
        ])
        .arg(&state));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no request succeeded"), "{}", r.stderr);
    // Live-only options without --live aws are a usage error, exit 1 (never 2).
    let usage = run(driftlog()
        .args(["scan", "--regions", "all", "--plan"])
        .arg(&state));
    assert_eq!(usage.code, 1, "{}", usage.stderr);
}

#[test]
fn states_found_by_a_glob_or_a_backend_block() {
    let Some(moto) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let expected = seed(&moto, dir.path());
    // The state split in two stacks, and whole under a workspace key.
    moto.python(&format!(
        "import os\n\
         doc = json.load(open({state:?}))\n\
         net = [r for r in doc['resources'] if r['type'].startswith(('aws_vpc', 'aws_subnet', 'aws_security_group'))]\n\
         app = [r for r in doc['resources'] if r not in net]\n\
         s3.create_bucket(Bucket='tf-state')\n\
         for name, part in (('net', net), ('app', app)):\n\
         \x20   s3.put_object(Bucket='tf-state', Key=f'stacks/{{name}}/terraform.tfstate', Body=json.dumps(dict(doc, resources=part)))\n\
         s3.put_object(Bucket='tf-state', Key='stacks/README.md', Body=b'not a state')\n\
         s3.upload_file({state:?}, 'tf-state', 'workspaces/prod/app/terraform.tfstate')\n",
        state = dir.path().join("declared.tfstate").display().to_string()
    ));
    let glob = run(aws_env(&mut driftlog())
        .current_dir(dir.path())
        .args(["--endpoint-url", &moto.endpoint, "--store", "glob.db"])
        .args([
            "scan",
            "--declared",
            "s3://tf-state/stacks/**/terraform.tfstate",
            "--live",
            "aws",
        ])
        .args(["--managed-only", "--audit", "cloudtrail", "-f", "json"]));
    assert_eq!(glob.code, 2, "{}", glob.stderr);
    let glob = json(&glob);
    let inputs: Vec<&str> = glob["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        inputs,
        [
            "s3://tf-state/stacks/app/terraform.tfstate",
            "s3://tf-state/stacks/net/terraform.tfstate"
        ]
    );
    let changed: BTreeSet<&str> = glob["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "changed")
        .map(|f| f["address"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = expected["changed"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(changed, want);
    let web = glob["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["address"] == "aws_security_group.web")
        .unwrap();
    assert_eq!(web["stack"], "s3://tf-state/stacks/net/terraform.tfstate");
    // A rule in one stack and its group in another still cover each other: no false drift.
    assert!(!changed.contains("aws_security_group.db"));

    // The configuration's backend block names the state; the workspace picks the key.
    let config = dir.path().join("infra");
    std::fs::create_dir_all(config.join(".terraform")).unwrap();
    std::fs::write(config.join(".terraform/environment"), "prod").unwrap();
    std::fs::write(
        config.join("backend.tf"),
        format!(
            "terraform {{\n  backend \"s3\" {{\n    bucket               = \"tf-state\"\n    key                  = \"app/terraform.tfstate\"\n    region               = \"us-east-1\"\n    workspace_key_prefix = \"workspaces\"\n    assume_role = {{\n      role_arn = \"arn:aws:iam::123456789012:role/state-reader\"\n    }}\n    endpoints = {{\n      s3 = \"{}\"\n    }}\n  }}\n}}\n",
            moto.endpoint
        ),
    )
    .unwrap();
    // Through a counting proxy: the backend's role is assumed (STS) to fetch the state.
    let counting = Proxy::start(&moto, 0.0, "", 0);
    let backend = run(aws_env(&mut driftlog())
        .current_dir(dir.path())
        .env_remove("TF_WORKSPACE")
        .args([
            "--endpoint-url",
            &counting.endpoint,
            "--store",
            "backend.db",
        ])
        .args([
            "scan",
            "--terraform",
            "infra",
            "--live",
            "aws",
            "--managed-only",
        ])
        .args(["--audit", "cloudtrail", "-f", "json"]));
    assert_eq!(backend.code, 2, "{}", backend.stderr);
    let backend = json(&backend);
    assert_eq!(
        backend["inputs"][0]["path"],
        "s3://tf-state/workspaces/prod/app/terraform.tfstate"
    );
    assert_eq!(
        backend["summary"]["changed"],
        expected["changed"].as_object().unwrap().len()
    );
    assert_eq!(backend["summary"]["deleted"], 1);
    let stats = counting.stats();
    assert!(
        stats["by_service"]["sts"].as_u64().unwrap_or(0) >= 1,
        "{stats}"
    );

    // The audit logs straight from a trail bucket: today's delivery folder, listed by date.
    moto.python(&format!(
        "import gzip, time\n\
         s3.create_bucket(Bucket='trail')\n\
         day = time.strftime('%Y/%m/%d', time.gmtime())\n\
         body = gzip.compress(open({records:?}, 'rb').read())\n\
         s3.put_object(Bucket='trail', Key=f'AWSLogs/123456789012/CloudTrail/us-east-1/{{day}}/123456789012_CloudTrail_us-east-1_x.json.gz', Body=body)\n",
        records = dir.path().join("cloudtrail/records.json").display().to_string()
    ));
    let from_s3 = run(aws_env(&mut driftlog())
        .current_dir(dir.path())
        .args(["--endpoint-url", &moto.endpoint, "--store", "trail.db"])
        .args([
            "scan",
            "--declared",
            "declared.tfstate",
            "--live",
            "aws",
            "--managed-only",
        ])
        .args(["--audit", "s3://trail/", "-f", "json"]));
    assert_eq!(from_s3.code, 2, "{}", from_s3.stderr);
    let from_s3 = json(&from_s3);
    let creators: BTreeSet<&str> = from_s3["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "unmanaged")
        .map(|f| {
            f["attribution"]["caused_by"][0]["principal"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        creators,
        BTreeSet::from([
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:user/bob"
        ])
    );
}

/// Several accounts: each resource is read through the role of its ARN's account.
#[test]
fn each_account_is_read_through_its_role() {
    let Some(moto) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("declared.tfstate");
    moto.python(&format!(
        "sts = boto3.client('sts', endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         c = sts.assume_role(RoleArn='arn:aws:iam::222222222222:role/reader', RoleSessionName='seed')['Credentials']\n\
         other = boto3.client('sqs', endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'], aws_session_token=c['SessionToken'])\n\
         own = boto3.client('sqs', endpoint_url=endpoint, region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         resources = []\n\
         for client, account, name in ((own, '123456789012', 'own-q'), (other, '222222222222', 'other-q')):\n\
         \x20   url = client.create_queue(QueueName=name)['QueueUrl']\n\
         \x20   resources.append({{'mode': 'managed', 'type': 'aws_sqs_queue', 'name': name.replace('-', '_'), 'provider': 'provider[\"registry.terraform.io/hashicorp/aws\"]',\n\
         \x20       'instances': [{{'schema_version': 0, 'attributes': {{'id': url, 'name': name, 'arn': f'arn:aws:sqs:us-east-1:{{account}}:{{name}}', 'tags': {{}}, 'tags_all': {{}}}}}}]}})\n\
         json.dump({{'version': 4, 'terraform_version': '1.9.8', 'serial': 1, 'lineage': 'l', 'outputs': {{}}, 'resources': resources}}, open({:?}, 'w'))\n",
        state.display().to_string()
    ));
    let scan = |roles: &[&str]| {
        let mut cmd = driftlog();
        aws_env(&mut cmd).args(["--endpoint-url", &moto.endpoint]);
        for r in roles {
            cmd.args(["--role-arn", r]);
        }
        // Every region the account has enabled (DescribeRegions); the queues are read in theirs.
        run(cmd
            .args([
                "scan",
                "--regions",
                "all",
                "--no-attribution",
                "--managed-only",
                "--live",
                "aws",
                "-f",
                "json",
                "--declared",
            ])
            .arg(&state))
    };
    let with_role = scan(&["arn:aws:iam::222222222222:role/reader"]);
    assert_eq!(
        with_role.code, 0,
        "{}\n{}",
        with_role.stdout, with_role.stderr
    );
    assert_eq!(json(&with_role)["live"]["read"], 2);
    // Without the role, the other account's queue is looked for in the caller's: not found.
    let without = scan(&[]);
    assert_eq!(without.code, 2, "{}", without.stderr);
    let without = json(&without);
    assert_eq!(without["findings"][0]["address"], "aws_sqs_queue.other_q");
    assert_eq!(without["findings"][0]["kind"], "deleted");
}
