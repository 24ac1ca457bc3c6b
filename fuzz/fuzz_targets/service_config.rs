//! Any text as `driftlog.toml`: a configuration or located problems, never a panic (spans
//! past the end, multi-byte characters, deep nesting).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match driftlog_config::parse("driftlog.toml", text) {
        Ok(c) => {
            let _ = c.summary();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
