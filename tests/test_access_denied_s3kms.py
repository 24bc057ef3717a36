"""access-denied beyond IAM statements, end to end against moto: the commonest
causes of AccessDenied on s3:GetObject that no IAM statement shows, each a
finding with its evidence and fix, read from metadata only, and each with a
twin that every policy allows (which ends in not-explained, never healthy).

* an SSE-KMS object whose key the caller cannot use (the key policy delegates
  to IAM and no identity policy allows kms:Decrypt; the key policy does not
  delegate; a KMS grant that does allow it);
* a missing object without s3:ListBucket (S3 answers 403, not 404);
* a VPC endpoint policy (named by --context aws:SourceVpce, or the instance's
  subnet routes S3 through it);
* a resource control policy (the world's account is its organization's
  management account, which RCPs never restrict: a proxy answers
  DescribeOrganization as a member account's would);
* an object owned by another account while ACLs are in force (moto reports
  every object's owner as the bucket owner: a dedicated moto server is patched
  to report the ACL's FULL_CONTROL grantee as the owner, as S3 does for an
  object another account wrote)."""
from __future__ import annotations

import contextlib
import json
import shlex

import pytest

from conftest import run_cli
from triage.demo.scenarios import ACCOUNT, Case
from triage.demo.scenarios.access_denied import (BUCKET, GUARDED_ARN, MISSING_ARN, OBJECT_ARN, SEALED_ARN,
                                                   VAULT_ARN)
from triage.readonly import refusal
from triage.testing.proxy import FaultProxy, access_denied, garbage

GET = ("--action", "s3:GetObject")


def diagnose(url: str, principal: str, resource: str, *extra: str) -> tuple[int, dict, str]:
    r = run_cli("access-denied", "--principal", principal, *GET, "--resource", resource, "--output", "json", *extra,
                endpoint=url)
    assert "Traceback" not in r.err, r.err
    return r.code, json.loads(r.out), r.err


def checks(data: dict) -> list[str]:
    return [f["check"] for f in data["findings"]]


def finding(data: dict, check: str) -> dict:
    assert checks(data) == [check], (checks(data), data["unchecked"])
    assert data["unchecked"] == [], data["unchecked"]
    return data["findings"][0]


def argv_of(command: str) -> list[str]:
    return shlex.split(command)


def document(command: str, flag: str) -> dict:
    argv = argv_of(command)
    return json.loads(argv[argv.index(flag) + 1])


def not_explained(data: dict) -> dict:
    f = finding(data, "not-explained")
    assert data["outcome"] == "findings"
    return f


# --- every call is a metadata read the read-only guard admits ------------------------------

@pytest.mark.parametrize("call", ["s3.HeadObject", "s3.GetObjectAcl", "s3.GetBucketAcl", "s3.GetBucketOwnershipControls",
                                  "kms.DescribeKey", "kms.GetKeyPolicy", "kms.ListGrants", "ec2.DescribeVpcEndpoints",
                                  "ec2.DescribeRouteTables", "sts.GetCallerIdentity"])
def test_the_new_reads_are_admitted_by_the_read_only_guard(call):
    service, operation = call.split(".")
    assert refusal(service, operation, {}) is None


def test_no_object_contents_are_ever_read(world):
    for principal, resource in (("sealed-reader", SEALED_ARN), ("drafts-reader", MISSING_ARN)):
        _, data, _ = diagnose(world.url, principal, resource)
        calls = {c["call"] for c in data["calls"]}
        assert "s3.HeadObject" in calls and not calls & {"s3.GetObject", "s3.SelectObjectContent", "s3.GetObjectTorrent"}


# --- KMS ------------------------------------------------------------------------------------

