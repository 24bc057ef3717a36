"""The sources in order, against the seeded world (moto, which has no
LookupEvents) through the fault proxy: LookupEvents when it answers; the
trail's log files when it is missing, denied or throttled for good; resource
metadata when CloudTrail cannot be read at all; null and the reason when
nothing can. The output always says which source answered, and the change
timeline never changes a run's outcome or exit status."""
from __future__ import annotations

import json
import time

from conftest import run_cli
from triage.demo.scenarios.changes import DEPLOYER, TIMEOUT_FUNCTION
from triage.testing.proxy import access_denied, blackhole, throttle

from .conftest import answer_lookups


def diagnose(endpoint, *extra):
    r = run_cli("lambda-timeout", "--function", TIMEOUT_FUNCTION, "--output", "json", *extra, endpoint=endpoint)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    return r.code, json.loads(r.out)


def sources(data) -> dict:
    return {s["source"]: s["result"] for s in data["change_search"]["sources"]}


def lowered(data) -> dict:
    return next(c for c in data["changes"] if c["detail"] == "Timeout 30 → 3")


def test_moto_has_no_lookup_events_so_the_trail_files_answer(world):
    code, data = diagnose(world.url)
    assert code == 1 and [f["check"] for f in data["findings"]] == ["timeout-too-low"]
    assert data["change_search"]["answered_by"] == "trail-files"
    assert sources(data)["lookup-events"].startswith("LookupEvents is not available here (500")
    assert "from bucket changes-trail-logs-demo, prefix audit" in sources(data)["trail-files"]
    change = lowered(data)
    assert change["source"] == "trail-files" and change["explains"] == ["timeout-too-low"]
    assert change["explanation"] == (f"timeout-too-low began 40 minutes after UpdateFunctionConfiguration by {DEPLOYER} "
                                     "set Timeout 30 → 3")


def test_lookup_events_denied_falls_back_to_the_trail_files_and_says_so(proxy):
    proxy.add_fault("LookupEvents", access_denied())
    code, data = diagnose(proxy.url)
    assert code == 1
    assert data["change_search"]["answered_by"] == "trail-files"
    assert sources(data)["lookup-events"] == "LookupEvents was denied (AccessDeniedException)"
    assert lowered(data)["source"] == "trail-files"
    assert proxy.count("GetObject") > 0


def test_lookup_events_answers_and_no_trail_file_is_read(proxy, trail_records):
    answer_lookups(proxy, trail_records)
    code, data = diagnose(proxy.url)
    assert code == 1 and data["change_search"]["answered_by"] == "lookup-events"
    change = lowered(data)
    assert change["source"] == "lookup-events" and change["explains"] == ["timeout-too-low"]
    assert proxy.count("GetObject") == proxy.count("DescribeTrails") == 0
    # one request per resource: the function and its role
    assert proxy.count("LookupEvents") == 2


def test_both_sources_give_the_same_entries(proxy, world, trail_records):
    """The same records through LookupEvents and through the trail files:
    one matching code, the same timeline (the source aside)."""
    _, files = diagnose(world.url)
    answer_lookups(proxy, trail_records)
    _, looked_up = diagnose(proxy.url)

    def entries(data):
        return [{k: v for k, v in c.items() if k != "source"} for c in data["changes"]]
    assert entries(files) == entries(looked_up) and len(entries(files)) == 2


def test_throttling_is_retried_and_never_reaches_the_user(proxy, trail_records, monkeypatch):
    from triage.changes import lookup
    monkeypatch.setattr(lookup, "BACKOFF", 0.01)
    proxy.add_fault("LookupEvents", throttle(), times=3)
    answer_lookups(proxy, trail_records)
    code, data = diagnose(proxy.url)
    assert code == 1 and data["change_search"]["answered_by"] == "lookup-events"
    calls = data["change_search"]["calls"]
    assert all(c["error"] is None for c in calls) and sum(c.get("throttled_retries", 0) for c in calls) == 3
    shown = {k: v for k, v in data.items() if k != "change_search"}
    shown["sources"] = data["change_search"]["sources"]
    assert "throttl" not in json.dumps(shown).lower()
    text = run_cli("lambda-timeout", "--function", TIMEOUT_FUNCTION, endpoint=proxy.url)
    assert "throttl" not in (text.out + text.err).lower()
    lookups = [r for r in proxy.requests if r.operation == "LookupEvents"]
    assert [r.fault for r in lookups].count("throttle") == 3 and [r.status for r in lookups][-2:] == [200, 200]


def test_throttled_for_good_falls_back_to_the_trail_files(proxy, monkeypatch):
    from triage.changes import lookup
    monkeypatch.setattr(lookup, "TRIES", 2)
    monkeypatch.setattr(lookup, "BACKOFF", 0.01)
    proxy.add_fault("LookupEvents", throttle())
    code, data = diagnose(proxy.url)
    assert code == 1 and data["change_search"]["answered_by"] == "trail-files"
    assert sources(data)["lookup-events"] == "LookupEvents stayed throttled after 2 attempts"


