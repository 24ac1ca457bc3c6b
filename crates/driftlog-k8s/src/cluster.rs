//! The live side from a cluster's API server (`--k8s-live cluster`), through `kube`.
//!
//! What is read is what the compare needs and no more: discovery of the API groups the
//! manifests and the watched kinds belong to; a list of each namespaced kind in each namespace
//! searched for unmanaged objects (paged, with the label selector sent to the server); a get of
//! each declared object the lists did not cover (cluster-scoped ones, those outside the
//! selector). With `server_side`, each manifest that exists live is also sent as a server-side
//! apply dry run (`dryRun=All`, field manager `driftlog`, forced), so the declared side is what
//! the API server would make of it: its defaults, its admission webhooks — what Argo CD's
//! server-side diff does. Nothing is written.

use driftlog_core::k8s::{group_of, Object, Watched};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Discovery, Scope};
use kube::{Client, Config};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// Kinds listed for unmanaged objects besides the declared ones: what people create by hand.
/// Pods and ReplicaSets a controller made carry owner references and are skipped.
const WATCHED_KINDS: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "Service"),
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "PersistentVolumeClaim"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "CronJob"),
    ("batch", "Job"),
    ("networking.k8s.io", "Ingress"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
];

/// How many requests are in flight at once.
const CONCURRENCY: usize = 8;
/// Objects per list page.
const PAGE: u32 = 500;

/// Where the cluster is and what to read of it.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// A kubeconfig file (`None`: `$KUBECONFIG`, `~/.kube/config`, then in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (`None`: its current one).
    pub context: Option<String>,
    /// The namespace of manifests that name none.
    pub default_namespace: String,
    /// Where unmanaged objects are searched for.
    pub watched: Watched,
    /// A label selector sent with every list.
    pub selector: Option<String>,
    /// Make the declared side a server-side apply dry run of each manifest.
    pub server_side: bool,
}

/// What was read of the cluster.
#[derive(Debug)]
pub struct ClusterRead {
    /// The live objects.
    pub objects: Vec<Object>,
    /// With `server_side`: the manifests as the server would apply them (those absent live
    /// are left as written).
    pub dry_run: Option<Vec<Object>>,
    /// The API server's address.
    pub server: String,
    /// How many requests were made.
    pub requests: usize,
    /// The SHA-256 and size of the live objects as JSON, in address order: what was observed,
    /// for the report and the ledger.
    pub sha256: String,
    pub bytes: u64,
    /// What could not be read, and what was done instead.
    pub warnings: Vec<String>,
}

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("kubeconfig: {0}")]
    Config(String),
    #[error("{server}: {what}: {source}")]
    Api {
        server: String,
        what: String,
        source: Box<kube::Error>,
    },
    #[error(transparent)]
    Object(#[from] driftlog_core::k8s::ObjectError),
    #[error("starting the Kubernetes client: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Read the live objects the manifests need from the cluster (blocking: a runtime of its own).
pub fn read_cluster(
    declared: &[Object],
    options: &ClusterOptions,
) -> Result<ClusterRead, ClusterError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(read(declared, options))
}

async fn config(options: &ClusterOptions) -> Result<Config, ClusterError> {
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &options.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(file, &kube_options).await
        }
        None if options.context.is_some() => Config::from_kubeconfig(&kube_options).await,
        None => {
            return Config::infer()
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))
        }
    };
    config.map_err(|e| ClusterError::Config(e.to_string()))
}

/// One thing to fetch.
#[derive(Debug, Clone)]
enum Fetch {
    List {
        ar: ApiResource,
        namespace: Option<String>,
    },
    Get {
        ar: ApiResource,
        namespace: Option<String>,
        name: String,
    },
    DryRun {
        ar: ApiResource,
        namespace: Option<String>,
        object: Value,
    },
}

