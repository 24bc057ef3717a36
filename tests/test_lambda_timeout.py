"""The lambda-timeout playbook against seeded moto incidents: each check
fires on its scenario with the evidence and fix it must carry, and not on
the healthy twin."""
from __future__ import annotations

import json

import pytest


def diagnose(cli, function: str, *extra: str) -> tuple[int, dict]:
    r = cli("lambda-timeout", "--function", function, "--output", "json", *extra)
    assert r.err == "" or "AWS unavailable" not in r.err, r.err
    return r.code, json.loads(r.out)


def finding(data: dict, check: str) -> dict:
    matches = [f for f in data["findings"] if f["check"] == check]
    assert matches, f"{check} not in {[f['check'] for f in data['findings']]}"
    return matches[0]


def test_json_shape_is_the_documented_api(cli):
    code, data = diagnose(cli, "orders-etl")
    assert code == 1
    assert {"playbook", "inputs", "findings", "unchecked", "calls"} <= set(data)
    assert data["playbook"] == "lambda-timeout"
    assert data["inputs"] == {"function": "orders-etl", "db": None, "since": "24h"}
    f = data["findings"][0]
    assert set(f) == {"check", "severity", "title", "explanation", "evidence", "fix"}
    assert set(f["fix"]) == {"text", "commands"}
    for call in data["calls"]:
        assert {"call", "ms", "cached", "error"} <= set(call)
        assert isinstance(call["ms"], float) and call["cached"] in (True, False)


def test_at_hard_limit_for_the_15_minute_migration(cli):
    code, data = diagnose(cli, "migrate-db")
    assert code == 1
    assert [f["check"] for f in data["findings"]] == ["at-hard-limit"]
    f = finding(data, "at-hard-limit")
    assert f["severity"] == "critical"
    assert f["evidence"]["timeout_s"] == 900
    assert f["evidence"]["timed_out_invocations"] == 1
    assert any("Task timed out after 900.00 seconds" in line for line in f["evidence"]["timed_out_lines"])
    assert f["evidence"]["longest_observed_s"] == 900
    # the seed's fix: not configurable; Step Functions chunks, Fargate/ECS/Batch; idempotent + checkpointed
    for phrase in ("Step Functions", "Fargate", "Batch", "idempotent", "checkpoint"):
        assert phrase in f["fix"]["text"]
    assert not any("--timeout" in c for c in f["fix"]["commands"]), "must not suggest raising a 900 s timeout"


def test_timeout_too_low_suggests_a_timeout_derived_from_durations(cli):
    code, data = diagnose(cli, "orders-etl")
    f = finding(data, "timeout-too-low")
    assert [x["check"] for x in data["findings"]] == ["timeout-too-low"]
    ev = f["evidence"]
    assert ev["timeout_s"] == 3
    assert ev["timed_out_invocations"] == 3
    assert ev["observed_durations_ms"] == [3000.0, 3000.0, 2900.0, 2100.0, 1200.0]   # newest first
    assert ev["longest_observed_s"] == 3.0
    assert ev["longest_observed_from"] == "the REPORT log lines and the AWS/Lambda Duration metric"
    # 2 x 3.0 s -> 6, rounded up to a multiple of 5 -> 10
    assert ev["suggested_timeout_s"] == 10
    assert all("Task timed out after 3.00 seconds" in line for line in ev["timed_out_lines"])
    assert ev["timed_out_lines_shown"] == "3 of 3, newest first"
    assert f["fix"]["commands"] == [
        "aws lambda update-function-configuration --function-name orders-etl --timeout 10",
        "aws cloudwatch put-metric-alarm --alarm-name triage-orders-etl-duration-near-timeout --namespace AWS/Lambda "
        "--metric-name Duration --dimensions Name=FunctionName,Value=orders-etl --statistic Maximum --period 300 "
        "--evaluation-periods 1 --threshold 8000 --comparison-operator GreaterThanOrEqualToThreshold "
        "--treat-missing-data notBreaching --alarm-actions \"$ALARM_TOPIC_ARN\""]
    assert "twice the longest observed run: 3 s, from the REPORT log lines" in f["fix"]["text"]
    assert data["observations"] == []


def test_duration_near_timeout_without_timeouts(cli):
    code, data = diagnose(cli, "report-builder")
    assert code == 1
    assert [f["check"] for f in data["findings"]] == ["duration-near-timeout"]
    f = finding(data, "duration-near-timeout")
    assert f["evidence"]["longest_observed_s"] == 55.2
    assert f["evidence"]["percent_of_timeout"] == 92
    assert f["evidence"]["metric_max_ms"] == 55200.0
    assert "92%" in f["title"]
    assert f["fix"]["commands"][0] == "aws lambda update-function-configuration --function-name report-builder --timeout 120"
    assert f["fix"]["commands"][1].startswith("aws cloudwatch put-metric-alarm --alarm-name triage-report-builder-duration-near-timeout ")
    assert "--threshold 96000 " in f["fix"]["commands"][1]   # 80% of the new 120 s


