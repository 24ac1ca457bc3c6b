#!/usr/bin/env python3
"""An AWS account in moto, made the way Terraform would make it, and its Terraform state.

Resources are created with boto3 from a small "configuration" (the values below), then the
state is written as the Terraform AWS provider 5.x records it after an apply: the configured
arguments plus what AWS assigned (ids, ARNs), in the attribute shapes gen-corpus uses. The
state is built from the configuration, never from driftlog's own projections, so a live read
that disagrees with it is a real disagreement.

  moto_account.py scenario --endpoint URL --out DIR
      the end-to-end case: declared state, out-of-band changes, unmanaged resources, the
      CloudTrail that created some of them, and expected.json (the answer key)
  moto_account.py bulk --endpoint URL --out DIR --count N --regions us-east-1,eu-west-1
      N resources over five types and the given regions (the benchmark), state only
"""
import argparse, json, os, sys, time, uuid
import boto3

ACCOUNT = "123456789012"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'


def client(service, endpoint, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def tags_pair(tags, defaults=None):
    """(tags, tags_all) with provider default_tags merged into tags_all."""
    all_ = dict(defaults or {})
    all_.update(tags)
    return dict(tags), all_


DEFAULT_TAGS = {"ManagedBy": "terraform"}
CANARY = "CANARY-SECRET-5f1e2d"


class State:
    def __init__(self):
        self.resources = []

    def add(self, rtype, name, attrs, mode="managed", sensitive=None):
        self.resources.append({
            "mode": mode, "type": rtype, "name": name, "provider": PROVIDER,
            "instances": [{"schema_version": 0, "attributes": attrs,
                           "sensitive_attributes": sensitive or [], "private": "bnVsbA=="}],
        })

    def document(self):
        return {"version": 4, "terraform_version": "1.9.8", "serial": 3,
                "lineage": str(uuid.UUID(int=7)), "outputs": {}, "resources": self.resources}


def rule(port, cidrs=(), groups=(), protocol="tcp", description="", self_=False):
    return {"cidr_blocks": list(cidrs), "description": description, "from_port": port,
            "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": protocol,
            "security_groups": list(groups), "self": self_, "to_port": port}


EGRESS_ALL = {"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 0, "ipv6_cidr_blocks": [],
              "prefix_list_ids": [], "protocol": "-1", "security_groups": [], "self": False, "to_port": 0}


def ip_permissions(rules, group_id=None):
    out = []
    for r in rules:
        p = {"IpProtocol": r["protocol"]}
        if r["protocol"] != "-1":
            p["FromPort"], p["ToPort"] = r["from_port"], r["to_port"]
        p["IpRanges"] = [{"CidrIp": c, **({"Description": r["description"]} if r["description"] else {})}
                         for c in r["cidr_blocks"]]
        p["UserIdGroupPairs"] = [{"GroupId": g, **({"Description": r["description"]} if r["description"] else {})}
                                 for g in r["security_groups"]]
        out.append(p)
    return out


def make_vpc(st, ec2, region, name, cidr):
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]
    vid = vpc["VpcId"]
    tags, tags_all = tags_pair({"Name": name}, DEFAULT_TAGS)
    ec2.create_tags(Resources=[vid], Tags=[{"Key": k, "Value": v} for k, v in tags_all.items()])
    st.add("aws_vpc", name, {
        "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:vpc/{vid}", "assign_generated_ipv6_cidr_block": False,
        "cidr_block": cidr, "default_network_acl_id": "", "default_route_table_id": "",
        "default_security_group_id": "", "dhcp_options_id": vpc.get("DhcpOptionsId", ""),
        "enable_dns_hostnames": False, "enable_dns_support": True, "id": vid,
        "instance_tenancy": "default", "ipv6_association_id": "", "ipv6_cidr_block": "",
        "main_route_table_id": "", "owner_id": ACCOUNT, "tags": tags, "tags_all": tags_all})
    return vid


