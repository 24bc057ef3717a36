"""Issue 16, item 4: the rough edges a new user hit on the command line,
each pinned by a test that failed before its fix (the REPL's are in
tests/repl/test_rough_edges.py)."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- a stdout that is not UTF-8 ---------------------------------------------------------

def _triage(*argv: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "triage", *argv], capture_output=True, text=True, timeout=120,
                          env=full, encoding="ascii", errors="strict")


@pytest.mark.parametrize("argv", [["--help"], ["playbooks"], ["lambda-timeout", "--help"], ["validate", "/nonexistent.yaml"]],
                         ids=["help", "playbooks", "playbook-help", "an-error"])
def test_every_output_survives_an_ascii_stdout(argv):
    p = _triage(*argv, PYTHONIOENCODING="ascii")
    assert "internal error" not in p.stderr and "UnicodeEncodeError" not in p.stderr, p.stderr
    assert p.returncode in (0, 2) and p.stdout + p.stderr


def test_a_diagnosis_with_panels_survives_an_ascii_stdout(world):
    p = _triage("lambda-timeout", "--function", "orders-etl", "--endpoint-url", world.url, "--region", "us-east-1",
                PYTHONIOENCODING="ascii")
    assert p.returncode == 1, p.stderr
    assert "[timeout-too-low]" in p.stdout and "internal error" not in p.stderr
    assert "aws lambda update-function-configuration --function-name orders-etl --timeout 10" in p.stdout


def test_the_output_edge_spells_its_own_symbols_in_ascii_and_replaces_the_rest():
    from triage.redact import SafeStream

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    SafeStream(stream).write("a — b … ✓ 東京\n")
    stream.flush()
    assert raw.getvalue() == b"a - b ... ok ??\n"


# --- a mistyped flag ------------------------------------------------------------------

def test_a_mistyped_flag_shows_the_subcommands_usage_and_the_flag_it_meant():
    r = run_cli("lambda-timeout", "--fucntion", "x")
    assert r.code == 2
    assert r.err.startswith("usage: triage lambda-timeout "), r.err
    assert "COMMAND ..." not in r.err                     # not the top level's usage
    assert "triage lambda-timeout: error: unrecognized arguments: --fucntion x" in r.err
    assert "did you mean --function?" in r.err
    r = run_cli("scan", "--concurency=3")
    assert "usage: triage scan " in r.err and "did you mean --concurrency?" in r.err


# --- --region -----------------------------------------------------------------------------

def test_a_region_that_cannot_exist_is_a_usage_error_before_any_call():
    port = _free_port()     # nothing listens: a call would be "AWS unavailable" (exit 3)
    r = run_cli("lambda-timeout", "--function", "x", "--region", "mars-1", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert r.code == 2, r.err
    assert "triage: --region 'mars-1' is not an AWS region name" in r.err
    assert "hint: for example us-east-1 or eu-west-1" in r.err and r.out == ""
    r = run_cli("lambda-timeout", "--function", "x", "--region", "US-EAST-1")
    assert r.code == 2 and "did you mean us-east-1?" in r.err
    r = run_cli("scan", "--regions", "us-east-1,mars-1", "--endpoint-url", f"http://127.0.0.1:{port}")
    assert r.code == 2 and "--regions 'mars-1' is not an AWS region name" in r.err


def test_a_well_formed_region_botocore_does_not_know_is_tried_with_a_warning():
    endpoint = f"http://127.0.0.1:{_free_port()}"   # tried: the calls are made (and find nothing listening)
    r = run_cli("lambda-timeout", "--function", "f", "--endpoint-url", endpoint, "--region", "ap-southeast-9",
                "--max-attempts", "1")
    assert r.code == 3, r.err
    assert r.err.startswith("triage: warning: --region 'ap-southeast-9' is not a region this botocore knows; "
                            "trying it anyway"), r.err
    assert "did you mean" not in r.err                    # a newer region, not a typo of ap-southeast-7
    assert "(region ap-southeast-9)" in r.out
    r = run_cli("lambda-timeout", "--function", "f", "--endpoint-url", endpoint, "--region", "us-esat-1",
                "--max-attempts", "1")
    assert "(did you mean us-east-1?)" in r.err


# --- a playbook id that is a command ------------------------------------------------------

@pytest.mark.parametrize("pid,message", [
    ("scan", "id 'scan' is the name of the command `triage scan`, which would run instead"),
    ("show", "id 'show' is the REPL command `show`, which would run instead inside `triage`"),
])
def test_a_user_playbook_named_like_a_command_is_a_validate_error(tmp_path, pid, message):
    text = (PLAYBOOKS / "lambda-timeout.yaml").read_text().replace("\nid: lambda-timeout\n", f"\nid: {pid}\n", 1)
    assert f"\nid: {pid}\n" in text
    path = tmp_path / f"{pid}.yaml"
    path.write_text(text)
    line = text.splitlines().index(f"id: {pid}") + 1
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    assert f"{path}:{line}: {message}" in r.out
    assert "choose another id (a playbook's id is its command name)" in r.out
    r = run_cli("playbooks", "--playbooks", str(tmp_path), "-o", "json")
    row = next(p for p in json.loads(r.out)["playbooks"] if p["path"] == str(path))
    assert message in row["error"]                       # listed as broken, not silently dropped


def test_the_built_in_playbook_a_command_runs_keeps_its_id():
    assert run_cli("validate", str(PLAYBOOKS / "network-path.yaml")).code == 0


# --- the README -------------------------------------------------------------------------------

def test_the_readme_points_only_at_files_in_the_repository():
    text = (ROOT / "README.md").read_text()
    assert "../" not in re.sub(r"\$schema=\.\./", "", text)   # the editor line's schema path is relative to playbooks/
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not re.match(r"[a-z]+:", target):
            assert (ROOT / target).exists(), target
    assert "triage/demo/scenarios/" in text and (ROOT / "triage" / "demo" / "scenarios").is_dir()


# --- finding ids in panels ------------------------------------------------------------------

def test_a_finding_id_is_never_cut_from_its_panel_at_80_columns():
    from triage.render.text import render_text

    finding = {"check": "event-source-mapping-unhealthy", "severity": "high",
               "title": "ledger-projector reads from a DynamoDB stream of a table that was deleted and recreated",
               "explanation": "x", "evidence": {}, "fix": {"text": "", "commands": []}}
    out = io.StringIO()
    render_text({"playbook": "lambda-not-found", "inputs": {}, "findings": [finding], "unchecked": [], "calls": []},
                out, color=False, width=80)
    assert "[event-source-mapping-unhealthy]" in out.getvalue(), out.getvalue()
    assert max(len(line) for line in out.getvalue().splitlines()) <= 80


# --- `triage run FILE` says how to run it again --------------------------------------------------

def test_the_run_header_is_the_command_that_runs_the_file_again(tmp_path, world):
    book = tmp_path / "my check.yaml"
    book.write_text((PLAYBOOKS / "lambda-timeout.yaml").read_text().replace("\nid: lambda-timeout\n", "\nid: my-check\n"))
    r = run_cli("run", str(book), "--input", "function=orders-etl", "--endpoint-url", world.url, "--region", "us-east-1")
    assert r.code == 1, r.err
    header = r.out.splitlines()[0]
    assert header.startswith(f"triage run '{book}' --input function=orders-etl --input since=24h  (region us-east-1"), header
    assert "triage my-check" not in r.out
    r = run_cli("run", str(book), "--input", "function=orders-etl", "--endpoint-url", world.url, "--region", "us-east-1",
                "-o", "json")
    assert json.loads(r.out)["file"] == str(book)
    r = run_cli("lambda-timeout", "--function", "orders-etl", "--endpoint-url", world.url, "--region", "us-east-1")
    assert r.out.startswith("triage lambda-timeout --function orders-etl --since 24h")


# --- "AWS unavailable", once per stream ------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_aws_unavailable_is_said_once_on_a_terminal_and_once_per_stream_otherwise():
    from triage.cli import Env, main

    argv = ["lambda-timeout", "--function", "x", "--region", "us-east-1", "--no-color", "--max-attempts", "1",
            "--endpoint-url", f"http://127.0.0.1:{_free_port()}"]
    out, err = _Terminal(), _Terminal()
    assert main(argv, Env(stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=True)) == 3
    screen = out.getvalue() + err.getvalue()
    assert screen.count("Not checked: AWS was unavailable (AWS endpoint unreachable") == 1, screen
    assert "AWS unavailable" not in screen, screen     # it was in stdout's last line and on stderr too
    # nor again, word for word, in the "Recent changes" section (it said "not checked: AWS was unavailable (AWS endpoint …)")
    assert screen.lower().count("aws was unavailable (aws endpoint unreachable") == 1, screen
    assert "not checked: AWS was unavailable (see above)" in screen, screen
    assert err.getvalue().startswith("triage: hint: check credentials")
    # stdout to a file or a pipe: stdout says it once, and so does stderr
    r = run_cli(*argv)
    assert r.code == 3
    assert r.out.count("Not checked: AWS was unavailable (AWS endpoint unreachable") == 1
    assert "AWS unavailable" not in r.out
    assert r.err.count("AWS unavailable") == 1 and r.err.startswith("triage: AWS unavailable: AWS endpoint unreachable")


# --- scan's table and COLUMNS ----------------------------------------------------------------------

def test_the_scan_table_fits_COLUMNS(monkeypatch):
    from triage.commands.scan import render_text

    row = {"severity": "high", "check": "unbounded-lambda-concurrency", "playbook": "rds-connections",
           "resource": "orders-db-with-a-long-identifier", "regions": ["us-east-1", "eu-west-1"],
           "title": "orders-api can open more connections than orders-db allows (no reserved concurrency, no proxy)"}
    data = {"scan": {"runs": 1, "playbooks": ["rds-connections"], "regions": ["us-east-1"], "seconds": 1.0,
                     "calls": {"total": 3, "cached": 0, "failed": 0}},
            "summary": {"rows": [row], "findings": 1}, "outcome": "findings", "not_checked": [], "diagnoses": []}
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    render_text(data, out, color=False)
    assert max(len(line) for line in out.getvalue().splitlines()) <= 100, out.getvalue()
    monkeypatch.delenv("COLUMNS")
    out = io.StringIO()
    render_text(data, out, color=False)                   # a pipe without COLUMNS: rows stay on one line
    assert any(len(line) > 100 for line in out.getvalue().splitlines())


def test_the_scan_table_keeps_its_titles_at_80_columns(monkeypatch):
    """At 80 columns the no-wrap columns took every cell and the title column got
    none: each row's title was gone. Narrow tables put it under the finding id."""
    from triage.commands.scan import render_text

    rows = [{"severity": "medium", "check": "event-source-mapping-unhealthy", "playbook": "lambda-not-found",
             "resource": "payments-listener", "regions": ["us-east-1"],
             "title": "Event source mapping of payments-listener is disabled"},
            {"severity": "critical", "check": "root-access-keys", "playbook": "account-posture",
             "resource": None, "regions": ["us-east-1"], "title": "The root user has access keys"}]
    data = {"scan": {"runs": 2, "playbooks": ["lambda-not-found", "account-posture"], "regions": ["us-east-1"],
                     "seconds": 1.0, "calls": {"total": 3, "cached": 0, "failed": 0}},
            "summary": {"rows": rows, "findings": 2}, "outcome": "findings", "not_checked": [], "diagnoses": []}
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    render_text(data, out, color=False)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "The root user has access keys" in text, text
    assert "Event source mapping of" in text and "is disabled" in text, text
    assert "event-source-mapping-unhealthy" in text and "payments-listener" in text, text
