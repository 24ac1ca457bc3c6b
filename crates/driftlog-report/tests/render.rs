//! Every report format, snapshot-tested whole on one report that exercises the whole model:
//! a changed resource (scalar, map key, set elements added and removed, a secret), a deleted
//! and an unmanaged one, a pending configuration change, suppressed and ignored differences,
//! an expired ignore rule, a warning, and attribution with a cause and a failed attempt.
//! The CLI's own snapshots (tests of the binary) cover the quickstart end to end.

use driftlog_core::cause::{Attribution, Confidence, EventRef, Window};
use driftlog_core::engine::{compare_instances, MaskForm, ResourceInstance};
use driftlog_core::ignore::IgnoreRules;
use driftlog_core::report::{AuditSummary, InputFile};
use driftlog_core::{ActorKind, Change, PendingChange, ScanReport};
use driftlog_report::{write, Format, Style};
use serde_json::json;
use serde_json::value::RawValue;

fn raw(v: serde_json::Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

fn event(id: &str, action: &str, outcome: &str, principal: &str, kind: ActorKind) -> EventRef {
    EventRef {
        source: "aws".into(),
        event_id: id.into(),
        time: "2026-11-20T14:02:11Z".into(),
        action: action.into(),
        outcome: outcome.into(),
        principal: Some(principal.into()),
        issuer: None,
        session_name: None,
        source_identity: None,
        on_behalf_of: None,
        actor_kind: kind,
        actor_rule: "sessionCredentialFromConsole".into(),
        mfa: Some(true),
        source_ip: Some("203.0.113.9".into()),
        user_agent: None,
        explains: vec!["ingress".into()],
    }
}

fn report() -> ScanReport {
    let sg_declared = raw(
        json!({"id": "sg-1", "name": "web", "ingress": [{"from_port": 443, "cidr_blocks": ["10.0.0.0/8"]}],
        "tags": {"Owner": "platform"}, "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
    );
    let sg_live = raw(
        json!({"id": "sg-1", "name": "web", "ingress": [{"from_port": 22, "cidr_blocks": ["0.0.0.0/0"]}],
        "tags": {"Owner": "someone-else"}, "policy": "{ \"Statement\": [], \"Version\": \"2012-10-17\" }"}),
    );
    let db_declared =
        raw(json!({"id": "db-1", "password": "CANARY-declared", "instance_class": "db.t3.small"}));
    let db_live =
        raw(json!({"id": "db-1", "password": "CANARY-live", "instance_class": "db.t3.small"}));
    let secret_paths = raw(json!([[{"type": "get_attr", "value": "password"}]]));
    let queue = raw(json!({"id": "https://sqs.eu-west-1.amazonaws.com/1/jobs", "name": "jobs"}));
    let bucket = raw(json!({"id": "hand-made", "bucket": "hand-made"}));
    let inst = |address: &str,
                ty: &str,
                attrs: &'static RawValue,
                sensitive: Option<&'static RawValue>| ResourceInstance {
        address: address.into(),
        deposed: None,
        resource_type: ty.into(),
        provider: "registry.terraform.io/hashicorp/aws".into(),
        managed: true,
        attributes: Some(attrs),
        sensitive,
        mask_form: MaskForm::StatePaths,
    };
    let leak = |b: Box<RawValue>| -> &'static RawValue { Box::leak(b) };
    let secret = leak(secret_paths);
    let declared = vec![
        inst(
            "aws_security_group.web",
            "aws_security_group",
            leak(sg_declared),
            None,
        ),
        inst(
            "aws_db_instance.main",
            "aws_db_instance",
            leak(db_declared),
            Some(secret),
        ),
        inst("aws_sqs_queue.jobs", "aws_sqs_queue", leak(queue), None),
    ];
    let live = vec![
        inst(
            "aws_security_group.web",
            "aws_security_group",
            leak(sg_live),
            None,
        ),
        inst(
            "aws_db_instance.main",
            "aws_db_instance",
            leak(db_live),
            Some(secret),
        ),
        inst(
            "aws_s3_bucket.hand_made",
            "aws_s3_bucket",
            leak(bucket),
            None,
        ),
    ];
    let comparison = compare_instances(&declared, &live).unwrap();
    let rules = IgnoreRules::parse_file(
        "aws_security_group.web tags.Owner owner=alice reason=\"rotating owners\"\naws_instance.old expires=2026-01-31 owner=bob\n",
        ".driftlogignore",
    )
    .unwrap();
    let (mut findings, ignored, expired) =
        rules.apply(comparison.findings, "2026-11-29T00:00:00Z".parse().unwrap());
    for f in &mut findings {
        if f.address == "aws_security_group.web" {
            f.attribution = Some(Attribution {
                confidence: Confidence::Certain,
                caused_by: vec![event(
                    "5a17-b",
                    "AuthorizeSecurityGroupIngress",
                    "success",
                    "arn:aws:sts::1:assumed-role/Admin/break-glass",
                    ActorKind::Console,
                )],
                candidates: vec![],
                attempts: vec![event(
                    "5a17-a",
                    "AuthorizeSecurityGroupIngress",
                    "Client.UnauthorizedOperation",
                    "arn:aws:iam::1:user/dev-sam",
                    ActorKind::Cli,
                )],
                window: Window {
                    since: Some("2026-11-13T09:00:00Z".into()),
                    since_reason: "after the last Terraform write to the resource".into(),
                    until: "2026-11-27T00:00:00Z".into(),
                },
                identifiers: vec!["sg-1".into()],
            });
        }
    }
    let pending = vec![PendingChange {
        address: "aws_instance.app".into(),
        resource_type: "aws_instance".into(),
        actions: vec!["update".into()],
        action_reason: None,
        changes: vec![Change::new(
            "instance_type".into(),
            json!("t3.small"),
            json!("t3.large"),
        )],
    }];
    let mut report = ScanReport::new(
        "state",
        vec![
            InputFile {
                role: "declared".into(),
                path: "declared.tfstate".into(),
                detected: "state_v4".into(),
                sha256: "0".repeat(64),
                bytes: 812,
            },
            InputFile {
                role: "live".into(),
                path: "live.tfstate".into(),
                detected: "show_json_state".into(),
                sha256: "f".repeat(64),
                bytes: 790,
            },
        ],
        comparison.resources_scanned,
        findings,
        pending,
        comparison.suppressed,
        ignored,
        expired,
        vec!["plan.json: resource_drift[3] (line 42): entry skipped: missing field `type`".into()],
    );
    report.audit = AuditSummary {
        evidence: true,
        store: Some(".driftlog/events.db".into()),
        events_in_store: 12,
        certain: 1,
        likely: 0,
        none: 2,
        note: None,
    };
    report
}

fn render(format: Format) -> String {
    let mut out = Vec::new();
    write(
        format,
        &report(),
        Style {
            color: false,
            width: 120,
        },
        &mut out,
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("CANARY"), "a secret leaked into {format:?}");
    text
}

#[test]
fn console() {
    insta::assert_snapshot!(render(Format::Console));
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render(Format::Markdown));
}

#[test]
fn json() {
    insta::assert_snapshot!(render(Format::Json));
}

#[test]
fn sarif() {
    insta::assert_snapshot!(render(Format::Sarif));
}

fn ingest_totals(failed: u64) -> driftlog_report::ingest::IngestTotals {
    driftlog_report::ingest::IngestTotals {
        store: ".driftlog/events.db".into(),
        seconds: 1.23456,
        files_read: 12,
        files_unchanged: 3,
        files_not_logs: 2,
        files_failed: failed,
        files_refused: 0,
        files_unverified: 0,
        bytes_read: 4_500_000,
        events_read: 1000,
        inserted: 990,
        duplicates: 10,
        upgraded: 1,
        records_rejected: 0,
        records_ignored: 4,
        store_events: 5000,
    }
}

#[test]
fn ingest_summary_text() {
    insta::assert_snapshot!(driftlog_report::ingest::text(&ingest_totals(1)));
    let clean = driftlog_report::ingest::text(&ingest_totals(0));
    assert!(!clean.contains("left out"), "{clean}");
}

#[test]
fn ingest_summary_json() {
    let doc = driftlog_report::ingest::json(&ingest_totals(0));
    insta::assert_snapshot!(serde_json::to_string_pretty(&doc).unwrap());
}
