//! Inputs in S3: states read from `s3://bucket/key` through the AWS SDK, against a real
//! `moto_server` on loopback, give the same report as the same files read locally.

mod common;

use common::moto::{aws_env, start};
use common::{driftlog, json, quickstart, run};

#[test]
fn states_in_s3_scan_like_local_files() {
    let Some(moto) = start() else { return };
    let (declared, live) = (quickstart("declared.tfstate"), quickstart("live.tfstate"));
    moto.python(&format!(
        "s3.create_bucket(Bucket='tf-state')\n\
         s3.upload_file({:?}, 'tf-state', 'env:/prod/app/terraform.tfstate')\n\
         s3.upload_file({:?}, 'tf-state', 'refreshed/live.tfstate')\n",
        declared.display().to_string(),
        live.display().to_string()
    ));
    let remote = run(aws_env(&mut driftlog())
        .args([
            "--endpoint-url",
            &moto.endpoint,
            "scan",
            "--no-attribution",
            "-f",
            "json",
        ])
        .args([
            "--declared",
            "s3://tf-state/env:/prod/app/terraform.tfstate",
        ])
        .args(["--live", "s3://tf-state/refreshed/live.tfstate"]));
    assert_eq!(remote.code, 2, "{}", remote.stderr);
    let local = run(driftlog()
        .args(["scan", "--no-attribution", "-f", "json", "--declared"])
        .arg(&declared)
        .arg("--live")
        .arg(&live));
    let (r, l) = (json(&remote), json(&local));
    assert_eq!(r["findings"], l["findings"]);
    assert_eq!(r["summary"], l["summary"]);
    assert_eq!(
        r["inputs"][0]["path"],
        "s3://tf-state/env:/prod/app/terraform.tfstate"
    );
    assert_eq!(r["inputs"][0]["sha256"], l["inputs"][0]["sha256"]);

    // A missing object is an error that names it, exit 1.
    let missing = run(aws_env(&mut driftlog())
        .args(["--endpoint-url", &moto.endpoint, "scan", "--no-attribution"])
        .args(["--declared", "s3://tf-state/nope.tfstate", "--live"])
        .arg(&live));
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("s3://tf-state/nope.tfstate"),
        "{}",
        missing.stderr
    );
    assert!(missing.stderr.contains("NoSuchKey"), "{}", missing.stderr);
}
