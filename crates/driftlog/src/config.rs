//! `driftlog config check`: the service configuration validated as `serve` reads it, every
//! problem on its own line with file, line, column and key.

use crate::cli::{ConfigArgs, ConfigCommand};
use crate::exit;
use anyhow::Result;

pub fn run(args: &ConfigArgs) -> Result<u8> {
    match &args.command {
        ConfigCommand::Check { file } => {
            let text = fs_text(file)?;
            match driftlog_app::config::parse(&file.display().to_string(), &text) {
                Ok(config) => {
                    let base = file.parent().unwrap_or(std::path::Path::new("."));
                    for n in config.notices(base) {
                        eprintln!("note: {}: {}: {}", file.display(), n.key, n.message);
                    }
                    println!("{}: valid: {}", file.display(), config.summary());
                    Ok(exit::CLEAN)
                }
                Err(e) => {
                    for line in e.to_string().lines() {
                        eprintln!("error: {line}");
                    }
                    eprintln!(
                        "{}: {} problem{}",
                        file.display(),
                        e.problems.len(),
                        if e.problems.len() == 1 { "" } else { "s" }
                    );
                    Ok(exit::ERROR)
                }
            }
        }
    }
}

fn fs_text(file: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}
