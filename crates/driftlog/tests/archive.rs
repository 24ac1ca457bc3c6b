//! Issue 15: `driftlog archive` writes the store's history as Parquet that DuckDB (PyPI
//! `duckdb`) reads back equal to `driftlog events`; each file is recorded in the ledger and
//! `driftlog verify --archive` catches a flipped byte, a removed file and an added one.

mod common;

use common::{driftlog, run, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Env {
    dir: tempfile::TempDir,
    /// A PostgreSQL team store (its ledger in the same database) instead of SQLite files.
    postgres: Option<driftlog_postgres::testing::Database>,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
            postgres: None,
        }
    }

    /// On a fresh database of the test server, if there is one.
    fn on_postgres() -> Option<Self> {
        let admin = driftlog_postgres::testing::server()?;
        Some(Env {
            dir: tempfile::tempdir().unwrap(),
            postgres: Some(driftlog_postgres::testing::Database::new(&admin)),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// driftlog with this test's own store and ledger.
    fn cmd(&self) -> Command {
        let mut cmd = driftlog();
        match &self.postgres {
            Some(db) => {
                cmd.env("DRIFTLOG_STORE", &db.url)
                    .env_remove("DRIFTLOG_LEDGER")
                    .env("DRIFTLOG_LEDGER_KEY", self.path("ledger.key"));
            }
            None => {
                cmd.env("DRIFTLOG_STORE", self.path("events.db"))
                    .env("DRIFTLOG_LEDGER", self.path("ledger.db"));
            }
        }
        cmd
    }

    fn ok(&self, args: &[&str]) -> Run {
        let r = run(self.cmd().args(args));
        assert_eq!(r.code, 0, "{args:?}\n{}\n{}", r.stdout, r.stderr);
        r
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args).stdout).unwrap()
    }
}

/// The audit logs of every producer in this repository's own test data (CloudTrail in several
/// envelopes, Kubernetes, GCP, Azure).
fn audit_data() -> Vec<PathBuf> {
    let data = common::workspace_root().join("crates/driftlog/tests/data");
    let mut paths = vec![common::quickstart("cloudtrail")];
    for sub in ["audit", "shapes"] {
        let p = data.join(sub);
        if p.is_dir() {
            paths.push(p);
        }
    }
    paths
}

fn duckdb() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: no duckdb for python3 (scripts/install-test-tools installs it)");
    }
    ok
}

