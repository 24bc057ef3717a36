"""Every evaluator test cites the documented rule it checks, every cited
rule is one of docs.DOCS (with its page), and there are at least 80 cases."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from .docs import DOCS

MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_*.py") if p.stem != "test_citations")


def _cases(fn) -> int:
    n = 1
    for mark in getattr(fn, "pytestmark", []):
        if mark.name == "parametrize":
            n *= len(mark.args[1])
    return n


def _tests():
    for name in MODULES:
        module = importlib.import_module(f"{__package__}.{name}")
        for attr, fn in vars(module).items():
            if attr.startswith("test_") and inspect.isfunction(fn):
                yield f"{name}.{attr}", fn


def test_every_case_cites_a_documented_rule_and_there_are_at_least_80():
    tests = list(_tests())
    uncited = [name for name, fn in tests if getattr(fn, "cites", None) not in DOCS]
    assert not uncited, f"tests without @cites(rule): {uncited}"
    total = sum(_cases(fn) for _, fn in tests)
    assert total >= 80, total
    # the suite covers the four families the issue names
    cited = {fn.cites for _, fn in tests}
    for family in ("sg-stateful", "nacl-order", "nacl-stateless", "nacl-ephemeral", "rt-longest-prefix",
                   "gw-endpoint", "if-endpoint", "ep-policy"):
        assert family in cited, family


def test_every_rule_has_an_aws_documentation_page_and_its_sentence():
    for key, (url, sentence) in DOCS.items():
        assert url.startswith("https://docs.aws.amazon.com/"), key
        assert len(sentence) > 40, key
