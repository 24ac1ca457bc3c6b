//! What makes the same resource look different in every environment, taken out before values
//! are compared.
//!
//! - **Environment words**: `web-prod-sg` and `web-staging-sg` are the same name. Each
//!   environment's words are its `--env` name plus any `--env-token`; a word counts only as a
//!   whole alphanumeric run (`prod` in `web-prod-sg` or `app_prod`, never in `product`), in any
//!   case.
//! - **Account ids and regions** each environment's state mentions (in ARNs, `owner_id`,
//!   `account_id`, `region`, `availability_zone`), learned from the state itself.
//! - **Generated values**: AWS resource ids (`sg-0a1b2c3d`, `vpc-…`, `i-…` with 8 or 17 hex
//!   digits; not image ids, `ami-…`, which a configuration chooses), UUIDs, RFC 3339 timestamps, and Terraform's `name_prefix` suffixes (26 digits).
//! - **Computed-only attributes** that always differ: `id`, `arn`, creation and modification
//!   times, etags, and per type the addresses a provider assigns ([`COMPUTED`]). `tags_all`
//!   keys that mirror `tags` (reported once, under `tags`).
//!
//! Each is replaced (in values, never in keys, so a path leads to the same place in the
//! stated value) by a placeholder (`{env}`, `{account}`, `{region}`, `{id}`, `{uuid}`,
//! `{time}`, `{generated}`), so what is left to differ is what a person would call different.

use serde_json::Value;
use std::collections::BTreeSet;

/// Attributes no environment sets by hand: every resource type.
const COMPUTED_ANY: &[&str] = &[
    "id",
    "arn",
    "unique_id",
    "etag",
    "create_date",
    "created_date",
    "creation_date",
    "created_at",
    "created_time",
    "creation_time",
    "last_modified",
    "last_modified_date",
    "last_updated_date",
    "latest_version",
];

/// Attributes a provider assigns, by resource type (addresses, DNS names, generated ids).
pub const COMPUTED: &[(&str, &[&str])] = &[
    (
        "aws_instance",
        &[
            "private_ip",
            "public_ip",
            "private_dns",
            "public_dns",
            "primary_network_interface_id",
            "ipv6_addresses",
            "outpost_arn",
            "password_data",
        ],
    ),
    (
        "aws_eip",
        &[
            "public_ip",
            "public_dns",
            "private_ip",
            "private_dns",
            "allocation_id",
            "association_id",
            "network_interface",
        ],
    ),
    ("aws_lb", &["dns_name", "arn_suffix", "zone_id"]),
    ("aws_alb", &["dns_name", "arn_suffix", "zone_id"]),
    ("aws_elb", &["dns_name", "zone_id"]),
    ("aws_lb_target_group", &["arn_suffix"]),
    (
        "aws_db_instance",
        &[
            "address",
            "endpoint",
            "hosted_zone_id",
            "resource_id",
            "latest_restorable_time",
            "ca_cert_identifier",
        ],
    ),
    (
        "aws_rds_cluster",
        &[
            "endpoint",
            "reader_endpoint",
            "hosted_zone_id",
            "cluster_resource_id",
            "cluster_members",
        ],
    ),
    (
        "aws_s3_bucket",
        &[
            "bucket_domain_name",
            "bucket_regional_domain_name",
            "hosted_zone_id",
        ],
    ),
    (
        "aws_cloudfront_distribution",
        &[
            "domain_name",
            "status",
            "caller_reference",
            "in_progress_validation_batches",
        ],
    ),
    (
        "aws_iam_access_key",
        &["secret", "ses_smtp_password_v4", "encrypted_secret"],
    ),
    (
        "aws_vpc",
        &[
            "main_route_table_id",
            "default_network_acl_id",
            "default_route_table_id",
            "default_security_group_id",
            "dhcp_options_id",
            "owner_id",
        ],
    ),
    (
        "aws_network_interface",
        &[
            "private_ip",
            "private_ips",
            "mac_address",
            "private_dns_name",
        ],
    ),
    ("aws_sqs_queue", &["url"]),
    (
        "aws_lambda_function",
        &[
            "qualified_arn",
            "invoke_arn",
            "qualified_invoke_arn",
            "version",
            "last_modified",
            "source_code_size",
        ],
    ),
];

