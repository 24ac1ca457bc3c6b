//! Ignore rules: `.driftlogignore` files and `--ignore` flags.
//!
//! One rule per line, `#` starts a comment:
//!
//! ```text
//! aws_s3_bucket.logs                          # the whole resource
//! module.legacy.*                             # globs: * and ? (brackets are literal)
//! aws_instance.* tags.LastPatched             # one attribute path (itself a glob)
//! !aws_instance.bastion                       # negation: the last matching rule wins
//! aws_security_group.* ingress expires=2026-12-31 owner=alice reason="until the VPN move"
//! apps/v1/Deployment/shop/* /spec/replicas    # a JSON pointer (Kubernetes; indexes match any item)
//! apps/v1/Deployment/* 'jq:.spec.template.spec.containers[] | select(.name == "istio-proxy")'
//! apps/v1/Deployment/* manager=hpa-controller # changes a field manager last set
//! ```
//!
//! A path is driftlog's own (`spec.template.spec.containers[name=web].image`, a glob), a JSON
//! pointer (`/metadata/labels/team`, what Argo CD's `ignoreDifferences` and Flux take), or a jq
//! path expression after `jq:` (the path subset: `.key`, `."key"`, `["key"]`, `[]`, `[N]`, and
//! `select(.KEY == "VALUE")` after a `[]`). `manager=GLOB` limits a rule to changes whose field
//! the live object's `managedFields` say that manager last set.
//!
//! A rule past its `expires` date stops applying and is reported, so a temporary exception
//! cannot quietly become permanent.

