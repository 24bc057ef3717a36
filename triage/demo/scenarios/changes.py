"""Incidents whose cause is a change ("what changed before it broke"): a
timeout lowered 40 minutes before the first timeout, a policy version that
removed s3:GetObject before the AccessDenied, an SQS queue deleted before
its event source mapping failed. moto has no CloudTrail LookupEvents, so
the changes are delivered the way a trail delivers them: gzipped JSON log
files in S3 (`trail_file`, `deliver`; the tests and bench/bench_changes.py
write theirs with the same functions), with reads, failed calls and other
resources' changes around them that must not be matched.

New names only: the other scenarios' resources and findings are unchanged."""
from __future__ import annotations

import gzip
import io
import json
import time
import uuid
from datetime import datetime, timezone

from . import ACCOUNT, REGION, Case, Seeder, scenario

TRAIL, TRAIL_BUCKET, TRAIL_PREFIX = "changes-audit", "changes-trail-logs-demo", "audit"
TIMEOUT_FUNCTION = "billing-export"
READER_ROLE, READER_POLICY, LEDGER_BUCKET = "ledger-reader", "LedgerReadAccess", "ledger-exports"
QUEUE_FUNCTION, QUEUE = "refund-worker", "refund-requests"
DEPLOYER = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"
ADMIN = f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-admin/alice"
CLEANUP = f"arn:aws:sts::{ACCOUNT}:assumed-role/cleanup-bot/nightly"
CLI_AGENT = "aws-cli/2.15.30 Python/3.11.8 Linux/5.10.210 exe/x86_64.amzn.2 prompt/off command/lambda.update-function-configuration"
TERRAFORM_AGENT = "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0"
BOTO_AGENT = "Boto3/1.34.50 md/Botocore#1.34.50 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.8 Botocore/1.34.50"
CONSOLE_AGENT = "AWS Internal"

