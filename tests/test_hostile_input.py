"""Hostile input (issue 11, items 2 and 3): no paste, pattern or playbook can
make triage run for minutes, take a gigabyte or die with an internal error.

Patterns from playbooks run on RE2 (linear time); YAML is bounded in
nesting and alias expansion before anything is built; malformed values are
validate errors with file:line. Each hostile command runs in its own
process, bounded by a timeout (the process group is killed after it), and
its CPU time and peak RSS are measured by a small wrapper process: CPU time,
not wall time, so a loaded 2-core machine does not fail the bounds, which
are generous (the real figures are in bench/RESULTS.md)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent

# Runs argv, then reports the child's exit code, CPU seconds and peak RSS (KB)
# on the last line of stderr. A fresh small process: its RUSAGE_CHILDREN is
# the measured command's alone.
_WRAPPER = ("import json, resource, subprocess, sys\n"
            "code = subprocess.call(sys.argv[1:])\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "sys.stderr.write('\\n@@' + json.dumps([code, u.ru_utime + u.ru_stime, u.ru_maxrss]))\n")


class Measured:
    def __init__(self, code: int, out: str, err: str, cpu: float, rss_mb: float):
        self.code, self.out, self.err, self.cpu, self.rss_mb = code, out, err, cpu, rss_mb


def triage(*argv: str, env: dict, stdin: str | None = None, timeout: float = 60) -> Measured:
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "triage", *argv],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=env["HOME"], start_new_session=True)
    try:
        out, err = proc.communicate(None if stdin is None else stdin.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the wrapper and triage
        proc.communicate()
        pytest.fail(f"triage {' '.join(a[:40] for a in argv)} still running after {timeout} s")
    text, _, stats = err.decode("utf-8", "replace").rpartition("\n@@")
    code, cpu, rss_kb = json.loads(stats)
    return Measured(code, out.decode("utf-8", "replace"), text, cpu, rss_kb / 1024)


@pytest.fixture
def env(tmp_path):
    """No user playbooks, a private header cache, AWS at a closed port."""
    home = tmp_path / "home"
    (home / "config" / "triage" / "playbooks").mkdir(parents=True)
    e = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "AWS_", "XDG_"))}
    e.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), TRIAGE_CACHE_DIR=str(home / "cache"),
             PYTHONPATH=str(ROOT), AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
             AWS_SECRET_ACCESS_KEY="testing", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    return e


def user_folder(env: dict) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "triage" / "playbooks"


GOOD = """\
id: hostile
title: Hostile input
summary: A small valid playbook.
inputs:
  function:
    required: true
steps:
  config:
    call: lambda.GetFunctionConfiguration
    params:
      FunctionName: ${inputs.function}
checks:
  - id: short-timeout
    severity: low
    when: config.Timeout < `10`
    title: Short timeout
    explanation: Timeout is ${config.Timeout}
