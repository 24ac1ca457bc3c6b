//! Live reads: the resources a state declares, read by id from the AWS APIs and projected onto
//! the Terraform AWS provider's (5.x) attribute names, so the same diff engine and normalizers
//! apply; and, optionally, everything of the supported types that exists, so what nobody
//! declared is found.
//!
//! Requests run concurrently under [`pace::Pacer`]; each API object is read once however many
//! resources need it (a group and its rules, a role and its attachments), EC2 objects up to
//! 200 per request, and an EC2 listing done for enumeration also serves the reads.
//! Attributes no projection fills are "not checked": they never drift, and the report lists
//! them. A service or region that refuses (AccessDenied, a region not opted in) becomes an
//! [`Alert`]; the rest completes.

mod clients;
mod ec2;
mod iam;
pub mod pace;
pub mod registry;
pub mod rules;
mod s3;
mod services;

use crate::{AwsError, AwsOptions};
use pace::{CallError, PaceSettings, Pacer};
use registry::{Api, Project, TypeSpec};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Objects read by one request or listing: `(id, projected attributes)`.
pub(crate) type Fetched = Vec<(String, Value)>;

/// What requests need: the pacing and the configuration of one credentials scope.
pub(crate) struct Ctx {
    pacer: Arc<Pacer>,
    configs: Arc<clients::Configs>,
    role: Option<String>,
}

impl Ctx {
    async fn config(&self, region: &str) -> aws_config::SdkConfig {
        self.configs.get(self.role.as_deref(), region).await
    }
}

/// Tags as the provider stores them: a map, sorted.
pub(crate) fn tags<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Value {
    let m: BTreeMap<&str, &str> = pairs
        .filter_map(|(k, v)| Some((k?, v.unwrap_or_default())))
        .collect();
    Value::Object(
        m.into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect(),
    )
}

/// One declared resource to read.
#[derive(Debug, Clone)]
pub struct Target {
    pub tf_type: String,
    /// Its attributes as the state has them (secrets included: they are only compared).
    pub attributes: Value,
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LiveRequest {
    pub targets: Vec<Target>,
    /// Regions to enumerate (and to read resources whose region the state does not say);
    /// empty: the configured region only.
    pub regions: Vec<String>,
    /// List every supported type to find unmanaged resources.
    pub enumerate: bool,
    /// Objects whose existence is asked about (resources the audit logs say were created):
    /// `(type, region, id)`.
    pub probes: Vec<(String, Option<String>, String)>,
    pub pace: Option<PaceSettings>,
}

/// What became of one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// driftlog cannot read this type.
    Unsupported,
    /// The state does not carry the attribute that names the object.
    NoId,
    /// Read: both sides restricted to what could be checked, ready to compare.
    Found { declared: Value, live: Value },
    /// Gone.
    Missing,
    /// The read failed: see the alert.
    Unread { alert: usize },
}

/// A resource that exists, found by listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    pub tf_type: &'static str,
    pub region: String,
    /// The role the listing ran under (another account), if any.
    pub role: Option<String>,
    pub id: String,
    /// Its attributes, as far as the listing says.
    pub attributes: Value,
    /// Why it is left out (an AWS default), when it is.
    pub excluded: Option<String>,
    /// Whether a target declares it.
    pub managed: bool,
}

/// A read that could not be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub service: String,
    pub region: String,
    /// The types the failed requests were for.
    pub resource_types: Vec<String>,
    pub code: String,
    pub message: String,
    /// `denied` (permissions, opt-in regions, unsupported endpoints) or `failed`.
    pub kind: &'static str,
}

/// The whole answer.
#[derive(Debug, Clone, Default)]
pub struct LiveRead {
    pub outcomes: Vec<Outcome>,
    pub discovered: Vec<Discovered>,
    /// Per probe: `Some(true)` exists, `Some(false)` gone, `None` unknown (unsupported or
    /// unreadable).
    pub probes: Vec<Option<bool>>,
    pub alerts: Vec<Alert>,
    pub regions: Vec<String>,
    pub requests: u64,
    pub throttled: u64,
    pub retried: u64,
}

