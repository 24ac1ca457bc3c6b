//! Debian's Chromium, headless: a page's DOM after its scripts ran, its console, and a
//! screenshot (`DRIFTLOG_KEEP_SCREENSHOTS=DIR` copies screenshots out for a look).

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn chromium() -> Option<PathBuf> {
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

pub fn browser(chromium: &Path, profile: &Path) -> Command {
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
pub struct Rendered {
    pub dom: String,
    pub log: String,
    pub screenshot: PathBuf,
}

pub fn render(chromium: &Path, page: &Path) -> Rendered {
    let url = format!("file://{}", page.display());
    let screenshot = page.parent().unwrap().join(format!(
        "{}.png",
        page.file_stem().unwrap().to_string_lossy()
    ));
    render_url(chromium, &url, &screenshot)
}

/// Load `url` (a `file://` page, or a server's on loopback) and take its screenshot.
pub fn render_url(chromium: &Path, url: &str, screenshot: &Path) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let dom = browser(chromium, profile.path())
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = browser(chromium, profile.path())
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(url)
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
            screenshot,
            Path::new(&keep).join(screenshot.file_name().unwrap()),
        );
    }
    Rendered {
        dom: String::from_utf8_lossy(&dom.stdout).into_owned(),
        log: String::from_utf8_lossy(&dom.stderr).into_owned()
            + &String::from_utf8_lossy(&shot.stderr),
        screenshot: screenshot.to_owned(),
    }
}

/// Distinct colours in the screenshot: a blank or unstyled page has a handful.
pub fn colours(png_path: &Path) -> usize {
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
