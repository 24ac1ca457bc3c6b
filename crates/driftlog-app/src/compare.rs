//! The compare use case: read each environment's state, compare them all, judge each
//! difference by the rules, name who last changed each unexpected one (when the event store
//! knows), record the comparison in the ledger, and return the report.

use crate::record::Recorder;
use crate::scan::{input_record, state_side};
use crate::{AppError, Progress};
use driftlog_core::attribution::attribute_with_requests;
use driftlog_core::cause::Confidence;
use driftlog_core::compare::normalize::EnvProfile;
use driftlog_core::compare::rules::{ExpectRule, ExpectRules};
use driftlog_core::compare::{compare_environments, CompareReport, Environment};
use driftlog_core::{Change, Finding, FindingKind};
use driftlog_terraform::document::Document;
use driftlog_terraform::input::{display_path, Input};
use driftlog_terraform::ReadError;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The rules file read when none is named and one exists in the working directory.
pub const DEFAULT_RULES_FILE: &str = ".driftlog-compare";

/// Everything a comparison needs, as plain values.
#[derive(Debug, Clone, Default)]
pub struct CompareRequest {
    /// Environment name and its state (raw state, `show -json`, or a plan's prior state), in
    /// the order columns are shown.
    pub environments: Vec<(String, PathBuf)>,
    /// More words that name an environment inside values: (environment, word).
    pub env_tokens: Vec<(String, String)>,
    /// A rules file of expected differences (`None`: none).
    pub rules_file: Option<PathBuf>,
    /// Rules given inline, after the file's.
    pub expect: Vec<String>,
    /// The event store asked who last changed each unexpected difference.
    pub store: PathBuf,
    pub attribution: bool,
    /// How to reach AWS, for `s3://` states.
    pub aws: driftlog_aws::AwsOptions,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check(request: &CompareRequest) -> Result<Vec<String>, AppError> {
    if request.environments.len() < 2 {
        return Err(AppError::Usage(
            "compare needs at least two environments: --env NAME=STATE --env NAME=STATE".into(),
        ));
    }
    let names: Vec<String> = request
        .environments
        .iter()
        .map(|(n, _)| n.clone())
        .collect();
    for (i, name) in names.iter().enumerate() {
        if !valid_name(name) {
            return Err(AppError::Usage(format!(
                "--env {name}=…: an environment name is letters, digits, '-' and '_'"
            )));
        }
        if names[..i].contains(name) {
            return Err(AppError::Usage(format!("--env {name} is given twice")));
        }
    }
    for (env, token) in &request.env_tokens {
        if !names.contains(env) {
            return Err(AppError::Usage(format!(
                "--env-token {env}={token}: no environment '{env}' (the environments are {})",
                names.join(", ")
            )));
        }
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AppError::Usage(format!(
                "--env-token {env}={token}: a token is one word of letters and digits"
            )));
        }
    }
    Ok(names)
}