/// Where a live read stands, for a progress bar: `(label, done, total)` tasks.
pub type ProgressFn<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// Every supported type.
pub fn supported_types() -> impl Iterator<Item = &'static str> {
    registry::TYPES.iter().map(|t| t.tf_type)
}

/// Whether an attribute of a type is among those a live read checks.
pub fn checks(tf_type: &str, attribute: &str) -> bool {
    registry::spec(tf_type).is_some_and(|s| registry::is_checked(s, attribute))
}

/// The key by which a resource of `tf_type` named `id` is compared with declared ones (queue
/// URLs by name, since hosts differ between endpoints).
pub fn match_key(tf_type: &str, id: &str) -> Option<String> {
    registry::spec(tf_type).map(|s| s.api.match_key(id))
}

/// Every `(type, key)` the targets declare, including what one resource declares for another
/// type (a bucket with an inline `policy` declares its bucket policy).
pub fn declared_keys(targets: &[Target]) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    for t in targets {
        let Some(spec) = registry::spec(&t.tf_type) else {
            continue;
        };
        let Some(key) = (spec.key)(&t.attributes) else {
            continue;
        };
        let key = spec.api.match_key(&key);
        if t.tf_type == "aws_s3_bucket"
            && t.attributes
                .get("policy")
                .and_then(Value::as_str)
                .is_some_and(|p| !p.is_empty())
        {
            out.insert(("aws_s3_bucket_policy".to_owned(), key.clone()));
        }
        out.insert((t.tf_type.clone(), key));
    }
    out
}

/// The region a declared resource lives in: its `region` attribute (provider 6, buckets),
/// its ARN, its availability zone, else `None`.
pub fn region_of(attrs: &Value) -> Option<String> {
    let text = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(r) = text("region") {
        return Some(r.to_owned());
    }
    if let Some(arn) = text("arn") {
        let region = arn.split(':').nth(3).unwrap_or_default();
        if !region.is_empty() {
            return Some(region.to_owned());
        }
    }
    if let Some(az) = text("availability_zone") {
        let region = az.trim_end_matches(|c: char| c.is_ascii_lowercase());
        if region.len() < az.len() && !region.is_empty() {
            return Some(region.to_owned());
        }
    }
    None
}

/// The account an ARN or `owner_id` names.
fn account_of(attrs: &Value) -> Option<String> {
    let text = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    text("arn")
        .and_then(|a| a.split(':').nth(4))
        .filter(|a| !a.is_empty())
        .or_else(|| text("owner_id"))
        .map(str::to_owned)
}

/// One unit of work: read these ids of one API in one region under one scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Slot {
    role: Option<String>,
    api: Api,
    region: String,
}

/// Read what `request` asks for.
pub fn read(
    options: &AwsOptions,
    request: &LiveRequest,
    progress: ProgressFn<'_>,
) -> Result<LiveRead, AwsError> {
    crate::runtime()?.block_on(read_async(options, request, progress))
}

