//! Differences between environments that are by design: `.driftlog-compare` files and
//! `--expect` flags.
//!
//! One rule per line, `#` starts a comment:
//!
//! ```text
//! aws_instance.*            instance_type                        # may differ anywhere
//! aws_autoscaling_group.*   desired_capacity
//! module.db.*               allocated_storage  prod>staging      # prod is the bigger one
//! aws_instance.*            tags.*             dev!=prod         # only dev and prod may differ
//! aws_instance.bastion      (exists)           staging,prod      # no bastion there
//! aws_wafv2_web_acl.*       rule               prod reason="prod-only WAF rules" owner=sec
//! ```
//!
//! The attribute path is a glob and also covers everything under it. Without environments a
//! rule lets every environment differ; with them, only the listed pairs (`A!=B`), every pair
//! that includes `A` (`A`), or a pair whose numbers are in the stated order (`A>B`, `A>=B`,
//! `A<B`, `A<=B`; a pair in the wrong order stays unexpected). `(exists)` says the resource
//! may be missing from the listed environments (or from any). A difference is expected when
//! every pair of environments it separates is covered by some rule.

use crate::glob::Glob;
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{origin}: {message}")]
pub struct RuleError {
    pub origin: String,
    pub message: String,
}

/// How two environments' values may relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Differs,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// Which environments a rule speaks of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSpec {
    /// `A`: any pair that includes A (for `(exists)`: A may lack the resource).
    One(String),
    /// `A>B` and friends.
    Pair(String, Relation, String),
}

#[derive(Debug, Clone)]
pub struct ExpectRule {
    address: Glob,
    /// `None` for `(exists)`.
    path: Option<Glob>,
    path_text: String,
    /// Empty: every environment.
    pub envs: Vec<EnvSpec>,
    pub text: String,
    /// `file:line` or `--expect`.
    pub origin: String,
    pub reason: Option<String>,
    pub owner: Option<String>,
}

/// The keyword that makes a rule about presence instead of an attribute.
pub const EXISTS: &str = "(exists)";

