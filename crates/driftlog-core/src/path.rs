//! Attribute paths in the form people read in Terraform: `tags.Owner`, `ingress`,
//! `ebs_block_device[0].volume_size`, `tags["kubernetes.io/role"]`.

use std::fmt;

/// One step into a value: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from the root of a resource's attributes to a value inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrPath(pub Vec<Segment>);

impl AttrPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    /// The last object key on the path, which names the attribute the value belongs to.
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
    }

    /// The top-level attribute name.
    pub fn top(&self) -> Option<&str> {
        match self.0.first() {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Parse the display form back (used by ignore rules and tests).
    pub fn parse(text: &str) -> Option<Self> {
        let mut segments = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                if let Some(quoted) = after.strip_prefix('"') {
                    let end = quoted.find("\"]")?;
                    segments.push(Segment::Key(quoted[..end].replace("\\\"", "\"")));
                    rest = &quoted[end + 2..];
                } else {
                    let end = after.find(']')?;
                    segments.push(Segment::Index(after[..end].parse().ok()?));
                    rest = &after[end + 1..];
                }
            } else {
                let body = rest.strip_prefix('.').unwrap_or(rest);
                let end = body.find(['.', '[']).unwrap_or(body.len());
                if end == 0 {
                    return None;
                }
                segments.push(Segment::Key(body[..end].to_owned()));
                rest = &body[end..];
            }
        }
        Some(Self(segments))
    }
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if is_bare_key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => write!(f, "[\"{}\"]", k.replace('"', "\\\""))?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_terraform_style() {
        let p = AttrPath::root()
            .key("ebs_block_device")
            .index(0)
            .key("volume_size");
        assert_eq!(p.to_string(), "ebs_block_device[0].volume_size");
        let t = AttrPath::root().key("tags").key("kubernetes.io/role");
        assert_eq!(t.to_string(), "tags[\"kubernetes.io/role\"]");
        assert_eq!(
            AttrPath::root().key("tags").key("Owner").to_string(),
            "tags.Owner"
        );
    }

    #[test]
    fn parse_round_trips() {
        for text in [
            "tags.Owner",
            "ebs_block_device[0].volume_size",
            "tags[\"a.b\"]",
            "ingress",
        ] {
            assert_eq!(AttrPath::parse(text).unwrap().to_string(), text);
        }
        assert!(AttrPath::parse("a..b").is_none());
    }
}
