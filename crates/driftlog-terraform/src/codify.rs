//! Accepting live values into the configuration: a unified diff to the `.tf` files that
//! declare a drifted resource.
//!
//! The files are parsed with `hcl-edit` only to find where things are; the edit itself splices
//! new text into the file at those byte ranges, so every comment, blank line and alignment
//! around it stays as it was. Only values written as literals are changed. A value that comes
//! from a variable, a function or a template, an attribute the configuration does not set
//! (a default or a computed value), a module from a registry, or a secret is left alone and
//! the note says so: the patch never guesses.

use driftlog_core::finding::{Change, Finding, FindingKind};
use driftlog_core::path::{AttrPath, Segment};
use driftlog_core::remediate::Codify;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, BlockLabel, Body};
use hcl_edit::Span;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One `.tf` file as read and as edited so far.
#[derive(Debug, Clone)]
struct TfFile {
    /// Relative to the configuration's root directory.
    rel: PathBuf,
    original: String,
    current: String,
}

/// A configuration directory and the local modules it calls, read as needed.
#[derive(Debug)]
pub struct Config {
    root: PathBuf,
    /// By directory (relative to the root): its `.tf` files, sorted by name.
    dirs: BTreeMap<PathBuf, Vec<TfFile>>,
}

/// A configuration that cannot be read at all (the directory is missing or has no `.tf` file).
#[derive(Debug, thiserror::Error)]
#[error("--config {}: {message}", path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl Config {
    pub fn open(root: &Path) -> Result<Self, ConfigError> {
        let mut config = Self {
            root: root.to_owned(),
            dirs: BTreeMap::new(),
        };
        let files = config
            .load_dir(Path::new(""))
            .map_err(|message| ConfigError {
                path: root.to_owned(),
                message,
            })?;
        if files == 0 {
            return Err(ConfigError {
                path: root.to_owned(),
                message: "no .tf files here".into(),
            });
        }
        Ok(config)
    }

    /// A configuration held in memory: `(relative path, text)` of each `.tf` file (for tests
    /// and fuzzing; modules are found among the given files only).
    pub fn from_sources(files: Vec<(PathBuf, String)>) -> Self {
        let mut dirs: BTreeMap<PathBuf, Vec<TfFile>> = BTreeMap::new();
        for (rel, text) in files {
            let dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
            dirs.entry(dir).or_default().push(TfFile {
                rel,
                original: text.clone(),
                current: text,
            });
        }
        dirs.entry(PathBuf::new()).or_default();
        Self {
            root: PathBuf::from("/nonexistent/driftlog-config"),
            dirs,
        }
    }

    fn load_dir(&mut self, rel: &Path) -> Result<usize, String> {
        if let Some(files) = self.dirs.get(rel) {
            return Ok(files.len());
        }
        let dir = self.root.join(rel);
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
            .collect();
        names.sort();
        let mut files = Vec::new();
        for path in names {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push(TfFile {
                rel: rel.join(path.file_name().unwrap_or_default()),
                original: text.clone(),
                current: text,
            });
        }
        let n = files.len();
        self.dirs.insert(rel.to_owned(), files);
        Ok(n)
    }

    /// The patch and notes that accept one finding's live values, applied to the files as
    /// edited so far (so several findings make one consistent patch; see [`Config::patch`]).
    /// The finding's own patch is against the files as they are on disk.
    pub fn codify(&mut self, finding: &Finding) -> Codify {
        let mut notes = Vec::new();
        if finding.kind != FindingKind::Changed {
            notes.push(match finding.kind {
                FindingKind::Deleted => "deleted live: to accept it, remove the resource block (and its state with `terraform state rm`)".to_owned(),
                _ => "unmanaged: to accept it, add a resource block and `terraform import` it".to_owned(),
            });
            return Codify {
                notes,
                ..Codify::default()
            };
        }
        let Some((dir, resource_type, name)) = self.resolve(&finding.address, &mut notes) else {
            return Codify {
                notes,
                ..Codify::default()
            };
        };
        let before: Vec<(PathBuf, String)> = self.dirs[&dir]
            .iter()
            .map(|f| (f.rel.clone(), f.current.clone()))
            .collect();
        let mut found = false;
        for index in 0..self.dirs[&dir].len() {
            let file = &self.dirs[&dir][index];
            let Ok(body) = hcl_edit::parser::parse_body(&file.current) else {
                notes.push(format!("{}: not valid HCL; left alone", file.rel.display()));
                continue;
            };
            let Some(block) = find_resource(&body, &resource_type, &name) else {
                continue;
            };
            found = true;
            if block.body.has_attribute("count") || block.body.has_attribute("for_each") {
                let meta = if block.body.has_attribute("count") {
                    "count"
                } else {
                    "for_each"
                };
                notes.push(format!(
                    "{}: the block has `{meta}`: a value changed here changes every instance of it, not only {}",
                    file.rel.display(),
                    finding.address
                ));
            }
            let mut edits = Vec::new();
            for change in &finding.changes {
                edit_change(&file.current, block, change, &mut edits, &mut notes);
            }
            let text = apply(&file.current, edits);
            self.dirs.get_mut(&dir).expect("loaded")[index].current = text;
            break;
        }
        if !found {
            notes.push(format!(
                "no `resource \"{resource_type}\" \"{name}\"` block in {}",
                self.root.join(&dir).display()
            ));
        }
        // This finding's patch, against the files on disk, for each file it edited. A file an
        // earlier finding edited too carries those edits as well (the combined `patch()` is
        // the one to apply when several findings share a file).
        let mut patch = String::new();
        let mut files = Vec::new();
        for (f, (rel, previous)) in self.dirs[&dir].iter().zip(&before) {
            if f.current != *previous {
                patch.push_str(&unified(rel, &f.original, &f.current));
                files.push(rel.display().to_string());
            }
        }
        Codify {
            patch,
            files,
            notes,
        }
    }

    /// One patch with every edit made so far, against the files on disk.
    pub fn patch(&self) -> String {
        let mut out = String::new();
        for files in self.dirs.values() {
            for f in files {
                if f.current != f.original {
                    out.push_str(&unified(&f.rel, &f.original, &f.current));
                }
            }
        }
        out
    }

    /// The directory (relative to the root), type and name that declare `address`, following
    /// local module calls.
    fn resolve(
        &mut self,
        address: &str,
        notes: &mut Vec<String>,
    ) -> Option<(PathBuf, String, String)> {
        let parts = split_address(address);
        let mut dir = PathBuf::new();
        let mut i = 0;
        while parts.get(i).map(String::as_str) == Some("module") {
            let call = strip_index(parts.get(i + 1)?);
            let source = self.module_source(&dir, call);
            match source {
                Some(src) if src.starts_with("./") || src.starts_with("../") => {
                    if let Some(meta) = self.module_meta(&dir, call) {
                        notes.push(format!(
                            "module \"{call}\" has `{meta}`: its files are shared by every instance, so a value changed there changes all of them, not only {address}"
                        ));
                    }
                    let next = normalize(&dir.join(&src));
                    if let Err(e) = self.load_dir(&next) {
                        notes.push(format!("module \"{call}\": {e}"));
                        return None;
                    }
                    dir = next;
                }
                Some(src) => {
                    notes.push(format!(
                        "{address} is declared in module \"{call}\" from {src}: accept the value where that module is written, or pass it in as an input"
                    ));
                    return None;
                }
                None => {
                    notes.push(format!(
                        "no `module \"{call}\"` block in {}",
                        self.root.join(&dir).display()
                    ));
                    return None;
                }
            }
            i += 2;
        }
        if parts.get(i).map(String::as_str) == Some("data") {
            notes.push("a data source: nothing to accept".into());
            return None;
        }
        let resource_type = parts.get(i)?.clone();
        let name = strip_index(parts.get(i + 1)?).to_owned();
        Some((dir, resource_type, name))
    }

    /// `count` or `for_each` on a module call, if it has one.
    fn module_meta(&self, dir: &Path, call: &str) -> Option<&'static str> {
        for f in self.dirs.get(dir)? {
            let Ok(body) = hcl_edit::parser::parse_body(&f.current) else {
                continue;
            };
            for block in body.get_blocks("module") {
                if label(block, 0) == Some(call) {
                    return ["count", "for_each"]
                        .into_iter()
                        .find(|m| block.body.has_attribute(m));
                }
            }
        }
        None
    }

    fn module_source(&self, dir: &Path, call: &str) -> Option<String> {
        for f in self.dirs.get(dir)? {
            let Ok(body) = hcl_edit::parser::parse_body(&f.current) else {
                continue;
            };
            for block in body.get_blocks("module") {
                if label(block, 0) == Some(call) {
                    if let Some(Expression::String(s)) =
                        block.body.get_attribute("source").map(|a| &a.value)
                    {
                        return Some(s.value().to_string());
                    }
                    return Some("a non-literal source".to_owned());
                }
            }
        }
        None
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Address parts split on dots outside brackets and quotes.
fn split_address(address: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut depth, mut quoted) = (0, false);
    for c in address.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            '[' if !quoted => {
                depth += 1;
                current.push(c);
            }
            ']' if !quoted => {
                depth -= 1;
                current.push(c);
            }
            '.' if !quoted && depth == 0 => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

fn strip_index(part: &str) -> &str {
    part.split('[').next().unwrap_or(part)
}

fn label(block: &Block, i: usize) -> Option<&str> {
    block.labels.get(i).map(|l| match l {
        BlockLabel::Ident(id) => id.as_str(),
        BlockLabel::String(s) => s.as_str(),
    })
}

fn find_resource<'b>(body: &'b Body, resource_type: &str, name: &str) -> Option<&'b Block> {
    body.get_blocks("resource")
        .find(|b| label(b, 0) == Some(resource_type) && label(b, 1) == Some(name))
}