/// Id prefixes of things a configuration chooses rather than creates: an image is picked by
/// id, and two environments running different images is a difference worth seeing.
const CHOSEN_IDS: &[&str] = &["ami", "aki", "ari"];

/// One environment: its name and what identifies it inside values.
#[derive(Debug, Clone, Default)]
pub struct EnvProfile {
    pub name: String,
    /// Lower-case words that name the environment in identifiers, longest first.
    pub tokens: Vec<String>,
    /// 12-digit AWS account ids its state mentions.
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
}

impl EnvProfile {
    /// A profile named `name`, with extra words (`--env-token prod=production`).
    pub fn new(name: &str, extra_tokens: &[String]) -> Self {
        let mut tokens: Vec<String> = std::iter::once(name.to_owned())
            .chain(extra_tokens.iter().cloned())
            .map(|t| t.to_ascii_lowercase())
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()))
            .collect();
        tokens.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        tokens.dedup();
        Self {
            name: name.to_owned(),
            tokens,
            ..Self::default()
        }
    }

    /// Learn account ids and regions from one resource's attributes as raw JSON text (a cheap
    /// scan: the text is not parsed).
    pub fn learn_raw(&mut self, json: &str) {
        for arn in find_all(json, "\"arn:") {
            let rest = &json[arn + 1..];
            let end = rest.find('"').unwrap_or(rest.len());
            self.learn_arn(&rest[..end]);
        }
        for key in ["owner_id", "account_id", "aws_account_id"] {
            for value in string_values(json, key) {
                if is_account(value) {
                    self.accounts.insert(value.to_owned());
                }
            }
        }
        for value in string_values(json, "region") {
            if is_region(value) {
                self.regions.insert(value.to_owned());
            }
        }
        for value in string_values(json, "availability_zone") {
            let region = value.trim_end_matches(|c: char| c.is_ascii_lowercase());
            if region.len() < value.len() && is_region(region) {
                self.regions.insert(region.to_owned());
            }
        }
    }

    fn learn_arn(&mut self, arn: &str) {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() == 6 {
            if is_region(parts[3]) {
                self.regions.insert(parts[3].to_owned());
            }
            if is_account(parts[4]) {
                self.accounts.insert(parts[4].to_owned());
            }
        }
    }

    /// Replace, in every string of `value`, what only says which environment it is in.
    pub fn normalize(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(n) = self.normalize_str(s) {
                    *s = n;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.normalize(v)),
            // Keys stay as they are: a path must lead to the same place in the stated value.
            Value::Object(map) => map.values_mut().for_each(|v| self.normalize(v)),
            _ => {}
        }
    }

    /// The normalized text, or `None` when nothing in it names the environment.
    pub fn normalize_str(&self, s: &str) -> Option<String> {
        if is_timestamp(s) {
            return Some("{time}".to_owned());
        }
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut changed = false;
        let mut i = 0;
        // The alphanumeric run before the last separator, for `sg-0123abcd`.
        let mut prev_run: Option<(usize, usize)> = None;
        while i < b.len() {
            if !b[i].is_ascii_alphanumeric() {
                let j = b[i..]
                    .iter()
                    .position(u8::is_ascii_alphanumeric)
                    .map_or(b.len(), |p| i + p);
                out.push_str(&s[i..j]);
                i = j;
                continue;
            }
            if let Some(len) = self.region_at(s, i) {
                out.push_str("{region}");
                changed = true;
                i += len;
                // The rest of that run (the `a` of `us-east-1a`) is not a word of its own.
                let rest = b[i..]
                    .iter()
                    .position(|c| !c.is_ascii_alphanumeric())
                    .map_or(b.len(), |p| i + p);
                out.push_str(&s[i..rest]);
                i = rest;
                prev_run = None;
                continue;
            }
            if is_uuid_at(b, i) {
                out.push_str("{uuid}");
                changed = true;
                i += 36;
                prev_run = None;
                continue;
            }
            let j = b[i..]
                .iter()
                .position(|c| !c.is_ascii_alphanumeric())
                .map_or(b.len(), |p| i + p);
            let run = &s[i..j];
            let generated_id = i > 0
                && b[i - 1] == b'-'
                && prev_run.is_some_and(|(start, end)| {
                    end == i - 1
                        && b[start..end].iter().all(u8::is_ascii_lowercase)
                        && !CHOSEN_IDS.contains(&&s[start..end])
                })
                && is_generated_hex(run);
            let replacement = if self.accounts.contains(run) {
                Some("{account}")
            } else if generated_id {
                Some("{id}")
            } else if run.len() >= 20 && run.bytes().all(|c| c.is_ascii_digit()) {
                Some("{generated}")
            } else if self.tokens.iter().any(|t| run.eq_ignore_ascii_case(t)) {
                Some("{env}")
            } else {
                None
            };
            match replacement {
                Some(r) => {
                    out.push_str(r);
                    changed = true;
                }
                None => out.push_str(run),
            }
            prev_run = Some((i, j));
            i = j;
        }
        changed.then_some(out)
    }

    /// The length of a known region starting at `i`, when one does (and is not followed by
    /// another digit: `us-east-1` is not in `us-east-10`).
    fn region_at(&self, s: &str, i: usize) -> Option<usize> {
        let rest = &s[i..];
        self.regions.iter().find_map(|r| {
            (rest.starts_with(r.as_str())
                && !rest.as_bytes().get(r.len()).is_some_and(u8::is_ascii_digit))
            .then_some(r.len())
        })
    }
}

