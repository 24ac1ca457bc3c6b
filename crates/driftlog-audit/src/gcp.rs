//! Google Cloud Audit Logs: `LogEntry` with a `protoPayload` of type
//! `type.googleapis.com/google.cloud.audit.AuditLog`.

use crate::fields::{optional, required, required_time, Str};
use crate::refs;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(borrow)]
    insert_id: Str<'a>,
    #[serde(borrow)]
    log_name: Str<'a>,
    #[serde(borrow)]
    timestamp: Str<'a>,
    #[serde(borrow)]
    proto_payload: Payload<'a>,
    #[serde(borrow)]
    resource: Option<MonitoredResource<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(rename = "@type", borrow)]
    kind: Str<'a>,
    #[serde(borrow)]
    service_name: Str<'a>,
    #[serde(borrow)]
    method_name: Str<'a>,
    #[serde(borrow)]
    resource_name: Str<'a>,
    #[serde(borrow)]
    authentication_info: Option<AuthenticationInfo<'a>>,
    #[serde(borrow)]
    request_metadata: Option<RequestMetadata<'a>>,
    #[serde(borrow)]
    status: Option<Status<'a>>,
    #[serde(borrow)]
    resource_location: Option<ResourceLocation<'a>>,
    #[serde(borrow)]
    request: Option<&'a RawValue>,
    #[serde(borrow)]
    response: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthenticationInfo<'a> {
    #[serde(borrow)]
    principal_email: Str<'a>,
    #[serde(borrow)]
    principal_subject: Str<'a>,
    #[serde(borrow)]
    service_account_delegation_info: Option<Vec<Delegation<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delegation<'a> {
    #[serde(borrow)]
    first_party_principal: Option<FirstParty<'a>>,
    /// Workload identity federation: the external identity that impersonated the account.
    #[serde(borrow)]
    principal_subject: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirstParty<'a> {
    #[serde(borrow)]
    principal_email: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestMetadata<'a> {
    #[serde(borrow)]
    caller_ip: Str<'a>,
    #[serde(borrow)]
    caller_supplied_user_agent: Str<'a>,
}

#[derive(Deserialize)]
struct Status<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLocation<'a> {
    #[serde(borrow)]
    current_locations: Option<Vec<Str<'a>>>,
}

#[derive(Deserialize)]
struct MonitoredResource<'a> {
    #[serde(borrow)]
    labels: Option<BTreeMap<&'a str, Str<'a>>>,
}

/// gRPC status code names (google.rpc.Code), as GCP logs report failures by number.
fn grpc_code_name(code: i64) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| code.to_string(), |n| (*n).to_owned())
}

/// `Ok(None)`: a log entry whose payload is not an AuditLog.
pub(crate) fn parse(raw: &RawValue) -> Result<Option<AuditEvent>, String> {
    let e: Entry = serde_json::from_str(raw.get()).map_err(crate::fields::describe_type_error)?;
    let p = &e.proto_payload;
    if !p
        .kind
        .as_deref()
        .is_some_and(|t| t.ends_with("google.cloud.audit.AuditLog"))
    {
        return Ok(None);
    }
    let event_id = required(&e.insert_id, "insertId")?.to_owned();
    let time_us = required_time(&e.timestamp, "timestamp")?;
    let action = required(&p.method_name, "methodName")?.to_owned();
    let log_name = e.log_name.as_deref().unwrap_or_default();

    let auth = p.authentication_info.as_ref();
    let email = auth.and_then(|a| optional(&a.principal_email, "principalEmail"));
    let subject = auth.and_then(|a| optional(&a.principal_subject, "principalSubject"));
    // Each link of a service-account delegation chain, first to last: a Google identity, or
    // the external subject of workload identity federation.
    let delegation: Vec<String> = auth
        .and_then(|a| a.service_account_delegation_info.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|d| {
            d.first_party_principal
                .as_ref()
                .and_then(|f| optional(&f.principal_email, "principalEmail"))
                .or_else(|| optional(&d.principal_subject, "principalSubject"))
        })
        .collect();
    let kubernetes = p.service_name.as_deref() == Some("k8s.io");
    let kind = if kubernetes && email.is_some() {
        email.as_deref().map(crate::kubernetes::principal_kind)
    } else {
        principal_kind(email.as_deref(), subject.as_deref())
    };
    let metadata = p.request_metadata.as_ref();
    let user_agent = metadata.and_then(|m| optional(&m.caller_supplied_user_agent, "userAgent"));
    let actor = if kubernetes {
        crate::kubernetes::classify(email.as_deref(), user_agent.as_deref())
    } else {
        classify(user_agent.as_deref(), &delegation, email.as_deref())
    };

    let outcome = match &p.status {
        Some(Status {
            code: Some(code),
            message,
        }) if *code != 0 => Outcome::Failure {
            code: grpc_code_name(*code),
            message: optional(message, "message"),
        },
        _ => Outcome::Success,
    };
    let read_only = if log_name.contains("data_access") {
        Some(!is_write_method(&action))
    } else if log_name.contains("activity") || log_name.contains("system_event") {
        Some(false)
    } else {
        Some(!is_write_method(&action))
    };

    let labels = e.resource.as_ref().and_then(|r| r.labels.as_ref());
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(|v| optional(v, k));
    let mut resources = Vec::new();
    let resource_name = optional(&p.resource_name, "resourceName");
    if kubernetes {
        // GKE: `core/v1/namespaces/default/pods/web`, `rbac.authorization.k8s.io/v1/clusterroles/x`.
        // Indexed as native audit events index the object, so one `--resource` finds it in
        // either log; request and response bodies are the object itself and name nothing else.
        if let Some(name) = &resource_name {
            kubernetes_refs(&mut resources, name);
        }
    } else {
        if let Some(name) = &resource_name {
            refs::push(&mut resources, name);
            if let Some(tail) = name.rsplit('/').next() {
                refs::push(&mut resources, tail);
            }
        }
        refs::collect(p.request, &mut resources);
        refs::collect(p.response, &mut resources);
    }
    for (key, value) in labels.into_iter().flatten() {
        if key.ends_with("_id") && *key != "project_id" {
            if let Some(v) = optional(value, key) {
                refs::push(&mut resources, &v);
            }
        }
    }

    let account = label("project_id").or_else(|| {
        log_name
            .strip_prefix("projects/")
            .and_then(|rest| rest.split('/').next())
            .map(str::to_owned)
    });
    let region = p
        .resource_location
        .as_ref()
        .and_then(|l| l.current_locations.as_ref())
        .and_then(|l| l.first())
        .and_then(|l| optional(l, "location"))
        .or_else(|| label("zone"))
        .or_else(|| label("region"))
        .or_else(|| label("location"));

    Ok(Some(AuditEvent {
        source: Source::Gcp,
        event_id,
        time_us,
        account,
        region,
        service: optional(&p.service_name, "serviceName").map(|s| s.to_ascii_lowercase()),
        action,
        read_only,
        outcome,
        principal: Principal {
            // Workload identity federation has no email: the external subject is the caller.
            id: email.or(subject),
            kind,
            on_behalf_of: (!delegation.is_empty()).then(|| delegation.join(" -> ")),
            ..Principal::default()
        },
        actor,
        source_ip: metadata.and_then(|m| optional(&m.caller_ip, "callerIp")),
        user_agent,
        resources,
        completeness: 0,
    }))
}

