//! Issue 13: `driftlog serve` end to end. Two stacks in two environments (gen-corpus
//! scenarios) and their CloudTrail directories, a real `driftlog serve` process on loopback, a
//! webhook receiver that checks the signature itself (its own HMAC, not driftlog's code), and
//! the API and dashboard read over HTTP.
//!
//! A drift planted in prod between two scheduled runs gives exactly one webhook, naming who
//! caused it; it shows in the API and on the dashboard with its cause; reverting it resolves it
//! with one more webhook. The scenario's canary secret never appears in any answer.

mod common;

use common::{driftlog, gen_corpus};
use driftlog_postgres::testing::{server, Database};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec-test-7f3a";
const ADMIN: &str = "dl_admin_token_for_tests";
const READER: &str = "dl_read_token_for_tests";

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on 127.0.0.1: records every request and answers 200.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            sink.lock().unwrap().push(Received { headers, body });
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, got)
}

/// The receiver's own check of `Driftlog-Signature: t=…,v1=…` (docs/service.md).
fn signature_ok(r: &Received) -> bool {
    let Some(header) = r.header("driftlog-signature") else {
        return false;
    };
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v,
            Some(("v1", v)) => v1 = v,
            _ => {}
        }
    }
    let age = jiff::Timestamp::now().as_second() - t.parse::<i64>().unwrap_or(0);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&r.body);
    age.abs() < 300 && hex::encode(mac.finalize().into_bytes()) == v1
}

