//! Any bytes as a Terraform file: detection, reading, and (for plans) the whole plan scan must
//! return a value or an error, never panic.
#![no_main]

use driftlog_terraform::document::parse_bytes;
use driftlog_terraform::plan::scan_plan;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    if let Ok(doc) = parse_bytes(path, data) {
        if let Some(plan) = &doc.plan {
            let _ = scan_plan(path, plan);
        } else {
            let _ = driftlog_core::compare_instances(&doc.instances, &doc.instances);
        }
    }
});
