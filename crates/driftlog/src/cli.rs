//! The command line. Every flag has an environment twin (`DRIFTLOG_*`) so CI jobs can set
//! defaults once.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The help heading of options every command takes.
const GLOBAL: &str = "Global options";

/// Diagnostics: what driftlog is doing and why, on standard error. Reports and summaries are
/// output, not logs, and are never affected by these options.
#[derive(Args, Debug)]
pub struct Logging {
    /// How much to log: error, warn, info, debug or trace (default: warn; info for `serve`,
    /// which logs each claim, run and alert).
    #[arg(long, value_enum, env = "DRIFTLOG_LOG_LEVEL", global = true, help_heading = GLOBAL)]
    pub log_level: Option<LogLevel>,

    /// Log lines as text for people or as JSON objects for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "DRIFTLOG_LOG_FORMAT", global = true, help_heading = GLOBAL)]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Send `tracing` events at or above the chosen level (else `default`) to standard error.
pub fn init_logging(logging: &Logging, default: LogLevel) {
    use tracing::Level;
    let level = match logging.log_level.unwrap_or(default) {
        LogLevel::Error => Level::ERROR,
        LogLevel::Warn => Level::WARN,
        LogLevel::Info => Level::INFO,
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Trace => Level::TRACE,
    };
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    // The AWS SDK and the Kubernetes client log their own retries, credential lookups and
    // failed requests; driftlog reports every failure itself, so they speak only when debugging.
    let sdk = if level >= Level::DEBUG {
        LevelFilter::from_level(level)
    } else {
        LevelFilter::OFF
    };
    let mut targets = Targets::new().with_default(level);
    for t in [
        "aws_config",
        "aws_runtime",
        "aws_credential_types",
        "aws_smithy_runtime",
        "aws_smithy_http_client",
        "aws_sdk_s3",
        "aws_sdk_sts",
        "aws_sdk_sso",
        "hyper",
        "hyper_util",
        "rustls",
        "h2",
        "kube_client",
        "kube",
    ] {
        targets = targets.with_target(t, sdk);
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match logging.log_format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(
                layer
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_filter(targets),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(layer.json().with_current_span(false).with_filter(targets))
            .try_init(),
    };
}

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
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "DRIFTLOG_COLOR", global = true, help_heading = GLOBAL)]
    pub color: ColorChoice,

    #[command(flatten)]
    pub logging: Logging,

    /// The tamper-evident ledger every scan and ingest appends to: a file, a postgres:// URL,
    /// or `off` to append nothing [default: .driftlog/ledger.db; with a postgres:// store, the
    /// same database]
    #[arg(
        long,
        value_name = "FILE|URL",
        env = "DRIFTLOG_LEDGER",
        global = true,
        help_heading = GLOBAL
    )]
    pub ledger: Option<PathBuf>,

    /// The ledger's signing key: when it exists, each append ends with a signed checkpoint.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".driftlog/ledger.key",
        env = "DRIFTLOG_LEDGER_KEY",
        global = true,
        help_heading = GLOBAL
    )]
    pub ledger_key: PathBuf,

    /// The event store: a SQLite file (created on first use) or a postgres:// URL shared by a
    /// team (give it in DRIFTLOG_STORE to keep its password out of the process list).
    #[arg(long, value_name = "FILE|URL", default_value = driftlog_store::DEFAULT_PATH, env = "DRIFTLOG_STORE", global = true, help_heading = GLOBAL)]
    pub store: PathBuf,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// How to reach AWS for `s3://` locations (the standard chain otherwise: environment,
/// profiles, SSO, web identity).
#[derive(Args, Debug, Clone)]
pub struct AwsArgs {
    /// The AWS profile to use.
    #[arg(long, value_name = "NAME", global = true, help_heading = "AWS")]
    pub profile: Option<String>,

    /// The AWS region (default: the profile's or the environment's).
    #[arg(long, value_name = "REGION", global = true, help_heading = "AWS")]
    pub region: Option<String>,

    /// An AWS-compatible endpoint (moto, LocalStack, MinIO): `http://127.0.0.1:5000`.
    #[arg(
        long,
        value_name = "URL",
        env = "DRIFTLOG_ENDPOINT_URL",
        global = true,
        help_heading = "AWS"
    )]
    pub endpoint_url: Option<String>,

    /// A role to assume for live reads, one per account to read (`arn:aws:iam::ACCOUNT:role/NAME`).
    /// Repeatable; each declared resource is read through the role of its ARN's account.
    #[arg(
        long = "role-arn",
        value_name = "ARN",
        env = "DRIFTLOG_ROLE_ARN",
        value_delimiter = ',',
        global = true,
        help_heading = "AWS"
    )]
    pub role_arns: Vec<String>,
}

