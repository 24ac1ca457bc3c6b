//! Which attributes an API action can change: the evidence that turns "someone wrote to this
//! resource" into "this call made this drift".
//!
//! Keyed on the action name (CloudTrail `eventName`, with Lambda's API-version suffix removed);
//! attribute names are Terraform's top-level ones. `*` means the action may change any
//! attribute of the resource (a `Modify…` of many fields), which still ranks above writes that
//! explain nothing but, unlike a specific entry, is not proof on its own.

/// Top-level attributes each action changes.
const EXPLAINS: &[(&str, &[&str])] = &[
    ("AuthorizeSecurityGroupIngress", &["ingress"]),
    ("RevokeSecurityGroupIngress", &["ingress"]),
    ("AuthorizeSecurityGroupEgress", &["egress"]),
    ("RevokeSecurityGroupEgress", &["egress"]),
    (
        "ModifySecurityGroupRules",
        &[
            "ingress",
            "egress",
            "cidr_ipv4",
            "from_port",
            "to_port",
            "ip_protocol",
            "description",
        ],
    ),
    (
        "UpdateSecurityGroupRuleDescriptionsIngress",
        &["ingress", "description"],
    ),
    (
        "UpdateSecurityGroupRuleDescriptionsEgress",
        &["egress", "description"],
    ),
    ("PutBucketPolicy", &["policy"]),
    ("DeleteBucketPolicy", &["policy"]),
    ("PutBucketAcl", &["acl", "grant", "access_control_policy"]),
    (
        "PutBucketVersioning",
        &["versioning", "versioning_configuration"],
    ),
    (
        "PutBucketEncryption",
        &["server_side_encryption_configuration", "rule"],
    ),
    (
        "DeleteBucketEncryption",
        &["server_side_encryption_configuration", "rule"],
    ),
    (
        "PutBucketLogging",
        &["logging", "target_bucket", "target_prefix"],
    ),
    ("PutBucketLifecycle", &["lifecycle_rule", "rule"]),
    (
        "PutBucketLifecycleConfiguration",
        &["lifecycle_rule", "rule"],
    ),
    (
        "PutBucketPublicAccessBlock",
        &[
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ],
    ),
    (
        "DeleteBucketPublicAccessBlock",
        &[
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ],
    ),
    ("PutBucketWebsite", &["website"]),
    ("PutBucketCors", &["cors_rule"]),
    ("UpdateAssumeRolePolicy", &["assume_role_policy"]),
    ("PutRolePolicy", &["policy", "inline_policy"]),
    ("DeleteRolePolicy", &["policy", "inline_policy"]),
    ("AttachRolePolicy", &["managed_policy_arns", "policy_arn"]),
    ("DetachRolePolicy", &["managed_policy_arns", "policy_arn"]),
    ("PutRolePermissionsBoundary", &["permissions_boundary"]),
    ("DeleteRolePermissionsBoundary", &["permissions_boundary"]),
    ("UpdateRole", &["description", "max_session_duration"]),
    ("UpdateRoleDescription", &["description"]),
    ("CreatePolicyVersion", &["policy"]),
    ("SetDefaultPolicyVersion", &["policy"]),
    ("PutUserPolicy", &["policy"]),
    (
        "SetQueueAttributes",
        &[
            "visibility_timeout_seconds",
            "policy",
            "message_retention_seconds",
            "delay_seconds",
            "max_message_size",
            "receive_wait_time_seconds",
            "redrive_policy",
            "redrive_allow_policy",
            "kms_master_key_id",
            "kms_data_key_reuse_period_seconds",
            "sqs_managed_sse_enabled",
            "content_based_deduplication",
            "deduplication_scope",
            "fifo_throughput_limit",
        ],
    ),
    (
        "SetTopicAttributes",
        &[
            "policy",
            "display_name",
            "delivery_policy",
            "kms_master_key_id",
        ],
    ),
    (
        "ModifyInstanceAttribute",
        &[
            "instance_type",
            "user_data",
            "user_data_base64",
            "vpc_security_group_ids",
            "security_groups",
            "disable_api_termination",
            "disable_api_stop",
            "instance_initiated_shutdown_behavior",
            "ebs_optimized",
            "source_dest_check",
        ],
    ),
    ("ModifyInstanceMetadataOptions", &["metadata_options"]),
    (
        "ModifyVpcAttribute",
        &[
            "enable_dns_support",
            "enable_dns_hostnames",
            "enable_network_address_usage_metrics",
        ],
    ),
    (
        "ModifySubnetAttribute",
        &[
            "map_public_ip_on_launch",
            "assign_ipv6_address_on_creation",
            "enable_dns64",
            "map_customer_owned_ip_on_launch",
        ],
    ),
    ("ModifyDBInstance", &["*"]),
    ("ModifyDBCluster", &["*"]),
    (
        "UpdateFunctionConfiguration",
        &[
            "environment",
            "role",
            "handler",
            "timeout",
            "memory_size",
            "runtime",
            "layers",
            "vpc_config",
            "description",
            "dead_letter_config",
            "tracing_config",
            "kms_key_arn",
            "ephemeral_storage",
            "file_system_config",
            "image_config",
            "logging_config",
            "snap_start",
        ],
    ),
    (
        "UpdateFunctionCode",
        &[
            "source_code_hash",
            "image_uri",
            "filename",
            "s3_bucket",
            "s3_key",
            "s3_object_version",
            "architectures",
            "last_modified",
            "version",
            "qualified_arn",
        ],
    ),
    (
        "PutFunctionConcurrency",
        &["reserved_concurrent_executions"],
    ),
    (
        "DeleteFunctionConcurrency",
        &["reserved_concurrent_executions"],
    ),
    ("PutRetentionPolicy", &["retention_in_days"]),
    ("DeleteRetentionPolicy", &["retention_in_days"]),
    (
        "UpdateTable",
        &[
            "billing_mode",
            "read_capacity",
            "write_capacity",
            "global_secondary_index",
            "stream_enabled",
            "stream_view_type",
            "server_side_encryption",
            "table_class",
            "deletion_protection_enabled",
        ],
    ),
    ("UpdateAutoScalingGroup", &["*"]),
    ("SetDesiredCapacity", &["desired_capacity"]),
    ("ModifyLoadBalancerAttributes", &["*"]),
    (
        "UpdateClusterConfig",
        &["vpc_config", "enabled_cluster_log_types", "access_config"],
    ),
    ("UpdateClusterVersion", &["version"]),
    ("UpdateService", &["desired_count", "task_definition", "*"]),
    (
        "PutParameter",
        &["value", "insecure_value", "type", "tier", "description"],
    ),
    ("UpdateSecret", &["description", "kms_key_id"]),
    ("PutResourcePolicy", &["policy"]),
    ("PutKeyPolicy", &["policy"]),
    ("EnableKeyRotation", &["enable_key_rotation"]),
    ("DisableKeyRotation", &["enable_key_rotation"]),
    ("UpdateKeyDescription", &["description"]),
    ("EnableKey", &["is_enabled"]),
    ("DisableKey", &["is_enabled"]),
    ("StartLogging", &["enable_logging"]),
    ("StopLogging", &["enable_logging"]),
    ("UpdateTrail", &["*"]),
    (
        "PutEventSelectors",
        &["event_selector", "advanced_event_selector"],
    ),
    ("IncreaseStreamRetentionPeriod", &["retention_period"]),
    ("DecreaseStreamRetentionPeriod", &["retention_period"]),
    ("StartStreamEncryption", &["encryption_type", "kms_key_id"]),
    ("StopStreamEncryption", &["encryption_type", "kms_key_id"]),
    (
        "UpdateStateMachine",
        &[
            "definition",
            "role_arn",
            "logging_configuration",
            "tracing_configuration",
        ],
    ),
    (
        "ChangeResourceRecordSets",
        &["records", "ttl", "alias", "*"],
    ),
];

