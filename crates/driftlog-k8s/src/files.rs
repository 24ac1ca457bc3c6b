//! Manifests and `kubectl get` output from files, folders and stdin.
//!
//! Accepted: multi-document YAML (what `kustomize build` and `helm template` print), JSON (one
//! object, a `List`, an array, or a stream of objects), `kubectl get -o json|yaml` output
//! (`kind: List`), and typed lists from the API (`DeploymentList`, whose items carry no kind).
//! UTF-8 with or without a byte-order mark, and UTF-16 with one.

use crate::ReadError;
use driftlog_core::k8s::Object;
use rayon::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// What was read from one input: the objects, and what identifies the input in a report.
#[derive(Debug, Clone)]
pub struct Read {
    pub objects: Vec<Object>,
    /// How many files (1 for a file or stdin).
    pub files: usize,
    pub bytes: u64,
    /// SHA-256 of the bytes read, files in name order.
    pub sha256: String,
}

/// Read every object under `path`: a file, a folder (its `.yaml`, `.yml` and `.json` files,
/// recursively, in name order), or `-` for stdin.
pub fn read_path(path: &Path) -> Result<Read, ReadError> {
    let io = |source| ReadError::Io {
        path: path.into(),
        source,
    };
    let inputs: Vec<(String, Vec<u8>)> = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(io)?;
        vec![("stdin".to_owned(), bytes)]
    } else if std::fs::metadata(path).map_err(io)?.is_dir() {
        manifest_files(path)?
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(&f).map_err(|source| ReadError::Io {
                    path: f.clone(),
                    source,
                })?;
                Ok((f.display().to_string(), bytes))
            })
            .collect::<Result<_, ReadError>>()?
    } else {
        vec![(path.display().to_string(), std::fs::read(path).map_err(io)?)]
    };
    let mut hasher = Sha256::new();
    let mut bytes = 0;
    for (_, b) in &inputs {
        hasher.update(b);
        bytes += b.len() as u64;
    }
    let parsed: Vec<Result<Vec<Object>, ReadError>> =
        inputs.par_iter().map(|(name, b)| parse(b, name)).collect();
    let mut objects = Vec::new();
    for p in parsed {
        objects.extend(p?);
    }
    Ok(Read {
        objects,
        files: inputs.len(),
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest files of a folder. A Kustomize or Helm source folder is refused with the
/// command that renders it: its files are inputs to a build, not objects.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(|e| ReadError::Io {
            path: e.path().unwrap_or(dir).to_owned(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("a symlink loop")),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        let hint = match name.as_ref() {
            "kustomization.yaml" | "kustomization.yml" | "Kustomization" => Some(format!(
                "a Kustomize folder: render it first, e.g. `kustomize build {} | driftlog scan --k8s-declared - …`",
                entry.path().parent().unwrap_or(dir).display()
            )),
            "Chart.yaml" => Some(format!(
                "a Helm chart: render it first, e.g. `helm template RELEASE {} | driftlog scan --k8s-declared - …`",
                entry.path().parent().unwrap_or(dir).display()
            )),
            _ => None,
        };
        if let Some(message) = hint {
            return Err(ReadError::Input {
                origin: entry.path().display().to_string(),
                message,
            });
        }
        if [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Decode to text: UTF-8 (a BOM is dropped), or UTF-16 with a BOM.
fn text<'a>(bytes: &'a [u8], origin: &str) -> Result<std::borrow::Cow<'a, str>, ReadError> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _, bad) = encoding.decode(&bytes[bom..]);
        if bad {
            return Err(ReadError::Input {
                origin: origin.into(),
                message: format!("not valid {} text", encoding.name()),
            });
        }
        return Ok(text);
    }
    std::str::from_utf8(bytes)
        .map(std::borrow::Cow::Borrowed)
        .map_err(|e| ReadError::Input {
            origin: origin.into(),
            message: format!(
                "not UTF-8 text (byte {}); manifests are YAML or JSON",
                e.valid_up_to()
            ),
        })
}

/// Parse objects from the bytes of one input named `origin`.
pub fn parse(bytes: &[u8], origin: &str) -> Result<Vec<Object>, ReadError> {
    let text = text(bytes, origin)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return parse_json(&text, origin);
    }
    let docs = split_documents(&text);
    let parsed: Vec<Result<Vec<Object>, ReadError>> =
        docs.par_iter()
            .enumerate()
            .map(|(n, (line, doc))| {
                let at = if docs.len() > 1 {
                    format!("{origin} (document {}, line {line})", n + 1)
                } else {
                    origin.to_owned()
                };
                // Repeated keys: the last wins, as with the YAML library kubectl reads manifests
                // through (it warns, the API server takes the object).
                let options = serde_saphyr::options! {
                    duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
                };
                let value: Option<Value> = serde_saphyr::from_str_with_options(doc, options)
                    .map_err(|e| ReadError::Input {
                        origin: at.clone(),
                        message: format!("not valid YAML: {}", shift_lines(&e.to_string(), *line)),
                    })?;
                match value {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(v) => objects(v, &at),
                }
            })
            .collect();
    let mut out = Vec::new();
    for p in parsed {
        out.extend(p?);
    }
    Ok(out)
}

