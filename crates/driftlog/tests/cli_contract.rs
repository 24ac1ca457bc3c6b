//! Issue 10 §2: the command-line contract CI relies on. Exit 2 means "drift found" and nothing
//! else; usage errors are errors (1); an error is said once and names its file; every time flag
//! speaks one grammar; environment twins never break another command. Whole runs are
//! snapshot-tested (exit code, stdout and stderr).

mod common;

use common::{driftlog, json, quickstart, run, snapshot};

/// A temporary event store holding the quickstart's CloudTrail.
fn quickstart_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.db");
    let ingest = run(driftlog()
        .arg("--store")
        .arg(&store)
        .arg("ingest")
        .arg(quickstart("cloudtrail")));
    assert_eq!(ingest.code, 0, "{}", ingest.stderr);
    (dir, store)
}

fn snap(args: &[&str]) -> String {
    let r = run(driftlog().args(args));
    snapshot(&r, &[])
}

#[test]
fn usage_errors_exit_1_never_2() {
    for args in [
        &["scan", "--bogus"][..],
        &["no-such-command"],
        &["scan", "--declared", "a.tfstate"],
        &["scan", "--declared", "a", "--live", "b", "--plan", "c"],
        &["scan", "--format", "yaml", "--plan", "p.json"],
        &["events", "--limit", "many"],
        &[],
    ] {
        let r = run(driftlog().args(args));
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}");
    }
    insta::assert_snapshot!("scan_bogus", snap(&["scan", "--bogus"]));
    insta::assert_snapshot!(
        "scan_conflict",
        snap(&["scan", "--declared", "a", "--live", "b", "--plan", "c"])
    );
}

#[test]
fn help_and_version_succeed() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["--version"],
        &["scan", "--help"],
        &["help", "ingest"],
    ] {
        let r = run(driftlog().args(args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(!r.stdout.is_empty());
    }
    let help = run(driftlog().arg("--help")).stdout;
    assert!(help.contains("Global options:"), "{help}");
    for global in [
        "--store",
        "--ledger",
        "--log-level",
        "--log-format",
        "--color",
    ] {
        let section = &help[help.find("Global options:").unwrap()..];
        assert!(section.contains(global), "{global} under Global options");
    }
}

/// The binary is linked at a fixed address (crates/driftlog/build.rs): a position-independent
/// one spends about 2 ms of every command copying relocated pages, most of a short query.
#[cfg(target_os = "linux")]
#[test]
fn the_binary_starts_without_relocating_itself() {
    if std::env::var_os("DRIFTLOG_BUILD_PIE").is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("skipped: built with DRIFTLOG_BUILD_PIE");
        return;
    }
    let mut elf = [0u8; 18];
    std::io::Read::read_exact(
        &mut std::fs::File::open(env!("CARGO_BIN_EXE_driftlog")).unwrap(),
        &mut elf,
    )
    .unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    // e_type, little-endian at offset 16: 2 is an executable, 3 a shared object (a PIE).
    let e_type = u16::from_le_bytes([elf[16], elf[17]]);
    assert_eq!(e_type, 2, "ET_EXEC expected, found e_type {e_type}");
}

#[test]
fn an_error_is_said_once_and_names_its_file() {
    insta::assert_snapshot!(
        "missing_file",
        snap(&[
            "scan",
            "--declared",
            "/nonexistent/declared.tfstate",
            "--live",
            "/nonexistent/live.tfstate"
        ])
    );
    let r = run(driftlog()
        .args(["ingest", "/nonexistent/trail.json", "--ledger", "off"])
        .env(
            "DRIFTLOG_STORE",
            std::env::temp_dir().join("driftlog-cli-contract.db"),
        ));
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "{}",
        r.stderr
    );
}