"""


def bomb(where: str) -> str:
    """Billion laughs: nine levels of nine aliases (9^9 strings expanded),
    used at `where` (an input's help, the title)."""
    levels = "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))
    text = 'x-lol:\n  l0: &l0 "lol"\n' + levels + GOOD   # defined first: an alias must follow its anchor
    if where == "help":
        return text.replace("    required: true", "    required: true\n    help: *l9")
    return text.replace("title: Hostile input", "title: *l9")


# --- item 2: linear-time patterns ------------------------------------------------

REAL_ERROR = ("An error occurred (ResourceNotFoundException) when calling the Invoke operation: "
              "Function not found: arn:aws:lambda:us-east-1:123456789012:function:orders-etl")


def test_explain_on_a_2mb_adversarial_paste_is_fast_and_still_reads_all_of_it(env):
    # the shipped trigger `ResourceNotFoundException.*Function not found: ...` was quadratic on
    # this: minutes of CPU for 2 MB on Python's backtracking engine
    paste = "ResourceNotFoundException " * 80_000
    r = triage("explain", "--no-run", "--output", "json", env=env, stdin=paste)
    assert r.cpu < 2.0, f"{r.cpu:.2f} s CPU"
    assert "internal error" not in r.err
    assert json.loads(r.out)["routed_to"] is None
    r = triage("explain", "--no-run", "--output", "json", env=env, stdin=paste + REAL_ERROR)
    assert r.cpu < 2.0, f"{r.cpu:.2f} s CPU"
    doc = json.loads(r.out)   # the triggers still read the whole paste
    assert doc["routed_to"] == "lambda-not-found" and doc["inputs"]["function"] == "orders-etl"


def test_catastrophic_user_trigger_runs_in_linear_time(env):
    (user_folder(env) / "catastrophic.yaml").write_text(
        GOOD.replace("inputs:", "triggers:\n  - '^(a+)+$'\ninputs:"))
    v = triage("validate", str(user_folder(env) / "catastrophic.yaml"), env=env)
    assert v.code == 0, v.out + v.err          # RE2 takes it: no backtracking, so nothing to refuse
    r = triage("explain", "--no-run", "--output", "json", env=env, stdin="a" * 40 + "!")
    assert r.cpu < 2.0, f"{r.cpu:.2f} s CPU"
    r = triage("explain", "--no-run", "--output", "json", env=env, stdin="a" * 40)
    assert json.loads(r.out)["routed_to"] == "hostile"   # and it still matches what it should


def test_regex_match_in_a_check_cannot_outlast_the_deadline(env, tmp_path):
    path = tmp_path / "check.yaml"
    path.write_text(GOOD.replace("    required: true", "    required: true\n  text:\n    required: true")
                    .replace("when: config.Timeout < `10`", "when: regex_match(inputs.text, '^(a+)+$')"))
    r = triage("run", str(path), "--input", "function=f", "--input", "text=" + "a" * 40 + "!",
               "--deadline", "2", "--max-attempts", "1", "--connect-timeout", "1", env=env)
    assert r.cpu < 5.0, f"{r.cpu:.2f} s CPU"
    assert "internal error" not in r.err, r.err


@pytest.mark.parametrize("where,pattern,needle", [
    ("trigger", r"(ab)\1", "backreference"),
    ("trigger", r"Access(?! Denied)", "lookahead"),
    ("trigger", r"(?<=User: )arn", "lookbehind"),
    ("trigger", r"a++", "possessive"),
    ("regex_match", r"(?P<x>a)(?P=x)", "backreference"),
    ("regex_extract", r"(?<=s3:::)([^/]+)", "lookbehind"),
])
def test_a_pattern_re2_cannot_run_is_a_validate_error_with_file_line(tmp_path, where, pattern, needle):
    path = tmp_path / "bad.yaml"
    if where == "trigger":
        path.write_text(GOOD.replace("inputs:", f"triggers:\n  - '{pattern}'\ninputs:"))
        line = 5
    else:
        path.write_text(GOOD.replace("when: config.Timeout < `10`",
                                     f"when: {where}(config.FunctionName, '{pattern}') != `null`"))
        line = 15
    r = run_cli("validate", str(path))
    assert r.code == 2, r.out
    assert f"{path}:{line}:" in r.out and needle in r.out and "RE2" in r.out, r.out


def test_python_regex_semantics_kept_on_re2():
    from triage import expr, patterns

    assert patterns.search(r"denied$", "Access denied\n")              # Python's `$` before a final newline
    assert patterns.search(r"(?m)^Access Denied\.?\s*$", "x\nAccess Denied.\ny")
    assert patterns.search(r"done\Z", "done") and not patterns.search(r"done\Z", "done\n")
    assert patterns.search(r"\u00e9t\u00e9", "été") and patterns.search(r"a{,2}b", "aab")
    m = patterns.compile(r"timed out after (?P<timeout_s>\d+(?:\.\d+)?) seconds", True, True).search(
        "Task TIMED OUT after 3.00 seconds")
    assert m.groupdict() == {"timeout_s": "3.00"}
    assert expr.search("regex_extract(s, '^arn:[^:]+:s3:::([^/]+)')", {"s": "arn:aws:s3:::b/k"}) == "b"
    assert expr.search("regex_match(s, 'x')", {"s": "\ud800x"}) is True   # a lone surrogate is no crash


# --- item 3: bounded YAML ---------------------------------------------------------

def test_billion_laughs_is_a_fast_small_validate_error(env, tmp_path):
    path = tmp_path / "lol.yaml"
    path.write_text(bomb("help"))
    r = triage("validate", str(path), env=env)
    assert r.code == 2
    assert f"{path}:" in r.out and "alias" in r.out, r.out + r.err
    assert r.cpu < 2.0, f"{r.cpu:.2f} s CPU"
    assert r.rss_mb < 200, f"{r.rss_mb:.0f} MB"


@pytest.mark.parametrize("where", ["help", "title"])
def test_billion_laughs_in_a_user_folder_breaks_neither_help_nor_the_header_cache(env, where):
    (user_folder(env) / "lol.yaml").write_text(bomb(where))
    for argv in (["--help"], ["playbooks"], ["--help"], ["playbooks", "--output", "json"]):
        r = triage(*argv, env=env)
        assert r.code == 0, (argv, r.err[-500:])
        assert r.cpu < 2.0 and r.rss_mb < 200, (argv, r.cpu, r.rss_mb)
        assert "internal error" not in r.err and "MemoryError" not in r.err
    listed = {p["path"]: p for p in json.loads(r.out)["playbooks"]}
    assert "alias" in listed[str(user_folder(env) / "lol.yaml")]["error"]   # listed as broken, with the reason
    r = triage("playbooks", env=env)
    assert "lol" in r.out and "BROKEN" in r.out
    cache = list(Path(env["TRIAGE_CACHE_DIR"]).glob("*.json"))
    assert cache and all(p.stat().st_size < 1_000_000 for p in cache)


MALFORMED = [
    ("date-like title", GOOD.replace("title: Hostile input", "title: 2026-01-01"), 2, "not a date"),
    ("date-like input help", GOOD.replace("    required: true", "    required: true\n    help: 2026-01-01"), 7,
     "not a date"),
    ("3,000 nested parentheses", GOOD.replace("when: config.Timeout < `10`",
                                              'when: "' + "(" * 3000 + "config.Timeout" + ")" * 3000 + ' < `10`"'),
     15, "nests too deeply"),
    ("3,000 nested parentheses in a trigger", GOOD.replace("inputs:", "triggers:\n  - '" + "(" * 3000 + "a"
                                                           + ")" * 3000 + "'\ninputs:"), 5, "nests too deeply"),
    ("50,000 nested YAML lists", GOOD.replace("summary: A small valid playbook.",
                                              "summary: A small valid playbook.\nx: " + "[" * 50_000 + "]" * 50_000),
     4, "nests deeper"),
]


@pytest.mark.parametrize("name,text,line,needle", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_values_are_validate_errors_with_file_line(env, tmp_path, name, text, line, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    r = triage("validate", str(path), env=env)
    assert r.code == 2, r.err[-500:]
    assert "internal error" not in r.out + r.err
    assert f"{path}:{line}:" in r.out and needle in r.out, r.out


def test_a_date_in_a_user_playbook_header_does_not_break_the_command_line(env):
    (user_folder(env) / "dated.yaml").write_text(
        GOOD.replace("    required: true", "    required: true\n    help: 2026-01-01"))
    for argv in (["--help"], ["playbooks"], ["explain", "--no-run", "Task timed out after 3.00 seconds"]):
        r = triage(*argv, env=env)
        assert r.code == 0 and "internal error" not in r.err, (argv, r.err[-500:])
    listed = {p["path"]: p for p in json.loads(triage("playbooks", "--output", "json", env=env).out)["playbooks"]}
    error = listed[str(user_folder(env) / "dated.yaml")]["error"]
    assert "dated.yaml:7:" in error and "date" in error, error


@pytest.mark.parametrize("name", ["output", "help", "debug"])
def test_an_input_named_like_a_triage_option_is_broken_not_fatal(env, name):
    path = user_folder(env) / "clash.yaml"
    path.write_text(GOOD.replace("  function:\n", f"  {name}:\n").replace("inputs.function", f"inputs.{name}"))
    for argv in (["--help"], ["playbooks"], ["validate", str(path)]):
        r = triage(*argv, env=env)
        assert "internal error" not in r.err and "conflicting option" not in r.err, (argv, r.err[-300:])
        assert r.code == (2 if argv[0] == "validate" else 0), (argv, r.out, r.err[-300:])
    assert f"{path}:5:" in r.out and f"--{name}" in r.out, r.out


# --- triage's own patterns (errortext stays on Python's re: shown linear here) ----------

def _errortext_patterns() -> dict:
    import re

    from triage import errortext

    found: dict = {}

    def collect(name, value):
        if isinstance(value, re.Pattern):
            found[name] = value
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                collect(f"{name}[{i}]", v)
        elif isinstance(value, dict):
            for k, v in value.items():
                collect(f"{name}[{k}]", v)
    for name, value in vars(errortext).items():
        collect(name, value)
    return found


def test_errortext_patterns_stay_linear_on_long_runs():
    # A backtracking pattern is quadratic on a long run of something it can
    # start on and then fail ('\s+is not authorized' on 100 KB of blanks took 12.7 s).
    import time

    slow = []
    for name, rx in _errortext_patterns().items():
        for unit in (" ", "\n", "a", "1", "arn:", ":", "/", "'", "é"):
            text = unit * (40_000 // len(unit))
            started = time.process_time()
            for _ in rx.finditer(text):
                pass
            if time.process_time() - started > 0.25:
                slow.append((name, unit))
    assert not slow, slow