impl AwsArgs {
    pub fn options(&self) -> driftlog_aws::AwsOptions {
        driftlog_aws::AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            role_arns: self.role_arns.clone(),
            s3_role_arn: None,
        }
    }
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
(terraform, else tofu, on PATH, or $DRIFTLOG_TERRAFORM)\n  \
--declared 'GLOB' --live 'GLOB'   many stacks in one run: the files of the two globs paired by what \
their wildcards matched (stacks/app-17/… with refreshed/app-17/…), scanned on every core, reported per \
stack and in total (docs/terraform.md)\n  \
--declared STATE... --live aws   the states against the AWS account itself: every declared resource \
read through the AWS SDK, plus what no state declares, from listings and the audit logs \
(docs/live-aws.md); `--terraform DIR --live aws` reads the state its backend \"s3\" block names\n\n\
Any FILE may be `-` for standard input, or `s3://BUCKET/KEY`.\n\n\
Examples:\n  \
driftlog scan --declared terraform.tfstate --live refreshed.tfstate --audit AWSLogs/\n  \
driftlog scan --declared 's3://tf-state/**/terraform.tfstate' --live aws --regions all --generate-imports unmanaged.tf")]
    Scan(Box<ScanArgs>),

    /// Compare environments (dev, staging, prod…) built from the same configuration.
    #[command(
        long_about = "Compare environments built from the same Terraform configuration: which resources are missing from some, and which attributes differ, value by value.

Resources are matched by address. Names and identifiers that embed the environment (web-prod-sg, arn:…:role/app-staging), each environment's account ids and regions, generated ids, timestamps and computed-only attributes (id, arn, addresses) are not differences; the scan's normalizers apply (policy JSON, sets, null vs empty). Secrets are compared but never shown.

Differences that are by design are declared as rules (--rules, default .driftlog-compare; or --expect), one per line: ADDRESS_GLOB PATH_GLOB [ENVIRONMENTS], e.g.
  aws_instance.*  instance_type
  module.db.*     allocated_storage  prod>staging
  aws_instance.bastion  (exists)  staging,prod
Everything else is unexpected. With an event store, each unexpected difference names who last changed it in each environment.

