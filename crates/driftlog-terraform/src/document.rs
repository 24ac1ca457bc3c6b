//! Detecting what a Terraform JSON file is and reading it into engine inputs.

use crate::error::{without_position, ReadError};
use crate::input::{display_path, Input};
use crate::schema::{
    PlanChange, RelevantAttribute, ShowModule, ShowValues, StateResource, TopLevel,
};
use driftlog_core::address::{instance_address, IndexKey};
use driftlog_core::engine::MaskForm;
use driftlog_core::ResourceInstance;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A raw `.tfstate`, format 4.
    StateV4,
    /// `terraform show -json` of a state.
    ShowJsonState,
    /// `terraform show -json` of a plan.
    Plan,
    /// HCP Terraform / Terraform Cloud redacted plan JSON (no `format_version`).
    CloudPlan,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateV4 => "state_v4",
            Self::ShowJsonState => "show_json_state",
            Self::Plan => "plan",
            Self::CloudPlan => "cloud_plan",
        }
    }

    pub fn is_plan(self) -> bool {
        matches!(self, Self::Plan | Self::CloudPlan)
    }
}

/// A parsed Terraform file, borrowing from its [`Input`].
pub struct Document<'a> {
    pub kind: DocumentKind,
    pub path: PathBuf,
    pub terraform_version: Option<String>,
    pub format_version: Option<String>,
    /// For states: every resource instance (data sources included, marked unmanaged).
    pub instances: Vec<ResourceInstance<'a>>,
    /// For plans: what the plan says.
    pub plan: Option<Plan<'a>>,
}

/// The parts of a plan driftlog reads.
pub struct Plan<'a> {
    pub(crate) drift: Vec<PlanChange<'a>>,
    pub(crate) changes: Vec<PlanChange<'a>>,
    pub(crate) relevant: Vec<RelevantAttribute<'a>>,
    pub(crate) prior_state: Option<&'a RawValue>,
    /// Entries left out because they did not have the expected shape, each naming its place.
    pub warnings: Vec<String>,
    /// Terraform stopped with errors while planning.
    pub errored: bool,
    /// The plan's `timestamp` (RFC 3339), when it has one.
    pub timestamp: Option<String>,
}

impl Document<'_> {
    pub fn parse(input: &Input) -> Result<Document<'_>, ReadError> {
        parse_bytes(&input.path, input.bytes())
    }
}

/// Where a file's JSON starts, after whitespace and a UTF-8 byte order mark.
fn check_start(path: &Path, bytes: &[u8]) -> Result<usize, ReadError> {
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let Some(offset) = bytes[start..]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| i + start)
    else {
        return Err(ReadError::Empty { path: path.into() });
    };
    let found = match bytes[offset] {
        b'{' => return Ok(offset),
        b'[' => "a JSON array".to_owned(),
        b'"' => "a JSON string".to_owned(),
        b'0'..=b'9' | b'-' => "a JSON number".to_owned(),
        b @ 0x21..=0x7e => format!("'{}'", b as char),
        b => format!("byte 0x{b:02x} (binary data?)"),
    };
    Err(ReadError::NotAnObject {
        path: path.into(),
        offset,
        found,
    })
}

