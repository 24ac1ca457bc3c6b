//! Environments compared: the same configuration applied as dev, staging and prod, and what
//! differs between them.
//!
//! Resources are matched by address (module path, type, name and `count`/`for_each` key), since
//! one configuration produced them all. Before values are compared, what only says which
//! environment a value lives in is taken out ([`normalize`]); then every pair of environments
//! is compared with the same normalizers as a scan (policies, sets, null vs empty). Each
//! attribute path that still differs is reported with every environment's value, grouped into
//! classes of equal values, and judged expected or not by the rules ([`rules`]). Secrets are
//! compared but never shown: their cells carry only the group.

pub mod normalize;
pub mod rules;

use crate::attribution::identity::identifiers;
use crate::diff::diff_attributes;
use crate::engine::{EngineError, ResourceInstance};
use crate::normalize::{canonical, Context};
use crate::path::{AttrPath, Segment};
use crate::report::InputFile;
use crate::sensitive::SensitiveMask;
use normalize::{drop_computed, EnvProfile};
use rayon::prelude::*;
use rules::ExpectRules;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The version of `driftlog compare -f json`. A major number changes on any incompatible
/// change; fields are only ever added within one.
pub const FORMAT_VERSION: &str = "1.0";

/// One environment as read: its profile and its state's resource instances.
pub struct Environment<'a> {
    pub profile: EnvProfile,
    pub input: InputFile,
    pub instances: Vec<ResourceInstance<'a>>,
}

/// What `driftlog compare` found.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub format_version: &'static str,
    pub driftlog_version: &'static str,
    pub environments: Vec<EnvironmentSummary>,
    pub summary: CompareSummary,
    /// Resources missing from some environment or with attributes that differ, by address.
    pub resources: Vec<ResourceDifferences>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentSummary {
    pub name: String,
    pub input: InputFile,
    /// Managed resource instances in its state.
    pub resources: usize,
    /// The words, account ids and regions taken to mean "this environment" in values.
    pub tokens: Vec<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompareSummary {
    /// Distinct addresses across all environments.
    pub resources: usize,
    pub in_every_environment: usize,
    pub missing_somewhere: usize,
    /// Resources with at least one attribute difference.
    pub differing: usize,
    /// Attribute differences plus missing resources, split by the rules' verdict.
    pub expected: usize,
    pub unexpected: usize,
}

impl CompareReport {
    pub fn has_unexpected(&self) -> bool {
        self.summary.unexpected > 0
    }

    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.iter().map(|e| e.name.as_str()).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceDifferences {
    pub address: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Environments without this resource (empty when every one has it).
    pub missing_from: Vec<String>,
    /// Whether a rule allows it to be missing there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_expected: Option<Expectation>,
    pub differences: Vec<Difference>,
    /// Per environment (in order), the identifiers its copy of the resource has (ids, ARNs,
    /// names): what audit events are matched on.
    pub identifiers: Vec<Vec<String>>,
}

impl ResourceDifferences {
    pub fn missing_is_unexpected(&self) -> bool {
        !self.missing_from.is_empty() && self.missing_expected.is_none()
    }
}

/// One attribute path whose values differ between environments.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub path: String,
    /// The value is secret in some environment: cells show only which environments share it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sensitive: bool,
    /// One per environment, in the order the environments were given.
    pub cells: Vec<Cell>,
    /// The rule that makes this difference expected; `None`: unexpected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expectation>,
    /// For a set-typed attribute: how many elements every environment has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<usize>,
}

/// One environment's value at a path.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub env: String,
    /// The environment has the resource.
    pub present: bool,
    /// The value as the state has it (null when absent, missing or secret).
    pub value: Value,
    /// Environments with equal values (after normalization) share a group, numbered from 0 in
    /// environment order. `None` where the resource is missing.
    pub group: Option<usize>,
    /// For a set-typed attribute: the elements not every environment has (the rest are in
    /// `shared`), so a long set shows only what tells the environments apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unshared: Option<Vec<Value>>,
    /// Who last changed this attribute here, when the audit logs say (filled by the app layer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<crate::cause::Attribution>,
}

