//! Issue 14: Kubernetes manifests against live objects, from files and from a cluster's API.
//!
//! The scenario in `tests/data/k8s/scenario/`: the shop namespace was applied with
//! `kubectl apply` at 09:00; then bob ran `kubectl edit` on the web Deployment's image, carol
//! ran `kubectl scale` on api, a CI script labelled the web Service, dave deleted the settings
//! ConfigMap and erin created a `debug` Deployment by hand. `live.json` is what `kubectl get -o
//! json` shows afterwards, with the managedFields the API server writes for each of those
//! clients; `audit.log` is the API server's `audit.k8s.io/v1` log of those requests, plus
//! decoys: alice's `get`, mallory's forbidden `patch` of the image, eve's patch of another
//! Deployment with the very image bob set, and the deployment controller's status writes.

mod common;
#[path = "common/kube_api.rs"]
mod kube_api;

use common::{driftlog, run, workspace_root, Run};
use kube_api::FakeApiServer;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The Secret's password in `manifests.yaml` and `live.json`: never in any output.
const CANARY: &str = "CANARY-k8s-secret-7f3a9e";
/// The same, base64-encoded, as a Secret's `data` holds it.
const CANARY_B64: &str = "Q0FOQVJZLWs4cy1zZWNyZXQtN2YzYTll";

fn scenario(file: &str) -> PathBuf {
    workspace_root()
        .join("crates/driftlog/tests/data/k8s/scenario")
        .join(file)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY) && !text.contains(CANARY_B64),
        "{what} shows the Secret's value"
    );
}

fn finding<'a>(report: &'a Value, address: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["address"] == address)
        .unwrap_or_else(|| panic!("no finding for {address}: {report:#}"))
}

