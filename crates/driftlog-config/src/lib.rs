//! `driftlog.toml`: what `driftlog serve` watches — stacks with their environment and
//! schedule, audit sources, environment comparisons, notification targets, the store and the
//! ledger — and its validation, shared by `driftlog config check` (for CI) and the service.
//!
//! Every error names the file, the line and column, and the key (`stack[2].schedule`), and all
//! of them are reported at once. Secrets (webhook URLs, signing keys, tokens, database URLs)
//! never live in the file: a key such as `url` or `secret` is refused with the way to give it
//! (`url_env = "VAR"` or `url_file = "PATH"`).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::Spanned;

/// The file's name when none is given.
pub const DEFAULT_PATH: &str = "driftlog.toml";

/// A validated configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: Store,
    #[serde(default)]
    pub ledger: Ledger,
    #[serde(default, rename = "stack")]
    pub stacks: Vec<Stack>,
    #[serde(default)]
    pub audit: Vec<AuditSource>,
    #[serde(default)]
    pub compare: Vec<Comparison>,
    #[serde(default)]
    pub notify: Vec<Notify>,
    /// Archiving the event store, and removing archived events from it, on a schedule.
    pub retention: Option<Retention>,
    #[serde(default)]
    pub server: Server,
    /// API tokens, by the SHA-256 of their value (`driftlog token new` makes one).
    #[serde(default, rename = "token")]
    pub tokens: Vec<Token>,
}

/// Where `driftlog serve` listens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// `HOST:PORT` (default `127.0.0.1:8080`).
    pub listen: Option<Spanned<String>>,
}

/// An API token: only its hash is in the file, so the file is not a secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub name: Spanned<String>,
    /// `read` (every GET) or `admin` (also acknowledgements and runs on demand).
    pub role: Spanned<String>,
    /// The SHA-256 of the token, in hex.
    pub sha256: Spanned<String>,
    /// Refused: the token itself.
    value: Option<Spanned<toml::Value>>,
    token: Option<Spanned<toml::Value>>,
}

/// The default `[server] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The first time `schedule` (cron syntax, UTC, an optional leading seconds field) fires after
/// `after_us` (microseconds since the epoch); `None` if it never does or is not a schedule.
pub fn next_due(schedule: &str, after_us: i64) -> Option<i64> {
    let cron = croner::Cron::from_str(schedule).ok()?;
    let after = chrono::DateTime::from_timestamp_micros(after_us)?;
    let next = cron.find_next_occurrence(&after, false).ok()?;
    Some(next.timestamp_micros())
}

/// Where events and findings history live: a SQLite file, or a database whose URL (it holds a
/// password) comes from the environment or a file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub path: Option<PathBuf>,
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    /// Refused: a database URL carries credentials.
    url: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    pub path: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// One stack: a state (and what to compare it with) or a Terraform directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub name: Spanned<String>,
    pub environment: Spanned<String>,
    /// The declared state: a file or `s3://BUCKET/KEY`.
    pub state: Option<Spanned<String>>,
    /// A Terraform directory (its backend names the state with `live = "aws"`; otherwise a
    /// refresh-only plan is made there).
    pub terraform: Option<Spanned<PathBuf>>,
    /// `aws` (read the account) or a refreshed state; required with `state`.
    pub live: Option<Spanned<String>>,
    /// Cron syntax (`minute hour day month weekday`), UTC.
    pub schedule: Spanned<String>,
    pub ignore_file: Option<PathBuf>,
    #[serde(default)]
    pub regions: Vec<String>,
    /// Kubernetes manifests (a file or folder), compared with `live`: `cluster` or a
    /// `kubectl get -o json` file.
    pub manifests: Option<Spanned<PathBuf>>,
    /// With `live = "cluster"`: the kubeconfig context (default: its current one).
    pub context: Option<String>,
    /// With `live = "cluster"`: the kubeconfig file (default: `$KUBECONFIG`, `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// Kubernetes namespaces watched for unmanaged objects (`["*"]`: all); the first is the
    /// namespace of manifests that name none.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// A label selector scoping unmanaged objects.
    pub selector: Option<String>,
    /// Field managers whose writes are not drift.
    #[serde(default)]
    pub trusted_managers: Vec<String>,
    /// Compare with a server-side apply dry run (`live = "cluster"` only).
    #[serde(default)]
    pub server_side: bool,
}