/// Run SQL over the archive in DuckDB (the archive is the view `events`); rows as JSON.
fn query(archive: &Path, sql: &str) -> Vec<Value> {
    let script = format!(
        "import duckdb, json, sys\n\
         c = duckdb.connect()\n\
         c.sql(\"CREATE VIEW events AS SELECT * FROM read_parquet('{}/**/*.parquet', hive_partitioning = true)\")\n\
         r = c.sql(sys.argv[1])\n\
         cols = r.columns\n\
         print(json.dumps([dict(zip(cols, row)) for row in r.fetchall()], default=str))\n",
        archive.display()
    );
    let out = Command::new("python3")
        .args(["-c", &script, sql])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ids(events: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

fn column_ids(rows: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn the_archive_read_back_by_duckdb_equals_the_store() {
    if !duckdb() {
        return;
    }
    let env = Env::new();
    let mut ingest = vec!["ingest"];
    let data = audit_data();
    ingest.extend(data.iter().map(|p| p.to_str().unwrap()));
    let r = run(env.cmd().args(&ingest));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let all = env.json(&["events", "--raw", "--format", "json"]);
    let stored = all["count"].as_u64().unwrap();
    assert!(stored >= 40, "{stored} events");
    let sources: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for s in ["aws", "kubernetes", "gcp", "azure"] {
        assert!(sources.contains(&s), "no {s} event in the test data");
    }

    let archive = env.path("archive");
    let report = env.json(&["archive", "--to", archive.to_str().unwrap(), "-f", "json"]);
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["events"].as_u64(), Some(stored));
    let files = report["files"].as_array().unwrap();
    let rows: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, stored);
    for f in files {
        let path = f["path"].as_str().unwrap();
        assert!(
            path.starts_with("source=") && path.contains("/account=") && path.contains("/date="),
            "{path}"
        );
        assert!(archive.join(path).is_file(), "{path}");
    }

    // Counts per source.
    let counts = query(
        &archive,
        "SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source",
    );
    for row in &counts {
        let source = row["source"].as_str().unwrap();
        let want = env.json(&["events", "--source", source, "--format", "json"]);
        assert_eq!(row["n"].as_u64(), want["count"].as_u64(), "{source}");
    }
    assert_eq!(counts.len(), 4);

    // The writes of one principal (the acting principal or the role it assumed).
    let principal = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["read_only"] == false)
        .filter_map(|e| e["principal"]["id"].as_str())
        .next()
        .expect("a write with a principal")
        .to_owned();
    let want = env.json(&[
        "events",
        "--principal",
        &principal,
        "--writes-only",
        "--format",
        "json",
    ]);
    let got = query(
        &archive,
        &format!(
            "SELECT id FROM events WHERE (principal = '{p}' OR issuer = '{p}') AND read_only = false",
            p = principal.replace('\'', "''")
        ),
    );
    assert_eq!(column_ids(&got), ids(&want), "writes of {principal}");
    assert!(!got.is_empty());

    // The events naming one resource.
    let resource = "sg-0123456789abcdef0";
    let want = env.json(&["events", "--resource", resource, "--format", "json"]);
    let got = query(
        &archive,
        &format!("SELECT id FROM events WHERE list_contains(resources, '{resource}')"),
    );
    assert_eq!(column_ids(&got), ids(&want), "events naming {resource}");
    assert!(!got.is_empty());

    // Every row equals its stored event: the normalized columns and the original record.
    let rows = query(
        &archive,
        "SELECT id, source, event_id, epoch_us(time) AS time_us, account, region, action, \
         principal, read_only, resources, raw FROM events ORDER BY id",
    );
    let events = all["events"].as_array().unwrap();
    assert_eq!(rows.len(), events.len());
    for (row, event) in rows.iter().zip(events) {
        assert_eq!(row["id"], event["id"]);
        assert_eq!(row["source"], event["source"]);
        assert_eq!(row["event_id"], event["event_id"]);
        let time = driftlog_time_us(event["time"].as_str().unwrap());
        assert_eq!(row["time_us"].as_i64(), Some(time), "{}", event["id"]);
        assert_eq!(row["account"], event["account"], "{}", event["id"]);
        assert_eq!(row["region"], event["region"]);
        assert_eq!(row["action"], event["action"]);
        assert_eq!(row["principal"], event["principal"]["id"]);
        assert_eq!(row["read_only"], event["read_only"]);
        assert_eq!(row["resources"], event["resources"]);
        let raw: Value = serde_json::from_str(row["raw"].as_str().unwrap()).unwrap();
        assert_eq!(raw, event["raw"], "record of {}", event["id"]);
    }

    // The ledger and the archive agree.
    let v = env.ok(&["verify", "--archive", archive.to_str().unwrap()]);
    assert!(
        v.stdout
            .contains(&format!("{} files ({stored} rows) match", files.len())),
        "{}",
        v.stdout
    );
}

/// RFC 3339 (as `events -f json` writes it) to microseconds since the epoch.
fn driftlog_time_us(text: &str) -> i64 {
    let ts: jiff::Timestamp = text.parse().unwrap();
    ts.as_microsecond()
}

