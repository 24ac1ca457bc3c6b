//! Rules that make semantically equal values compare equal, so driftlog does not cry wolf.
//!
//! Each rule is a small canonicalizer with its own tests; [`first_equalizing_rule`] applies them
//! in order and names the one that made two values equal. That name is what a report shows under
//! "suppressed", so a user can always see why a difference was not called drift.
//! Rules that need both sides of a resource at once (provider default tags) live in
//! [`default_tags`].

pub mod default_tags;
pub mod dynamic;
pub mod iam_policy;
pub mod json_string;
pub mod null_empty;
pub mod sets;

use crate::path::AttrPath;
use serde_json::Value;

/// Where a value sits: rules such as set ordering depend on the resource type and attribute.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub resource_type: &'a str,
    pub path: &'a AttrPath,
}

type Rule = fn(&Context<'_>, &mut Value);

/// The rules, in the order they are applied. Later rules see the output of earlier ones: set
/// ordering runs last so elements are sorted by their already-canonical form.
pub const PIPELINE: &[(&str, Rule)] = &[
    (json_string::NAME, json_string::apply),
    (iam_policy::NAME, iam_policy::apply),
    (null_empty::NAME, null_empty::apply),
    (sets::NAME, sets::apply),
];

/// Canonical form of a value under every rule.
pub fn canonical(ctx: &Context<'_>, value: &Value) -> Value {
    let mut v = value.clone();
    for (_, rule) in PIPELINE {
        rule(ctx, &mut v);
    }
    v
}

/// If the values differ but some prefix of the pipeline makes them equal, the name of the rule
/// that did it. `None` means they are really different (or were equal to begin with).
pub fn first_equalizing_rule(
    ctx: &Context<'_>,
    before: &Value,
    after: &Value,
) -> Option<&'static str> {
    if before == after {
        return None;
    }
    let (mut b, mut a) = (before.clone(), after.clone());
    for (name, rule) in PIPELINE {
        rule(ctx, &mut b);
        rule(ctx, &mut a);
        if b == a {
            return Some(name);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_rule_that_equalized() {
        let path = AttrPath::root().key("policy");
        let ctx = Context {
            resource_type: "aws_s3_bucket_policy",
            path: &path,
        };
        let a = json!("{\"Version\":\"2012-10-17\",\"Statement\":[]}");
        let b = json!("{\n  \"Statement\": [],\n  \"Version\": \"2012-10-17\"\n}");
        assert_eq!(first_equalizing_rule(&ctx, &a, &b), Some(json_string::NAME));
        assert_eq!(
            first_equalizing_rule(&ctx, &json!(null), &json!({})),
            Some(null_empty::NAME)
        );
        assert_eq!(first_equalizing_rule(&ctx, &json!("a"), &json!("b")), None);
        assert_eq!(first_equalizing_rule(&ctx, &json!("a"), &json!("a")), None);
    }
}
