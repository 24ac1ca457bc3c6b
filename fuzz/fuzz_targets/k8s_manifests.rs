//! Any bytes as Kubernetes manifests or `kubectl get` output (YAML streams, JSON, Lists, any
//! encoding), then compared with themselves: parsing never panics, and an object never
//! differs from itself.
#![no_main]

use driftlog_core::k8s::{compare, CompareOptions, Selector};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(objects) = driftlog_k8s::parse(data, "fuzz.yaml") {
        let same = compare(&objects, &objects, &CompareOptions::default());
        assert!(
            same.findings
                .iter()
                .all(|f| f.kind != driftlog_core::FindingKind::Deleted),
            "an object compared with itself is never deleted"
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(s) = Selector::parse(text) {
            let _ = s.matches(&serde_json::json!({"metadata": {"labels": {"app": "web"}}}));
        }
    }
});
