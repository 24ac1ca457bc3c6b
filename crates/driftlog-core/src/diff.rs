//! Attribute-by-attribute comparison of one resource's declared and live values.
//!
//! The walk reports each difference at the level people act on: a scalar at its own path, map
//! entries by key (`tags.Owner`), list elements by index (`ebs_block_device[0].volume_size`), and
//! set-typed attributes once, with their added and removed elements. Before anything is reported
//! it goes through the normalizers; what they equalize is returned as suppressed, not dropped.

use crate::finding::Change;
use crate::normalize::{self, default_tags, sets, Context};
use crate::path::{AttrPath, Segment};
use crate::sensitive::{SensitiveMask, REDACTED};
use serde_json::Value;

/// The result of comparing one resource.
#[derive(Debug, Default, PartialEq)]
pub struct DiffOutcome {
    pub changes: Vec<Change>,
    /// Differences a normalizer judged equal: `(path, rule)`.
    pub suppressed: Vec<(String, &'static str)>,
}

static NULL: Value = Value::Null;

/// Compare declared (`before`) with live (`after`) attributes of one resource.
///
/// `mask` marks what is sensitive on either side (pass the union of both sides' masks).
pub fn diff_attributes(
    resource_type: &str,
    before: &Value,
    after: &Value,
    mask: &SensitiveMask,
) -> DiffOutcome {
    let mut out = DiffOutcome::default();
    if before == after {
        return out;
    }
    let root = AttrPath::root();
    compare(resource_type, &root, before, after, mask, &mut out);
    apply_default_tags(before, after, &mut out);
    out
}

fn compare(
    resource_type: &str,
    path: &AttrPath,
    before: &Value,
    after: &Value,
    mask: &SensitiveMask,
    out: &mut DiffOutcome,
) {
    if before == after {
        return;
    }
    let ctx = Context {
        resource_type,
        path,
    };
    if !path.0.is_empty() {
        if let Some(rule) = normalize::first_equalizing_rule(&ctx, before, after) {
            out.suppressed.push((path.to_string(), rule));
            return;
        }
    }
    if mask.is_all() {
        let mut change = Change::new(path.to_string(), redacted(before), redacted(after));
        change.sensitive = true;
        out.changes.push(change);
        return;
    }
    if sets::is_set(&ctx) && is_list_like(before) && is_list_like(after) {
        out.changes.push(set_change(&ctx, before, after, mask));
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let bv = b.get(key).unwrap_or(&NULL);
                let av = a.get(key).unwrap_or(&NULL);
                compare(
                    resource_type,
                    &path.key(key),
                    bv,
                    av,
                    mask.child_key(key),
                    out,
                );
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() && !path.0.is_empty() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                compare(
                    resource_type,
                    &path.index(i),
                    bv,
                    av,
                    mask.child_index(i),
                    out,
                );
            }
        }
        _ => {
            let mut change = Change::new(path.to_string(), mask.redact(before), mask.redact(after));
            change.sensitive = mask.any();
            out.changes.push(change);
        }
    }
}

fn redacted(v: &Value) -> Value {
    if v.is_null() {
        Value::Null
    } else {
        Value::String(REDACTED.to_owned())
    }
}

fn is_list_like(v: &Value) -> bool {
    v.is_array() || v.is_null()
}

/// A set attribute changed: report it whole, with the elements each side has alone.
fn set_change(ctx: &Context<'_>, before: &Value, after: &Value, mask: &SensitiveMask) -> Change {
    let empty = Vec::new();
    let b = before.as_array().unwrap_or(&empty);
    let a = after.as_array().unwrap_or(&empty);
    let element_path = ctx.path.index(0);
    let element_ctx = Context {
        resource_type: ctx.resource_type,
        path: &element_path,
    };
    let canon = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|v| normalize::canonical(&element_ctx, v).to_string())
            .collect()
    };
    let (bc, ac) = (canon(b), canon(a));
    let only_in = |items: &[Value], mine: &[String], theirs: &[String]| -> Vec<Value> {
        let mut pool: Vec<&String> = theirs.iter().collect();
        let mut alone = Vec::new();
        for (i, text) in mine.iter().enumerate() {
            if let Some(pos) = pool.iter().position(|t| *t == text) {
                pool.swap_remove(pos);
            } else {
                alone.push(mask.child_index(i).redact(&items[i]));
            }
        }
        alone
    };
    let mut change = Change::new(
        ctx.path.to_string(),
        mask.redact(before),
        mask.redact(after),
    );
    change.removed = Some(only_in(b, &bc, &ac));
    change.added = Some(only_in(a, &ac, &bc));
    change.sensitive = mask.any();
    change
}

