"""The seeded incidents whose cause is a change (triage/demo/scenarios/
changes.py): every diagnosis ends with its recent changes, and triage links
each finding to the change that explains it, in text, Markdown and JSON;
`triage changes` shows the same timeline for any resources."""
from __future__ import annotations

import json
import re

import pytest

from triage.demo.scenarios.changes import DEPLOYER, LINKS


def _argv(playbook: str, inputs: dict) -> list[str]:
    argv = [playbook]
    for name, value in inputs.items():
        for v in value if isinstance(value, list) else [value]:
            argv += [f"--{name}", v]
    return argv


CASES = [(pb, dict(key)) for pb, key in LINKS]


def _case(world, playbook, key):
    return next(c for c in world.cases if c.playbook == playbook and all(c.inputs.get(k) == v for k, v in key.items()))


@pytest.mark.parametrize("playbook,key", CASES, ids=[pb for pb, _ in CASES])
def test_each_seeded_change_is_linked_to_the_finding_it_explains(cli, world, playbook, key):
    check, event, principal = LINKS[(playbook, tuple(key.items()))]
    case = _case(world, playbook, key)
    r = cli(*_argv(playbook, case.inputs), "--output", "json")
    assert r.code == 1, r.err
    data = json.loads(r.out)
    assert sorted(f["check"] for f in data["findings"]) == sorted(case.expect)
    linked = [c for c in data["changes"] if check in c["explains"]]
    assert len(linked) == 1, data["changes"]
    change = linked[0]
    assert (change["event"], change["principal"], change["source"]) == (event, principal, "trail-files")
    assert change["explanation"].startswith(check)
    assert data["change_search"]["answered_by"] == "trail-files"
    # newest first, every entry inside the window
    times = [c["time"] for c in data["changes"]]
    assert times == sorted(times, reverse=True)
    assert all(data["change_search"]["since"] <= t <= data["change_search"]["until"] for t in times)


def test_the_policy_version_says_it_removed_getobject(cli):
    data = json.loads(cli("access-denied", "--principal", "ledger-reader", "--action", "s3:GetObject",
                          "--resource", "arn:aws:s3:::ledger-exports/2026/11.csv", "--output", "json").out)
    [change] = [c for c in data["changes"] if c["event"] == "CreatePolicyVersion"]
    assert change["detail"] == ("new policy version (now the default): removed Allow s3:GetObject on "
                                "arn:aws:s3:::ledger-exports/*")
    assert change["tool"] == "console"


def test_the_deleted_queue_is_said_in_words(cli):
    data = json.loads(cli("lambda-not-found", "--function", "refund-worker", "--output", "json").out)
    [change] = data["changes"]        # the dead-letter queue deleted with it is not a resource read
    assert change["detail"] == "SQS queue refund-requests deleted"
    assert change["resource"] == "arn:aws:sqs:us-east-1:123456789012:refund-requests"
    assert re.fullmatch(r"event-source-missing may be explained by DeleteQueue by arn:aws:sts::123456789012:"
                        r"assumed-role/cleanup-bot/nightly, \d+ h \d+ min before this run: SQS queue refund-requests "
                        r"deleted", change["explanation"]), change["explanation"]   # the world was seeded a while ago


def test_text_ends_with_recent_changes_and_the_link(cli):
    r = cli("lambda-timeout", "--function", "billing-export", "--no-color")
    assert r.code == 1
    out = " ".join(r.out.split())                         # rich wraps long lines
    section = out[out.index("Recent changes to 2 resources read, last 24h (from CloudTrail's log files in S3)"):]
    assert "API calls" in section and section.index("Timeout 30 → 3") < section.index("API calls")
    assert (f"↳ timeout-too-low began 40 minutes after UpdateFunctionConfiguration by {DEPLOYER} set Timeout 30 → 3"
            in section)
    assert "lookup-events: LookupEvents is not available here" in section
    assert "more for recent changes" in section


def test_markdown_has_the_section(cli):
    r = cli("lambda-not-found", "--function", "refund-worker", "--output", "markdown")
    assert "### Recent changes to 3 resources read, last 24h \\(from CloudTrail's log files in S3\\)" in r.out
    assert "| When (UTC) | Change | Resource | Detail | By | Source |" in r.out
    assert "`DeleteQueue`" in r.out and "**event-source-missing may be explained by DeleteQueue" in r.out


def test_changes_since_narrows_the_window(cli):
    data = json.loads(cli("lambda-timeout", "--function", "billing-export", "--changes-since", "2h",
                          "--output", "json").out)
    assert data["change_search"]["window"] == "2h" and data["changes"] == []
    r = cli("lambda-timeout", "--function", "billing-export", "--changes-since", "soon")
    assert r.code == 2 and "--changes-since" in r.err


def test_triage_changes_for_any_resources(cli):
    r = cli("changes", "--resource", "billing-export", "--resource", "arn:aws:sqs:us-east-1:123456789012:refund-requests",
            "--output", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert set(data) == {"changes", "change_search"}
    assert [(c["event"], c["resource"]) for c in data["changes"]] == [
        ("DeleteQueue", "arn:aws:sqs:us-east-1:123456789012:refund-requests"),
        ("UpdateFunctionConfiguration", "billing-export"),
        ("UpdateFunctionConfiguration", "billing-export")]
    assert all(c["explains"] == [] for c in data["changes"])
    text = cli("changes", "--resource", "billing-export", "--since", "10h", "--no-color")
    # the change that set 30 is outside the window: the before value is not known
    out = " ".join(text.out.split())
    assert text.code == 0 and "Timeout set to 3 by" in out and "Timeout set to 30" not in out
    md = cli("changes", "--resource", "billing-export", "--output", "markdown")
    assert md.code == 0 and "### Recent changes to 1 resource, last 24h" in md.out
    bad = cli("changes", "--resource", "billing-export", "--since", "-1h")
    assert bad.code == 2 and "--since" in bad.err


def test_the_other_scenarios_keep_their_findings_and_say_nothing_changed(cli):
    data = json.loads(cli("lambda-timeout", "--function", "orders-etl", "--output", "json").out)
    assert [f["check"] for f in data["findings"]] == ["timeout-too-low"]
    assert data["changes"] == [] and data["change_search"]["answered_by"] == "trail-files"