/// The rule behind an expected difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expectation {
    pub rule: String,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl From<&rules::ExpectRule> for Expectation {
    fn from(r: &rules::ExpectRule) -> Self {
        Self {
            rule: r.text.clone(),
            origin: r.origin.clone(),
            reason: r.reason.clone(),
            owner: r.owner.clone(),
        }
    }
}

/// Compare the environments (two or more). Account ids and regions are learned from each
/// environment's own state first, then every address is compared on all cores.
pub fn compare_environments(
    mut envs: Vec<Environment<'_>>,
    rules: &ExpectRules,
    warnings: Vec<String>,
) -> Result<CompareReport, EngineError> {
    for env in &mut envs {
        let (accounts, regions) = env
            .instances
            .par_iter()
            .filter(|i| i.managed)
            .filter_map(|i| i.attributes)
            .fold(EnvProfile::default, |mut p, raw| {
                p.learn_raw(raw.get());
                p
            })
            .map(|p| (p.accounts, p.regions))
            .reduce(Default::default, |(mut a, mut r), (a2, r2)| {
                a.extend(a2);
                r.extend(r2);
                (a, r)
            });
        env.profile.accounts.extend(accounts);
        env.profile.regions.extend(regions);
    }
    let index: Vec<HashMap<&str, &ResourceInstance<'_>>> = envs
        .iter()
        .map(|e| {
            e.instances
                .iter()
                .filter(|i| i.managed && i.deposed.is_none())
                .map(|i| (i.address.as_str(), i))
                .collect()
        })
        .collect();
    let addresses: BTreeSet<&str> = index.iter().flat_map(|m| m.keys().copied()).collect();
    let addresses: Vec<&str> = addresses.into_iter().collect();
    let found: Vec<Option<ResourceDifferences>> = addresses
        .par_iter()
        .map(|address| compare_resource(address, &envs, &index, rules))
        .collect::<Result<_, _>>()?;
    let resources: Vec<ResourceDifferences> = found.into_iter().flatten().collect();

    let mut summary = CompareSummary {
        resources: addresses.len(),
        ..CompareSummary::default()
    };
    for r in &resources {
        if !r.missing_from.is_empty() {
            summary.missing_somewhere += 1;
            match r.missing_expected {
                Some(_) => summary.expected += 1,
                None => summary.unexpected += 1,
            }
        }
        if !r.differences.is_empty() {
            summary.differing += 1;
        }
        for d in &r.differences {
            match d.expected {
                Some(_) => summary.expected += 1,
                None => summary.unexpected += 1,
            }
        }
    }
    summary.in_every_environment = summary.resources - summary.missing_somewhere;
    let environments = envs
        .iter()
        .zip(&index)
        .map(|(e, m)| EnvironmentSummary {
            name: e.profile.name.clone(),
            input: e.input.clone(),
            resources: m.len(),
            tokens: e.profile.tokens.clone(),
            accounts: e.profile.accounts.iter().cloned().collect(),
            regions: e.profile.regions.iter().cloned().collect(),
        })
        .collect();
    Ok(CompareReport {
        format_version: FORMAT_VERSION,
        driftlog_version: env!("CARGO_PKG_VERSION"),
        environments,
        summary,
        resources,
        warnings,
    })
}

/// One environment's copy of a resource: as stated, normalized, and its secrets.
struct Side {
    original: Value,
    normalized: Value,
    mask: SensitiveMask,
}

