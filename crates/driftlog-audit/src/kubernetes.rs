//! Kubernetes API server audit events (`audit.k8s.io/v1`, `v1beta1`, and the trimmed lines some
//! tools write without `apiVersion`).

use crate::fields::{optional, required, Str};
use crate::refs;
use crate::sink::ParsedEvent;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(rename = "auditID", borrow)]
    audit_id: Str<'a>,
    #[serde(borrow)]
    stage: Str<'a>,
    #[serde(borrow)]
    verb: Str<'a>,
    #[serde(borrow)]
    request_received_timestamp: Str<'a>,
    #[serde(borrow)]
    timestamp: Str<'a>,
    #[serde(borrow)]
    stage_timestamp: Str<'a>,
    #[serde(borrow)]
    user: Option<UserInfo<'a>>,
    #[serde(borrow)]
    impersonated_user: Option<UserInfo<'a>>,
    #[serde(rename = "sourceIPs", borrow)]
    source_ips: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    user_agent: Str<'a>,
    #[serde(rename = "requestURI", borrow)]
    request_uri: Str<'a>,
    #[serde(borrow)]
    object_ref: Option<ObjectRef<'a>>,
    #[serde(borrow)]
    response_status: Option<Status<'a>>,
    #[serde(borrow)]
    involved_object: Option<&'a RawValue>,
    #[serde(borrow)]
    request_object: Option<&'a RawValue>,
    #[serde(borrow)]
    response_object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct UserInfo<'a> {
    #[serde(borrow)]
    username: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef<'a> {
    #[serde(borrow)]
    resource: Str<'a>,
    #[serde(borrow)]
    namespace: Str<'a>,
    #[serde(borrow)]
    name: Str<'a>,
    #[serde(borrow)]
    uid: Str<'a>,
    #[serde(borrow)]
    api_group: Str<'a>,
    #[serde(borrow)]
    subresource: Str<'a>,
}

#[derive(Deserialize)]
struct Status<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    reason: Str<'a>,
    #[serde(borrow)]
    message: Str<'a>,
}

/// Stage preference when one request was logged several times.
fn completeness(stage: Option<&str>) -> u8 {
    match stage {
        Some("ResponseComplete") => driftlog_core::event::LAST_STAGE,
        Some("Panic") => 2,
        Some("ResponseStarted") => 1,
        _ => 0,
    }
}

/// `Ok(None)`: a core/v1 `Event` (what `kubectl get events` shows), not an audit event.
pub(crate) fn parse(raw: &RawValue) -> Result<Option<ParsedEvent<'_>>, String> {
    let e: Event = serde_json::from_str(raw.get()).map_err(crate::fields::describe_type_error)?;
    if e.audit_id.is_none() && e.involved_object.is_some() {
        return Ok(None);
    }
    let event_id = required(&e.audit_id, "auditID")?.to_owned();
    let verb = required(&e.verb, "verb")?.to_owned();
    let time_text = e
        .request_received_timestamp
        .as_ref()
        .or(e.timestamp.as_ref())
        .or(e.stage_timestamp.as_ref())
        .ok_or("missing required field `requestReceivedTimestamp` (or `timestamp`)")?;
    let time_us = driftlog_core::time::parse_time_us(time_text).ok_or_else(|| {
        format!("`requestReceivedTimestamp` is not an RFC 3339 time: {time_text:?}")
    })?;

    let object = e.object_ref.as_ref();
    let resource = object.and_then(|o| optional(&o.resource, "resource"));
    let subresource = object.and_then(|o| optional(&o.subresource, "subresource"));
    let action = match (&resource, &subresource) {
        (Some(r), Some(s)) => format!("{verb} {r}/{s}"),
        (Some(r), None) => format!("{verb} {r}"),
        // Non-resource requests (`/healthz`, `/apis`) are named by their path.
        _ => match optional(&e.request_uri, "requestURI") {
            Some(uri) => format!("{verb} {}", uri.split('?').next().unwrap_or(&uri)),
            None => verb.clone(),
        },
    };
    let read_only = match verb.as_str() {
        "get" | "list" | "watch" => Some(true),
        "create" | "update" | "patch" | "delete" | "deletecollection" => Some(false),
        _ => None,
    };
    let stage = e.stage.as_deref();
    let outcome = match &e.response_status {
        Some(s) if s.code.is_some_and(|c| c >= 400) => Outcome::Failure {
            code: optional(&s.reason, "reason")
                .unwrap_or_else(|| s.code.unwrap_or_default().to_string()),
            message: optional(&s.message, "message"),
        },
        Some(s) if s.code.is_some() => Outcome::Success,
        _ if stage == Some("ResponseComplete") => Outcome::Success,
        _ => Outcome::Unknown,
    };
    let username = e
        .user
        .as_ref()
        .and_then(|u| optional(&u.username, "username"));
    let user_agent = optional(&e.user_agent, "userAgent");
    let actor = classify(username.as_deref(), user_agent.as_deref());
    let principal = Principal {
        kind: username.as_deref().map(principal_kind),
        id: username,
        on_behalf_of: e
            .impersonated_user
            .as_ref()
            .and_then(|u| optional(&u.username, "username")),
        ..Principal::default()
    };

    let mut resources = Vec::new();
    if let Some(o) = object {
        let namespace = optional(&o.namespace, "namespace");
        let name = optional(&o.name, "name");
        if let (Some(r), Some(n)) = (&resource, &name) {
            object_refs(&mut resources, r, namespace.as_deref(), n);
        }
        if let Some(uid) = optional(&o.uid, "uid") {
            refs::push(&mut resources, &uid);
        }
    }

    let raw_bytes = if resource.as_deref() == Some("secrets")
        && (e.request_object.is_some() || e.response_object.is_some())
    {
        std::borrow::Cow::Owned(redact_secret_data(raw.get()))
    } else {
        std::borrow::Cow::Borrowed(raw.get().as_bytes())
    };

    Ok(Some(ParsedEvent {
        event: AuditEvent {
            source: Source::Kubernetes,
            event_id,
            time_us,
            account: None,
            region: None,
            service: Some(
                object
                    .and_then(|o| optional(&o.api_group, "apiGroup"))
                    .unwrap_or_else(|| "core".to_owned()),
            ),
            action,
            read_only,
            outcome,
            principal,
            actor,
            source_ip: e
                .source_ips
                .as_ref()
                .and_then(|ips| ips.first())
                .and_then(|ip| optional(ip, "sourceIPs")),
            user_agent,
            resources,
            completeness: completeness(stage),
        },
        raw: raw_bytes,
    }))
}

