//! Short, one-line renderings of attribute values for tables.

use serde_json::Value;

/// A value as people read it in a table: strings bare, others as compact JSON, long ones cut.
pub fn short(value: &Value, max: usize) -> String {
    let text = match value {
        Value::Null => "(none)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    cut(&text, max)
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
