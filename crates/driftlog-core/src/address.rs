//! Resource addresses in Terraform syntax: `module.net.aws_subnet.private["a"]`.

use serde::Serialize;
use std::fmt::Write;

/// A `count` or `for_each` key of one resource instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum IndexKey {
    Int(i64),
    Str(String),
}

/// Quote a string the way Terraform prints `for_each` keys in addresses.
pub fn quote_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    out.push('"');
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Build the display address of one resource instance.
///
/// `module` is the module path as state files store it (`module.a["x"].module.b`, or empty for
/// the root module); data sources get their `data.` prefix.
pub fn instance_address(
    module: &str,
    data: bool,
    resource_type: &str,
    name: &str,
    index: Option<&IndexKey>,
) -> String {
    let mut out = String::with_capacity(module.len() + resource_type.len() + name.len() + 16);
    if !module.is_empty() {
        out.push_str(module);
        out.push('.');
    }
    if data {
        out.push_str("data.");
    }
    out.push_str(resource_type);
    out.push('.');
    out.push_str(name);
    match index {
        Some(IndexKey::Int(n)) => {
            let _ = write!(out, "[{n}]");
        }
        Some(IndexKey::Str(s)) => {
            out.push('[');
            out.push_str(&quote_key(s));
            out.push(']');
        }
        None => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_modules_count_and_for_each() {
        assert_eq!(
            instance_address(
                "module.net",
                false,
                "aws_subnet",
                "private",
                Some(&IndexKey::Str("a".into()))
            ),
            "module.net.aws_subnet.private[\"a\"]"
        );
        assert_eq!(
            instance_address("", false, "aws_instance", "web", Some(&IndexKey::Int(3))),
            "aws_instance.web[3]"
        );
        assert_eq!(
            instance_address("", true, "aws_ami", "ubuntu", None),
            "data.aws_ami.ubuntu"
        );
        assert_eq!(quote_key("a\"b"), "\"a\\\"b\"");
    }
}
