"""Fix safety: a printed fix, pasted in a state other than the seeded one, must not
drop what was there, grant more than the request, or break something healthy.

Each test builds an adversarial state in a moto server of its own process (fixes
change the world), runs the playbook, applies the printed commands with the real
AWS CLI (tests/fixes/harness.py `apply`), and checks the documents before and after:
the finding gone, and nothing that was there before lost.
"""
from __future__ import annotations

import json

import boto3
import pytest

from fixes.harness import ServerProcess, apply, diagnose, finding_ids, fix_commands

ACCOUNT = "123456789012"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def server():
    with ServerProcess() as srv:
        yield srv


@pytest.fixture
def aws(server):
    """A clean world and boto3 clients for it."""
    server.reset()
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")

    class Clients:
        url = server.url

        def __getattr__(self, service):
            return session.client(service.replace("_", "-"), endpoint_url=server.url)
    return Clients()


def doc(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def role_policy(aws, role: str, name: str) -> dict:
    d = aws.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    return json.loads(d) if isinstance(d, str) else d


def statements(document: dict) -> list[dict]:
    st = document.get("Statement")
    return st if isinstance(st, list) else [st]


def run_fix(aws, playbook: str, inputs: dict, finding: str, fix_vars: dict | None = None) -> tuple[dict, list[str]]:
    before = diagnose(aws.url, playbook, inputs)
    assert finding in finding_ids(before), (before.get("outcome"), finding_ids(before), before.get("unchecked"))
    commands = fix_commands(before, finding)
    done = apply(aws.url, "\n".join(commands), fix_vars or {})
    assert done.returncode == 0, "\n".join(commands) + f"\nexit {done.returncode}\n{done.stderr}"
    after = diagnose(aws.url, playbook, inputs)
    assert finding not in finding_ids(after), "\n".join(commands)
    return after, commands


def denied(aws, principal: str, actions: list[str], resource: str) -> set[str]:
    """The access-denied findings for a request that should be allowed (none of the policy causes)."""
    d = diagnose(aws.url, "access-denied", {"principal": principal, "action": actions, "resource": resource})
    return set(finding_ids(d)) & {"no-identity-allow", "resource-arn-mismatch", "explicit-deny", "kms-key-denied",
                                  "resource-policy-blocks", "boundary-blocks", "vpc-endpoint-policy-blocks"}


# --- a printed grant goes into an inline policy of a fixed name: one that is already there
#     (a fix triage printed for another request) must keep what it granted ----------------
def test_kms_decrypt_grant_keeps_the_key_an_earlier_fix_granted(aws):
    aws.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    keys = {}
    for bucket in ("vault-a", "vault-b"):
        keys[bucket] = aws.kms.create_key()["KeyMetadata"]["Arn"]
        aws.s3.create_bucket(Bucket=bucket)
        aws.s3.put_object(Bucket=bucket, Key="k.csv", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=keys[bucket])
        aws.iam.put_role_policy(RoleName="app", PolicyName=f"read-{bucket}", PolicyDocument=doc([
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]))
    # what triage printed (and the engineer applied) for vault-a last week
    aws.iam.put_role_policy(RoleName="app", PolicyName="triage-allow-decrypt", PolicyDocument=doc([
        {"Sid": "TriageFix", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": keys["vault-a"]}]))
    assert denied(aws, "app", ["s3:GetObject"], "arn:aws:s3:::vault-a/k.csv") == set()

    run_fix(aws, "access-denied", {"principal": "app", "action": ["s3:GetObject"],
                                   "resource": "arn:aws:s3:::vault-b/k.csv"}, "kms-key-denied")

    granted = [s["Resource"] for s in statements(role_policy(aws, "app", "triage-allow-decrypt"))]
    assert keys["vault-a"] in granted and keys["vault-b"] in granted, granted
    assert denied(aws, "app", ["s3:GetObject"], "arn:aws:s3:::vault-a/k.csv") == set()


def test_listbucket_grant_keeps_the_bucket_an_earlier_fix_granted(aws):
    aws.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    for bucket in ("plain-a", "plain-b"):
        aws.s3.create_bucket(Bucket=bucket)
    aws.iam.put_role_policy(RoleName="app", PolicyName="read-plain-b", PolicyDocument=doc([
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::plain-b/*"}]))
    aws.iam.put_role_policy(RoleName="app", PolicyName="triage-allow-listbucket", PolicyDocument=doc([
        {"Sid": "BucketLevel", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::plain-a"}]))

    before = diagnose(aws.url, "access-denied", {"principal": "app", "action": ["s3:GetObject"],
                                                 "resource": "arn:aws:s3:::plain-b/missing.csv"})
    commands = fix_commands(before, "object-missing")
    done = apply(aws.url, "\n".join(commands), {})
    assert done.returncode == 0, done.stderr

    granted = [s["Resource"] for s in statements(role_policy(aws, "app", "triage-allow-listbucket"))]
    assert "arn:aws:s3:::plain-a" in granted and "arn:aws:s3:::plain-b" in granted, granted
    assert denied(aws, "app", ["s3:ListBucket"], "arn:aws:s3:::plain-a") == set()


def test_no_identity_allow_grant_keeps_another_services_action_of_the_same_name(aws):
    # kinesis:PutRecord and firehose:PutRecord: both fixes are named triage-allow-putrecord
    stream = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/clicks"
    firehose = f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/clicks-archive"
    aws.iam.create_role(RoleName="producer", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    aws.iam.put_role_policy(RoleName="producer", PolicyName="triage-allow-putrecord", PolicyDocument=doc([
        {"Sid": "TriageFix", "Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": stream}]))
    assert denied(aws, "producer", ["kinesis:PutRecord"], stream) == set()

    run_fix(aws, "access-denied", {"principal": "producer", "action": ["firehose:PutRecord"], "resource": firehose},
            "no-identity-allow")

    assert denied(aws, "producer", ["kinesis:PutRecord"], stream) == set(), \
        role_policy(aws, "producer", "triage-allow-putrecord")
    assert denied(aws, "producer", ["firehose:PutRecord"], firehose) == set()


# --- a fix that edits a policy other principals share widens their access too ----------
def _two_roles_sharing(aws, statements_: list[dict]) -> str:
    for bucket in ("shared-a", "shared-b"):
        aws.s3.create_bucket(Bucket=bucket)
        aws.s3.put_object(Bucket=bucket, Key="k.csv", Body=b"x")
    arn = aws.iam.create_policy(PolicyName="team-read", PolicyDocument=doc(statements_))["Policy"]["Arn"]
    for role in ("app", "other-app"):
        aws.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
        aws.iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return arn


def test_resource_miss_in_a_shared_managed_policy_is_fixed_for_this_principal_only(aws):
    _two_roles_sharing(aws, [{"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
                              "Resource": "arn:aws:s3:::shared-a/*"}])
    _, commands = run_fix(aws, "access-denied", {"principal": "app", "action": ["s3:GetObject"],
                                                 "resource": "arn:aws:s3:::shared-b/k.csv"}, "resource-arn-mismatch")
    assert not any("create-policy-version" in c for c in commands), commands
    # the other role attached to team-read gets nothing it did not have
    assert "resource-arn-mismatch" in denied(aws, "other-app", ["s3:GetObject"], "arn:aws:s3:::shared-b/k.csv")
    assert denied(aws, "app", ["s3:GetObject"], "arn:aws:s3:::shared-a/k.csv") == set()


def test_resource_miss_in_a_policy_of_this_principal_alone_corrects_that_policy(aws):
    for bucket in ("solo-a", "solo-b"):
        aws.s3.create_bucket(Bucket=bucket)
    arn = aws.iam.create_policy(PolicyName="app-read", PolicyDocument=doc([
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::solo-a/*"}]))["Policy"]["Arn"]
    aws.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    aws.iam.attach_role_policy(RoleName="app", PolicyArn=arn)
    _, commands = run_fix(aws, "access-denied", {"principal": "app", "action": ["s3:GetObject"],
                                                 "resource": "arn:aws:s3:::solo-b/k.csv"}, "resource-arn-mismatch")
    assert any("create-policy-version" in c for c in commands), commands


def test_resource_miss_in_a_group_policy_is_fixed_on_the_user_with_a_command_that_runs(aws):
    for bucket in ("grp-a", "grp-b"):
        aws.s3.create_bucket(Bucket=bucket)
    aws.iam.create_group(GroupName="analysts")
    aws.iam.put_group_policy(GroupName="analysts", PolicyName="read", PolicyDocument=doc([
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::grp-a/*"}]))
    for user in ("carol", "dave"):
        aws.iam.create_user(UserName=user)
        aws.iam.add_user_to_group(GroupName="analysts", UserName=user)
    run_fix(aws, "access-denied", {"principal": "carol", "action": ["s3:GetObject"],
                                   "resource": "arn:aws:s3:::grp-b/k.csv"}, "resource-arn-mismatch")
    assert "resource-arn-mismatch" in denied(aws, "dave", ["s3:GetObject"], "arn:aws:s3:::grp-b/k.csv")


def test_deny_in_a_shared_managed_policy_is_not_narrowed_for_everyone(aws):
    arn = _two_roles_sharing(aws, [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared-b/*"},
        {"Sid": "NoLedger", "Effect": "Deny", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": ["arn:aws:s3:::shared-b/k.csv", "arn:aws:s3:::shared-b/other.csv"]}])
    d = diagnose(aws.url, "access-denied", {"principal": "app", "action": ["s3:GetObject"],
                                            "resource": "arn:aws:s3:::shared-b/k.csv"})
    assert "explicit-deny" in finding_ids(d)
    commands = fix_commands(d, "explicit-deny")
    assert not any("create-policy-version" in c for c in commands), commands
    assert any("get-policy-version" in c and arn in c for c in commands), commands


def test_deny_in_a_managed_policy_of_this_principal_alone_is_narrowed(aws):
    for bucket in ("solo-b",):
        aws.s3.create_bucket(Bucket=bucket)
        aws.s3.put_object(Bucket=bucket, Key="k.csv", Body=b"x")
    arn = aws.iam.create_policy(PolicyName="app-read", PolicyDocument=doc([
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::solo-b/*"},
        {"Sid": "NoLedger", "Effect": "Deny", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": ["arn:aws:s3:::solo-b/k.csv", "arn:aws:s3:::solo-b/other.csv"]}]))["Policy"]["Arn"]
    aws.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    aws.iam.attach_role_policy(RoleName="app", PolicyArn=arn)
    _, commands = run_fix(aws, "access-denied", {"principal": "app", "action": ["s3:GetObject"],
                                                 "resource": "arn:aws:s3:::solo-b/k.csv"}, "explicit-deny")
    assert any("create-policy-version" in c for c in commands), commands


# --- resource policies: every statement kept, Sids unique (S3 and KMS reject a policy
#     whose Sids repeat, and an earlier fix already used TriageAllow) -------------------
def _sids(document: dict) -> list[str]:
    return [s.get("Sid") for s in statements(document) if s.get("Sid")]


def test_bucket_policy_grant_keeps_every_statement_and_a_unique_sid(aws):
    aws.s3.create_bucket(Bucket="shared-data")
    aws.s3.put_object(Bucket="shared-data", Key="k.csv", Body=b"x")
    original = {"Version": "2012-10-17", "Statement": [
        {"Sid": "TriageAllow", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:role/partner-1"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared-data/k.csv"},
        {"Sid": "LogDelivery", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": "arn:aws:s3:::shared-data/logs/*"}]}
    aws.s3.put_bucket_policy(Bucket="shared-data", Policy=json.dumps(original))
    d = diagnose(aws.url, "access-denied", {"principal": "arn:aws:iam::999999999999:role/partner-2",
                                            "action": ["s3:GetObject"], "resource": "arn:aws:s3:::shared-data/k.csv"})
    commands = fix_commands(d, "resource-policy-blocks")
    put = next(c for c in commands if "put-bucket-policy" in c)
    printed = json.loads(put.split("--policy ", 1)[1].strip("'"))
    assert len(_sids(printed)) == len(set(_sids(printed))), _sids(printed)
    done = apply(aws.url, "\n".join(commands), {})
    assert done.returncode == 0, done.stderr
    after = json.loads(aws.s3.get_bucket_policy(Bucket="shared-data")["Policy"])
    for st in original["Statement"]:
        assert st in statements(after), st
    again = diagnose(aws.url, "access-denied", {"principal": "arn:aws:iam::999999999999:role/partner-2",
                                                "action": ["s3:GetObject"], "resource": "arn:aws:s3:::shared-data/k.csv"})
    assert "resource-policy-blocks" not in finding_ids(again)


def test_key_policy_grant_keeps_the_admins_and_a_unique_sid(aws):
    for role in ("app-a", "app-b", "key-admin"):
        aws.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    original = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Admins", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/key-admin"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "TriageAllow", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app-a"},
         "Action": "kms:Decrypt", "Resource": "*"}]}
    key = aws.kms.create_key(Policy=json.dumps(original))["KeyMetadata"]["Arn"]
    aws.s3.create_bucket(Bucket="sealed")
    aws.s3.put_object(Bucket="sealed", Key="k.csv", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    aws.iam.put_role_policy(RoleName="app-b", PolicyName="read", PolicyDocument=doc([
        {"Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": ["arn:aws:s3:::sealed/*", key]}]))
    d = diagnose(aws.url, "access-denied", {"principal": "app-b", "action": ["s3:GetObject"],
                                            "resource": "arn:aws:s3:::sealed/k.csv"})
    commands = fix_commands(d, "kms-key-denied")
    put = next(c for c in commands if "put-key-policy" in c)
    printed = json.loads(put.split("--policy ", 1)[1].strip("'"))
    assert len(_sids(printed)) == len(set(_sids(printed))), _sids(printed)
    done = apply(aws.url, "\n".join(commands), {})
    assert done.returncode == 0, done.stderr
    after = json.loads(aws.kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    for st in original["Statement"]:
        assert st in statements(after), st
    assert "kms-key-denied" not in finding_ids(diagnose(aws.url, "access-denied", {
        "principal": "app-b", "action": ["s3:GetObject"], "resource": "arn:aws:s3:::sealed/k.csv"}))


def test_trust_policy_fix_keeps_every_statement_and_a_unique_sid(aws):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowEc2ToAssume", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
         "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}}},
        {"Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    aws.iam.create_role(RoleName="web", AssumeRolePolicyDocument=json.dumps(trust))
    aws.iam.put_role_policy(RoleName="web", PolicyName="logs", PolicyDocument=doc([
        {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]))
    d = diagnose(aws.url, "access-denied", {"principal": "web", "action": ["logs:PutLogEvents"],
                                            "resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/web:log-stream:i-1",
                                            "service": "ec2.amazonaws.com"})
    assert "trust-policy-missing-service" in finding_ids(d), finding_ids(d)   # its Condition names another account
    commands = fix_commands(d, "trust-policy-missing-service")
    printed = json.loads(commands[0].split("--policy-document ", 1)[1].strip("'"))
    assert len(_sids(printed)) == len(set(_sids(printed))), _sids(printed)
    assert all(st in statements(printed) for st in trust["Statement"])


# --- account-posture: the fix covers every instance the finding names ------------------
def test_rds_public_fix_names_every_public_instance(aws):
    for db in ("pub-one", "pub-two", "private-three"):
        aws.rds.create_db_instance(DBInstanceIdentifier=db, DBInstanceClass="db.t3.micro", Engine="postgres",
                                   MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                                   PubliclyAccessible=db.startswith("pub"), StorageEncrypted=True)
    d = diagnose(aws.url, "account-posture", {})
    commands = fix_commands(d, "rds-publicly-accessible")
    for db in ("pub-one", "pub-two"):
        assert any(f"--db-instance-identifier {db} " in c + " " and "--no-publicly-accessible" in c for c in commands), commands
    assert not any("private-three" in c for c in commands), commands


# --- vpc-without-nat: the function's subnet uses the VPC's main route table, which the
#     NAT's own public subnet uses too. Replacing that table's 0.0.0.0/0 with the NAT
#     would cut the whole VPC (the NAT included) off the internet --------------------------
def shared_main_table_world(aws) -> dict:
    from triage.demo.scenarios import Seeder
    s = Seeder(aws.url)
    ec2 = aws.ec2
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24")["Subnet"]["SubnetId"]
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.3.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]
    main_id = main["RouteTableId"]
    ec2.create_route(RouteTableId=main_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    # a peering route the function's subnet relies on: it must survive the move
    peer_vpc = ec2.create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer_vpc)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.create_route(RouteTableId=main_id, DestinationCidrBlock="172.31.0.0/16", VpcPeeringConnectionId=pcx)
    sg = ec2.create_security_group(GroupName="fn-shared", Description="fn", VpcId=vpc)["GroupId"]
    s.function("shared-rt-fn", timeout=30, subnets=[private], security_groups=[sg])
    s.invocations("shared-rt-fn", [30_000.0], timeout_s=30)
    return {"vpc": vpc, "public": public, "private": private, "other": other, "igw": igw, "main": main_id, "pcx": pcx}


def effective_table(aws, vpc: str, subnet: str) -> dict:
    tables = aws.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    explicit = [t for t in tables for a in t.get("Associations", []) if a.get("SubnetId") == subnet]
    return explicit[0] if explicit else next(t for t in tables if any(a.get("Main") for a in t.get("Associations", [])))


def default_target(table: dict) -> str | None:
    for r in table.get("Routes", []):
        if r.get("DestinationCidrBlock") == "0.0.0.0/0":
            return r.get("NatGatewayId") or r.get("GatewayId")
    return None


def test_vpc_without_nat_on_the_shared_main_table_leaves_the_public_subnet_on_its_internet_gateway(aws):
    w = shared_main_table_world(aws)
    after, commands = run_fix(aws, "lambda-timeout", {"function": "shared-rt-fn"}, "vpc-without-nat",
                              {"PUBLIC_SUBNET_ID": w["public"]})
    text = "\n".join(commands)
    assert "replace-route " not in text and f"--route-table-id {w['main']}" not in text, text
    assert 'RT=$(aws ec2 create-route-table' in text, text
    # the NAT's public subnet and the bystander still go out through the internet gateway
    for subnet in (w["public"], w["other"]):
        table = effective_table(aws, w["vpc"], subnet)
        assert table["RouteTableId"] == w["main"], subnet
        assert default_target(table) == w["igw"], (subnet, table["Routes"])
    # the function's subnet has a table of its own: 0.0.0.0/0 to the NAT, the peering route kept
    mine = effective_table(aws, w["vpc"], w["private"])
    assert mine["RouteTableId"] != w["main"]
    assert str(default_target(mine)).startswith("nat-"), mine["Routes"]
    assert any(r.get("DestinationCidrBlock") == "172.31.0.0/16" and r.get("VpcPeeringConnectionId") == w["pcx"]
               for r in mine["Routes"]), mine["Routes"]


def test_vpc_without_nat_on_a_table_shared_by_an_explicit_association_moves_only_the_functions_subnet(aws):
    from triage.demo.scenarios import Seeder
    s = Seeder(aws.url)
    net = s.vpc(nat=False)
    ec2 = aws.ec2
    bystander = ec2.create_subnet(VpcId=net["vpc"], CidrBlock="10.0.7.0/24")["Subnet"]["SubnetId"]
    ec2.associate_route_table(RouteTableId=net["private_rt"], SubnetId=bystander)   # an isolated subnet: no egress
    s.function("shared-explicit-fn", timeout=30, subnets=[net["private"]], security_groups=[net["sg"]])
    s.invocations("shared-explicit-fn", [30_000.0], timeout_s=30)
    _, commands = run_fix(aws, "lambda-timeout", {"function": "shared-explicit-fn"}, "vpc-without-nat",
                          {"PUBLIC_SUBNET_ID": net["public"]})
    assert any("replace-route-table-association" in c for c in commands), commands
    # the bystander gained no internet egress; the function's subnet goes through the NAT
    assert default_target(effective_table(aws, net["vpc"], bystander)) is None
    assert str(default_target(effective_table(aws, net["vpc"], net["private"]))).startswith("nat-")
    assert str(default_target(effective_table(aws, net["vpc"], net["public"]))).startswith("igw-")


# --- no-rds-proxy: an Aurora instance is registered through its cluster, and the proxy name
#     stays a valid one (63 characters at most) however long the DB identifier ---------------
def aurora_world(aws, name: str) -> dict:
    from triage.demo.scenarios import Seeder
    s = Seeder(aws.url)
    net = s.vpc(nat=False, cidr="10.43.0.0/16")
    second = aws.ec2.create_subnet(VpcId=net["vpc"], CidrBlock="10.43.3.0/24")["Subnet"]["SubnetId"]
    aws.rds.create_db_subnet_group(DBSubnetGroupName="aurora-private", DBSubnetGroupDescription="aurora",
                                   SubnetIds=[net["private"], second])
    aws.rds.create_db_cluster(DBClusterIdentifier=f"{name}-cluster"[:63], Engine="aurora-postgresql", EngineVersion="15.4",
                              MasterUsername="app", MasterUserPassword="not-a-real-password-1",
                              DBSubnetGroupName="aurora-private", VpcSecurityGroupIds=[net["sg"]])
    aws.rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier=f"{name}-cluster"[:63],
                               DBInstanceClass="db.r6g.large", Engine="aurora-postgresql",
                               DBSubnetGroupName="aurora-private")   # as AWS reports it for a cluster member
    s.function("aurora-api", timeout=30)
    secret = aws.secretsmanager.create_secret(Name="aurora-credentials", SecretString="{}")["ARN"]
    return {"DB_SECRET_ARN": secret, "PROXY_ROLE_ARN": s.role("aurora-proxy-role", "rds.amazonaws.com"),
            "cluster": f"{name}-cluster"[:63]}


def test_no_rds_proxy_for_an_aurora_instance_registers_its_cluster_under_a_valid_name(aws):
    import re
    name = "aurora-" + "x" * 50 + "-db-instance"          # 68 characters: "<db>-proxy" would be 74
    name = name[:63]
    fix_vars = aurora_world(aws, name)
    cluster = fix_vars.pop("cluster")
    _, commands = run_fix(aws, "rds-connections", {"db": name, "function": "aurora-api"}, "no-rds-proxy", fix_vars)
    register = next(c for c in commands if "register-db-proxy-targets" in c)
    assert f"--db-cluster-identifiers {cluster}" in register and "--db-instance-identifiers" not in register, register
    proxies = aws.rds.describe_db_proxies()["DBProxies"]
    assert len(proxies) == 1
    proxy = proxies[0]["DBProxyName"]
    assert len(proxy) <= 63 and re.fullmatch(r"[A-Za-z](?:-?[A-Za-z0-9])*", proxy), proxy


def test_rds_proxy_name_is_valid_for_any_identifier():
    import re
    from triage.expr import rds_proxy_name
    for db in ("orders-db", "a" * 63, "a" * 56 + "-bbbbbb", "9lives", "x--y-", "db.with.dots"):
        name = rds_proxy_name(db)
        assert len(name) <= 63 and re.fullmatch(r"[A-Za-z](?:-?[A-Za-z0-9])*", name), (db, name)
    assert rds_proxy_name("orders-db") == "orders-db-proxy"


# --- rds-unencrypted: an Aurora instance is snapshotted and restored as its cluster (create-db-snapshot
#     refuses it), and a restore keeps the option group the original had -------------------------
def test_rds_unencrypted_aurora_is_restored_as_an_encrypted_cluster_with_its_option_group(aws):
    rds = aws.rds
    rds.create_db_cluster(DBClusterIdentifier="ledger", Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.05.2",
                          MasterUsername="app", MasterUserPassword="not-a-real-password-1", StorageEncrypted=False)
    rds.create_db_instance(DBInstanceIdentifier="ledger-1", DBClusterIdentifier="ledger", DBInstanceClass="db.r6g.large",
                           Engine="aurora-mysql")

    before = diagnose(aws.url, "account-posture", {})
    assert "rds-unencrypted" in finding_ids(before), finding_ids(before)
    commands = fix_commands(before, "rds-unencrypted")
    text = "\n".join(commands)
    assert "create-db-snapshot " not in text and "create-db-cluster-snapshot --db-cluster-identifier ledger " in text, text
    done = apply(aws.url, text, {})
    assert done.returncode == 0, text + f"\n{done.stderr}"
    cluster = rds.describe_db_clusters(DBClusterIdentifier="ledger-encrypted")["DBClusters"][0]
    assert cluster["StorageEncrypted"] is True
    copy = rds.describe_db_instances(DBInstanceIdentifier="ledger-1-encrypted")["DBInstances"][0]
    assert copy["DBClusterIdentifier"] == "ledger-encrypted"
    # (moto gives an Aurora instance its default option group whatever it is asked: the carried
    #  option group is checked on a DB instance below)
    # the original is untouched
    assert rds.describe_db_instances(DBInstanceIdentifier="ledger-1")["DBInstances"][0]["DBClusterIdentifier"] == "ledger"


def test_rds_unencrypted_instance_restore_keeps_its_option_group(aws):
    rds = aws.rds
    rds.create_option_group(OptionGroupName="mysql-audit", EngineName="mysql", MajorEngineVersion="8.0",
                            OptionGroupDescription="audit")
    rds.create_db_instance(DBInstanceIdentifier="shop-db", DBInstanceClass="db.t3.micro", Engine="mysql",
                           EngineVersion="8.0.35", MasterUsername="app", MasterUserPassword="not-a-real-password-1",
                           AllocatedStorage=20, StorageEncrypted=False, OptionGroupName="mysql-audit")
    commands = fix_commands(diagnose(aws.url, "account-posture", {}), "rds-unencrypted")
    done = apply(aws.url, "\n".join(commands), {})
    assert done.returncode == 0, "\n".join(commands) + f"\n{done.stderr}"
    copy = rds.describe_db_instances(DBInstanceIdentifier="shop-db-encrypted")["DBInstances"][0]
    assert copy["StorageEncrypted"] is True
    assert [o["OptionGroupName"] for o in copy["OptionGroupMemberships"]] == ["mysql-audit"]
    restore = next(c for c in commands if "restore-db-instance-from-db-snapshot" in c)
    assert "--option-group-name mysql-audit" in restore, restore    # AWS gives the restore the default group otherwise


# --- alarms: put-metric-alarm replaces an alarm of the same name, actions and all. The printed
#     alarm has a name of triage's own, and none is added beside one already on the metric -------
def rds_world(aws) -> dict:
    from triage.demo.scenarios import seed_all
    cases = seed_all(aws.url, ["rds-connections"])
    return next(c for c in cases if c.inputs.get("db") == "orders-db" and "connections-near-max" in c.expect).fix_vars


def test_the_connections_alarm_leaves_an_alarm_of_the_old_name_alone(aws):
    fix_vars = rds_world(aws)
    # the team's own alarm on another metric, under the name triage used to print
    aws.cloudwatch.put_metric_alarm(AlarmName="orders-db-connections", Namespace="AWS/RDS", MetricName="CPUUtilization",
                                    Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "orders-db"}],
                                    Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=90,
                                    ComparisonOperator="GreaterThanThreshold", AlarmActions=[fix_vars["ALARM_TOPIC_ARN"]])
    inputs = {"db": "orders-db", "function": ["orders-api", "orders-worker"]}
    commands = fix_commands(diagnose(aws.url, "rds-connections", inputs), "connections-near-max")
    done = apply(aws.url, "\n".join(commands), fix_vars)
    assert done.returncode == 0, "\n".join(commands) + f"\n{done.stderr}"
    alarms = {a["AlarmName"]: a for a in aws.cloudwatch.describe_alarms()["MetricAlarms"]}
    assert alarms["orders-db-connections"]["MetricName"] == "CPUUtilization"
    assert alarms["triage-orders-db-connections"]["MetricName"] == "DatabaseConnections"


def test_no_second_connections_alarm_beside_one_already_on_the_metric(aws):
    fix_vars = rds_world(aws)
    aws.cloudwatch.put_metric_alarm(AlarmName="db-conn-page", Namespace="AWS/RDS", MetricName="DatabaseConnections",
                                    Dimensions=[{"Name": "DBInstanceIdentifier", "Value": "orders-db"}],
                                    Statistic="Maximum", Period=60, EvaluationPeriods=3, Threshold=90,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold",
                                    AlarmActions=[fix_vars["ALARM_TOPIC_ARN"]])
    inputs = {"db": "orders-db", "function": ["orders-api", "orders-worker"]}
    finding = next(f for f in diagnose(aws.url, "rds-connections", inputs)["findings"] if f["check"] == "connections-near-max")
    assert not any("put-metric-alarm" in c for c in finding["fix"]["commands"]), finding["fix"]["commands"]
    assert "db-conn-page" in finding["fix"]["text"]
    done = apply(aws.url, "\n".join(finding["fix"]["commands"]), fix_vars)
    assert done.returncode == 0, done.stderr
    assert [a["AlarmName"] for a in aws.cloudwatch.describe_alarms()["MetricAlarms"]] == ["db-conn-page"]


def lambda_world(aws) -> dict:
    from triage.demo.scenarios import seed_all
    cases = seed_all(aws.url, ["lambda-timeout"])
    return next(c for c in cases if c.inputs == {"function": "orders-etl"}).fix_vars


def test_the_duration_alarm_leaves_an_alarm_of_the_old_name_alone(aws):
    fix_vars = lambda_world(aws)
    aws.cloudwatch.put_metric_alarm(AlarmName="orders-etl-duration-near-timeout", Namespace="AWS/Lambda",
                                    MetricName="Errors", Dimensions=[{"Name": "FunctionName", "Value": "orders-etl"}],
                                    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold",
                                    AlarmActions=[fix_vars["ALARM_TOPIC_ARN"]])
    run_fix(aws, "lambda-timeout", {"function": "orders-etl"}, "timeout-too-low", fix_vars)
    alarms = {a["AlarmName"]: a for a in aws.cloudwatch.describe_alarms()["MetricAlarms"]}
    assert alarms["orders-etl-duration-near-timeout"]["MetricName"] == "Errors"
    assert alarms["triage-orders-etl-duration-near-timeout"]["MetricName"] == "Duration"


def test_no_second_duration_alarm_beside_one_already_on_the_metric(aws):
    fix_vars = lambda_world(aws)
    aws.cloudwatch.put_metric_alarm(AlarmName="etl-slow", Namespace="AWS/Lambda", MetricName="Duration",
                                    Dimensions=[{"Name": "FunctionName", "Value": "orders-etl"}],
                                    Statistic="Maximum", Period=300, EvaluationPeriods=1, Threshold=2500,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold",
                                    AlarmActions=[fix_vars["ALARM_TOPIC_ARN"]])
    _, commands = run_fix(aws, "lambda-timeout", {"function": "orders-etl"}, "timeout-too-low", fix_vars)
    assert not any("put-metric-alarm" in c for c in commands), commands
    assert [a["AlarmName"] for a in aws.cloudwatch.describe_alarms()["MetricAlarms"]] == ["etl-slow"]


# --- no-instance-profile: create-instance-profile fails on a name that exists; a profile the
#     role already has is reused, and only a role without one gets a new one --------------------
def instance_without_profile(aws, role: str, profile: str | None) -> str:
    aws.iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    if profile:
        aws.iam.create_instance_profile(InstanceProfileName=profile)
        aws.iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    image = aws.ec2.describe_images()["Images"][0]["ImageId"]
    return aws.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]


@pytest.mark.parametrize("profile", ["worker-profile", "worker-ec2"])
def test_no_instance_profile_reuses_the_profile_the_role_already_has(aws, profile):
    instance = instance_without_profile(aws, "worker", profile)
    inputs = {"principal": "worker", "action": ["logs:CreateLogStream"],
              "resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/worker:*", "instance": instance}
    _, commands = run_fix(aws, "access-denied", inputs, "no-instance-profile")
    assert not any("create-instance-profile" in c or "add-role-to-instance-profile" in c for c in commands), commands
    assoc = aws.ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance]}])["IamInstanceProfileAssociations"]
    assert [a["IamInstanceProfile"]["Arn"].rsplit("/", 1)[-1] for a in assoc] == [profile]
    assert [p["InstanceProfileName"] for p in aws.iam.list_instance_profiles()["InstanceProfiles"]] == [profile]


def test_no_instance_profile_creates_one_for_a_role_without_any(aws):
    instance = instance_without_profile(aws, "worker", None)
    inputs = {"principal": "worker", "action": ["logs:CreateLogStream"],
              "resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/worker:*", "instance": instance}
    _, commands = run_fix(aws, "access-denied", inputs, "no-instance-profile")
    assert commands[0] == "aws iam create-instance-profile --instance-profile-name worker-profile", commands
    roles = aws.iam.get_instance_profile(InstanceProfileName="worker-profile")["InstanceProfile"]["Roles"]
    assert [r["RoleName"] for r in roles] == ["worker"]


def test_nat_route_fix_copies_endpoint_propagated_and_peering_routes_of_a_shared_table():
    from fixes.harness import model_problems
    from triage.engine import _commands
    table = {"RouteTableId": "rtb-main", "VpcId": "vpc-1", "PropagatingVgws": [{"GatewayId": "vgw-1"}],
             "Associations": [{"Main": True, "RouteTableAssociationId": "rtbassoc-main"},
                              {"SubnetId": "subnet-fn", "RouteTableAssociationId": "rtbassoc-fn"},
                              {"SubnetId": "subnet-other", "RouteTableAssociationId": "rtbassoc-other"}],
             "Routes": [{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable"},
                        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "Origin": "CreateRoute"},
                        {"DestinationPrefixListId": "pl-s3", "GatewayId": "vpce-s3", "Origin": "CreateRoute"},
                        {"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-1", "Origin": "EnableVgwRoutePropagation"},
                        {"DestinationCidrBlock": "172.31.0.0/16", "VpcPeeringConnectionId": "pcx-1", "Origin": "CreateRoute"},
                        {"DestinationCidrBlock": "10.8.0.0/16", "TransitGatewayId": "tgw-1", "Origin": "CreateRoute"}]}
    rows = [{"subnet": "subnet-fn", "vpc": "vpc-1", "route_table": "rtb-main", "default_route": "igw-1", "nat": False},
            {"subnet": "subnet-fn2", "vpc": "vpc-1", "route_table": "rtb-main", "default_route": "igw-1", "nat": False}]
    commands = _commands(["${nat_route_fix(rows, tables)}"], {"rows": rows, "tables": [table]})
    assert commands == [
        "RT=$(aws ec2 create-route-table --vpc-id vpc-1 --query RouteTable.RouteTableId --output text)",
        'aws ec2 create-route --route-table-id "$RT" --destination-cidr-block 172.31.0.0/16 --vpc-peering-connection-id pcx-1',
        'aws ec2 create-route --route-table-id "$RT" --destination-cidr-block 10.8.0.0/16 --transit-gateway-id tgw-1',
        'aws ec2 modify-vpc-endpoint --vpc-endpoint-id vpce-s3 --add-route-table-ids "$RT"',
        'aws ec2 enable-vgw-route-propagation --route-table-id "$RT" --gateway-id vgw-1',
        'aws ec2 create-route --route-table-id "$RT" --destination-cidr-block 0.0.0.0/0 --nat-gateway-id "$NAT_GATEWAY_ID"',
        'aws ec2 replace-route-table-association --association-id rtbassoc-fn --route-table-id "$RT"',
        'aws ec2 associate-route-table --route-table-id "$RT" --subnet-id subnet-fn2']
    for command in commands[1:]:
        assert model_problems(command.replace('"$RT"', "rtb-x").replace('"$NAT_GATEWAY_ID"', "nat-x")) == [], command
    assert "rtb-main" not in " ".join(commands)        # the shared table itself is never changed