struct Http {
    addr: String,
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Http {
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap();
        // Bodies come whole here (content-length), or chunked: undo the chunking.
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, tail)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&tail[..n]);
                rest = &tail[n + 2..];
            }
            out
        } else {
            body.to_owned()
        };
        Answer {
            status,
            headers: head.to_owned(),
            body,
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        self.request("GET", path, &headers, "")
    }
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scenario(seed: u32, out: &Path) {
    let tool = gen_corpus().unwrap();
    let status = Command::new("python3")
        .arg(tool)
        .args([
            "scenario",
            "--resources",
            "20",
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Start `driftlog serve` on a free loopback port (its log in `dir/serve.log`) and wait until
/// it is ready.
fn serve(dir: &Path, config: &Path, env: &[(&str, &str)]) -> (Server, Http) {
    let port = free_port();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut cmd = driftlog();
    cmd.args(["serve", "--config"])
        .arg(config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--poll-ms",
            "100",
            "--lease",
            "10",
            "--grace",
            "2",
        ])
        .args(["--public-url", "http://dashboard.test"])
        .env("DRIFTLOG_LOG_LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().unwrap());
    let http = Http {
        addr: format!("127.0.0.1:{port}"),
    };
    wait_for("/readyz", Duration::from_secs(60), || {
        TcpStream::connect(&http.addr).is_ok() && http.get("/readyz", None).status == 200
    });
    (server, http)
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[test]
fn a_planted_drift_alerts_once_shows_with_its_cause_and_resolves_when_reverted() {
    if gen_corpus().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (dev, prod) = (dir.path().join("dev"), dir.path().join("prod"));
    scenario(1, &dev);
    scenario(2, &prod);
    let key: Value =
        serde_json::from_slice(&std::fs::read(prod.join("answer-key.json")).unwrap()).unwrap();
    let planted = &key["drifted"][0];
    let canary = key["canary_secret"].as_str().unwrap().to_owned();
    // prod starts as declared; the drift is planted later by swapping in the drifted state.
    let prod_live = dir.path().join("prod-live.tfstate");
    std::fs::copy(prod.join("declared.tfstate"), &prod_live).unwrap();

    let (hook, received) = receiver();
    let config = format!(
        r#"
[store]
path = "state/events.db"

[ledger]
path = "state/ledger.db"
key = "state/ledger.key"

[[stack]]
name = "app-dev"
environment = "dev"
state = "dev/declared.tfstate"
live = "dev/live.tfstate"
schedule = "*/2 * * * * *"

[[stack]]
name = "app-prod"
environment = "prod"
state = "prod/declared.tfstate"
live = "prod-live.tfstate"
schedule = "*/2 * * * * *"

[[audit]]
path = "dev/cloudtrail"
schedule = "*/5 * * * * *"

[[audit]]
path = "prod/cloudtrail"
schedule = "*/5 * * * * *"

[[compare]]
name = "app"
stacks = ["app-dev", "app-prod"]
schedule = "*/10 * * * * *"

[[notify]]
name = "prod-hook"
kind = "webhook"
url_env = "TEST_HOOK_URL"
secret_env = "TEST_HOOK_SECRET"
environments = ["prod"]

[[token]]
name = "ops-admin"
role = "admin"
sha256 = "{}"

[[token]]
name = "ci"
role = "read"
sha256 = "{}"
"#,
        sha(ADMIN),
        sha(READER)
    );
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let check = common::run(driftlog().args(["config", "check"]).arg(&config_path));
    assert_eq!(check.code, 0, "{}", check.stderr);

    let (mut server, http) = serve(
        dir.path(),
        &config_path,
        &[
            ("TEST_HOOK_URL", hook.as_str()),
            ("TEST_HOOK_SECRET", SECRET),
        ],
    );
    let serve_log = || std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert_eq!(http.get("/healthz", None).body, "ok\n");

    // Tokens: none is 401, a reader may read but not write, an admin may write.
    assert_eq!(http.get("/api/v1/stacks", None).status, 401);
    assert_eq!(http.get("/api/v1/stacks", Some("dl_wrong")).status, 401);

    // Both stacks run; dev has its scenario's drift from the start, prod none.
    let stacks = |http: &Http| http.get("/api/v1/stacks", Some(READER)).json();
    wait_for(
        "a first run of each stack after the audit logs",
        Duration::from_secs(90),
        || {
            let s = stacks(&http);
            let ran = s["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["status"]["last_run"]["id"].is_i64());
            let events = http.get("/api/v1/runs?limit=100", Some(READER)).json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["outcome"] == "ingested")
                .count();
            ran && events >= 2
        },
    );
    // Runs after the ingests attribute dev's drift.
    let dev_cause = || {
        let f = http
            .get("/api/v1/findings?stack=app-dev&state=open", Some(READER))
            .json();
        f["items"][0]["finding"]["attribution"]["caused_by"][0]["principal"].clone()
    };
    wait_for("dev's drift attributed", Duration::from_secs(60), || {
        dev_cause().is_string()
    });
    let dev_key: Value =
        serde_json::from_slice(&std::fs::read(dev.join("answer-key.json")).unwrap()).unwrap();
    assert_eq!(
        dev_cause(),
        dev_key["drifted"][0]["caused_by"]["principal_arn"]
    );
    let s = stacks(&http);
    let prod_status = s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "app-prod")
        .unwrap();
    assert_eq!(prod_status["status"]["open"], 0, "{s}");
    assert!(
        received.lock().unwrap().is_empty(),
        "dev's findings are not for the prod target"
    );

    // Plant the drift between two scheduled runs.
    let runs_before = http
        .get("/api/v1/runs?stack=app-prod&limit=1", Some(READER))
        .json()["items"][0]["id"]
        .as_i64()
        .unwrap();
    std::fs::copy(prod.join("live.tfstate"), &prod_live).unwrap();
    wait_for("the webhook", Duration::from_secs(60), || {
        !received.lock().unwrap().is_empty()
    });
    // Two more prod runs: the same drift is not news.
    let latest_prod_run = || {
        http.get("/api/v1/runs?stack=app-prod&limit=1", Some(READER))
            .json()["items"][0]["id"]
            .as_i64()
            .unwrap()
    };
    let after = latest_prod_run();
    wait_for("two more prod runs", Duration::from_secs(60), || {
        latest_prod_run() >= after + 2
    });
    let got = received.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        1,
        "exactly one webhook: {:?}\n{}",
        got,
        serve_log()
    );
    let hook_call = &got[0];
    assert!(
        signature_ok(hook_call),
        "the receiver verifies the signature: {:?}",
        hook_call.headers
    );
    assert!(hook_call.header("driftlog-delivery").is_some());
    let payload: Value = serde_json::from_slice(&hook_call.body).unwrap();
    assert_eq!(payload["format_version"], "1.0");
    assert_eq!(payload["run"]["stack"], "app-prod");
    assert!(payload["run"]["id"].as_i64().unwrap() > runs_before);
    let change = &payload["changes"][0];
    assert_eq!(payload["changes"].as_array().unwrap().len(), 1, "{payload}");
    assert_eq!(change["change"], "new");
    assert_eq!(change["address"], planted["address"]);
    assert_eq!(
        change["caused_by"]["principal"],
        planted["caused_by"]["principal_arn"]
    );
    assert_eq!(
        change["caused_by"]["event_id"],
        planted["caused_by"]["eventID"]
    );
    let id = change["finding_id"].as_i64().unwrap();
    assert_eq!(
        change["url"],
        format!("http://dashboard.test/findings/{id}")
    );

    // The API has it, with its cause and evidence.
    let f = http.get(&format!("/api/v1/findings/{id}"), Some(READER));
    assert_eq!(f.status, 200);
    assert!(f
        .headers
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
    let f = f.json();
    assert_eq!(
        (f["state"].as_str(), f["environment"].as_str()),
        (Some("open"), Some("prod"))
    );
    assert_eq!(f["finding"]["attribution"]["confidence"], "certain");
    let listed = http
        .get(
            "/api/v1/findings?environment=prod&state=open&kind=changed",
            Some(READER),
        )
        .json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        http.get("/api/v1/findings?kind=bogus", Some(READER)).status,
        400
    );
    assert_eq!(
        http.get("/api/v1/findings/999999", Some(READER)).status,
        404
    );
    let e = http.get("/api/v1/findings?limit=5000", Some(READER));
    assert_eq!(e.status, 400);
    assert!(e.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 1000"));

    // The event search reaches the cause.
    let principal = planted["caused_by"]["principal_arn"].as_str().unwrap();
    let ev = http
        .get(
            &format!(
                "/api/v1/events?principal={}&writes_only=true",
                principal.replace(':', "%3A").replace('/', "%2F")
            ),
            Some(READER),
        )
        .json();
    assert!(
        ev["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_id"] == planted["caused_by"]["eventID"]),
        "{ev}"
    );

    // The dashboard shows it with its cause, to a signed-in reader.
    let page = http.get(&format!("/findings/{id}"), Some(READER));
    assert_eq!(page.status, 200);
    assert!(page.body.contains(principal), "the cause is on the page");
    assert!(page
        .body
        .contains(planted["caused_by"]["eventID"].as_str().unwrap()));
    let signin = http.get("/", None);
    assert_eq!(signin.status, 303, "no token: to the sign-in page");
    let overview = http.request(
        "GET",
        "/",
        &[("cookie", &format!("driftlog_token={READER}"))],
        "",
    );
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("app-prod") && overview.body.contains("<svg"));

    // Acknowledging is for admins; the cookie alone cannot write (CSRF).
    let ack = |token: &str| {
        http.request(
            "POST",
            &format!("/api/v1/findings/{id}/ack"),
            &[
                ("authorization", &format!("Bearer {token}")),
                ("content-type", "application/json"),
            ],
            r#"{"note":"known, fix in PR 12"}"#,
        )
    };
    assert_eq!(ack(READER).status, 403);
    let csrf = http.request(
        "POST",
        &format!("/api/v1/findings/{id}/ack"),
        &[
            ("cookie", &format!("driftlog_token={ADMIN}")),
            ("content-type", "application/json"),
        ],
        "{}",
    );
    assert_eq!(csrf.status, 403, "{}", csrf.body);
    // A poller's conditional request: 304 while nothing changed (a scheduled run may slip in
    // between, so a few tries), and the acknowledgement changes the page and its ETag.
    let open_prod = "/api/v1/findings?environment=prod&state=open";
    let etag_of = |a: &Answer| {
        a.headers
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("etag: ")
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("no ETag in {}", a.headers))
    };
    let conditional = |tag: &str| {
        http.request(
            "GET",
            open_prod,
            &[
                ("authorization", &format!("Bearer {READER}")),
                ("if-none-match", tag),
            ],
            "",
        )
    };
    let not_modified = (0..20).any(|_| {
        let tag = etag_of(&http.get(open_prod, Some(READER)));
        let again = conditional(&tag);
        assert!(again.status == 304 || etag_of(&again) != tag);
        again.status == 304 && again.body.is_empty()
    });
    assert!(not_modified, "an unchanged page answers 304");
    let before_ack = etag_of(&http.get(open_prod, Some(READER)));
    let acked = ack(ADMIN);
    assert_eq!(acked.status, 200, "{}", acked.body);
    assert_eq!(acked.json()["acknowledged"]["by"], "ops-admin");
    let after_ack = conditional(&before_ack);
    assert_eq!(after_ack.status, 200, "the acknowledgement is news");
    assert_ne!(etag_of(&after_ack), before_ack);
    let items = after_ack.json()["items"].as_array().unwrap().clone();
    let mine = items
        .iter()
        .find(|i| i["id"] == id)
        .expect("the finding is listed");
    assert_eq!(
        mine["acknowledged"]["by"], "ops-admin",
        "a kept page is not served after a change"
    );

    // Metrics count the open finding by stack, environment and kind.
    let metrics = http.get("/metrics", Some(READER));
    assert!(
        metrics.body.contains(
            r#"driftlog_open_findings{stack="app-prod",environment="prod",kind="changed"} 1"#
        ),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("driftlog_runs_total"));

    // Revert: the next run resolves it, with one more webhook.
    std::fs::copy(prod.join("declared.tfstate"), &prod_live).unwrap();
    wait_for("the resolved webhook", Duration::from_secs(60), || {
        received.lock().unwrap().len() >= 2
    });
    let after = latest_prod_run();
    wait_for("two more prod runs", Duration::from_secs(60), || {
        latest_prod_run() >= after + 2
    });
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{}", serve_log());
    assert!(signature_ok(&got[1]));
    let resolved: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(resolved["changes"][0]["change"], "resolved");
    assert_eq!(resolved["changes"][0]["finding_id"], id);
    let f = http
        .get(&format!("/api/v1/findings/{id}"), Some(READER))
        .json();
    assert_eq!(f["state"], "resolved");
    let alerts = http.get("/api/v1/alerts", Some(READER)).json();
    assert!(
        alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["state"] == "delivered"),
        "{alerts}"
    );

    // The comparison ran on its own schedule.
    let runs = http.get("/api/v1/runs?limit=500", Some(READER)).json();
    assert!(
        runs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["job"] == "compare:app" && r["outcome"] == "compared"),
        "{runs}"
    );

    // No answer carried the scenario's secret.
    for path in [
        "/api/v1/findings?limit=1000",
        "/api/v1/runs?limit=1000",
        "/api/v1/alerts",
        "/",
    ] {
        let body = http.get(path, Some(READER)).body;
        assert!(!body.contains(&canary), "{path} leaks the canary");
    }
    for r in &got {
        assert!(!String::from_utf8_lossy(&r.body).contains(&canary));
    }
    assert!(!serve_log().contains(&canary));
    assert!(!serve_log().contains(&hook), "the webhook URL is a secret");

    // SIGTERM: a clean stop.
    let pid = server.0.id();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}\n{}", serve_log());
    assert!(serve_log().contains("stopped"));
}

