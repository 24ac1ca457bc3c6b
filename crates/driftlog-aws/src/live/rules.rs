//! Security-group rules, which Terraform lets you declare three ways: inline in the group
//! (`ingress`/`egress` blocks), as `aws_security_group_rule`, or as
//! `aws_vpc_security_group_{ingress,egress}_rule`. AWS stores them all as permissions of the
//! group. Each rule is broken into atoms (direction, protocol, ports, one source); a group is
//! compared only on the atoms no separate resource declares, regrouped the same way on both
//! sides, so a rule declared separately is never reported as drift of its group, nor as
//! unmanaged (driftctl's classic false alarm, research note `aws-live.md`).

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// One source of one rule: `(egress, protocol, from, to, kind, value)`.
pub type Atom = (bool, String, i64, i64, &'static str, String);

/// Protocols as the provider stores them (`all` and `-1` are the same).
pub fn protocol(p: &str) -> String {
    match p.to_ascii_lowercase().as_str() {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        "all" | "-1" | "" => "-1".into(),
        other => other.to_owned(),
    }
}

fn port(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

fn header(
    egress: bool,
    proto: &str,
    from: Option<&Value>,
    to: Option<&Value>,
) -> (bool, String, i64, i64) {
    let proto = protocol(proto);
    if proto == "-1" {
        (egress, proto, 0, 0)
    } else {
        (egress, proto, port(from), port(to))
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const SOURCES: [(&str, &str); 4] = [
    ("cidr_blocks", "cidr"),
    ("ipv6_cidr_blocks", "ipv6"),
    ("prefix_list_ids", "prefix"),
    ("security_groups", "group"),
];

/// The atoms of one inline block (or of an `aws_security_group_rule`, whose shape is close),
/// each with its description.
fn block_atoms(egress: bool, block: &Value, group_field: &str) -> Vec<(Atom, String)> {
    let (e, proto, from, to) = header(
        egress,
        block
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("-1"),
        block.get("from_port"),
        block.get("to_port"),
    );
    let description = block
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut out = Vec::new();
    for (field, kind) in SOURCES {
        let field = if kind == "group" { group_field } else { field };
        let values = if field == "source_security_group_id" {
            block
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(|s| vec![s.to_owned()])
                .unwrap_or_default()
        } else {
            strings(block.get(field))
        };
        for v in values {
            out.push(((e, proto.clone(), from, to, kind, v), description.clone()));
        }
    }
    if block.get("self").and_then(Value::as_bool) == Some(true) {
        out.push(((e, proto, from, to, "self", String::new()), description));
    }
    out
}

/// The atoms a separately declared rule resource covers (`None`: not a rule type).
pub fn declared_rule_atoms(tf_type: &str, attrs: &Value) -> Option<(String, Vec<Atom>)> {
    let group = attrs.get("security_group_id")?.as_str()?.to_owned();
    let atoms = match tf_type {
        "aws_security_group_rule" => {
            let egress = attrs.get("type").and_then(Value::as_str) == Some("egress");
            block_atoms(egress, attrs, "source_security_group_id")
                .into_iter()
                .map(|(a, _)| a)
                .collect()
        }
        "aws_vpc_security_group_ingress_rule" | "aws_vpc_security_group_egress_rule" => {
            let egress = tf_type.ends_with("egress_rule");
            vpc_rule_atom(egress, attrs).into_iter().collect()
        }
        _ => return None,
    };
    Some((group, atoms))
}

fn vpc_rule_atom(egress: bool, attrs: &Value) -> Option<Atom> {
    let (e, proto, from, to) = header(
        egress,
        attrs
            .get("ip_protocol")
            .and_then(Value::as_str)
            .unwrap_or("-1"),
        attrs.get("from_port"),
        attrs.get("to_port"),
    );
    let text = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (kind, value) = if let Some(c) = text("cidr_ipv4") {
        ("cidr", c)
    } else if let Some(c) = text("cidr_ipv6") {
        ("ipv6", c)
    } else if let Some(p) = text("prefix_list_id") {
        ("prefix", p)
    } else if let Some(g) = text("referenced_security_group_id") {
        if Some(g.as_str()) == attrs.get("security_group_id").and_then(Value::as_str) {
            ("self", String::new())
        } else {
            ("group", g)
        }
    } else {
        return None;
    };
    Some((e, proto, from, to, kind, value))
}

/// A group's `ingress` or `egress` without the atoms in `covered`, regrouped one block per
/// protocol, ports and description, lists sorted: the same shape whichever way each side
/// grouped them.
pub fn regroup(egress: bool, blocks: Option<&Value>, covered: &HashSet<Atom>) -> Value {
    group_atoms(
        blocks
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|block| block_atoms(egress, block, "security_groups"))
            .filter(|(atom, _)| !covered.contains(atom)),
    )
}

/// Rule blocks in the provider's shape from atoms and their descriptions: one block per
/// protocol, ports and description, sources sorted. Both what AWS holds (`ec2`) and what a
/// state declares ([`regroup`]) take this shape.
pub fn group_atoms(atoms: impl IntoIterator<Item = (Atom, String)>) -> Value {
    let mut groups: BTreeMap<(String, i64, i64, String), Map<String, Value>> = BTreeMap::new();
    for (atom, description) in atoms {
        let (_, proto, from, to, kind, value) = atom;
        let entry = groups
            .entry((proto.clone(), from, to, description.clone()))
            .or_insert_with(|| {
                let Value::Object(m) = json!({
                    "cidr_blocks": [], "description": description, "from_port": from,
                    "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": proto,
                    "security_groups": [], "self": false, "to_port": to,
                }) else {
                    unreachable!()
                };
                m
            });
        let field = match kind {
            "cidr" => "cidr_blocks",
            "ipv6" => "ipv6_cidr_blocks",
            "prefix" => "prefix_list_ids",
            "group" => "security_groups",
            _ => {
                entry.insert("self".into(), Value::Bool(true));
                continue;
            }
        };
        if let Some(Value::Array(list)) = entry.get_mut(field) {
            list.push(Value::String(value));
        }
    }
    Value::Array(
        groups
            .into_values()
            .map(|mut m| {
                for (field, _) in SOURCES {
                    if let Some(Value::Array(list)) = m.get_mut(field) {
                        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                        list.dedup();
                    }
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Apply [`regroup`] to a group's attributes (declared or live), leaving out `covered`.
pub fn adjust_group(attrs: &mut Value, covered: &HashSet<Atom>) {
    for (field, egress) in [("ingress", false), ("egress", true)] {
        if attrs.get(field).is_some() {
            let v = regroup(egress, attrs.get(field), covered);
            attrs[field] = v;
        }
    }
}

/// Atoms covered by separate rule resources, by group id.
pub fn covered_by_group<'a>(
    declared: impl Iterator<Item = (&'a str, &'a Value)>,
) -> HashMap<String, HashSet<Atom>> {
    let mut out: HashMap<String, HashSet<Atom>> = HashMap::new();
    for (tf_type, attrs) in declared {
        if let Some((group, atoms)) = declared_rule_atoms(tf_type, attrs) {
            out.entry(group).or_default().extend(atoms);
        }
    }
    out
}

/// An `aws_security_group_rule` as its group has it: the declared rule with only the sources
/// still present (and the live description); `None` when none is.
pub fn legacy_rule(group: &Value, declared: &Value) -> Option<Value> {
    let egress = declared.get("type").and_then(Value::as_str) == Some("egress");
    let field = if egress { "egress" } else { "ingress" };
    let live: HashMap<Atom, String> = group
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|b| block_atoms(egress, b, "security_groups"))
        .map(|(mut atom, d)| {
            if atom.4 == "self" {
                atom.5.clear();
            }
            (atom, d)
        })
        .collect();
    let own = group.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut out = declared.clone();
    let mut present = 0;
    let mut description = None;
    let (e, p, f, t) = header(
        egress,
        declared
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("-1"),
        declared.get("from_port"),
        declared.get("to_port"),
    );
    for (list, kind) in [
        ("cidr_blocks", "cidr"),
        ("ipv6_cidr_blocks", "ipv6"),
        ("prefix_list_ids", "prefix"),
    ] {
        let kept: Vec<Value> = strings(declared.get(list))
            .into_iter()
            .filter_map(|v| {
                let d = live.get(&(e, p.clone(), f, t, kind, v.clone()))?;
                description.get_or_insert_with(|| d.clone());
                Some(Value::String(v))
            })
            .collect();
        present += kept.len();
        if out.get(list).is_some() {
            out[list] = Value::Array(kept);
        }
    }
    if let Some(src) = declared
        .get("source_security_group_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let kind = if src == own { "self" } else { "group" };
        let value = if kind == "self" {
            String::new()
        } else {
            src.to_owned()
        };
        match live.get(&(e, p.clone(), f, t, kind, value)) {
            Some(d) => {
                present += 1;
                description.get_or_insert_with(|| d.clone());
            }
            None => out["source_security_group_id"] = json!(""),
        }
    }
    if declared.get("self").and_then(Value::as_bool) == Some(true) {
        match live.get(&(e, p, f, t, "self", String::new())) {
            Some(d) => {
                present += 1;
                description.get_or_insert_with(|| d.clone());
            }
            None => out["self"] = json!(false),
        }
    }
    if present == 0 {
        return None;
    }
    if let Some(d) = description {
        if out.get("description").is_some() || !d.is_empty() {
            out["description"] = json!(d);
        }
    }
    Some(out)
}

fn vpc_rule(object: &Value, egress: bool) -> Option<Value> {
    if object.get("__egress").and_then(Value::as_bool) != Some(egress) {
        return None;
    }
    let mut v = object.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("__egress");
    }
    Some(v)
}

pub fn ingress_rule(object: &Value, _declared: &Value) -> Option<Value> {
    vpc_rule(object, false)
}

pub fn egress_rule(object: &Value, _declared: &Value) -> Option<Value> {
    vpc_rule(object, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separately_declared_rules_leave_the_group_and_grouping_does_not_matter() {
        // Declared inline as one block of two CIDRs; AWS (and the provider) may hold them as
        // two blocks; one SSH rule is declared as its own resource.
        let declared = json!([{"cidr_blocks": ["10.0.0.0/8", "0.0.0.0/0"], "description": "", "from_port": 443,
            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp", "security_groups": [],
            "self": false, "to_port": 443}]);
        let live = json!([
            {"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 443, "ipv6_cidr_blocks": [],
             "prefix_list_ids": [], "protocol": "6", "security_groups": [], "self": false, "to_port": 443},
            {"cidr_blocks": ["10.0.0.0/8"], "description": "", "from_port": 443, "ipv6_cidr_blocks": [],
             "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": false, "to_port": 443},
            {"cidr_blocks": ["192.0.2.0/24"], "description": "ssh", "from_port": 22, "ipv6_cidr_blocks": [],
             "prefix_list_ids": [], "protocol": "tcp", "security_groups": [], "self": false, "to_port": 22}]);
        let rule = json!({"type": "ingress", "security_group_id": "sg-1", "protocol": "tcp",
            "from_port": 22, "to_port": 22, "cidr_blocks": ["192.0.2.0/24"], "description": "ssh"});
        let covered = covered_by_group([("aws_security_group_rule", &rule)].into_iter());
        let c = &covered["sg-1"];
        assert_eq!(
            regroup(false, Some(&declared), c),
            regroup(false, Some(&live), c)
        );
        // Without knowing about the separate rule, the group would differ.
        assert_ne!(
            regroup(false, Some(&declared), &HashSet::new()),
            regroup(false, Some(&live), &HashSet::new())
        );
        // And the rule itself is found in the group.
        let group = json!({"id": "sg-1", "ingress": live});
        let seen = legacy_rule(&group, &rule).unwrap();
        assert_eq!(seen["cidr_blocks"], json!(["192.0.2.0/24"]));
        let gone = json!({"id": "sg-1", "ingress": []});
        assert!(legacy_rule(&gone, &rule).is_none());
    }

    #[test]
    fn a_vpc_rule_resource_covers_its_atom() {
        let rule = json!({"security_group_id": "sg-1", "ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0",
            "from_port": null, "to_port": null});
        let (group, atoms) =
            declared_rule_atoms("aws_vpc_security_group_egress_rule", &rule).unwrap();
        assert_eq!(group, "sg-1");
        assert_eq!(
            atoms,
            vec![(true, "-1".to_owned(), 0, 0, "cidr", "0.0.0.0/0".to_owned())]
        );
    }
}
