//! The command line on a PostgreSQL team store (`--store postgres://…`, the ledger in the same
//! database): the same commands on the same logs answer exactly as on the embedded SQLite
//! store, `verify` and `ledger verify` pass, an edit made in the database behind driftlog's
//! back is named, and the URL's password is never shown. Needs `$DRIFTLOG_TEST_POSTGRES`
//! (`.ci/run` starts the server); without it each test says so and does nothing.

mod common;

use common::{driftlog, quickstart, run, workspace_root, Run};
use driftlog_postgres::testing::{server, Database};
use std::path::Path;

/// Run driftlog against `store` (a file or a URL), given as `DRIFTLOG_STORE`, with the ledger
/// at its default (the same database for a URL) or in `dir` for a file.
fn on(store: &str, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = driftlog();
    cmd.current_dir(workspace_root())
        .env("DRIFTLOG_STORE", store);
    if driftlog_postgres::is_url(store) {
        cmd.env_remove("DRIFTLOG_LEDGER");
    } else {
        cmd.env("DRIFTLOG_LEDGER", dir.join("ledger.db"));
    }
    cmd.env("DRIFTLOG_LEDGER_KEY", dir.join("ledger.key"));
    let r = run(cmd.args(args));
    // A URL's password never shows.
    if let Some((_, password)) = store
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
    {
        let secret = format!(":{password}@");
        assert!(
            !r.stdout.contains(&secret) && !r.stderr.contains(&secret),
            "{args:?} shows the password:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    // The store's name is the only thing that may differ between the two.
    let shown = driftlog_postgres::redact(store);
    let dir = dir.display().to_string();
    let same = |text: &str| {
        text.replace(&shown, "[store]")
            .replace(store, "[store]")
            .replace(&dir, "[dir]")
    };
    Run {
        stdout: same(&r.stdout),
        stderr: same(&r.stderr),
        ..r
    }
}

/// The answers that must not depend on the store, in order.
fn session(store: &str, dir: &Path) -> Vec<(String, Run)> {
    let trail = quickstart("cloudtrail");
    let trail = trail.to_str().unwrap();
    let k8s = workspace_root().join("crates/driftlog/tests/data/audit/k8s-audit.log");
    let k8s = k8s.to_str().unwrap();
    let steps: Vec<Vec<&str>> = vec![
        vec!["ledger", "keygen", "--name", "driftlog.test/team"],
        vec!["ingest", "--format", "json", trail],
        vec!["ingest", "--format", "json", k8s],
        vec!["ingest", "--format", "json", trail],
        vec!["events", "--format", "json"],
        vec![
            "events",
            "--format",
            "json",
            "--resource",
            "sg-0123456789abcdef0",
        ],
        vec![
            "events",
            "--format",
            "json",
            "--principal",
            "*break-glass",
            "--writes-only",
        ],
        vec![
            "events", "--format", "json", "--action", "Run*", "--limit", "1",
        ],
        vec![
            "scan",
            "--format",
            "json",
            "--declared",
            "examples/quickstart/declared.tfstate",
            "--live",
            "examples/quickstart/live.tfstate",
        ],
        vec!["explain", "--format", "json", "aws_security_group.web"],
        vec!["verify"],
        vec!["ledger", "verify"],
    ];
    steps
        .into_iter()
        .map(|args| (args.join(" "), on(store, dir, &args)))
        .collect()
}

/// Times of the run and per-run figures that differ from one run to the next.
fn steady(step: &str, text: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
        // Text output: counts, not timings.
        return text
            .lines()
            .filter(|l| !l.contains(" in ") && !l.contains("checkpoint"))
            .collect::<Vec<_>>()
            .join("\n");
    };
    fn scrub(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for key in [
                    "seconds",
                    "until",
                    "generated_at",
                    "scanned_at",
                    "time",
                    "id",
                ] {
                    if map.contains_key(key) && !map[key].is_object() && !map[key].is_array() {
                        map.insert(key.into(), "[varies]".into());
                    }
                }
                map.values_mut().for_each(scrub);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            _ => {}
        }
    }
    if !step.starts_with("events") {
        scrub(&mut v);
    } else {
        // Event ids are each store's own row ids; the events themselves must agree.
        if let Some(items) = v["events"].as_array_mut() {
            for e in items {
                e.as_object_mut().map(|o| o.remove("id"));
            }
        }
    }
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn the_same_commands_answer_the_same_on_postgres_and_sqlite() {
    let Some(admin) = server() else {
        return;
    };
    let db = Database::new(&admin);
    let dir = tempfile::tempdir().unwrap();
    let sqlite_dir = dir.path().join("sqlite");
    let pg_dir = dir.path().join("pg");
    std::fs::create_dir_all(&sqlite_dir).unwrap();
    std::fs::create_dir_all(&pg_dir).unwrap();
    let file = sqlite_dir.join("events.db");
    let on_sqlite = session(file.to_str().unwrap(), &sqlite_dir);
    let on_pg = session(&db.url, &pg_dir);
    for ((step, a), (_, b)) in on_sqlite.iter().zip(&on_pg) {
        assert_eq!(
            a.code, b.code,
            "{step}: exit codes\nsqlite: {}\npostgres: {}",
            a.stderr, b.stderr
        );
        if step.starts_with("ledger keygen") {
            continue; // a fresh key each
        }
        assert_eq!(
            steady(step, &a.stdout),
            steady(step, &b.stdout),
            "{step}: output differs"
        );
    }
    let code = |step: &str| {
        on_pg
            .iter()
            .find(|(s, _)| s.starts_with(step))
            .unwrap()
            .1
            .code
    };
    assert_eq!(code("verify"), 0);
    assert_eq!(code("ledger verify"), 0);
    assert_eq!(code("scan"), 2, "the quickstart drifts");
    let scan = &on_pg.iter().find(|(s, _)| s.starts_with("scan")).unwrap().1;
    let report: serde_json::Value = serde_json::from_str(&scan.stdout).unwrap();
    assert_eq!(report["audit"]["certain"], 4, "attributed from PostgreSQL");
    // An edit made in the database behind driftlog's back is named by `verify`.
    driftlog_postgres::testing::change_action(&db.url, 2, "Innocent");
    let r = on(&db.url, &pg_dir, &["verify"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("event 2") || r.stderr.contains("event 2"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
}

#[test]
fn an_unreachable_database_is_an_error_without_the_password() {
    let r = run(driftlog()
        .env(
            "DRIFTLOG_STORE",
            "postgres://drift:pw-canary-81f2@127.0.0.1:1/driftlog",
        )
        .args(["events"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("pw-canary-81f2"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("postgres://drift:***@127.0.0.1:1/driftlog: error connecting to server"),
        "{}",
        r.stderr
    );
}