/// The forms a Kubernetes object is indexed under, whichever log names it (native audit, GKE,
/// EKS, AKS): `namespaces/default/pods/web` (the API path) and `default/web` (the id the
/// Terraform kubernetes provider gives namespaced objects); `RESOURCE/NAME` and `NAME` for
/// cluster-scoped objects.
pub(crate) fn object_refs(
    out: &mut Vec<String>,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
) {
    match namespace {
        Some(ns) => {
            refs::push(out, &format!("namespaces/{ns}/{resource}/{name}"));
            refs::push(out, &format!("{ns}/{name}"));
        }
        None => {
            refs::push(out, &format!("{resource}/{name}"));
            refs::push(out, name);
        }
    }
}

/// The kind of a Kubernetes user name.
pub(crate) fn principal_kind(user: &str) -> String {
    if user.starts_with("system:serviceaccount:") {
        "serviceAccount"
    } else if user.starts_with("system:node:") {
        "node"
    } else if user.starts_with("system:") {
        "system"
    } else {
        "user"
    }
    .to_owned()
}

/// Secret values logged at `RequestResponse` level must not become evidence that anyone with
/// the store can read: keep the keys, drop the values.
fn redact_secret_data(text: &str) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.as_bytes().to_vec();
    };
    fn scrub(object: &mut serde_json::Value) {
        for field in ["data", "stringData"] {
            if let Some(map) = object.get_mut(field).and_then(|d| d.as_object_mut()) {
                for v in map.values_mut() {
                    *v = serde_json::Value::String("(redacted by driftlog)".into());
                }
            }
        }
        if let Some(items) = object.get_mut("items").and_then(|i| i.as_array_mut()) {
            items.iter_mut().for_each(scrub);
        }
    }
    for key in ["requestObject", "responseObject"] {
        if let Some(obj) = value.get_mut(key) {
            scrub(obj);
        }
    }
    serde_json::to_vec(&value).unwrap_or_else(|_| text.as_bytes().to_vec())
}

/// How a Kubernetes call was made. `system:` identities other than service accounts are the
/// cluster's own components (`system:kube-controller-manager`, `system:node:…`, GKE's
/// `system:gke-…`) and are `service` wherever they are logged; `system:anonymous` is an
/// unauthenticated caller, not a component. Service accounts outside `kube-system` are
/// workloads, which may be Terraform or kubectl running in a pod, so the user agent is
/// consulted first for them.
pub(crate) fn classify(username: Option<&str>, user_agent: Option<&str>) -> Actor {
    if let Some(user) = username {
        if user == "system:anonymous" {
            return Actor::new(
                ActorKind::Unknown,
                "user:system:anonymous (unauthenticated)",
            );
        }
        if user.starts_with("system:serviceaccount:kube-system:")
            || (user.starts_with("system:") && !user.starts_with("system:serviceaccount:"))
        {
            return Actor::new(ActorKind::Service, "user:system component");
        }
    }
    let ua = user_agent.map(str::to_ascii_lowercase);
    match ua.as_deref() {
        Some(ua) if ua.contains("terraform/") || ua.contains("hashicorp") => {
            Actor::new(ActorKind::Terraform, "userAgent:Terraform (hint)")
        }
        Some(ua) if ua.starts_with("kubectl/") || ua.starts_with("kubectl1") => {
            Actor::new(ActorKind::Kubectl, "userAgent:kubectl (hint)")
        }
        _ if username.is_some_and(|u| u.starts_with("system:serviceaccount:")) => {
            Actor::new(ActorKind::Service, "user:service account")
        }
        Some(ua) if ua.starts_with("mozilla/") => {
            Actor::new(ActorKind::Console, "userAgent:browser (hint)")
        }
        Some(_) => Actor::new(ActorKind::Sdk, "userAgent:API client (hint)"),
        None => Actor::new(ActorKind::Unknown, "no userAgent"),
    }
}
