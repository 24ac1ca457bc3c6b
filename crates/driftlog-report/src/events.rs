//! Audit events as `driftlog events` prints them: a table for people, JSON or JSON lines for
//! machines. The JSON shape is versioned with the scan report's [`crate::json`] version rules.

use comfy_table::{presets, ContentArrangement, Table};
use driftlog_core::time::format_time_us;
use driftlog_core::{AuditEvent, Outcome};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{self, Write};

/// One event to show: the store's row id, the event, and (with `--raw`) the original record.
pub struct EventView<'a> {
    pub id: i64,
    pub event: &'a AuditEvent,
    pub raw: Option<&'a str>,
}

/// One event as JSON. Fields in name order: the order `serde_json::Value` objects print in,
/// which the format has always had.
#[derive(Serialize)]
struct EventJson<'a> {
    account: Option<&'a str>,
    action: &'a str,
    actor: ActorJson<'a>,
    event_id: &'a str,
    id: i64,
    outcome: OutcomeJson<'a>,
    principal: PrincipalJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<Value>,
    read_only: Option<bool>,
    region: Option<&'a str>,
    resources: &'a [String],
    service: Option<&'a str>,
    source: &'a str,
    source_ip: Option<&'a str>,
    time: String,
    user_agent: Option<&'a str>,
}

#[derive(Serialize)]
struct ActorJson<'a> {
    kind: &'a str,
    rule: &'a str,
}

#[derive(Serialize)]
struct OutcomeJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    /// Present (maybe null) for failures only.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Option<&'a str>>,
    result: &'a str,
}

#[derive(Serialize)]
struct PrincipalJson<'a> {
    id: Option<&'a str>,
    invoked_by: Option<&'a str>,
    issuer: Option<&'a str>,
    mfa: Option<bool>,
    on_behalf_of: Option<&'a str>,
    session_name: Option<&'a str>,
    source_identity: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
}

impl<'a> EventJson<'a> {
    fn of(view: &EventView<'a>) -> Self {
        let e = view.event;
        let p = &e.principal;
        let outcome = match &e.outcome {
            Outcome::Success => OutcomeJson {
                code: None,
                message: None,
                result: "success",
            },
            Outcome::Unknown => OutcomeJson {
                code: None,
                message: None,
                result: "unknown",
            },
            Outcome::Failure { code, message } => OutcomeJson {
                code: Some(code),
                message: Some(message.as_deref()),
                result: "failure",
            },
        };
        EventJson {
            account: e.account.as_deref(),
            action: &e.action,
            actor: ActorJson {
                kind: e.actor.kind.as_str(),
                rule: &e.actor.rule,
            },
            event_id: &e.event_id,
            id: view.id,
            outcome,
            principal: PrincipalJson {
                id: p.id.as_deref(),
                invoked_by: p.invoked_by.as_deref(),
                issuer: p.issuer.as_deref(),
                mfa: p.mfa,
                on_behalf_of: p.on_behalf_of.as_deref(),
                session_name: p.session_name.as_deref(),
                source_identity: p.source_identity.as_deref(),
                kind: p.kind.as_deref(),
            },
            raw: view.raw.map(|raw| {
                serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
            }),
            read_only: e.read_only,
            region: e.region.as_deref(),
            resources: &e.resources,
            service: e.service.as_deref(),
            source: e.source.as_str(),
            source_ip: e.source_ip.as_deref(),
            time: format_time_us(e.time_us),
            user_agent: e.user_agent.as_deref(),
        }
    }
}

/// The JSON object for one event.
pub fn event_json(view: &EventView) -> Value {
    serde_json::to_value(EventJson::of(view)).unwrap_or(Value::Null)
}

/// `{"format_version": "1.0", "count": N, "events": [...]}`.
pub fn write_json(events: &[EventView], out: &mut dyn Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        count: usize,
        events: Vec<EventJson<'a>>,
        format_version: &'static str,
    }
    let doc = Doc {
        count: events.len(),
        events: events.iter().map(EventJson::of).collect(),
        format_version: crate::formats::EVENTS,
    };
    let mut out = buffered(out);
    serde_json::to_writer_pretty(&mut out, &doc)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// serde_json writes a value in many small pieces (a quote, a key, a colon…): through a
