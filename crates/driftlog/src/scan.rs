//! `driftlog scan`: read the inputs, run the engine, apply ignore rules, write the report.

use crate::cli::{ColorChoice, OutputFormat, ScanArgs};
use crate::exit;
use anyhow::{bail, Context, Result};
use driftlog_core::ignore::{IgnoreRules, Rule};
use driftlog_core::report::InputFile;
use driftlog_core::time::{self, Bound, Direction};
use driftlog_core::{compare_instances, ResourceInstance, ScanReport};
use driftlog_report::{Format, Style};
use driftlog_terraform::document::{Document, DocumentKind};
use driftlog_terraform::input::{display_path, Input};
use driftlog_terraform::plan::scan_plan;
use driftlog_terraform::{runner, ReadError};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The engine's result before ignore rules.
struct Scanned {
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

/// A spinner on stderr while big inputs are read, only on a terminal.
fn spinner() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    Some(pb)
}

fn step(pb: &Option<ProgressBar>, msg: String) {
    if let Some(pb) = pb {
        pb.set_message(msg);
    }
}

/// `sha256` is computed by the caller alongside parsing, so each input is hashed once.
fn input_record(role: &str, input: &Input, kind: DocumentKind, sha256: String) -> InputFile {
    InputFile {
        role: role.to_owned(),
        path: display_path(&input.path),
        detected: kind.as_str().to_owned(),
        sha256,
        bytes: input.len(),
    }
}

/// Instances of a state document, or of a plan's prior state.
fn state_side<'a>(doc: &Document<'a>) -> Result<Vec<ResourceInstance<'a>>, ReadError> {
    match &doc.plan {
        Some(plan) => plan.prior_state_instances(&doc.path),
        None => Ok(doc.instances.clone()),
    }
}

fn scan_states(declared: &Path, live: &Path, pb: &Option<ProgressBar>) -> Result<Scanned> {
    step(
        pb,
        format!(
            "reading {} and {}",
            display_path(declared),
            display_path(live)
        ),
    );
    let (d, l) = rayon::join(|| Input::open(declared), || Input::open(live));
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
            bail!(
                "{}: this plan has no prior_state to compare; scan it with --plan instead",
                display_path(&doc.path)
            );
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
    step(pb, "comparing".to_owned());
    let (d_inst, l_inst) = (state_side(&d_doc)?, state_side(&l_doc)?);
    let comparison = compare_instances(&d_inst, &l_inst).map_err(|source| ReadError::Engine {
        path: declared.into(),
        source,
    })?;
    let d_rec = input_record("declared", &d, d_doc.kind, d_hash);
    let l_rec = input_record("live", &l, l_doc.kind, l_hash);
    Ok(Scanned {
        mode: "state",
        inputs: vec![d_rec, l_rec],
        resources_scanned: comparison.resources_scanned,
        findings: comparison.findings,
        not_yet_applied: Vec::new(),
        suppressed: comparison.suppressed,
        warnings,
        observed_at_us: None,
    })
}

fn scan_plan_input(input: &Input, mode: &'static str, pb: &Option<ProgressBar>) -> Result<Scanned> {
    step(pb, format!("reading {}", display_path(&input.path)));
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
        bail!(
            "{}: this is a {} file, not a plan; compare states with --declared FILE --live FILE",
            display_path(&input.path),
            doc.kind.as_str()
        );
    };
    step(pb, "comparing".to_owned());
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

fn scan_terraform_dir(dir: &Path, pb: &Option<ProgressBar>) -> Result<Scanned> {
    let binary = runner::find_binary(std::env::var("DRIFTLOG_TERRAFORM").ok().as_deref())?;
    step(
        pb,
        format!(
            "running {} plan -refresh-only in {}",
            binary.display(),
            dir.display()
        ),
    );
    let made = runner::refresh_only_plan(&binary, dir)?;
    let label = PathBuf::from(format!("{} (terraform show -json)", dir.display()));
    let input = Input::from_bytes(&label, made.json);
    scan_plan_input(&input, "terraform", pb)
}

