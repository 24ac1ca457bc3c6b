//! Finding the resources an event names inside free-form request and response bodies.
//!
//! CloudTrail's `requestParameters` and `responseElements` (and GCP's `request`/`response`)
//! follow each API's own shape, so no fixed schema can list their identifiers. Instead the body
//! is walked once, without building a tree, and a string is kept when its key says it is an
//! identifier (`groupId`, `bucketName`, `queueUrl`, `dBInstanceIdentifier`, `securityGroupIds`)
//! or its value is an ARN. Secrets and policy documents are never identifiers and never kept.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// More than this many references from one body is a bulk call; the first ones are enough to
/// find it and the rest would only bloat the index.
const MAX_REFS: usize = 64;
const MAX_DEPTH: u32 = 8;
const MAX_LEN: usize = 512;

/// Collects reference strings into `out` (deduplicated, in order of appearance).
pub(crate) fn collect(body: Option<&RawValue>, out: &mut Vec<String>) {
    let Some(body) = body else { return };
    let mut de = serde_json::Deserializer::from_str(body.get());
    // A body that fails to walk (it parsed once already, so this cannot happen for valid
    // input) just contributes fewer references.
    let _ = Walk {
        key: None,
        depth: 0,
        out,
    }
    .deserialize(&mut de);
}

/// Push one reference unless already present.
pub(crate) fn push(out: &mut Vec<String>, value: &str) {
    let value = value.trim();
    if value.is_empty()
        || value.len() > MAX_LEN
        || value.chars().all(|c| c == '.')
        || value.chars().any(char::is_control)
        // Version numbers and counters (`versionId: "1"`) name nothing.
        || (value.len() < 6 && value.bytes().all(|b| b.is_ascii_digit()))
        || is_operation(value)
        || out.len() >= MAX_REFS * 2
    {
        return;
    }
    if !out.iter().any(|r| r == value) {
        out.push(value.to_owned());
    }
    // An ARN's resource part is how people and Terraform name many resources (a role name, a
    // Lambda function name, a security group id); keep it too.
    if let Some(tail) = arn_resource_name(value) {
        if tail != value && !out.iter().any(|r| r == tail) {
            out.push(tail.to_owned());
        }
    }
}

/// A long-running operation is the call's own bookkeeping, not a resource: GCP's operation
/// names (`operation-1634612259304-5ceabd30fb515-…`) and the URLs of operations (GCP
/// `selfLink`s, Azure `…/operations/<id>` status links). A resource merely named
/// `operation-logs` is still one.
fn is_operation(value: &str) -> bool {
    let gcp_name = value
        .strip_prefix("operation-")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    let url = value.starts_with("https://") || value.starts_with("http://");
    gcp_name || (url && value.contains("/operations/"))
}

/// `arn:aws:iam::1:role/path/Admin` → `Admin`; `arn:aws:lambda:r:1:function:fn` → `fn`;
/// `arn:aws:s3:::bucket` → `bucket`.
fn arn_resource_name(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let resource = rest.splitn(5, ':').nth(4)?;
    let tail = resource.rsplit(['/', ':']).next()?;
    (!tail.is_empty() && tail != "*").then_some(tail)
}

fn is_identifier_key(key: &str) -> bool {
    lowercased(key, identifier_key)
}

fn identifier_key(k: &str) -> bool {
    // Keys that end like identifiers but name no resource: request and session bookkeeping,
    // people, and the host facts an agent reports (SSM's `agentName`, `computerName`,
    // `availabilityZoneId`).
    const DENY: [&str; 21] = [
        "agentname",
        "computername",
        "availabilityzoneid",
        "platformname",
        "requestid",
        "clienttoken",
        "accesskeyid",
        "principalid",
        "accountid",
        "ownerid",
        "groupownerid",
        "useragent",
        "rolesessionname",
        "sessionname",
        "displayname",
        "username",
        "eventname",
        "hostname",
        "devicename",
        "masterusername",
        "dbname",
    ];
    if DENY.contains(&k) || k.ends_with("ownerid") || k.ends_with("requestid") {
        return false;
    }
    const EXACT: [&str; 6] = [
        "bucket",
        "cluster",
        "queue",
        "resource",
        "resources",
        "entity",
    ];
    const SUFFIX: [&str; 9] = [
        "id",
        "ids",
        "name",
        "names",
        "arn",
        "arns",
        "url",
        "identifier",
        "link",
    ];
    EXACT.contains(&k) || SUFFIX.iter().any(|s| k.ends_with(s))
}