def make_subnet(st, ec2, region, name, vid, cidr, az):
    sn = ec2.create_subnet(VpcId=vid, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]
    sid = sn["SubnetId"]
    tags, tags_all = tags_pair({"Name": name}, DEFAULT_TAGS)
    ec2.create_tags(Resources=[sid], Tags=[{"Key": k, "Value": v} for k, v in tags_all.items()])
    st.add("aws_subnet", name, {
        "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:subnet/{sid}", "assign_ipv6_address_on_creation": False,
        "availability_zone": az, "availability_zone_id": sn.get("AvailabilityZoneId", ""),
        "cidr_block": cidr, "id": sid, "map_public_ip_on_launch": False, "owner_id": ACCOUNT,
        "tags": tags, "tags_all": tags_all, "timeouts": None, "vpc_id": vid})
    return sid


def make_sg(st, ec2, region, name, vid, ingress, description="Managed by Terraform", state_ingress=None):
    """`state_ingress`: what the state records (a group whose other rules are separate resources
    holds only its inline ones)."""
    gid = ec2.create_security_group(GroupName=name, Description=description, VpcId=vid)["GroupId"]
    if ingress:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ip_permissions(ingress))
    tags, tags_all = tags_pair({"Name": name}, DEFAULT_TAGS)
    ec2.create_tags(Resources=[gid], Tags=[{"Key": k, "Value": v} for k, v in tags_all.items()])
    st.add("aws_security_group", name.replace("-", "_"), {
        "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:security-group/{gid}", "description": description,
        "egress": [EGRESS_ALL], "id": gid, "ingress": state_ingress if state_ingress is not None else ingress,
        "name": name, "name_prefix": "", "owner_id": ACCOUNT, "revoke_rules_on_delete": False,
        "tags": tags, "tags_all": tags_all, "timeouts": None, "vpc_id": vid})
    return gid


def make_queue(st, sqs, region, name, tags=None, visibility=30):
    # The provider sends its schema defaults with the create.
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility), "MaximumMessageSize": "262144",
        "MessageRetentionPeriod": "345600", "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "0"},
                           tags={**DEFAULT_TAGS, **(tags or {})})["QueueUrl"]
    t, ta = tags_pair(tags or {}, DEFAULT_TAGS)
    st.add("aws_sqs_queue", name.replace("-", "_"), {
        "arn": f"arn:aws:sqs:{region}:{ACCOUNT}:{name}", "content_based_deduplication": False,
        "deduplication_scope": "", "delay_seconds": 0, "fifo_queue": False, "fifo_throughput_limit": "",
        "id": url, "kms_data_key_reuse_period_seconds": 300, "kms_master_key_id": "",
        "max_message_size": 262144, "message_retention_seconds": 345600, "name": name, "name_prefix": "",
        "policy": "", "receive_wait_time_seconds": 0, "redrive_allow_policy": "", "redrive_policy": "",
        "sqs_managed_sse_enabled": True, "tags": t, "tags_all": ta, "url": url,
        "visibility_timeout_seconds": visibility})
    return url


def make_topic(st, sns, region, name):
    arn = sns.create_topic(Name=name, Tags=[{"Key": k, "Value": v} for k, v in DEFAULT_TAGS.items()])["TopicArn"]
    t, ta = tags_pair({}, DEFAULT_TAGS)
    st.add("aws_sns_topic", name.replace("-", "_"), {
        "application_failure_feedback_role_arn": "", "arn": arn, "content_based_deduplication": False,
        "delivery_policy": "", "display_name": "", "fifo_topic": False, "id": arn,
        "kms_master_key_id": "", "name": name, "name_prefix": "", "owner": ACCOUNT,
        "policy": sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy", ""),
        "signature_version": 0, "tags": t, "tags_all": ta, "tracing_config": ""})
    return arn