async fn read_async(
    options: &AwsOptions,
    request: &LiveRequest,
    progress: ProgressFn<'_>,
) -> Result<LiveRead, AwsError> {
    let configs = Arc::new(clients::Configs::load(options).await);
    let pacer = Arc::new(Pacer::new(request.pace.unwrap_or_default()));
    let default_region = configs.default_region();
    let regions: Vec<String> = if request.regions.is_empty() {
        vec![default_region.clone()]
    } else if request.regions.iter().any(|r| r == "all") {
        let ctx = Ctx {
            pacer: pacer.clone(),
            configs: configs.clone(),
            role: None,
        };
        ec2::regions(&ctx, &default_region).await.map_err(|e| {
            AwsError::Live(format!(
                "listing the account's regions (--regions all): {e}"
            ))
        })?
    } else {
        request.regions.clone()
    };
    // IAM answers in one region for the account.
    let global_region = if regions.contains(&default_region) {
        default_region.clone()
    } else {
        regions[0].clone()
    };
    let scope_of = |attrs: &Value| -> Option<String> {
        let account = account_of(attrs)?;
        options
            .role_arns
            .iter()
            .find(|r| r.split(':').nth(4) == Some(account.as_str()))
            .cloned()
    };
    let region_for = |api: Api, attrs: &Value| -> String {
        if api.global() {
            global_region.clone()
        } else {
            region_of(attrs).unwrap_or_else(|| regions[0].clone())
        }
    };

    // What each target needs.
    let mut slots_of_targets: Vec<Option<(Slot, String)>> =
        Vec::with_capacity(request.targets.len());
    let mut wanted: BTreeMap<Slot, HashSet<String>> = BTreeMap::new();
    for t in &request.targets {
        let Some(spec) = registry::spec(&t.tf_type) else {
            slots_of_targets.push(None);
            continue;
        };
        let Some(id) = (spec.key)(&t.attributes) else {
            slots_of_targets.push(None);
            continue;
        };
        let slot = Slot {
            role: scope_of(&t.attributes),
            api: spec.api,
            region: region_for(spec.api, &t.attributes),
        };
        wanted.entry(slot.clone()).or_default().insert(id.clone());
        slots_of_targets.push(Some((slot, id)));
    }
    let mut probe_slots = Vec::with_capacity(request.probes.len());
    for (tf_type, region, id) in &request.probes {
        let Some(spec) = registry::spec(tf_type) else {
            probe_slots.push(None);
            continue;
        };
        let region = if spec.api.global() {
            global_region.clone()
        } else {
            region.clone().unwrap_or_else(|| regions[0].clone())
        };
        let slot = Slot {
            role: None,
            api: spec.api,
            region,
        };
        wanted.entry(slot.clone()).or_default().insert(id.clone());
        probe_slots.push(Some((slot, id.clone())));
    }

    // Listings first: they find what nobody declared, and EC2's serve the reads too.
    let mut listings: Vec<(Slot, &'static TypeSpec)> = Vec::new();
    if request.enumerate {
        let scopes: Vec<Option<String>> = if options.role_arns.is_empty() {
            vec![None]
        } else {
            options.role_arns.iter().cloned().map(Some).collect()
        };
        let mut seen = HashSet::new();
        for role in &scopes {
            for spec in registry::TYPES.iter().filter(|s| s.enumerate) {
                let list_regions: Vec<&String> = if spec.api.global() || spec.api == Api::Bucket {
                    vec![&global_region]
                } else {
                    regions.iter().collect()
                };
                for region in list_regions {
                    let slot = Slot {
                        role: role.clone(),
                        api: spec.api,
                        region: region.clone(),
                    };
                    if seen.insert(slot.clone()) {
                        listings.push((slot, spec));
                    }
                }
            }
        }
    }

    let ctx_for = |role: &Option<String>| Ctx {
        pacer: pacer.clone(),
        configs: configs.clone(),
        role: role.clone(),
    };
    let mut alerts: Vec<Alert> = Vec::new();
    let mut alert_of_slot: HashMap<Slot, usize> = HashMap::new();
    let mut raise =
        |alerts: &mut Vec<Alert>, slot: &Slot, tf_types: Vec<String>, e: CallError| -> usize {
            let (code, message, kind) = match e {
                CallError::Denied { code, message } => (code, message, "denied"),
                CallError::Failed { code, message } => (code, message, "failed"),
                CallError::NotFound(code) => (code, String::new(), "failed"),
            };
            if let Some(&i) = alert_of_slot.get(slot) {
                let a: &mut Alert = &mut alerts[i];
                for t in tf_types {
                    if !a.resource_types.contains(&t) {
                        a.resource_types.push(t);
                    }
                }
                return i;
            }
            alerts.push(Alert {
                service: slot.api.service().to_owned(),
                region: slot.region.clone(),
                resource_types: tf_types,
                code,
                message,
                kind,
            });
            alert_of_slot.insert(slot.clone(), alerts.len() - 1);
            alerts.len() - 1
        };

    let mut listed: HashMap<Slot, Fetched> = HashMap::new();
    {
        let mut set = tokio::task::JoinSet::new();
        for (slot, spec) in &listings {
            let ctx = ctx_for(&slot.role);
            let slot = slot.clone();
            let tf_type = spec.tf_type;
            set.spawn(async move {
                let r = slot.api.list(&ctx, &slot.region).await;
                (slot, tf_type, r)
            });
        }
        let total = listings.len() as u64;
        let mut done = 0;
        while let Some(joined) = set.join_next().await {
            let (slot, tf_type, result) = joined.map_err(|e| AwsError::Runtime(e.to_string()))?;
            done += 1;
            progress(&format!("listing {} {}", slot.region, tf_type), done, total);
            match result {
                Some(Ok(objects)) => {
                    listed.insert(slot, objects);
                }
                Some(Err(e)) => {
                    raise(&mut alerts, &slot, vec![tf_type.to_owned()], e);
                }
                None => {}
            }
        }
    }

    // Then the reads, in batches, skipping what a whole listing already holds.
    let mut fetched: HashMap<Slot, HashMap<String, Value>> = HashMap::new();
    let mut failed: HashMap<Slot, CallError> = HashMap::new();
    let mut tasks: Vec<(Slot, Vec<String>)> = Vec::new();
    for (slot, ids) in &wanted {
        if slot.api.lists_whole() {
            if let Some(objects) = listed.get(slot) {
                fetched.insert(slot.clone(), objects.iter().cloned().collect());
                continue;
            }
        }
        let mut ids: Vec<String> = ids.iter().cloned().collect();
        ids.sort();
        for chunk in ids.chunks(slot.api.batch()) {
            tasks.push((slot.clone(), chunk.to_vec()));
        }
    }
    {
        let mut set = tokio::task::JoinSet::new();
        for (slot, ids) in tasks.iter().cloned() {
            let ctx = ctx_for(&slot.role);
            set.spawn(async move {
                let r = slot.api.fetch(&ctx, &slot.region, &ids).await;
                (slot, r)
            });
        }
        let total = tasks.len() as u64;
        let mut done = 0;
        while let Some(joined) = set.join_next().await {
            let (slot, result) = joined.map_err(|e| AwsError::Runtime(e.to_string()))?;
            done += 1;
            progress(
                &format!("reading {} {}", slot.region, slot.api.service()),
                done,
                total,
            );
            match result {
                Ok(objects) => fetched.entry(slot).or_default().extend(objects),
                Err(e) => {
                    failed.insert(slot, e);
                }
            }
        }
    }

    // Separately declared rules leave their groups on both sides.
    let covered = rules::covered_by_group(
        request
            .targets
            .iter()
            .map(|t| (t.tf_type.as_str(), &t.attributes)),
    );

    let mut outcomes = Vec::with_capacity(request.targets.len());
    for (t, slot) in request.targets.iter().zip(&slots_of_targets) {
        let Some(spec) = registry::spec(&t.tf_type) else {
            outcomes.push(Outcome::Unsupported);
            continue;
        };
        let Some((slot, id)) = slot else {
            outcomes.push(Outcome::NoId);
            continue;
        };
        if let Some(e) = failed.get(slot) {
            let alert = raise(&mut alerts, slot, vec![t.tf_type.clone()], e.clone());
            outcomes.push(Outcome::Unread { alert });
            continue;
        }
        let object = fetched.get(slot).and_then(|m| m.get(id));
        let live = match (object, spec.project) {
            (None, _) => None,
            (Some(o), Project::Same) => Some(o.clone()),
            (Some(o), Project::Part(part)) => part(o, &t.attributes),
        };
        let Some(mut live) = live else {
            outcomes.push(Outcome::Missing);
            continue;
        };
        let mut declared = t.attributes.clone();
        if spec.tf_type == "aws_security_group" {
            let none = HashSet::new();
            let c = covered.get(id.as_str()).unwrap_or(&none);
            rules::adjust_group(&mut declared, c);
            rules::adjust_group(&mut live, c);
        }
        let (declared, live) = comparable(spec, declared, live);
        outcomes.push(Outcome::Found { declared, live });
    }

    let probes = probe_slots
        .iter()
        .map(|p| {
            let (slot, id) = p.as_ref()?;
            if failed.contains_key(slot) {
                return None;
            }
            Some(fetched.get(slot).is_some_and(|m| m.contains_key(id)))
        })
        .collect();

    // What the listings found, and whether a target declares it.
    let mut managed: HashSet<(Option<String>, Api, String, String)> = HashSet::new();
    for (t, slot) in request.targets.iter().zip(&slots_of_targets) {
        if let (Some(spec), Some((slot, id))) = (registry::spec(&t.tf_type), slot) {
            if spec.enumerate {
                let region = if slot.api.global() || slot.api == Api::Bucket {
                    String::new()
                } else {
                    slot.region.clone()
                };
                managed.insert((slot.role.clone(), slot.api, region, slot.api.match_key(id)));
            }
        }
    }
    let mut discovered = Vec::new();
    for (slot, spec) in &listings {
        let Some(objects) = listed.get(slot) else {
            continue;
        };
        let region_key = if slot.api.global() || slot.api == Api::Bucket {
            String::new()
        } else {
            slot.region.clone()
        };
        for (id, attrs) in objects {
            let mut attributes = attrs.clone();
            let mut excluded = None;
            let mut region = slot.region.clone();
            if let Some(m) = attributes.as_object_mut() {
                excluded = m
                    .remove("__default")
                    .and_then(|v| v.as_str().map(str::to_owned));
                if let Some(r) = m
                    .remove("__region")
                    .and_then(|v| v.as_str().map(str::to_owned))
                {
                    region = r;
                }
                m.retain(|k, _| !k.starts_with("__"));
            }
            if slot.api.global() {
                region = "global".into();
            }
            let is_managed = managed.contains(&(
                slot.role.clone(),
                slot.api,
                region_key.clone(),
                slot.api.match_key(id),
            ));
            discovered.push(Discovered {
                tf_type: spec.tf_type,
                region,
                role: slot.role.clone(),
                id: id.clone(),
                attributes,
                excluded,
                managed: is_managed,
            });
        }
    }
    discovered.sort_by(|a, b| (a.tf_type, &a.region, &a.id).cmp(&(b.tf_type, &b.region, &b.id)));

    let mut regions_read: Vec<String> = wanted
        .keys()
        .map(|s| s.region.clone())
        .chain(listings.iter().map(|(s, _)| s.region.clone()))
        .collect();
    regions_read.sort();
    regions_read.dedup();
    let c = &pacer.counters;
    // Nothing answered at all (no credentials, a wrong endpoint): an error, not a report.
    if !alerts.is_empty()
        && c.requests.load(Ordering::Relaxed) > 0
        && fetched.is_empty()
        && listed.is_empty()
    {
        let a = &alerts[0];
        return Err(AwsError::Live(format!(
            "no request succeeded (credentials? --endpoint-url?); the first to fail: {} in {}: {}: {}",
            a.service, a.region, a.code, a.message
        )));
    }
    Ok(LiveRead {
        outcomes,
        discovered,
        probes,
        alerts,
        regions: regions_read,
        requests: c.requests.load(Ordering::Relaxed),
        throttled: c.throttled.load(Ordering::Relaxed),
        retried: c.retried.load(Ordering::Relaxed),
    })
}

/// Both sides restricted to the attributes the projection checks and the state has, with
/// `tags` derived from the live `tags_all` as the provider does: the keys the state has in
/// `tags_all` but not in `tags` come from the provider's `default_tags`.
fn comparable(spec: &TypeSpec, declared: Value, live: Value) -> (Value, Value) {
    let Value::Object(mut d) = declared else {
        return (declared, live);
    };
    let Value::Object(mut l) = live else {
        return (Value::Object(d), live);
    };
    if let Some(all) = l.get("tags_all").and_then(Value::as_object).cloned() {
        let defaults: HashSet<&String> = match (
            d.get("tags_all").and_then(Value::as_object),
            d.get("tags").and_then(Value::as_object),
        ) {
            (Some(da), Some(dt)) => da.keys().filter(|k| !dt.contains_key(*k)).collect(),
            (Some(da), None) => da.keys().collect(),
            _ => HashSet::new(),
        };
        let own: Map<String, Value> = all
            .iter()
            .filter(|(k, _)| !defaults.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        l.insert("tags".into(), Value::Object(own));
    }
    l.retain(|k, _| registry::is_checked(spec, k) && d.contains_key(k));
    d.retain(|k, _| l.contains_key(k));
    (Value::Object(d), Value::Object(l))
}
