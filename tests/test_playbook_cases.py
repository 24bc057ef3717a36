"""`triage test` and `triage record`: every shipped playbook has recorded
cases that replay offline through the real engine; a broken expectation
fails with a readable diff; recording against the moto world writes a
redacted case that replays green."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from triage import casefile, catalog
from triage.demo.scenarios.lambda_timeout import SEEDED_SECRET
from triage.testing.proxy import FaultProxy, access_denied

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOKS = ROOT / "playbooks"
LAMBDA_CASES = PLAYBOOKS / "tests" / "lambda-timeout.cases.yaml"


def shipped() -> list[str]:
    return sorted(catalog.discover())


def test_every_shipped_playbook_passes_its_cases():
    r = run_cli("test", str(PLAYBOOKS))
    assert r.code == 0, r.out + r.err
    assert " 0 failed" in r.out and "ERROR" not in r.out
    for pid in shipped():
        assert f"{pid}  (" in r.out, f"{pid} was not tested:\n{r.out}"


# Findings (and "healthy") that the seeded moto world cannot produce yet, so
# no recorded case shows them. Remove an entry when a case covers it: the
# test fails on a stale entry too, so this list only shrinks.
COVERAGE_GAPS = {
    "account-posture": {"healthy"},   # account-wide: the shared world always has the seeded issues
    "access-denied": {"healthy"},     # never healthy by design: a request was denied, so "every policy allows it" is not-explained
}


@pytest.mark.parametrize("pid", shipped())
def test_every_shipped_playbook_has_cases_for_each_finding_a_healthy_twin_and_a_denied_call(pid):
    path = casefile.cases_path(PLAYBOOKS / f"{pid}.yaml", pid)
    assert path.exists(), f"{pid} has no test cases: record them into {path} (triage record {pid} --input ...)"
    cases = casefile.load(path).cases
    from triage import playbook
    check_ids = {c.id for c in playbook.load(PLAYBOOKS / f"{pid}.yaml").checks}
    covered = {f for c in cases for f in c.findings}
    if any(not c.findings and not c.unchecked for c in cases):
        covered.add("healthy")
    missing = (check_ids | {"healthy"}) - covered
    assert missing == COVERAGE_GAPS.get(pid, set()), f"{pid}: no case shows {sorted(missing)}"
    denied = [c for c in cases if any(call.error and casefile.classify(call.error["code"]) == "denied" for call in c.calls)]
    assert any(c.unchecked for c in denied), "no case where a denied call leaves checks unchecked"


def test_lambda_timeout_cases_match_the_seeded_scenarios(world):
    recorded = {c.inputs["function"]: c for c in casefile.load(LAMBDA_CASES).cases
                if not any(call.error and casefile.classify(call.error["code"]) == "denied"
                           for call in c.calls)}   # the denied-call case has its own test
    for scenario in (c for c in world.cases if c.playbook == "lambda-timeout"):
        case = recorded[scenario.inputs["function"]]
        assert sorted(case.findings) == sorted(scenario.expect), case.name
    evidence = recorded["orders-etl"].evidence["timeout-too-low"]
    assert evidence["timeout_s"] == 3 and evidence["suggested_timeout_s"] == 10


def test_cases_hold_no_secrets():
    text = "".join(p.read_text() for p in (PLAYBOOKS / "tests").glob("*.cases.yaml"))
    assert SEEDED_SECRET not in text and "sk_live_51Hdemo" not in text
    assert "DB_PASSWORD: '***'" in text            # the environment is there, its values are not


def _copy_lambda_timeout(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "tests").mkdir()
    book = tmp_path / "lambda-timeout.yaml"
    shutil.copy(PLAYBOOKS / "lambda-timeout.yaml", book)
    cases = tmp_path / "tests" / "lambda-timeout.cases.yaml"
    shutil.copy(LAMBDA_CASES, cases)
    return book, cases


def test_a_broken_expectation_fails_with_a_readable_diff(tmp_path):
    book, cases = _copy_lambda_timeout(tmp_path)
    data = yaml.safe_load(cases.read_text())
    case = next(c for c in data["cases"] if c["name"] == "orders-etl-timeout-too-low")
    case["expect"]["findings"] = ["duration-near-timeout"]
    case["expect"]["evidence"] = {"duration-near-timeout": {"timeout_s": 5}}
    healthy = next(c for c in data["cases"] if c["name"] == "thumbnailer-healthy")
    healthy["expect"]["findings"] = ["timeout-too-low"]
    healthy["expect"]["evidence"] = {"timeout-too-low": {"suggested_timeout_s": 15}}
    cases.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli("test", str(tmp_path))
    assert r.code == 1, r.out
    assert "FAIL  orders-etl-timeout-too-low  (" in r.out and "FAIL  thumbnailer-healthy  (" in r.out
    assert "- duration-near-timeout   (expected, not produced)" in r.out
    assert "+ timeout-too-low   (produced, not expected)" in r.out
    assert "expected [duration-near-timeout], got [timeout-too-low]" in r.out
    assert "ok    migrate-db-at-hard-limit" in r.out
    assert f"{len(data['cases']) - 2} passed, 2 failed" in r.out
    # evidence differences: expected value, then the value the replay produced
    r2_case = next(c for c in data["cases"] if c["name"] == "orders-etl-timeout-too-low")
    r2_case["expect"] = {"findings": ["timeout-too-low"], "evidence": {"timeout-too-low": {
        "suggested_timeout_s": 15, "observed_durations_ms": [1200.0, 2100.0], "no_such_value": 1}}}
    cases.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli("test", str(cases), "-k", "orders-etl")
    assert r.code == 1
    assert "evidence timeout-too-low.suggested_timeout_s differs:\n            - 15\n            + 10" in r.out
    assert "evidence timeout-too-low.observed_durations_ms differs:" in r.out
    assert "+  2900.0," in r.out            # a unified diff of the list
    assert "evidence timeout-too-low.no_such_value differs:" in r.out and "(no such evidence value)" in r.out
    assert "1 failed" in r.out and "thumbnailer" not in r.out


def test_a_changed_call_is_an_unrecorded_call_with_the_parameter_that_differs(tmp_path):
    book, cases = _copy_lambda_timeout(tmp_path)
    book.write_text(book.read_text().replace("""filterPattern: '"Task timed out"'""", """filterPattern: '"timed out"'"""))
    r = run_cli("test", str(book), "-k", "orders-etl")
    assert r.code == 1
    assert "unrecorded call: step 'timeouts': logs.FilterLogEvents" in r.out
    assert 'filterPattern: recorded "\\"Task timed out\\"", sent "\\"timed out\\""' in r.out
    # the checks that need the unrecorded call are unchecked, and that is a difference too
    assert "unchecked differ:" in r.out and "+ timeout-too-low" in r.out


def test_the_clock_is_frozen_to_the_recording_time(tmp_path):
    book, cases = _copy_lambda_timeout(tmp_path)
    data = yaml.safe_load(cases.read_text())
    data["cases"] = [c for c in data["cases"] if c["name"] == "migrate-db-at-hard-limit"]
    recorded = data["cases"][0]["recorded_at"]
    cases.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_cli("test", str(book)).code == 0
    # an hour later, ago_ms(inputs.since) asks for another window: the replay notices
    from datetime import datetime, timedelta
    later = datetime.fromisoformat(recorded.replace("Z", "+00:00")) + timedelta(hours=1)
    data["cases"][0]["recorded_at"] = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    cases.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli("test", str(book))
    assert r.code == 1 and "startTime: recorded 1" in r.out
    from triage import expr
    assert expr._frozen_now is None        # restored after the replay


def test_replay_is_offline_and_never_imports_boto3():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    code = ("import sys; from triage.cli import main; rc = main(['test', sys.argv[1]]); "
            "print('BOTO3' if 'boto3' in sys.modules else 'NO-BOTO3', 'MOTO' if 'moto' in sys.modules else 'NO-MOTO'); "
            "sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, str(PLAYBOOKS / "lambda-timeout.yaml")], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "NO-BOTO3 NO-MOTO" in p.stdout


def test_record_against_the_world_writes_a_redacted_case_that_replays_green(tmp_path, world):
    out = tmp_path / "tests" / "lambda-timeout.cases.yaml"
    r = run_cli("record", "lambda-timeout", "--input", "function=orders-etl", "--out", str(out), endpoint=world.url)
    assert r.code == 0, r.err
    assert f"added case 'orders-etl-timeout-too-low' to {out}: 5 calls, findings [timeout-too-low]" in r.out
    text = out.read_text()
    assert SEEDED_SECRET not in text and "DB_PASSWORD: REDACTED" in text
    case = casefile.load(out).cases[0]
    assert case.findings == ["timeout-too-low"] and case.unchecked == []
    assert [c.name for c in case.calls] == ["lambda.GetFunctionConfiguration", "logs.FilterLogEvents",
                                            "logs.FilterLogEvents", "cloudwatch.GetMetricStatistics",
                                            "cloudwatch.DescribeAlarmsForMetric"]
    assert case.calls[-1].response == {"MetricAlarms": []}
    assert case.evidence["timeout-too-low"]["suggested_timeout_s"] == 10
    # a second recording with another name appends, the same name replaces only with --replace
    r = run_cli("record", "lambda-timeout", "--input", "function=thumbnailer", "--name", "healthy",
                "--out", str(out), endpoint=world.url)
    assert r.code == 0 and "findings []" in r.out
    r = run_cli("record", "lambda-timeout", "--input", "function=thumbnailer", "--name", "healthy",
                "--out", str(out), "--replace", endpoint=world.url)
    assert r.out.startswith("replaced case 'healthy'")
    assert [c.name for c in casefile.load(out).cases] == ["orders-etl-timeout-too-low", "healthy"]
    assert out.read_text().startswith("# Test cases for the lambda-timeout playbook")
    r = run_cli("test", str(out))
    assert r.code == 0 and "2 passed, 0 failed" in r.out, r.out


def test_record_a_denied_call_and_replay_it_as_unchecked(tmp_path, world):
    out = tmp_path / "cases.yaml"
    with FaultProxy(world.url) as proxy:
        proxy.add_fault("GetFunctionConfiguration", access_denied())
        r = run_cli("record", "lambda-timeout", "--input", "function=orders-etl", "--name", "denied",
                    "--out", str(out), endpoint=proxy.url)
    assert r.code == 0, r.err
    case = casefile.load(out).cases[0]
    denied = [c for c in case.calls if c.error]
    assert [(c.name, c.error["code"]) for c in denied] == [("lambda.GetFunctionConfiguration", "AccessDeniedException")]
    assert sorted(case.unchecked) == ["at-hard-limit", "db-not-found", "duration-near-timeout", "nacl-inbound-blocks",
                                      "nacl-outbound-blocks", "no-route", "sg-egress-blocks", "sg-ingress-blocks",
                                      "timeout-too-low", "vpc-without-nat"]   # the path to its database needs its config too
    # replay: the same unchecked reasons, naming the permission
    from triage import playbook
    outcome = casefile.run_case(playbook.load(PLAYBOOKS / "lambda-timeout.yaml"), case)
    assert outcome.passed, outcome.problems


def test_record_without_aws_writes_nothing(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = tmp_path / "cases.yaml"
    r = run_cli("record", "lambda-timeout", "--input", "function=x", "--out", str(out),
                "--endpoint-url", f"http://127.0.0.1:{port}", "--region", "us-east-1", "--max-attempts", "1")
    assert r.code == 3 and "nothing recorded: AWS endpoint unreachable" in r.err
    assert not out.exists()


CASE_ERRORS = [
    ("unknown key in a case", "    expcet: {findings: []}\n", 8, "unknown key 'expcet'", "did you mean 'expect'"),
    ("both response and error", "    expect: {findings: []}\n    calls:\n      - call: lambda.GetFunctionConfiguration\n"
     "        response: {}\n        error: {code: X}\n", 10, "give exactly one of `response:`", "AccessDeniedException"),
    ("evidence for an unexpected finding", "    expect:\n      findings: []\n      evidence: {timeout-too-low: {timeout_s: 3}}\n",
     10, "evidence for 'timeout-too-low', which is not an expected finding", "add timeout-too-low"),
    ("findings not a list", "    expect: {findings: timeout-too-low}\n", 8, "must be a list of finding ids", "[]"),
    ("unquoted time", "    recorded_at: yesterday\n    expect: {findings: []}\n", 8, "is not a time", "ISO"),
]


@pytest.mark.parametrize("name,body,line,message,hint", CASE_ERRORS, ids=[c[0] for c in CASE_ERRORS])
def test_case_file_mistakes_are_reported_with_file_and_line(tmp_path, name, body, line, message, hint):
    book, _ = _copy_lambda_timeout(tmp_path)
    cases = tmp_path / "tests" / "lambda-timeout.cases.yaml"
    cases.write_text("# cases\nplaybook: lambda-timeout\ncases:\n  - name: one\n    inputs:\n      function: x\n"
                     "    region: us-east-1\n" + body)
    r = run_cli("test", str(book))
    assert r.code == 2, r.out
    assert f"{cases}:{line}: " in r.out and message in r.out and hint in r.out, r.out
    assert "Traceback" not in r.out + r.err


def test_a_playbook_without_cases_fails(tmp_path):
    book = tmp_path / "lambda-timeout.yaml"
    shutil.copy(PLAYBOOKS / "lambda-timeout.yaml", book)
    r = run_cli("test", str(tmp_path))
    assert r.code == 1
    assert f"no test cases (expected {tmp_path / 'tests' / 'lambda-timeout.cases.yaml'})" in r.out
    assert "triage record" in r.out


def test_unknown_target_is_a_usage_error():
    r = run_cli("test", "lambda-timeot")
    assert r.code == 2 and "did you mean lambda-timeout?" in r.err
