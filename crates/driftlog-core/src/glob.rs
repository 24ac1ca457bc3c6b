//! The one glob dialect of every command: ignore-rule addresses and paths, `events
//! --resource`, `--principal` and `--action`, `explain`.
//!
//! `*` matches any run of characters (dots, slashes and brackets included), `?` any one
//! character; everything else, `[` and `]` among them, is literal, so a Terraform address such
//! as `aws_instance.web[0]` is a pattern that matches itself. Matching is case-sensitive. A
//! text with neither `*` nor `?` is an exact value, not a pattern.

use wildmatch::WildMatch;

/// A pattern in the dialect above.
#[derive(Debug, Clone)]
pub struct Glob {
    text: String,
    matcher: WildMatch,
}

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self {
            text: pattern.to_owned(),
            matcher: WildMatch::new(pattern),
        }
    }

    /// Whether `text` holds a wildcard at all.
    pub fn is_pattern(text: &str) -> bool {
        text.contains(['*', '?'])
    }

    pub fn matches(&self, text: &str) -> bool {
        self.matcher.matches(text)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The same pattern for SQLite's `GLOB`, whose `[...]` is a character class: a literal
    /// `[` is written `[[]` there (a `]` outside a class is already literal).
    pub fn to_sqlite(&self) -> String {
        self.text.replace('[', "[[]")
    }

    /// The same pattern for SQL `LIKE` with a backslash as the escape (PostgreSQL's default): `*` is
    /// `%`, `?` is `_`, and a literal `%`, `_` or backslash is escaped.
    pub fn to_like(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 4);
        for c in self.text.chars() {
            match c {
                '*' => out.push('%'),
                '?' => out.push('_'),
                '%' | '_' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect() {
        let g = Glob::new("module.*.aws_instance.web[?]");
        assert!(g.matches("module.app.aws_instance.web[0]"));
        assert!(!g.matches("module.app.aws_instance.web0"));
        assert!(Glob::new("aws_instance.web[0]").matches("aws_instance.web[0]"));
        assert!(!Glob::new("Admin*").matches("admin-role"));
        assert!(
            Glob::new("arn:aws:sts::*:assumed-role/*").matches("arn:aws:sts::1:assumed-role/A/b")
        );
        assert!(Glob::is_pattern("a*"));
        assert!(!Glob::is_pattern("aws_instance.web[0]"));
        assert_eq!(Glob::new("web[*]").to_sqlite(), "web[[]*]");
        assert_eq!(Glob::new("a_b%c\\*?").to_like(), "a\\_b\\%c\\\\%_");
    }
}
