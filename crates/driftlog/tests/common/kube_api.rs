//! A fake Kubernetes API server on 127.0.0.1 for `--k8s-live cluster`: no real API server can
//! run on these machines, so the real `kube` client talks to this one through a generated
//! kubeconfig. It serves recorded-shape responses built from a set of live objects: discovery
//! (`/api`, `/api/v1`, `/apis`, `/apis/GROUP/VERSION`), paged lists (items without `kind` and
//! `apiVersion`, as a real server sends them) with label selectors, gets, and server-side apply
//! dry runs, and it records every request so tests can check what the client asked.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub authorization: String,
    pub body: String,
}

struct State {
    /// The live objects, as a real server holds them (with `kind` and `apiVersion`).
    objects: Vec<Value>,
    /// Objects per list page (small, so continue tokens are exercised).
    page: usize,
    seen: Mutex<Vec<Seen>>,
}

pub struct FakeApiServer {
    pub url: String,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

/// (group, version, kind, plural, namespaced): what discovery lists.
const RESOURCES: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Pod", "pods", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("", "v1", "Endpoints", "endpoints", true),
    ("", "v1", "Namespace", "namespaces", false),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true),
    ("batch", "v1", "Job", "jobs", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
];

impl FakeApiServer {
    pub fn start(objects: Vec<Value>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(State {
            objects,
            page: 2,
            seen: Mutex::new(Vec::new()),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(&state, method, uri, headers, body) }
            },
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url,
            state,
            _runtime: runtime,
        }
    }

    /// A kubeconfig naming this server, with a bearer token.
    pub fn kubeconfig(&self, dir: &Path, token: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
                 contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n\
                 - name: other\n  context:\n    cluster: fake\n    user: tester\n\
                 current-context: other\nusers:\n- name: tester\n  user:\n    token: {token}\n",
                self.url
            ),
        )
        .unwrap();
        path
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        axum::Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}),
        ),
    )
        .into_response()
}

fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.0 == group && r.1 == version)
        .map(|(_, _, kind, plural, namespaced)| {
            json!({"name": plural, "singularName": kind.to_ascii_lowercase(), "namespaced": namespaced,
                "kind": kind, "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn selected(object: &Value, selector: Option<&str>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').filter(|p| !p.is_empty()).all(|req| {
        let (k, v) = req.split_once('=').unwrap_or((req, ""));
        object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            == Some(v)
    })
}

fn handle(state: &State, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let query: BTreeMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect();
    state.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    // Discovery.
    match segments.as_slice() {
        ["api"] => {
            return axum::Json(json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}))
            .into_response()
        }
        ["api", "v1"] => return axum::Json(resource_list("", "v1")).into_response(),
        ["apis"] => {
            let mut groups: Vec<&str> = RESOURCES
                .iter()
                .map(|r| r.0)
                .filter(|g| !g.is_empty())
                .collect();
            groups.dedup();
            let groups: Vec<Value> = groups
                .iter()
                .map(|g| {
                    let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
                    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            return axum::Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
                .into_response();
        }
        ["apis", group, version] => {
            let list = resource_list(group, version);
            if list["resources"].as_array().unwrap().is_empty() {
                return status(404, "NotFound", "the server could not find the requested resource");
            }
            return axum::Json(list).into_response();
        }
        _ => {}
    }
    // Objects: [api/v1 | apis/G/V] [namespaces/NS] PLURAL [NAME].
    let (group, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, "v1", rest @ ..] => (*g, rest),
        _ => return status(404, "NotFound", "no such path"),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        _ => (None, rest),
    };
    let (plural, name) = match rest {
        [plural] => (*plural, None),
        [plural, name] => (*plural, Some(*name)),
        _ => return status(404, "NotFound", "no such path"),
    };
    let Some(&(_, _, kind, _, _)) = RESOURCES.iter().find(|r| r.0 == group && r.3 == plural) else {
        return status(404, "NotFound", "no such resource");
    };
    let api_version = if group.is_empty() {
        "v1".to_owned()
    } else {
        format!("{group}/v1")
    };
    let matches = |o: &&Value| {
        o["kind"] == kind
            && o["apiVersion"] == api_version.as_str()
            && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
            && name.is_none_or(|n| o["metadata"]["name"] == n)
    };
    match (method.as_str(), name) {
        ("GET", None) => {
            let items: Vec<&Value> = state
                .objects
                .iter()
                .filter(matches)
                .filter(|o| selected(o, query.get("labelSelector").map(String::as_str)))
                .collect();
            let start: usize = query
                .get("continue")
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let end = (start + state.page).min(items.len());
            let page: Vec<Value> = items[start.min(end)..end]
                .iter()
                .map(|o| {
                    let mut o = (*o).clone();
                    let map = o.as_object_mut().unwrap();
                    map.remove("kind");
                    map.remove("apiVersion");
                    o
                })
                .collect();
            let mut metadata = json!({"resourceVersion": "48600"});
            if end < items.len() {
                metadata["continue"] = Value::String(end.to_string());
            }
            axum::Json(
                json!({"kind": format!("{kind}List"), "apiVersion": api_version,
                "metadata": metadata, "items": page}),
            )
            .into_response()
        }
        ("GET", Some(n)) => match state.objects.iter().find(matches) {
            Some(o) => axum::Json(o.clone()).into_response(),
            None => status(404, "NotFound", &format!("{plural} \"{n}\" not found")),
        },
        ("PATCH", Some(n)) => {
            if header("content-type") != "application/apply-patch+yaml"
                || query.get("dryRun").map(String::as_str) != Some("All")
            {
                return status(
                    405,
                    "MethodNotAllowed",
                    "this fake only answers apply dry runs",
                );
            }
            let Some(live) = state.objects.iter().find(matches) else {
                return status(404, "NotFound", &format!("{plural} \"{n}\" not found"));
            };
            let applied: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return status(400, "BadRequest", &e.to_string()),
            };
            let manager = query.get("fieldManager").cloned().unwrap_or_default();
            axum::Json(dry_run_apply(live, &applied, &manager)).into_response()
        }
        _ => status(405, "MethodNotAllowed", "not served by this fake"),
    }
}

/// What server-side apply would make of `applied` over `live`: maps merged, lists of named
/// items merged by name, other lists replaced; a Secret's `stringData` folded into `data`; an
/// `Apply` entry for the manager. Fields other managers set stay (apply removes only fields
/// its own manager owned before).
fn dry_run_apply(live: &Value, applied: &Value, manager: &str) -> Value {
    let mut out = live.clone();
    merge(&mut out, applied);
    if let Some(map) = out.as_object_mut() {
        if let Some(Value::Object(string_data)) = map.remove("stringData") {
            let data = map
                .entry("data")
                .or_insert_with(|| Value::Object(Map::new()));
            for (k, v) in string_data {
                let text = v.as_str().unwrap_or_default();
                data[k.as_str()] = Value::String(base64(text.as_bytes()));
            }
        }
    }
    if let Some(fields) = out
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        fields.push(
            json!({"manager": manager, "operation": "Apply", "apiVersion": live["apiVersion"],
            "time": "2026-11-30T12:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {}}),
        );
    }
    out
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b))
            if b.iter().all(|i| i.get("name").is_some())
                && a.iter().all(|i| i.get("name").is_some()) =>
        {
            for item in b {
                match a.iter_mut().find(|x| x["name"] == item["name"]) {
                    Some(existing) => merge(existing, item),
                    None => a.push(item.clone()),
                }
            }
        }
        (into, from) => *into = from.clone(),
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
