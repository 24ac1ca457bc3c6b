//! Attribution: which audit events made a resource drift.
//!
//! For one finding, given every event that names one of the resource's identifiers
//! ([`identity`]), attribution keeps the events after the last Terraform apply that touched the
//! resource, drops reads, sets failed writes aside as *attempts*, and ranks the successful
//! writes by whether their action explains the changed attributes ([`actions`]). The result
//! says who, when, how and from where, with a confidence:
//!
//! - `certain`: every changed attribute (or the deletion) is explained by an action that changes
//!   exactly it;
//! - `likely`: writes happened in the window but explain only part of the change, or could
//!   change anything (`ModifyDBInstance`);
//! - `none`: no write in the window; the audit logs searched do not hold the cause.

pub mod actions;
pub mod consistency;
pub mod identity;
pub mod kubernetes;

use crate::cause::{Attribution, Confidence, EventRef, Window};
use crate::event::{AuditEvent, Outcome};
use crate::finding::{Finding, FindingKind};
use crate::time::format_time_us;
use crate::ActorKind;
use actions::Explains;

/// The attributes a finding is about, as the action table names them: top-level names
/// (`tags.Owner` → `tags`), or `deleted`.
pub fn changed_attributes(finding: &Finding) -> Vec<String> {
    if finding.kind == FindingKind::Deleted {
        return vec!["deleted".to_owned()];
    }
    if finding.kind == FindingKind::Unmanaged {
        return vec!["created".to_owned()];
    }
    let mut out: Vec<String> = Vec::new();
    for change in &finding.changes {
        let top = top_level(&change.path);
        if !out.iter().any(|o| o == top) {
            out.push(top.to_owned());
        }
    }
    out
}

/// A successful (or not yet settled) write in the window: its position in the events given,
/// the event, and how its action relates to each changed attribute.
type Write<'e> = (usize, &'e AuditEvent, Vec<(String, Explains)>);

