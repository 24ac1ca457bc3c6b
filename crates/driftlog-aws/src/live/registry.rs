//! The supported resource types, one entry each: which API object holds it, which declared
//! attribute names that object, how the object is projected onto the resource, and which
//! attributes that projection can check. Adding a type is an entry here and, for a new API,
//! one reader in `ec2`, `s3`, `iam` or `services`.

use super::pace::CallError;
use super::rules;
use super::{ec2, iam, s3, services, Ctx, Fetched};
use serde_json::Value;

/// An API object driftlog reads, keyed by one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    Vpc,
    Subnet,
    SecurityGroup,
    SecurityGroupRule,
    Instance,
    RouteTable,
    Bucket,
    BucketPolicy,
    BucketVersioning,
    BucketEncryption,
    BucketPublicAccessBlock,
    Role,
    RolePolicy,
    RoleAttachments,
    Policy,
    User,
    DbInstance,
    Function,
    Queue,
    Topic,
    Table,
    Key,
}

impl Api {
    /// The pacing lane (and the name alerts use).
    pub fn service(self) -> &'static str {
        use Api::*;
        match self {
            Vpc | Subnet | SecurityGroup | SecurityGroupRule | Instance | RouteTable => "ec2",
            Bucket
            | BucketPolicy
            | BucketVersioning
            | BucketEncryption
            | BucketPublicAccessBlock => "s3",
            Role | RolePolicy | RoleAttachments | Policy | User => "iam",
            DbInstance => "rds",
            Function => "lambda",
            Queue => "sqs",
            Topic => "sns",
            Table => "dynamodb",
            Key => "kms",
        }
    }

    /// IAM has one endpoint for the whole account.
    pub fn global(self) -> bool {
        self.service() == "iam"
    }

    /// Ids per task: EC2 reads many ids per request; the others read one id per request, and
    /// small tasks spread them over the lane's concurrency.
    pub fn batch(self) -> usize {
        if self.service() == "ec2" {
            ec2::BATCH
        } else {
            4
        }
    }

    /// Whether this API's listing returns whole objects, so that reading listed ids again
    /// would only repeat requests.
    pub fn lists_whole(self) -> bool {
        self.service() == "ec2" || matches!(self, Api::DbInstance)
    }

    pub(crate) async fn fetch(
        self,
        ctx: &Ctx,
        region: &str,
        ids: &[String],
    ) -> Result<Fetched, CallError> {
        use Api::*;
        match self {
            Vpc => ec2::vpcs(ctx, region, ids).await,
            Subnet => ec2::subnets(ctx, region, ids).await,
            SecurityGroup => ec2::security_groups(ctx, region, ids).await,
            SecurityGroupRule => ec2::security_group_rules(ctx, region, ids).await,
            Instance => ec2::instances(ctx, region, ids).await,
            RouteTable => ec2::route_tables(ctx, region, ids).await,
            Bucket => s3::buckets(ctx, region, ids).await,
            BucketPolicy => s3::bucket_policies(ctx, region, ids).await,
            BucketVersioning => s3::versionings(ctx, region, ids).await,
            BucketEncryption => s3::encryptions(ctx, region, ids).await,
            BucketPublicAccessBlock => s3::public_access_blocks(ctx, region, ids).await,
            Role => iam::roles(ctx, region, ids).await,
            RolePolicy => iam::role_policies(ctx, region, ids).await,
            RoleAttachments => iam::role_attachments(ctx, region, ids).await,
            Policy => iam::policies(ctx, region, ids).await,
            User => iam::users(ctx, region, ids).await,
            DbInstance => services::db_instances(ctx, region, ids).await,
            Function => services::functions(ctx, region, ids).await,
            Queue => services::queues(ctx, region, ids).await,
            Topic => services::topics(ctx, region, ids).await,
            Table => services::tables(ctx, region, ids).await,
            Key => services::keys(ctx, region, ids).await,
        }
    }

    /// Every object of this kind in a region (or the account, for global APIs); `None` for
    /// APIs that are not enumerated (their objects are parts of other resources).
    pub(crate) async fn list(self, ctx: &Ctx, region: &str) -> Option<Result<Fetched, CallError>> {
        use Api::*;
        Some(match self {
            Vpc | Subnet | SecurityGroup | Instance | RouteTable => {
                self.fetch(ctx, region, &[]).await
            }
            Bucket => s3::list_buckets(ctx, region).await,
            Role => iam::list_roles(ctx, region).await,
            Policy => iam::list_policies(ctx, region).await,
            User => iam::list_users(ctx, region).await,
            DbInstance => services::list_db_instances(ctx, region).await,
            Function => services::list_functions(ctx, region).await,
            Queue => services::list_queues(ctx, region).await,
            Topic => services::list_topics(ctx, region).await,
            Table => services::list_tables(ctx, region).await,
            Key => services::list_keys(ctx, region).await,
            _ => return None,
        })
    }

    /// The form in which a listed id and a declared one are compared (queue URLs differ by
    /// host between endpoints; their names do not).
    pub fn match_key(self, id: &str) -> String {
        match self {
            Api::Queue => services::queue_name(id).to_owned(),
            _ => id.to_owned(),
        }
    }
}

