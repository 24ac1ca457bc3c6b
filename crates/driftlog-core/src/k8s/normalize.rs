//! Making a manifest and a live object comparable: what the API server adds, what it
//! rewrites, and which values only look different.

use super::path::FieldPath;
use base64::Engine as _;
use serde_json::{Map, Value};

/// The annotation `kubectl apply` (client-side) keeps the applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Metadata the API server writes and no manifest sets.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    // Identity: matched on, not compared.
    "name",
    "namespace",
];

/// Annotations and labels controllers add to the objects they work on.
const CONTROLLER_ANNOTATIONS: &[&str] = &[
    LAST_APPLIED,
    "deployment.kubernetes.io/revision",
    "deprecated.daemonset.template.generation",
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/selected-node",
    "endpoints.kubernetes.io/last-change-trigger-time",
    "control-plane.alpha.kubernetes.io/leader",
    "kubernetes.io/psp",
    "autoscaling.alpha.kubernetes.io/conditions",
    "autoscaling.alpha.kubernetes.io/current-metrics",
    "kubernetes.io/config.seen",
    "kubernetes.io/config.hash",
    "kubernetes.io/config.source",
    "meta.helm.sh/release-name",
    "meta.helm.sh/release-namespace",
];

const CONTROLLER_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "kubernetes.io/metadata.name",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
];

/// Strip what the server owns (status, server metadata, controller annotations) and fold
/// equivalent spellings (a Secret's `stringData` into `data`), leaving what a manifest can say.
/// Applied to both sides, so a live object compared with itself is always equal.
pub fn normalize(object: &Value, kind: &str) -> Value {
    let mut v = object.clone();
    let Some(map) = v.as_object_mut() else {
        return v;
    };
    map.remove("apiVersion");
    map.remove("kind");
    map.remove("status");
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_METADATA {
            meta.remove(*key);
        }
        strip_keys(meta, "annotations", CONTROLLER_ANNOTATIONS);
        strip_keys(meta, "labels", CONTROLLER_LABELS);
    }
    if kind == "Secret" {
        fold_string_data(map);
    }
    // A pod template's metadata carries `creationTimestamp: null` in every live object.
    drop_nulls(&mut v);
    v
}

fn strip_keys(meta: &mut Map<String, Value>, field: &str, keys: &[&str]) {
    if let Some(m) = meta.get_mut(field).and_then(Value::as_object_mut) {
        for key in keys {
            m.remove(*key);
        }
        if m.is_empty() {
            meta.remove(field);
        }
    }
}

/// `stringData` is write-only: the server stores it base64-encoded in `data`.
fn fold_string_data(secret: &mut Map<String, Value>) {
    let Some(Value::Object(strings)) = secret.remove("stringData") else {
        return;
    };
    let data = secret
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(data) = data.as_object_mut() {
        for (k, v) in strings {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
    }
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Null, `{}`, `[]` and `""`: what an absent field reads as.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Scalars that mean the same: numbers by value (`1` = `1.0`), int-or-string (`80` = `"80"`).
pub fn scalars_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            s.trim().parse::<f64>().ok() == n.as_f64()
        }
        _ => a == b,
    }
}

/// Resource quantities compared by value: `1000m` = `1`, `1Gi` = `1024Mi`, `0.5` = `500m`.
pub fn quantities_equal(a: &Value, b: &Value) -> bool {
    match (quantity(a), quantity(b)) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= f64::EPSILON * 16.0 * x.abs().max(y.abs()),
        _ => false,
    }
}

