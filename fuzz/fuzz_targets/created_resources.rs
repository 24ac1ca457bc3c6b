//! Any stored audit record through the "which resource did this create" reader: a list,
//! possibly empty, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = driftlog_audit::created::created_resources(data);
});
