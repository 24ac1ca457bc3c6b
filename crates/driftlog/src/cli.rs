//! The command line. Every flag has an environment twin (`DRIFTLOG_*`) so CI jobs can set
//! defaults once.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "driftlog",
    version,
    about = "Find infrastructure drift, who caused it, and keep a tamper-evident record of both.",
    long_about = "driftlog compares what your Infrastructure-as-Code declares with what is live and \
reports every drifted attribute, without false alarms for values that only look different \
(reordered sets, re-serialized policy JSON, provider default tags, null vs empty).\n\n\
Exit codes (like `terraform plan -detailed-exitcode`): 0 no drift, 1 error, 2 drift found.",
    after_help = "Examples:\n  \
driftlog scan --declared terraform.tfstate --live refreshed.tfstate\n  \
terraform plan -refresh-only -out=p && terraform show -json p > plan.json && driftlog scan --plan plan.json\n  \
driftlog scan --terraform ./infra --format markdown > drift.md\n  \
driftlog scan --plan plan.json --format sarif --output drift.sarif"
)]
pub struct Cli {
    /// When to colour console output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "DRIFTLOG_COLOR", global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compare declared and live state and report drift.
    #[command(long_about = "Compare declared and live state and report drift.\n\n\
Give one of:\n  \
--declared FILE --live FILE   two states: the last applied state and a refreshed one \
(raw .tfstate format 4, or `terraform show -json` of a state or plan)\n  \
--plan FILE                   a plan's JSON (`terraform show -json PLANFILE`, any format 0.x/1.x, or an \
HCP Terraform redacted plan): reports `resource_drift`; pending configuration changes are listed \
separately as \"not yet applied\"\n  \
--terraform DIR               runs `terraform plan -refresh-only` and `show -json` in DIR for you \
(terraform, else tofu, on PATH, or $DRIFTLOG_TERRAFORM)\n\n\
Any FILE may be `-` for standard input.")]
    Scan(ScanArgs),
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The declared state: what Terraform last applied.
    #[arg(long, value_name = "FILE", requires = "live", conflicts_with_all = ["plan", "terraform"], env = "DRIFTLOG_DECLARED")]
    pub declared: Option<PathBuf>,

    /// The live state: a refreshed state (`terraform apply -refresh-only`, `show -json`) or a plan
    /// whose prior state is live.
    #[arg(
        long,
        value_name = "FILE",
        requires = "declared",
        env = "DRIFTLOG_LIVE"
    )]
    pub live: Option<PathBuf>,

    /// A plan in JSON (`terraform show -json PLANFILE`).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "terraform",
        env = "DRIFTLOG_PLAN"
    )]
    pub plan: Option<PathBuf>,

    /// A Terraform/OpenTofu working directory to make a refresh-only plan in.
    #[arg(long, value_name = "DIR", env = "DRIFTLOG_TERRAFORM_DIR")]
    pub terraform: Option<PathBuf>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Console, env = "DRIFTLOG_FORMAT")]
    pub format: OutputFormat,

    /// Write the report to FILE instead of standard output (written whole or not at all).
    #[arg(long, short, value_name = "FILE", env = "DRIFTLOG_OUTPUT")]
    pub output: Option<PathBuf>,

    /// An ignore rule, as in .driftlogignore: `ADDRESS_GLOB [PATH_GLOB] [expires=YYYY-MM-DD] [owner=NAME]`.
    /// Repeatable; applied after the ignore file.
    #[arg(long, value_name = "RULE")]
    pub ignore: Vec<String>,

    /// Ignore file to read. Default: `.driftlogignore` in the current directory, if present.
    #[arg(long, value_name = "FILE", env = "DRIFTLOG_IGNORE_FILE")]
    pub ignore_file: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Tables for people (colour on terminals; honours NO_COLOR).
    Console,
    /// Versioned JSON for machines (see README, "JSON output").
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
    /// SARIF 2.1.0 for GitHub code scanning and other dashboards.
    Sarif,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
