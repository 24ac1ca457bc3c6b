//! Field paths inside a Kubernetes object, as people read them:
//! `spec.template.spec.containers[name=web].image`, `metadata.labels["app.kubernetes.io/name"]`,
//! `spec.ports[port=443,protocol=TCP].targetPort`.
//!
//! Lists whose items have a merge key (containers by `name`, ports by number and protocol) are
//! addressed by that key, never by position: a container moved in the list is the same
//! container, and a path still names it after the list is reordered.

use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    /// A list item by position (lists without a merge key).
    Index(usize),
    /// A list item by its merge key fields and their values.
    Item(Vec<(String, Value)>),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldPath(pub Vec<Step>);

impl FieldPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        self.with(Step::Key(key.to_owned()))
    }

    pub fn index(&self, index: usize) -> Self {
        self.with(Step::Index(index))
    }

    pub fn item(&self, fields: Vec<(String, Value)>) -> Self {
        self.with(Step::Item(fields))
    }

    fn with(&self, step: Step) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        Self(steps)
    }

    /// The object keys along the path (list steps left out): what the per-kind tables match.
    pub fn keys(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|s| match s {
                Step::Key(k) => Some(k.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            Step::Key(k) => Some(k.as_str()),
            _ => None,
        })
    }

    /// The keys joined by dots, list steps as `[]`: `spec.template.spec.containers[].image`.
    /// The per-kind default table is written in this form.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for step in &self.0 {
            match step {
                Step::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Step::Index(_) | Step::Item(_) => out.push_str("[]"),
            }
        }
        out
    }
}

impl FieldPath {
    /// Read the display form back (`spec.containers[name=web].image`,
    /// `metadata.labels["a.b/c"]`, `args[2]`): attribution and ignore rules get paths as
    /// text. Item values that read as integers are numbers (`[containerPort=80,protocol=TCP]`).
    pub fn parse(text: &str) -> Option<Self> {
        let mut steps = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                if let Some(quoted) = after.strip_prefix('"') {
                    let end = quoted.find("\"]")?;
                    steps.push(Step::Key(quoted[..end].replace("\\\"", "\"")));
                    rest = &quoted[end + 2..];
                } else {
                    let end = after.find(']')?;
                    let inner = &after[..end];
                    if let Ok(n) = inner.parse::<usize>() {
                        steps.push(Step::Index(n));
                    } else {
                        let mut fields = Vec::new();
                        for pair in inner.split(',') {
                            let (name, value) = pair.split_once('=')?;
                            let value = match value.parse::<i64>() {
                                Ok(n) => Value::from(n),
                                Err(_) => Value::String(value.to_owned()),
                            };
                            fields.push((name.to_owned(), value));
                        }
                        steps.push(Step::Item(fields));
                    }
                    rest = &after[end + 1..];
                }
            } else {
                let body = rest.strip_prefix('.').unwrap_or(rest);
                let end = body.find(['.', '[']).unwrap_or(body.len());
                if end == 0 {
                    return None;
                }
                steps.push(Step::Key(body[..end].to_owned()));
                rest = &body[end..];
            }
        }
        Some(Self(steps))
    }

    /// The value at this path inside `value`: `Some(None)` when the path ends in a present
    /// object that lacks the last key (so a full object says the field is absent), `None` when
    /// the value does not reach that far.
    pub fn resolve<'v>(&self, value: &'v Value) -> Option<Option<&'v Value>> {
        let mut at = value;
        for (i, step) in self.0.iter().enumerate() {
            let last = i + 1 == self.0.len();
            let next = match step {
                Step::Key(k) => {
                    let map = at.as_object()?;
                    match map.get(k) {
                        Some(v) => v,
                        None if last => return Some(None),
                        None => return None,
                    }
                }
                Step::Index(n) => at.as_array()?.get(*n)?,
                Step::Item(fields) => {
                    let found = at.as_array()?.iter().find(|item| {
                        fields.iter().all(|(name, want)| match item.get(name) {
                            Some(v) => super::normalize::scalars_equal(v, want),
                            None => name == "protocol" && want == "TCP",
                        })
                    });
                    match found {
                        Some(v) => v,
                        None if last => return Some(None),
                        None => return None,
                    }
                }
            };
            at = next;
        }
        Some(Some(at))
    }
}

fn is_bare(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if is_bare(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Key(k) => write!(f, "[\"{}\"]", k.replace('"', "\\\""))?,
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Item(fields) => {
                    f.write_str("[")?;
                    for (n, (name, value)) in fields.iter().enumerate() {
                        if n > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{name}={}", scalar_text(value))?;
                    }
                    f.write_str("]")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_like_kubectl_explain() {
        let p = FieldPath::root()
            .key("spec")
            .key("template")
            .key("spec")
            .key("containers")
            .item(vec![("name".into(), json!("web"))])
            .key("image");
        assert_eq!(
            p.to_string(),
            "spec.template.spec.containers[name=web].image"
        );
        assert_eq!(p.pattern(), "spec.template.spec.containers[].image");
        let l = FieldPath::root()
            .key("metadata")
            .key("labels")
            .key("app.kubernetes.io/name");
        assert_eq!(l.to_string(), "metadata.labels[\"app.kubernetes.io/name\"]");
        let port = FieldPath::root().key("spec").key("ports").item(vec![
            ("port".into(), json!(443)),
            ("protocol".into(), json!("TCP")),
        ]);
        assert_eq!(port.to_string(), "spec.ports[port=443,protocol=TCP]");
        for path in [&p, &l, &port] {
            assert_eq!(FieldPath::parse(&path.to_string()).as_ref(), Some(path));
        }
    }

    #[test]
    fn resolves_in_patches_and_objects() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}],
            "containers": [{"name": "web", "image": "nginx:1.27"}]}}}});
        let image = FieldPath::parse("spec.template.spec.containers[name=web].image").unwrap();
        assert_eq!(image.resolve(&patch), Some(Some(&json!("nginx:1.27"))));
        let command = FieldPath::parse("spec.template.spec.containers[name=web].command").unwrap();
        assert_eq!(command.resolve(&patch), Some(None));
        let other = FieldPath::parse("spec.template.spec.containers[name=api].image").unwrap();
        assert_eq!(other.resolve(&patch), None);
        let port = FieldPath::parse("spec.ports[port=80,protocol=TCP].targetPort").unwrap();
        assert_eq!(
            port.resolve(&json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}})),
            Some(Some(&json!(8080)))
        );
    }
}
