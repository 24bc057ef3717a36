"""Issue 10, "Trustworthy verdicts": every diagnosis has exactly one outcome,
and the exit status, the JSON and the text all say the same thing.

    findings      exit 1   at least one check fired (a missing subject is one finding)
    healthy       exit 0   every check ran, none fired; the only verdict printed with ✓
    inconclusive  exit 4   nothing fired, but at least one check could not run
    unavailable   exit 3   AWS unreachable, no credentials, or the deadline passed

Each case runs a single playbook (lambda-timeout, rds-connections,
account-posture) and `triage scan` against the seeded moto world, with a
FaultProxy in front of it making AWS misbehave: a refused port, no
credentials, HTTP 500 on every call, throttling on every call, empty and
garbage 200 bodies, black holes. Before the outcome model all of these
exited 0 with nothing found, which read like a clean bill of health."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from triage.errors import ExitStatus
from triage.testing.proxy import (FaultProxy, access_denied, blackhole, garbage, server_error,
                                  throttle)

# one run per playbook (its checks are read from the playbook: every one must be accounted for)
RUNS = {
    "lambda-timeout": ("lambda-timeout", "--function", "orders-etl"),
    "rds-connections": ("rds-connections", "--db", "orders-db"),
    "account-posture": ("account-posture",),
}
# the first call each run makes (what a retry would repeat)
FIRST_CALL = {"lambda-timeout": "GetFunctionConfiguration", "rds-connections": "DescribeDBInstances",
              "account-posture": "DescribeTrails"}
SCANNED = ("account-posture", "lambda-not-found", "rds-connections")
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders-etl"


# -- helpers ---------------------------------------------------------------------------------

@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def data(self) -> dict:
        return json.loads(self.out)

    @property
    def text(self) -> str:
        """stdout with rich's line wrapping undone (one space between words)."""
        return flat(self.out)


def flat(text: str) -> str:
    return " ".join(text.split())


def triage(*argv: str, endpoint: str, region: str | None = "us-east-1") -> Run:
    """The CLI in this process; unlike conftest.run_cli, --region is optional."""
    from triage.cli import Env, main

    args = [*argv, "--endpoint-url", endpoint] + (["--region", region] if region else [])
    out, err = io.StringIO(), io.StringIO()
    code = main(args, Env(stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=False))
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue(), err.getvalue()
    return Run(int(code), out.getvalue(), err.getvalue())


def both(*argv: str, endpoint: str, region: str | None = "us-east-1") -> tuple[Run, Run]:
    """The same command as JSON and as text."""
    return (triage(*argv, "--output", "json", endpoint=endpoint, region=region),
            triage(*argv, "--no-color", endpoint=endpoint, region=region))