/// A text edit: replace `range` of the file with `text`.
struct Edit {
    range: Range<usize>,
    text: String,
}

fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.range.start));
    let mut out = text.to_owned();
    let mut last = usize::MAX;
    for e in edits {
        // Overlapping edits (two changes under one attribute): the first wins.
        if e.range.end > last {
            continue;
        }
        out.replace_range(e.range.clone(), &e.text);
        last = e.range.start;
    }
    out
}

fn unified(rel: &Path, old: &str, new: &str) -> String {
    let name = rel.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Whether an expression is a value written out (no variable, function, template or
/// reference): only such values are replaced.
fn is_literal(expr: &Expression) -> bool {
    match expr {
        Expression::Null(_)
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_) => true,
        Expression::Array(a) => a.iter().all(is_literal),
        Expression::Object(o) => {
            o.iter().all(|(k, v)| {
                matches!(k, ObjectKey::Ident(_))
                    || k.as_expr()
                        .is_some_and(|e| matches!(e, Expression::String(_)))
                        && is_literal(v.expr())
            }) && o.iter().all(|(_, v)| is_literal(v.expr()))
        }
        Expression::HeredocTemplate(h) => !has_template_sequence(&h.template.to_string()),
        _ => false,
    }
}

/// A `${…}` or `%{…}` sequence not escaped as `$${` / `%%{`.
fn has_template_sequence(text: &str) -> bool {
    let b = text.as_bytes();
    (1..b.len()).any(|i| {
        b[i] == b'{' && (b[i - 1] == b'$' || b[i - 1] == b'%') && !(i >= 2 && b[i - 2] == b[i - 1])
    })
}

fn describe(expr: &Expression, text: &str) -> String {
    let raw = expr
        .span()
        .and_then(|r| text.get(r))
        .unwrap_or("an expression")
        .lines()
        .next()
        .unwrap_or("")
        .trim();
    let raw: String = raw.chars().take(60).collect();
    format!("`{raw}`")
}

/// A JSON value as HCL: strings escaped (including template sequences), objects with
/// identifier or quoted keys, `indent` for nested lines.
pub fn hcl_value(v: &Value, indent: &str) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => hcl_string(s),
        Value::Array(items) => {
            if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                let inner: Vec<String> = items.iter().map(|i| hcl_value(i, indent)).collect();
                format!("[{}]", inner.join(", "))
            } else {
                let inner_indent = format!("{indent}  ");
                let inner: Vec<String> = items
                    .iter()
                    .map(|i| format!("{inner_indent}{},", hcl_value(i, &inner_indent)))
                    .collect();
                format!("[\n{}\n{indent}]", inner.join("\n"))
            }
        }
        Value::Object(map) => {
            if map.is_empty() {
                return "{}".into();
            }
            let inner_indent = format!("{indent}  ");
            let width = map.keys().map(|k| hcl_key(k).len()).max().unwrap_or(0);
            let lines: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{inner_indent}{:<width$} = {}",
                        hcl_key(k),
                        hcl_value(v, &inner_indent)
                    )
                })
                .collect();
            format!("{{\n{}\n{indent}}}", lines.join("\n"))
        }
    }
}