/// Actions that change tags, on any service (they all map to `tags` and `tags_all`).
const TAGGING: &[&str] = &[
    "CreateTags",
    "DeleteTags",
    "TagResource",
    "UntagResource",
    "TagRole",
    "UntagRole",
    "TagUser",
    "UntagUser",
    "TagPolicy",
    "UntagPolicy",
    "TagQueue",
    "UntagQueue",
    "PutBucketTagging",
    "DeleteBucketTagging",
    "AddTagsToResource",
    "RemoveTagsFromResource",
    "AddTags",
    "RemoveTags",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "CreateOrUpdateTags",
    "TagDeliveryStream",
    "UntagDeliveryStream",
];

/// Lambda logs `UpdateFunctionConfiguration20150331v2`; the suffix is the API version.
pub fn canonical_action(action: &str) -> &str {
    let trimmed = action.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'v');
    // Only strip a date-like suffix (8 digits, optionally `vN`), never a name's own letters.
    let suffix = &action[trimmed.len()..];
    if suffix.len() >= 8 && suffix[..8].bytes().all(|b| b.is_ascii_digit()) {
        trimmed
    } else {
        action
    }
}

/// How an action relates to one changed top-level attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Explains {
    /// The action does not touch this attribute.
    No,
    /// The action may change any attribute of the resource.
    Possibly,
    /// The action changes exactly this attribute.
    Yes,
}

