//! `metadata.managedFields`: which field manager set each field of a live object.
//!
//! The API server records, per manager and operation, the set of fields that manager last set
//! (`fieldsV1`: `f:name` for object keys, `k:{"name":"web"}` for list items by merge key,
//! `.` for the item itself). That answers "who set this field" without any audit log: a
//! `kubectl edit` leaves `kubectl-edit`, `kubectl scale` leaves `kubectl` on the `scale`
//! subresource, Helm leaves `helm`, the HPA leaves `kube-controller-manager`. Its limits: one
//! time per entry, not per field; a manager's updates collapse into one entry; clients can
//! clear the list.

use super::path::{FieldPath, Step};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One `managedFields` entry, without its field set: what a finding cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldManager {
    pub manager: String,
    /// `Apply` (server-side apply) or `Update` (every other write).
    pub operation: String,
    /// `scale`, `status`… when the write went through a subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// When this manager's entry last changed (not necessarily this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// What kind of writer a manager is, which decides whether a field only it set is drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagerClass {
    /// Applies the declared configuration: `kubectl apply`, Helm, Argo CD, Flux, any
    /// server-side apply.
    Applier,
    /// A controller of the cluster (or one the user trusts): its writes are the cluster
    /// working, not drift.
    Controller,
    /// Everything else: `kubectl edit`/`patch`/`label`/`scale`, dashboards, scripts.
    Person,
}

/// Managers that apply the declared configuration (besides every `Apply` operation).
const APPLIERS: &[&str] = &[
    "kubectl-client-side-apply",
    "kubectl-last-applied",
    "before-first-apply",
    "helm",
    "Helm",
    "argocd-controller",
    "argocd-application-controller",
    "kustomize-controller",
    "helm-controller",
    "Terraform",
    "terraform",
];

/// Managers that are the cluster's own controllers.
const CONTROLLERS: &[&str] = &[
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-apiserver",
    "cloud-controller-manager",
    "kube-proxy",
];

impl FieldManager {
    pub fn class(&self, trusted: &[String]) -> ManagerClass {
        let m = self.manager.as_str();
        if trusted.iter().any(|t| crate::glob::Glob::new(t).matches(m)) {
            return ManagerClass::Controller;
        }
        if self.subresource.as_deref() == Some("status") || CONTROLLERS.contains(&m) {
            return ManagerClass::Controller;
        }
        if self.operation == "Apply" || APPLIERS.contains(&m) {
            return ManagerClass::Applier;
        }
        ManagerClass::Person
    }
}

#[derive(Debug, Clone)]
struct Entry {
    manager: FieldManager,
    fields: Value,
}

/// The `managedFields` of one live object.
#[derive(Debug, Clone, Default)]
pub struct ManagedFields(Vec<Entry>);