pub fn parse_bytes<'a>(path: &Path, bytes: &'a [u8]) -> Result<Document<'a>, ReadError> {
    let start = check_start(path, bytes)?;
    // serde_json skips leading whitespace itself, so only a byte order mark is cut off and JSON
    // error positions stay those of the file (but for the BOM's three bytes on line 1).
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let top: TopLevel<'a> =
        serde_json::from_slice(&bytes[bom..]).map_err(|e| ReadError::json(path, &e))?;
    let terraform_version = top.terraform_version.as_deref().map(str::to_owned);
    let format_version = top.format_version.as_deref().map(str::to_owned);

    let is_plan = top.resource_drift.is_some()
        || top.resource_changes.is_some()
        || top.planned_values.is_some()
        || top.prior_state.is_some();
    if is_plan {
        if let Some(v) = &format_version {
            if !(v.starts_with("0.") || v.starts_with("1.")) {
                return Err(ReadError::PlanVersion {
                    path: path.into(),
                    found: v.clone(),
                });
            }
        }
        let kind = if format_version.is_some() {
            DocumentKind::Plan
        } else {
            DocumentKind::CloudPlan
        };
        let mut warnings = Vec::new();
        let drift = plan_entries(
            path,
            bytes,
            "resource_drift",
            top.resource_drift.unwrap_or_default(),
            &mut warnings,
        )?;
        let changes = plan_entries(
            path,
            bytes,
            "resource_changes",
            top.resource_changes.unwrap_or_default(),
            &mut warnings,
        )?;
        return Ok(Document {
            kind,
            path: path.into(),
            terraform_version,
            format_version,
            instances: Vec::new(),
            plan: Some(Plan {
                drift,
                changes,
                warnings,
                relevant: top.relevant_attributes.unwrap_or_default(),
                prior_state: top.prior_state,
                errored: top.errored.unwrap_or(false),
                timestamp: top.timestamp.map(|t| t.into_owned()),
            }),
        });
    }

    if let Some(values) = top.values {
        return Ok(Document {
            kind: DocumentKind::ShowJsonState,
            path: path.into(),
            terraform_version,
            format_version,
            instances: show_instances(path, values, "values")?,
            plan: None,
        });
    }

    if let Some(version) = &top.version {
        let found = version.as_u64().ok_or_else(|| ReadError::Invalid {
            path: path.into(),
            message: format!("\"version\" is {version}, expected a state format number such as 4"),
        })?;
        match found {
            4 => {}
            0..=3 => {
                let era = if found == 3 {
                    "0.7 to 0.11"
                } else {
                    "0.6 or older"
                };
                return Err(ReadError::OldStateVersion {
                    path: path.into(),
                    found,
                    era,
                });
            }
            _ => {
                return Err(ReadError::NewStateVersion {
                    path: path.into(),
                    found,
                })
            }
        }
        let resources = top.resources.unwrap_or_default();
        return Ok(Document {
            kind: DocumentKind::StateV4,
            path: path.into(),
            terraform_version,
            format_version,
            instances: state_instances(path, resources)?,
            plan: None,
        });
    }

    if top.modules.is_some() {
        return Err(ReadError::OldStateVersion {
            path: path.into(),
            found: 3,
            era: "0.11 or older",
        });
    }
    Err(ReadError::Unrecognized {
        path: path.into(),
        keys: top_level_keys(&bytes[start..]),
    })
}

/// The keys of the top-level object, for the "what is this file" error.
fn top_level_keys(bytes: &[u8]) -> String {
    let keys: Vec<String> = serde_json::from_slice::<serde_json::Map<String, Value>>(bytes)
        .map(|m| m.keys().take(12).cloned().collect())
        .unwrap_or_default();
    if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.join(", ")
    }
}

/// A `count` (number) or `for_each` (string) key.
fn index_key(v: &Value) -> Result<Option<IndexKey>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(IndexKey::Str(s.clone()))),
        Value::Number(n) => n
            .as_i64()
            .map(|i| Some(IndexKey::Int(i)))
            .ok_or_else(|| format!("index {n} is not an integer")),
        other => Err(format!(
            "index must be a number (count) or a string (for_each), found {other}"
        )),
    }
}

/// An instance's address from its parts: the enclosing module's address, mode, type, name and
/// `count`/`for_each` key. Every reader builds addresses this way, because the `address`
/// field itself is missing (Terraform 1.0.0 drift entries) or wrong (Terraform 0.12.0 `show
/// -json`: no index on `count` instances, no `module.` prefix in child modules) in some
/// Terraform versions. Only a part the entry does not give on its own (a module path, an
/// index) is taken from `address`, as hand-made and third-party files sometimes leave those
/// out.
fn address_from_parts(
    module: &str,
    mode: &str,
    resource_type: &str,
    name: &str,
    index: Option<&Value>,
    address: Option<&str>,
) -> Result<String, String> {
    let data = match mode {
        "managed" => false,
        "data" => true,
        other => {
            return Err(format!(
                "mode \"{other}\", expected \"managed\" or \"data\""
            ))
        }
    };
    // `module.a.aws_s3_bucket.b["k"]` → (`module.a`, `["k"]`) when it names this resource.
    let (address_module, address_index) = address
        .and_then(|a| {
            let local = format!("{}{resource_type}.{name}", if data { "data." } else { "" });
            let at = a.rfind(&local)?;
            let before = &a[..at];
            let after = &a[at + local.len()..];
            let module_ok = before.is_empty() || before.ends_with('.');
            let index_ok = after.is_empty() || (after.starts_with('[') && after.ends_with(']'));
            (module_ok && index_ok).then(|| (before.trim_end_matches('.'), after))
        })
        .unwrap_or(("", ""));
    let module = if module.is_empty() {
        address_module
    } else {
        module
    };
    match index_key(index.unwrap_or(&Value::Null))? {
        Some(key) => Ok(instance_address(
            module,
            data,
            resource_type,
            name,
            Some(&key),
        )),
        None => {
            let mut out = instance_address(module, data, resource_type, name, None);
            out.push_str(address_index);
            Ok(out)
        }
    }
}

