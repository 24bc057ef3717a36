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
