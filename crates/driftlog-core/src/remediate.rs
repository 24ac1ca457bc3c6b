//! How to fix a finding, three ways:
//!
//! - **Revert**: put the declared value back. Always `terraform apply -target=ADDRESS` (or
//!   `-replace=ADDRESS` when a changed attribute forces a new resource); and, for the common AWS
//!   changes driftlog attributes, the AWS CLI command that undoes the change, built from the
//!   finding itself (the resource's identifiers and the declared and live values), naming the
//!   attributed call it undoes.
//! - **Codify**: accept the live value into the configuration (a patch; made by the Terraform
//!   reader, which reads `.tf` files — see `driftlog_terraform::codify`).
//! - **Accept for now**: an ignore rule with an owner and an expiry.
//!
//! Commands are quoted for a POSIX shell. A sensitive change gets no command that would carry
//! its value: only the `terraform apply` that restores it from the configuration.

use crate::cause::Attribution;
use crate::finding::{Change, Finding, FindingKind};
use crate::path::{AttrPath, Segment};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Every way to fix one finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    /// Commands that put the declared values back, in order.
    pub revert: Vec<Command>,
    /// A patch to the configuration that accepts the live values, or why there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codify: Option<Codify>,
    /// A `.driftlogignore` line that accepts the drift for now.
    pub accept: String,
}

/// One shell command and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub command: String,
    pub note: String,
    /// The attributed API call this command undoes (`AuthorizeSecurityGroupIngress`, event id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
}

/// A change to the configuration that accepts the live values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Codify {
    /// A unified diff (`patch -p1` from the configuration directory); empty when nothing could
    /// be patched safely.
    pub patch: String,
    /// The files it changes, relative to the configuration directory.
    pub files: Vec<String>,
    /// What was patched, and what was not and why (a value from a variable, a module from a
    /// registry, a secret).
    pub notes: Vec<String>,
}

/// Quote one word for a POSIX shell.
pub fn quote(word: &str) -> String {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", word.replace('\0', "").replace('\'', "'\\''")))
}

/// Attributes whose change makes Terraform replace the resource (the AWS provider's
/// `ForceNew`), for the common types: reverting such a drift is `-replace`, not an update.
const FORCES_NEW: &[(&str, &[&str])] = &[
    (
        "aws_instance",
        &[
            "ami",
            "availability_zone",
            "subnet_id",
            "placement_group",
            "tenancy",
            "key_name",
            "private_ip",
        ],
    ),
    (
        "aws_db_instance",
        &[
            "engine",
            "identifier",
            "availability_zone",
            "storage_encrypted",
            "username",
            "kms_key_id",
            "db_subnet_group_name",
        ],
    ),
    (
        "aws_s3_bucket",
        &["bucket", "bucket_prefix", "object_lock_enabled"],
    ),
    (
        "aws_security_group",
        &["name", "name_prefix", "description", "vpc_id"],
    ),
    ("aws_sqs_queue", &["name", "name_prefix", "fifo_queue"]),
    ("aws_iam_role", &["name", "name_prefix", "path"]),
    ("aws_vpc", &["cidr_block", "instance_tenancy"]),
    (
        "aws_subnet",
        &[
            "vpc_id",
            "cidr_block",
            "availability_zone",
            "availability_zone_id",
        ],
    ),
    ("aws_lambda_function", &["function_name"]),
    ("terraform_data", &["triggers_replace"]),
];

fn forces_new(resource_type: &str, change: &Change) -> bool {
    let top = AttrPath::parse(&change.path)
        .and_then(|p| p.top().map(str::to_owned))
        .unwrap_or_default();
    FORCES_NEW
        .iter()
        .any(|(t, attrs)| *t == resource_type && attrs.contains(&top.as_str()))
}

