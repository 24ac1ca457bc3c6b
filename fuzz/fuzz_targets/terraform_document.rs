//! Any bytes as a Terraform file: decoding (UTF-8, UTF-16), detection, reading, and (for plans)
//! the whole plan scan must return a value or an error, never panic.
#![no_main]

use driftlog_terraform::document::Document;
use driftlog_terraform::input::Input;
use driftlog_terraform::plan::scan_plan;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    let input = Input::from_bytes(path, data.to_vec());
    if let Ok(doc) = Document::parse(&input) {
        if let Some(plan) = &doc.plan {
            let _ = scan_plan(path, plan);
        } else {
            let _ = driftlog_core::compare_instances(&doc.instances, &doc.instances);
        }
    }
});
