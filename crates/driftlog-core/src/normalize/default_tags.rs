//! Provider `default_tags` appear in `tags_all`; after a refresh AWS may also report them in
//! `tags`. A tag key whose *effective* value (in `tags_all`) is the same on both sides did not
//! drift, whatever `tags` says, as long as `tags` only mirrors `tags_all` for that key.

use serde_json::Value;

pub const NAME: &str = "default_tags";

/// Whether a difference in `tags[key]` between `before` and `after` (whole attribute objects)
/// only mirrors a provider default tag.
pub fn mirrors_default_tag(before: &Value, after: &Value, key: &str) -> bool {
    let effective = |attrs: &Value| {
        attrs
            .get("tags_all")
            .and_then(|t| t.as_object())
            .map(|t| t.get(key).cloned())
    };
    let (Some(before_all), Some(after_all)) = (effective(before), effective(after)) else {
        return false;
    };
    let Some(effective_value) = before_all else {
        return false;
    };
    if after_all.as_ref() != Some(&effective_value) {
        return false;
    }
    let mirrors = |attrs: &Value| match attrs.get("tags").and_then(|t| t.get(key)) {
        None | Some(Value::Null) => true,
        Some(v) => *v == effective_value,
    };
    mirrors(before) && mirrors(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_default_tag_showing_up_in_tags_is_not_drift() {
        let before =
            json!({"tags": {"Name": "a"}, "tags_all": {"Name": "a", "ManagedBy": "terraform"}});
        let after = json!({"tags": {"Name": "a", "ManagedBy": "terraform"}, "tags_all": {"Name": "a", "ManagedBy": "terraform"}});
        assert!(mirrors_default_tag(&before, &after, "ManagedBy"));
    }

    #[test]
    fn a_changed_effective_tag_is_drift() {
        let before = json!({"tags": {"Owner": "platform"}, "tags_all": {"Owner": "platform"}});
        let after = json!({"tags": {"Owner": "sre"}, "tags_all": {"Owner": "sre"}});
        assert!(!mirrors_default_tag(&before, &after, "Owner"));
    }

    #[test]
    fn a_tag_value_that_disagrees_with_tags_all_is_drift() {
        let before = json!({"tags": {}, "tags_all": {"ManagedBy": "terraform"}});
        let after =
            json!({"tags": {"ManagedBy": "someone"}, "tags_all": {"ManagedBy": "terraform"}});
        assert!(!mirrors_default_tag(&before, &after, "ManagedBy"));
    }

    #[test]
    fn without_tags_all_the_rule_does_not_apply() {
        let before = json!({"tags": {}});
        let after = json!({"tags": {"ManagedBy": "terraform"}});
        assert!(!mirrors_default_tag(&before, &after, "ManagedBy"));
    }
}