impl ManagedFields {
    /// Read `metadata.managedFields` of a live object (entries that are not well-formed are
    /// skipped: attribution is evidence, not a reason to refuse the object).
    pub fn of(object: &Value) -> Self {
        let Some(list) = object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
        else {
            return Self::default();
        };
        let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
        Self(
            list.iter()
                .filter_map(|e| {
                    Some(Entry {
                        manager: FieldManager {
                            manager: text(e, "manager").unwrap_or_default(),
                            operation: text(e, "operation")?,
                            subresource: text(e, "subresource").filter(|s| !s.is_empty()),
                            time: text(e, "time"),
                        },
                        fields: e.get("fieldsV1").cloned().unwrap_or(Value::Null),
                    })
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every manager whose field set holds `path` (or an atomic value above it).
    pub fn owners(&self, path: &FieldPath) -> Vec<&FieldManager> {
        self.0
            .iter()
            .filter(|e| owns(&e.fields, &path.0))
            .map(|e| &e.manager)
            .collect()
    }

    /// The manager that last set `path`: of its owners, the latest entry; on a tie (or no
    /// times) a person's write over an applier's, since a shared field changed by hand is
    /// the news.
    pub fn last_setter(&self, path: &FieldPath, trusted: &[String]) -> Option<&FieldManager> {
        let rank = |m: &FieldManager| match m.class(trusted) {
            ManagerClass::Person => 2,
            ManagerClass::Controller => 1,
            ManagerClass::Applier => 0,
        };
        self.owners(path)
            .into_iter()
            .max_by(|a, b| (a.time.as_deref(), rank(a)).cmp(&(b.time.as_deref(), rank(b))))
    }
}

/// Whether the field set `node` holds the path `steps`.
fn owns(node: &Value, steps: &[Step]) -> bool {
    let Some(map) = node.as_object() else {
        return false;
    };
    let Some((first, rest)) = steps.split_first() else {
        return true;
    };
    // A set that stops here with no children owns an atomic value: everything below it.
    if map.is_empty() {
        return true;
    }
    let child = match first {
        Step::Key(k) => map.get(&format!("f:{k}")),
        Step::Item(fields) => map
            .iter()
            .find(|(key, _)| key_matches(key, fields))
            .map(|(_, v)| v),
        // A list addressed by position has no per-item ownership: whoever set the list.
        Step::Index(_) => return false,
    };
    match child {
        Some(c) => owns(c, rest),
        None => false,
    }
}

/// `k:{"containerPort":80,"protocol":"TCP"}` against the item's merge key fields.
fn key_matches(key: &str, fields: &[(String, Value)]) -> bool {
    let Some(json) = key.strip_prefix("k:") else {
        return false;
    };
    let Ok(Value::Object(want)) = serde_json::from_str::<Value>(json) else {
        return false;
    };
    want.iter().all(|(name, value)| {
        fields
            .iter()
            .any(|(n, v)| n == name && super::normalize::scalars_equal(v, value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Value {
        json!({"metadata": {"managedFields": [
            {"manager": "kubectl-client-side-apply", "operation": "Update", "time": "2024-01-01T00:00:00Z",
             "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                 "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:command": {}}}}}}}},
            {"manager": "kubectl-edit", "operation": "Update", "time": "2024-02-01T00:00:00Z",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                 "k:{\"name\":\"web\"}": {"f:image": {}}}}}}}},
            {"manager": "kubectl", "operation": "Update", "subresource": "scale", "time": "2024-03-01T00:00:00Z",
             "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]}})
    }

    fn container(key: &str) -> FieldPath {
        FieldPath::root()
            .key("spec")
            .key("template")
            .key("spec")
            .key("containers")
            .item(vec![("name".into(), json!("web"))])
            .key(key)
    }

    #[test]
    fn finds_who_last_set_a_field() {
        let m = ManagedFields::of(&object());
        let image = m.last_setter(&container("image"), &[]).unwrap();
        assert_eq!(image.manager, "kubectl-edit");
        let replicas = FieldPath::root().key("spec").key("replicas");
        let scale = m.last_setter(&replicas, &[]).unwrap();
        assert_eq!(
            (scale.manager.as_str(), scale.subresource.as_deref()),
            ("kubectl", Some("scale"))
        );
        assert_eq!(scale.class(&[]), ManagerClass::Person);
        // An atomic list is owned as a whole, by whoever set it.
        let arg = container("command").index(1);
        assert_eq!(m.owners(&arg).len(), 1);
        assert!(m.owners(&container("env")).is_empty());
    }

    #[test]
    fn classes() {
        let m = |manager: &str, operation: &str| FieldManager {
            manager: manager.into(),
            operation: operation.into(),
            subresource: None,
            time: None,
        };
        assert_eq!(
            m("argocd-controller", "Apply").class(&[]),
            ManagerClass::Applier
        );
        assert_eq!(m("kubectl", "Apply").class(&[]), ManagerClass::Applier);
        assert_eq!(m("kubectl-edit", "Update").class(&[]), ManagerClass::Person);
        assert_eq!(
            m("kube-controller-manager", "Update").class(&[]),
            ManagerClass::Controller
        );
        let trusted = vec!["vpa-*".to_owned()];
        assert_eq!(
            m("vpa-updater", "Update").class(&trusted),
            ManagerClass::Controller
        );
    }
}
