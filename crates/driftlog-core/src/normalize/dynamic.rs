//! Dynamically-typed attributes in raw state.
//!
//! An attribute whose schema type is `any` (cty's `DynamicPseudoType`: `terraform_data`'s
//! `input`/`output`/`triggers_replace`, `kubernetes_manifest`'s `manifest`/`object`) is stored
//! in a raw `.tfstate` with its type beside it — `{"value": "v1", "type": "string"}` — while
//! `terraform show -json` and plans print the bare value. This is decoding, not a judgement
//! about equal values, so it is applied when a raw state is read and never reported under
//! `suppressed`.

use serde_json::Value;

/// Replace every `{"value": V, "type": T}` whose `T` is a cty type that `V` can have with `V`.
pub fn unwrap(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.len() == 2 {
                if let (Some(t), Some(v)) = (map.get("type"), map.get("value")) {
                    if fits(t, v) {
                        let inner = map.remove("value").unwrap_or(Value::Null);
                        *value = inner;
                        return;
                    }
                }
            }
            map.values_mut().for_each(unwrap);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap),
        _ => {}
    }
}

/// Whether `t` is a cty type in its JSON form and `v` a value of it (at the top level).
fn fits(t: &Value, v: &Value) -> bool {
    if v.is_null() {
        return is_type(t);
    }
    match t {
        Value::String(s) => match s.as_str() {
            "string" => v.is_string(),
            "number" => v.is_number(),
            "bool" => v.is_boolean(),
            "dynamic" => true,
            _ => false,
        },
        Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.len()) {
            (Some("list" | "set" | "tuple"), 2) => v.is_array() && is_type_args(parts),
            (Some("map" | "object"), 2) => v.is_object() && is_type_args(parts),
            (Some("object"), 3) => v.is_object() && is_type_args(parts),
            _ => false,
        },
        _ => false,
    }
}

fn is_type_args(parts: &[Value]) -> bool {
    match parts[0].as_str() {
        Some("tuple") => parts[1].as_array().is_some_and(|ts| ts.iter().all(is_type)),
        Some("object") => parts[1]
            .as_object()
            .is_some_and(|fields| fields.values().all(is_type)),
        _ => is_type(&parts[1]),
    }
}

fn is_type(t: &Value) -> bool {
    match t {
        Value::String(s) => matches!(s.as_str(), "string" | "number" | "bool" | "dynamic"),
        Value::Array(parts) => {
            matches!(
                parts.first().and_then(Value::as_str),
                Some("list" | "set" | "map" | "tuple" | "object")
            ) && (parts.len() == 2 || parts.len() == 3)
                && is_type_args(parts)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unwraps_typed_values_at_any_depth() {
        let mut state = json!({
            "id": "7d2c",
            "input": {"value": "v1", "type": "string"},
            "output": {"value": {"list": [1, 2], "value": "x"},
                       "type": ["object", {"list": ["tuple", ["number", "number"]], "value": "string"}]},
            "triggers_replace": {"value": null, "type": "dynamic"},
            "manifest": [{"object": {"value": [true], "type": ["list", "bool"]}}]
        });
        unwrap(&mut state);
        assert_eq!(
            state,
            json!({"id": "7d2c", "input": "v1", "output": {"list": [1, 2], "value": "x"},
                   "triggers_replace": null, "manifest": [{"object": [true]}]})
        );
    }

    #[test]
    fn leaves_maps_that_only_look_typed() {
        for mut v in [
            json!({"type": "string", "value": 3}),
            json!({"type": "gp3", "value": "x"}),
            json!({"type": ["list", "string"], "value": "x"}),
            json!({"type": "string", "value": "x", "extra": 1}),
        ] {
            let before = v.clone();
            unwrap(&mut v);
            assert_eq!(v, before);
        }
    }
}