def test_vpc_without_nat_names_subnet_and_route_table(cli, world):
    code, data = diagnose(cli, "payments-sync")
    checks = [f["check"] for f in data["findings"]]
    assert checks == ["vpc-without-nat", "timeout-too-low"]   # critical first
    f = finding(data, "vpc-without-nat")
    (subnet,) = f["evidence"]["subnets"]
    assert subnet["subnet"].startswith("subnet-") and subnet["route_table"].startswith("rtb-")
    assert subnet["default_route"] == "none"
    assert f["evidence"]["vpc"].startswith("vpc-")
    nat, route = f["fix"]["commands"]
    assert nat.startswith('NAT_GATEWAY_ID=$(aws ec2 create-nat-gateway --subnet-id "$PUBLIC_SUBNET_ID" ')
    # the private table is the function's subnet's alone: its default route is created in place
    assert route == (f"aws ec2 create-route --route-table-id {subnet['route_table']} --destination-cidr-block 0.0.0.0/0 "
                     '--nat-gateway-id "$NAT_GATEWAY_ID"')
    assert "NAT gateway" in f["fix"]["text"]


def test_healthy_function_in_a_vpc_with_nat_has_no_findings(cli):
    code, data = diagnose(cli, "thumbnailer")
    assert code == 0
    assert data["findings"] == [] and data["unchecked"] == []
    called = {c["call"] for c in data["calls"]}
    assert {"ec2.DescribeSubnets", "ec2.DescribeRouteTables"} <= called   # the VPC path really ran


def test_function_given_as_arn(cli):
    arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-etl"
    code, data = diagnose(cli, arn)
    assert [f["check"] for f in data["findings"]] == ["timeout-too-low"]


def test_unknown_function_is_one_finding_not_a_pile_of_unchecked_checks(cli):
    code, data = diagnose(cli, "no-such-function")
    assert code == 1 and data["outcome"] == "findings"
    [f] = data["findings"]
    assert f["check"] == "subject-not-found"
    assert f["title"] == "Lambda function no-such-function does not exist in us-east-1"
    assert "ResourceNotFoundException" in f["explanation"] and "triage looked in us-east-1" in f["explanation"]
    assert f["evidence"] == {"name": "no-such-function", "region": "us-east-1", "error": "ResourceNotFoundException"}
    assert f["fix"]["commands"] == [   # it only looks: nothing is created for a name that may be a typo
        "aws lambda list-functions --region us-east-1 --query 'Functions[].FunctionName' --output text",
        "aws lambda list-aliases --function-name no-such-function --region us-east-1",
        'aws lambda get-function --function-name no-such-function --region "$OTHER_REGION" '
        "--query Configuration.FunctionArn --output text"]
    # every check reads the function's configuration: none is listed as unchecked
    assert data["unchecked"] == []
    r = cli("lambda-timeout", "--function", "no-such-function")
    assert "does not exist in us-east-1" in r.out and "Not evaluated" not in r.out and "could not check" not in r.out


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_text_and_markdown_carry_findings_and_commands(cli, fmt):
    r = cli("lambda-timeout", "--function", "orders-etl", "--output", fmt, "--no-color")
    assert r.code == 1
    assert "timeout-too-low" in r.out
    assert "aws lambda update-function-configuration --function-name orders-etl --timeout 10" in r.out
    if fmt == "markdown":
        assert "```sh\naws lambda update-function-configuration" in r.out
        assert "| timeout\\_s | `3` |" in r.out


def test_since_limits_the_window(cli):
    # The seeded invocations are ~3 h old; a 1 h window sees none of them.
    code, data = diagnose(cli, "orders-etl", "--since", "1h")
    assert "timeout-too-low" in [f["check"] for f in data["findings"]]  # the hostile line is 10 min old
    f = finding(data, "timeout-too-low")
    assert f["evidence"]["timed_out_invocations"] == 1


def test_identical_calls_are_made_once(world, tmp_path):
    from triage import engine, playbook
    from triage.aws import Aws, AwsSettings

    # two steps asking the same question, concurrently: one call, one cache hit
    path = tmp_path / "twice.yaml"
    path.write_text("""
id: twice
title: Same call twice
summary: Two steps make an identical call.
inputs: {function: {required: true}}
steps:
  a: {call: lambda.GetFunctionConfiguration, params: {FunctionName: "${inputs.function}"}}
  b: {call: lambda.GetFunctionConfiguration, params: {FunctionName: "${inputs.function}"}}
checks:
  - {id: same, severity: info, when: "a.Timeout == b.Timeout", title: same, explanation: "${a.Timeout}"}
""")
    pb = playbook.load(path)
    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=world.url))
    d = engine.run(pb, {"function": "orders-etl"}, aws)
    assert sorted(c.cached for c in d.calls) == [False, True]
    assert d.findings[0].explanation == "3"
    # and a second run in the same session reuses the result
    again = engine.run(pb, {"function": "orders-etl"}, aws)
    assert [c.cached for c in again.calls] == [True, True]


def test_concurrent_runs_on_one_session_keep_their_own_call_logs(world):
    from concurrent.futures import ThreadPoolExecutor

    from triage import catalog, engine
    from triage.aws import Aws, AwsSettings

    pb = catalog.load(catalog.discover()["lambda-timeout"])
    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=world.url))
    functions = ["orders-etl", "thumbnailer", "report-builder", "migrate-db"]
    with ThreadPoolExecutor(4) as pool:
        diagnoses = list(pool.map(lambda f: engine.run(pb, {"function": f}, aws), functions))
    for function, d in zip(functions, diagnoses):
        steps = {c.step for c in d.calls}
        assert {"config", "timeouts", "reports", "duration_metric"} <= steps
        assert len([c for c in d.calls if c.step == "config"]) == 1, function
    assert sum(len(d.calls) for d in diagnoses) == len(aws.log)