/// buffer of a known type they are copies, not a dynamic call into `out` each, which made a
/// listing of 87,000 events spend a fifth of its time in calls.
fn buffered(out: &mut dyn Write) -> io::BufWriter<&mut dyn Write> {
    io::BufWriter::with_capacity(1 << 16, out)
}

/// One event object per line.
pub fn write_json_lines(events: &[EventView], out: &mut dyn Write) -> io::Result<()> {
    let mut out = buffered(out);
    for view in events {
        EventJson::of(view).write_compact(&mut out)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Compact JSON of an event, written field by field: the bytes `serde_json::to_writer` writes
/// for [`EventJson`], without its cost. serde_json looks each byte of each string (and each
/// field name) up in a table of escapes, which was three fifths of writing a long listing;
/// here the names are constants and a string with nothing to escape, nearly every one, is
/// copied whole. Any other string is written by serde_json, so its escapes are serde_json's.
impl EventJson<'_> {
    fn write_compact(&self, out: &mut impl Write) -> io::Result<()> {
        use Field::{Int, OptBool, OptStr, Str};
        let (o, p) = (&self.outcome, &self.principal);
        fields(
            out,
            &[
                (b"{\"account\":", OptStr(self.account)),
                (b",\"action\":", Str(self.action)),
                (b",\"actor\":{\"kind\":", Str(self.actor.kind)),
                (b",\"rule\":", Str(self.actor.rule)),
                (b"},\"event_id\":", Str(self.event_id)),
                (b",\"id\":", Int(self.id)),
            ],
        )?;
        out.write_all(b",\"outcome\":{")?;
        if let Some(code) = o.code {
            fields(out, &[(b"\"code\":", Str(code))])?;
            out.write_all(b",")?;
        }
        if let Some(message) = o.message {
            fields(out, &[(b"\"message\":", OptStr(message))])?;
            out.write_all(b",")?;
        }
        fields(
            out,
            &[
                (b"\"result\":", Str(o.result)),
                (b"},\"principal\":{\"id\":", OptStr(p.id)),
                (b",\"invoked_by\":", OptStr(p.invoked_by)),
                (b",\"issuer\":", OptStr(p.issuer)),
                (b",\"mfa\":", OptBool(p.mfa)),
                (b",\"on_behalf_of\":", OptStr(p.on_behalf_of)),
                (b",\"session_name\":", OptStr(p.session_name)),
                (b",\"source_identity\":", OptStr(p.source_identity)),
                (b",\"type\":", OptStr(p.kind)),
            ],
        )?;
        out.write_all(b"}")?;
        if let Some(raw) = &self.raw {
            out.write_all(b",\"raw\":")?;
            serde_json::to_writer(&mut *out, raw)?;
        }
        fields(
            out,
            &[
                (b",\"read_only\":", OptBool(self.read_only)),
                (b",\"region\":", OptStr(self.region)),
            ],
        )?;
        out.write_all(b",\"resources\":[")?;
        for (i, resource) in self.resources.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            json_str(out, resource)?;
        }
        fields(
            out,
            &[
                (b"],\"service\":", OptStr(self.service)),
                (b",\"source\":", Str(self.source)),
                (b",\"source_ip\":", OptStr(self.source_ip)),
                (b",\"time\":", Str(&self.time)),
                (b",\"user_agent\":", OptStr(self.user_agent)),
            ],
        )?;
        out.write_all(b"}")
    }
}

