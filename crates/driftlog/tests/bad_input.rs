//! Bad input gets a one-line error naming the file and position, exit 1, no panic, and no
//! report written.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;

fn assert_clean_failure(file: &Path, must_mention: &[&str]) {
    for mode in [
        vec!["--plan", file.to_str().unwrap()],
        vec![
            "--declared",
            file.to_str().unwrap(),
            "--live",
            file.to_str().unwrap(),
        ],
    ] {
        let r = scan(&mode);
        assert_eq!(
            r.code, 1,
            "{mode:?}: stdout {} stderr {}",
            r.stdout, r.stderr
        );
        assert!(r.stdout.is_empty(), "nothing on stdout: {}", r.stdout);
        assert_eq!(
            r.stderr.trim_end().lines().count(),
            1,
            "one line: {}",
            r.stderr
        );
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(
            r.stderr.contains(&file.display().to_string()),
            "names the file: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        for needle in must_mention {
            assert!(r.stderr.contains(needle), "{needle:?} not in {}", r.stderr);
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_clean_failure(&write(dir.path(), "empty.tfstate", b""), &["file is empty"]);
    assert_clean_failure(
        &write(dir.path(), "blank.tfstate", b"  \n\n"),
        &["file is empty"],
    );
}

#[test]
fn truncated_json() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(quickstart("declared.tfstate")).unwrap();
    let cut = &full[..full.len() * 2 / 3];
    let lines = cut.iter().filter(|b| **b == b'\n').count() + 1;
    assert_clean_failure(
        &write(dir.path(), "truncated.tfstate", cut),
        &["EOF while parsing", &format!("line {lines}, column")],
    );
}

#[test]
fn binary_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_clean_failure(&write(dir.path(), "garbage.bin", &garbage), &["byte 0"]);
    // Garbage after a valid start: reported at its position.
    let mut mixed = b"{\"version\": 4, \"resources\": [".to_vec();
    mixed.extend_from_slice(&garbage);
    assert_clean_failure(
        &write(dir.path(), "mixed.tfstate", &mixed),
        &["line 1, column"],
    );
    // Invalid UTF-8 inside a string.
    assert_clean_failure(
        &write(
            dir.path(),
            "utf8.tfstate",
            b"{\"version\": 4, \"terraform_version\": \"\xff\xfe\"}",
        ),
        &["line 1, column"],
    );
}

#[test]
fn json_array_instead_of_object() {
    let dir = tempfile::tempdir().unwrap();
    assert_clean_failure(
        &write(dir.path(), "array.json", b"[{\"version\": 4}]"),
        &["expected a JSON object", "found a JSON array"],
    );
}

#[test]
fn wrong_types_and_unknown_documents() {
    let dir = tempfile::tempdir().unwrap();
    assert_clean_failure(
        &write(
            dir.path(),
            "types.tfstate",
            b"{\"version\": 4, \"resources\": {\"a\": 1}}",
        ),
        &["invalid type", "line 1, column"],
    );
    assert_clean_failure(
        &write(dir.path(), "other.json", b"{\"name\": \"not terraform\"}"),
        &["not a Terraform state or plan", "name"],
    );
    assert_clean_failure(
        &write(dir.path(), "deep.json", &[b'['; 100_000]),
        &["expected a JSON object"],
    );
    let mut deep = b"{\"version\": 4, \"outputs\": ".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    assert_clean_failure(
        &write(dir.path(), "deep.tfstate", &deep),
        &["line 1, column"],
    );
    // Deep but balanced nesting inside attributes that differ: the parser's depth limit stops it.
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let state = |v: &str| {
        format!("{{\"version\":4,\"resources\":[{{\"mode\":\"managed\",\"type\":\"x\",\"name\":\"y\",\"instances\":[{{\"attributes\":{{\"a\":{v}}}}}]}}]}}")
    };
    let a = write(
        dir.path(),
        "deep-a.tfstate",
        state(&nest(50_000)).as_bytes(),
    );
    let b = write(
        dir.path(),
        "deep-b.tfstate",
        state(&nest(50_001)).as_bytes(),
    );
    let r = scan(&[
        "--declared",
        a.to_str().unwrap(),
        "--live",
        b.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("recursion limit") && r.stderr.contains("x.y"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert_clean_failure(dir.path(), &["is a directory"]);
}

#[test]
fn a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_clean_failure(&dir.path().join("nope.tfstate"), &["No such file"]);
}

#[test]
fn a_2_gb_file_of_one_line() {
    // Sparse, so it costs no disk: a state whose first attribute value runs on, without a newline,
    // for 2 GiB of NUL bytes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.tfstate");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"{\"version\":4,\"resources\":[{\"mode\":\"managed\",\"type\":\"x\",\"name\":\"y\",\"instances\":[{\"attributes\":{\"k\":\"").unwrap();
    f.set_len(2 * 1024 * 1024 * 1024).unwrap();
    drop(f);
    assert_clean_failure(&path, &["line 1, column", "control character"]);
}

#[test]
fn a_state_given_as_a_plan_and_a_plan_without_prior_state() {
    let r = scan(&["--plan", quickstart("declared.tfstate").to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("not a plan") && r.stderr.contains("--declared"),
        "{}",
        r.stderr
    );
    let Some(fx) = fixtures() else { return };
    let plan = fx.join("terraform-plan-json/infracost__azure_firewall_plan.json");
    let r = scan(&[
        "--declared",
        quickstart("declared.tfstate").to_str().unwrap(),
        "--live",
        plan.to_str().unwrap(),
    ]);
    // A plan of new resources carries no prior_state: say so rather than compare against nothing.
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("prior_state"), "{}", r.stderr);
}

#[test]
fn stdin_is_accepted() {
    let r = run_with_stdin(
        driftlog().args([
            "scan",
            "--declared",
            "-",
            "--live",
            quickstart("live.tfstate").to_str().unwrap(),
            "-f",
            "json",
        ]),
        &std::fs::read(quickstart("declared.tfstate")).unwrap(),
    );
    assert_eq!(r.code, 2);
    assert_eq!(json(&r)["inputs"][0]["path"], "<stdin>");
}