/// Audit logs to ingest as they arrive: a directory or `s3://BUCKET/PREFIX`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSource {
    pub path: Spanned<String>,
    pub schedule: Spanned<String>,
    #[serde(default)]
    pub verify_digests: bool,
}

/// `[retention]`: on its schedule, the events stored since the last run are archived to
/// `archive` (a folder, relative to the configuration, or `s3://BUCKET/PREFIX`), then, with
/// `retain`, archived events older than that age leave the store (`driftlog archive`, then
/// `driftlog prune --retain`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub archive: Spanned<String>,
    /// An age: `90d`, `12h`, `4w`.
    pub retain: Option<Spanned<String>>,
    pub schedule: Spanned<String>,
}

/// Whether `s` is an age as `retain` takes it: a whole number and a unit (`s`, `m`, `h`, `d`,
/// `w`).
pub fn is_age(s: &str) -> bool {
    let Some(unit) = s.chars().last() else {
        return false;
    };
    let digits = &s[..s.len() - unit.len_utf8()];
    matches!(unit, 's' | 'm' | 'h' | 'd' | 'w')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Environments of the same configuration compared on a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub name: Spanned<String>,
    /// Stack names, two or more.
    pub stacks: Spanned<Vec<String>>,
    pub rules: Option<PathBuf>,
    pub schedule: Spanned<String>,
}

/// Where alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    pub name: Spanned<String>,
    /// `webhook` (generic JSON, HMAC-signed) or `slack`.
    pub kind: Spanned<String>,
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    /// The HMAC-SHA256 signing key (webhooks).
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
    /// Which changes to send: `new`, `changed`, `resolved` (default all three).
    pub on: Option<Spanned<Vec<String>>>,
    /// Only these environments (default all).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Refused: secrets do not go in the file.
    url: Option<Spanned<toml::Value>>,
    secret: Option<Spanned<toml::Value>>,
    token: Option<Spanned<toml::Value>>,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    /// `stack[2].schedule`; empty for a syntax error.
    pub key: String,
    pub message: String,
}

/// Why a configuration was refused: every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.problems.iter().map(|p| self.line(p)).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl ConfigError {
    fn line(&self, p: &Problem) -> String {
        let key = if p.key.is_empty() {
            String::new()
        } else {
            format!("{}: ", p.key)
        };
        format!("{}:{}:{}: {key}{}", self.file, p.line, p.column, p.message)
    }
}

/// Something to check where the config is used, not wrong in the file itself: an environment
/// variable not set here, a file not present here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub key: String,
    pub message: String,
}

