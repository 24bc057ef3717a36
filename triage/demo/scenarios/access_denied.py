"""AccessDenied, the production debug guide's three symptoms: s3:GetObject
on a bucket, ec2:StartInstances on one instance, and a role assumed from
EC2 that cannot write to CloudWatch Logs; plus the layers the guide hints at
(explicit deny in a bucket policy, a permissions boundary), the S3 and KMS
causes beyond IAM (an SSE-KMS key the caller cannot use, a missing object
without s3:ListBucket, a VPC endpoint policy, a resource control policy) and
twins that every policy allows: those end in `not-explained`, never "healthy",
since triage was told the request was denied."""
from __future__ import annotations

import json

from . import ACCOUNT, Case, Seeder, scenario

BUCKET, ARCHIVE = "orders-data", "orders-archive"
OBJECT_ARN = f"arn:aws:s3:::{BUCKET}/reports/2026.csv"
LOG_GROUP_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/web:*"
PARTNER_FUNCTION = "arn:aws:lambda:us-east-1:999999999999:function:partner-hook"
# the causes beyond IAM: their own buckets, keys and VPCs
SEALED, VAULT, GUARDED = "orders-sealed", "orders-vault", "orders-guarded"
SEALED_ARN = f"arn:aws:s3:::{SEALED}/reports/2026.csv"          # SSE-KMS, a key whose policy delegates to IAM
VAULT_ARN = f"arn:aws:s3:::{VAULT}/ledger/2026.csv"             # SSE-KMS, a key policy that does not
GUARDED_ARN = f"arn:aws:s3:::{GUARDED}/exports/2026.csv"        # an RCP denies reads from outside one endpoint
MISSING_ARN = f"arn:aws:s3:::{BUCKET}/reports/2099.csv"          # no such object
PARTNER_ROLE = "arn:aws:iam::999999999999:role/partner-reader"


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
    s3.put_object(Bucket=ARCHIVE, Key="2019/ledger.csv", Body=b"id,total\n")   # so that only the Deny explains it

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

    beyond = _beyond_iam(s, role)

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
        Case("access-denied", {"principal": "reports-ok", **object_read}, ["not-explained"],
             "every policy allows it: the two-statement pattern (not-explained: the denial is elsewhere)"),
        Case("access-denied", {"principal": "vpn-only-reader", **object_read}, ["condition-not-met"],
             "AccessDenied on s3:GetObject: the allow only applies from the VPN range"),
        Case("access-denied", {"principal": "vpn-only-reader", **object_read, "context": ["aws:SourceIp=10.1.2.3"]},
             ["not-explained"], "allowed: the same request from the VPN range"),
        Case("access-denied", {"principal": "cross-invoker", "action": ["lambda:InvokeFunction"],
                               "resource": PARTNER_FUNCTION}, ["resource-policy-blocks"],
             "AccessDenied across accounts: the partner's function policy does not name the caller"),
        Case("access-denied", {"principal": "ghost-role", **object_read}, ["principal-not-found"],
             "no such role or user"),
        Case("access-denied", {"principal": "carol", "action": ["s3:ListBucket"], "resource": f"arn:aws:s3:::{BUCKET}"},
             ["not-explained"], "allowed through a group policy"),
        Case("access-denied", {"principal": "ops-bob", "action": ["ec2:StartInstances"], "resource": instance_arn},
             ["resource-arn-mismatch"], "AccessDenied on ec2:StartInstances: policy names another instance"),
        Case("access-denied", {"principal": "ops-guarded", "action": ["ec2:StartInstances"], "resource": instance_arn},
             ["explicit-deny"], "AccessDenied on ec2:StartInstances: explicit Deny for this instance"),
        Case("access-denied", {"principal": "ops-admin", "action": ["ec2:StartInstances"], "resource": instance_arn},
             ["not-explained"], "allowed: SCPs do not restrict the management account (and the output says so)"),
        Case("access-denied", {"principal": "web-logs", "instance": instance, **logs_write},
             ["no-identity-allow", "no-instance-profile", "trust-policy-missing-service"],
             "role assumed from EC2 cannot write to CloudWatch Logs"),
        Case("access-denied", {"principal": "web-logs-ok", **logs_write, "service": "ec2.amazonaws.com"},
             ["not-explained"], "allowed: EC2 trusted, logs actions on the log group ARN"),
        Case("access-denied", {"principal": PARTNER_ROLE, **object_read}, ["resource-policy-blocks"],
             "a principal of another account: evaluated cross-account, the bucket policy does not grant it"),
        *beyond,
    ]


