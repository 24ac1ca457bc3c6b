//! The compare: match manifests with live objects, walk each pair, report changes, deletions
//! and unmanaged objects.

use super::managed::{FieldManager, ManagedFields, ManagerClass};
use super::normalize::{self, is_empty, LAST_APPLIED};
use super::path::FieldPath;
use super::selector::Selector;
use super::{is_cluster_scoped, Object};
use crate::engine::Comparison;
use crate::finding::{Change, Finding, FindingKind, SuppressedChange};
use crate::sensitive::REDACTED;
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// How to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// The namespace of declared namespaced objects that name none (`kubectl apply -n`).
    pub default_namespace: String,
    /// Where live objects nobody declared are reported as unmanaged.
    pub watched: Watched,
    /// Only live objects this selects can be unmanaged (`kubectl -l`).
    pub selector: Option<Selector>,
    /// Field managers whose writes are never drift (globs), besides the cluster's controllers.
    pub trusted_managers: Vec<String>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            default_namespace: "default".into(),
            watched: Watched::Declared,
            selector: None,
            trusted_managers: Vec::new(),
        }
    }
}

/// The namespaces searched for unmanaged objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Watched {
    /// The namespaces the declared objects are in.
    #[default]
    Declared,
    /// These namespaces (`-n`).
    Namespaces(Vec<String>),
    /// Every namespace (`-A`).
    All,
}

/// (group, kind, namespace, name): an object's identity across API versions.
type Key = (String, String, Option<String>, String);

/// Compare manifests with live objects.
pub fn compare(declared: &[Object], live: &[Object], options: &CompareOptions) -> Comparison {
    // A kind is namespaced if the table does not say otherwise and no live object of it
    // lacks a namespace (custom resources can be either).
    let live_cluster_kinds: HashSet<(&str, &str)> = live
        .iter()
        .filter(|o| o.namespace.is_none())
        .map(|o| (o.group(), o.kind.as_str()))
        .collect();
    let resolve = |o: &Object| -> Option<String> {
        if is_cluster_scoped(&o.kind) || live_cluster_kinds.contains(&(o.group(), o.kind.as_str()))
        {
            None
        } else {
            Some(
                o.namespace
                    .clone()
                    .unwrap_or_else(|| options.default_namespace.clone()),
            )
        }
    };
    let key = |o: &Object, ns: Option<String>| -> Key {
        (o.group().to_owned(), o.kind.clone(), ns, o.name.clone())
    };
    let live_by_key: HashMap<Key, &Object> = live
        .iter()
        .map(|o| (key(o, o.namespace.clone()), o))
        .collect();

    let pairs: Vec<(Object, Option<&Object>)> = declared
        .iter()
        .map(|d| {
            let ns = resolve(d);
            let mut d = d.clone();
            d.namespace = ns.clone();
            let l = live_by_key.get(&key(&d, ns)).copied();
            (d, l)
        })
        .collect();

    let results: Vec<(Option<Finding>, Vec<SuppressedChange>)> = pairs
        .par_iter()
        .map(|(d, l)| match l {
            None => (
                Some(finding(
                    d,
                    FindingKind::Deleted,
                    Vec::new(),
                    d.identifiers(),
                )),
                Vec::new(),
            ),
            Some(l) => compare_pair(d, l, options),
        })
        .collect();
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    for (f, s) in results {
        findings.extend(f);
        suppressed.extend(s);
    }

    // Unmanaged: live, not declared, in a watched namespace, not owned by anything (what a
    // declared Deployment owns through its ReplicaSets is its own doing), not the cluster's.
    let declared_keys: HashSet<Key> = pairs
        .iter()
        .map(|(d, _)| key(d, d.namespace.clone()))
        .collect();
    let watched: Option<HashSet<String>> = match &options.watched {
        Watched::Namespaces(list) => Some(list.iter().cloned().collect()),
        Watched::Declared => Some(
            pairs
                .iter()
                .filter_map(|(d, _)| d.namespace.clone())
                .collect(),
        ),
        Watched::All => None,
    };
    for l in live {
        let Some(ns) = &l.namespace else { continue };
        if watched.as_ref().is_some_and(|w| !w.contains(ns))
            || options
                .selector
                .as_ref()
                .is_some_and(|s| !s.matches(&l.value))
            || declared_keys.contains(&key(l, l.namespace.clone()))
            || !l.owner_uids().is_empty()
            || is_system_object(l, live)
        {
            continue;
        }
        findings.push(finding(
            l,
            FindingKind::Unmanaged,
            Vec::new(),
            l.identifiers(),
        ));
    }
    findings.sort_by(|a, b| a.address.cmp(&b.address));
    Comparison {
        findings,
        suppressed,
        resources_scanned: declared.len(),
    }
}