/// The expected-difference rules: the file's, then the inline ones.
pub fn load_rules(file: Option<&Path>, inline: &[String]) -> Result<ExpectRules, AppError> {
    let mut rules = ExpectRules::default();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| AppError::Io {
            path: path.to_owned(),
            what: "reading the comparison rules",
            source,
        })?;
        rules = ExpectRules::parse_file(&text, &display_path(path))
            .map_err(|e| AppError::Input(e.to_string()))?;
    }
    for (n, line) in inline.iter().enumerate() {
        let origin = format!("--expect #{}", n + 1);
        if let Some(rule) =
            ExpectRule::parse(line, &origin).map_err(|e| AppError::Usage(e.to_string()))?
        {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// Compare the environments and record the comparison. The report is returned only once it
/// is recorded.
pub fn compare(
    request: &CompareRequest,
    ledger: &Recorder,
    progress: &dyn Progress,
) -> Result<CompareReport, AppError> {
    let names = check(request)?;
    let rules = load_rules(request.rules_file.as_deref(), &request.expect)?;
    progress.step(&format!("reading {} environments", names.len()));
    // Every input is read and parsed on its own core; each borrows from its bytes.
    let inputs: Vec<Input> = request
        .environments
        .par_iter()
        .map(|(_, path)| crate::source::open_input(path, &request.aws))
        .collect::<Result<_, AppError>>()?;
    let parsed: Vec<(Document<'_>, String)> = inputs
        .par_iter()
        .map(|input| {
            let (doc, sha256) = rayon::join(|| Document::parse(input), || input.sha256_hex());
            Ok((doc?, sha256))
        })
        .collect::<Result<_, ReadError>>()?;
    let mut warnings = rules.unknown_environments(&names);
    let mut environments = Vec::with_capacity(parsed.len());
    for (((name, _), input), (doc, sha256)) in request.environments.iter().zip(&inputs).zip(&parsed)
    {
        if let Some(plan) = &doc.plan {
            if !plan.has_prior_state() {
                return Err(AppError::Input(format!(
                    "{}: this plan has no prior_state to compare",
                    display_path(&doc.path)
                )));
            }
            warnings.extend(plan.warnings.iter().cloned());
            warnings.push(format!(
                "{}: environment {name} read from the plan's prior_state",
                display_path(&doc.path)
            ));
        }
        let extra: Vec<String> = request
            .env_tokens
            .iter()
            .filter(|(env, _)| env == name)
            .map(|(_, token)| token.clone())
            .collect();
        environments.push(Environment {
            profile: EnvProfile::new(name, &extra),
            input: input_record(name, input, doc.kind, sha256.clone()),
            instances: state_side(doc)?,
        });
    }
    progress.step("comparing");
    let first_path = request.environments[0].1.clone();
    let mut report = compare_environments(environments, &rules, warnings).map_err(|source| {
        ReadError::Engine {
            path: first_path,
            source,
        }
    })?;
    if request.attribution && report.has_unexpected() && crate::stores::exists(&request.store) {
        progress.step("asking the audit logs who changed what");
        attribute_differences(&mut report, &request.store)?;
    }
    ledger
        .compare(&report)
        .map_err(|e| AppError::recording("the comparison", e))?;
    Ok(report)
}

/// For each unexpected difference, in each environment that has the resource: the write that
/// last changed that attribute, by the scan's attribution engine over that environment's
/// identifiers. Only certain or likely causes are kept.
fn attribute_differences(report: &mut CompareReport, store: &Path) -> Result<(), AppError> {
    let now = jiff::Timestamp::now().as_microsecond();
    report.resources.par_iter_mut().try_for_each_init(
        || crate::stores::open_events_existing(store),
        |store, resource| -> Result<(), AppError> {
            let store = store
                .as_ref()
                .map_err(|e| AppError::Input(format!("opening the event store: {e}")))?;
            for (env, ids) in resource.identifiers.iter().enumerate() {
                if ids.is_empty() {
                    continue;
                }
                let stored = store.events_naming(ids)?;
                if stored.is_empty() {
                    continue;
                }
                let row_ids: Vec<i64> = stored.iter().map(|s| s.id).collect();
                let events: Vec<_> = stored.into_iter().map(|s| s.event).collect();
                for difference in resource
                    .differences
                    .iter_mut()
                    .filter(|d| d.expected.is_none())
                {
                    let cell = &mut difference.cells[env];
                    let finding = Finding {
                        address: resource.address.clone(),
                        resource_type: resource.resource_type.clone(),
                        provider: String::new(),
                        kind: FindingKind::Changed,
                        deposed: None,
                        previous_address: None,
                        changes: vec![Change::new(
                            difference.path.clone(),
                            serde_json::Value::Null,
                            cell.value.clone(),
                        )],
                        identifiers: ids.clone(),
                        attribution: None,
                        remediation: None,
                        discovery: None,
                        stack: None,
                    };
                    let mut request = |i: usize| {
                        store
                            .raw(row_ids[i])
                            .ok()
                            .and_then(|raw| driftlog_audit::request_body(&raw))
                    };
                    let mut found =
                        attribute_with_requests(&finding, ids, &events, now, None, &mut request);
                    if matches!(found.confidence, Confidence::Certain | Confidence::Likely) {
                        // The cell says who changed it last; the rest of the window is noise.
                        found.candidates.clear();
                        found.attempts.clear();
                        cell.last_change = Some(found);
                    }
                }
            }
            Ok(())
        },
    )
}
