//! Recognising what a JSON value holds, and unwrapping the envelopes records arrive in.
//!
//! The same CloudTrail record can arrive bare, in a `{"Records":[...]}` delivery file, under
//! `detail` in an EventBridge event, as a string in `lookup-events` output, or inside a rule-test
//! case's `data`. Each envelope is peeled here; the record readers never see them.

use crate::error::{Location, Rejection};
use crate::sink::{ParsedEvent, Sink};
use crate::{azure, cloudtrail, gcp, kubernetes};
use driftlog_core::AuditEvent;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The text a value was parsed from, to turn a nested value back into a line number.
pub(crate) struct Ctx<'d> {
    doc: &'d str,
    first_line: u64,
}

impl<'d> Ctx<'d> {
    pub(crate) fn new(doc: &'d str, first_line: u64) -> Self {
        Self { doc, first_line }
    }

    /// Computed only for rejections: counting newlines for every record would be quadratic.
    fn locate(&self, anchor: &str, pointer: String) -> Location {
        let start = self.doc.as_ptr() as usize;
        let at = anchor.as_ptr() as usize;
        let offset = at
            .checked_sub(start)
            .filter(|o| *o <= self.doc.len())
            .unwrap_or(0);
        let newlines = memchr::memchr_iter(b'\n', &self.doc.as_bytes()[..offset]).count();
        Location {
            line: self.first_line + newlines as u64,
            pointer,
        }
    }
}

/// Every top-level key that tells one format from another.
#[derive(Deserialize)]
struct Probe<'a> {
    /// Split while probing, so a delivery file's records are scanned once here rather than
    /// again by a second parse.
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(rename = "records", borrow)]
    azure_records: Option<&'a RawValue>,
    /// The Azure REST API's page of results: `{"value": [...], "nextLink": ...}`.
    #[serde(rename = "value", borrow)]
    azure_value: Option<&'a RawValue>,
    #[serde(rename = "Events", borrow)]
    lookup_events: Option<&'a RawValue>,
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<&'a RawValue>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
    #[serde(rename = "CloudTrailEvent", borrow)]
    cloudtrail_event: Option<&'a RawValue>,
    #[serde(rename = "Resources", borrow)]
    lookup_resources: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    #[serde(rename = "eventVersion", borrow)]
    event_version: Option<&'a RawValue>,
    #[serde(rename = "eventID", borrow)]
    event_id: Option<&'a RawValue>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<&'a RawValue>,
    #[serde(rename = "digestStartTime", borrow)]
    digest_start: Option<&'a RawValue>,
    #[serde(rename = "digestPublicKeyFingerprint", borrow)]
    digest_key: Option<&'a RawValue>,
    #[serde(rename = "auditID", borrow)]
    audit_id: Option<&'a RawValue>,
    #[serde(borrow)]
    kind: Option<&'a RawValue>,
    #[serde(borrow)]
    items: Option<&'a RawValue>,
    #[serde(rename = "protoPayload", borrow)]
    proto_payload: Option<&'a RawValue>,
    #[serde(rename = "logName", borrow)]
    log_name: Option<&'a RawValue>,
    #[serde(rename = "operationName", borrow)]
    operation_name: Option<&'a RawValue>,
    #[serde(rename = "operation_name", borrow)]
    operation_name_snake: Option<&'a RawValue>,
    #[serde(rename = "eventDataId", borrow)]
    event_data_id: Option<&'a RawValue>,
    #[serde(rename = "event_data_id", borrow)]
    event_data_id_snake: Option<&'a RawValue>,
    /// CloudWatch Logs subscription data: `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[serde(rename = "messageType", borrow)]
    message_type: Option<&'a RawValue>,
    #[serde(rename = "logEvents", borrow)]
    log_events: Option<&'a RawValue>,
    #[serde(rename = "logGroup", borrow)]
    log_group: Option<&'a RawValue>,
    /// Azure diagnostic settings: `kube-audit`, `kube-audit-admin` for AKS (a string there; a
    /// localized object in the Activity Log's REST shape).
    #[serde(borrow)]
    category: Option<&'a RawValue>,
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
    #[serde(rename = "resourceId", borrow)]
    resource_id: Option<&'a RawValue>,
    /// A container log line: Docker's json-file driver and Fluent Bit/Fluentd write
    /// `{"log": "<the line>", "stream": "stdout", …}`; the API server's audit log goes there
    /// with `--audit-log-path=-`.
    #[serde(borrow)]
    log: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
    #[serde(borrow)]
    kubernetes: Option<&'a RawValue>,
}