#[test]
fn a_second_run_archives_only_what_is_new_and_verify_names_every_tampering() {
    let env = Env::new();
    let archive = env.path("archive");
    let to = archive.to_str().unwrap().to_owned();
    env.ok(&["ingest", common::quickstart("cloudtrail").to_str().unwrap()]);
    let first = env.json(&["archive", "--to", &to, "-f", "json"]);
    let through = first["through"].as_i64().unwrap();
    assert_eq!(first["after"], 0);
    assert!(through > 0);

    // Nothing new: nothing written, nothing recorded.
    let again = env.ok(&["archive", "--to", &to]);
    assert!(
        again.stdout.contains("nothing new to archive"),
        "{}",
        again.stdout
    );

    let k8s = common::workspace_root().join("crates/driftlog/tests/data/audit");
    let r = run(env.cmd().args(["ingest", k8s.to_str().unwrap()]));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let second = env.json(&["archive", "--to", &to, "-f", "json"]);
    assert_eq!(second["after"].as_i64(), Some(through));
    for f in second["files"].as_array().unwrap() {
        assert!(f["first_id"].as_i64().unwrap() > through, "{f}");
        assert!(
            f["path"]
                .as_str()
                .unwrap()
                .ends_with(&format!("events-{}.parquet", through + 1)),
            "{f}"
        );
    }
    env.ok(&["verify", "--archive", &to]);

    // A flipped byte in one file.
    let victim = archive.join(second["files"][0]["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let r = run(env.cmd().args(["verify", "--archive", &to]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("was altered"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(second["files"][0]["path"].as_str().unwrap()),
        "{}",
        r.stderr
    );

    // A removed file and an added one.
    std::fs::remove_file(&victim).unwrap();
    std::fs::create_dir_all(archive.join("source=aws")).unwrap();
    std::fs::write(archive.join("source=aws/stray.parquet"), b"PAR1").unwrap();
    let r = run(env.cmd().args(["verify", "--archive", &to]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is missing"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("stray.parquet is recorded by no ledger entry"),
        "{}",
        r.stderr
    );
}

#[test]
fn archive_needs_the_ledger_and_verify_a_recorded_destination() {
    let env = Env::new();
    env.ok(&["ingest", common::quickstart("cloudtrail").to_str().unwrap()]);
    let to = env.path("archive");
    let r = run(env.cmd().env("DRIFTLOG_LEDGER", "off").args([
        "archive",
        "--to",
        to.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--ledger off"), "{}", r.stderr);
    assert!(!to.join("source=aws").exists(), "nothing written");

    std::fs::create_dir_all(env.path("elsewhere")).unwrap();
    env.ok(&["archive", "--to", to.to_str().unwrap()]);
    let r = run(env.cmd().args([
        "verify",
        "--archive",
        env.path("elsewhere").to_str().unwrap(),
    ]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("records no archive of this store at")
            && r.stderr.contains(to.file_name().unwrap().to_str().unwrap()),
        "{}",
        r.stderr
    );
}

#[test]
fn an_archive_in_s3_is_written_and_checked_through_the_sdk() {
    let Some(moto) = common::moto::start() else {
        return;
    };
    moto.python("s3.create_bucket(Bucket='archive')");
    let env = Env::new();
    env.ok(&["ingest", common::quickstart("cloudtrail").to_str().unwrap()]);
    let aws = |cmd: &mut Command| {
        common::moto::aws_env(cmd).env("DRIFTLOG_ENDPOINT_URL", &moto.endpoint);
    };
    let mut cmd = env.cmd();
    aws(&mut cmd);
    let r = run(cmd.args(["archive", "--to", "s3://archive/driftlog/", "-f", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["destination"], "s3://archive/driftlog");
    let first = report["files"][0]["path"].as_str().unwrap().to_owned();

    let mut cmd = env.cmd();
    aws(&mut cmd);
    let r = run(cmd.args(["verify", "--archive", "s3://archive/driftlog"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    moto.python(&format!(
        "o = s3.get_object(Bucket='archive', Key='driftlog/{first}')['Body'].read()\n\
         b = bytearray(o); b[len(b) // 2] ^= 1\n\
         s3.put_object(Bucket='archive', Key='driftlog/{first}', Body=bytes(b))"
    ));
    let mut cmd = env.cmd();
    aws(&mut cmd);
    let r = run(cmd.args(["verify", "--archive", "s3://archive/driftlog"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("{first} was altered")),
        "{}",
        r.stderr
    );
}

#[test]
fn prune_removes_only_archived_old_events_and_verify_counts_them_apart() {
    prune_removes_only_archived_old_events(&Env::new());
}

/// The same on PostgreSQL, where whole months older than the cut are dropped as partitions.
#[test]
fn prune_on_postgres_drops_whole_months_and_verify_counts_them_apart() {
    let Some(env) = Env::on_postgres() else {
        return;
    };
    let url = env.postgres.as_ref().unwrap().url.clone();
    prune_removes_only_archived_old_events(&env);
    let months = driftlog_postgres::testing::partitions(&url);
    let old: Vec<&(String, i64)> = months
        .iter()
        .filter(|(name, _)| {
            name.starts_with("audit_event_blocks_p")
                && name.as_str() < "audit_event_blocks_p2026_01"
        })
        .collect();
    // The late event (May 2020) was not archived: its month stays, the others went whole.
    assert_eq!(
        old,
        [&("audit_event_blocks_p2020_05".to_owned(), 1)],
        "{months:?}"
    );
}

fn prune_removes_only_archived_old_events(env: &Env) {
    let data = audit_data();
    let mut ingest = vec!["ingest"];
    ingest.extend(data.iter().map(|p| p.to_str().unwrap()));
    let r = run(env.cmd().args(&ingest));
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let all = env.json(&["events", "--format", "json"]);
    let total = all["count"].as_u64().unwrap();
    let cut = "2026-01-01T00:00:00Z";
    let old = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["time"].as_str().unwrap() < cut)
        .count() as u64;
    assert!(
        old > 0 && old < total,
        "{old} of {total} events are older than {cut}"
    );

    // Nothing archived yet: nothing may go.
    let r = run(env.cmd().args(["prune", "--retain", cut]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("archive --to"), "{}", r.stderr);
    assert_eq!(
        env.json(&["events", "--format", "json"])["count"].as_u64(),
        Some(total)
    );

    let archive = env.path("archive");
    env.ok(&["archive", "--to", archive.to_str().unwrap()]);
    // Events stored after the archive run are not archived: they stay whatever their age.
    let late = env.path("late.json");
    std::fs::write(
        &late,
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2020-05-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","eventID":"late-1","readOnly":false,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/late","accountId":"123456789012"},"recipientAccountId":"123456789012"}]}"#,
    )
    .unwrap();
    env.ok(&["ingest", late.to_str().unwrap()]);
    let with_late = env.json(&["events", "--format", "json"])["count"]
        .as_u64()
        .unwrap();
    assert_eq!(with_late, total + 1);

    let report = env.json(&["prune", "--retain", cut, "-f", "json"]);
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["events"].as_u64(), Some(old));
    let left = env.json(&["events", "--format", "json"]);
    assert_eq!(left["count"].as_u64(), Some(with_late - old));
    let archived_through = report["archived_through"].as_i64().unwrap();
    assert!(left["events"].as_array().unwrap().iter().all(|e| {
        e["time"].as_str().unwrap() >= cut || e["id"].as_i64().unwrap() > archived_through
    }));
    assert!(
        left["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_id"] == "late-1"),
        "an old event stored after the archive run stays"
    );

    // The store still verifies: pruned events are counted apart, not as deleted.
    let v = env.ok(&["verify", "--archive", archive.to_str().unwrap()]);
    assert!(
        v.stdout.contains(&format!(
            "; {old} removed by retention after they were archived"
        )),
        "{}",
        v.stdout
    );
    // Pruning again removes nothing; ingesting the same files does not bring them back.
    assert_eq!(
        env.json(&["prune", "--retain", cut, "-f", "json"])["events"],
        0
    );
    let _ = run(env.cmd().args(&ingest));
    assert_eq!(
        env.json(&["events", "--format", "json"])["count"].as_u64(),
        Some(with_late - old)
    );
}