/// The `terraform apply` that restores the declared state of this one resource.
fn terraform_command(f: &Finding) -> Option<Command> {
    let address = quote(&f.address);
    Some(match f.kind {
        FindingKind::Changed => {
            let replace = f.changes.iter().any(|c| forces_new(&f.resource_type, c));
            if replace {
                Command {
                    command: format!("terraform apply -replace={address}"),
                    note: "recreates the resource with the declared values (a changed attribute forces a new resource)".into(),
                    undoes: None,
                }
            } else {
                Command {
                    command: format!("terraform apply -target={address}"),
                    note: "updates the resource back to the declared values".into(),
                    undoes: None,
                }
            }
        }
        FindingKind::Deleted => Command {
            command: format!("terraform apply -target={address}"),
            note: "creates the deleted resource again from the configuration".into(),
            undoes: None,
        },
        FindingKind::Unmanaged => Command {
            command: format!("terraform import {address} ID"),
            note: "or delete it; an unmanaged resource is not in the configuration, so there is nothing to put back".into(),
            undoes: None,
        },
    })
}

/// The resource's coordinates, from its identifiers.
struct Target<'a> {
    identifiers: &'a [String],
}

impl Target<'_> {
    fn starting(&self, prefix: &str) -> Option<&str> {
        self.identifiers
            .iter()
            .map(String::as_str)
            .find(|i| i.starts_with(prefix))
    }

    fn arn(&self, service: &str) -> Option<&str> {
        self.identifiers
            .iter()
            .map(String::as_str)
            .find(|i| i.starts_with("arn:") && i.split(':').nth(2) == Some(service))
    }

    /// The region from an ARN or a queue URL.
    fn region(&self) -> Option<&str> {
        self.identifiers.iter().find_map(|i| {
            if i.starts_with("arn:") {
                i.split(':').nth(3).filter(|r| !r.is_empty())
            } else if let Some(rest) = i.strip_prefix("https://sqs.") {
                rest.split('.').next()
            } else {
                None
            }
        })
    }

    /// `--region R`, when the identifiers say (IAM is global and gets none).
    fn region_flag(&self) -> String {
        self.region()
            .map(|r| format!(" --region {}", quote(r)))
            .unwrap_or_default()
    }

    /// The last segment of an ARN's resource part (`role/path/name` → `name`).
    fn arn_name(&self, service: &str) -> Option<&str> {
        let arn = self.arn(service)?;
        let resource = arn.splitn(6, ':').nth(5)?;
        resource.rsplit(['/', ':']).next()
    }

    fn bucket(&self) -> Option<&str> {
        self.arn("s3")
            .and_then(|a| a.strip_prefix("arn:aws:s3:::"))
            .or_else(|| {
                self.identifiers
                    .iter()
                    .map(String::as_str)
                    .find(|i| !i.contains(':') && !i.contains('/'))
            })
    }
}