/// Objects every namespace has, or that the cluster makes for others.
fn is_system_object(o: &Object, live: &[Object]) -> bool {
    let name = o.name.as_str();
    match o.kind.as_str() {
        "ServiceAccount" => name == "default",
        "ConfigMap" => name == "kube-root-ca.crt" || name.starts_with("sh.helm.release."),
        "Secret" => {
            let t = o.value.get("type").and_then(Value::as_str).unwrap_or("");
            t == "kubernetes.io/service-account-token" || t == "helm.sh/release.v1"
        }
        // Endpoints mirror the Service of the same name.
        "Endpoints" => live
            .iter()
            .any(|s| s.kind == "Service" && s.namespace == o.namespace && s.name == o.name),
        "Event" | "Lease" | "ControllerRevision" | "EndpointSlice" => true,
        _ => false,
    }
}

fn finding(o: &Object, kind: FindingKind, changes: Vec<Change>, ids: Vec<String>) -> Finding {
    Finding {
        address: o.address(),
        resource_type: o.kind.clone(),
        provider: "kubernetes".into(),
        kind,
        deposed: None,
        previous_address: None,
        stack: None,
        changes,
        identifiers: ids,
        attribution: None,
        remediation: None,
        discovery: None,
    }
}

fn compare_pair(
    declared: &Object,
    live: &Object,
    options: &CompareOptions,
) -> (Option<Finding>, Vec<SuppressedChange>) {
    let kind = declared.kind.as_str();
    let d = normalize::normalize(&declared.value, kind);
    let l = normalize::normalize(&live.value, kind);
    let applied = live
        .value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .map(|a| normalize::normalize(&a, kind));
    let managed = ManagedFields::of(&live.value);
    let (mut d, mut l, mut applied) = (d, l, applied);
    let mut suppressed_rules = Vec::new();
    // An aggregated ClusterRole's rules are filled in by the aggregation controller from the
    // roles its selectors match: never declared, never drift.
    if kind == "ClusterRole" && d.get("aggregationRule").is_some() {
        for v in [Some(&mut d), Some(&mut l), applied.as_mut()]
            .into_iter()
            .flatten()
        {
            if let Some(m) = v.as_object_mut() {
                if m.remove("rules").is_some_and(|r| !is_empty(&r)) {
                    suppressed_rules.push(("rules".to_owned(), "k8s.aggregated_rules"));
                }
            }
        }
        suppressed_rules.truncate(1);
    }
    let mut walk = Walk {
        kind,
        managed: &managed,
        trusted: &options.trusted_managers,
        three_way: applied.is_some(),
        changes: Vec::new(),
        suppressed: suppressed_rules,
    };
    walk.value(&d, Some(&l), applied.as_ref(), &FieldPath::root());
    let address = declared.address();
    let suppressed = walk
        .suppressed
        .into_iter()
        .map(|(path, rule)| SuppressedChange {
            address: address.clone(),
            path,
            rule,
        })
        .collect();
    if walk.changes.is_empty() {
        return (None, suppressed);
    }
    let mut ids = live.identifiers();
    ids.dedup();
    let mut f = finding(declared, FindingKind::Changed, walk.changes, ids);
    f.address = address;
    (Some(f), suppressed)
}

struct Walk<'a> {
    kind: &'a str,
    managed: &'a ManagedFields,
    trusted: &'a [String],
    /// The live object carries the last-applied configuration.
    three_way: bool,
    changes: Vec<Change>,
    suppressed: Vec<(String, &'static str)>,
}

