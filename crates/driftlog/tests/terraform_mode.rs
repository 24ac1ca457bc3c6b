//! `driftlog scan --terraform DIR` runs the real Terraform. No provider can be downloaded here,
//! so the real-binary tests use the built-in `terraform_data` resource; drift itself comes from
//! a stand-in binary (`$DRIFTLOG_TERRAFORM`) that replays a real plan.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn terraform() -> Option<PathBuf> {
    let candidates = [
        std::env::var("TERRAFORM_BIN").ok(),
        Some("/usr/local/bin/terraform".to_owned()),
    ];
    for c in candidates.into_iter().flatten() {
        let p = PathBuf::from(c);
        if p.is_file() {
            return Some(p);
        }
    }
    let found = Command::new("sh")
        .args(["-c", "command -v terraform || command -v tofu"])
        .output()
        .ok()?;
    let path = String::from_utf8(found.stdout).ok()?.trim().to_owned();
    if path.is_empty() {
        eprintln!("SKIP: no terraform or tofu binary on this machine");
        None
    } else {
        Some(PathBuf::from(path))
    }
}

fn tf(bin: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(bin)
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "terraform {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scan_dir(bin: &Path, dir: &Path) -> Run {
    run(driftlog()
        .env("DRIFTLOG_TERRAFORM", bin)
        .args(["scan", "-f", "json", "--terraform"])
        .arg(dir))
}

#[test]
fn a_clean_workspace_has_no_drift_and_pending_config_is_not_drift() {
    let Some(bin) = terraform() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"terraform_data\" \"app\" {\n  input = \"v1\"\n}\n",
    )
    .unwrap();
    tf(&bin, dir.path(), &["init", "-input=false", "-no-color"]);
    tf(
        &bin,
        dir.path(),
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );

    let r = scan_dir(&bin, dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(v["mode"], "terraform");
    assert_eq!(v["summary"]["drifted"], 0);
    assert_eq!(v["summary"]["resources_scanned"], 1);
    assert_eq!(v["inputs"][0]["detected"], "plan");

    // A configuration edit is pending config, not out-of-band drift.
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"terraform_data\" \"app\" {\n  input = \"v2\"\n}\n",
    )
    .unwrap();
    let r = scan_dir(&bin, dir.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn terraform_errors_are_passed_through() {
    let Some(bin) = terraform() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"terraform_data\" \"app\" {\n  input = \n}\n",
    )
    .unwrap();
    let r = scan_dir(&bin, dir.path());
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("plan -refresh-only") && r.stderr.contains("failed"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("main.tf"),
        "Terraform's own diagnostic is shown: {}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn drift_found_through_the_tool_is_reported() {
    let Some(fx) = fixtures() else { return };
    let plan = fx.join("terraform-plan-json/terraform__drift_refresh_only__plan.json");
    let dir = tempfile::tempdir().unwrap();
    // A stand-in for terraform: `plan` writes the -out file, `show -json` prints a real plan.
    let fake = dir.path().join("fake-terraform");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in -out=*) : > \"${{a#-out=}}\";; esac; done\n\
             case \" $* \" in *\" show \"*) cat '{}';; esac\n",
            plan.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&fake, perms).unwrap();
    let r = scan_dir(&fake, dir.path());
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(
        v["findings"][0]["address"],
        "tfcoremock_simple_resource.drift"
    );
    assert_eq!(v["findings"][0]["changes"][0]["path"], "string");
}

#[test]
fn a_missing_binary_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(driftlog()
        .env("DRIFTLOG_TERRAFORM", dir.path().join("no-such-terraform"))
        .args(["scan", "--terraform"])
        .arg(dir.path()));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("could not start"), "{}", r.stderr);
}
