//! Issue 10 §3: the ledger commits to the contents of every stored event, and `driftlog
//! verify` names the first event altered, deleted or inserted behind driftlog's back (edits
//! made directly in SQLite, as an intruder with file access would).

mod common;

use common::{driftlog, quickstart, run, Run};
use std::path::{Path, PathBuf};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn store(&self) -> PathBuf {
        self.dir.path().join("events.db")
    }
    fn cmd(&self, args: &[&str]) -> Run {
        run(driftlog()
            .arg("--store")
            .arg(self.store())
            .arg("--ledger")
            .arg(self.dir.path().join("ledger.db"))
            .args(args))
    }
    fn ingest(&self, path: &Path) {
        let r = self.cmd(&["ingest", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    fn sql(&self, sql: &str) {
        rusqlite::Connection::open(self.store())
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }
    fn verify(&self) -> Run {
        self.cmd(&["verify"])
    }
}

fn k8s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audit/k8s-audit.log")
}

#[test]
fn an_untouched_store_verifies() {
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    s.ingest(&k8s());
    let r = s.verify();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("events match the 2 batch entries"),
        "{}",
        r.stdout
    );
    // One batch entry per committed batch, naming the store, with its id ranges and root.
    let show = s.cmd(&["ledger", "show", "--json"]);
    let batches: Vec<serde_json::Value> = show
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "ingest-batch")
        .collect();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0]["ids"], serde_json::json!([[1, 12]]));
    assert_eq!(batches[0]["events"], 12);
    assert_eq!(batches[0]["store"], batches[1]["store"]);
}

#[test]
fn a_changed_principal_is_named() {
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    s.sql(
        "INSERT INTO strings (text) VALUES ('arn:aws:iam::123456789012:user/someone-else');
         UPDATE events SET principal = (SELECT id FROM strings WHERE text = 'arn:aws:iam::123456789012:user/someone-else') WHERE id = 5;",
    );
    let r = s.verify();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("event 5 (aws 5a170000-0000-4000-8000-000000000005) was altered"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_changed_record_of_evidence_is_named() {
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    // Point an event at another event's original record.
    // (The body holds where the record sits in its block.)
    s.sql("UPDATE events SET body = (SELECT body FROM events WHERE id = 3), raw_block = (SELECT raw_block FROM events WHERE id = 3) WHERE id = 4;");
    let r = s.verify();
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("event 4 ("), "{}", r.stderr);
    assert!(r.stderr.contains("was altered"), "{}", r.stderr);
}

#[test]
fn a_deleted_event_is_named() {
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    s.sql("DELETE FROM events WHERE id = 7;");
    let r = s.verify();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("event 7 was deleted: ledger entry 0 committed to it"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_inserted_event_is_named() {
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    s.sql(
        "INSERT INTO events (id, source, event_id, time_us, action, read_only, principal, issuer,
            actor_kind, shape, raw_block, body, leaf)
         SELECT 1000, source, 'forged-0001', time_us + 1, action, read_only, principal, issuer,
            actor_kind, shape, raw_block, body, leaf
         FROM events WHERE id = 2;",
    );
    let r = s.verify();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("event 1000 (aws forged-0001) was inserted: no ledger entry commits to it"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_event_rewritten_with_its_leaf_is_still_caught() {
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    // A careful intruder also rewrites the recorded leaf (here: another event's, as good as
    // any without the ledger): only the ledger's root can tell.
    // (Here a write passed off as a read, or the other way round.)
    s.sql("UPDATE events SET read_only = 1 - coalesce(read_only, 0), leaf = (SELECT leaf FROM events WHERE id = 2) WHERE id = 6;");
    let r = s.verify();
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("event 6 ("), "{}", r.stderr);

    // A perfect forgery: the leaf recomputed for the changed event, so the event matches its
    // recorded leaf. The batch's root in the ledger still tells.
    let s = Setup::new();
    s.ingest(&quickstart("cloudtrail"));
    s.sql("UPDATE events SET read_only = 1 - coalesce(read_only, 0) WHERE id = 6;");
    let forged = {
        let store = driftlog_store::Store::open(&s.store()).unwrap();
        let (event, raw, _) = store.events_after(5, 1).unwrap().remove(0);
        driftlog_store::event_leaf(&event.event, &raw)
    };
    rusqlite::Connection::open(s.store())
        .unwrap()
        .execute("UPDATE events SET leaf = ?1 WHERE id = 6", [&forged[..]])
        .unwrap();
    let r = s.verify();
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("ledger entry 0: events 1-12 no longer hash to its root although each matches its own recorded leaf"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_stage_replaced_in_a_later_batch_still_verifies() {
    let s = Setup::new();
    let dir = tempfile::tempdir().unwrap();
    let event = |stage: &str, code: &str| {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"stage-0001","stage":"{stage}","requestURI":"/api/v1/namespaces/shop/configmaps/web","verb":"update","user":{{"username":"ops@example.com"}},"sourceIPs":["203.0.113.5"],"userAgent":"kubectl/v1.31.0","objectRef":{{"resource":"configmaps","namespace":"shop","name":"web","apiVersion":"v1"}}{code},"requestReceivedTimestamp":"2026-11-20T10:00:00Z","stageTimestamp":"2026-11-20T10:00:01Z"}}"#
        )
    };
    let early = dir.path().join("early.log");
    let late = dir.path().join("late.log");
    std::fs::write(&early, event("RequestReceived", "")).unwrap();
    std::fs::write(
        &late,
        event("ResponseComplete", r#","responseStatus":{"code":200}"#),
    )
    .unwrap();
    s.ingest(&early);
    s.ingest(&late);
    let r = s.verify();
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The replacing batch says what the earlier copy was.
    let show = s.cmd(&["ledger", "show", "--json"]);
    assert!(
        show.stdout.contains(r#""replaced":[{"id":1,"leaf":""#),
        "{}",
        show.stdout
    );
    // And tampering with the replaced event is still found.
    s.sql("UPDATE events SET read_only = 1 - coalesce(read_only, 0) WHERE id = 1;");
    assert_eq!(s.verify().code, 1);
}