/// Line and column (1-based) of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn at<T>(&mut self, spanned: &Spanned<T>, key: String, message: impl Into<String>) {
        let (line, column) = position(self.text, spanned.span().start);
        self.problems.push(Problem {
            line,
            column,
            key,
            message: message.into(),
        });
    }

    fn schedule(&mut self, s: &Spanned<String>, key: String) {
        if let Err(e) = croner::Cron::from_str(s.get_ref()) {
            self.at(
                s,
                key,
                format!(
                    "`{}` is not a schedule in cron syntax (minute hour day month weekday, UTC): {e}",
                    s.get_ref()
                ),
            );
        }
    }

    fn refuse_token(&mut self, v: &Option<Spanned<toml::Value>>, key: String) {
        if let Some(v) = v {
            self.at(
                v,
                key,
                "a token does not go in the config file, only its hash: `sha256 = \"…\"` (`driftlog token new` prints both)",
            );
        }
    }

    fn refuse_secret(&mut self, v: &Option<Spanned<toml::Value>>, key: String, name: &str) {
        if let Some(v) = v {
            self.at(
                v,
                key,
                format!(
                    "secrets do not go in the config file: give `{name}_env = \"VARIABLE\"` or `{name}_file = \"PATH\"`"
                ),
            );
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Parse and validate `text` (read from `file`).
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError {
        file: file.to_owned(),
        problems,
    };
    let config: Config = toml::from_str(text).map_err(|e: toml::de::Error| {
        let (line, column) = e.span().map_or((1, 1), |s| position(text, s.start));
        fail(vec![Problem {
            line,
            column,
            key: String::new(),
            message: e.message().trim().to_owned(),
        }])
    })?;
    let mut c = Checker {
        text,
        problems: Vec::new(),
    };
    c.refuse_secret(&config.store.url, "store.url".into(), "url");
    if config.store.path.is_some() as u8
        + config.store.url_env.is_some() as u8
        + config.store.url_file.is_some() as u8
        > 1
    {
        c.problems.push(Problem {
            line: 1,
            column: 1,
            key: "store".into(),
            message: "give one of path, url_env and url_file".into(),
        });
    }
    let mut names = std::collections::HashSet::new();
    for (i, s) in config.stacks.iter().enumerate() {
        let key = |k: &str| format!("stack[{i}].{k}");
        if !valid_name(s.name.get_ref()) {
            c.at(
                &s.name,
                key("name"),
                "a name is letters, digits, `-`, `_` and `.`",
            );
        } else if !names.insert(s.name.get_ref().clone()) {
            c.at(
                &s.name,
                key("name"),
                format!("`{}` names two stacks", s.name.get_ref()),
            );
        }
        if !valid_name(s.environment.get_ref()) {
            c.at(
                &s.environment,
                key("environment"),
                "an environment is letters, digits, `-`, `_` and `.` (dev, staging, prod…)",
            );
        }
        if let Some(manifests) = &s.manifests {
            if s.state.is_some() || s.terraform.is_some() {
                c.at(
                    manifests,
                    key("manifests"),
                    "a stack is Terraform (`state`, `terraform`) or Kubernetes (`manifests`), not both",
                );
            } else if s.live.as_ref().is_some_and(|l| l.get_ref() == "aws") {
                c.at(
                    manifests,
                    key("live"),
                    "manifests are compared with `live = \"cluster\"` or a `kubectl get -o json` file, not `aws`",
                );
            } else if s.live.is_none() {
                c.at(
                    manifests,
                    key("live"),
                    "manifests are compared with `live = \"cluster\"` or `live = \"KUBECTL-GET.json\"`",
                );
            }
            if s.server_side && s.live.as_ref().map(|l| l.get_ref().as_str()) != Some("cluster") {
                c.at(
                    manifests,
                    key("server_side"),
                    "`server_side = true` needs `live = \"cluster\"`",
                );
            }
            c.schedule(&s.schedule, key("schedule"));
            continue;
        }
        match (&s.state, &s.terraform, &s.live) {
            (Some(_), None, Some(_)) | (None, Some(_), _) => {}
            (Some(state), None, None) => c.at(
                state,
                key("live"),
                "a state is compared with something: `live = \"aws\"` or `live = \"REFRESHED-STATE\"`",
            ),
            (Some(state), Some(_), _) => {
                c.at(state, key("state"), "give `state` or `terraform`, not both")
            }
            (None, None, _) => c.at(
                &s.name,
                key("state"),
                "a stack needs `state = \"FILE|s3://…\"`, `terraform = \"DIR\"` or `manifests = \"PATH\"`",
            ),
        }
        c.schedule(&s.schedule, key("schedule"));
    }
    for (i, a) in config.audit.iter().enumerate() {
        if a.path.get_ref().trim().is_empty() {
            c.at(
                &a.path,
                format!("audit[{i}].path"),
                "an audit source needs a path",
            );
        }
        c.schedule(&a.schedule, format!("audit[{i}].schedule"));
    }
    if let Some(r) = &config.retention {
        if r.archive.get_ref().trim().is_empty() {
            c.at(
                &r.archive,
                "retention.archive".into(),
                "give the archive's folder or s3://BUCKET/PREFIX",
            );
        }
        if let Some(retain) = &r.retain {
            if !is_age(retain.get_ref()) {
                c.at(
                    retain,
                    "retention.retain".into(),
                    "an age: a whole number and s, m, h, d or w (`90d`)",
                );
            }
        }
        c.schedule(&r.schedule, "retention.schedule".into());
    }
    let mut comparisons = std::collections::HashSet::new();
    for (i, cmp) in config.compare.iter().enumerate() {
        let key = |k: &str| format!("compare[{i}].{k}");
        if !comparisons.insert(cmp.name.get_ref().clone()) {
            c.at(
                &cmp.name,
                key("name"),
                format!("`{}` names two comparisons", cmp.name.get_ref()),
            );
        }
        if cmp.stacks.get_ref().len() < 2 {
            c.at(
                &cmp.stacks,
                key("stacks"),
                "a comparison needs two stacks or more",
            );
        }
        for name in cmp.stacks.get_ref() {
            if !names.contains(name) {
                c.at(
                    &cmp.stacks,
                    key("stacks"),
                    format!("no stack is named `{name}`"),
                );
            }
        }
        c.schedule(&cmp.schedule, key("schedule"));
    }
    let mut targets = std::collections::HashSet::new();
    for (i, n) in config.notify.iter().enumerate() {
        let key = |k: &str| format!("notify[{i}].{k}");
        c.refuse_secret(&n.url, key("url"), "url");
        c.refuse_secret(&n.secret, key("secret"), "secret");
        c.refuse_secret(&n.token, key("token"), "secret");
        if !targets.insert(n.name.get_ref().clone()) {
            c.at(
                &n.name,
                key("name"),
                format!("`{}` names two targets", n.name.get_ref()),
            );
        }
        let kind = n.kind.get_ref().as_str();
        if !matches!(kind, "webhook" | "slack") {
            c.at(
                &n.kind,
                key("kind"),
                format!("`{kind}` is not a target kind (webhook, slack)"),
            );
        }
        if n.url_env.is_some() == n.url_file.is_some() {
            c.at(
                &n.name,
                key("url_env"),
                "give one of `url_env` and `url_file`",
            );
        }
        if kind == "webhook" && n.secret_env.is_none() && n.secret_file.is_none() {
            c.at(
                &n.name,
                key("secret_env"),
                "a webhook is signed (HMAC-SHA256): give `secret_env` or `secret_file`",
            );
        }
        if let Some(on) = &n.on {
            for what in on.get_ref() {
                if !matches!(what.as_str(), "new" | "changed" | "resolved") {
                    c.at(
                        on,
                        key("on"),
                        format!("`{what}` is not new, changed or resolved"),
                    );
                }
            }
        }
    }
    if let Some(listen) = &config.server.listen {
        if listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
            c.at(
                listen,
                "server.listen".into(),
                format!(
                    "`{}` is not HOST:PORT (an IP address and a port, like 127.0.0.1:8080)",
                    listen.get_ref()
                ),
            );
        }
    }
    let mut tokens = std::collections::HashSet::new();
    for (i, t) in config.tokens.iter().enumerate() {
        let key = |k: &str| format!("token[{i}].{k}");
        c.refuse_token(&t.value, key("value"));
        c.refuse_token(&t.token, key("token"));
        if !tokens.insert(t.name.get_ref().clone()) {
            c.at(
                &t.name,
                key("name"),
                format!("`{}` names two tokens", t.name.get_ref()),
            );
        }
        if !matches!(t.role.get_ref().as_str(), "read" | "admin") {
            c.at(
                &t.role,
                key("role"),
                format!("`{}` is not a role (read, admin)", t.role.get_ref()),
            );
        }
        let hash = t.sha256.get_ref();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            c.at(
                &t.sha256,
                key("sha256"),
                "a token's SHA-256 is 64 hex digits (`driftlog token new` prints it)",
            );
        }
    }
    if c.problems.is_empty() {
        Ok(config)
    } else {
        c.problems.sort_by_key(|p| (p.line, p.column));
        Err(fail(c.problems))
    }
}

