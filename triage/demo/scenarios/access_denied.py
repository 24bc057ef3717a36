"""AccessDenied, the production debug guide's three symptoms: s3:GetObject
on a bucket, ec2:StartInstances on one instance, and a role assumed from
EC2 that cannot write to CloudWatch Logs; plus the layers the guide hints at
(explicit deny in a bucket policy, a permissions boundary) and allowed twins."""
from __future__ import annotations

import json

from . import ACCOUNT, Case, Seeder, scenario

BUCKET, ARCHIVE = "orders-data", "orders-archive"
OBJECT_ARN = f"arn:aws:s3:::{BUCKET}/reports/2026.csv"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/web:*"
PARTNER_FUNCTION = "arn:aws:lambda:us-east-1:999999999999:function:partner-hook"


def _doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action, resource, sid: str | None = None) -> dict:
    s = {"Effect": "Allow", "Action": action, "Resource": resource}
    return {"Sid": sid, **s} if sid else s


@scenario("access-denied", "AccessDenied: S3 object ARNs, EC2 resource-level permissions, EC2 role to CloudWatch Logs")
def access_denied(s: Seeder) -> list[Case]:
    iam, s3, ec2 = s.client("iam"), s.client("s3"), s.client("ec2")
    for bucket in (BUCKET, ARCHIVE):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=BUCKET, Key="reports/2026.csv", Body=b"id,total\n")

    def role(name: str, *policies: tuple[str, str], service: str = "lambda.amazonaws.com") -> str:
        arn = s.role(name, service)
        for policy_name, document in policies:
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
        return arn

    # Symptom 1: s3:GetObject. The classic: the bucket ARN where objects need bucket/*.
    role("reports-reader", ("ReadReports", _doc(_allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}", "ReadReports"))))
    role("etl-no-s3", ("Logs", _doc(_allow(["logs:CreateLogStream", "logs:PutLogEvents"], LOG_GROUP_ARN))))
    role("reports-ok", ("ReadReports", _doc(_allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", "BucketLevel"),
                                            _allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*", "ObjectLevel"))))
    archive_arn = role("archive-reader", ("ReadArchive", _doc(_allow("s3:GetObject", f"arn:aws:s3:::{ARCHIVE}/*"))))
    s3.put_bucket_policy(Bucket=ARCHIVE, Policy=_doc({
        "Sid": "LegalHoldNoReads", "Effect": "Deny", "Principal": {"AWS": archive_arn},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{ARCHIVE}/*"}))
    # A permissions boundary that only allows logs: the inline S3 allow is capped.
    boundary = iam.create_policy(PolicyName="LogsOnlyBoundary", PolicyDocument=_doc(
        _allow(["logs:CreateLogStream", "logs:PutLogEvents"], "*")))["Policy"]["Arn"]
    role("bounded-etl", ("ReadReports", _doc(_allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*"))))
    iam.put_role_permissions_boundary(RoleName="bounded-etl", PermissionsBoundary=boundary)
    # A user whose access comes from a group policy.
    iam.create_user(UserName="carol")
    iam.create_group(GroupName="analysts")
    iam.add_user_to_group(GroupName="analysts", UserName="carol")
    iam.put_group_policy(GroupName="analysts", PolicyName="ListReports",
                         PolicyDocument=_doc(_allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")))

    # Symptom 2: ec2:StartInstances on one instance.
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    instance_arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}"
    iam.create_user(UserName="ops-bob")
    iam.put_user_policy(UserName="ops-bob", PolicyName="StartBuildBox", PolicyDocument=_doc(
        _allow("ec2:StartInstances", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0buildbox000000000", "StartBuildBox")))
    role("ops-guarded", ("Operate", _doc(
        _allow(["ec2:StartInstances", "ec2:StopInstances"], f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*", "OperateAll"),
        {"Sid": "NoProdStarts", "Effect": "Deny", "Action": "ec2:StartInstances", "Resource": instance_arn})))

    # Symptom 3: a role assumed from EC2 cannot write to CloudWatch Logs: the
    # instance has no profile, the role trusts Lambda instead of EC2, and its
    # policy has no logs actions.
    role("web-logs", ("ReadConfig", _doc(_allow("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/web/*"))))
    role("web-logs-ok", ("Logs", _doc(_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                                             LOG_GROUP_ARN))), service="ec2.amazonaws.com")

    # An organization whose root SCP denies ec2:StartInstances. This account is
    # its management account, which SCPs never restrict: no scp-blocks here.
    org = s.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    scp = org.create_policy(Name="DenyStartInstances", Type="SERVICE_CONTROL_POLICY", Description="no starts",
                            Content=_doc({"Effect": "Deny", "Action": "ec2:StartInstances", "Resource": "*"}))
    org.attach_policy(PolicyId=scp["Policy"]["PolicySummary"]["Id"], TargetId=root)
    role("ops-admin", ("Operate", _doc(_allow("ec2:StartInstances", instance_arn))))

    # Allowed only from the VPN range: a request without that source IP fails the Condition.
    role("vpn-only-reader", ("ReadFromVpn", _doc({**_allow("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*", "VpnOnly"),
                                                 "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}})))
    # Cross-account: an identity allow is not enough without the partner's resource policy.
    role("cross-invoker", ("InvokePartner", _doc(_allow("lambda:InvokeFunction", PARTNER_FUNCTION))))

    object_read = {"action": ["s3:GetObject"], "resource": OBJECT_ARN}
    logs_write = {"action": ["logs:CreateLogStream", "logs:PutLogEvents"], "resource": LOG_GROUP_ARN}
    return [
        Case("access-denied", {"principal": "reports-reader", **object_read}, ["resource-arn-mismatch"],
             "AccessDenied on s3:GetObject: bucket ARN instead of bucket/*"),
        Case("access-denied", {"principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/etl-no-s3/etl-run-42", **object_read},
             ["no-identity-allow"], "AccessDenied on s3:GetObject: no statement at all (assumed-role ARN)"),
        Case("access-denied", {"principal": "archive-reader", "action": ["s3:GetObject"],
                               "resource": f"arn:aws:s3:::{ARCHIVE}/2019/ledger.csv"},
             ["explicit-deny"], "AccessDenied on s3:GetObject: explicit Deny in the bucket policy"),
        Case("access-denied", {"principal": "bounded-etl", **object_read}, ["boundary-blocks"],
             "AccessDenied on s3:GetObject: capped by a permissions boundary"),
        Case("access-denied", {"principal": "reports-ok", **object_read}, [], "allowed: the two-statement pattern"),
        Case("access-denied", {"principal": "vpn-only-reader", **object_read}, ["condition-not-met"],
             "AccessDenied on s3:GetObject: the allow only applies from the VPN range"),
        Case("access-denied", {"principal": "vpn-only-reader", **object_read, "context": ["aws:SourceIp=10.1.2.3"]}, [],
             "allowed: the same request from the VPN range"),
        Case("access-denied", {"principal": "cross-invoker", "action": ["lambda:InvokeFunction"],
                               "resource": PARTNER_FUNCTION}, ["resource-policy-blocks"],
             "AccessDenied across accounts: the partner's function policy does not name the caller"),
        Case("access-denied", {"principal": "ghost-role", **object_read}, ["principal-not-found"],
             "no such role or user"),
        Case("access-denied", {"principal": "carol", "action": ["s3:ListBucket"], "resource": f"arn:aws:s3:::{BUCKET}"},
             [], "allowed through a group policy"),
        Case("access-denied", {"principal": "ops-bob", "action": ["ec2:StartInstances"], "resource": instance_arn},
             ["resource-arn-mismatch"], "AccessDenied on ec2:StartInstances: policy names another instance"),
        Case("access-denied", {"principal": "ops-guarded", "action": ["ec2:StartInstances"], "resource": instance_arn},
             ["explicit-deny"], "AccessDenied on ec2:StartInstances: explicit Deny for this instance"),
        Case("access-denied", {"principal": "ops-admin", "action": ["ec2:StartInstances"], "resource": instance_arn},
             [], "allowed: SCPs do not restrict the management account"),
        Case("access-denied", {"principal": "web-logs", "instance": instance, **logs_write},
             ["no-identity-allow", "no-instance-profile", "trust-policy-missing-service"],
             "role assumed from EC2 cannot write to CloudWatch Logs"),
        Case("access-denied", {"principal": "web-logs-ok", **logs_write, "service": "ec2.amazonaws.com"}, [],
             "allowed: EC2 trusted, logs actions on the log group ARN"),
    ]
