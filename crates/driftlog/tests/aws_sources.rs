//! Inputs in S3: states read from `s3://bucket/key` through the AWS SDK, against a real
//! `moto_server` on loopback, give the same report as the same files read locally.

mod common;

use common::moto::{aws_env, start};
use common::proxy::Proxy;
use common::{driftlog, json, quickstart, run};

#[test]
fn states_in_s3_scan_like_local_files() {
    let Some(moto) = start() else { return };
    let (declared, live) = (quickstart("declared.tfstate"), quickstart("live.tfstate"));
    moto.python(&format!(
        "s3.create_bucket(Bucket='tf-state')\n\
         s3.upload_file({:?}, 'tf-state', 'env:/prod/app/terraform.tfstate')\n\
         s3.upload_file({:?}, 'tf-state', 'refreshed/live.tfstate')\n",
        declared.display().to_string(),
        live.display().to_string()
    ));
    let remote = run(aws_env(&mut driftlog())
        .args([
            "--endpoint-url",
            &moto.endpoint,
            "scan",
            "--no-attribution",
            "-f",
            "json",
        ])
        .args([
            "--declared",
            "s3://tf-state/env:/prod/app/terraform.tfstate",
        ])
        .args(["--live", "s3://tf-state/refreshed/live.tfstate"]));
    assert_eq!(remote.code, 2, "{}", remote.stderr);
    let local = run(driftlog()
        .args(["scan", "--no-attribution", "-f", "json", "--declared"])
        .arg(&declared)
        .arg("--live")
        .arg(&live));
    let (r, l) = (json(&remote), json(&local));
    assert_eq!(r["findings"], l["findings"]);
    assert_eq!(r["summary"], l["summary"]);
    assert_eq!(
        r["inputs"][0]["path"],
        "s3://tf-state/env:/prod/app/terraform.tfstate"
    );
    assert_eq!(r["inputs"][0]["sha256"], l["inputs"][0]["sha256"]);

    // A missing object is an error that names it, exit 1.
    let missing = run(aws_env(&mut driftlog())
        .args(["--endpoint-url", &moto.endpoint, "scan", "--no-attribution"])
        .args(["--declared", "s3://tf-state/nope.tfstate", "--live"])
        .arg(&live));
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("s3://tf-state/nope.tfstate"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("NoSuchKey"), "{}", missing.stderr);
}