/// A probed value that is a JSON string, as text.
fn string_value(value: Option<&RawValue>) -> Option<Cow<'_, str>> {
    value.and_then(|v| serde_json::from_str(v.get()).ok())
}

/// Hand `value` (found at `pointer`, inside `anchor` which lies in the context's text) to the
/// right reader.
pub(crate) fn dispatch(
    ctx: &Ctx,
    anchor: &RawValue,
    value: &RawValue,
    pointer: String,
    sink: &mut dyn Sink,
) {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'[') => return each(ctx, value, pointer, sink),
        Some(b'{') => {}
        _ => {
            return sink.reject(Rejection {
                location: ctx.locate(anchor.get(), pointer),
                reason: "expected a JSON object (an audit record or an envelope of records)".into(),
            })
        }
    }
    let reject = |sink: &mut dyn Sink, pointer: String, reason: String| {
        sink.reject(Rejection {
            location: ctx.locate(anchor.get(), pointer),
            reason,
        })
    };
    let probe: Probe = match serde_json::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            return reject(
                sink,
                pointer,
                format!(
                    "malformed record ({}; `Records` must be an array of records)",
                    crate::fields::describe_type_error(e)
                ),
            )
        }
    };
    let at = |key: &str| join(&pointer, key);

    if let Some(records) = probe.records {
        return each_record(ctx, &records, at("Records"), sink);
    }
    if let Some(kind) = string_value(probe.message_type) {
        return cloudwatch_logs(ctx, anchor, &kind, &probe, &pointer, sink);
    }
    if let (Some(line), true) = (
        probe.log.and_then(|l| string_value(Some(l))),
        probe.stream.is_some() || probe.kubernetes.is_some(),
    ) {
        if !line.trim_start().starts_with('{') {
            return sink.ignore("container log line that is not a JSON record");
        }
        return embedded(ctx, anchor, &line, join(&pointer, "log"), None, sink);
    }
    if let Some(category) = string_value(probe.category).filter(|c| {
        c.eq_ignore_ascii_case("kube-audit") || c.eq_ignore_ascii_case("kube-audit-admin")
    }) {
        return aks_audit(ctx, anchor, &category, &probe, &pointer, sink);
    }
    if let Some(events) = probe.lookup_events {
        return each(ctx, events, at("Events"), sink);
    }
    if let Some(inner) = probe.cloudtrail_event {
        // `aws cloudtrail lookup-events`: the record is a JSON string.
        let record: Cow<str> = match serde_json::from_str(inner.get()) {
            Ok(s) => s,
            Err(_) => {
                return reject(
                    sink,
                    at("CloudTrailEvent"),
                    "`CloudTrailEvent` must be a string holding the record's JSON".into(),
                )
            }
        };
        let parsed = serde_json::from_str::<&RawValue>(&record)
            .map_err(|e| format!("`CloudTrailEvent` is not valid JSON: {e}"))
            .and_then(cloudtrail::parse);
        return match parsed {
            Ok(mut event) => {
                cloudtrail::add_lookup_resources(&mut event, probe.lookup_resources);
                emit(sink, event, value)
            }
            Err(reason) => reject(sink, at("CloudTrailEvent"), reason),
        };
    }
    if let (Some(detail_type), Some(detail)) = (probe.detail_type, probe.detail) {
        let is_api_call = detail_type.get().contains("via CloudTrail")
            || serde_json::from_str::<cloudtrail::Markers>(detail.get())
                .is_ok_and(|m| m.looks_like_record());
        if !is_api_call {
            return sink.ignore("EventBridge event that is not a CloudTrail record");
        }
        return match cloudtrail::parse(detail) {
            Ok(event) => emit(sink, event, value),
            Err(reason) => reject(sink, at("detail"), reason),
        };
    }
    if probe.digest_start.is_some() || probe.digest_key.is_some() {
        return sink.ignore("CloudTrail digest file");
    }
    if probe.event_version.is_some() || (probe.event_id.is_some() && probe.event_source.is_some()) {
        return match cloudtrail::parse(value) {
            Ok(event) => emit(sink, event, value),
            Err(reason) => reject(sink, pointer, reason),
        };
    }
    let kind = probe
        .kind
        .and_then(|k| serde_json::from_str::<Cow<str>>(k.get()).ok());
    if kind.as_deref() == Some("EventList") {
        if let Some(items) = probe.items {
            return each(ctx, items, at("items"), sink);
        }
    }
    if probe.audit_id.is_some() || kind.as_deref() == Some("Event") {
        return match kubernetes::parse(value) {
            Ok(Some(parsed)) => sink.event(parsed),
            Ok(None) => sink.ignore("Kubernetes event that is not an audit event"),
            Err(reason) => reject(sink, pointer, reason),
        };
    }
    if probe.proto_payload.is_some() {
        return match gcp::parse(value) {
            Ok(Some(event)) => emit(sink, event, value),
            Ok(None) => sink.ignore("GCP log entry that is not an audit log"),
            Err(reason) => reject(sink, pointer, reason),
        };
    }
    if probe.log_name.is_some() {
        return sink.ignore("GCP log entry that is not an audit log");
    }
    if let Some(records) = probe.azure_records.filter(|r| r.get().starts_with('[')) {
        return each(ctx, records, at("records"), sink);
    }
    if let Some(page) = probe.azure_value.filter(|r| r.get().starts_with('[')) {
        return each(ctx, page, at("value"), sink);
    }
    if probe.operation_name.is_some()
        || probe.operation_name_snake.is_some()
        || probe.event_data_id.is_some()
        || probe.event_data_id_snake.is_some()
    {
        return match azure::parse(value) {
            Ok(event) => emit(sink, event, value),
            Err(reason) => reject(sink, pointer, reason),
        };
    }
    if let Some(data) = probe.data {
        // A rule-test case (StreamAlert and similar): the record is under `data`.
        return dispatch(ctx, data, data, at("data"), sink);
    }
    reject(
        sink,
        pointer,
        format!(
            "{UNRECOGNISED}: expected CloudTrail (eventID, eventSource), a Kubernetes \
         audit Event (auditID), a GCP audit LogEntry (protoPayload) or an Azure Activity Log \
         entry (operationName)"
        ),
    )
}

