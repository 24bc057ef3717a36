"""A diagnosis that did not look for recent changes says so in JSON ("changes":
null and the reason), never an empty list that reads "nothing changed", and
never a missing key a script could take for the same; text stays quiet when
the user asked for --no-changes."""
from __future__ import annotations

import json

from conftest import run_cli


def test_no_changes_flag_gives_null_and_the_reason(world):
    r = run_cli("lambda-timeout", "--function", "orders-etl", "--no-changes", "--output", "json", endpoint=world.url)
    data = json.loads(r.out)
    assert data["changes"] is None
    assert data["change_search"] == {"reason": "not looked up (--no-changes)"}
    text = run_cli("lambda-timeout", "--function", "orders-etl", "--no-changes", endpoint=world.url)
    assert "Recent changes" not in text.out


def test_scan_diagnoses_say_changes_were_not_looked_up_and_how_to_see_them(world):
    r = run_cli("scan", "--playbook", "rds-connections", "--output", "json", endpoint=world.url)
    data = json.loads(r.out)
    runs = data["diagnoses"]
    assert runs
    for d in runs:
        assert d["changes"] is None
        reason = d["change_search"]["reason"]
        assert reason.startswith("a scan does not look up recent changes; to see them: triage rds-connections --db ")
        assert reason.endswith("--region us-east-1")
