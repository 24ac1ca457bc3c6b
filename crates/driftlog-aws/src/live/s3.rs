//! S3 bucket reads, one bucket at a time (S3 has no batch read), each projected onto the
//! provider's attributes: the bucket itself and the split resources of provider 4+
//! (`aws_s3_bucket_policy`, `_versioning`, `_server_side_encryption_configuration`,
//! `_public_access_block`).

use super::pace::CallError;
use super::{tags, Ctx, Fetched};
use serde_json::{json, Value};

async fn client(ctx: &Ctx, region: &str) -> aws_sdk_s3::Client {
    ctx.configs.s3(&ctx.config(region).await)
}

/// A missing policy (or tag set) is an empty one; a missing bucket is `NotFound` still.
fn absent_part(e: CallError) -> Result<(), CallError> {
    match e {
        CallError::NotFound(code) if code != "NoSuchBucket" => Ok(()),
        other => Err(other),
    }
}

async fn policy_text(ctx: &Ctx, region: &str, bucket: &str) -> Result<Option<String>, CallError> {
    let c = client(ctx, region).await;
    match ctx
        .pacer
        .call("s3", region, || c.get_bucket_policy().bucket(bucket).send())
        .await
    {
        Ok(out) => Ok(out.policy().map(str::to_owned)),
        Err(e) => absent_part(e).map(|()| None),
    }
}

pub async fn buckets(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for bucket in ids {
        let tag_set = match ctx
            .pacer
            .call("s3", region, || {
                c.get_bucket_tagging().bucket(bucket).send()
            })
            .await
        {
            Ok(t) => tags(t.tag_set().iter().map(|t| (Some(t.key()), Some(t.value())))),
            Err(CallError::NotFound(code)) if code == "NoSuchBucket" => continue,
            Err(e) => {
                absent_part(e)?;
                json!({})
            }
        };
        let policy = match policy_text(ctx, region, bucket).await {
            Err(CallError::NotFound(_)) => continue,
            other => other?,
        };
        out.push((
            bucket.clone(),
            json!({
                "id": bucket,
                "bucket": bucket,
                "policy": policy.unwrap_or_default(),
                "tags_all": tag_set,
            }),
        ));
    }
    Ok(out)
}

pub async fn bucket_policies(
    ctx: &Ctx,
    region: &str,
    ids: &[String],
) -> Result<Fetched, CallError> {
    let mut out = Vec::new();
    for bucket in ids {
        match policy_text(ctx, region, bucket).await {
            Ok(Some(policy)) => out.push((
                bucket.clone(),
                json!({"id": bucket, "bucket": bucket, "policy": policy}),
            )),
            Ok(None) | Err(CallError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub async fn versionings(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for bucket in ids {
        let v = match ctx
            .pacer
            .call("s3", region, || {
                c.get_bucket_versioning().bucket(bucket).send()
            })
            .await
        {
            Ok(v) => v,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let status = v.status().map_or("Disabled", |s| s.as_str());
        let mfa = v.mfa_delete().map_or("", |m| m.as_str());
        out.push((
            bucket.clone(),
            json!({
                "id": bucket, "bucket": bucket,
                "versioning_configuration": [{"status": status, "mfa_delete": mfa}],
            }),
        ));
    }
    Ok(out)
}

pub async fn encryptions(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for bucket in ids {
        let e = match ctx
            .pacer
            .call("s3", region, || {
                c.get_bucket_encryption().bucket(bucket).send()
            })
            .await
        {
            Ok(e) => e,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let rules: Vec<Value> = e
            .server_side_encryption_configuration()
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let by_default: Vec<Value> = r
                    .apply_server_side_encryption_by_default()
                    .map(|d| {
                        json!({
                            "sse_algorithm": d.sse_algorithm().as_str(),
                            "kms_master_key_id": d.kms_master_key_id().unwrap_or_default(),
                        })
                    })
                    .into_iter()
                    .collect();
                json!({
                    "apply_server_side_encryption_by_default": by_default,
                    "bucket_key_enabled": r.bucket_key_enabled().unwrap_or(false),
                })
            })
            .collect();
        out.push((
            bucket.clone(),
            json!({"id": bucket, "bucket": bucket, "rule": rules}),
        ));
    }
    Ok(out)
}

pub async fn public_access_blocks(
    ctx: &Ctx,
    region: &str,
    ids: &[String],
) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    for bucket in ids {
        let p = match ctx
            .pacer
            .call("s3", region, || {
                c.get_public_access_block().bucket(bucket).send()
            })
            .await
        {
            Ok(p) => p,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(conf) = p.public_access_block_configuration() else {
            continue;
        };
        out.push((
            bucket.clone(),
            json!({
                "id": bucket, "bucket": bucket,
                "block_public_acls": conf.block_public_acls().unwrap_or(false),
                "block_public_policy": conf.block_public_policy().unwrap_or(false),
                "ignore_public_acls": conf.ignore_public_acls().unwrap_or(false),
                "restrict_public_buckets": conf.restrict_public_buckets().unwrap_or(false),
            }),
        ));
    }
    Ok(out)
}

/// Every bucket of the account (S3 lists them all from any region), with its region when
/// the listing says.
pub async fn list_buckets(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = client(ctx, region).await;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("s3", region, || {
                c.list_buckets()
                    .set_continuation_token(token.clone())
                    .send()
            })
            .await?;
        for b in page.buckets() {
            let Some(name) = b.name() else { continue };
            let mut a = json!({"id": name, "bucket": name});
            if let Some(r) = b.bucket_region() {
                a["__region"] = json!(r);
            }
            out.push((name.to_owned(), a));
        }
        token = page.continuation_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}
