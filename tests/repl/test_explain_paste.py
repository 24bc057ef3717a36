"""AWS errors pasted as-is into a session (bracketed paste, several lines)
are routed to a playbook, the inputs the text does not give are asked for,
and the playbook's answer comes back."""
from __future__ import annotations

from .conftest import CTRL_D, ENTER, drive, paste

ACCESS_DENIED = (
    "Traceback (most recent call last):\n"
    '  File "/var/task/app.py", line 12, in handler\n'
    "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation:\n"
    "User: arn:aws:sts::123456789012:assumed-role/reports-reader/i-0abc123 is not authorized to perform: "
    's3:GetObject on resource: "arn:aws:s3:::orders-data/reports/2026.csv" because no identity-based policy '
    "allows the s3:GetObject action\n")

TIMED_OUT = (
    "2026-11-22T16:42:13.000Z 00000000-0000-0000-0000-0000000d76f7 Task timed out after 3.00 seconds\n"
    "END RequestId: 00000000-0000-0000-0000-0000000d76f7\n")


def test_pasted_access_denied_is_routed_and_answered(world):
    s = drive(world.url, paste(ACCESS_DENIED) + CTRL_D)
    out = s.out
    assert "Routed to access-denied" in out
    assert "Running: access-denied --principal arn:aws:sts::123456789012:assumed-role/reports-reader/i-0abc123 " \
           "--action s3:GetObject --resource arn:aws:s3:::orders-data/reports/2026.csv" in out
    # the seeded case: the policy names the bucket ARN where objects need bucket/*
    assert [f.check for f in s.repl.last.findings] == ["resource-arn-mismatch"]
    assert "[resource-arn-mismatch]" in out
    assert "arn:aws:s3:::orders-data/*" in out
    entry = s.repl.transcript[0]
    assert entry.line.startswith("Traceback") and entry.diagnosis["playbook"] == "access-denied"
    assert entry.note.startswith("Routed to access-denied")


def test_pasted_timeout_asks_for_the_function_then_diagnoses_it(world):
    s = drive(world.url, paste(TIMED_OUT) + "orders-etl" + ENTER + "export" + ENTER + CTRL_D)
    out = s.out
    assert "Routed to lambda-timeout" in out
    assert "--function: orders-etl" in out                      # asked, since the log line does not name it
    assert [f.check for f in s.repl.last.findings] == ["timeout-too-low"]
    assert s.repl.last.findings[0].evidence["suggested_timeout_s"] == 10
    assert "aws lambda update-function-configuration --function-name orders-etl --timeout 10" in out


def test_explain_command_and_an_empty_answer_runs_nothing(world):
    s = drive(world.url, "explain Task timed out after 3.00 seconds" + ENTER + ENTER + CTRL_D)
    assert "Routed to lambda-timeout" in s.out
    assert "error: lambda-timeout needs --function; nothing was run" in s.out
    assert s.repl.last is None and s.repl.calls == []


def test_a_line_that_is_neither_command_nor_error_says_so(world):
    s = drive(world.url, "lambda-timeuot --function orders-etl" + ENTER + paste("hello\nworld\n") + CTRL_D)
    assert "error: `lambda-timeuot` is not a command, and the line is not an AWS error triage can route" in s.out
    assert "did you mean `lambda-timeout`?" in s.out
    assert "error: not an AWS error triage can route" in s.out
    assert "Traceback" not in s.out
