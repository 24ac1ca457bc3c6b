//! Issue 3: bad files and records never stop the others; each is reported with its file and
//! position, counted, and left out whole; the run ends with exit 1 and nothing half-stored.

mod common;

use common::{driftlog, run, run_with_stdin, TempStore};
use std::io::Write;
use std::path::{Path, PathBuf};

const GOOD: &str = r#"{"eventVersion":"1.08","eventID":"11111111-0000-4000-8000-000000000001","eventTime":"2024-11-04T09:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"CreateTags","awsRegion":"eu-west-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"},"userAgent":"aws-cli/2.15.0","requestParameters":{"resourcesSet":{"items":[{"resourceId":"i-0good"}]}}}"#;

fn record(n: u32) -> String {
    GOOD.replace("000000000001", &format!("{n:012}"))
}

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn bad_files_and_records_are_reported_and_left_out_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let delivery = format!(r#"{{"Records":[{},{}]}}"#, record(1), record(2));
    write(d, "good.json.gz", &gzip(&delivery));

    // A gzip file cut in the middle of its data: none of its records may be kept.
    let mut cut = gzip(&format!(r#"{{"Records":[{},{}]}}"#, record(3), record(4)));
    cut.truncate(cut.len() / 2);
    write(d, "cut.json.gz", &cut);
    // Not gzip at all after the magic bytes.
    write(d, "garbage.json.gz", b"\x1f\x8b\x08\x00not really gzip");
    // A document cut short.
    write(
        d,
        "truncated.json",
        format!("{{\"Records\": [\n{},\n{}", record(5), &record(6)[..40]).as_bytes(),
    );
    // JSON lines: a good line, invalid UTF-8, wrong types, a missing field, then a good line.
    let mut lines = Vec::new();
    lines.extend_from_slice(record(7).as_bytes());
    lines.extend_from_slice(b"\n{\"eventID\":\"x\xff\xfe\"}\n");
    lines.extend_from_slice(
        record(8)
            .replace("\"2024-11-04T09:00:00Z\"", "12345")
            .as_bytes(),
    );
    lines.push(b'\n');
    lines.extend_from_slice(
        record(9)
            .replace("\"eventName\":\"CreateTags\",", "")
            .as_bytes(),
    );
    lines.push(b'\n');
    lines.extend_from_slice(record(10).as_bytes());
    lines.push(b'\n');
    write(d, "mixed.jsonl", &lines);

    let store = TempStore::new();
    let r = store.ingest(&[d]);
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let err = &r.stderr;
    let has = |needle: &str| assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    has("cut.json.gz: skipped the whole file: corrupt gzip data");
    has("garbage.json.gz: skipped the whole file: corrupt gzip data");
    has("truncated.json: skipped the whole file: not valid JSON at line 3");
    has("mixed.jsonl:line 2: skipped record: invalid UTF-8");
    has("mixed.jsonl:line 3: skipped record: a field has the wrong type");
    has("mixed.jsonl:line 4: skipped record: missing required field `eventName`");
    assert!(
        r.stdout
            .contains("left out: 3 files and 3 records (see the warnings above)"),
        "{}",
        r.stdout
    );

    // Exactly the good records are stored: 1, 2, 7 and 10.
    let ids: Vec<String> = store
        .events(&[])
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = [1, 2, 7, 10]
        .iter()
        .map(|n| format!("11111111-0000-4000-8000-{n:012}"))
        .collect();
    let mut got = ids.clone();
    got.sort();
    assert_eq!(got, want);

    // Running again reports the same problems and stores nothing twice.
    let again = store.ingest(&[d]);
    assert_eq!(again.code, 1);
    assert!(again.stdout.contains("0 new"), "{}", again.stdout);
    assert_eq!(store.events(&[]).len(), 4);
}

#[test]
fn a_named_file_that_is_not_an_audit_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "MANIFEST.json",
        br#"{"files": 3, "records": 10}"#,
    );
    let array = write(dir.path(), "numbers.json", b"[1, 2, 3]");
    let empty = write(dir.path(), "empty.json", b"  \n\n");
    let store = TempStore::new();
    let r = store.ingest(&[&manifest, &array, &empty]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("MANIFEST.json:line 1: skipped record: not a recognised audit record"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("numbers.json:line 1 ([0]): skipped record: expected a JSON object"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("empty.json: skipped the whole file: empty file"),
        "{}",
        r.stderr
    );
    // In a directory walk the manifest is just not a log.
    let walked = store.ingest(&[dir.path()]);
    assert!(
        walked
            .stdout
            .contains("1 files in directories are not audit logs"),
        "{}",
        walked.stdout
    );
}

#[test]
fn missing_inputs_and_missing_store() {
    let store = TempStore::new();
    let r = store.ingest(&[Path::new("/nonexistent/trail.json")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("/nonexistent/trail.json: skipped the whole file: cannot read"),
        "{}",
        r.stderr
    );

    let nowhere = tempfile::tempdir().unwrap();
    let q = run(driftlog()
        .arg("--store")
        .arg(nowhere.path().join("none.db"))
        .args(["events", "--resource", "x"]));
    assert_eq!(q.code, 1);
    assert!(q.stderr.contains("no event store at"), "{}", q.stderr);
    assert!(
        !nowhere.path().join("none.db").exists(),
        "a query must not create a store"
    );

    let bad_time =
        run(driftlog()
            .arg("--store")
            .arg(store.path())
            .args(["events", "--since", "yesterday"]));
    assert_eq!(bad_time.code, 1);
    assert!(
        bad_time.stderr.contains("`yesterday` is not a time"),
        "{}",
        bad_time.stderr
    );
}

#[test]
fn standard_input_is_read_and_deduplicated_by_content() {
    let store = TempStore::new();
    let feed = |text: String| {
        let r = run_with_stdin(
            driftlog()
                .arg("--store")
                .arg(store.path())
                .args(["ingest", "-"]),
            text.as_bytes(),
        );
        (r.code, r.stdout)
    };
    let text = format!("{}\n{}\n", record(21), record(22));
    let (code, out) = feed(text.clone());
    assert_eq!(code, 0);
    assert!(out.contains("2 new"), "{out}");
    let (code, out) = feed(text);
    assert_eq!(code, 0);
    assert!(out.contains("0 new, 2 already stored"), "{out}");
}