#[test]
fn one_time_grammar_with_clear_errors() {
    let (dir, store) = quickstart_store();
    let events = |args: &[&str]| {
        run(driftlog()
            .arg("--store")
            .arg(&store)
            .arg("events")
            .args(args))
    };
    insta::assert_snapshot!(
        "since_overflow",
        snapshot(&events(&["--since", "99999999999999d"]), &[dir.path()])
    );
    insta::assert_snapshot!(
        "since_garbage",
        snapshot(&events(&["--since", "last tuesday"]), &[dir.path()])
    );
    // Every form is accepted: RFC 3339, a date, compact and spelled-out spans, ISO 8601.
    for since in [
        "2026-11-19T00:00:00Z",
        "2026-11-19",
        "1d12h",
        "2 weeks",
        "P1W",
        "30m",
    ] {
        let r = events(&["--since", since, "--until", "2026-11-30", "-f", "json"]);
        assert_eq!(r.code, 0, "{since}: {}", r.stderr);
    }
    let r = events(&[
        "--since",
        "2026-11-19",
        "--until",
        "2026-11-19",
        "-f",
        "json",
    ]);
    let all = common::json(&r);
    assert!(
        all["count"].as_u64().unwrap() > 0,
        "the whole day is included"
    );

    // The same grammar for --as-of and for expiries.
    let quickstart_scan = |extra: &[&str]| {
        let (declared, live) = (quickstart("declared.tfstate"), quickstart("live.tfstate"));
        let mut args = vec![
            "--declared",
            declared.to_str().unwrap(),
            "--live",
            live.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        common::scan(&args)
    };
    let bad_as_of = quickstart_scan(&["--as-of", "soon"]);
    assert_eq!(bad_as_of.code, 1);
    assert!(
        bad_as_of
            .stderr
            .starts_with("error: --as-of: `soon` is not a time"),
        "{}",
        bad_as_of.stderr
    );
    let bad_rule = quickstart_scan(&["--ignore", "aws_instance.* expires=30d"]);
    assert_eq!(bad_rule.code, 1);
    assert!(
        bad_rule
            .stderr
            .contains("is a span, which counts from the moment it is read"),
        "{}",
        bad_rule.stderr
    );
}

#[test]
fn environment_twins_never_break_another_command() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("events.db");
    for (var, value) in [
        ("DRIFTLOG_FORMAT", "markdown"),
        ("DRIFTLOG_FORMAT", "sarif"),
        ("DRIFTLOG_EVENTS_FORMAT", "jsonl"),
        ("DRIFTLOG_FORMAT", "html"),
        ("DRIFTLOG_COMPARE_FORMAT", "html"),
        ("DRIFTLOG_EXPLAIN_FORMAT", "json"),
    ] {
        for args in [
            vec![
                "ingest".to_owned(),
                quickstart("cloudtrail").display().to_string(),
            ],
            vec!["events".to_owned(), "--limit".to_owned(), "1".to_owned()],
            vec!["explain".to_owned(), "sg-0123456789abcdef0".to_owned()],
            vec!["ledger".to_owned(), "show".to_owned()],
        ] {
            let r = run(driftlog()
                .env(var, value)
                .env("DRIFTLOG_LEDGER", dir.path().join("ledger.db"))
                .arg("--store")
                .arg(&store)
                .args(&args));
            assert_eq!(r.code, 0, "{var}={value} driftlog {args:?}: {}", r.stderr);
        }
    }
}

