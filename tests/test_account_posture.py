"""account-posture: every common mistake fires in the seeded default account
with its evidence and fix, and none fires in the healthy twin account (a
second moto account, reached with that account's own access key)."""
from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

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
    assert f["evidence"] == {"public_buckets": ["public-assets-demo", "shared-reports-demo"],
                             "public_via_policy": ["public-assets-demo"], "public_via_acl": ["shared-reports-demo"]}
    # a public policy behind Block Public Access is not public: press-kit-demo is in none of them
    block = "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    assert f["fix"]["commands"] == [
        f"aws s3api put-public-access-block --bucket {b} --public-access-block-configuration {block}"
        for b in ("public-assets-demo", "shared-reports-demo")]
    # the account-wide switch is advice, not a command: it would also close buckets that are public on purpose
    assert "aws s3control put-public-access-block --account-id 123456789012" in " ".join(f["fix"]["text"].split())


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
    restore = unencrypted["fix"]["commands"][2]
    assert restore.startswith("aws rds restore-db-instance-from-db-snapshot --db-instance-identifier "
                              "legacy-reporting-encrypted --db-snapshot-identifier legacy-reporting-encrypted "
                              "--db-instance-class db.t3.micro --no-publicly-accessible "
                              "--db-parameter-group-name default.mysql8.0 --vpc-security-group-ids sg-"), restore
    assert "--option-group-name" not in restore     # the default group: a restore gets it anyway
    assert not any("delete" in c for c in unencrypted["fix"]["commands"])


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


# --- the fixes, applied in a moto world of their own ---------------------------------
# tests/fixes proves s3-bucket-public and no-cloudtrail through the proven-fix
# harness. The RDS fixes cannot go through it: AWS CLI v1 sends `aws rds` in
# us-east-1 to https://rds.amazonaws.com unless --endpoint-url is on the command
# line (it ignores AWS_ENDPOINT_URL), so here the printed commands run with it.

@contextlib.contextmanager
def moto_of_its_own():
    """A moto server in a process of its own: moto's state is per process, and a
    server started in this one would share (and, reset, wipe) the session's world."""
    code = ("import sys, time\nfrom triage.demo.server import MotoServer\nserver = MotoServer().start()\n"
            "print(server.url, flush=True)\nsys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://"), "the moto server did not start"
        yield url
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def fixing():
    """A fresh moto world with the account-posture scenario; diagnose() and apply() against it."""
    from fixes.harness import apply, diagnose
    from triage.demo.scenarios import seed_all

    with moto_of_its_own() as url:
        case = seed_all(url, ["account-posture"])[0]

        def run(command: str):
            done = apply(url, 'aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }\n' + command,
                         case.fix_vars)
            assert done.returncode == 0, f"{command}\n{done.stderr}"
            return done
        yield url, (lambda: diagnose(url, "account-posture", {})), run


def _rds(url: str):
    return boto3.client("rds", endpoint_url=url, region_name="us-east-1")


def test_the_public_bucket_fix_keeps_every_policy_and_acl_it_found(fixing):
    url, diagnose, run = fixing
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    before = {b: (s3.get_bucket_policy(Bucket=b)["Policy"] if b == "public-assets-demo" else None,
                  s3.get_bucket_acl(Bucket=b)["Grants"]) for b in ("public-assets-demo", "shared-reports-demo")}
    for command in finding(diagnose(), "s3-bucket-public")["fix"]["commands"]:
        run(command)
    after = {b: (s3.get_bucket_policy(Bucket=b)["Policy"] if b == "public-assets-demo" else None,
                 s3.get_bucket_acl(Bucket=b)["Grants"]) for b in before}
    assert after == before                          # the partner account's statement is still there
    assert "PartnerList" in after["public-assets-demo"][0]
    assert "s3-bucket-public" not in [f["check"] for f in diagnose()["findings"]]


def test_the_public_database_fix_applied_with_the_aws_cli(fixing):
    url, diagnose, run = fixing
    before = diagnose()
    for command in finding(before, "rds-publicly-accessible")["fix"]["commands"]:
        run(command)
    after = diagnose()
    checks = [f["check"] for f in after["findings"]]
    assert "rds-publicly-accessible" not in checks and set(checks) <= set(f["check"] for f in before["findings"])
    assert "rds-publicly-accessible" not in [u["check"] for u in after["unchecked"]]
    db = _rds(url).describe_db_instances(DBInstanceIdentifier="legacy-reporting")["DBInstances"][0]
    assert db["PubliclyAccessible"] is False and db["DBInstanceStatus"] == "available"


def test_the_encryption_fix_restores_an_encrypted_copy_and_leaves_the_original_alone(fixing):
    url, diagnose, run = fixing
    rds = _rds(url)
    original = rds.describe_db_instances(DBInstanceIdentifier="legacy-reporting")["DBInstances"][0]
    fix = finding(diagnose(), "rds-unencrypted")["fix"]
    names = ["legacy-reporting-pre-encryption", "legacy-reporting-encrypted"]
    for command, waits_for in zip(fix["commands"], [names[0], names[1], None]):
        run(command)
        if waits_for:     # what the fix text tells the human to run between the commands
            run(f"aws rds wait db-snapshot-available --db-snapshot-identifier {waits_for}")
    copy = rds.describe_db_instances(DBInstanceIdentifier="legacy-reporting-encrypted")["DBInstances"][0]
    assert copy["StorageEncrypted"] is True
    assert copy["DBInstanceClass"] == original["DBInstanceClass"]
    assert copy["VpcSecurityGroups"] == original["VpcSecurityGroups"]
    assert copy["DBParameterGroups"][0]["DBParameterGroupName"] == original["DBParameterGroups"][0]["DBParameterGroupName"]
    # (moto keeps the snapshot's PubliclyAccessible on restore; the command asks for --no-publicly-accessible)
    still = rds.describe_db_instances(DBInstanceIdentifier="legacy-reporting")["DBInstances"][0]
    assert still["StorageEncrypted"] is False and still["DBInstanceStatus"] == "available"
    # the original is still there and unencrypted until a human retires it, so the finding stays, about it alone
    unencrypted = finding(diagnose(), "rds-unencrypted")
    assert unencrypted["evidence"]["instances"] == ["legacy-reporting"]


def test_a_stopped_multi_region_trail_is_started_again_not_duplicated(fixing):
    url, diagnose, run = fixing
    ct = boto3.client("cloudtrail", endpoint_url=url, region_name="us-east-1")
    arn = ct.create_trail(Name="org-wide", S3BucketName="audit-trail-logs-demo", IsMultiRegionTrail=True)["TrailARN"]
    before = diagnose()
    trail = finding(before, "no-cloudtrail")
    assert trail["evidence"]["multi_region_trails"] == [arn] and trail["evidence"]["logging_multi_region_trails"] == []
    assert trail["fix"]["commands"] == ["aws cloudtrail start-logging --name org-wide --region us-east-1"]
    for command in trail["fix"]["commands"]:
        run(command)
    after = diagnose()
    assert "no-cloudtrail" not in [f["check"] for f in after["findings"]] + [u["check"] for u in after["unchecked"]]
    assert set(f["check"] for f in after["findings"]) < set(f["check"] for f in before["findings"])
    assert sorted(t["Name"] for t in ct.describe_trails()["trailList"]) == ["audit-us-east-1", "org-wide"]
