"""Secret masking measured on texts this project did not write.

tests/corpora/redaction.yaml holds log lines, errors, CLI output and fix
commands taken from public docs and issue threads, each citing its source.
For every entry, `Redactor().text()` must remove each listed secret and leave
each listed `keep` string untouched: both leaking and over-masking fail."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from triage import redact
from triage.redact import Redactor

CORPUS_PATH = Path(__file__).parent / "corpora" / "redaction.yaml"
CORPUS: list[dict] = yaml.load(CORPUS_PATH.read_text(encoding="utf-8"),
                               Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _id(i: int, entry: dict) -> str:
    return str(entry.get("id") or f"{i:03d}-{entry.get('kind', 'entry')}")


IDS = [_id(i, e) for i, e in enumerate(CORPUS)]


@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_masking(entry):
    out = Redactor().text(entry["text"])
    leaked = [s for s in entry["secrets"] if s in out]
    lost = [k for k in entry["keep"] if k not in out]
    if leaked or lost:
        pytest.fail(f"leaked secrets: {leaked}\nmasked but must be kept: {lost}\n"
                    f"input:  {entry['text']!r}\noutput: {out!r}\nsource: {entry['source']}", pytrace=False)


def test_mask_has_no_glob_or_syntax_characters():
    # The mask lands inside suggested shell commands, JSON and markdown: it
    # must not glob, quote, substitute, redirect or render as markup.
    bad = sorted(set(redact.MASK) & set("*?[]$`'\"<>"))
    assert not bad, f"MASK {redact.MASK!r} contains {bad}"


def test_corpus_is_well_formed():
    assert len(CORPUS) >= 60
    assert len(set(IDS)) == len(IDS), "entry ids must be unique"
    for name, e in zip(IDS, CORPUS):
        assert set(e) <= {"id", "text", "secrets", "keep", "kind", "source"}, name
        assert isinstance(e["text"], str) and e["text"], name
        assert isinstance(e["secrets"], list) and isinstance(e["keep"], list), name
        assert e["secrets"] or e["keep"], f"{name}: nothing to check"
        assert isinstance(e.get("kind"), str) and e["kind"], name
        assert re.match(r"https?://\S+$", str(e.get("source", ""))), f"{name}: source must be an http(s) URL"
        # A string absent from the input would pass (or fail) vacuously.
        for s in e["secrets"] + e["keep"]:
            assert isinstance(s, str) and s and s in e["text"], f"{name}: {s!r} is not in the text"
        assert not set(e["secrets"]) & set(e["keep"]), name


def test_corpus_is_balanced():
    with_secrets = sum(1 for e in CORPUS if e["secrets"])
    without = len(CORPUS) - with_secrets
    assert with_secrets >= 30 and without >= 30, (with_secrets, without)
    assert all(e["kind"] == "non-secret" for e in CORPUS if not e["secrets"])