def _beyond_iam(s: Seeder, role) -> list[Case]:
    """The causes of AccessDenied on s3:GetObject that are not IAM statements, each
    with a twin that every policy allows."""
    s3, kms, ec2, org = s.client("s3"), s.client("kms"), s.client("ec2"), s.client("organizations")
    read = ("s3:GetObject", "s3:ListBucket")

    # SSE-KMS under a key whose policy delegates to IAM: the role needs kms:Decrypt too
    sealed_key = kms.create_key(Description="orders-sealed objects")["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders-sealed", TargetKeyId=sealed_key["KeyId"])
    s3.create_bucket(Bucket=SEALED)
    s3.put_object(Bucket=SEALED, Key="reports/2026.csv", Body=b"id,total\n", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=sealed_key["Arn"])   # HeadObject names the key by ARN, as S3 does
    sealed_read = _doc(_allow(read[1], f"arn:aws:s3:::{SEALED}", "BucketLevel"),
                       _allow(read[0], f"arn:aws:s3:::{SEALED}/*", "ObjectLevel"))
    role("sealed-reader", ("ReadSealed", sealed_read))
    role("sealed-reader-ok", ("ReadSealed", sealed_read),
         ("DecryptSealed", _doc(_allow("kms:Decrypt", sealed_key["Arn"], "Decrypt"))))

    # SSE-KMS under a key whose policy lets the account administer the key but not use it:
    # an identity policy allowing kms:Decrypt does not count; a grant does
    vault_policy = _doc({"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                         "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                                    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                                    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                                    "kms:CreateGrant"],
                         "Resource": "*"})
    vault_key = kms.create_key(Description="orders-vault objects", Policy=vault_policy)["KeyMetadata"]
    s3.create_bucket(Bucket=VAULT)
    s3.put_object(Bucket=VAULT, Key="ledger/2026.csv", Body=b"id,total\n", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=vault_key["Arn"])
    vault_read = _doc(_allow(read[1], f"arn:aws:s3:::{VAULT}", "BucketLevel"),
                      _allow(read[0], f"arn:aws:s3:::{VAULT}/*", "ObjectLevel"),
                      _allow("kms:Decrypt", vault_key["Arn"], "Decrypt"))
    role("vault-reader", ("ReadVault", vault_read))
    granted = role("vault-reader-granted", ("ReadVault", vault_read))
    kms.create_grant(KeyId=vault_key["KeyId"], GranteePrincipal=granted, Operations=["Decrypt"], Name="vault-reader-granted")

    # a missing key: without s3:ListBucket, S3 answers 403 instead of 404
    role("drafts-reader", ("ReadObjects", _doc(_allow(read[0], f"arn:aws:s3:::{BUCKET}/*", "ObjectLevel"))))

    # requests through a gateway endpoint whose policy allows listing only; and one with the default policy
    # (an instance in each VPC runs as vpce-reader: its subnet's route table names the endpoint)
    iam = s.client("iam")
    role("vpce-reader", ("ReadReports", _doc(_allow(read[1], f"arn:aws:s3:::{BUCKET}", "BucketLevel"),
                                             _allow(read[0], f"arn:aws:s3:::{BUCKET}/*", "ObjectLevel"))),
         service="ec2.amazonaws.com")
    iam.create_instance_profile(InstanceProfileName="vpce-reader-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="vpce-reader-profile", RoleName="vpce-reader")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    endpoints, hosts = {}, {}
    for name, cidr, policy in (("strict", "10.90", _doc({"Sid": "ListOnly", "Effect": "Allow", "Principal": "*",
                                                          "Action": "s3:ListBucket", "Resource": "*"})),
                               ("open", "10.91", None)):
        vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"access-denied-vpce-{name}"}])
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.1.0/24")["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        kwargs = {"PolicyDocument": policy} if policy else {}
        endpoints[name] = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                                  VpcEndpointType="Gateway", RouteTableIds=[table],
                                                  **kwargs)["VpcEndpoint"]["VpcEndpointId"]
        hosts[name] = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet,
                                        IamInstanceProfile={"Name": "vpce-reader-profile"})["Instances"][0]["InstanceId"]

    # a resource control policy: reads of orders-guarded only through one endpoint. RCPs never
    # apply in the management account (this one): tests replay it as a member account.
    s3.create_bucket(Bucket=GUARDED)
    s3.put_object(Bucket=GUARDED, Key="exports/2026.csv", Body=b"id,total\n")
    root = org.list_roots()["Roots"][0]["Id"]
    rcp = org.create_policy(Name="GuardedThroughEndpoint", Type="RESOURCE_CONTROL_POLICY",
                            Description="orders-guarded: reads through the export endpoint only", Content=_doc({
                                "Sid": "OnlyThroughExportEndpoint", "Effect": "Deny", "Principal": "*",
                                "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{GUARDED}/*",
                                "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0export0000000000"}}}))
    org.attach_policy(PolicyId=rcp["Policy"]["PolicySummary"]["Id"], TargetId=root)
    role("guarded-reader", ("ReadGuarded", _doc(_allow(read[1], f"arn:aws:s3:::{GUARDED}", "BucketLevel"),
                                                _allow(read[0], f"arn:aws:s3:::{GUARDED}/*", "ObjectLevel"))))

    def case(principal: str, resource: str, expect: list[str], note: str, **more) -> Case:
        return Case("access-denied", {"principal": principal, "action": ["s3:GetObject"], "resource": resource, **more},
                    expect, note)

    return [
        case("sealed-reader", SEALED_ARN, ["kms-key-denied"],
             "SSE-KMS object: the key policy delegates to IAM, and no policy of the role allows kms:Decrypt"),
        case("sealed-reader-ok", SEALED_ARN, ["not-explained"], "SSE-KMS object, kms:Decrypt allowed: nothing explains it"),
        case("vault-reader", VAULT_ARN, ["kms-key-denied"],
             "SSE-KMS object: the key policy does not let IAM policies grant kms:Decrypt"),
        case("vault-reader-granted", VAULT_ARN, ["not-explained"], "SSE-KMS object, a KMS grant allows kms:Decrypt"),
        case("drafts-reader", MISSING_ARN, ["object-missing"], "a missing object, no s3:ListBucket: S3 answers 403"),
        case("drafts-reader", OBJECT_ARN, ["not-explained"], "the object exists: nothing explains it"),
        case("vpce-reader", OBJECT_ARN, ["vpc-endpoint-policy-blocks"], "through a VPC endpoint that allows listing only",
             context=[f"aws:SourceVpce={endpoints['strict']}"]),
        case("vpce-reader", OBJECT_ARN, ["not-explained"], "through a VPC endpoint with the default policy",
             context=[f"aws:SourceVpce={endpoints['open']}"]),
        case("vpce-reader", OBJECT_ARN, ["vpc-endpoint-policy-blocks"],
             "from an instance whose subnet routes S3 through the listing-only endpoint", instance=hosts["strict"]),
        case("vpce-reader", OBJECT_ARN, ["not-explained"], "from an instance whose subnet's endpoint allows everything",
             instance=hosts["open"]),
        case("guarded-reader", GUARDED_ARN, ["not-explained"],
             "an RCP denies this, but RCPs do not restrict the management account's resources"),
    ]