/// The value of a Kubernetes quantity (`resource.Quantity`): a decimal number with a binary
/// (`Ki`…`Ei`), decimal (`n`, `u`, `m`, `k`, `M`…`E`) or exponent (`1e3`) suffix.
pub fn quantity(v: &Value) -> Option<f64> {
    let text = match v {
        Value::Number(n) => return n.as_f64(),
        Value::String(s) => s.trim(),
        _ => return None,
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

/// Whether the value at `path` is a resource quantity.
pub fn is_quantity_path(path: &FieldPath) -> bool {
    let keys = path.keys();
    let n = keys.len();
    n >= 2
        && matches!(
            keys[n - 2],
            "requests" | "limits" | "capacity" | "hard" | "allocatable" | "overhead"
        )
        || matches!(keys.last(), Some(&"sizeLimit" | &"storage"))
}

/// What the API server fills in when a manifest leaves a field out, by kind and field
/// pattern (see [`FieldPath::pattern`]). `Any` marks values the server allocates (cluster IPs,
/// node ports): whatever they are, a manifest that omits them did not ask for another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Default {
    Value(&'static str),
    Any,
}

/// Pod spec defaults, under every workload's pod template.
const POD: &[(&str, Default)] = &[
    ("dnsPolicy", Default::Value("\"ClusterFirst\"")),
    ("restartPolicy", Default::Value("\"Always\"")),
    ("schedulerName", Default::Value("\"default-scheduler\"")),
    ("securityContext", Default::Value("{}")),
    ("terminationGracePeriodSeconds", Default::Value("30")),
    ("enableServiceLinks", Default::Value("true")),
    (
        "preemptionPolicy",
        Default::Value("\"PreemptLowerPriority\""),
    ),
    ("priority", Default::Value("0")),
    ("serviceAccount", Default::Any),
    ("serviceAccountName", Default::Value("\"default\"")),
    ("nodeName", Default::Any),
    ("tolerations", Default::Any),
    (
        "containers[].terminationMessagePath",
        Default::Value("\"/dev/termination-log\""),
    ),
    (
        "containers[].terminationMessagePolicy",
        Default::Value("\"File\""),
    ),
    ("containers[].resources", Default::Value("{}")),
    ("containers[].ports[].protocol", Default::Value("\"TCP\"")),
    ("containers[].imagePullPolicy", Default::Any),
    (
        "containers[].livenessProbe.failureThreshold",
        Default::Value("3"),
    ),
    (
        "containers[].livenessProbe.successThreshold",
        Default::Value("1"),
    ),
    (
        "containers[].livenessProbe.timeoutSeconds",
        Default::Value("1"),
    ),
    (
        "containers[].livenessProbe.periodSeconds",
        Default::Value("10"),
    ),
    (
        "containers[].readinessProbe.failureThreshold",
        Default::Value("3"),
    ),
    (
        "containers[].readinessProbe.successThreshold",
        Default::Value("1"),
    ),
    (
        "containers[].readinessProbe.timeoutSeconds",
        Default::Value("1"),
    ),
    (
        "containers[].readinessProbe.periodSeconds",
        Default::Value("10"),
    ),
    (
        "initContainers[].terminationMessagePath",
        Default::Value("\"/dev/termination-log\""),
    ),
    (
        "initContainers[].terminationMessagePolicy",
        Default::Value("\"File\""),
    ),
    ("initContainers[].resources", Default::Value("{}")),
    ("initContainers[].imagePullPolicy", Default::Any),
    ("volumes[].configMap.defaultMode", Default::Value("420")),
    ("volumes[].secret.defaultMode", Default::Value("420")),
    ("volumes[].projected.defaultMode", Default::Value("420")),
];

const KIND: &[(&str, &str, Default)] = &[
    ("Deployment", "spec.replicas", Default::Value("1")),
    (
        "Deployment",
        "spec.revisionHistoryLimit",
        Default::Value("10"),
    ),
    (
        "Deployment",
        "spec.progressDeadlineSeconds",
        Default::Value("600"),
    ),
    (
        "Deployment",
        "spec.strategy.type",
        Default::Value("\"RollingUpdate\""),
    ),
    (
        "Deployment",
        "spec.strategy.rollingUpdate.maxSurge",
        Default::Value("\"25%\""),
    ),
    (
        "Deployment",
        "spec.strategy.rollingUpdate.maxUnavailable",
        Default::Value("\"25%\""),
    ),
    ("StatefulSet", "spec.replicas", Default::Value("1")),
    (
        "StatefulSet",
        "spec.revisionHistoryLimit",
        Default::Value("10"),
    ),
    (
        "StatefulSet",
        "spec.podManagementPolicy",
        Default::Value("\"OrderedReady\""),
    ),
    (
        "StatefulSet",
        "spec.updateStrategy.type",
        Default::Value("\"RollingUpdate\""),
    ),
    (
        "StatefulSet",
        "spec.updateStrategy.rollingUpdate.partition",
        Default::Value("0"),
    ),
    (
        "DaemonSet",
        "spec.revisionHistoryLimit",
        Default::Value("10"),
    ),
    (
        "DaemonSet",
        "spec.updateStrategy.type",
        Default::Value("\"RollingUpdate\""),
    ),
    (
        "DaemonSet",
        "spec.updateStrategy.rollingUpdate.maxUnavailable",
        Default::Value("1"),
    ),
    (
        "DaemonSet",
        "spec.updateStrategy.rollingUpdate.maxSurge",
        Default::Value("0"),
    ),
    ("ReplicaSet", "spec.replicas", Default::Value("1")),
    ("Job", "spec.backoffLimit", Default::Value("6")),
    ("Job", "spec.completions", Default::Value("1")),
    ("Job", "spec.parallelism", Default::Value("1")),
    (
        "Job",
        "spec.completionMode",
        Default::Value("\"NonIndexed\""),
    ),
    ("Job", "spec.suspend", Default::Value("false")),
    ("Job", "spec.selector", Default::Any),
    (
        "CronJob",
        "spec.concurrencyPolicy",
        Default::Value("\"Allow\""),
    ),
    (
        "CronJob",
        "spec.successfulJobsHistoryLimit",
        Default::Value("3"),
    ),
    (
        "CronJob",
        "spec.failedJobsHistoryLimit",
        Default::Value("1"),
    ),
    ("CronJob", "spec.suspend", Default::Value("false")),
    ("Service", "spec.type", Default::Value("\"ClusterIP\"")),
    (
        "Service",
        "spec.sessionAffinity",
        Default::Value("\"None\""),
    ),
    ("Service", "spec.clusterIP", Default::Any),
    ("Service", "spec.clusterIPs", Default::Any),
    ("Service", "spec.ipFamilies", Default::Any),
    (
        "Service",
        "spec.ipFamilyPolicy",
        Default::Value("\"SingleStack\""),
    ),
    (
        "Service",
        "spec.internalTrafficPolicy",
        Default::Value("\"Cluster\""),
    ),
    (
        "Service",
        "spec.externalTrafficPolicy",
        Default::Value("\"Cluster\""),
    ),
    ("Service", "spec.healthCheckNodePort", Default::Any),
    (
        "Service",
        "spec.allocateLoadBalancerNodePorts",
        Default::Value("true"),
    ),
    (
        "Service",
        "spec.ports[].protocol",
        Default::Value("\"TCP\""),
    ),
    ("Service", "spec.ports[].nodePort", Default::Any),
    ("Service", "spec.ports[].targetPort", Default::Any),
    (
        "PersistentVolumeClaim",
        "spec.volumeMode",
        Default::Value("\"Filesystem\""),
    ),
    ("PersistentVolumeClaim", "spec.volumeName", Default::Any),
    (
        "PersistentVolumeClaim",
        "spec.storageClassName",
        Default::Any,
    ),
    ("ServiceAccount", "secrets", Default::Any),
    ("Namespace", "spec.finalizers", Default::Any),
    ("Ingress", "spec.ingressClassName", Default::Any),
];

/// Where a kind keeps its pod spec.
fn pod_spec_prefix(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("spec."),
        "CronJob" => Some("spec.jobTemplate.spec.template.spec."),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController"
        | "PodTemplate" => Some("spec.template.spec."),
        _ => None,
    }
}

/// The server's default for the field at `path` of a `kind`, if the table knows one.
pub fn default_for(kind: &str, path: &FieldPath) -> Option<Default> {
    let pattern = path.pattern();
    if let Some(prefix) = pod_spec_prefix(kind) {
        if let Some(rest) = pattern.strip_prefix(prefix) {
            if let Some((_, d)) = POD.iter().find(|(p, _)| *p == rest) {
                return Some(*d);
            }
        }
    }
    KIND.iter()
        .find(|(k, p, _)| *k == kind && *p == pattern)
        .map(|(_, _, d)| *d)
}

/// Whether `value` is what the server would have filled in at `path`.
pub fn is_default(kind: &str, path: &FieldPath, value: &Value) -> bool {
    match default_for(kind, path) {
        Some(Default::Any) => true,
        Some(Default::Value(text)) => serde_json::from_str::<Value>(text)
            .is_ok_and(|d| d == *value || scalars_equal(&d, value)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_by_value() {
        assert!(quantities_equal(&json!("1000m"), &json!("1")));
        assert!(quantities_equal(&json!("1Gi"), &json!("1024Mi")));
        assert!(quantities_equal(&json!(0.5), &json!("500m")));
        assert!(quantities_equal(&json!("1e3"), &json!("1k")));
        assert!(!quantities_equal(&json!("1G"), &json!("1Gi")));
        assert!(!quantities_equal(&json!("1x"), &json!("1")));
    }

    #[test]
    fn secret_string_data_is_data() {
        let declared = json!({"kind": "Secret", "stringData": {"a": "bar"}, "data": {"b": "cXV4"}});
        let n = normalize(&declared, "Secret");
        assert_eq!(n, json!({"data": {"a": "YmFy", "b": "cXV4"}}));
    }

    #[test]
    fn server_metadata_goes() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "1",
                "annotations": {LAST_APPLIED: "{}"}, "labels": {"team": "x"}},
            "data": {"k": "v"}, "status": {}});
        assert_eq!(
            normalize(&live, "ConfigMap"),
            json!({"metadata": {"labels": {"team": "x"}}, "data": {"k": "v"}})
        );
    }

    #[test]
    fn defaults_by_kind() {
        let p = FieldPath::root()
            .key("spec")
            .key("template")
            .key("spec")
            .key("containers")
            .item(vec![("name".into(), json!("web"))])
            .key("terminationMessagePath");
        assert!(is_default("Deployment", &p, &json!("/dev/termination-log")));
        let t = FieldPath::root().key("spec").key("type");
        assert!(is_default("Service", &t, &json!("ClusterIP")));
        assert!(!is_default("Service", &t, &json!("NodePort")));
    }
}