impl ExpectRule {
    /// Parse one line; `Ok(None)` for blank lines and comments.
    pub fn parse(line: &str, origin: &str) -> Result<Option<Self>, RuleError> {
        let err = |message: String| RuleError {
            origin: origin.to_owned(),
            message,
        };
        let words = crate::ignore::tokens(line).map_err(err)?;
        let Some((address, rest)) = words.split_first() else {
            return Ok(None);
        };
        let usage = "a rule is ADDRESS PATH [ENVIRONMENTS] [reason=TEXT] [owner=NAME]";
        let Some((path, rest)) = rest.split_first() else {
            return Err(err(format!(
                "'{address}' needs an attribute path (or {EXISTS}): {usage}"
            )));
        };
        // Shown beside each difference it allows: the rule's words, one space apart.
        let text: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !w.starts_with("reason=") && !w.starts_with("owner="))
            .collect();
        let mut rule = ExpectRule {
            address: Glob::new(address),
            path: (path != EXISTS).then(|| Glob::new(path)),
            path_text: path.clone(),
            envs: Vec::new(),
            text: text.join(" "),
            origin: origin.to_owned(),
            reason: None,
            owner: None,
        };
        let mut envs_seen = false;
        for word in rest {
            match word.split_once('=') {
                Some(("reason", r)) => rule.reason = Some(r.to_owned()),
                Some(("owner", o)) => rule.owner = Some(o.to_owned()),
                Some((key, _)) if !key.ends_with(['!', '<', '>']) => {
                    return Err(err(format!(
                        "unknown option '{key}=': expected reason= or owner="
                    )))
                }
                _ if envs_seen => {
                    return Err(err(format!("unexpected '{word}': {usage}")));
                }
                _ => {
                    envs_seen = true;
                    for item in word.split(',').filter(|i| !i.is_empty()) {
                        rule.envs.push(parse_env(item).map_err(err)?);
                    }
                }
            }
        }
        if rule.path.is_none() && rule.envs.iter().any(|e| matches!(e, EnvSpec::Pair(..))) {
            return Err(err(format!(
                "{EXISTS} takes environment names (where the resource may be missing), not pairs"
            )));
        }
        Ok(Some(rule))
    }

    fn matches(&self, address: &str, path: Option<&str>) -> bool {
        if !self.address.matches(address) {
            return false;
        }
        match (&self.path, path) {
            (None, None) => true,
            (Some(glob), Some(path)) => {
                glob.matches(path)
                    || path
                        .strip_prefix(self.path_text.as_str())
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            }
            _ => false,
        }
    }

    /// Whether this rule allows environments `a` and `b` to differ, given their values.
    fn covers(&self, a: &str, va: &Value, b: &str, vb: &Value) -> bool {
        if self.envs.is_empty() {
            return true;
        }
        self.envs.iter().any(|spec| match spec {
            EnvSpec::One(e) => e == a || e == b,
            EnvSpec::Pair(x, rel, y) => {
                let (vx, vy) = if (x.as_str(), y.as_str()) == (a, b) {
                    (va, vb)
                } else if (x.as_str(), y.as_str()) == (b, a) {
                    (vb, va)
                } else {
                    return false;
                };
                let ordered = |f: fn(f64, f64) -> bool| {
                    number(vx).zip(number(vy)).is_some_and(|(x, y)| f(x, y))
                };
                match rel {
                    Relation::Differs => true,
                    Relation::Greater => ordered(|x, y| x > y),
                    Relation::GreaterOrEqual => ordered(|x, y| x >= y),
                    Relation::Less => ordered(|x, y| x < y),
                    Relation::LessOrEqual => ordered(|x, y| x <= y),
                }
            }
        })
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.envs.iter().flat_map(|e| match e {
            EnvSpec::One(a) => vec![a.as_str()],
            EnvSpec::Pair(a, _, b) => vec![a.as_str(), b.as_str()],
        })
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_env(item: &str) -> Result<EnvSpec, String> {
    for (op, rel) in [
        (">=", Relation::GreaterOrEqual),
        ("<=", Relation::LessOrEqual),
        ("!=", Relation::Differs),
        (">", Relation::Greater),
        ("<", Relation::Less),
    ] {
        if let Some((a, b)) = item.split_once(op) {
            if a.is_empty() || b.is_empty() {
                return Err(format!("'{item}': expected ENV{op}ENV"));
            }
            return Ok(EnvSpec::Pair(a.to_owned(), rel, b.to_owned()));
        }
    }
    Ok(EnvSpec::One(item.to_owned()))
}

/// All rules, in the order written (files first, then flags).
#[derive(Debug, Clone, Default)]
pub struct ExpectRules {
    rules: Vec<ExpectRule>,
}

impl ExpectRules {
    /// Parse a whole `.driftlog-compare` text; `source` names it in errors.
    pub fn parse_file(text: &str, source: &str) -> Result<Self, RuleError> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(rule) = ExpectRule::parse(line, &format!("{source}:{}", n + 1))? {
                rules.push(rule);
            }
        }
        Ok(Self { rules })
    }

    pub fn push(&mut self, rule: ExpectRule) {
        self.rules.push(rule);
    }

    pub fn extend(&mut self, other: ExpectRules) {
        self.rules.extend(other.rules);
    }

    pub fn rules(&self) -> &[ExpectRule] {
        &self.rules
    }

    /// A warning for each rule that names an environment not among `names`: a typo would
    /// otherwise make a rule silently cover nothing, while one rules file serves comparisons
    /// of any subset of the environments.
    pub fn unknown_environments(&self, names: &[String]) -> Vec<String> {
        let mut warnings = Vec::new();
        for rule in &self.rules {
            let mut unknown: Vec<&str> = Vec::new();
            for n in rule.names() {
                if !names.iter().any(|m| m == n) && !unknown.contains(&n) {
                    unknown.push(n);
                }
            }
            if !unknown.is_empty() {
                warnings.push(format!(
                    "{}: names {}, not among the environments compared ({}); that part of the rule applies to nothing",
                    rule.origin,
                    unknown.join(", "),
                    names.join(", ")
                ));
            }
        }
        warnings
    }

    /// The rule that makes an attribute difference expected, if every pair of environments
    /// it separates is covered. `cells` are `(environment, group, value)` for the environments
    /// that have the resource; a group is an equivalence class of values.
    pub fn expect_difference(
        &self,
        address: &str,
        path: &str,
        cells: &[(&str, usize, &Value)],
    ) -> Option<&ExpectRule> {
        let matching: Vec<&ExpectRule> = self
            .rules
            .iter()
            .filter(|r| r.matches(address, Some(path)))
            .collect();
        let first = *matching.first()?;
        for (i, (a, ga, va)) in cells.iter().enumerate() {
            for (b, gb, vb) in &cells[i + 1..] {
                if ga != gb && !matching.iter().any(|r| r.covers(a, va, b, vb)) {
                    return None;
                }
            }
        }
        Some(first)
    }

    /// The rule that lets the resource be missing from every one of `missing`, if any.
    pub fn expect_absence(&self, address: &str, missing: &[&str]) -> Option<&ExpectRule> {
        let matching: Vec<&ExpectRule> = self
            .rules
            .iter()
            .filter(|r| r.matches(address, None))
            .collect();
        let first = *matching.first()?;
        missing
            .iter()
            .all(|m| {
                matching.iter().any(|r| {
                    r.envs.is_empty() || r.envs.iter().any(|e| e == &EnvSpec::One((*m).to_owned()))
                })
            })
            .then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(text: &str) -> ExpectRules {
        ExpectRules::parse_file(text, ".driftlog-compare").unwrap()
    }

    #[test]
    fn a_rule_without_environments_covers_every_pair() {
        let r = rules("aws_instance.* instance_type\n");
        let (a, b, c) = (json!("t3.micro"), json!("m5.large"), json!("t3.small"));
        let cells = [("dev", 0, &a), ("staging", 1, &c), ("prod", 2, &b)];
        assert!(r
            .expect_difference("aws_instance.web", "instance_type", &cells)
            .is_some());
        assert!(r
            .expect_difference("aws_instance.web", "ami", &cells)
            .is_none());
        assert!(r
            .expect_difference("aws_s3_bucket.x", "instance_type", &cells)
            .is_none());
    }

    #[test]
    fn ordered_pairs_hold_only_in_their_order() {
        let r = rules("module.db.* allocated_storage prod>staging\n");
        let (small, big) = (json!(20), json!(100));
        let ok = [("staging", 0, &small), ("prod", 1, &big)];
        let wrong = [("staging", 0, &big), ("prod", 1, &small)];
        let addr = "module.db.aws_db_instance.main";
        assert!(r
            .expect_difference(addr, "allocated_storage", &ok)
            .is_some());
        assert!(r
            .expect_difference(addr, "allocated_storage", &wrong)
            .is_none());
        // dev differs too, and no rule covers dev.
        let three = [
            ("dev", 0, &small),
            ("staging", 0, &small),
            ("prod", 1, &big),
        ];
        assert!(r
            .expect_difference(addr, "allocated_storage", &three)
            .is_none());
    }

    #[test]
    fn one_environment_and_unordered_pairs() {
        let r = rules("aws_instance.* tags dev\naws_instance.* ami dev!=prod\n");
        let (x, y) = (json!("a"), json!("b"));
        let dev_alone = [("dev", 0, &x), ("staging", 1, &y), ("prod", 1, &y)];
        assert!(r
            .expect_difference("aws_instance.w", "tags.Owner", &dev_alone)
            .is_some());
        let staging_alone = [("dev", 1, &y), ("staging", 0, &x), ("prod", 1, &y)];
        assert!(r
            .expect_difference("aws_instance.w", "tags.Owner", &staging_alone)
            .is_none());
        let pair = [("dev", 0, &x), ("prod", 1, &y)];
        assert!(r
            .expect_difference("aws_instance.w", "ami", &pair)
            .is_some());
        let other = [("staging", 0, &x), ("prod", 1, &y)];
        assert!(r
            .expect_difference("aws_instance.w", "ami", &other)
            .is_none());
    }

    #[test]
    fn presence() {
        let r = rules("aws_instance.bastion (exists) staging,prod reason=\"dev only\"\n");
        assert!(r
            .expect_absence("aws_instance.bastion", &["prod"])
            .is_some());
        assert!(r.expect_absence("aws_instance.bastion", &["dev"]).is_none());
        assert!(r.expect_absence("aws_instance.web", &["prod"]).is_none());
        assert_eq!(r.rules()[0].reason.as_deref(), Some("dev only"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = ExpectRules::parse_file("\naws_instance.*\n", "f").unwrap_err();
        assert_eq!(e.origin, "f:2");
        let e = ExpectRules::parse_file("a b prod>\n", "f").unwrap_err();
        assert!(e.message.contains("ENV>ENV"), "{e}");
        let e = ExpectRules::parse_file("a (exists) prod>dev\n", "f").unwrap_err();
        assert!(e.message.contains("not pairs"), "{e}");
        let e = ExpectRules::parse_file("a b expires=2026-01-01\n", "f").unwrap_err();
        assert!(e.message.contains("unknown option"), "{e}");
        let r = rules("a b prod>stagin\n");
        let w = r.unknown_environments(&["dev".into(), "staging".into(), "prod".into()]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with(".driftlog-compare:1: names stagin, not among"),
            "{w:?}"
        );
    }
}