# --- every fix proven (issue 16): each case has the finding whose fix is applied, and a
# second, independent cause that the fix must leave alone. access-denied is never
# "healthy": with no cause left it reports not-explained, so a case with one cause only
# could not show "finding gone, nothing new". Here the other cause stays, which also shows
# that the fix reached no further than its own finding.
FIX_BUCKET, FIX_VAULT = "fix-orders", "fix-vault"
FIX_OBJECT = f"arn:aws:s3:::{FIX_BUCKET}/reports/2026.csv"
FIX_MISSING = f"arn:aws:s3:::{FIX_BUCKET}/reports/2099.csv"
FIX_VAULT_OBJECT = f"arn:aws:s3:::{FIX_VAULT}/ledger/2026.csv"


def _fixed_ids(s: Seeder, seed: int) -> None:
    """Make the next generated ids (EC2 instance, VPC endpoint) the same on every run,
    so that a case naming one can be written down (triage/demo/proven_fixes.yaml):
    moto draws them from its own random generator, which /moto-api/seed re-seeds."""
    if s.endpoint_url:
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{s.endpoint_url}/moto-api/seed?a={seed}", method="POST"),
                               timeout=10).read()
    else:
        from moto.moto_api._internal import mock_random
        mock_random.seed(seed)


@scenario("access-denied-fixes", "AccessDenied, two causes at once: each fix is applied and only its own cause goes")
def access_denied_fixes(s: Seeder) -> list[Case]:
    iam, s3, ec2, kms = s.client("iam"), s.client("s3"), s.client("ec2"), s.client("kms")
    s3.create_bucket(Bucket=FIX_BUCKET)
    s3.put_object(Bucket=FIX_BUCKET, Key="reports/2026.csv", Body=b"id,total\n")

    def role(name: str, *policies: tuple[str, str]) -> str:
        arn = s.role(name)           # trusts lambda.amazonaws.com; the cases ask for EC2
        for policy_name, document in policies:
            iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
        return arn

    two_statement = _doc(_allow("s3:ListBucket", f"arn:aws:s3:::{FIX_BUCKET}", "BucketLevel"),
                         _allow("s3:GetObject", f"arn:aws:s3:::{FIX_BUCKET}/*", "ObjectLevel"))
    # a role used from an instance with no profile, trusting Lambda, with no logs permission
    role("fix-web", ("ReadConfig", _doc(_allow("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/web/*"))))
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    _fixed_ids(s, 1601)
    web_host = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    # the bucket ARN where the object needs bucket/*
    role("fix-arn", ("ReadReports", _doc(_allow("s3:GetObject", f"arn:aws:s3:::{FIX_BUCKET}", "ReadReports"))))
    # an identity Deny listing this object among what it denies: narrowed, not removed
    role("fix-denied", ("ReadReports", two_statement), ("Guardrails", _doc(
        {"Sid": "NoReportReads", "Effect": "Deny", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": FIX_OBJECT},
        {"Sid": "NoBucketDelete", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": f"arn:aws:s3:::{FIX_BUCKET}"})))
    # a permissions boundary that allows logs only
    boundary = iam.create_policy(PolicyName="FixLogsOnlyBoundary", PolicyDocument=_doc(
        _allow(["logs:CreateLogStream", "logs:PutLogEvents"], LOG_GROUP_ARN, "LogsOnly")))["Policy"]["Arn"]
    role("fix-bounded", ("ReadReports", two_statement))
    iam.put_role_permissions_boundary(RoleName="fix-bounded", PermissionsBoundary=boundary)
    # SSE-KMS under a key whose policy lets the account administer it, not use it
    admin = _doc({"Sid": "KeyAdministration", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                  "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Put*", "kms:CreateGrant", "kms:RevokeGrant"],
                  "Resource": "*"})
    key = kms.create_key(Description="fix-vault objects", Policy=admin)["KeyMetadata"]
    s3.create_bucket(Bucket=FIX_VAULT)
    s3.put_object(Bucket=FIX_VAULT, Key="ledger/2026.csv", Body=b"id,total\n", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["Arn"])
    role("fix-vault-reader", ("ReadVault", _doc(_allow("s3:ListBucket", f"arn:aws:s3:::{FIX_VAULT}", "BucketLevel"),
                                                _allow("s3:GetObject", f"arn:aws:s3:::{FIX_VAULT}/*", "ObjectLevel"),
                                                _allow("kms:Decrypt", key["Arn"], "Decrypt"))))
    # a gateway endpoint whose policy allows listing only
    role("fix-vpce-reader", ("ReadReports", two_statement))
    vpc = ec2.create_vpc(CidrBlock="10.92.0.0/16")["Vpc"]["VpcId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    _fixed_ids(s, 1602)
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway",
                                       RouteTableIds=[table], PolicyDocument=_doc(
                                           {"Sid": "ListOnly", "Effect": "Allow", "Principal": "*",
                                            "Action": "s3:ListBucket", "Resource": "*"}))["VpcEndpoint"]["VpcEndpointId"]

    def case(principal: str, resource: str, expect: list[str], note: str, action=("s3:GetObject",), **more) -> Case:
        return Case("access-denied", {"principal": principal, "action": list(action), "resource": resource, **more},
                    expect, note)

    ec2_svc = {"service": "ec2.amazonaws.com"}
    return [
        case("fix-web", LOG_GROUP_ARN, ["no-identity-allow", "no-instance-profile", "trust-policy-missing-service"],
             "an EC2 role with no profile, no EC2 trust, no logs permission", ("logs:CreateLogStream", "logs:PutLogEvents"),
             instance=web_host),
        case("fix-arn", FIX_OBJECT, ["resource-arn-mismatch", "trust-policy-missing-service"],
             "bucket ARN instead of bucket/*, and a role that trusts only Lambda", **ec2_svc),
        case("fix-denied", FIX_OBJECT, ["explicit-deny", "trust-policy-missing-service"],
             "an identity Deny of this object (with DeleteObject), and a role that trusts only Lambda", **ec2_svc),
        case("fix-bounded", FIX_OBJECT, ["boundary-blocks", "trust-policy-missing-service"],
             "a logs-only permissions boundary, and a role that trusts only Lambda", **ec2_svc),
        case(PARTNER_ROLE, FIX_MISSING, ["resource-policy-blocks", "object-missing"],
             "another account's role, not granted by the bucket policy, asking for a key that does not exist"),
        case("fix-vault-reader", FIX_VAULT_OBJECT, ["kms-key-denied", "trust-policy-missing-service"],
             "SSE-KMS under a key whose policy does not let IAM grant kms:Decrypt, and a role that trusts only Lambda",
             **ec2_svc),
        case("fix-vpce-reader", FIX_OBJECT, ["vpc-endpoint-policy-blocks", "trust-policy-missing-service"],
             "through a listing-only VPC endpoint, and a role that trusts only Lambda",
             context=[f"aws:SourceVpce={endpoint}"], **ec2_svc),
    ]
