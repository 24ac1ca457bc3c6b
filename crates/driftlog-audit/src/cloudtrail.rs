//! AWS CloudTrail records.
//!
//! Field meanings follow the CloudTrail record contents reference
//! (docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).

use crate::fields::{self, loose_bool, optional, required, required_time, Str};
use crate::refs;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    #[serde(rename = "eventID", borrow)]
    event_id: Str<'a>,
    #[serde(borrow)]
    event_time: Str<'a>,
    #[serde(borrow)]
    event_source: Str<'a>,
    #[serde(borrow)]
    event_name: Str<'a>,
    #[serde(borrow)]
    aws_region: Str<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip_address: Str<'a>,
    #[serde(borrow)]
    user_agent: Str<'a>,
    #[serde(borrow)]
    error_code: Str<'a>,
    #[serde(borrow)]
    error_message: Str<'a>,
    #[serde(default, deserialize_with = "loose_bool")]
    read_only: Option<bool>,
    #[serde(borrow)]
    recipient_account_id: Str<'a>,
    #[serde(default, deserialize_with = "loose_bool")]
    session_credential_from_console: Option<bool>,
    #[serde(borrow)]
    user_identity: Option<UserIdentity<'a>>,
    /// Walked for references as the record is parsed (`refs::Found`).
    #[serde(borrow)]
    request_parameters: Option<refs::Found<'a>>,
    #[serde(borrow)]
    response_elements: Option<refs::Found<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<ResourceRef<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow)]
    arn: Str<'a>,
    #[serde(borrow)]
    account_id: Str<'a>,
    #[serde(borrow)]
    user_name: Str<'a>,
    #[serde(borrow)]
    principal_id: Str<'a>,
    #[serde(borrow)]
    invoked_by: Str<'a>,
    #[serde(borrow)]
    source_identity: Str<'a>,
    #[serde(borrow)]
    session_context: Option<SessionContext<'a>>,
    #[serde(borrow)]
    on_behalf_of: Option<OnBehalfOf<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(borrow)]
    session_issuer: Option<Issuer<'a>>,
    attributes: Option<SessionAttributes>,
    #[serde(borrow)]
    source_identity: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issuer<'a> {
    #[serde(borrow)]
    arn: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAttributes {
    #[serde(default, deserialize_with = "loose_bool")]
    mfa_authenticated: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OnBehalfOf<'a> {
    #[serde(borrow)]
    user_id: Str<'a>,
}

#[derive(Deserialize)]
struct ResourceRef<'a> {
    #[serde(rename = "ARN", borrow)]
    arn: Str<'a>,
}

/// Enough of a record to tell whether an EventBridge `detail` holds one.
#[derive(Deserialize)]
pub(crate) struct Markers<'a> {
    #[serde(rename = "eventName", borrow)]
    event_name: Option<&'a RawValue>,
    #[serde(rename = "eventSource", borrow)]
    event_source: Option<&'a RawValue>,
}

impl Markers<'_> {
    pub(crate) fn looks_like_record(&self) -> bool {
        self.event_name.is_some() && self.event_source.is_some()
    }
}

/// Parse one CloudTrail record. The error is the reason the record is left out.
pub(crate) fn parse(raw: &RawValue) -> Result<AuditEvent, String> {
    let r: Record = serde_json::from_str(raw.get()).map_err(crate::fields::describe_type_error)?;
    event(r)
}

/// Parse the record that `text` starts with, for a caller that splits an array of records
/// itself: what the record gave (the event, or the reason it is left out), and the length of
/// its text. `None` if the record's JSON does not parse as a record; the caller then knows
/// neither where it ends nor what follows.
pub(crate) fn parse_first(text: &str) -> Option<(Result<AuditEvent, String>, usize)> {
    let mut records = serde_json::Deserializer::from_str(text).into_iter::<Record>();
    let record = records.next()?.ok()?;
    Some((event(record), records.byte_offset()))
}

fn event(r: Record<'_>) -> Result<AuditEvent, String> {
    let event_id = required(&r.event_id, "eventID")?.to_owned();
    let time_us = required_time(&r.event_time, "eventTime")?;
    let action = required(&r.event_name, "eventName")?.to_owned();
    let service = required(&r.event_source, "eventSource")?.to_owned();

    let identity = r.user_identity.as_ref();
    let principal = principal(identity);
    let user_agent = optional(&r.user_agent, "userAgent").map(|ua| {
        // S3 data events wrap the agent in brackets: `[aws-cli/2.13.0 ...]`.
        ua.trim_start_matches('[').trim_end_matches(']').to_owned()
    });
    let actor = classify(
        r.session_credential_from_console,
        identity.and_then(|i| optional(&i.kind, "type")).as_deref(),
        principal.invoked_by.as_deref(),
        &service,
        user_agent.as_deref(),
    );
    let outcome = outcome(&r);
    // Sign-in events change who holds credentials: writes, unless the record says otherwise.
    let read_only = r
        .read_only
        .or_else(|| (service == SIGNIN).then_some(false))
        .or_else(|| fields::read_only_from_verb(&action));

    let mut resources = Vec::new();
    for res in r.resources.iter().flatten() {
        if let Some(arn) = optional(&res.arn, "ARN") {
            refs::push(&mut resources, &arn);
        }
    }
    for body in [&r.request_parameters, &r.response_elements]
        .into_iter()
        .flatten()
    {
        body.add_to(&mut resources);
    }

    let account = optional(&r.recipient_account_id, "recipientAccountId")
        .or_else(|| identity.and_then(|i| optional(&i.account_id, "accountId")));
    Ok(AuditEvent {
        source: Source::Aws,
        event_id,
        time_us,
        account,
        region: optional(&r.aws_region, "awsRegion"),
        service: Some(service),
        read_only,
        action,
        outcome,
        principal,
        actor,
        source_ip: optional(&r.source_ip_address, "sourceIPAddress"),
        user_agent,
        resources,
        completeness: 0,
    })
}