def process(*argv: str, timeout: float = 90) -> tuple[subprocess.CompletedProcess, float]:
    """`python -m triage` in its own process: what a shell sees, exit included
    (threads still blocked on a socket would keep it alive)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "triage", *argv], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "NO_COLOR": "1"})
    elapsed = time.monotonic() - started
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc, elapsed


def unchecked(data: dict) -> dict[str, str]:
    return {u["check"]: u["reason"] for u in data["unchecked"]}


def playbook_checks(playbook: str) -> set[str]:
    from triage import catalog

    return {c.id for c in catalog.load(catalog.discover(None)[playbook]).checks}


def checks(data: dict) -> list[str]:
    return [f["check"] for f in data["findings"]]


def refused_port() -> str:
    with socket.socket() as s:      # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def signed_region(request) -> str | None:
    """The region a request was signed for (its SigV4 credential scope)."""
    m = re.search(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/", request.headers.get("authorization", ""))
    return m.group(1) if m else None


@pytest.fixture
def proxy(world):
    with FaultProxy(world.url) as p:
        yield p


@pytest.fixture
def wide(monkeypatch):
    """A wide terminal: at rich's default 80 columns a finding's panel title
    (the long ARN one included) is cut off before its end."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def no_backoff(monkeypatch):
    """botocore still retries, but sleeps 0 between attempts (and its adaptive
    rate limiter sends at once), so throttling tests stay fast."""
    from botocore.retries.bucket import TokenBucket
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr(TokenBucket, "_sleep_amount", lambda self, amount: 0)


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """An environment with nothing in botocore's credential chain."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# Faults that leave AWS unavailable (exit 3) and the error each run reports
UNAVAILABLE = {
    "refused": ("AWS endpoint unreachable: ", "Could not connect to the endpoint URL"),
    "no-credentials": ("no usable AWS credentials: ", "Unable to locate credentials"),
}
# Faults where AWS answers, but uselessly, on every call (exit 4), and what
# every unchecked reason says (S3 turns an unparseable 200 into a 500)
INCONCLUSIVE = {
    "http-500": (server_error(500), ("failed: 500: Internal Server Error",)),
    "throttled": (throttle(), ("was still throttled after retries",)),
    "empty-body": (garbage(body=b""), ("unparseable response from AWS",)),
    "garbage-body": (garbage(body=b"\x00not json at all"), ("unparseable response from AWS",
                                                          "s3.ListBuckets failed: 500: Internal Server Error")),
}


def endpoint_for(fault: str, request, proxy: FaultProxy) -> str:
    if fault == "refused":
        return refused_port()
    if fault == "no-credentials":
        request.getfixturevalue("no_credentials")
        return proxy.url            # a working endpoint: only the credentials are missing
    request.getfixturevalue("no_backoff")
    proxy.add_fault(None, INCONCLUSIVE[fault][0])
    return proxy.url


# -- a single playbook run: unavailable ------------------------------------------------------

@pytest.mark.parametrize("playbook", list(RUNS))
@pytest.mark.parametrize("fault", list(UNAVAILABLE))
def test_run_is_unavailable_exit_3(request, proxy, fault, playbook):
    argv, every_check = RUNS[playbook], playbook_checks(playbook)
    endpoint = endpoint_for(fault, request, proxy)
    js, tx = both(*argv, "--max-attempts", "2", endpoint=endpoint)

    assert js.code == tx.code == ExitStatus.AWS_UNAVAILABLE == 3
    data = js.data
    assert data["outcome"] == "unavailable"
    cause, detail = UNAVAILABLE[fault]
    assert data["error"].startswith(cause) and detail in data["error"], data["error"]
    assert data["findings"] == []
    assert set(unchecked(data)) == every_check           # nothing was evaluated
    assert all(detail in reason for reason in unchecked(data).values())
    assert js.err.startswith(f"triage: AWS unavailable: {cause}") and detail in js.err, js.err
    assert "Not checked: AWS was unavailable" in tx.text
    assert "✓" not in tx.out and "Healthy" not in tx.out
    assert tx.err.startswith("triage: AWS unavailable: ")
    if fault == "no-credentials":
        assert proxy.requests == []                       # nothing unsigned went out


# -- a single playbook run: AWS answers, uselessly, every time -> inconclusive ---------------

@pytest.fixture
def quick_lookup_backoff(monkeypatch):
    """The change collector asks a throttled LookupEvents again after 0.5, 1, 2 and 4 s
    (tests/changes/test_sources.py tests that): not what these tests are about, and
    7.5 s a run when every request is throttled. Still retried, and still paced."""
    from triage.changes import lookup
    monkeypatch.setattr(lookup, "BACKOFF", 0.01)


@pytest.mark.usefixtures("quick_lookup_backoff")
@pytest.mark.parametrize("playbook", list(RUNS))
@pytest.mark.parametrize("fault", list(INCONCLUSIVE))
def test_run_whose_every_call_fails_is_inconclusive_exit_4(request, proxy, fault, playbook):
    argv, every_check = RUNS[playbook], playbook_checks(playbook)
    endpoint = endpoint_for(fault, request, proxy)
    js = triage(*argv, "--output", "json", "--max-attempts", "2", "--read-timeout", "5", endpoint=endpoint)

    assert js.code == ExitStatus.INCONCLUSIVE == 4, js.out
    data = js.data
    assert data["outcome"] == "inconclusive"
    assert "error" not in data and js.err == ""          # AWS answered: not "unavailable"
    assert data["findings"] == []                         # in particular no subject-not-found
    expected = every_check
    reasons = unchecked(data)
    assert set(reasons) >= expected and data["checks"] == len(every_check)
    for check, reason in reasons.items():
        assert reason.startswith("could not check: "), reason
        assert any(f in reason for f in INCONCLUSIVE[fault][1]), (check, reason)
    if fault in ("http-500", "throttled"):                # retried, up to --max-attempts
        assert proxy.count(FIRST_CALL[playbook]) == 2

    proxy.clear_requests()
    tx = triage(*argv, "--no-color", "--max-attempts", "2", "--read-timeout", "5", endpoint=endpoint)
    assert tx.code == 4
    assert "✓" not in tx.out and "Healthy" not in tx.out
    assert tx.text.count("Inconclusive: ") == 1
    assert f"Not evaluated ({len(reasons)} of {len(every_check)} checks)" in tx.text
    for check in reasons:
        assert check in tx.out
    assert "AWS unavailable" not in tx.out + tx.err


def test_empty_s3_listing_is_unchecked_not_no_buckets(proxy):
    proxy.add_fault("ListBuckets", garbage(body=b""))
    run = triage("account-posture", "--output", "json", endpoint=proxy.url)
    data = run.data
    assert "s3-bucket-public" in unchecked(data), (checks(data), data["unchecked"])
    assert "unparseable response from AWS" in unchecked(data)["s3-bucket-public"]


# -- a single playbook run: the subject does not exist -> one finding ------------------------

@pytest.mark.parametrize("argv,title,region", [
    (("lambda-timeout", "--function", "no-such-fn"), "Lambda function no-such-fn does not exist in us-east-1",
     "us-east-1"),
    (("rds-connections", "--db", "no-such-db"), "DB instance no-such-db does not exist in us-east-1", "us-east-1"),
    # the seeded function, asked for in a region where it does not exist
    (("lambda-timeout", "--function", "orders-etl"), "Lambda function orders-etl does not exist in eu-west-1",
     "eu-west-1"),
])
def test_missing_subject_is_one_finding_exit_1(world, wide, argv, title, region):
    js, tx = both(*argv, endpoint=world.url, region=region)
    assert js.code == tx.code == ExitStatus.FINDINGS == 1
    data = js.data
    assert data["outcome"] == "findings"
    assert data["region"] == region
    (finding,) = data["findings"]
    assert finding["check"] == "subject-not-found"
    assert finding["title"] == title
    assert finding["evidence"]["region"] == region
    assert f"looked in {region}" in finding["explanation"]
    assert data["unchecked"] == []                        # the subject's checks are not "not evaluated"
    assert {c["region"] for c in data["calls"]} == {region}
    assert title in tx.text and "[subject-not-found]" in tx.text
    assert "Not evaluated" not in tx.out and "✓" not in tx.out and "Inconclusive" not in tx.out
    assert js.err == tx.err == ""


# -- a single playbook run: the region inside an ARN --------------------------------------------

def test_arn_region_is_used_without_region_flag(proxy, wide):
    js, tx = both("lambda-timeout", "--function", ARN, endpoint=proxy.url, region=None)
    assert os.environ["AWS_REGION"] == "us-east-1"       # the configured region it must not use
    data = js.data
    assert data["region"] == "eu-west-1"
    assert data["region_source"] == "from the ARN"
    assert {signed_region(r) for r in proxy.requests} == {"eu-west-1"}   # where the calls went
    assert {c["region"] for c in data["calls"]} == {"eu-west-1"}
    # orders-etl is seeded in us-east-1 only
    assert js.code == tx.code == 1 and data["outcome"] == "findings"
    (finding,) = data["findings"]
    assert finding["check"] == "subject-not-found"
    assert finding["title"] == f"Lambda function {ARN} does not exist in eu-west-1"
    assert "(region eu-west-1, from the ARN)" in tx.text
    assert finding["title"] in tx.text and "[subject-not-found] #1" in tx.text   # the id is in the panel's subtitle


def test_region_flag_wins_over_the_arn(proxy):
    js, tx = both("lambda-timeout", "--function", ARN, endpoint=proxy.url, region="us-east-1")
    data = js.data
    assert data["region"] == "us-east-1"
    assert "region_source" not in data
    assert {signed_region(r) for r in proxy.requests} == {"us-east-1"}
    assert js.code == tx.code == 1 and data["outcome"] == "findings"
    assert checks(data) == ["timeout-too-low"]            # the seeded incident, found where it lives
    assert "(region us-east-1)" in tx.text and "from the ARN" not in tx.text


# -- a single playbook run: healthy, and inconclusive because of one denied call -------------

@pytest.mark.parametrize("argv", [
    ("lambda-timeout", "--function", "thumbnailer"),
    ("rds-connections", "--db", "analytics-db", "--function", "analytics-ingest"),
])
def test_healthy_run_exit_0_with_a_tick(world, argv):
    js, tx = both(*argv, endpoint=world.url)
    assert js.code == tx.code == ExitStatus.OK == 0
    data = js.data
    total = len(playbook_checks(argv[0]))
    assert data["outcome"] == "healthy"
    assert data["findings"] == [] and data["unchecked"] == [] and data["checks"] == total
    assert "error" not in data
    assert f"✓ Healthy: all {total} checks ran and none found a problem." in tx.text
    assert tx.out.count("✓") == 1
    assert js.err == tx.err == ""


@pytest.mark.parametrize("argv,operation,blocked", [
    (("lambda-timeout", "--function", "thumbnailer"), "FilterLogEvents",
     {"at-hard-limit", "timeout-too-low", "duration-near-timeout"}),
    (("lambda-timeout", "--function", "orders-etl"), "FilterLogEvents",   # its finding needs the logs
     {"at-hard-limit", "timeout-too-low", "duration-near-timeout"}),
    (("rds-connections", "--db", "analytics-db", "--function", "analytics-ingest"), "GetMetricStatistics",
     {"connections-near-max", "unbounded-lambda-concurrency"}),
])
def test_one_denied_call_makes_the_run_inconclusive_exit_4(proxy, argv, operation, blocked):
    proxy.add_fault(operation, access_denied())
    js, tx = both(*argv, endpoint=proxy.url)
    assert js.code == tx.code == ExitStatus.INCONCLUSIVE == 4
    data = js.data
    assert data["outcome"] == "inconclusive"
    assert data["findings"] == [] and "error" not in data
    service = "logs" if operation == "FilterLogEvents" else "cloudwatch"
    permission = f"{service}:{operation}"
    reasons = unchecked(data)
    assert set(reasons) == blocked
    assert all(u["needs"] == [permission] for u in data["unchecked"])
    assert len(set(reasons.values())) == 1                # one cause
    # text: every unchecked check named, the cause said once however many checks it blocked
    assert "✓" not in tx.out and "Healthy" not in tx.out
    total, blocked_n = data["checks"], len(reasons)
    assert total == len(playbook_checks(argv[0]))
    assert (f"Inconclusive: no problem found by the {total - blocked_n} checks that ran, "
            f"but {blocked_n} could not run" in tx.text)
    assert f"Not evaluated ({blocked_n} of {total} checks)" in tx.text
    for check in reasons:
        assert tx.out.count(check) == 1, check
    assert tx.text.count(f"{service}.{operation} was denied") == 1
    assert tx.text.count(f"could not check: needs {permission}") == 1


def test_two_denied_calls_each_said_once(proxy):
    proxy.add_fault("FilterLogEvents", access_denied())
    proxy.add_fault("GetMetricStatistics", access_denied())
    tx = triage("lambda-timeout", "--function", "thumbnailer", "--no-color", endpoint=proxy.url)
    assert tx.code == 4
    for check in ("at-hard-limit", "timeout-too-low", "duration-near-timeout"):
        assert check in tx.out
    assert tx.text.count("logs.FilterLogEvents was denied") == 1
    assert tx.text.count("cloudwatch.GetMetricStatistics was denied") == 1


# -- a single playbook run: black-holed endpoint, default flags, a real process ---------------

def test_black_holed_endpoint_with_default_flags_exits_3_in_bounded_time(proxy):
    proxy.add_fault(None, blackhole())                    # every request read, never answered
    proc, elapsed = process("lambda-timeout", "--function", "orders-etl",
                            "--endpoint-url", proxy.url, "--region", "us-east-1")
    assert proc.returncode == ExitStatus.AWS_UNAVAILABLE == 3
    assert elapsed < 30, f"{elapsed:.1f} s: the default timeouts must bound a dead endpoint"
    assert proc.stderr.startswith("triage: AWS unavailable: AWS endpoint unreachable: Read timeout"), proc.stderr
    assert "Not checked: AWS was unavailable" in flat(proc.stdout) and "✓" not in proc.stdout
    # an endpoint that never answered is not retried (default --max-attempts is 6)
    assert proxy.count("GetFunctionConfiguration") == 1
    assert all(n <= 1 for n in (proxy.count(op) for op in set(proxy.operations())))


# -- scan --------------------------------------------------------------------------------------

def scan(*argv: str, endpoint: str) -> tuple[Run, Run]:
    return both("scan", "--max-attempts", "2", "--read-timeout", "5", *argv, endpoint=endpoint)


def not_checked_where(data: dict) -> set[tuple]:
    return {(n["playbook"], n["region"], n["resource"]) for n in data["not_checked"]}


@pytest.mark.parametrize("fault", list(UNAVAILABLE))
def test_scan_unavailable_exit_3_and_no_tick(request, proxy, fault):
    endpoint = endpoint_for(fault, request, proxy)
    js, tx = scan(endpoint=endpoint)
    assert js.code == tx.code == ExitStatus.AWS_UNAVAILABLE == 3
    data = js.data
    assert data["outcome"] == "unavailable"
    assert data["summary"]["rows"] == [] and data["summary"]["findings"] == 0
    assert not_checked_where(data) == {(p, "us-east-1", None) for p in SCANNED}
    assert all(set(n) == {"playbook", "region", "resource", "reason"} for n in data["not_checked"])
    cause, detail = UNAVAILABLE[fault]
    cause = cause.rstrip(": ")                            # "AWS endpoint unreachable" / "no usable AWS credentials"
    assert all(cause in n["reason"] and detail in n["reason"] for n in data["not_checked"]), data["not_checked"]
    assert "✓" not in tx.out and "Healthy" not in tx.out
    assert "Not checked: AWS was unavailable; nothing could be listed or read." in tx.text
    for playbook in SCANNED:
        assert playbook in tx.out
    assert js.err.startswith("triage: AWS unavailable: ") and cause in js.err


@pytest.mark.parametrize("fault", [
    "http-500", "throttled", "empty-body", "garbage-body",
])
def test_scan_whose_every_call_fails_is_inconclusive_exit_4(request, proxy, fault):
    endpoint = endpoint_for(fault, request, proxy)
    js, tx = scan(endpoint=endpoint)
    assert js.code == tx.code == ExitStatus.INCONCLUSIVE == 4
    data = js.data
    assert data["outcome"] == "inconclusive"
    assert data["summary"]["rows"] == []
    # every listing failed: each listed playbook is "not checked" in the region, for every resource
    assert {("lambda-not-found", "us-east-1", None), ("rds-connections", "us-east-1", None)} <= \
        not_checked_where(data)
    assert ("account-posture", "us-east-1", None) in not_checked_where(data)
    assert "✓" not in tx.out and "Healthy" not in tx.out
    assert "Inconclusive: no findings, but not everything could be checked" in tx.text
    assert "AWS unavailable" not in tx.out + tx.err


def test_scan_where_one_region_cannot_be_listed_is_inconclusive_exit_4(proxy, wide):
    # two regions with nothing in them; every call in the second answers 500
    proxy.add_fault(lambda r: signed_region(r) == "sa-east-1", server_error(500))
    js, tx = scan("--playbook", "lambda-not-found", "--playbook", "rds-connections",
                  "--regions", "ap-southeast-2,sa-east-1", endpoint=proxy.url)
    assert js.code == tx.code == ExitStatus.INCONCLUSIVE == 4
    data = js.data
    assert data["outcome"] == "inconclusive"
    assert data["summary"]["rows"] == []
    assert not_checked_where(data) == {("lambda-not-found", "sa-east-1", None), ("rds-connections", "sa-east-1", None)}
    reasons = {n["playbook"]: n["reason"] for n in data["not_checked"]}
    assert reasons == {"lambda-not-found": "lambda.ListFunctions failed: 500: Internal Server Error",
                       "rds-connections": "rds.DescribeDBInstances failed: 500: Internal Server Error"}
    assert "✓" not in tx.out and "Healthy" not in tx.out
    assert "Inconclusive: no findings, but not everything could be checked" in tx.text
    # the "Not checked" table: one row per playbook, naming the region and why
    rows = [line for line in tx.out.splitlines() if "sa-east-1" in line and line.startswith("│")]
    assert len(rows) == 2
    assert any("lambda-not-found" in r and "(every resource)" in r and "lambda.ListFunctions failed: 500" in r
               for r in rows), rows
    assert any("rds-connections" in r and "rds.DescribeDBInstances failed: 500" in r for r in rows), rows
    assert "ap-southeast-2" in tx.out and tx.err == ""


def test_scan_of_an_empty_region_is_healthy_exit_0(world):
    js, tx = scan("--playbook", "lambda-not-found", "--playbook", "rds-connections",
                  "--regions", "ap-southeast-2", endpoint=world.url)
    assert js.code == tx.code == ExitStatus.OK == 0
    assert js.data["outcome"] == "healthy" and js.data["not_checked"] == []
    assert "✓ Healthy: every check ran on every scanned resource and found nothing." in tx.text


def test_scan_where_every_resource_is_partly_unchecked_is_inconclusive(proxy):
    proxy.add_fault("GetMetricStatistics", access_denied())
    js, tx = scan("--playbook", "rds-connections", endpoint=proxy.url)
    assert js.code == tx.code == 4
    data = js.data
    assert data["outcome"] == "inconclusive"
    dbs = {d["resource"] for d in data["diagnoses"]}
    assert {"orders-db", "billing-db", "analytics-db"} <= dbs
    assert not_checked_where(data) == {("rds-connections", "us-east-1", db) for db in dbs}
    for n in data["not_checked"]:
        assert n["reason"].count("cloudwatch.GetMetricStatistics was denied") == 1, n["reason"]
    assert "✓" not in tx.out
    for db in dbs:
        assert db in tx.out


def test_scan_findings_win_and_unchecked_resources_are_still_listed(proxy):
    # only analytics-db's metrics are denied; orders-db and billing-db are near max_connections
    proxy.add_fault(lambda r: r.operation == "GetMetricStatistics" and b"analytics-db" in r.body, access_denied())
    js, tx = scan("--playbook", "rds-connections", endpoint=proxy.url)
    assert js.code == tx.code == ExitStatus.FINDINGS == 1
    data = js.data
    assert data["outcome"] == "findings"
    assert {(r["check"], r["resource"]) for r in data["summary"]["rows"]} >= {
        ("connections-near-max", "orders-db"), ("connections-near-max", "billing-db")}
    assert not_checked_where(data) == {("rds-connections", "us-east-1", "analytics-db")}
    assert "✓" not in tx.out and "Not checked (1)" in tx.text


def test_scan_deadline_bounds_listing_in_a_real_process(proxy):
    proxy.add_fault("ListFunctions", blackhole())         # default read timeout: 15 s
    proc, elapsed = process("scan", "--deadline", "2", "--output", "json",
                            "--endpoint-url", proxy.url, "--region", "us-east-1")
    assert elapsed < 10, f"{elapsed:.1f} s: --deadline 2 must bound the scan, listing included"
    data = json.loads(proc.stdout)
    assert ExitStatus.for_outcome(data["outcome"]) == proc.returncode
    listing = [n for n in data["not_checked"] if n["playbook"] == "lambda-not-found"]
    assert [(n["region"], n["resource"]) for n in listing] == [("us-east-1", None)]
    assert "deadline" in listing[0]["reason"]
    # the hanging listing holds up nothing else: the other playbooks ran and reported
    assert not any(r["playbook"] == "lambda-not-found" for r in data["summary"]["rows"])
    assert {d["playbook"] for d in data["diagnoses"]} >= {"account-posture", "rds-connections"}
    assert proc.returncode == (1 if data["summary"]["rows"] else 4)
