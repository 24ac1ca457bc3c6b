//! `.driftlogignore` and `--ignore`: globs, attribute paths, negation, expiry, owners.

mod common;
use common::*;

fn scan_in(dir: &std::path::Path, extra: &[&str]) -> Run {
    let mut cmd = driftlog();
    cmd.current_dir(dir)
        .args(["scan", "--declared"])
        .arg(quickstart("declared.tfstate"))
        .arg("--live")
        .arg(quickstart("live.tfstate"))
        .args(["-f", "json"])
        .args(extra);
    run(&mut cmd)
}

#[test]
fn the_ignore_file_in_the_current_directory_applies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".driftlogignore"),
        "# tags are managed by the cost team\naws_s3_bucket.* tags* owner=finops\n\
         aws_instance.web[*] instance_type expires=2000-01-01 owner=alice reason=\"resize test\"\n\
         aws_sqs_queue.jobs\n!aws_sqs_queue.jobs\n",
    )
    .unwrap();
    let r = scan_in(dir.path(), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    let addresses: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["address"].as_str().unwrap())
        .collect();
    // Bucket tags ignored (and nothing else changed on it); the expired rule does not apply; the
    // negation re-includes the queue.
    assert_eq!(
        addresses,
        [
            "aws_instance.web[1]",
            "aws_security_group.web",
            "aws_sqs_queue.jobs"
        ]
    );
    let ignored: Vec<(&str, &str)> = v["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["path"].as_str().unwrap(), i["owner"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ignored,
        [("tags.Owner", "finops"), ("tags_all.Owner", "finops")]
    );
    assert_eq!(v["ignored"][0]["origin"], ".driftlogignore:2");
    assert_eq!(v["expired_ignore_rules"][0]["expires"], "2000-01-01");
    assert_eq!(v["expired_ignore_rules"][0]["owner"], "alice");
    assert_eq!(v["summary"]["ignored"], 2);

    // The console says the rule expired.
    let console = run(driftlog()
        .current_dir(dir.path())
        .args(["scan", "--declared"])
        .arg(quickstart("declared.tfstate"))
        .arg("--live")
        .arg(quickstart("live.tfstate")));
    assert!(
        console.stdout.contains("ignore rule expired on 2000-01-01"),
        "{}",
        console.stdout
    );
}

#[test]
fn flags_can_ignore_everything_and_the_exit_code_follows() {
    let dir = tempfile::tempdir().unwrap();
    let r = scan_in(dir.path(), &["--ignore", "*"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["summary"]["ignored"], 4);
}

#[test]
fn a_bad_rule_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules"),
        "aws_s3_bucket.*\naws_instance.web expires=soon\n",
    )
    .unwrap();
    let r = scan_in(dir.path(), &["--ignore-file", "rules"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("rules:2") && r.stderr.contains("YYYY-MM-DD"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}
