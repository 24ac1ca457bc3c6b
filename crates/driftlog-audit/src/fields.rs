//! Small helpers shared by the source readers: borrowed strings, loose booleans, placeholders.

use serde::de::{Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A string field that may be absent or `null`, borrowed from the input when it has no
/// escapes.
///
/// A type of its own because serde borrows a `Cow<str>` only when a field is spelled exactly
/// `Cow<'a, str>`: inside an `Option` it copies every value into a fresh `String`, some fifteen
/// of them for each CloudTrail record, most only to be read once. A field of this type that is
/// missing reads as absent, as an `Option` would.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Str<'a>(Option<Cow<'a, str>>);

impl<'a> std::ops::Deref for Str<'a> {
    type Target = Option<Cow<'a, str>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `deserialize_option`: serde's stand-in for a missing field answers `visit_none`.
        d.deserialize_option(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Str(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Str(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v))))
    }
}

/// Values that sanitized samples put where real data was (`"..."`, `"eventTime"` as the value
/// of `eventTime`): never real identifiers, so never evidence.
pub(crate) fn is_placeholder(value: &str, field: &str) -> bool {
    let v = value.trim();
    v.is_empty() || v.chars().all(|c| c == '.') || v == "…" || v.eq_ignore_ascii_case(field)
}

/// serde's message names the wrong type; say where in the record it is, relative to the record.
pub(crate) fn describe_type_error(e: serde_json::Error) -> String {
    let text = e.to_string();
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i]);
    format!(
        "a field has the wrong type: {text} (line {}, column {} of the record)",
        e.line(),
        e.column()
    )
}

/// A field that must be present and real, or the record is left out with this reason.
pub(crate) fn required<'a>(value: &'a Str<'_>, field: &str) -> Result<&'a str, String> {
    match value.as_deref() {
        None => Err(format!("missing required field `{field}`")),
        Some(v) if is_placeholder(v, field) => Err(format!(
            "`{field}` holds a placeholder ({v:?}), not a real value"
        )),
        Some(v) => Ok(v),
    }
}

/// An optional field; placeholders count as absent.
pub(crate) fn optional(value: &Str<'_>, field: &str) -> Option<String> {
    value
        .as_deref()
        .filter(|v| !is_placeholder(v, field))
        .map(str::to_owned)
}

/// A time field that must parse as RFC 3339.
pub(crate) fn required_time(value: &Str<'_>, field: &str) -> Result<i64, String> {
    let text = required(value, field)?;
    driftlog_core::time::parse_time_us(text)
        .ok_or_else(|| format!("`{field}` is not an RFC 3339 time: {text:?}"))
}

/// CloudTrail writes some flags as booleans and others as the strings `"true"`/`"false"`
/// (in any case, with spaces around); any other string reads as unknown. Read by a visitor of
/// its own rather than an untagged enum, which would buffer each value first (three times in
/// every record).
pub(crate) fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct Loose;
    impl<'de> Visitor<'de> for Loose {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean or the string \"true\" or \"false\"")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            Ok(if v.eq_ignore_ascii_case("true") {
                Some(true)
            } else if v.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            })
        }
    }
    d.deserialize_option(Loose)
}

/// Read-or-write, from an action's verb when the log does not say.
pub(crate) fn read_only_from_verb(action: &str) -> Option<bool> {
    const READ: [&str; 9] = [
        "Get", "Describe", "List", "Head", "Lookup", "Search", "Query", "Scan", "BatchGet",
    ];
    const WRITE: [&str; 33] = [
        "Create",
        "Delete",
        "Put",
        "Update",
        "Modify",
        "Authorize",
        "Revoke",
        "Attach",
        "Detach",
        "Tag",
        "Untag",
        "Run",
        "Start",
        "Stop",
        "Terminate",
        "Set",
        "Add",
        "Remove",
        "Enable",
        "Disable",
        "Register",
        "Deregister",
        "Associate",
        "Disassociate",
        "Reboot",
        "Replace",
        "Change",
        "Purge",
        "Import",
        "Restore",
        "Reset",
        "Upload",
        "Copy",
    ];
    let starts = |p: &&str| {
        action.starts_with(*p)
            && action[p.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    if READ.iter().any(starts) {
        Some(true)
    } else if WRITE.iter().any(starts) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert!(is_placeholder("...", "eventTime"));
        assert!(is_placeholder("eventID", "eventID"));
        assert!(is_placeholder("  ", "x"));
        assert!(!is_placeholder("4667ddb7-6e53", "eventID"));
    }

    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        s: Str<'a>,
        #[serde(default, deserialize_with = "loose_bool")]
        b: Option<bool>,
    }

    fn fields(json: &str) -> Result<Fields<'_>, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// A string is borrowed unless escaped; `null` and a missing field are absent; another
    /// type is an error that says what was expected.
    #[test]
    fn strings_are_borrowed_where_they_can_be() {
        let plain = fields(r#"{"s":"sg-1"}"#).unwrap().s;
        assert!(matches!(plain.0, Some(Cow::Borrowed("sg-1"))));
        let escaped = fields(r#"{"s":"sg-\u0031"}"#).unwrap().s;
        assert!(matches!(escaped.0, Some(Cow::Owned(ref s)) if s == "sg-1"));
        assert_eq!(fields(r#"{"s":null}"#).unwrap().s, Str(None));
        assert_eq!(fields("{}").unwrap().s, Str(None));
        let wrong = fields(r#"{"s":5}"#).err().unwrap();
        assert!(wrong.contains("expected a string"), "{wrong}");
    }

    #[test]
    fn loose_booleans() {
        let b = |json: &str| fields(json).map(|f| f.b);
        assert_eq!(b(r#"{"b":true}"#), Ok(Some(true)));
        assert_eq!(b(r#"{"b":" TRUE "}"#), Ok(Some(true)));
        assert_eq!(b(r#"{"b":"false"}"#), Ok(Some(false)));
        assert_eq!(b(r#"{"b":"fals\u0065"}"#), Ok(Some(false)));
        assert_eq!(b(r#"{"b":"yes"}"#), Ok(None));
        assert_eq!(b(r#"{"b":null}"#), Ok(None));
        assert_eq!(b("{}"), Ok(None));
        assert!(b(r#"{"b":1}"#).is_err());
    }

    #[test]
    fn verbs() {
        assert_eq!(read_only_from_verb("DescribeInstances"), Some(true));
        assert_eq!(read_only_from_verb("CreateTags"), Some(false));
        assert_eq!(read_only_from_verb("TagResource20170331v2"), Some(false));
        assert_eq!(read_only_from_verb("Settle"), None);
        assert_eq!(read_only_from_verb("ConsoleLogin"), None);
    }
}
