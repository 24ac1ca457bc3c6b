//! driftlog's alerts: what a run's new, changed and resolved findings become at a webhook, how
//! the request is signed, and how it is sent.
//!
//! - **Payloads.** [`generic_payload`] is versioned JSON (`format_version`) with each
//!   transition, its changed attributes and who caused it; [`slack_payload`] is a message
//!   Slack's incoming webhooks (and Mattermost, and Teams' Slack-compatible connectors) accept.
//! - **Signature.** A webhook carries `Driftlog-Signature: t=UNIX_SECONDS,v1=HEX`, where `HEX`
//!   is HMAC-SHA256, keyed with the target's secret, over `UNIX_SECONDS` + `.` + the body.
//!   A receiver recomputes it and refuses a timestamp older than a few minutes, so a captured
//!   request cannot be replayed later ([`verify`] does both).
//! - **Sending.** [`Sender::send`] makes one attempt and says whether to retry ([`Attempt`]);
//!   the outbox (in `driftlog_store::service`) keeps the state between attempts, so an alert
//!   survives a restart and is sent once even when several workers run.

use driftlog_store::service::{Change, Transition};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Driftlog-Signature";
/// The header naming the alert (the same on every retry: a receiver can deduplicate on it).
pub const DELIVERY_HEADER: &str = "Driftlog-Delivery";
/// The generic payload's format version.
pub const FORMAT_VERSION: &str = "1.0";

/// The signature header's value for `body` sent at `unix_seconds`.
pub fn sign(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac(secret, unix_seconds, body))
    )
}

fn mac(secret: &[u8], unix_seconds: i64, body: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    m.update(unix_seconds.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Why a signed request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not `t=SECONDS,v1=HEX`")]
    Malformed,
    #[error(
        "the signature was made {age} s from now, outside the {tolerance} s allowed (a replay?)"
    )]
    Stale { age: i64, tolerance: i64 },
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Check a request the way a receiver should: the header's form, its age against `now`
/// (within `tolerance_seconds` either way), and the MAC, compared in constant time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix_seconds: i64,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    let age = now_unix_seconds - t;
    if age.abs() > tolerance_seconds {
        return Err(SignatureError::Stale {
            age,
            tolerance: tolerance_seconds,
        });
    }
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&v1).map_err(|_| SignatureError::Mismatch)
}

/// The run an alert is about.
#[derive(Debug, Clone)]
pub struct RunInfo<'a> {
    pub id: i64,
    pub stack: &'a str,
    pub environment: &'a str,
    /// RFC 3339.
    pub finished: &'a str,
    /// Where the dashboard is, for links (`None`: no links).
    pub dashboard: Option<&'a str>,
}

/// Who caused a finding, from its attribution: principal, action, time, confidence.
fn cause(finding: &Value) -> Option<Value> {
    let a = finding.get("attribution")?;
    let first = a.get("caused_by")?.as_array()?.first()?;
    Some(json!({
        "confidence": a.get("confidence"),
        "principal": first.get("principal"),
        "action": first.get("action"),
        "time": first.get("time"),
        "source": first.get("source"),
        "event_id": first.get("event_id"),
        "actor_kind": first.get("actor_kind"),
    }))
}

fn paths(finding: &Value) -> Vec<Value> {
    finding
        .get("changes")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|c| c.get("path").cloned()).collect())
        .unwrap_or_default()
}

fn link(run: &RunInfo, id: i64) -> Option<String> {
    run.dashboard
        .map(|d| format!("{}/findings/{id}", d.trim_end_matches('/')))
}

