//! Which resource a CloudTrail create call made, as a Terraform type and the id that type's
//! read takes: how the audit logs find resources nobody declared, even where listing that type
//! is not allowed.
//!
//! Keyed on `(eventSource, eventName)`, never the name alone (research note
//! `aws-identity-map.md`, rule 1). Ids come from `responseElements` when AWS assigns them and
//! from `requestParameters` when the caller names the resource.

use serde_json::Value;

/// Where the id is: a path of keys into the record, `*` for every element of an array.
type Path = &'static [&'static str];

/// `(eventSource, eventName, type, paths tried in order)`.
const CREATES: &[(&str, &str, &str, &[Path])] = &[
    (
        "ec2.amazonaws.com",
        "CreateVpc",
        "aws_vpc",
        &[&["responseElements", "vpc", "vpcId"]],
    ),
    (
        "ec2.amazonaws.com",
        "CreateSubnet",
        "aws_subnet",
        &[&["responseElements", "subnet", "subnetId"]],
    ),
    (
        "ec2.amazonaws.com",
        "CreateSecurityGroup",
        "aws_security_group",
        &[&["responseElements", "groupId"]],
    ),
    (
        "ec2.amazonaws.com",
        "CreateRouteTable",
        "aws_route_table",
        &[&["responseElements", "routeTable", "routeTableId"]],
    ),
    (
        "ec2.amazonaws.com",
        "RunInstances",
        "aws_instance",
        &[&[
            "responseElements",
            "instancesSet",
            "items",
            "*",
            "instanceId",
        ]],
    ),
    (
        "s3.amazonaws.com",
        "CreateBucket",
        "aws_s3_bucket",
        &[&["requestParameters", "bucketName"]],
    ),
    (
        "s3.amazonaws.com",
        "PutBucketPolicy",
        "aws_s3_bucket_policy",
        &[&["requestParameters", "bucketName"]],
    ),
    (
        "iam.amazonaws.com",
        "CreateRole",
        "aws_iam_role",
        &[&["requestParameters", "roleName"]],
    ),
    (
        "iam.amazonaws.com",
        "CreateUser",
        "aws_iam_user",
        &[&["requestParameters", "userName"]],
    ),
    (
        "iam.amazonaws.com",
        "CreatePolicy",
        "aws_iam_policy",
        &[&["responseElements", "policy", "arn"]],
    ),
    (
        "rds.amazonaws.com",
        "CreateDBInstance",
        "aws_db_instance",
        &[&["requestParameters", "dBInstanceIdentifier"]],
    ),
    (
        "lambda.amazonaws.com",
        "CreateFunction",
        "aws_lambda_function",
        &[
            &["responseElements", "functionName"],
            &["requestParameters", "functionName"],
        ],
    ),
    (
        "sqs.amazonaws.com",
        "CreateQueue",
        "aws_sqs_queue",
        &[
            &["responseElements", "queueUrl"],
            &["requestParameters", "queueName"],
        ],
    ),
    (
        "sns.amazonaws.com",
        "CreateTopic",
        "aws_sns_topic",
        &[&["responseElements", "topicArn"]],
    ),
    (
        "dynamodb.amazonaws.com",
        "CreateTable",
        "aws_dynamodb_table",
        &[
            &["requestParameters", "tableName"],
            &["responseElements", "tableDescription", "tableName"],
        ],
    ),
    (
        "kms.amazonaws.com",
        "CreateKey",
        "aws_kms_key",
        &[&["responseElements", "keyMetadata", "keyId"]],
    ),
];

/// The create calls this module knows, as `eventName`s (for a store query).
pub fn create_actions() -> impl Iterator<Item = &'static str> {
    CREATES.iter().map(|(_, name, _, _)| *name)
}

fn collect<'a>(v: &'a Value, path: &[&str], out: &mut Vec<&'a str>) {
    match path.split_first() {
        None => {
            if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                out.push(s);
            }
        }
        Some((&"*", rest)) => {
            for item in v.as_array().into_iter().flatten() {
                collect(item, rest, out);
            }
        }
        Some((key, rest)) => {
            if let Some(next) = v.get(*key) {
                collect(next, rest, out);
            }
        }
    }
}

