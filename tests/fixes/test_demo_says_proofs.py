"""The demo prints, for each seeded incident, how its fix was proven — from the
same table the proven-fix suite runs, so it cannot claim a proof that does not run."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from triage.demo.proofs import load


def demo(*args: str) -> str:
    """In a process of its own: moto's state is per process (the suite's world lives in this one)."""
    p = subprocess.run([sys.executable, "-m", "triage", "demo", "--scenario", "lambda-timeout", *args],
                       capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert p.returncode in (0, 1), p.stderr
    return p.stdout


def test_demo_json_says_how_each_shown_finding_is_fixed_and_proven():
    data = json.loads(demo("--output", "json"))
    shown = {(d["playbook"], f["check"]) for d in data["demo"] for f in d["findings"]}
    proofs = {(p["playbook"], p["finding"]): p for p in data["fix_proofs"]}
    assert shown and set(proofs) == shown
    table = load()
    for (pid, finding), p in proofs.items():
        entry = table[f"{pid}/{finding}"]     # every shown finding is in the table
        assert p["method"] == entry.method and p["proof"] == entry.sentence()
    assert proofs[("lambda-timeout", "timeout-too-low")]["proof"] == (
        "fix proven: tests/fixes applies it with the AWS CLI to the seeded lambda-timeout incident "
        "(--function orders-etl) and the finding goes away")


def test_demo_text_prints_the_proof_under_each_incident():
    assert "timeout-too-low: fix proven: tests/fixes applies it with the AWS CLI" in " ".join(demo().split())