impl Walk<'_> {
    fn sensitive(&self, path: &FieldPath) -> bool {
        self.kind == "Secret" && matches!(path.keys().first(), Some(&"data" | &"stringData"))
    }

    fn change(
        &mut self,
        path: &FieldPath,
        before: &Value,
        after: &Value,
        set_by: Option<FieldManager>,
    ) {
        let sensitive = self.sensitive(path);
        let shown = |v: &Value| {
            if sensitive && !v.is_null() {
                Value::String(REDACTED.into())
            } else {
                v.clone()
            }
        };
        let mut c = Change::new(path.to_string(), shown(before), shown(after));
        c.sensitive = sensitive;
        c.set_by = set_by;
        self.changes.push(c);
    }

    /// A declared value against the live one (`None`: absent) and the applied one.
    fn value(&mut self, d: &Value, l: Option<&Value>, a: Option<&Value>, path: &FieldPath) {
        let l = match l {
            Some(l) if !l.is_null() => l,
            _ => {
                if !is_empty(d) {
                    let setter = self.managed.last_setter(path, self.trusted).cloned();
                    self.change(path, d, &Value::Null, setter);
                }
                return;
            }
        };
        match (d, l) {
            (Value::Object(dm), Value::Object(lm)) => {
                for (k, dv) in dm {
                    self.value(dv, lm.get(k), a.and_then(|a| a.get(k)), &path.key(k));
                }
                for (k, lv) in lm {
                    if !dm.contains_key(k) {
                        self.live_only(lv, a.and_then(|a| a.get(k)), &path.key(k));
                    }
                }
            }
            (Value::Array(da), Value::Array(la)) => self.list(da, la, a, path),
            _ => {
                if !self.leaf_equal(d, l, path) {
                    self.differs(path, d, l);
                }
            }
        }
    }

    /// A declared value that differs from the live one: drift, unless a controller (or a
    /// trusted manager) last set it.
    fn differs(&mut self, path: &FieldPath, d: &Value, l: &Value) {
        let setter = self.managed.last_setter(path, self.trusted).cloned();
        if setter
            .as_ref()
            .is_some_and(|m| m.class(self.trusted) == ManagerClass::Controller)
        {
            self.suppressed
                .push((path.to_string(), "k8s.controller_owned"));
            return;
        }
        self.change(path, d, l, setter);
    }

    fn leaf_equal(&self, d: &Value, l: &Value, path: &FieldPath) -> bool {
        if is_empty(d) && is_empty(l) {
            return true;
        }
        if normalize::is_quantity_path(path) && normalize::quantities_equal(d, l) {
            return true;
        }
        normalize::scalars_equal(d, l)
    }

    fn list(&mut self, da: &[Value], la: &[Value], a: Option<&Value>, path: &FieldPath) {
        let aa = a.and_then(Value::as_array);
        if let Some(fields) = merge_key(path, da, la) {
            let key_of = |item: &Value| item_key(item, &fields, self.kind, path);
            let live: Vec<Keyed> = la.iter().map(|i| (key_of(i), i)).collect();
            let applied: Vec<Keyed> = aa
                .map(|aa| aa.iter().map(|i| (key_of(i), i)).collect())
                .unwrap_or_default();
            let mut declared_keys = Vec::new();
            for item in da {
                let k = key_of(item);
                let l = find(&live, &k);
                let a = find(&applied, &k);
                self.value(item, l, a, &path.item(k.clone()));
                declared_keys.push(k);
            }
            for (k, item) in &live {
                if !declared_keys.iter().any(|dk| keys_equal(dk, k)) {
                    let a = find(&applied, k);
                    self.live_only_item(item, a, &path.item(k.clone()));
                }
            }
            return;
        }
        // Atomic lists: item by item, each declared item within its live one; failing that
        // (controllers reorder some lists: Endpoints subsets, HPA metrics), as a set.
        let within = |x: &Value, y: &Value, p: &FieldPath| {
            let mut probe = Walk {
                kind: self.kind,
                managed: &ManagedFields::default(),
                trusted: self.trusted,
                three_way: false,
                changes: Vec::new(),
                suppressed: Vec::new(),
            };
            probe.value(x, Some(y), None, p);
            probe.changes.is_empty()
        };
        if da.len() == la.len() {
            if da
                .iter()
                .zip(la)
                .enumerate()
                .all(|(i, (x, y))| within(x, y, &path.index(i)))
            {
                return;
            }
            if da.iter().all(Value::is_object) && same_set(da, la, |x, y| within(x, y, path)) {
                self.suppressed.push((path.to_string(), "k8s.list_order"));
                return;
            }
        }
        if da.is_empty() && la.is_empty() {
            return;
        }
        self.differs(path, &Value::Array(da.to_vec()), &Value::Array(la.to_vec()));
    }

    /// A live field the manifest does not declare.
    fn live_only(&mut self, l: &Value, a: Option<&Value>, path: &FieldPath) {
        if is_empty(l) {
            return;
        }
        match l {
            Value::Object(m) => {
                for (k, v) in m {
                    self.live_only(v, a.and_then(|a| a.get(k)), &path.key(k));
                }
            }
            Value::Array(items) => {
                if let Some(fields) = merge_key(path, &[], items) {
                    let aa = a.and_then(Value::as_array);
                    for item in items {
                        let k = item_key(item, &fields, self.kind, path);
                        let ai = aa.and_then(|aa| {
                            aa.iter()
                                .find(|x| keys_equal(&item_key(x, &fields, self.kind, path), &k))
                        });
                        self.live_only_item(item, ai, &path.item(k));
                    }
                } else {
                    self.live_only_leaf(l, a, path);
                }
            }
            _ => self.live_only_leaf(l, a, path),
        }
    }

    /// A whole list item the manifest does not declare (an env var, a container, a port).
    fn live_only_item(&mut self, l: &Value, a: Option<&Value>, path: &FieldPath) {
        self.live_only_leaf(l, a, path);
    }

    /// Whether an undeclared live value is drift:
    /// - applied before (in the last-applied configuration, or in an `Apply` field set) and
    ///   since dropped from the manifest: drift unless the value is the server's default;
    /// - last set by a person (`kubectl edit`, `label`, `patch`…): drift;
    /// - otherwise a default or a controller's doing: not drift.
    fn live_only_leaf(&mut self, l: &Value, a: Option<&Value>, path: &FieldPath) {
        let setter = self.managed.last_setter(path, self.trusted).cloned();
        let applied =
            (self.three_way && a.is_some_and(|a| !is_empty(a)))
                || self.managed.owners(path).iter().any(|m| {
                    m.operation == "Apply" && m.class(self.trusted) == ManagerClass::Applier
                });
        if applied {
            if normalize::is_default(self.kind, path, l) {
                self.suppressed.push((path.to_string(), "k8s.default"));
                return;
            }
            let before = match normalize::default_for(self.kind, path) {
                Some(normalize::Default::Value(text)) => {
                    serde_json::from_str(text).unwrap_or(Value::Null)
                }
                _ => Value::Null,
            };
            self.change(path, &before, l, setter);
            return;
        }
        if let Some(m) = setter {
            if m.class(self.trusted) == ManagerClass::Person {
                self.change(path, &Value::Null, l, Some(m));
            }
        }
    }
}

