"""The documented-rule suite: every case in documented_rules.yaml is one request
decided through the same loader and evaluator as `triage iam simulate`, and
cites the rule it checks (an AWS documentation page and the sentence or section,
or says that the documentation is silent and what other evaluators do).

Case shape (see the header of documented_rules.yaml):

* ``condition: {...}`` (+ ``context``, optional ``effect: Deny``) is shorthand for
  one identity policy whose statement on s3:GetObject carries that Condition;
* otherwise the keys of a simulation file (``request``, ``identity``,
  ``resource_policy``, ``boundary``, ``session_policy``, ``scps``, ``rcps``,
  ``vpc_endpoint_policy``, ``resource_account``), where a policy may be written as
  its list of statements;
* ``expect: allow|deny`` and optionally ``codes`` (the exact reason codes).
"""
from __future__ import annotations

import collections
from pathlib import Path

import pytest
import yaml

from triage.iam import simulate

DATA = Path(__file__).with_name("documented_rules.yaml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RAW = yaml.load(DATA.read_text(encoding="utf-8"), Loader=_Loader)
CASES = RAW["cases"]
DEFAULTS = RAW["defaults"]
MIN_CASES = 300
ISSUE_CLASSES = {"unresolved-variable", "negated-wrong-type", "allow-notprincipal", "getcalleridentity",
                 "kms-key-policy", "non-boolean-value", "null-set-operator", "deny-notprincipal-boundary"}


def _policy(value):
    """A policy written as its list of statements is wrapped in a 2012-10-17 document."""
    if isinstance(value, list):
        return {"Version": "2012-10-17", "Statement": value}
    return value


def simulation_document(case: dict) -> dict:
    request = {"principal": DEFAULTS["principal"], "action": DEFAULTS["action"],
               "resource": DEFAULTS["resource"], **(case.get("request") or {})}
    for key in ("principal", "action", "resource", "context"):
        if key in case:
            request[key] = case[key]
    if "condition" in case:
        conditional = {"Effect": case.get("effect", "Allow"), "Action": DEFAULTS["action"], "Resource": "*",
                       "Condition": case["condition"]}
        statements = [conditional] if conditional["Effect"] == "Allow" else \
            [{"Effect": "Allow", "Action": "*", "Resource": "*"}, conditional]
        return {"request": request, "identity": [_policy(statements)]}
    doc: dict = {"request": request, "identity": [_policy(p) for p in case.get("identity") or []]}
    for key in ("resource_policy", "boundary", "session_policy", "vpc_endpoint_policy"):
        if case.get(key) is not None:
            doc[key] = _policy(case[key])
    for key in ("scps", "rcps"):
        if case.get(key) is not None:
            doc[key] = [[_policy(p) for p in level] for level in case[key]]
    if case.get("resource_account") is not None:
        doc["resource_account"] = case["resource_account"]
    return doc


def decide(case: dict):
    sim = simulate.parse(simulation_document(case), f"{DATA.name}:{case['id']}")
    return simulate.run(sim)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_documented_rule(case):
    decision = decide(case)
    got = "allow" if decision.allowed else "deny"
    detail = "; ".join(r.message for r in decision.reasons) or "; ".join(getattr(decision, "notes", []))
    assert got == case["expect"], f"{case['id']}: expected {case['expect']}, got {got} ({detail})"
    if "codes" in case:
        assert decision.codes == case["codes"], f"{case['id']}: reasons {decision.codes}: {detail}"


def test_the_suite_is_large_cites_its_rules_and_covers_every_issue_class():
    assert len(CASES) >= MIN_CASES
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), [i for i, n in collections.Counter(ids).items() if n > 1]
    for case in CASES:
        rule = case.get("rule")
        assert isinstance(rule, dict) and rule.get("url", "").startswith("https://"), case["id"]
        assert rule.get("says") or case.get("silent"), f"{case['id']}: cite the sentence, or say the docs are silent"
        assert case["expect"] in ("allow", "deny"), case["id"]
        assert case.get("class"), case["id"]
    issues = collections.Counter(c["issue"] for c in CASES if c.get("issue"))
    assert set(issues) == ISSUE_CLASSES, set(issues) ^ ISSUE_CLASSES
    assert all(n >= 4 for n in issues.values()), issues


def test_the_cases_that_were_wrong_before_issue_12_are_marked():
    """`was` records what the evaluator answered at be0dca2 where it was wrong. Every
    defect class of issue 12 has such cases but one: a variable with no value under a
    negated operator or in NotResource was already evaluated as the IAM User Guide
    documents it ("Policy variables with no value": inverted operators "do match
    against a null value"; a NotResource entry with one "will not match any
    resource"), which is not the over-grant the issue assumed; those cases pin it."""
    wrong = collections.Counter(c.get("issue") for c in CASES if "was" in c)
    assert all(c["was"] != c["expect"] for c in CASES if "was" in c)
    assert set(wrong) - {None} == ISSUE_CLASSES - {"unresolved-variable"}, wrong


def test_every_case_is_a_valid_simulation_file_too(tmp_path):
    """The shorthand expands to exactly what `triage iam simulate` reads from a file."""
    import json

    from conftest import run_cli

    for case in CASES[:: max(1, len(CASES) // 12)]:
        path = tmp_path / f"{case['id']}.json"
        path.write_text(json.dumps(simulation_document(case)))
        r = run_cli("iam", "simulate", str(path), "--output", "json")
        assert r.code == (0 if case["expect"] == "allow" else 1), (case["id"], r.err)
        assert json.loads(r.out)["decision"] == case["expect"]
