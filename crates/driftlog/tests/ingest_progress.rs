//! Issue 3: a long ingest shows a progress bar (bytes, throughput, files, events) on a terminal
//! and stays quiet otherwise. The terminal is a real pseudo-terminal, made by util-linux
//! `script`.

mod common;
use common::*;
use std::process::Command;

/// Ingest the quickstart's CloudTrail with stderr on a pseudo-terminal; returns what the
/// terminal showed, or None (saying why) when `script` is missing.
fn ingest_on_a_terminal(store: &TempStore) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIP: util-linux `script` is not installed (Debian package bsdutils)");
        return None;
    }
    let command = format!(
        "{} --ledger off --store {} ingest {}",
        env!("CARGO_BIN_EXE_driftlog"),
        store.path().display(),
        workspace_root()
            .join("examples/quickstart/cloudtrail")
            .display()
    );
    // -q: no banner; -e: the command's exit code; -c: the command; the log file is not needed,
    // the terminal's output arrives on script's stdout.
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_terminal_gets_a_progress_bar_and_a_pipe_does_not() {
    let store = TempStore::new();
    let Some(terminal) = ingest_on_a_terminal(&store) else {
        return;
    };
    // The bar: bytes of the planned total, throughput, files and events, redrawn in place.
    assert!(terminal.contains("/5 files"), "{terminal:?}");
    assert!(terminal.contains("events"), "{terminal:?}");
    assert!(terminal.contains("B/s"), "{terminal:?}");
    assert!(terminal.contains("\r"), "redrawn in place: {terminal:?}");
    // The summary still follows.
    assert!(
        terminal.contains("ingested 12 events from 5 files"),
        "{terminal:?}"
    );

    // Without a terminal: the summary only.
    let piped = TempStore::new();
    let r = piped.ingest(&[&workspace_root().join("examples/quickstart/cloudtrail")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("B/s"), "{}", r.stderr);
    assert!(!r.stderr.contains('\r'), "{:?}", r.stderr);
    assert!(
        r.stdout.contains("ingested 12 events from 5 files"),
        "{}",
        r.stdout
    );
}