/// The dashboard in Debian's Chromium: each page loads with no console error, shows the
/// numbers the API has, and its screenshot is a real page (kept with
/// `DRIFTLOG_KEEP_SCREENSHOTS=DIR`). No tokens here: on loopback the dashboard is open.
#[test]
fn the_dashboard_renders_in_chromium_with_the_numbers_of_the_api() {
    let Some(chromium) = common::browser::chromium() else {
        return;
    };
    if gen_corpus().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(1, &dir.path().join("dev"));
    scenario(2, &dir.path().join("prod"));
    scenario(3, &dir.path().join("staging"));
    let key: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("prod/answer-key.json")).unwrap())
            .unwrap();
    let mut config = String::new();
    for env in ["dev", "staging", "prod"] {
        config.push_str(&format!(
            "[[stack]]\nname = \"app-{env}\"\nenvironment = \"{env}\"\nstate = \"{env}/declared.tfstate\"\nlive = \"{env}/live.tfstate\"\nschedule = \"*/2 * * * * *\"\n\n[[audit]]\npath = \"{env}/cloudtrail\"\nschedule = \"*/3 * * * * *\"\n\n"
        ));
    }
    config.push_str("[[compare]]\nname = \"app\"\nstacks = [\"app-staging\", \"app-prod\"]\nschedule = \"*/4 * * * * *\"\n\n[store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"state/ledger.db\"\nkey = \"state/ledger.key\"\n");
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let (_server, http) = serve(dir.path(), &config_path, &[]);
    let prod_finding =
        || http.get("/api/v1/findings?stack=app-prod", None).json()["items"][0].clone();
    wait_for(
        "prod's drift attributed, after a few runs",
        Duration::from_secs(90),
        || {
            let f = prod_finding();
            f["finding"]["attribution"]["caused_by"][0]["principal"].is_string()
                && http.get("/api/v1/runs?stack=app-prod&limit=5", None).json()["items"]
                    .as_array()
                    .unwrap()
                    .len()
                    >= 4
        },
    );
    let f = prod_finding();
    let id = f["id"].as_i64().unwrap();
    // The resource's story through the API: its finding and the events naming it.
    let address = f["address"].as_str().unwrap();
    let encoded: String = address
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let story = http
        .get(&format!("/api/v1/timeline?resource={encoded}"), None)
        .json();
    assert_eq!(story["findings"][0]["id"], id, "{story}");
    let cause = f["finding"]["attribution"]["caused_by"][0]["event_id"].clone();
    assert!(
        story["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_id"] == cause),
        "the causing event is in the timeline: {story}"
    );
    wait_for(
        "the comparison's first run",
        Duration::from_secs(30),
        || {
            !http.get("/api/v1/runs?job=compare:app", None).json()["items"]
                .as_array()
                .unwrap()
                .is_empty()
        },
    );
    let ack = http.request(
        "POST",
        &format!("/api/v1/findings/{id}/ack"),
        &[],
        r#"{"note":"tracked in OPS-12"}"#,
    );
    assert_eq!(ack.status, 200, "{}", ack.body);
    let stacks = http.get("/api/v1/stacks", None).json();
    let open: i64 = stacks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"]["open"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(open, 3, "one drift per scenario: {stacks}");

    let shots = dir.path().join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    let base = format!("http://{}", http.addr);
    let principal = key["drifted"][0]["caused_by"]["principal_arn"]
        .as_str()
        .unwrap();
    let pages: [(&str, String, Vec<String>); 5] = [
        (
            "overview",
            format!("{base}/"),
            vec![
                r#"id="open-total">3<"#.into(),
                "app-prod".into(),
                "app-staging".into(),
                "app-dev".into(),
                "<polyline".into(),
                "Environments".into(),
                " ago".into(),
            ],
        ),
        (
            "stack",
            format!("{base}/stacks/app-prod"),
            vec![
                "Open findings (1)".into(),
                principal.into(),
                "Scan now".into(),
                "anonymous".into(),
            ],
        ),
        (
            "finding",
            format!("{base}/findings/{id}"),
            vec![
                f["address"].as_str().unwrap().into(),
                principal.into(),
                "certain".into(),
                r#"class="ev cause""#.into(),
                "tracked in OPS-12".into(),
                key["drifted"][0]["caused_by"]["eventID"]
                    .as_str()
                    .unwrap()
                    .into(),
            ],
        ),
        (
            "comparison",
            format!("{base}/comparisons/app"),
            vec![
                r#"id="matrix""#.into(),
                r#"class="cell g0""#.into(),
                "unexpected differences".into(),
                "env-staging".into(),
            ],
        ),
        ("login", format!("{base}/login"), vec!["Sign in".into()]),
    ];
    let canary = key["canary_secret"].as_str().unwrap();
    for (name, url, expect) in &pages {
        let r = common::browser::render_url(
            &chromium,
            url,
            &shots.join(format!("dashboard-{name}.png")),
        );
        for text in expect {
            assert!(
                r.dom.contains(text.as_str()),
                "{name}: `{text}` not on the rendered page"
            );
        }
        assert!(
            !r.log.contains("Uncaught") && !r.log.contains(":ERROR:CONSOLE"),
            "{name}: console errors: {}",
            r.log
        );
        let n = common::browser::colours(&r.screenshot);
        assert!(n > 20, "{name}: the screenshot looks blank ({n} colours)");
        assert!(!r.dom.contains(canary), "{name} shows the canary secret");
    }
}

