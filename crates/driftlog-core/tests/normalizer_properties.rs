//! Property tests: the normalizers never invent drift for equal values, absorb exactly the
//! re-spellings they exist for, and never hide a real change.

use driftlog_core::diff::diff_attributes;
use driftlog_core::sensitive::SensitiveMask;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z0-9 ./:-]{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn attrs() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,10}", value(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Serialize with keys in reverse order and indentation, as another API might.
fn respell(v: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent + 2);
    match v {
        Value::Object(m) => {
            let members: Vec<String> = m
                .iter()
                .rev()
                .map(|(k, v)| format!("{pad}{}: {}", json!(k), respell(v, indent + 2)))
                .collect();
            format!("{{\n{}\n{}}}", members.join(",\n"), " ".repeat(indent))
        }
        Value::Array(a) => format!(
            "[ {} ]",
            a.iter()
                .map(|v| respell(v, indent))
                .collect::<Vec<_>>()
                .join(" , ")
        ),
        other => other.to_string(),
    }
}

proptest! {
    #[test]
    fn equal_values_never_drift(a in attrs()) {
        let outcome = diff_attributes("aws_security_group", &a, &a, &SensitiveMask::None);
        prop_assert!(outcome.changes.is_empty());
        prop_assert!(outcome.suppressed.is_empty());
    }

    #[test]
    fn respelled_json_documents_are_not_drift(doc in prop::collection::btree_map("[A-Za-z]{1,8}", value(), 1..6)) {
        let doc = Value::Object(doc.into_iter().collect());
        let before = json!({"policy": doc.to_string()});
        let after = json!({"policy": respell(&doc, 0)});
        let outcome = diff_attributes("aws_sqs_queue", &before, &after, &SensitiveMask::None);
        prop_assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    }

    #[test]
    fn reordered_sets_are_not_drift(rules in prop::collection::vec(attrs(), 0..6), seed in any::<u64>()) {
        let mut shuffled = rules.clone();
        // A deterministic permutation from the seed.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        let before = json!({"ingress": rules});
        let after = json!({"ingress": shuffled});
        let outcome = diff_attributes("aws_security_group", &before, &after, &SensitiveMask::None);
        prop_assert!(outcome.changes.is_empty(), "{:?}", outcome.changes);
    }

    #[test]
    fn a_changed_scalar_is_always_reported(a in attrs(), key in "[a-z_]{1,10}", x in any::<i32>(), y in any::<i32>()) {
        prop_assume!(x != y);
        let mut before = a.clone();
        let mut after = a;
        before[&key] = json!(x);
        after[&key] = json!(y);
        let outcome = diff_attributes("aws_instance", &before, &after, &SensitiveMask::None);
        prop_assert_eq!(outcome.changes.len(), 1);
        prop_assert_eq!(&outcome.changes[0].path, &key);
    }
}
