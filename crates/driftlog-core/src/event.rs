//! One audit event, whatever platform logged it.
//!
//! CloudTrail, Kubernetes, GCP and Azure all answer the same questions — who did what to which
//! resource, when, from where, with what result — in four vocabularies. Readers in
//! `driftlog-audit` translate into this shape; the store indexes it and attribution ranks it.
//! Fields a platform does not log stay `None`: guessing would turn evidence into opinion.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which audit log an event came from. Event ids are unique only within one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Aws,
    Kubernetes,
    Gcp,
    Azure,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Aws, Source::Kubernetes, Source::Gcp, Source::Azure];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Aws => "aws",
            Source::Kubernetes => "kubernetes",
            Source::Gcp => "gcp",
            Source::Azure => "azure",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "aws" | "cloudtrail" => Ok(Source::Aws),
            "kubernetes" | "k8s" => Ok(Source::Kubernetes),
            "gcp" => Ok(Source::Gcp),
            "azure" => Ok(Source::Azure),
            other => Err(format!(
                "unknown source `{other}` (expected aws, kubernetes, gcp or azure)"
            )),
        }
    }
}

/// How the change was made: the tool or channel behind the API call.
///
/// Decided from the strongest signal the event carries (a console session flag, the service
/// that invoked the call on someone's behalf, a well-known client application id); user agents
/// are used only when nothing stronger exists, and the [`Actor::rule`] says which signal won.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    Console,
    Cli,
    Sdk,
    Terraform,
    Cloudformation,
    Kubectl,
    /// A cloud service or cluster controller acting on its own or for someone.
    Service,
    Unknown,
}

impl ActorKind {
    pub const ALL: [ActorKind; 8] = [
        ActorKind::Console,
        ActorKind::Cli,
        ActorKind::Sdk,
        ActorKind::Terraform,
        ActorKind::Cloudformation,
        ActorKind::Kubectl,
        ActorKind::Service,
        ActorKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Console => "console",
            ActorKind::Cli => "cli",
            ActorKind::Sdk => "sdk",
            ActorKind::Terraform => "terraform",
            ActorKind::Cloudformation => "cloudformation",
            ActorKind::Kubectl => "kubectl",
            ActorKind::Service => "service",
            ActorKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let wanted = match lower.as_str() {
            "controller" => "service",
            other => other,
        };
        ActorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown actor kind `{s}` (expected one of: {})",
                    ActorKind::ALL.map(|k| k.as_str()).join(", ")
                )
            })
    }
}

/// The actor kind and the rule that decided it, so a reader can judge the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// e.g. `sessionCredentialFromConsole`, `invokedBy:cloudformation.amazonaws.com`,
    /// `userAgent:Terraform (hint)`.
    pub rule: String,
}

impl Actor {
    pub fn new(kind: ActorKind, rule: impl Into<String>) -> Self {
        Self {
            kind,
            rule: rule.into(),
        }
    }
}

/// Who made the call, and on whose behalf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The acting identity: an IAM/STS ARN, a Kubernetes user name, a Google account email, an
    /// Azure caller (UPN or object id).
    pub id: Option<String>,
    /// The platform's own word for it: `IAMUser`, `AssumedRole`, `Root`, `AWSService`, `user`,
    /// `serviceAccount`, `app`…
    pub kind: Option<String>,
    /// The role or user whose credentials an assumed-role session came from.
    pub issuer: Option<String>,
    /// The assumed-role session name (often a person's name or a CI job id).
    pub session_name: Option<String>,
    /// STS `sourceIdentity`: the original human behind a chain of role assumptions.
    pub source_identity: Option<String>,
    /// Whom the call was made for: the Kubernetes impersonated user, or the GCP service-account
    /// delegation chain (first to last, joined by ` -> `).
    pub on_behalf_of: Option<String>,
    /// The AWS service that made the call for the principal (`invokedBy`).
    pub invoked_by: Option<String>,
    /// Whether the session was MFA-authenticated, when the log says.
    pub mfa: Option<bool>,
}

