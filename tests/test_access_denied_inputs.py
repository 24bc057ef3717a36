"""access-denied's inputs are checked against AWS's catalogue before anything
runs (an action AWS does not have, a wildcard, a resource the action does not
act on, a context entry that is not KEY=VALUE: usage errors, exit 2, saying
what to write instead), a fix is never a wildcard (no --resource: a named
placeholder, and the output says so; the REPL asks), a principal of another
account is evaluated cross-account, explanations are per service, and an
investigation every policy allows ends in not-explained with the layers triage
could not see. Each test here reproduces a problem reported in issue 12."""
from __future__ import annotations

import json
import shlex

import pytest

from conftest import run_cli
from triage.demo.scenarios import ACCOUNT
from triage.demo.scenarios.access_denied import OBJECT_ARN, PARTNER_FUNCTION

ISSUE = "reproduced in issue 12"


def run(cli, *argv: str):
    r = cli("access-denied", *argv)
    assert "Traceback" not in r.err and "a playbook bug" not in r.out + r.err, r.out + r.err
    return r


def as_json(r) -> dict:
    return json.loads(r.out)


# --- actions -------------------------------------------------------------------------------

@pytest.mark.parametrize("action,message,hint", [
    ("GetObject", "'GetObject' has no service prefix", "did you mean s3:GetObject?"),
    ("s3:GetObjekt", "Amazon S3 has no action 'GetObjekt'", "did you mean s3:GetObject?"),
    ("s3:*", "'s3:*' is a wildcard pattern, not an action", "name the one the error message names"),
    ("s3:Get*", "it matches", "e.g. --action s3:GetObject"),
    ("s4:GetObject", "AWS has no service prefix 's4'", ""),
    ("ec2:StartInstance", "Amazon EC2 has no action 'StartInstance'", "did you mean ec2:StartInstances?"),
])
def test_an_action_aws_does_not_have_is_a_usage_error_with_did_you_mean(cli, action, message, hint):
    r = run(cli, "--principal", "reports-reader", "--action", action, "--resource", OBJECT_ARN, "--output", "json")
    assert r.code == 2 and r.out == "", ISSUE            # was: exit 0 and "could not evaluate ... (a playbook bug)"
    assert message in r.err and hint in r.err


def test_an_action_is_spelled_the_way_aws_does(cli):
    data = as_json(run(cli, "--principal", "etl-no-s3", "--action", "S3:getobject", "--resource", OBJECT_ARN, "-o", "json"))
    assert data["inputs"]["action"] == ["s3:GetObject"]
    assert [f["check"] for f in data["findings"]] == ["no-identity-allow"]


def test_the_fix_never_grants_an_action_that_does_not_exist(cli):
    r = run(cli, "--principal", "etl-no-s3", "--action", "s3:GetObjekt", "--resource", OBJECT_ARN)
    assert r.code == 2 and "put-role-policy" not in r.out


# --- resources -------------------------------------------------------------------------------

@pytest.mark.parametrize("action,resource,message,hint", [
    ("s3:GetObject", "not-an-arn", "--resource not-an-arn: not an ARN",
     "arn:${Partition}:s3:::${BucketName}/${ObjectName}"),
    ("s3:GetObject", "orders-data/reports/2026.csv", "not an ARN", "did you mean --resource arn:aws:s3:::orders-data/reports/2026.csv?"),
    ("s3:GetObject", "arn:aws:s3:::orders-data", "is not a resource s3:GetObject acts on: it acts on",
     "arn:aws:s3:::$BUCKET_NAME/$OBJECT_NAME"),
    ("s3:GetObject", "*", "'*' is not a resource", "leave --resource out"),
    ("ec2:StartInstances", "arn:aws:s3:::orders-data", "ec2:StartInstances acts on: it acts on instance",
     "arn:aws:ec2:$REGION:$ACCOUNT:instance/$INSTANCE_ID"),
    ("s3:GetObject", "arn:aws:s3", "not a whole ARN", ""),
])
def test_a_resource_the_action_does_not_act_on_is_a_usage_error_naming_the_format(cli, action, resource, message, hint):
    r = run(cli, "--principal", "reports-reader", "--action", action, "--resource", resource)
    assert r.code == 2, ISSUE                             # was: accepted silently
    assert message in r.err and hint in r.err, r.err


