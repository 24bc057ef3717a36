"""The proven-fix harness (issue 16, item 1).

A fix is proven by applying it: seed one scenario into a moto server of the
test's own (fixes change the world, so the shared read-only world is not
used), run the playbook, take the finding's fix commands from `--output
json`, run each with the real AWS CLI through bash against the same server,
run the playbook again, and require the finding gone and nothing new.

Where moto cannot apply a fix, `model_problems` checks the printed command
against the AWS CLI's own command table (built from botocore's service
models plus the CLI's customisations): the service and operation exist,
every flag is a parameter, required parameters are present, enum values are
valid.

Which finding is proven how is data, `triage/demo/proven_fixes.yaml`, so the
demo can say it too; `test_proven_fixes.py` keeps the table and the suite in
step.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import yaml

from triage import casefile, catalog, playbook as playbook_mod

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = ROOT / "playbooks"


# --- the table --------------------------------------------------------------
from triage.demo.proofs import Proof, load as _load  # noqa: E402  (the demo reads the same table)


def load_table() -> dict[str, Proof]:
    return _load()


def shipped_finding_ids() -> set[str]:
    """Every finding id a shipped playbook can produce."""
    ids = set()
    for pid in catalog.discover():
        book = playbook_mod.load(PLAYBOOKS / f"{pid}.yaml")
        ids |= {f"{pid}/{c.id}" for c in book.checks}
        if book.subject is not None:
            ids.add(f"{pid}/subject-not-found")
    return ids


# --- a moto server of the suite's own -----------------------------------------
_SERVE = """
import sys
from triage.demo.server import MotoServer
with MotoServer() as server:
    print(server.url, flush=True)
    sys.stdin.read()          # until the test process closes the pipe (or dies)
"""


class ServerProcess:
    """MotoServer in a child process. moto keeps its state per process: two
    servers in one process share it, and a reset would wipe the other's."""

    def __init__(self) -> None:
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "ServerProcess":
        self._proc = subprocess.Popen([sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, cwd=ROOT)
        self.url = (self._proc.stdout.readline() or "").strip()
        assert self.url.startswith("http://127.0.0.1:"), "the moto server process did not start"
        from conftest import unpaced      # moto has no LookupEvents: no 1 s pacing window per run
        unpaced(self.url)
        return self

    def reset(self) -> None:
        import urllib.request
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"),
                               timeout=30).read()

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()


# --- running ----------------------------------------------------------------
def argv_for(playbook: str, inputs: dict) -> list[str]:
    argv = [playbook]
    for name, value in inputs.items():
        for v in value if isinstance(value, list) else [value]:
            argv += [f"--{name.replace('_', '-')}", str(v)]
    return argv


def diagnose(url: str, playbook: str, inputs: dict) -> dict:
    from conftest import run_cli
    r = run_cli(*argv_for(playbook, inputs), "--output", "json", endpoint=url)
    try:
        return json.loads(r.out)
    except ValueError:
        raise AssertionError(f"triage {' '.join(argv_for(playbook, inputs))} printed no JSON "
                             f"(exit {r.code}):\n{r.out}\n{r.err}") from None


def finding_ids(diagnosis: dict) -> list[str]:
    return [f["check"] for f in diagnosis.get("findings") or []]


def fix_commands(diagnosis: dict, finding: str) -> list[str]:
    for f in diagnosis.get("findings") or []:
        if f["check"] == finding:
            return list((f.get("fix") or {}).get("commands") or [])
    raise AssertionError(f"no finding {finding} in {finding_ids(diagnosis)}")