/// The 1-based line of `inner` (a slice of `whole`), for messages.
pub(crate) fn line_of(whole: &[u8], inner: &str) -> usize {
    let offset = (inner.as_ptr() as usize)
        .checked_sub(whole.as_ptr() as usize)
        .filter(|o| *o <= whole.len())
        .unwrap_or(0);
    1 + whole[..offset].iter().filter(|b| **b == b'\n').count()
}

/// Two instances with one address would silently shadow each other in the comparison: refuse
/// the input, naming both places.
/// `position(i)` says where the `i`th instance is; it is only called for the message.
fn reject_duplicates(
    path: &Path,
    instances: &[ResourceInstance<'_>],
    position: impl Fn(usize) -> String,
) -> Result<(), ReadError> {
    let mut seen: HashMap<(&str, Option<&str>), usize> = HashMap::with_capacity(instances.len());
    for (i, inst) in instances.iter().enumerate() {
        if let Some(first) = seen.insert((&inst.address, inst.deposed.as_deref()), i) {
            return Err(ReadError::Duplicate {
                path: path.into(),
                address: inst.address.clone(),
                first: position(first),
                second: position(i),
            });
        }
    }
    Ok(())
}

fn state_instances<'a>(
    path: &Path,
    resources: Vec<StateResource<'a>>,
) -> Result<Vec<ResourceInstance<'a>>, ReadError> {
    let mut out = Vec::with_capacity(resources.len());
    let mut positions: Vec<(usize, usize)> = Vec::with_capacity(resources.len());
    for (r_index, r) in resources.into_iter().enumerate() {
        let module = r.module.as_deref().unwrap_or("");
        let invalid = |at: String, message: String| ReadError::Invalid {
            path: path.into(),
            message: format!(
                "{at} ({module}{}{}.{}): {message}",
                if module.is_empty() { "" } else { "." },
                r.resource_type,
                r.name
            ),
        };
        let managed = match r.mode.as_ref() {
            "managed" => true,
            "data" => false,
            other => {
                return Err(invalid(
                    format!("resources[{r_index}]"),
                    format!("mode \"{other}\", expected \"managed\" or \"data\""),
                ))
            }
        };
        let provider = provider_name(r.provider.as_deref().unwrap_or(""));
        for (i_index, inst) in r.instances.into_iter().enumerate() {
            let address = address_from_parts(
                module,
                &r.mode,
                &r.resource_type,
                &r.name,
                inst.index_key.as_ref(),
                None,
            )
            .map_err(|m| {
                invalid(
                    format!("resources[{r_index}].instances[{i_index}]"),
                    m.replace("index", "index_key"),
                )
            })?;
            positions.push((r_index, i_index));
            out.push(ResourceInstance {
                address,
                deposed: inst.deposed.map(|d| d.into_owned()),
                resource_type: r.resource_type.to_string(),
                provider: provider.clone(),
                managed,
                attributes: inst.attributes.or(inst.attributes_flat),
                sensitive: inst.sensitive_attributes,
                mask_form: MaskForm::StatePaths,
            });
        }
    }
    reject_duplicates(path, &out, |i| {
        let (r, n) = positions[i];
        format!("resources[{r}].instances[{n}]")
    })?;
    Ok(out)
}

