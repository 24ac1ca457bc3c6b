//! Short, one-line renderings of attribute values for tables.

use driftlog_core::Finding;
use serde_json::Value;

/// What a finding's resource was declared in: a Terraform state, or Kubernetes manifests.
pub fn declared_in(finding: &Finding) -> &'static str {
    if finding.provider == "kubernetes" {
        "the manifests"
    } else {
        "Terraform"
    }
}

/// One line per change whose last writer the live object's `managedFields` name (Kubernetes):
/// `spec.replicas: last set by kubectl (Update, scale subresource) at 2026-11-30T10:30:41Z`.
pub fn set_by_lines(finding: &Finding) -> Vec<String> {
    finding
        .changes
        .iter()
        .filter_map(|c| {
            let m = c.set_by.as_ref()?;
            let mut line = format!("{}: last set by {} ({}", c.path, m.manager, m.operation);
            if let Some(sub) = &m.subresource {
                line.push_str(&format!(", {sub} subresource"));
            }
            line.push(')');
            if let Some(t) = &m.time {
                line.push_str(&format!(" at {t}"));
            }
            Some(line)
        })
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Objects as `key=value, ...` without their empty members, lists as `[a, b]`, strings bare:
/// a security group rule reads `cidr_blocks=[0.0.0.0/0], from_port=22, protocol=tcp, ...`.
fn human(value: &Value, top: bool) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(s) if top => s.clone(),
        Value::String(s) if s.is_empty() || s.contains([',', ' ', '=', '[', ']', '{', '}']) => {
            format!("{s:?}")
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| human(v, false))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| format!("{k}={}", human(v, false)))
                .collect();
            if top {
                members.join(", ")
            } else {
                format!("{{{}}}", members.join(", "))
            }
        }
        other => other.to_string(),
    }
}

/// A value as people read it in a table, cut to `max` characters.
pub fn short(value: &Value, max: usize) -> String {
    cut(&human(value, true), max)
}

pub fn cut(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// "3 resources" / "1 resource".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One event as a sentence: "AuthorizeSecurityGroupIngress by arn:… (for alice) via console
/// (sessionCredentialFromConsole, MFA) at 2024-11-04T10:15:00Z from 203.0.113.9, event 3c57…".
pub fn event_sentence(e: &driftlog_core::cause::EventRef) -> String {
    let mut s = format!(
        "{} by {}",
        e.action,
        e.principal.as_deref().unwrap_or("(unknown principal)")
    );
    if let Some(identity) = &e.source_identity {
        s.push_str(&format!(" (source identity {identity})"));
    }
    if let Some(on_behalf) = &e.on_behalf_of {
        s.push_str(&format!(" (for {on_behalf})"));
    }
    let mfa = if e.mfa == Some(true) { ", MFA" } else { "" };
    s.push_str(&format!(
        " via {} ({}{mfa}) at {}",
        e.actor_kind.as_str(),
        e.actor_rule,
        e.time
    ));
    if let Some(ip) = &e.source_ip {
        s.push_str(&format!(" from {ip}"));
    }
    s.push_str(&format!(", event {}", e.event_id));
    if e.outcome != "success" {
        s.push_str(&format!(" ({})", e.outcome));
    }
    s
}

/// The attribution of one finding in a few lines, for the console and Markdown.
pub fn attribution_lines(a: &driftlog_core::cause::Attribution) -> Vec<String> {
    use driftlog_core::cause::Confidence;
    let mut lines = Vec::new();
    match a.confidence {
        Confidence::None => lines.push(format!(
            "cause: not found in the audit logs ({} identifiers searched, {})",
            a.identifiers.len(),
            a.window.since_reason
        )),
        confidence => {
            for cause in &a.caused_by {
                let explains = if cause.explains.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", cause.explains.join(", "))
                };
                lines.push(format!(
                    "caused by ({}){explains}: {}",
                    confidence.as_str(),
                    event_sentence(cause)
                ));
            }
        }
    }
    if !a.candidates.is_empty() {
        lines.push(format!(
            "other writes in the window: {}",
            a.candidates
                .iter()
                .take(3)
                .map(|e| format!(
                    "{} by {} at {}",
                    e.action,
                    e.principal.as_deref().unwrap_or("?"),
                    e.time
                ))
                .collect::<Vec<_>>()
                .join("; ")
                + &if a.candidates.len() > 3 {
                    format!("; +{} more", a.candidates.len() - 3)
                } else {
                    String::new()
                }
        ));
    }
    if !a.attempts.is_empty() {
        lines.push(format!(
            "failed attempts: {}",
            a.attempts
                .iter()
                .take(3)
                .map(|e| format!(
                    "{} by {} at {} ({})",
                    e.action,
                    e.principal.as_deref().unwrap_or("?"),
                    e.time,
                    e.outcome
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    lines
}

/// The one-line account of a live read: where, at what cost, what was left out.
pub fn live_line(report: &driftlog_core::ScanReport) -> Option<String> {
    let l = report.live.as_ref()?;
    let not_checked: usize = l
        .not_checked
        .iter()
        .filter(|n| n.reason != "attributes not read")
        .map(|n| n.resources)
        .sum();
    let mut line = format!(
        "Live {}: {} resources read ({} gone) in {} with {} requests ({} throttled, {} retried); {} AWS defaults excluded",
        l.provider,
        l.read,
        l.missing,
        l.regions.join(", "),
        l.requests,
        l.throttled,
        l.retried,
        l.excluded.len(),
    );
    if not_checked > 0 {
        line.push_str(&format!(
            "; {not_checked} declared resources not checked (see --format json)"
        ));
    }
    if !l.enumerated {
        line.push_str("; not listed for unmanaged resources (--managed-only)");
    }
    if report.partial {
        line.push_str(&format!(
            "; PARTIAL: {} reads refused or failed",
            l.alerts.len()
        ));
    }
    line.push('.');
    Some(line)
}

/// The one-line account of the audit evidence, when there is drift to attribute.
pub fn audit_line(report: &driftlog_core::ScanReport) -> Option<String> {
    if report.findings.is_empty() {
        return None;
    }
    let a = &report.audit;
    Some(if a.evidence {
        format!(
            "Attribution: {} certain, {} likely, {} without a cause in the logs ({} audit events in {}).",
            a.certain,
            a.likely,
            a.none,
            a.events_in_store,
            a.store.as_deref().unwrap_or("the store")
        )
    } else {
        format!(
            "Attribution: {}",
            a.note
                .as_deref()
                .unwrap_or("no audit evidence was available.")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_read_like_rules() {
        let rule = json!({"cidr_blocks": ["0.0.0.0/0"], "description": "debug - remove me", "from_port": 22, "ipv6_cidr_blocks": [], "protocol": "tcp", "self": false});
        assert_eq!(short(&rule, 200), "cidr_blocks=[0.0.0.0/0], description=\"debug - remove me\", from_port=22, protocol=tcp, self=false");
        assert_eq!(short(&json!("t3.large"), 200), "t3.large");
        assert_eq!(short(&json!(null), 200), "(none)");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
