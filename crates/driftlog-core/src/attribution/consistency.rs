//! Does a call's request carry the value the resource now has?
//!
//! Two writes of the same action on the same resource (or on two resources that share a name)
//! are told apart by what they set: the cause of `visibility_timeout_seconds = 600` is the
//! `SetQueueAttributes` that sent `VisibilityTimeout: "600"`, not the one that sent `"60"`.
//! Policies are compared as canonical IAM documents, so a re-serialized policy still matches.

use crate::finding::Change;
use crate::normalize::iam_policy::canonicalize_policy;
use crate::normalize::json_string::parse_document;
use serde_json::Value;
use std::collections::HashSet;

/// What the request says about one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// The request carries the live value (or the rule added or removed).
    Sets,
    /// The request carries values, none of them this change's.
    Contradicts,
    /// The request says nothing comparable (absent, or only identifiers).
    Silent,
}

/// The leaves of a value as comparable text: strings, numbers, and canonical JSON documents.
fn leaves(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::String(s) => {
            if let Some(mut doc) = parse_document(s) {
                canonicalize_policy(&mut doc);
                out.insert(canonical_text(&doc));
            }
            out.insert(s.trim().to_owned());
        }
        Value::Number(n) => {
            out.insert(n.to_string());
        }
        Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
        Value::Object(map) => {
            // A policy sent as an object (S3's `bucketPolicy`) is a value in itself too.
            let mut doc = v.clone();
            if canonicalize_policy(&mut doc) {
                out.insert(canonical_text(&doc));
            }
            map.values().for_each(|i| leaves(i, out));
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn canonical_text(v: &Value) -> String {
    // serde_json's map is ordered by key, so this is canonical once the policy is.
    serde_json::to_string(v).unwrap_or_default()
}

/// The values a change is about: the live value, and for sets the elements added or removed.
fn change_values(change: &Change) -> Vec<&Value> {
    let mut values = Vec::new();
    match (&change.added, &change.removed) {
        (None, None) => values.push(&change.after),
        (added, removed) => {
            values.extend(added.iter().flatten());
            values.extend(removed.iter().flatten());
        }
    }
    values
}

/// Whether `request` sets the values of `changes` (all about one top-level attribute).
pub fn check(changes: &[&Change], request: Option<&Value>) -> Consistency {
    let Some(request) = request.filter(|r| !r.is_null()) else {
        return Consistency::Silent;
    };
    if changes.iter().any(|c| c.sensitive) {
        return Consistency::Silent;
    }
    let mut sent = HashSet::new();
    leaves(request, &mut sent);
    let mut wanted_any = false;
    for change in changes {
        for value in change_values(change) {
            let mut wanted = HashSet::new();
            leaves(value, &mut wanted);
            // Short tokens (`tcp`, `-1`, `0`) match too easily to count on their own.
            let distinctive: Vec<&String> = wanted.iter().filter(|w| w.len() >= 2).collect();
            if distinctive.is_empty() {
                continue;
            }
            wanted_any = true;
            let found = distinctive.iter().filter(|w| sent.contains(**w)).count();
            if found * 2 >= distinctive.len() {
                return Consistency::Sets;
            }
        }
    }
    if wanted_any {
        Consistency::Contradicts
    } else {
        Consistency::Silent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(path: &str, after: Value) -> Change {
        Change::new(path.into(), json!(null), after)
    }

    #[test]
    fn scalars_and_their_string_forms() {
        let c = change("visibility_timeout_seconds", json!(600));
        let yes = json!({"queueUrl": "https://q", "attributes": {"VisibilityTimeout": "600"}});
        let no = json!({"queueUrl": "https://q", "attributes": {"VisibilityTimeout": "60"}});
        assert_eq!(check(&[&c], Some(&yes)), Consistency::Sets);
        assert_eq!(check(&[&c], Some(&no)), Consistency::Contradicts);
        assert_eq!(check(&[&c], None), Consistency::Silent);
    }

    #[test]
    fn policies_compare_as_documents() {
        let live = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let c = change("assume_role_policy", json!(live));
        let sent = json!({"roleName": "r", "policyDocument": "{\n  \"Statement\": {\"Action\": \"sts:AssumeRole\", \"Principal\": {\"Service\": \"lambda.amazonaws.com\"}, \"Effect\": \"Allow\"},\n  \"Version\": \"2012-10-17\"\n}"});
        assert_eq!(check(&[&c], Some(&sent)), Consistency::Sets);
        let other = json!({"roleName": "r", "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"});
        assert_eq!(check(&[&c], Some(&other)), Consistency::Contradicts);
    }

    #[test]
    fn set_elements_added_or_removed() {
        let mut c = change("ingress", json!([]));
        c.added = Some(vec![
            json!({"cidr_blocks": ["0.0.0.0/0"], "from_port": 22, "to_port": 22, "protocol": "tcp", "description": ""}),
        ]);
        c.removed = Some(vec![]);
        let authorize = json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}});
        assert_eq!(check(&[&c], Some(&authorize)), Consistency::Sets);
        let other = json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}});
        assert_eq!(check(&[&c], Some(&other)), Consistency::Contradicts);
    }
}