/// The attributed event that explains `path`, as `Action (event id)`.
fn undoes(attribution: Option<&Attribution>, path: &str) -> Option<String> {
    let a = attribution?;
    let top = path.split(['.', '[']).next().unwrap_or(path);
    a.caused_by
        .iter()
        .find(|e| {
            e.explains.is_empty()
                || e.explains
                    .iter()
                    .any(|x| x == path || x == top || path.starts_with(&format!("{x}.")))
        })
        .map(|e| {
            let who = e.principal.as_deref().unwrap_or("?");
            format!("{} by {who} at {} (event {})", e.action, e.time, e.event_id)
        })
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A security-group rule from state (`from_port`, `cidr_blocks`…) as the EC2 API's
/// `IpPermission`.
fn ip_permission(rule: &Value, with_descriptions: bool) -> Value {
    let list = |key: &str| -> Vec<Value> {
        rule.get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let description = rule
        .get("description")
        .and_then(Value::as_str)
        .filter(|d| with_descriptions && !d.is_empty());
    let with_description = |mut v: Map<String, Value>| {
        if let Some(d) = description {
            v.insert("Description".into(), json!(d));
        }
        Value::Object(v)
    };
    let mut p = Map::new();
    p.insert(
        "IpProtocol".into(),
        rule.get("protocol").cloned().unwrap_or(json!("-1")),
    );
    for (from, to) in [("from_port", "FromPort"), ("to_port", "ToPort")] {
        if let Some(n) = rule.get(from).filter(|v| v.is_number()) {
            p.insert(to.into(), n.clone());
        }
    }
    let ranges: Vec<Value> = list("cidr_blocks")
        .iter()
        .filter_map(Value::as_str)
        .map(|c| with_description(Map::from_iter([("CidrIp".to_owned(), json!(c))])))
        .collect();
    if !ranges.is_empty() {
        p.insert("IpRanges".into(), Value::Array(ranges));
    }
    let v6: Vec<Value> = list("ipv6_cidr_blocks")
        .iter()
        .filter_map(Value::as_str)
        .map(|c| with_description(Map::from_iter([("CidrIpv6".to_owned(), json!(c))])))
        .collect();
    if !v6.is_empty() {
        p.insert("Ipv6Ranges".into(), Value::Array(v6));
    }
    let prefixes: Vec<Value> = list("prefix_list_ids")
        .iter()
        .filter_map(Value::as_str)
        .map(|c| with_description(Map::from_iter([("PrefixListId".to_owned(), json!(c))])))
        .collect();
    if !prefixes.is_empty() {
        p.insert("PrefixListIds".into(), Value::Array(prefixes));
    }
    let groups: Vec<Value> = list("security_groups")
        .iter()
        .filter_map(Value::as_str)
        .map(|g| with_description(Map::from_iter([("GroupId".to_owned(), json!(g))])))
        .collect();
    if !groups.is_empty() {
        p.insert("UserIdGroupPairs".into(), Value::Array(groups));
    }
    Value::Object(p)
}

/// SQS queue attributes as the API names them, by the provider's attribute name.
const SQS_ATTRIBUTES: &[(&str, &str)] = &[
    ("visibility_timeout_seconds", "VisibilityTimeout"),
    ("message_retention_seconds", "MessageRetentionPeriod"),
    ("max_message_size", "MaximumMessageSize"),
    ("delay_seconds", "DelaySeconds"),
    ("receive_wait_time_seconds", "ReceiveMessageWaitTimeSeconds"),
    ("policy", "Policy"),
    ("redrive_policy", "RedrivePolicy"),
    ("kms_master_key_id", "KmsMasterKeyId"),
    (
        "kms_data_key_reuse_period_seconds",
        "KmsDataKeyReusePeriodSeconds",
    ),
    ("sqs_managed_sse_enabled", "SqsManagedSseEnabled"),
    ("content_based_deduplication", "ContentBasedDeduplication"),
];

/// How a tagging API takes tags to set.
enum TagForm {
    /// `'Key=K,Value=V' …` (EC2, IAM).
    KeyValue,
    /// `'{"K": "V"}'` (SQS, Lambda).
    JsonMap,
}

/// The tag key of a `tags.KEY` change.
fn tag_key(change: &Change) -> Option<String> {
    match AttrPath::parse(&change.path)?.0.as_slice() {
        [Segment::Key(top), Segment::Key(key)] if top == "tags" => Some(key.clone()),
        _ => None,
    }
}

/// AWS CLI commands that put this finding's declared values back, for the changes driftlog
/// knows how to undo directly.
fn aws_commands(f: &Finding) -> Vec<Command> {
    if f.kind != FindingKind::Changed {
        return Vec::new();
    }
    let t = Target {
        identifiers: &f.identifiers,
    };
    let region = t.region_flag();
    let attribution = f.attribution.as_ref();
    let mut out = Vec::new();
    let mut push = |command: String, note: String, path: &str| {
        out.push(Command {
            command,
            note,
            undoes: undoes(attribution, path),
        })
    };
    // Tags: one command for the keys added live, one for the keys to set back.
    let tags: Vec<(&Change, String)> = f
        .changes
        .iter()
        .filter(|c| !c.sensitive)
        .filter_map(|c| tag_key(c).map(|k| (c, k)))
        .collect();
    let added: Vec<&str> = tags
        .iter()
        .filter(|(c, _)| c.before.is_null())
        .map(|(_, k)| k.as_str())
        .collect();
    let restored: Vec<(&str, String)> = tags
        .iter()
        .filter_map(|(c, k)| text(&c.before).map(|v| (k.as_str(), v)))
        .collect();
    let first_tag_path = tags
        .first()
        .map(|(c, _)| c.path.clone())
        .unwrap_or_default();
    match f.resource_type.as_str() {
        "aws_security_group" => {
            if let Some(group) = t.starting("sg-") {
                for (key, api) in [("ingress", "ingress"), ("egress", "egress")] {
                    let Some(change) = f.changes.iter().find(|c| c.path == key && !c.sensitive)
                    else {
                        continue;
                    };
                    let added = change.added.as_deref().unwrap_or_default();
                    if !added.is_empty() {
                        let perms: Vec<Value> =
                            added.iter().map(|r| ip_permission(r, false)).collect();
                        push(
                            format!(
                                "aws ec2 revoke-security-group-{api} --group-id {}{region} --ip-permissions {}",
                                quote(group),
                                quote(&Value::Array(perms).to_string())
                            ),
                            format!("removes the {} rule(s) added outside Terraform", added.len()),
                            key,
                        );
                    }
                    let removed = change.removed.as_deref().unwrap_or_default();
                    if !removed.is_empty() {
                        let perms: Vec<Value> =
                            removed.iter().map(|r| ip_permission(r, true)).collect();
                        push(
                            format!(
                                "aws ec2 authorize-security-group-{api} --group-id {}{region} --ip-permissions {}",
                                quote(group),
                                quote(&Value::Array(perms).to_string())
                            ),
                            format!("adds back the {} declared rule(s) removed outside Terraform", removed.len()),
                            key,
                        );
                    }
                }
            }
        }
        "aws_instance" => {
            if let Some(id) = t.starting("i-") {
                if let Some(c) = f.changes.iter().find(|c| c.path == "instance_type") {
                    if let Some(declared) = text(&c.before) {
                        let id = quote(id);
                        push(
                            format!(
                                "aws ec2 stop-instances --instance-ids {id}{region} && aws ec2 wait instance-stopped --instance-ids {id}{region} && aws ec2 modify-instance-attribute --instance-id {id}{region} --instance-type {} && aws ec2 start-instances --instance-ids {id}{region}",
                                quote(&format!("Value={declared}"))
                            ),
                            "the instance type can only change while the instance is stopped".into(),
                            "instance_type",
                        );
                    }
                }
            }
        }
        "aws_s3_bucket_policy" | "aws_s3_bucket" => {
            if let Some(bucket) = t.bucket() {
                if let Some(c) = f
                    .changes
                    .iter()
                    .find(|c| c.path == "policy" && !c.sensitive)
                {
                    match text(&c.before).filter(|p| !p.is_empty()) {
                        Some(policy) => push(
                            format!(
                                "aws s3api put-bucket-policy --bucket {}{region} --policy {}",
                                quote(bucket),
                                quote(&policy)
                            ),
                            "puts the declared policy back".into(),
                            "policy",
                        ),
                        None => push(
                            format!(
                                "aws s3api delete-bucket-policy --bucket {}{region}",
                                quote(bucket)
                            ),
                            "the configuration declares no policy".into(),
                            "policy",
                        ),
                    }
                }
            }
        }
        "aws_iam_role" => {
            if let Some(role) = t.arn_name("iam") {
                if let Some(c) = f
                    .changes
                    .iter()
                    .find(|c| c.path == "assume_role_policy" && !c.sensitive)
                {
                    if let Some(policy) = text(&c.before) {
                        push(
                            format!(
                                "aws iam update-assume-role-policy --role-name {} --policy-document {}",
                                quote(role),
                                quote(&policy)
                            ),
                            "puts the declared trust policy back".into(),
                            "assume_role_policy",
                        );
                    }
                }
            }
        }
        "aws_sqs_queue" => {
            if let Some(url) = t.starting("https://sqs.") {
                let mut attrs = Map::new();
                let mut first = None;
                for c in f.changes.iter().filter(|c| !c.sensitive) {
                    if let Some((_, api)) = SQS_ATTRIBUTES.iter().find(|(tf, _)| *tf == c.path) {
                        if let Some(v) = text(&c.before) {
                            attrs.insert((*api).to_owned(), json!(v));
                            first.get_or_insert(c.path.clone());
                        }
                    }
                }
                if let Some(path) = first {
                    push(
                        format!(
                            "aws sqs set-queue-attributes --queue-url {}{region} --attributes {}",
                            quote(url),
                            quote(&Value::Object(attrs).to_string())
                        ),
                        "sets the declared queue attributes back".into(),
                        &path,
                    );
                }
            }
        }
        _ => {}
    }
    // Tags, by the API each service tags with: the command that removes keys, the one that
    // sets tags, how it takes tags, and how it names a key to remove.
    if !tags.is_empty() {
        let ec2 = ["i-", "sg-", "vpc-", "subnet-"]
            .iter()
            .find_map(|p| t.starting(p));
        let api = match f.resource_type.as_str() {
            "aws_instance" | "aws_security_group" | "aws_vpc" | "aws_subnet" => ec2.map(|id| {
                let target = format!("--resources {}{region}", quote(id));
                (
                    format!("aws ec2 delete-tags {target} --tags"),
                    format!("aws ec2 create-tags {target} --tags"),
                    TagForm::KeyValue,
                    "Key=",
                )
            }),
            "aws_iam_role" => t.arn_name("iam").map(|role| {
                let target = format!("--role-name {}", quote(role));
                (
                    format!("aws iam untag-role {target} --tag-keys"),
                    format!("aws iam tag-role {target} --tags"),
                    TagForm::KeyValue,
                    "",
                )
            }),
            "aws_sqs_queue" => t.starting("https://sqs.").map(|url| {
                let target = format!("--queue-url {}{region}", quote(url));
                (
                    format!("aws sqs untag-queue {target} --tag-keys"),
                    format!("aws sqs tag-queue {target} --tags"),
                    TagForm::JsonMap,
                    "",
                )
            }),
            "aws_lambda_function" => t.arn("lambda").map(|arn| {
                let target = format!("--resource {}{region}", quote(arn));
                (
                    format!("aws lambda untag-resource {target} --tag-keys"),
                    format!("aws lambda tag-resource {target} --tags"),
                    TagForm::JsonMap,
                    "",
                )
            }),
            _ => None,
        };
        if let Some((untag, tag, form, key_prefix)) = api {
            if !added.is_empty() {
                // EC2 names keys to delete as `Key=K`; the others take bare keys.
                let keys: Vec<String> = added
                    .iter()
                    .map(|k| quote(&format!("{key_prefix}{k}")))
                    .collect();
                push(
                    format!("{untag} {}", keys.join(" ")),
                    "removes the tags added outside Terraform".into(),
                    &first_tag_path,
                );
            }
            if !restored.is_empty() {
                let values = match form {
                    TagForm::KeyValue => restored
                        .iter()
                        .map(|(k, v)| quote(&format!("Key={k},Value={v}")))
                        .collect::<Vec<_>>()
                        .join(" "),
                    TagForm::JsonMap => {
                        let map: Map<String, Value> = restored
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), json!(v)))
                            .collect();
                        quote(&Value::Object(map).to_string())
                    }
                };
                push(
                    format!("{tag} {values}"),
                    "sets the declared tag values back".into(),
                    &first_tag_path,
                );
            }
        } else if f.resource_type == "aws_s3_bucket" {
            if let Some(bucket) = t.bucket() {
                let declared: Vec<String> =
                    restored.iter().map(|(k, v)| format!("{k}={v}")).collect();
                push(
                    format!(
                        "aws s3api get-bucket-tagging --bucket {}{region}  # then put-bucket-tagging with the declared tags: {}",
                        quote(bucket),
                        declared.join(", ")
                    ),
                    "bucket tags are replaced as a whole set: put back the declared set (the other declared tags are in the configuration)".into(),
                    &first_tag_path,
                );
            }
        }
    }
    out
}

