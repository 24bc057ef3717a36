"""Recent changes through the recorded-case replay (casefile.ReplayAws):
LookupEvents answers recorded in a case are matched by the same code as
trail files, and a case that did not record the collector's calls is never
asked for them (the shipped cases replay unchanged with the collector on)."""
from __future__ import annotations

from pathlib import Path

import pytest

from triage import casefile, catalog, engine, playbook
from triage.changes import Request

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "cases" / "lambda-timeout.cases.yaml"


def replay(pb, case, request=Request()):
    aws = casefile.ReplayAws(case)
    with casefile.frozen_clock(case.recorded_at):
        d = engine.run(pb, case.inputs, aws, changes=request)
    return d, d.to_dict(), aws


@pytest.fixture(scope="module")
def lambda_timeout():
    return catalog.load(catalog.discover()["lambda-timeout"])


def case(name: str):
    return next(c for c in casefile.load(CASES).cases if c.name == name)


def test_recorded_lookup_events_link_the_timeout_to_the_change(lambda_timeout):
    c = case("orders-etl-timeout-lowered")
    d, data, aws = replay(lambda_timeout, c)
    assert aws.unrecorded == [] and casefile.compare(c, data) == []
    assert [f["check"] for f in data["findings"]] == ["timeout-too-low"]
    changes = data["changes"]
    assert [(x["event"], x["detail"], x["source"]) for x in changes] == [
        ("UpdateFunctionConfiguration", "Timeout 30 → 3", "lookup-events"),
        ("UpdateFunctionConfiguration", "Timeout set to 30; MemorySize set to 512", "lookup-events")]
    newest = changes[0]
    assert newest["time"] == "2026-11-22T16:02:29Z"
    assert newest["principal"] == "arn:aws:sts::123456789012:assumed-role/deployer/ci" and newest["tool"] == "AWS CLI"
    assert newest["explains"] == ["timeout-too-low"] and changes[1]["explains"] == []
    assert newest["explanation"] == ("timeout-too-low began 40 minutes after UpdateFunctionConfiguration by "
                                     "arn:aws:sts::123456789012:assumed-role/deployer/ci set Timeout 30 → 3")
    search = data["change_search"]
    assert search["answered_by"] == "lookup-events" and search["window"] == "24h"
    assert search["since"] == "2026-11-21T19:39:23Z" and search["until"] == "2026-11-22T19:39:23Z"
    assert search["resources"] == ["orders-etl", "arn:aws:iam::123456789012:role/orders-etl-role"]
    assert sorted(x["call"] for x in search["calls"]) == ["cloudtrail.LookupEvents"] * 2
    # the collector's calls are its own: the playbook's call list is what it was
    assert "cloudtrail.LookupEvents" not in [x["call"] for x in data["calls"]]


def test_lookup_denied_in_a_replay_falls_back_to_metadata_and_says_so(lambda_timeout):
    d, data, aws = replay(lambda_timeout, case("orders-etl-lookup-denied"))
    assert aws.unrecorded == [] and d.outcome == "findings"
    [entry] = data["changes"]
    assert entry["source"] == "metadata" and entry["event"] == "LastModified" and entry["principal"] is None
    assert entry["explains"] == []     # no field is known: metadata never claims to explain
    search = data["change_search"]
    assert search["answered_by"] == "metadata"
    assert search["reason"].startswith("CloudTrail was not available (could not check: needs cloudtrail:LookupEvents")
    assert "not read in a replayed case" in search["reason"]
    assert {s["source"] for s in search["sources"]} == {"lookup-events", "trail-files", "metadata"}


def _shipped_cases():
    for path in sorted((ROOT / "playbooks" / "tests").glob("*.cases.yaml")):
        for c in casefile.load(path).cases:
            yield pytest.param(path, c, id=f"{path.name.split('.')[0]}/{c.name}")


@pytest.mark.parametrize("path,c", list(_shipped_cases()))
def test_shipped_cases_replay_unchanged_with_the_collector_on(path, c):
    """Every shipped case replays the same with changes looked for (findings,
    unchecked, evidence, unrecorded calls), the collector asks for no call the
    case did not record, and 'no source' is never an empty list."""
    pb = playbook.load(ROOT / "playbooks" / f"{path.name.split('.')[0]}.yaml", deep=False)
    _, without, plain = replay(pb, c, request=None)
    d, data, aws = replay(pb, c)
    assert sorted(aws.unrecorded) == sorted(plain.unrecorded)
    assert casefile.compare(c, data) == casefile.compare(c, without)
    assert "changes" in data and "changes" not in without
    if data["changes"] is None:
        assert data["change_search"]["reason"]
    else:
        assert data["change_search"]["answered_by"] == "metadata" and data["changes"]
        assert "CloudTrail was not available" in data["change_search"]["reason"]