/// The service of console sign-ins, role switches and MFA checks.
const SIGNIN: &str = "signin.amazonaws.com";

/// A record is a failure when it has an `errorCode`; or, as sign-in events record it, when
/// `responseElements` says `"Failure"` (`{"ConsoleLogin": "Failure"}`, `SwitchRole`,
/// `CheckMfa`…: the code is then `ConsoleLogin=Failure`); or when it has an `errorMessage`
/// alone (code `Failure`).
fn outcome(r: &Record<'_>) -> Outcome {
    let message = optional(&r.error_message, "errorMessage");
    if let Some(code) = optional(&r.error_code, "errorCode") {
        return Outcome::Failure { code, message };
    }
    if let Some(step) = r.response_elements.as_ref().and_then(refs::Found::failure) {
        return Outcome::Failure {
            code: format!("{step}=Failure"),
            message,
        };
    }
    match message {
        Some(message) => Outcome::Failure {
            code: "Failure".to_owned(),
            message: Some(message),
        },
        None => Outcome::Success,
    }
}

/// `lookup-events` lists the resources it matched beside the record.
pub(crate) fn add_lookup_resources(event: &mut AuditEvent, resources: Option<&RawValue>) {
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(rename = "ResourceName", borrow)]
        name: Str<'a>,
    }
    let Some(resources) = resources else { return };
    if let Ok(list) = serde_json::from_str::<Vec<Named>>(resources.get()) {
        for name in list.iter().filter_map(|n| n.name.as_deref()) {
            refs::push(&mut event.resources, name);
        }
    }
}

fn principal(identity: Option<&UserIdentity>) -> Principal {
    let Some(id) = identity else {
        return Principal::default();
    };
    let kind = optional(&id.kind, "type");
    let arn = optional(&id.arn, "arn");
    let invoked_by = optional(&id.invoked_by, "invokedBy");
    let session = id.session_context.as_ref();
    let issuer = session
        .and_then(|s| s.session_issuer.as_ref())
        .and_then(|i| optional(&i.arn, "arn"));
    // `arn:aws:sts::1:assumed-role/Role/session-name`
    let session_name = arn
        .as_deref()
        .filter(|a| a.contains(":assumed-role/"))
        .and_then(|a| a.rsplit('/').next())
        .map(str::to_owned);
    let id_text = arn
        .or_else(|| match kind.as_deref() {
            Some("AWSService") => invoked_by.clone(),
            _ => None,
        })
        .or_else(|| optional(&id.user_name, "userName"))
        .or_else(|| optional(&id.principal_id, "principalId"))
        .or_else(|| optional(&id.account_id, "accountId"));
    // IAM Identity Center (SSO) sessions are roles named `AWSReservedSSO_<permission set>_…`;
    // the session name is the person who signed in.
    let sso_user = issuer
        .as_deref()
        .filter(|i| i.contains("/AWSReservedSSO_"))
        .and(session_name.clone());
    Principal {
        id: id_text,
        kind,
        issuer,
        session_name,
        source_identity: session
            .and_then(|s| optional(&s.source_identity, "sourceIdentity"))
            .or_else(|| optional(&id.source_identity, "sourceIdentity")),
        on_behalf_of: id
            .on_behalf_of
            .as_ref()
            .and_then(|o| optional(&o.user_id, "userId"))
            .or(sso_user),
        invoked_by,
        mfa: session
            .and_then(|s| s.attributes.as_ref())
            .and_then(|a| a.mfa_authenticated),
    }
}

