"""`triage explain`: real-format AWS error strings are routed to the right
playbook with principal/action/resource/policy type/function extracted;
text that is not an AWS error is not routed."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from triage.demo.scenarios import ACCOUNT
from triage.demo.scenarios.access_denied import OBJECT_ARN

A = ACCOUNT
ROUTED = [
    # (text, playbook, facts that must be extracted)
    (f"User: arn:aws:iam::{A}:user/alice is not authorized to perform: s3:GetObject on resource: "
     f"arn:aws:s3:::my-bucket/key.txt because no identity-based policy allows the s3:GetObject action",
     "access-denied", {"principal": f"arn:aws:iam::{A}:user/alice", "action": "s3:GetObject",
                       "resource": "arn:aws:s3:::my-bucket/key.txt", "policy_type": "identity-based policy"}),
    (f"User: arn:aws:sts::{A}:assumed-role/OrdersRole/orders-etl is not authorized to perform: "
     f"logs:CreateLogStream because no identity-based policy allows the logs:CreateLogStream action",
     "access-denied", {"principal_role": f"arn:aws:iam::{A}:role/OrdersRole", "action": "logs:CreateLogStream"}),
    (f"User: arn:aws:iam::{A}:user/bob is not authorized to perform: s3:PutObject on resource: "
     f"arn:aws:s3:::b/k with an explicit deny in a service control policy",
     "access-denied", {"policy_type": "service control policy", "deny_kind": "explicit"}),
    (f"User: arn:aws:iam::{A}:role/app is not authorized to perform: dynamodb:GetItem on resource: "
     f"arn:aws:dynamodb:us-east-1:{A}:table/orders with an explicit deny in an identity-based policy: "
     f"arn:aws:iam::{A}:policy/DenyDynamo",
     "access-denied", {"policy_arn": f"arn:aws:iam::{A}:policy/DenyDynamo", "action": "dynamodb:GetItem"}),
    (f"User: arn:aws:sts::{A}:assumed-role/R/s is not authorized to perform: s3:ListBucket on resource: "
     f"\"arn:aws:s3:::my-bucket\" because no identity-based policy allows the s3:ListBucket action",
     "access-denied", {"resource": "arn:aws:s3:::my-bucket", "action": "s3:ListBucket"}),
    (f"User: arn:aws:iam::{A}:user/c is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k "
     f"because no resource-based policy allows the s3:GetObject action",
     "access-denied", {"policy_type": "resource-based policy"}),
    (f"User: arn:aws:iam::{A}:user/c is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k "
     f"because no permissions boundary allows the s3:GetObject action",
     "access-denied", {"policy_type": "permissions boundary"}),
    (f"User: arn:aws:iam::{A}:user/c is not authorized to perform: kms:Decrypt on resource: "
     f"arn:aws:kms:us-east-1:{A}:key/1234 because no VPC endpoint policy allows the kms:Decrypt action",
     "access-denied", {"policy_type": "VPC endpoint policy", "action": "kms:Decrypt"}),
    ("An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
     "access-denied", {"operation": "GetObject", "action": "s3:GetObject"}),
    ("botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling the "
     f"GetFunctionConfiguration operation: User: arn:aws:sts::{A}:assumed-role/ci/deploy is not authorized to "
     f"perform: lambda:GetFunctionConfiguration on resource: arn:aws:lambda:us-east-1:{A}:function:orders-etl "
     "because no identity-based policy allows the lambda:GetFunctionConfiguration action",
     "access-denied", {"action": "lambda:GetFunctionConfiguration"}),
    ("<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>X1</RequestId></Error>",
     "access-denied", {}),
    ("Access Denied", "access-denied", {}),
    ("An error occurred (UnauthorizedOperation) when calling the StartInstances operation: You are not "
     "authorized to perform this operation. Encoded authorization failure message: AbCdEf123-_x",
     "access-denied", {"operation": "StartInstances", "encoded_message": "AbCdEf123-_x"}),
    ("2024-05-01T10:00:00.000Z 1a2b3c4d-5e6f Task timed out after 3.00 seconds",
     "lambda-timeout", {"timeout_s": 3.0}),
    ('Migration failed. Logs show: "Task timed out after 15:00 minutes"', "lambda-timeout", {"timeout_s": 900.0}),
    (f"An error occurred (ResourceNotFoundException) when calling the Invoke operation: Function not found: "
     f"arn:aws:lambda:us-east-1:{A}:function:orders-etl",
     "lambda-not-found", {"function": "orders-etl"}),
    ("psycopg2.OperationalError: FATAL:  sorry, too many clients already", "rds-connections", {"db_engine": "postgres"}),
    ("FATAL: remaining connection slots are reserved for non-replication superuser connections",
     "rds-connections", {}),
    ("ERROR 1040 (HY000): Too many connections", "rds-connections", {"db_engine": "mysql"}),
]

NOT_ROUTED = [
    "<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center><hr>"
    "<center>nginx/1.25.3</center></body></html>",
    "ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.5' (using password: YES)",
    "Permission 'storage.objects.get' denied on resource (or it may not exist). PERMISSION_DENIED",
    "The client 'me@x.com' with object id '1' does not have authorization to perform action "
    "'Microsoft.Storage/storageAccounts/read' over scope '/subscriptions/x' (AuthorizationFailed)",
    'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:x" cannot list resource "pods"',
    "bash: ./deploy.sh: Permission denied",
]


@pytest.mark.parametrize("text,playbook,facts", ROUTED, ids=[f"{r[1]}-{i}" for i, r in enumerate(ROUTED)])
def test_routes_real_aws_errors(text, playbook, facts):
    r = run_cli("explain", "--no-run", "--output", "json", text)
    data = json.loads(r.out)
    assert data["routed_to"] == playbook, data
    for key, value in facts.items():
        assert data["extracted"].get(key) == value, (key, data["extracted"])
    assert data["diagnosis"] is None
    assert r.code == 0


@pytest.mark.parametrize("text", NOT_ROUTED)
def test_does_not_route_other_errors(text):
    r = run_cli("explain", "--no-run", "--output", "json", text)
    data = json.loads(r.out)
    assert data["routed_to"] is None and data["diagnosis"] is None
    assert r.code == 2


def test_unroutable_text_gets_a_clear_message():
    r = run_cli("explain", "--no-run", "ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.5'")
    assert r.code == 2
    assert "cannot route this text to a playbook" in r.err and "triage playbooks" in r.err


def test_inputs_are_filled_and_missing_ones_named():
    text = f"User: arn:aws:iam::{A}:user/alice is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k"
    data = json.loads(run_cli("explain", "--no-run", "-o", "json", text).out)
    assert data["inputs"] == {"principal": f"arn:aws:iam::{A}:user/alice", "action": ["s3:GetObject"],
                              "resource": "arn:aws:s3:::b/k"}
    assert data["missing"] == []
    bare = run_cli("explain", "-o", "json", "Access Denied")
    assert json.loads(bare.out)["missing"] == ["--principal", "--action"]
    assert bare.code == 2
    timeout = run_cli("explain", "Task timed out after 3.00 seconds")
    assert timeout.code == 2 and "lambda-timeout needs --function" in timeout.err


def test_the_suggested_command_line_repeats_the_flag_of_a_list_input():
    r = run_cli("explain", "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
                "-i", "action=s3:GetObject", "-i", "action=s3:ListBucket")
    assert r.code == 2
    assert "triage access-denied --action s3:GetObject --action s3:ListBucket --principal ..." in r.err


def test_explain_runs_the_playbook_when_it_can(world):
    text = (f"User: arn:aws:sts::{A}:assumed-role/reports-reader/run-1 is not authorized to perform: s3:GetObject "
            f"on resource: \"{OBJECT_ARN}\" because no identity-based policy allows the s3:GetObject action")
    r = run_cli("explain", "-o", "json", text, endpoint=world.url)
    data = json.loads(r.out)
    assert data["routed_to"] == "access-denied"
    assert [f["check"] for f in data["diagnosis"]["findings"]] == ["resource-arn-mismatch"]
    assert r.code == 1


def test_explain_with_an_extra_input_runs_lambda_timeout(world):
    r = run_cli("explain", "-o", "json", "--input", "function=orders-etl",
                "2024-05-01T10:00:00.000Z abc Task timed out after 3.00 seconds", endpoint=world.url)
    data = json.loads(r.out)
    assert [f["check"] for f in data["diagnosis"]["findings"]] == ["timeout-too-low"]


def test_the_region_of_the_arn_reaches_the_run_when_the_input_keeps_only_the_name(world):
    """Issue 13: the function input is the name (orders-api), so the region of the pasted
    ARN must reach the run itself, not only the printed facts; --region still wins."""
    from triage.cli import Env, main
    import io

    text = (f"An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
            f"Function not found: arn:aws:lambda:eu-west-1:{A}:function:orders-api")

    def run(*extra):
        out = io.StringIO()
        main(["--endpoint-url", world.url, "--no-changes", *extra, "explain", "-o", "json", text],
             Env(stdout=out, stderr=io.StringIO(), stdin_isatty=False, stdout_isatty=False))
        return json.loads(out.getvalue())

    data = run()
    assert data["inputs"] == {"function": "orders-api"}
    assert data["diagnosis"]["region"] == "eu-west-1"
    assert run("--region", "us-east-1")["diagnosis"]["region"] == "us-east-1"


def test_explain_reads_stdin(monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("An error occurred (AccessDenied) when calling the GetObject operation: Access Denied\n"))
    data = json.loads(run_cli("explain", "--no-run", "-o", "json").out)
    assert data["routed_to"] == "access-denied"
