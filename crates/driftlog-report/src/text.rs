//! Short, one-line renderings of attribute values for tables.

use serde_json::Value;

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Objects as `key=value, ...` without their empty members, lists as `[a, b]`, strings bare:
/// a security group rule reads `cidr_blocks=[0.0.0.0/0], from_port=22, protocol=tcp, ...`.
fn human(value: &Value, top: bool) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        Value::String(s) if top => s.clone(),
        Value::String(s) if s.is_empty() || s.contains([',', ' ', '=', '[', ']', '{', '}']) => {
            format!("{s:?}")
        }
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| human(v, false))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| format!("{k}={}", human(v, false)))
                .collect();
            if top {
                members.join(", ")
            } else {
                format!("{{{}}}", members.join(", "))
            }
        }
        other => other.to_string(),
    }
}

/// A value as people read it in a table, cut to `max` characters.
pub fn short(value: &Value, max: usize) -> String {
    cut(&human(value, true), max)
}

pub fn cut(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut s: String = one_line.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// "3 resources" / "1 resource".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_read_like_rules() {
        let rule = json!({"cidr_blocks": ["0.0.0.0/0"], "description": "debug - remove me", "from_port": 22, "ipv6_cidr_blocks": [], "protocol": "tcp", "self": false});
        assert_eq!(short(&rule, 200), "cidr_blocks=[0.0.0.0/0], description=\"debug - remove me\", from_port=22, protocol=tcp, self=false");
        assert_eq!(short(&json!("t3.large"), 200), "t3.large");
        assert_eq!(short(&json!(null), 200), "(none)");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
