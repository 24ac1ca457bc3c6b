//! What the engine reports: findings, the attribute changes inside them, and the differences it
//! deliberately did not call drift.

use serde::Serialize;
use serde_json::Value;

/// How a resource drifted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Declared and live, but some attributes differ.
    Changed,
    /// Declared, but gone from the live side.
    Deleted,
    /// Live, but not declared.
    Unmanaged,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Deleted => "deleted",
            Self::Unmanaged => "unmanaged",
        }
    }
}

/// One drifted resource instance.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Finding {
    pub address: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub provider: String,
    pub kind: FindingKind,
    /// Key of a deposed object (create_before_destroy) this finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deposed: Option<String>,
    /// Address before a `moved` block renamed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_address: Option<String>,
    /// The state it is declared in, when a live scan read several (format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    pub changes: Vec<Change>,
    /// The ids, ARNs and names the resource's attributes carry, by which audit events name it
    /// (see [`crate::attribution::identity`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<String>,
    /// Who made the change, from the audit logs (absent when attribution did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<crate::cause::Attribution>,
    /// How to fix it: revert, codify, accept (with `--remediate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<crate::remediate::Remediation>,
    /// For an unmanaged resource of a live read: how it was found (`api`, `audit-log`, or
    /// `api, audit-log`), and the id to import it by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Discovery>,
}

/// How a live read found an unmanaged resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Discovery {
    pub found_by: String,
    pub id: String,
    pub region: String,
    /// Whether the resource was seen to exist (`false`: its existence could not be checked,
    /// only that it was created and not deleted in the logs).
    pub seen_live: bool,
    /// What is known of the arguments an import's resource block needs.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, Value>,
}

/// One changed attribute path. `before` is the declared value, `after` the live one; both are
/// already redacted where sensitive.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Change {
    pub path: String,
    pub before: Value,
    pub after: Value,
    /// The value is secret: only the fact that it changed is shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// For set-typed attributes: elements only on the live side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<Vec<Value>>,
    /// For set-typed attributes: elements only on the declared side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<Vec<Value>>,
    /// From a plan's `relevant_attributes`: this drift feeds a pending change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relevant: bool,
    /// Kubernetes: the field manager that last set this field on the live object (from
    /// `metadata.managedFields`), which says who changed it even without audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<crate::k8s::FieldManager>,
}

impl Change {
    pub fn new(path: String, before: Value, after: Value) -> Self {
        Self {
            path,
            before,
            after,
            sensitive: false,
            added: None,
            removed: None,
            relevant: false,
            set_by: None,
        }
    }
}

/// A difference the engine saw and judged not to be drift, with the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuppressedChange {
    pub address: String,
    pub path: String,
    /// Name of the normalizer (see `normalize`) that made the two sides equal.
    pub rule: &'static str,
}

/// A change a plan would make that is pending configuration, not out-of-band drift.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PendingChange {
    pub address: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_reason: Option<String>,
    pub changes: Vec<Change>,
}