/// (address, kind) of every finding.
fn summary(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["address"].as_str().unwrap().to_owned(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expected_findings() -> Vec<(String, String)> {
    [
        ("apps/v1/Deployment/shop/api", "changed"),
        ("apps/v1/Deployment/shop/debug", "unmanaged"),
        ("apps/v1/Deployment/shop/web", "changed"),
        ("v1/ConfigMap/shop/settings", "deleted"),
        ("v1/Service/shop/web", "changed"),
    ]
    .iter()
    .map(|(a, k)| (a.to_string(), k.to_string()))
    .collect()
}

/// The one change of a finding: (path, before, after, manager that last set it).
fn only_change(f: &Value) -> (String, Value, Value, String) {
    let changes = f["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{f:#}");
    let c = &changes[0];
    (
        c["path"].as_str().unwrap().to_owned(),
        c["before"].clone(),
        c["after"].clone(),
        c["set_by"]["manager"].as_str().unwrap_or("").to_owned(),
    )
}

fn cause(f: &Value) -> (String, String, String) {
    let a = &f["attribution"];
    let c = &a["caused_by"].as_array().unwrap()[0];
    (
        a["confidence"].as_str().unwrap().to_owned(),
        c["principal"].as_str().unwrap().to_owned(),
        c["event_id"].as_str().unwrap().to_owned(),
    )
}

/// Every event id any finding points at, as a cause, a candidate or an attempt.
fn mentioned(report: &Value, list: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["attribution"][list]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|e| e["principal"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn scan_files(store: &Path, format: &str) -> Run {
    run(driftlog().args([
        "--store",
        store.to_str().unwrap(),
        "scan",
        "--k8s-declared",
        scenario("manifests.yaml").to_str().unwrap(),
        "--k8s-live",
        scenario("live.json").to_str().unwrap(),
        "--audit",
        scenario("audit.log").to_str().unwrap(),
        "-f",
        format,
    ]))
}

#[test]
fn the_scenario_gives_exactly_its_five_changes_each_attributed_to_who_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.db");
    let r = scan_files(&store, "json");
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    assert_eq!(report["mode"], "kubernetes");
    assert_eq!(summary(&report), expected_findings());
    assert_eq!(report["summary"]["resources_scanned"], 5);

    // kubectl edit: the image, last set by kubectl-edit, bob's patch.
    let web = finding(&report, "apps/v1/Deployment/shop/web");
    assert_eq!(
        only_change(web),
        (
            "spec.template.spec.containers[name=web].image".into(),
            "nginx:1.25".into(),
            "nginx:1.26".into(),
            "kubectl-edit".into()
        )
    );
    assert_eq!(
        cause(web),
        (
            "certain".into(),
            "bob@example.com".into(),
            "4b9d2c1e-0a7f-4e3b-9c5d-000000000002".into()
        )
    );
    // kubectl scale: replicas through the scale subresource, carol.
    let api = finding(&report, "apps/v1/Deployment/shop/api");
    assert_eq!(
        only_change(api),
        ("spec.replicas".into(), 2.into(), 5.into(), "kubectl".into())
    );
    assert_eq!(api["changes"][0]["set_by"]["subresource"], "scale");
    assert_eq!(cause(api).1, "carol@example.com");
    assert_eq!(cause(api).0, "certain");
    // A label added by a script's service account: not in the manifest, never applied.
    let svc = finding(&report, "v1/Service/shop/web");
    assert_eq!(
        only_change(svc),
        (
            "metadata.labels.team".into(),
            Value::Null,
            "payments".into(),
            "kubectl-label".into()
        )
    );
    assert_eq!(
        cause(svc),
        (
            "certain".into(),
            "system:serviceaccount:ci:labeler".into(),
            "4b9d2c1e-0a7f-4e3b-9c5d-000000000006".into()
        )
    );
    let deleted = finding(&report, "v1/ConfigMap/shop/settings");
    assert_eq!(cause(deleted).1, "dave@example.com");
    assert_eq!(cause(deleted).0, "certain");
    let unmanaged = finding(&report, "apps/v1/Deployment/shop/debug");
    assert_eq!(cause(unmanaged).1, "erin@example.com");
    assert_eq!(cause(unmanaged).0, "certain");

    // The decoys: a read is nowhere; the forbidden patch is only an attempt; the patch of
    // another Deployment and the controller's status writes are not about these objects.
    let causes = mentioned(&report, "caused_by");
    let candidates = mentioned(&report, "candidates");
    let attempts = mentioned(&report, "attempts");
    for decoy in [
        "alice@example.com",
        "mallory@example.com",
        "eve@example.com",
    ] {
        assert!(!causes.contains(&decoy.to_owned()), "{decoy} chosen");
        assert!(
            !candidates.contains(&decoy.to_owned()),
            "{decoy} a candidate"
        );
    }
    assert_eq!(attempts, vec!["mallory@example.com".to_owned()]);
    assert!(!causes.iter().any(|p| p.contains("deployment-controller")));
    // Defaults, controller fields, the ReplicaSet the web Deployment owns, the namespace's own
    // ConfigMap, ServiceAccount and Endpoints, and `0.5` CPU against `500m`: none is drift.
    assert!(report["summary"]["suppressed"].as_u64().is_some());
}

#[test]
fn the_secret_never_shows_in_any_format_the_store_or_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    // The live password differs: reported as changed, masked.
    let mut live: Value =
        serde_json::from_slice(&std::fs::read(scenario("live.json")).unwrap()).unwrap();
    for item in live["items"].as_array_mut().unwrap() {
        if item["kind"] == "Secret" {
            item["data"]["password"] = "cm90YXRlZC1ieS1oYW5k".into(); // "rotated-by-hand"
        }
    }
    let live_path = dir.path().join("live.json");
    std::fs::write(&live_path, serde_json::to_vec(&live).unwrap()).unwrap();
    let store = dir.path().join("events.db");
    let ledger = dir.path().join("ledger.db");
    for format in ["console", "json", "markdown", "sarif", "html"] {
        let r = run(driftlog()
            .env("DRIFTLOG_LEDGER", &ledger)
            .env("DRIFTLOG_LEDGER_KEY", dir.path().join("ledger.key"))
            .args([
                "--store",
                store.to_str().unwrap(),
                "scan",
                "--k8s-declared",
                scenario("manifests.yaml").to_str().unwrap(),
                "--k8s-live",
                live_path.to_str().unwrap(),
                "--audit",
                scenario("audit.log").to_str().unwrap(),
                "-f",
                format,
            ]));
        assert_eq!(r.code, 2, "{format}: {}", r.stderr);
        assert_no_canary(format, &r.stdout);
        assert_no_canary(format, &r.stderr);
        assert!(
            !r.stdout.contains("rotated-by-hand") && !r.stdout.contains("cm90YXRlZC1ieS1oYW5k")
        );
        if format == "json" {
            let report = json(&r);
            let secret = finding(&report, "v1/Secret/shop/db-credentials");
            let change = &secret["changes"][0];
            assert_eq!(change["path"], "data.password");
            assert_eq!(change["sensitive"], true);
            assert_eq!(change["before"], "(sensitive)");
        }
    }
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            continue; // the live input itself
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_no_canary(&path.display().to_string(), &text);
    }
    let shown = run(driftlog()
        .env("DRIFTLOG_LEDGER", &ledger)
        .env("DRIFTLOG_LEDGER_KEY", dir.path().join("ledger.key"))
        .args(["ledger", "show", "--json"]));
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("kubernetes"),
        "the scans are in the ledger"
    );
    assert_no_canary("the ledger", &shown.stdout);
}

