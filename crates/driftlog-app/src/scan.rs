//! The scan use case: read the inputs (two states, a plan, or a Terraform directory), compare,
//! apply ignore rules, attribute each finding from the event store, record the scan in the
//! ledger, and return the report. Rendering it and turning it into an exit code is the caller's
//! job.

use crate::attribute::{attribute_findings, Evidence};
use crate::record::Recorder;
use crate::{AppError, Progress, Quiet};
use driftlog_core::ignore::{IgnoreRules, Rule};
use driftlog_core::report::InputFile;
use driftlog_core::time::{self, Bound, Direction};
use driftlog_core::{compare_instances, ResourceInstance, ScanReport};
use driftlog_terraform::document::{Document, DocumentKind};
use driftlog_terraform::input::{display_path, Input};
use driftlog_terraform::plan::scan_plan;
use driftlog_terraform::{runner, ReadError};
use std::path::{Path, PathBuf};

pub mod live;

/// What to compare.
#[derive(Debug, Clone)]
pub enum ScanInputs {
    /// The last applied state and a refreshed one (either may be `show -json`, or a plan whose
    /// prior state is used).
    States { declared: PathBuf, live: PathBuf },
    /// A plan's JSON: its `resource_drift`.
    Plan(PathBuf),
    /// Declared states read against the AWS APIs (`--live aws`).
    LiveAws {
        declared: Vec<PathBuf>,
        /// How to fetch the declared states, when it differs from the live read's options (a
        /// backend block's region); `None`: the same.
        state_aws: Option<driftlog_aws::AwsOptions>,
        options: live::LiveOptions,
    },
    /// Kubernetes manifests (a file, a folder, or `-`) against live objects: `kubectl get -o
    /// json|yaml` output, or the cluster's API.
    Kubernetes {
        declared: PathBuf,
        live: K8sLive,
        options: K8sOptions,
    },
    /// A Terraform working directory: a refresh-only plan is made there.
    Terraform {
        dir: PathBuf,
        /// The Terraform binary to use, if not found on `PATH`.
        binary: Option<String>,
    },
}

/// Where the live Kubernetes objects come from.
#[derive(Debug, Clone)]
pub enum K8sLive {
    /// `kubectl get ... -o json|yaml` output (a file, a folder, or `-`).
    File(PathBuf),
    /// The API server a kubeconfig names.
    Cluster {
        /// The kubeconfig file (`None`: `$KUBECONFIG`, `~/.kube/config`, in-cluster).
        kubeconfig: Option<PathBuf>,
        /// Its context (`None`: the current one).
        context: Option<String>,
        /// Compare with a server-side apply dry run of each manifest.
        server_side: bool,
    },
}

/// How Kubernetes objects are matched and where unmanaged ones are looked for.
#[derive(Debug, Clone, Default)]
pub struct K8sOptions {
    /// The namespace of declared objects that name none (default `default`).
    pub default_namespace: Option<String>,
    /// Namespaces where live objects nobody declared are unmanaged.
    pub watched: driftlog_core::k8s::Watched,
    /// Only live objects this label selector picks can be unmanaged.
    pub selector: Option<String>,
    /// Field managers whose writes are not drift (globs).
    pub trusted_managers: Vec<String>,
}

/// Everything a scan needs, as plain values (the CLI fills it from flags, a server from its
/// configuration).
#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub inputs: ScanInputs,
    /// An ignore file to read (`None`: none).
    pub ignore_file: Option<PathBuf>,
    /// Ignore rules given inline, applied after the file's.
    pub ignore: Vec<String>,
    /// Audit logs to ingest before attributing.
    pub audit: Vec<PathBuf>,
    pub attribution: bool,
    /// When the live side was observed (the time grammar of `driftlog_core::time`).
    pub as_of: Option<String>,
    /// The event store searched for causes.
    pub store: PathBuf,
    /// Add remediation to every finding (`None`: none).
    pub remediate: Option<crate::remediate::RemediateOptions>,
    /// How to reach AWS, for `s3://` inputs.
    pub aws: driftlog_aws::AwsOptions,
}

