//! Shared helpers for the integration tests: run the real binary, find the shared fixtures and
//! the corpus generator, and skip (saying why) when they are absent.
#![allow(dead_code)]

pub mod browser;
pub mod moto;
pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn driftlog() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_driftlog"));
    cmd.env("NO_COLOR", "1")
        .env_remove("DRIFTLOG_TERRAFORM")
        // Never pick up a developer's own `.driftlog/` store: scans without `--store` see none.
        .env("DRIFTLOG_STORE", "/nonexistent/driftlog-tests/events.db")
        // The ledger is tested on its own (tests/ledger.rs); elsewhere nothing is appended.
        .env("DRIFTLOG_LEDGER", "off")
        .env("COLUMNS", "120");
    cmd
}

/// `../shared/fixtures` beside the checkout, or `$DRIFTLOG_FIXTURES`.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("DRIFTLOG_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/fixtures"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: shared fixtures not found at {} (set DRIFTLOG_FIXTURES)",
            dir.display()
        );
        None
    }
}

/// The scenario and CloudTrail generator from `../shared/tools`.
pub fn gen_corpus() -> Option<PathBuf> {
    let tool = std::env::var_os("DRIFTLOG_GEN_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/tools/gen-corpus"));
    if tool.is_file() {
        Some(tool)
    } else {
        eprintln!(
            "SKIP: gen-corpus not found at {} (set DRIFTLOG_GEN_CORPUS)",
            tool.display()
        );
        None
    }
}

pub fn quickstart(file: &str) -> PathBuf {
    workspace_root().join("examples/quickstart").join(file)
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run driftlog");
    Run {
        code: status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// Run with `input` on standard input.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run driftlog");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for driftlog");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// `gen-corpus scenario --resources N` into `out` (`noise` events, default 10 × N); false when
/// the generator is absent (the caller skips).
pub fn gen_scenario(resources: usize, out: &Path, noise: Option<usize>) -> bool {
    let Some(tool) = gen_corpus() else {
        return false;
    };
    let mut cmd = Command::new("python3");
    cmd.arg(tool)
        .args(["scenario", "--resources", &resources.to_string(), "--out"])
        .arg(out);
    if let Some(noise) = noise {
        cmd.args(["--noise", &noise.to_string()]);
    }
    let status = cmd.status().expect("run gen-corpus");
    assert!(status.success(), "gen-corpus failed");
    true
}

pub fn scan(args: &[&str]) -> Run {
    run(driftlog().arg("scan").args(args))
}

pub fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            run.stdout, run.stderr
        )
    })
}

/// A fresh store in a temporary directory (removed when the guard drops).
pub struct TempStore {
    pub dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("events.db")
    }

    /// `driftlog --store STORE ingest ARGS...`
    pub fn ingest(&self, args: &[&Path]) -> Run {
        run(driftlog()
            .arg("--store")
            .arg(self.path())
            .arg("ingest")
            .args(args))
    }

    /// `driftlog --store STORE events ARGS... --format json`, parsed; panics unless exit 0.
    pub fn events(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let r = run(driftlog()
            .arg("--store")
            .arg(self.path())
            .arg("events")
            .args(args)
            .args(["--format", "json"]));
        assert_eq!(r.code, 0, "events {args:?} failed: {}", r.stderr);
        json(&r)["events"].as_array().expect("events array").clone()
    }

    /// The one event with this native id.
    pub fn event(&self, event_id: &str) -> serde_json::Value {
        let all = self.events(&[]);
        let found: Vec<_> = all
            .into_iter()
            .filter(|e| e["event_id"] == event_id)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "event {event_id} stored {} times",
            found.len()
        );
        found.into_iter().next().unwrap()
    }
}

/// Own audit-log fixtures (written for these tests; see tests/data/audit/README.md).
pub fn audit_data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/audit")
        .join(file)
}

/// The finding for `address` in a JSON scan report (panics if absent).
pub fn finding<'a>(report: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["address"] == address)
        .unwrap_or_else(|| panic!("no finding for {address}"))
}

/// A whole run as one text for an `insta` snapshot: exit code, stdout and stderr, with the
/// parts that change from run to run (temporary directories, the workspace path, times,
/// durations) replaced by stable placeholders.
pub fn snapshot(run: &Run, temp: &[&Path]) -> String {
    let mut text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
    for (i, dir) in temp.iter().enumerate() {
        text = text.replace(&dir.display().to_string(), &format!("[TEMP{i}]"));
    }
    text = text.replace(&workspace_root().display().to_string(), "[WORKSPACE]");
    durations_replaced(&text)
}

/// `in 0.0 s`-style durations replaced; times from fixtures are kept, since they are part of the
/// expected output.
fn durations_replaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let mut l = line.to_owned();
        if let Some(at) = l.find(" in ") {
            let rest = &l[at + 4..];
            if let Some(end) = rest.find(" s") {
                if rest[..end].chars().all(|c| c.is_ascii_digit() || c == '.') && end > 0 {
                    l = format!("{} in [SECONDS]{}", &l[..at], &rest[end..]);
                }
            }
        }
        out.push_str(&l);
    }
    out
}