/// A CloudWatch Logs subscription's payload (what a Lambda, Kinesis or Firehose subscriber
/// receives): `{"messageType": "DATA_MESSAGE", "logGroup", "logEvents": [{"message": "..."}]}`,
/// each message one record as text. CloudTrail sends its records this way, and EKS its
/// Kubernetes audit events (log group `/aws/eks/CLUSTER/cluster`, which names the cluster).
fn cloudwatch_logs(
    ctx: &Ctx,
    anchor: &RawValue,
    kind: &str,
    probe: &Probe<'_>,
    pointer: &str,
    sink: &mut dyn Sink,
) {
    #[derive(Deserialize)]
    struct LogEvent<'a> {
        #[serde(borrow)]
        message: Option<Cow<'a, str>>,
    }
    if kind != "DATA_MESSAGE" {
        return sink.ignore("CloudWatch Logs control message");
    }
    let Some(events) = probe.log_events else {
        return sink.reject(Rejection {
            location: ctx.locate(anchor.get(), pointer.to_owned()),
            reason: "CloudWatch Logs DATA_MESSAGE without `logEvents`".into(),
        });
    };
    let cluster = string_value(probe.log_group)
        .as_deref()
        .and_then(|g| g.strip_prefix("/aws/eks/"))
        .and_then(|rest| rest.strip_suffix("/cluster"))
        .map(str::to_owned);
    let events: Vec<LogEvent> = match serde_json::from_str(events.get()) {
        Ok(e) => e,
        Err(e) => {
            return sink.reject(Rejection {
                location: ctx.locate(anchor.get(), join(pointer, "logEvents")),
                reason: format!(
                    "`logEvents` must be an array of {{\"message\": \"...\"}} objects ({})",
                    crate::fields::describe_type_error(e)
                ),
            })
        }
    };
    for (i, event) in events.iter().enumerate() {
        let at = format!("{}[{i}].message", join(pointer, "logEvents"));
        let Some(message) = &event.message else {
            sink.reject(Rejection {
                location: ctx.locate(anchor.get(), at),
                reason: "log event without a `message`".into(),
            });
            continue;
        };
        if !message.trim_start().starts_with('{') {
            // EKS also sends its authenticator and controller logs, which are plain text.
            sink.ignore("CloudWatch Logs message that is not a JSON record");
            continue;
        }
        embedded(ctx, anchor, message, at, cluster.clone(), sink);
    }
}

