//! Kubernetes: manifests against live objects.
//!
//! A manifest says a few fields; the live object holds those, every default the API server
//! filled in, what controllers wrote, and `status`. Drift is only what a person would call a
//! change ([`compare`]):
//!
//! - server-owned parts never count: `status`, server metadata, controller annotations and
//!   labels ([`normalize`]);
//! - a live field the manifest does not declare counts only when someone set it by hand
//!   (a person's field manager in `managedFields`, [`managed`]) or when it was applied before
//!   and the manifest has since dropped it (three-way, through the last-applied annotation or
//!   an `Apply` field set) and the live value is not the server's default;
//! - values are compared by meaning: quantities by value, int-or-string, empty as absent, lists
//!   with merge keys item by item ([`path`]);
//! - a declared field that a controller (the HPA's `kube-controller-manager`, a trusted manager)
//!   last set is the cluster working, not drift;
//! - Secret values are never shown: only that they changed.
//!
//! Findings use the common model: address `apps/v1/Deployment/NAMESPACE/NAME`, type = kind,
//! provider `kubernetes`.

pub mod compare;
pub mod managed;
pub mod normalize;
pub mod path;
pub mod selector;

pub use compare::{compare, CompareOptions, Watched};
pub use managed::{FieldManager, ManagedFields, ManagerClass};
pub use selector::{Selector, SelectorError};

use serde_json::Value;

/// A manifest or live object that lacks what identifies it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ObjectError {
    pub origin: String,
    pub message: String,
}

/// One Kubernetes object, as a reader found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub value: Value,
    /// Where it was read: `file.yaml (document 3)`, `cluster`.
    pub origin: String,
}

impl Object {
    /// Identify an object: `apiVersion`, `kind` and `metadata.name` are required
    /// (`generateName` alone cannot be matched with anything live).
    pub fn new(value: Value, origin: &str) -> Result<Self, ObjectError> {
        let err = |message: String| ObjectError {
            origin: origin.to_owned(),
            message,
        };
        if !value.is_object() {
            return Err(err(
                "expected a Kubernetes object (a mapping with apiVersion, kind and metadata)"
                    .into(),
            ));
        }
        let text = |pointer: &str| {
            value
                .pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let kind = text("/kind").ok_or_else(|| err("missing `kind`".into()))?;
        let api_version =
            text("/apiVersion").ok_or_else(|| err(format!("{kind}: missing `apiVersion`")))?;
        let name = text("/metadata/name").ok_or_else(|| {
            let why = if text("/metadata/generateName").is_some() {
                " (an object named by generateName gets its name when created, so it cannot be matched with a live one)"
            } else {
                ""
            };
            err(format!("{api_version} {kind}: missing `metadata.name`{why}"))
        })?;
        Ok(Self {
            api_version,
            kind,
            namespace: text("/metadata/namespace"),
            name,
            value,
            origin: origin.to_owned(),
        })
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }

    /// `apps/v1/Deployment/NAMESPACE/NAME`, or `GROUP/VERSION/KIND/NAME` when cluster-scoped.
    pub fn address(&self) -> String {
        address(
            &self.api_version,
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }

    pub fn uid(&self) -> Option<&str> {
        self.value.pointer("/metadata/uid").and_then(Value::as_str)
    }

    /// The `ownerReferences` uids.
    pub fn owner_uids(&self) -> Vec<&str> {
        self.value
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter_map(|r| r.get("uid").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names audit events give this object: the API path
    /// (`namespaces/NS/deployments/NAME`, `clusterroles/NAME`) and its uid.
    pub fn identifiers(&self) -> Vec<String> {
        let plural = plural(&self.kind);
        let mut ids = vec![match &self.namespace {
            Some(ns) => format!("namespaces/{ns}/{plural}/{}", self.name),
            None => format!("{plural}/{}", self.name),
        }];
        if let Some(uid) = self.uid() {
            ids.push(uid.to_owned());
        }
        ids
    }
}

pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

pub fn address(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{api_version}/{kind}/{ns}/{name}"),
        None => format!("{api_version}/{kind}/{name}"),
    }
}

/// The API path audit events name an object by, from its driftlog address
/// (`apps/v1/Deployment/shop/web` → `namespaces/shop/deployments/web`;
/// `rbac.authorization.k8s.io/v1/ClusterRole/view` → `clusterroles/view`). `None` when the
/// text is not a Kubernetes address: a kind is the segment that starts with a capital letter,
/// after a version (`v1`, `v1beta2`).
pub fn identifier_of_address(address: &str) -> Option<String> {
    let parts: Vec<&str> = address.split('/').collect();
    let is_version = |s: &str| {
        s.strip_prefix('v')
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
    };
    let is_kind = |s: &str| s.starts_with(|c: char| c.is_ascii_uppercase());
    let k = (1..parts.len()).find(|&i| is_kind(parts[i]) && is_version(parts[i - 1]))?;
    if k > 2 || parts[k + 1..].iter().any(|p| p.is_empty()) {
        return None;
    }
    let plural = plural(parts[k]);
    match &parts[k + 1..] {
        [ns, name] => Some(format!("namespaces/{ns}/{plural}/{name}")),
        [name] => Some(format!("{plural}/{name}")),
        _ => None,
    }
}

/// Built-in kinds that are not namespaced.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "RuntimeClass",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "CertificateSigningRequest",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "PodSecurityPolicy",
    "FlowSchema",
    "PriorityLevelConfiguration",
    "ComponentStatus",
];

pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

/// The resource name of a kind in API paths and audit `objectRef.resource`: `Deployment` →
/// `deployments`, `Ingress` → `ingresses`, `NetworkPolicy` → `networkpolicies`.
pub fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower == "endpoints" {
        return lower;
    }
    if lower.ends_with("ss") || lower.ends_with('x') || lower.ends_with("ch") {
        format!("{lower}es")
    } else if let Some(stem) = lower
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'i', 'o', 'u']))
    {
        format!("{stem}ies")
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

/// The kind of an audit `objectRef.resource` among built-in kinds (the reverse of [`plural`]).
pub fn kind_of_resource(resource: &str) -> Option<&'static str> {
    const KINDS: &[&str] = &[
        "Pod",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Endpoints",
        "Event",
        "LimitRange",
        "ResourceQuota",
        "ReplicationController",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ControllerRevision",
        "Job",
        "CronJob",
        "HorizontalPodAutoscaler",
        "Ingress",
        "IngressClass",
        "NetworkPolicy",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "StorageClass",
        "CustomResourceDefinition",
        "PodDisruptionBudget",
        "PriorityClass",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "Lease",
        "EndpointSlice",
        "APIService",
    ];
    KINDS.iter().copied().find(|k| plural(k) == resource)
}

