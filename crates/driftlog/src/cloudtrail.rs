//! `driftlog cloudtrail verify`: CloudTrail digest chains.

use crate::cli::{CloudtrailArgs, CloudtrailCommand, SummaryFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::cloudtrail::{verify, VerifyRequest};
use driftlog_app::record::Recorder;

pub fn run(args: &CloudtrailArgs, aws: &driftlog_aws::AwsOptions, ledger: &Recorder) -> Result<u8> {
    let CloudtrailCommand::Verify {
        path,
        public_keys,
        format,
    } = &args.command;
    let request = VerifyRequest {
        path: path.clone(),
        public_keys: public_keys.clone(),
        aws: aws.clone(),
    };
    let done = verify(&request, ledger)?;
    match format {
        SummaryFormat::Text => print!(
            "{}",
            driftlog_report::digests::text(&done.validation, done.recorded)
        ),
        SummaryFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&driftlog_report::digests::json(&done.validation))?
        ),
    }
    Ok(if done.validation.failed() {
        exit::ERROR
    } else {
        exit::CLEAN
    })
}
