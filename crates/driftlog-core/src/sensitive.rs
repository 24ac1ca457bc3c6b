//! Which parts of a resource's attributes are secret.
//!
//! Terraform says so in two shapes: raw state lists paths (`sensitive_attributes`), while
//! `show -json` and plans mirror the value with `true` at secret leaves (`sensitive_values`,
//! `before_sensitive`, `after_sensitive`). Both become one [`SensitiveMask`] tree. Every value a
//! finding carries passes through [`SensitiveMask::redact`], so a secret can only reach a
//! report, log or store through a bug in this one file.

use serde_json::Value;
use std::collections::BTreeMap;

/// What replaces a secret in every output.
pub const REDACTED: &str = "(sensitive)";

#[derive(Debug, Clone, Default, PartialEq)]
pub enum SensitiveMask {
    /// Nothing below is sensitive.
    #[default]
    None,
    /// Everything below is sensitive.
    All,
    Object(BTreeMap<String, SensitiveMask>),
    Array(BTreeMap<usize, SensitiveMask>),
}

/// Why a sensitivity description could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MaskError {
    #[error("a sensitive_attributes path step is not {{\"type\": \"get_attr\"|\"index\", \"value\": ...}}")]
    BadStep,
}

impl SensitiveMask {
    /// From the mirror form: `true` marks a sensitive subtree, objects and arrays nest.
    pub fn from_mirror(value: &Value) -> Self {
        match value {
            Value::Bool(true) => Self::All,
            Value::Object(map) => {
                let children: BTreeMap<_, _> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), Self::from_mirror(v)))
                    .filter(|(_, m)| !m.is_none())
                    .collect();
                if children.is_empty() {
                    Self::None
                } else {
                    Self::Object(children)
                }
            }
            Value::Array(items) => {
                let children: BTreeMap<_, _> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i, Self::from_mirror(v)))
                    .filter(|(_, m)| !m.is_none())
                    .collect();
                if children.is_empty() {
                    Self::None
                } else {
                    Self::Array(children)
                }
            }
            _ => Self::None,
        }
    }

    /// From raw state's `sensitive_attributes`: a list of paths, each a list of steps
    /// `{"type":"get_attr","value":"password"}` or `{"type":"index","value":{"value":0,"type":"number"}}`.
    pub fn from_state_paths(paths: &Value) -> Result<Self, MaskError> {
        let mut mask = Self::None;
        let Some(paths) = paths.as_array() else {
            return Ok(mask);
        };
        for path in paths {
            let steps = path.as_array().ok_or(MaskError::BadStep)?;
            let mut node = Self::All;
            for step in steps.iter().rev() {
                let kind = step
                    .get("type")
                    .and_then(Value::as_str)
                    .ok_or(MaskError::BadStep)?;
                let value = step.get("value").ok_or(MaskError::BadStep)?;
                node = match kind {
                    "get_attr" => {
                        let name = value.as_str().ok_or(MaskError::BadStep)?;
                        Self::Object(BTreeMap::from([(name.to_owned(), node)]))
                    }
                    "index" => {
                        let key = value.get("value").ok_or(MaskError::BadStep)?;
                        match key {
                            Value::String(s) => Self::Object(BTreeMap::from([(s.clone(), node)])),
                            Value::Number(n) => {
                                let i = n.as_u64().ok_or(MaskError::BadStep)? as usize;
                                Self::Array(BTreeMap::from([(i, node)]))
                            }
                            _ => return Err(MaskError::BadStep),
                        }
                    }
                    _ => return Err(MaskError::BadStep),
                };
            }
            mask = mask.union(&node);
        }
        Ok(mask)
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }

    /// True if anything at or below this node is sensitive.
    pub fn any(&self) -> bool {
        !self.is_none()
    }

    pub fn child_key(&self, key: &str) -> &SensitiveMask {
        match self {
            Self::All => &Self::All,
            Self::Object(map) => map.get(key).unwrap_or(&Self::None),
            _ => &Self::None,
        }
    }

    pub fn child_index(&self, index: usize) -> &SensitiveMask {
        match self {
            Self::All => &Self::All,
            Self::Array(map) => map.get(&index).unwrap_or(&Self::None),
            // Sets and maps are sometimes described by key where values are listed by index.
            _ => &Self::None,
        }
    }

    /// Everything sensitive in either mask.
    pub fn union(&self, other: &SensitiveMask) -> SensitiveMask {
        match (self, other) {
            (Self::All, _) | (_, Self::All) => Self::All,
            (Self::None, m) | (m, Self::None) => m.clone(),
            (Self::Object(a), Self::Object(b)) => {
                let mut out = a.clone();
                for (k, m) in b {
                    let merged = out
                        .get(k)
                        .map_or_else(|| m.clone(), |existing| existing.union(m));
                    out.insert(k.clone(), merged);
                }
                Self::Object(out)
            }
            (Self::Array(a), Self::Array(b)) => {
                let mut out = a.clone();
                for (k, m) in b {
                    let merged = out
                        .get(k)
                        .map_or_else(|| m.clone(), |existing| existing.union(m));
                    out.insert(*k, merged);
                }
                Self::Array(out)
            }
            // An object mask against an array mask means the shapes disagree: fail safe.
            _ => Self::All,
        }
    }

    /// A copy of `value` with every sensitive part replaced by [`REDACTED`].
    pub fn redact(&self, value: &Value) -> Value {
        match (self, value) {
            (Self::None, v) => v.clone(),
            (Self::All, Value::Null) => Value::Null,
            (Self::All, _) => Value::String(REDACTED.to_owned()),
            (Self::Object(masks), Value::Object(map)) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            masks.get(k).map_or_else(|| v.clone(), |m| m.redact(v)),
                        )
                    })
                    .collect(),
            ),
            (Self::Array(masks), Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| masks.get(&i).map_or_else(|| v.clone(), |m| m.redact(v)))
                    .collect(),
            ),
            // Shape mismatch between mask and value: never guess, hide it.
            (_, Value::Null) => Value::Null,
            (_, _) => Value::String(REDACTED.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_paths_become_a_mask() {
        let paths = json!([[{"type": "get_attr", "value": "password"}],
                           [{"type": "get_attr", "value": "nested"}, {"type": "index", "value": {"value": 1, "type": "number"}}]]);
        let mask = SensitiveMask::from_state_paths(&paths).unwrap();
        let value = json!({"password": "hunter2", "user": "app", "nested": ["a", "b"]});
        assert_eq!(
            mask.redact(&value),
            json!({"password": REDACTED, "user": "app", "nested": ["a", REDACTED]})
        );
    }

    #[test]
    fn mirror_form_and_union() {
        let a = SensitiveMask::from_mirror(&json!({"password": true, "tags": {}}));
        let b = SensitiveMask::from_mirror(&json!({"token": true}));
        let both = a.union(&b);
        assert!(both.child_key("password").is_all());
        assert!(both.child_key("token").is_all());
        assert!(both.child_key("tags").is_none());
        assert!(SensitiveMask::from_mirror(&json!({"tags": {}, "x": false})).is_none());
    }

    #[test]
    fn bad_steps_are_errors() {
        assert!(
            SensitiveMask::from_state_paths(&json!([[{"type": "weird", "value": 1}]])).is_err()
        );
        assert!(SensitiveMask::from_state_paths(&json!([["password"]])).is_err());
    }

    #[test]
    fn shape_mismatch_hides_the_value() {
        let mask = SensitiveMask::from_mirror(&json!({"a": true}));
        assert_eq!(mask.redact(&json!("secret")), json!(REDACTED));
    }
}
