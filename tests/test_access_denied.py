"""The access-denied playbook end to end against seeded moto IAM/S3/EC2:
the production debug guide's three symptoms, each finding with its
evidence and the exact least-privilege fix; principals every policy allows
get `not-explained` (exit 1), never "healthy": triage was told the request
was denied. moto holds the principals and policies; triage's evaluator
judges them. (The S3/KMS causes beyond IAM: test_access_denied_s3kms.py;
inputs and what is not seen: test_access_denied_inputs.py.)"""
from __future__ import annotations

import json
import shlex

import pytest

from conftest import run_cli
from triage.demo.scenarios import ACCOUNT
from triage.demo.scenarios.access_denied import LOG_GROUP_ARN, OBJECT_ARN
from triage.testing.proxy import FaultProxy, access_denied


def diagnose(cli, principal: str, *actions: str, resource: str | None = None, extra: tuple = ()) -> tuple[int, dict]:
    argv = ["access-denied", "--principal", principal, "--output", "json"]
    for a in actions:
        argv += ["--action", a]
    if resource:
        argv += ["--resource", resource]
    r = cli(*argv, *extra)
    assert "Traceback" not in r.err, r.err
    return r.code, json.loads(r.out)


def only(data: dict, check: str) -> dict:
    assert [f["check"] for f in data["findings"]] == [check], [f["check"] for f in data["findings"]]
    return data["findings"][0]


def policy_from(command: str) -> dict:
    argv = shlex.split(command)
    return json.loads(argv[argv.index("--policy-document") + 1])


def test_s3_bucket_arn_instead_of_objects(cli):
    code, data = diagnose(cli, "reports-reader", "s3:GetObject", resource=OBJECT_ARN)
    assert code == 1
    f = only(data, "resource-arn-mismatch")
    ev = f["evidence"]
    assert ev["policy"] == "ReadReports" and ev["statement"] == "ReadReports"
    assert ev["granted_resources"] == ["arn:aws:s3:::orders-data"]
    assert ev["requested_resource"] == OBJECT_ARN
    assert "add arn:aws:s3:::orders-data/*" in ev["hint"]
    # the corrected inline policy keeps the bucket ARN and adds exactly the object asked for:
    # nothing else becomes allowed (tests/iam/test_fix_minimality.py re-evaluates it)
    (cmd,) = f["fix"]["commands"]
    assert cmd.startswith("aws iam put-role-policy --role-name reports-reader --policy-name ReadReports ")
    fixed = policy_from(cmd)
    assert fixed["Statement"][0]["Resource"] == ["arn:aws:s3:::orders-data", OBJECT_ARN]
    assert fixed["Statement"][0]["Action"] == "s3:GetObject"
    assert f'"Resource":"{OBJECT_ARN}"' in f["fix"]["text"]   # the two-statement pattern, exact object


def test_no_statement_at_all_gives_least_privilege_policy(cli):
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/etl-no-s3/etl-run-42"
    code, data = diagnose(cli, session, "s3:GetObject", resource=OBJECT_ARN)
    f = only(data, "no-identity-allow")
    assert f["evidence"]["principal"] == f"arn:aws:iam::{ACCOUNT}:role/etl-no-s3"
    assert f["evidence"]["policies_checked"] == ["Logs"]
    (cmd,) = f["fix"]["commands"]
    assert cmd.startswith("aws iam put-role-policy --role-name etl-no-s3 --policy-name triage-allow-getobject ")
    policy = policy_from(cmd)
    assert policy == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ObjectLevel", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": OBJECT_ARN}]}


def test_explicit_deny_in_bucket_policy_names_the_statement(cli):
    code, data = diagnose(cli, "archive-reader", "s3:GetObject", resource="arn:aws:s3:::orders-archive/2019/ledger.csv")
    f = only(data, "explicit-deny")
    (deny,) = f["evidence"]["denies"]
    assert deny["policy_type"] == "resource" and deny["statement"] == "LegalHoldNoReads"
    assert deny["policy"] == "bucket policy of orders-archive"
    assert f["fix"]["commands"] == ["aws s3api get-bucket-policy --bucket orders-archive"]
    assert "resource policy" in f["title"]