/// The engine's result before ignore rules.
pub(crate) struct Scanned {
    mode: &'static str,
    inputs: Vec<InputFile>,
    resources_scanned: usize,
    findings: Vec<driftlog_core::Finding>,
    not_yet_applied: Vec<driftlog_core::PendingChange>,
    suppressed: Vec<driftlog_core::SuppressedChange>,
    warnings: Vec<String>,
    /// When the live side was observed, if the input says (a plan's `timestamp`).
    observed_at_us: Option<i64>,
}

impl Scanned {
    /// A scan whose findings come from one comparison (no pending changes, no observation time).
    fn compared(
        mode: &'static str,
        inputs: Vec<InputFile>,
        comparison: driftlog_core::engine::Comparison,
        warnings: Vec<String>,
    ) -> Self {
        Self {
            mode,
            inputs,
            resources_scanned: comparison.resources_scanned,
            findings: comparison.findings,
            not_yet_applied: Vec::new(),
            suppressed: comparison.suppressed,
            warnings,
            observed_at_us: None,
        }
    }
}

/// `sha256` is computed by the caller alongside parsing, so each input is hashed once.
pub(crate) fn input_record(
    role: &str,
    input: &Input,
    kind: DocumentKind,
    sha256: String,
) -> InputFile {
    InputFile {
        role: role.to_owned(),
        path: display_path(&input.path),
        detected: kind.as_str().to_owned(),
        sha256,
        bytes: input.len(),
    }
}

/// Instances of a state document, or of a plan's prior state.
pub(crate) fn state_side<'a>(doc: &Document<'a>) -> Result<Vec<ResourceInstance<'a>>, ReadError> {
    match &doc.plan {
        Some(plan) => plan.prior_state_instances(&doc.path),
        None => Ok(doc.instances.clone()),
    }
}

fn scan_states(
    declared: &Path,
    live: &Path,
    aws: &driftlog_aws::AwsOptions,
    progress: &dyn Progress,
) -> Result<Scanned, AppError> {
    progress.step(&format!(
        "reading {} and {}",
        display_path(declared),
        display_path(live)
    ));
    let (d, l) = rayon::join(
        || crate::source::open_input(declared, aws),
        || crate::source::open_input(live, aws),
    );
    let (d, l) = (d?, l?);
    let ((d_doc, d_hash), (l_doc, l_hash)) = rayon::join(
        || (Document::parse(&d), d.sha256_hex()),
        || (Document::parse(&l), l.sha256_hex()),
    );
    let (d_doc, l_doc) = (d_doc?, l_doc?);
    for (role, doc) in [("declared", &d_doc), ("live", &l_doc)] {
        tracing::debug!(
            role,
            path = %display_path(&doc.path),
            detected = doc.kind.as_str(),
            terraform_version = doc.terraform_version.as_deref(),
            "input read"
        );
    }
    let mut warnings = Vec::new();
    for doc in [&d_doc, &l_doc] {
        if doc.plan.as_ref().is_some_and(|p| !p.has_prior_state()) {
            return Err(AppError::Input(format!(
                "{}: this plan has no prior_state to compare; scan it with --plan instead",
                display_path(&doc.path)
            )));
        }
    }
    for doc in [&d_doc, &l_doc] {
        if let Some(plan) = &doc.plan {
            warnings.extend(plan.warnings.iter().cloned());
        }
    }
    if d_doc.kind.is_plan() {
        warnings.push(format!(
            "{}: declared side read from the plan's prior_state",
            display_path(declared)
        ));
    }
    progress.step("comparing");
    let (d_inst, l_inst) = (state_side(&d_doc)?, state_side(&l_doc)?);
    let comparison = compare_instances(&d_inst, &l_inst).map_err(|source| ReadError::Engine {
        path: declared.into(),
        source,
    })?;
    let d_rec = input_record("declared", &d, d_doc.kind, d_hash);
    let l_rec = input_record("live", &l, l_doc.kind, l_hash);
    Ok(Scanned::compared(
        "state",
        vec![d_rec, l_rec],
        comparison,
        warnings,
    ))
}