use crate::finding::{Change, Finding, FindingKind};
use crate::glob::Glob;
use crate::time::{self, Bound, Direction, Time};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct Rule {
    pub negated: bool,
    address: Glob,
    path: Option<Glob>,
    path_text: Option<String>,
    pub text: String,
    /// Where the rule was written: `file:line` or `--ignore`.
    pub origin: String,
    /// Applies through this time (a date: through that day, UTC).
    pub expires: Option<Time>,
    pub owner: Option<String>,
    pub reason: Option<String>,
    /// Only changes this field manager last set (Kubernetes `managedFields`).
    manager: Option<Glob>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{origin}: {message}")]
pub struct IgnoreError {
    pub origin: String,
    pub message: String,
}

/// A finding or change left out because of a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IgnoredItem {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub kind: FindingKind,
    pub rule: String,
    pub origin: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A rule that no longer applies because its date has passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpiredRule {
    pub rule: String,
    pub origin: String,
    pub expires: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Split a rule line into whitespace-separated tokens.
pub(crate) fn tokens(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut in_single = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            // Single quotes around a whole word keep it verbatim: a jq path has spaces and
            // double quotes (`'jq:.items[] | select(.name == "web")'`).
            '\'' if in_single => in_single = false,
            c if in_single => current.push(c),
            '\'' if !started && !in_quotes => {
                in_single = true;
                started = true;
            }
            // Quotes group an option's value (`reason="two words"`); elsewhere, as in
            // `aws_subnet.private["a"]`, they are part of the address.
            '"' if in_quotes => in_quotes = false,
            '"' if current.ends_with('=') => in_quotes = true,
            '#' if !in_quotes => break,
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    out.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if in_quotes || in_single {
        return Err("unterminated quote".into());
    }
    if started {
        out.push(current);
    }
    Ok(out)
}

impl Rule {
    /// Parse one line; `Ok(None)` for blank lines and comments.
    pub fn parse(line: &str, origin: &str) -> Result<Option<Rule>, IgnoreError> {
        let err = |message: String| IgnoreError {
            origin: origin.to_owned(),
            message,
        };
        let words = tokens(line).map_err(err)?;
        let Some((first, rest)) = words.split_first() else {
            return Ok(None);
        };
        let (negated, address) = match first.strip_prefix('!') {
            Some(a) => (true, a),
            None => (false, first.as_str()),
        };
        if address.is_empty() {
            return Err(err("expected a resource address glob after '!'".into()));
        }
        let mut rule = Rule {
            negated,
            address: Glob::new(address),
            path: None,
            path_text: None,
            text: line.split('#').next().unwrap_or(line).trim().to_owned(),
            origin: origin.to_owned(),
            expires: None,
            owner: None,
            reason: None,
            manager: None,
        };
        for word in rest {
            match word.split_once('=') {
                Some(("expires", when)) => {
                    // A span would mean something else on every run, so a rule needs a date
                    // or an instant; "now" is never consulted.
                    let parsed = time::parse(when, jiff::Timestamp::UNIX_EPOCH, Bound::End, Direction::Absolute)
                        .map_err(|e| err(format!("expires={when}: {e}")))?;
                    rule.expires = Some(parsed);
                }
                Some(("owner", owner)) => rule.owner = Some(owner.to_owned()),
                Some(("reason", reason)) => rule.reason = Some(reason.to_owned()),
                Some(("manager", manager)) => rule.manager = Some(Glob::new(manager)),
                _ if rule.path.is_none() && (word.starts_with('/') || word.starts_with("jq:")) => {
                    let text = match word.strip_prefix("jq:") {
                        Some(jq) => jq_path(jq).map_err(|e| err(format!("jq path `{jq}`: {e}")))?,
                        None => pointer_path(word),
                    };
                    rule.path = Some(Glob::new(&text));
                    rule.path_text = Some(text);
                }
                Some((key, _)) => {
                    return Err(err(format!("unknown option '{key}=': expected expires=, owner=, reason= or manager=")));
                }
                None if rule.path.is_none() => {
                    rule.path = Some(Glob::new(word));
                    rule.path_text = Some(word.clone());
                }
                None => return Err(err(format!("unexpected '{word}': a rule is ADDRESS [PATH] [expires=YYYY-MM-DD] [owner=NAME] [reason=TEXT]"))),
            }
        }
        Ok(Some(rule))
    }

    fn matches_address(&self, address: &str) -> bool {
        self.address.matches(address)
    }

    /// A rule about the whole resource (no path, no manager).
    fn is_whole(&self) -> bool {
        self.path.is_none() && self.manager.is_none()
    }

    fn matches_change(&self, address: &str, change: &Change) -> bool {
        if !self.matches_address(address) {
            return false;
        }
        if let Some(manager) = &self.manager {
            if !change
                .set_by
                .as_ref()
                .is_some_and(|m| manager.matches(&m.manager))
            {
                return false;
            }
        }
        let path = change.path.as_str();
        match (&self.path, &self.path_text) {
            (None, _) => true,
            (Some(glob), Some(text)) => {
                // The path itself, or anything below what it names (`[*]` globs included).
                glob.matches(path)
                    || path
                        .strip_prefix(text.as_str())
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                    || (text.contains('*')
                        && path
                            .match_indices(['.', '['])
                            .any(|(i, _)| i > 0 && glob.matches(&path[..i])))
            }
            _ => false,
        }
    }

    fn expires_text(&self) -> Option<String> {
        self.expires.map(|t| t.to_string())
    }
}

/// A key as driftlog paths write it: bare after a dot, or quoted in brackets.
fn push_key(out: &mut String, key: &str) {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '*');
    if bare {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push_str(&format!("[{key:?}]"));
    }
}

/// A JSON pointer as a driftlog path glob: `/spec/template/spec/containers/0/image` →
/// `spec.template.spec.containers[*].image` (lists are matched by key, so an index matches any
/// item).
fn pointer_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let key = segment.replace("~1", "/").replace("~0", "~");
        if !key.is_empty() && key.chars().all(|c| c.is_ascii_digit()) {
            out.push_str("[*]");
        } else {
            push_key(&mut out, &key);
        }
    }
    out
}