fn hcl_key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_owned()
    } else {
        hcl_string(k)
    }
}

/// A string as an HCL quoted template: escapes, and `${`/`%{` kept literal.
pub(crate) fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The indentation of the line `offset` is on.
fn indent_at(text: &str, offset: usize) -> String {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// The new text for a value at `range`: a heredoc stays a heredoc where it can, anything else
/// is written as an HCL literal.
fn replacement(old: &Expression, text: &str, range: &Range<usize>, live: &Value) -> String {
    let indent = indent_at(text, range.start);
    // A heredoc stays a heredoc when the value ends with a newline, as a heredoc's text does;
    // its lines are the value's, exactly (Terraform compares the string, not its meaning).
    if let (Expression::HeredocTemplate(h), Value::String(s)) = (old, live) {
        if let Some(body) = s.strip_suffix('\n') {
            let escaped = body.replace("${", "$${").replace("%{", "%%{");
            let delimiter = h.delimiter.as_str();
            let indented = h.indent().is_some();
            let (marker, pad) = if indented {
                ("<<-", format!("{indent}  "))
            } else {
                ("<<", String::new())
            };
            let lines: Vec<String> = escaped
                .split('\n')
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{l}")
                    }
                })
                .collect();
            let close = if indented {
                indent.clone()
            } else {
                String::new()
            };
            // The range ends after the closing delimiter's newline when the parser included it.
            let trailing = if text.get(range.clone()).is_some_and(|t| t.ends_with('\n')) {
                "\n"
            } else {
                ""
            };
            return format!(
                "{marker}{delimiter}\n{}\n{close}{delimiter}{trailing}",
                lines.join("\n")
            );
        }
    }
    hcl_value(live, &indent)
}