def test_a_bucket_action_on_an_object_is_evaluated_on_its_bucket(cli):
    data = as_json(run(cli, "--principal", "carol", "--action", "s3:ListBucket", "--resource", OBJECT_ARN, "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "not-explained"
    assert f["evidence"]["allowed_by"][0]["resource"] == "arn:aws:s3:::orders-data"


def test_an_action_without_resource_level_permissions_is_evaluated_on_star(cli):
    r = run(cli, "--principal", "etl-no-s3", "--action", "ec2:DescribeInstances",
            "--resource", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc", "-o", "json")
    assert "supports no resource-level permissions" in r.err and "evaluated on \"*\"" in r.err
    (f,) = as_json(r)["findings"]
    assert f["check"] == "no-identity-allow" and f["evidence"]["resource"] == "*"
    (cmd,) = f["fix"]["commands"]
    argv = shlex.split(cmd)
    policy = json.loads(argv[argv.index("--policy-document") + 1])
    assert policy["Statement"] == [{"Sid": "TriageFix", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]


# --- no resource: a named placeholder, never "*" -----------------------------------------------

def test_without_resource_the_fix_names_a_placeholder_and_says_so(cli):
    data = as_json(run(cli, "--principal", "etl-no-s3", "--action", "s3:GetObject", "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "no-identity-allow"
    placeholder = "arn:aws:s3:::$BUCKET_NAME/$OBJECT_NAME"
    (cmd,) = f["fix"]["commands"]
    argv = shlex.split(cmd)
    policy = json.loads(argv[argv.index("--policy-document") + 1])
    assert policy["Statement"][0]["Resource"] == placeholder, ISSUE   # was "Resource": [..., "*"]
    assert '"*"' not in cmd
    assert "No --resource was given" in f["fix"]["text"] and "placeholder" in f["fix"]["text"]


def test_without_resource_a_resource_mismatch_asks_instead_of_widening(cli):
    data = as_json(run(cli, "--principal", "reports-reader", "--action", "s3:GetObject", "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "resource-arn-mismatch"
    assert f["title"] == "ReadReports allows the action only on arn:aws:s3:::orders-data: is the resource one of them?"
    (cmd,) = f["fix"]["commands"]
    assert '"*"' not in cmd and "$BUCKET_NAME/$OBJECT_NAME" in cmd


def test_without_resource_an_ec2_placeholder_fills_region_and_account(cli):
    data = as_json(run(cli, "--principal", "etl-no-s3", "--action", "ec2:StartInstances", "-o", "json"))
    (f,) = data["findings"]
    assert f["evidence"]["resource"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/$INSTANCE_ID"


def test_the_repl_asks_for_the_resource(world, tmp_path, monkeypatch):
    from repl.conftest import CTRL_D, ENTER, drive
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    s = drive(world.url, "access-denied --principal etl-no-s3 --action s3:GetObject" + ENTER + OBJECT_ARN + ENTER + CTRL_D)
    assert f"--resource: {OBJECT_ARN}" in s.out
    (f,) = s.repl.last.findings
    assert f.check == "no-identity-allow" and f.evidence["resource"] == OBJECT_ARN


def test_the_repl_runs_with_a_placeholder_when_the_answer_is_empty(world, tmp_path, monkeypatch):
    from repl.conftest import CTRL_D, ENTER, drive
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    s = drive(world.url, "access-denied --principal etl-no-s3 --action s3:GetObject" + ENTER + ENTER + CTRL_D)
    (f,) = s.repl.last.findings
    assert f.evidence["resource"] == "arn:aws:s3:::$BUCKET_NAME/$OBJECT_NAME"


# --- context -----------------------------------------------------------------------------------

def test_a_context_entry_without_equals_is_a_usage_error(cli):
    r = run(cli, "--principal", "vpn-only-reader", "--action", "s3:GetObject", "--resource", OBJECT_ARN, "--context", "foo")
    assert r.code == 2 and "--context 'foo': write KEY=VALUE" in r.err, ISSUE   # was: ignored silently


def test_an_unknown_context_key_is_a_warning_and_a_known_one_is_spelled_as_aws_does(cli):
    r = run(cli, "--principal", "vpn-only-reader", "--action", "s3:GetObject", "--resource", OBJECT_ARN,
            "--context", "aws:SourceIP2=10.1.2.3", "--context", "aws:sourceip=10.1.2.3", "-o", "json")
    assert "warning: --context aws:SourceIP2: not a condition key AWS documents" in r.err
    assert "did you mean aws:SourceIp?" in r.err
    data = as_json(r)
    assert data["inputs"]["context"] == ["aws:SourceIP2=10.1.2.3", "aws:SourceIp=10.1.2.3"]
    assert [f["check"] for f in data["findings"]] == ["not-explained"]     # aws:SourceIp matched the condition


def test_a_condition_key_of_another_service_is_warned_about(cli):
    r = run(cli, "--principal", "vpn-only-reader", "--action", "s3:GetObject", "--resource", OBJECT_ARN,
            "--context", "ec2:Region=us-east-1")
    assert "ec2:Region is a condition key of ec2, which does not take part in s3:GetObject" in r.err


# --- principals ------------------------------------------------------------------------------

def test_a_principal_of_another_account_is_evaluated_cross_account(cli):
    partner = "arn:aws:iam::999999999999:role/partner-reader"
    data = as_json(run(cli, "--principal", partner, "--action", "s3:GetObject", "--resource", OBJECT_ARN, "-o", "json"))
    assert [f["check"] for f in data["findings"]] == ["resource-policy-blocks"], ISSUE  # was: principal-not-found
    (f,) = data["findings"]
    assert "(cross-account)" in f["title"] and f["evidence"]["cross_account"] is True
    assert "evaluated cross-account, so the resource policy must grant it" in f["explanation"]
    (cmd,) = f["fix"]["commands"]
    argv = shlex.split(cmd)
    assert argv[:5] == ["aws", "s3api", "put-bucket-policy", "--bucket", "orders-data"]
    assert json.loads(argv[argv.index("--policy") + 1])["Statement"] == [
        {"Sid": "TriageAllow", "Effect": "Allow", "Principal": {"AWS": partner}, "Action": "s3:GetObject",
         "Resource": OBJECT_ARN}]
    calls = [c["call"] for c in data["calls"]]
    assert "sts.GetCallerIdentity" in calls and "iam.GetRole" not in calls   # never a same-named role here


def test_a_session_of_another_account_is_granted_through_its_role(cli):
    session = "arn:aws:sts::999999999999:assumed-role/partner-reader/run-7"
    data = as_json(run(cli, "--principal", session, "--action", "s3:GetObject", "--resource", OBJECT_ARN, "-o", "json"))
    (f,) = data["findings"]
    assert f["evidence"]["corrected_resource_policy"]["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::999999999999:role/partner-reader"}


def test_a_principal_and_resource_both_in_another_account(cli):
    data = as_json(run(cli, "--principal", "arn:aws:iam::999999999999:role/partner-invoker", "--action",
                       "lambda:InvokeFunction", "--resource", PARTNER_FUNCTION, "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "principal-in-other-account"
    assert f["title"].endswith(f"triage is reading account {ACCOUNT}")


def test_a_same_account_principal_arn_is_read_as_before(cli):
    data = as_json(run(cli, "--principal", f"arn:aws:iam::{ACCOUNT}:role/reports-reader", "--action", "s3:GetObject",
                       "--resource", OBJECT_ARN, "-o", "json"))
    assert [f["check"] for f in data["findings"]] == ["resource-arn-mismatch"]


@pytest.mark.parametrize("principal", ["arn:aws:s3:::orders-data", "arn:aws:iam::123456789012:policy/x", "a/b/c"])
def test_a_principal_that_is_no_role_or_user_is_a_usage_error(cli, principal):
    r = run(cli, "--principal", principal, "--action", "s3:GetObject", "--resource", OBJECT_ARN)
    assert r.code == 2 and "assumed-role session ARN" in r.err


# --- explanations per service ------------------------------------------------------------------

def test_the_ec2_resource_mismatch_does_not_explain_s3(cli, world):
    instance_arn = world.case(principal="ops-bob").inputs["resource"]
    data = as_json(run(cli, "--principal", "ops-bob", "--action", "ec2:StartInstances", "--resource", instance_arn, "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "resource-arn-mismatch"
    text = f["explanation"] + f["fix"]["text"]
    assert "S3" not in text and "s3:" not in text and "two-statement" not in text, ISSUE
    assert "EC2 resource-level permissions" in f["explanation"] and "instance/${InstanceId}" in f["explanation"]


def test_the_s3_resource_mismatch_still_explains_bucket_and_object(cli):
    data = as_json(run(cli, "--principal", "reports-reader", "--action", "s3:GetObject", "--resource", OBJECT_ARN, "-o", "json"))
    (f,) = data["findings"]
    assert "bucket actions (s3:ListBucket) need the bucket ARN" in f["explanation"]
    assert "The two-statement S3 pattern" in f["fix"]["text"]


# --- never "healthy" ---------------------------------------------------------------------------

def test_every_access_denied_run_that_ran_all_checks_has_a_finding(cli, world):
    """The demo world's cases, each run: a finding every time (not-explained at least)."""
    for case in world.cases:
        if case.playbook != "access-denied":
            continue
        argv = ["--output", "json"]
        for name, value in case.inputs.items():
            argv += [x for v in (value if isinstance(value, list) else [value]) for x in (f"--{name}", v)]
        data = as_json(run(cli, *argv))
        assert data["outcome"] != "healthy" and data["findings"], case.inputs


def test_not_explained_lists_what_was_not_seen_and_what_to_run(cli):
    data = as_json(run(cli, "--principal", "arn:aws:sts::123456789012:assumed-role/reports-ok/run-9",
                       "--action", "s3:GetObject", "--resource", OBJECT_ARN, "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "not-explained" and f["severity"] == "medium"
    layers = {x["layer"]: x["why"] for x in f["evidence"]["not_evaluated"]}
    assert "run-9" in layers["session policy"]
    assert "aws:SourceVpce" in layers["VPC endpoint policy"]
    assert "another identity than" in layers["calling identity"]
    decode, trail = f["fix"]["commands"]
    assert decode.startswith("aws sts decode-authorization-message --encoded-message \"$ENCODED_MESSAGE\"")
    assert trail.startswith("aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=GetObject")


def test_not_explained_names_a_resource_policy_it_does_not_read(cli):
    data = as_json(run(cli, "--principal", "etl-no-s3", "--action", "logs:CreateLogStream", "--action",
                       "logs:PutLogEvents", "--resource", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/web:*",
                       "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "not-explained"
    layers = {x["layer"]: x["why"] for x in f["evidence"]["not_evaluated"]}
    assert "was not read" in layers["resource-based policy"]


# --- cross-account to a service without resource-based policies (issue 12 audit) ---------------

def test_cross_account_ec2_proposes_a_role_in_the_resource_account_never_a_resource_policy(cli, world):
    """EC2 has no resource-based policies (IAM User Guide, AWS services that work with IAM):
    was "Add a statement to the resource policy"; now the role-assumption path, each
    document exact (checked by the evaluator here)."""
    from triage.iam import bridge
    from triage.iam.evaluate import Policy, Request, evaluate, evaluate_trust

    instance_arn = world.case(principal="ops-bob").inputs["resource"]
    caller = "arn:aws:iam::999999999999:role/partner-ops"
    data = as_json(run(cli, "--principal", caller, "--action", "ec2:StartInstances", "--resource", instance_arn,
                       "-o", "json"))
    (f,) = data["findings"]
    assert f["check"] == "resource-policy-blocks" and f["evidence"]["resource_policy_supported"] is False
    text = f["title"] + f["explanation"] + f["fix"]["text"]
    assert "Amazon EC2 resources have no resource-based policy" in f["title"]
    assert "reference_aws-services-that-work-with-iam" in f["explanation"]
    assert "Add a statement to the resource policy" not in text and "resource policy must grant it" not in text
    create, permissions, assume = (shlex.split(c) for c in f["fix"]["commands"])
    role = "triage-999999999999-partner-ops"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert create[:5] == ["aws", "iam", "create-role", "--role-name", role]
    assert permissions[:5] == ["aws", "iam", "put-role-policy", "--role-name", role]
    assert assume[:5] == ["aws", "iam", "put-role-policy", "--role-name", "partner-ops"]
    trust = json.loads(create[create.index("--assume-role-policy-document") + 1])
    grant = json.loads(permissions[permissions.index("--policy-document") + 1])
    own = json.loads(assume[assume.index("--policy-document") + 1])
    # the trust names exactly the caller
    t = Policy(trust, kind="trust", name="trust")
    own_p = [Policy(own, kind="identity", name="own")]
    assert evaluate_trust(t, caller, role_arn=role_arn, identity=own_p).allowed
    for other in ("arn:aws:iam::999999999999:role/someone-else", f"arn:aws:iam::{ACCOUNT}:role/ops-admin"):
        assert not evaluate_trust(t, other, role_arn=role_arn, identity=own_p).allowed
    # the role may do exactly the request; the caller may assume exactly that role
    assert bridge.verify_grant(grant, ["ec2:StartInstances"], instance_arn) == []
    assert bridge.verify_grant(own, ["sts:AssumeRole"], role_arn) == []
    g = [Policy(grant, kind="identity", name="grant")]
    assert evaluate(Request(role_arn, "ec2:StartInstances", instance_arn), g).allowed
    for action in ("ec2:StopInstances", "ec2:TerminateInstances", "ec2:RunInstances"):
        assert not evaluate(Request(role_arn, action, instance_arn), g).allowed
    assert not evaluate(Request(role_arn, "ec2:StartInstances", instance_arn[:-3] + "fff"), g).allowed


def test_cross_account_s3_still_adds_to_the_bucket_policy(cli):
    data = as_json(run(cli, "--principal", "arn:aws:iam::999999999999:role/partner-reader", "--action",
                       "s3:GetObject", "--resource", OBJECT_ARN, "-o", "json"))
    (f,) = data["findings"]
    assert f["evidence"]["resource_policy_supported"] is True and f["evidence"]["role_in_resource_account"] is None
    assert [shlex.split(c)[2] for c in f["fix"]["commands"]] == ["put-bucket-policy"]


def test_cross_account_dynamodb_names_the_table_policy_it_did_not_read(cli):
    """DynamoDB tables have resource-based policies (since 2024): a statement there, and the read."""
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
    data = as_json(run(cli, "--principal", "arn:aws:iam::999999999999:role/partner-reader", "--action",
                       "dynamodb:GetItem", "--resource", table, "-o", "json"))
    (f,) = data["findings"]
    assert f["evidence"]["resource_policy_supported"] is True
    assert "the table's (or stream's) resource-based policy" in f["fix"]["text"]
    assert "triage does not read" in f["explanation"]
    assert f["fix"]["commands"] == [f"aws dynamodb get-resource-policy --resource-arn {table}"]