/// The line numbers of a document's error are its own: say so, with the file's line where
/// the document starts already in the origin.
fn shift_lines(message: &str, _start: usize) -> String {
    message.lines().next().unwrap_or(message).to_owned()
}

/// Split a YAML stream at its `---` / `...` markers, with the 1-based line each document
/// starts on. Markers are only recognized at the start of a line, as the YAML spec has them;
/// each document is then parsed on its own (in parallel, and with the parser's per-document
/// limits applying to one object rather than a whole chart).
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let marker = |m: &str| {
            bare == m
                || bare
                    .strip_prefix(m)
                    .is_some_and(|r| r.starts_with([' ', '\t']))
        };
        if marker("---") || marker("...") {
            docs.push((start_line, &text[start..offset]));
            // `--- {inline}`: the document starts on the marker line.
            let rest = if marker("---") { bare[3..].trim() } else { "" };
            if rest.is_empty() || rest.starts_with('#') {
                start = offset + line.len();
                start_line = n + 2;
            } else {
                start = offset + 3;
                start_line = n + 1;
            }
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs.retain(|(_, d)| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

fn parse_json(text: &str, origin: &str) -> Result<Vec<Object>, ReadError> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    for (n, value) in stream.enumerate() {
        let value = value.map_err(|e| ReadError::Input {
            origin: origin.into(),
            message: format!("not valid JSON: {e}"),
        })?;
        let at = if n == 0 {
            origin.to_owned()
        } else {
            format!("{origin} (object {})", n + 1)
        };
        out.extend(objects(value, &at)?);
    }
    Ok(out)
}

/// One parsed document: an object, a `List` of them, or an array.
fn objects(value: Value, origin: &str) -> Result<Vec<Object>, ReadError> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| Object::new(v, &format!("{origin} [{i}]")).map_err(ReadError::from))
            .collect(),
        Value::Object(mut map) => {
            let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind.ends_with("List") && map.get("items").is_some_and(Value::is_array) {
                // A typed list (`DeploymentList`) from the API leaves kind and apiVersion off
                // its items.
                let item_kind = (kind != "List").then(|| kind.trim_end_matches("List").to_owned());
                let api_version = map.get("apiVersion").cloned();
                let Some(Value::Array(items)) = map.remove("items") else {
                    unreachable!("checked above")
                };
                return items
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut v)| {
                        if let (Some(k), Some(o)) = (&item_kind, v.as_object_mut()) {
                            o.entry("kind").or_insert_with(|| Value::String(k.clone()));
                            if let Some(av) = &api_version {
                                o.entry("apiVersion").or_insert_with(|| av.clone());
                            }
                        }
                        Object::new(v, &format!("{origin} items[{i}]")).map_err(ReadError::from)
                    })
                    .collect();
            }
            Ok(vec![Object::new(Value::Object(map), origin)?])
        }
        other => Err(ReadError::Input {
            origin: origin.into(),
            message: format!(
                "expected a Kubernetes object or a list of them, found {}",
                match other {
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                }
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_template_output() {
        let text = "---\n# Source: chart/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: |\n    ---\n    not a marker\n---\n# Source: empty.yaml\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n...\n";
        let objects = parse(text.as_bytes(), "t.yaml").unwrap();
        let names: Vec<_> = objects
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(names, [("ConfigMap", "a"), ("Service", "b")]);
        assert_eq!(objects[0].value["data"]["x"], "---\nnot a marker\n");
    }

    #[test]
    fn lists_and_json() {
        let list = r#"{"apiVersion":"apps/v1","kind":"DeploymentList","items":[{"metadata":{"name":"w","namespace":"p"}}]}"#;
        let o = parse(list.as_bytes(), "l.json").unwrap();
        assert_eq!(o[0].address(), "apps/v1/Deployment/p/w");
        let generic = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n";
        assert_eq!(
            parse(generic.as_bytes(), "g.yaml").unwrap()[0].kind,
            "ConfigMap"
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(
            b"{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}",
        );
        assert_eq!(parse(&bom, "b.json").unwrap()[0].name, "s");
    }

    #[test]
    fn errors_name_the_document() {
        let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n";
        let e = parse(bad.as_bytes(), "m.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("m.yaml (document 2, line 5): not valid YAML"),
            "{e}"
        );
        let e = parse(b"kind: Pod\napiVersion: v1\nmetadata: {}\n", "p.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing `metadata.name`"), "{e}");
        let e = parse(b"\xff\xfe\x00", "x.yaml").unwrap_err().to_string();
        assert!(e.starts_with("x.yaml: "), "{e}");
        assert!(parse(b"just a string", "s.yaml").is_err());
    }
}