impl Config {
    /// What to check where the service runs: secrets' variables and files, local paths
    /// (relative ones from `base`, the configuration file's folder).
    pub fn notices(&self, base: &Path) -> Vec<Notice> {
        let mut out = Vec::new();
        let mut var = |key: String, name: &Option<String>| {
            if let Some(v) = name {
                if std::env::var_os(v).is_none() {
                    out.push(Notice {
                        key,
                        message: format!("the environment variable {v} is not set here"),
                    });
                }
            }
        };
        var("store.url_env".into(), &self.store.url_env);
        for (i, n) in self.notify.iter().enumerate() {
            var(format!("notify[{i}].url_env"), &n.url_env);
            var(format!("notify[{i}].secret_env"), &n.secret_env);
        }
        let mut file = |key: String, p: Option<&Path>| {
            if let Some(p) = p {
                if !base.join(p).exists() {
                    out.push(Notice {
                        key,
                        message: format!("{} does not exist here", p.display()),
                    });
                }
            }
        };
        for (i, n) in self.notify.iter().enumerate() {
            file(format!("notify[{i}].url_file"), n.url_file.as_deref());
            file(format!("notify[{i}].secret_file"), n.secret_file.as_deref());
        }
        for (i, s) in self.stacks.iter().enumerate() {
            file(
                format!("stack[{i}].terraform"),
                s.terraform.as_ref().map(|t| t.get_ref().as_path()),
            );
            file(
                format!("stack[{i}].manifests"),
                s.manifests.as_ref().map(|t| t.get_ref().as_path()),
            );
        }
        out
    }

