//! Issue 10 §1: audit logs as real producers write them, each on a small fixture of our own
//! (`tests/data/shapes/`) with the same shape as the producer's output: sign-in failures,
//! CloudWatch Logs subscriptions (CloudTrail and EKS, gzip'd and concatenated as Firehose
//! delivers them), AKS diagnostic exports, GKE entries, workload identity federation, Azure
//! service principals and managed identities, other text encodings, and files that are JSON
//! but no audit log.

mod common;

use common::TempStore;
use std::io::Write;
use std::path::{Path, PathBuf};

fn shape(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/shapes")
        .join(file)
}

fn strs(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn ingest_ok(store: &TempStore, files: &[&Path]) {
    let r = store.ingest(files);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
}

fn ids(events: &[serde_json::Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect()
}

#[test]
fn sign_in_failures_are_failures_and_sign_ins_are_writes() {
    let store = TempStore::new();
    ingest_ok(&store, &[&shape("cloudtrail-signin.json")]);

    let failed = store.event("7c1d0000-0000-4000-8000-000000000001");
    assert_eq!(failed["action"], "ConsoleLogin");
    assert_eq!(
        failed["outcome"],
        serde_json::json!({"result": "failure", "code": "ConsoleLogin=Failure", "message": "Failed authentication"})
    );
    assert_eq!(
        failed["read_only"], false,
        "a sign-in changes who holds credentials"
    );
    assert_eq!(failed["actor"]["kind"], "console");
    // No ARN on a failed sign-in: the user name identifies who tried.
    assert_eq!(failed["principal"]["id"], "dev-sam");

    let ok = store.event("7c1d0000-0000-4000-8000-000000000002");
    assert_eq!(ok["outcome"]["result"], "success");
    assert_eq!(ok["read_only"], false);

    let switch = store.event("7c1d0000-0000-4000-8000-000000000003");
    assert_eq!(switch["outcome"]["code"], "SwitchRole=Failure");
    assert_eq!(switch["outcome"]["message"], "Role is not assumable");
    assert_eq!(switch["read_only"], true, "what the record says wins");

    // `errorMessage` alone is a failure too.
    let ssm = store.event("7c1d0000-0000-4000-8000-000000000004");
    assert_eq!(
        ssm["outcome"],
        serde_json::json!({"result": "failure", "code": "Failure", "message": "Instance is not registered"})
    );
    // The agent's host facts are not resources.
    assert_eq!(strs(&ssm["resources"]), ["i-0abc1234def567890"]);

    let writes = store.events(&["--writes-only", "--action", "ConsoleLogin"]);
    assert_eq!(writes.len(), 2);
}

/// Gzip each file as one member and concatenate the members, as Firehose delivers a stream.
fn firehose_object(dir: &Path, parts: &[&str]) -> PathBuf {
    let out = dir.join("firehose-delivery-1.gz");
    let mut bytes = Vec::new();
    for part in parts {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let text = std::fs::read(shape(part)).unwrap();
        // Firehose writes records back to back, without newlines.
        gz.write_all(text.trim_ascii_end()).unwrap();
        bytes.extend(gz.finish().unwrap());
    }
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn cloudwatch_logs_subscription_data_from_firehose() {
    let dir = tempfile::tempdir().unwrap();
    let object = firehose_object(
        dir.path(),
        &["cwl-cloudtrail-1.json", "cwl-cloudtrail-2.json"],
    );
    let store = TempStore::new();
    let r = store.ingest(&[&object, "--format".as_ref(), "json".as_ref()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = common::json(&r);
    assert_eq!(summary["events"]["inserted"], 3);
    assert_eq!(summary["records"]["ignored"], 1, "the control message");

    let sg = store.events(&["--resource", "sg-0cwl000000000001"]);
    assert_eq!(ids(&sg), ["c1c10000-0000-4000-8000-000000000001"]);
    assert_eq!(
        sg[0]["principal"]["issuer"],
        "arn:aws:iam::111122223333:role/Admin"
    );
    assert_eq!(sg[0]["principal"]["mfa"], true);
    assert_eq!(sg[0]["account"], "111122223333");
    let queue = store.events(&[
        "--resource",
        "https://sqs.eu-west-1.amazonaws.com/111122223333/cwl-jobs",
    ]);
    assert_eq!(queue[0]["action"], "DeleteQueue");

    // The evidence is the record itself, not the envelope.
    let raw = common::run(common::driftlog().arg("--store").arg(store.path()).args([
        "events",
        "--action",
        "DeleteQueue",
        "--raw",
        "-f",
        "json",
    ]));
    let raw = &common::json(&raw)["events"][0]["raw"];
    assert_eq!(raw["eventID"], "c1c10000-0000-4000-8000-000000000003");
    assert!(raw.get("logEvents").is_none());

    // With compression on, Firehose gzips the already gzip'd data again.
    let twice = dir.path().join("firehose-delivery-2.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&object).unwrap()).unwrap();
    std::fs::write(&twice, gz.finish().unwrap()).unwrap();
    let again = TempStore::new();
    ingest_ok(&again, &[&twice]);
    assert_eq!(again.events(&[]), store.events(&[]));
}

#[test]
fn kubernetes_objects_are_found_whatever_log_names_them() {
    let store = TempStore::new();
    let r = store.ingest(&[
        &shape("cwl-eks-audit.json"),
        &shape("aks-audit.json"),
        &shape("gke-audit.jsonl"),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = common::json(&r);
    assert_eq!(summary["events"]["inserted"], 7);
    assert_eq!(
        summary["records"]["ignored"], 1,
        "the EKS authenticator's text line"
    );

    // One object, three logs: EKS through CloudWatch Logs, AKS diagnostics, GKE.
    for query in ["namespaces/shop/deployments/web", "shop/web"] {
        let found = store.events(&["--resource", query]);
        assert_eq!(
            ids(&found),
            [
                "eks00000-0000-4000-8000-000000000001",
                "aks00000-0000-4000-8000-000000000001",
                "gke-0001"
            ],
            "{query}"
        );
    }
    let eks = store.event("eks00000-0000-4000-8000-000000000001");
    assert_eq!(eks["source"], "kubernetes");
    assert_eq!(
        eks["account"], "prod-eks",
        "the log group names the cluster"
    );
    assert_eq!(eks["action"], "patch deployments/scale");
    assert_eq!(eks["actor"]["kind"], "kubectl");

    let aks = store.event("aks00000-0000-4000-8000-000000000001");
    assert_eq!(aks["source"], "kubernetes");
    assert_eq!(
        aks["account"],
        "/subscriptions/00000000-1111-2222-3333-444444444444/resourcegroups/rg-prod/providers/microsoft.containerservice/managedclusters/aks-prod"
    );
    assert_eq!(aks["principal"]["id"], "dana@example.com");
    let admin = store.event("aks00000-0000-4000-8000-000000000002");
    assert_eq!(admin["action"], "create clusterroles");
    assert_eq!(admin["actor"]["kind"], "service");

    let cluster_role = store.events(&["--resource", "clusterroles/ops-admin"]);
    assert_eq!(
        ids(&cluster_role),
        ["aks00000-0000-4000-8000-000000000002", "gke-0003"]
    );
    let gke = store.event("gke-0003");
    assert_eq!(gke["outcome"]["code"], "PERMISSION_DENIED");
    assert_eq!(gke["actor"]["kind"], "kubectl");
    assert_eq!(gke["principal"]["type"], "user");

    // System components are services in every log that names them.
    for id in ["eks00000-0000-4000-8000-000000000002", "gke-0002"] {
        let e = store.event(id);
        assert_eq!(e["actor"]["kind"], "service", "{id}");
    }
    let config = store.events(&["--resource", "shop/web-config"]);
    assert_eq!(
        ids(&config),
        ["eks00000-0000-4000-8000-000000000002", "gke-0002"]
    );
}

#[test]
fn gcp_federated_and_system_principals() {
    let store = TempStore::new();
    ingest_ok(&store, &[&shape("gcp-identities.jsonl")]);
    let wif = store.event("wif-0001");
    let subject = "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/github/subject/repo:example/infra:ref:refs/heads/main";
    assert_eq!(wif["principal"]["id"], subject);
    assert_eq!(wif["principal"]["type"], "federated");
    assert_eq!(wif["actor"]["kind"], "terraform");

    let impersonated = store.event("wif-0002");
    assert_eq!(
        impersonated["principal"]["id"],
        "deployer@shop-prod-1234.iam.gserviceaccount.com"
    );
    assert_eq!(impersonated["principal"]["on_behalf_of"], subject);
    let resources = strs(&impersonated["resources"]);
    assert!(resources.contains(&"web-1"), "{resources:?}");
    assert!(
        resources.iter().all(|r| !r.contains("operation")),
        "operations are not resources: {resources:?}"
    );

    let system = store.event("sys-0001");
    assert_eq!(system["actor"]["kind"], "service");
    assert_eq!(system["actor"]["rule"], "principal:system@google.com");
}

#[test]
fn azure_service_principals_and_managed_identities() {
    let store = TempStore::new();
    ingest_ok(&store, &[&shape("azure-identities.json")]);
    let events = store.events(&[]);
    assert_eq!(events.len(), 2);
    let sp = &events[0];
    assert_eq!(
        sp["principal"]["id"],
        "9f1e0000-aaaa-4bbb-8ccc-000000000001"
    );
    assert_eq!(sp["principal"]["type"], "ServicePrincipal");
    assert_eq!(sp["actor"]["kind"], "sdk");
    assert_eq!(sp["service"], "microsoft.network", "case-normalized");
    let mi = &events[1];
    assert_eq!(
        mi["principal"]["id"],
        "7a7a0000-bbbb-4ccc-8ddd-000000000003"
    );
    assert_eq!(mi["principal"]["type"], "ManagedIdentity");
    assert_eq!(mi["actor"]["rule"], "claims.xms_mirid (managed identity)");
}

fn utf16(text: &[u8], big_endian: bool) -> Vec<u8> {
    let text = std::str::from_utf8(text).unwrap();
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

#[test]
fn utf16_and_byte_order_marks_read_the_same() {
    let text = std::fs::read(shape("cloudtrail-signin.json")).unwrap();
    let lines = std::fs::read(shape("gke-audit.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut variants = vec![
        ("utf16le.json", utf16(&text, false)),
        ("utf16be.json", utf16(&text, true)),
        ("bom.json", [&b"\xEF\xBB\xBF"[..], &text].concat()),
        ("lines-utf16le.jsonl", utf16(&lines, false)),
    ];
    // PowerShell's output, gzip'd on its way to a bucket.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&utf16(&text, false)).unwrap();
    variants.push(("utf16le.json.gz", gz.finish().unwrap()));

    let reference = TempStore::new();
    ingest_ok(&reference, &[&shape("cloudtrail-signin.json")]);
    let want: Vec<serde_json::Value> = reference.events(&[]);
    for (name, bytes) in variants {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let store = TempStore::new();
        ingest_ok(&store, &[&path]);
        let got = store.events(&[]);
        if name.starts_with("lines") {
            assert_eq!(ids(&got), ["gke-0001", "gke-0002", "gke-0003"], "{name}");
        } else {
            assert_eq!(got, want, "{name}");
        }
    }
}

#[test]
fn json_that_is_no_audit_log_is_named_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        shape("cloudtrail-signin.json"),
        dir.path().join("trail.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("export.json"),
        br#"{"exportedAt": "2026-11-20", "rows": [{"a": 1}]}"#,
    )
    .unwrap();
    // Names that say they are not logs are passed over quietly.
    std::fs::copy(shape("MANIFEST.json"), dir.path().join("MANIFEST.json")).unwrap();
    std::fs::write(dir.path().join("README.md"), "# logs\n").unwrap();

    let store = TempStore::new();
    let r = store.ingest(&[dir.path(), "--format".as_ref(), "json".as_ref()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary = common::json(&r);
    assert_eq!(summary["files"]["failed"], 1);
    assert_eq!(summary["files"]["not_logs"], 2);
    assert_eq!(summary["events"]["inserted"], 4);
    assert!(
        r.stderr.contains("export.json: skipped the whole file: JSON, but no known audit log shape (not a recognised audit record"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("MANIFEST"), "{}", r.stderr);
}

#[test]
fn kubernetes_audit_logs_in_container_logs() {
    // The API server with `--audit-log-path=-`, collected by Docker's json-file driver (first
    // line) and by Fluent Bit with its Kubernetes metadata (third); its own klog lines in the
    // same stream are not records.
    let store = TempStore::new();
    let r = store.ingest(&[
        &shape("apiserver-container-log.jsonl"),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let summary = common::json(&r);
    assert_eq!(summary["events"]["inserted"], 2);
    assert_eq!(summary["records"]["ignored"], 1);
    let patch = store.event("stdout-0001");
    assert_eq!(patch["action"], "patch secrets");
    assert_eq!(patch["actor"]["kind"], "kubectl");
    let delete = store.event("stdout-0002");
    assert_eq!(delete["actor"]["kind"], "terraform");
    assert!(strs(&delete["resources"]).contains(&"shop/old-creds"));
}