/// How an API object becomes the resource's live attributes.
#[derive(Clone, Copy)]
pub enum Project {
    /// The object is the resource.
    Same,
    /// The resource is a part of the object (a rule of a group, an attachment of a role);
    /// `None` when the part is gone.
    Part(fn(&Value, &Value) -> Option<Value>),
}

/// One supported resource type.
pub struct TypeSpec {
    pub tf_type: &'static str,
    pub api: Api,
    /// The id of the API object, from the declared attributes.
    pub key: fn(&Value) -> Option<String>,
    pub project: Project,
    /// The attributes the projection fills (besides `tags`, derived from `tags_all`).
    pub checked: &'static [&'static str],
    /// Whether listing the API reports unmanaged resources of this type.
    pub enumerate: bool,
}

fn attr(name: &'static str) -> impl Fn(&Value) -> Option<String> {
    move |v| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }
}

fn id(v: &Value) -> Option<String> {
    attr("id")(v)
}
fn bucket(v: &Value) -> Option<String> {
    attr("bucket")(v).or_else(|| id(v))
}
fn name(v: &Value) -> Option<String> {
    attr("name")(v).or_else(|| id(v))
}
fn role(v: &Value) -> Option<String> {
    attr("role")(v)
}
fn arn(v: &Value) -> Option<String> {
    attr("arn")(v).or_else(|| id(v))
}
fn identifier(v: &Value) -> Option<String> {
    attr("identifier")(v)
}
fn function_name(v: &Value) -> Option<String> {
    attr("function_name")(v).or_else(|| id(v))
}
fn key_id(v: &Value) -> Option<String> {
    attr("key_id")(v).or_else(|| id(v))
}
fn security_group_id(v: &Value) -> Option<String> {
    attr("security_group_id")(v)
}
fn role_policy_id(v: &Value) -> Option<String> {
    id(v)
        .filter(|i| i.contains(':'))
        .or_else(|| Some(format!("{}:{}", attr("role")(v)?, attr("name")(v)?)))
}

fn attachment(object: &Value, declared: &Value) -> Option<Value> {
    let wanted = declared.get("policy_arn")?.as_str()?;
    let attached = object.get("policy_arns")?.as_array()?;
    attached
        .iter()
        .any(|a| a.as_str() == Some(wanted))
        .then(|| serde_json::json!({"role": object["role"], "policy_arn": wanted}))
}

macro_rules! types {
    ($($t:literal => $api:ident, $key:expr, $project:expr, $enumerate:literal, [$($c:literal),* $(,)?];)*) => {
        /// Every supported type.
        pub static TYPES: &[TypeSpec] = &[$(TypeSpec {
            tf_type: $t,
            api: Api::$api,
            key: $key,
            project: $project,
            checked: &[$($c),*],
            enumerate: $enumerate,
        }),*];
    };
}

