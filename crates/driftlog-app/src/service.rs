//! The service's use cases (`driftlog serve`): what each scheduled job does, in terms of the
//! other use cases, and how its result is recorded in the history. The server only decides
//! *when* (schedules, leases, shutdown); *what* is here, so the CLI's `scan`, `ingest` and
//! `compare` and the service's jobs run the same code.
//!
//! Jobs are named after what they do: `stack:NAME` scans a stack and moves its findings
//! (new, changed, resolved), `audit:PATH` ingests an audit source, `compare:NAME` compares
//! environments. A stack's alerts are made from its run's transitions, in the transaction that
//! records the run, so they are sent once whatever happens to the worker.

use crate::record::Recorder;
use crate::scan::live::LiveOptions;
use crate::scan::{ScanInputs, ScanRequest};
use crate::{AppError, Progress};
use driftlog_config::{Config, Stack};
use driftlog_store::service::{
    Change, Claim, NewDelivery, Observed, Recorded, RunRecord, ServiceStore, Transition,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where an alert goes, with its secrets read.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    /// `webhook` or `slack`.
    pub kind: String,
    /// Secret: never logged or shown.
    pub url: String,
    /// The HMAC key of a signed webhook.
    pub secret: Option<Vec<u8>>,
    pub on: Vec<Change>,
    /// Empty: every environment.
    pub environments: Vec<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A job and when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub name: String,
    pub schedule: String,
}

/// Everything the service's jobs need, read once at start.
#[derive(Debug, Clone)]
pub struct Service {
    pub config: Config,
    /// The configuration file's folder: relative paths start here.
    pub base: PathBuf,
    /// The event store, which also holds the history: a file, or a `postgres://` URL (never
    /// shown as is: see [`crate::stores::shown`]).
    pub store: PathBuf,
    pub ledger: Recorder,
    pub aws: driftlog_aws::AwsOptions,
    pub targets: Vec<Target>,
    /// The dashboard's address as people reach it, for links in alerts.
    pub public_url: Option<String>,
}

