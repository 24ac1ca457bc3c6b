//! The Azure Activity Log, in its three shapes: the REST API / portal export (camelCase,
//! `eventDataId`), the Azure SDK / `az monitor activity-log list` output (snake_case,
//! `event_data_id`), and the diagnostic-settings export to storage (`{"records":[...]}` or JSON
//! lines with `time`, `resourceId`, `operationName` as a plain string, `identity`).

use crate::fields::{optional, required_time, Str};
use crate::refs;
use driftlog_core::{Actor, ActorKind, AuditEvent, Outcome, Principal, Source};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Every field in each of its spellings; `alias` covers snake_case and the storage schema.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(alias = "event_data_id", borrow)]
    event_data_id: Str<'a>,
    #[serde(borrow)]
    correlation_id: Str<'a>,
    #[serde(alias = "correlation_id", borrow)]
    correlation_id_snake: Str<'a>,
    #[serde(alias = "event_timestamp", borrow)]
    event_timestamp: Str<'a>,
    #[serde(borrow)]
    time: Str<'a>,
    #[serde(alias = "operation_name", borrow)]
    operation_name: Option<Localized<'a>>,
    #[serde(alias = "resource_id", borrow)]
    resource_id: Str<'a>,
    #[serde(alias = "subscription_id", borrow)]
    subscription_id: Str<'a>,
    #[serde(alias = "resource_provider_name", borrow)]
    resource_provider_name: Option<Localized<'a>>,
    #[serde(borrow)]
    caller: Str<'a>,
    #[serde(borrow)]
    claims: Option<Claims<'a>>,
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
    #[serde(alias = "http_request", borrow)]
    http_request: Option<HttpRequest<'a>>,
    #[serde(rename = "callerIpAddress", borrow)]
    caller_ip_address: Str<'a>,
    #[serde(borrow)]
    status: Option<Localized<'a>>,
    #[serde(alias = "sub_status", borrow)]
    sub_status: Option<Localized<'a>>,
    #[serde(borrow)]
    result_type: Str<'a>,
    #[serde(borrow)]
    result_signature: Str<'a>,
    #[serde(borrow)]
    authorization: Option<Authorization<'a>>,
    #[serde(borrow)]
    location: Str<'a>,
}

/// `{"value": "...", "localizedValue": "..."}` in the API shapes, a plain string in storage.
#[derive(Deserialize)]
#[serde(untagged)]
enum Localized<'a> {
    #[serde(borrow)]
    Plain(Cow<'a, str>),
    Object {
        #[serde(borrow)]
        value: Str<'a>,
    },
}

impl Localized<'_> {
    fn text(&self) -> Option<&str> {
        match self {
            Localized::Plain(s) => Some(s.as_ref()),
            Localized::Object { value } => value.as_deref(),
        }
        .filter(|s| !s.trim().is_empty())
    }
}

#[derive(Deserialize)]
struct Claims<'a> {
    #[serde(borrow)]
    appid: Str<'a>,
    #[serde(borrow)]
    idtyp: Str<'a>,
    #[serde(
        rename = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        borrow
    )]
    upn: Str<'a>,
    #[serde(
        rename = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        borrow
    )]
    name: Str<'a>,
    /// The caller's Entra object id (user, service principal or managed identity).
    #[serde(
        rename = "http://schemas.microsoft.com/identity/claims/objectidentifier",
        alias = "oid",
        borrow
    )]
    object_id: Str<'a>,
    /// Present only in managed identities' tokens: the identity's resource id.
    #[serde(borrow)]
    xms_mirid: Str<'a>,
}

#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(borrow)]
    claims: Option<Claims<'a>>,
    #[serde(borrow)]
    authorization: Option<Authorization<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpRequest<'a> {
    #[serde(alias = "client_ip_address", borrow)]
    client_ip_address: Str<'a>,
}

#[derive(Deserialize)]
struct Authorization<'a> {
    #[serde(borrow)]
    scope: Str<'a>,
    #[serde(borrow)]
    evidence: Option<Evidence<'a>>,
}

