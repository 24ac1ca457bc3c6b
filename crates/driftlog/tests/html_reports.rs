//! `--format html` for `scan`, `compare` and `explain`, loaded in a real browser (Debian's
//! Chromium, headless): the page renders what the report holds, its script runs without an
//! error, it asks for nothing over the network, its screenshot is not blank, and no secret is
//! on it. Screenshots are kept in the test's temporary directory while it runs
//! (`DRIFTLOG_KEEP_SCREENSHOTS=DIR` copies them out for a look).

mod common;

use common::browser::{chromium, colours, render, Rendered};
use common::{driftlog, quickstart, run, workspace_root};

/// Everything every page must be.
fn check_page(html: &str, r: &Rendered, expect: &[&str]) {
    // Self-contained: no resource is fetched (the SVG namespace is a name, not a request).
    for needle in [
        "src=",
        "href=",
        "url(",
        "@import",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!html.contains(needle), "the page references {needle}");
    }
    for text in expect {
        assert!(r.dom.contains(text), "{text} not on the rendered page");
    }
    // The script ran: it fills in the count of shown items.
    assert!(
        r.dom.contains(" shown</span>"),
        "the filter script did not run"
    );
    assert!(
        !r.log.contains("Uncaught") && !r.log.contains(":ERROR:CONSOLE"),
        "console errors: {}",
        r.log
    );
    let n = colours(&r.screenshot);
    assert!(n > 20, "the screenshot looks blank ({n} colours)");
    assert!(!html.contains("CANARY") && !r.dom.contains("CANARY"));
}

#[test]
fn scan_compare_and_explain_pages_render_in_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let store = out.path().join("events.db");

    // scan: the quickstart, with its audit logs, so findings carry their causes.
    let scan_page = out.path().join("scan.html");
    let r = run(driftlog()
        .arg("--store")
        .arg(&store)
        .args(["scan", "--declared"])
        .arg(quickstart("declared.tfstate"))
        .arg("--live")
        .arg(quickstart("live.tfstate"))
        .arg("--audit")
        .arg(quickstart("cloudtrail"))
        .args(["--format", "html", "--output"])
        .arg(&scan_page));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let html = std::fs::read_to_string(&scan_page).unwrap();
    let page = render(&chromium, &scan_page);
    check_page(
        &html,
        &page,
        &[
            "aws_security_group.web",
            "AuthorizeSecurityGroupIngress",
            "<svg",
            "Equivalent values",
        ],
    );
    // The quickstart's database password never leaves the state.
    let secret = quickstart_secret();
    assert!(!html.contains(&secret) && !page.dom.contains(&secret));

    // compare: our three environments.
    let compare_page = out.path().join("compare.html");
    let data = workspace_root().join("crates/driftlog/tests/data/compare");
    let r = run(driftlog()
        .current_dir(&data)
        .args([
            "compare",
            "--env",
            "dev=dev.tfstate",
            "--env",
            "staging=staging.tfstate",
        ])
        .args([
            "--env",
            "prod=prod.tfstate",
            "--env-token",
            "prod=production",
        ])
        .args(["--format", "html", "--output"])
        .arg(&compare_page));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let html = std::fs::read_to_string(&compare_page).unwrap();
    let page = render(&chromium, &compare_page);
    check_page(
        &html,
        &page,
        &[
            "module.db.aws_db_instance.main",
            "(secret B)",
            "aws_sqs_queue.jobs",
            "333333333333",
        ],
    );

    // explain: one resource's story, with the store the scan filled.
    let explain_page = out.path().join("explain.html");
    let r = run(driftlog()
        .arg("--store")
        .arg(&store)
        .args(["explain", "aws_security_group.web", "--declared"])
        .arg(quickstart("declared.tfstate"))
        .arg("--live")
        .arg(quickstart("live.tfstate"))
        .args(["--format", "html", "--output"])
        .arg(&explain_page));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&explain_page).unwrap();
    let page = render(&chromium, &explain_page);
    check_page(
        &html,
        &page,
        &[
            "DescribeSecurityGroups",
            "break-glass",
            "<svg",
            "Current drift",
        ],
    );
}

/// The password in the quickstart's declared state (marked sensitive there).
fn quickstart_secret() -> String {
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(quickstart("declared.tfstate")).unwrap()).unwrap();
    for r in state["resources"].as_array().unwrap() {
        for i in r["instances"].as_array().unwrap() {
            if let Some(p) = i["attributes"]["password"].as_str() {
                return p.to_owned();
            }
        }
    }
    panic!("the quickstart has a password")
}
