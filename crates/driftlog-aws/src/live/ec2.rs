//! EC2 and VPC reads: one `Describe*` call per page for up to [`BATCH`] ids, by filter rather
//! than by id list, so a deleted id is simply absent instead of failing the whole batch
//! (`InvalidGroup.NotFound`). With no ids the same call lists everything (enumeration).
//!
//! Each response is projected onto the Terraform AWS provider's (5.x) attribute names, as its
//! `Read` function stores them.

use super::pace::CallError;
use super::{tags, Ctx, Fetched};
use aws_sdk_ec2::types::{Filter, IpPermission, Tag};
use serde_json::{json, Value};

/// Ids per request (EC2 accepts up to 200 values in one filter).
pub const BATCH: usize = 200;

fn by_id(name: &str, ids: &[String]) -> Option<Filter> {
    (!ids.is_empty()).then(|| {
        Filter::builder()
            .name(name)
            .set_values(Some(ids.to_vec()))
            .build()
    })
}

fn ec2_tags(t: &[Tag]) -> Value {
    tags(t.iter().map(|t| (t.key(), t.value())))
}

pub async fn vpcs(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("ec2", region, || {
                client
                    .describe_vpcs()
                    .set_filters(by_id("vpc-id", ids).map(|f| vec![f]))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for v in page.vpcs() {
            let Some(id) = v.vpc_id() else { continue };
            let mut a = json!({
                "id": id,
                "cidr_block": v.cidr_block().unwrap_or_default(),
                "instance_tenancy": v.instance_tenancy().map(|t| t.as_str()).unwrap_or("default"),
                "tags_all": ec2_tags(v.tags()),
            });
            if v.is_default() == Some(true) {
                a["__default"] = json!("the account's default VPC");
            }
            out.push((id.to_owned(), a));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn subnets(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("ec2", region, || {
                client
                    .describe_subnets()
                    .set_filters(by_id("subnet-id", ids).map(|f| vec![f]))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for s in page.subnets() {
            let Some(id) = s.subnet_id() else { continue };
            let mut a = json!({
                "id": id,
                "vpc_id": s.vpc_id().unwrap_or_default(),
                "cidr_block": s.cidr_block().unwrap_or_default(),
                "availability_zone": s.availability_zone().unwrap_or_default(),
                "map_public_ip_on_launch": s.map_public_ip_on_launch().unwrap_or(false),
                "tags_all": ec2_tags(s.tags()),
            });
            if s.default_for_az() == Some(true) {
                a["__default"] = json!("a default subnet of the default VPC");
            }
            out.push((id.to_owned(), a));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

use super::rules::{self, protocol as protocol_name};

/// Ports as the provider stores them: 0 for "all protocols" and when AWS gives none.
fn ports(protocol: &str, from: Option<i32>, to: Option<i32>) -> (i64, i64) {
    if protocol == "-1" {
        return (0, 0);
    }
    (i64::from(from.unwrap_or(0)), i64::from(to.unwrap_or(0)))
}

/// A group's permissions as rule atoms (the group itself as `self`, other groups by id, or
/// `account/id` in another account), grouped the provider's way by
/// [`rules::group_atoms`]: one block per protocol, ports and description.
fn rule_blocks(perms: &[IpPermission], own_id: &str, own_account: &str, egress: bool) -> Value {
    let mut atoms = Vec::new();
    for p in perms {
        let protocol = protocol_name(p.ip_protocol().unwrap_or("-1"));
        let (from, to) = ports(&protocol, p.from_port(), p.to_port());
        let mut atom = |kind: &'static str, value: String, description: Option<&str>| {
            let d = description.unwrap_or_default().to_owned();
            atoms.push(((egress, protocol.clone(), from, to, kind, value), d));
        };
        for r in p.ip_ranges() {
            atom(
                "cidr",
                r.cidr_ip().unwrap_or_default().into(),
                r.description(),
            );
        }
        for r in p.ipv6_ranges() {
            atom(
                "ipv6",
                r.cidr_ipv6().unwrap_or_default().into(),
                r.description(),
            );
        }
        for r in p.prefix_list_ids() {
            atom(
                "prefix",
                r.prefix_list_id().unwrap_or_default().into(),
                r.description(),
            );
        }
        for g in p.user_id_group_pairs() {
            let gid = g.group_id().unwrap_or_default();
            if gid == own_id {
                atom("self", String::new(), g.description());
            } else {
                let name = match g.user_id() {
                    Some(acct) if !acct.is_empty() && acct != own_account => {
                        format!("{acct}/{gid}")
                    }
                    _ => gid.to_owned(),
                };
                atom("group", name, g.description());
            }
        }
    }
    rules::group_atoms(atoms)
}

pub async fn security_groups(
    ctx: &Ctx,
    region: &str,
    ids: &[String],
) -> Result<Fetched, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("ec2", region, || {
                client
                    .describe_security_groups()
                    .set_filters(by_id("group-id", ids).map(|f| vec![f]))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for g in page.security_groups() {
            let Some(id) = g.group_id() else { continue };
            let owner = g.owner_id().unwrap_or_default();
            let mut a = json!({
                "id": id,
                "name": g.group_name().unwrap_or_default(),
                "description": g.description().unwrap_or_default(),
                "vpc_id": g.vpc_id().unwrap_or_default(),
                "ingress": rule_blocks(g.ip_permissions(), id, owner, false),
                "egress": rule_blocks(g.ip_permissions_egress(), id, owner, true),
                "tags_all": ec2_tags(g.tags()),
            });
            if g.group_name() == Some("default") {
                a["__default"] = json!("every VPC's default security group");
            }
            out.push((id.to_owned(), a));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn security_group_rules(
    ctx: &Ctx,
    region: &str,
    ids: &[String],
) -> Result<Fetched, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("ec2", region, || {
                client
                    .describe_security_group_rules()
                    .set_filters(by_id("security-group-rule-id", ids).map(|f| vec![f]))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for r in page.security_group_rules() {
            let Some(id) = r.security_group_rule_id() else {
                continue;
            };
            let protocol = protocol_name(r.ip_protocol().unwrap_or("-1"));
            let mut a = json!({
                "id": id,
                "security_group_rule_id": id,
                "security_group_id": r.group_id().unwrap_or_default(),
                "ip_protocol": protocol,
                "cidr_ipv4": r.cidr_ipv4(),
                "cidr_ipv6": r.cidr_ipv6(),
                "prefix_list_id": r.prefix_list_id(),
                "referenced_security_group_id": r.referenced_group_info().and_then(|g| g.group_id()),
                "description": r.description(),
                "tags_all": ec2_tags(r.tags()),
                "__egress": r.is_egress().unwrap_or(false),
            });
            if protocol != "-1" {
                a["from_port"] = json!(r.from_port());
                a["to_port"] = json!(r.to_port());
            } else {
                a["from_port"] = Value::Null;
                a["to_port"] = Value::Null;
            }
            out.push((id.to_owned(), a));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn instances(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("ec2", region, || {
                client
                    .describe_instances()
                    .set_filters(by_id("instance-id", ids).map(|f| vec![f]))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let Some(id) = i.instance_id() else { continue };
            let state = i.state().and_then(|s| s.name()).map(|n| n.as_str());
            // The provider treats a terminated instance as gone.
            if matches!(state, Some("terminated" | "shutting-down")) {
                continue;
            }
            let mut groups: Vec<&str> = i
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id())
                .collect();
            groups.sort_unstable();
            let a = json!({
                "id": id,
                "ami": i.image_id().unwrap_or_default(),
                "instance_type": i.instance_type().map(|t| t.as_str()).unwrap_or_default(),
                "subnet_id": i.subnet_id().unwrap_or_default(),
                "availability_zone": i.placement().and_then(|p| p.availability_zone()).unwrap_or_default(),
                "vpc_security_group_ids": groups,
                "key_name": i.key_name().unwrap_or_default(),
                "private_ip": i.private_ip_address().unwrap_or_default(),
                "monitoring": i.monitoring().and_then(|m| m.state()).is_some_and(|s| s.as_str() == "enabled" || s.as_str() == "pending"),
                "ebs_optimized": i.ebs_optimized().unwrap_or(false),
                "source_dest_check": i.source_dest_check().unwrap_or(true),
                "tags_all": ec2_tags(i.tags()),
            });
            out.push((id.to_owned(), a));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub async fn route_tables(ctx: &Ctx, region: &str, ids: &[String]) -> Result<Fetched, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ctx
            .pacer
            .call("ec2", region, || {
                client
                    .describe_route_tables()
                    .set_filters(by_id("route-table-id", ids).map(|f| vec![f]))
                    .set_next_token(token.clone())
                    .send()
            })
            .await?;
        for t in page.route_tables() {
            let Some(id) = t.route_table_id() else {
                continue;
            };
            let routes: Vec<Value> = t
                .routes()
                .iter()
                // The provider leaves out the VPC's local route and propagated ones.
                .filter(|r| r.gateway_id() != Some("local"))
                .filter(|r| r.origin().map(|o| o.as_str()) != Some("EnableVgwRoutePropagation"))
                .map(|r| {
                    json!({
                        "carrier_gateway_id": r.carrier_gateway_id().unwrap_or_default(),
                        "cidr_block": r.destination_cidr_block().unwrap_or_default(),
                        "core_network_arn": r.core_network_arn().unwrap_or_default(),
                        "destination_prefix_list_id": r.destination_prefix_list_id().unwrap_or_default(),
                        "egress_only_gateway_id": r.egress_only_internet_gateway_id().unwrap_or_default(),
                        "gateway_id": r.gateway_id().unwrap_or_default(),
                        "ipv6_cidr_block": r.destination_ipv6_cidr_block().unwrap_or_default(),
                        "local_gateway_id": r.local_gateway_id().unwrap_or_default(),
                        "nat_gateway_id": r.nat_gateway_id().unwrap_or_default(),
                        "network_interface_id": r.network_interface_id().unwrap_or_default(),
                        "transit_gateway_id": r.transit_gateway_id().unwrap_or_default(),
                        "vpc_endpoint_id": "",
                        "vpc_peering_connection_id": r.vpc_peering_connection_id().unwrap_or_default(),
                    })
                })
                .collect();
            let mut a = json!({
                "id": id,
                "vpc_id": t.vpc_id().unwrap_or_default(),
                "route": routes,
                "tags_all": ec2_tags(t.tags()),
            });
            if t.associations().iter().any(|a| a.main() == Some(true)) {
                a["__default"] = json!("a VPC's main route table, made with the VPC");
            }
            out.push((id.to_owned(), a));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The regions enabled for the account (opted-in or not requiring opt-in).
pub async fn regions(ctx: &Ctx, region: &str) -> Result<Vec<String>, CallError> {
    let client = aws_sdk_ec2::Client::new(&ctx.config(region).await);
    let out = ctx
        .pacer
        .call("ec2", region, || client.describe_regions().send())
        .await?;
    let mut names: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status() != Some("not-opted-in"))
        .filter_map(|r| r.region_name().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}