def test_sse_kms_key_that_delegates_to_iam_needs_kms_decrypt(world):
    code, data, _ = diagnose(world.url, "sealed-reader", SEALED_ARN)
    assert code == 1
    f = finding(data, "kms-key-denied")
    ev = f["evidence"]
    assert ev["key"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/") and ev["key_manager"] == "CUSTOMER"
    assert [r["code"] for r in ev["reasons"]] == ["no-identity-allow"]
    assert ev["context"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert ev["context"]["kms:EncryptionContext:aws:s3:arn"] == SEALED_ARN
    (command,) = f["fix"]["commands"]
    assert argv_of(command)[:7] == ["aws", "iam", "put-role-policy", "--role-name", "sealed-reader", "--policy-name",
                                    "triage-allow-decrypt"]
    assert document(command, "--policy-document")["Statement"] == [
        {"Sid": "TriageFix", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": ev["key"]}]


def test_sse_kms_twin_with_kms_decrypt_is_not_explained(world):
    code, data, _ = diagnose(world.url, "sealed-reader-ok", SEALED_ARN)
    f = not_explained(data)
    assert code == 1 and "the KMS key policy and grants" in f["explanation"]


def test_sse_kms_key_policy_that_does_not_delegate_is_fixed_in_the_key_policy(world):
    code, data, _ = diagnose(world.url, "vault-reader", VAULT_ARN)
    f = finding(data, "kms-key-denied")
    assert "resource-no-allow" in [r["code"] for r in f["evidence"]["reasons"]]
    (command,) = f["fix"]["commands"]
    argv = argv_of(command)
    assert argv[:3] == ["aws", "kms", "put-key-policy"] and argv[argv.index("--policy-name") + 1] == "default"
    fixed = document(command, "--policy")
    assert fixed["Statement"][0]["Sid"] == "KeyAdministration"          # every existing statement kept
    assert fixed["Statement"][1] == {"Sid": "TriageAllow", "Effect": "Allow",
                                     "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/vault-reader"},
                                     "Action": "kms:Decrypt", "Resource": f["evidence"]["key"]}


def test_a_kms_grant_counts_like_the_key_policy(world):
    code, data, _ = diagnose(world.url, "vault-reader-granted", VAULT_ARN)
    not_explained(data)
    assert any(c["call"] == "kms.ListGrants" for c in data["calls"])


# --- the missing object ---------------------------------------------------------------------

def test_missing_object_without_list_bucket_is_403(world):
    code, data, _ = diagnose(world.url, "drafts-reader", MISSING_ARN)
    f = finding(data, "object-missing")
    assert "403" in f["title"] and "404" in f["title"]
    assert f["evidence"]["list_bucket_allowed"] is False and f["evidence"]["key"] == "reports/2099.csv"
    listing, grant = f["fix"]["commands"]
    assert argv_of(listing)[:8] == ["aws", "s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "reports/",
                                    "--max-items"]
    assert document(grant, "--policy-document")["Statement"] == [
        {"Sid": "BucketLevel", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": f"arn:aws:s3:::{BUCKET}"}]


def test_missing_object_with_list_bucket_says_404(world):
    code, data, _ = diagnose(world.url, "reports-ok", MISSING_ARN)
    f = finding(data, "object-missing")
    assert "403" not in f["title"] and f["evidence"]["list_bucket_allowed"] is True
    assert len(f["fix"]["commands"]) == 1      # the listing; no grant needed


def test_missing_object_twin_that_exists_is_not_explained(world):
    not_explained(diagnose(world.url, "drafts-reader", OBJECT_ARN)[1])


# --- VPC endpoints --------------------------------------------------------------------------

def _vpce_case(world, **inputs):
    return next(c for c in world.cases if c.inputs.get("principal") == "vpce-reader"
                and all(c.inputs.get(k) == v for k, v in inputs.items()) and c.expect == inputs.pop("_expect", c.expect))


def test_vpc_endpoint_named_by_the_context_blocks(world):
    case = next(c for c in world.cases if c.inputs.get("principal") == "vpce-reader" and c.inputs.get("context")
                and c.expect == ["vpc-endpoint-policy-blocks"])
    endpoint = case.inputs["context"][0].split("=", 1)[1]
    code, data, _ = diagnose(world.url, "vpce-reader", OBJECT_ARN, "--context", case.inputs["context"][0])
    f = finding(data, "vpc-endpoint-policy-blocks")
    assert f["evidence"]["endpoint"] == endpoint and "--context aws:SourceVpce names it" in f["evidence"]["how_identified"]
    (command,) = f["fix"]["commands"]
    assert argv_of(command)[:5] == ["aws", "ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", endpoint]
    fixed = document(command, "--policy-document")
    assert fixed["Statement"][0]["Sid"] == "ListOnly"
    assert fixed["Statement"][1] == {"Sid": "TriageAllow", "Effect": "Allow",
                                     "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/vpce-reader"},
                                     "Action": "s3:GetObject", "Resource": OBJECT_ARN}


def test_vpc_endpoint_found_through_the_instances_route_table(world):
    case = next(c for c in world.cases if c.inputs.get("principal") == "vpce-reader" and c.inputs.get("instance")
                and c.expect == ["vpc-endpoint-policy-blocks"])
    code, data, _ = diagnose(world.url, "vpce-reader", OBJECT_ARN, "--instance", case.inputs["instance"])
    f = finding(data, "vpc-endpoint-policy-blocks")
    assert "route table" in f["evidence"]["how_identified"] and case.inputs["instance"] in f["evidence"]["how_identified"]


@pytest.mark.parametrize("how", ["context", "instance"])
def test_vpc_endpoint_twin_with_the_default_policy_is_not_explained(world, how):
    case = next(c for c in world.cases if c.inputs.get("principal") == "vpce-reader" and c.inputs.get(how)
                and c.expect == ["not-explained"])
    value = case.inputs[how][0] if how == "context" else case.inputs[how]
    f = not_explained(diagnose(world.url, "vpce-reader", OBJECT_ARN, f"--{how}", value)[1])
    assert "the policy of vpce-" in f["explanation"]
    assert "VPC endpoint policy" not in [x["layer"] for x in f["evidence"]["not_evaluated"]]


def test_an_endpoint_that_does_not_exist_is_listed_not_guessed(world):
    f = not_explained(diagnose(world.url, "vpce-reader", OBJECT_ARN, "--context", "aws:SourceVpce=vpce-0000000000000dead")[1])
    (layer,) = [x for x in f["evidence"]["not_evaluated"] if x["layer"] == "VPC endpoint policy"]
    assert "vpce-0000000000000dead" in layer["why"]


# --- resource control policies: the world seen as a member account -------------------------

@pytest.fixture
def member(world):
    """A proxy that answers DescribeOrganization as a member account's view of the world's organization."""
    import boto3
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=world.url).describe_organization()
    org = org["Organization"]
    org["MasterAccountId"] = "111111111111"
    org["MasterAccountArn"] = org["MasterAccountArn"].rsplit("/", 1)[0] + "/111111111111"
    body = json.dumps({"Organization": org}, default=str).encode()
    with FaultProxy(world.url) as proxy:
        proxy.add_fault("DescribeOrganization", garbage(200, body, "application/x-amz-json-1.1"))
        yield proxy


def test_rcp_blocks_in_a_member_account(member):
    code, data, _ = diagnose(member.url, "guarded-reader", GUARDED_ARN)
    f = finding(data, "rcp-blocks")
    (reason,) = f["evidence"]["reasons"]
    assert reason["code"] == "rcp-explicit-deny" and reason["statement"] == "OnlyThroughExportEndpoint"
    assert f["fix"]["commands"][0] == (f"aws organizations list-policies-for-target --target-id {ACCOUNT} "
                                       "--filter RESOURCE_CONTROL_POLICY")
    assert f["fix"]["commands"][1].startswith("aws organizations describe-policy --policy-id p-")


def test_rcp_twin_evaluates_the_rcps_and_is_not_explained(member):
    f = not_explained(diagnose(member.url, "reports-ok", OBJECT_ARN)[1])
    assert "the SCPs, the RCPs" in f["explanation"]
    assert f["evidence"]["ruled_out"] == []


def test_rcps_do_not_restrict_the_management_account(world):
    f = not_explained(diagnose(world.url, "guarded-reader", GUARDED_ARN)[1])
    ruled_out = {x["layer"]: x["why"] for x in f["evidence"]["ruled_out"]}
    assert "management account" in ruled_out["RCPs"]


def test_unreadable_organization_policies_are_listed_not_guessed(member):
    member.add_fault("ListParents", access_denied(code="AccessDeniedException"))
    f = not_explained(diagnose(member.url, "reports-ok", OBJECT_ARN)[1])
    layers = {x["layer"]: x["why"] for x in f["evidence"]["not_evaluated"]}
    assert "AccessDeniedException" in layers["SCPs"] and "management account" in layers["SCPs"]
    assert "AccessDeniedException" in layers["RCPs"]


# --- object ownership (a patched, dedicated moto server) -----------------------------------

DROPBOX = "orders-dropbox"
PARTNER_CANONICAL = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"


@contextlib.contextmanager
def moto_reports_acl_owner():
    """moto answers every GetObjectAcl with the bucket owner as Owner. S3 names the
    account that wrote the object; with ObjectWriter that account holds FULL_CONTROL.
    Patched: an ACL whose FULL_CONTROL grantees do not include moto's owner names
    the first of them as Owner."""
    from moto.s3.models import OWNER
    from moto.s3.responses import S3Response

    original = S3Response.__dict__["_acl_to_dict"]     # the staticmethod itself, to put back as it was

    def acl_to_dict(acl):
        data = original.__func__(acl)
        writers = [g["Grantee"].get("ID") for g in data["Grants"] if g["Permission"] == "FULL_CONTROL" and g["Grantee"].get("ID")]
        if writers and OWNER not in writers:
            data["Owner"] = {"ID": writers[0], "DisplayName": "partner"}
        return data

    S3Response._acl_to_dict = staticmethod(acl_to_dict)
    try:
        yield
    finally:
        S3Response._acl_to_dict = original


def seed_ownership(url: str) -> list[Case]:
    """A bucket with ACLs in force holding an object another account wrote (its ACL does
    not grant the bucket owner READ), an object whose writer granted the bucket owner
    READ, and a bucket that enforces bucket-owner ownership."""
    from moto.s3.models import OWNER

    from triage.demo.scenarios import Seeder

    s = Seeder(url)
    s3, iam = s.client("s3"), s.client("iam")
    for bucket, ownership in ((DROPBOX, "ObjectWriter"), (f"{DROPBOX}-enforced", "BucketOwnerEnforced")):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})
    partner = {"GrantFullControl": f"id={PARTNER_CANONICAL}"}
    for bucket, key, grants in ((DROPBOX, "in/partner.csv", partner),
                                (DROPBOX, "in/shared.csv", {**partner, "GrantRead": f"id={OWNER}"}),
                                (f"{DROPBOX}-enforced", "in/partner.csv", {})):
        s3.put_object(Bucket=bucket, Key=key, Body=b"id,total\n")
        if grants:   # as the writing account leaves it: FULL_CONTROL for itself (moto reads grant headers only)
            s3.put_object_acl(Bucket=bucket, Key=key, **grants)
    s.role("dropbox-reader")
    iam.put_role_policy(RoleName="dropbox-reader", PolicyName="ReadDropbox", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "BucketLevel", "Effect": "Allow", "Action": "s3:ListBucket",
             "Resource": [f"arn:aws:s3:::{DROPBOX}", f"arn:aws:s3:::{DROPBOX}-enforced"]},
            {"Sid": "ObjectLevel", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": [f"arn:aws:s3:::{DROPBOX}/*", f"arn:aws:s3:::{DROPBOX}-enforced/*"]}]}))

    def case(resource, expect, note):
        return Case("access-denied", {"principal": "dropbox-reader", "action": ["s3:GetObject"], "resource": resource},
                    expect, note)
    return [case(f"arn:aws:s3:::{DROPBOX}/in/partner.csv", ["object-owner-mismatch"],
                 "an object another account wrote, ACLs in force, no READ for the bucket owner"),
            case(f"arn:aws:s3:::{DROPBOX}/in/shared.csv", ["not-explained"],
                 "an object another account wrote that grants the bucket owner READ"),
            case(f"arn:aws:s3:::{DROPBOX}-enforced/in/partner.csv", ["not-explained"],
                 "a bucket that enforces bucket-owner ownership")]


@pytest.fixture(scope="module")
def dropbox():
    from triage.demo.server import MotoServer
    with moto_reports_acl_owner(), MotoServer() as server:
        yield server.url, seed_ownership(server.url)


def test_object_owned_by_another_account_while_acls_are_in_force(dropbox):
    url, cases = dropbox
    code, data, _ = diagnose(url, "dropbox-reader", cases[0].inputs["resource"])
    f = finding(data, "object-owner-mismatch")
    ev = f["evidence"]
    assert ev["object_owner"] == PARTNER_CANONICAL and ev["object_owner"] != ev["bucket_owner"]
    assert ev["object_ownership"] == "ObjectWriter" and ev["bucket_owner_granted_read"] is False
    enforce, per_object = f["fix"]["commands"]
    assert enforce == ("aws s3api put-bucket-ownership-controls --bucket orders-dropbox --ownership-controls "
                       "'Rules=[{ObjectOwnership=BucketOwnerEnforced}]'")
    assert per_object == ("aws s3api put-object-acl --bucket orders-dropbox --key in/partner.csv "
                          "--acl bucket-owner-full-control")


@pytest.mark.parametrize("index", [1, 2], ids=["bucket-owner-granted-read", "bucket-owner-enforced"])
def test_object_ownership_twins_are_not_explained(dropbox, index):
    url, cases = dropbox
    not_explained(diagnose(url, "dropbox-reader", cases[index].inputs["resource"])[1])


# --- the demo seeds the KMS and the missing-object cases ------------------------------------

def test_the_demo_seeds_the_kms_and_missing_object_cases(world):
    expected = {(c.inputs["principal"], c.inputs["resource"]): c.expect for c in world.cases
                if c.playbook == "access-denied"}
    assert expected[("sealed-reader", SEALED_ARN)] == ["kms-key-denied"]
    assert expected[("sealed-reader-ok", SEALED_ARN)] == ["not-explained"]
    assert expected[("drafts-reader", MISSING_ARN)] == ["object-missing"]
    assert expected[("drafts-reader", OBJECT_ARN)] == ["not-explained"]
    assert expected[("vault-reader", VAULT_ARN)] == ["kms-key-denied"]
