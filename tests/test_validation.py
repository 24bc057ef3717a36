"""Playbook validation: malformed playbooks give file:line and what to
write instead, never a traceback; mutating calls are refused."""
from __future__ import annotations

import re
import textwrap

import pytest

from conftest import run_cli

GOOD = """\
id: demo-check
title: Demo check
summary: A small valid playbook.
inputs:
  function:
    required: true
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params:
      FunctionName: ${inputs.function}
checks:
  - id: short-timeout
    severity: low
    when: config.Timeout < `10`
    title: Short timeout
    explanation: Timeout is ${config.Timeout}
"""

# (name, text, expected line, a phrase the message must contain, a phrase the hint must contain)
MALFORMED = [
    ("mutating call", GOOD.replace("lambda.GetFunctionConfiguration", "lambda.DeleteFunction"), 9,
     "refused: lambda.DeleteFunction", "read-only"),
    ("unknown operation", GOOD.replace("GetFunctionConfiguration", "GetFunctionConfig"), 9,
     "not an operation of lambda", "did you mean lambda.GetFunctionConfiguration"),
    ("unknown service", GOOD.replace("lambda.GetFunctionConfiguration", "lamda.GetFunctionConfiguration"), 9,
     "unknown AWS service 'lamda'", "did you mean 'lambda'"),
    ("unknown parameter", GOOD.replace("FunctionName:", "FunctionNme:"), 11,
     "unknown parameter 'FunctionNme'", "did you mean 'FunctionName'"),
    ("missing required parameter", GOOD.replace("    params:\n      FunctionName: ${inputs.function}\n", ""), 8,
     "requires parameter(s) FunctionName", "FunctionName"),
    ("typo in a top-level key", GOOD.replace("checks:", "chekcs:"), 1,
     "missing required key 'checks'", "checks"),
    ("unknown key in a step", GOOD.replace("    params:", "    paramz:"), 10,
     "unknown key 'paramz'", "did you mean 'params'"),
    ("bad JMESPath", GOOD.replace("config.Timeout < `10`", "config.Timeout < `10"), 15,
     "invalid JMESPath", "backticks"),
    ("unknown JMESPath function", GOOD.replace("config.Timeout < `10`", "lenght(config.Timeout) > `1`"), 15,
     "unknown function lenght()", ""),
    ("bad severity", GOOD.replace("severity: low", "severity: urgent"), 14,
     "expected one of critical, high, medium, low, info", ""),
    ("unknown step referenced", GOOD.replace("when: config.Timeout", "when: confg.Timeout"), 15,
     "'confg' is not a step", "did you mean 'config'"),
    ("undeclared input", GOOD.replace("${inputs.function}", "${inputs.fn}"), 11,
     "input 'fn' is not declared", "did you mean inputs.function"),
    ("result field typo", GOOD.replace("config.Timeout < `10`", "config.Timout < `10`"), 15,
     "returns no field 'Timout'", "did you mean 'Timeout'"),
    ("result field typo through a projection", GOOD.replace("config.Timeout < `10`", "length(config.Layers[].Arnn) > `0`"), 15,
     "'config.Layers[].Arnn': lambda.GetFunctionConfiguration returns no field 'Arnn' there", "did you mean 'Arn'"),
    ("result field typo after an index", GOOD.replace("config.Timeout < `10`", "config.Layers[0].CodeSiz > `0`"), 15,
     "returns no field 'CodeSiz' there", "did you mean 'CodeSize'"),
    ("negation trap", GOOD.replace("config.Timeout < `10`", "\"!config.Timeout\""), 15,
     "`!config.Timeout` means `(!config).Timeout`", "write !(config.Timeout)"),
    ("unquoted negation is a YAML tag", GOOD.replace("config.Timeout < `10`", "!(config.Timeout)"), 15,
     "YAML syntax error", "read as a YAML tag: quote it"),
    ("duplicate key", GOOD.replace("    severity: low\n", "    severity: low\n    severity: high\n"), 15,
     "duplicate key 'severity'", "only the last"),
    ("tab indentation", GOOD.replace("    required: true", "\trequired: true"), 6,
     "YAML syntax error", "tab"),
    ("unquoted colon in expression", GOOD.replace("when: config.Timeout < `10`", "when: config.{t: Timeout}.t < `10`"), 15,
     "YAML syntax error", "quoted"),
    ("steps as a list", GOOD.replace("  config:\n    call:", "  - config:\n    call:"), 7,
     "steps must be a mapping, not a list", "not `- ` list items"),
    ("dependency cycle", GOOD.replace("""      FunctionName: ${inputs.function}
checks:""", """      FunctionName: ${other.FunctionName}
  other:
    call: lambda.GetFunctionConfiguration
    params:
      FunctionName: ${config.FunctionName}
checks:"""), 8, "cycle", "break the cycle"),
    ("bad trigger regex", GOOD.replace("inputs:", "triggers:\n  - 'Task timed out ('\ninputs:"), 5,
     "not a valid regular expression", "escape"),
    ("paginate a non-paginated call", GOOD.replace("    params:", "    paginate: true\n    params:"), 10,
     "cannot be paginated", "remove"),
    ("not a mapping", "- just\n- a list\n", 1, "must be a YAML mapping", "triage new"),
    ("an empty value where a string belongs", GOOD.replace("when: config.Timeout < `10`", "when:"), 15,
     "checks.0.when must be a string, not an empty value", "quote the value"),
    ("minimum on a string input", GOOD.replace("    required: true", "    required: true\n    minimum: 1"), 7,
     "input 'function' is a string; only integer and number inputs take a minimum", "drop `minimum:`"),
    ("default below its minimum", GOOD.replace("inputs:\n", "inputs:\n  pool_size:\n    type: integer\n"
                                               "    default: 0\n    minimum: 1\n"), 7,
     "input 'pool_size': default 0 is below its minimum 1", "make the default 1 or more"),
    ("minimum not a number", GOOD.replace("    required: true", "    required: true\n    minimum: one"), 7,
     "minimum must be a number, not a string", ""),
]