/// AKS audit logs as Azure diagnostic settings export them: one record per Kubernetes audit
/// event, the `Event` in `properties.log` (a JSON string, or an object in some exports), the
/// cluster named by the record's `resourceId`.
fn aks_audit(
    ctx: &Ctx,
    anchor: &RawValue,
    category: &str,
    probe: &Probe<'_>,
    pointer: &str,
    sink: &mut dyn Sink,
) {
    #[derive(Deserialize)]
    struct Properties<'a> {
        #[serde(borrow)]
        log: Option<&'a RawValue>,
    }
    let log = probe
        .properties
        .and_then(|p| serde_json::from_str::<Properties>(p.get()).ok())
        .and_then(|p| p.log);
    let at = join(pointer, "properties.log");
    let Some(log) = log else {
        return sink.reject(Rejection {
            location: ctx.locate(anchor.get(), pointer.to_owned()),
            reason: format!("AKS `{category}` record without `properties.log`"),
        });
    };
    let cluster = string_value(probe.resource_id).map(|id| id.to_ascii_lowercase());
    if log.get().starts_with('{') {
        return embedded(ctx, anchor, log.get(), at, cluster, sink);
    }
    match serde_json::from_str::<Cow<str>>(log.get()) {
        Ok(text) => embedded(ctx, anchor, &text, at, cluster, sink),
        Err(_) => sink.reject(Rejection {
            location: ctx.locate(anchor.get(), at),
            reason:
                "`properties.log` must be the Kubernetes audit event, as an object or a JSON string"
                    .into(),
        }),
    }
}

/// Read a record that arrived as text inside another record (a CloudWatch Logs message, an
/// AKS `properties.log`). Problems are reported at the envelope's place; `account` fills in
/// events that do not name their account or cluster themselves.
fn embedded(
    ctx: &Ctx,
    anchor: &RawValue,
    text: &str,
    pointer: String,
    account: Option<String>,
    sink: &mut dyn Sink,
) {
    let value = match serde_json::from_str::<&RawValue>(text) {
        Ok(v) => v,
        Err(e) => {
            return sink.reject(Rejection {
                location: ctx.locate(anchor.get(), pointer),
                reason: format!("the embedded record is not valid JSON: {}", e),
            })
        }
    };
    let inner = Ctx::new(text, 1);
    let mut relay = Relay {
        sink,
        line: ctx.locate(anchor.get(), String::new()).line,
        pointer,
        account,
    };
    dispatch(&inner, value, value, String::new(), &mut relay);
}

/// Passes events through to the real sink, relocating problems to the envelope.
struct Relay<'s> {
    sink: &'s mut dyn Sink,
    line: u64,
    pointer: String,
    account: Option<String>,
}