fn scan_plan_input(
    input: &Input,
    mode: &'static str,
    progress: &dyn Progress,
) -> Result<Scanned, AppError> {
    progress.step(&format!("reading {}", display_path(&input.path)));
    let (doc, hash) = rayon::join(|| Document::parse(input), || input.sha256_hex());
    let doc = doc?;
    tracing::debug!(
        path = %display_path(&doc.path),
        detected = doc.kind.as_str(),
        terraform_version = doc.terraform_version.as_deref(),
        format_version = doc.format_version.as_deref(),
        "plan read"
    );
    let Some(plan) = &doc.plan else {
        return Err(AppError::Input(format!(
            "{}: this is a {} file, not a plan; compare states with --declared FILE --live FILE",
            display_path(&input.path),
            doc.kind.as_str()
        )));
    };
    progress.step("comparing");
    let scanned = scan_plan(&doc.path, plan)?;
    let mut warnings = plan.warnings.clone();
    if plan.errored {
        warnings.push(
            "Terraform reported errors while making this plan; it may be incomplete".to_owned(),
        );
    }
    let record = input_record("plan", input, doc.kind, hash);
    Ok(Scanned {
        mode,
        inputs: vec![record],
        resources_scanned: scanned.resources_scanned,
        findings: scanned.findings,
        not_yet_applied: scanned.not_yet_applied,
        suppressed: scanned.suppressed,
        warnings,
        observed_at_us: plan
            .timestamp
            .as_deref()
            .and_then(driftlog_core::time::parse_time_us),
    })
}

fn scan_kubernetes(
    declared: &Path,
    live: &K8sLive,
    options: &K8sOptions,
    progress: &dyn Progress,
) -> Result<Scanned, AppError> {
    let mut compare = driftlog_core::k8s::CompareOptions {
        watched: options.watched.clone(),
        trusted_managers: options.trusted_managers.clone(),
        ..Default::default()
    };
    if let Some(ns) = &options.default_namespace {
        compare.default_namespace = ns.clone();
    }
    if let Some(s) = &options.selector {
        compare.selector = Some(driftlog_core::k8s::Selector::parse(s)?);
    }
    let record = |role: &str, path: &Path, read: &driftlog_k8s::Read, detected: &str| InputFile {
        role: role.to_owned(),
        path: display_path(path),
        detected: detected.to_owned(),
        sha256: read.sha256.clone(),
        bytes: read.bytes,
    };
    let mut warnings = Vec::new();
    let (comparison, inputs) = match live {
        K8sLive::File(live) => {
            progress.step(&format!(
                "reading {} and {}",
                display_path(declared),
                display_path(live)
            ));
            let (d, l) = rayon::join(
                || driftlog_k8s::read_path(declared),
                || driftlog_k8s::read_path(live),
            );
            let (d, l) = (d?, l?);
            if d.objects.is_empty() {
                warnings.push(format!(
                    "{}: no Kubernetes objects were declared",
                    display_path(declared)
                ));
            }
            progress.step("comparing");
            (
                driftlog_core::k8s::compare(&d.objects, &l.objects, &compare),
                vec![
                    record("declared", declared, &d, "k8s_manifests"),
                    record("live", live, &l, "k8s_objects"),
                ],
            )
        }
        K8sLive::Cluster {
            kubeconfig,
            context,
            server_side,
        } => {
            progress.step(&format!("reading {}", display_path(declared)));
            let d = driftlog_k8s::read_path(declared)?;
            if d.objects.is_empty() {
                warnings.push(format!(
                    "{}: no Kubernetes objects were declared",
                    display_path(declared)
                ));
            }
            progress.step("reading the cluster");
            let cluster = driftlog_k8s::read_cluster(
                &d.objects,
                &driftlog_k8s::ClusterOptions {
                    kubeconfig: kubeconfig.clone(),
                    context: context.clone(),
                    default_namespace: compare.default_namespace.clone(),
                    watched: compare.watched.clone(),
                    selector: options.selector.clone(),
                    server_side: *server_side,
                },
            )?;
            warnings.extend(cluster.warnings);
            progress.step("comparing");
            let declared_side = cluster.dry_run.as_deref().unwrap_or(&d.objects);
            let live_input = InputFile {
                role: "live".to_owned(),
                path: cluster.server.clone(),
                detected: if *server_side {
                    "k8s_api_server_side"
                } else {
                    "k8s_api"
                }
                .to_owned(),
                sha256: cluster.sha256.clone(),
                bytes: cluster.bytes,
            };
            (
                driftlog_core::k8s::compare(declared_side, &cluster.objects, &compare),
                vec![
                    record("declared", declared, &d, "k8s_manifests"),
                    live_input,
                ],
            )
        }
    };
    Ok(Scanned::compared(
        "kubernetes",
        inputs,
        comparison,
        warnings,
    ))
}