/// Read a secret from an environment variable or a file (trailing newline dropped).
fn secret(
    what: &'static str,
    env: Option<&str>,
    file: Option<&Path>,
    base: &Path,
) -> Result<Option<String>, AppError> {
    if let Some(var) = env {
        return std::env::var(var).map(Some).map_err(|_| {
            AppError::Input(format!("{what}: the environment variable {var} is not set"))
        });
    }
    if let Some(file) = file {
        let path = base.join(file);
        let text = std::fs::read_to_string(&path).map_err(|source| AppError::Io {
            path: path.clone(),
            what,
            source,
        })?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    Ok(None)
}

impl Service {
    /// Resolve a validated configuration: paths from `base`, secrets (the store's database URL
    /// among them) from the environment and files.
    pub fn new(
        config: Config,
        base: &Path,
        aws: driftlog_aws::AwsOptions,
        public_url: Option<String>,
    ) -> Result<Self, AppError> {
        let url = secret(
            "the store's database URL",
            config.store.url_env.as_deref(),
            config.store.url_file.as_deref(),
            base,
        )?;
        let store = match url {
            Some(url) if crate::stores::is_database(Path::new(&url)) => PathBuf::from(url),
            Some(url) => {
                return Err(AppError::Input(format!(
                    "store: the database URL must start with postgres:// (found `{}`)",
                    url.split("://").next().unwrap_or_default()
                )))
            }
            None => base.join(
                config
                    .store
                    .path
                    .clone()
                    .unwrap_or_else(|| driftlog_store::DEFAULT_PATH.into()),
            ),
        };
        let ledger = Recorder {
            // `off`, as on the command line, appends nothing.
            ledger: match &config.ledger.path {
                Some(p) if p.as_os_str() == "off" => p.clone(),
                Some(p) => base.join(p),
                None => crate::stores::default_ledger(&store, &base.join(".driftlog/ledger.db")),
            },
            key: config
                .ledger
                .key
                .as_ref()
                .map_or_else(|| base.join(".driftlog/ledger.key"), |p| base.join(p)),
        };
        let mut targets = Vec::new();
        for n in &config.notify {
            let name = n.name.get_ref().clone();
            let what = "a notification target's URL";
            let url = secret(what, n.url_env.as_deref(), n.url_file.as_deref(), base)?
                .ok_or_else(|| AppError::Input(format!("notify `{name}`: no URL")))?;
            let key = secret(
                "a notification target's signing key",
                n.secret_env.as_deref(),
                n.secret_file.as_deref(),
                base,
            )?;
            let on = match &n.on {
                Some(on) => on
                    .get_ref()
                    .iter()
                    .filter_map(|w| match w.as_str() {
                        "new" => Some(Change::New),
                        "changed" => Some(Change::Changed),
                        "resolved" => Some(Change::Resolved),
                        _ => None,
                    })
                    .collect(),
                None => vec![Change::New, Change::Changed, Change::Resolved],
            };
            targets.push(Target {
                name,
                kind: n.kind.get_ref().clone(),
                url,
                secret: key.map(String::into_bytes),
                on,
                environments: n.environments.clone(),
            });
        }
        Ok(Self {
            config,
            base: base.to_owned(),
            store,
            ledger,
            aws,
            targets,
            public_url,
        })
    }

    /// Every job of the configuration.
    pub fn jobs(&self) -> Vec<JobSpec> {
        let mut jobs = Vec::new();
        for a in &self.config.audit {
            jobs.push(JobSpec {
                name: format!("audit:{}", a.path.get_ref()),
                schedule: a.schedule.get_ref().clone(),
            });
        }
        for s in &self.config.stacks {
            jobs.push(JobSpec {
                name: format!("stack:{}", s.name.get_ref()),
                schedule: s.schedule.get_ref().clone(),
            });
        }
        for c in &self.config.compare {
            jobs.push(JobSpec {
                name: format!("compare:{}", c.name.get_ref()),
                schedule: c.schedule.get_ref().clone(),
            });
        }
        if let Some(r) = &self.config.retention {
            jobs.push(JobSpec {
                name: RETENTION_JOB.into(),
                schedule: r.schedule.get_ref().clone(),
            });
        }
        jobs
    }

    /// The local audit directories (not `s3://` prefixes), each with its job: watched for new
    /// files so they are ingested as they arrive, not only on the schedule.
    pub fn local_audit_dirs(&self) -> Vec<(String, PathBuf)> {
        self.config
            .audit
            .iter()
            .filter(|a| !a.path.get_ref().starts_with("s3://"))
            .map(|a| {
                (
                    format!("audit:{}", a.path.get_ref()),
                    self.location(a.path.get_ref()),
                )
            })
            .collect()
    }

    /// The schedule of the job named `job`.
    pub fn schedule_of(&self, job: &str) -> Option<&str> {
        let (kind, name) = job.split_once(':')?;
        let schedule = match kind {
            "stack" => &self.stack(name)?.schedule,
            "audit" => {
                &self
                    .config
                    .audit
                    .iter()
                    .find(|a| a.path.get_ref() == name)?
                    .schedule
            }
            "compare" => {
                &self
                    .config
                    .compare
                    .iter()
                    .find(|c| c.name.get_ref() == name)?
                    .schedule
            }
            "retention" => &self.config.retention.as_ref()?.schedule,
            _ => return None,
        };
        Some(schedule.get_ref())
    }

    fn stack(&self, name: &str) -> Option<&Stack> {
        self.config.stacks.iter().find(|s| s.name.get_ref() == name)
    }

    /// Where a configured location is: `s3://` as it is, a path from the configuration's folder.
    fn location(&self, s: &str) -> PathBuf {
        if s.starts_with("s3://") {
            PathBuf::from(s)
        } else {
            self.base.join(s)
        }
    }

    /// A Kubernetes stack's inputs: manifests against `cluster` or a `kubectl get` file.
    fn kubernetes_inputs(&self, stack: &Stack, manifests: &Path, live: &str) -> ScanInputs {
        use crate::scan::{K8sLive, K8sOptions};
        use driftlog_core::k8s::Watched;
        let watched = match stack.namespaces.as_slice() {
            [] => Watched::Declared,
            [all] if all == "*" => Watched::All,
            list => Watched::Namespaces(list.to_vec()),
        };
        ScanInputs::Kubernetes {
            declared: self.base.join(manifests),
            live: if live == "cluster" {
                K8sLive::Cluster {
                    kubeconfig: stack.kubeconfig.as_ref().map(|k| self.base.join(k)),
                    context: stack.context.clone(),
                    server_side: stack.server_side,
                }
            } else {
                K8sLive::File(self.base.join(live))
            },
            options: K8sOptions {
                default_namespace: stack.namespaces.first().filter(|n| *n != "*").cloned(),
                watched,
                selector: stack.selector.clone(),
                trusted_managers: stack.trusted_managers.clone(),
            },
        }
    }

    /// The scan a stack's job runs.
    pub fn stack_request(&self, stack: &Stack) -> Result<ScanRequest, AppError> {
        let live_aws = stack.live.as_ref().map(|l| l.get_ref().as_str()) == Some("aws");
        let options = LiveOptions {
            regions: stack.regions.clone(),
            enumerate: true,
        };
        let inputs = match (&stack.state, &stack.terraform, &stack.live) {
            (None, None, Some(live)) if stack.manifests.is_some() => {
                let manifests = stack.manifests.as_ref().map(|m| m.get_ref());
                self.kubernetes_inputs(stack, manifests.unwrap_or(&PathBuf::new()), live.get_ref())
            }
            (Some(state), None, Some(_)) if live_aws => ScanInputs::LiveAws {
                declared: vec![self.location(state.get_ref())],
                state_aws: None,
                options,
            },
            (Some(state), None, Some(live)) => ScanInputs::States {
                declared: self.location(state.get_ref()),
                live: self.location(live.get_ref()),
            },
            (None, Some(dir), _) if live_aws => {
                let (state, fetch) =
                    crate::scan::live::backend_state(&self.base.join(dir.get_ref()), &self.aws)?;
                ScanInputs::LiveAws {
                    declared: vec![state],
                    state_aws: Some(fetch),
                    options,
                }
            }
            (None, Some(dir), _) => ScanInputs::Terraform {
                dir: self.base.join(dir.get_ref()),
                binary: std::env::var("DRIFTLOG_TERRAFORM").ok(),
            },
            _ => {
                return Err(AppError::Input(format!(
                    "stack `{}`: give `state` and `live`, or `terraform`",
                    stack.name.get_ref()
                )))
            }
        };
        Ok(ScanRequest {
            inputs,
            ignore_file: stack.ignore_file.as_ref().map(|p| self.base.join(p)),
            ignore: Vec::new(),
            audit: Vec::new(),
            attribution: true,
            as_of: None,
            store: self.store.clone(),
            remediate: None,
            aws: self.aws.clone(),
        })
    }

    /// Run the job `claim` holds and record the run (an error is a run too, with its message):
    /// what was recorded, and the run itself. `Err` only when the run could not be recorded
    /// (the lease was lost, the store failed).
    pub fn run_job(
        &self,
        claim: &Claim,
        history: &dyn ServiceStore,
        progress: &dyn Progress,
    ) -> Result<(Recorded, RunRecord), AppError> {
        let started_us = now_us();
        let (kind, name) = claim.job.split_once(':').unwrap_or(("", &claim.job));
        let mut run = RunRecord {
            job: claim.job.clone(),
            stack: None,
            environment: None,
            started_us,
            finished_us: started_us,
            outcome: String::new(),
            summary: Value::Null,
        };
        let mut observed = None;
        let mut resolve_missing = false;
        let result: Result<(), AppError> = (|| {
            match kind {
                "stack" => {
                    let stack = self.stack(name).ok_or_else(|| {
                        AppError::Input(format!("no stack `{name}` in the configuration"))
                    })?;
                    run.stack = Some(name.to_owned());
                    run.environment = Some(stack.environment.get_ref().clone());
                    let report =
                        crate::scan::scan(&self.stack_request(stack)?, &self.ledger, progress)?;
                    run.outcome = if report.partial {
                        "partial"
                    } else if report.findings.is_empty() {
                        "clean"
                    } else {
                        "drift"
                    }
                    .into();
                    resolve_missing = !report.partial;
                    run.summary = json!({
                        "mode": report.mode,
                        "summary": report.summary,
                        "inputs": report.inputs,
                        "warnings": report.warnings,
                        "audit": report.audit,
                        "live": report.live,
                    });
                    observed = Some(observe(&report));
                }
                "audit" => {
                    let summary = self.ingest(name)?;
                    run.outcome = "ingested".into();
                    run.summary = summary;
                }
                "compare" => {
                    let report = self.compare(name)?;
                    run.outcome = "compared".into();
                    run.summary = json!({
                        "environments": report.environments.iter().map(|e| json!({"name": e.name, "resources": e.resources})).collect::<Vec<_>>(),
                        "summary": report.summary,
                        "matrix": matrix(&report),
                    });
                }
                "retention" => {
                    run.summary = self.retention()?;
                    run.outcome = "archived".into();
                }
                _ => return Err(AppError::Input(format!("`{}` is not a job", claim.job))),
            }
            Ok(())
        })();
        if let Err(e) = &result {
            tracing::warn!(job = %claim.job, error = %e, "job failed");
            run.outcome = "error".into();
            run.summary = json!({ "error": e.to_string() });
            observed = None;
        }
        run.finished_us = now_us();
        let deliver =
            |run_id: i64, transitions: &[Transition]| self.alerts(run_id, &run, transitions);
        let recorded =
            history.record_run(claim, &run, observed.as_deref(), resolve_missing, &deliver)?;
        tracing::info!(
            job = %claim.job,
            run = recorded.run_id,
            outcome = %run.outcome,
            transitions = recorded.transitions.len(),
            alerts = recorded.deliveries,
            "run recorded"
        );
        Ok((recorded, run))
    }

    /// The retention job: archive what is new, then prune what the archive holds and is
    /// older than `retain`.
    fn retention(&self) -> Result<Value, AppError> {
        let r = self
            .config
            .retention
            .as_ref()
            .ok_or_else(|| AppError::Input("no [retention] in the configuration".into()))?;
        let to = self.location(r.archive.get_ref());
        let archived = crate::archive::archive(
            &crate::archive::ArchiveRequest {
                store: self.store.clone(),
                to: to.to_string_lossy().into_owned(),
                since: None,
                aws: self.aws.clone(),
            },
            &self.ledger,
            &crate::Quiet,
        )?;
        // An empty store has nothing archived, and nothing to prune.
        let pruned = match &r.retain {
            Some(retain) if archived.through > 0 => Some(crate::prune::prune(
                &crate::prune::PruneRequest {
                    store: self.store.clone(),
                    retain: retain.get_ref().clone(),
                },
                &self.ledger,
                &crate::Quiet,
            )?),
            _ => None,
        };
        Ok(json!({
            "archive": {
                "destination": archived.destination,
                "events": archived.events,
                "files": archived.files.len(),
                "bytes": archived.bytes,
                "through": archived.through,
            },
            "prune": pruned,
        }))
    }

    fn ingest(&self, path: &str) -> Result<Value, AppError> {
        let source = self
            .config
            .audit
            .iter()
            .find(|a| a.path.get_ref() == path)
            .ok_or_else(|| AppError::Input(format!("no audit source `{path}`")))?;
        let verify = source.verify_digests.then(|| crate::ingest::VerifyDigests {
            public_keys: None,
            aws: self.aws.clone(),
        });
        let outcome = if path.starts_with("s3://") {
            crate::ingest::ingest_s3(
                &crate::ingest::S3IngestRequest {
                    location: path.to_owned(),
                    days: None,
                    store: self.store.clone(),
                    options: Default::default(),
                    aws: self.aws.clone(),
                    verify_digests: verify,
                },
                &self.ledger,
                &driftlog_ingest::Quiet,
            )?
        } else {
            crate::ingest::ingest(
                &crate::ingest::IngestRequest {
                    paths: vec![self.location(path)],
                    store: self.store.clone(),
                    options: Default::default(),
                    verify_digests: verify,
                },
                &self.ledger,
                &driftlog_ingest::Quiet,
            )?
        };
        Ok(driftlog_report::ingest::json(&outcome.totals(&self.store)))
    }

    fn compare(&self, name: &str) -> Result<driftlog_core::compare::CompareReport, AppError> {
        let c = self
            .config
            .compare
            .iter()
            .find(|c| c.name.get_ref() == name)
            .ok_or_else(|| AppError::Input(format!("no comparison `{name}`")))?;
        let mut environments = Vec::new();
        for s in c.stacks.get_ref() {
            let stack = self
                .stack(s)
                .ok_or_else(|| AppError::Input(format!("no stack `{s}`")))?;
            // The state a stack's resources were last seen in: the refreshed one when given.
            let state = match (&stack.state, &stack.live) {
                (_, Some(live)) if live.get_ref() != "aws" => self.location(live.get_ref()),
                (Some(state), _) => self.location(state.get_ref()),
                _ => {
                    return Err(AppError::Input(format!(
                        "comparison `{name}`: stack `{s}` has no state file to compare"
                    )))
                }
            };
            environments.push((stack.environment.get_ref().clone(), state));
        }
        crate::compare::compare(
            &crate::compare::CompareRequest {
                environments,
                env_tokens: Vec::new(),
                rules_file: c.rules.as_ref().map(|r| self.base.join(r)),
                expect: Vec::new(),
                store: self.store.clone(),
                attribution: true,
                aws: self.aws.clone(),
            },
            &self.ledger,
            &crate::Quiet,
        )
    }

    /// One alert per target for a run's transitions that the target wants.
    fn alerts(&self, run_id: i64, run: &RunRecord, transitions: &[Transition]) -> Vec<NewDelivery> {
        let finished = jiff::Timestamp::from_microsecond(run.finished_us)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let info = driftlog_notify::RunInfo {
            id: run_id,
            stack: run.stack.as_deref().unwrap_or(""),
            environment: run.environment.as_deref().unwrap_or(""),
            finished: &finished,
            dashboard: self.public_url.as_deref(),
        };
        let mut out = Vec::new();
        for t in &self.targets {
            if !t.environments.is_empty() && !t.environments.iter().any(|e| e == info.environment) {
                continue;
            }
            let wanted: Vec<&Transition> = transitions
                .iter()
                .filter(|x| t.on.contains(&x.change))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let body = match t.kind.as_str() {
                "slack" => driftlog_notify::slack_payload(&info, &wanted),
                _ => driftlog_notify::generic_payload(&info, &wanted),
            };
            out.push(NewDelivery {
                target: t.name.clone(),
                body: body.to_string(),
            });
        }
        out
    }
}

/// The findings of a report as the history keeps them. The fingerprint covers what drifted
/// (kind and changes), not who did it, so attribution found later is not a new alert.
pub fn observe(report: &driftlog_core::ScanReport) -> Vec<Observed> {
    report
        .findings
        .iter()
        .map(|f| {
            let finding = serde_json::to_value(f).unwrap_or(Value::Null);
            let mut h = Sha256::new();
            h.update(f.kind.as_str().as_bytes());
            h.update(
                finding
                    .get("changes")
                    .map(Value::to_string)
                    .unwrap_or_default(),
            );
            let address = match &f.stack {
                Some(stack) => format!("{stack}:{}", f.address),
                None => f.address.clone(),
            };
            Observed {
                address,
                kind: f.kind.as_str().to_owned(),
                fingerprint: hex::encode(h.finalize()),
                finding,
            }
        })
        .collect()
}

/// Now, in microseconds since the epoch.
pub fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// The rows of a comparison the dashboard draws as its matrix: each resource with something
/// unexpected (first) or expected, at most [`MATRIX_ROWS`] of them and [`MATRIX_PATHS`] paths
/// each, every cell with its value group (equal values share one), a short rendering of the
/// value (none when secret or missing) and who last changed it there. The full report is the
/// `compare` command's.
fn matrix(report: &driftlog_core::compare::CompareReport) -> Vec<serde_json::Value> {
    let mut rows: Vec<&driftlog_core::compare::ResourceDifferences> =
        report.resources.iter().collect();
    let unexpected = |r: &driftlog_core::compare::ResourceDifferences| {
        r.missing_is_unexpected() || r.differences.iter().any(|d| d.expected.is_none())
    };
    rows.sort_by_key(|r| (!unexpected(r), r.address.clone()));
    rows.iter()
        .take(MATRIX_ROWS)
        .map(|r| {
            let paths: Vec<serde_json::Value> = r
                .differences
                .iter()
                .take(MATRIX_PATHS)
                .map(|d| {
                    let cells: Vec<serde_json::Value> = d
                        .cells
                        .iter()
                        .map(|c| {
                            let by = c
                                .last_change
                                .as_ref()
                                .and_then(|a| a.caused_by.last())
                                .map(|e| json!({"principal": e.principal, "action": e.action, "time": e.time}));
                            json!({
                                "present": c.present,
                                "group": c.group,
                                "value": short(&c.value),
                                "changed_by": by,
                            })
                        })
                        .collect();
                    json!({
                        "path": d.path,
                        "expected": d.expected.is_some(),
                        "sensitive": d.sensitive,
                        "cells": cells,
                    })
                })
                .collect();
            json!({
                "address": r.address,
                "type": r.resource_type,
                "missing_from": r.missing_from,
                "missing_expected": r.missing_expected.is_some(),
                "unexpected": unexpected(r),
                "paths": paths,
                "more_paths": r.differences.len().saturating_sub(MATRIX_PATHS),
            })
        })
        .collect()
}

const MATRIX_ROWS: usize = 100;

/// The name of the `[retention]` job.
const RETENTION_JOB: &str = "retention:store";
const MATRIX_PATHS: usize = 12;

/// A value as a matrix cell shows it: scalars as they are, anything else as compact JSON, cut
/// at 80 characters; `None` for null (missing, absent or secret).
fn short(v: &serde_json::Value) -> Option<String> {
    let text = match v {
        serde_json::Value::Null => return None,
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    })
}
