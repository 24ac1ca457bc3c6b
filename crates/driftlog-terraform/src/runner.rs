//! `driftlog scan --terraform DIR`: run the user's Terraform (or OpenTofu) to make a
//! refresh-only plan, then read it with `show -json`.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no Terraform found: install `terraform` or `tofu` on PATH, or set DRIFTLOG_TERRAFORM to its path")]
    NotFound,
    #[error("{dir}: is not a directory")]
    NotADirectory { dir: PathBuf },
    #[error("could not start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed (exit status {status}):\n{stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("temporary plan file: {0}")]
    Temp(std::io::Error),
}

/// The Terraform binary: `$DRIFTLOG_TERRAFORM`, else `terraform`, else `tofu` on PATH.
pub fn find_binary(env_override: Option<&str>) -> Result<PathBuf, RunError> {
    if let Some(p) = env_override.filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["terraform", "tofu"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(RunError::NotFound)
}

/// What running the tool produced.
pub struct RefreshOnlyPlan {
    /// `show -json` output of the plan.
    pub json: Vec<u8>,
    /// The commands run, for the report.
    pub commands: Vec<String>,
}

fn run(binary: &Path, args: &[&str]) -> Result<Vec<u8>, RunError> {
    let program = binary.display().to_string();
    let output = Command::new(binary)
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .output()
        .map_err(|source| RunError::Spawn {
            program: program.clone(),
            source,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        // Terraform prints diagnostics on stderr, but some wrappers use stdout.
        let text = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        return Err(RunError::Failed {
            command: format!("{program} {}", args.join(" ")),
            status: output
                .status
                .code()
                .map_or_else(|| "killed by a signal".to_owned(), |c| c.to_string()),
            stderr: text.trim_end().to_owned(),
        });
    }
    Ok(output.stdout)
}

/// Run `plan -refresh-only -out` in `dir`, then `show -json` on the plan.
pub fn refresh_only_plan(binary: &Path, dir: &Path) -> Result<RefreshOnlyPlan, RunError> {
    if !dir.is_dir() {
        return Err(RunError::NotADirectory { dir: dir.into() });
    }
    let tmp = tempfile::tempdir().map_err(RunError::Temp)?;
    let plan_file = tmp.path().join("driftlog.tfplan");
    let chdir = format!("-chdir={}", dir.display());
    let out = format!("-out={}", plan_file.display());
    let plan_args = [
        chdir.as_str(),
        "plan",
        "-refresh-only",
        "-input=false",
        "-no-color",
        "-lock=false",
        out.as_str(),
    ];
    run(binary, &plan_args)?;
    let plan_path = plan_file.display().to_string();
    let show_args = [
        chdir.as_str(),
        "show",
        "-json",
        "-no-color",
        plan_path.as_str(),
    ];
    let json = run(binary, &show_args)?;
    let program = binary.display();
    Ok(RefreshOnlyPlan {
        json,
        commands: vec![
            format!("{program} {}", plan_args.join(" ")),
            format!("{program} {}", show_args.join(" ")),
        ],
    })
}
