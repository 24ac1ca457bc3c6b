//! IAM reads. IAM is global: every call goes to one region's endpoint and one pacing lane.
//! Policy documents come URL-encoded and are decoded to the JSON text the provider stores.

use super::pace::CallError;
use super::{tags, Ctx, Fetched};
use serde_json::{json, Value};

/// IAM documents are percent-encoded in responses (AWS does, and moto mimics it).
pub fn decode_document(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

async fn client(ctx: &Ctx, region: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&ctx.config(region).await)
}

fn iam_tags(t: &[aws_sdk_iam::types::Tag]) -> Value {
    tags(t.iter().map(|t| (Some(t.key()), Some(t.value()))))
}

pub async fn roles(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for name in ids {
        let r = match ctx
            .pacer
            .call("iam", region, || c.get_role().role_name(name).send())
            .await
        {
            Ok(r) => r,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(role) = r.role() else { continue };
        out.push((name.clone(), role_json(role)));
    }
    Ok(out)
}

fn role_json(role: &aws_sdk_iam::types::Role) -> Value {
    let mut a = json!({
        "id": role.role_name(),
        "name": role.role_name(),
        "path": role.path(),
        "arn": role.arn(),
        "description": role.description().unwrap_or_default(),
        "max_session_duration": role.max_session_duration().unwrap_or(3600),
        "assume_role_policy": role.assume_role_policy_document().map(decode_document).unwrap_or_default(),
        "permissions_boundary": role.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).unwrap_or_default(),
        "tags_all": iam_tags(role.tags()),
    });
    if role.path().starts_with("/aws-service-role/") {
        a["__default"] = json!("a service-linked role, made and managed by an AWS service");
    }
    a
}

pub async fn list_roles(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("iam", region, || {
                c.list_roles().set_marker(marker.clone()).send()
            })
            .await?;
        for r in page.roles() {
            out.push((r.role_name().to_owned(), role_json(r)));
        }
        marker = page
            .marker()
            .map(str::to_owned)
            .filter(|_| page.is_truncated());
        if marker.is_none() {
            return Ok(out);
        }
    }
}

/// `role:policy` ids of inline role policies.
pub async fn role_policies(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for id in ids {
        let Some((role, policy)) = id.split_once(':') else {
            continue;
        };
        match ctx
            .pacer
            .call("iam", region, || {
                c.get_role_policy()
                    .role_name(role)
                    .policy_name(policy)
                    .send()
            })
            .await
        {
            Ok(p) => out.push((
                id.clone(),
                json!({
                    "id": id,
                    "role": p.role_name(),
                    "name": p.policy_name(),
                    "policy": decode_document(p.policy_document()),
                }),
            )),
            Err(CallError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The managed policies attached to each role (by role name): one listing serves every
/// attachment of the role.
pub async fn role_attachments(
    ctx: &Ctx,
    region: &str,
    ids: &[String],
) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for role in ids {
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = match ctx
                .pacer
                .call("iam", region, || {
                    c.list_attached_role_policies()
                        .role_name(role)
                        .set_marker(marker.clone())
                        .send()
                })
                .await
            {
                Ok(p) => p,
                Err(CallError::NotFound(_)) => break,
                Err(e) => return Err(e),
            };
            arns.extend(
                page.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_owned)),
            );
            marker = page
                .marker()
                .map(str::to_owned)
                .filter(|_| page.is_truncated());
            if marker.is_none() {
                out.push((role.clone(), json!({"role": role, "policy_arns": arns})));
                break;
            }
        }
    }
    Ok(out)
}

/// Customer-managed policies by ARN: the policy and its default version's document.
pub async fn policies(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for arn in ids {
        let p = match ctx
            .pacer
            .call("iam", region, || c.get_policy().policy_arn(arn).send())
            .await
        {
            Ok(p) => p,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(policy) = p.policy() else { continue };
        let version = policy.default_version_id().unwrap_or("v1");
        let document = match ctx
            .pacer
            .call("iam", region, || {
                c.get_policy_version()
                    .policy_arn(arn)
                    .version_id(version)
                    .send()
            })
            .await
        {
            Ok(v) => v
                .policy_version()
                .and_then(|v| v.document())
                .map(decode_document)
                .unwrap_or_default(),
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        out.push((
            arn.clone(),
            json!({
                "id": arn, "arn": arn,
                "name": policy.policy_name(),
                "path": policy.path(),
                "description": policy.description().unwrap_or_default(),
                "policy": document,
                "tags_all": iam_tags(policy.tags()),
            }),
        ));
    }
    Ok(out)
}

/// Customer-managed policies only (`Scope=Local`): AWS-managed ones belong to nobody's state.
pub async fn list_policies(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("iam", region, || {
                c.list_policies()
                    .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                    .set_marker(marker.clone())
                    .send()
            })
            .await?;
        for p in page.policies() {
            let Some(arn) = p.arn() else { continue };
            out.push((
                arn.to_owned(),
                json!({"id": arn, "arn": arn, "name": p.policy_name(), "path": p.path()}),
            ));
        }
        marker = page
            .marker()
            .map(str::to_owned)
            .filter(|_| page.is_truncated());
        if marker.is_none() {
            return Ok(out);
        }
    }
}

fn user_json(u: &aws_sdk_iam::types::User) -> Value {
    json!({
        "id": u.user_name(),
        "name": u.user_name(),
        "path": u.path(),
        "arn": u.arn(),
        "permissions_boundary": u.permissions_boundary().and_then(|b| b.permissions_boundary_arn()).unwrap_or_default(),
        "tags_all": iam_tags(u.tags()),
    })
}

pub async fn users(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for name in ids {
        match ctx
            .pacer
            .call("iam", region, || c.get_user().user_name(name).send())
            .await
        {
            Ok(u) => {
                if let Some(u) = u.user() {
                    out.push((name.clone(), user_json(u)));
                }
            }
            Err(CallError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub async fn list_users(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("iam", region, || {
                c.list_users().set_marker(marker.clone()).send()
            })
            .await?;
        for u in page.users() {
            out.push((u.user_name().to_owned(), user_json(u)));
        }
        marker = page
            .marker()
            .map(str::to_owned)
            .filter(|_| page.is_truncated());
        if marker.is_none() {
            return Ok(out);
        }
    }
}