/// A value of [`EventJson::write_compact`]'s fields.
enum Field<'a> {
    Str(&'a str),
    OptStr(Option<&'a str>),
    OptBool(Option<bool>),
    Int(i64),
}

/// Each field's bytes before its value (the punctuation since the last value, and its
/// quoted name), then its value.
fn fields(out: &mut impl Write, fields: &[(&[u8], Field)]) -> io::Result<()> {
    for (before, value) in fields {
        out.write_all(before)?;
        match *value {
            Field::Str(s) => json_str(out, s)?,
            Field::OptStr(Some(s)) => json_str(out, s)?,
            Field::OptStr(None) | Field::OptBool(None) => out.write_all(b"null")?,
            Field::OptBool(Some(b)) => out.write_all(if b { b"true" } else { b"false" })?,
            Field::Int(n) => write!(out, "{n}")?,
        }
    }
    Ok(())
}

/// A JSON string: copied between quotes when nothing in it needs an escape, else serde_json's.
fn json_str(out: &mut impl Write, s: &str) -> io::Result<()> {
    if needs_no_escape(s.as_bytes()) {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        Ok(serde_json::to_writer(out, s)?)
    }
}

/// Whether JSON can hold these bytes as they are: no quote, backslash or control character
/// (what serde_json escapes). Checked 16 bytes at a time without an early exit, which the
/// compiler turns into a few vector instructions per chunk.
fn needs_no_escape(bytes: &[u8]) -> bool {
    let plain = |chunk: &[u8]| {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'))
    };
    let chunks = bytes.chunks_exact(16);
    let rest = chunks.remainder();
    chunks.into_iter().all(plain) && plain(rest)
}

/// A table, oldest first; with raw records, each follows the table, pretty-printed.
pub fn render_table(events: &[EventView], width: u16) -> String {
    if events.is_empty() {
        return "No matching events.\n".to_owned();
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width)
        .set_header(vec![
            "ID",
            "TIME (UTC)",
            "SOURCE",
            "ACTION",
            "OUTCOME",
            "PRINCIPAL",
            "ACTOR",
            "RESOURCES",
        ]);
    for view in events {
        let e = view.event;
        let mut principal = e.principal.id.clone().unwrap_or_else(|| "-".into());
        if let Some(on_behalf) = &e.principal.on_behalf_of {
            principal.push_str(&format!(" (for {on_behalf})"));
        }
        let resources = match e.resources.len() {
            0 => "-".to_owned(),
            1 | 2 => e.resources.join(", "),
            n => format!("{}, +{} more", e.resources[..2].join(", "), n - 2),
        };
        let action = match e.read_only {
            Some(true) => format!("{} (read)", e.action),
            _ => e.action.clone(),
        };
        table.add_row(vec![
            view.id.to_string(),
            format_time_us(e.time_us),
            e.source.as_str().to_owned(),
            action,
            e.outcome.label().to_owned(),
            principal,
            e.actor.kind.as_str().to_owned(),
            resources,
        ]);
    }
    let mut text = format!("{table}\n{} event(s)\n", events.len());
    for view in events {
        if let Some(raw) = view.raw {
            let pretty = serde_json::from_str::<Value>(raw)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_else(|| raw.to_owned());
            text.push_str(&format!(
                "\n── event {} ({} {}) ──\n{pretty}\n",
                view.id, view.event.source, view.event.event_id
            ));
        }
    }
    text
}

/// One resource's story, as `driftlog explain` tells it.
pub struct Explained<'a> {
    /// What the user asked about (an address or an identifier).
    pub target: &'a str,
    /// The identifiers searched for.
    pub identifiers: &'a [String],
    pub store: &'a str,
    /// Every stored event naming it, oldest first.
    pub events: &'a [EventView<'a>],
    /// Its current drift, when state inputs were given and it drifted.
    pub drift: Option<&'a driftlog_core::Finding>,
    /// Whether state inputs were given (so "no drift" can be said).
    pub has_state: bool,
}

/// The versioned JSON document of `explain`.
pub fn explain_json(x: &Explained) -> Value {
    json!({
        "format_version": crate::formats::EXPLAIN,
        "target": x.target,
        "identifiers": x.identifiers,
        "store": x.store,
        "events": x.events.iter().map(event_json).collect::<Vec<_>>(),
        "drift": x.drift,
    })
}

