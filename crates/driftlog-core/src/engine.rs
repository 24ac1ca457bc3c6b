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
        out.findings.push(Finding {
            address: l.address.clone(),
            resource_type: l.resource_type.clone(),
            provider: l.provider.clone(),
            kind: FindingKind::Unmanaged,
            deposed: l.deposed.clone(),
            previous_address: None,
            changes: Vec::new(),
            identifiers: l
                .parse()
                .map(|(v, _)| identifiers(&l.resource_type, [&v]))
                .unwrap_or_default(),
            attribution: None,
        });
    }
    Ok(out)
}

fn compare_one(
    declared: &ResourceInstance<'_>,
    live: Option<&ResourceInstance<'_>>,
) -> Result<(Option<Finding>, Vec<SuppressedChange>), EngineError> {
    let finding = |kind, changes, identifiers| Finding {
        address: declared.address.clone(),
        resource_type: declared.resource_type.clone(),
        provider: declared.provider.clone(),
        kind,
        deposed: declared.deposed.clone(),
        previous_address: None,
        changes,
        identifiers,
        attribution: None,
    };
    let Some(live) = live else {
        let (before, _) = declared.parse()?;
        let ids = identifiers(&declared.resource_type, [&before]);
        return Ok((
            Some(finding(FindingKind::Deleted, Vec::new(), ids)),
            Vec::new(),
        ));
    };
    if declared.attributes.map(RawValue::get) == live.attributes.map(RawValue::get) {
        return Ok((None, Vec::new()));
    }
    let (before, before_mask) = declared.parse()?;
    let (after, after_mask) = live.parse()?;
    let outcome = diff_attributes(
        &declared.resource_type,
        &before,
        &after,
        &before_mask.union(&after_mask),
    );
    let suppressed = outcome
        .suppressed
        .into_iter()
        .map(|(path, rule)| SuppressedChange {
            address: declared.address.clone(),
            path,
            rule,
        })
        .collect();
    let drift = (!outcome.changes.is_empty()).then(|| {
        let ids = identifiers(&declared.resource_type, [&before, &after]);
        finding(FindingKind::Changed, outcome.changes, ids)
    });
    Ok((drift, suppressed))
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