# What triage must link (tests/test_changes_demo.py): (playbook, inputs) -> (finding, event, principal)
LINKS = {
    ("lambda-timeout", (("function", TIMEOUT_FUNCTION),)): ("timeout-too-low", "UpdateFunctionConfiguration", DEPLOYER),
    ("access-denied", (("principal", READER_ROLE),)): ("no-identity-allow", "CreatePolicyVersion", ADMIN),
    ("lambda-not-found", (("function", QUEUE_FUNCTION),)): ("event-source-missing", "DeleteQueue", CLEANUP),
}


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def record(name: str, source: str, when: float, who: str, agent: str, request: dict | None = None, *,
           response: dict | None = None, resources: list | None = None, region: str = REGION,
           read_only: bool = False, error: str | None = None, account: str = ACCOUNT) -> dict:
    """One CloudTrail record, as AWS writes it."""
    identity = {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{who.rsplit('/', 1)[-1]}", "arn": who,
                "accountId": account}
    rec = {"eventVersion": "1.09", "userIdentity": identity,
           "eventTime": datetime.fromtimestamp(when, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": region,
           "sourceIPAddress": "198.51.100.7", "userAgent": agent, "requestParameters": request,
           "responseElements": response, "requestID": str(uuid.uuid4()), "eventID": str(uuid.uuid4()),
           "readOnly": read_only, "eventType": "AwsApiCall", "managementEvent": True,
           "recipientAccountId": account, "eventCategory": "Management"}
    if resources:
        rec["resources"] = resources
    if error:
        rec["errorCode"], rec["errorMessage"] = error, "User is not authorized to perform this operation"
    return rec


def trail_file(records: list[dict]) -> bytes:
    """A log file's bytes: {"Records": [...]} gzipped, as CloudTrail delivers it."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6) as gz:
        gz.write(json.dumps({"Records": records}, separators=(",", ":")).encode())
    return buf.getvalue()


def file_key(prefix: str, account: str, region: str, delivered: float) -> str:
    t = datetime.fromtimestamp(delivered, tz=timezone.utc)
    base = f"{prefix}/" if prefix else ""
    return (f"{base}AWSLogs/{account}/CloudTrail/{region}/{t:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{t:%Y%m%dT%H%M}Z_{uuid.uuid4().hex[:16]}.json.gz")


def deliver(s3, bucket: str, prefix: str, records: list[dict], *, account: str = ACCOUNT, region: str = REGION,
            every: float = 300.0) -> list[str]:
    """Put `records` into the bucket the way a trail does: one file per
    `every` seconds of events, delivered a few minutes after the last."""
    batches: dict[int, list[dict]] = {}
    for rec in records:
        t = datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00")).timestamp()
        batches.setdefault(int(t // every), []).append(rec)
    keys = []
    for slot, batch in sorted(batches.items()):
        key = file_key(prefix, account, region, (slot + 1) * every + 120)
        s3.put_object(Bucket=bucket, Key=key, Body=trail_file(batch))
        keys.append(key)
    return keys


def ensure_trail(s: Seeder) -> None:
    """A single-region trail delivering to TRAIL_BUCKET/TRAIL_PREFIX (not multi-region:
    the account-posture scenario's no-cloudtrail finding stays as it is)."""
    s3, ct = s.client("s3"), s.client("cloudtrail")
    if TRAIL in [t["Name"] for t in ct.describe_trails(trailNameList=[], includeShadowTrails=False)["trailList"]]:
        return
    s3.create_bucket(Bucket=TRAIL_BUCKET)
    ct.create_trail(Name=TRAIL, S3BucketName=TRAIL_BUCKET, S3KeyPrefix=TRAIL_PREFIX, IsMultiRegionTrail=False)


@scenario("changes", "Incidents caused by a change: a lowered timeout, a policy version, a deleted queue")
def changes(s: Seeder) -> list[Case]:
    now = time.time()
    iam, lam, sqs = s.client("iam"), s.client("lambda"), s.client("sqs")
    ensure_trail(s)

    # 1. A timeout lowered from 30 to 3 s, 40 minutes before the first timeout
    #    (invocations() starts its runs 3 h before now).
    s.function(TIMEOUT_FUNCTION, timeout=3)
    s.invocations(TIMEOUT_FUNCTION, [3000.0, 2400.0, 3000.0, 2950.0, 3000.0], timeout_s=3)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{TIMEOUT_FUNCTION}"
    first_timeout = now - 3 * 3600 + 3.0      # the first run times out at once
    changed_at = first_timeout - 40 * 60

    # 2. A new version of the role's managed policy drops s3:GetObject.
    s.role(READER_ROLE)
    v1 = _doc({"Sid": "ListLedger", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{LEDGER_BUCKET}"},
              {"Sid": "ReadLedger", "Effect": "Allow", "Action": ["s3:GetObject"],
               "Resource": f"arn:aws:s3:::{LEDGER_BUCKET}/*"})
    v2 = _doc({"Sid": "ListLedger", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{LEDGER_BUCKET}"})
    policy_arn = iam.create_policy(PolicyName=READER_POLICY, PolicyDocument=json.dumps(v1))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(v2), SetAsDefault=True)
    iam.attach_role_policy(RoleName=READER_ROLE, PolicyArn=policy_arn)
    s.client("s3").create_bucket(Bucket=LEDGER_BUCKET)
    s.client("s3").put_object(Bucket=LEDGER_BUCKET, Key="2026/11.csv", Body=b"entry,amount\n")

    # 3. The queue behind a mapping deleted by a clean-up job.
    s.function(QUEUE_FUNCTION, timeout=30)
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=QUEUE_FUNCTION, EventSourceArn=queue_arn, BatchSize=10)
    sqs.delete_queue(QueueUrl=url)
    queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{QUEUE}"

    records = [
        # the day before: Terraform set the function's timeout to 30 s and its memory to 512 MB
        record("UpdateFunctionConfiguration20150331v2", "lambda", now - 20 * 3600, DEPLOYER, TERRAFORM_AGENT,
               {"functionName": TIMEOUT_FUNCTION, "timeout": 30, "memorySize": 512},
               response={"functionName": TIMEOUT_FUNCTION, "functionArn": function_arn, "timeout": 30}),
        record("GetFunction20150331v2", "lambda", now - 19 * 3600, DEPLOYER, CLI_AGENT,
               {"functionName": TIMEOUT_FUNCTION}, read_only=True),
        # someone without permission tried first (a failed call is not a change)
        record("UpdateFunctionConfiguration20150331v2", "lambda", changed_at - 120, ADMIN, CLI_AGENT,
               {"functionName": TIMEOUT_FUNCTION, "timeout": 1}, error="AccessDenied"),
        # the change: Timeout 30 -> 3
        record("UpdateFunctionConfiguration20150331v2", "lambda", changed_at, DEPLOYER, CLI_AGENT,
               {"functionName": TIMEOUT_FUNCTION, "timeout": 3},
               response={"functionName": TIMEOUT_FUNCTION, "functionArn": function_arn, "timeout": 3}),
        # another function's change, same minute
        record("UpdateFunctionConfiguration20150331v2", "lambda", changed_at + 30, DEPLOYER, CLI_AGENT,
               {"functionName": "billing-export-staging", "timeout": 3}),
        # the policy version that dropped s3:GetObject
        record("CreatePolicyVersion", "iam", now - 2 * 3600, ADMIN, CONSOLE_AGENT,
               {"policyArn": policy_arn, "policyDocument": json.dumps(v2), "setAsDefault": True},
               response={"policyVersion": {"versionId": "v2", "isDefaultVersion": True}}),
        record("GetPolicyVersion", "iam", now - 2 * 3600 + 60, ADMIN, CONSOLE_AGENT,
               {"policyArn": policy_arn, "versionId": "v2"}, read_only=True),
        # the queue deleted by the nightly clean-up
        record("DeleteQueue", "sqs", now - 90 * 60, CLEANUP, BOTO_AGENT, {"queueUrl": queue_url}),
        record("DeleteQueue", "sqs", now - 90 * 60 + 5, CLEANUP, BOTO_AGENT,
               {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/refund-requests-dlq"}),
    ]
    deliver(s.client("s3"), TRAIL_BUCKET, TRAIL_PREFIX, records)

    return [
        Case("lambda-timeout", {"function": TIMEOUT_FUNCTION}, ["timeout-too-low"],
             "a change: the timeout lowered from 30 to 3 s, 40 minutes before the first timeout"),
        Case("access-denied", {"principal": READER_ROLE, "action": ["s3:GetObject"],
                               "resource": f"arn:aws:s3:::{LEDGER_BUCKET}/2026/11.csv"}, ["no-identity-allow"],
             "a change: a new policy version dropped s3:GetObject"),
        Case("lambda-not-found", {"function": QUEUE_FUNCTION}, ["event-source-missing"],
             "a change: the mapping's queue was deleted by a clean-up job"),
    ]