/// Drop `tags.<key>` changes that only mirror provider default tags (see [`default_tags`]).
fn apply_default_tags(before: &Value, after: &Value, out: &mut DiffOutcome) {
    let mut kept = Vec::with_capacity(out.changes.len());
    for change in out.changes.drain(..) {
        let tag_key = AttrPath::parse(&change.path).and_then(|p| match p.0.as_slice() {
            [Segment::Key(top), Segment::Key(key)] if top == "tags" => Some(key.clone()),
            _ => None,
        });
        match tag_key {
            Some(key) if default_tags::mirrors_default_tag(before, after, &key) => {
                out.suppressed.push((change.path, default_tags::NAME));
            }
            _ => kept.push(change),
        }
    }
    out.changes = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(o: &DiffOutcome) -> Vec<&str> {
        o.changes.iter().map(|c| c.path.as_str()).collect()
    }

    #[test]
    fn scalars_maps_and_lists_get_precise_paths() {
        let before = json!({"instance_type": "t3.large", "tags": {"Owner": "platform", "Name": "web"},
                            "ebs_block_device": [{"volume_size": 8, "device_name": "/dev/sdb"}]});
        let after = json!({"instance_type": "t3.small", "tags": {"Owner": "sre", "Name": "web"},
                           "ebs_block_device": [{"volume_size": 16, "device_name": "/dev/sdb"}]});
        let o = diff_attributes("aws_foo", &before, &after, &SensitiveMask::None);
        assert_eq!(
            paths(&o),
            [
                "ebs_block_device[0].volume_size",
                "instance_type",
                "tags.Owner"
            ]
        );
        assert_eq!(o.changes[1].before, json!("t3.large"));
        assert_eq!(o.changes[1].after, json!("t3.small"));
    }

    #[test]
    fn set_attributes_report_added_and_removed() {
        let r22 = json!({"from_port": 22, "cidr_blocks": ["0.0.0.0/0"]});
        let r443 = json!({"from_port": 443, "cidr_blocks": ["10.0.0.0/8"]});
        let before = json!({"ingress": [r443.clone()]});
        let after = json!({"ingress": [r22.clone(), r443]});
        let o = diff_attributes("aws_security_group", &before, &after, &SensitiveMask::None);
        assert_eq!(paths(&o), ["ingress"]);
        assert_eq!(o.changes[0].added, Some(vec![r22]));
        assert_eq!(o.changes[0].removed, Some(vec![]));
    }

    #[test]
    fn reordered_sets_and_reserialized_policies_are_suppressed() {
        let before =
            json!({"ingress": [{"from_port": 1}, {"from_port": 2}], "policy": "{\"a\":1,\"b\":2}"});
        let after = json!({"ingress": [{"from_port": 2}, {"from_port": 1}], "policy": "{\n \"b\": 2, \"a\": 1}"});
        let o = diff_attributes("aws_security_group", &before, &after, &SensitiveMask::None);
        assert!(o.changes.is_empty(), "{o:?}");
        assert_eq!(
            o.suppressed,
            [
                ("ingress".to_owned(), sets::NAME),
                ("policy".to_owned(), normalize::json_string::NAME)
            ]
        );
    }

    #[test]
    fn default_tags_mirrored_into_tags_are_suppressed() {
        let before =
            json!({"tags": {"Name": "a"}, "tags_all": {"Name": "a", "ManagedBy": "terraform"}});
        let after = json!({"tags": {"Name": "a", "ManagedBy": "terraform"}, "tags_all": {"Name": "a", "ManagedBy": "terraform"}});
        let o = diff_attributes("aws_s3_bucket", &before, &after, &SensitiveMask::None);
        assert!(o.changes.is_empty());
        assert_eq!(
            o.suppressed,
            [("tags.ManagedBy".to_owned(), default_tags::NAME)]
        );
    }

    #[test]
    fn sensitive_values_never_leave_and_changes_are_still_seen() {
        let mask = SensitiveMask::from_mirror(&json!({"password": true}));
        let before = json!({"password": "CANARY-1", "user": "a"});
        let after = json!({"password": "CANARY-2", "user": "a"});
        let o = diff_attributes("aws_db_instance", &before, &after, &mask);
        assert_eq!(o.changes.len(), 1);
        assert!(o.changes[0].sensitive);
        assert!(!format!("{o:?}").contains("CANARY"));
        let same = diff_attributes("aws_db_instance", &before, &before, &mask);
        assert!(same.changes.is_empty());
    }

    #[test]
    fn sensitive_leaf_inside_a_changed_block_is_redacted() {
        let mask = SensitiveMask::from_mirror(&json!({"conn": [{"token": true}]}));
        let before = json!({"conn": [{"token": "CANARY-1", "host": "a"}]});
        let after =
            json!({"conn": [{"token": "CANARY-1", "host": "b"}, {"token": "x", "host": "c"}]});
        let o = diff_attributes("t", &before, &after, &mask);
        assert!(!serde_json::to_string(&o.changes)
            .unwrap()
            .contains("CANARY"));
    }
}