def replay(proof: Proof) -> dict:
    """The diagnosis of the recorded case named in the table, through the real engine."""
    book = playbook_mod.load(PLAYBOOKS / f"{proof.playbook}.yaml")
    cases = casefile.load(casefile.cases_path(PLAYBOOKS / f"{proof.playbook}.yaml", proof.playbook)).cases
    case = next((c for c in cases if c.name == proof.case), None)
    assert case is not None, f"{proof.id}: no recorded case named {proof.case!r}"
    from triage import engine
    aws = casefile.ReplayAws(case)
    with casefile.frozen_clock(case.recorded_at):
        return engine.run(book, case.inputs, aws).to_dict()  # type: ignore[arg-type]


def aws_cli_env(url: str, fix_vars: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(fix_vars)
    env.update({
        "AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
        # the `aws` installed beside this interpreter (the awscli test dependency)
        "PATH": os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    })
    return env


def apply(url: str, command: str, fix_vars: dict[str, str]) -> subprocess.CompletedProcess:
    """Run printed commands exactly as pasted (one per line, in one shell):
    through bash, with `set -eu` so a failing command stops it and a shell
    variable the test did not supply is an error, not an empty word."""
    assert shutil.which("bash"), "bash is needed to apply fix commands"
    # AWS CLI v1 ignores AWS_ENDPOINT_URL for some services (rds, sqs in us-east-1):
    # every `aws` goes to the moto server explicitly, never to a real endpoint.
    prelude = 'set -eu\naws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }\n'
    return subprocess.run(["bash", "-c", prelude + command], capture_output=True, text=True,
                          timeout=120, env=aws_cli_env(url, fix_vars))


# --- the model check --------------------------------------------------------
@lru_cache(maxsize=1)
def _cli_commands():
    from awscli.clidriver import create_clidriver
    driver = create_clidriver()
    return driver, driver._get_command_table()


def model_problems(command: str) -> list[str]:
    """What is wrong with `aws SERVICE OPERATION --flag value ...` by the AWS CLI's model."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return [f"does not tokenize: {exc}"]
    if words[:1] != ["aws"] or len(words) < 3:
        return [f"not an aws CLI command: {command}"]
    driver, services = _cli_commands()
    service, operation, rest = words[1], words[2], words[3:]
    if service not in services:
        return [f"no AWS CLI service {service!r}"]
    ops = services[service]._get_command_table()
    if operation not in ops:
        return [f"aws {service} has no operation {operation!r}"]
    op = ops[operation]
    if operation == "wait":     # aws SERVICE wait WAITER --flags: the waiter's own arguments
        waiters = op.subcommand_table
        if not rest or rest[0] not in waiters:
            return [f"aws {service} wait has no waiter {rest[0] if rest else '(none given)'!r}"]
        operation, op, rest = f"wait {rest[0]}", waiters[rest[0]], rest[1:]
    args = getattr(op, "arg_table", {})
    global_args = driver._get_argument_table()
    problems, given = [], {}
    i = 0
    while i < len(rest):
        word = rest[i]
        if not word.startswith("--"):
            problems.append(f"stray word {word!r}")
            i += 1
            continue
        name = word[2:].split("=", 1)[0]
        values = []
        if "=" in word:
            values.append(word.split("=", 1)[1])
        i += 1
        while i < len(rest) and not rest[i].startswith("--"):
            values.append(rest[i])
            i += 1
        if name in global_args:
            continue
        if name not in args:
            problems.append(f"aws {service} {operation} has no --{name}")
            continue
        given[name] = values
        arg = args[name]
        kind = getattr(arg, "cli_type_name", "")
        if kind == "boolean" and values:
            problems.append(f"--{name} is a switch and takes no value (got {values})")
        elif kind not in ("boolean",) and not values and name not in ("cli-input-json",):
            problems.append(f"--{name} needs a value")
        enum = getattr(getattr(arg, "argument_model", None), "enum", None) or []
        for v in values:
            if enum and not v.startswith("$") and v not in enum:
                problems.append(f"--{name} {v!r} is not one of {enum}")
    for name, arg in args.items():
        if getattr(arg, "required", False) and name not in given:
            problems.append(f"aws {service} {operation} requires --{name}")
    return problems
