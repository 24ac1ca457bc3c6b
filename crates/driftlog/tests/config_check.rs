//! `driftlog config check`: the bundled example is valid; every problem in a bad file is
//! printed with file, line, column and key, secrets are refused without being repeated, and
//! the exit code is 1 (0 for a valid file, whatever notes it has).

mod common;

use common::{driftlog, run, workspace_root};

#[test]
fn the_example_configuration_is_valid() {
    let example = workspace_root().join("examples/driftlog.toml");
    let r = run(driftlog()
        .args(["config", "check"])
        .arg(&example)
        .env_remove("DRIFTLOG_WEBHOOK_URL"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("valid: 4 stacks (network (prod), app-staging (staging), app-prod (prod), shop (prod)); 1 audit source; 1 comparison; 2 notification targets"),
        "{}",
        r.stdout
    );
    // What only the service's host can provide is a note, not an error.
    assert!(
        r.stderr.contains(
            "notify[0].url_env: the environment variable DRIFTLOG_WEBHOOK_URL is not set here"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn every_problem_is_located_and_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("driftlog.toml");
    std::fs::write(
        &file,
        "[[stack]]\nname = \"net\"\nenvironment = \"prod\"\nstate = \"s3://b/k\"\nlive = \"aws\"\nschedule = \"61 * * * *\"\n\n\
         [[compare]]\nname = \"envs\"\nstacks = [\"net\", \"app\"]\nschedule = \"0 7 * * *\"\n\n\
         [[notify]]\nname = \"ops\"\nkind = \"pager\"\nsecret = \"CANARY-hunter2\"\nurl_env = \"OPS_URL\"\n",
    )
    .unwrap();
    let r = run(driftlog().current_dir(dir.path()).args(["config", "check"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "error: driftlog.toml:6:12: stack[0].schedule: `61 * * * *` is not a schedule in cron syntax (minute hour day month weekday, UTC): Component error: Number out of bounds.",
            "error: driftlog.toml:10:10: compare[0].stacks: no stack is named `app`",
            "error: driftlog.toml:15:8: notify[0].kind: `pager` is not a target kind (webhook, slack)",
            "error: driftlog.toml:16:10: notify[0].secret: secrets do not go in the config file: give `secret_env = \"VARIABLE\"` or `secret_file = \"PATH\"`",
            "driftlog.toml: 4 problems",
        ]
    );
    assert!(!r.stderr.contains("CANARY") && !r.stdout.contains("CANARY"));

    // A syntax error, and a file that is not there: exit 1, never 2.
    std::fs::write(&file, "[[stack]\nname = 1\n").unwrap();
    let r = run(driftlog().current_dir(dir.path()).args(["config", "check"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: driftlog.toml:1:"),
        "{}",
        r.stderr
    );
    let r = run(driftlog().args(["config", "check", "/nonexistent/driftlog.toml"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("/nonexistent/driftlog.toml"),
        "{}",
        r.stderr
    );
}

#[test]
fn kubernetes_stacks_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("driftlog.toml");
    std::fs::write(
        &file,
        "[[stack]]\nname = \"a\"\nenvironment = \"prod\"\nmanifests = \"k8s\"\nlive = \"aws\"\nschedule = \"* * * * *\"\n\n\
         [[stack]]\nname = \"b\"\nenvironment = \"prod\"\nmanifests = \"k8s\"\nlive = \"live.json\"\nserver_side = true\nschedule = \"* * * * *\"\n\n\
         [[stack]]\nname = \"c\"\nenvironment = \"prod\"\nmanifests = \"k8s\"\nstate = \"s.tfstate\"\nlive = \"cluster\"\nschedule = \"* * * * *\"\n",
    )
    .unwrap();
    let r = run(driftlog().current_dir(dir.path()).args(["config", "check"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    for want in [
        "driftlog.toml:4:13: stack[0].live: manifests are compared with `live = \"cluster\"` or a `kubectl get -o json` file, not `aws`",
        "driftlog.toml:11:13: stack[1].server_side: `server_side = true` needs `live = \"cluster\"`",
        "driftlog.toml:19:13: stack[2].manifests: a stack is Terraform (`state`, `terraform`) or Kubernetes (`manifests`), not both",
    ] {
        assert!(r.stderr.contains(want), "no `{want}` in\n{}", r.stderr);
    }
}
