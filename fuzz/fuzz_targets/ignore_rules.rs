//! Any text as a `.driftlogignore` file.
#![no_main]

use driftlog_core::ignore::IgnoreRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rules) = IgnoreRules::parse_file(text, "fuzz") {
            let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
            let _ = rules.apply(Vec::new(), now);
        }
    }
});
