//! `--format html` for `scan`, `compare` and `explain`, loaded in a real browser (Debian's
//! Chromium, headless): the page renders what the report holds, its script runs without an
//! error, it asks for nothing over the network, its screenshot is not blank, and no secret is
//! on it. Screenshots are kept in the test's temporary directory while it runs
//! (`DRIFTLOG_KEEP_SCREENSHOTS=DIR` copies them out for a look).

mod common;

use common::{driftlog, quickstart, run, workspace_root};
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            if out.status.success() {
                return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
            }
        }
    }
    eprintln!("SKIP: no chromium on PATH (.ci/run installs Debian's chromium)");
    None
}

fn browser(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1800",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// What the browser made of the page: the DOM after scripts ran, its console, a screenshot.
struct Rendered {
    dom: String,
    log: String,
    screenshot: PathBuf,
}

fn render(chromium: &Path, page: &Path) -> Rendered {
    let dir = page.parent().unwrap();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let dom = browser(chromium, profile.path())
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let screenshot = dir.join(format!(
        "{}.png",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let shot = browser(chromium, profile.path())
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&url)
        .output()
        .expect("run chromium");
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    if let Some(keep) = std::env::var_os("DRIFTLOG_KEEP_SCREENSHOTS") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::copy(
            &screenshot,
            Path::new(&keep).join(screenshot.file_name().unwrap()),
        );
    }
    Rendered {
        dom: String::from_utf8_lossy(&dom.stdout).into_owned(),
        log: String::from_utf8_lossy(&dom.stderr).into_owned()
            + &String::from_utf8_lossy(&shot.stderr),
        screenshot,
    }
}

/// Distinct colours in the screenshot: a blank or unstyled page has a handful.
fn colours(png_path: &Path) -> usize {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let mut seen = std::collections::HashSet::new();
    for px in bytes.chunks(step) {
        seen.insert(px.to_vec());
        if seen.len() > 1000 {
            break;
        }
    }
    seen.len()
}

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
