//! `scan --declared STATE --live aws`: the declared states against the AWS APIs themselves.
//!
//! Every managed resource of a supported type is read by its id and compared through the same
//! engine as two states ([`compare_pair`]); what the APIs list and no state declares is
//! unmanaged, AWS defaults excluded with their rule; and create calls in the event store whose
//! resource no state declares are unmanaged too, with their creator, even where listing that
//! type was not allowed.

use super::{input_record, state_side, Scanned};
use crate::{AppError, Progress};
use driftlog_aws::live::{self, LiveRequest, Outcome, Target};
use driftlog_core::attribution::identity::identifiers;
use driftlog_core::engine::{compare_pair, Pair};
use driftlog_core::finding::Discovery;
use driftlog_core::report::{Excluded, LiveAlert, LiveSummary, NotChecked};
use driftlog_core::sensitive::SensitiveMask;
use driftlog_core::{Finding, FindingKind};
use driftlog_store::{EventQuery, EventStore};
use driftlog_terraform::document::Document;
use driftlog_terraform::input::display_path;
use driftlog_terraform::ReadError;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// The state a configuration's `backend "s3"` block names (for its current workspace), and the
/// AWS options to fetch it with: the backend's region, profile, endpoint and role over the
/// global ones, since the state bucket need not be in the scanned region or account.
pub fn backend_state(
    dir: &std::path::Path,
    aws: &driftlog_aws::AwsOptions,
) -> Result<(PathBuf, driftlog_aws::AwsOptions), AppError> {
    let backend =
        driftlog_terraform::backend::s3_backend(dir).map_err(|e| AppError::Input(e.to_string()))?;
    let workspace = driftlog_terraform::backend::workspace(dir);
    let mut fetch = aws.clone();
    if backend.region.is_some() {
        fetch.region = backend.region.clone();
    }
    if backend.profile.is_some() && aws.profile.is_none() {
        fetch.profile = backend.profile.clone();
    }
    if backend.endpoint.is_some() && aws.endpoint_url.is_none() {
        fetch.endpoint_url = backend.endpoint.clone();
    }
    // The backend's role reaches the state bucket; live reads keep their own credentials.
    fetch.s3_role_arn = backend.role_arn.clone();
    Ok((PathBuf::from(backend.state_location(&workspace)), fetch))
}

/// How far a live read goes.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    /// Regions to read and enumerate (`all`: every enabled one); empty: the configured one.
    pub regions: Vec<String>,
    /// List every supported type for unmanaged resources (off: `--managed-only`).
    pub enumerate: bool,
}

/// A create call in the event store whose resource no state declares.
pub(crate) struct Created {
    tf_type: &'static str,
    id: String,
    region: Option<String>,
}