@pytest.mark.parametrize("name,text,line,message,hint", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_playbook_reports_file_line_and_fix(tmp_path, name, text, line, message, hint):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = run_cli("validate", str(path))
    assert r.code == 2
    assert "Traceback" not in r.out + r.err
    assert f"{path}:{line}:" in r.out, r.out
    assert message in r.out, r.out
    if hint:
        assert hint in r.out, r.out


def test_valid_playbook_passes(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    r = run_cli("validate", str(path))
    assert r.code == 0, r.out
    assert "ok (demo-check: 1 steps, 1 checks" in r.out


def test_all_problems_are_reported_at_once(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("FunctionName:", "FunctionNme:").replace("config.Timeout < `10`", "config.Timout < `10`"))
    r = run_cli("validate", str(path))
    assert r.out.count(f"{path}:") == 3
    assert "unknown parameter 'FunctionNme'" in r.out and "requires parameter(s) FunctionName" in r.out
    assert "no field 'Timout'" in r.out


def test_shipped_playbooks_are_valid():
    from triage import catalog, playbook

    entries = catalog.discover()
    assert "lambda-timeout" in entries
    for entry in entries.values():
        assert entry.error is None
        playbook.load(entry.path, deep=True)


def test_run_file_refuses_a_mutating_playbook_before_any_call(tmp_path, world):
    path = tmp_path / "evil.yaml"
    path.write_text(GOOD.replace("lambda.GetFunctionConfiguration", "lambda.DeleteFunction"))
    r = run_cli("run", str(path), "--input", "function=orders-etl", endpoint=world.url)
    assert r.code == 2
    assert "refused: lambda.DeleteFunction" in r.err
    assert "Traceback" not in r.err


def test_runtime_guard_refuses_writes_even_without_validation(world):
    from triage.aws import Aws, AwsSettings
    from triage.errors import ReadOnlyViolation

    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=world.url))
    with pytest.raises(ReadOnlyViolation):
        aws.call("lambda", "DeleteFunction", {"FunctionName": "orders-etl"})
    # the botocore hook on every triage client refuses too
    client = aws.client("lambda")
    with pytest.raises(ReadOnlyViolation):
        client.update_function_configuration(FunctionName="orders-etl", Timeout=900)
    assert client.get_function_configuration(FunctionName="orders-etl")["Timeout"] == 3


@pytest.mark.parametrize("op,ok", [
    ("GetFunctionConfiguration", True), ("ListFunctions", True), ("DescribeSubnets", True),
    ("FilterLogEvents", True), ("LookupEvents", True), ("SimulatePrincipalPolicy", True),
    ("DeleteFunction", False), ("PutFunctionConcurrency", False), ("UpdateFunctionConfiguration", False),
    ("GetSecretValue", False), ("GetObject", False), ("GetSessionToken", False), ("InvokeFunction", False),
])
def test_read_only_guard(op, ok):
    from triage.readonly import is_read_operation
    assert is_read_operation(op) is ok
