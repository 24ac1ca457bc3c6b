//! A JSON object steered to the GCP LogEntry reader: the key that selects the format is added when
//! missing, so the fuzzer spends its time inside that reader rather than in dispatch.
#![no_main]

use driftlog_audit::{read, Collect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(mut record)) = serde_json::from_slice(data) else {
        return;
    };
    record.entry("protoPayload").or_insert_with(|| {
        serde_json::from_str(r#"{"@type":"type.googleapis.com/google.cloud.audit.AuditLog"}"#)
            .unwrap()
    });
    let text = serde_json::to_vec(&record).unwrap();
    let mut out = Collect::default();
    let _ = read(&text[..], &mut out);
});