fn scan_terraform_dir(
    dir: &Path,
    binary: Option<&str>,
    progress: &dyn Progress,
) -> Result<Scanned, AppError> {
    let binary = runner::find_binary(binary)?;
    progress.step(&format!(
        "running {} plan -refresh-only in {}",
        binary.display(),
        dir.display()
    ));
    let made = runner::refresh_only_plan(&binary, dir)?;
    let label = PathBuf::from(format!("{} (terraform show -json)", dir.display()));
    let input = Input::from_bytes(&label, made.json);
    scan_plan_input(&input, "terraform", progress)
}

/// The ignore rules of a request: the file's, then the inline ones.
pub fn load_ignore_rules(file: Option<&Path>, inline: &[String]) -> Result<IgnoreRules, AppError> {
    let mut rules = IgnoreRules::default();
    if let Some(file) = file {
        let text = std::fs::read_to_string(file).map_err(|source| AppError::Io {
            path: file.into(),
            what: "reading the ignore file",
            source,
        })?;
        rules = IgnoreRules::parse_file(&text, &file.display().to_string())?;
    }
    for (n, text) in inline.iter().enumerate() {
        if let Some(rule) = Rule::parse(text, &format!("--ignore #{}", n + 1))? {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// What `explain` needs from the state inputs: the drift (if any) of one address and the
/// identifiers of that resource even when it did not drift.
pub fn resource_in_states(
    declared: Option<&Path>,
    live: Option<&Path>,
    plan: Option<&Path>,
    address: &str,
) -> Result<(Option<driftlog_core::Finding>, Vec<String>), AppError> {
    let scanned = match (declared, live, plan) {
        (Some(d), Some(l), None) => scan_states(d, l, &Default::default(), &Quiet)?,
        (None, None, Some(p)) => scan_plan_input(&Input::open(p)?, "plan", &Quiet)?,
        _ => {
            return Err(AppError::Usage(
                "give --declared FILE --live FILE, or --plan FILE".into(),
            ))
        }
    };
    if let Some(f) = scanned.findings.into_iter().find(|f| f.address == address) {
        let ids = f.identifiers.clone();
        return Ok((Some(f), ids));
    }
    // No drift: read the identifiers from the declared side (or the plan's prior state).
    let input = Input::open(declared.or(plan).expect("one input is given"))?;
    let doc = Document::parse(&input)?;
    for instance in state_side(&doc)? {
        if instance.address == address && instance.deposed.is_none() {
            let (attributes, _) = instance.parse().map_err(|source| ReadError::Engine {
                path: input.path.clone(),
                source,
            })?;
            let ids = driftlog_core::attribution::identity::identifiers(
                &instance.resource_type,
                [&attributes],
            );
            return Ok((None, ids));
        }
    }
    Err(AppError::Input(format!(
        "{address} is not in {}",
        display_path(declared.or(plan).expect("one input is given"))
    )))
}

/// Run a scan and record it (and any `--audit` ingest) in the ledger. The report is returned
/// only once it is recorded.
pub fn scan(
    request: &ScanRequest,
    ledger: &Recorder,
    progress: &dyn Progress,
) -> Result<ScanReport, AppError> {
    scan_with(request, ledger, progress, &Evidence::new(&request.store))
}

/// [`scan`], attributing through `evidence` (the event store at `request.store`, whose
/// handles an org-wide scan keeps from one stack to the next).
pub fn scan_with(
    request: &ScanRequest,
    ledger: &Recorder,
    progress: &dyn Progress,
    evidence: &Evidence,
) -> Result<ScanReport, AppError> {
    let rules = load_ignore_rules(request.ignore_file.as_deref(), &request.ignore)?;
    // Checked before any work, so a typo is an error even when nothing drifted.
    let as_of = request
        .as_of
        .as_deref()
        .map(|t| time::parse(t, jiff::Timestamp::now(), Bound::End, Direction::Past).map(|t| t.us))
        .transpose()
        .map_err(|source| AppError::Time {
            option: "--as-of",
            source,
        })?;
    let mut ingested = None;
    let mut audit_stored = false;
    let mut warnings = Vec::new();
    let mut live_summary = None;
    let scanned = match &request.inputs {
        ScanInputs::States { declared, live } => {
            scan_states(declared, live, &request.aws, progress)?
        }
        ScanInputs::Plan(p) => scan_plan_input(
            &crate::source::open_input(p, &request.aws)?,
            "plan",
            progress,
        )?,
        ScanInputs::Terraform { dir, binary } => {
            scan_terraform_dir(dir, binary.as_deref(), progress)?
        }
        ScanInputs::Kubernetes {
            declared,
            live,
            options,
        } => scan_kubernetes(declared, live, options, progress)?,
        ScanInputs::LiveAws {
            declared,
            state_aws,
            options,
        } => {
            let until_us = as_of.unwrap_or_else(|| jiff::Timestamp::now().as_microsecond());
            // The audit logs go in first: their create calls find unmanaged resources too.
            let created = |targets: &[driftlog_aws::live::Target]| {
                if !request.attribution
                    || (request.audit.is_empty() && !crate::stores::exists(&request.store))
                {
                    return Ok(Vec::new());
                }
                if !request.audit.is_empty() {
                    progress.step("storing the audit logs");
                    audit_stored = true;
                    ingested = crate::attribute::ingest_audit(
                        &request.store,
                        &request.audit,
                        &request.aws,
                        until_us,
                        &mut warnings,
                        ledger,
                    )?;
                }
                let store = crate::stores::open_events(&request.store)?;
                live::created_in_logs(store.as_ref(), targets, until_us)
            };
            let (scanned, summary, partial) = live::scan_live_aws(
                declared,
                options,
                &request.aws,
                state_aws.as_ref().unwrap_or(&request.aws),
                created,
                progress,
            )?;
            live_summary = Some((summary, partial));
            scanned
        }
    };
    tracing::debug!(
        mode = scanned.mode,
        resources = scanned.resources_scanned,
        findings = scanned.findings.len(),
        suppressed = scanned.suppressed.len(),
        "compared"
    );
    let (mut findings, ignored, expired) = rules.apply(scanned.findings, jiff::Timestamp::now());
    warnings.extend(scanned.warnings);
    // Logs a live scan already stored are not ingested twice.
    let audit_left: &[PathBuf] = if ingested.is_some() {
        &[]
    } else {
        &request.audit
    };
    // `--audit` logs are ingested even when there is nothing to attribute: the store keeps them.
    let audit = if !request.attribution || (findings.is_empty() && audit_left.is_empty()) {
        driftlog_core::report::AuditSummary::default()
    } else {
        progress.step(&format!("attributing {} findings", findings.len()));
        // Causes are searched up to when the live side was observed: `--as-of`, else the
        // plan's timestamp, else now.
        let until_us = match as_of {
            Some(t) => t,
            None => scanned
                .observed_at_us
                .unwrap_or_else(|| jiff::Timestamp::now().as_microsecond()),
        };
        attribute_findings(
            &mut findings,
            audit_left,
            evidence,
            &request.aws,
            until_us,
            &mut warnings,
            &mut ingested,
            ledger,
        )?
    };
    if let Some(options) = &request.remediate {
        progress.step("remediation");
        crate::remediate::remediate(&mut findings, options)?;
    }
    let mut report = ScanReport::new(
        scanned.mode,
        scanned.inputs,
        scanned.resources_scanned,
        findings,
        scanned.not_yet_applied,
        scanned.suppressed,
        ignored,
        expired,
        warnings,
    );
    report.audit = audit;
    if let Some((summary, partial)) = live_summary {
        report.live = Some(summary);
        report.partial = partial;
    }
    // Recorded before the report is returned: a report exists only for a recorded scan.
    if let Some(ingested) = &ingested {
        ledger
            .ingest(&request.store, ingested)
            .map_err(|e| AppError::recording("the --audit ingest", e))?;
    }
    ledger
        .ignore_rules(&rules)
        .map_err(|e| AppError::recording("the ignore rules", e))?;
    ledger
        .scan(&report)
        .map_err(|e| AppError::recording("the scan", e))?;
    Ok(report)
}
