"""The seed's "common mistakes to avoid": root access keys and no root MFA,
two public S3 buckets (one by its policy, which also lets a partner account
list it, one by its ACL), no multi-region CloudTrail trail (the one-region
trail's bucket has CloudTrail's policy: the proven-fix tests point the new
trail at it as $TRAIL_BUCKET), and an RDS instance in public reach and
unencrypted, all in the default account; the healthy twin is
a second moto account (TWIN_ACCOUNT) with each of them done right.

moto has no root user: the credential report's `<root_account>` row (the
row AWS reports for root) is seeded as an IAM user of that name, with or
without keys and MFA. GetAccountSummary in moto always says no root keys and
no root MFA, so the playbook reads both sources."""
from __future__ import annotations

import json

from . import ACCOUNT, REGION, Case, Seeder, scenario

TWIN_ACCOUNT = "222233334444"
PARTNER_ACCOUNT = "444455556666"  # a legitimate cross-account reader that a public-bucket fix must leave alone
TWIN_USER = "posture-auditor"     # its access key is how a test acts as the twin account
ROOT_ROW = "<root_account>"


class AccountSeeder(Seeder):
    """A Seeder whose requests land in another moto account (x-moto-account-id)."""

    def __init__(self, endpoint_url: str | None, account: str, region: str = REGION):
        super().__init__(endpoint_url, region)
        self.account = account

    def client(self, service: str):
        if service not in self._clients:
            client = super().client(service)
            client.meta.events.register("before-sign.*.*", self._header)
        return self._clients[service]

    def _header(self, request, **_) -> None:
        request.headers["x-moto-account-id"] = self.account


def _public_policy(bucket: str, *, partner: bool = False) -> str:
    statements = [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{bucket}/*"}]
    if partner:
        statements.append({"Sid": "PartnerList", "Effect": "Allow",
                           "Principal": {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"},
                           "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _trail_bucket_policy(bucket: str, account: str) -> str:
    """What CloudTrail needs to write to a bucket (AWS refuses create-trail without it)."""
    service = {"Service": "cloudtrail.amazonaws.com"}
    source = {"StringEquals": {"aws:SourceAccount": account}}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": service, "Action": "s3:GetBucketAcl",
         "Resource": f"arn:aws:s3:::{bucket}", "Condition": source},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": service, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{account}/*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account, "s3:x-amz-acl": "bucket-owner-full-control"}}},
    ]})


def _trail(s: Seeder, name: str, bucket: str, multi_region: bool, logging: bool, account: str = ACCOUNT) -> None:
    s.client("s3").create_bucket(Bucket=bucket)
    s.client("s3").put_bucket_policy(Bucket=bucket, Policy=_trail_bucket_policy(bucket, account))
    ct = s.client("cloudtrail")
    ct.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
    if logging:
        ct.start_logging(Name=name)


def _db(s: Seeder, name: str, *, public: bool, encrypted: bool) -> None:
    s.client("rds").create_db_instance(
        DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="mysql", EngineVersion="8.0.35",
        MasterUsername="admin", MasterUserPassword="not-a-real-password-2", AllocatedStorage=20,
        PubliclyAccessible=public, StorageEncrypted=encrypted)


def _bpa_on(s: Seeder, bucket: str) -> None:
    s.client("s3").put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})


@scenario("account-posture", "Common mistakes: root keys, no root MFA, public bucket, no CloudTrail, exposed RDS")
def account_posture(s: Seeder) -> list[Case]:
    # --- the default account: every mistake -----------------------------------
    iam = s.client("iam")
    iam.create_user(UserName=ROOT_ROW)
    iam.create_access_key(UserName=ROOT_ROW)              # root keys, and no MFA device

    s3 = s.client("s3")
    s3.create_bucket(Bucket="public-assets-demo")         # no Block Public Access, public policy
    s3.put_bucket_policy(Bucket="public-assets-demo",     # ...that also lets a partner account list it
                         Policy=_public_policy("public-assets-demo", partner=True))
    s3.create_bucket(Bucket="shared-reports-demo", ACL="public-read")   # no Block Public Access, public ACL
    s3.create_bucket(Bucket="press-kit-demo")             # public policy, but Block Public Access on
    _bpa_on(s, "press-kit-demo")
    s3.put_bucket_policy(Bucket="press-kit-demo", Policy=_public_policy("press-kit-demo"))

    _trail(s, "audit-us-east-1", "audit-trail-logs-demo", multi_region=False, logging=True)  # one region only
    _db(s, "legacy-reporting", public=True, encrypted=False)

    # --- the healthy twin: a second account ------------------------------------
    twin = AccountSeeder(s.endpoint_url, TWIN_ACCOUNT)
    tiam = twin.client("iam")
    tiam.create_user(UserName=TWIN_USER)
    tiam.create_access_key(UserName=TWIN_USER)
    tiam.create_user(UserName=ROOT_ROW)
    serial = tiam.create_virtual_mfa_device(VirtualMFADeviceName="root-account-mfa-device")["VirtualMFADevice"]["SerialNumber"]
    tiam.enable_mfa_device(UserName=ROOT_ROW, SerialNumber=serial, AuthenticationCode1="123456",
                           AuthenticationCode2="654321")
    twin.client("s3").create_bucket(Bucket="twin-assets-demo")
    _bpa_on(twin, "twin-assets-demo")
    _trail(twin, "organization-audit", "twin-trail-logs-demo", multi_region=True, logging=True, account=TWIN_ACCOUNT)
    _bpa_on(twin, "twin-trail-logs-demo")
    _db(twin, "twin-reporting", public=False, encrypted=True)

    return [Case("account-posture", {}, ["root-access-keys", "root-mfa-disabled", "s3-bucket-public", "no-cloudtrail",
                                         "rds-publicly-accessible", "rds-unencrypted"],
                 f"the common mistakes, all in account {ACCOUNT}",
                 # the trail's bucket is a human's choice; the existing trail's bucket has CloudTrail's policy
                 fix_vars={"TRAIL_BUCKET": "audit-trail-logs-demo"})]
