//! Attribution for Kubernetes findings: which API request made the live object differ.
//!
//! Audit events name an object by its API path (`namespaces/NS/deployments/NAME`) and uid.
//! Reads (`get`, `list`, `watch`) never count; failed requests are attempts; writes to the
//! `status` subresource are controllers reporting, not changes to what was declared. Each
//! remaining write is checked against the change: its request object (logged at `Request`
//! level and above) either sets the changed field to the live value (it explains the change),
//! sets another value (overwritten since, or about something else: never the cause), or does
//! not mention the field. A `kubectl scale` is a write to `deployments/scale` whose `Scale`
//! object sets `spec.replicas`, the same path as on the Deployment.
//!
//! Confidence as for AWS: `certain` when every change (or the deletion, or the creation) is
//! explained by a request that sets it; `likely` when writes happened but their bodies were
//! not logged or explain only part; `none` when the logs hold no write.

use crate::cause::{Attribution, Confidence, EventRef, Window};
use crate::event::{AuditEvent, Outcome};
use crate::finding::{Change, Finding, FindingKind};
use crate::k8s::normalize::{quantities_equal, scalars_equal};
use crate::k8s::path::FieldPath;
use crate::sensitive::REDACTED;
use crate::time::format_time_us;
use serde_json::Value;

/// What attribution needs from a stored event's evidence.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `requestObject`: the patch, or the whole object of an `update` or `create`.
    pub body: Option<Value>,
    /// `?fieldManager=` of the request URI.
    pub field_manager: Option<String>,
}

/// How a write relates to one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fit {
    Sets,
    Silent,
    Contradicts,
}

fn verb(action: &str) -> &str {
    action.split(' ').next().unwrap_or(action)
}

/// The field manager a request was recorded under: `?fieldManager=`, else the user agent's
/// program name (what the API server falls back to).
fn manager_of(e: &AuditEvent, request: &Request) -> Option<String> {
    request.field_manager.clone().or_else(|| {
        e.user_agent
            .as_deref()
            .and_then(|ua| ua.split('/').next())
            .map(str::to_owned)
    })
}

fn fit(change: &Change, verb: &str, body: Option<&Value>) -> Fit {
    let Some(body) = body else {
        return Fit::Silent;
    };
    let Some(path) = FieldPath::parse(&change.path) else {
        return Fit::Silent;
    };
    // A JSON patch: a list of operations on pointers.
    if let Value::Array(ops) = body {
        return json_patch_fit(change, &path, ops);
    }
    let whole = matches!(verb, "update" | "create");
    match path.resolve(body) {
        Some(Some(v)) if v.is_null() => {
            if change.after.is_null() {
                Fit::Sets
            } else {
                Fit::Contradicts
            }
        }
        Some(Some(v)) => {
            if change.sensitive || change.after == Value::String(REDACTED.into()) {
                // Secret values are redacted on both sides: that the request set the key is
                // all that can be said.
                return if change.after.is_null() {
                    Fit::Contradicts
                } else {
                    Fit::Sets
                };
            }
            let same = scalars_equal(v, &change.after)
                || quantities_equal(v, &change.after)
                || within(v, &change.after);
            if same {
                Fit::Sets
            } else {
                Fit::Contradicts
            }
        }
        // The whole object without the field: the write removed it.
        Some(None) if whole => {
            if change.after.is_null() {
                Fit::Sets
            } else {
                Fit::Contradicts
            }
        }
        _ => Fit::Silent,
    }
}

/// Whether a requested object value holds the live one's fields (a patch sets some fields of
/// an added item; the live item has defaults besides).
fn within(requested: &Value, live: &Value) -> bool {
    match (requested, live) {
        (Value::Object(r), Value::Object(l)) => r
            .iter()
            .filter(|(k, _)| !k.starts_with('$'))
            .all(|(k, v)| l.get(k).is_some_and(|lv| within(v, lv))),
        _ => scalars_equal(requested, live),
    }
}

fn json_patch_fit(change: &Change, path: &FieldPath, ops: &[Value]) -> Fit {
    let keys = path.keys();
    for op in ops.iter().rev() {
        let Some(pointer) = op.get("path").and_then(Value::as_str) else {
            continue;
        };
        let segments: Vec<&str> = pointer.split('/').skip(1).collect();
        let named: Vec<String> = segments
            .iter()
            .filter(|s| s.parse::<usize>().is_err())
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        if named != keys {
            continue;
        }
        return match op.get("op").and_then(Value::as_str) {
            Some("remove") if change.after.is_null() => Fit::Sets,
            Some("add" | "replace") => match op.get("value") {
                Some(v) if scalars_equal(v, &change.after) || within(v, &change.after) => Fit::Sets,
                _ => Fit::Contradicts,
            },
            _ => Fit::Contradicts,
        };
    }
    Fit::Silent
}