/// Which role assignment allowed the call, and to whom it is assigned.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Evidence<'a> {
    #[serde(borrow)]
    principal_id: Str<'a>,
    #[serde(borrow)]
    principal_type: Str<'a>,
}

/// First-party application ids (learn.microsoft.com "Application IDs of commonly used
/// Microsoft applications"): the token's `appid` says which tool made the call.
const KNOWN_APPS: [(&str, ActorKind, &str); 4] = [
    (
        "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        ActorKind::Console,
        "claims.appid:Azure Portal",
    ),
    (
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        ActorKind::Cli,
        "claims.appid:Azure CLI",
    ),
    (
        "1950a258-227b-4e31-a9cf-717495945fc2",
        ActorKind::Cli,
        "claims.appid:Azure PowerShell",
    ),
    (
        "872cd9fa-d31f-45e0-9eab-6e460a02d1f1",
        ActorKind::Console,
        "claims.appid:Visual Studio",
    ),
];

pub(crate) fn parse(raw: &RawValue) -> Result<AuditEvent, String> {
    let e: Entry = serde_json::from_str(raw.get()).map_err(crate::fields::describe_type_error)?;
    let action = e
        .operation_name
        .as_ref()
        .and_then(Localized::text)
        .ok_or("missing required field `operationName`")?
        .to_owned();
    let time_field = if e.event_timestamp.is_some() {
        ("eventTimestamp", &e.event_timestamp)
    } else {
        ("time", &e.time)
    };
    let time_us = required_time(time_field.1, time_field.0)?;
    let resource_id = optional(&e.resource_id, "resourceId");
    // The storage export has no event id; the same record always hashes to the same id, so
    // re-ingesting it still deduplicates.
    let event_id = match optional(&e.event_data_id, "eventDataId") {
        Some(id) => id,
        None => {
            let correlation = optional(&e.correlation_id, "correlationId")
                .or_else(|| optional(&e.correlation_id_snake, "correlationId"))
                .ok_or("missing required field `eventDataId` (or `correlationId`)")?;
            format!(
                "{correlation}/{}/{time_us}/{}",
                e.result_type.as_deref().unwrap_or(""),
                fnv1a(raw.get().as_bytes())
            )
        }
    };

    let claims = e
        .claims
        .as_ref()
        .or_else(|| e.identity.as_ref().and_then(|i| i.claims.as_ref()));
    let caller = optional(&e.caller, "caller").or_else(|| {
        claims.and_then(|c| optional(&c.upn, "upn").or_else(|| optional(&c.name, "name")))
    });
    let actor = classify(claims);

    let status = e
        .status
        .as_ref()
        .and_then(Localized::text)
        .or(e.result_type.as_deref())
        .unwrap_or("");
    let outcome = match status.to_ascii_lowercase().as_str() {
        "succeeded" | "success" | "resolved" | "active" => Outcome::Success,
        "failed" | "failure" => Outcome::Failure {
            code: e
                .sub_status
                .as_ref()
                .and_then(Localized::text)
                .map(str::to_owned)
                .or_else(|| optional(&e.result_signature, "resultSignature"))
                .unwrap_or_else(|| "Failed".to_owned()),
            message: None,
        },
        _ => Outcome::Unknown,
    };
    let lower = action.to_ascii_lowercase();
    let read_only = if lower.ends_with("/read") {
        Some(true)
    } else if lower.ends_with("/write") || lower.ends_with("/delete") || lower.ends_with("/action")
    {
        Some(false)
    } else {
        None
    };

    let mut resources = Vec::new();
    // ARM resource ids are case-insensitive; the store keeps them lower-cased so any
    // spelling finds them.
    if let Some(id) = &resource_id {
        refs::push(&mut resources, &id.to_ascii_lowercase());
    }
    let authorization = e
        .authorization
        .as_ref()
        .or_else(|| e.identity.as_ref().and_then(|i| i.authorization.as_ref()));
    let scope = authorization.and_then(|a| optional(&a.scope, "scope"));
    let evidence = e
        .identity
        .as_ref()
        .and_then(|i| i.authorization.as_ref())
        .and_then(|a| a.evidence.as_ref())
        .or_else(|| authorization.and_then(|a| a.evidence.as_ref()));
    if let Some(scope) = scope {
        refs::push(&mut resources, &scope.to_ascii_lowercase());
    }
    let subscription = optional(&e.subscription_id, "subscriptionId").or_else(|| {
        resource_id.as_deref().and_then(|id| {
            id.to_ascii_lowercase()
                .strip_prefix("/subscriptions/")
                .and_then(|r| r.split('/').next())
                .map(str::to_owned)
        })
    });
    let service = e
        .resource_provider_name
        .as_ref()
        .and_then(Localized::text)
        .map(str::to_owned)
        .or_else(|| action.split('/').next().map(str::to_owned))
        // Resource providers are case-insensitive and logged in either case.
        .map(|s| s.to_ascii_lowercase());

    Ok(AuditEvent {
        source: Source::Azure,
        event_id,
        time_us,
        account: subscription,
        region: optional(&e.location, "location"),
        service,
        action,
        read_only,
        outcome,
        principal: principal(caller, claims, evidence),
        actor,
        source_ip: e
            .http_request
            .as_ref()
            .and_then(|h| optional(&h.client_ip_address, "clientIpAddress"))
            .or_else(|| optional(&e.caller_ip_address, "callerIpAddress")),
        user_agent: None,
        resources,
        completeness: 0,
    })
}