/// Decide how the call was made, strongest evidence first. CloudTrail's own flags
/// (`sessionCredentialFromConsole`, `invokedBy`, `userIdentity.type`) are facts; the user agent
/// is whatever the client chose to send, so rules based on it say `(hint)`.
fn classify(
    from_console: Option<bool>,
    identity_type: Option<&str>,
    invoked_by: Option<&str>,
    event_source: &str,
    user_agent: Option<&str>,
) -> Actor {
    if invoked_by == Some("cloudformation.amazonaws.com") {
        return Actor::new(
            ActorKind::Cloudformation,
            "invokedBy:cloudformation.amazonaws.com",
        );
    }
    if from_console == Some(true) {
        return Actor::new(ActorKind::Console, "sessionCredentialFromConsole");
    }
    if invoked_by == Some("signin.amazonaws.com") {
        // Older console sessions are marked this way instead.
        return Actor::new(ActorKind::Console, "invokedBy:signin.amazonaws.com");
    }
    if identity_type == Some("AWSService") {
        return Actor::new(ActorKind::Service, "userIdentity.type:AWSService");
    }
    if let Some(service) = invoked_by {
        return Actor::new(ActorKind::Service, format!("invokedBy:{service}"));
    }
    if event_source == "signin.amazonaws.com" {
        return Actor::new(ActorKind::Console, "eventSource:signin.amazonaws.com");
    }
    let Some(ua) = user_agent else {
        return Actor::new(ActorKind::Unknown, "no userAgent");
    };
    let lower = ua.to_ascii_lowercase();
    if lower.contains("terraform/")
        || lower.contains("terraform-provider-aws")
        || lower.contains("hashicorp terraform")
        || lower.contains("opentofu")
    {
        return Actor::new(ActorKind::Terraform, "userAgent:Terraform (hint)");
    }
    if lower.starts_with("cloudformation.amazonaws.com") {
        return Actor::new(
            ActorKind::Cloudformation,
            "userAgent:cloudformation.amazonaws.com (hint)",
        );
    }
    if lower.starts_with("aws-cli/") || lower.contains(" aws-cli/") {
        return Actor::new(ActorKind::Cli, "userAgent:aws-cli (hint)");
    }
    if lower.starts_with("console.") && lower.contains(".amazonaws.com")
        || lower == "signin.amazonaws.com"
        || lower.contains("aws-console")
    {
        return Actor::new(ActorKind::Console, "userAgent:console (hint)");
    }
    if lower.contains("console") && !lower.contains("aws-cli") {
        // `AWSLambdaConsole/1.1` and the like, appended by a service console's backend.
        return Actor::new(ActorKind::Console, "userAgent:console (hint)");
    }
    if lower.starts_with("aws-internal/") {
        // AWS's own backend calling for a person, typically from a service console.
        return Actor::new(ActorKind::Console, "userAgent:aws-internal (hint)");
    }
    if lower.contains("aws-sdk-")
        || lower.contains("boto3/")
        || lower.contains("botocore/")
        || lower.contains("aws-internal/")
        || lower.contains("aws-cdk")
    {
        return Actor::new(ActorKind::Sdk, "userAgent:AWS SDK (hint)");
    }
    if lower.starts_with("mozilla/") {
        return Actor::new(ActorKind::Console, "userAgent:browser (hint)");
    }
    if lower.ends_with(".amazonaws.com") {
        return Actor::new(ActorKind::Service, "userAgent:AWS service (hint)");
    }
    Actor::new(ActorKind::Unknown, "userAgent not recognised")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_center_sessions_name_the_person() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"eventVersion":"1.08","eventID":"e","eventTime":"2024-11-04T10:00:00Z",
            "eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","recipientAccountId":"222233334444",
            "userIdentity":{"type":"AssumedRole","accountId":"111122223333",
              "arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/jane@example.com",
              "sessionContext":{"sessionIssuer":{"type":"Role",
                "arn":"arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_0123456789abcdef"}}}}"#,
        )
        .unwrap();
        let e = parse(&raw).unwrap();
        assert_eq!(
            e.principal.session_name.as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            e.principal.on_behalf_of.as_deref(),
            Some("jane@example.com")
        );
        // Cross-account: the account is the one whose resource was called.
        assert_eq!(e.account.as_deref(), Some("222233334444"));
    }

    #[test]
    fn classification_order() {
        let c = |console, ty, by, src, ua| classify(console, ty, by, src, ua).kind;
        assert_eq!(
            c(
                None,
                Some("AssumedRole"),
                Some("cloudformation.amazonaws.com"),
                "lambda.amazonaws.com",
                Some("cloudformation.amazonaws.com")
            ),
            ActorKind::Cloudformation
        );
        assert_eq!(
            c(
                Some(true),
                None,
                None,
                "ec2.amazonaws.com",
                Some("AWS Internal")
            ),
            ActorKind::Console
        );
        assert_eq!(
            c(
                None,
                None,
                None,
                "ec2.amazonaws.com",
                Some("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 aws-sdk-go-v2/1.32.6")
            ),
            ActorKind::Terraform
        );
        assert_eq!(
            c(
                None,
                None,
                None,
                "s3.amazonaws.com",
                Some("aws-cli/2.15.0 Python/3.11")
            ),
            ActorKind::Cli
        );
        assert_eq!(
            c(
                None,
                None,
                None,
                "s3.amazonaws.com",
                Some("Boto3/1.34.0 md/Botocore#1.34.0")
            ),
            ActorKind::Sdk
        );
        assert_eq!(
            c(None, None, None, "s3.amazonaws.com", None),
            ActorKind::Unknown
        );
    }
}
