#!/usr/bin/env python3
"""The peer for bench/live-aws.sh: a sequential boto3 loop reading every resource of a state
with the same calls driftlog's projections make, one resource at a time, as a hand-written
drift script (or driftctl's per-resource reads) does. Prints {"seconds", "requests"}."""
import json, sys, time
import boto3

state, endpoint = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
clients = {}


def c(service, region):
    key = (service, region)
    if key not in clients:
        clients[key] = boto3.client(service, region_name=region, **kw)
    return clients[key]


doc = json.load(open(state))
requests = 0
t0 = time.monotonic()
for r in doc["resources"]:
    if r["mode"] != "managed":
        continue
    for inst in r["instances"]:
        a = inst["attributes"]
        arn = a.get("arn", "")
        region = arn.split(":")[3] if arn.count(":") >= 3 and arn.split(":")[3] else "us-east-1"
        t = r["type"]
        if t == "aws_sqs_queue":
            q = c("sqs", region)
            q.get_queue_attributes(QueueUrl=a["id"], AttributeNames=["All"])
            q.list_queue_tags(QueueUrl=a["id"])
            requests += 2
        elif t == "aws_sns_topic":
            s = c("sns", region)
            s.get_topic_attributes(TopicArn=a["arn"])
            s.list_tags_for_resource(ResourceArn=a["arn"])
            requests += 2
        elif t == "aws_dynamodb_table":
            d = c("dynamodb", region)
            desc = d.describe_table(TableName=a["name"])["Table"]
            d.list_tags_of_resource(ResourceArn=desc["TableArn"])
            requests += 2
        elif t == "aws_security_group":
            c("ec2", region).describe_security_groups(GroupIds=[a["id"]])
            requests += 1
        elif t == "aws_vpc":
            c("ec2", region).describe_vpcs(VpcIds=[a["id"]])
            requests += 1
        elif t == "aws_iam_role":
            c("iam", "us-east-1").get_role(RoleName=a["name"])
            requests += 1
print(json.dumps({"seconds": time.monotonic() - t0, "requests": requests}))
