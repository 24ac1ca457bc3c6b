//! The answer to "who did it" for one finding, as every report shows it: the confidence, the
//! events that caused the drift, other writes and failed attempts, and the window searched.
//! The engine that finds it is [`crate::attribution`]; this is only its result, so the finding
//! model can carry one without depending on the engine.

use crate::event::AuditEvent;
use crate::time::format_time_us;
use crate::ActorKind;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    None,
    Likely,
    Certain,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::None => "none",
            Confidence::Likely => "likely",
            Confidence::Certain => "certain",
        }
    }
}

/// One audit event, as a finding cites it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct EventRef {
    pub source: String,
    pub event_id: String,
    pub time: String,
    pub action: String,
    pub outcome: String,
    pub principal: Option<String>,
    /// The role or user an assumed-role session was issued by.
    pub issuer: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    /// Impersonated user, delegation chain, Identity Center user.
    pub on_behalf_of: Option<String>,
    pub actor_kind: ActorKind,
    pub actor_rule: String,
    pub mfa: Option<bool>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The changed attributes (or `deleted`) this event's action accounts for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explains: Vec<String>,
}

impl EventRef {
    pub(crate) fn new(e: &AuditEvent, explains: Vec<String>) -> Self {
        let p = &e.principal;
        Self {
            source: e.source.as_str().to_owned(),
            event_id: e.event_id.clone(),
            time: format_time_us(e.time_us),
            action: e.action.clone(),
            outcome: e.outcome.label().to_owned(),
            principal: p.id.clone(),
            issuer: p.issuer.clone(),
            session_name: p.session_name.clone(),
            source_identity: p.source_identity.clone(),
            on_behalf_of: p.on_behalf_of.clone().or_else(|| p.invoked_by.clone()),
            actor_kind: e.actor.kind,
            actor_rule: e.actor.rule.clone(),
            mfa: p.mfa,
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
            explains,
        }
    }
}

/// The time searched for a cause.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Window {
    /// Exclusive lower bound; `None` when nothing bounds it (every stored event was searched).
    pub since: Option<String>,
    /// Why the window starts where it does.
    pub since_reason: String,
    /// Inclusive upper bound: the scan (or the refresh the plan was made with).
    pub until: String,
}

/// What the audit logs say about one finding.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Attribution {
    pub confidence: Confidence,
    /// The event or events that made the change, oldest first.
    pub caused_by: Vec<EventRef>,
    /// Other successful writes to the resource in the window.
    pub candidates: Vec<EventRef>,
    /// Writes to the resource in the window that failed (AccessDenied…): never causes.
    pub attempts: Vec<EventRef>,
    pub window: Window,
    /// The identifiers the events were matched on.
    pub identifiers: Vec<String>,
}
