//! What a plan says: out-of-band drift (`resource_drift`) and changes that are only pending
//! configuration (`resource_changes`), kept apart so the second is never reported as drift.

use crate::document::Plan;
use crate::error::ReadError;
use crate::schema::{ChangeBody, PlanChange, RelevantAttribute};
use driftlog_core::diff::diff_attributes;
use driftlog_core::engine::{compare_pair, Pair};
use driftlog_core::path::{AttrPath, Segment};
use driftlog_core::sensitive::SensitiveMask;
use driftlog_core::{Finding, FindingKind, PendingChange, SuppressedChange};
use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Shown where a plan does not know a value until apply.
pub const UNKNOWN: &str = "(known after apply)";

#[derive(Debug, Default)]
pub struct PlanScan {
    pub findings: Vec<Finding>,
    pub suppressed: Vec<SuppressedChange>,
    pub not_yet_applied: Vec<PendingChange>,
    /// Managed resources in the plan's prior state plus those deleted (or, without a prior
    /// state, the drifted ones).
    pub resources_scanned: usize,
}

fn parse_raw(
    path: &Path,
    address: &str,
    what: &str,
    raw: Option<&RawValue>,
) -> Result<Value, ReadError> {
    match raw {
        None => Ok(Value::Null),
        Some(r) => serde_json::from_str(r.get()).map_err(|e| ReadError::Invalid {
            path: path.into(),
            message: format!("{address}: change.{what}: {e}"),
        }),
    }
}

/// Before, after and the union of both sides' sensitivity of one change.
fn sides(
    path: &Path,
    address: &str,
    body: &ChangeBody<'_>,
) -> Result<(Value, Value, SensitiveMask), ReadError> {
    let before = parse_raw(path, address, "before", body.before)?;
    let after = parse_raw(path, address, "after", body.after)?;
    let bs = SensitiveMask::from_mirror(&parse_raw(
        path,
        address,
        "before_sensitive",
        body.before_sensitive,
    )?);
    let as_ = SensitiveMask::from_mirror(&parse_raw(
        path,
        address,
        "after_sensitive",
        body.after_sensitive,
    )?);
    Ok((before, after, bs.union(&as_)))
}

fn is_managed(c: &PlanChange<'_>) -> bool {
    c.mode.as_deref().is_none_or(|m| m == "managed")
}

fn actions(c: &PlanChange<'_>) -> Vec<String> {
    c.change.actions.iter().map(|a| a.to_string()).collect()
}

/// Read a plan into findings, suppressed differences and pending changes.
pub fn scan_plan(path: &Path, plan: &Plan<'_>) -> Result<PlanScan, ReadError> {
    let relevant = relevant_paths(&plan.relevant);
    let (drift, prior) = rayon::join(
        || {
            plan.drift
                .par_iter()
                .filter(|c| is_managed(c))
                .map(|c| drift_entry(path, c, relevant.get(c.resolved.as_str())))
                .collect::<Result<Vec<_>, _>>()
        },
        || plan.prior_state_instances(path),
    );
    let mut out = PlanScan::default();
    for (finding, suppressed) in drift? {
        out.findings.extend(finding);
        out.suppressed.extend(suppressed);
    }
    let prior = prior?;
    // A refresh-only plan's prior state is the refreshed one, which no longer lists what was
    // deleted; count those too so the figure matches a state-to-state scan.
    let deleted = out
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Deleted)
        .count();
    out.resources_scanned = if plan.has_prior_state() {
        prior.iter().filter(|i| i.managed).count() + deleted
    } else {
        out.findings.len()
    };
    let drift_by_address: HashMap<&str, &Finding> = out
        .findings
        .iter()
        .map(|f| (f.address.as_str(), f))
        .collect();
    out.not_yet_applied = plan
        .changes
        .iter()
        .filter(|c| is_managed(c))
        .map(|c| pending_entry(path, c, drift_by_address.get(c.resolved.as_str()).copied()))
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
    Ok(out)
}