/// The edits (and notes) that accept one change into `block`.
fn edit_change(
    text: &str,
    block: &Block,
    change: &Change,
    edits: &mut Vec<Edit>,
    notes: &mut Vec<String>,
) {
    if change.sensitive {
        notes.push(format!(
            "{}: a secret; driftlog never writes secrets, set it by hand",
            change.path
        ));
        return;
    }
    let Some(path) = AttrPath::parse(&change.path) else {
        return;
    };
    let Some(Segment::Key(top)) = path.0.first() else {
        return;
    };
    if top == "tags_all" {
        // Mirrors `tags` plus the provider's default tags: accepted through `tags`.
        return;
    }
    let attr = block.body.get_attribute(top);
    // Set-typed nested blocks (`ingress { … }`): add the live-only elements as blocks, remove
    // the blocks of the declared-only ones.
    if attr.is_none() && path.0.len() == 1 && block.body.has_blocks(top) {
        edit_blocks(text, block, top, change, edits, notes);
        return;
    }
    let Some(attr) = attr else {
        notes.push(format!(
            "{}: not set in the configuration (a default or a computed value); set `{top} = {}` by hand if it is an argument",
            change.path,
            crate::codify::hcl_value(&change.after, "").chars().take(80).collect::<String>()
        ));
        return;
    };
    match path.0.as_slice() {
        [_] => {
            if !is_literal(&attr.value) {
                notes.push(format!(
                    "{}: set by {}, not a literal; change that value instead (nothing patched)",
                    change.path,
                    describe(&attr.value, text)
                ));
                return;
            }
            if let Some(range) = attr.value.span() {
                let new = replacement(&attr.value, text, &range, &change.after);
                edits.push(Edit { range, text: new });
                notes.push(format!("{}: set to the live value", change.path));
            }
        }
        [_, Segment::Key(key)] => {
            let Expression::Object(object) = &attr.value else {
                notes.push(format!(
                    "{}: `{top}` is set by {}, not a literal map (nothing patched)",
                    change.path,
                    describe(&attr.value, text)
                ));
                return;
            };
            let entry = object.iter().find(|(k, _)| match k {
                ObjectKey::Ident(id) => id.as_str() == key,
                ObjectKey::Expression(Expression::String(s)) => s.as_str() == key,
                _ => false,
            });
            match (entry, &change.after) {
                (Some((k, v)), Value::Null) => {
                    // Removed live: remove the entry's whole line.
                    if let (Some(ks), Some(vs)) = (k.span(), v.expr().span()) {
                        let start = text[..ks.start].rfind('\n').map_or(ks.start, |i| i + 1);
                        let end = text[vs.end..].find('\n').map_or(vs.end, |i| vs.end + i + 1);
                        edits.push(Edit {
                            range: start..end,
                            text: String::new(),
                        });
                        notes.push(format!("{}: removed (gone live)", change.path));
                    }
                }
                (Some((_, v)), live) => {
                    if !is_literal(v.expr()) {
                        notes.push(format!(
                            "{}: set by {}, not a literal (nothing patched)",
                            change.path,
                            describe(v.expr(), text)
                        ));
                        return;
                    }
                    if let Some(range) = v.expr().span() {
                        let new = replacement(v.expr(), text, &range, live);
                        edits.push(Edit { range, text: new });
                        notes.push(format!("{}: set to the live value", change.path));
                    }
                }
                (None, Value::Null) => {}
                (None, live) => {
                    // Added live: a new entry after the last one, indented like it.
                    let Some(span) = attr.value.span() else {
                        return;
                    };
                    let close = span.end - 1;
                    let last_line_end = text[..close].rfind('\n');
                    match last_line_end {
                        Some(nl) if nl > span.start => {
                            let entry_indent = object
                                .iter()
                                .last()
                                .and_then(|(k, _)| k.span())
                                .map(|s| indent_at(text, s.start))
                                .unwrap_or_else(|| format!("{}  ", indent_at(text, span.start)));
                            edits.push(Edit {
                                range: nl + 1..nl + 1,
                                text: format!(
                                    "{entry_indent}{} = {}\n",
                                    hcl_key(key),
                                    hcl_value(live, &entry_indent)
                                ),
                            });
                        }
                        _ => {
                            // A one-line map: the entry goes before its closing brace.
                            let inside = text[span.start + 1..close].trim_end();
                            let at = span.start + 1 + inside.len();
                            let sep = if inside.trim().is_empty() { " " } else { ", " };
                            let end = if inside.trim().is_empty() { " " } else { "" };
                            edits.push(Edit {
                                range: at..at,
                                text: format!(
                                    "{sep}{} = {}{end}",
                                    hcl_key(key),
                                    hcl_value(live, "")
                                ),
                            });
                        }
                    }
                    notes.push(format!("{}: added (new live)", change.path));
                }
            }
        }
        _ => notes.push(format!(
            "{}: inside `{top}`; edit that value by hand (only whole attributes and map entries are patched)",
            change.path
        )),
    }
}

