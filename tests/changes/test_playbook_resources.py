"""A playbook's `resources:` section: which inputs and step results are its
resources of interest, as data, validated like the rest (file:line), so a
user's playbook gets a change timeline too."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from triage import catalog, playbook

HEAD = """id: my-fn-check
title: My function check
summary: A user's playbook.
inputs:
  function: {type: string, required: true}
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params: {FunctionName: "${inputs.function}"}
derive:
  short: config.Timeout < `5`
checks:
  - id: short-timeout
    severity: low
    when: short
    title: short timeout
    explanation: ${config.Timeout} s
"""


def write(tmp_path, resources: str):
    path = tmp_path / "my-fn-check.yaml"
    path.write_text(HEAD + resources)
    return path


def test_a_user_playbook_gets_a_change_timeline_linked_to_its_finding(tmp_path, world):
    path = write(tmp_path, """resources:
  - type: lambda-function
    name: ${config.FunctionArn}
    explains:
      - {check: short-timeout, fields: [Timeout]}
  - {type: iam-role, name: "${config.Role}"}
""")
    pb = playbook.load(path)
    assert [(r.type, r.needs, r.reads_derived) for r in pb.resources] == [
        ("lambda-function", frozenset({"config"}), False), ("iam-role", frozenset({"config"}), False)]
    r = run_cli("run", str(path), "--input", "function=billing-export", "--output", "json", endpoint=world.url)
    assert r.code == 1, r.err
    data = json.loads(r.out)
    assert data["change_search"]["resources"] == [
        "arn:aws:lambda:us-east-1:123456789012:function:billing-export",
        "arn:aws:iam::123456789012:role/billing-export-role"]
    [linked] = [c for c in data["changes"] if c["explains"]]
    assert linked["explains"] == ["short-timeout"] and linked["detail"] == "Timeout 30 → 3"
    # no onset declared: the latest change to Timeout, said as such
    assert linked["explanation"].startswith("short-timeout may be explained by UpdateFunctionConfiguration")


def test_a_playbook_without_resources_says_so(tmp_path, world):
    path = write(tmp_path, "")
    data = json.loads(run_cli("run", str(path), "--input", "function=billing-export", "--output", "json",
                              endpoint=world.url).out)
    assert data["changes"] is None
    assert data["change_search"]["reason"] == "not checked: the playbook declares no resources (add a `resources:` section)"


@pytest.mark.parametrize("resources,line,message", [
    ("resources:\n  - {type: lambda-function, name: '${inputs.function}', explains: [short-timout]}\n", 19,
     "'short-timout' is not a check of this playbook"),
    ("resources:\n  - {type: lambda-fn, name: '${inputs.function}'}\n", 19, "resources.0.type is 'lambda-fn'"),
    ("resources:\n  - {type: iam-role, name: '${conifg.Role}'}\n", 19, "'conifg' is not a step or a context name"),
    ("resources:\n  - {type: iam-role, name: '${item}'}\n", 19, "`item` is not defined in a resource"),
    ("resources:\n  - type: iam-role\n    name: x\n    explains:\n      - {check: short-timeout, onset: 'min(('}\n", 22,
     "min(("),
    ("resources:\n  - {type: iam-role, name: x, when: y}\n", 19, "unknown key 'when'"),
])
def test_mistakes_are_validate_errors_at_their_line(tmp_path, resources, line, message):
    path = write(tmp_path, resources)
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    assert f"{path}:{line}: " in r.out and message in r.out, r.out


def test_a_derived_value_is_resolved_after_the_run():
    pb = catalog.load(catalog.discover()["account-posture"])
    kinds = {r.type: r.reads_derived for r in pb.resources}
    assert kinds == {"cloudtrail-trail": False, "s3-bucket": True, "rds-instance": True}


def test_every_shipped_playbook_declares_its_resources():
    for entry in catalog.discover().values():
        if catalog.is_builtin(entry.path):
            pb = catalog.load(entry)
            assert pb.resources, entry.id
            checks = {c.id for c in pb.checks}
            assert all(ex.check in checks for r in pb.resources for ex in r.explains)