async fn read(declared: &[Object], options: &ClusterOptions) -> Result<ClusterRead, ClusterError> {
    let config = config(options).await?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| api_error(&server, "connecting", e))?;
    let mut warnings = Vec::new();

    // Discovery of the groups involved only: `/api`, `/apis`, and their versions.
    let mut groups: BTreeSet<&str> = WATCHED_KINDS.iter().map(|(g, _)| *g).collect();
    groups.extend(declared.iter().map(|o| o.group()));
    let groups: Vec<&str> = groups.into_iter().collect();
    let discovery = Discovery::new(client.clone())
        .filter(&groups)
        .run()
        .await
        .map_err(|e| api_error(&server, "discovering the API", e))?;
    let mut requests = 2 + discovery
        .groups()
        .map(|g| g.versions().count())
        .sum::<usize>();

    // Each declared object's resource: its own version, or the group's preferred one when
    // the cluster no longer serves it (an old `extensions/v1beta1` manifest).
    let namespace_of = |o: &Object, caps: &ApiCapabilities| match caps.scope {
        Scope::Cluster => None,
        Scope::Namespaced => Some(
            o.namespace
                .clone()
                .unwrap_or_else(|| options.default_namespace.clone()),
        ),
    };
    let mut resolved: Vec<Option<(ApiResource, Option<String>)>> = Vec::new();
    let mut unserved: BTreeMap<String, usize> = BTreeMap::new();
    for o in declared {
        let (group, version) = match o.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", o.api_version.as_str()),
        };
        let gvk = GroupVersionKind::gvk(group, version, &o.kind);
        let found = discovery.resolve_gvk(&gvk).or_else(|| {
            let fallback = discovery.get(group)?.recommended_kind(&o.kind)?;
            warnings.push(format!(
                "{} {}: the cluster does not serve {}; read as {}",
                o.kind, o.name, o.api_version, fallback.0.api_version
            ));
            Some(fallback)
        });
        match found {
            Some((ar, caps)) => {
                let ns = namespace_of(o, &caps);
                resolved.push(Some((ar, ns)));
            }
            None => {
                *unserved
                    .entry(format!("{} {}", o.api_version, o.kind))
                    .or_default() += 1;
                resolved.push(None);
            }
        }
    }
    for (what, n) in unserved {
        warnings.push(format!(
            "the cluster does not serve {what}: its {n} declared object(s) are reported deleted"
        ));
    }

    // Namespaces searched: the declared objects', and the watched ones.
    let declared_namespaces: BTreeSet<String> = resolved
        .iter()
        .flatten()
        .filter_map(|(_, ns)| ns.clone())
        .collect();
    let list_namespaces: Option<BTreeSet<String>> = match &options.watched {
        Watched::All => None,
        Watched::Declared => Some(declared_namespaces.clone()),
        Watched::Namespaces(list) => Some(
            declared_namespaces
                .iter()
                .cloned()
                .chain(list.iter().cloned())
                .collect(),
        ),
    };

    // Every namespaced kind declared or watched is listed in those namespaces.
    let mut kinds: BTreeMap<String, ApiResource> = BTreeMap::new();
    for (ar, ns) in resolved.iter().flatten() {
        if ns.is_some() {
            kinds.insert(format!("{}/{}", ar.api_version, ar.plural), ar.clone());
        }
    }
    for (group, kind) in WATCHED_KINDS {
        if let Some((ar, caps)) = discovery.get(group).and_then(|g| g.recommended_kind(kind)) {
            if caps.scope == Scope::Namespaced
                && !kinds
                    .values()
                    .any(|k| k.group == ar.group && k.kind == ar.kind)
            {
                kinds.insert(format!("{}/{}", ar.api_version, ar.plural), ar);
            }
        }
    }
    let mut fetches = Vec::new();
    for ar in kinds.values() {
        match &list_namespaces {
            None => fetches.push(Fetch::List {
                ar: ar.clone(),
                namespace: None,
            }),
            Some(namespaces) => fetches.extend(namespaces.iter().map(|ns| Fetch::List {
                ar: ar.clone(),
                namespace: Some(ns.clone()),
            })),
        }
    }
    let listed = run(&client, &server, fetches, options).await?;
    requests += listed.requests;
    let mut objects = listed.objects;

    // Declared objects no list covered: cluster-scoped ones, and those the selector left out.
    let seen: BTreeSet<(String, String, Option<String>, String)> =
        objects.iter().map(identity).collect();
    let mut gets = Vec::new();
    for (o, r) in declared.iter().zip(&resolved) {
        let Some((ar, ns)) = r else { continue };
        let id = (
            ar.group.clone(),
            ar.kind.clone(),
            ns.clone(),
            o.name.clone(),
        );
        if !seen.contains(&id) {
            gets.push(Fetch::Get {
                ar: ar.clone(),
                namespace: ns.clone(),
                name: o.name.clone(),
            });
        }
    }
    let got = run(&client, &server, gets, options).await?;
    requests += got.requests;
    objects.extend(got.objects);
    objects.sort_by_cached_key(Object::address);
    objects.dedup_by(|a, b| a.address() == b.address());

    // Server-side: each manifest that exists, as the server would apply it.
    let dry_run = if options.server_side {
        let live: BTreeSet<_> = objects.iter().map(identity).collect();
        let mut patches = Vec::new();
        let mut order = Vec::new();
        for (i, (o, r)) in declared.iter().zip(&resolved).enumerate() {
            let Some((ar, ns)) = r else { continue };
            if live.contains(&(
                ar.group.clone(),
                ar.kind.clone(),
                ns.clone(),
                o.name.clone(),
            )) {
                patches.push(Fetch::DryRun {
                    ar: ar.clone(),
                    namespace: ns.clone(),
                    object: o.value.clone(),
                });
                order.push(i);
            }
        }
        let applied = run(&client, &server, patches, options).await?;
        requests += applied.requests;
        warnings.extend(applied.warnings);
        let mut by_index: HashMap<usize, Object> = order.into_iter().zip(applied.dry_run).collect();
        Some(
            declared
                .iter()
                .enumerate()
                .map(|(i, o)| by_index.remove(&i).unwrap_or_else(|| o.clone()))
                .collect(),
        )
    } else {
        None
    };

    let (sha256, bytes) = digest(&objects);
    Ok(ClusterRead {
        objects,
        dry_run,
        server,
        requests,
        sha256,
        bytes,
        warnings,
    })
}