/// Whether `action` explains a change of `attribute` (a top-level Terraform name, or
/// `deleted` for a resource that is gone).
pub fn explains(action: &str, attribute: &str) -> Explains {
    let action = canonical_action(action);
    if attribute == "created" {
        return if is_create(action) {
            Explains::Yes
        } else {
            Explains::No
        };
    }
    if attribute == "deleted" {
        return if is_delete(action) {
            Explains::Yes
        } else {
            Explains::No
        };
    }
    if (attribute == "tags" || attribute == "tags_all") && TAGGING.contains(&action) {
        return Explains::Yes;
    }
    match EXPLAINS.iter().find(|(a, _)| *a == action) {
        Some((_, attrs)) if attrs.contains(&attribute) => Explains::Yes,
        Some((_, attrs)) if attrs.contains(&"*") => Explains::Possibly,
        _ => Explains::No,
    }
}

/// Creates make a resource (`CreateTags` changes one; `PutBucketPolicy` and `PutRolePolicy`
/// make the policy resource when there was none).
pub fn is_create(action: &str) -> bool {
    let action = canonical_action(action);
    if TAGGING.contains(&action) {
        return false;
    }
    ["Create", "Run"]
        .iter()
        .any(|verb| action.starts_with(verb))
        || matches!(
            action,
            "PutBucketPolicy" | "PutRolePolicy" | "PutUserPolicy"
        )
        || action.starts_with("create ")
}

/// Deletes remove the resource itself (`DeleteTags` removes tags, not the resource).
pub fn is_delete(action: &str) -> bool {
    let action = canonical_action(action);
    if TAGGING.contains(&action) || EXPLAINS.iter().any(|(a, _)| *a == action) {
        return false;
    }
    ["Delete", "Terminate", "Remove", "Deregister", "Destroy"]
        .iter()
        .any(|verb| action.starts_with(verb))
        || action.ends_with("/delete")
        || action.starts_with("delete ")
        || action.contains(".delete")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(
            canonical_action("UpdateFunctionConfiguration20150331v2"),
            "UpdateFunctionConfiguration"
        );
        assert_eq!(canonical_action("TagResource20170331v2"), "TagResource");
        assert_eq!(canonical_action("CreateTags"), "CreateTags");
        assert_eq!(canonical_action("GetObjectV2"), "GetObjectV2");
    }

    #[test]
    fn table() {
        assert_eq!(
            explains("AuthorizeSecurityGroupIngress", "ingress"),
            Explains::Yes
        );
        assert_eq!(
            explains("AuthorizeSecurityGroupIngress", "egress"),
            Explains::No
        );
        assert_eq!(explains("CreateTags", "tags"), Explains::Yes);
        assert_eq!(explains("TagResource20170331v2", "tags_all"), Explains::Yes);
        assert_eq!(
            explains("ModifyDBInstance", "instance_class"),
            Explains::Possibly
        );
        assert_eq!(explains("StopInstances", "instance_type"), Explains::No);
        assert_eq!(explains("TerminateInstances", "deleted"), Explains::Yes);
        assert_eq!(explains("DeleteTags", "deleted"), Explains::No);
        assert_eq!(explains("DeleteBucketPolicy", "deleted"), Explains::No);
        assert!(is_delete("Microsoft.Compute/virtualMachines/delete"));
        assert!(is_delete("delete pods"));
    }
}