/// The path subset of jq as a driftlog path glob:
/// `.spec.containers[] | select(.name == "web") | .image` → `spec.containers[name=web].image`.
fn jq_path(expr: &str) -> Result<String, String> {
    let mut out = String::new();
    for stage in expr.split('|').map(str::trim) {
        if let Some(cond) = stage
            .strip_prefix("select(")
            .and_then(|c| c.strip_suffix(')'))
        {
            let (key, value) = cond
                .split_once("==")
                .ok_or("select() wants `.KEY == \"VALUE\"`")?;
            let key = key
                .trim()
                .strip_prefix('.')
                .ok_or("select() wants `.KEY`")?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            if !out.ends_with("[*]") {
                return Err("select() must follow `[]`".into());
            }
            out.truncate(out.len() - 3);
            out.push_str(&format!("[{key}={value}]"));
            continue;
        }
        let mut rest = stage;
        if rest.is_empty() || rest == "." {
            continue;
        }
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("[]") {
                out.push_str("[*]");
                rest = r;
            } else if let Some(r) = rest.strip_prefix("[\"") {
                let end = r.find("\"]").ok_or("unclosed `[\"`")?;
                push_key(&mut out, &r[..end]);
                rest = &r[end + 2..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or("unclosed `[`")?;
                r[..end]
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| format!("`[{}]` is not an index", &r[..end]))?;
                out.push_str("[*]");
                rest = &r[end + 1..];
            } else if let Some(r) = rest.strip_prefix(".\"") {
                let end = r.find('"').ok_or("unclosed `.\"`")?;
                push_key(&mut out, &r[..end]);
                rest = &r[end + 1..];
            } else if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let key = &r[..end];
                if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("unexpected `{rest}`"));
                }
                push_key(&mut out, key);
                rest = &r[end..];
            } else {
                return Err(format!("unexpected `{rest}`"));
            }
        }
    }
    if out.is_empty() {
        return Err("names no field".into());
    }
    Ok(out)
}

