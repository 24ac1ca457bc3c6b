//! Matching declared instances with live ones and turning each pair into findings.
//!
//! Readers hand over attributes as raw JSON text borrowed from the input. Most resources did not
//! drift, and for them the texts are byte-identical, so the engine compares bytes first and
//! parses only the pairs that differ. The pairs are independent, so they are compared on all
//! cores.

use crate::attribution::identity::identifiers;
use crate::diff::diff_attributes;
use crate::finding::{Finding, FindingKind, SuppressedChange};
use crate::sensitive::{MaskError, SensitiveMask};
use rayon::prelude::*;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;

/// How an instance describes its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskForm {
    /// Raw state: `sensitive_attributes`, a list of paths.
    StatePaths,
    /// `show -json`: `sensitive_values`, a mirror of the value with `true` at secrets.
    Mirror,
}

/// One resource instance as a reader found it.
#[derive(Debug, Clone)]
pub struct ResourceInstance<'a> {
    pub address: String,
    /// Key of a deposed object, if this is one.
    pub deposed: Option<String>,
    pub resource_type: String,
    pub provider: String,
    /// Managed resource (data sources are read, never drift).
    pub managed: bool,
    /// The attributes object, as raw JSON text.
    pub attributes: Option<&'a RawValue>,
    pub sensitive: Option<&'a RawValue>,
    pub mask_form: MaskForm,
}

impl ResourceInstance<'_> {
    fn key(&self) -> (&str, Option<&str>) {
        (&self.address, self.deposed.as_deref())
    }

    /// The attributes as a JSON value, with the paths the state marks sensitive.
    pub fn parse(&self) -> Result<(Value, SensitiveMask), EngineError> {
        let mut attrs = match self.attributes {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|e| EngineError::Attributes {
                address: self.address.clone(),
                message: e.to_string(),
            })?,
            None => Value::Null,
        };
        if self.mask_form == MaskForm::StatePaths {
            crate::normalize::dynamic::unwrap(&mut attrs);
        }
        let mask = match self.sensitive {
            None => SensitiveMask::None,
            Some(raw) => {
                let v: Value =
                    serde_json::from_str(raw.get()).map_err(|e| EngineError::Attributes {
                        address: self.address.clone(),
                        message: e.to_string(),
                    })?;
                match self.mask_form {
                    MaskForm::Mirror => SensitiveMask::from_mirror(&v),
                    MaskForm::StatePaths => {
                        SensitiveMask::from_state_paths(&v).map_err(|e| EngineError::Sensitive {
                            address: self.address.clone(),
                            source: e,
                        })?
                    }
                }
            }
        };
        Ok((attrs, mask))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{address}: attributes are not valid JSON: {message}")]
    Attributes { address: String, message: String },
    #[error("{address}: unreadable sensitive_attributes: {source}")]
    Sensitive { address: String, source: MaskError },
}

/// What comparing two sets of instances found.
#[derive(Debug, Default)]
pub struct Comparison {
    pub findings: Vec<Finding>,
    pub suppressed: Vec<SuppressedChange>,
    /// Managed instances on the declared side.
    pub resources_scanned: usize,
}