fn digest(objects: &[Object]) -> (String, u64) {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut bytes = 0;
    for o in objects {
        let json = serde_json::to_vec(&o.value).unwrap_or_default();
        bytes += json.len() as u64 + 1;
        hasher.update(&json);
        hasher.update(b"\n");
    }
    (format!("{:x}", hasher.finalize()), bytes)
}

fn identity(o: &Object) -> (String, String, Option<String>, String) {
    (
        group_of(&o.api_version).to_owned(),
        o.kind.clone(),
        o.namespace.clone(),
        o.name.clone(),
    )
}

/// What a batch of fetches gave.
#[derive(Default)]
struct Fetched {
    objects: Vec<Object>,
    /// Dry-run results in the order of the fetches (a refused one is its manifest).
    dry_run: Vec<Object>,
    warnings: Vec<String>,
    requests: usize,
}

/// Run fetches, at most [`CONCURRENCY`] at once; results keep the fetches' order.
async fn run(
    client: &Client,
    server: &str,
    fetches: Vec<Fetch>,
    options: &ClusterOptions,
) -> Result<Fetched, ClusterError> {
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, fetch) in fetches.into_iter().enumerate() {
        let (client, server, limit) = (client.clone(), server.to_owned(), limit.clone());
        let selector = options.selector.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (i, one(&client, &server, fetch, selector.as_deref()).await)
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.map_err(|e| ClusterError::Runtime(std::io::Error::other(e)))?);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut fetched = Fetched::default();
    for (_, result) in results {
        let one = result?;
        fetched.requests += one.requests;
        fetched.objects.extend(one.objects);
        fetched.dry_run.extend(one.dry_run);
        fetched.warnings.extend(one.warnings);
    }
    Ok(fetched)
}