/// The record itself, under whichever envelope stored it (EventBridge `detail`,
/// `lookup-events`' `CloudTrailEvent` string).
fn record(raw: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(raw).ok()?;
    if v.get("eventName").is_some() {
        return Some(v);
    }
    if let Some(d) = v.get("detail").filter(|d| d.get("eventName").is_some()) {
        return Some(d.clone());
    }
    serde_json::from_str(v.get("CloudTrailEvent")?.as_str()?).ok()
}

/// The resources a stored CloudTrail record created: `(Terraform type, id)`; empty for any
/// other record, a failed call, or one whose id was not logged.
pub fn created_resources(raw: &[u8]) -> Vec<(&'static str, String)> {
    let Some(r) = record(raw) else {
        return Vec::new();
    };
    if r.get("errorCode").is_some_and(|c| !c.is_null()) {
        return Vec::new();
    }
    let source = r
        .get("eventSource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = r
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Lambda logs the API version after the name (`CreateFunction20150331`).
    let name = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'v');
    let mut out = Vec::new();
    for (s, n, tf_type, paths) in CREATES {
        if *s != source || *n != name {
            continue;
        }
        for path in *paths {
            let mut ids = Vec::new();
            collect(&r, path, &mut ids);
            if !ids.is_empty() {
                out.extend(ids.into_iter().map(|id| (*tf_type, id.to_owned())));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_responses_requests_and_envelopes() {
        let run = br#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}}}"#;
        assert_eq!(
            created_resources(run),
            vec![
                ("aws_instance", "i-1".into()),
                ("aws_instance", "i-2".into())
            ]
        );
        let queue = br#"{"detail":{"eventSource":"sqs.amazonaws.com","eventName":"CreateQueue","requestParameters":{"queueName":"q"},"responseElements":null}}"#;
        assert_eq!(
            created_resources(queue),
            vec![("aws_sqs_queue", "q".into())]
        );
        let lambda = br#"{"eventSource":"lambda.amazonaws.com","eventName":"CreateFunction20150331","requestParameters":{"functionName":"f"}}"#;
        assert_eq!(
            created_resources(lambda),
            vec![("aws_lambda_function", "f".into())]
        );
        let failed = br#"{"eventSource":"iam.amazonaws.com","eventName":"CreateRole","errorCode":"AccessDenied","requestParameters":{"roleName":"r"}}"#;
        assert!(created_resources(failed).is_empty());
        // Same name, other service: not ours.
        let other = br#"{"eventSource":"eks.amazonaws.com","eventName":"CreateCluster","requestParameters":{"name":"c"}}"#;
        assert!(created_resources(other).is_empty());
        assert!(created_resources(b"garbage").is_empty());
    }

    /// Real records from ../shared/fixtures (or $DRIFTLOG_FIXTURES): each create names the id
    /// its type is read by, from the response where AWS assigned it, else the request.
    #[test]
    fn real_create_records() {
        let dir = std::env::var_os("DRIFTLOG_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
            })
            .join("aws-cloudtrail");
        if !dir.is_dir() {
            eprintln!("SKIP: shared fixtures not found at {}", dir.display());
            return;
        }
        let cases: [(&str, (&str, &str)); 5] = [
            (
                "stackstate__ec2__run_instances.json",
                ("aws_instance", "i-0f70dba7ea83d6dec"),
            ),
            (
                "stackstate__sqs__sqs_create_queue.json",
                (
                    "aws_sqs_queue",
                    "https://sqs.eu-west-1.amazonaws.com/731070500579/STS_stackpack_test",
                ),
            ),
            (
                "stackstate__sns__sns_create_topic.json",
                (
                    "aws_sns_topic",
                    "arn:aws:sns:eu-west-1:731070500579:my-topic-1",
                ),
            ),
            (
                "stackstate__lambda__create_function.json",
                (
                    "aws_lambda_function",
                    "com-stackstate-prod-sam-seed-PutHello-1LUD3ESBOR6EY",
                ),
            ),
            // No response logged: the request names the function.
            (
                "stackstate__lambda__create_function_missing_responseElements.json",
                (
                    "aws_lambda_function",
                    "com-github-dnvriend-dnv-sam-seed-GetHello-R8NVI6CUWUHL",
                ),
            ),
        ];
        for (file, (tf_type, id)) in cases {
            let raw = std::fs::read(dir.join(file)).unwrap();
            assert_eq!(
                created_resources(&raw),
                vec![(tf_type, id.to_owned())],
                "{file}"
            );
        }
    }
}
