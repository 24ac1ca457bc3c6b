//! `.driftlog-compare` rules and the environment normalizer on any text: errors, never panics.
#![no_main]

use driftlog_core::compare::normalize::EnvProfile;
use driftlog_core::compare::rules::ExpectRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rules) = ExpectRules::parse_file(text, "fuzz") {
        let names = vec!["dev".to_owned(), "prod".to_owned()];
        let _ = rules.unknown_environments(&names);
        let (a, b) = (serde_json::json!(1), serde_json::json!("2"));
        let _ = rules.expect_difference(
            "aws_instance.x",
            "tags.a",
            &[("dev", 0, &a), ("prod", 1, &b)],
        );
        let _ = rules.expect_absence("aws_instance.x", &["dev"]);
    }
    let mut profile = EnvProfile::new("prod", &["production".into(), "a".into()]);
    profile.learn_raw(text);
    let _ = profile.normalize_str(text);
});