/// Success, or the error the platform returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure {
        code: String,
        message: Option<String>,
    },
    /// Logged before the platform knew the result (a Kubernetes `RequestReceived` stage, an
    /// Azure `Started` operation).
    Unknown,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// `success`, or the error code: the one-word form shown in tables and stored in the index.
    pub fn label(&self) -> &str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure { code, .. } => code,
            Outcome::Unknown => "unknown",
        }
    }

    /// The outcome a store kept as its [`Outcome::label`] and the failure's message.
    pub fn from_label(label: String, message: Option<String>) -> Self {
        match label.as_str() {
            "success" => Outcome::Success,
            "unknown" => Outcome::Unknown,
            _ => Outcome::Failure {
                code: label,
                message,
            },
        }
    }
}

/// One normalized audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub source: Source,
    /// The platform's own id (CloudTrail `eventID`, Kubernetes `auditID`, GCP `insertId`,
    /// Azure `eventDataId`).
    pub event_id: String,
    /// When the call was made, in microseconds since the Unix epoch (UTC).
    pub time_us: i64,
    /// AWS account, GCP project, Azure subscription, Kubernetes cluster (when logged).
    pub account: Option<String>,
    pub region: Option<String>,
    /// `ec2.amazonaws.com`, `compute.googleapis.com`, `Microsoft.Compute`, the k8s API group…
    pub service: Option<String>,
    /// `eventName`, Kubernetes verb and resource (`create pods`), `methodName`, `operationName`.
    pub action: String,
    /// `None` when the log does not say and the action name does not tell.
    pub read_only: Option<bool>,
    pub outcome: Outcome,
    pub principal: Principal,
    pub actor: Actor,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Every resource the event names: ARNs, ids, names, URLs, Kubernetes object paths.
    pub resources: Vec<String>,
    /// How strongly this copy of the event should win over another with the same id (Kubernetes
    /// logs one call at several stages; `ResponseComplete` is the complete one).
    pub completeness: u8,
}

/// The `completeness` of a Kubernetes event logged at its last stage (`ResponseComplete`).
pub const LAST_STAGE: u8 = 3;

impl AuditEvent {
    /// Whether another copy of this event may still arrive and replace it: Kubernetes logs one
    /// request at several stages, and a later one wins. Other sources log an event once.
    pub fn may_be_replaced(&self) -> bool {
        self.source == Source::Kubernetes && self.completeness < LAST_STAGE
    }

    /// A write that succeeded: the only kind of event that can have changed a resource.
    pub fn is_successful_write(&self) -> bool {
        self.read_only == Some(false) && self.outcome.is_success()
    }

    /// The bytes the ledger commits to for this event (format `driftlog-event-v1`): every
    /// normalized field, then the SHA-256 of the original record kept as evidence. Fields are
    /// written in a fixed order, each as a 4-byte big-endian length and its UTF-8 bytes, an
    /// absent value as the length `0xFFFFFFFF`; numbers and booleans as their decimal or
    /// `true`/`false` text; `resources` as their count and then each. The layout, not JSON,
    /// because it is computed for every stored event: it is unambiguous, needs no escaping,
    /// and is documented in docs/ledger.md for anyone re-deriving it.
    pub fn canonical_bytes(&self, raw_sha256: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.write_canonical(raw_sha256, &mut out);
        out
    }

