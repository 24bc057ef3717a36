"""Tests for reading pasted errors (triage.errortext's generic engine plus the
playbooks' `signals:` and `extract:` data): real error texts in, the playbook
`explain` routes to and the facts it extracts out, through triage.explain.route."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage import catalog
from triage.errortext import ParsedError, parse_error, role_from_assumed_role_arn
from triage.explain import Routing, route

# The playbook each family of messages routes to.
ACCESS_DENIED = "access-denied"
LAMBDA_TIMEOUT = "lambda-timeout"
RESOURCE_NOT_FOUND = "lambda-not-found"
DB_TOO_MANY_CONNECTIONS = "rds-connections"
PLAYBOOKS = catalog.discover()

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ORDERS_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/OrdersRole/orders-etl"
ORDERS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/OrdersRole"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders-etl"
ENCODED = (
    "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    "ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210_-ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210"
    "Q2xpZW50LlVuYXV0aG9yaXplZE9wZXJhdGlvbi5FbmNvZGVkTWVzc2FnZQ"
)


def check(text: str, playbook: str | None, **facts: object) -> Routing:
    """Route, assert the playbook and that every given fact has the given value."""
    result = route(text, PLAYBOOKS)
    assert result.routed_to == playbook, (result.routed_to, result.reason, result.extracted, result.notes)
    for key, value in facts.items():
        assert result.extracted.get(key) == value, (key, result.extracted)
    return result


# ---------------------------------------------------------------------------
# 1. "is not authorized to perform ... because no <policy type> allows"
# ---------------------------------------------------------------------------

POLICY_TYPE_WORDINGS = [
    ("identity-based policy", "identity-based policy"),
    ("resource-based policy", "resource-based policy"),
    ("permissions boundary", "permissions boundary"),
    ("session policy", "session policy"),
    ("service control policy", "service control policy"),
    ("resource control policy", "resource control policy"),
    ("VPC endpoint policy", "VPC endpoint policy"),
]


@pytest.mark.parametrize(("wording", "normalised"), POLICY_TYPE_WORDINGS)
def test_implicit_deny_for_each_policy_type(wording: str, normalised: str) -> None:
    text = (
        f"User: {ALICE} is not authorized to perform: s3:GetObject on resource: "
        f"arn:aws:s3:::my-bucket/key.txt because no {wording} allows the s3:GetObject action"
    )
    result = check(
        text,
        ACCESS_DENIED,
        principal=ALICE,
        account=ACCOUNT,
        action="s3:GetObject",
        resource="arn:aws:s3:::my-bucket/key.txt",
        resource_type="s3:object",
        policy_type=normalised,
        deny_kind="implicit",
    )
    assert "principal_role" not in result.extracted  # an IAM user has no role
    assert "policy_arn" not in result.extracted


# ---------------------------------------------------------------------------
# 2. "with an explicit deny in a/an <policy type>[: policy ARN]"
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tail", "policy_type", "policy_arn"),
    [
        ("with an explicit deny in a service control policy", "service control policy", None),
        (
            f"with an explicit deny in an identity-based policy: arn:aws:iam::{ACCOUNT}:policy/DenyS3",
            "identity-based policy",
            f"arn:aws:iam::{ACCOUNT}:policy/DenyS3",
        ),
        ("with an explicit deny in a resource-based policy", "resource-based policy", None),
        ("with an explicit deny in a permissions boundary", "permissions boundary", None),
        ("with an explicit deny in a VPC endpoint policy.", "VPC endpoint policy", None),
        # The policy ARN closes the sentence: the full stop is not part of it.
        (
            f"with an explicit deny in an identity-based policy: arn:aws:iam::{ACCOUNT}:policy/team/DenyAll.",
            "identity-based policy",
            f"arn:aws:iam::{ACCOUNT}:policy/team/DenyAll",
        ),
    ],
)
def test_explicit_deny(tail: str, policy_type: str, policy_arn: str | None) -> None:
    text = (
        f"User: {ORDERS_SESSION} is not authorized to perform: s3:PutObject on resource: "
        f"arn:aws:s3:::orders-exports/2024/05/01.csv {tail}"
    )
    result = check(text, ACCESS_DENIED, deny_kind="explicit", policy_type=policy_type, action="s3:PutObject")
    assert result.extracted.get("policy_arn") == policy_arn
    assert any("explicit Deny" in note for note in result.notes)


# ---------------------------------------------------------------------------
# 3. No "on resource" part; assumed-role principals
# ---------------------------------------------------------------------------


def test_no_resource_assumed_role() -> None:
    text = (
        f"User: {ORDERS_SESSION} is not authorized to perform: logs:CreateLogStream "
        "because no identity-based policy allows the logs:CreateLogStream action"
    )
    result = check(
        text,
        ACCESS_DENIED,
        principal=ORDERS_SESSION,
        principal_role=ORDERS_ROLE,
        session_name="orders-etl",
        account=ACCOUNT,
        action="logs:CreateLogStream",
        policy_type="identity-based policy",
        deny_kind="implicit",
    )
    assert "resource" not in result.extracted
    # Session ARNs drop the role path; the note says how to check.
    assert any("path" in note and "get-role --role-name OrdersRole" in note for note in result.notes)


def test_sso_role_note_mentions_reserved_path() -> None:
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_ReadOnly_0123456789abcdef/alice@example.com"
    text = f"User: {session} is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::{ACCOUNT}:role/"
    result = check(
        text,
        ACCESS_DENIED,
        principal_role=f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_ReadOnly_0123456789abcdef",
        session_name="alice@example.com",
    )
    assert any("/aws-reserved/sso.amazonaws.com/" in note for note in result.notes)


# ---------------------------------------------------------------------------
# 4. S3's quoted resource
# ---------------------------------------------------------------------------


def test_s3_quoted_resource() -> None:
    text = (
        "User: arn:aws:sts::123:assumed-role/R/s is not authorized to perform: s3:ListBucket on resource: "
        '"arn:aws:s3:::my-bucket" because no identity-based policy allows the s3:ListBucket action'
    )
    check(
        text,
        ACCESS_DENIED,
        principal="arn:aws:sts::123:assumed-role/R/s",
        principal_role="arn:aws:iam::123:role/R",
        session_name="s",
        account="123",
        action="s3:ListBucket",
        resource="arn:aws:s3:::my-bucket",
        resource_type="s3:bucket",
        deny_kind="implicit",
    )


# ---------------------------------------------------------------------------
# 5. Bare "Access Denied"
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Access Denied",
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>'
        "<RequestId>4442587FB7D0A2F9</RequestId><HostId>nD3kVn1eXaMpLeHoStId=</HostId></Error>",
    ],
)
def test_bare_access_denied(text: str) -> None:
    result = check(text, ACCESS_DENIED)
    assert "principal" not in result.extracted and "action" not in result.extracted
    assert any("CloudTrail" in note for note in result.notes)


def test_s3_xml_error_facts() -> None:
    text = (
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
        "<RequestId>4442587FB7D0A2F9</RequestId><HostId>nD3kVn1eXaMpLeHoStId=</HostId></Error>"
    )
    check(text, ACCESS_DENIED, error_code="AccessDenied", request_id="4442587FB7D0A2F9")


# ---------------------------------------------------------------------------
# 6. boto3 / AWS CLI wrapper: operation -> action
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "operation", "action", "error_code"),
    [
        (
            "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
            "GetObject",
            "s3:GetObject",
            "AccessDenied",
        ),
        (
            "An error occurred (AccessDenied) when calling the ListObjectsV2 operation: Access Denied",
            "ListObjectsV2",
            "s3:ListBucket",
            "AccessDenied",
        ),
        (
            "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden",
            "HeadObject",
            "s3:GetObject",
            "403",
        ),
        (
            "An error occurred (AccessDenied) when calling the AssumeRole operation: Access denied",
            "AssumeRole",
            "sts:AssumeRole",
            "AccessDenied",
        ),
    ],
)
def test_boto_wrapper_derives_action(text: str, operation: str, action: str, error_code: str) -> None:
    result = check(text, ACCESS_DENIED, operation=operation, action=action, error_code=error_code)
    assert any("inferred" in note for note in result.notes)


def test_botocore_client_error_with_full_message() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/var/task/app.py", line 12, in handler\n'
        "    cfg = lam.get_function_configuration(FunctionName='orders-etl')\n"
        "botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling the "
        f"GetFunctionConfiguration operation: User: arn:aws:sts::{ACCOUNT}:assumed-role/Ops/bob is not "
        f"authorized to perform: lambda:GetFunctionConfiguration on resource: {FUNCTION_ARN} because no "
        "identity-based policy allows the lambda:GetFunctionConfiguration action"
    )
    result = check(
        text,
        ACCESS_DENIED,
        error_code="AccessDeniedException",
        operation="GetFunctionConfiguration",
        action="lambda:GetFunctionConfiguration",
        resource=FUNCTION_ARN,
        resource_type="lambda:function",
        function="orders-etl",
        function_arn=FUNCTION_ARN,
        principal_role=f"arn:aws:iam::{ACCOUNT}:role/Ops",
        session_name="bob",
    )
    # The message named the action, so nothing had to be inferred.
    assert not any("inferred" in note for note in result.notes)


# ---------------------------------------------------------------------------
# 7. JSON-protocol services
# ---------------------------------------------------------------------------


def test_json_access_denied_exception() -> None:
    body = json.dumps(
        {
            "__type": "com.amazon.coral.service#AccessDeniedException",
            "Message": f"User: {ORDERS_SESSION} is not authorized to perform: dynamodb:GetItem on resource: "
            f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders because no identity-based policy allows "
            "the dynamodb:GetItem action",
        }
    )
    check(
        body,
        ACCESS_DENIED,
        error_code="AccessDeniedException",
        action="dynamodb:GetItem",
        resource=f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders",
        resource_type="dynamodb:table",
        principal_role=ORDERS_ROLE,
    )


def test_json_escaped_inside_a_log_line() -> None:
    # A structured logger wrote the message as a JSON string: quotes escaped.
    inner = (
        f'User: {ORDERS_SESSION} is not authorized to perform: s3:GetObject on resource: '
        '"arn:aws:s3:::orders-in/batch.json" because no resource-based policy allows the s3:GetObject action'
    )
    line = '{"level":"error","msg":' + json.dumps(inner) + ',"request_id":"c0ffee00-1111-2222-3333-444455556666"}'
    assert '\\"arn:aws:s3' in line
    check(
        line,
        ACCESS_DENIED,
        resource="arn:aws:s3:::orders-in/batch.json",
        policy_type="resource-based policy",
        request_id="c0ffee00-1111-2222-3333-444455556666",
    )


# ---------------------------------------------------------------------------
# 8. EC2 UnauthorizedOperation and encoded messages
# ---------------------------------------------------------------------------


def test_ec2_full_form_with_encoded_message() -> None:
    text = (
        "An error occurred (UnauthorizedOperation) when calling the StartInstances operation: You are not "
        "authorized to perform this operation. User: arn:aws:sts::123:assumed-role/Ops/bob is not authorized "
        "to perform: ec2:StartInstances on resource: arn:aws:ec2:us-east-1:123:instance/i-0abc because no "
        f"identity-based policy allows the ec2:StartInstances action. Encoded authorization failure message: {ENCODED}"
    )
    result = check(
        text,
        ACCESS_DENIED,
        error_code="UnauthorizedOperation",
        operation="StartInstances",
        action="ec2:StartInstances",
        resource="arn:aws:ec2:us-east-1:123:instance/i-0abc",
        resource_type="ec2:instance",
        principal_role="arn:aws:iam::123:role/Ops",
        encoded_message=ENCODED,
        deny_kind="implicit",
    )
    assert any(f"decode-authorization-message --encoded-message {ENCODED}" in note for note in result.notes)


def test_ec2_older_form_only_encoded_message_wrapped_by_terminal() -> None:
    one_line = (
        "An error occurred (UnauthorizedOperation) when calling the RunInstances operation: You are not "
        f"authorized to perform this operation. Encoded authorization failure message: {ENCODED}"
    )
    wrapped = "\n".join(one_line[i : i + 80] for i in range(0, len(one_line), 80))
    assert wrapped.count("\n") >= 3
    result = check(
        wrapped,
        ACCESS_DENIED,
        error_code="UnauthorizedOperation",
        operation="RunInstances",
        action="ec2:RunInstances",  # only EC2 says UnauthorizedOperation
        encoded_message=ENCODED,
    )
    assert "principal" not in result.extracted


# ---------------------------------------------------------------------------
# 9. Lambda timeouts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "timeout_s"),
    [
        ("2024-05-01T10:00:00.000Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Task timed out after 3.00 seconds", 3.0),
        ("Task timed out after 900.10 seconds", 900.1),
        ("Task timed out after 15:00 minutes", 900.0),
        ("Task timed out after 1:30.5 minutes", 90.5),
    ],
)
def test_lambda_task_timed_out(text: str, timeout_s: float) -> None:
    result = check(text, LAMBDA_TIMEOUT)
    assert result.extracted["timeout_s"] == pytest.approx(timeout_s)
    assert isinstance(result.extracted["timeout_s"], float)


def test_lambda_timeout_log_line_request_id_and_default_timeout_note() -> None:
    text = "2024-05-01T10:00:00.000Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Task timed out after 3.00 seconds"
    result = check(text, LAMBDA_TIMEOUT, request_id="1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
    assert any("default" in note for note in result.notes)


def test_lambda_timeout_function_from_log_group() -> None:
    text = (
        "/aws/lambda/orders-etl 2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef\n"
        "2024-05-01T10:15:00.105Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Task timed out after 900.10 seconds"
    )
    result = check(text, LAMBDA_TIMEOUT, function="orders-etl", timeout_s=900.1)
    assert any("15 minutes" in note for note in result.notes)


def test_lambda_timeout_function_from_arn() -> None:
    text = (
        f"Invocation of {FUNCTION_ARN}:prod failed: "
        '{"errorMessage": "2024-05-01T10:00:03.005Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Task timed out after 3.00 seconds"}'
    )
    check(text, LAMBDA_TIMEOUT, function="orders-etl:prod", function_arn=f"{FUNCTION_ARN}:prod", account=ACCOUNT, timeout_s=3.0)  # the qualifier is kept (issue 13)


def test_lambda_sandbox_timedout_error_document() -> None:
    text = json.dumps(
        {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "RequestId: 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Error: Task timed out after 10.00 seconds",
        },
        indent=2,
    )
    check(text, LAMBDA_TIMEOUT, error_code="Sandbox.Timedout", timeout_s=10.0, request_id="1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")


def test_lambda_report_line_status_timeout() -> None:
    text = (
        "REPORT RequestId: 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\t"
        "Memory Size: 512 MB\tMax Memory Used: 187 MB\tStatus: timeout"
    )
    result = check(text, LAMBDA_TIMEOUT, request_id="1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
    assert "timeout_s" not in result.extracted  # the REPORT line does not state the configured timeout
    assert any("30000.00 ms" in note for note in result.notes)


def test_lambda_init_phase_timeout() -> None:
    text = "INIT_REPORT Init Duration: 9999.53 ms\tPhase: init\tStatus: timeout"
    result = check(text, LAMBDA_TIMEOUT)
    assert any("init" in note for note in result.notes)


# ---------------------------------------------------------------------------
# 10. ResourceNotFoundException and friends
# ---------------------------------------------------------------------------


def test_lambda_function_not_found() -> None:
    text = (
        "An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
        f"Function not found: {FUNCTION_ARN}"
    )
    check(
        text,
        RESOURCE_NOT_FOUND,
        error_code="ResourceNotFoundException",
        operation="Invoke",
        action="lambda:InvokeFunction",
        function="orders-etl",
        function_arn=FUNCTION_ARN,
        account=ACCOUNT,
        resource_type="lambda:function",
    )


def test_event_source_mapping_not_found() -> None:
    text = (
        "An error occurred (ResourceNotFoundException) when calling the GetEventSourceMapping operation: "
        "The resource you requested does not exist."
    )
    check(
        text,
        RESOURCE_NOT_FOUND,
        error_code="ResourceNotFoundException",
        operation="GetEventSourceMapping",
        action="lambda:GetEventSourceMapping",
        resource_type="lambda:event-source-mapping",
    )


def test_dynamodb_table_not_found() -> None:
    text = (
        "botocore.errorfactory.ResourceNotFoundException: An error occurred (ResourceNotFoundException) when "
        "calling the GetItem operation: Requested resource not found: Table: Orders not found"
    )
    # No playbook diagnoses a missing table, and lambda-not-found rules it out by name.
    result = check(text, None)
    assert "DynamoDB table" in result.reason


def test_s3_no_such_key_xml() -> None:
    text = (
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
        "<Key>2024/05/01.csv</Key><RequestId>9F2C1B7E3A5D4C60</RequestId></Error>"
    )
    # No playbook diagnoses a missing S3 key: the generic facts remain.
    check(text, None, error_code="NoSuchKey", request_id="9F2C1B7E3A5D4C60")


def test_head_object_404() -> None:
    text = "An error occurred (404) when calling the HeadObject operation: Not Found"
    # No playbook diagnoses a missing S3 object: the generic facts remain.
    check(text, None, error_code="404", operation="HeadObject", action="s3:GetObject")


# ---------------------------------------------------------------------------
# 11. Databases out of connections
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "engine"),
    [
        ("FATAL:  sorry, too many clients already", "postgres"),
        ("FATAL:  remaining connection slots are reserved for non-replication superuser connections", "postgres"),
        ('FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute', "postgres"),
        (
            'psycopg2.OperationalError: connection to server at "orders.cluster-abc.us-east-1.rds.amazonaws.com" '
            '(10.0.1.12), port 5432 failed: FATAL:  remaining connection slots are reserved for non-replication '
            "superuser connections",
            "postgres",
        ),
        ('FATAL: too many connections for role "app" (SQLSTATE 53300)', "postgres"),
        ("ERROR 1040 (HY000): Too many connections", "mysql"),
        ("pymysql.err.OperationalError: (1040, 'Too many connections')", "mysql"),
        ("Error 1040: Too many connections", "mysql"),
        ("ERROR 1040 (HY000): Number simultaneous connections exceeded (100)", "mysql"),
        ("ERROR 9501 (HY000): Timed-out waiting to acquire database connection", "mysql"),
        ("ERROR 1226 (42000): User 'app' has exceeded the 'max_user_connections' resource (current value: 10)", "mysql"),
    ],
)
def test_db_too_many_connections(text: str, engine: str) -> None:
    result = check(text, DB_TOO_MANY_CONNECTIONS, db_engine=engine)
    assert any("max_connections" in note for note in result.notes)


def test_db_rds_proxy_postgres_without_engine_evidence() -> None:
    result = check("Timed-out waiting to acquire database connection.", DB_TOO_MANY_CONNECTIONS)
    assert "db_engine" not in result.extracted
    assert any("RDS Proxy" in note for note in result.notes)


def test_db_error_number_is_a_fact() -> None:
    check("ERROR 1040 (HY000): Too many connections", DB_TOO_MANY_CONNECTIONS, error_code="1040")


# ---------------------------------------------------------------------------
# Things that must not be recognised
# ---------------------------------------------------------------------------

NOT_AWS = {
    "nginx": "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>"
    "\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>",
    "mysql-1045": "ERROR 1045 (28000): Access denied for user 'app'@'10.0.0.5' (using password: YES)",
    "gcp": "google.api_core.exceptions.Forbidden: 403 GET https://storage.googleapis.com/storage/v1/b/my-bucket/o/x: "
    "app@proj.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object. "
    "Permission 'storage.objects.get' denied on resource (or it may not exist).",
    "gcp-grpc": "ERROR: (gcloud.compute.instances.list) PERMISSION_DENIED: Request had insufficient authentication scopes.",
    "azure": "(AuthorizationFailed) The client 'alice@contoso.com' with object id '0000-1111' does not have "
    "authorization to perform action 'Microsoft.Storage/storageAccounts/read' over scope "
    "'/subscriptions/0000/resourceGroups/rg' or the scope is invalid.",
    "azure-not-found": '{"error":{"code":"ResourceNotFound","message":"The Resource '
    "'Microsoft.Storage/storageAccounts/acct' under resource group 'rg' was not found.\"}}",
    "kubernetes": 'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:ci" '
    'cannot get resource "pods" in API group "" in the namespace "prod"',
    "linux": "bash: ./deploy.sh: Permission denied",
    "java-file": "java.nio.file.AccessDeniedException: /var/lib/app/cache.db",
    "python": 'FileNotFoundError: [Errno 2] No such file or directory: "/tmp/x"',
    "empty": "",
    "blank": "   \n\t  \n",
}


@pytest.mark.parametrize("text", NOT_AWS.values(), ids=NOT_AWS.keys())
def test_not_recognised(text: str) -> None:
    result = route(text, PLAYBOOKS)
    assert result.routed_to is None, (result.extracted, result.notes)
    assert result.extracted == {}


def test_foreign_errors_get_a_hint() -> None:
    assert any("Kubernetes" in note for note in route(NOT_AWS["kubernetes"], PLAYBOOKS).notes)
    assert any("MySQL" in note for note in route(NOT_AWS["mysql-1045"], PLAYBOOKS).notes)


def test_unrecognised_aws_error_still_gives_wrapper_facts() -> None:
    text = (
        "An error occurred (ThrottlingException) when calling the PutItem operation (reached max retries: 9): "
        "Rate exceeded"
    )
    result = check(text, None, error_code="ThrottlingException", operation="PutItem")
    assert "action" not in result.extracted  # PutItem alone does not say which service


# ---------------------------------------------------------------------------
# Messy pastes: wrapping, colour, log prefixes, other SDKs
# ---------------------------------------------------------------------------

FULL_MESSAGE = (
    f"User: {ORDERS_SESSION} is not authorized to perform: s3:GetObject on resource: "
    "arn:aws:s3:::orders-landing-zone-prod/incoming/2024/05/01/batch-000123.json because no "
    "identity-based policy allows the s3:GetObject action"
)
FULL_FACTS = dict(
    principal=ORDERS_SESSION,
    principal_role=ORDERS_ROLE,
    action="s3:GetObject",
    resource="arn:aws:s3:::orders-landing-zone-prod/incoming/2024/05/01/batch-000123.json",
    policy_type="identity-based policy",
    deny_kind="implicit",
)


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_hard_wrapped_by_terminal_mid_arn(width: int) -> None:
    wrapped = "\n".join(FULL_MESSAGE[i : i + width] for i in range(0, len(FULL_MESSAGE), width))
    check(wrapped, ACCESS_DENIED, **FULL_FACTS)


@pytest.mark.parametrize("width", [97, 143, 171, 208, 251])
def test_single_wrap_at_an_unknown_width(width: int) -> None:
    # One break, so no repeated line length tells the terminal's width.
    text = f"{FULL_MESSAGE[:width]}\n{FULL_MESSAGE[width:]}"
    check(text, ACCESS_DENIED, **FULL_FACTS)


def test_word_wrapped_line_as_long_as_a_terminal_is_not_glued() -> None:
    # An editor wrapped at spaces; the second line happens to be 132 long.
    first, rest = FULL_MESSAGE.split(" arn:aws:s3:::", 1)
    second, third = ("arn:aws:s3:::" + rest).rsplit(" ", 1)
    assert len(second) == 132 and third == "action"
    check(f"{first}\n{second}\n{third}", ACCESS_DENIED, **FULL_FACTS)


def test_wrapped_lambda_log_line_keeps_request_id() -> None:
    line = "2024-05-01T10:00:00.000Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Task timed out after 900.10 seconds"
    wrapped = f"{line[:52]}\n{line[52:]}"  # the terminal cut the request id
    check(wrapped, LAMBDA_TIMEOUT, request_id="1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", timeout_s=900.1)


def test_soft_wrapped_at_spaces_by_an_editor() -> None:
    words, lines, line = FULL_MESSAGE.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > 50:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    check("\n".join(lines), ACCESS_DENIED, **FULL_FACTS)


def test_arn_split_by_a_wrapper_that_breaks_at_hyphens() -> None:
    text = (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/OrdersRole/orders-\n"
        "etl is not authorized to perform: logs:CreateLogStream on resource: arn:aws:logs:us-east-1:"
        f"{ACCOUNT}:log-group:/aws/lambda/orders-etl:log-stream:x"
    )
    check(text, ACCESS_DENIED, session_name="orders-etl", resource_type="logs:log-group", function="orders-etl")


def test_arn_at_end_of_line_is_not_glued_to_the_next_line() -> None:
    text = (
        "An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
        f"Function not found: {FUNCTION_ARN}\nTraceback (most recent call last):\n  File \"x.py\", line 1"
    )
    check(text, RESOURCE_NOT_FOUND, function_arn=FUNCTION_ARN, function="orders-etl")


def test_ansi_colour_codes() -> None:
    text = (
        "\x1b[1;31mAn error occurred (AccessDenied) when calling the GetObject operation:\x1b[0m "
        "\x1b[33mAccess Denied\x1b[0m\x1b]8;;https://example.com\x07"
    )
    check(text, ACCESS_DENIED, error_code="AccessDenied", operation="GetObject", action="s3:GetObject")


def test_ansi_codes_whose_escape_character_was_lost() -> None:
    check("[31mFATAL:  sorry, too many clients already[0m", DB_TOO_MANY_CONNECTIONS, db_engine="postgres")


def test_ansi_escaped_in_json_log() -> None:
    text = '{"msg": "\\u001b[31mTask timed out after 5.00 seconds\\u001b[0m"}'
    check(text, LAMBDA_TIMEOUT, timeout_s=5.0)


def test_cloudwatch_log_lines_with_prefixes_and_multi_line_message() -> None:
    text = (
        "2024-05-01T10:00:00.123Z\t1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d\tERROR\tInvoke Error\n"
        "[ERROR] ClientError: An error occurred (AccessDeniedException) when calling the GetItem operation:\n"
        f"User: {ORDERS_SESSION} is not authorized to perform: dynamodb:GetItem on resource:\n"
        f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders because no identity-based policy allows\n"
        "the dynamodb:GetItem action"
    )
    check(
        text,
        ACCESS_DENIED,
        request_id="1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
        action="dynamodb:GetItem",
        resource=f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders",
        operation="GetItem",
        deny_kind="implicit",
    )


def test_trailing_punctuation_on_arns() -> None:
    text = f"User: {ALICE} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/Deploy."
    check(text, ACCESS_DENIED, resource=f"arn:aws:iam::{ACCOUNT}:role/Deploy", resource_type="iam:role")


def test_go_sdk_v2() -> None:
    text = (
        "operation error S3: GetObject, https response error StatusCode: 403, RequestID: 4442587FB7D0A2F9, "
        "HostID: nD3kVn1eXaMpLeHoStId=, api error AccessDenied: Access Denied"
    )
    check(text, ACCESS_DENIED, error_code="AccessDenied", operation="GetObject", action="s3:GetObject", request_id="4442587FB7D0A2F9")


def test_java_sdk_v1() -> None:
    text = (
        f"com.amazonaws.services.dynamodbv2.model.AmazonDynamoDBException: User: {ORDERS_SESSION} is not "
        f"authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders "
        "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: AccessDeniedException; "
        "Request ID: 5TQ8JOTRA5V7DG3L3M0VF4P7ANVV4KQNSO5AEMVJF66Q9ASUAAJG; Proxy: null)"
    )
    check(
        text,
        ACCESS_DENIED,
        error_code="AccessDeniedException",
        resource=f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders",
        request_id="5TQ8JOTRA5V7DG3L3M0VF4P7ANVV4KQNSO5AEMVJF66Q9ASUAAJG",
    )


def test_go_sdk_v1() -> None:
    text = "AccessDenied: Access Denied\n\tstatus code: 403, request id: 4442587FB7D0A2F9, host id: abc="
    check(text, ACCESS_DENIED, error_code="AccessDenied", request_id="4442587FB7D0A2F9")


def test_cloudtrail_record() -> None:
    record = {
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListObjects",
        "userIdentity": {"type": "AssumedRole", "arn": ORDERS_SESSION},
        "errorCode": "AccessDenied",
        "errorMessage": "Access Denied",
        "requestID": "4442587FB7D0A2F9",
    }
    check(json.dumps(record, indent=2), ACCESS_DENIED, operation="ListObjects", action="s3:ListBucket", request_id="4442587FB7D0A2F9")


def test_kms_ciphertext_message() -> None:
    text = (
        "An error occurred (AccessDeniedException) when calling the Decrypt operation: User: "
        f"{ORDERS_SESSION} is not authorized to perform: kms:Decrypt on the resource associated with this "
        "ciphertext because the resource does not exist in this Region, no resource-based policies allow "
        "access, or a resource-based policy explicitly denies access"
    )
    result = check(text, ACCESS_DENIED, action="kms:Decrypt", operation="Decrypt")
    assert "resource" not in result.extracted
    assert any("ciphertext" in note for note in result.notes)


def test_db_error_wins_over_the_lambda_timeout_it_caused() -> None:
    text = (
        "2024-05-01T10:00:01.000Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d ERROR psycopg2.OperationalError: "
        "FATAL:  sorry, too many clients already\n"
        "2024-05-01T10:00:03.005Z 1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d Task timed out after 3.00 seconds"
    )
    result = check(text, DB_TOO_MANY_CONNECTIONS, db_engine="postgres", timeout_s=3.0)
    assert any(LAMBDA_TIMEOUT in note for note in result.notes)


# ---------------------------------------------------------------------------
# role_from_assumed_role_arn
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "role"),
    [
        ("arn:aws:sts::123:assumed-role/App/i-0abc", "arn:aws:iam::123:role/App"),
        (ORDERS_SESSION, ORDERS_ROLE),
        ("arn:aws-us-gov:sts::123456789012:assumed-role/Deploy/gh-actions", "arn:aws-us-gov:iam::123456789012:role/Deploy"),
        ("arn:aws:sts::123:assumed-role/App/i-0abc.", "arn:aws:iam::123:role/App"),
        (ALICE, None),
        (ORDERS_ROLE, None),
        ("arn:aws:sts::123:federated-user/bob", None),
        ("not an arn", None),
        ("", None),
    ],
)
def test_role_from_assumed_role_arn(arn: str, role: str | None) -> None:
    assert role_from_assumed_role_arn(arn) == role


# ---------------------------------------------------------------------------
# Never raise, stay fast
# ---------------------------------------------------------------------------

# Pieces of real messages, so generated text reaches deep into the patterns.
FRAGMENTS = [
    "User: ", "arn:aws:sts::123:assumed-role/", "arn:aws:iam::1:", "arn:", "aws:", "::", ":", "/", " ",
    " is not authorized to perform: ", "s3:GetObject", " on resource: ", '"', "\\\"", "\\n", "\n", "\r",
    " because no ", "identity-based policy", " allows the ", " action", " with an explicit deny in ", "an ",
    "An error occurred (", ")", " when calling the ", " operation: ", "Access Denied", "AccessDenied",
    "Encoded authorization failure message: ", "AbCd-_==", "Task timed out after ", "3.00", " seconds",
    "15:00", " minutes", "REPORT ", "Status: timeout", "Sandbox.Timedout", "\x1b[31m", "\x1b", "[0m",
    "\\u001b", "\\ud800", "FATAL:  sorry, too many clients already", "1040", "Too many connections",
    "2024-05-01T10:00:00.000Z ", "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "RequestId: ", "/aws/lambda/",
    "Function not found: ", "arn:aws:lambda:us-east-1:1:function:f", "<Code>", "</Code>", "status code: 403, request id: x",
    "operation error S3: ", "GetObject, ", "api error ", "(Service: S3; Status Code: 403; Error Code: AccessDenied;",
    "\t", "é", "\u00a0", "\x00",
]


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    result = parse_error(text)
    assert isinstance(result, ParsedError)
    assert not any("internal error" in note for note in result.notes)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=40).map("".join))
def test_fuzz_message_fragments_never_raise(text: str) -> None:
    assert not any("internal error" in note for note in parse_error(text).notes)
    result = route(text, PLAYBOOKS)
    assert result.routed_to in (None, ACCESS_DENIED, LAMBDA_TIMEOUT, RESOURCE_NOT_FOUND, DB_TOO_MANY_CONNECTIONS)
    assert all(isinstance(key, str) for key in result.extracted)
    if "timeout_s" in result.extracted:
        assert isinstance(result.extracted["timeout_s"], float)


@pytest.mark.parametrize("value", [None, b"Access Denied", b"\xff\xfe\x00", 42])
def test_non_string_input_never_raises(value: object) -> None:
    parse_error(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "unit",
    [
        "arn:.",  # every "arn:" could start a principal
        "User: arn:x is not authorized to perform: a:b ",
        "a" * 79 + "\n",  # looks hard-wrapped: every line gets glued
        "Aaa: x\n\tstatus code: 403, request id: r\n",
        "REPORT Status: timeout ",
        "1040 Too many",
        "\\u001b[",
    ],
)
def test_adversarial_input_stays_fast(unit: str) -> None:
    # Linear patterns take ~30 ms here; a quadratic one takes seconds. CPU
    # time, not wall time: another process on the 2 cores must not fail it.
    text = unit * (50_000 // len(unit))
    start = time.process_time()
    parse_error(text)
    assert time.process_time() - start < 0.5