/// The story for people: identifiers, a count of writes and Terraform applies, the events'
/// table, and the current drift with who caused it.
pub fn explain_text(x: &Explained, width: u16) -> String {
    use std::fmt::Write as _;
    let events: Vec<&AuditEvent> = x.events.iter().map(|v| v.event).collect();
    let identifiers = match x.identifiers {
        [] => "(none)".to_owned(),
        ids => ids.join(", "),
    };
    let mut text = format!("{} — identifiers: {identifiers}\n", x.target);
    let applies: Vec<_> = events
        .iter()
        .filter(|e| e.actor.kind == driftlog_core::ActorKind::Terraform && e.is_successful_write())
        .collect();
    let writes = events.iter().filter(|e| e.read_only == Some(false)).count();
    let _ = writeln!(
        text,
        "{} events in {} ({writes} writes, {} by Terraform{})\n",
        events.len(),
        x.store,
        applies.len(),
        applies
            .last()
            .map(|e| format!(", the last at {}", format_time_us(e.time_us)))
            .unwrap_or_default()
    );
    text.push_str(&render_table(x.events, width));
    match x.drift {
        Some(f) => {
            let paths: Vec<&str> = f.changes.iter().map(|c| c.path.as_str()).collect();
            let _ = writeln!(
                text,
                "\nCurrent drift: {} {} ({})",
                f.address,
                f.kind.as_str(),
                paths.join(", ")
            );
            if let Some(a) = &f.attribution {
                for line in crate::text::attribution_lines(a) {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
        None if x.has_state => text.push_str("\nNo current drift.\n"),
        None => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftlog_core::{Actor, ActorKind, Principal, Source};
    use proptest::prelude::*;

    /// The event object is written straight from a struct, field by field; it must be byte for
    /// byte what a `serde_json::Value` of the same fields printed (names in order, nulls kept).
    #[test]
    fn an_event_prints_as_its_value_did() {
        let mut e = AuditEvent {
            source: Source::Aws,
            event_id: "e-1".into(),
            time_us: 1_700_000_000_000_000,
            account: Some("111122223333".into()),
            region: None,
            service: Some("ec2.amazonaws.com".into()),
            action: "RunInstances".into(),
            read_only: Some(false),
            outcome: Outcome::Failure {
                code: "AccessDenied".into(),
                message: None,
            },
            principal: Principal {
                id: Some("arn:aws:iam::111122223333:user/alice".into()),
                kind: Some("IAMUser".into()),
                mfa: Some(true),
                ..Principal::default()
            },
            actor: Actor::new(ActorKind::Cli, "userAgent:aws-cli"),
            source_ip: Some("192.0.2.1".into()),
            user_agent: None,
            resources: vec!["i-1".into(), "sg-2".into()],
            completeness: 0,
        };
        let expected = |e: &AuditEvent, outcome: Value, raw: Option<Value>| {
            let p = &e.principal;
            let mut v = json!({
                "id": 7, "source": "aws", "event_id": e.event_id,
                "time": format_time_us(e.time_us), "account": e.account, "region": e.region,
                "service": e.service, "action": e.action, "read_only": e.read_only,
                "outcome": outcome,
                "principal": {"id": p.id, "type": p.kind, "issuer": p.issuer,
                    "session_name": p.session_name, "source_identity": p.source_identity,
                    "on_behalf_of": p.on_behalf_of, "invoked_by": p.invoked_by, "mfa": p.mfa},
                "actor": {"kind": e.actor.kind.as_str(), "rule": e.actor.rule},
                "source_ip": e.source_ip, "user_agent": e.user_agent, "resources": e.resources,
            });
            if let Some(raw) = raw {
                v["raw"] = raw;
            }
            serde_json::to_string(&v).unwrap()
        };
        let view = |e: &AuditEvent, raw: Option<&'static str>| {
            let v = EventView {
                id: 7,
                event: e,
                raw,
            };
            let mut line = Vec::new();
            write_json_lines(
                &[EventView {
                    id: 7,
                    event: e,
                    raw,
                }],
                &mut line,
            )
            .unwrap();
            assert_eq!(
                serde_json::to_string(&event_json(&v)).unwrap() + "\n",
                String::from_utf8(line).unwrap()
            );
            serde_json::to_string(&EventJson::of(&v)).unwrap()
        };
        let failure = json!({"result": "failure", "code": "AccessDenied", "message": null});
        assert_eq!(view(&e, None), expected(&e, failure, None));
        let raw = r#"{"z":1,"a":{"y":2,"b":3}}"#;
        assert_eq!(
            view(&e, Some(raw)),
            expected(
                &e,
                json!({"result": "failure", "code": "AccessDenied", "message": null}),
                Some(serde_json::from_str(raw).unwrap())
            )
        );
        e.outcome = Outcome::Success;
        assert_eq!(
            view(&e, None),
            expected(&e, json!({"result": "success"}), None)
        );
        e.outcome = Outcome::Unknown;
        assert_eq!(
            view(&e, Some("not json")),
            expected(&e, json!({"result": "unknown"}), Some(json!("not json")))
        );
    }

    /// Any text, or a line of a log's usual characters (longer than one checked chunk).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9:/._ -]{0,60}",
            "[a-z\"\\\\\\x00-\\x1f\\x7f\u{e9}]{0,40}"
        ]
    }

    fn opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(text())
    }

    fn event() -> impl Strategy<Value = AuditEvent> {
        let outcome = prop_oneof![
            Just(Outcome::Success),
            Just(Outcome::Unknown),
            (text(), opt_text()).prop_map(|(code, message)| Outcome::Failure { code, message }),
        ];
        let principal = (
            (opt_text(), opt_text(), opt_text(), opt_text()),
            (opt_text(), opt_text(), opt_text(), any::<Option<bool>>()),
        )
            .prop_map(
                |(
                    (id, kind, issuer, session_name),
                    (source_identity, on_behalf_of, invoked_by, mfa),
                )| {
                    Principal {
                        id,
                        kind,
                        issuer,
                        session_name,
                        source_identity,
                        on_behalf_of,
                        invoked_by,
                        mfa,
                    }
                },
            );
        (
            (
                text(),
                any::<i64>(),
                opt_text(),
                opt_text(),
                opt_text(),
                text(),
            ),
            (any::<Option<bool>>(), outcome, principal),
            (
                proptest::sample::select(ActorKind::ALL.to_vec()),
                text(),
                opt_text(),
                opt_text(),
            ),
            proptest::collection::vec(text(), 0..4),
        )
            .prop_map(
                |(
                    (event_id, time_us, account, region, service, action),
                    (read_only, outcome, principal),
                    (kind, rule, source_ip, user_agent),
                    resources,
                )| AuditEvent {
                    source: Source::Aws,
                    event_id,
                    time_us,
                    account,
                    region,
                    service,
                    action,
                    read_only,
                    outcome,
                    principal,
                    actor: Actor::new(kind, rule),
                    source_ip,
                    user_agent,
                    resources,
                    completeness: 0,
                },
            )
    }

    proptest! {
        /// A line written field by field is what serde_json writes for the same event, with
        /// any string in any field, and with or without its raw record.
        #[test]
        fn a_line_is_what_serde_json_writes(
            e in event(),
            id in any::<i64>(),
            raw in proptest::option::of(prop_oneof![Just(r#"{"b":[1,"\\u0001"],"a":null}"#.to_owned()), text()]),
        ) {
            let view = EventView { id, event: &e, raw: raw.as_deref() };
            let json = EventJson::of(&view);
            let mut line = Vec::new();
            json.write_compact(&mut line).unwrap();
            prop_assert_eq!(
                String::from_utf8(line).unwrap(),
                serde_json::to_string(&json).unwrap()
            );
        }
    }
}
