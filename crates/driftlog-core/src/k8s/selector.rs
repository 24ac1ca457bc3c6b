//! Label selectors as `kubectl -l` takes them: `app=web`, `tier!=db`, `env in (dev,qa)`,
//! `env notin (prod)`, `canary`, `!canary`, joined by commas.
//!
//! The same string is sent to an API server when listing a cluster; files of `kubectl get`
//! output are filtered with it here, so both sources scope unmanaged objects alike.

use serde_json::Value;
use std::fmt;

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    text: String,
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Why a selector does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label selector `{text}`: {reason}")]
pub struct SelectorError {
    text: String,
    reason: String,
}

impl Selector {
    /// Parse a selector (an empty one selects everything).
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let err = |reason: String| SelectorError {
            text: text.to_owned(),
            reason,
        };
        let mut requirements = Vec::new();
        for part in split_top(text).map_err(err)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(requirement(part).map_err(err)?);
        }
        Ok(Self {
            text: text.to_owned(),
            requirements,
        })
    }

    /// Whether an object (its `metadata.labels`) is selected.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::In(k, vs) => label(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
        })
    }

    /// The selector as given (what is sent to an API server).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Split on commas outside parentheses.
fn split_top(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced `)`")?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed `(`".into());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(label_key(key.trim())?));
    }
    for (op, negate) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = part.split_once(op) {
            let (k, v) = (label_key(k.trim())?, label_value(v.trim())?);
            return Ok(if negate {
                Requirement::NotIn(k, vec![v])
            } else {
                Requirement::In(k, vec![v])
            });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim_start();
        for (op, negate) in [("notin", true), ("in", false)] {
            if let Some(set) = rest.strip_prefix(op) {
                let set = set.trim();
                let inner = set
                    .strip_prefix('(')
                    .and_then(|s| s.strip_suffix(')'))
                    .ok_or_else(|| format!("`{op}` wants a set in parentheses: `{part}`"))?;
                let values = inner
                    .split(',')
                    .map(|v| label_value(v.trim()))
                    .collect::<Result<Vec<_>, _>>()?;
                let key = label_key(key)?;
                return Ok(if negate {
                    Requirement::NotIn(key, values)
                } else {
                    Requirement::In(key, values)
                });
            }
        }
        return Err(format!(
            "expected `key=value`, `key!=value`, `key in (...)`, `key notin (...)`, `key` or `!key`, got `{part}`"
        ));
    }
    Ok(Requirement::Exists(label_key(part)?))
}

fn label_key(k: &str) -> Result<String, String> {
    let name = k.rsplit('/').next().unwrap_or(k);
    if name.is_empty()
        || k.len() > 316
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        return Err(format!("`{k}` is not a label key"));
    }
    Ok(k.to_owned())
}

fn label_value(v: &str) -> Result<String, String> {
    if v.len() > 63
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!("`{v}` is not a label value"));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"labels": labels}})
    }

    #[test]
    fn equality_and_set_requirements() {
        let s = Selector::parse("app=web, tier!=db,env in (dev, qa),canary,!legacy").unwrap();
        assert!(s.matches(&labelled(json!({"app": "web", "env": "qa", "canary": ""}))));
        assert!(!s.matches(&labelled(
            json!({"app": "web", "env": "prod", "canary": ""})
        )));
        assert!(!s.matches(&labelled(json!({"app": "web", "env": "qa"}))));
        assert!(!s.matches(&labelled(
            json!({"app": "web", "env": "qa", "canary": "", "legacy": "y"})
        )));
        assert!(!s.matches(&labelled(
            json!({"app": "web", "env": "qa", "canary": "", "tier": "db"})
        )));
        let s = Selector::parse("env notin (prod),app.kubernetes.io/name==api").unwrap();
        assert!(s.matches(&labelled(json!({"app.kubernetes.io/name": "api"}))));
        assert!(!s.matches(&json!({"metadata": {}})));
        assert!(Selector::parse("").unwrap().matches(&json!({})));
    }

    #[test]
    fn bad_selectors_say_why() {
        for bad in [
            "app=we b",
            "env in dev",
            "env in (dev",
            "a b c",
            "=x",
            "x=)",
        ] {
            let e = Selector::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("label selector `{bad}`:")), "{e}");
        }
    }
}
