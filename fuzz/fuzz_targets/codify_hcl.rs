//! Codify on any `.tf` text: parsing it, finding blocks and splicing values must never panic,
//! and whatever is patched must still parse.
#![no_main]

use driftlog_core::finding::{Change, Finding, FindingKind};
use driftlog_terraform::codify::Config;
use libfuzzer_sys::fuzz_target;
use serde_json::json;
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut config = Config::from_sources(vec![(PathBuf::from("main.tf"), text.to_owned())]);
    let mut set = Change::new(
        "ingress".into(),
        json!([]),
        json!([{"from_port": 22, "cidr_blocks": ["0.0.0.0/0"]}]),
    );
    set.added = Some(vec![json!({"from_port": 22, "cidr_blocks": ["0.0.0.0/0"]})]);
    set.removed = Some(vec![json!({"from_port": 443})]);
    for address in [
        "aws_instance.web",
        "aws_security_group.web",
        "module.m.aws_s3_bucket.b[\"k\"]",
        "terraform_data.x[0]",
    ] {
        let finding = Finding {
            address: address.into(),
            resource_type: address.split('.').rev().nth(1).unwrap_or("").into(),
            provider: String::new(),
            kind: FindingKind::Changed,
            deposed: None,
            previous_address: None,
            changes: vec![
                Change::new("instance_type".into(), json!("a"), json!("b${x}\n\"")),
                Change::new("tags.Owner".into(), json!("a"), json!("b")),
                Change::new(
                    "tags.New".into(),
                    serde_json::Value::Null,
                    json!({"k": [1, "v"]}),
                ),
                Change::new("tags.Gone".into(), json!("x"), serde_json::Value::Null),
                Change::new("policy".into(), json!("{}"), json!("{\"a\": 1}\n")),
                Change::new("input".into(), json!(1), json!([1, {"a": null}])),
                set.clone(),
            ],
            identifiers: vec![],
            attribution: None,
            remediation: None,
            discovery: None,
            stack: None,
        };
        let _ = config.codify(&finding);
    }
    let _ = config.patch();
});
