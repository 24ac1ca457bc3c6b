//! JSON documents stored in string attributes (IAM, bucket and queue policies, redrive
//! policies, container definitions) are equal when they parse to the same value: AWS hands back
//! its own key order and whitespace, so a byte comparison would report drift after every
//! refresh.

use super::Context;
use serde_json::Value;

pub const NAME: &str = "json_string_equal";

/// Parse a string that holds a JSON object or array; other strings are not JSON documents.
pub fn parse_document(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Rewrite every JSON-document string into its canonical text (sorted keys, no whitespace).
pub fn apply(_ctx: &Context<'_>, value: &mut Value) {
    canonicalize_strings(value);
}

fn canonicalize_strings(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(doc) = parse_document(s) {
                // serde_json's map is ordered by key, so this serialization is canonical.
                *s = doc.to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize_strings),
        Value::Object(map) => map.values_mut().for_each(canonicalize_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::AttrPath;
    use serde_json::json;

    fn canon(v: Value) -> Value {
        let p = AttrPath::root();
        let mut v = v;
        apply(
            &Context {
                resource_type: "t",
                path: &p,
            },
            &mut v,
        );
        v
    }

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        assert_eq!(
            canon(json!("{\"b\": 1, \"a\": [1, 2]}")),
            canon(json!("{\"a\":[1,2],\"b\":1}"))
        );
    }

    #[test]
    fn content_still_matters() {
        assert_ne!(canon(json!("{\"a\":[1,2]}")), canon(json!("{\"a\":[2,1]}")));
        assert_ne!(canon(json!("{\"a\":1}")), canon(json!("{\"a\":2}")));
    }

    #[test]
    fn plain_and_broken_strings_are_left_alone() {
        assert_eq!(canon(json!("hello")), json!("hello"));
        assert_eq!(canon(json!("{not json")), json!("{not json"));
        assert_eq!(canon(json!(" 42")), json!(" 42"));
    }
}