/// The merge key of a list, from its field name and items: `containers`, `env`, `volumes`…
/// by `name`, container ports by number and protocol, Service ports by port and protocol,
/// volume mounts by path; any other list of objects that all carry a distinct `name`, by name.
fn merge_key(path: &FieldPath, da: &[Value], la: &[Value]) -> Option<Vec<&'static str>> {
    let all = || da.iter().chain(la);
    if all().next().is_none() || !all().all(Value::is_object) {
        return None;
    }
    let has = |field: &str| all().all(|i| i.get(field).is_some());
    let field = path.last_key()?;
    let fields: Vec<&'static str> = match field {
        "ports" if has("containerPort") => vec!["containerPort", "protocol"],
        "ports" if has("port") => vec!["port", "protocol"],
        "volumeMounts" if has("mountPath") => vec!["mountPath"],
        "volumeDevices" if has("devicePath") => vec!["devicePath"],
        "hostAliases" if has("ip") => vec!["ip"],
        "topologySpreadConstraints" if has("topologyKey") => {
            vec!["topologyKey", "whenUnsatisfiable"]
        }
        _ if has("name") => vec!["name"],
        _ => return None,
    };
    // Keys must be unique on each side, or items cannot be told apart.
    for side in [da, la] {
        let mut seen = Vec::new();
        for item in side {
            let k: Vec<Option<&Value>> = fields.iter().map(|f| item.get(*f)).collect();
            if seen.contains(&k) {
                return None;
            }
            seen.push(k);
        }
    }
    Some(fields)
}

/// An item's merge key values; a port's protocol defaults to TCP.
fn item_key(item: &Value, fields: &[&str], _kind: &str, _path: &FieldPath) -> Vec<(String, Value)> {
    fields
        .iter()
        .filter_map(|f| {
            let v = item
                .get(*f)
                .cloned()
                .or_else(|| (*f == "protocol").then(|| Value::String("TCP".into())))?;
            Some(((*f).to_owned(), v))
        })
        .collect()
}

type Keyed<'v> = (Vec<(String, Value)>, &'v Value);

fn find<'v>(list: &[Keyed<'v>], k: &[(String, Value)]) -> Option<&'v Value> {
    list.iter()
        .find(|(lk, _)| keys_equal(lk, k))
        .map(|(_, v)| *v)
}

fn keys_equal(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n1, v1), (n2, v2))| n1 == n2 && normalize::scalars_equal(v1, v2))
}

/// Whether every declared item matches a distinct live item.
fn same_set(da: &[Value], la: &[Value], within: impl Fn(&Value, &Value) -> bool) -> bool {
    let mut used = vec![false; la.len()];
    da.iter().all(
        |x| match (0..la.len()).find(|&j| !used[j] && within(x, &la[j])) {
            Some(j) => {
                used[j] = true;
                true
            }
            None => false,
        },
    )
}