impl Sink for Relay<'_> {
    fn event(&mut self, mut event: ParsedEvent<'_>) {
        if event.event.account.is_none() {
            event.event.account.clone_from(&self.account);
        }
        self.sink.event(event);
    }
    fn reject(&mut self, rejection: Rejection) {
        let pointer = match rejection.location.pointer.as_str() {
            "" => self.pointer.clone(),
            inner => format!("{} -> {inner}", self.pointer),
        };
        self.sink.reject(Rejection {
            location: Location {
                line: self.line,
                pointer,
            },
            reason: rejection.reason,
        });
    }
    fn ignore(&mut self, what: &'static str) {
        self.sink.ignore(what);
    }
}

/// The hot path, a CloudTrail delivery file (`{"Records":[...]}`, the whole text, compact as
/// CloudTrail writes it or pretty-printed by a tool): its records are read without probing
/// the document first. Returns false, having sent nothing, for any other text.
pub(crate) fn delivery_file(ctx: &Ctx, text: &str, sink: &mut dyn Sink) -> bool {
    let Some(after_key) = records_key(text) else {
        return false;
    };
    // Nothing is sent until the whole file has parsed, so all its events are held at once:
    // a file larger than this (no CloudTrail delivery is; an export made by hand may be)
    // takes the general path, which holds only the records' places.
    let one_pass = (text.len() <= ONE_PASS_MAX)
        .then(|| delivery_records(after_key))
        .flatten();
    if let Some(records) = one_pass {
        for (i, (parsed, raw)) in records.into_iter().enumerate() {
            match parsed {
                Ok(event) => sink.event(ParsedEvent {
                    event,
                    raw: Cow::Borrowed(raw.as_bytes()),
                }),
                Err(reason) => sink.reject(Rejection {
                    location: ctx.locate(raw, format!("Records[{i}]")),
                    reason,
                }),
            }
        }
        return true;
    }
    delivery_split(ctx, text, sink)
}

/// The general path through a delivery file: its array split into elements, each then parsed
/// (and reported where it fails). `false` if the text is no delivery file.
fn delivery_split(ctx: &Ctx, text: &str, sink: &mut dyn Sink) -> bool {
    #[derive(Deserialize)]
    struct Delivery<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<&'a RawValue>,
    }
    match serde_json::from_str::<Delivery>(text) {
        Ok(file) => {
            each_record(ctx, &file.records, "Records".into(), sink);
            true
        }
        Err(_) => false,
    }
}

/// A delivery file read in one pass: each record is parsed where it stands and its text is
/// the range the parser consumed, where splitting the array first and then parsing each
/// element would scan every byte twice. This path takes only a file of exactly
/// `{"Records":[record, ...]}` whose every record parses as one; it reports nothing itself,
/// and `None` (any other shape, a record whose JSON does not read as a record) leaves the
/// file to the general path, which says what is wrong where. `after_key` is what follows
/// the file's `{"Records"` ([`records_key`]).
fn delivery_records(after_key: &str) -> Option<Vec<(Result<AuditEvent, String>, &str)>> {
    let mut rest = after_key;
    for punctuation in [':', '['] {
        rest = rest
            .trim_start_matches(JSON_SPACE)
            .strip_prefix(punctuation)?;
    }
    let mut records = Vec::new();
    rest = rest.trim_start_matches(JSON_SPACE);
    if let Some(after) = rest.strip_prefix(']') {
        rest = after;
    } else {
        loop {
            let (parsed, len) = cloudtrail::parse_first(rest)?;
            records.push((parsed, &rest[..len]));
            rest = rest[len..].trim_start_matches(JSON_SPACE);
            let (next, after) = rest.split_at_checked(1)?;
            rest = after.trim_start_matches(JSON_SPACE);
            match next {
                "," => continue,
                "]" => break,
                _ => return None,
            }
        }
    }
    let end = rest.trim_start_matches(JSON_SPACE).strip_prefix('}')?;
    end.trim_start_matches(JSON_SPACE)
        .is_empty()
        .then_some(records)
}

/// What follows `{"Records"` when the text opens with it (white space allowed).
fn records_key(text: &str) -> Option<&str> {
    text.trim_start_matches(JSON_SPACE)
        .strip_prefix('{')?
        .trim_start_matches(JSON_SPACE)
        .strip_prefix("\"Records\"")
}