/// `provider["registry.terraform.io/hashicorp/aws"].west` → `registry.terraform.io/hashicorp/aws`.
fn provider_name(raw: &str) -> String {
    match (raw.find("[\""), raw.rfind("\"]")) {
        (Some(a), Some(b)) if b > a + 2 => raw[a + 2..b].to_owned(),
        _ => raw.to_owned(),
    }
}

/// Every resource instance of a `show -json` values tree (`pointer` names where it sits).
pub(crate) fn show_instances<'a>(
    path: &Path,
    values: ShowValues<'a>,
    pointer: &str,
) -> Result<Vec<ResourceInstance<'a>>, ReadError> {
    let mut out = Vec::new();
    let mut positions = Positions::default();
    if let Some(root) = values.root_module {
        collect_module(
            path,
            root,
            format!("{pointer}.root_module"),
            &mut out,
            &mut positions,
        )?;
    }
    reject_duplicates(path, &out, |i| {
        let (module, r) = positions.of[i];
        format!("{}.resources[{r}]", positions.modules[module])
    })?;
    Ok(out)
}

/// Where each instance of a `show -json` tree sits: its module's pointer and its index there,
/// kept as numbers so only a message builds the text.
#[derive(Default)]
struct Positions {
    modules: Vec<String>,
    of: Vec<(usize, usize)>,
}

fn collect_module<'a>(
    path: &Path,
    module: ShowModule<'a>,
    pointer: String,
    out: &mut Vec<ResourceInstance<'a>>,
    positions: &mut Positions,
) -> Result<(), ReadError> {
    let module_address = module.address.as_deref().unwrap_or("");
    let module_id = positions.modules.len();
    positions.modules.push(pointer.clone());
    for (i, r) in module.resources.into_iter().enumerate() {
        let address = match (&r.name, &r.address) {
            (Some(name), address) => address_from_parts(
                module_address,
                &r.mode,
                &r.resource_type,
                name,
                r.index.as_ref(),
                address.as_deref(),
            ),
            (None, Some(address)) => Ok(address.to_string()),
            (None, None) => Err("no `name` and no `address`".to_owned()),
        }
        .map_err(|message| ReadError::Invalid {
            path: path.into(),
            message: format!("{pointer}.resources[{i}]: {message}"),
        })?;
        positions.of.push((module_id, i));
        out.push(ResourceInstance {
            address,
            deposed: r.deposed_key.map(|d| d.into_owned()),
            resource_type: r.resource_type.into_owned(),
            provider: r.provider_name.map(|p| p.into_owned()).unwrap_or_default(),
            managed: r.mode == "managed",
            attributes: r.values,
            sensitive: r.sensitive_values,
            mask_form: MaskForm::Mirror,
        });
    }
    for (i, child) in module.child_modules.into_iter().enumerate() {
        collect_module(
            path,
            child,
            format!("{pointer}.child_modules[{i}]"),
            out,
            positions,
        )?;
    }
    Ok(())
}

/// Read a plan's `resource_drift` or `resource_changes` entry by entry: an entry that does not
/// have the expected shape is left out with a warning naming its position, and the rest of
/// the plan is still read. Two entries for one address are an error.
fn plan_entries<'a>(
    path: &Path,
    whole: &'a [u8],
    field: &str,
    entries: Vec<&'a RawValue>,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlanChange<'a>>, ReadError> {
    let mut out = Vec::with_capacity(entries.len());
    // Each kept entry's index and text, for the duplicate message; lines are counted only then.
    let mut positions: Vec<(usize, &'a RawValue)> = Vec::with_capacity(entries.len());
    let mut seen: HashMap<(String, Option<String>), usize> = HashMap::new();
    let place =
        |i: usize, raw: &RawValue| format!("{field}[{i}] (line {})", line_of(whole, raw.get()));
    for (i, raw) in entries.into_iter().enumerate() {
        let at = || place(i, raw);
        let mut change: PlanChange<'a> = match serde_json::from_str(raw.get()) {
            Ok(c) => c,
            Err(e) => {
                warnings.push(format!(
                    "{}: {}: entry skipped: {}",
                    display_path(path),
                    at(),
                    without_position(&e)
                ));
                continue;
            }
        };
        let resolved = match (&change.name, &change.address) {
            (Some(name), address) => address_from_parts(
                change.module_address.as_deref().unwrap_or(""),
                change.mode.as_deref().unwrap_or("managed"),
                &change.resource_type,
                name,
                change.index.as_ref(),
                address.as_deref(),
            ),
            (None, Some(address)) => Ok(address.to_string()),
            (None, None) => Err("it has neither `address` nor `name`".to_owned()),
        };
        match resolved {
            Ok(a) => change.resolved = a,
            Err(message) => {
                warnings.push(format!(
                    "{}: {}: entry skipped: {message}",
                    display_path(path),
                    at()
                ));
                continue;
            }
        }
        let key = (
            change.resolved.clone(),
            change.deposed.as_deref().map(str::to_owned),
        );
        if let Some(first) = seen.insert(key, out.len()) {
            let (first_i, first_raw) = positions[first];
            return Err(ReadError::Duplicate {
                path: path.into(),
                address: change.resolved,
                first: place(first_i, first_raw),
                second: at(),
            });
        }
        positions.push((i, raw));
        out.push(change);
    }
    Ok(out)
}

