use super::*;
use crate::event::{Actor, Principal, Source};
use crate::finding::Change;
use serde_json::json;

fn finding(kind: FindingKind, paths: &[&str]) -> Finding {
    Finding {
        address: "aws_security_group.web".into(),
        resource_type: "aws_security_group".into(),
        provider: "registry.terraform.io/hashicorp/aws".into(),
        kind,
        deposed: None,
        previous_address: None,
        changes: paths
            .iter()
            .map(|p| Change::new((*p).into(), json!(null), json!(1)))
            .collect(),
        identifiers: vec!["sg-1".into()],
        attribution: None,
        remediation: None,
        discovery: None,
        stack: None,
    }
}

fn event(id: &str, minute: i64, action: &str, kind: ActorKind, outcome: Outcome) -> AuditEvent {
    AuditEvent {
        source: Source::Aws,
        event_id: id.into(),
        time_us: 1_730_000_000_000_000 + minute * 60_000_000,
        account: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        service: Some("ec2.amazonaws.com".into()),
        action: action.into(),
        read_only: Some(action.starts_with("Describe")),
        outcome,
        principal: Principal {
            id: Some(format!("arn:aws:iam::111122223333:user/{id}")),
            ..Principal::default()
        },
        actor: Actor::new(kind, "test"),
        source_ip: None,
        user_agent: None,
        resources: vec!["sg-1".into()],
        completeness: 0,
    }
}

fn denied() -> Outcome {
    Outcome::Failure {
        code: "AccessDenied".into(),
        message: None,
    }
}

const UNTIL: i64 = 1_730_000_000_000_000 + 1000 * 60_000_000;

#[test]
fn the_explaining_write_after_the_last_apply_is_the_cause() {
    let events = [
        event(
            "tf",
            0,
            "AuthorizeSecurityGroupIngress",
            ActorKind::Terraform,
            Outcome::Success,
        ),
        event(
            "before",
            -5,
            "AuthorizeSecurityGroupIngress",
            ActorKind::Console,
            Outcome::Success,
        ),
        event(
            "read",
            10,
            "DescribeSecurityGroups",
            ActorKind::Console,
            Outcome::Success,
        ),
        event(
            "denied",
            20,
            "AuthorizeSecurityGroupIngress",
            ActorKind::Cli,
            denied(),
        ),
        event(
            "cause",
            30,
            "AuthorizeSecurityGroupIngress",
            ActorKind::Console,
            Outcome::Success,
        ),
        event("tags", 40, "CreateTags", ActorKind::Sdk, Outcome::Success),
    ];
    let a = attribute(
        &finding(FindingKind::Changed, &["ingress"]),
        &["sg-1".into()],
        &events,
        UNTIL,
        None,
    );
    assert_eq!(a.confidence, Confidence::Certain);
    assert_eq!(a.caused_by.len(), 1);
    assert_eq!(a.caused_by[0].event_id, "cause");
    assert_eq!(a.caused_by[0].explains, ["ingress"]);
    assert_eq!(
        a.attempts
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["denied"]
    );
    assert_eq!(
        a.candidates
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["tags"]
    );
    assert!(
        a.window.since_reason.contains("tf"),
        "{}",
        a.window.since_reason
    );
}

#[test]
fn several_events_together_explain_several_attributes() {
    let events = [
        event(
            "rule",
            30,
            "AuthorizeSecurityGroupIngress",
            ActorKind::Console,
            Outcome::Success,
        ),
        event("tag", 40, "CreateTags", ActorKind::Cli, Outcome::Success),
    ];
    let a = attribute(
        &finding(
            FindingKind::Changed,
            &["ingress", "tags.Owner", "tags_all.Owner"],
        ),
        &["sg-1".into()],
        &events,
        UNTIL,
        None,
    );
    assert_eq!(a.confidence, Confidence::Certain);
    let ids: Vec<&str> = a.caused_by.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["rule", "tag"]);
    assert_eq!(a.caused_by[1].explains, ["tags", "tags_all"]);
}

#[test]
fn deletes_failed_attempts_and_nothing() {
    let events = [
        event(
            "denied",
            10,
            "DeleteSecurityGroup",
            ActorKind::Cli,
            denied(),
        ),
        event(
            "gone",
            20,
            "DeleteSecurityGroup",
            ActorKind::Console,
            Outcome::Success,
        ),
    ];
    let deleted = attribute(
        &finding(FindingKind::Deleted, &[]),
        &[],
        &events,
        UNTIL,
        None,
    );
    assert_eq!(deleted.confidence, Confidence::Certain);
    assert_eq!(deleted.caused_by[0].event_id, "gone");

    let only_denied = attribute(
        &finding(FindingKind::Deleted, &[]),
        &[],
        &events[..1],
        UNTIL,
        None,
    );
    assert_eq!(only_denied.confidence, Confidence::None);
    assert!(only_denied.caused_by.is_empty());
    assert_eq!(only_denied.attempts.len(), 1);

    let unexplained = [event(
        "stop",
        5,
        "StopInstances",
        ActorKind::Console,
        Outcome::Success,
    )];
    let guess = attribute(
        &finding(FindingKind::Changed, &["ingress"]),
        &[],
        &unexplained,
        UNTIL,
        None,
    );
    assert_eq!(guess.confidence, Confidence::Likely);
    assert_eq!(guess.caused_by[0].event_id, "stop");
}

#[test]
fn events_after_the_scan_are_not_causes() {
    let late = [event(
        "late",
        2000,
        "AuthorizeSecurityGroupIngress",
        ActorKind::Console,
        Outcome::Success,
    )];
    let a = attribute(
        &finding(FindingKind::Changed, &["ingress"]),
        &[],
        &late,
        UNTIL,
        None,
    );
    assert_eq!(a.confidence, Confidence::None);
}