def make_table(st, ddb, region, name):
    d = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         Tags=[{"Key": k, "Value": v} for k, v in DEFAULT_TAGS.items()])["TableDescription"]
    t, ta = tags_pair({}, DEFAULT_TAGS)
    st.add("aws_dynamodb_table", name.replace("-", "_"), {
        "arn": d["TableArn"], "attribute": [{"name": "pk", "type": "S"}], "billing_mode": "PAY_PER_REQUEST",
        "deletion_protection_enabled": False, "global_secondary_index": [], "hash_key": "pk", "id": name,
        "local_secondary_index": [], "name": name, "point_in_time_recovery": [{"enabled": False}],
        "range_key": None, "read_capacity": 0, "replica": [], "restore_date_time": None,
        "stream_enabled": False, "stream_view_type": "", "table_class": "STANDARD", "tags": t,
        "tags_all": ta, "ttl": [{"attribute_name": "", "enabled": False}], "write_capacity": 0})


TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def make_role(st, iam, name, inline=None, managed=None):
    trust = json.dumps(TRUST, separators=(",", ":"))
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust, Description=f"{name} role",
                        Tags=[{"Key": k, "Value": v} for k, v in DEFAULT_TAGS.items()])["Role"]
    t, ta = tags_pair({}, DEFAULT_TAGS)
    st.add("aws_iam_role", name.replace("-", "_"), {
        "arn": r["Arn"], "assume_role_policy": trust, "create_date": "2024-11-04T10:00:00Z",
        "description": f"{name} role", "force_detach_policies": False, "id": name,
        "inline_policy": [], "managed_policy_arns": [], "max_session_duration": 3600, "name": name,
        "name_prefix": "", "path": "/", "permissions_boundary": "", "tags": t, "tags_all": ta,
        "unique_id": r["RoleId"]})
    return r["Arn"]


