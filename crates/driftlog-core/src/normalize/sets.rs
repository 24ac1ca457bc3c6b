//! Set-typed attributes compare as sets.
//!
//! Terraform's JSON writes sets as lists, so the file alone cannot tell a set from a list; the
//! provider schema can, and this table carries what the schemas say for the attributes people
//! meet most (security group rules, CIDR lists, security group ids, ...). Order never matters
//! for these, and a changed set is reported once, at the attribute, with the elements added
//! and removed, which is how people read a rule change.

use super::Context;
use serde_json::Value;

pub const NAME: &str = "set_order";

/// Attribute names that are sets in every resource type that has them.
const ANY_TYPE: &[&str] = &[
    "cidr_blocks",
    "ipv6_cidr_blocks",
    "prefix_list_ids",
    "security_groups",
    "security_group_ids",
    "vpc_security_group_ids",
    "subnet_ids",
    "managed_policy_arns",
    "availability_zones",
    "target_group_arns",
    "load_balancers",
    "enabled_cloudwatch_logs_exports",
    "aliases",
];

/// Attribute names that are sets in one resource type.
const BY_TYPE: &[(&str, &[&str])] = &[
    ("aws_security_group", &["ingress", "egress"]),
    ("aws_default_security_group", &["ingress", "egress"]),
    ("aws_network_acl", &["ingress", "egress", "subnet_ids"]),
    (
        "aws_default_network_acl",
        &["ingress", "egress", "subnet_ids"],
    ),
    (
        "aws_instance",
        &["ebs_block_device", "ephemeral_block_device"],
    ),
    ("aws_route_table", &["route", "propagating_vgws"]),
    ("aws_default_route_table", &["route", "propagating_vgws"]),
    ("aws_iam_role", &["inline_policy"]),
    ("aws_iam_user_group_membership", &["groups"]),
    ("aws_iam_group_membership", &["users"]),
    ("aws_iam_policy_attachment", &["users", "roles", "groups"]),
    ("aws_route53_record", &["records"]),
    ("aws_lb", &["subnets", "subnet_mapping"]),
    ("aws_elb", &["subnets", "instances", "listener"]),
    (
        "aws_autoscaling_group",
        &["vpc_zone_identifier", "tag", "termination_policies"],
    ),
    ("aws_s3_bucket", &["cors_rule", "grant", "lifecycle_rule"]),
    (
        "aws_cloudfront_distribution",
        &["origin", "ordered_cache_behavior", "custom_error_response"],
    ),
    ("aws_lambda_function", &["layers"]),
    ("aws_kms_key", &[]),
    (
        "google_compute_firewall",
        &[
            "allow",
            "deny",
            "source_ranges",
            "target_tags",
            "source_tags",
        ],
    ),
    ("google_storage_bucket_iam_binding", &["members"]),
    ("google_project_iam_binding", &["members"]),
    ("azurerm_network_security_group", &["security_rule"]),
];

/// Whether the attribute at `ctx.path` is a set for this resource type.
pub fn is_set(ctx: &Context<'_>) -> bool {
    let Some(name) = ctx.path.last_key() else {
        return false;
    };
    // A name followed by an index is an element of that attribute, not the attribute itself.
    if matches!(ctx.path.0.last(), Some(crate::path::Segment::Index(_))) {
        return false;
    }
    ANY_TYPE.contains(&name)
        || BY_TYPE
            .iter()
            .any(|(t, names)| *t == ctx.resource_type && names.contains(&name))
}

/// Sort every set (at this path and below) by the text of its canonical elements.
pub fn apply(ctx: &Context<'_>, value: &mut Value) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let path = ctx.path.index(i);
                apply(
                    &Context {
                        resource_type: ctx.resource_type,
                        path: &path,
                    },
                    item,
                );
            }
            if is_set(ctx) {
                items.sort_by_cached_key(|v| v.to_string());
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let path = ctx.path.key(k);
                apply(
                    &Context {
                        resource_type: ctx.resource_type,
                        path: &path,
                    },
                    v,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::AttrPath;
    use serde_json::json;

    fn canon(resource_type: &str, attr: &str, v: Value) -> Value {
        let p = AttrPath::root().key(attr);
        let mut v = v;
        apply(
            &Context {
                resource_type,
                path: &p,
            },
            &mut v,
        );
        v
    }

    #[test]
    fn security_group_rules_are_a_set() {
        let r1 = json!({"from_port": 22, "cidr_blocks": ["10.0.0.0/8", "172.16.0.0/12"]});
        let r2 = json!({"from_port": 443, "cidr_blocks": ["0.0.0.0/0"]});
        let r1_reordered = json!({"from_port": 22, "cidr_blocks": ["172.16.0.0/12", "10.0.0.0/8"]});
        assert_eq!(
            canon("aws_security_group", "ingress", json!([r1, r2.clone()])),
            canon("aws_security_group", "ingress", json!([r2, r1_reordered]))
        );
    }

    #[test]
    fn ordinary_lists_keep_their_order() {
        assert_ne!(
            canon("aws_instance", "root_block_device", json!([1, 2])),
            canon("aws_instance", "root_block_device", json!([2, 1]))
        );
        // `ingress` is only a set where the schema says so.
        assert_ne!(
            canon("aws_foo", "ingress", json!([1, 2])),
            canon("aws_foo", "ingress", json!([2, 1]))
        );
    }

    #[test]
    fn a_changed_member_is_still_a_difference() {
        assert_ne!(
            canon("aws_security_group", "ingress", json!([{"from_port": 22}])),
            canon("aws_security_group", "ingress", json!([{"from_port": 23}]))
        );
    }
}
