//! Issue 5: every scan and ingest lands in the ledger; proofs and checkpoints printed by driftlog
//! check out with a second implementation written here from RFC 9162; tampering and `kill -9`
//! are caught or harmless.

mod common;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

type Hash = [u8; 32];

fn sha(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 9162 §2.1.1 MTH, independently of driftlog-ledger.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            sha(&[&[1], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// RFC 9162 §2.1.3.1 PATH.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m <= k {
        let mut p = subproof(m, &leaves[..k], b);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = driftlog();
        c.current_dir(self.dir.path())
            .env("DRIFTLOG_LEDGER", self.dir.path().join("ledger.db"))
            .env("DRIFTLOG_LEDGER_KEY", self.dir.path().join("ledger.key"))
            .env("DRIFTLOG_STORE", self.dir.path().join("events.db"));
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args))
    }

    fn scan_quickstart(&self) -> Run {
        let q = workspace_root().join("examples/quickstart");
        run(self
            .cmd()
            .arg("scan")
            .arg("--declared")
            .arg(q.join("declared.tfstate"))
            .arg("--live")
            .arg(q.join("live.tfstate"))
            .arg("--audit")
            .arg(q.join("cloudtrail")))
    }

    /// Every entry's canonical JSON, as `ledger show --json` prints it.
    fn leaves(&self) -> Vec<Hash> {
        let r = self.run(&["ledger", "show", "--json"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .map(|line| sha(&[&[0], line.as_bytes()]))
            .collect()
    }
}

fn unb64(s: &serde_json::Value) -> Hash {
    B64.decode(s.as_str().unwrap()).unwrap().try_into().unwrap()
}

#[test]
fn scans_and_ingests_are_recorded_and_proofs_check_out_independently() {
    let w = Workspace::new();
    assert_eq!(
        w.run(&["ledger", "keygen", "--name", "ledger.test/driftlog"])
            .code,
        0
    );
    assert_eq!(w.scan_quickstart().code, 2);
    let cp1 = w.run(&["ledger", "checkpoint"]);
    assert_eq!(cp1.code, 0, "{}", cp1.stderr);
    std::fs::write(w.dir.path().join("cp1.txt"), &cp1.stdout).unwrap();

    // The key, the --audit ingest's committed batch and its run, the scan, one entry per
    // finding: 8. No secret value is in any.
    let show = w.run(&["ledger", "show", "--json"]);
    let kinds: Vec<String> = show
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "key",
            "ingest-batch",
            "ingest",
            "scan",
            "finding",
            "finding",
            "finding",
            "finding"
        ]
    );
    assert!(!show.stdout.contains("QUICKSTART-CANARY"));

    // The checkpoint's root is the reference MTH of the entries.
    let leaves = w.leaves();
    let lines: Vec<&str> = cp1.stdout.lines().collect();
    assert_eq!(lines[0], "ledger.test/driftlog");
    assert_eq!(lines[1], "8");
    assert_eq!(B64.decode(lines[2]).unwrap(), mth(&leaves));
    assert!(lines[4].starts_with("\u{2014} ledger.test/driftlog "));

    // More appends, a second checkpoint; a proof against the first still holds.
    let fixtures = workspace_root().join("crates/driftlog/tests/data/audit/lookup-events.jsonl");
    let ingest = run(w.cmd().arg("ingest").arg(&fixtures));
    assert_eq!(ingest.code, 0, "{}", ingest.stderr);
    let cp2 = w.run(&["ledger", "checkpoint"]);
    std::fs::write(w.dir.path().join("cp2.txt"), &cp2.stdout).unwrap();
    assert!(cp2.stdout.contains("\n10\n"), "{}", cp2.stdout);

    for entry in 0..8usize {
        let r = w.run(&[
            "ledger",
            "prove",
            "--entry",
            &entry.to_string(),
            "--checkpoint",
            "cp1.txt",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = json(&r);
        assert_eq!(v["tree_size"], 8);
        assert_eq!(unb64(&v["leaf_hash"]), leaves[entry]);
        let hashes: Vec<Hash> = v["hashes"].as_array().unwrap().iter().map(unb64).collect();
        assert_eq!(hashes, path(entry, &leaves[..8]), "entry {entry}");
    }
    let consistency = w.run(&[
        "ledger",
        "consistency",
        "--old",
        "cp1.txt",
        "--new",
        "cp2.txt",
    ]);
    assert_eq!(consistency.code, 0, "{}", consistency.stderr);
    let c = json(&consistency);
    assert_eq!(
        (c["old_size"].as_u64(), c["new_size"].as_u64()),
        (Some(8), Some(10))
    );
    let hashes: Vec<Hash> = c["hashes"].as_array().unwrap().iter().map(unb64).collect();
    let all = w.leaves();
    assert_eq!(hashes, subproof(8, &all[..10], true));
    assert_eq!(
        B64.decode(cp2.stdout.lines().nth(2).unwrap()).unwrap(),
        mth(&all[..10])
    );

    let verify = w.run(&["ledger", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(
        verify.stdout.contains("10 entries verified"),
        "{}",
        verify.stdout
    );
    assert!(verify
        .stdout
        .contains("signed checkpoints verified and consistent"));
}

#[test]
fn verify_reports_the_first_bad_entry() {
    let w = Workspace::new();
    w.run(&["ledger", "keygen", "--name", "ledger.test/driftlog"]);
    assert_eq!(w.scan_quickstart().code, 2);
    let db = rusqlite::Connection::open(w.dir.path().join("ledger.db")).unwrap();
    db.execute(
        "UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), 'aws_', 'AWS_') AS BLOB) WHERE idx = 4",
        [],
    )
    .unwrap();
    let r = w.run(&["ledger", "verify"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("first bad entry 4"), "{}", r.stderr);
}

/// Appends forever, to be killed.
fn append_loop(w: &Workspace) -> std::process::Child {
    let q = workspace_root().join("examples/quickstart");
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while :; do \"$0\" scan --declared {d} --live {l} >/dev/null 2>&1; done",
            d = q.join("declared.tfstate").display(),
            l = q.join("live.tfstate").display()
        ))
        .arg(env!("CARGO_BIN_EXE_driftlog"))
        .current_dir(w.dir.path())
        .env("NO_COLOR", "1")
        .env("DRIFTLOG_LEDGER", w.dir.path().join("ledger.db"))
        .env("DRIFTLOG_LEDGER_KEY", w.dir.path().join("ledger.key"))
        .env("DRIFTLOG_STORE", w.dir.path().join("events.db"))
        .process_group(0)
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_during_appends_leaves_a_verifiable_log() {
    let w = Workspace::new();
    w.run(&["ledger", "keygen", "--name", "ledger.test/driftlog"]);
    for millis in [700u64, 1300, 2100] {
        let child = append_loop(&w);
        std::thread::sleep(std::time::Duration::from_millis(millis));
        // SIGKILL the whole group: the shell and the scan in flight.
        let pgid = child.id() as i32;
        let status = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status()
            .unwrap();
        assert!(status.success());
        let mut child = child;
        let _ = child.wait();
        let r = w.run(&["ledger", "verify"]);
        assert_eq!(r.code, 0, "after kill -9 at {millis} ms: {}", r.stderr);
    }
    assert!(Path::new(&w.dir.path().join("ledger.db")).exists());
    assert!(
        w.leaves().len() >= 5,
        "scans were recorded between the kills"
    );
}

#[test]
fn acknowledgements_and_ignore_rule_changes_are_recorded() {
    let w = Workspace::new();
    let ack = w.run(&[
        "ledger",
        "ack",
        "--address",
        "aws_s3_bucket.assets",
        "--reason",
        "data team owns the tag now",
        "--by",
        "alice",
        "--expires",
        "2027-01-31",
    ]);
    assert_eq!(ack.code, 0, "{}", ack.stderr);
    std::fs::write(
        w.dir.path().join(".driftlogignore"),
        "aws_s3_bucket.assets tags.Owner expires=2027-01-31 owner=alice\n",
    )
    .unwrap();
    // Two scans with the same rules record the rules once.
    assert_eq!(w.scan_quickstart().code, 2);
    assert_eq!(w.scan_quickstart().code, 2);
    let show = w.run(&["ledger", "show", "--json"]);
    let entries: Vec<serde_json::Value> = show
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries[0]["kind"], "ack");
    assert_eq!(entries[0]["by"], "alice");
    assert_eq!(entries[0]["expires"], "2027-01-31");
    let rule_entries: Vec<_> = entries
        .iter()
        .filter(|e| e["kind"] == "ignore-rules")
        .collect();
    assert_eq!(rule_entries.len(), 1);
    assert_eq!(rule_entries[0]["rules"][0]["owner"], "alice");
    assert_eq!(w.run(&["ledger", "verify"]).code, 0);
}
