//! Reads of the JSON- and query-protocol services one resource at a time: SQS, SNS, Lambda,
//! RDS, DynamoDB and KMS, each projected onto the provider's attribute names.

use super::pace::CallError;
use super::{tags, Ctx, Fetched};
use serde_json::{json, Value};
use std::collections::HashMap;

/// A queue URL's last segment is its name; hosts differ between endpoints (AWS, moto).
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

fn number(attrs: &HashMap<String, String>, key: &str, default: i64) -> Value {
    json!(attrs
        .get(key)
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(default))
}

pub async fn queues(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let c = aws_sdk_sqs::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    for url in ids {
        let got = match ctx
            .pacer
            .call("sqs", region, || {
                c.get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(QueueAttributeName::All)
                    .send()
            })
            .await
        {
            Ok(a) => a,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let attrs: HashMap<String, String> = got
            .attributes()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let tag_map = match ctx
            .pacer
            .call("sqs", region, || c.list_queue_tags().queue_url(url).send())
            .await
        {
            Ok(t) => tags(
                t.tags()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
            ),
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let text = |k: &str| json!(attrs.get(k).cloned().unwrap_or_default());
        let flag = |k: &str| json!(attrs.get(k).is_some_and(|v| v == "true"));
        out.push((
            url.clone(),
            json!({
                "id": url,
                "name": queue_name(url),
                "visibility_timeout_seconds": number(&attrs, "VisibilityTimeout", 30),
                "message_retention_seconds": number(&attrs, "MessageRetentionPeriod", 345600),
                "max_message_size": number(&attrs, "MaximumMessageSize", 262144),
                "delay_seconds": number(&attrs, "DelaySeconds", 0),
                "receive_wait_time_seconds": number(&attrs, "ReceiveMessageWaitTimeSeconds", 0),
                "policy": text("Policy"),
                "redrive_policy": text("RedrivePolicy"),
                "fifo_queue": flag("FifoQueue"),
                "content_based_deduplication": flag("ContentBasedDeduplication"),
                "kms_master_key_id": text("KmsMasterKeyId"),
                "tags_all": tag_map,
            }),
        ));
    }
    Ok(out)
}

pub async fn list_queues(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = aws_sdk_sqs::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("sqs", region, || {
                c.list_queues().set_next_token(token.clone()).send()
            })
            .await?;
        for url in page.queue_urls() {
            out.push((
                url.clone(),
                json!({"id": url, "url": url, "name": queue_name(url)}),
            ));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn topics(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = aws_sdk_sns::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    for arn in ids {
        let got = match ctx
            .pacer
            .call("sns", region, || {
                c.get_topic_attributes().topic_arn(arn).send()
            })
            .await
        {
            Ok(a) => a,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let attrs = got.attributes().cloned().unwrap_or_default();
        let tag_map = match ctx
            .pacer
            .call("sns", region, || {
                c.list_tags_for_resource().resource_arn(arn).send()
            })
            .await
        {
            Ok(t) => tags(t.tags().iter().map(|t| (Some(t.key()), Some(t.value())))),
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let text = |k: &str| json!(attrs.get(k).cloned().unwrap_or_default());
        out.push((
            arn.clone(),
            json!({
                "id": arn, "arn": arn,
                "name": arn.rsplit(':').next().unwrap_or_default(),
                "display_name": text("DisplayName"),
                "policy": text("Policy"),
                "kms_master_key_id": text("KmsMasterKeyId"),
                "fifo_topic": attrs.get("FifoTopic").is_some_and(|v| v == "true"),
                "tags_all": tag_map,
            }),
        ));
    }
    Ok(out)
}

pub async fn list_topics(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = aws_sdk_sns::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("sns", region, || {
                c.list_topics().set_next_token(token.clone()).send()
            })
            .await?;
        for t in page.topics() {
            let Some(arn) = t.topic_arn() else { continue };
            out.push((
                arn.to_owned(),
                json!({"id": arn, "arn": arn, "name": arn.rsplit(':').next().unwrap_or_default()}),
            ));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn functions(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = aws_sdk_lambda::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    for name in ids {
        let got = match ctx
            .pacer
            .call("lambda", region, || {
                c.get_function().function_name(name).send()
            })
            .await
        {
            Ok(f) => f,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(f) = got.configuration() else {
            continue;
        };
        let environment: Vec<Value> = f
            .environment()
            .and_then(|e| e.variables())
            .filter(|v| !v.is_empty())
            .map(|v| json!({"variables": v}))
            .into_iter()
            .collect();
        let tag_map = tags(
            got.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str()))),
        );
        out.push((
            name.clone(),
            json!({
                "id": name,
                "function_name": f.function_name().unwrap_or(name),
                "runtime": f.runtime().map(|r| r.as_str()).unwrap_or_default(),
                "handler": f.handler().unwrap_or_default(),
                "role": f.role().unwrap_or_default(),
                "memory_size": f.memory_size().unwrap_or(128),
                "timeout": f.timeout().unwrap_or(3),
                "description": f.description().unwrap_or_default(),
                "environment": environment,
                "architectures": f.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                "package_type": f.package_type().map(|p| p.as_str()).unwrap_or("Zip"),
                "tags_all": tag_map,
            }),
        ));
    }
    Ok(out)
}

pub async fn list_functions(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = aws_sdk_lambda::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("lambda", region, || {
                c.list_functions().set_marker(marker.clone()).send()
            })
            .await?;
        for f in page.functions() {
            let Some(name) = f.function_name() else {
                continue;
            };
            out.push((
                name.to_owned(),
                json!({"id": name, "function_name": name, "arn": f.function_arn()}),
            ));
        }
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

fn db_json(d: &aws_sdk_rds::types::DbInstance) -> Value {
    let mut groups: Vec<&str> = d
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    groups.sort_unstable();
    json!({
        "identifier": d.db_instance_identifier(),
        "resource_id": d.dbi_resource_id(),
        "arn": d.db_instance_arn(),
        "instance_class": d.db_instance_class(),
        "engine": d.engine(),
        "allocated_storage": d.allocated_storage(),
        "storage_type": d.storage_type(),
        "multi_az": d.multi_az().unwrap_or(false),
        "publicly_accessible": d.publicly_accessible().unwrap_or(false),
        "username": d.master_username(),
        "db_name": d.db_name().unwrap_or_default(),
        "vpc_security_group_ids": groups,
        "tags_all": tags(d.tag_list().iter().map(|t| (t.key(), t.value()))),
    })
}

/// By `identifier` (the state's `id` is the resource id since provider 5).
pub async fn db_instances(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = aws_sdk_rds::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    for ident in ids {
        match ctx
            .pacer
            .call("rds", region, || {
                c.describe_db_instances()
                    .db_instance_identifier(ident)
                    .send()
            })
            .await
        {
            Ok(got) => {
                if let Some(d) = got.db_instances().first() {
                    out.push((ident.clone(), db_json(d)));
                }
            }
            Err(CallError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub async fn list_db_instances(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = aws_sdk_rds::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("rds", region, || {
                c.describe_db_instances().set_marker(marker.clone()).send()
            })
            .await?;
        for d in page.db_instances() {
            let Some(ident) = d.db_instance_identifier() else {
                continue;
            };
            out.push((ident.to_owned(), db_json(d)));
        }
        marker = page.marker().map(str::to_owned);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

pub async fn tables(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = aws_sdk_dynamodb::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    for name in ids {
        let got = match ctx
            .pacer
            .call("dynamodb", region, || {
                c.describe_table().table_name(name).send()
            })
            .await
        {
            Ok(t) => t,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(t) = got.table() else { continue };
        let key = |kind: &str| {
            t.key_schema()
                .iter()
                .find(|k| k.key_type().as_str() == kind)
                .map(|k| k.attribute_name().to_owned())
                .unwrap_or_default()
        };
        let mut attribute: Vec<Value> = t
            .attribute_definitions()
            .iter()
            .map(|a| json!({"name": a.attribute_name(), "type": a.attribute_type().as_str()}))
            .collect();
        attribute.sort_by_key(|a| a["name"].as_str().unwrap_or_default().to_owned());
        let billing = t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map_or("PROVISIONED", |m| m.as_str());
        let throughput = t.provisioned_throughput();
        let tag_map = match t.table_arn() {
            Some(arn) => match ctx
                .pacer
                .call("dynamodb", region, || {
                    c.list_tags_of_resource().resource_arn(arn).send()
                })
                .await
            {
                Ok(tl) => tags(tl.tags().iter().map(|t| (Some(t.key()), Some(t.value())))),
                Err(CallError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            },
            None => json!({}),
        };
        out.push((
            name.clone(),
            json!({
                "id": name, "name": name,
                "billing_mode": billing,
                "hash_key": key("HASH"),
                "range_key": key("RANGE"),
                "attribute": attribute,
                "read_capacity": throughput.and_then(|p| p.read_capacity_units()).unwrap_or(0),
                "write_capacity": throughput.and_then(|p| p.write_capacity_units()).unwrap_or(0),
                "stream_enabled": t.stream_specification().is_some_and(|s| s.stream_enabled()),
                "tags_all": tag_map,
            }),
        ));
    }
    Ok(out)
}

pub async fn list_tables(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = aws_sdk_dynamodb::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("dynamodb", region, || {
                c.list_tables()
                    .set_exclusive_start_table_name(start.clone())
                    .send()
            })
            .await?;
        for name in page.table_names() {
            out.push((name.clone(), json!({"id": name, "name": name})));
        }
        start = page.last_evaluated_table_name().map(str::to_owned);
        if start.is_none() {
            return Ok(out);
        }
    }
}

pub async fn keys(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let c = aws_sdk_kms::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    for id in ids {
        let got = match ctx
            .pacer
            .call("kms", region, || c.describe_key().key_id(id).send())
            .await
        {
            Ok(k) => k,
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let Some(k) = got.key_metadata() else {
            continue;
        };
        // The provider treats a key scheduled for deletion as gone.
        if k.key_state().map(|s| s.as_str()) == Some("PendingDeletion") {
            continue;
        }
        let tag_map = match ctx
            .pacer
            .call("kms", region, || c.list_resource_tags().key_id(id).send())
            .await
        {
            Ok(t) => tags(
                t.tags()
                    .iter()
                    .map(|t| (Some(t.tag_key()), Some(t.tag_value()))),
            ),
            Err(CallError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        out.push((
            id.clone(),
            json!({
                "id": k.key_id(), "key_id": k.key_id(), "arn": k.arn(),
                "description": k.description().unwrap_or_default(),
                "key_usage": k.key_usage().map(|u| u.as_str()).unwrap_or_default(),
                "customer_master_key_spec": k.key_spec().map(|s| s.as_str()).unwrap_or_default(),
                "is_enabled": k.enabled(),
                "tags_all": tag_map,
            }),
        ));
    }
    Ok(out)
}

/// Every key, with the AWS-managed ones (targets of `alias/aws/…`) marked: one listing of
/// aliases instead of a `DescribeKey` per key.
pub async fn list_keys(ctx: &Ctx, region: &str) -> Result<Fetched, CallError> {
    let c = aws_sdk_kms::Client::new(&ctx.config(region).await);
    let mut aws_managed = std::collections::HashSet::new();
    let mut marker: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("kms", region, || {
                c.list_aliases().set_marker(marker.clone()).send()
            })
            .await?;
        for a in page.aliases() {
            if a.alias_name().is_some_and(|n| n.starts_with("alias/aws/")) {
                if let Some(k) = a.target_key_id() {
                    aws_managed.insert(k.to_owned());
                }
            }
        }
        marker = page
            .next_marker()
            .map(str::to_owned)
            .filter(|_| page.truncated());
        if marker.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    loop {
        let page = ctx
            .pacer
            .call("kms", region, || {
                c.list_keys().set_marker(marker.clone()).send()
            })
            .await?;
        for k in page.keys() {
            let Some(id) = k.key_id() else { continue };
            let mut a = json!({"id": id, "key_id": id, "arn": k.key_arn()});
            if aws_managed.contains(id) {
                a["__default"] = json!("an AWS-managed key (alias/aws/…)");
            }
            out.push((id.to_owned(), a));
        }
        marker = page
            .next_marker()
            .map(str::to_owned)
            .filter(|_| page.truncated());
        if marker.is_none() {
            return Ok(out);
        }
    }
}