/// The generic JSON alert: one per run and target, listing the transitions it is sent for.
pub fn generic_payload(run: &RunInfo, transitions: &[&Transition]) -> Value {
    let changes: Vec<Value> = transitions
        .iter()
        .map(|t| {
            json!({
                "change": t.change,
                "finding_id": t.finding_id,
                "address": t.address,
                "kind": t.kind,
                "stack": t.stack,
                "environment": t.environment,
                "attributes": paths(&t.finding),
                "caused_by": cause(&t.finding),
                "url": link(run, t.finding_id),
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "type": "driftlog.findings",
        "run": {
            "id": run.id,
            "stack": run.stack,
            "environment": run.environment,
            "finished": run.finished,
        },
        "changes": changes,
    })
}

/// Slack's text escaping: `&`, `<`, `>`.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: a headline and one line per transition (at most 20; the
/// rest are counted).
pub fn slack_payload(run: &RunInfo, transitions: &[&Transition]) -> Value {
    let count = |c: Change| transitions.iter().filter(|t| t.change == c).count();
    let mut parts = Vec::new();
    for (c, word) in [
        (Change::New, "new"),
        (Change::Changed, "changed"),
        (Change::Resolved, "resolved"),
    ] {
        if count(c) > 0 {
            parts.push(format!("{} {word}", count(c)));
        }
    }
    let headline = format!(
        "driftlog: {} in {} ({})",
        parts.join(", "),
        slack_escape(run.stack),
        slack_escape(run.environment)
    );
    let mut lines = Vec::new();
    for t in transitions.iter().take(20) {
        let icon = match t.change {
            Change::New => ":red_circle:",
            Change::Changed => ":large_orange_circle:",
            Change::Resolved => ":white_check_mark:",
        };
        let address = match link(run, t.finding_id) {
            Some(url) => format!("<{url}|{}>", slack_escape(&t.address)),
            None => format!("`{}`", slack_escape(&t.address)),
        };
        let by = cause(&t.finding)
            .and_then(|c| {
                let who = c.get("principal")?.as_str()?.to_owned();
                let what = c.get("action").and_then(Value::as_str).unwrap_or("");
                Some(format!(
                    " by {} ({})",
                    slack_escape(&who),
                    slack_escape(what)
                ))
            })
            .unwrap_or_default();
        lines.push(format!(
            "{icon} {} {address} {}{by}",
            t.change.as_str(),
            t.kind
        ));
    }
    if transitions.len() > 20 {
        lines.push(format!("… and {} more", transitions.len() - 20));
    }
    json!({
        "text": headline,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{headline}*")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}},
        ],
    })
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Worth retrying: a network failure, a timeout, 408, 429 or 5xx.
    Retry(String),
    /// Retrying cannot help: another 4xx (a wrong URL, a refused signature).
    Refused(String),
}

/// How long to wait after failed attempt `attempt` (1-based): a ceiling of 2^attempt seconds,
/// capped at 10 minutes, of which half is fixed and half random ("equal jitter"), so many
/// alerts failing together do not retry in step.
pub fn backoff(attempt: i64) -> Duration {
    let cap = 2u64.saturating_pow(attempt.clamp(1, 20) as u32).min(600);
    let mut b = [0u8; 8];
    let r = getrandom::fill(&mut b)
        .map(|_| u64::from_le_bytes(b))
        .unwrap_or(0);
    Duration::from_millis(1_000 * cap / 2 + r % (500 * cap + 1))
}

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<hyper::body::Bytes>,
>;

/// Sends alerts over HTTP or HTTPS (the system's root certificates), each attempt bounded in
/// time.
#[derive(Clone)]
pub struct Sender {
    client: Client,
    timeout: Duration,
}

impl Sender {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A certificate the store cannot parse is skipped, as browsers do.
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Ok(Self { client, timeout })
    }

    /// One attempt to POST `body` to `url`, signed with `secret` when given. Errors never
    /// repeat the URL: it is a secret (a Slack webhook URL is its own credential).
    pub async fn send(
        &self,
        url: &str,
        secret: Option<&[u8]>,
        delivery: i64,
        body: &str,
        now_unix_seconds: i64,
    ) -> Attempt {
        let mut request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("driftlog/", env!("CARGO_PKG_VERSION")),
            )
            .header(DELIVERY_HEADER, delivery.to_string());
        if let Some(secret) = secret {
            request = request.header(
                SIGNATURE_HEADER,
                sign(secret, now_unix_seconds, body.as_bytes()),
            );
        }
        let request = match request.body(http_body_util::Full::new(hyper::body::Bytes::from(
            body.to_owned(),
        ))) {
            Ok(r) => r,
            Err(_) => return Attempt::Refused("the target's URL is not a valid URL".into()),
        };
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Attempt::Retry(format!("no answer within {} s", self.timeout.as_secs())),
            Ok(Err(e)) => Attempt::Retry(format!("could not send: {}", describe(&e))),
            Ok(Ok(response)) => {
                let status = response.status();
                if status.is_success() {
                    Attempt::Delivered
                } else if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
                    Attempt::Retry(format!("the target answered {status}"))
                } else {
                    Attempt::Refused(format!("the target answered {status}"))
                }
            }
        }
    }
}

/// An error's chain of causes, without the request (whose URL is secret).
fn describe(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(change: Change, address: &str) -> Transition {
        Transition {
            change,
            finding_id: 7,
            stack: "net".into(),
            environment: "prod".into(),
            address: address.into(),
            kind: "changed".into(),
            finding: json!({
                "address": address,
                "changes": [{"path": "tags.env", "before": "a", "after": "b"}],
                "attribution": {"confidence": "certain", "caused_by": [{
                    "principal": "arn:aws:iam::1:user/ana", "action": "CreateTags",
                    "time": "2024-11-10T00:00:00Z", "source": "cloudtrail", "event_id": "e1"
                }]}
            }),
        }
    }

    #[test]
    fn a_signature_verifies_once_and_only_while_fresh() {
        let body = br#"{"a":1}"#;
        let header = sign(b"key", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(b"key", &header, body, 1_700_000_100, 300), Ok(()));
        assert_eq!(
            verify(b"key", &header, br#"{"a":2}"#, 1_700_000_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, body, 1_700_000_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(b"key", &header, body, 1_700_001_000, 300),
            Err(SignatureError::Stale { age: 1000, .. })
        ));
        // The timestamp is signed: moving it forward breaks the MAC.
        let moved = header.replace("t=1700000000", "t=1700000900");
        assert_eq!(
            verify(b"key", &moved, body, 1_700_000_900, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"key", "sha256=abc", body, 0, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn payloads_name_the_change_and_who_caused_it() {
        let t = transition(Change::New, "aws_security_group.web");
        let run = RunInfo {
            id: 3,
            stack: "net",
            environment: "prod",
            finished: "2024-11-10T00:05:00Z",
            dashboard: Some("http://127.0.0.1:8080/"),
        };
        let g = generic_payload(&run, &[&t]);
        assert_eq!(g["changes"][0]["change"], "new");
        assert_eq!(g["changes"][0]["attributes"], json!(["tags.env"]));
        assert_eq!(
            g["changes"][0]["caused_by"]["principal"],
            "arn:aws:iam::1:user/ana"
        );
        assert_eq!(g["changes"][0]["url"], "http://127.0.0.1:8080/findings/7");
        let s = slack_payload(&run, &[&t]);
        assert_eq!(s["text"], "driftlog: 1 new in net (prod)");
        let lines = s["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(lines.contains("<http://127.0.0.1:8080/findings/7|aws_security_group.web>"));
        assert!(lines.contains("by arn:aws:iam::1:user/ana (CreateTags)"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let d = backoff(attempt);
            assert!(d <= Duration::from_secs(900), "{attempt}: {d:?}");
        }
        assert!(backoff(1) >= Duration::from_secs(1));
        assert!(backoff(10) >= Duration::from_secs(300));
    }
}