    /// [`AuditEvent::canonical_bytes`], appended to `out` (ingest reuses one buffer per thread:
    /// this runs for every stored event).
    pub fn write_canonical(&self, raw_sha256: &[u8; 32], out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
            match value {
                Some(v) => {
                    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    out.extend_from_slice(v);
                }
                None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
            }
        }
        fn text(out: &mut Vec<u8>, value: Option<&str>) {
            field(out, value.map(str::as_bytes));
        }
        fn number(out: &mut Vec<u8>, n: i64) {
            let mut digits = [0u8; 20];
            let mut at = digits.len();
            let mut rest = n.unsigned_abs();
            loop {
                at -= 1;
                digits[at] = b'0' + (rest % 10) as u8;
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
            let mut buf = [0u8; 21];
            let mut len = 0;
            if n < 0 {
                buf[0] = b'-';
                len = 1;
            }
            let d = &digits[at..];
            buf[len..len + d.len()].copy_from_slice(d);
            field(out, Some(&buf[..len + d.len()]));
        }
        let bool_text = |b: Option<bool>| b.map(|b| if b { "true" } else { "false" });
        let (result, code, message) = match &self.outcome {
            Outcome::Success => ("success", None, None),
            Outcome::Failure { code, message } => {
                ("failure", Some(code.as_str()), message.as_deref())
            }
            Outcome::Unknown => ("unknown", None, None),
        };
        let p = &self.principal;
        out.extend_from_slice(b"driftlog-event-v1\n");
        text(out, Some(self.source.as_str()));
        text(out, Some(&self.event_id));
        number(out, self.time_us);
        for v in [&self.account, &self.region, &self.service] {
            text(out, v.as_deref());
        }
        text(out, Some(&self.action));
        text(out, bool_text(self.read_only));
        text(out, Some(result));
        text(out, code);
        text(out, message);
        for v in [
            &p.id,
            &p.kind,
            &p.issuer,
            &p.session_name,
            &p.source_identity,
            &p.on_behalf_of,
            &p.invoked_by,
        ] {
            text(out, v.as_deref());
        }
        text(out, bool_text(p.mfa));
        text(out, Some(self.actor.kind.as_str()));
        text(out, Some(&self.actor.rule));
        text(out, self.source_ip.as_deref());
        text(out, self.user_agent.as_deref());
        number(out, self.resources.len() as i64);
        for r in &self.resources {
            text(out, Some(r));
        }
        number(out, i64::from(self.completeness));
        out.extend_from_slice(raw_sha256);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_are_length_prefixed_fields() {
        let event = AuditEvent {
            source: Source::Aws,
            event_id: "e1".into(),
            time_us: -5,
            account: None,
            region: Some("eu-west-1".into()),
            service: None,
            action: "CreateTags".into(),
            read_only: Some(false),
            outcome: Outcome::Success,
            principal: Principal::default(),
            actor: Actor::new(ActorKind::Cli, "r"),
            source_ip: None,
            user_agent: None,
            resources: vec!["i-1".into()],
            completeness: 3,
        };
        let bytes = event.canonical_bytes(&[7; 32]);
        let none = [0xFF; 4];
        let mut want = b"driftlog-event-v1\n".to_vec();
        for part in [
            &b"\0\0\0\x03aws"[..],
            b"\0\0\0\x02e1",
            b"\0\0\0\x02-5",
            &none,
            b"\0\0\0\x09eu-west-1",
            &none,
            b"\0\0\0\x0aCreateTags",
            b"\0\0\0\x05false",
            b"\0\0\0\x07success",
            &none,
            &none,
        ] {
            want.extend_from_slice(part);
        }
        for _ in 0..7 {
            want.extend_from_slice(&none);
        }
        for part in [
            &none[..],
            b"\0\0\0\x03cli",
            b"\0\0\0\x01r",
            &none,
            &none,
            b"\0\0\0\x011",
            b"\0\0\0\x03i-1",
            b"\0\0\0\x013",
            &[7; 32],
        ] {
            want.extend_from_slice(part);
        }
        assert_eq!(bytes, want);
    }

    #[test]
    fn actor_kinds_parse_with_alias() {
        assert_eq!("controller".parse::<ActorKind>(), Ok(ActorKind::Service));
        assert_eq!("Console".parse::<ActorKind>(), Ok(ActorKind::Console));
        assert!("robot".parse::<ActorKind>().is_err());
    }
}
