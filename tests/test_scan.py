"""`triage scan`: 500 functions seeded in a region of their own (so the
shared us-east-1 world stays as seeded), a few planted incidents among them;
the JSON lists exactly those findings, progress is shown on a terminal, and
the API call count grows linearly with the number of resources."""
from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from conftest import run_cli
from triage.testing.proxy import FaultProxy, throttle

FLEET_REGION = "ca-central-1"
DISABLED = "fleet-0042"
STALE = ("fleet-0007", "fleet-0099")


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def _seed(url: str, names: list[str]) -> None:
    """create_function through the moto server on a thread pool (~4 s for 500)."""
    client = boto3.client("lambda", endpoint_url=url, region_name=FLEET_REGION)
    role = f"arn:aws:iam::123456789012:role/fleet-role"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    code = buf.getvalue()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda n: client.create_function(FunctionName=n, Runtime="python3.12", Role=role,
                                                       Handler="handler.handler", Code={"ZipFile": code}), names))


def _plant(url: str) -> None:
    lam = boto3.client("lambda", endpoint_url=url, region_name=FLEET_REGION)
    sqs = boto3.client("sqs", endpoint_url=url, region_name=FLEET_REGION)
    for i, name in enumerate((DISABLED,) + STALE):
        q = sqs.create_queue(QueueName=f"fleet-queue-{i}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, Enabled=name != DISABLED)
        if name in STALE:
            sqs.delete_queue(QueueUrl=q)


def scan(url: str, *extra: str, err=None):
    from triage.cli import Env, main

    out, err = io.StringIO(), err or io.StringIO()
    code = main(["scan", "--playbook", "lambda-not-found", "--regions", FLEET_REGION, "--endpoint-url", url,
                 "--region", "us-east-1", "--output", "json", *extra],
                Env(stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=False))
    return code, json.loads(out.getvalue()), err.getvalue()


@pytest.fixture(scope="module")
def fleet(world):
    """Scans at 125 and at 500 functions (the second on a terminal)."""
    boto3.client("iam", endpoint_url=world.url, region_name="us-east-1").create_role(
        RoleName="fleet-role", AssumeRolePolicyDocument="{}")
    _seed(world.url, [f"fleet-{i:04d}" for i in range(125)])
    _plant(world.url)
    small = scan(world.url)
    _seed(world.url, [f"fleet-{i:04d}" for i in range(125, 500)])
    tty = TerminalStream()
    large = scan(world.url, err=tty)
    return small, large


def test_scan_of_500_functions_lists_the_planted_findings(fleet):
    _, (code, data, _) = fleet
    assert code == 1
    assert data["scan"]["runs"] == 500 and data["scan"]["regions"] == [FLEET_REGION]
    assert len(data["diagnoses"]) == 500 and data["errors"] == []
    rows = [(r["severity"], r["check"], r["resource"], r["regions"]) for r in data["summary"]["rows"]]
    assert rows == [("high", "event-source-missing", name, [FLEET_REGION]) for name in sorted(STALE)] + [
        ("medium", "event-source-mapping-unhealthy", DISABLED, [FLEET_REGION])]
    assert data["summary"]["by_severity"] == {"high": 2, "medium": 1}
    by_resource = {d["resource"]: d for d in data["diagnoses"]}
    stale = by_resource["fleet-0007"]["findings"][0]
    assert stale["evidence"]["mappings"][0]["source"] == f"arn:aws:sqs:{FLEET_REGION}:123456789012:fleet-queue-1"
    # the replacement first (on the queue a human names), then the broken mapping, by its UUID
    create, delete = stale["fix"]["commands"]
    assert create.startswith("aws lambda create-event-source-mapping --function-name fleet-0007 "
                             "--event-source-arn \"$QUEUE_ARN\" ")
    assert delete.startswith("aws lambda delete-event-source-mapping --uuid ")
    assert by_resource["fleet-0300"]["findings"] == [] and by_resource["fleet-0300"]["unchecked"] == []
    assert all(d["region"] == FLEET_REGION for d in data["diagnoses"])


def test_progress_is_shown_on_a_terminal(fleet):
    _, (_, _, err) = fleet
    assert "scanning" in err and "500/500" in err


def test_no_progress_bar_when_stderr_is_not_a_terminal(fleet):
    (_, _, err), _ = fleet
    assert err == ""


def test_api_calls_grow_linearly_with_resources(fleet):
    (_, small, _), (_, large, _) = fleet
    n_small, n_large = small["scan"]["calls"]["total"], large["scan"]["calls"]["total"]
    # one listing call plus a fixed number per function (configuration, mappings): 4x the functions, 4x the calls
    assert 3.9 <= n_large / n_small <= 4.1, (n_small, n_large)
    by_call = large["scan"]["calls"]["by_call"]
    assert by_call["lambda.ListFunctions"] == 1
    assert by_call["lambda.GetFunctionConfiguration"] == 500
    assert by_call["lambda.ListEventSourceMappings"] == 500
    assert "ec2.DescribeRegions" not in by_call        # no fan-out for functions that exist


def test_text_summary_is_sorted_by_severity(world):
    r = run_cli("scan", "--playbook", "rds-connections", "--playbook", "account-posture", "--no-color",
                endpoint=world.url)
    assert r.code == 1, r.err
    lines = r.out.splitlines()
    order = [next(i for i, line in enumerate(lines) if check in line)
             for check in ("root-access-keys", "connections-near-max", "rds-unencrypted")]
    assert order == sorted(order)
    assert "orders-db" in r.out and "billing-db" in r.out and "analytics-db" not in r.out
    assert "playbook runs (rds-connections, account-posture) in us-east-1" in r.out


def test_markdown_report(world):
    r = run_cli("scan", "--playbook", "rds-connections", "--output", "markdown", endpoint=world.url)
    assert r.code == 1
    assert "| HIGH | `connections-near-max` | `rds-connections` | `orders-db` | us-east-1 |" in r.out
    assert "```sh\naws cloudwatch put-metric-alarm --alarm-name triage-orders-db-connections" in r.out


def test_throttled_listing_is_retried(world):
    with FaultProxy(world.url) as proxy:
        proxy.add_fault("DescribeDBInstances", throttle(), times=1)
        r = run_cli("scan", "--playbook", "rds-connections", "--output", "json", endpoint=proxy.url)
    data = json.loads(r.out)
    assert data["errors"] == []
    assert {row["resource"] for row in data["summary"]["rows"]} == {"orders-db", "billing-db"}


@pytest.mark.parametrize("argv,message", [
    (["--playbook", "lambda-timeout"], "lambda-timeout cannot be scanned"),
    (["--playbook", "no-such-playbook"], "unknown playbook 'no-such-playbook'"),
    (["--concurrency", "0"], "--concurrency must be at least 1"),
])
def test_usage_errors(world, argv, message):
    r = run_cli("scan", *argv, endpoint=world.url)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