/// `tags.Owner` → `tags`, `ingress[0].cidr_blocks` → `ingress`.
fn top_level(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// Attribute `finding` from `events` (every event naming one of `identifiers`, any order).
///
/// `until_us` is the scan time; `fallback_since_us` bounds the window when no Terraform write to
/// the resource is in the logs (the time the declared state was written, when known).
pub fn attribute(
    finding: &Finding,
    identifiers: &[String],
    events: &[AuditEvent],
    until_us: i64,
    fallback_since_us: Option<i64>,
) -> Attribution {
    attribute_with_requests(
        finding,
        identifiers,
        events,
        until_us,
        fallback_since_us,
        &mut |_| None,
    )
}

/// [`attribute`], telling writes of the same action apart by what their requests set:
/// `request(i)` returns the request body of `events[i]` (asked only for writes whose action
/// explains the change).
pub fn attribute_with_requests(
    finding: &Finding,
    identifiers: &[String],
    events: &[AuditEvent],
    until_us: i64,
    fallback_since_us: Option<i64>,
    request: &mut dyn FnMut(usize) -> Option<serde_json::Value>,
) -> Attribution {
    let sorted = in_time_order(events, until_us);

    // The last apply: the latest successful write to the resource by Terraform. An unmanaged
    // resource was never applied: its whole history is searched for who created it, Terraform
    // included (a state that lost it).
    let unmanaged = finding.kind == FindingKind::Unmanaged;
    let last_apply = sorted
        .iter()
        .rev()
        .map(|(_, e)| *e)
        .filter(|_| !unmanaged)
        .find(|e| e.actor.kind == ActorKind::Terraform && e.is_successful_write());
    let (since_us, since_reason) = match (last_apply, fallback_since_us.filter(|_| !unmanaged)) {
        (Some(e), _) => (
            Some(e.time_us),
            format!(
                "after the last Terraform write to the resource ({} {} at {})",
                e.action,
                e.event_id,
                format_time_us(e.time_us)
            ),
        ),
        (None, Some(t)) => (
            Some(t),
            "after the declared state was written (no Terraform write to the resource in the logs)"
                .to_owned(),
        ),
        (None, None) => (
            None,
            "every stored event (no Terraform write to the resource in the logs)".to_owned(),
        ),
    };

    let attributes = changed_attributes(finding);
    let mut writes: Vec<Write> = Vec::new();
    let mut attempts = Vec::new();
    for &(index, e) in sorted
        .iter()
        .filter(|(_, e)| since_us.is_none_or(|s| e.time_us > s))
    {
        if e.read_only == Some(true) || (e.actor.kind == ActorKind::Terraform && !unmanaged) {
            continue;
        }
        let how: Vec<(String, Explains)> = attributes
            .iter()
            .map(|a| (a.clone(), actions::explains(&e.action, a)))
            .filter(|(_, x)| *x != Explains::No)
            .collect();
        // A call the log does not mark as a write counts only if its action explains the change.
        if e.read_only != Some(false) && how.is_empty() {
            continue;
        }
        match e.outcome {
            Outcome::Failure { .. } => attempts.push(EventRef::new(e, Vec::new())),
            Outcome::Success | Outcome::Unknown => writes.push((index, e, how)),
        }
    }

    // For each changed attribute, the latest successful write whose action changes exactly it
    // and whose request sets the live value (or says nothing about it); failing that, the same
    // among actions that may change anything. A write whose request sets other values is about
    // another resource of the same name, or was overwritten: never the cause.
    let mut chosen: Vec<usize> = Vec::new();
    let mut explained_exactly = 0;
    let mut requests: std::collections::HashMap<usize, Option<serde_json::Value>> =
        std::collections::HashMap::new();
    for attribute in &attributes {
        let changes: Vec<&crate::finding::Change> = finding
            .changes
            .iter()
            .filter(|c| top_level(&c.path) == attribute)
            .collect();
        let mut best = |want: Explains| {
            let mut silent = None;
            for (i, (index, e, how)) in writes.iter().enumerate().rev() {
                if !e.outcome.is_success() || !how.iter().any(|(a, x)| a == attribute && *x == want)
                {
                    continue;
                }
                let body = requests
                    .entry(i)
                    .or_insert_with(|| request(*index))
                    .as_ref();
                match consistency::check(&changes, body) {
                    consistency::Consistency::Sets => return Some(i),
                    consistency::Consistency::Silent => {
                        silent.get_or_insert(i);
                    }
                    consistency::Consistency::Contradicts => {}
                }
            }
            silent
        };
        if let Some(i) = best(Explains::Yes) {
            explained_exactly += 1;
            chosen.push(i);
        } else if let Some(i) = best(Explains::Possibly) {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen.dedup();

    let confidence = if !attributes.is_empty() && explained_exactly == attributes.len() {
        Confidence::Certain
    } else if !chosen.is_empty() {
        Confidence::Likely
    } else if let Some(i) = writes.iter().rposition(|(_, e, _)| e.outcome.is_success()) {
        // Writes that explain nothing we know of: the latest is the best guess.
        chosen.push(i);
        Confidence::Likely
    } else {
        Confidence::None
    };

    let to_ref =
        |(_, e, how): &Write| EventRef::new(e, how.iter().map(|(a, _)| a.clone()).collect());
    let caused_by = chosen.iter().map(|&i| to_ref(&writes[i])).collect();
    let candidates = writes
        .iter()
        .enumerate()
        .filter(|(i, _)| !chosen.contains(i))
        .map(|(_, w)| to_ref(w))
        .collect();
    Attribution {
        confidence,
        caused_by,
        candidates,
        attempts,
        window: Window {
            since: since_us.map(format_time_us),
            since_reason,
            until: format_time_us(until_us),
        },
        identifiers: identifiers.to_vec(),
    }
}

/// The events up to `until_us`, oldest first (ties by event id), each with its position in
/// `events`, which is how a request callback names it.
pub(crate) fn in_time_order(events: &[AuditEvent], until_us: i64) -> Vec<(usize, &AuditEvent)> {
    let mut sorted: Vec<(usize, &AuditEvent)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.time_us <= until_us)
        .collect();
    sorted.sort_by(|(_, a), (_, b)| (a.time_us, &a.event_id).cmp(&(b.time_us, &b.event_id)));
    sorted
}

#[cfg(test)]
mod tests;