/// The largest delivery file read in one pass (see [`delivery_file`]).
const ONE_PASS_MAX: usize = 64 << 20;

/// What JSON counts as white space between values.
const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The start of the reason given for a value that is no audit format at all.
pub const UNRECOGNISED: &str = "not a recognised audit record";

/// The elements of a CloudTrail `Records` array are records: parse them directly, without
/// probing each for an envelope first (the hot path of S3 delivery files).
fn each_record(ctx: &Ctx, records: &[&RawValue], pointer: String, sink: &mut dyn Sink) {
    for (i, item) in records.iter().enumerate() {
        match cloudtrail::parse(item) {
            Ok(event) => emit(sink, event, item),
            Err(reason) => sink.reject(Rejection {
                location: ctx.locate(item.get(), format!("{pointer}[{i}]")),
                reason,
            }),
        }
    }
}

fn each(ctx: &Ctx, array: &RawValue, pointer: String, sink: &mut dyn Sink) {
    match serde_json::from_str::<Vec<&RawValue>>(array.get()) {
        Ok(items) => {
            for (i, item) in items.into_iter().enumerate() {
                dispatch(ctx, item, item, format!("{pointer}[{i}]"), sink);
            }
        }
        Err(_) => sink.reject(Rejection {
            location: ctx.locate(array.get(), pointer.clone()),
            reason: format!(
                "`{}` must be an array of records",
                if pointer.is_empty() {
                    "document"
                } else {
                    &pointer
                }
            ),
        }),
    }
}

fn emit(sink: &mut dyn Sink, event: driftlog_core::AuditEvent, raw: &RawValue) {
    sink.event(ParsedEvent {
        event,
        raw: std::borrow::Cow::Borrowed(raw.get().as_bytes()),
    })
}

