//! `driftlog remediate REPORT.json`, and the remediation flags `scan` shares.

use crate::cli::{RemediateArgs, RemediateCommandArgs, RemediateFormat};
use crate::exit;
use anyhow::Result;
use driftlog_app::remediate::{read_report, remediate, RemediateOptions};

/// The options, when any remediation flag was given.
pub fn options(args: &RemediateArgs) -> Option<RemediateOptions> {
    let wanted = args.remediate
        || args.config.is_some()
        || args.patch.is_some()
        || args.generate_ignore.is_some();
    wanted.then(|| RemediateOptions {
        config: args.config.clone(),
        owner: args
            .owner
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".to_owned()),
        expires: args.expires.clone(),
        patch: args.patch.clone(),
        generate_ignore: args.generate_ignore.clone(),
    })
}

pub fn run(args: &RemediateCommandArgs) -> Result<u8> {
    // The command is remediation itself: no flag is needed to ask for it.
    let options = options(&RemediateArgs {
        remediate: true,
        ..args.remediation.clone()
    })
    .expect("remediate is set");
    let mut findings = read_report(&args.report)?;
    let done = remediate(&mut findings, &options)?;
    match args.format {
        RemediateFormat::Json => {
            let doc = driftlog_report::remediation::json(&findings, &done.patch);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        RemediateFormat::Console => {
            print!("{}", driftlog_report::remediation::text(&findings));
            if let Some(path) = &done.patch_written {
                println!("patch written to {} (apply in the configuration directory: git apply, or patch -p1)", path.display());
            } else if !done.patch.is_empty() {
                println!("\n{}", done.patch);
            }
            if let Some(path) = &done.ignore_written {
                println!(
                    "{} ignore line(s) appended to {}",
                    done.ignore_lines,
                    path.display()
                );
            }
        }
    }
    Ok(exit::CLEAN)
}
