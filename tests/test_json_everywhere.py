"""`--output json` everywhere (issue 10): `playbooks`, `validate`, `test`,
`demo` and `record` print exactly one JSON document on stdout (one
json.loads of the whole of it), with the same exit status as in text mode,
and a broken playbook or case file is listed in the document, not a traceback."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from triage import casefile

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
SHIPPED_IDS = sorted(p.stem for p in PLAYBOOKS.glob("*.yaml"))

PROBLEM_KEYS = {"file", "line", "message", "hint"}
DIAGNOSIS_KEYS = {"playbook", "title", "region", "inputs", "findings", "unchecked", "checks", "calls"}



def _doc(r) -> dict:
    """The whole of stdout is one JSON document (json.loads raises on a second one)."""
    assert r.out.strip(), f"nothing on stdout; stderr: {r.err}"
    data = json.loads(r.out)
    assert isinstance(data, dict)
    assert "Traceback" not in r.out + r.err
    return data


@pytest.fixture
def no_user_playbooks(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TRIAGE_PLAYBOOK_PATH", raising=False)


def _copy_lambda_timeout(folder: Path) -> tuple[Path, Path]:
    (folder / "tests").mkdir(parents=True, exist_ok=True)
    book = folder / "lambda-timeout.yaml"
    cases = folder / "tests" / "lambda-timeout.cases.yaml"
    shutil.copy(PLAYBOOKS / "lambda-timeout.yaml", book)
    shutil.copy(PLAYBOOKS / "tests" / "lambda-timeout.cases.yaml", cases)
    return book, cases


# --- playbooks ---------------------------------------------------------------

def test_playbooks_json_lists_every_playbook(no_user_playbooks):
    r = run_cli("playbooks", "--output", "json")
    assert r.code == 0, r.err
    data = _doc(r)
    assert set(data) == {"validated", "broken", "playbooks"}
    assert data["validated"] is False and data["broken"] == 0
    assert [p["id"] for p in data["playbooks"]] == SHIPPED_IDS
    lt = next(p for p in data["playbooks"] if p["id"] == "lambda-timeout")
    assert set(lt) == {"id", "title", "summary", "origin", "path", "overrides", "inputs", "error", "problems"}
    assert lt["origin"] == "built-in" and lt["overrides"] is None and lt["error"] is None and lt["problems"] == []
    assert Path(lt["path"]).resolve() == (PLAYBOOKS / "lambda-timeout.yaml").resolve()
    assert {"name": "function", "flag": "--function", "required": True} in lt["inputs"]
    assert {"name": "since", "flag": "--since", "required": False} in lt["inputs"]


def test_playbooks_validate_json_lists_the_broken_ones_and_exits_2(no_user_playbooks, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    book, _ = _copy_lambda_timeout(tmp_path / "src")
    text = book.read_text()
    (folder / "fine-check.yaml").write_text(text.replace("id: lambda-timeout", "id: fine-check"))
    assert "config.Timeout" in text
    (folder / "typo-check.yaml").write_text(text.replace("id: lambda-timeout", "id: typo-check")
                                            .replace("config.Timeout", "config.Timout", 1))
    (folder / "garbage.yaml").write_text("id: [unclosed\n")

    r = run_cli("playbooks", "-o", "json", "--playbooks", str(folder))
    assert r.code == 0
    data = _doc(r)
    rows = {p["id"]: p for p in data["playbooks"]}
    assert data["validated"] is False and data["broken"] == 1
    assert rows["garbage"]["error"] and rows["garbage"]["problems"] == []      # the header can't be read
    assert rows["typo-check"]["error"] is None                                 # only --validate looks deeper

    r = run_cli("playbooks", "-o", "json", "--validate", "--playbooks", str(folder))
    assert r.code == 2
    data = _doc(r)
    rows = {p["id"]: p for p in data["playbooks"]}
    assert data["validated"] is True and data["broken"] == 2
    typo = rows["typo-check"]
    assert typo["origin"] == str(folder) and typo["overrides"] is None
    assert "returns no field 'Timout'" in typo["error"]
    assert typo["problems"] and all(set(p) == PROBLEM_KEYS for p in typo["problems"])
    first = typo["problems"][0]
    assert first["file"] == str(folder / "typo-check.yaml") and isinstance(first["line"], int)
    assert "Timout" in first["message"] and "Timeout" in first["hint"]
    assert rows["fine-check"]["error"] is None and rows["fine-check"]["problems"] == []
    assert rows["lambda-timeout"]["error"] is None                              # the built-ins validate too


# --- validate ---------------------------------------------------------------

def test_validate_json_one_document_for_all_files(tmp_path):
    good, _ = _copy_lambda_timeout(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("id: lambda-timeout", "id: bad")
                   .replace("lambda.GetFunctionConfiguration", "lambda.GetFunctionConfig"))

    r = run_cli("validate", "-o", "json", str(good), str(bad))
    assert r.code == 2
    data = _doc(r)
    assert set(data) == {"valid", "files"}
    assert data["valid"] is False
    ok, broken = data["files"]
    assert ok == {"file": str(good), "ok": True, "id": "lambda-timeout", "steps": 16, "checks": 10, "depth": 5,
                  "problems": []}
    assert broken["file"] == str(bad) and broken["ok"] is False and broken["id"] is None
    assert broken["problems"] and all(set(p) == PROBLEM_KEYS for p in broken["problems"])
    op = next(p for p in broken["problems"] if "'GetFunctionConfig' is not an operation of lambda" in p["message"])
    assert op["file"] == str(bad) and isinstance(op["line"], int)
    assert op["hint"] == "did you mean lambda.GetFunctionConfiguration?"

    r = run_cli("validate", "--output=json", str(good))
    assert r.code == 0
    assert _doc(r) == {"valid": True, "files": [ok]}


def test_validate_json_an_unreadable_file_is_a_problem_not_a_traceback(tmp_path):
    missing = tmp_path / "nope.yaml"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00id: x\n")
    r = run_cli("validate", "-o", "json", str(missing), str(binary))
    assert r.code == 2
    data = _doc(r)
    assert data["valid"] is False
    assert [f["file"] for f in data["files"]] == [str(missing), str(binary)]
    assert [f["ok"] for f in data["files"]] == [False, False]
    assert data["files"][0]["problems"][0]["message"].startswith("cannot read playbook")
    assert data["files"][1]["problems"][0]["message"] == "playbook is not UTF-8 text"


# --- test ------------------------------------------------------------------

CASE_KEYS = {"playbook", "file", "line", "case", "ok", "ms", "expected", "got", "diff", "problems"}


def test_test_json_reports_every_case():
    r = run_cli("test", "-o", "json", str(PLAYBOOKS / "lambda-timeout.yaml"), "-k", "orders-etl")
    assert r.code == 0, r.out
    data = _doc(r)
    assert set(data) == {"passed", "failed", "errors", "seconds", "cases"}
    assert data["passed"] == 1 and data["failed"] == 0 and data["errors"] == []
    (case,) = data["cases"]
    assert set(case) == CASE_KEYS
    assert case["case"] == "orders-etl-timeout-too-low" and case["ok"] is True and case["problems"] == []
    assert case["playbook"] == "lambda-timeout"
    assert case["file"] == str(PLAYBOOKS / "tests" / "lambda-timeout.cases.yaml") and isinstance(case["line"], int)
    assert case["expected"] == case["got"] == {"findings": ["timeout-too-low"], "unchecked": []}
    assert case["diff"] == {"findings": {"missing": [], "unexpected": []},
                            "unchecked": {"missing": [], "unexpected": []}}


def test_test_json_a_failing_case_has_its_diff_and_exits_1(tmp_path):
    book, cases = _copy_lambda_timeout(tmp_path)
    data = yaml.safe_load(cases.read_text())
    case = next(c for c in data["cases"] if c["name"] == "orders-etl-timeout-too-low")
    case["expect"]["findings"] = ["at-hard-limit"]
    case["expect"].pop("evidence", None)
    cases.write_text(yaml.safe_dump(data, sort_keys=False))

    r = run_cli("test", "-o", "json", str(book), "-k", "orders-etl")
    assert r.code == 1, r.out
    data = _doc(r)
    assert data["passed"] == 0 and data["failed"] == 1 and data["errors"] == []
    (case,) = data["cases"]
    assert case["case"] == "orders-etl-timeout-too-low" and case["ok"] is False
    assert case["expected"]["findings"] == ["at-hard-limit"] and case["got"]["findings"] == ["timeout-too-low"]
    assert case["diff"]["findings"] == {"missing": ["at-hard-limit"], "unexpected": ["timeout-too-low"]}
    assert case["problems"][0].startswith("findings differ:")


def test_test_json_broken_files_and_missing_cases_are_in_the_document(tmp_path):
    book, cases = _copy_lambda_timeout(tmp_path / "a")
    cases.write_text("playbook: lambda-timeout\ncases:\n  - name: one\n    expcet: {findings: []}\n")
    broken = tmp_path / "b" / "broken.yaml"
    broken.parent.mkdir()
    broken.write_text("id: broken\ntitle: x\n")
    lonely = tmp_path / "c" / "lambda-timeout.yaml"
    lonely.parent.mkdir()
    shutil.copy(PLAYBOOKS / "lambda-timeout.yaml", lonely)

    r = run_cli("test", "-o", "json", str(book), str(broken), str(lonely))
    assert r.code == 2, r.out                                   # errors win, as in text mode
    data = _doc(r)
    assert data["passed"] == 0 and data["failed"] == 1
    bad_cases, bad_book = data["errors"]
    assert set(bad_cases) == {"target", "file", "message", "problems"}
    assert bad_cases["file"] == str(cases) and bad_cases["message"] == f"{cases}: not a valid case file"
    p = next(p for p in bad_cases["problems"] if "unknown key 'expcet'" in p["message"])
    assert p == {"file": str(cases), "line": 4, "message": p["message"], "hint": "did you mean 'expect'?"}
    assert bad_book["target"] == str(broken) and bad_book["message"].endswith("the playbook does not validate")
    assert bad_book["problems"] and all(q["file"] == str(broken) for q in bad_book["problems"])
    (missing,) = data["cases"]
    assert missing["case"] is None and missing["ok"] is False and missing["playbook"] == "lambda-timeout"
    assert missing["problems"][0].startswith(
        f"no test cases (expected {tmp_path / 'c' / 'tests' / 'lambda-timeout.cases.yaml'})")


# --- demo and record -------------------------------------------------------------

def test_demo_json_is_one_document_of_diagnoses():
    # its own process: moto's backends are global to a process (the shared world lives in this one)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    p = subprocess.run([sys.executable, "-m", "triage", "demo", "--scenario", "lambda-timeout", "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert set(data) == {"demo", "fix_proofs", "mismatches", "seconds"}
    assert data["mismatches"] == []
    for d in data["demo"]:
        assert DIAGNOSIS_KEYS <= set(d) and d["playbook"] == "lambda-timeout"     # Diagnosis.to_dict()
    by_function = {d["inputs"]["function"]: sorted(f["check"] for f in d["findings"]) for d in data["demo"]}
    assert by_function == {"migrate-db": ["at-hard-limit"], "orders-etl": ["timeout-too-low"],
                           "report-builder": ["duration-near-timeout"],
                           "payments-sync": ["timeout-too-low", "vpc-without-nat"], "thumbnailer": []}
    assert "Embedded moto server" in p.stderr                  # human notes stay on stderr


def test_record_json_is_one_document(tmp_path, world):
    out = tmp_path / "cases.yaml"
    r = run_cli("record", "lambda-timeout", "--input", "function=orders-etl", "--out", str(out), "-o", "json",
                endpoint=world.url)
    assert r.code == 0, r.err
    assert _doc(r) == {"action": "added", "case": "orders-etl-timeout-too-low", "file": str(out),
                       "playbook": "lambda-timeout", "calls": 5, "findings": ["timeout-too-low"], "unchecked": []}