/// The OpenAPI document is checked against the running server by schemathesis (PyPI): every
/// operation with generated valid and invalid requests, stateful sequences, and every check
/// (status codes, content types, response schemas, no server error).
#[test]
fn the_api_conforms_to_its_openapi_document_under_schemathesis() {
    if gen_corpus().is_none() {
        return;
    }
    if Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: no schemathesis on PATH (scripts/install-test-tools installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(1, &dir.path().join("e1"));
    scenario(2, &dir.path().join("e2"));
    let config = format!(
        "[store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"off\"\n\n\
         [[stack]]\nname = \"a\"\nenvironment = \"dev\"\nstate = \"e1/declared.tfstate\"\nlive = \"e1/live.tfstate\"\nschedule = \"*/5 * * * * *\"\n\n\
         [[stack]]\nname = \"b\"\nenvironment = \"prod\"\nstate = \"e2/declared.tfstate\"\nlive = \"e2/live.tfstate\"\nschedule = \"*/5 * * * * *\"\n\n\
         [[audit]]\npath = \"e2/cloudtrail\"\nschedule = \"0 * * * *\"\n\n\
         [[token]]\nname = \"admin\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
        sha(ADMIN)
    );
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let (_server, http) = serve(dir.path(), &config_path, &[]);
    wait_for("findings to exist", Duration::from_secs(60), || {
        http.get("/api/v1/findings", Some(ADMIN)).json()["items"]
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });
    let out = Command::new("schemathesis")
        .args(["run", &format!("http://{}/api/v1/openapi.json", http.addr)])
        .args(["-H", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--seed",
            "20261129",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
}

/// Several workers share one store. A worker killed with SIGKILL in the middle of a job loses
/// it when its lease ends and another takes it over; the run is recorded once. A worker
/// stopped with SIGTERM releases a job still running after the grace period, and the next
/// worker runs it at once. The job's declared state is a named pipe, so it stays "running"
/// exactly until the test writes the state into it.
#[test]
fn a_killed_workers_job_is_taken_over_once_and_a_stopped_workers_job_is_released() {
    takeover_and_release("[store]\npath = \"state/events.db\"", &[]);
}

/// The same on PostgreSQL (the store's URL from the environment, as a team would give it).
#[test]
fn on_postgres_a_killed_workers_job_is_taken_over_once_and_a_stopped_workers_job_is_released() {
    let Some(admin) = server() else {
        return;
    };
    let db = Database::new(&admin);
    takeover_and_release(
        "[store]\nurl_env = \"DRIFTLOG_TEAM_STORE\"",
        &[("DRIFTLOG_TEAM_STORE", &db.url)],
    );
}

fn takeover_and_release(store: &str, env: &[(&str, &str)]) {
    if gen_corpus().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("sc");
    scenario(2, &sc);
    let fifo = dir.path().join("declared.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let config = format!(
        "{store}\n\n[ledger]\npath = \"off\"\n\n\
         [[stack]]\nname = \"p\"\nenvironment = \"prod\"\nstate = \"declared.fifo\"\nlive = \"sc/live.tfstate\"\nschedule = \"0 0 1 1 *\"\n"
    );
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let declared = std::fs::read(sc.join("declared.tfstate")).unwrap();
    let feed = |fifo: std::path::PathBuf, bytes: Vec<u8>| {
        // Opening a pipe for writing waits for its reader: the worker's job.
        std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
    };
    let worker = |name: &str| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        serve(&sub, &config_path, env)
    };
    let log = |name: &str| {
        std::fs::read_to_string(dir.path().join(name).join("serve.log")).unwrap_or_default()
    };
    let claimed = |name: &str, claims: u32| log(name).contains(&format!("claims={claims}"));

    // A claims the job and blocks in it; it is killed.
    let (mut a, _) = worker("a");
    wait_for("A to claim the job", Duration::from_secs(30), || {
        claimed("a", 1)
    });
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    // B takes it over once A's lease (10 s, renewed every 3 s) ends, and runs it.
    let (mut b, http) = worker("b");
    let runs = |http: &Http| {
        http.get("/api/v1/runs?stack=p", None).json()["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    std::thread::sleep(Duration::from_secs(2));
    assert!(!claimed("b", 2), "the lease still holds");
    wait_for("B to take the job over", Duration::from_secs(30), || {
        claimed("b", 2)
    });
    let writer = feed(fifo.clone(), declared.clone());
    wait_for("B's run", Duration::from_secs(30), || {
        !runs(&http).is_empty()
    });
    writer.join().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let recorded = runs(&http);
    assert_eq!(recorded.len(), 1, "recorded once: {recorded:?}");
    assert_eq!(recorded[0]["outcome"], "drift");
    assert_eq!(recorded[0]["new"], 1);

    // A run on demand; B claims it and is stopped while it blocks: it releases the job.
    let now = http.request("POST", "/api/v1/stacks/p/run", &[], "");
    assert_eq!(now.status, 202, "{}", now.body);
    wait_for(
        "B to claim the run on demand",
        Duration::from_secs(30),
        || claimed("b", 3),
    );
    Command::new("kill")
        .args(["-TERM", &b.0.id().to_string()])
        .status()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = b.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "B did not stop: {}",
            log("b")
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{}", log("b"));
    assert!(log("b").contains("released"), "{}", log("b"));
    // C runs the released job at once, without waiting for a lease.
    let (_c, http) = worker("c");
    wait_for(
        "C to claim the released job",
        Duration::from_secs(5),
        || claimed("c", 4),
    );
    let writer = feed(fifo.clone(), declared);
    wait_for("C's run", Duration::from_secs(30), || {
        runs(&http).len() == 2
    });
    writer.join().unwrap();
    let recorded = runs(&http);
    assert_eq!(
        recorded[0]["new"], 0,
        "the same drift is not new again: {recorded:?}"
    );
    assert_eq!(recorded[0]["open"], 1);
}

/// A receiver that answers 503 twice then 200 gets the alert on the third attempt (same
/// delivery id each time); one that answers 404 gets one attempt, and the alert is
/// dead-lettered, visible in the API and on the dashboard.
#[test]
fn alerts_are_retried_with_backoff_and_refused_ones_are_dead_lettered() {
    if gen_corpus().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(1, &dir.path().join("sc"));
    // A receiver with scripted answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let sink = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            let path = first.split(' ').nth(1).unwrap_or("").to_owned();
            let mut len = 0;
            let mut delivery = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end().to_ascii_lowercase();
                if l.is_empty() {
                    break;
                }
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if let Some(v) = l.strip_prefix("driftlog-delivery:") {
                    delivery = v.trim().to_owned();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let tries = {
                let mut s = sink.lock().unwrap();
                s.push((path.clone(), delivery));
                s.iter().filter(|(p, _)| *p == path).count()
            };
            let status = match path.as_str() {
                "/flaky" if tries <= 2 => "503 Service Unavailable",
                "/gone" => "404 Not Found",
                _ => "200 OK",
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    let config = "[store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"off\"\n\n\
         [[stack]]\nname = \"s\"\nenvironment = \"dev\"\nstate = \"sc/declared.tfstate\"\nlive = \"sc/live.tfstate\"\nschedule = \"0 0 1 1 *\"\n\n\
         [[notify]]\nname = \"flaky\"\nkind = \"webhook\"\nurl_env = \"FLAKY_URL\"\nsecret_env = \"HOOK_SECRET\"\n\n\
         [[notify]]\nname = \"gone\"\nkind = \"slack\"\nurl_env = \"GONE_URL\"\n";
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let flaky = format!("{base}/flaky");
    let gone = format!("{base}/gone");
    let (_server, http) = serve(
        dir.path(),
        &config_path,
        &[
            ("FLAKY_URL", &flaky),
            ("GONE_URL", &gone),
            ("HOOK_SECRET", SECRET),
        ],
    );
    let alerts = |state: &str| {
        http.get(&format!("/api/v1/alerts?state={state}"), None)
            .json()["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    wait_for(
        "the flaky target's alert, on its third attempt",
        Duration::from_secs(60),
        || !alerts("delivered").is_empty(),
    );
    let delivered = alerts("delivered");
    assert_eq!(delivered[0]["target"], "flaky");
    assert_eq!(delivered[0]["attempts"], 3);
    let dead = alerts("dead");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        (dead[0]["target"].as_str(), dead[0]["attempts"].as_i64()),
        (Some("gone"), Some(1))
    );
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("404"),
        "{dead:?}"
    );
    assert_eq!(
        dead[0]["body"]["text"], "driftlog: 1 new in s (dev)",
        "a Slack message"
    );
    let seen = seen.lock().unwrap().clone();
    let flaky_ids: Vec<&String> = seen
        .iter()
        .filter(|(p, _)| p == "/flaky")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(flaky_ids.len(), 3);
    assert!(
        flaky_ids.iter().all(|d| *d == flaky_ids[0]),
        "one delivery id across retries"
    );
    let page = http.get("/", None).body;
    assert!(
        page.contains("gone") && page.contains("404"),
        "dead letters on the dashboard"
    );
}

/// Two workers on one PostgreSQL database share twenty scheduled jobs: each runs exactly once,
/// the history and the ledger (in the same database) hold each run once, and `ledger verify`
/// passes. Then every connection the workers hold is cut, as a database restart does: they
/// reconnect, and a run asked for afterwards happens.
#[test]
fn two_workers_on_postgres_run_twenty_jobs_once_and_ride_through_lost_connections() {
    let Some(admin) = server() else {
        return;
    };
    if gen_corpus().is_none() {
        return;
    }
    let db = Database::new(&admin);
    let dir = tempfile::tempdir().unwrap();
    scenario(3, &dir.path().join("sc"));
    let mut config = String::from("[store]\nurl_env = \"DRIFTLOG_TEAM_STORE\"\n\n");
    for i in 0..20 {
        config.push_str(&format!(
            "[[stack]]\nname = \"s{i:02}\"\nenvironment = \"{}\"\nstate = \"sc/declared.tfstate\"\nlive = \"sc/live.tfstate\"\nschedule = \"0 0 1 1 *\"\n\n",
            if i % 2 == 0 { "prod" } else { "staging" }
        ));
    }
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let env = [("DRIFTLOG_TEAM_STORE", db.url.as_str())];
    let worker = |name: &str| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        serve(&sub, &config_path, &env)
    };
    let (_a, http) = worker("a");
    let (_b, _) = worker("b");
    let mut pg = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut count = |sql: &str| -> i64 { pg.query_one(sql, &[]).unwrap().get(0) };
    wait_for("twenty runs", Duration::from_secs(120), || {
        count("SELECT count(*) FROM service_runs") >= 20
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(count("SELECT count(*) FROM service_runs"), 20);
    assert_eq!(
        count("SELECT count(DISTINCT job) FROM service_runs"),
        20,
        "each job ran once"
    );
    assert_eq!(
        count("SELECT count(*) FROM ledger_entries WHERE kind = 'scan'"),
        20,
        "each run is in the ledger once"
    );
    assert_eq!(count("SELECT count(*) FROM service_stacks"), 20);
    let verify = common::run(
        driftlog()
            .env("DRIFTLOG_STORE", &db.url)
            .env_remove("DRIFTLOG_LEDGER")
            .args(["ledger", "verify"]),
    );
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains("entries verified"),
        "{}",
        verify.stdout
    );

    // Cut every connection the workers hold.
    let cut = count(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
    assert!(cut > 0, "the workers hold connections");
    wait_for("the API to answer again", Duration::from_secs(30), || {
        http.get("/api/v1/stacks", None).status == 200
    });
    wait_for(
        "a run on demand to be accepted",
        Duration::from_secs(30),
        || {
            http.request("POST", "/api/v1/stacks/s07/run", &[], "")
                .status
                == 202
        },
    );
    wait_for("the run on demand", Duration::from_secs(60), || {
        count("SELECT count(*) FROM service_runs WHERE job = 'stack:s07'") == 2
    });
    assert_eq!(count("SELECT count(*) FROM service_runs"), 21);
}

/// A response's status, headers and body as bytes (tiles are binary).
fn get_bytes(http: &Http, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(&http.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        http.addr
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

/// RFC 9162 MTH over leaf hashes, written here from the RFC (not driftlog's code).
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(mth(&leaves[..k]));
            h.update(mth(&leaves[k..]));
            h.finalize().into()
        }
    }
}

/// The ledger as a C2SP tlog-tiles log, checked the way a client would, with its own hashing:
/// the signed checkpoint's root is the MTH of the level-0 tile's hashes, each of which hashes
/// the matching entry of the entry bundle; proofs over the JSON API lead to the same root.
#[test]
fn the_ledger_is_served_as_tlog_tiles_that_a_client_can_check() {
    if gen_corpus().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    scenario(4, &dir.path().join("sc"));
    let state = dir.path().join("state");
    let keygen = common::run(
        driftlog()
            .arg("--ledger")
            .arg(state.join("ledger.db"))
            .arg("--ledger-key")
            .arg(state.join("ledger.key"))
            .args(["ledger", "keygen", "--name", "driftlog.test/serve"]),
    );
    assert_eq!(keygen.code, 0, "{}", keygen.stderr);
    let config = "[store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"state/ledger.db\"\nkey = \"state/ledger.key\"\n\n\
                  [[stack]]\nname = \"p\"\nenvironment = \"prod\"\nstate = \"sc/declared.tfstate\"\nlive = \"sc/live.tfstate\"\nschedule = \"0 0 1 1 *\"\n";
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let (_server, http) = serve(dir.path(), &config_path, &[]);
    let mut size = 0u64;
    wait_for(
        "a checkpoint after the scan",
        Duration::from_secs(60),
        || {
            let v = http.get("/api/v1/ledger", None).json();
            size = v["checkpoint"]["size"].as_u64().unwrap_or(0);
            size >= 3
        },
    );
    let (status, head, note) = get_bytes(&http, "/ledger/checkpoint");
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    let note = String::from_utf8(note).unwrap();
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines[0], "driftlog.test/serve");
    let checkpoint_size: u64 = lines[1].parse().unwrap();
    assert!(checkpoint_size >= size);
    let root =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, lines[2]).unwrap();
    assert!(
        note.contains("\n\n\u{2014} driftlog.test/serve "),
        "a signed note: {note}"
    );
    assert!(checkpoint_size < 256, "one partial tile holds this log");

    let (status, head, tile) = get_bytes(&http, &format!("/ledger/tile/0/000.p/{checkpoint_size}"));
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("immutable"), "{head}");
    assert_eq!(tile.len() as u64, checkpoint_size * 32);
    let leaves: Vec<[u8; 32]> = tile.chunks(32).map(|c| c.try_into().unwrap()).collect();
    assert_eq!(
        mth(&leaves).to_vec(),
        root,
        "the tile's hashes make the signed root"
    );

    let (status, _, bundle) = get_bytes(
        &http,
        &format!("/ledger/tile/entries/000.p/{checkpoint_size}"),
    );
    assert_eq!(status, 200);
    let mut rest = &bundle[..];
    for (i, leaf) in leaves.iter().enumerate() {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&rest[2..2 + len]);
        assert_eq!(&<[u8; 32]>::from(h.finalize()), leaf, "entry {i}");
        rest = &rest[2 + len..];
    }
    assert!(rest.is_empty());

    let proof = http
        .get(
            &format!("/api/v1/ledger/inclusion?index=1&size={checkpoint_size}"),
            None,
        )
        .json();
    assert_eq!(proof["root_hash"], lines[2]);
    let consistency = http
        .get(
            &format!("/api/v1/ledger/consistency?first=1&second={checkpoint_size}"),
            None,
        )
        .json();
    assert_eq!(consistency["new_root"], lines[2]);
    for missing in [
        format!("/ledger/tile/0/000.p/{}", checkpoint_size + 100),
        "/ledger/tile/0/001".into(),
        "/ledger/tile/zero/000".into(),
    ] {
        assert_eq!(get_bytes(&http, &missing).0, 404, "{missing}");
    }
    assert_eq!(
        http.get("/api/v1/ledger/inclusion?index=100000", None)
            .status,
        400
    );
}

/// A CloudTrail file written into a watched audit directory is ingested within seconds, though
/// the job's schedule is a year away; the ingest's own reads do not set it off again.
#[test]
fn a_new_file_in_a_local_audit_directory_is_ingested_as_it_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::quickstart("cloudtrail/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11");
    let day = |d: &str| {
        let from = source.join(d);
        std::fs::read_dir(&from)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    };
    let into = dir
        .path()
        .join("trail/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11");
    std::fs::create_dir_all(&into).unwrap();
    std::fs::copy(day("13"), into.join("first.json")).unwrap();
    let config = "[store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"off\"\n\n\
                  [[audit]]\npath = \"trail\"\nschedule = \"0 0 1 1 *\"\n";
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let (_server, http) = serve(dir.path(), &config_path, &[]);
    let runs = || {
        http.get("/api/v1/runs?job=audit:trail", None).json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let events = || {
        http.get("/api/v1/events?limit=1000", None).json()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    wait_for("the first ingest", Duration::from_secs(30), || runs() == 1);
    let before = events();
    assert!(before > 0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(runs(), 1, "reading the files sets nothing off");
    std::fs::copy(day("21"), into.join("second.json")).unwrap();
    wait_for("the new file's events", Duration::from_secs(30), || {
        events() > before
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(runs(), 2, "one ingest for the new file, none after it");
    assert!(std::fs::read_to_string(dir.path().join("serve.log"))
        .unwrap()
        .contains("watching for new audit files"));
}

/// Issue 15: `[retention]` archives what the audit jobs stored, then prunes archived events
/// older than `retain`; the store, the archive and the ledger still verify.
#[test]
fn the_retention_job_archives_then_prunes_what_the_archive_holds() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::quickstart("cloudtrail/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11");
    let into = dir
        .path()
        .join("trail/AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11");
    std::fs::create_dir_all(&into).unwrap();
    let mut files = 0;
    for day in std::fs::read_dir(&source).unwrap() {
        for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
            let f = f.unwrap().path();
            files += 1;
            std::fs::copy(&f, into.join(format!("{files}.json"))).unwrap();
        }
    }
    // The quickstart's events are from November 2026: all older than a week by now.
    let config = "[store]\npath = \"state/events.db\"\n\n[ledger]\npath = \"state/ledger.db\"\n\n\
                  [[audit]]\npath = \"trail\"\nschedule = \"0 0 1 1 *\"\n\n\
                  [retention]\narchive = \"archive\"\nretain = \"7d\"\nschedule = \"*/2 * * * * *\"\n";
    let config_path = dir.path().join("driftlog.toml");
    std::fs::write(&config_path, config).unwrap();
    let (server, http) = serve(dir.path(), &config_path, &[]);
    let pruned = || -> u64 {
        http.get("/api/v1/runs?job=retention:store&limit=100", None)
            .json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["summary"]["prune"]["events"].as_u64())
            .sum()
    };
    wait_for(
        "a retention run that pruned",
        Duration::from_secs(60),
        || pruned() > 0,
    );
    let events = http.get("/api/v1/events?limit=1000", None).json()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        events, 0,
        "every stored event was archived and is older than 7d"
    );
    drop(server);
    let archive = dir.path().join("archive");
    let r = common::run(
        driftlog()
            .env("DRIFTLOG_STORE", dir.path().join("state/events.db"))
            .env("DRIFTLOG_LEDGER", dir.path().join("state/ledger.db"))
            .args(["verify", "--archive", archive.to_str().unwrap()]),
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("removed by retention"), "{}", r.stdout);
    assert!(r.stdout.contains("rows) match"), "{}", r.stdout);
}