fn join(pointer: &str, key: &str) -> String {
    if pointer.is_empty() {
        key.to_owned()
    } else {
        format!("{pointer}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Collect;

    /// A delivery file read both ways: in one pass (`None` if that path declined it), and
    /// split first, as the general path does.
    fn both_ways(text: &str) -> (Option<Collect>, Option<Collect>) {
        let ctx = Ctx::new(text, 1);
        let one_pass = records_key(text).and_then(delivery_records).map(|_| {
            let mut sink = Collect::default();
            assert!(delivery_file(&ctx, text, &mut sink));
            sink
        });
        let mut split = Collect::default();
        let split = delivery_split(&ctx, text, &mut split).then_some(split);
        (one_pass, split)
    }

    fn assert_same(one_pass: &Collect, split: &Collect) {
        assert_eq!(one_pass.events.len(), split.events.len());
        for (a, b) in one_pass.events.iter().zip(&split.events) {
            assert_eq!(a.event, b.event);
            assert_eq!(a.raw, b.raw);
        }
        assert_eq!(one_pass.rejections, split.rejections);
        assert_eq!(one_pass.ignored, split.ignored);
    }

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/al\u0069ce","accountId":"111122223333","sessionContext":{"attributes":{"mfaAuthenticated":"TRUE"}}},"eventTime":"2024-11-04T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.9","userAgent":"[aws-cli/2.13.0]","requestParameters":{"groupId":"sg-0\u0031","ipPermissions":{"items":[{"groupId":"sg-02"}]},"policyDocument":{"roleArn":"arn:aws:iam::1:role/hidden"}},"responseElements":{"_return":true},"readOnly":false,"eventID":"e-1","recipientAccountId":"111122223333"}"#;

    /// Every shape the one-pass path takes gives what splitting first gives, to the byte:
    /// spaces between the punctuation, escapes, an empty array, and records left out for
    /// what they hold (a missing id), with the same location.
    #[test]
    fn one_pass_equals_splitting_first() {
        let failed_login = r#"{"eventTime":"2024-11-04T10:00:01Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Failure"},"eventID":"e-2"}"#;
        let no_id = r#"{"eventTime":"2024-11-04T10:00:02Z","eventSource":"s3.amazonaws.com","eventName":"PutBucketTagging"}"#;
        for text in [
            format!(r#"{{"Records":[{RECORD},{failed_login}]}}"#),
            format!("{{\"Records\" :\r\n[ {RECORD}\n,\t{no_id} ,{failed_login}\n]\n}}\n"),
            r#"{"Records":[]}"#.to_owned(),
            "{\"Records\": [ ] } ".to_owned(),
        ] {
            let (one_pass, split) = both_ways(&text);
            let (one_pass, split) = (one_pass.expect(&text), split.expect(&text));
            assert_same(&one_pass, &split);
        }
        let (one_pass, _) = both_ways(&format!("{{\"Records\":[\n{RECORD},\n{no_id}]}}"));
        let one_pass = one_pass.unwrap();
        assert_eq!(one_pass.events.len(), 1);
        assert_eq!(one_pass.rejections[0].location.line, 3);
        assert_eq!(one_pass.rejections[0].location.pointer, "Records[1]");
    }

    /// Anything else is left to the general path, which reads or rejects it as before: a
    /// field of the wrong type, an element that is no record, another key after the array,
    /// text after the document, a document cut short.
    #[test]
    fn other_shapes_take_the_general_path() {
        let wrong_type =
            RECORD.replace(r#""eventTime":"2024-11-04T10:00:00Z""#, r#""eventTime":5"#);
        for (text, general) in [
            (format!(r#"{{"Records":[{RECORD},{wrong_type}]}}"#), true),
            (format!(r#"{{"Records":[{RECORD},"text",7,null]}}"#), true),
            (format!(r#"{{"Records":[{RECORD}],"Digest":1}}"#), true),
            (format!(r#"{{"Records":[{RECORD}]}} x"#), false),
            (format!(r#"{{"Records":[{RECORD},"#), false),
            (format!(r#"{{"Records":[{RECORD}}}"#), false),
        ] {
            let (one_pass, split) = both_ways(&text);
            assert!(one_pass.is_none(), "{text}");
            assert_eq!(split.is_some(), general, "{text}");
        }
    }

    mod generated {
        use super::*;
        use proptest::prelude::*;

        /// JSON white space, often none.
        fn space() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["", "", "", " ", "\n", "\r\n\t ", "  "])
        }

        /// A string value: plain, escaped, an ARN, a placeholder, or empty.
        fn text() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                r#""sg-0123""#,
                r#""i-0\u0061bc""#,
                r#""arn:aws:iam::111122223333:role/Admin""#,
                r#""2024-11-04T10:00:00Z""#,
                r#""Failure""#,
                r#""...""#,
                r#""""#,
                r#""with \"quotes\" and spaces""#,
                r#""true""#,
            ])
            .prop_map(str::to_owned)
        }

        /// Any value a field may hold, of the right type or not.
        fn value() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                4 => text(),
                1 => Just("null".to_owned()),
                1 => Just("false".to_owned()),
                1 => Just("-12.5e3".to_owned()),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4)
                        .prop_map(|items| format!("[{}]", items.join(","))),
                    prop::collection::vec(
                        (
                            prop::sample::select(vec![
                                "groupId",
                                "bucketName",
                                "items",
                                "policy",
                                "ConsoleLogin",
                                "roleArn",
                                "tags",
                                "x",
                            ]),
                            inner
                        ),
                        0..4
                    )
                    .prop_map(|entries| {
                        let entries: Vec<String> = entries
                            .iter()
                            .map(|(k, v)| format!(r#""{k}":{v}"#))
                            .collect();
                        format!("{{{}}}", entries.join(","))
                    }),
                ]
            })
        }

        /// A record-like object: the fields CloudTrail parsing reads, each usually present
        /// and usually of its type, in any order, with white space anywhere.
        fn record() -> impl Strategy<Value = String> {
            const KEYS: [&str; 12] = [
                "eventID",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "userAgent",
                "readOnly",
                "sessionCredentialFromConsole",
                "userIdentity",
                "requestParameters",
                "responseElements",
                "resources",
            ];
            let field = |key: &'static str| {
                let good = match key {
                    "eventTime" => Just(r#""2024-11-04T10:00:00Z""#.to_owned()).boxed(),
                    "readOnly" => prop::sample::select(vec!["true", r#"" FALSE""#, "null"])
                        .prop_map(str::to_owned)
                        .boxed(),
                    "userIdentity" => Just(
                        r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s","sessionContext":{"attributes":{"mfaAuthenticated":"true"}}}"#
                            .to_owned(),
                    )
                    .boxed(),
                    "resources" => Just(r#"[{"ARN":"arn:aws:s3:::b"},{"ARN":null}]"#.to_owned()).boxed(),
                    "requestParameters" | "responseElements" => value().boxed(),
                    "eventID" | "eventSource" | "eventName" => prop::sample::select(vec![
                        r#""e-1""#,
                        r#""ec2.amazon\u0061ws.com""#,
                        r#""PutBucketPolicy""#,
                    ])
                    .prop_map(str::to_owned)
                    .boxed(),
                    _ => text().boxed(),
                };
                prop::option::weighted(0.95, prop_oneof![40 => good, 1 => value()])
                    .prop_map(move |v| v.map(|v| (key, v)))
            };
            let fields = KEYS
                .map(field)
                .to_vec()
                .prop_map(|fields| fields.into_iter().flatten().collect::<Vec<_>>())
                .prop_shuffle();
            (fields, prop::collection::vec(space(), 4)).prop_map(|(fields, spaces)| {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!(r#"{}"{k}"{}:{}{v}"#, spaces[0], spaces[1], spaces[2]))
                    .collect();
                format!("{{{}{}}}", body.join(","), spaces[3])
            })
        }

        proptest! {
            /// Whatever the records hold, a file the one-pass path takes gives what splitting
            /// it first gives: the same events from the same bytes, the same rejections at the
            /// same places; and it takes every well-formed `{"Records":[…]}` of objects whose
            /// fields are of their types.
            #[test]
            fn one_pass_equals_splitting_first_on_any_records(
                records in prop::collection::vec(
                    prop_oneof![30 => record(), 1 => value()], 0..6),
                spaces in prop::collection::vec(space(), 8),
            ) {
                let [a, b, c, d, e, f, g, h] = <[&str; 8]>::try_from(spaces).unwrap();
                let text = format!(
                    "{a}{{{b}\"Records\"{c}:{d}[{e}{}{f}]{g}}}{h}",
                    records.join(&format!("{f},{e}"))
                );
                let (one_pass, split) = both_ways(&text);
                let split = split.expect("a well-formed delivery file");
                if let Some(one_pass) = one_pass {
                    assert_same(&one_pass, &split);
                }
            }
        }
    }

    /// The real delivery files among the fixtures (pretty-printed, gzip'd or not) take the
    /// one-pass path and read as splitting first reads them.
    #[test]
    fn real_delivery_files_read_the_same_both_ways() {
        let root = std::env::var_os("DRIFTLOG_FIXTURES").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
            std::path::PathBuf::from,
        );
        let mut files = 0;
        if let Ok(entries) = std::fs::read_dir(root.join("aws-cloudtrail")) {
            for entry in entries.flatten() {
                let bytes = std::fs::read(entry.path()).unwrap();
                let bytes = if crate::reader::is_gzip(&bytes) {
                    use std::io::Read;
                    let mut plain = Vec::new();
                    flate2::read::MultiGzDecoder::new(&bytes[..])
                        .read_to_end(&mut plain)
                        .unwrap();
                    plain
                } else {
                    bytes
                };
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    continue;
                };
                if records_key(text).is_none() {
                    continue;
                }
                let (one_pass, split) = both_ways(text);
                let name = entry.path();
                let one_pass = one_pass.unwrap_or_else(|| panic!("{name:?}: not one pass"));
                assert_same(&one_pass, &split.unwrap());
                files += 1;
            }
        }
        assert!(
            files > 0,
            "no delivery file among the fixtures at {}",
            root.display()
        );
    }
}
