//! `driftlog scan`: the flags become a request for `driftlog_app::scan`, a spinner shows its
//! progress on a terminal, and the report is written in the chosen format.

use crate::cli::{ColorChoice, OutputFormat, ScanArgs};
use crate::exit;
use anyhow::{bail, Result};
use driftlog_app::scan::live::LiveOptions;
use driftlog_app::scan::{K8sLive, K8sOptions, ScanInputs, ScanRequest};
use driftlog_app::Progress;
use driftlog_core::k8s::Watched;
use driftlog_core::ScanReport;
use driftlog_report::Format;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A spinner on stderr while big inputs are read, only on a terminal.
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Progress only where it cannot mix with the report: a report to a file or in a machine
    /// format, or a console report on a terminal.
    pub fn for_report(to_file: bool, console: bool) -> Self {
        if to_file || !console || std::io::stdout().is_terminal() {
            Self::new()
        } else {
            Self(None)
        }
    }

    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(Duration::from_millis(120));
        Self(Some(pb))
    }
}

impl Progress for Spinner {
    fn step(&self, what: &str) {
        if let Some(pb) = &self.0 {
            pb.set_message(what.to_owned());
        }
    }

    fn count(&self, what: &str, done: u64, total: u64) {
        if let Some(pb) = &self.0 {
            if pb.length() != Some(total) {
                pb.set_style(
                    ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({elapsed})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                pb.set_length(total);
            }
            pb.set_position(done);
            pb.set_message(what.to_owned());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

fn live_options(args: &ScanArgs) -> LiveOptions {
    LiveOptions {
        regions: args.live_aws.regions.clone(),
        enumerate: !args.live_aws.managed_only,
    }
}

fn request(args: &ScanArgs, store: &Path, aws: &driftlog_aws::AwsOptions) -> Result<ScanRequest> {
    let live_aws = args.live.as_deref() == Some(Path::new("aws"));
    if !live_aws
        && (!args.live_aws.regions.is_empty()
            || args.live_aws.managed_only
            || args.live_aws.generate_imports.is_some())
    {
        bail!("--regions, --managed-only and --generate-imports go with --live aws");
    }
    let k8s = &args.k8s;
    let k8s_only = !k8s.namespace.is_empty()
        || k8s.all_namespaces
        || k8s.selector.is_some()
        || !k8s.trusted_manager.is_empty();
    let cluster_only = k8s.kubeconfig.is_some() || k8s.context.is_some() || k8s.server_side;
    let inputs = if let (Some(declared), Some(live)) = (&k8s.k8s_declared, &k8s.k8s_live) {
        k8s_inputs(declared, live, k8s)?
    } else if k8s_only || cluster_only {
        bail!("-n, -A, -l, --trusted-manager, --kubeconfig, --context and --server-side go with --k8s-declared and --k8s-live")
    } else {
        terraform_inputs(args, aws, live_aws)?
    };
    Ok(ScanRequest {
        inputs,
        ..request_settings(args, store, aws)
    })
}

/// Everything of a scan request but its inputs.
fn request_settings(args: &ScanArgs, store: &Path, aws: &driftlog_aws::AwsOptions) -> ScanRequest {
    let default_ignore = PathBuf::from(".driftlogignore");
    ScanRequest {
        inputs: ScanInputs::Plan(PathBuf::new()),
        ignore_file: args
            .ignore_file
            .clone()
            .or_else(|| default_ignore.is_file().then_some(default_ignore)),
        ignore: args.ignore.clone(),
        audit: args.audit.clone(),
        attribution: !args.no_attribution,
        as_of: args.as_of.clone(),
        store: store.to_owned(),
        remediate: crate::remediate::options(&args.remediation),
        aws: aws.clone(),
    }
}

/// `--k8s-declared PATH --k8s-live FILE|cluster` and the flags that go with them.
fn k8s_inputs(declared: &Path, live: &Path, k8s: &crate::cli::K8sArgs) -> Result<ScanInputs> {
    let cluster = live == Path::new("cluster");
    if !cluster && (k8s.kubeconfig.is_some() || k8s.context.is_some() || k8s.server_side) {
        bail!("--kubeconfig, --context and --server-side go with --k8s-live cluster");
    }
    let watched = if k8s.all_namespaces {
        Watched::All
    } else if k8s.namespace.is_empty() {
        Watched::Declared
    } else {
        Watched::Namespaces(k8s.namespace.clone())
    };
    Ok(ScanInputs::Kubernetes {
        declared: declared.to_owned(),
        live: if cluster {
            K8sLive::Cluster {
                kubeconfig: k8s.kubeconfig.clone(),
                context: k8s.context.clone(),
                server_side: k8s.server_side,
            }
        } else {
            K8sLive::File(live.to_owned())
        },
        options: K8sOptions {
            default_namespace: k8s.namespace.first().cloned(),
            watched,
            selector: k8s.selector.clone(),
            trusted_managers: k8s.trusted_manager.clone(),
        },
    })
}

/// The Terraform inputs: states, a plan, a working directory, or the AWS APIs.
fn terraform_inputs(
    args: &ScanArgs,
    aws: &driftlog_aws::AwsOptions,
    live_aws: bool,
) -> Result<ScanInputs> {
    let inputs = match (args.declared.as_slice(), &args.live, &args.plan, &args.terraform) {
        ([_, ..], Some(_), None, None) if live_aws => ScanInputs::LiveAws {
            declared: args.declared.clone(),
            state_aws: None,
            options: live_options(args),
        },
        // The state the configuration's S3 backend names, read without running Terraform.
        ([], Some(_), None, Some(dir)) if live_aws => {
            let (state, fetch) = driftlog_app::scan::live::backend_state(dir, aws)?;
            ScanInputs::LiveAws {
                declared: vec![state],
                state_aws: Some(fetch),
                options: live_options(args),
            }
        }
        ([d], Some(l), None, None) => ScanInputs::States {
            declared: d.clone(),
            live: l.clone(),
        },
        ([_, _, ..], Some(_), None, None) => {
            bail!("several --declared states go with --live aws; compare two states one pair at a time")
        }
        ([], None, Some(p), None) => ScanInputs::Plan(p.clone()),
        ([], None, None, Some(dir)) => ScanInputs::Terraform {
            dir: dir.clone(),
            binary: std::env::var("DRIFTLOG_TERRAFORM").ok(),
        },
        _ => bail!("give --declared FILE --live FILE|aws, or --plan FILE, or --terraform DIR [--live aws], or --k8s-declared PATH --k8s-live FILE|cluster (see driftlog scan --help)"),
    };
    Ok(inputs)
}

pub fn run(
    args: &ScanArgs,
    color: ColorChoice,
    store: &Path,
    aws: &driftlog_aws::AwsOptions,
    ledger: &driftlog_app::record::Recorder,
) -> Result<u8> {
    // Globs over states on both sides (`--live aws` takes a glob of S3 states on its own).
    if let ([declared], Some(live)) = (args.declared.as_slice(), &args.live) {
        let live_aws = live.as_path() == Path::new("aws");
        if !live_aws
            && (driftlog_app::fleet::is_glob(declared) || driftlog_app::fleet::is_glob(live))
        {
            return run_fleet(args, color, store, aws, ledger, declared, live);
        }
    }
    let request = request(args, store, aws)?;
    let spinner = Spinner::for_report(args.output.is_some(), args.format == OutputFormat::Console);
    let report = driftlog_app::scan::scan(&request, ledger, &spinner)?;
    drop(spinner);
    if let Some(path) = &args.live_aws.generate_imports {
        write_imports(path, &report)?;
    }
    write_report(args, color, &report)?;
    Ok(if report.has_drift() {
        exit::DRIFT
    } else {
        exit::CLEAN
    })
}

/// `--declared GLOB --live GLOB`: every stack the globs pair, scanned on every core; one line
/// per stack and the totals. Exit 1 if any stack could not be scanned, else 2 if any drifted.
fn run_fleet(
    args: &ScanArgs,
    color: ColorChoice,
    store: &Path,
    aws: &driftlog_aws::AwsOptions,
    ledger: &driftlog_app::record::Recorder,
    declared: &Path,
    live: &Path,
) -> Result<u8> {
    use driftlog_report::fleet::{self, StackView};
    let (Some(declared), Some(live)) = (declared.to_str(), live.to_str()) else {
        bail!("--declared and --live globs must be UTF-8 paths");
    };
    if !driftlog_app::fleet::is_glob(Path::new(declared))
        || !driftlog_app::fleet::is_glob(Path::new(live))
    {
        bail!("an org-wide scan takes a glob for both --declared and --live (e.g. --declared 'stacks/*/terraform.tfstate' --live 'refreshed/*/terraform.tfstate')");
    }
    if matches!(args.format, OutputFormat::Sarif | OutputFormat::Html) {
        bail!("an org-wide scan reports as console, json or markdown; scan one stack for sarif or html");
    }
    if args.live_aws.generate_imports.is_some()
        || crate::remediate::options(&args.remediation).is_some()
    {
        bail!("--generate-imports and the remediation options go with a scan of one stack");
    }
    let template = ScanRequest {
        inputs: ScanInputs::Plan(PathBuf::new()),
        ..request_settings(args, store, aws)
    };
    let stacks = driftlog_app::fleet::pair(declared, live)?;
    let spinner = Spinner::for_report(args.output.is_some(), args.format == OutputFormat::Console);
    let report = driftlog_app::fleet::scan_all(stacks, &template, ledger, &spinner)?;
    drop(spinner);
    let views: Vec<StackView> = report
        .stacks
        .iter()
        .map(|o| StackView {
            name: &o.stack.name,
            declared: o.stack.declared.display().to_string(),
            live: o.stack.live.display().to_string(),
            report: o.report.as_ref().map_err(String::as_str),
        })
        .collect();
    let _ = color;
    crate::output::emit(args.output.as_deref(), |out| {
        let text = match args.format {
            OutputFormat::Json => {
                let mut t = serde_json::to_string_pretty(&fleet::json(&views, &report.total))?;
                t.push('\n');
                t
            }
            OutputFormat::Markdown => fleet::markdown(&views, &report.total),
            _ => fleet::console(
                &views,
                &report.total,
                driftlog_report::formats::terminal_width(160),
                false,
            ),
        };
        out.write_all(text.as_bytes())
    })?;
    Ok(if report.failed > 0 {
        exit::ERROR
    } else if report.drifted > 0 {
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
        OutputFormat::Html => Format::Html,
    };
    let style = crate::output::style(color, args.output.as_deref());
    crate::output::emit(args.output.as_deref(), |out| {
        driftlog_report::write(format, report, style, out)
    })
}

/// The `--generate-imports` file, written whole or not at all.
fn write_imports(path: &Path, report: &ScanReport) -> Result<()> {
    let text = driftlog_app::scan::live::imports(report);
    crate::output::emit(Some(path), |out| out.write_all(text.as_bytes()))
}
