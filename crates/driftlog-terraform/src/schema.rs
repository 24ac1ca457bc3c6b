//! The serde shapes of Terraform's files, borrowed from the input: big values stay `&RawValue`.
//! Unknown keys are skipped, so newer Terraform versions that add fields still load.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// Every top-level key driftlog looks at, in any of the formats; which are present decides
/// what the file is.
#[derive(Deserialize)]
pub struct TopLevel<'a> {
    pub version: Option<Value>,
    #[serde(borrow)]
    pub format_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub terraform_version: Option<Cow<'a, str>>,
    /// Raw state (format 4).
    #[serde(borrow)]
    pub resources: Option<Vec<StateResource<'a>>>,
    /// Format 3 and older keep resources under `modules`.
    pub modules: Option<serde::de::IgnoredAny>,
    /// `show -json` state.
    #[serde(borrow)]
    pub values: Option<ShowValues<'a>>,
    /// Plan entries are split here and read one by one, so one odd entry costs only itself.
    #[serde(borrow)]
    pub resource_drift: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub resource_changes: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    pub relevant_attributes: Option<Vec<RelevantAttribute<'a>>>,
    #[serde(borrow)]
    pub prior_state: Option<&'a RawValue>,
    pub planned_values: Option<serde::de::IgnoredAny>,
    pub errored: Option<bool>,
    /// When the plan was made (Terraform 1.5+): the moment the live side was observed.
    #[serde(borrow)]
    pub timestamp: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct StateResource<'a> {
    #[serde(borrow, default)]
    pub module: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub mode: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    pub resource_type: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub provider: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub instances: Vec<StateInstance<'a>>,
}

#[derive(Deserialize)]
pub struct StateInstance<'a> {
    #[serde(default)]
    pub index_key: Option<Value>,
    #[serde(borrow, default)]
    pub deposed: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub attributes: Option<&'a RawValue>,
    /// Providers from before Terraform 0.12 stored flat string maps.
    #[serde(borrow, default)]
    pub attributes_flat: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub sensitive_attributes: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct ShowValues<'a> {
    #[serde(borrow)]
    pub root_module: Option<ShowModule<'a>>,
}

#[derive(Deserialize)]
pub struct ShowModule<'a> {
    /// `module.net`, `module.a["x"].module.b`; absent for the root module.
    #[serde(borrow, default)]
    pub address: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub resources: Vec<ShowResource<'a>>,
    #[serde(borrow, default)]
    pub child_modules: Vec<ShowModule<'a>>,
}

/// One resource instance of `show -json`. Terraform 0.12.0 wrote the same `address` for every
/// `count` instance and left the `module.` prefix off child-module resources, so the address is
/// rebuilt from the enclosing module's and `mode`/`type`/`name`/`index`; `address` is only a
/// fallback.
#[derive(Deserialize)]
pub struct ShowResource<'a> {
    #[serde(borrow, default)]
    pub address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub mode: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    pub resource_type: Cow<'a, str>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub index: Option<Value>,
    #[serde(borrow, default)]
    pub provider_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub deposed_key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub values: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub sensitive_values: Option<&'a RawValue>,
}

/// One entry of `resource_drift` or `resource_changes`. Terraform 1.0.0 wrote drift entries
/// without `address`; it is rebuilt from `module_address`/`mode`/`type`/`name`/`index` into
/// [`PlanChange::resolved`].
#[derive(Deserialize)]
pub struct PlanChange<'a> {
    /// The address the entry is known by, rebuilt from its parts.
    #[serde(skip)]
    pub resolved: String,
    #[serde(borrow, default)]
    pub address: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub module_address: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(default)]
    pub index: Option<Value>,
    #[serde(borrow, default)]
    pub previous_address: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub mode: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    pub resource_type: Cow<'a, str>,
    #[serde(borrow, default)]
    pub provider_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub deposed: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub change: ChangeBody<'a>,
    #[serde(borrow, default)]
    pub action_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub struct ChangeBody<'a> {
    #[serde(borrow)]
    pub actions: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub before: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub after: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub after_unknown: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub before_sensitive: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub after_sensitive: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct RelevantAttribute<'a> {
    #[serde(borrow)]
    pub resource: Cow<'a, str>,
    #[serde(default)]
    pub attribute: Vec<Value>,
}
