//! Any bytes as an audit log file: gzip or not, JSON lines or documents, any envelope.
#![no_main]

use driftlog_audit::{read, Collect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Collect::default();
    let _ = read(data, &mut out);
    for e in &out.events {
        // Every stored event has an id and a time the store can index.
        assert!(!e.event.event_id.is_empty());
        assert!(!e.event.action.is_empty());
    }
});
