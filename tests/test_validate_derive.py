"""A user folder is fully validated whatever its name: a folder called
`built-in` is not the shipped playbooks."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
id: demo-derive
title: Demo derive
summary: A small playbook with a derived value.
inputs:
  function:
    required: true
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params:
      FunctionName: ${inputs.function}
derive:
  timeout_s: config.Timeout
checks:
  - id: short-timeout
    severity: low
    when: timeout_s < `10`
    title: Short timeout
    explanation: Timeout is ${timeout_s}
"""


def line(text: str, needle: str) -> int:
    """The 1-based line of the one line holding `needle` (the offending expression)."""
    found = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(found) == 1, (needle, found)
    return found[0]


def no_field(shown: str, call: str, name: str) -> str:
    return f"'{shown}': {call} returns no field '{name}' there"


GFC = "lambda.GetFunctionConfiguration"


# --- a user folder called `built-in` is a user folder ------------------------------------

def _user_folder_named_built_in(tmp_path: Path, monkeypatch, text: str) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TRIAGE_PLAYBOOK_PATH", raising=False)
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "built-in"
    folder.mkdir()
    (folder / "mine-check.yaml").write_text(text.replace("id: demo-derive", "id: mine-check"))
    return folder


def _run_mine(how: str, monkeypatch):
    # a closed port and one attempt: if the playbook ran, it would fail fast with exit 3, not 2
    run = ("mine-check", "--function", "orders-etl", "--endpoint-url", "http://127.0.0.1:9",
           "--max-attempts", "1", "--deadline", "10")
    if how == "env":
        monkeypatch.setenv("TRIAGE_PLAYBOOK_PATH", "built-in")
        return run_cli(*run)
    return run_cli(*run, "--playbooks", "built-in")


@pytest.mark.parametrize("how", ["env", "flag"])
def test_a_user_folder_named_built_in_gets_full_validation(tmp_path, monkeypatch, how):
    bad = BASE.replace("    when: timeout_s < `10`", "    when: config.Timout < `10`")
    _user_folder_named_built_in(tmp_path, monkeypatch, bad)
    r = _run_mine(how, monkeypatch)
    assert "Traceback" not in r.out + r.err
    assert r.code == 2, (r.out, r.err)
    where = Path("built-in") / "mine-check.yaml"
    assert (f"playbook error:\n{where}:{line(bad, 'when:')}: {no_field('config.Timout', GFC, 'Timout')}\n"
            "    did you mean 'Timeout'?\n") in r.err, r.err


@pytest.mark.parametrize("how", ["env", "flag"])
def test_a_user_folder_named_built_in_gets_the_schema_too(tmp_path, monkeypatch, how):
    """Skipping the schema let a broken user playbook reach the builder (an internal error)."""
    bad = BASE.replace("checks:", "chekcs:")
    _user_folder_named_built_in(tmp_path, monkeypatch, bad)
    r = _run_mine(how, monkeypatch)
    assert "internal error" not in r.err and "Traceback" not in r.out + r.err
    assert r.code == 2, (r.out, r.err)
    where = Path("built-in") / "mine-check.yaml"
    assert f"{where}:1: top level: missing required key 'checks'\n    add a `checks:` list\n" in r.err, r.err


def test_built_in_is_decided_by_the_package_location_not_a_name(tmp_path, monkeypatch):
    from triage import catalog

    folder = _user_folder_named_built_in(tmp_path, monkeypatch, BASE)
    entries = catalog.discover(["built-in"])
    mine = entries["mine-check"]
    assert mine.origin == str(folder) and mine.origin != "built-in"   # the label names the real folder
    assert catalog.is_builtin(mine.path) is False
    assert catalog.is_builtin(entries["lambda-timeout"].path) is True
    assert entries["lambda-timeout"].origin == "built-in"
