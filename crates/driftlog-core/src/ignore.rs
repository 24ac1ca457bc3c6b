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
//! ```
//!
//! A rule past its `expires` date stops applying and is reported, so a temporary exception
//! cannot quietly become permanent.

use crate::finding::{Finding, FindingKind};
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
    let mut started = false;
    for c in line.chars() {
        match c {
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
    if in_quotes {
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
                Some((key, _)) => {
                    return Err(err(format!("unknown option '{key}=': expected expires=, owner= or reason=")));
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

    fn matches_change(&self, address: &str, path: &str) -> bool {
        if !self.matches_address(address) {
            return false;
        }
        match (&self.path, &self.path_text) {
            (None, _) => true,
            (Some(glob), Some(text)) => {
                glob.matches(path)
                    || path
                        .strip_prefix(text.as_str())
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            }
            _ => false,
        }
    }

    fn expires_text(&self) -> Option<String> {
        self.expires.map(|t| t.to_string())
    }
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
                .find(|r| r.path.is_none() && r.matches_address(&finding.address));
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
                        .find(|r| r.matches_change(&finding.address, &change.path));
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
}