/// Attribute one Kubernetes finding from the events naming its object (any order).
/// `request(i)` returns the evidence of `events[i]`; it is asked only for writes.
pub fn attribute(
    finding: &Finding,
    events: &[AuditEvent],
    until_us: i64,
    request: &mut dyn FnMut(usize) -> Request,
) -> Attribution {
    let sorted = super::in_time_order(events, until_us);

    let mut writes: Vec<(&AuditEvent, Request)> = Vec::new();
    let mut attempts = Vec::new();
    for &(i, e) in &sorted {
        let v = verb(&e.action);
        let write = matches!(
            v,
            "create" | "update" | "patch" | "delete" | "deletecollection"
        );
        // Controllers report through `status`: never a change to what was declared.
        if !write || e.read_only == Some(true) || e.action.ends_with("/status") {
            continue;
        }
        match e.outcome {
            Outcome::Failure { .. } => attempts.push(EventRef::new(e, Vec::new())),
            Outcome::Success | Outcome::Unknown => writes.push((e, request(i))),
        }
    }

    // For each change (or the deletion, or the creation): the latest write that explains it.
    let mut chosen: Vec<(usize, Vec<String>)> = Vec::new();
    let mut explained = 0;
    let mut silent_any = false;
    let choose = |chosen: &mut Vec<(usize, Vec<String>)>, i: usize, what: &str| match chosen
        .iter_mut()
        .find(|(c, _)| *c == i)
    {
        Some((_, list)) => list.push(what.to_owned()),
        None => chosen.push((i, vec![what.to_owned()])),
    };
    match finding.kind {
        FindingKind::Deleted | FindingKind::Unmanaged => {
            let (want, what) = if finding.kind == FindingKind::Deleted {
                (&["delete", "deletecollection"][..], "deleted")
            } else {
                (&["create"][..], "created")
            };
            if let Some(i) = writes
                .iter()
                .rposition(|(e, _)| want.contains(&verb(&e.action)) && e.outcome.is_success())
            {
                explained += 1;
                choose(&mut chosen, i, what);
            }
        }
        FindingKind::Changed => {
            for change in &finding.changes {
                let mut silent = None;
                let mut sets = None;
                for (i, (e, req)) in writes.iter().enumerate().rev() {
                    if verb(&e.action).starts_with("delete") {
                        continue;
                    }
                    match fit(change, verb(&e.action), req.body.as_ref()) {
                        Fit::Sets => {
                            sets = Some(i);
                            break;
                        }
                        Fit::Silent => {
                            // Without a body, prefer the write whose field manager is the one
                            // managedFields says last set the field.
                            let matches_setter = change.set_by.as_ref().is_some_and(|m| {
                                manager_of(e, req).as_deref() == Some(m.manager.as_str())
                            });
                            match silent {
                                None => silent = Some((i, matches_setter)),
                                Some((_, false)) if matches_setter => {
                                    silent = Some((i, true));
                                }
                                _ => {}
                            }
                        }
                        Fit::Contradicts => {}
                    }
                }
                if let Some(i) = sets {
                    explained += 1;
                    choose(&mut chosen, i, &change.path);
                } else if let Some((i, _)) = silent {
                    silent_any = true;
                    choose(&mut chosen, i, &change.path);
                }
            }
        }
    }
    let wanted = match finding.kind {
        FindingKind::Changed => finding.changes.len(),
        _ => 1,
    };
    let confidence = if wanted > 0 && explained == wanted {
        Confidence::Certain
    } else if !chosen.is_empty() || silent_any {
        Confidence::Likely
    } else {
        Confidence::None
    };
    chosen.sort_by_key(|(i, _)| *i);
    let caused_by = chosen
        .iter()
        .map(|(i, what)| EventRef::new(writes[*i].0, what.clone()))
        .collect();
    let candidates = writes
        .iter()
        .enumerate()
        .filter(|(i, _)| !chosen.iter().any(|(c, _)| c == i))
        .map(|(_, (e, _))| EventRef::new(e, Vec::new()))
        .collect();
    Attribution {
        confidence,
        caused_by,
        candidates,
        attempts,
        window: Window {
            since: None,
            since_reason:
                "every stored request to the object (each write is checked against the live value)"
                    .into(),
            until: format_time_us(until_us),
        },
        identifiers: finding.identifiers.clone(),
    }
}