#[test]
fn manifests_from_stdin_and_a_namespace_flag() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = std::fs::read_to_string(scenario("manifests.yaml")).unwrap();
    // `helm template | driftlog scan --k8s-declared -`: manifests without a namespace take
    // the first `-n`.
    let stripped: String = manifests
        .lines()
        .filter(|l| l.trim() != "namespace: shop")
        .map(|l| format!("{l}\n"))
        .collect();
    let mut child = driftlog()
        .args([
            "--store",
            dir.path().join("s.db").to_str().unwrap(),
            "scan",
            "--no-attribution",
            "--k8s-declared",
            "-",
            "--k8s-live",
            scenario("live.json").to_str().unwrap(),
            "-n",
            "shop",
            "-f",
            "json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stripped.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary(&report), expected_findings());
    assert_eq!(report["inputs"][0]["path"], "<stdin>");

    // A label selector scopes unmanaged objects: the debug Deployment is `app=debug`.
    let r = run(driftlog().args([
        "--store",
        dir.path().join("s.db").to_str().unwrap(),
        "scan",
        "--no-attribution",
        "--k8s-declared",
        scenario("manifests.yaml").to_str().unwrap(),
        "--k8s-live",
        scenario("live.json").to_str().unwrap(),
        "-l",
        "app in (web,api)",
        "-f",
        "json",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let report = json(&r);
    assert!(!summary(&report).iter().any(|(a, _)| a.ends_with("/debug")));
}

#[test]
fn usage_errors_and_bad_manifests_exit_1_saying_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let store = store.to_str().unwrap();
    let live = scenario("live.json");
    let live = live.to_str().unwrap();
    // `-n` without Kubernetes inputs, `--server-side` without a cluster, a bad selector.
    for (args, says) in [
        (vec!["--plan", live, "-n", "shop"], "go with --k8s-declared"),
        (
            vec!["--k8s-declared", live, "--k8s-live", live, "--server-side"],
            "go with --k8s-live cluster",
        ),
        (
            vec![
                "--k8s-declared",
                live,
                "--k8s-live",
                live,
                "-l",
                "app in web",
            ],
            "label selector `app in web`",
        ),
    ] {
        let r = run(driftlog().args(["--store", store, "scan"]).args(&args));
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // A manifest that is not YAML: the file, the document and the line.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: [unclosed\n",
    )
    .unwrap();
    let r = run(driftlog().args([
        "--store",
        store,
        "scan",
        "--k8s-declared",
        bad.to_str().unwrap(),
        "--k8s-live",
        live,
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("bad.yaml (document 2"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn explain_takes_a_kubernetes_address() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.db");
    let r = run(driftlog().args([
        "--store",
        store.to_str().unwrap(),
        "ingest",
        scenario("audit.log").to_str().unwrap(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(driftlog().args([
        "--store",
        store.to_str().unwrap(),
        "explain",
        "apps/v1/Deployment/shop/web",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r);
    let principals: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["principal"]["id"].as_str().unwrap_or(""))
        .collect();
    assert!(principals.contains(&"bob@example.com"), "{v:#}");
    assert!(principals.contains(&"mallory@example.com"));
    assert!(
        !principals.contains(&"eve@example.com"),
        "another object's patch"
    );
    assert!(
        !principals.contains(&"carol@example.com"),
        "another object's scale"
    );
}

/// The scenario's live objects as the fake API server holds them.
fn cluster_objects() -> Vec<Value> {
    let live: Value =
        serde_json::from_slice(&std::fs::read(scenario("live.json")).unwrap()).unwrap();
    live["items"].as_array().unwrap().clone()
}

fn scan_cluster(server: &FakeApiServer, dir: &Path, extra: &[&str]) -> Run {
    let kubeconfig = server.kubeconfig(dir, "fake-bearer-token-0d5e");
    run(driftlog()
        .env_remove("KUBECONFIG")
        .args([
            "--store",
            dir.join("events.db").to_str().unwrap(),
            "scan",
            "--k8s-declared",
            scenario("manifests.yaml").to_str().unwrap(),
            "--k8s-live",
            "cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--context",
            "fake",
            "--audit",
            scenario("audit.log").to_str().unwrap(),
            "-f",
            "json",
        ])
        .args(extra))
}

#[test]
fn through_the_api_server_the_results_are_those_of_the_files() {
    let server = FakeApiServer::start(cluster_objects());
    let dir = tempfile::tempdir().unwrap();
    let r = scan_cluster(&server, dir.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        !r.stdout.contains("fake-bearer-token-0d5e")
            && !r.stderr.contains("fake-bearer-token-0d5e")
    );
    assert_no_canary("the report", &r.stdout);
    let from_cluster = json(&r);
    assert_eq!(from_cluster["inputs"][1]["detected"], "k8s_api");
    assert_eq!(
        from_cluster["inputs"][1]["path"],
        format!("{}/", server.url)
    );

    let files_dir = tempfile::tempdir().unwrap();
    let from_files = json(&scan_files(&files_dir.path().join("events.db"), "json"));
    let strip = |v: &Value| {
        let mut findings = v["findings"].clone();
        for f in findings.as_array_mut().unwrap() {
            f["attribution"]["window"]["until"] = Value::Null;
        }
        findings
    };
    assert_eq!(strip(&from_cluster), strip(&from_files));

    // What the client asked: discovery, paged lists in the shop namespace with the bearer
    // token, no writes.
    let seen = server.seen();
    let paths: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    for want in [
        "GET /api",
        "GET /api/v1",
        "GET /apis",
        "GET /apis/apps/v1",
        "GET /apis/apps/v1/namespaces/shop/deployments",
        "GET /api/v1/namespaces/shop/configmaps",
        "GET /api/v1/namespaces/shop/secrets",
    ] {
        assert!(paths.iter().any(|p| p == want), "no {want} in {paths:#?}");
    }
    assert!(
        seen.iter()
            .any(|s| s.path.ends_with("/deployments") && s.query.contains("continue=")),
        "lists are paged"
    );
    assert!(seen
        .iter()
        .all(|s| s.authorization == "Bearer fake-bearer-token-0d5e"));
    assert!(seen.iter().all(|s| s.method == "GET"), "nothing written");
}

#[test]
fn server_side_compares_an_apply_dry_run_and_writes_nothing() {
    let server = FakeApiServer::start(cluster_objects());
    let dir = tempfile::tempdir().unwrap();
    let r = scan_cluster(&server, dir.path(), &["--server-side"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_no_canary("the report", &r.stdout);
    let report = json(&r);
    assert_eq!(report["inputs"][1]["detected"], "k8s_api_server_side");
    // What an apply would change: the image and the replicas back, the ConfigMap re-created;
    // the debug Deployment is still nobody's. The label the script added is not among them:
    // an apply keeps fields another manager owns.
    assert_eq!(
        summary(&report),
        vec![
            (
                "apps/v1/Deployment/shop/api".to_owned(),
                "changed".to_owned()
            ),
            (
                "apps/v1/Deployment/shop/debug".to_owned(),
                "unmanaged".to_owned()
            ),
            (
                "apps/v1/Deployment/shop/web".to_owned(),
                "changed".to_owned()
            ),
            (
                "v1/ConfigMap/shop/settings".to_owned(),
                "deleted".to_owned()
            ),
        ]
    );
    let web = finding(&report, "apps/v1/Deployment/shop/web");
    assert_eq!(only_change(web).1, "nginx:1.25");
    assert_eq!(cause(web).1, "bob@example.com");

    // One dry-run apply per manifest that exists live, as the `driftlog` field manager.
    let patches: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.method == "PATCH")
        .collect();
    let mut names: Vec<&str> = patches
        .iter()
        .map(|p| p.path.rsplit('/').next().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["api", "db-credentials", "web", "web"]);
    for p in &patches {
        assert_eq!(p.content_type, "application/apply-patch+yaml");
        let body: Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(
            body["metadata"]["namespace"], "shop",
            "the manifest, namespaced"
        );
        for q in ["dryRun=All", "fieldManager=driftlog", "force=true"] {
            assert!(p.query.contains(q), "{} lacks {q}", p.query);
        }
    }
}

#[test]
fn an_unreachable_cluster_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n\
             users:\n- name: u\n  user:\n    token: t\n"
        ),
    )
    .unwrap();
    let r = run(driftlog().args([
        "--store",
        dir.path().join("s.db").to_str().unwrap(),
        "scan",
        "--k8s-declared",
        scenario("manifests.yaml").to_str().unwrap(),
        "--k8s-live",
        "cluster",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        r.stderr
    );
    // A missing context.
    let r = run(driftlog().args([
        "--store",
        dir.path().join("s.db").to_str().unwrap(),
        "scan",
        "--k8s-declared",
        scenario("manifests.yaml").to_str().unwrap(),
        "--k8s-live",
        "cluster",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--context",
        "nope",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("kubeconfig"), "{}", r.stderr);
}

/// A GET over plain HTTP/1.1 to `driftlog serve`; the body as JSON.
fn http_get(addr: &str, path: &str) -> Option<Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then_some(())?;
    serde_json::from_str(body).ok()
}

#[test]
fn serve_scans_a_kubernetes_stack_on_its_schedule() {
    let server = FakeApiServer::start(cluster_objects());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(dir.path(), "fake-bearer-token-0d5e");
    std::fs::create_dir(dir.path().join("audit")).unwrap();
    std::fs::copy(scenario("audit.log"), dir.path().join("audit/audit.log")).unwrap();
    std::fs::copy(
        scenario("manifests.yaml"),
        dir.path().join("manifests.yaml"),
    )
    .unwrap();
    let config = dir.path().join("driftlog.toml");
    std::fs::write(
        &config,
        format!(
            "[[stack]]\nname = \"shop\"\nenvironment = \"prod\"\nmanifests = \"manifests.yaml\"\nlive = \"cluster\"\n\
             kubeconfig = \"{}\"\ncontext = \"fake\"\nnamespaces = [\"shop\"]\nschedule = \"*/2 * * * * *\"\n\n\
             [[audit]]\npath = \"audit\"\nschedule = \"*/2 * * * * *\"\n\n\
             [store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"state/ledger.db\"\nkey = \"state/ledger.key\"\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut child = driftlog()
        .current_dir(dir.path())
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", &addr, "--poll-ms", "100"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    // The first run may come before the audit log is in: wait for one that attributes all five.
    let findings = loop {
        let found = http_get(&addr, "/api/v1/findings?stack=shop&state=open").and_then(|v| {
            let items = v["items"].as_array()?.clone();
            let attributed = items
                .iter()
                .filter(|f| f["finding"]["attribution"]["confidence"] == "certain")
                .count();
            (items.len() == 5 && attributed == 5).then_some(items)
        });
        if let Some(items) = found {
            break items;
        }
        if start.elapsed() > std::time::Duration::from_secs(90) {
            let _ = child.kill();
            panic!(
                "no attributed Kubernetes run in 90 s; serve.log:\n{}",
                std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let mut addresses: Vec<(String, String)> = findings
        .iter()
        .map(|f| {
            (
                f["finding"]["address"].as_str().unwrap().to_owned(),
                f["finding"]["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    addresses.sort();
    assert_eq!(addresses, expected_findings());
    let all = http_get(&addr, "/api/v1/findings?stack=shop").unwrap();
    assert_no_canary("the API", &all.to_string());
    let _ = child.kill();
    let _ = child.wait();
}
