"""account-posture: every common mistake fires in the seeded default account
with its evidence and fix, and none fires in the healthy twin account (a
second moto account, reached with that account's own access key)."""
from __future__ import annotations

import json

import boto3
import pytest

from conftest import run_cli
from triage.demo.scenarios.posture import TWIN_ACCOUNT, TWIN_USER
from triage.expr import csv_rows, public_statements

ALL = ["root-access-keys", "root-mfa-disabled", "s3-bucket-public", "no-cloudtrail", "rds-publicly-accessible",
       "rds-unencrypted"]


def posture(run) -> tuple[int, dict]:
    r = run("account-posture", "--output", "json")
    assert "Traceback" not in r.err, r.err
    return r.code, json.loads(r.out)


@pytest.fixture(scope="module")
def bad(world):
    return posture(lambda *a: run_cli(*a, endpoint=world.url))


def finding(data: dict, check: str) -> dict:
    return next(f for f in data["findings"] if f["check"] == check)


def test_every_mistake_fires_in_the_default_account(bad):
    code, data = bad
    assert code == 1
    assert sorted(f["check"] for f in data["findings"]) == sorted(ALL)
    assert data["unchecked"] == []
    severities = [f["severity"] for f in data["findings"]]
    assert severities == sorted(severities, key=["critical", "high", "medium", "low", "info"].index)


def test_root_keys_and_mfa_evidence(bad):
    _, data = bad
    keys = finding(data, "root-access-keys")
    assert keys["evidence"]["root_keys_in_report"] == ["access key 1"]
    assert keys["fix"]["commands"] == ["aws iam get-account-summary --query SummaryMap.AccountAccessKeysPresent"]
    mfa = finding(data, "root-mfa-disabled")
    assert mfa["evidence"] == {"account_mfa_enabled": 0, "root_mfa_in_report": "false"}


def test_public_bucket_evidence_and_fix(bad):
    _, data = bad
    f = finding(data, "s3-bucket-public")
    assert "public-assets-demo" in f["evidence"]["public_buckets"]
    assert "public-assets-demo" in f["evidence"]["public_via_policy"]
    # a public policy behind Block Public Access is not public
    assert "press-kit-demo" not in f["evidence"]["public_buckets"]
    assert "aws s3api put-public-access-block --bucket public-assets-demo " in f["fix"]["commands"][0]
    assert "--account-id 123456789012 " in f["fix"]["commands"][1]


def test_cloudtrail_and_rds_evidence(bad):
    _, data = bad
    trail = finding(data, "no-cloudtrail")
    assert {"name": "audit-us-east-1", "multi_region": False, "home_region": "us-east-1"} in trail["evidence"]["trails"]
    assert trail["evidence"]["logging_multi_region_trails"] == []
    public = finding(data, "rds-publicly-accessible")
    assert "legacy-reporting" in [i["id"] for i in public["evidence"]["instances"]]
    assert "orders-db" not in json.dumps(public["evidence"])               # private instances stay out
    unencrypted = finding(data, "rds-unencrypted")
    assert "legacy-reporting" in unencrypted["evidence"]["instances"]
    assert "orders-db" not in unencrypted["evidence"]["instances"]
    assert unencrypted["fix"]["commands"][0].startswith("aws rds create-db-snapshot --db-instance-identifier ")


def test_healthy_twin_account_has_no_findings(world, monkeypatch):
    iam = boto3.client("iam", endpoint_url=world.url, region_name="us-east-1")
    iam.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", TWIN_ACCOUNT))
    key = iam.list_access_keys(UserName=TWIN_USER)["AccessKeyMetadata"][0]["AccessKeyId"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)          # moto maps the key to its account
    code, data = posture(lambda *a: run_cli(*a, endpoint=world.url))
    assert data["findings"] == [] and data["unchecked"] == [], data["findings"]
    assert code == 0
    assert {c["call"] for c in data["calls"]} >= {"iam.GetCredentialReport", "s3.GetPublicAccessBlock",
                                                 "cloudtrail.GetTrailStatus", "rds.DescribeDBInstances"}


def test_public_statements():
    anyone = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    scoped = {**anyone, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
    deny = {**anyone, "Effect": "Deny"}
    aws_star = {**anyone, "Principal": {"AWS": ["*"]}}
    account = {**anyone, "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}
    policy = json.dumps({"Statement": [anyone, scoped, deny, aws_star, account]})
    assert public_statements(policy) == [anyone, aws_star]
    assert public_statements("not json") == [] and public_statements(None) == []


def test_csv_rows_reads_the_credential_report():
    rows = csv_rows(b"user,mfa_active\n<root_account>,false\nalice,true\n")
    assert rows == [{"user": "<root_account>", "mfa_active": "false"}, {"user": "alice", "mfa_active": "true"}]