types! {
    "aws_vpc" => Vpc, id, Project::Same, true, ["cidr_block", "instance_tenancy", "tags_all"];
    "aws_subnet" => Subnet, id, Project::Same, true,
        ["vpc_id", "cidr_block", "availability_zone", "map_public_ip_on_launch", "tags_all"];
    "aws_security_group" => SecurityGroup, id, Project::Same, true,
        ["name", "description", "vpc_id", "ingress", "egress", "tags_all"];
    "aws_security_group_rule" => SecurityGroup, security_group_id, Project::Part(rules::legacy_rule), false,
        ["type", "security_group_id", "protocol", "from_port", "to_port", "cidr_blocks",
         "ipv6_cidr_blocks", "prefix_list_ids", "source_security_group_id", "self", "description"];
    "aws_vpc_security_group_ingress_rule" => SecurityGroupRule, id, Project::Part(rules::ingress_rule), false,
        ["security_group_id", "ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6",
         "prefix_list_id", "referenced_security_group_id", "description", "tags_all"];
    "aws_vpc_security_group_egress_rule" => SecurityGroupRule, id, Project::Part(rules::egress_rule), false,
        ["security_group_id", "ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6",
         "prefix_list_id", "referenced_security_group_id", "description", "tags_all"];
    "aws_instance" => Instance, id, Project::Same, true,
        ["ami", "instance_type", "subnet_id", "availability_zone", "vpc_security_group_ids",
         "key_name", "private_ip", "monitoring", "ebs_optimized", "source_dest_check", "tags_all"];
    "aws_route_table" => RouteTable, id, Project::Same, true, ["vpc_id", "route", "tags_all"];
    "aws_s3_bucket" => Bucket, bucket, Project::Same, true, ["bucket", "policy", "tags_all"];
    "aws_s3_bucket_policy" => BucketPolicy, bucket, Project::Same, false, ["bucket", "policy"];
    "aws_s3_bucket_versioning" => BucketVersioning, bucket, Project::Same, false,
        ["bucket", "versioning_configuration"];
    "aws_s3_bucket_server_side_encryption_configuration" => BucketEncryption, bucket, Project::Same, false,
        ["bucket", "rule"];
    "aws_s3_bucket_public_access_block" => BucketPublicAccessBlock, bucket, Project::Same, false,
        ["bucket", "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];
    "aws_iam_role" => Role, name, Project::Same, true,
        ["name", "path", "description", "max_session_duration", "assume_role_policy",
         "permissions_boundary", "tags_all"];
    "aws_iam_role_policy" => RolePolicy, role_policy_id, Project::Same, false, ["role", "name", "policy"];
    "aws_iam_role_policy_attachment" => RoleAttachments, role, Project::Part(attachment), false,
        ["role", "policy_arn"];
    "aws_iam_policy" => Policy, arn, Project::Same, true,
        ["name", "path", "description", "policy", "tags_all"];
    "aws_iam_user" => User, name, Project::Same, true, ["name", "path", "permissions_boundary", "tags_all"];
    "aws_db_instance" => DbInstance, identifier, Project::Same, true,
        ["identifier", "instance_class", "engine", "allocated_storage", "storage_type", "multi_az",
         "publicly_accessible", "username", "db_name", "vpc_security_group_ids", "tags_all"];
    "aws_lambda_function" => Function, function_name, Project::Same, true,
        ["function_name", "runtime", "handler", "role", "memory_size", "timeout", "description",
         "environment", "architectures", "package_type", "tags_all"];
    "aws_sqs_queue" => Queue, id, Project::Same, true,
        ["name", "visibility_timeout_seconds", "message_retention_seconds", "max_message_size",
         "delay_seconds", "receive_wait_time_seconds", "policy", "redrive_policy", "fifo_queue",
         "content_based_deduplication", "kms_master_key_id", "tags_all"];
    "aws_sns_topic" => Topic, arn, Project::Same, true,
        ["name", "display_name", "policy", "kms_master_key_id", "fifo_topic", "tags_all"];
    "aws_dynamodb_table" => Table, name, Project::Same, true,
        ["name", "billing_mode", "hash_key", "range_key", "attribute", "read_capacity",
         "write_capacity", "stream_enabled", "tags_all"];
    "aws_kms_key" => Key, key_id, Project::Same, true,
        ["description", "key_usage", "customer_master_key_spec", "is_enabled", "tags_all"];
}

/// The entry for a Terraform type.
pub fn spec(tf_type: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|t| t.tf_type == tf_type)
}

/// Tags are checked through `tags_all`; both names count as checked.
pub fn is_checked(spec: &TypeSpec, attribute: &str) -> bool {
    spec.checked.contains(&attribute) || (attribute == "tags" && spec.checked.contains(&"tags_all"))
}