fn drift_entry(
    path: &Path,
    c: &PlanChange<'_>,
    relevant: Option<&Vec<AttrPath>>,
) -> Result<(Option<Finding>, Vec<SuppressedChange>), ReadError> {
    let address = c.resolved.as_str();
    let acts = actions(c);
    if acts.iter().all(|a| a == "no-op" || a == "read") {
        return Ok((None, Vec::new()));
    }
    // A drift entry is a pair already: `before` as Terraform last recorded it, `after` as the
    // refresh found it. A deletion or an unmanaged resource has one side; a side that does not
    // parse then only costs its identifiers. A change needs both.
    let lenient = |raw: Option<&RawValue>| {
        let value = raw
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
            .unwrap_or(Value::Null);
        (value, SensitiveMask::None)
    };
    let (declared, live) = if acts.iter().any(|a| a == "delete") && c.change.after.is_none() {
        (Some(lenient(c.change.before)), None)
    } else if c.change.before.is_none() {
        (None, Some(lenient(c.change.after)))
    } else {
        // The secrets of both sides go with one of them: `compare_pair` unites the masks.
        let (before, after, mask) = sides(path, address, &c.change)?;
        (Some((before, mask)), Some((after, SensitiveMask::None)))
    };
    let (mut finding, suppressed) = compare_pair(Pair {
        address: address.to_owned(),
        resource_type: c.resource_type.to_string(),
        provider: c.provider_name.as_deref().unwrap_or("").to_owned(),
        deposed: c.deposed.as_deref().map(str::to_owned),
        previous_address: c.previous_address.as_deref().map(str::to_owned),
        declared,
        live,
    });
    if let (Some(f), Some(relevant)) = (finding.as_mut(), relevant) {
        for change in &mut f.changes {
            change.relevant = AttrPath::parse(&change.path)
                .is_some_and(|p| relevant.iter().any(|r| overlaps(&p, r)));
        }
    }
    Ok((finding, suppressed))
}

fn pending_entry(
    path: &Path,
    c: &PlanChange<'_>,
    drift: Option<&Finding>,
) -> Result<Option<PendingChange>, ReadError> {
    let acts = actions(c);
    if acts.iter().all(|a| a == "no-op" || a == "read") {
        return Ok(None);
    }
    let address = c.resolved.as_str();
    let is_update = acts == ["update"];
    let mut changes = Vec::new();
    if is_update {
        let (before, mut after, mask) = sides(path, address, &c.change)?;
        let unknown = SensitiveMask::from_mirror(&parse_raw(
            path,
            address,
            "after_unknown",
            c.change.after_unknown,
        )?);
        mark_unknown(&mut after, &unknown);
        changes = diff_attributes(&c.resource_type, &before, &after, &mask).changes;
        // Reverting drift is implied by the drift finding; what is left is pending config.
        if let Some(drift) = drift {
            changes.retain(|p| {
                !drift
                    .changes
                    .iter()
                    .any(|d| d.path == p.path && d.before == p.after)
            });
        }
        if changes.is_empty() {
            return Ok(None);
        }
    }
    Ok(Some(PendingChange {
        address: address.to_owned(),
        resource_type: c.resource_type.to_string(),
        actions: acts,
        action_reason: c.action_reason.as_deref().map(str::to_owned),
        changes,
    }))
}

/// Put [`UNKNOWN`] wherever `after_unknown` marks a value as not known until apply.
fn mark_unknown(value: &mut Value, unknown: &SensitiveMask) {
    match unknown {
        SensitiveMask::None => {}
        SensitiveMask::All => *value = Value::String(UNKNOWN.to_owned()),
        SensitiveMask::Object(children) => {
            if !value.is_object() {
                *value = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(map) = value {
                for (k, m) in children {
                    mark_unknown(map.entry(k.clone()).or_insert(Value::Null), m);
                }
            }
        }
        SensitiveMask::Array(children) => {
            if let Value::Array(items) = value {
                for (i, m) in children {
                    if let Some(item) = items.get_mut(*i) {
                        mark_unknown(item, m);
                    }
                }
            }
        }
    }
}

fn relevant_paths(attrs: &[RelevantAttribute<'_>]) -> HashMap<String, Vec<AttrPath>> {
    let mut out: HashMap<String, Vec<AttrPath>> = HashMap::new();
    for a in attrs {
        let segments = a
            .attribute
            .iter()
            .filter_map(|step| match step {
                Value::String(s) => Some(Segment::Key(s.clone())),
                Value::Number(n) => n.as_u64().map(|i| Segment::Index(i as usize)),
                _ => None,
            })
            .collect();
        out.entry(a.resource.to_string())
            .or_default()
            .push(AttrPath(segments));
    }
    out
}

/// One path lies within the other.
fn overlaps(a: &AttrPath, b: &AttrPath) -> bool {
    let n = a.0.len().min(b.0.len());
    a.0[..n] == b.0[..n]
}
