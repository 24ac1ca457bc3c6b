//! Finding the resources an event names inside free-form request and response bodies.
//!
//! CloudTrail's `requestParameters` and `responseElements` (and GCP's `request`/`response`)
//! follow each API's own shape, so no fixed schema can list their identifiers. Instead the body
//! is walked once, without building a tree, and a string is kept when its key says it is an
//! identifier (`groupId`, `bucketName`, `queueUrl`, `dBInstanceIdentifier`, `securityGroupIds`)
//! or its value is an ARN. Secrets and policy documents are never identifiers and never kept.

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// More than this many references from one body is a bulk call; the first ones are enough to
/// find it and the rest would only bloat the index.
const MAX_REFS: usize = 64;
const MAX_DEPTH: u32 = 8;
const MAX_LEN: usize = 512;

/// Collects reference strings into `out` (deduplicated, in order of appearance).
pub(crate) fn collect(body: Option<&RawValue>, out: &mut Vec<String>) {
    let Some(body) = body else { return };
    // A body that fails to walk (it parsed once already, so this cannot happen for valid
    // input) just contributes fewer references.
    if let Ok(found) = serde_json::from_str::<Found>(body.get()) {
        found.add_to(out);
    }
}

/// The references a body names, found while the record around it is parsed: a body read as
/// this type is walked once, where keeping it as raw text to walk later would scan it twice.
///
/// It holds each string the walk keeps (trimmed, once, in order of appearance, borrowed from
/// the record unless escaped) for [`Found::add_to`], which applies the same limits as if they
/// were pushed one by one as they were met.
#[derive(Debug, Default)]
pub(crate) struct Found<'a> {
    refs: Vec<Cow<'a, str>>,
    /// The smallest top-level key whose value is the string `"Failure"` (sign-in events
    /// record a failed step so in `responseElements`).
    failure: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Found<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut found = Found::default();
        Walk {
            key: None,
            depth: 0,
            found: &mut found,
            collect: true,
        }
        .deserialize(d)?;
        Ok(found)
    }
}

impl Found<'_> {
    /// Push the references found into `out`, after those already there. The walk stops adding
    /// once `out` holds [`MAX_REFS`]; since a distinct reference either is in `out` already or
    /// grows it, no more than twice that many distinct ones can count, and the walk keeps no
    /// more.
    pub(crate) fn add_to(&self, out: &mut Vec<String>) {
        for value in &self.refs {
            if out.len() >= MAX_REFS {
                break;
            }
            push(out, value);
        }
    }

    /// The key of a top-level `"Failure"`, as in `{"ConsoleLogin": "Failure"}`.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