/// Compare declared with live instances: changed, deleted, and (since a live state lists what
/// exists) unmanaged instances.
pub fn compare_instances(
    declared: &[ResourceInstance<'_>],
    live: &[ResourceInstance<'_>],
) -> Result<Comparison, EngineError> {
    let live_by_key: HashMap<(&str, Option<&str>), &ResourceInstance<'_>> = live
        .iter()
        .filter(|i| i.managed)
        .map(|i| (i.key(), i))
        .collect();
    let declared_managed: Vec<&ResourceInstance<'_>> =
        declared.iter().filter(|i| i.managed).collect();

    let per_instance: Vec<(Option<Finding>, Vec<SuppressedChange>)> = declared_managed
        .par_iter()
        .map(|d| compare_one(d, live_by_key.get(&d.key()).copied()))
        .collect::<Result<_, _>>()?;

    let mut out = Comparison {
        resources_scanned: declared_managed.len(),
        ..Comparison::default()
    };
    for (finding, suppressed) in per_instance {
        out.findings.extend(finding);
        out.suppressed.extend(suppressed);
    }

    let declared_keys: std::collections::HashSet<(&str, Option<&str>)> =
        declared_managed.iter().map(|i| i.key()).collect();
    for l in live
        .iter()
        .filter(|i| i.managed && !declared_keys.contains(&i.key()))
    {
        // An unmanaged resource whose attributes do not parse is still reported, without
        // identifiers.
        let side = l.parse().unwrap_or((Value::Null, SensitiveMask::None));
        out.findings
            .extend(compare_pair(l.pair(None, Some(side))).0);
    }
    Ok(out)
}

/// One resource instance as both sides have it: the unit every reader hands the engine. A
/// state scan pairs instances by address; a plan's drift entry is a pair already (`before` is
/// the declared side, `after` the live one). A side that is `None` does not exist there: no
/// live side is a deletion, no declared side an unmanaged resource.
#[derive(Debug, Clone)]
pub struct Pair {
    pub address: String,
    pub resource_type: String,
    pub provider: String,
    pub deposed: Option<String>,
    /// Where a moved resource was before (plans).
    pub previous_address: Option<String>,
    pub declared: Option<(Value, SensitiveMask)>,
    pub live: Option<(Value, SensitiveMask)>,
}

/// The one path from a pair to a finding: deleted, unmanaged, or the attributes that changed
/// (with the differences normalizers absorbed), secrets from either side masked.
pub fn compare_pair(pair: Pair) -> (Option<Finding>, Vec<SuppressedChange>) {
    let finding = |kind, changes, identifiers| Finding {
        address: pair.address.clone(),
        resource_type: pair.resource_type.clone(),
        provider: pair.provider.clone(),
        kind,
        deposed: pair.deposed.clone(),
        previous_address: pair.previous_address.clone(),
        changes,
        identifiers,
        attribution: None,
        remediation: None,
        discovery: None,
        stack: None,
    };
    match (&pair.declared, &pair.live) {
        (None, None) => (None, Vec::new()),
        (Some((before, _)), None) => {
            let ids = identifiers(&pair.resource_type, [before]);
            (
                Some(finding(FindingKind::Deleted, Vec::new(), ids)),
                Vec::new(),
            )
        }
        (None, Some((after, _))) => {
            let ids = identifiers(&pair.resource_type, [after]);
            (
                Some(finding(FindingKind::Unmanaged, Vec::new(), ids)),
                Vec::new(),
            )
        }
        (Some((before, before_mask)), Some((after, after_mask))) => {
            let outcome = diff_attributes(
                &pair.resource_type,
                before,
                after,
                &before_mask.union(after_mask),
            );
            let suppressed = outcome
                .suppressed
                .into_iter()
                .map(|(path, rule)| SuppressedChange {
                    address: pair.address.clone(),
                    path,
                    rule,
                })
                .collect();
            let drift = (!outcome.changes.is_empty()).then(|| {
                let ids = identifiers(&pair.resource_type, [before, after]);
                finding(FindingKind::Changed, outcome.changes, ids)
            });
            (drift, suppressed)
        }
    }
}

impl ResourceInstance<'_> {
    /// This instance on one or both sides of a [`Pair`] (its sides as [`ResourceInstance::parse`]
    /// reads them).
    fn pair(
        &self,
        declared: Option<(Value, SensitiveMask)>,
        live: Option<(Value, SensitiveMask)>,
    ) -> Pair {
        Pair {
            address: self.address.clone(),
            resource_type: self.resource_type.clone(),
            provider: self.provider.clone(),
            deposed: self.deposed.clone(),
            previous_address: None,
            declared,
            live,
        }
    }
}

fn compare_one(
    declared: &ResourceInstance<'_>,
    live: Option<&ResourceInstance<'_>>,
) -> Result<(Option<Finding>, Vec<SuppressedChange>), EngineError> {
    let Some(live) = live else {
        return Ok(compare_pair(declared.pair(Some(declared.parse()?), None)));
    };
    // Most resources did not drift: identical bytes need no parsing.
    if declared.attributes.map(RawValue::get) == live.attributes.map(RawValue::get) {
        return Ok((None, Vec::new()));
    }
    Ok(compare_pair(
        declared.pair(Some(declared.parse()?), Some(live.parse()?)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst<'a>(address: &str, attrs: &'a RawValue) -> ResourceInstance<'a> {
        ResourceInstance {
            address: address.into(),
            deposed: None,
            resource_type: "aws_instance".into(),
            provider: "aws".into(),
            managed: true,
            attributes: Some(attrs),
            sensitive: None,
            mask_form: MaskForm::StatePaths,
        }
    }

    #[test]
    fn changed_deleted_unmanaged() {
        let a = RawValue::from_string(r#"{"instance_type":"t3.large"}"#.into()).unwrap();
        let b = RawValue::from_string(r#"{"instance_type":"t3.small"}"#.into()).unwrap();
        let declared = vec![
            inst("aws_instance.a", &a),
            inst("aws_instance.gone", &a),
            inst("aws_instance.same", &a),
        ];
        let live = vec![
            inst("aws_instance.a", &b),
            inst("aws_instance.same", &a),
            inst("aws_instance.new", &a),
        ];
        let c = compare_instances(&declared, &live).unwrap();
        let mut got: Vec<(String, FindingKind)> = c
            .findings
            .iter()
            .map(|f| (f.address.clone(), f.kind))
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("aws_instance.a".to_owned(), FindingKind::Changed),
                ("aws_instance.gone".to_owned(), FindingKind::Deleted),
                ("aws_instance.new".to_owned(), FindingKind::Unmanaged)
            ]
        );
        assert_eq!(c.resources_scanned, 3);
    }
}