/// Who called: `caller` (a UPN, or an object id), else the token's object id, else the role
/// assignment's principal, else the application id. The type is the platform's own word: the
/// role assignment's `principalType` (`User`, `ServicePrincipal`, `Group`…), `ManagedIdentity`
/// when the token is a managed identity's, else the token's `idtyp` (`user`, `app`).
fn principal(
    caller: Option<String>,
    claims: Option<&Claims>,
    evidence: Option<&Evidence>,
) -> Principal {
    let id = caller
        .or_else(|| claims.and_then(|c| optional(&c.object_id, "objectidentifier")))
        .or_else(|| evidence.and_then(|e| optional(&e.principal_id, "principalId")))
        .or_else(|| claims.and_then(|c| optional(&c.appid, "appid")));
    let managed = claims.is_some_and(|c| optional(&c.xms_mirid, "xms_mirid").is_some());
    let kind = evidence
        .and_then(|e| optional(&e.principal_type, "principalType"))
        .filter(|t| !(managed && t == "ServicePrincipal"))
        .or_else(|| managed.then(|| "ManagedIdentity".to_owned()))
        .or_else(|| claims.and_then(|c| optional(&c.idtyp, "idtyp")))
        .or_else(|| {
            id.as_deref().map(|c| {
                if c.contains('@') {
                    "user".to_owned()
                } else {
                    "app".to_owned()
                }
            })
        });
    Principal {
        id,
        kind,
        ..Principal::default()
    }
}

fn classify(claims: Option<&Claims>) -> Actor {
    let Some(c) = claims else {
        return Actor::new(ActorKind::Unknown, "no claims");
    };
    if let Some(appid) = c.appid.as_deref() {
        if let Some((_, kind, rule)) = KNOWN_APPS
            .iter()
            .find(|(id, _, _)| id.eq_ignore_ascii_case(appid))
        {
            return Actor::new(*kind, *rule);
        }
    }
    if c.xms_mirid.is_some() {
        return Actor::new(ActorKind::Sdk, "claims.xms_mirid (managed identity)");
    }
    if c.idtyp.as_deref() == Some("app") {
        return Actor::new(ActorKind::Sdk, "claims.idtyp:app (service principal)");
    }
    Actor::new(ActorKind::Unknown, "claims.appid not recognised")
}

/// A stable 64-bit FNV-1a hash, for ids of records that carry none.
fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}
