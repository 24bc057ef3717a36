"""AWS misbehaving, through botocore's real HTTP stack: a loopback proxy in
front of the seeded moto world throttles, fails, resets, answers garbage or
never answers. triage must retry what is transient, turn what is not into
`unchecked` entries with the reason (every unaffected check still reports),
give up within the bounds set by --connect-timeout/--read-timeout/
--max-attempts/--deadline with exit 3 and what it already established, and
never print a traceback."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import run_cli
from triage.testing.proxy import FaultProxy, blackhole, garbage, reset, server_error, throttle

TIMEOUT_CHECKS = {"at-hard-limit", "timeout-too-low", "duration-near-timeout"}


@pytest.fixture
def proxy(world):
    with FaultProxy(world.url) as p:
        yield p


@pytest.fixture
def backoffs(monkeypatch):
    """Record the backoff botocore computes before each retry, but sleep 0
    (and let adaptive mode's client-side rate limiter send at once), so the
    retries are real and the tests stay fast. Returns the recorded delays."""
    from botocore.retries.bucket import TokenBucket
    from botocore.retries.standard import ExponentialBackoff

    delays: list[tuple[int, float]] = []
    computed = ExponentialBackoff.delay_amount

    def record(self, context):
        # only this test's playbook calls: a run's background work (the change timeline's
        # CloudTrail reads) or a previous test's daemon thread may retry too
        if getattr(context.operation_model, "name", None) != "LookupEvents":
            delays.append((context.attempt_number, computed(self, context)))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", record)
    monkeypatch.setattr(TokenBucket, "_sleep_amount", lambda self, amount: 0)
    return delays


def diagnose(proxy, function: str, *extra: str) -> tuple[int, dict, str]:
    r = run_cli("lambda-timeout", "--function", function, "--output", "json", *extra, endpoint=proxy.url)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    return r.code, json.loads(r.out), r.err


def checks(data: dict) -> list[str]:
    return [f["check"] for f in data["findings"]]


def unchecked(data: dict) -> dict[str, str]:
    return {u["check"]: u["reason"] for u in data["unchecked"]}


# -- throttling: retried with backoff, the diagnosis unchanged ----------------------------

@pytest.mark.parametrize("operation,fault,wire", [
    ("FilterLogEvents", throttle(), ("ThrottlingException", 400)),                 # logs: JSON protocol
    ("GetFunctionConfiguration", throttle(), ("TooManyRequestsException", 429)),   # lambda: REST, HTTP 429
    ("DescribeRouteTables", throttle(), ("RequestLimitExceeded", 503)),            # ec2
    ("GetMetricStatistics", throttle(code="Throttling", status=400), ("Throttling", 400)),  # cloudwatch
])
def test_throttling_is_retried_with_backoff_and_findings_are_unchanged(proxy, backoffs, operation, fault, wire):
    rule = proxy.add_fault(operation, fault, times=2)
    code, data, _ = diagnose(proxy, "payments-sync")
    assert code == 1
    assert checks(data) == ["vpc-without-nat", "timeout-too-low"]
    assert data["unchecked"] == [] and all(c["error"] is None for c in data["calls"])
    assert data["findings"][1]["evidence"]["timed_out_invocations"] == 2
    assert data["findings"][0]["evidence"]["subnets"][0]["default_route"] == "none"
    # what went over the wire: two "Rate exceeded" answers, then the real one
    throttled = [r for r in proxy.requests if r.fault == "throttle"]
    assert [(r.operation, r.status) for r in throttled] == [(operation, wire[1])] * 2
    assert rule.exhausted
    # botocore backed off before each retry (exponential: at most 2^(attempt-1) s);
    # FilterLogEvents is made by two concurrent steps, so each may take one throttle
    assert sorted(a for a, _ in backoffs) in ([1, 2], [1, 1])
    assert all(0 <= d <= 2 ** (a - 1) for a, d in backoffs)


def test_throttling_that_never_stops_leaves_those_checks_unchecked(proxy, backoffs):
    proxy.add_fault("FilterLogEvents", throttle())
    code, data, _ = diagnose(proxy, "payments-sync", "--max-attempts", "3")
    assert code == 1
    assert checks(data) == ["vpc-without-nat"]
    reasons = unchecked(data)
    assert set(reasons) == TIMEOUT_CHECKS
    for reason in reasons.values():
        assert reason == "could not check: logs.FilterLogEvents was still throttled after retries (ThrottlingException)"
    assert proxy.count("FilterLogEvents") == 2 * 3          # two steps, three attempts each
    assert len(backoffs) == 2 * 2


# -- 5xx, resets, garbage: unchecked with the reason, the rest still reports ---------------

@pytest.mark.parametrize("fault,reason", [
    (server_error(500), "ec2.DescribeRouteTables failed: 500: Internal Server Error"),
    (server_error(502, body=b"<html><body>Bad Gateway</body></html>"), "ec2.DescribeRouteTables failed: 502: Bad Gateway"),
    (server_error(503, code="Unavailable", message="Service is down"), "ec2.DescribeRouteTables failed: Unavailable: Service is down"),
])
def test_server_errors_are_retried_then_unchecked(proxy, backoffs, fault, reason):
    proxy.add_fault("DescribeRouteTables", fault)
    code, data, _ = diagnose(proxy, "payments-sync", "--max-attempts", "2")
    assert code == 1
    assert checks(data) == ["timeout-too-low"]
    assert data["findings"][0]["evidence"]["suggested_timeout_s"] == 60
    assert unchecked(data) == {"vpc-without-nat": f"could not check: {reason}"}
    assert proxy.count("DescribeRouteTables") == 2           # 5xx are retried
    assert [c["call"] for c in data["calls"] if c["error"]] == ["ec2.DescribeRouteTables"]


def test_connection_reset_is_unchecked_and_not_an_outage(proxy, backoffs):
    proxy.add_fault("FilterLogEvents", reset())
    code, data, err = diagnose(proxy, "payments-sync", "--max-attempts", "2")
    assert code == 1 and err == ""                          # other calls got through: not exit 3
    assert checks(data) == ["vpc-without-nat"]
    reasons = unchecked(data)
    assert set(reasons) == TIMEOUT_CHECKS
    assert all(r.startswith("could not check: logs.FilterLogEvents failed: AWS endpoint unreachable "
                            "(Connection was closed before we received a valid response") for r in reasons.values())
    assert proxy.count("FilterLogEvents") == 2 * 2


@pytest.mark.parametrize("operation,fault,function,found,reason", [
    # JSON protocols: botocore would parse these to an empty result ("no timeouts"): a false all-clear
    ("FilterLogEvents", garbage(body=b"\x00not json"), "payments-sync", ["vpc-without-nat"],
     "logs.FilterLogEvents failed: ResponseParserError: unparseable response from AWS: HTTP 200 body is not JSON"),
    ("FilterLogEvents", garbage(body=b'{"events": [{"message": "Task timed'), "orders-etl", [],
     "logs.FilterLogEvents failed: ResponseParserError: unparseable response from AWS: HTTP 200 body is not JSON"),
    ("GetFunctionConfiguration", garbage(body=b"<html>captive portal</html>"), "orders-etl", [],
     "lambda.GetFunctionConfiguration failed: ResponseParserError: unparseable response from AWS"),
    # XML (ec2)
    ("DescribeSubnets", garbage(), "payments-sync", ["timeout-too-low"],
     "ec2.DescribeSubnets failed: ResponseParserError: unparseable response from AWS: Unable to parse response"),
])
def test_garbage_bodies_are_unchecked_never_an_empty_result(proxy, operation, fault, function, found, reason):
    proxy.add_fault(operation, fault)
    code, data, _ = diagnose(proxy, function)
    assert checks(data) == found
    assert code == (1 if found else 4)        # nothing found but not everything checked: inconclusive, never 0
    assert data["outcome"] == ("findings" if found else "inconclusive")
    assert data["unchecked"], "a garbage answer must not pass for 'nothing found'"
    for text in unchecked(data).values():
        assert text.startswith(f"could not check: {reason}"), text


def test_garbage_cbor_metric_answer_only_costs_the_check_that_reads_it(proxy):
    proxy.add_fault("GetMetricStatistics", garbage(body=b"\xff\x00junk"))
    code, data, _ = diagnose(proxy, "payments-sync")
    assert checks(data) == ["vpc-without-nat", "timeout-too-low"]
    assert list(unchecked(data)) == ["duration-near-timeout"]
    assert unchecked(data)["duration-near-timeout"].startswith("could not check: cloudwatch.GetMetricStatistics failed:")


# -- dead and black-holed endpoints: exit 3 in bounded time, in a real process ---------------

def triage_process(endpoint: str, *extra: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    """Run the real CLI in its own process: a hang at interpreter exit
    (threads still blocked on a socket) only shows there."""
    argv = [sys.executable, "-m", "triage", "lambda-timeout", "--function", "payments-sync",
            "--endpoint-url", endpoint, "--region", "us-east-1", *extra]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "NO_COLOR": "1"})
    elapsed = time.monotonic() - started
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc, elapsed


def test_refused_connection_exits_3_with_a_clear_error():
    with socket.socket() as s:           # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, elapsed = triage_process(f"http://127.0.0.1:{port}", "--max-attempts", "2", "--output", "json")
    assert proc.returncode == 3
    assert elapsed < 15
    data = json.loads(proc.stdout)
    assert data["findings"] == [] and data["error"].startswith("AWS endpoint unreachable: Could not connect")
    assert proc.stderr.startswith("triage: AWS unavailable: AWS endpoint unreachable: Could not connect to the endpoint URL")
    assert "hint: check credentials" in proc.stderr


def test_connect_that_never_completes_is_bounded_by_connect_timeout():
    # A listener whose accept queue is full: the kernel drops further SYNs,
    # so a connect hangs exactly as it does against a firewalled endpoint.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(listener.getsockname())
            fillers.append(c)
        time.sleep(0.1)
        port = listener.getsockname()[1]
        proc, elapsed = triage_process(f"http://127.0.0.1:{port}", "--connect-timeout", "0.5",
                                       "--max-attempts", "1", "--no-color")
    finally:
        for c in fillers:
            c.close()
        listener.close()
    assert proc.returncode == 3
    assert elapsed < 15
    assert "AWS endpoint unreachable: Connect timeout on endpoint URL" in proc.stderr


def test_black_holed_endpoint_is_bounded_by_read_timeout(proxy):
    proxy.add_fault(None, blackhole())
    proc, elapsed = triage_process(proxy.url, "--read-timeout", "0.5", "--max-attempts", "1", "--output", "json")
    assert proc.returncode == 3
    assert elapsed < 15
    assert "AWS unavailable: AWS endpoint unreachable: Read timeout on endpoint URL" in proc.stderr
    data = json.loads(proc.stdout)
    assert data["findings"] == [] and set(unchecked(data)) == TIMEOUT_CHECKS | {"vpc-without-nat"} | {
        "sg-egress-blocks", "sg-ingress-blocks", "nacl-outbound-blocks", "nacl-inbound-blocks", "no-route",
        "db-not-found"}
    assert proxy.count("GetFunctionConfiguration") == 1      # the first step; nothing ran after it


def test_deadline_stops_waiting_and_keeps_what_was_established(proxy):
    proxy.add_fault("FilterLogEvents", blackhole())        # the log reads never answer
    proc, elapsed = triage_process(proxy.url, "--deadline", "1.5", "--read-timeout", "60", "--output", "json")
    assert proc.returncode == 3
    assert elapsed < 15, "must not wait for the 60 s read timeout (nor for its threads at exit)"
    data = json.loads(proc.stdout)
    assert data["error"] == "deadline of 1.5 s reached"
    assert checks(data) == ["vpc-without-nat"]
    (subnet,) = data["findings"][0]["evidence"]["subnets"]
    assert subnet["default_route"] == "none" and subnet["route_table"].startswith("rtb-")
    reasons = unchecked(data)
    assert set(reasons) == TIMEOUT_CHECKS
    assert all(r == "could not check: logs.FilterLogEvents did not finish: deadline of 1.5 s reached"
               for r in reasons.values())
    assert proc.stderr == ("triage: AWS unavailable: deadline of 1.5 s reached\n"
                           "  hint: raise --deadline, or lower --read-timeout/--max-attempts to fail faster\n")


def test_deadline_in_text_output_prints_the_findings_then_the_error(proxy):
    proxy.add_fault("FilterLogEvents", blackhole())
    proc, _ = triage_process(proxy.url, "--deadline", "1", "--no-color")
    assert proc.returncode == 3
    assert "vpc-without-nat" in proc.stdout and "could not check" in proc.stdout
    assert "deadline of 1 s reached" in proc.stderr


# -- --debug shows the details; without it, none -------------------------------------------

def test_debug_shows_retries_and_failed_calls(proxy, backoffs):
    proxy.add_fault("FilterLogEvents", throttle(), times=1)
    proxy.add_fault("DescribeRouteTables", reset())
    args = ("lambda-timeout", "--function", "payments-sync", "--output", "json", "--max-attempts", "2")
    plain = run_cli(*args, endpoint=proxy.url)
    proxy.clear_requests()
    proxy.add_fault("FilterLogEvents", throttle(), times=1)
    debug = run_cli(*args, "--debug", endpoint=proxy.url)
    assert plain.code == debug.code == 1
    assert json.loads(plain.out)["findings"] == json.loads(debug.out)["findings"]
    assert plain.err == ""
    err = debug.err
    assert "Traceback" not in err
    assert "debug: botocore.retries.standard: Retry needed, retrying request after delay of: 0" in err
    assert "debug: botocore.retries.adaptive: Throttling response received" in err
    assert "debug: step route_tables failed: network ConnectionClosedError: Connection was closed" in err
    assert "debug: call ec2.DescribeRouteTables step=route_tables" in err and "error=ConnectionClosedError" in err
    assert "debug: call lambda.GetFunctionConfiguration step=config" in err
    assert "Not retrying request" not in err


def test_timeout_flags_reject_nonsense(proxy):
    r = run_cli("lambda-timeout", "--function", "x", "--read-timeout", "0", endpoint=proxy.url)
    assert r.code == 2 and r.err == "triage: --read-timeout must be positive, got 0\n"
    r = run_cli("lambda-timeout", "--function", "x", "--deadline", "-1", endpoint=proxy.url)
    assert r.code == 2 and r.err == "triage: --deadline must be positive, got -1\n"   # not exit 3, 'deadline reached'
    r = run_cli("lambda-timeout", "--function", "x", "--max-attempts", "two", endpoint=proxy.url)
    assert r.code == 2 and "--max-attempts: invalid int value: 'two'" in r.err and "Traceback" not in r.err