/// Push one reference unless already present.
pub(crate) fn push(out: &mut Vec<String>, value: &str) {
    let value = value.trim();
    if !acceptable(value) || out.len() >= MAX_REFS * 2 {
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

/// Whether a trimmed value can name a resource at all.
fn acceptable(value: &str) -> bool {
    !(value.is_empty()
        || value.len() > MAX_LEN
        || value.chars().all(|c| c == '.')
        || value.chars().any(char::is_control)
        // Version numbers and counters (`versionId: "1"`) name nothing.
        || (value.len() < 6 && value.bytes().all(|b| b.is_ascii_digit()))
        || is_operation(value))
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

/// One value of a body being walked: the key it is under (array elements inherit their
/// array's), how deep it is, and whether its strings are collected (a document's are not; it
/// is only looked at for a top-level `"Failure"`).
struct Walk<'de, 'f> {
    key: Option<Cow<'de, str>>,
    depth: u32,
    found: &'f mut Found<'de>,
    collect: bool,
}

impl<'de> Walk<'de, '_> {
    fn string(self, v: Cow<'de, str>) {
        if self.depth == 1 && v == "Failure" {
            if let Some(key) = self.key.as_ref() {
                if self.found.failure.as_ref().is_none_or(|f| key < f) {
                    self.found.failure = Some(key.clone());
                }
            }
        }
        // Identifiers do not contain spaces; display names and descriptions do.
        let keep = self.collect
            && (v.starts_with("arn:")
                || (self.key.as_deref().is_some_and(is_identifier_key)
                    && !v.contains(char::is_whitespace)));
        let refs = &mut self.found.refs;
        if !keep || refs.len() >= 2 * MAX_REFS {
            return;
        }
        let trimmed = v.trim();
        if acceptable(trimmed) && !refs.iter().any(|r| r == trimmed) {
            refs.push(match v {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
            });
        }
    }
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

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.string(Cow::Borrowed(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        // Escaped: copied only if it is kept (or is a top-level `"Failure"`).
        if self.collect || self.depth == 1 {
            self.string(Cow::Owned(v.to_owned()));
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
        if !self.collect || self.depth >= MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        // Array elements inherit the array's key: `securityGroupIds: ["sg-1", "sg-2"]`.
        while seq
            .next_element_seed(Walk {
                key: self.key.clone(),
                depth: self.depth + 1,
                found: &mut *self.found,
                collect: true,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if !self.collect {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(());
        }
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let collect = self.depth < MAX_DEPTH && !is_opaque_document(&key);
            if !collect && self.depth > 0 {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            // A document at the top is still looked at for a `"Failure"`.
            map.next_value_seed(Walk {
                key: Some(key),
                depth: self.depth + 1,
                found: &mut *self.found,
                collect,
            })?;
        }
        Ok(())
    }
}

/// A key as the body spells it: borrowed from the body unless it has escapes. (`Cow<str>`'s
/// own `Deserialize` always copies, and bodies have several keys per event.)
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
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

    fn found(json: &str) -> Found<'_> {
        serde_json::from_str(json).unwrap()
    }

    /// Sign-in responses say a step failed as `{"ConsoleLogin": "Failure"}`: only a top-level
    /// value counts, under any key (a document's too), the smallest key first.
    #[test]
    fn a_top_level_failure_is_found_under_its_key() {
        let failure = |json| found(json).failure().map(str::to_owned);
        assert_eq!(
            failure(r#"{"ConsoleLogin":"Failure"}"#).as_deref(),
            Some("ConsoleLogin")
        );
        assert_eq!(
            failure(r#"{"b":"Failure","a":"Fail\u0075re"}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            failure(r#"{"policy":"Failure"}"#).as_deref(),
            Some("policy")
        );
        assert_eq!(failure(r#"{"ConsoleLogin":"Success"}"#), None);
        assert_eq!(failure(r#"{"x":{"y":"Failure"},"z":["Failure"]}"#), None);
        assert_eq!(failure(r#"["Failure"]"#), None);
        assert_eq!(failure(r#""Failure""#), None);
    }

    /// A value met again does not count again toward the limit of references a body gives,
    /// however often it repeats; distinct values stop at the limit.
    #[test]
    fn repeats_do_not_use_up_the_limit() {
        let repeated = format!(r#"{{"groupIds":[{}"sg-2"]}}"#, r#""sg-1","#.repeat(500));
        assert_eq!(refs(&repeated), ["sg-1", "sg-2"]);
        let distinct: Vec<String> = (0..300).map(|i| format!(r#""sg-{i:04}""#)).collect();
        let many = refs(&format!(r#"{{"groupIds":[{}]}}"#, distinct.join(",")));
        assert_eq!(many.len(), MAX_REFS);
        assert_eq!(many.last().map(String::as_str), Some("sg-0063"));
        // After the record's own list, the body adds until the whole list holds the limit.
        let mut out: Vec<String> = (0..60).map(|i| format!("arn:x:{i}")).collect();
        found(&format!(r#"{{"groupIds":[{}]}}"#, distinct.join(","))).add_to(&mut out);
        assert_eq!(out.len(), MAX_REFS);
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