/// What kind of identity a GCP principal is: `serviceAccount` and `user` by email, `federated`
/// for a workload identity pool subject (`principal://iam.googleapis.com/…`), otherwise the
/// prefix of `principalSubject` (`user:`, `serviceAccount:`).
fn principal_kind(email: Option<&str>, subject: Option<&str>) -> Option<String> {
    if let Some(e) = email {
        return Some(
            if e.ends_with(".gserviceaccount.com") {
                "serviceAccount"
            } else if e == "system@google.com" {
                "system"
            } else {
                "user"
            }
            .to_owned(),
        );
    }
    let s = subject?;
    if s.starts_with("principal://") || s.starts_with("principalSet://") {
        return Some("federated".to_owned());
    }
    s.split_once(':').map(|(k, _)| k.to_owned())
}

/// A GKE `resourceName` (`GROUP/VERSION/[namespaces/NS/]RESOURCE/NAME[/SUBRESOURCE]`, the core
/// group spelled `core`) in the forms native Kubernetes audit events are indexed under.
fn kubernetes_refs(out: &mut Vec<String>, resource_name: &str) {
    let parts: Vec<&str> = resource_name.split('/').collect();
    // The group may hold no dots (`core`, `apps`) or several; the version never has a slash.
    let rest = match parts.as_slice() {
        [_group, _version, rest @ ..] if !rest.is_empty() => rest,
        _ => return,
    };
    match rest {
        ["namespaces", ns, resource, name, ..] => {
            crate::kubernetes::object_refs(out, resource, Some(ns), name)
        }
        [resource, name, ..] => crate::kubernetes::object_refs(out, resource, None, name),
        _ => {}
    }
}

/// `compute.instances.insert`, `google.iam.admin.v1.CreateServiceAccount`: the last segment's
/// verb says whether the method writes.
fn is_write_method(method: &str) -> bool {
    let last = method.rsplit('.').next().unwrap_or(method);
    let lower = last.to_ascii_lowercase();
    ![
        "get",
        "list",
        "search",
        "query",
        "read",
        "lookup",
        "test",
        "aggregated",
        "watch",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

fn classify(user_agent: Option<&str>, delegation: &[String], email: Option<&str>) -> Actor {
    // Google's own automation, whatever agent string it sends.
    if email == Some("system@google.com") {
        return Actor::new(ActorKind::Service, "principal:system@google.com");
    }
    let ua = user_agent.map(str::to_ascii_lowercase);
    if let Some(ua) = &ua {
        if ua.contains("terraform/") || ua.contains("terraform-provider-google") {
            return Actor::new(
                ActorKind::Terraform,
                "callerSuppliedUserAgent:Terraform (hint)",
            );
        }
        if ua.contains("google-cloud-sdk") || ua.contains("command/gcloud") {
            return Actor::new(ActorKind::Cli, "callerSuppliedUserAgent:gcloud (hint)");
        }
        if ua.contains("deployment-manager") {
            return Actor::new(
                ActorKind::Cloudformation,
                "callerSuppliedUserAgent:Deployment Manager (hint)",
            );
        }
        if ua.starts_with("mozilla/") {
            return Actor::new(ActorKind::Console, "callerSuppliedUserAgent:browser (hint)");
        }
    }
    let google_agent = |e: &str| {
        e.ends_with("gserviceaccount.com")
            && (e.contains("-system.") || e.contains("cloudservices") || e.starts_with("service-"))
    };
    if delegation.iter().any(|d| google_agent(d)) || email.is_some_and(google_agent) {
        return Actor::new(ActorKind::Service, "principal:Google service agent");
    }
    match ua {
        Some(_) => Actor::new(ActorKind::Sdk, "callerSuppliedUserAgent:API client (hint)"),
        None => Actor::new(ActorKind::Unknown, "no callerSuppliedUserAgent"),
    }
}