def test_permissions_boundary_caps_the_inline_allow(cli):
    code, data = diagnose(cli, "bounded-etl", "s3:GetObject", resource=OBJECT_ARN)
    f = only(data, "boundary-blocks")
    assert f["evidence"]["boundary"] == f"arn:aws:iam::{ACCOUNT}:policy/LogsOnlyBoundary"
    # the boundary as it is, plus exactly this request, as a new default version
    (command,) = f["fix"]["commands"]
    assert command.startswith(f"aws iam create-policy-version --policy-arn arn:aws:iam::{ACCOUNT}:policy/LogsOnlyBoundary "
                              "--set-as-default --policy-document ")
    assert policy_from(command)["Statement"] == [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
        {"Sid": "TriageObjectLevel", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": OBJECT_ARN}]
    assert f["evidence"]["corrected_boundary"] == policy_from(command)


def test_an_explicit_deny_written_for_exactly_this_request_is_not_removed_by_a_printed_fix(cli, world):
    """ops-guarded's NoProdStarts denies exactly ec2:StartInstances on this instance: narrowing
    it would delete it, which is its owner's decision; triage shows the policy and says why."""
    instance_arn = world.case(principal="ops-guarded").inputs["resource"]
    code, data = diagnose(cli, "ops-guarded", "ec2:StartInstances", resource=instance_arn)
    f = only(data, "explicit-deny")
    assert f["fix"]["commands"] == ["aws iam get-role-policy --role-name ops-guarded --policy-name Operate"]
    assert "denies exactly this request and nothing else" in f["fix"]["text"]


@pytest.mark.parametrize("principal,action,resource", [
    ("reports-ok", "s3:GetObject", OBJECT_ARN),
    ("reports-ok", "s3:ListBucket", "arn:aws:s3:::orders-data"),
    ("carol", "s3:ListBucket", "arn:aws:s3:::orders-data"),          # through a group policy
    ("web-logs-ok", "logs:PutLogEvents", LOG_GROUP_ARN),
])
def test_allowed_principals_are_not_explained_never_healthy(cli, principal, action, resource):
    code, data = diagnose(cli, principal, action, resource=resource)
    assert code == 1 and data["outcome"] == "findings"
    (f,) = data["findings"]
    assert f["check"] == "not-explained", data["findings"]
    assert f["evidence"]["allowed_by"][0]["action"] == action
    assert not [u for u in data["unchecked"] if "needs" in u["reason"]]


def test_ec2_start_instances_resource_level(cli, world):
    case = next(c for c in world.cases if c.inputs.get("principal") == "ops-bob")
    instance_arn = case.inputs["resource"]
    code, data = diagnose(cli, "ops-bob", "ec2:StartInstances", resource=instance_arn)
    f = only(data, "resource-arn-mismatch")
    assert f["evidence"]["granted_resources"] == [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0buildbox000000000"]
    (cmd,) = f["fix"]["commands"]
    assert cmd.startswith("aws iam put-user-policy --user-name ops-bob --policy-name StartBuildBox ")
    assert instance_arn in policy_from(cmd)["Statement"][0]["Resource"]


def test_ec2_explicit_deny_in_identity_policy(cli, world):
    instance_arn = next(c for c in world.cases if c.inputs.get("principal") == "ops-guarded").inputs["resource"]
    code, data = diagnose(cli, "ops-guarded", "ec2:StartInstances", resource=instance_arn)
    f = only(data, "explicit-deny")
    assert f["evidence"]["denies"][0] == {"policy_type": "identity", "policy": "Operate", "statement": "NoProdStarts",
                                          "message": f["evidence"]["denies"][0]["message"]}
    assert f["fix"]["commands"] == ["aws iam get-role-policy --role-name ops-guarded --policy-name Operate"]


def test_ec2_role_cannot_write_cloudwatch_logs(cli, world):
    instance = next(c for c in world.cases if c.inputs.get("principal") == "web-logs").inputs["instance"]
    code, data = diagnose(cli, "web-logs", "logs:CreateLogStream", "logs:PutLogEvents", resource=LOG_GROUP_ARN,
                          extra=("--instance", instance))
    checks = {f["check"]: f for f in data["findings"]}
    assert set(checks) == {"no-instance-profile", "trust-policy-missing-service", "no-identity-allow"}
    trust = checks["trust-policy-missing-service"]
    assert trust["evidence"]["trusted_principals"] == ["lambda.amazonaws.com"]
    (cmd,) = trust["fix"]["commands"]
    new_trust = policy_from(cmd)
    assert {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}.items() \
        <= new_trust["Statement"][-1].items()
    assert new_trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}   # kept
    profile = checks["no-instance-profile"]
    assert profile["fix"]["commands"][-1] == (f"aws ec2 associate-iam-instance-profile --instance-id {instance} "
                                              "--iam-instance-profile Name=web-logs-profile")
    grant = policy_from(checks["no-identity-allow"]["fix"]["commands"][0])
    assert grant["Statement"][0]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert grant["Statement"][0]["Resource"] == LOG_GROUP_ARN


def test_fixes_never_suggest_wildcards(cli, world):
    """Every statement a fix adds names exact actions and resources; a corrected resource
    policy (bucket, key, endpoint) keeps its existing statements as they are."""
    for case in world.cases:
        if case.playbook != "access-denied" or not case.expect:
            continue
        argv = ["access-denied", "--output", "json"]
        for name, value in case.inputs.items():
            argv += [x for v in (value if isinstance(value, list) else [value]) for x in (f"--{name}", v)]
        data = json.loads(cli(*argv).out)
        for f in data["findings"]:
            for cmd in f["fix"]["commands"]:
                words = shlex.split(cmd)
                flag = "--policy-document" if "--policy-document" in words else "--policy" if "--policy" in words else None
                if flag is None or words[2] == "update-assume-role-policy":
                    continue
                added = json.loads(words[words.index(flag) + 1])["Statement"]
                if words[2] not in ("put-role-policy", "put-user-policy", "create-policy-version") \
                        or f["check"] == "boundary-blocks":   # the boundary as it is, plus Triage* statements
                    added = [st for st in added if str(st.get("Sid", "")).startswith("Triage")]
                    assert added, cmd
                for stmt in added:
                    actions = stmt.get("Action")
                    for a in actions if isinstance(actions, list) else [actions]:
                        assert "*" not in a, (case.inputs, cmd)
                    resources = stmt.get("Resource", [])
                    assert "*" not in (resources if isinstance(resources, list) else [resources]), cmd


def test_unknown_principal(cli):
    code, data = diagnose(cli, "no-such-role", "s3:GetObject", resource=OBJECT_ARN)
    f = only(data, "principal-not-found")
    assert f["evidence"]["role_lookup"] == "NoSuchEntity"


def test_simulator_unavailable_on_moto_is_not_an_error(cli):
    code, data = diagnose(cli, "reports-reader", "s3:GetObject", resource=OBJECT_ARN)
    sims = [c for c in data["calls"] if c["call"] == "iam.SimulatePrincipalPolicy"]
    assert len(sims) == 1 and sims[0]["error"]          # moto does not implement it ...
    assert sims[0]["ms"] < 3000                        # ... and it is not retried for seconds
    assert all(u["check"] != "simulator-disagrees" for u in data["unchecked"])


@pytest.fixture
def proxy(world):
    with FaultProxy(world.url) as p:
        yield p


def test_denied_get_role_policy_is_unchecked_with_the_permission(proxy):
    proxy.add_fault("GetRolePolicy", access_denied())
    r = run_cli("access-denied", "--principal", "reports-reader", "--action", "s3:GetObject", "--resource", OBJECT_ARN,
                "--output", "json", endpoint=proxy.url)
    data = json.loads(r.out)
    assert "Traceback" not in r.err
    needs = {u["check"]: u["needs"] for u in data["unchecked"]}
    assert needs["resource-arn-mismatch"] == ["iam:GetRolePolicy"]
    assert needs["no-identity-allow"] == ["iam:GetRolePolicy"]
    # checks that do not read the inline policies still ran
    assert "principal-not-found" not in needs and "trust-policy-missing-service" not in needs


def test_denied_organizations_read_is_unchecked_not_a_crash(proxy):
    proxy.add_fault("DescribeOrganization", access_denied())
    r = run_cli("access-denied", "--principal", "reports-reader", "--action", "s3:GetObject", "--resource", OBJECT_ARN,
                "--output", "json", endpoint=proxy.url)
    data = json.loads(r.out)
    assert any(u["needs"] == ["organizations:DescribeOrganization"] for u in data["unchecked"])
    assert "Traceback" not in r.err


def test_scps_do_not_restrict_the_management_account(cli, world):
    """The world's organization denies ec2:StartInstances at the root, but
    ops-admin lives in the management account, which SCPs never restrict."""
    instance_arn = next(c for c in world.cases if c.inputs.get("principal") == "ops-admin").inputs["resource"]
    code, data = diagnose(cli, "ops-admin", "ec2:StartInstances", resource=instance_arn)
    (f,) = data["findings"]
    assert code == 1 and f["check"] == "not-explained"           # was "✓ No findings" with no word of it
    ruled_out = {x["layer"]: x["why"] for x in f["evidence"]["ruled_out"]}
    assert "management account" in ruled_out["SCPs"] and "never restrict" in ruled_out["SCPs"]
    assert "SCPs" in f["explanation"] and "management account" in f["explanation"]
    called = [c["call"] for c in data["calls"]]
    assert "organizations.DescribeOrganization" in called and "organizations.DescribePolicy" in called


def test_simulator_disagreement_is_reported_per_action():
    from triage.iam.bridge import simulator_disagreements
    simulated = [{"action": "s3:GetObject", "decision": "allowed"}, {"action": "s3:ListBucket", "decision": "implicitDeny"}]
    decisions = [{"action": "s3:GetObject", "allowed": False}, {"action": "s3:ListBucket", "allowed": False}]
    assert simulator_disagreements(simulated, decisions) == [
        {"action": "s3:GetObject", "simulator": "allowed", "triage": "denied"}]
    assert simulator_disagreements(None, decisions) == []


def test_condition_not_met_until_the_context_matches(cli):
    code, data = diagnose(cli, "vpn-only-reader", "s3:GetObject", resource=OBJECT_ARN)
    f = only(data, "condition-not-met")
    (stmt,) = f["evidence"]["statements"]
    assert stmt["policy"] == "ReadFromVpn" and stmt["statement"] == "VpnOnly"
    assert "aws:SourceIp" in stmt["message"]
    code, data = diagnose(cli, "vpn-only-reader", "s3:GetObject", resource=OBJECT_ARN,
                          extra=("--context", "aws:SourceIp=10.1.2.3"))
    assert [f["check"] for f in data["findings"]] == ["not-explained"]
    layers = {x["layer"]: x["why"] for x in data["findings"][0]["evidence"]["not_evaluated"]}
    assert layers["request context"].endswith("given: aws:SourceIp")


def test_cross_account_needs_the_resource_policy(cli):
    from triage.demo.scenarios.access_denied import PARTNER_FUNCTION
    code, data = diagnose(cli, "cross-invoker", "lambda:InvokeFunction", resource=PARTNER_FUNCTION)
    f = only(data, "resource-policy-blocks")
    assert "999999999999" in f["explanation"] and f"arn:aws:iam::{ACCOUNT}:role/cross-invoker" in f["fix"]["text"]
