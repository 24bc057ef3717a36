"""Matching CloudTrail records to the resources of interest, and saying what
changed: pure functions, no AWS. Every source (LookupEvents' CloudTrailEvent,
the trail's log files) goes through these."""
from __future__ import annotations

import json

import pytest

from triage.changes import describe
from triage.changes.events import Index, change_of, event_name, is_change, record_of, statement_diff, tool
from triage.changes.kinds import KINDS, TYPES, parse_arn, resource
from triage.demo.scenarios.changes import BOTO_AGENT, CLI_AGENT, CONSOLE_AGENT, TERRAFORM_AGENT, record

ACCOUNT = "123456789012"
T0 = 1_790_000_000.0


def rec(name, source, request=None, **kw):
    return record(name, source, kw.pop("when", T0), f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci",
                  kw.pop("agent", CLI_AGENT), request, **kw)


def names(index: Index, record: dict) -> list[tuple]:
    return sorted((r.kind, r.name) for r in index.match(record))


# --- Lambda: API-version suffixes, names, ARNs, partial ARNs, qualifiers -------------

@pytest.mark.parametrize("given", [
    "orders-etl", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-etl",
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-etl:live", f"{ACCOUNT}:function:orders-etl", "orders-etl:7"])
def test_a_function_is_matched_however_the_call_named_it(given):
    index = Index([resource("orders-etl", "lambda-function", "us-east-1")])
    r = rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": given, "timeout": 3})
    assert names(index, r) == [("lambda-function", "orders-etl")]


def test_lambda_event_names_lose_their_api_version_suffix():
    assert event_name({"eventName": "UpdateFunctionConfiguration20150331v2"}) == "UpdateFunctionConfiguration"
    assert event_name({"eventName": "CreateFunction20150331"}) == "CreateFunction"
    assert event_name({"eventName": "DeleteQueue"}) == "DeleteQueue"


def test_a_function_given_as_an_arn_matches_calls_that_use_its_name():
    index = Index([resource(f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-etl", "lambda-function", "eu-west-1")])
    assert names(index, rec("PutFunctionConcurrency20171031", "lambda",
                            {"functionName": "orders-etl", "reservedConcurrentExecutions": 5})) \
        == [("lambda-function", "orders-etl")]


def test_similar_names_other_regions_and_other_accounts_do_not_match():
    index = Index([resource("orders-etl", "lambda-function", "us-east-1")])
    assert names(index, rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": "orders-etl-v2"})) == []
    assert names(index, rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": "orders-etl"},
                            region="eu-west-1")) == []
    assert names(index, rec("UpdateFunctionConfiguration20150331v2", "lambda",
                            {"functionName": "arn:aws:lambda:us-east-1:999999999999:function:orders-etl"})) == []


def test_reads_and_failed_calls_are_not_changes():
    index = Index([resource("orders-etl", "lambda-function", "us-east-1")])
    assert names(index, rec("GetFunction20150331v2", "lambda", {"functionName": "orders-etl"}, read_only=True)) == []
    assert names(index, rec("ListTags20170331", "lambda", {"resource": "orders-etl"})) == []   # no readOnly field
    assert names(index, rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": "orders-etl"},
                            error="AccessDenied")) == []
    assert not is_change({"eventName": "DescribeTrails", "readOnly": False})


# --- SQS, S3, IAM: each names its resources its own way ----------------------------------

def test_a_queue_arn_matches_a_call_that_names_the_queue_by_url():
    index = Index([resource(f"arn:aws:sqs:us-east-1:{ACCOUNT}:refund-requests", "arn", "us-east-1")])
    hit = rec("DeleteQueue", "sqs", {"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/refund-requests"})
    assert names(index, hit) == [("sqs-queue", "refund-requests")]
    dlq = rec("DeleteQueue", "sqs", {"queueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/refund-requests-dlq"})
    assert names(index, dlq) == []


def test_an_object_arn_is_its_bucket():
    r = resource("arn:aws:s3:::ledger-exports/2026/11.csv", "arn", "us-east-1")
    assert (r.kind, r.name, r.arn) == ("s3-bucket", "ledger-exports", "arn:aws:s3:::ledger-exports")
    index = Index([r])
    assert names(index, rec("PutBucketPolicy", "s3", {"bucketName": "ledger-exports", "policy": "{}"})) \
        == [("s3-bucket", "ledger-exports")]
    # an S3 data event names the object ARN in `resources`
    data = rec("PutObject", "s3", {"bucketName": "other", "key": "x"},
               resources=[{"ARN": "arn:aws:s3:::ledger-exports/2026/11.csv", "type": "AWS::S3::Object"}])
    assert names(index, data) == [("s3-bucket", "ledger-exports")]


def test_iam_roles_by_name_arn_or_assumed_role_session_and_policies_by_arn():
    role = resource(f"arn:aws:sts::{ACCOUNT}:assumed-role/ledger-reader/run-1", "arn", "us-east-1")
    assert (role.kind, role.name, role.region) == ("iam-role", "ledger-reader", None)   # IAM is global
    policy = resource(f"arn:aws:iam::{ACCOUNT}:policy/team/LedgerReadAccess", "iam-policy", "us-east-1")
    index = Index([role, policy])
    assert names(index, rec("AttachRolePolicy", "iam", {"roleName": "ledger-reader", "policyArn": policy.arn})) \
        == [("iam-policy", "LedgerReadAccess"), ("iam-role", "ledger-reader")]
    # IAM events are logged in us-east-1 whatever region the run is in
    assert names(index, rec("CreatePolicyVersion", "iam", {"policyArn": policy.arn}, region="us-east-1")) \
        == [("iam-policy", "LedgerReadAccess")]
    # a user of the same name is another resource
    assert names(index, rec("PutUserPolicy", "iam", {"userName": "ledger-reader", "policyName": "x"})) == []
    assert policy.lookup_value == policy.arn and role.lookup_value == "ledger-reader"


def test_ec2_ids_match_anywhere_and_generic_keys_only_in_their_service():
    index = Index([resource("sg-0123456789abcdef0", "arn", "us-east-1"),
                   resource(f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit", "arn", "us-east-1")])
    nested = rec("ModifyNetworkInterfaceAttribute", "ec2",
                 {"networkInterfaceId": "eni-1", "groupSet": {"items": [{"groupId": "sg-0123456789abcdef0"}]}})
    assert names(index, nested) == [("ec2-security-group", "sg-0123456789abcdef0")]
    assert names(index, rec("StopLogging", "cloudtrail", {"name": "audit"})) == [("cloudtrail-trail", "audit")]
    # `name` in another service's call is not the trail
    assert names(index, rec("CreateSecret", "secretsmanager", {"name": "audit"})) == []


def test_a_name_without_a_kind_matches_every_kind_that_has_it():
    index = Index([resource("orders", None, "us-east-1")])
    assert names(index, rec("DeleteTable", "dynamodb", {"tableName": "orders"})) == [(None, "orders")]
    assert names(index, rec("DeleteBucket", "s3", {"bucketName": "orders"})) == [(None, "orders")]
    assert names(index, rec("PutMetricData", "monitoring", {"namespace": "orders"})) == []


def test_every_kind_has_a_type_in_the_schema():
    from triage.playbook import schema
    enum = schema()["properties"]["resources"]["items"]["properties"]["type"]["enum"]
    assert tuple(enum) == TYPES and set(KINDS) < set(enum)
    for kind, sample in [("lambda-function", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"),
                         ("iam-role", f"arn:aws:iam::{ACCOUNT}:role/path/r"), ("rds-instance",
                         f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db"), ("dynamodb-table",
                         f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t/stream/2026"),
                         ("ec2-security-group", f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-1")]:
        assert parse_arn(sample)[0] == kind


def test_a_hostile_record_is_bounded():
    index = Index([resource("orders-etl", "lambda-function", "us-east-1")])
    deep: dict = {"functionName": "x"}
    for _ in range(200):
        deep = {"a": deep}
    wide = {f"k{i}": "orders-etl" for i in range(10_000)}
    assert names(index, rec("UpdateFunctionConfiguration20150331v2", "lambda", deep)) == []
    assert names(index, rec("TagResource", "lambda", wide)) == []     # `k…` keys do not name a function


# --- who, with what, and what changed --------------------------------------------------

def test_tools_from_user_agents():
    assert tool(CLI_AGENT) == "AWS CLI"
    assert tool(TERRAFORM_AGENT) == "Terraform"
    assert tool(BOTO_AGENT) == "boto3"
    assert tool(CONSOLE_AGENT) == "console"
    assert tool("cloudformation.amazonaws.com") == "CloudFormation"
    assert tool("curl/8") is None and tool(None) is None


def test_lookup_events_carry_the_same_record():
    r = rec("DeleteQueue", "sqs", {"queueUrl": "https://sqs.us-east-1.amazonaws.com/1/q"})
    event = {"EventId": r["eventID"], "EventName": "DeleteQueue", "CloudTrailEvent": json.dumps(r)}
    assert record_of(event) == r
    bare = record_of({"EventId": "e1", "EventName": "DeleteQueue", "EventTime": "2026-11-22T10:00:00Z",
                      "Username": "alice", "Resources": [{"ResourceType": "AWS::SQS::Queue",
                                                          "ResourceName": "arn:aws:sqs:us-east-1:1:q"}]})
    assert bare["eventName"] == "DeleteQueue" and bare["resources"] == [{"ARN": "arn:aws:sqs:us-east-1:1:q"}]


def changes_for(records, r):
    index = Index([r])
    out = [change_of(x, index.match(x)[0], "trail-files") for x in records if index.match(x)]
    describe.describe(out)
    return sorted(out, key=lambda c: c.time)


def test_before_comes_from_the_previous_change_in_the_window():
    f = resource("billing-export", "lambda-function", "us-east-1")
    first = rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": "billing-export", "timeout": 30,
                                                                     "memorySize": 512}, when=T0)
    second = rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": "billing-export", "timeout": 3},
                 when=T0 + 3600)
    a, b = changes_for([second, first], f)
    assert describe.detail(a) == "Timeout set to 30; MemorySize set to 512"
    assert describe.detail(b) == "Timeout 30 → 3"
    assert "timeout" in b.touches and "memorysize" not in b.touches


def test_a_policy_version_says_which_statements_it_removed():
    p = resource(f"arn:aws:iam::{ACCOUNT}:policy/P", "iam-policy", "us-east-1")
    v1 = {"Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "arn:aws:s3:::b"},
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    v2 = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"},
                        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}
    from urllib.parse import quote
    calls = [rec("CreatePolicyVersion", "iam", {"policyArn": p.arn, "policyDocument": json.dumps(v1)}, when=T0),
             rec("CreatePolicyVersion", "iam", {"policyArn": p.arn, "policyDocument": quote(json.dumps(v2)),
                                                "setAsDefault": True}, when=T0 + 60)]
    first, second = changes_for(calls, p)
    assert describe.detail(first) == "new policy version (not the default); the previous version could not be read to compare"
    assert describe.detail(second) == ("new policy version (now the default): removed Allow s3:GetObject on "
                                       "arn:aws:s3:::b/*, added Deny s3:DeleteObject on *")
    assert statement_diff(v1, v1) == ([], [])


@pytest.mark.parametrize("call,request_,text", [
    ("DeleteQueue", {"queueUrl": "https://sqs.us-east-1.amazonaws.com/1/q"}, "resource q deleted"),
    ("AuthorizeSecurityGroupIngress", {"groupId": "sg-1", "ipPermissions": {"items": [
        {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/16"}]}}]}},
     "inbound rule added: tcp 5432 from 10.0.0.0/16"),
    ("RevokeSecurityGroupEgress", {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "-1"}]}},
     "outbound rule removed: all traffic to ?"),
    ("DeleteRoute", {"routeTableId": "rtb-1", "destinationCidrBlock": "0.0.0.0/0"}, "route 0.0.0.0/0 deleted"),
    ("ModifyDBParameterGroup", {"dBParameterGroupName": "pg", "parameters": [
        {"parameterName": "max_connections", "parameterValue": "100", "applyMethod": "immediate"}]},
     "parameters: max_connections set to 100"),
    ("ModifyDBInstance", {"dBInstanceIdentifier": "db", "dBInstanceClass": "db.t3.micro", "applyImmediately": True},
     "DBInstanceClass set to db.t3.micro"),
    ("UpdateEventSourceMapping20150331", {"uUID": "u-1", "enabled": False}, "mapping disabled; Enabled set to false"),
    ("StopLogging", {"name": "audit"}, "logging stopped"),
])
def test_what_each_call_did_in_words(call, request_, text):
    r = record(call, "x", T0, "arn:aws:iam::1:user/a", CLI_AGENT, request_)
    from triage.changes.kinds import Resource
    c = change_of(r, Resource(None, "q" if call == "DeleteQueue" else "x"), "trail-files")
    describe.describe([c])
    assert describe.detail(c) == text


def test_secret_fields_are_masked_only_at_the_output_edge():
    from triage.changes.collect import Timeline
    from triage.redact import MASK, Redactor

    f = resource("orders-etl", "lambda-function", "us-east-1")
    r = rec("UpdateFunctionConfiguration20150331v2", "lambda", {"functionName": "orders-etl", "environment": {
        "variables": {"DB_PASSWORD": "pg-Sup3rS3cret-0rders", "STAGE": "prod"}}})
    [c] = changes_for([r], f)
    assert c.fields[0].after == "pg-Sup3rS3cret-0rders"            # exact inside
    data = Timeline([c], T0 - 10, T0 + 10, "24h", [f], answered_by="trail-files").to_dict(Redactor())
    detail = data["changes"][0]["detail"]
    assert "pg-Sup3rS3cret" not in json.dumps(data) and MASK in detail and "STAGE set to prod" in detail