/// Remove the attributes that always differ between environments, and the `tags_all` keys
/// that mirror `tags`.
pub fn drop_computed(resource_type: &str, attrs: &mut Value) {
    let Value::Object(map) = attrs else {
        return;
    };
    for key in COMPUTED_ANY {
        map.remove(*key);
    }
    if let Some((_, keys)) = COMPUTED.iter().find(|(t, _)| *t == resource_type) {
        for key in *keys {
            map.remove(*key);
        }
    }
    let tags: Vec<String> = match map.get("tags") {
        Some(Value::Object(t)) => t.keys().cloned().collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(all)) = map.get_mut("tags_all") {
        for k in &tags {
            all.remove(k);
        }
    }
}

fn find_all<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    memchr::memmem::find_iter(haystack.as_bytes(), needle.as_bytes())
}

/// The string values of `"key": "…"` pairs in raw JSON text (escapes are not expected in the
/// values looked for, and a value with one is skipped).
fn string_values<'a>(json: &'a str, key: &str) -> Vec<&'a str> {
    let needle = format!("\"{key}\"");
    let mut out = Vec::new();
    for at in find_all(json, &needle) {
        let rest = json[at + needle.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some(end) = rest.find('"') {
            let value = &rest[..end];
            if !value.contains('\\') {
                out.push(value);
            }
        }
    }
    out
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// 8 or 17 lower-case hex digits with at least one digit: the tail of an AWS resource id.
fn is_generated_hex(run: &str) -> bool {
    (run.len() == 8 || run.len() == 17)
        && run
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && run.bytes().any(|b| b.is_ascii_digit())
}

fn is_uuid_at(b: &[u8], i: usize) -> bool {
    let Some(u) = b.get(i..i + 36) else {
        return false;
    };
    let shape_ok = u.iter().enumerate().all(|(k, c)| match k {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit(),
    });
    shape_ok && !b.get(i + 36).is_some_and(u8::is_ascii_alphanumeric)
}

/// A whole RFC 3339 instant (`2024-11-04T10:15:00Z`, with fractions or an offset).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b.len() <= 40
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && s.parse::<jiff::Timestamp>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prod() -> EnvProfile {
        let mut p = EnvProfile::new("prod", &["production".into()]);
        p.learn_raw(
            r#"{"arn": "arn:aws:iam::111122223333:role/app-prod", "availability_zone": "eu-west-1b"}"#,
        );
        p
    }

    #[test]
    fn learns_accounts_and_regions_from_the_state() {
        let p = prod();
        assert_eq!(p.accounts, BTreeSet::from(["111122223333".to_owned()]));
        assert_eq!(p.regions, BTreeSet::from(["eu-west-1".to_owned()]));
        assert_eq!(p.tokens, ["production", "prod"]);
    }

    #[test]
    fn environment_words_only_as_whole_words() {
        let p = prod();
        let n = |s: &str| p.normalize_str(s).unwrap_or_else(|| s.to_owned());
        assert_eq!(n("web-prod-sg"), "web-{env}-sg");
        assert_eq!(n("app_PROD"), "app_{env}");
        assert_eq!(n("Production"), "{env}");
        assert_eq!(n("product-catalog"), "product-catalog");
        assert_eq!(n("webprod"), "webprod");
        assert_eq!(
            n("arn:aws:iam::111122223333:role/app-prod"),
            "arn:aws:iam::{account}:role/app-{env}"
        );
        assert_eq!(n("logs-111122223333-eu-west-1"), "logs-{account}-{region}");
        assert_eq!(n("eu-west-1b"), "{region}b");
        // `a` after a region is a zone letter, not the environment `a`.
        let a = EnvProfile {
            regions: BTreeSet::from(["us-east-1".to_owned()]),
            ..EnvProfile::new("a", &[])
        };
        assert_eq!(a.normalize_str("us-east-1a").as_deref(), Some("{region}a"));
        assert_eq!(a.normalize_str("x-a").as_deref(), Some("x-{env}"));
        assert_eq!(n("eu-west-10"), "eu-west-10");
    }

    #[test]
    fn generated_values_are_placeholders() {
        let p = prod();
        let n = |s: &str| p.normalize_str(s).unwrap_or_else(|| s.to_owned());
        assert_eq!(n("sg-0123abcd"), "sg-{id}");
        assert_eq!(n("vpc-0a1b2c3d4e5f67890"), "vpc-{id}");
        assert_eq!(n("ami-0a1b2c3d4e5f67890"), "ami-0a1b2c3d4e5f67890");
        assert_eq!(
            n("arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0123abcd"),
            "arn:aws:ec2:{region}:{account}:security-group/sg-{id}"
        );
        // Not an id: no digit, or not after a lower-case prefix.
        assert_eq!(n("web-deadbeef"), "web-deadbeef");
        assert_eq!(n("Web-0123abcd"), "Web-0123abcd");
        assert_eq!(n("2024-11-04T10:15:00Z"), "{time}");
        assert_eq!(
            n("terraform-20241104101530123400000001"),
            "terraform-{generated}"
        );
        assert_eq!(n("id 8d5926f0-f6a9-488b-be4e-702fa503d609."), "id {uuid}.");
    }

    #[test]
    fn whole_values_and_keys() {
        let p = prod();
        let mut v = json!({"name": "web-prod", "tags": {"Environment": "production", "prod-owner": "x"}, "n": 3});
        p.normalize(&mut v);
        assert_eq!(
            v,
            json!({"name": "web-{env}", "tags": {"Environment": "{env}", "prod-owner": "x"}, "n": 3})
        );
    }

    #[test]
    fn computed_attributes_go() {
        let mut v = json!({"id": "i-1", "arn": "a", "instance_type": "t3.micro", "private_ip": "10.0.0.1",
                           "tags": {"Name": "web"}, "tags_all": {"Name": "web", "Team": "sre"}});
        drop_computed("aws_instance", &mut v);
        assert_eq!(
            v,
            json!({"instance_type": "t3.micro", "tags": {"Name": "web"}, "tags_all": {"Team": "sre"}})
        );
    }

    #[test]
    fn regions() {
        for r in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-4",
        ] {
            assert!(is_region(r), "{r}");
        }
        for r in ["us-east", "useast-1", "us-east-1a", "global", "a-b-1"] {
            assert!(!is_region(r), "{r}");
        }
    }
}
