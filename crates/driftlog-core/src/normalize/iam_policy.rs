//! IAM policy documents mean the same thing in several spellings, and AWS returns whichever it
//! likes: a one-element array or a bare string for `Action`, `Resource`, `Principal` values and
//! condition values; a single statement object or a list of one; statements and the entries of
//! those lists in any order (they are sets to IAM). This rule rewrites any JSON-document string
//! that has a `Statement` into one canonical form, as the AWS provider's policy equivalence does.

use super::json_string::parse_document;
use super::Context;
use serde_json::{Map, Value};

pub const NAME: &str = "iam_policy_equivalent";

/// Statement members whose value is a string-or-list-of-strings set.
const SET_MEMBERS: &[&str] = &["Action", "NotAction", "Resource", "NotResource"];
/// Statement members whose values are maps of string-or-list sets.
const PRINCIPAL_MEMBERS: &[&str] = &["Principal", "NotPrincipal"];

pub fn apply(_ctx: &Context<'_>, value: &mut Value) {
    canonicalize_strings(value);
}

fn canonicalize_strings(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(mut doc) = parse_document(s) {
                if canonicalize_policy(&mut doc) {
                    *s = doc.to_string();
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonicalize_strings),
        Value::Object(map) => map.values_mut().for_each(canonicalize_strings),
        _ => {}
    }
}

/// Canonicalize a parsed policy in place; false if it does not look like a policy.
pub fn canonicalize_policy(doc: &mut Value) -> bool {
    let Some(map) = doc.as_object_mut() else {
        return false;
    };
    let Some(statement) = map.get_mut("Statement") else {
        return false;
    };
    if statement.is_object() {
        *statement = Value::Array(vec![statement.take()]);
    }
    let Some(statements) = statement.as_array_mut() else {
        return false;
    };
    for st in statements.iter_mut() {
        if let Some(st) = st.as_object_mut() {
            canonicalize_statement(st);
        }
    }
    sort_by_text(statements);
    true
}

fn canonicalize_statement(st: &mut Map<String, Value>) {
    for key in SET_MEMBERS {
        if let Some(v) = st.get_mut(*key) {
            string_set(v);
        }
    }
    for key in PRINCIPAL_MEMBERS {
        if let Some(Value::Object(principals)) = st.get_mut(*key) {
            principals.values_mut().for_each(string_set);
        }
    }
    if let Some(Value::Object(operators)) = st.get_mut("Condition") {
        for conditions in operators.values_mut() {
            if let Value::Object(conditions) = conditions {
                conditions.values_mut().for_each(string_set);
            }
        }
    }
}

/// A string or list of values becomes a sorted, de-duplicated list.
fn string_set(v: &mut Value) {
    match v {
        Value::Array(items) => {
            sort_by_text(items);
            items.dedup();
        }
        Value::Null => {}
        other => *other = Value::Array(vec![other.take()]),
    }
}

fn sort_by_text(items: &mut [Value]) {
    items.sort_by_cached_key(|v| v.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::AttrPath;
    use serde_json::json;

    fn canon(text: &str) -> Value {
        let p = AttrPath::root();
        let mut v = Value::String(text.to_owned());
        super::super::json_string::apply(
            &Context {
                resource_type: "t",
                path: &p,
            },
            &mut v,
        );
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
    fn scalar_and_singleton_list_are_equal() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*"],"Principal":{"AWS":"arn:aws:iam::1:root"}}]}"#;
        let b = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*","Principal":{"AWS":["arn:aws:iam::1:root"]}}}"#;
        assert_eq!(canon(a), canon(b));
    }

    #[test]
    fn statement_and_action_order_do_not_matter() {
        let a = r#"{"Statement":[{"Sid":"A","Effect":"Allow","Action":["b","a"]},{"Sid":"B","Effect":"Deny","Action":"c"}]}"#;
        let b = r#"{"Statement":[{"Sid":"B","Effect":"Deny","Action":"c"},{"Sid":"A","Effect":"Allow","Action":["a","b"]}]}"#;
        assert_eq!(canon(a), canon(b));
    }

    #[test]
    fn condition_values_are_sets() {
        let a = r#"{"Statement":[{"Effect":"Deny","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
        let b = r#"{"Statement":[{"Effect":"Deny","Condition":{"Bool":{"aws:SecureTransport":["false"]}}}]}"#;
        assert_eq!(canon(a), canon(b));
    }

    #[test]
    fn a_new_statement_is_a_difference() {
        let a = r#"{"Statement":[{"Effect":"Allow","Action":"a"}]}"#;
        let b = r#"{"Statement":[{"Effect":"Allow","Action":"a"},{"Effect":"Allow","Action":"s3:GetObject","Principal":"*"}]}"#;
        assert_ne!(canon(a), canon(b));
        let c = r#"{"Statement":[{"Effect":"Deny","Action":"a"}]}"#;
        assert_ne!(canon(a), canon(c));
    }

    #[test]
    fn non_policies_are_untouched() {
        assert_eq!(
            canon(r#"{"maxReceiveCount":5}"#),
            json!(r#"{"maxReceiveCount":5}"#)
        );
    }
}