/// All rules, in the order written (files first, then flags).
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Parse a whole `.driftlogignore` text; `source` names it in errors.
    pub fn parse_file(text: &str, source: &str) -> Result<Self, IgnoreError> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(rule) = Rule::parse(line, &format!("{source}:{}", n + 1))? {
                rules.push(rule);
            }
        }
        Ok(Self { rules })
    }

    pub fn extend(&mut self, other: IgnoreRules) {
        self.rules.extend(other.rules);
    }

    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// The rules, in the order they apply.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Remove ignored findings and changes. Returns what was ignored and the rules that have
    /// expired as of `now` (those did not apply).
    pub fn apply(
        &self,
        findings: Vec<Finding>,
        now: jiff::Timestamp,
    ) -> (Vec<Finding>, Vec<IgnoredItem>, Vec<ExpiredRule>) {
        let now_us = now.as_microsecond();
        let (active, expired): (Vec<&Rule>, Vec<&Rule>) = self
            .rules
            .iter()
            .partition(|r| r.expires.is_none_or(|t| now_us <= t.us));
        let expired = expired
            .into_iter()
            .map(|r| ExpiredRule {
                rule: r.text.clone(),
                origin: r.origin.clone(),
                expires: r.expires_text().unwrap_or_default(),
                owner: r.owner.clone(),
            })
            .collect();
        let mut kept = Vec::with_capacity(findings.len());
        let mut ignored = Vec::new();
        let record = |f: &Finding, path: Option<String>, r: &Rule| IgnoredItem {
            address: f.address.clone(),
            path,
            kind: f.kind,
            rule: r.text.clone(),
            origin: r.origin.clone(),
            owner: r.owner.clone(),
            expires: r.expires_text(),
        };
        for mut finding in findings {
            let whole = active
                .iter()
                .rev()
                .find(|r| r.is_whole() && r.matches_address(&finding.address));
            if let Some(rule) = whole.filter(|r| !r.negated) {
                ignored.push(record(&finding, None, rule));
                continue;
            }
            if finding.kind == FindingKind::Changed {
                let mut changes = Vec::with_capacity(finding.changes.len());
                for change in std::mem::take(&mut finding.changes) {
                    let decider = active
                        .iter()
                        .rev()
                        .find(|r| r.matches_change(&finding.address, &change));
                    match decider {
                        Some(rule) if !rule.negated => {
                            ignored.push(record(&finding, Some(change.path.clone()), rule))
                        }
                        _ => changes.push(change),
                    }
                }
                finding.changes = changes;
                if finding.changes.is_empty() {
                    continue;
                }
            }
            kept.push(finding);
        }
        (kept, ignored, expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Change;
    use serde_json::json;

    fn finding(address: &str, paths: &[&str]) -> Finding {
        Finding {
            address: address.into(),
            resource_type: "aws_instance".into(),
            provider: "aws".into(),
            kind: FindingKind::Changed,
            deposed: None,
            previous_address: None,
            changes: paths
                .iter()
                .map(|p| Change::new((*p).into(), json!(1), json!(2)))
                .collect(),
            identifiers: Vec::new(),
            attribution: None,
            remediation: None,
            discovery: None,
            stack: None,
        }
    }

    fn today() -> jiff::Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn whole_resource_path_and_negation() {
        let rules = IgnoreRules::parse_file(
            "# comment\naws_instance.* tags.LastPatched\naws_s3_bucket.logs\n!aws_instance.bastion\n",
            ".driftlogignore",
        )
        .unwrap();
        let findings = vec![
            finding("aws_instance.web", &["tags.LastPatched", "instance_type"]),
            finding("aws_instance.bastion", &["tags.LastPatched"]),
            finding("aws_s3_bucket.logs", &["acl"]),
            finding("aws_instance.only_tags", &["tags.LastPatched"]),
        ];
        let (kept, ignored, expired) = rules.apply(findings, today());
        let kept: Vec<(&str, Vec<&str>)> = kept
            .iter()
            .map(|f| {
                (
                    f.address.as_str(),
                    f.changes.iter().map(|c| c.path.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            kept,
            [
                ("aws_instance.web", vec!["instance_type"]),
                ("aws_instance.bastion", vec!["tags.LastPatched"])
            ]
        );
        assert_eq!(ignored.len(), 3);
        assert_eq!(ignored[1].origin, ".driftlogignore:3");
        assert!(expired.is_empty());
    }

    #[test]
    fn a_path_rule_covers_everything_below_it() {
        let rules = IgnoreRules::parse_file("aws_instance.web tags", "f").unwrap();
        let (kept, _, _) = rules.apply(
            vec![finding(
                "aws_instance.web",
                &["tags.Owner", "tags_all.Owner"],
            )],
            today(),
        );
        assert_eq!(kept[0].changes.len(), 1);
        assert_eq!(kept[0].changes[0].path, "tags_all.Owner");
    }

    #[test]
    fn brackets_in_addresses_are_literal() {
        let rules = IgnoreRules::parse_file("aws_subnet.private[\"a\"]", "f").unwrap();
        let (kept, _, _) = rules.apply(
            vec![
                finding("aws_subnet.private[\"a\"]", &["x"]),
                finding("aws_subnet.private[\"b\"]", &["x"]),
            ],
            today(),
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].address, "aws_subnet.private[\"b\"]");
    }

    #[test]
    fn expired_rules_stop_applying_and_are_reported() {
        let rules = IgnoreRules::parse_file(
            "aws_instance.web expires=2026-05-31 owner=alice reason=\"until the move\"\n",
            "f",
        )
        .unwrap();
        let (kept, ignored, expired) =
            rules.apply(vec![finding("aws_instance.web", &["x"])], today());
        assert_eq!(kept.len(), 1);
        assert!(ignored.is_empty());
        assert_eq!(expired[0].expires, "2026-05-31");
        assert_eq!(expired[0].owner.as_deref(), Some("alice"));
        // On the expiry date itself the rule still applies.
        let (kept, _, _) = rules.apply(
            vec![finding("aws_instance.web", &["x"])],
            "2026-05-31T23:59:59Z".parse().unwrap(),
        );
        assert!(kept.is_empty());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = IgnoreRules::parse_file("ok.one\nbad.rule expires=tomorrow", ".driftlogignore")
            .unwrap_err();
        assert_eq!(e.origin, ".driftlogignore:2");
        assert!(
            e.message.contains("not a time: use a date (YYYY-MM-DD)"),
            "{}",
            e.message
        );
        let e = IgnoreRules::parse_file("bad.rule expires=30d", ".driftlogignore").unwrap_err();
        assert!(e.message.contains("is a span"), "{}", e.message);
        assert!(IgnoreRules::parse_file("a b c", "f").is_err());
        assert!(IgnoreRules::parse_file("a color=red", "f").is_err());
        assert!(IgnoreRules::parse_file("a reason=\"open", "f").is_err());
    }

    #[test]
    fn deleted_findings_follow_whole_resource_rules_only() {
        let rules = IgnoreRules::parse_file("aws_instance.gone tags", "f").unwrap();
        let mut f = finding("aws_instance.gone", &[]);
        f.kind = FindingKind::Deleted;
        let (kept, _, _) = rules.apply(vec![f], today());
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn kubernetes_paths_json_pointers_jq_and_managers() {
        assert_eq!(
            pointer_path("/spec/template/spec/containers/0/image"),
            "spec.template.spec.containers[*].image"
        );
        assert_eq!(
            pointer_path("/metadata/annotations/example.com~1owner"),
            "metadata.annotations[\"example.com/owner\"]"
        );
        assert_eq!(
            jq_path(".spec.template.spec.containers[] | select(.name == \"istio-proxy\") | .image")
                .unwrap(),
            "spec.template.spec.containers[name=istio-proxy].image"
        );
        assert_eq!(
            jq_path(".metadata.labels[\"app.kubernetes.io/version\"]").unwrap(),
            "metadata.labels[\"app.kubernetes.io/version\"]"
        );
        assert_eq!(
            jq_path(".spec.ports[0].\"targetPort\"").unwrap(),
            "spec.ports[*].targetPort"
        );
        for bad in ["", ".a | select(.b == 1)", "spec", ".a[x]"] {
            assert!(jq_path(bad).is_err(), "{bad}");
        }

        let mut replicas = Change::new("spec.replicas".into(), json!(2), json!(5));
        replicas.set_by = Some(crate::k8s::FieldManager {
            manager: "hpa-controller".into(),
            operation: "Update".into(),
            subresource: Some("scale".into()),
            time: None,
        });
        let image = Change::new(
            "spec.template.spec.containers[name=istio-proxy].image".into(),
            json!("a"),
            json!("b"),
        );
        let label = Change::new("metadata.labels.team".into(), json!(null), json!("x"));
        let f = Finding {
            changes: vec![replicas, image, label],
            ..finding("apps/v1/Deployment/shop/web", &[])
        };
        let kept_after = |rules: &str| {
            let rules = IgnoreRules::parse_file(rules, "t").unwrap();
            let (kept, _, _) = rules.apply(vec![f.clone()], jiff::Timestamp::UNIX_EPOCH);
            kept.first()
                .map(|f| f.changes.iter().map(|c| c.path.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(
            kept_after("apps/v1/Deployment/* manager=hpa-*"),
            [
                "spec.template.spec.containers[name=istio-proxy].image",
                "metadata.labels.team"
            ]
        );
        assert_eq!(
            kept_after("apps/v1/Deployment/shop/web /spec/template/spec/containers/1"),
            ["spec.replicas", "metadata.labels.team"]
        );
        assert_eq!(
            kept_after(
                "apps/v1/Deployment/* 'jq:.spec.template.spec.containers[] | select(.name == \"istio-proxy\")' # sidecar"
            ),
            ["spec.replicas", "metadata.labels.team"]
        );
        assert_eq!(
            kept_after("apps/v1/Deployment/* /metadata/labels manager=kubectl-*"),
            [
                "spec.replicas",
                "spec.template.spec.containers[name=istio-proxy].image",
                "metadata.labels.team"
            ]
        );
        assert!(kept_after("apps/v1/Deployment/* /metadata/labels\napps/v1/* /spec").is_empty());
        assert!(IgnoreRules::parse_file("a 'jq:.x", "t").is_err());
    }
}