fn load_ignore_rules(args: &ScanArgs) -> Result<IgnoreRules> {
    let mut rules = IgnoreRules::default();
    let default_file = PathBuf::from(".driftlogignore");
    let file = match &args.ignore_file {
        Some(f) => Some(f.clone()),
        None => default_file.is_file().then_some(default_file),
    };
    if let Some(file) = file {
        let text = fs_err::read_to_string(&file).context("reading the ignore file")?;
        rules = IgnoreRules::parse_file(&text, &file.display().to_string())?;
    }
    for (n, text) in args.ignore.iter().enumerate() {
        if let Some(rule) = Rule::parse(text, &format!("--ignore #{}", n + 1))? {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// What `explain` needs from the state inputs: the drift (if any) of one address and the
/// identifiers of that resource even when it did not drift.
pub(crate) fn resource_in_states(
    declared: Option<&Path>,
    live: Option<&Path>,
    plan: Option<&Path>,
    address: &str,
) -> Result<(Option<driftlog_core::Finding>, Vec<String>)> {
    let scanned = match (declared, live, plan) {
        (Some(d), Some(l), None) => scan_states(d, l, &None)?,
        (None, None, Some(p)) => scan_plan_input(&Input::open(p)?, "plan", &None)?,
        _ => bail!("give --declared FILE --live FILE, or --plan FILE"),
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
    bail!(
        "{address} is not in {}",
        display_path(declared.or(plan).expect("one input is given"))
    )
}

pub fn run(
    args: &ScanArgs,
    color: ColorChoice,
    store: &Path,
    ledger: &crate::ledger::Paths,
) -> Result<u8> {
    let rules = load_ignore_rules(args)?;
    // Checked before any work, so a typo is an error even when nothing drifted.
    let as_of = args
        .as_of
        .as_deref()
        .map(|t| time::parse(t, jiff::Timestamp::now(), Bound::End, Direction::Past).map(|t| t.us))
        .transpose()
        .context("--as-of")?;
    let pb = if args.output.is_some()
        || args.format != OutputFormat::Console
        || std::io::stdout().is_terminal()
    {
        spinner()
    } else {
        None
    };
    let scanned = match (&args.declared, &args.live, &args.plan, &args.terraform) {
        (Some(d), Some(l), None, None) => scan_states(d, l, &pb)?,
        (None, None, Some(p), None) => {
            let input = Input::open(p)?;
            scan_plan_input(&input, "plan", &pb)?
        }
        (None, None, None, Some(dir)) => scan_terraform_dir(dir, &pb)?,
        _ => bail!("give --declared FILE --live FILE, or --plan FILE, or --terraform DIR (see driftlog scan --help)"),
    };
    tracing::debug!(
        mode = scanned.mode,
        resources = scanned.resources_scanned,
        findings = scanned.findings.len(),
        suppressed = scanned.suppressed.len(),
        "compared"
    );
    let (mut findings, ignored, expired) = rules.apply(scanned.findings, jiff::Timestamp::now());
    let mut warnings = scanned.warnings;
    // `--audit` logs are ingested even when there is nothing to attribute: the store keeps them.
    let mut ingested = None;
    let audit = if args.no_attribution || (findings.is_empty() && args.audit.is_empty()) {
        driftlog_core::report::AuditSummary::default()
    } else {
        step(&pb, format!("attributing {} findings", findings.len()));
        // Causes are searched up to when the live side was observed: `--as-of`, else the
        // plan's timestamp, else now.
        let until_us = match as_of {
            Some(t) => t,
            None => scanned
                .observed_at_us
                .unwrap_or_else(|| jiff::Timestamp::now().as_microsecond()),
        };
        crate::attribute::attribute_findings(
            &mut findings,
            &args.audit,
            store,
            until_us,
            &mut warnings,
            &mut ingested,
            ledger,
        )?
    };
    if let Some(pb) = &pb {
        pb.finish_and_clear();
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
    // Recorded before the report is written: a report exists only for a recorded scan.
    if let Some(ingested) = &ingested {
        ledger
            .ingest(store, ingested)
            .context("appending the --audit ingest to the ledger")?;
    }
    ledger
        .ignore_rules(&rules)
        .context("appending the ignore rules to the ledger")?;
    ledger
        .scan(&report)
        .context("appending the scan to the ledger")?;
    write_report(args, color, &report)?;
    Ok(if report.has_drift() {
        exit::DRIFT
    } else {
        exit::CLEAN
    })
}

fn write_report(args: &ScanArgs, color: ColorChoice, report: &ScanReport) -> Result<()> {
    let format = match args.format {
        OutputFormat::Console => Format::Console,
        OutputFormat::Json => Format::Json,
        OutputFormat::Markdown => Format::Markdown,
        OutputFormat::Sarif => Format::Sarif,
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(120);
    let style = Style { color, width };
    match &args.output {
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            driftlog_report::write(format, report, style, &mut lock)?;
            lock.flush()?;
        }
        Some(path) => {
            // Write beside the target and rename, so a reader never sees half a report.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("{}: cannot create the report file", path.display()))?;
            driftlog_report::write(format, report, style, &mut tmp)?;
            tmp.persist(path)
                .with_context(|| format!("{}: cannot write the report", path.display()))?;
        }
    }
    Ok(())
}
