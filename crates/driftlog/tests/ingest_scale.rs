//! Issue 3: a million generated CloudTrail events are stored exactly once, even when the ingest
//! is killed with SIGKILL several times along the way; re-ingesting adds nothing.

mod common;

use common::{driftlog, gen_corpus, json, run, TempStore};
use std::process::{Command, Stdio};
use std::time::Duration;

const EVENTS: u64 = 1_000_000;

/// (events, files recorded, events those files brought, problems)
fn store_state(store: &TempStore) -> (u64, u64, u64, Vec<String>) {
    let s = driftlog_store::Store::open(&store.path()).expect("store opens after a kill");
    (
        s.event_count().unwrap(),
        s.file_count().unwrap(),
        s.recorded_file_events().unwrap(),
        s.check().unwrap(),
    )
}

#[test]
fn a_million_events_exactly_once_through_kill_9() {
    let Some(tool) = gen_corpus() else {
        return;
    };
    let corpus = tempfile::tempdir().unwrap();
    let trail = corpus.path().join("trail");
    let generated = Command::new("python3")
        .arg(&tool)
        .args(["cloudtrail", "--events", &EVENTS.to_string(), "--out"])
        .arg(&trail)
        .output()
        .expect("run gen-corpus");
    assert!(
        generated.status.success(),
        "gen-corpus: {}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trail.join("MANIFEST.json")).unwrap()).unwrap();
    let files = manifest["files"].as_u64().unwrap();
    assert_eq!(manifest["records"], EVENTS);

    let store = TempStore::new();
    // Killed at different depths: while parsing the first batch, and during later batches
    // (a whole ingest takes about 10 s on two cores; each run resumes where the last stopped).
    let mut last = 0;
    let mut killed = 0;
    for delay_ms in [1000, 2500, 4000] {
        let mut child = driftlog()
            .arg("--store")
            .arg(store.path())
            .arg("ingest")
            .arg(&trail)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        // `Child::kill` is SIGKILL on Unix: no chance to clean up.
        let _ = child.kill();
        let status = child.wait().unwrap();
        killed += u32::from(!status.success());
        let (events, files_done, file_events, problems) = store_state(&store);
        eprintln!("killed after {delay_ms} ms ({status}): {events} events, {files_done} files");
        assert!(
            problems.is_empty(),
            "inconsistent after kill -9: {problems:?}"
        );
        // Each committed batch holds whole files and records them: no file is half stored,
        // and no stored event lacks its file record.
        assert_eq!(events, file_events);
        assert!(events >= last, "nothing committed is lost");
        last = events;
    }
    assert!(killed >= 2, "the kills must land mid-ingest");

    let done = run(driftlog()
        .arg("--store")
        .arg(store.path())
        .args(["ingest", "--format", "json"])
        .arg(&trail));
    assert_eq!(done.code, 0, "{}", done.stderr);
    let summary = json(&done);
    assert_eq!(summary["store_events"], EVENTS, "{summary}");
    assert_eq!(
        summary["events"]["inserted"].as_u64().unwrap(),
        EVENTS - last
    );
    assert_eq!(
        summary["files"]["read"].as_u64().unwrap()
            + summary["files"]["unchanged"].as_u64().unwrap(),
        files
    );
    let (events, files_done, file_events, problems) = store_state(&store);
    assert_eq!((events, files_done, file_events), (EVENTS, files, EVENTS));
    assert!(problems.is_empty(), "{problems:?}");

    let again = run(driftlog()
        .arg("--store")
        .arg(store.path())
        .args(["ingest", "--format", "json"])
        .arg(&trail));
    assert_eq!(again.code, 0);
    let summary = json(&again);
    assert_eq!(summary["events"]["inserted"], 0);
    assert_eq!(
        summary["files"]["unchanged"], files,
        "skipped without being read"
    );
    assert_eq!(summary["store_events"], EVENTS);

    // An indexed lookup on the full store answers.
    let hits = store.events(&["--action", "AuthorizeSecurityGroupIngress", "--limit", "5"]);
    assert_eq!(hits.len(), 5);
    let sg = hits[0]["resources"][0].as_str().unwrap().to_owned();
    let by_resource = store.events(&["--resource", &sg, "--limit", "10000"]);
    assert!(by_resource
        .iter()
        .any(|e| e["event_id"] == hits[0]["event_id"]));

    // The evidence is compressed with one dictionary trained on the corpus's own records
    // (before the first kill): every block is a zstd frame, and a record costs a fraction of its
    // ~1.4 KB.
    let db = rusqlite::Connection::open(store.path()).unwrap();
    let dictionaries: Vec<u32> = db
        .prepare("SELECT id FROM evidence_dictionaries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(dictionaries.len(), 1, "{dictionaries:?}");
    let (blocks, named, bytes): (i64, i64, i64) = db
        .query_row(
            "SELECT count(*) FILTER (WHERE id & 1048575 = 0), \
             sum(id & 1048575 = 0 AND substr(data, 1, 4) = x'28b52ffd'), sum(length(data)) \
             FROM evidence_pieces",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(named, blocks, "every block a zstd frame");
    let per_event = bytes as u64 / EVENTS;
    assert!(per_event < 250, "{per_event} evidence bytes per event");
}