fn compare_resource(
    address: &str,
    envs: &[Environment<'_>],
    index: &[HashMap<&str, &ResourceInstance<'_>>],
    rules: &ExpectRules,
) -> Result<Option<ResourceDifferences>, EngineError> {
    let instances: Vec<Option<&ResourceInstance<'_>>> =
        index.iter().map(|m| m.get(address).copied()).collect();
    let Some(first) = instances.iter().flatten().next() else {
        return Ok(None);
    };
    let resource_type = first.resource_type.as_str();
    let missing: Vec<&str> = instances
        .iter()
        .zip(envs)
        .filter(|(i, _)| i.is_none())
        .map(|(_, e)| e.profile.name.as_str())
        .collect();

    // Each copy normalized; most resources differ in nothing else, and for them the values
    // as stated are never needed (parsed again below only for those that differ).
    let mut normalized: Vec<Option<(Value, SensitiveMask)>> = Vec::with_capacity(instances.len());
    for (instance, env) in instances.iter().zip(envs) {
        normalized.push(match instance {
            None => None,
            Some(i) => {
                let (mut value, mask) = i.parse()?;
                drop_computed(resource_type, &mut value);
                env.profile.normalize(&mut value);
                Some((value, mask))
            }
        });
    }
    let present: Vec<usize> = (0..normalized.len())
        .filter(|k| normalized[*k].is_some())
        .collect();
    let (base_value, base_mask) = normalized[present[0]].as_ref().expect("present");
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for &k in &present[1..] {
        let (value, mask) = normalized[k].as_ref().expect("present");
        if value == base_value {
            continue;
        }
        let outcome = diff_attributes(resource_type, base_value, value, &base_mask.union(mask));
        paths.extend(outcome.changes.into_iter().map(|c| c.path));
    }
    // `tags_all.X` mirrors `tags.X` where both differ: reported once, under `tags`.
    let mirrored: Vec<String> = paths
        .iter()
        .filter_map(|p| p.strip_prefix("tags_all"))
        .filter(|rest| paths.contains(&format!("tags{rest}")))
        .map(|rest| format!("tags_all{rest}"))
        .collect();
    for p in mirrored {
        paths.remove(&p);
    }
    if paths.is_empty() && missing.is_empty() {
        return Ok(None);
    }
    let mut sides: Vec<Option<Side>> = Vec::with_capacity(instances.len());
    for (instance, n) in instances.iter().zip(normalized) {
        sides.push(match (instance, n) {
            (Some(i), Some((normalized, mask))) => Some(Side {
                original: i.parse()?.0,
                normalized,
                mask,
            }),
            _ => None,
        });
    }

    let mut differences = Vec::new();
    for path_text in paths {
        let Some(path) = AttrPath::parse(&path_text) else {
            continue;
        };
        let ctx = Context {
            resource_type,
            path: &path,
        };
        let mut keys: Vec<String> = Vec::new();
        let mut cells = Vec::with_capacity(sides.len());
        let mut sensitive = false;
        for (side, env) in sides.iter().zip(envs) {
            let name = env.profile.name.clone();
            let Some(side) = side else {
                cells.push(Cell {
                    env: name,
                    present: false,
                    value: Value::Null,
                    group: None,
                    unshared: None,
                    last_change: None,
                });
                continue;
            };
            let key = canonical(&ctx, value_at(&side.normalized, &path)).to_string();
            let group = match keys.iter().position(|k| *k == key) {
                Some(g) => g,
                None => {
                    keys.push(key);
                    keys.len() - 1
                }
            };
            let secret = is_sensitive(&side.mask, &path);
            sensitive |= secret;
            cells.push(Cell {
                env: name,
                present: true,
                value: if secret {
                    Value::Null
                } else {
                    value_at(&side.original, &path).clone()
                },
                group: Some(group),
                unshared: None,
                last_change: None,
            });
        }
        if keys.len() < 2 {
            continue;
        }
        let shared = if sensitive || !crate::normalize::sets::is_set(&ctx) {
            None
        } else {
            split_set(&ctx, &sides, &mut cells)
        };
        // Rules compare the values themselves (`prod>staging`), secrets included: the verdict
        // says nothing a group number does not.
        let judged: Vec<(&str, usize, &Value)> = sides
            .iter()
            .zip(&cells)
            .filter_map(|(side, c)| {
                let side = side.as_ref()?;
                Some((c.env.as_str(), c.group?, value_at(&side.original, &path)))
            })
            .collect();
        let expected = rules
            .expect_difference(address, &path_text, &judged)
            .map(Expectation::from);
        differences.push(Difference {
            path: path_text,
            sensitive,
            cells,
            expected,
            shared,
        });
    }
    if missing.is_empty() && differences.is_empty() {
        return Ok(None);
    }
    Ok(Some(ResourceDifferences {
        address: address.to_owned(),
        resource_type: resource_type.to_owned(),
        missing_from: missing.iter().map(|m| (*m).to_owned()).collect(),
        missing_expected: if missing.is_empty() {
            None
        } else {
            rules
                .expect_absence(address, &missing)
                .map(Expectation::from)
        },
        differences,
        identifiers: sides
            .iter()
            .map(|s| match s {
                Some(s) => identifiers(resource_type, [&s.original]),
                None => Vec::new(),
            })
            .collect(),
    }))
}

/// For a set-typed attribute, fill each cell's `unshared` elements (those some environment
/// lacks, compared in canonical normalized form) and return how many every environment has.
/// `None` when a value is not a list.
fn split_set(ctx: &Context<'_>, sides: &[Option<Side>], cells: &mut [Cell]) -> Option<usize> {
    let element_path = ctx.path.index(0);
    let element = Context {
        resource_type: ctx.resource_type,
        path: &element_path,
    };
    let empty = Vec::new();
    // Per present environment: (original elements, their canonical texts).
    let mut per_env: Vec<Option<(&Vec<Value>, Vec<String>)>> = Vec::with_capacity(sides.len());
    for side in sides {
        per_env.push(match side {
            None => None,
            Some(side) => {
                let original = match value_at(&side.original, ctx.path) {
                    Value::Array(items) => items,
                    Value::Null => &empty,
                    _ => return None,
                };
                let normalized = match value_at(&side.normalized, ctx.path) {
                    Value::Array(items) => items,
                    Value::Null => &empty,
                    _ => return None,
                };
                if original.len() != normalized.len() {
                    return None;
                }
                let keys = normalized
                    .iter()
                    .map(|v| canonical(&element, v).to_string())
                    .collect();
                Some((original, keys))
            }
        });
    }
    let present: Vec<&(&Vec<Value>, Vec<String>)> = per_env.iter().flatten().collect();
    let shared: BTreeSet<&String> = present
        .first()?
        .1
        .iter()
        .filter(|k| present.iter().all(|(_, keys)| keys.contains(k)))
        .collect();
    for (cell, env) in cells.iter_mut().zip(&per_env) {
        if let Some((original, keys)) = env {
            cell.unshared = Some(
                original
                    .iter()
                    .zip(keys)
                    .filter(|(_, k)| !shared.contains(k))
                    .map(|(v, _)| v.clone())
                    .collect(),
            );
        }
    }
    Some(shared.len())
}

static NULL: Value = Value::Null;

fn value_at<'v>(value: &'v Value, path: &AttrPath) -> &'v Value {
    let mut v = value;
    for segment in &path.0 {
        v = match (segment, v) {
            (Segment::Key(k), Value::Object(map)) => map.get(k).unwrap_or(&NULL),
            (Segment::Index(i), Value::Array(items)) => items.get(*i).unwrap_or(&NULL),
            _ => return &NULL,
        };
    }
    v
}

fn is_sensitive(mask: &SensitiveMask, path: &AttrPath) -> bool {
    let mut m = mask;
    for segment in &path.0 {
        if m.is_all() {
            return true;
        }
        m = match segment {
            Segment::Key(k) => m.child_key(k),
            Segment::Index(i) => m.child_index(*i),
        };
    }
    m.any()
}

#[cfg(test)]
mod tests;