Exit codes: 0 no unexpected difference, 1 error, 2 unexpected differences.",
        after_help = "Examples:
  driftlog compare --env dev=dev.tfstate --env staging=staging.tfstate --env prod=prod.tfstate
  driftlog compare --env staging=s.json --env prod=p.json --env-token prod=production --format markdown
  driftlog compare --env dev=d.tfstate --env prod=p.tfstate --expect 'aws_instance.* instance_type' -f json"
    )]
    Compare(CompareArgs),

    /// Read audit logs into the event store.
    #[command(
        long_about = "Read audit logs into the event store (--store, default \
.driftlog/events.db).\n\n\
Accepted, recognised from content (gzip too):\n  \
AWS CloudTrail: S3 delivery files ({\"Records\":[...]}, .json or .json.gz, in the \
AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/ layout or anywhere), single records, JSON lines, \
EventBridge events (detail-type \"AWS API Call via CloudTrail\"), `aws cloudtrail lookup-events` \
output. CloudTrail-Digest files are recognised and skipped.\n  \
Kubernetes audit logs: JSON lines of audit.k8s.io/v1 (or v1beta1) Events; one event per auditID \
is kept, preferring the ResponseComplete stage.\n  \
GCP Cloud Audit Logs: LogEntry JSON or JSON lines with an AuditLog protoPayload.\n  \
Azure Activity Log: REST/portal or SDK JSON, and the storage export ({\"records\":[...]} or JSON lines).\n\n\
Directories are walked recursively (files named *.json, *.jsonl, *.ndjson, *.log, *.gz, *.audit). \
Re-running is cheap and safe: files already ingested are skipped without being read, and events \
are stored once per source and event id. A bad file or record is reported with its position \
and left out; the others are stored, and the exit code is 1.",
        after_help = "Examples:\n  \
driftlog ingest ./AWSLogs\n  \
aws s3 sync s3://my-trail-bucket/AWSLogs ./AWSLogs && driftlog ingest ./AWSLogs\n  \
kubectl logs -n kube-system kube-apiserver-0 | driftlog ingest -\n  \
driftlog ingest --store /var/lib/driftlog/events.db audit/*.jsonl"
    )]
    Ingest(IngestArgs),

    /// Search the event store.
    #[command(
        long_about = "Search the event store. Filters combine (all must match); events \
are listed oldest first.\n\n\
--resource matches any identifier an event names: an id (sg-0123, i-0abc), an ARN, a name (bucket, \
role, function), a queue URL, a Kubernetes `namespace/name` or `namespaces/NS/RESOURCE/NAME`, a GCP \
resource name or an Azure resource id (any letter case).\n\
--principal matches the acting principal (ARN, user, email) or the role an assumed-role session \
came from; --principal and --action accept globs (`*`, `?`).\n\
--since/--until take RFC 3339 times (2024-11-04T09:00:00Z), dates (2024-11-04, whole day for \
--until) or ages (30m, 12h, 7d).",
        after_help = "Examples:\n  \
driftlog events --resource sg-033d49addc8e52b58 --writes-only\n  \
driftlog events --principal 'arn:aws:sts::*:assumed-role/Admin/*' --since 7d\n  \
driftlog events --actor-kind console --action 'Authorize*' --format json\n  \
driftlog events --resource i-0abc --raw"
    )]
    Events(EventsArgs),

    /// The story of one resource: every audit event on it, its drift, and who caused it.
    #[command(
        long_about = "The story of one resource: every event in the store that names it \
(oldest first: who, what, when, read or write, outcome, the Terraform applies among them) and, \
given the state inputs, its current drift attributed to the call that caused it.\n\n\
TARGET is a Terraform address (with --declared/--live or --plan), or an id, ARN or name as \
audit logs name the resource.",
        after_help = "Examples:\n  \
driftlog explain sg-0123456789abcdef0\n  \
driftlog explain aws_security_group.web --declared terraform.tfstate --live refreshed.tfstate\n  \
driftlog explain 'aws_instance.web[1]' --plan plan.json --format json"
    )]
    Explain(ExplainArgs),

    /// The tamper-evident ledger: an RFC 9162 Merkle log of every scan, finding and ingest.
    #[command(
        long_about = "The tamper-evident ledger (--ledger, default .driftlog/ledger.db): \
every scan, finding and ingest is appended as canonical JSON to an RFC 9162 Merkle tree, and, \
once a key exists (`keygen`), each append ends with a checkpoint in the C2SP tlog-checkpoint \
format, signed as a C2SP signed-note with Ed25519. Anyone holding a checkpoint can later prove \
that no entry was altered, removed or reordered.",
        after_help = "Examples:\n  \
driftlog ledger keygen --name ledger.example.com/driftlog\n  \
driftlog ledger checkpoint > cp-monday.txt\n  \
driftlog ledger prove --entry 12 --checkpoint cp-monday.txt\n  \
driftlog ledger consistency --old cp-monday.txt --new cp-friday.txt\n  \
driftlog ledger verify"
    )]
    Ledger(LedgerArgs),

    /// How to fix the findings of a saved JSON report: revert, codify, accept.
    #[command(
        long_about = "How to fix each finding of a saved `driftlog scan -f json` report: the \
commands that put the declared values back (`terraform apply -target`, and for common AWS \
changes the AWS CLI call that undoes the attributed one), a unified diff that accepts the live \
values into the configuration (--config DIR), and an ignore line that accepts the drift for \
now (--generate-ignore). Nothing is run or changed but the files you name.",
        after_help = "Examples:\n  \
driftlog scan --plan plan.json -f json -o drift.json; driftlog remediate drift.json --config ./infra\n  \
driftlog remediate drift.json --config ./infra --patch accept.patch && git apply accept.patch\n  \
driftlog remediate drift.json --generate-ignore .driftlogignore --owner alice --expires 14d"
    )]
    Remediate(RemediateCommandArgs),

    /// CloudTrail's own integrity: validate digest files and their chain.
    #[command(
        long_about = "Validate CloudTrail's digest files as `aws cloudtrail validate-logs` does: each \
digest's SHA256withRSA signature with the public key whose fingerprint it names, the chain \
through previousDigestSignature, and the SHA-256 of every log file it lists. Reports each \
hour per account and region as valid or invalid (which file, why), and the chain's gaps and \
missing digests; each digest's verdict is appended to driftlog's ledger. Exit 1 on any \
invalid or missing digest.",
        after_help = "A local copy keeps no S3 metadata: put each digest's signature (its \
x-amz-meta-signature) in a `.sig` file beside it, e.g.\n  \
aws s3api head-object --bucket B --key K --query Metadata.signature --output text > DIR/K.sig\n\n\
Examples:\n  \
aws cloudtrail list-public-keys --start-time 2026-11-01 > keys.json\n  \
driftlog cloudtrail verify ./trail-copy --public-keys keys.json"
    )]
    Cloudtrail(CloudtrailArgs),

    /// Check a `driftlog.toml` (the service's configuration): syntax, keys, schedules,
    /// references, and that no secret is written in it.
    #[command(
        long_about = "Check a service configuration (docs/service.md) as `driftlog serve` reads it: \
TOML syntax, known keys, stack names and environments, cron schedules, comparison references, \
notification targets, and that no secret (URL, signing key, token, database URL) is written in \
the file instead of an environment variable or a file. Every problem is printed with its file, \
line, column and key; exit 1 if any. Environment variables and files the configuration names \
but that are absent here are notes, not errors.",
        after_help = "Examples:\n  driftlog config check\n  driftlog config check deploy/driftlog.toml"
    )]
    Config(ConfigArgs),

    /// Run the service: scheduled scans, audit ingest, history, alerts, API and dashboard.
    #[command(
        long_about = "Run driftlog as a service (docs/service.md), watching what a driftlog.toml \
declares: each stack is scanned on its schedule, audit sources are ingested on theirs, and \
comparisons run on theirs. Every run is kept in the store with each finding's life (first seen, \
last seen, changed, resolved, acknowledged); new, changed and resolved findings are sent once \
to the notification targets (signed webhooks, Slack). The same process serves the JSON API \
(/api/v1/, described at /api/v1/openapi.json), the dashboard (/), /metrics, /healthz and \
/readyz.\n\n\
Jobs are claimed under a lease, so several `serve` processes may share one store: each job \
runs once, and a job whose worker died is taken over when its lease ends. SIGTERM (or Ctrl-C) \
stops claiming, lets running jobs finish for --grace seconds, and releases the rest.\n\n\
The API and the dashboard need a token from the configuration's [[token]] list (`driftlog \
token new`); with none, serve listens only on a loopback address.",
        after_help = "Examples:\n  driftlog serve\n  driftlog serve --config /etc/driftlog/driftlog.toml --listen 0.0.0.0:8080 --public-url https://drift.example.com"
    )]
    Serve(ServeArgs),

    /// Make an API token for `serve` (printed once; the configuration keeps only its hash).
    #[command(
        after_help = "Example:\n  driftlog token new --name ci --role read >> token.txt\n  (then add the printed [[token]] table to driftlog.toml)"
    )]
    Token(TokenArgs),

    /// Write the event store's history as Parquet files for Athena, Trino, DuckDB or Spark.
    #[command(
        long_about = "Write the events stored since the last archive run to the same destination \
as immutable Parquet files (zstd), partitioned the Hive way: \
source=/account=/region=/date=/events-<first id>.parquet. One row per event: the normalized \
columns, the resources it names (a list), the leaf the ledger committed to, and the original \
record. Each file's SHA-256 and row count are appended to the ledger, so `driftlog verify \
--archive DEST` detects a file that was altered, removed or added. The ledger also remembers how \
far each destination goes: re-running archives only what is new.\n\n\
The partition columns are in the path only: read them back with hive partitioning (DuckDB: \
read_parquet('DEST/**/*.parquet', hive_partitioning = true)); docs/archive.md has the \
Athena/Trino table.",
        after_help = "Examples:\n  driftlog archive --to /srv/driftlog-archive\n  driftlog archive --to s3://audit-archive/driftlog --since 2024-11-01\n  driftlog verify --archive /srv/driftlog-archive"
    )]
    Archive(ArchiveArgs),

    /// Remove archived events older than a retention window from the store.
    #[command(
        long_about = "Remove from the event store the events older than --retain that an archive \
already holds (`driftlog archive`; ids up to the highest one any archive run of this store \
recorded), in batches of 50,000, each batch recorded in the ledger before it is removed. Events \
not archived yet are kept whatever their age. Their evidence and index entries go with them; the \
files they came from stay recorded, so ingesting the same files again does not bring them back. \
`driftlog verify` counts pruned events apart from deleted ones.",
        after_help = "Examples:\n  driftlog archive --to s3://audit-archive/driftlog && driftlog prune --retain 90d\n  driftlog prune --retain 2024-01-01 -f json"
    )]
    Prune(PruneArgs),

    /// Check the ledger, and that the event store holds exactly the events it committed to.
    #[command(
        long_about = "Check the ledger (as `ledger verify` does), then recompute every stored \
event's leaf from its fields and original record and compare each ingest batch with the root \
its ledger entry committed to. Names the first event that was altered, deleted or inserted \
since it was stored; exit 1 if any.",
        after_help = "Examples:\n  driftlog verify\n  driftlog --store /var/lib/driftlog/events.db --ledger /var/lib/driftlog/ledger.db verify --pub ledger.pub"
    )]
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The service configuration.
    #[arg(
        long,
        value_name = "FILE",
        env = "DRIFTLOG_CONFIG_FILE",
        default_value = "driftlog.toml"
    )]
    pub config: PathBuf,
    /// Where to listen, `HOST:PORT` (default: the configuration's [server] listen, else
    /// 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR", env = "DRIFTLOG_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,
    /// The dashboard's address as people reach it, for links in alerts.
    #[arg(long, value_name = "URL", env = "DRIFTLOG_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Jobs this process runs at once.
    #[arg(long, value_name = "N", default_value_t = 2, env = "DRIFTLOG_JOBS")]
    pub jobs: usize,
    /// Seconds a job's lease lasts without renewal (a dead worker's job is taken over after it).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease: u64,
    /// Seconds running jobs get to finish on SIGTERM before they are released.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub grace: u64,
    /// Milliseconds between looks at the store for due jobs and alerts.
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..))]
    pub poll_ms: u64,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print a new token and the [[token]] table (with its SHA-256) for driftlog.toml.
    New {
        /// Who or what uses it (shown as who acknowledged a finding).
        #[arg(long)]
        name: String,
        /// `read` (every GET) or `admin` (also acknowledgements and runs on demand).
        #[arg(long, value_parser = ["read", "admin"], default_value = "read")]
        role: String,
    },
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The verifier key (default: the .pub beside --ledger-key).
    #[arg(long = "pub", value_name = "FILE")]
    pub public: Option<PathBuf>,

    /// Also check the archive at DEST (a folder or s3://BUCKET/PREFIX) against the files the
    /// ledger recorded for this store: each present, with the same SHA-256 and row count, and
    /// no Parquet file that no entry records.
    #[arg(long, value_name = "DEST", env = "DRIFTLOG_ARCHIVE")]
    pub archive: Option<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// How long events stay in the store: an age (90d, 12h) or a date or RFC 3339 time to keep
    /// from.
    #[arg(long, value_name = "AGE|TIME", env = "DRIFTLOG_RETAIN")]
    pub retain: String,

    /// Summary format.
    #[arg(long, short, value_enum, default_value_t = SummaryFormat::Text, env = "DRIFTLOG_PRUNE_FORMAT")]
    pub format: SummaryFormat,
}