#[test]
fn logs_go_to_stderr_as_text_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(driftlog()
        .args(["--log-level", "debug", "--log-format", "json", "--store"])
        .arg(dir.path().join("events.db"))
        .arg("ingest")
        .arg(quickstart("cloudtrail")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(!lines.is_empty(), "debug logs expected");
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    assert!(r.stdout.contains("ingested"), "the summary stays on stdout");
    // Quiet by default.
    let quiet = run(driftlog()
        .arg("--store")
        .arg(dir.path().join("events.db"))
        .arg("ingest")
        .arg(quickstart("cloudtrail")));
    assert_eq!(quiet.stderr, "");
}

#[test]
fn globs_are_one_dialect_and_literal_brackets_stay_literal() {
    let (_dir, store) = quickstart_store();
    let count = |args: &[&str]| {
        let r = run(driftlog()
            .arg("--store")
            .arg(&store)
            .arg("events")
            .args(args)
            .args(["-f", "json"]));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        common::json(&r)["count"].as_u64().unwrap()
    };
    assert!(count(&["--action", "Authorize*"]) > 0);
    assert_eq!(
        count(&["--action", "[A]uthorize*"]),
        0,
        "brackets are literal, not a class"
    );
    assert!(
        count(&["--resource", "sg-*"]) > 0,
        "--resource takes the same globs"
    );
    assert_eq!(
        count(&["--resource", "sg-*"]),
        count(&["--resource", "sg-????????????????*"])
    );
}

/// `--format jsonl` is written while the store reads on (several batches here): the lines
/// are the document's events, in the same order; a reader that hangs up after one line ends
/// the listing cleanly (exit 0, nothing on stderr).
#[test]
fn a_long_jsonl_listing_equals_the_document_and_ends_cleanly_on_a_closed_pipe() {
    const N: usize = 9_000;
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<serde_json::Value> = (0..N)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "IAMUser",
                    "arn": format!("arn:aws:iam::123456789012:user/u{}", i % 3),
                    "accountId": "123456789012",
                },
                // Seven events a second, so batches meet ties of time.
                "eventTime": format!("2026-11-21T{:02}:{:02}:{:02}Z", i / 7 / 3600, i / 7 / 60 % 60, i / 7 % 60),
                "eventSource": "sqs.amazonaws.com",
                "eventName": if i % 2 == 0 { "DeleteQueue" } else { "GetQueueUrl" },
                "awsRegion": "eu-west-1",
                "sourceIPAddress": "203.0.113.44",
                "userAgent": "aws-cli/2.15.0",
                "requestParameters": {"queueName": format!("q{}", i % 11)},
                "eventID": format!("00000000-0000-4000-8000-{i:012}"),
                "readOnly": i % 2 == 1,
                "eventType": "AwsApiCall",
                "recipientAccountId": "123456789012",
            })
        })
        .collect();
    let logs = dir.path().join("trail.json");
    std::fs::write(&logs, serde_json::json!({ "Records": records }).to_string()).unwrap();
    let store = dir.path().join("events.db");
    let events = |args: &[&str]| {
        let mut cmd = driftlog();
        cmd.env("DRIFTLOG_LEDGER", "off")
            .arg("--store")
            .arg(&store)
            .arg("events")
            .args(args);
        cmd
    };
    let ingested = run(driftlog()
        .env("DRIFTLOG_LEDGER", "off")
        .arg("--store")
        .arg(&store)
        .arg("ingest")
        .arg(&logs));
    assert_eq!(ingested.code, 0, "{}", ingested.stderr);

    // With `--raw`, each batch's records are read while the listing goes on.
    for filters in [
        vec![],
        vec!["--principal", "*user/u1"],
        vec!["--writes-only"],
        vec!["--raw"],
    ] {
        let lines = run(events(&filters).args(["--format", "jsonl"]));
        assert_eq!(lines.code, 0, "{filters:?}: {}", lines.stderr);
        let lines: Vec<serde_json::Value> = lines
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
            .collect();
        let document = json(&run(events(&filters).args(["--format", "json"])));
        assert_eq!(document["count"], lines.len(), "{filters:?}");
        assert_eq!(
            &lines,
            document["events"].as_array().unwrap(),
            "{filters:?}"
        );
        let expected = match filters.first() {
            None | Some(&"--raw") => N,
            Some(&"--writes-only") => N / 2,
            _ => N / 3,
        };
        assert_eq!(lines.len(), expected, "{filters:?}");
        if filters == ["--raw"] {
            for line in &lines {
                assert_eq!(
                    line["raw"]["eventID"], line["event_id"],
                    "each its own record"
                );
            }
        }
    }

    // The reader takes one line and hangs up while the listing is still being written.
    let mut child = events(&["--format", "jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.contains("\"event_id\""), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