fn event_ids(store: &std::path::Path) -> Vec<String> {
    let r = run(driftlog()
        .arg("--store")
        .arg(store)
        .args(["events", "--limit", "1000000", "--format", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut ids: Vec<String> = json(&r)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// A CloudTrail bucket in S3 (a gen-corpus corpus in the delivery layout, in moto): `ingest
/// s3://…` stores exactly what a local ingest of the same files stores; a second run fetches
/// nothing; `--since/--until` lists and reads only those days' folders.
#[test]
fn cloudtrail_from_s3_ingests_like_local_files() {
    let Some(tool) = common::gen_corpus() else {
        return;
    };
    let Some(moto) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("trail");
    let generated = std::process::Command::new("python3")
        .arg(&tool)
        .args([
            "cloudtrail",
            "--events",
            "6000",
            "--days",
            "3",
            "--start",
            "2024-11-04",
            "--out",
        ])
        .arg(&corpus)
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    moto.python(&format!(
        "import os\nroot = {:?}\ns3.create_bucket(Bucket='trail')\n\
         for d, _, files in os.walk(os.path.join(root, 'AWSLogs')):\n\
         \x20   for f in files:\n\
         \x20       p = os.path.join(d, f)\n\
         \x20       s3.upload_file(p, 'trail', 'org/' + os.path.relpath(p, root))\n",
        corpus.display().to_string()
    ));
    let ingest = |store: &std::path::Path, args: &[&str]| {
        let r = run(aws_env(&mut driftlog())
            .args([
                "--endpoint-url",
                &moto.endpoint,
                "--ledger",
                "off",
                "--store",
            ])
            .arg(store)
            .arg("ingest")
            .args(args)
            .args(["-f", "json"]));
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        json(&r)
    };
    let remote_store = dir.path().join("remote.db");
    let first = ingest(&remote_store, &["s3://trail/org/"]);
    let local_store = dir.path().join("local.db");
    let local = run(driftlog()
        .args(["--ledger", "off", "--store"])
        .arg(&local_store)
        .arg("ingest")
        .arg(corpus.join("AWSLogs"))
        .args(["-f", "json"]));
    assert_eq!(local.code, 0, "{}", local.stderr);
    let local = json(&local);
    assert_eq!(first["events"]["inserted"], local["events"]["inserted"]);
    assert_eq!(first["files"]["read"], local["files"]["read"]);
    assert_eq!(event_ids(&remote_store), event_ids(&local_store));

    // Nothing new: every object is known by location, ETag and size, and none is fetched.
    let again = ingest(&remote_store, &["s3://trail/org/"]);
    assert_eq!(again["events"]["inserted"], 0);
    assert_eq!(again["files"]["read"], 0);
    assert_eq!(again["files"]["unchanged"], first["files"]["read"]);

    // One day: only that day's folders are listed and read, counted by a proxy in front of
    // moto: one GET per file of the day, and no listing below another day's date.
    let day_files: usize = walk_count(&corpus.join("AWSLogs"), "/2024/11/05/");
    assert!(day_files > 0);
    let counting = Proxy::start(&moto, 0.0, "", 0);
    let one_day = run(aws_env(&mut driftlog())
        .args([
            "--endpoint-url",
            &counting.endpoint,
            "--ledger",
            "off",
            "--store",
        ])
        .arg(dir.path().join("day.db"))
        .args([
            "ingest",
            "s3://trail/org/",
            "--since",
            "2024-11-05",
            "--until",
            "2024-11-05",
        ])
        .args(["-f", "json"]));
    assert_eq!(one_day.code, 0, "{}", one_day.stderr);
    let one_day = json(&one_day);
    assert_eq!(one_day["files"]["read"], day_files as u64, "{one_day}");
    let stats = counting.stats();
    assert_eq!(stats["s3_gets"], day_files as u64, "{stats}");
    let lists: Vec<&str> = stats["s3_lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let dated: Vec<&&str> = lists.iter().filter(|p| p.contains("/2024/")).collect();
    assert!(!dated.is_empty(), "{lists:?}");
    assert!(
        dated.iter().all(|p| p.contains("/2024/11/05/")),
        "a listing outside the window: {lists:?}"
    );
    // Accounts × regions day folders, plus the walk down to them: nothing else.
    let trails = walk_dirs(&corpus.join("AWSLogs"), 3);
    assert!(
        lists.len() <= 1 + 2 * trails + 4 * trails,
        "{} listings: {lists:?}",
        lists.len()
    );

    // Killed mid-ingest (kill -9), then run again: exactly the local events, none twice.
    let slow = Proxy::start(&moto, 0.0, "", 40);
    let killed = dir.path().join("killed.db");
    let mut child = aws_env(&mut driftlog())
        .args([
            "--endpoint-url",
            &slow.endpoint,
            "--ledger",
            "off",
            "--store",
        ])
        .arg(&killed)
        .args(["ingest", "s3://trail/org/", "--batch-events", "500"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the first batches are committed, before the last.
    let started = std::time::Instant::now();
    let mut stored_before_kill = 0;
    while started.elapsed() < std::time::Duration::from_secs(60) {
        if killed.exists() {
            stored_before_kill = event_count(&killed);
            if stored_before_kill > 0 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    let status = child.wait().unwrap();
    let total = event_ids(&local_store).len();
    assert!(
        stored_before_kill > 0 && stored_before_kill < total,
        "the kill was meant to land mid-ingest: {stored_before_kill} of {total} stored"
    );
    let resumed = ingest(&killed, &["s3://trail/org/"]);
    assert_eq!(
        event_ids(&killed),
        event_ids(&local_store),
        "killed ({status}) then resumed: {resumed}"
    );
}

/// Folders `depth` levels below `dir` (3 below `AWSLogs`: account/CloudTrail/region, the trails).
fn walk_dirs(dir: &std::path::Path, depth: usize) -> usize {
    if depth == 0 {
        return 1;
    }
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| walk_dirs(&e.path(), depth - 1))
        .sum()
}

/// Events in a store, read while another process may be writing it.
fn event_count(store: &std::path::Path) -> usize {
    let r = run(driftlog()
        .arg("--store")
        .arg(store)
        .args(["events", "--limit", "1000000", "--format", "json"]));
    if r.code != 0 {
        return 0;
    }
    serde_json::from_str::<serde_json::Value>(&r.stdout)
        .ok()
        .and_then(|v| v["events"].as_array().map(Vec::len))
        .unwrap_or(0)
}

fn walk_count(dir: &std::path::Path, needle: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += walk_count(&p, needle);
        } else if p.to_string_lossy().contains(needle) && !p.to_string_lossy().contains("Digest") {
            n += 1;
        }
    }
    n
}