#[derive(Deserialize)]
struct PriorState<'a> {
    #[serde(borrow)]
    values: Option<ShowValues<'a>>,
}

impl<'a> Plan<'a> {
    /// The state the plan was made from (for a refresh-only plan: the live state).
    pub fn prior_state_instances(
        &self,
        path: &Path,
    ) -> Result<Vec<ResourceInstance<'a>>, ReadError> {
        let Some(raw) = self.prior_state else {
            return Ok(Vec::new());
        };
        let prior: PriorState<'a> =
            serde_json::from_str(raw.get()).map_err(|e| ReadError::Invalid {
                path: path.into(),
                message: format!("prior_state: {e}"),
            })?;
        match prior.values {
            Some(values) => show_instances(path, values, "prior_state.values"),
            None => Ok(Vec::new()),
        }
    }

    pub fn has_prior_state(&self) -> bool {
        self.prior_state.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse_bytes(Path::new("x.json"), text.as_bytes()) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_inputs_get_clear_messages() {
        assert_eq!(
            err(""),
            "x.json: file is empty; expected a Terraform state or plan JSON object"
        );
        assert_eq!(
            err("  [1]"),
            "x.json: byte 2: expected a JSON object ('{'), found a JSON array"
        );
        assert!(err("\x00\x01").contains("binary data"));
        assert!(
            err("{\"version\": 4, \"resources\": [").starts_with("x.json: line 1, column 29: EOF")
        );
        assert!(err("{\"version\": 3, \"modules\": []}").contains("format version 3"));
        assert!(err("{\"version\": 9}").contains("newer"));
        assert!(err("{\"hello\": 1}").contains("found top-level keys [hello]"));
        assert!(
            err("{\"format_version\": \"2.0\", \"resource_changes\": []}")
                .contains("format_version 2.0")
        );
    }

    #[test]
    fn reads_modules_count_for_each_and_data() {
        let state = r#"{"version": 4, "resources": [
            {"module": "module.net", "mode": "managed", "type": "aws_subnet", "name": "private",
             "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [{"index_key": "a", "attributes": {"id": "s-1"}}, {"index_key": "b", "attributes": {"id": "s-2"}}]},
            {"mode": "managed", "type": "aws_instance", "name": "web", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [{"index_key": 0, "attributes": {}}, {"index_key": 0, "deposed": "abcd1234", "attributes": {}}]},
            {"mode": "data", "type": "aws_ami", "name": "ubuntu", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
             "instances": [{"attributes": {}}]}]}"#;
        let doc = parse_bytes(Path::new("s"), state.as_bytes()).unwrap();
        let got: Vec<(&str, Option<&str>, bool)> = doc
            .instances
            .iter()
            .map(|i| (i.address.as_str(), i.deposed.as_deref(), i.managed))
            .collect();
        assert_eq!(
            got,
            [
                ("module.net.aws_subnet.private[\"a\"]", None, true),
                ("module.net.aws_subnet.private[\"b\"]", None, true),
                ("aws_instance.web[0]", None, true),
                ("aws_instance.web[0]", Some("abcd1234"), true),
                ("data.aws_ami.ubuntu", None, false),
            ]
        );
        assert_eq!(
            doc.instances[0].provider,
            "registry.terraform.io/hashicorp/aws"
        );
    }
}
