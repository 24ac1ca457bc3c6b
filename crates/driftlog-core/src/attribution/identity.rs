//! Which attributes of a resource name it in audit logs.
//!
//! CloudTrail names a security group by `groupId`, a bucket by `bucketName`, a queue by its URL,
//! a database by its identifier; Terraform keeps the same values in `id`, `bucket`, `url`,
//! `identifier`. This table lists, per resource type, the attributes whose values appear in
//! events (sources: the provider docs and `../shared/notes/aws-identity-map.md`). Types not
//! listed fall back to `id` and `arn`. Names (`name`) are only used where they are unique in
//! their account and region: a security group called `default` exists in every VPC.

use serde_json::Value;

/// Attributes that identify each resource type, most specific first.
const TABLE: &[(&str, &[&str])] = &[
    ("aws_instance", &["id", "arn"]),
    ("aws_security_group", &["id", "arn"]),
    (
        "aws_security_group_rule",
        &["security_group_id", "security_group_rule_id"],
    ),
    (
        "aws_vpc_security_group_ingress_rule",
        &["security_group_rule_id", "arn", "security_group_id"],
    ),
    (
        "aws_vpc_security_group_egress_rule",
        &["security_group_rule_id", "arn", "security_group_id"],
    ),
    ("aws_vpc", &["id", "arn"]),
    ("aws_subnet", &["id", "arn"]),
    ("aws_route_table", &["id", "arn"]),
    ("aws_internet_gateway", &["id", "arn"]),
    ("aws_nat_gateway", &["id", "allocation_id"]),
    ("aws_eip", &["id", "allocation_id", "public_ip"]),
    ("aws_network_acl", &["id", "arn"]),
    ("aws_ebs_volume", &["id", "arn"]),
    ("aws_launch_template", &["id", "arn", "name"]),
    ("aws_key_pair", &["key_name", "key_pair_id", "arn"]),
    ("aws_s3_bucket", &["bucket", "id", "arn"]),
    ("aws_s3_bucket_policy", &["bucket", "id"]),
    ("aws_s3_bucket_acl", &["bucket"]),
    ("aws_s3_bucket_versioning", &["bucket"]),
    ("aws_s3_bucket_public_access_block", &["bucket", "id"]),
    (
        "aws_s3_bucket_server_side_encryption_configuration",
        &["bucket"],
    ),
    ("aws_s3_bucket_lifecycle_configuration", &["bucket"]),
    ("aws_s3_bucket_logging", &["bucket"]),
    ("aws_iam_role", &["name", "arn", "unique_id"]),
    ("aws_iam_role_policy", &["role", "name"]),
    ("aws_iam_role_policy_attachment", &["role", "policy_arn"]),
    ("aws_iam_policy", &["arn", "policy_id", "name"]),
    ("aws_iam_user", &["name", "arn", "unique_id"]),
    ("aws_iam_user_policy", &["user", "name"]),
    ("aws_iam_group", &["name", "arn", "unique_id"]),
    ("aws_iam_instance_profile", &["name", "arn", "unique_id"]),
    (
        "aws_lambda_function",
        &["function_name", "arn", "qualified_arn"],
    ),
    ("aws_lambda_permission", &["function_name"]),
    (
        "aws_lambda_event_source_mapping",
        &["uuid", "function_name"],
    ),
    (
        "aws_db_instance",
        &["identifier", "resource_id", "arn", "id"],
    ),
    (
        "aws_rds_cluster",
        &["cluster_identifier", "cluster_resource_id", "arn"],
    ),
    ("aws_sqs_queue", &["url", "id", "arn", "name"]),
    ("aws_sqs_queue_policy", &["queue_url"]),
    ("aws_sns_topic", &["arn", "name"]),
    ("aws_sns_topic_subscription", &["arn", "topic_arn"]),
    ("aws_kms_key", &["key_id", "arn"]),
    ("aws_kms_alias", &["name", "arn"]),
    ("aws_eks_cluster", &["name", "arn"]),
    ("aws_ecs_cluster", &["name", "arn"]),
    ("aws_ecs_service", &["id", "name"]),
    ("aws_ecr_repository", &["name", "arn", "repository_url"]),
    ("aws_cloudwatch_log_group", &["name", "arn"]),
    ("aws_cloudwatch_metric_alarm", &["alarm_name", "arn"]),
    ("aws_dynamodb_table", &["name", "arn"]),
    ("aws_lb", &["arn", "name"]),
    ("aws_lb_target_group", &["arn", "name"]),
    ("aws_lb_listener", &["arn"]),
    ("aws_autoscaling_group", &["name", "arn"]),
    ("aws_route53_zone", &["zone_id", "arn"]),
    ("aws_route53_record", &["zone_id", "fqdn"]),
    ("aws_secretsmanager_secret", &["arn", "name"]),
    ("aws_ssm_parameter", &["name", "arn"]),
    ("aws_cloudtrail", &["arn", "name"]),
    ("aws_kinesis_stream", &["name", "arn"]),
    ("aws_sfn_state_machine", &["arn", "name"]),
    ("aws_efs_file_system", &["id", "arn"]),
    ("aws_elasticache_cluster", &["cluster_id", "arn"]),
    ("aws_cloudfront_distribution", &["id", "arn"]),
    ("aws_api_gateway_rest_api", &["id", "arn"]),
    ("aws_acm_certificate", &["arn", "id"]),
    ("aws_wafv2_web_acl", &["arn", "id", "name"]),
];

const FALLBACK: &[&str] = &["id", "arn"];

/// The attribute names that identify `resource_type`.
pub fn identity_attributes(resource_type: &str) -> &'static [&'static str] {
    TABLE
        .iter()
        .find(|(t, _)| *t == resource_type)
        .map_or(FALLBACK, |(_, attrs)| attrs)
}

/// Every type with an explicit entry (for documentation and tests).
pub fn known_types() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(t, _)| *t)
}

/// The identifier values a resource's attributes carry, in table order, without duplicates.
/// Values of either side (declared, live) may be given; both are searched.
pub fn identifiers<'a>(
    resource_type: &str,
    sides: impl IntoIterator<Item = &'a Value>,
) -> Vec<String> {
    let attrs = identity_attributes(resource_type);
    let sides: Vec<&Value> = sides.into_iter().collect();
    let mut out: Vec<String> = Vec::new();
    for attr in attrs {
        for side in &sides {
            if let Some(Value::String(v)) = side.get(attr) {
                let v = v.trim();
                if !v.is_empty() && !out.iter().any(|o| o == v) {
                    out.push(v.to_owned());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_and_fallback() {
        let sg =
            json!({"id": "sg-1", "arn": "arn:aws:ec2:r:1:security-group/sg-1", "name": "default"});
        assert_eq!(
            identifiers("aws_security_group", [&sg]),
            ["sg-1", "arn:aws:ec2:r:1:security-group/sg-1"],
            "a security group's name is not unique"
        );
        let queue = json!({"id": "https://sqs.eu-west-1.amazonaws.com/1/q", "url": "https://sqs.eu-west-1.amazonaws.com/1/q", "arn": "arn:aws:sqs:eu-west-1:1:q", "name": "q"});
        assert_eq!(
            identifiers("aws_sqs_queue", [&queue]),
            [
                "https://sqs.eu-west-1.amazonaws.com/1/q",
                "arn:aws:sqs:eu-west-1:1:q",
                "q"
            ]
        );
        let unknown = json!({"id": "x-1", "arn": ""});
        assert_eq!(identifiers("aws_something_new", [&unknown]), ["x-1"]);
        assert!(known_types().count() >= 60);
    }
}