struct Walk<'de, 'o> {
    key: Option<std::borrow::Cow<'de, str>>,
    depth: u32,
    out: &'o mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        // Identifiers do not contain spaces; display names and descriptions do.
        let keep = v.starts_with("arn:")
            || (self.key.as_deref().is_some_and(is_identifier_key)
                && !v.contains(char::is_whitespace));
        if keep && self.out.len() < MAX_REFS {
            push(self.out, v);
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        // Array elements inherit the array's key: `securityGroupIds: ["sg-1", "sg-2"]`.
        while seq
            .next_element_seed(Walk {
                key: self.key.clone(),
                depth: self.depth + 1,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if self.depth >= MAX_DEPTH || is_opaque_document(&key) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            map.next_value_seed(Walk {
                key: Some(key),
                depth: self.depth + 1,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}

/// A key as the body spells it: borrowed from the body unless it has escapes. (`Cow<str>`'s
/// own `Deserialize` always copies, and bodies have several keys per event.)
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v))
    }
}

/// `test` of `key` in ASCII lower case, without allocating for keys of ordinary length (this
/// runs for every key of every request and response body).
fn lowercased(key: &str, test: impl FnOnce(&str) -> bool) -> bool {
    let mut buf = [0u8; 64];
    match buf.get_mut(..key.len()) {
        Some(lower) => {
            lower.copy_from_slice(key.as_bytes());
            lower.make_ascii_lowercase();
            // Lower-casing ASCII bytes keeps UTF-8 valid.
            test(std::str::from_utf8(lower).unwrap_or_default())
        }
        None => test(&key.to_ascii_lowercase()),
    }
}

/// Bodies that are documents, not references: policies, user data, environment variables,
/// templates. Their strings may hold secrets and their ARNs name *other* resources.
fn is_opaque_document(key: &str) -> bool {
    lowercased(key, opaque_document)
}

fn opaque_document(k: &str) -> bool {
    // Keys are short: comparing each place costs less than `str::contains` sets up (ingest
    // calls this for every key of every request).
    let names = |part: &[u8]| k.as_bytes().windows(part.len()).any(|w| w == part);
    names(b"policy")
        || names(b"document")
        || matches!(
            k,
            "userdata"
                | "environment"
                | "variables"
                | "templatebody"
                | "definition"
                | "accesscontrolpolicy"
                | "tags"
                | "tagset"
                | "tagging"
                | "tagspecificationset"
                | "data"
                | "stringdata"
                | "currentstate"
                | "previousstate"
                | "instancestate"
                | "statereason"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_not_resources_but_names_like_them_are() {
        let mut out = Vec::new();
        for v in [
            "operation-1634612259304-5ceabd30fb515-0ac8bbff",
            "https://www.googleapis.com/compute/v1/projects/p/zones/z/operations/operation-1",
            "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/locations/westus/operations/0f1e",
            "operation-logs",
            "arn:aws:s3:::operation-archive",
        ] {
            push(&mut out, v);
        }
        assert_eq!(
            out,
            [
                "operation-logs",
                "arn:aws:s3:::operation-archive",
                "operation-archive"
            ]
        );
    }

    fn refs(json: &str) -> Vec<String> {
        let raw: Box<RawValue> = serde_json::from_str(json).unwrap();
        let mut out = Vec::new();
        collect(Some(&raw), &mut out);
        out
    }

    /// Keys are borrowed from the body, copied only when escaped, and compared in lower case
    /// however long: each way reaches the same verdict.
    #[test]
    fn escaped_long_and_mixed_case_keys_are_judged_as_plain_ones() {
        let long_id = format!("{}Id", "x".repeat(80));
        let long_policy = format!("{}Policy", "x".repeat(80));
        let found = refs(&format!(
            r#"{{"group\u0049d":"sg-1","GROUPID":"sg-2","{long_id}":"v-3",
                "{long_policy}":{{"roleArn":"arn:aws:iam::1:role/hidden"}},
                "polic\u0079Document":{{"roleArn":"arn:aws:iam::1:role/hidden2"}}}}"#
        ));
        assert_eq!(found, vec!["sg-1", "sg-2", "v-3"]);
    }

    #[test]
    fn identifiers_by_key_and_arns_by_value() {
        let found = refs(
            r#"{"groupId":"sg-1","requestId":"r-1","ipPermissions":{"items":[{"fromPort":22}]},
                "instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]},
                "role":"arn:aws:iam::1:role/Lambda","securityGroupIds":["sg-2"],"memorySize":"128"}"#,
        );
        assert_eq!(
            found,
            [
                "sg-1",
                "i-1",
                "i-2",
                "arn:aws:iam::1:role/Lambda",
                "Lambda",
                "sg-2"
            ]
        );
    }

    #[test]
    fn policies_and_tags_are_not_references() {
        let found = refs(
            r#"{"bucketName":"b","bucketPolicy":{"Statement":[{"Resource":"arn:aws:s3:::other/*"}]},
                "tagSet":{"items":[{"key":"Name","value":"x"}]},"masterUserPassword":"hunter2"}"#,
        );
        assert_eq!(found, ["b"]);
    }

    #[test]
    fn arn_tails() {
        assert_eq!(arn_resource_name("arn:aws:s3:::bucket"), Some("bucket"));
        assert_eq!(
            arn_resource_name("arn:aws:lambda:eu-west-1:1:function:fn"),
            Some("fn")
        );
        assert_eq!(
            arn_resource_name("arn:aws:iam::1:role/a/b/Admin"),
            Some("Admin")
        );
        assert_eq!(arn_resource_name("not-an-arn"), None);
    }
}