    /// One line: what the file declares.
    pub fn summary(&self) -> String {
        let stacks: Vec<String> = self
            .stacks
            .iter()
            .map(|s| format!("{} ({})", s.name.get_ref(), s.environment.get_ref()))
            .collect();
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}{}; {}; {}; {}",
            count(self.stacks.len(), "stack"),
            if stacks.is_empty() {
                String::new()
            } else {
                format!(" ({})", stacks.join(", "))
            },
            count(self.audit.len(), "audit source"),
            count(self.compare.len(), "comparison"),
            count(self.notify.len(), "notification target")
        ) + &match &self.retention {
            Some(r) => format!(
                "; retention: archive to {}{}",
                r.archive.get_ref(),
                r.retain
                    .as_ref()
                    .map(|a| format!(", keep {} in the store", a.get_ref()))
                    .unwrap_or_default()
            ),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[store]
path = ".driftlog/events.db"

[[stack]]
name = "network"
environment = "prod"
state = "s3://tf-state/prod/network.tfstate"
live = "aws"
schedule = "0 */6 * * *"

[[stack]]
name = "app-staging"
environment = "staging"
terraform = "infra/app"
schedule = "30 * * * *"

[[stack]]
name = "app-prod"
environment = "prod"
terraform = "infra/app"
schedule = "30 * * * *"

[[audit]]
path = "s3://trail/AWSLogs/"
schedule = "*/10 * * * *"

[[compare]]
name = "app"
stacks = ["app-staging", "app-prod"]
schedule = "0 7 * * *"

[[notify]]
name = "ops"
kind = "webhook"
url_env = "DRIFTLOG_OPS_WEBHOOK"
secret_env = "DRIFTLOG_OPS_SECRET"
on = ["new", "resolved"]
"#;

    #[test]
    fn a_good_file_parses() {
        let c = parse("driftlog.toml", GOOD).unwrap();
        assert_eq!(c.stacks.len(), 3);
        assert_eq!(
            c.summary(),
            "3 stacks (network (prod), app-staging (staging), app-prod (prod)); 1 audit source; 1 comparison; 1 notification target"
        );
    }

    #[test]
    fn every_problem_is_located_and_named() {
        let bad = GOOD
            .replace("0 */6 * * *", "61 * * * *")
            .replace(
                "[\"app-staging\", \"app-prod\"]",
                "[\"app-staging\", \"app-qa\"]",
            )
            .replace(
                "url_env = \"DRIFTLOG_OPS_WEBHOOK\"",
                "url = \"https://hooks.example.com/T0/B0/x\"",
            );
        let e = parse("driftlog.toml", &bad).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("driftlog.toml:10:12: stack[0].schedule: `61 * * * *` is not a schedule"),
            "{text}"
        );
        assert!(
            text.contains("compare[0].stacks: no stack is named `app-qa`"),
            "{text}"
        );
        assert!(
            text.contains("notify[0].url: secrets do not go in the config file"),
            "{text}"
        );
        // The secret itself is never repeated.
        assert!(!text.contains("hooks.example.com"), "{text}");
        assert!(
            text.contains("notify[0].url_env: give one of `url_env` and `url_file`"),
            "{text}"
        );

        let syntax = parse("d.toml", "[[stack]]\nname = \"a\"\nschedul = \"x\"\n").unwrap_err();
        assert!(
            syntax
                .to_string()
                .starts_with("d.toml:3:1: unknown field `schedul`"),
            "{syntax}"
        );
        let twice = GOOD.replace("name = \"app-prod\"", "name = \"network\"");
        assert!(parse("d.toml", &twice)
            .unwrap_err()
            .to_string()
            .contains("`network` names two stacks"));
        let neither = "[[stack]]\nname = \"a\"\nenvironment = \"dev\"\nschedule = \"* * * * *\"\n";
        assert!(parse("d.toml", neither)
            .unwrap_err()
            .to_string()
            .contains("a stack needs `state"));
    }

    #[test]
    fn tokens_are_hashes_and_the_server_listens_on_an_address() {
        let good = format!(
            "{GOOD}\n[server]\nlisten = \"127.0.0.1:9000\"\n\n[[token]]\nname = \"ci\"\nrole = \"read\"\nsha256 = \"{}\"\n",
            "ab".repeat(32)
        );
        let c = parse("d.toml", &good).unwrap();
        assert_eq!(c.tokens[0].role.get_ref(), "read");
        let bad = good.replace("127.0.0.1:9000", "localhost").replace(
            "role = \"read\"",
            "role = \"root\"\nvalue = \"dl_secret123\"",
        );
        let text = parse("d.toml", &bad).unwrap_err().to_string();
        assert!(
            text.contains("server.listen: `localhost` is not HOST:PORT"),
            "{text}"
        );
        assert!(
            text.contains("token[0].role: `root` is not a role"),
            "{text}"
        );
        assert!(
            text.contains("token[0].value: a token does not go in the config file"),
            "{text}"
        );
        assert!(!text.contains("dl_secret123"), "{text}");
        let short = good.replace(&"ab".repeat(32), "abc");
        assert!(parse("d.toml", &short)
            .unwrap_err()
            .to_string()
            .contains("64 hex digits"));
    }

    #[test]
    fn a_schedule_fires_next_in_utc_with_optional_seconds() {
        // 2024-11-10T23:30:00Z
        let t = 1_731_281_400_000_000;
        assert_eq!(next_due("0 */6 * * *", t), Some(t + 30 * 60 * 1_000_000));
        assert_eq!(
            next_due("*/5 * * * * *", t),
            Some(t + 5_000_000),
            "seconds first"
        );
        assert_eq!(next_due("61 * * * *", t), None);
    }

    #[test]
    fn retention_takes_a_destination_an_age_and_a_schedule() {
        let good = "[retention]\narchive = \"s3://audit/driftlog\"\nretain = \"90d\"\nschedule = \"0 3 * * *\"\n";
        let c = parse("driftlog.toml", good).unwrap();
        let r = c.retention.as_ref().unwrap();
        assert_eq!(r.retain.as_ref().unwrap().get_ref(), "90d");
        assert!(c
            .summary()
            .ends_with("; retention: archive to s3://audit/driftlog, keep 90d in the store"));
        let bad = "[retention]\narchive = \"\"\nretain = \"3 months\"\nschedule = \"never\"\n";
        let e = parse("driftlog.toml", bad).unwrap_err();
        let keys: Vec<&str> = e.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "retention.archive",
                "retention.retain",
                "retention.schedule"
            ]
        );
        assert_eq!(e.problems[1].line, 3);
        assert!(is_age("12h") && is_age("4w") && !is_age("d") && !is_age("90") && !is_age("-1d"));
    }
}