fn api(client: &Client, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

fn api_error(server: &str, what: &str, source: kube::Error) -> ClusterError {
    ClusterError::Api {
        server: server.to_owned(),
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// A live object as JSON, its `apiVersion` and `kind` filled in (list items lack them).
fn object(item: DynamicObject, ar: &ApiResource, origin: &str) -> Result<Object, ClusterError> {
    let mut value = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(ar.api_version.clone()));
        map.entry("kind")
            .or_insert_with(|| Value::String(ar.kind.clone()));
    }
    Ok(Object::new(value, origin)?)
}

async fn one(
    client: &Client,
    server: &str,
    fetch: Fetch,
    selector: Option<&str>,
) -> Result<Fetched, ClusterError> {
    let mut fetched = Fetched::default();
    match fetch {
        Fetch::List { ar, namespace } => {
            let api = api(client, &ar, namespace.as_deref());
            let mut params = ListParams::default().limit(PAGE);
            if let Some(s) = selector {
                params = params.labels(s);
            }
            let what = format!(
                "listing {}{}",
                ar.plural,
                namespace
                    .as_deref()
                    .map(|ns| format!(" in namespace {ns}"))
                    .unwrap_or_default()
            );
            loop {
                let page = match api.list(&params).await {
                    Ok(page) => page,
                    // Not allowed to list a watched kind (RBAC): say so, go on.
                    Err(kube::Error::Api(status)) if status.code == 403 => {
                        fetched
                            .warnings
                            .push(format!("{what}: forbidden ({})", status.message));
                        break;
                    }
                    Err(e) => return Err(api_error(server, &what, e)),
                };
                fetched.requests += 1;
                for item in page.items {
                    fetched.objects.push(object(item, &ar, server)?);
                }
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(token) => params = params.continue_token(&token),
                    None => break,
                }
            }
        }
        Fetch::Get {
            ar,
            namespace,
            name,
        } => {
            let what = format!("getting {} {name}", ar.kind);
            let got = api(client, &ar, namespace.as_deref())
                .get_opt(&name)
                .await
                .map_err(|e| api_error(server, &what, e))?;
            fetched.requests += 1;
            if let Some(item) = got {
                fetched.objects.push(object(item, &ar, server)?);
            }
        }
        Fetch::DryRun {
            ar,
            namespace,
            object: manifest,
        } => {
            let name = manifest
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut body = manifest.clone();
            if let (Some(ns), Some(meta)) = (
                &namespace,
                body.get_mut("metadata").and_then(Value::as_object_mut),
            ) {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            let params = PatchParams::apply("driftlog").force().dry_run();
            fetched.requests += 1;
            let origin = format!("{server} (server-side apply dry run)");
            match api(client, &ar, namespace.as_deref())
                .patch(&name, &params, &Patch::Apply(&body))
                .await
            {
                Ok(applied) => fetched.dry_run.push(object(applied, &ar, &origin)?),
                // A webhook or validation refused it: compare the manifest as written.
                Err(kube::Error::Api(status)) => {
                    fetched.warnings.push(format!(
                        "{} {name}: the server-side apply dry run was refused ({} {}); compared as written",
                        ar.kind, status.code, status.message
                    ));
                    fetched.dry_run.push(Object::new(manifest, server)?);
                }
                Err(e) => {
                    return Err(api_error(
                        server,
                        &format!("server-side apply dry run of {} {name}", ar.kind),
                        e,
                    ))
                }
            }
        }
    }
    Ok(fetched)
}
