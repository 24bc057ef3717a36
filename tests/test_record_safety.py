"""`triage record` never overwrites shipped cases (issue 10): without --out a
built-in playbook's case goes to the user's playbook folder or is refused,
and an existing case is only replaced with --replace."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from triage import casefile

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
SHIPPED = PLAYBOOKS / "tests"


@pytest.fixture
def shipped():
    """The shipped case files, byte for byte; restored if a test changed them,
    so a regression cannot leave the checkout modified."""
    before = {p: p.read_bytes() for p in sorted(SHIPPED.glob("*.cases.yaml"))}
    assert before, "no shipped case files found"
    yield before
    after = {p: p.read_bytes() for p in sorted(SHIPPED.glob("*.cases.yaml"))}
    for path, data in before.items():
        if after.get(path) != data:
            path.write_bytes(data)
    for path in set(after) - set(before):
        path.unlink()


def _unchanged(shipped: dict) -> None:
    now = {p: p.read_bytes() for p in sorted(SHIPPED.glob("*.cases.yaml"))}
    assert list(now) == list(shipped), "a case file was added to or removed from playbooks/tests/"
    changed = [p.name for p, data in shipped.items() if now[p] != data]
    assert not changed, f"shipped case files were modified: {changed}"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """HOME and XDG_CONFIG_HOME in tmp_path; the user playbook folder is NOT created."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TRIAGE_PLAYBOOK_PATH", raising=False)
    (tmp_path / "home").mkdir()
    return tmp_path / "xdg" / "triage" / "playbooks"


def test_record_a_builtin_playbook_without_a_user_folder_is_refused(home, shipped, world, tmp_path):
    r = run_cli("record", "lambda-timeout", "--input", "function=orders-etl", endpoint=world.url)
    assert r.code == 2, r.out + r.err
    assert r.out == ""
    assert "triage: lambda-timeout is a built-in playbook" in r.err
    assert f"no user playbook folder ({home})" in r.err
    assert "hint: pass --out FILE (e.g. --out ./tests/lambda-timeout.cases.yaml)" in r.err
    assert not (tmp_path / "xdg").exists()
    _unchanged(shipped)


def test_record_a_builtin_playbook_goes_to_the_user_folder(home, shipped, world):
    home.mkdir(parents=True)
    r = run_cli("record", "lambda-timeout", "--input", "function=orders-etl", endpoint=world.url)
    target = home / "tests" / "lambda-timeout.cases.yaml"
    assert r.code == 0, r.err
    assert r.out == (f"added case 'orders-etl-timeout-too-low' to {target}: 5 calls, "
                     "findings [timeout-too-low], unchecked []\n")
    assert f"Replay yours with: triage test {target}" in r.err
    assert [c.name for c in casefile.load(target).cases] == ["orders-etl-timeout-too-low"]
    _unchanged(shipped)
    # the recorded case replays against the built-in playbook
    t = run_cli("test", str(target))
    assert t.code == 0 and "1 passed, 0 failed" in t.out, t.out


def test_record_a_shipped_playbook_file_never_writes_beside_it(home, shipped, world):
    r = run_cli("record", str(PLAYBOOKS / "lambda-timeout.yaml"), "--input", "function=thumbnailer",
                "--name", "healthy", endpoint=world.url)
    assert r.code == 2, r.out + r.err
    assert "is a built-in playbook" in r.err and "--out FILE" in r.err
    _unchanged(shipped)
    home.mkdir(parents=True)
    r = run_cli("record", str(PLAYBOOKS / "lambda-timeout.yaml"), "--input", "function=thumbnailer",
                "--name", "healthy", endpoint=world.url)
    assert r.code == 0, r.err
    assert r.out.startswith(f"added case 'healthy' to {home / 'tests' / 'lambda-timeout.cases.yaml'}: ")
    _unchanged(shipped)


def test_record_never_replaces_an_existing_case_unless_told(home, shipped, world, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    book = mine / "lambda-timeout.yaml"
    shutil.copy(PLAYBOOKS / "lambda-timeout.yaml", book)
    cases = mine / "tests" / "lambda-timeout.cases.yaml"

    r = run_cli("record", str(book), "--input", "function=orders-etl", endpoint=world.url)
    assert r.code == 0, r.err
    assert r.out.startswith(f"added case 'orders-etl-timeout-too-low' to {cases}: ")   # beside the user's playbook
    before = cases.read_bytes()

    # the same (default) name again: refused, the file untouched
    r = run_cli("record", str(book), "--input", "function=orders-etl", endpoint=world.url)
    assert r.code == 2, r.out + r.err
    assert r.out == ""
    assert f"triage: case 'orders-etl-timeout-too-low' already exists in {cases}; not replaced" in r.err
    assert "hint: pass --replace to overwrite it, or --name NEW to record it under another name" in r.err
    assert cases.read_bytes() == before

    # with --name of an existing case the refusal comes before any AWS call (a dead endpoint is never asked)
    r = run_cli("record", str(book), "--input", "function=orders-etl", "--name", "orders-etl-timeout-too-low",
                "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1", "--max-attempts", "1")
    assert r.code == 2 and "already exists" in r.err, r.err
    assert cases.read_bytes() == before

    # another name is added; --replace replaces
    r = run_cli("record", str(book), "--input", "function=thumbnailer", "--name", "healthy", endpoint=world.url)
    assert r.code == 0 and r.out.startswith("added case 'healthy'"), r.err
    r = run_cli("record", str(book), "--input", "function=orders-etl", "--replace", endpoint=world.url)
    assert r.code == 0, r.err
    assert r.out.startswith(f"replaced case 'orders-etl-timeout-too-low' to {cases}: ")
    assert sorted(c.name for c in casefile.load(cases).cases) == ["healthy", "orders-etl-timeout-too-low"]
    _unchanged(shipped)
