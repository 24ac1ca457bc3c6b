//! `driftlog compare`: the flags become a request for `driftlog_app::compare`, and the report
//! is written in the chosen format.

use crate::cli::{ColorChoice, CompareArgs, CompareFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::compare::{CompareRequest, DEFAULT_RULES_FILE};
use driftlog_app::record::Recorder;
use driftlog_report::compare as render;
use std::path::{Path, PathBuf};

pub fn run(
    args: &CompareArgs,
    color: ColorChoice,
    store: &Path,
    aws: &driftlog_aws::AwsOptions,
    ledger: &Recorder,
) -> Result<u8> {
    let default_rules = PathBuf::from(DEFAULT_RULES_FILE);
    let request = CompareRequest {
        environments: args.envs.clone(),
        env_tokens: args.env_tokens.clone(),
        rules_file: args
            .rules
            .clone()
            .or_else(|| default_rules.is_file().then_some(default_rules)),
        expect: args.expect.clone(),
        store: store.to_owned(),
        attribution: !args.no_attribution,
        aws: aws.clone(),
    };
    let spinner = crate::scan::Spinner::for_report(
        args.output.is_some(),
        args.format == CompareFormat::Console,
    );
    let report = driftlog_app::compare::compare(&request, ledger, &spinner)?;
    drop(spinner);
    let style = crate::output::style(color, args.output.as_deref());
    crate::output::emit(args.output.as_deref(), |out| match args.format {
        CompareFormat::Console => {
            out.write_all(render::console(&report, style, args.show_expected).as_bytes())
        }
        CompareFormat::Json => render::json(&report, out),
        CompareFormat::Markdown => out.write_all(render::markdown(&report).as_bytes()),
        CompareFormat::Html => out.write_all(driftlog_report::html::compare(&report).as_bytes()),
    })?;
    Ok(if report.has_unexpected() {
        exit::DRIFT
    } else {
        exit::CLEAN
    })
}
