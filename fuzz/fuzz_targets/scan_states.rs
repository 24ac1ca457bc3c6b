//! Two inputs (split at the first NUL byte) compared as declared and live states.
#![no_main]

use driftlog_terraform::document::parse_bytes;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (a, b) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let (Ok(declared), Ok(live)) = (
        parse_bytes(Path::new("a"), a),
        parse_bytes(Path::new("b"), b),
    ) else {
        return;
    };
    let _ = driftlog_core::compare_instances(&declared.instances, &live.instances);
});