def test_without_cloudtrail_the_metadata_is_listed_and_said_to_be_only_that(proxy):
    proxy.add_fault("LookupEvents", access_denied())
    proxy.add_fault("DescribeTrails", access_denied())
    code, data = diagnose(proxy.url)
    assert code == 1 and [f["check"] for f in data["findings"]] == ["timeout-too-low"]
    search = data["change_search"]
    assert search["answered_by"] == "metadata"
    assert search["reason"].startswith("CloudTrail was not available (could not check: needs cloudtrail:LookupEvents, "
                                       "cloudtrail:DescribeTrails")
    assert data["changes"] and {c["source"] for c in data["changes"]} == {"metadata"}
    assert data["changes"][0]["event"] == "LastModified"     # moto set it when the scenario was seeded
    text = run_cli("lambda-timeout", "--function", TIMEOUT_FUNCTION, endpoint=proxy.url).out
    assert "CloudTrail was not available" in text and "from resource metadata" in text


def test_no_source_at_all_is_null_with_the_reason_never_an_empty_list(proxy):
    proxy.add_fault("LookupEvents", access_denied())
    proxy.add_fault("DescribeTrails", access_denied())
    r = run_cli("changes", "--resource", "orders", "--output", "json", endpoint=proxy.url)
    assert r.code == 4, r.err
    data = json.loads(r.out)
    assert data["changes"] is None
    assert data["change_search"]["reason"] == (
        "could not check: needs cloudtrail:LookupEvents, cloudtrail:DescribeTrails (lookup-events: LookupEvents was "
        "denied (AccessDeniedException); trail-files: cloudtrail.DescribeTrails was denied (AccessDeniedException): "
        "needs permission cloudtrail:DescribeTrails); resource metadata was not read for orders: a bare name could be "
        "any service, give its ARN (e.g. --resource arn:aws:lambda:REGION:ACCOUNT:function:NAME) to read it")
    text = run_cli("changes", "--resource", "orders", endpoint=proxy.url)
    assert text.code == 4 and "could not check: needs cloudtrail:LookupEvents" in text.out


def test_changes_by_arn_without_cloudtrail_lists_the_metadata_and_a_bare_name_says_how_to_get_it(proxy):
    """`triage changes --resource NAME` with CloudTrail unreadable was null with a reason
    that only named CloudTrail, as if resource metadata had been tried: it had not (a
    bare name names no service). The reason now says so; the function's ARN lists it."""
    proxy.add_fault("LookupEvents", access_denied())
    proxy.add_fault("DescribeTrails", access_denied())
    r = run_cli("changes", "--resource", TIMEOUT_FUNCTION, "--output", "json", endpoint=proxy.url)
    data = json.loads(r.out)
    assert r.code == 4 and data["changes"] is None
    assert f"resource metadata was not read for {TIMEOUT_FUNCTION}: a bare name could be any service" in \
        data["change_search"]["reason"]
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{TIMEOUT_FUNCTION}"
    r = run_cli("changes", "--resource", arn, "--output", "json", endpoint=proxy.url)
    data = json.loads(r.out)
    assert r.code == 0 and data["change_search"]["answered_by"] == "metadata"
    assert [c["event"] for c in data["changes"]] == ["LastModified"]
    assert data["change_search"]["reason"].startswith("CloudTrail was not available")


def test_changes_never_change_the_outcome(proxy):
    with_changes = diagnose(proxy.url)
    proxy.add_fault("LookupEvents", access_denied())
    proxy.add_fault("DescribeTrails", access_denied())
    proxy.add_fault("ListVersionsByFunction", access_denied())
    unreadable = diagnose(proxy.url)
    without = diagnose(proxy.url, "--no-changes")
    assert with_changes[0] == unreadable[0] == without[0] == 1
    assert [f["check"] for f in with_changes[1]["findings"]] == [f["check"] for f in without[1]["findings"]]
    assert without[1]["changes"] is None and without[1]["change_search"] == {"reason": "not looked up (--no-changes)"}


def test_the_deadline_bounds_the_changes_and_the_run_keeps_its_findings(proxy):
    proxy.add_fault("LookupEvents", blackhole())
    started = time.monotonic()
    code, data = diagnose(proxy.url, "--deadline", "4", "--read-timeout", "30")
    assert time.monotonic() - started < 12
    assert code == 1 and [f["check"] for f in data["findings"]] == ["timeout-too-low"]
    assert data["changes"] is None
    assert data["change_search"]["reason"] == "not checked: the deadline was reached before the sources answered"


def test_lookup_events_are_paced_at_two_a_second(proxy, trail_records):
    """Five resources, five LookupEvents: never more than two in any second."""
    answer_lookups(proxy, trail_records)
    names = ["billing-export", "refund-worker", "ledger-reader", "refund-requests", "ledger-exports"]
    r = run_cli("changes", *[a for n in names for a in ("--resource", n)], "--output", "json", endpoint=proxy.url)
    assert r.code == 0, r.err
    times = sorted(q.monotonic for q in proxy.requests if q.operation == "LookupEvents")
    assert len(times) == 5
    assert all(b - a >= 1.0 for a, b in zip(times, times[2:])), times
