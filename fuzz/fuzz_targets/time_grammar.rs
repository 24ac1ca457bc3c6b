//! Any text as a time option or rule (`--since`, `--as-of`, `expires=`) and as a glob: a time
//! or an error, never a panic or an overflow.
#![no_main]

use driftlog_core::glob::Glob;
use driftlog_core::time::{parse, Bound, Direction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = jiff::Timestamp::from_second(1_764_000_000).unwrap();
    for bound in [Bound::Start, Bound::End] {
        for direction in [Direction::Past, Direction::Future, Direction::Absolute] {
            if let Ok(t) = parse(text, now, bound, direction) {
                let _ = t.to_string();
            }
        }
    }
    let glob = Glob::new(text);
    let _ = glob.matches(text);
    let _ = glob.to_sqlite();
});