#[cfg(test)]
mod address_tests {
    use super::identifier_of_address as id;

    #[test]
    fn addresses_give_api_paths() {
        assert_eq!(
            id("apps/v1/Deployment/shop/web").as_deref(),
            Some("namespaces/shop/deployments/web")
        );
        assert_eq!(
            id("v1/ConfigMap/shop/settings").as_deref(),
            Some("namespaces/shop/configmaps/settings")
        );
        assert_eq!(id("v1/Namespace/shop").as_deref(), Some("namespaces/shop"));
        assert_eq!(
            id("rbac.authorization.k8s.io/v1/ClusterRole/view").as_deref(),
            Some("clusterroles/view")
        );
        for not in [
            "aws_instance.web",
            "sg-0123",
            "v1/x/y",
            "apps/v1/Deployment/",
            "a/b/v1/Kind/ns/n/x",
        ] {
            assert_eq!(id(not), None, "{not}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plurals_as_the_api_names_them() {
        for (kind, want) in [
            ("Deployment", "deployments"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("Endpoints", "endpoints"),
            ("StorageClass", "storageclasses"),
            ("Gateway", "gateways"),
            ("ConfigMap", "configmaps"),
        ] {
            assert_eq!(plural(kind), want);
        }
        assert_eq!(
            kind_of_resource("horizontalpodautoscalers"),
            Some("HorizontalPodAutoscaler")
        );
    }

    #[test]
    fn identity_and_address() {
        let o = Object::new(
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "web", "namespace": "prod", "uid": "u-1"}}),
            "x.yaml",
        )
        .unwrap();
        assert_eq!(o.address(), "apps/v1/Deployment/prod/web");
        assert_eq!(o.group(), "apps");
        assert_eq!(o.identifiers(), ["namespaces/prod/deployments/web", "u-1"]);
        let e = Object::new(
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {}}),
            "a.yaml (document 2)",
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("a.yaml (document 2): v1 ConfigMap: missing `metadata.name`"));
    }
}