/// Create calls in the store up to `until_us` whose resources no target declares.
pub(crate) fn created_in_logs(
    store: &dyn EventStore,
    targets: &[Target],
    until_us: i64,
) -> Result<Vec<Created>, AppError> {
    let declared = live::declared_keys(targets);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut actions: Vec<&str> = driftlog_audit::created::create_actions().collect();
    actions.sort_unstable();
    actions.dedup();
    for action in actions {
        let query = EventQuery {
            action: Some(format!("{action}*")),
            until_us: Some(until_us),
            writes_only: true,
            ..EventQuery::default()
        };
        for stored in store.query(&query)? {
            if !stored.event.outcome.is_success() {
                continue;
            }
            let raw = store.raw(stored.id)?;
            for (tf_type, id) in driftlog_audit::created::created_resources(&raw) {
                let Some(key) = live::match_key(tf_type, &id) else {
                    continue;
                };
                if declared.contains(&(tf_type.to_owned(), key.clone()))
                    || !seen.insert((tf_type, key))
                {
                    continue;
                }
                out.push(Created {
                    tf_type,
                    id,
                    region: stored.event.region.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// A Terraform-style name for an unmanaged resource: its name (else its id) made into an
/// identifier, unique among `taken`.
fn label(tf_type: &str, id: &str, attrs: &Value, taken: &mut HashSet<String>) -> String {
    let named = ["name", "bucket", "function_name", "identifier"]
        .iter()
        .find_map(|k| {
            attrs
                .get(*k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        });
    let id = named.unwrap_or(id);
    let tail = id.rsplit(['/', ':']).find(|s| !s.is_empty()).unwrap_or(id);
    let mut name: String = tail
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert_str(0, "r_");
    }
    let mut address = format!("{tf_type}.{name}");
    let mut n = 2;
    while !taken.insert(address.clone()) {
        address = format!("{tf_type}.{name}_{n}");
        n += 1;
    }
    address
}

fn unmanaged(tf_type: &str, address: String, attrs: &Value, discovery: Discovery) -> Finding {
    Finding {
        address,
        resource_type: tf_type.to_owned(),
        provider: "registry.terraform.io/hashicorp/aws".to_owned(),
        kind: FindingKind::Unmanaged,
        deposed: None,
        previous_address: None,
        changes: Vec::new(),
        identifiers: identifiers(tf_type, [attrs]),
        attribution: None,
        remediation: None,
        discovery: Some(discovery),
        stack: None,
    }
}

/// The attributes an audit-discovered resource is known by: its id under every name the type
/// uses for it.
fn known_attributes(tf_type: &str, id: &str) -> Value {
    let mut v = json!({"id": id});
    for attr in driftlog_core::attribution::identity::identity_attributes(tf_type) {
        v[*attr] = json!(id);
    }
    v
}

/// Read the declared states, read AWS, and compare.
pub(crate) fn scan_live_aws(
    declared: &[PathBuf],
    options: &LiveOptions,
    aws: &driftlog_aws::AwsOptions,
    state_aws: &driftlog_aws::AwsOptions,
    created: impl FnOnce(&[Target]) -> Result<Vec<Created>, AppError>,
    progress: &dyn Progress,
) -> Result<(Scanned, LiveSummary, bool), AppError> {
    // The declared side: every managed instance of every state.
    let mut inputs = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut meta: Vec<(String, String, SensitiveMask, Option<String>)> = Vec::new();
    let mut warnings = Vec::new();
    let declared = crate::source::expand(declared, state_aws)?;
    for path in &declared {
        progress.step(&format!("reading {}", display_path(path)));
        let input = crate::source::open_input(path, state_aws)?;
        // Several states: each finding says which one declares it.
        let stack = (declared.len() > 1).then(|| display_path(path));
        let doc = Document::parse(&input)?;
        if doc.plan.as_ref().is_some_and(|p| !p.has_prior_state()) {
            return Err(AppError::Input(format!(
                "{}: this plan has no prior_state to read live; give a state",
                display_path(path)
            )));
        }
        for instance in state_side(&doc)?
            .iter()
            .filter(|i| i.managed && i.deposed.is_none())
        {
            let (attributes, mask) = instance.parse().map_err(|source| ReadError::Engine {
                path: input.path.clone(),
                source,
            })?;
            if !instance.provider.contains("hashicorp/aws")
                && !instance.resource_type.starts_with("aws_")
            {
                continue;
            }
            targets.push(Target {
                tf_type: instance.resource_type.clone(),
                attributes,
            });
            meta.push((
                instance.address.clone(),
                instance.provider.clone(),
                mask,
                stack.clone(),
            ));
        }
        inputs.push(input_record(
            "declared",
            &input,
            doc.kind,
            input.sha256_hex(),
        ));
    }
    let created = created(&targets)?;

    let request = LiveRequest {
        targets: targets.clone(),
        regions: options.regions.clone(),
        enumerate: options.enumerate,
        probes: created
            .iter()
            .map(|c| (c.tf_type.to_owned(), c.region.clone(), c.id.clone()))
            .collect(),
        pace: None,
    };
    progress.step("reading AWS");
    let read = live::read(aws, &request, &|what, done, total| {
        progress.count(what, done, total)
    })
    .map_err(|e| AppError::Input(e.to_string()))?;

    // Declared resources: compared, gone, or not checked.
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    let mut not_checked: BTreeMap<(String, String), (usize, HashSet<String>)> = BTreeMap::new();
    let mut unread_by_alert: HashMap<usize, usize> = HashMap::new();
    let (mut found, mut missing) = (0, 0);
    for ((target, (address, provider, mask, stack)), outcome) in
        targets.iter().zip(&meta).zip(&read.outcomes)
    {
        let pair = |declared, live| Pair {
            address: address.clone(),
            resource_type: target.tf_type.clone(),
            provider: provider.clone(),
            deposed: None,
            previous_address: None,
            declared,
            live,
        };
        let mut note = |reason: &str, attrs: Vec<String>| {
            let e = not_checked
                .entry((target.tf_type.clone(), reason.to_owned()))
                .or_insert_with(|| (0, HashSet::new()));
            e.0 += 1;
            e.1.extend(attrs);
        };
        match outcome {
            Outcome::Found { declared, live } => {
                found += 1;
                let all: Vec<String> = target
                    .attributes
                    .as_object()
                    .map(|m| {
                        m.keys()
                            .filter(|k| {
                                declared.get(k.as_str()).is_none()
                                    && !matches!(k.as_str(), "id" | "arn" | "timeouts")
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                note("attributes not read", all);
                let (f, s) = compare_pair(pair(
                    Some((declared.clone(), mask.clone())),
                    Some((live.clone(), mask.clone())),
                ));
                // Audit events name the resource by the ids the comparison leaves out.
                findings.extend(f.map(|mut f| {
                    f.identifiers = identifiers(&target.tf_type, [&target.attributes]);
                    f.stack = stack.clone();
                    f
                }));
                suppressed.extend(s);
            }
            Outcome::Missing => {
                missing += 1;
                let (f, _) =
                    compare_pair(pair(Some((target.attributes.clone(), mask.clone())), None));
                findings.extend(f);
            }
            Outcome::Unsupported => note("type not supported by live reads", Vec::new()),
            Outcome::NoId => note("no id in the state", Vec::new()),
            Outcome::Unread { alert } => {
                *unread_by_alert.entry(*alert).or_default() += 1;
                note("read failed (see alerts)", Vec::new());
            }
        }
    }

    // What nobody declared: listed by the APIs, and created according to the audit logs.
    let mut taken: HashSet<String> = meta.iter().map(|(a, _, _, _)| a.clone()).collect();
    let mut excluded = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    for d in &read.discovered {
        if d.managed {
            continue;
        }
        if let Some(rule) = &d.excluded {
            excluded.push(Excluded {
                resource_type: d.tf_type.to_owned(),
                id: d.id.clone(),
                region: d.region.clone(),
                rule: rule.clone(),
            });
            continue;
        }
        let address = label(d.tf_type, &d.id, &d.attributes, &mut taken);
        if let Some(key) = live::match_key(d.tf_type, &d.id) {
            by_key.insert((d.tf_type.to_owned(), key), findings.len());
        }
        findings.push(unmanaged(
            d.tf_type,
            address,
            &d.attributes,
            Discovery {
                found_by: "api".into(),
                id: d.id.clone(),
                region: d.region.clone(),
                seen_live: true,
                attributes: driftlog_terraform::imports::skeleton_attributes(
                    d.tf_type,
                    &d.attributes,
                ),
            },
        ));
    }
    let excluded_keys: HashSet<(String, String)> = read
        .discovered
        .iter()
        .filter(|d| d.excluded.is_some() || d.managed)
        .filter_map(|d| Some((d.tf_type.to_owned(), live::match_key(d.tf_type, &d.id)?)))
        .collect();
    let mut gone_since = 0;
    for (c, exists) in created.iter().zip(&read.probes) {
        let Some(key) = live::match_key(c.tf_type, &c.id) else {
            continue;
        };
        let key = (c.tf_type.to_owned(), key);
        if excluded_keys.contains(&key) {
            continue;
        }
        if let Some(&i) = by_key.get(&key) {
            if let Some(d) = findings[i].discovery.as_mut() {
                d.found_by = "api, audit-log".into();
            }
            continue;
        }
        match exists {
            Some(false) => gone_since += 1,
            seen => {
                let attrs = known_attributes(c.tf_type, &c.id);
                let address = label(c.tf_type, &c.id, &json!({}), &mut taken);
                findings.push(unmanaged(
                    c.tf_type,
                    address,
                    &attrs,
                    Discovery {
                        found_by: "audit-log".into(),
                        id: c.id.clone(),
                        region: c.region.clone().unwrap_or_default(),
                        seen_live: seen.is_some(),
                        attributes: driftlog_terraform::imports::skeleton_attributes(
                            c.tf_type, &attrs,
                        ),
                    },
                ));
            }
        }
    }
    if gone_since > 0 {
        warnings.push(format!(
            "{gone_since} resources created outside any state (according to the audit logs) no longer exist"
        ));
    }

    let alerts: Vec<LiveAlert> = read
        .alerts
        .iter()
        .map(|a| LiveAlert {
            service: a.service.clone(),
            region: a.region.clone(),
            types: a.resource_types.clone(),
            kind: a.kind.to_owned(),
            code: a.code.clone(),
            message: a.message.clone(),
        })
        .collect();
    for (i, a) in alerts.iter().enumerate() {
        let unread = unread_by_alert.get(&i).copied().unwrap_or(0);
        warnings.push(format!(
            "{} in {}: {} ({}){}; the report is partial",
            a.service,
            a.region,
            a.code,
            a.types.join(", "),
            if unread > 0 {
                format!(", {unread} declared resources not read")
            } else {
                String::new()
            }
        ));
    }
    let partial = !alerts.is_empty();
    let summary = LiveSummary {
        provider: "aws".into(),
        regions: read.regions.clone(),
        read: found,
        missing,
        enumerated: options.enumerate,
        requests: read.requests,
        throttled: read.throttled,
        retried: read.retried,
        not_checked: not_checked
            .into_iter()
            .filter(|((_, reason), (_, attrs))| {
                reason != "attributes not read" || !attrs.is_empty()
            })
            .map(|((resource_type, reason), (resources, attrs))| {
                let mut attributes: Vec<String> = attrs.into_iter().collect();
                attributes.sort();
                NotChecked {
                    resource_type,
                    resources,
                    reason,
                    attributes,
                }
            })
            .collect(),
        excluded,
        alerts,
    };
    Ok((
        Scanned {
            mode: "live-aws",
            inputs,
            resources_scanned: targets.len(),
            findings,
            not_yet_applied: Vec::new(),
            suppressed,
            warnings,
            observed_at_us: None,
        },
        summary,
        partial,
    ))
}

/// The `--generate-imports` file for a report: an `import` block and a skeleton resource for
/// every unmanaged resource a live read found, with how it was found and who created it.
pub fn imports(report: &driftlog_core::ScanReport) -> String {
    use driftlog_terraform::imports::{render, Import};
    let imports: Vec<Import<'_>> = report
        .findings
        .iter()
        .filter_map(|f| {
            let d = f.discovery.as_ref()?;
            let mut comment = vec![format!(
                "{}: found by {} in {}{}",
                f.address,
                d.found_by,
                if d.region.is_empty() {
                    "the account"
                } else {
                    &d.region
                },
                if d.seen_live {
                    ""
                } else {
                    " (existence not checked)"
                }
            )];
            if let Some(e) = f.attribution.as_ref().and_then(|a| a.caused_by.first()) {
                comment.push(format!(
                    "created by {} at {} ({}, {})",
                    e.principal.as_deref().unwrap_or("an unknown principal"),
                    e.time,
                    e.action,
                    e.actor_kind.as_str()
                ));
            }
            Some(Import {
                address: &f.address,
                resource_type: &f.resource_type,
                id: &d.id,
                attributes: &d.attributes,
                comment,
            })
        })
        .collect();
    render(&imports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_identifiers_and_unique() {
        let mut taken = HashSet::new();
        let none = json!({});
        assert_eq!(
            label(
                "aws_sqs_queue",
                "http://h/1234/jobs.fifo",
                &none,
                &mut taken
            ),
            "aws_sqs_queue.jobs_fifo"
        );
        assert_eq!(
            label("aws_sqs_queue", "https://x/9/jobs.fifo", &none, &mut taken),
            "aws_sqs_queue.jobs_fifo_2"
        );
        assert_eq!(
            label("aws_kms_key", "1234abcd-12ab", &none, &mut taken),
            "aws_kms_key.r_1234abcd-12ab"
        );
        assert_eq!(
            label(
                "aws_iam_policy",
                "arn:aws:iam::1:policy/team/deploy",
                &none,
                &mut taken
            ),
            "aws_iam_policy.deploy"
        );
        assert_eq!(
            label(
                "aws_security_group",
                "sg-0abc",
                &json!({"name": "temp sg"}),
                &mut taken
            ),
            "aws_security_group.temp_sg"
        );
    }
}