#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// Where the archive lives: a folder (created if needed) or s3://BUCKET[/PREFIX].
    #[arg(long, value_name = "DEST", env = "DRIFTLOG_ARCHIVE")]
    pub to: String,

    /// Only events from this time on (RFC 3339, a date, or an age: 90d). Older events stored
    /// since the last run are passed over for good.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Summary format.
    #[arg(long, short, value_enum, default_value_t = SummaryFormat::Text, env = "DRIFTLOG_ARCHIVE_FORMAT")]
    pub format: SummaryFormat,
}

#[derive(Args, Debug)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Make the Ed25519 signing key (--ledger-key) and its public half (same name, .pub).
    Keygen {
        /// The key's (and the log's origin) name, e.g. `ledger.example.com/driftlog`.
        #[arg(long)]
        name: String,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Record that someone accepts a drift (who, why, until when).
    Ack {
        /// The Terraform address (or identifier) acknowledged.
        #[arg(long)]
        address: String,
        #[arg(long)]
        reason: String,
        /// Who acknowledges (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Until when (YYYY-MM-DD).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Print entries (index, kind, leaf hash, canonical JSON).
    Show {
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Exclusive end.
        #[arg(long)]
        to: Option<u64>,
        /// Only the entries' JSON, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint of the log as it is now (with the key), or print the latest.
    Checkpoint,
    /// An inclusion proof of one entry, as JSON (leaf_index, tree_size, leaf_hash, hashes).
    Prove {
        #[arg(long)]
        entry: u64,
        /// Prove against this signed checkpoint (default: the whole log now).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The verifier key (default: the .pub beside --ledger-key).
        #[arg(long = "pub", value_name = "FILE")]
        public: Option<PathBuf>,
    },
    /// A consistency proof between two signed checkpoints, checked, as JSON.
    Consistency {
        #[arg(long, value_name = "FILE")]
        old: PathBuf,
        #[arg(long, value_name = "FILE")]
        new: PathBuf,
        #[arg(long = "pub", value_name = "FILE")]
        public: Option<PathBuf>,
    },
    /// Recompute every leaf and root, check every checkpoint's signature and consistency; exit 1
    /// with the first bad entry on failure.
    Verify {
        #[arg(long = "pub", value_name = "FILE")]
        public: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A Terraform address (needs state inputs), or an id, ARN or name.
    #[arg(value_name = "TARGET")]
    pub target: String,

    /// The declared state, to resolve an address and show its drift.
    #[arg(long, value_name = "FILE", requires = "live", conflicts_with = "plan")]
    pub declared: Option<PathBuf>,

    /// The live state.
    #[arg(long, value_name = "FILE", requires = "declared")]
    pub live: Option<PathBuf>,

    /// A plan's JSON, instead of two states.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = ExplainFormat::Table, env = "DRIFTLOG_EXPLAIN_FORMAT")]
    pub format: ExplainFormat,

    /// Write to FILE instead of standard output (written whole or not at all).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate the configuration file.
    Check {
        /// The configuration (default `driftlog.toml`).
        #[arg(
            value_name = "FILE",
            env = "DRIFTLOG_CONFIG_FILE",
            default_value = "driftlog.toml"
        )]
        file: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct CloudtrailArgs {
    #[command(subcommand)]
    pub command: CloudtrailCommand,
}

#[derive(Subcommand, Debug)]
pub enum CloudtrailCommand {
    /// Validate the digest files under PATH: `s3://BUCKET/PREFIX`, or a local copy.
    Verify {
        /// The trail's bucket (`s3://BUCKET/AWSLogs/…`), or a local copy of it: its
        /// `…/CloudTrail-Digest/…` digests and the log files they list.
        #[arg(value_name = "PATH")]
        path: PathBuf,
        /// `aws cloudtrail list-public-keys` output covering the digests' time span, for
        /// offline checks. Default: CloudTrail's ListPublicKeys, per region, for each digest's
        /// time.
        #[arg(long = "public-keys", value_name = "FILE")]
        public_keys: Option<PathBuf>,
        /// Output format.
        #[arg(long, short, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
}

#[derive(Args, Debug)]
pub struct RemediateCommandArgs {
    /// A report written by `driftlog scan -f json`.
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = RemediateFormat::Console)]
    pub format: RemediateFormat,

    #[command(flatten)]
    pub remediation: RemediateArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemediateFormat {
    /// For people: per finding, the commands, the patch and the ignore line.
    Console,
    /// `{"format_version", "findings": [{"address", "remediation"}], "patch"}`.
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainFormat {
    /// The events as a table, then the drift and its cause, for people.
    Table,
    /// One versioned JSON document (`jsonl` is accepted for the same).
    #[value(alias = "jsonl")]
    Json,
    /// One self-contained HTML page with a timeline.
    Html,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files or directories to read; `-` reads standard input; `s3://BUCKET[/PREFIX]` reads a
    /// CloudTrail bucket (alone).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// With s3://: list only the delivery days from this day on (a date, or an age: 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// With s3://: list only the delivery days up to this day (default: today).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Summary format. (Its own variable: `DRIFTLOG_FORMAT` is the scan report's format.)
    #[arg(long, short, value_enum, default_value_t = SummaryFormat::Text, env = "DRIFTLOG_INGEST_FORMAT")]
    pub format: SummaryFormat,

    /// Events per transaction: larger is faster and uses more memory.
    #[arg(long, value_name = "N", default_value_t = 50_000, hide = true)]
    pub batch_events: usize,

    /// Check the trail's CloudTrail digests first (as `cloudtrail verify` does): log files a
    /// digest says were altered are refused; files no valid digest vouches for are stored and
    /// counted as unverified.
    #[arg(long)]
    pub verify_digests: bool,

    /// With --verify-digests: `aws cloudtrail list-public-keys` output, for offline checks.
    /// Default: CloudTrail's ListPublicKeys.
    #[arg(long = "public-keys", value_name = "FILE", requires = "verify_digests")]
    pub public_keys: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// An identifier the event names: id, ARN, name, URL, k8s path, GCP/Azure resource name.
    #[arg(long, value_name = "ID")]
    pub resource: Option<String>,

    /// The acting principal or the role it assumed (glob allowed).
    #[arg(long, value_name = "PRINCIPAL")]
    pub principal: Option<String>,

    /// The action: eventName, Kubernetes `verb resource`, methodName, operationName (glob allowed).
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,

    /// How the call was made.
    #[arg(long, value_name = "KIND", value_parser = parse_actor_kind)]
    pub actor_kind: Option<driftlog_core::ActorKind>,

    /// Which audit log: aws, kubernetes, gcp, azure.
    #[arg(long, value_name = "SOURCE", value_parser = parse_source)]
    pub source: Option<driftlog_core::Source>,

    /// Only events at or after this time (RFC 3339, YYYY-MM-DD, or an age like 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events at or before this time (RFC 3339, YYYY-MM-DD, or an age like 1h).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only writes (calls that can change a resource), successful or not.
    #[arg(long)]
    pub writes_only: bool,

    /// At most this many events (the oldest that match).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = EventsFormat::Table, env = "DRIFTLOG_EVENTS_FORMAT")]
    pub format: EventsFormat,

    /// Include each event's original record, as logged.
    #[arg(long)]
    pub raw: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsFormat {
    /// A table for people.
    Table,
    /// One JSON document: {"format_version", "count", "events": [...]}.
    Json,
    /// One JSON object per line.
    Jsonl,
}

fn parse_actor_kind(s: &str) -> Result<driftlog_core::ActorKind, String> {
    s.parse()
}

fn parse_source(s: &str) -> Result<driftlog_core::Source, String> {
    s.parse()
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// The declared state: what Terraform last applied (a file, `-`, or `s3://BUCKET/KEY`).
    /// With `--live aws`, repeatable: every state that manages the account.
    #[arg(long, value_name = "FILE", requires = "live", conflicts_with_all = ["plan", "terraform"], env = "DRIFTLOG_DECLARED", value_delimiter = ',')]
    pub declared: Vec<PathBuf>,

    /// The live side: a refreshed state (`terraform apply -refresh-only`, `show -json`), a plan
    /// whose prior state is live, or `aws` to read the AWS APIs themselves (docs/live-aws.md).
    #[arg(long, value_name = "FILE", env = "DRIFTLOG_LIVE")]
    pub live: Option<PathBuf>,

    /// A plan in JSON (`terraform show -json PLANFILE`).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "terraform",
        env = "DRIFTLOG_PLAN"
    )]
    pub plan: Option<PathBuf>,

    /// A Terraform/OpenTofu working directory to make a refresh-only plan in; with `--live aws`,
    /// the directory whose `backend "s3"` block names the state (Terraform is not run).
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

    /// Audit logs (CloudTrail, Kubernetes, GCP, Azure; files or directories) to add to the event
    /// store before attributing each finding. Without it, whatever the store already holds is
    /// used.
    #[arg(long, value_name = "PATH", num_args = 1.., env = "DRIFTLOG_AUDIT", value_delimiter = ',')]
    pub audit: Vec<PathBuf>,

    /// Do not look for who caused the drift.
    #[arg(long, conflicts_with = "audit")]
    pub no_attribution: bool,

    /// When the live side was observed (RFC 3339): events after it are not causes. Default:
    /// the plan's `timestamp` in plan mode, else now.
    #[arg(long, value_name = "TIME", env = "DRIFTLOG_AS_OF")]
    pub as_of: Option<String>,

    #[command(flatten)]
    pub remediation: RemediateArgs,

    #[command(flatten)]
    pub live_aws: LiveAwsArgs,

    #[command(flatten)]
    pub k8s: K8sArgs,
}

/// Kubernetes manifests against the live cluster (docs/kubernetes.md).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Kubernetes (--k8s-declared)")]
pub struct K8sArgs {
    /// Kubernetes manifests: a file (multi-document YAML, JSON, a `List`), a folder of them
    /// (read recursively), or `-` for the output of `kustomize build` or `helm template`.
    #[arg(long, value_name = "PATH", requires = "k8s_live", conflicts_with_all = ["declared", "live", "plan", "terraform"], env = "DRIFTLOG_K8S_DECLARED")]
    pub k8s_declared: Option<PathBuf>,

    /// The live objects: `kubectl get ... -o json` (or `-o yaml`) output in a file, or
    /// `cluster` to read the API server named by the kubeconfig.
    #[arg(
        long,
        value_name = "FILE|cluster",
        requires = "k8s_declared",
        env = "DRIFTLOG_K8S_LIVE"
    )]
    pub k8s_live: Option<PathBuf>,

    /// Namespaces to watch for unmanaged objects (repeatable or comma-separated); the first is
    /// also the namespace of manifests that name none. Default: the manifests' namespaces.
    #[arg(long, short = 'n', value_name = "NAMESPACE", value_delimiter = ',')]
    pub namespace: Vec<String>,

    /// Watch every namespace for unmanaged objects.
    #[arg(long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Only live objects with these labels count as unmanaged (`app=web,tier!=db`; with
    /// `cluster`, sent to the API server).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Field managers whose writes are not drift (globs, repeatable): an autoscaler, an
    /// operator. The cluster's own controllers are always trusted.
    #[arg(long, value_name = "MANAGER", value_delimiter = ',')]
    pub trusted_manager: Vec<String>,

    /// The kubeconfig file (with `--k8s-live cluster`). Default: $KUBECONFIG, then
    /// ~/.kube/config.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use. Default: its current context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Compare with what the API server would make of each manifest: a server-side apply dry
    /// run (`dryRun=All`, field manager `driftlog`), so admission defaults and webhooks count.
    /// Needs `--k8s-live cluster`; writes nothing.
    #[arg(long)]
    pub server_side: bool,
}

/// `--live aws` (docs/live-aws.md).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Live AWS (--live aws)")]
pub struct LiveAwsArgs {
    /// Regions to read and to list for unmanaged resources: a list, or `all` (every region
    /// enabled for the account). Default: --region's.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// Read the declared resources only; do not list the account for unmanaged ones (the
    /// audit logs still name resources created outside any state).
    #[arg(long)]
    pub managed_only: bool,

    /// Write Terraform 1.5+ `import` blocks, with skeleton resource blocks, for every
    /// unmanaged resource to FILE.
    #[arg(long, value_name = "FILE")]
    pub generate_imports: Option<PathBuf>,
}

/// How to fix what was found (docs/remediation.md).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Remediation")]
pub struct RemediateArgs {
    /// Add to every finding how to fix it: the commands that revert it, a patch that
    /// accepts it into the configuration (with --config), and an ignore line that accepts it
    /// for now.
    #[arg(long)]
    pub remediate: bool,

    /// The Terraform configuration directory to patch (implies --remediate).
    #[arg(long, value_name = "DIR", env = "DRIFTLOG_CONFIG")]
    pub config: Option<PathBuf>,

    /// Write every codify edit as one patch (`git apply` / `patch -p1` in --config) to FILE.
    #[arg(long, value_name = "FILE", requires = "config")]
    pub patch: Option<PathBuf>,

    /// Append a line per finding, with owner= and expires=, to this ignore file (implies
    /// --remediate).
    #[arg(long, value_name = "FILE")]
    pub generate_ignore: Option<PathBuf>,

    /// Who accepts the drift, in ignore lines. Default: $USER.
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,

    /// Until when ignore lines accept the drift: a date, or a span from now.
    #[arg(long, value_name = "TIME", default_value = "30d")]
    pub expires: String,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Tables for people (colour on terminals; honours NO_COLOR).
    Console,
    /// Versioned JSON for machines (docs/reports.md).
    Json,
    /// Markdown for a pull-request comment.
    Markdown,
    /// SARIF 2.1.0 for GitHub code scanning and other dashboards.
    Sarif,
    /// One self-contained HTML page (no network requests; sorting and filtering with
    /// JavaScript, readable without).
    Html,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// An environment and its state, NAME=FILE: a raw .tfstate, `terraform show -json`, or a
    /// plan (its prior state). Two or more; the columns follow their order.
    #[arg(long = "env", value_name = "NAME=FILE", required = true, value_parser = name_and_path)]
    pub envs: Vec<(String, PathBuf)>,

    /// Another word that names an environment inside identifiers, ENV=WORD
    /// (`prod=production`). Repeatable. The environment's name is always one.
    #[arg(long = "env-token", value_name = "ENV=WORD", value_parser = name_and_word)]
    pub env_tokens: Vec<(String, String)>,

    /// Rules of expected differences. Default: `.driftlog-compare` in the current directory, if
    /// present.
    #[arg(long, value_name = "FILE", env = "DRIFTLOG_COMPARE_RULES")]
    pub rules: Option<PathBuf>,

    /// An expected difference, as in the rules file: `ADDRESS_GLOB PATH_GLOB [ENVIRONMENTS]`.
    /// Repeatable; applied after the file's.
    #[arg(long, value_name = "RULE")]
    pub expect: Vec<String>,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = CompareFormat::Console, env = "DRIFTLOG_COMPARE_FORMAT")]
    pub format: CompareFormat,

    /// Write the report to FILE instead of standard output (written whole or not at all).
    #[arg(long, short, value_name = "FILE", env = "DRIFTLOG_OUTPUT")]
    pub output: Option<PathBuf>,

    /// Do not ask the event store who changed each unexpected difference.
    #[arg(long)]
    pub no_attribution: bool,

    /// In the console, also list the resources whose differences are all expected (the other
    /// formats always list them).
    #[arg(long)]
    pub show_expected: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareFormat {
    /// A matrix per resource for people (colour on terminals; honours NO_COLOR).
    Console,
    /// Versioned JSON for machines (docs/compare.md).
    Json,
    /// Markdown for a pull-request comment or a wiki page.
    Markdown,
    /// One self-contained HTML page (no network requests; sorting and filtering with
    /// JavaScript, readable without).
    Html,
}

fn name_and_path(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "expected NAME=FILE, e.g. prod=prod.tfstate, not '{s}'"
        )),
    }
}

fn name_and_word(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((env, word)) if !env.is_empty() && !word.is_empty() => {
            Ok((env.to_owned(), word.to_owned()))
        }
        _ => Err(format!(
            "expected ENV=WORD, e.g. prod=production, not '{s}'"
        )),
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}
