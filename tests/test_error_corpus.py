"""Every entry of tests/corpora/errors.yaml (real error texts from public
threads and AWS documentation) routes to its expected playbook, or to none
for look-alikes from other clouds and tools, with the expected fields."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from triage import catalog
from triage.explain import route

CORPUS = Path(__file__).parent / "corpora" / "errors.yaml"
ENTRIES = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["entries"]


def check(entry: dict, entries: dict) -> list[str]:
    """What is wrong with the routing of one entry ([] when all is right)."""
    r = route(entry["text"], entries)
    wrong = []
    if r.routed_to != entry["expect"]:
        wrong.append(f"routed to {r.routed_to!r}, expected {entry['expect']!r} ({r.reason})")
        return wrong
    for name, want in (entry.get("fields") or {}).items():
        got = r.inputs[name] if name in r.inputs else r.extracted.get(name)
        if isinstance(want, float) or isinstance(got, float):
            ok = got is not None and abs(float(got) - float(want)) < 1e-6
        else:
            ok = got == want or (isinstance(want, str) and str(got) == want)
        if not ok:
            wrong.append(f"{name}: got {got!r}, expected {want!r}")
    return wrong


def test_corpus_size():
    assert len(ENTRIES) >= 150
    assert sum(e["expect"] is None for e in ENTRIES) >= 40
    assert all(e.get("source", "").startswith("https://") for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{i}-{e['class']}" for i, e in enumerate(ENTRIES)])
def test_entry(entry):
    assert check(entry, catalog.discover()) == [], entry["source"]


USER_PLAYBOOK = """\
id: glue-job-timeout
title: Glue job timed out
summary: A user's own playbook, routed by its own signals.
signals:
  threshold: 4
  match:
    - {kind: code, weight: 3, pattern: 'Timeout'}
    - {kind: phrase, weight: 2, pattern: 'Job run (?P<job_run>jr_[0-9a-f]+) .*timed out'}
  exclude:
    - {reason: "an Azure Functions timeout", pattern: 'Timeout value of \\\\d\\\\d:'}
inputs:
  job_run:
    type: string
    required: true
    help: The Glue job run id
steps:
  runs:
    call: glue.GetJobRuns
    args: {JobName: x}
checks:
  - id: timed-out
    severity: warning
    when: "`true`"
    title: The job timed out
"""


def test_a_user_playbook_takes_part_in_routing(tmp_path):
    (tmp_path / "glue-job-timeout.yaml").write_text(USER_PLAYBOOK, encoding="utf-8")
    entries = catalog.discover([str(tmp_path)])
    r = route("Timeout: Job run jr_0123abcd of orders-etl timed out after 2880 minutes", entries)
    assert r.routed_to == "glue-job-timeout" and r.inputs["job_run"] == "jr_0123abcd"
    assert 0 < r.confidence <= 1
    # its exclusion rules a text out, and a shipped playbook still wins its own errors
    assert route("Timeout value of 00:05:00 was exceeded by function: Functions.x", entries).routed_to is None
    assert route("Task timed out after 3.00 seconds", entries).routed_to == "lambda-timeout"
    # a close runner-up is named
    both = route("Timeout: Job run jr_0123abcd timed out. Task timed out after 3.00 seconds", entries)
    assert both.alternatives and {both.routed_to, both.alternatives[0]["playbook"]} == {"glue-job-timeout", "lambda-timeout"}