/// Nested blocks of a set attribute: one new block per live-only element; the declared-only
/// elements' blocks removed when their literal arguments match the element.
fn edit_blocks(
    text: &str,
    block: &Block,
    name: &str,
    change: &Change,
    edits: &mut Vec<Edit>,
    notes: &mut Vec<String>,
) {
    let (Some(added), Some(removed)) = (&change.added, &change.removed) else {
        notes.push(format!(
            "{}: nested `{name}` blocks; edit them by hand",
            change.path
        ));
        return;
    };
    let existing: Vec<&Block> = block.body.get_blocks(name).collect();
    let Some(last) = existing.last().and_then(|b| b.span()) else {
        return;
    };
    let indent = indent_at(text, last.start);
    let insert_at = text[last.end..]
        .find('\n')
        .map_or(last.end, |i| last.end + i + 1);
    for element in added {
        let Value::Object(map) = element else {
            continue;
        };
        let inner = format!("{indent}  ");
        // Unset and empty arguments are left out, as people write blocks.
        let kept: Vec<(&String, &Value)> = map
            .iter()
            .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
            .collect();
        let width = kept.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let lines: Vec<String> = kept
            .iter()
            .map(|(k, v)| format!("{inner}{k:<width$} = {}", hcl_value(v, &inner)))
            .collect();
        edits.push(Edit {
            range: insert_at..insert_at,
            text: format!("{indent}{name} {{\n{}\n{indent}}}\n", lines.join("\n")),
        });
        notes.push(format!(
            "{}: added a `{name}` block for the live-only element",
            change.path
        ));
    }
    for element in removed {
        let Value::Object(map) = element else {
            continue;
        };
        let matching = existing.iter().find(|b| {
            b.body.attributes().all(|a| {
                let declared = map.get(a.key.as_str()).unwrap_or(&Value::Null);
                literal_equals(&a.value, text, declared)
            })
        });
        match matching.and_then(|b| b.span()) {
            Some(span) => {
                let start = text[..span.start].rfind('\n').map_or(span.start, |i| i + 1);
                let end = text[span.end..].find('\n').map_or(span.end, |i| span.end + i + 1);
                edits.push(Edit {
                    range: start..end,
                    text: String::new(),
                });
                notes.push(format!("{}: removed the `{name}` block gone live", change.path));
            }
            None => notes.push(format!(
                "{}: a declared `{name}` block is gone live, but none matches it literally; remove it by hand",
                change.path
            )),
        }
    }
}

/// Whether a literal expression states `value` (numbers as numbers, lists element-wise).
fn literal_equals(expr: &Expression, text: &str, value: &Value) -> bool {
    if !is_literal(expr) {
        return false;
    }
    let Some(raw) = expr.span().and_then(|r| text.get(r)) else {
        return false;
    };
    let as_json: Option<Value> = match expr {
        Expression::String(s) => Some(Value::String(s.to_string())),
        Expression::Array(a) => a
            .iter()
            .map(|e| match e {
                Expression::String(s) => Some(Value::String(s.to_string())),
                Expression::Number(_) | Expression::Bool(_) => e
                    .span()
                    .and_then(|r| text.get(r))
                    .and_then(|t| serde_json::from_str(t).ok()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        _ => serde_json::from_str(raw).ok(),
    };
    match (as_json, value) {
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(a), b) => &a == b,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests;
