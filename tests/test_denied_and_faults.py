"""AccessDenied and throttling on triage's *own* diagnostic calls, injected
by a loopback proxy in front of moto, so botocore parses real AWS error
responses: the dependent checks become `unchecked` naming the permission;
the other checks still run."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from triage.testing.proxy import FaultProxy, access_denied, throttle


@pytest.fixture
def proxy(world):
    with FaultProxy(world.url) as p:
        yield p


def diagnose(proxy, function: str) -> tuple[int, dict, str]:
    r = run_cli("lambda-timeout", "--function", function, "--output", "json", endpoint=proxy.url)
    assert "Traceback" not in r.err
    return r.code, json.loads(r.out), r.err


def test_denied_log_reads_leave_vpc_check_running(proxy):
    proxy.add_fault("FilterLogEvents", access_denied())
    code, data, _ = diagnose(proxy, "payments-sync")
    assert code == 1
    assert [f["check"] for f in data["findings"]] == ["vpc-without-nat"]
    unchecked = {u["check"]: u for u in data["unchecked"]}
    assert set(unchecked) == {"at-hard-limit", "timeout-too-low", "duration-near-timeout"}
    for u in unchecked.values():
        assert u["needs"] == ["logs:FilterLogEvents"]
        assert u["reason"].startswith("could not check: needs logs:FilterLogEvents")
        assert "AccessDeniedException" in u["reason"]
    denied = [c for c in data["calls"] if c["error"]]
    assert {c["call"] for c in denied} == {"logs.FilterLogEvents"}


def test_denied_configuration_read_names_the_permission(proxy):
    proxy.add_fault("GetFunctionConfiguration", access_denied())
    code, data, _ = diagnose(proxy, "orders-etl")
    assert data["findings"] == []
    assert {u["check"] for u in data["unchecked"]} == {"at-hard-limit", "timeout-too-low", "duration-near-timeout", "vpc-without-nat",
                                                       "sg-egress-blocks", "sg-ingress-blocks", "nacl-outbound-blocks", "nacl-inbound-blocks", "no-route",   # the path to its database
                                                       "db-not-found"}                                      # and whether it exists
    assert all(u["needs"] == ["lambda:GetFunctionConfiguration"] for u in data["unchecked"])


def test_denied_metric_read_only_thins_the_evidence(proxy):
    # GetMetricStatistics feeds evidence and the duration maximum; when it is
    # denied the decision still comes from the logs
    proxy.add_fault("GetMetricStatistics", access_denied())
    code, data, _ = diagnose(proxy, "migrate-db")
    assert [f["check"] for f in data["findings"]] == ["at-hard-limit"]


def test_throttled_call_is_retried_and_the_diagnosis_is_unchanged(proxy):
    proxy.add_fault("GetFunctionConfiguration", throttle(), times=2)
    code, data, _ = diagnose(proxy, "orders-etl")
    assert [f["check"] for f in data["findings"]] == ["timeout-too-low"]
    assert proxy.count("GetFunctionConfiguration") == 3   # two throttled, one answered
