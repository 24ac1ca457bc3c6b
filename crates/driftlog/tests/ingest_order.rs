//! Ingest is parallel, yet what it stores does not depend on thread timing: the same files with
//! the same options give every event the same id on every run. (Within a batch, events are
//! stored in time order for index locality, so a different `--batch-events` numbers them
//! differently; it stores the same events.)

mod common;

use common::{driftlog, gen_corpus, run, TempStore};
use std::process::Command;

/// (store id, native event id) of every stored event, in store order.
fn ids(store: &TempStore) -> Vec<(i64, String)> {
    let mut all: Vec<(i64, String)> = store
        .events(&["--limit", "1000000"])
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn the_same_files_get_the_same_ids_on_every_run() {
    let Some(tool) = gen_corpus() else {
        return;
    };
    let corpus = tempfile::tempdir().unwrap();
    let trail = corpus.path().join("trail");
    let status = Command::new("python3")
        .arg(&tool)
        .args(["cloudtrail", "--events", "20000", "--out"])
        .arg(&trail)
        .status()
        .expect("run gen-corpus");
    assert!(status.success());

    let mut runs = Vec::new();
    for batch in ["100000", "100000", "777"] {
        let store = TempStore::new();
        let r = run(driftlog()
            .arg("--store")
            .arg(store.path())
            .args(["--ledger", "off", "ingest", "--batch-events", batch])
            .arg(&trail));
        assert_eq!(r.code, 0, "{}", r.stderr);
        runs.push(ids(&store));
    }
    assert_eq!(runs[0].len(), 20000);
    assert_eq!(
        runs[0], runs[1],
        "two runs stored events in different orders"
    );
    let by_event = |run: &[(i64, String)]| {
        let mut events: Vec<String> = run.iter().map(|(_, e)| e.clone()).collect();
        events.sort();
        events
    };
    assert_eq!(
        by_event(&runs[0]),
        by_event(&runs[2]),
        "the batch size changed what was stored"
    );
}