/// The `.driftlogignore` line that accepts this finding until `expires`, owned by `owner`.
pub fn accept_line(f: &Finding, owner: &str, expires: &str) -> String {
    let reason = match f.kind {
        FindingKind::Changed => format!(
            "accepted drift of {}",
            f.changes
                .iter()
                .map(|c| c.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        FindingKind::Deleted => "accepted deletion".to_owned(),
        FindingKind::Unmanaged => "accepted unmanaged resource".to_owned(),
    };
    let owner = owner.replace(['"', ' '], "_");
    format!(
        "{} expires={expires} owner={owner} reason=\"{}\"",
        f.address.replace(' ', "?"),
        reason.replace('"', "'")
    )
}

/// Revert commands and the accept line for one finding (codify is added by the caller that
/// has the configuration).
pub fn remediate(f: &Finding, owner: &str, expires: &str) -> Remediation {
    let mut revert: Vec<Command> = terraform_command(f).into_iter().collect();
    revert.extend(aws_commands(f));
    Remediation {
        revert,
        codify: None,
        accept: accept_line(f, owner, expires),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(resource_type: &str, address: &str, ids: &[&str], changes: Vec<Change>) -> Finding {
        Finding {
            address: address.into(),
            resource_type: resource_type.into(),
            provider: String::new(),
            kind: FindingKind::Changed,
            deposed: None,
            previous_address: None,
            changes,
            identifiers: ids.iter().map(|s| (*s).to_owned()).collect(),
            attribution: None,
            remediation: None,
            discovery: None,
            stack: None,
        }
    }

    #[test]
    fn an_added_ingress_rule_is_revoked() {
        let rule = json!({"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "description": "debug", "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false});
        let mut c = Change::new("ingress".into(), json!([]), json!([rule]));
        c.added = Some(vec![rule]);
        c.removed = Some(vec![]);
        let f = finding(
            "aws_security_group",
            "aws_security_group.web",
            &[
                "sg-0123456789abcdef0",
                "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0",
            ],
            vec![c],
        );
        let r = remediate(&f, "alice", "2026-12-31");
        assert_eq!(
            r.revert[0].command,
            "terraform apply -target=aws_security_group.web"
        );
        assert_eq!(
            r.revert[1].command,
            r#"aws ec2 revoke-security-group-ingress --group-id sg-0123456789abcdef0 --region eu-west-1 --ip-permissions '[{"FromPort":22,"IpProtocol":"tcp","IpRanges":[{"CidrIp":"0.0.0.0/0"}],"ToPort":22}]'"#
        );
        assert_eq!(
            r.accept,
            r#"aws_security_group.web expires=2026-12-31 owner=alice reason="accepted drift of ingress""#
        );
    }

    #[test]
    fn addresses_and_values_are_quoted() {
        let c = Change::new(
            "policy".into(),
            json!("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"it's\"}]}"),
            json!("{}"),
        );
        let f = finding(
            "aws_s3_bucket_policy",
            "aws_s3_bucket_policy.b[\"x\"]",
            &["logs", "arn:aws:s3:::logs"],
            vec![c],
        );
        let r = remediate(&f, "bob", "2026-12-31");
        assert_eq!(
            r.revert[0].command,
            r#"terraform apply -target='aws_s3_bucket_policy.b["x"]'"#
        );
        // The shell gives the command back its words exactly.
        let words = shlex::split(&r.revert[1].command).unwrap();
        assert_eq!(
            words[..5],
            ["aws", "s3api", "put-bucket-policy", "--bucket", "logs"]
        );
        assert_eq!(
            words[6],
            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"it's\"}]}"
        );
    }

    #[test]
    fn forced_replacement_and_secrets() {
        let mut c = Change::new(
            "password".into(),
            json!("(sensitive)"),
            json!("(sensitive)"),
        );
        c.sensitive = true;
        let ami = Change::new("ami".into(), json!("ami-1"), json!("ami-2"));
        let f = finding(
            "aws_instance",
            "aws_instance.web",
            &["i-0abc"],
            vec![ami, c],
        );
        let r = remediate(&f, "o", "2026-12-31");
        assert_eq!(
            r.revert[0].command,
            "terraform apply -replace=aws_instance.web"
        );
        assert_eq!(r.revert.len(), 1);
    }

    #[test]
    fn queue_attributes_and_tags() {
        let t = Change::new("visibility_timeout_seconds".into(), json!(30), json!(60));
        let tag = Change::new("tags.CostCenter".into(), Value::Null, json!("x"));
        let f = finding(
            "aws_sqs_queue",
            "aws_sqs_queue.jobs",
            &[
                "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
                "arn:aws:sqs:us-east-1:123456789012:jobs",
            ],
            vec![t, tag],
        );
        let r = remediate(&f, "o", "2026-12-31");
        let cmds: Vec<&str> = r.revert.iter().map(|c| c.command.as_str()).collect();
        assert_eq!(
            cmds[1],
            r#"aws sqs set-queue-attributes --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/jobs --region us-east-1 --attributes '{"VisibilityTimeout":"30"}'"#
        );
        assert_eq!(cmds[2], "aws sqs untag-queue --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/jobs --region us-east-1 --tag-keys CostCenter");
    }
}
