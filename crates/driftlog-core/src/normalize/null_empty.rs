//! Terraform's SDKv2 providers treat null, `""`, `[]` and `{}` alike: an attribute that was never
//! set reads back as an empty value and the plan shows no change. driftlog does the same, at any
//! depth (an object key whose value is empty is the same as an absent key).

use super::Context;
use serde_json::Value;

pub const NAME: &str = "null_equals_empty";

pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

pub fn apply(_ctx: &Context<'_>, value: &mut Value) {
    to_null(value);
}

fn to_null(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(to_null),
        Value::Object(map) => {
            map.values_mut().for_each(to_null);
            map.retain(|_, v| !v.is_null());
        }
        _ => {}
    }
    if is_empty(value) {
        *value = Value::Null;
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
    fn empties_are_null() {
        for v in [
            json!(null),
            json!(""),
            json!([]),
            json!({}),
            json!({"a": null, "b": [], "c": {"d": ""}}),
        ] {
            assert_eq!(canon(v), Value::Null);
        }
    }

    #[test]
    fn real_values_survive() {
        assert_eq!(
            canon(json!({"a": 0, "b": false, "c": ""})),
            json!({"a": 0, "b": false})
        );
        assert_eq!(canon(json!([null, 1])), json!([null, 1]));
        assert_ne!(canon(json!(0)), canon(json!(null)));
        assert_ne!(canon(json!(false)), canon(json!(null)));
    }
}