def cloudtrail_record(event_source, event_name, who, ts, region, request, response):
    users = {
        "console": {"type": "IAMUser", "principalId": "AIDAEXAMPLECONSOLE", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                    "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLE", "userName": "alice",
                    "sessionContext": {"attributes": {"creationDate": ts, "mfaAuthenticated": "true"}}},
        "cli": {"type": "IAMUser", "principalId": "AIDAEXAMPLECLI", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
                "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLE", "userName": "bob"},
    }
    rec = {"eventVersion": "1.09", "userIdentity": users[who], "eventTime": ts, "eventSource": event_source,
           "eventName": event_name, "awsRegion": region, "sourceIPAddress": "203.0.113.7",
           "userAgent": "Mozilla/5.0 (console)" if who == "console" else "aws-cli/2.15.0 Python/3.11.6",
           "requestParameters": request, "responseElements": response, "requestID": str(uuid.uuid4()),
           "eventID": str(uuid.uuid4()), "readOnly": False, "eventType": "AwsApiCall",
           "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management"}
    if who == "console":
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def scenario(endpoint, out):
    region = "us-east-1"
    ec2, s3, sqs, sns = (client(s, endpoint, region) for s in ("ec2", "s3", "sqs", "sns"))
    iam, ddb = client("iam", endpoint, region), client("dynamodb", endpoint, region)
    st = State()
    vid = make_vpc(st, ec2, region, "main", "10.20.0.0/16")
    sid = make_subnet(st, ec2, region, "app_a", vid, "10.20.1.0/24", "us-east-1a")
    web = make_sg(st, ec2, region, "web", vid, [rule(443, ["0.0.0.0/0"], description="HTTPS")])
    # The db group: one inline rule, one declared as its own aws_security_group_rule, one as an
    # aws_vpc_security_group_ingress_rule. AWS holds all three in the group.
    inline = rule(5432, ["10.20.0.0/16"])
    db = make_sg(st, ec2, region, "db", vid, [inline], state_ingress=[inline])
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=ip_permissions([rule(5432, groups=[web])]))
    st.add("aws_security_group_rule", "db_from_web", {
        "cidr_blocks": None, "description": None, "from_port": 5432, "id": "sgrule-1234567890",
        "ipv6_cidr_blocks": None, "prefix_list_ids": None, "protocol": "tcp", "security_group_id": db,
        "security_group_rule_id": "", "self": False, "source_security_group_id": web, "timeouts": None,
        "to_port": 5432, "type": "ingress"})
    got = ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 6432, "ToPort": 6432,
        "IpRanges": [{"CidrIp": "10.30.0.0/16", "Description": "pgbouncer from peer"}]}])
    sgr = got["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    st.add("aws_vpc_security_group_ingress_rule", "db_pgbouncer", {
        "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:security-group-rule/{sgr}", "cidr_ipv4": "10.30.0.0/16",
        "cidr_ipv6": None, "description": "pgbouncer from peer", "from_port": 6432, "id": sgr,
        "ip_protocol": "tcp", "prefix_list_id": None, "referenced_security_group_id": None,
        "security_group_id": db, "security_group_rule_id": sgr, "tags": None, "tags_all": {}, "to_port": 6432})

    inst = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             SubnetId=sid, SecurityGroupIds=[web],
                             TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                 {"Key": "Name", "Value": "app"}, {"Key": "ManagedBy", "Value": "terraform"}]}]
                             )["Instances"][0]
    iid = inst["InstanceId"]
    st.add("aws_instance", "app", {
        "ami": "ami-12c6146b", "arn": f"arn:aws:ec2:{region}:{ACCOUNT}:instance/{iid}",
        "associate_public_ip_address": False, "availability_zone": inst["Placement"]["AvailabilityZone"],
        "disable_api_termination": False, "ebs_optimized": False, "get_password_data": False, "hibernation": False,
        "iam_instance_profile": "", "id": iid, "instance_state": "running", "instance_type": "t3.micro",
        "key_name": "", "monitoring": False, "private_ip": inst["PrivateIpAddress"], "source_dest_check": True,
        "subnet_id": sid, "tags": {"Name": "app"}, "tags_all": {"Name": "app", "ManagedBy": "terraform"},
        "tenancy": "default", "timeouts": None, "user_data": None, "vpc_security_group_ids": [web]})

    def bucket(name, tags, policy=None):
        s3.create_bucket(Bucket=name)
        t, ta = tags_pair(tags, DEFAULT_TAGS)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in ta.items()]})
        text = ""
        if policy:
            text = json.dumps(policy, separators=(",", ":"))
            s3.put_bucket_policy(Bucket=name, Policy=text)
        st.add("aws_s3_bucket", name.replace("-", "_"), {
            "acceleration_status": "", "arn": f"arn:aws:s3:::{name}", "bucket": name,
            "bucket_domain_name": f"{name}.s3.amazonaws.com", "bucket_prefix": "", "force_destroy": False,
            "id": name, "object_lock_enabled": False, "policy": text, "region": region,
            "request_payer": "BucketOwner", "tags": t, "tags_all": ta, "timeouts": None,
            "versioning": [{"enabled": False, "mfa_delete": False}]})
        if policy:
            st.add("aws_s3_bucket_policy", name.replace("-", "_"), {"bucket": name, "id": name, "policy": text})

    log_policy = {"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*",
                  "Action": "s3:*", "Resource": ["arn:aws:s3:::acme-logs", "arn:aws:s3:::acme-logs/*"],
                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    bucket("acme-logs", {"Team": "platform"}, log_policy)
    bucket("acme-assets", {"Team": "web", "Owner": "web-team"})

    make_role(st, iam, "app-role")
    pol = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]}, separators=(",", ":"))
    iam.put_role_policy(RoleName="app-role", PolicyName="send", PolicyDocument=pol)
    st.add("aws_iam_role_policy", "app_send", {"id": "app-role:send", "name": "send", "name_prefix": "",
                                              "policy": pol, "role": "app-role"})
    managed = iam.create_policy(PolicyName="app-read", Path="/", Description="read things",
                                PolicyDocument=pol)["Policy"]
    st.add("aws_iam_policy", "app_read", {"arn": managed["Arn"], "attachment_count": 1, "description": "read things",
                                          "id": managed["Arn"], "name": "app-read", "name_prefix": "", "path": "/",
                                          "policy": pol, "policy_id": managed["PolicyId"], "tags": {}, "tags_all": {}})
    iam.attach_role_policy(RoleName="app-role", PolicyArn=managed["Arn"])
    st.add("aws_iam_role_policy_attachment", "app_read", {"id": "app-role-20241104100000000000000001",
                                                          "policy_arn": managed["Arn"], "role": "app-role"})
    make_queue(st, sqs, region, "jobs", {"Team": "app"})
    make_queue(st, sqs, region, "events", {"Team": "app"}, visibility=60)
    make_topic(st, sns, region, "alerts")
    make_table(st, ddb, region, "sessions")
    # A database whose password the state marks sensitive: it must never be printed.
    rds = client("rds", endpoint, region)
    d = rds.create_db_instance(DBInstanceIdentifier="app-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                               AllocatedStorage=20, MasterUsername="app_admin", MasterUserPassword=CANARY,
                               DBName="app", Tags=[{"Key": k, "Value": v} for k, v in DEFAULT_TAGS.items()])["DBInstance"]
    t, ta = tags_pair({}, DEFAULT_TAGS)
    st.add("aws_db_instance", "app", {
        "address": d.get("Endpoint", {}).get("Address", ""), "allocated_storage": 20, "arn": d["DBInstanceArn"],
        "backup_retention_period": d.get("BackupRetentionPeriod", 0), "db_name": "app", "engine": "postgres",
        "engine_version": d.get("EngineVersion", ""), "id": d.get("DbiResourceId", "db-X"), "identifier": "app-db",
        "instance_class": "db.t3.micro", "multi_az": False, "password": CANARY, "port": 5432,
        "publicly_accessible": d.get("PubliclyAccessible", False), "resource_id": d.get("DbiResourceId", ""),
        "skip_final_snapshot": True, "storage_encrypted": False, "storage_type": d.get("StorageType", "gp2"),
        "tags": t, "tags_all": ta, "username": "app_admin",
        "vpc_security_group_ids": sorted(g["VpcSecurityGroupId"] for g in d.get("VpcSecurityGroups", []))},
        sensitive=[[{"type": "get_attr", "value": "password"}]])
    # A data source is read, never compared.
    st.resources.append({"mode": "data", "type": "aws_caller_identity", "name": "current", "provider": PROVIDER,
                         "instances": [{"schema_version": 0, "attributes": {"account_id": ACCOUNT, "id": ACCOUNT}}]})
    # An unsupported type is listed as not checked.
    st.add("aws_cloudwatch_log_group", "app", {"arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/app",
                                               "id": "/app", "name": "/app", "retention_in_days": 30,
                                               "tags": {}, "tags_all": {}})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "declared.tfstate"), "w") as f:
        json.dump(st.document(), f, indent=2)

    # Out of band.
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=ip_permissions(
        [rule(22, ["203.0.113.0/24"], description="debug")]))
    ec2.stop_instances(InstanceIds=[iid])
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.large"})
    ec2.start_instances(InstanceIds=[iid])
    s3.put_bucket_policy(Bucket="acme-logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::acme-logs/*"}]}))
    s3.put_bucket_tagging(Bucket="acme-assets", Tagging={"TagSet": [
        {"Key": "Team", "Value": "web"}, {"Key": "Owner", "Value": "someone-else"}, {"Key": "ManagedBy", "Value": "terraform"}]})
    jobs_url = [u for u in sqs.list_queues()["QueueUrls"] if u.endswith("/jobs")][0]
    sqs.delete_queue(QueueUrl=jobs_url)
    # Unmanaged: found by the APIs, two of them also in the audit logs.
    debug_url = sqs.create_queue(QueueName="manual-debug")["QueueUrl"]
    temp_sg = ec2.create_security_group(GroupName="temp-sg", Description="temporary", VpcId=vid)["GroupId"]
    shadow = sns.create_topic(Name="shadow-topic")["TopicArn"]
    # Created and deleted again: not unmanaged.
    gone_url = sqs.create_queue(QueueName="gone-queue")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone_url)

    now = time.gmtime()
    ts = lambda m: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - m * 60))
    records = [
        cloudtrail_record("sqs.amazonaws.com", "CreateQueue", "console", ts(30), region,
                          {"queueName": "manual-debug"}, {"queueUrl": debug_url}),
        cloudtrail_record("sns.amazonaws.com", "CreateTopic", "cli", ts(20), region,
                          {"name": "shadow-topic"}, {"topicArn": shadow}),
        cloudtrail_record("sqs.amazonaws.com", "CreateQueue", "cli", ts(10), region,
                          {"queueName": "gone-queue"}, {"queueUrl": gone_url}),
        cloudtrail_record("sqs.amazonaws.com", "DeleteQueue", "cli", ts(5), region,
                          {"queueUrl": gone_url}, None),
    ]
    os.makedirs(os.path.join(out, "cloudtrail"), exist_ok=True)
    with open(os.path.join(out, "cloudtrail", "records.json"), "w") as f:
        json.dump({"Records": records}, f)
    expected = {
        "changed": {"aws_security_group.web": ["ingress"], "aws_instance.app": ["instance_type"],
                    "aws_s3_bucket.acme_logs": ["policy"], "aws_s3_bucket_policy.acme_logs": ["policy"],
                    "aws_s3_bucket.acme_assets": ["tags", "tags_all"]},
        "deleted": ["aws_sqs_queue.jobs"],
        "unmanaged": {
            "aws_sqs_queue": {"id": debug_url, "found_by": "api, audit-log",
                              "creator": f"arn:aws:iam::{ACCOUNT}:user/alice", "actor_kind": "console"},
            "aws_security_group": {"id": temp_sg, "found_by": "api"},
            "aws_sns_topic": {"id": shadow, "found_by": "api, audit-log",
                              "creator": f"arn:aws:iam::{ACCOUNT}:user/bob", "actor_kind": "cli"},
        },
        "ids": {"web": web, "db": db, "vpc": vid, "instance": iid},
        "canary": CANARY,
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)


def bulk(endpoint, out, count, regions):
    """`count` resources: queues, topics and tables in each region, security groups in one VPC
    per region, and IAM roles (global)."""
    st = State()
    kinds = ["queue", "topic", "table", "sg", "role"]
    per = {k: count // len(kinds) for k in kinds}
    per["queue"] += count - sum(per.values())
    made = 0
    for ri, region in enumerate(regions):
        ec2 = client("ec2", endpoint, region)
        sqs, sns, ddb = (client(s, endpoint, region) for s in ("sqs", "sns", "dynamodb"))
        vid = make_vpc(st, ec2, region, f"bulk_{ri}", f"10.{100 + ri}.0.0/16")
        share = lambda k: per[k] // len(regions) + (per[k] % len(regions) if ri == 0 else 0)
        for i in range(share("queue")):
            make_queue(st, sqs, region, f"q-{ri}-{i}")
        for i in range(share("topic")):
            make_topic(st, sns, region, f"t-{ri}-{i}")
        for i in range(share("table")):
            make_table(st, ddb, region, f"tbl-{ri}-{i}")
        for i in range(share("sg")):
            make_sg(st, ec2, region, f"sg-{ri}-{i}", vid, [rule(443, ["10.0.0.0/8"])])
    iam = client("iam", endpoint, regions[0])
    for i in range(per["role"]):
        make_role(st, iam, f"role-{i}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "declared.tfstate"), "w") as f:
        json.dump(st.document(), f)
    print(json.dumps({"resources": sum(len(r["instances"]) for r in st.resources)}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["scenario", "bulk"])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--regions", default="us-east-1")
    a = ap.parse_args()
    if a.mode == "scenario":
        scenario(a.endpoint, a.out)
    else:
        bulk(a.endpoint, a.out, a.count, a.regions.split(","))
