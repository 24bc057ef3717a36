"""Exit codes, messages and start-up cost of the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import run_cli


def test_exit_0_when_healthy_and_1_with_findings(cli):
    assert cli("lambda-timeout", "--function", "thumbnailer").code == 0
    assert cli("lambda-timeout", "--function", "orders-etl").code == 1


def test_exit_2_for_a_missing_required_flag(cli):
    r = cli("lambda-timeout")
    assert r.code == 2
    assert "lambda-timeout needs --function" in r.err
    assert "Traceback" not in r.err


def test_exit_2_for_a_bad_duration(cli):
    r = cli("lambda-timeout", "--function", "orders-etl", "--since", "yesterday")
    assert r.code == 2 and "--since: not a duration: 'yesterday'" in r.err


def test_exit_2_for_an_unknown_command():
    r = run_cli("lamda-timeout", "--function", "x")
    assert r.code == 2


def test_exit_3_when_the_endpoint_is_unreachable():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens here now
    r = run_cli("lambda-timeout", "--function", "orders-etl", "--output", "json",
                "--endpoint-url", f"http://127.0.0.1:{port}", "--region", "us-east-1")
    assert r.code == 3
    assert "AWS unavailable" in r.err and "hint:" in r.err
    data = json.loads(r.out)
    assert data["findings"] == [] and len(data["unchecked"]) == 10
    assert "Traceback" not in r.err


def test_exit_3_without_credentials(tmp_path, world):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1"})
    p = subprocess.run([sys.executable, "-m", "triage", "lambda-timeout", "--function", "orders-etl",
                        "--endpoint-url", world.url], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 3, p.stderr
    assert "no usable AWS credentials" in p.stderr
    assert "Traceback" not in p.stderr


def test_aws_endpoint_url_environment_variable_is_honoured(world):
    env = {**os.environ, "AWS_ENDPOINT_URL": world.url, "AWS_REGION": "us-east-1"}
    p = subprocess.run([sys.executable, "-m", "triage", "lambda-timeout", "--function", "orders-etl", "-o", "json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1, p.stderr
    assert json.loads(p.stdout)["findings"][0]["check"] == "timeout-too-low"


def test_unknown_profile_is_a_clear_error(world):
    r = run_cli("lambda-timeout", "--function", "x", "--profile", "no-such-profile", endpoint=world.url)
    assert r.code == 3
    assert "AWS profile 'no-such-profile' not found" in r.err


def _imported_modules(*argv: str) -> set[str]:
    code = ("import sys; from triage.cli import main; import io; "
            f"main({list(argv)!r}); print('\\n'.join(sys.modules), file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return set(p.stderr.split())


def test_help_and_playbooks_do_not_import_boto3():
    for argv in (["--help"], ["playbooks"], ["lambda-timeout", "--help"]):
        mods = _imported_modules(*argv)
        assert "triage.cli" in mods
        assert not {m for m in mods if m.split(".")[0] in ("boto3", "botocore", "moto", "jsonschema")}, argv


def test_help_lists_playbook_subcommands_and_examples():
    r = run_cli("--help")
    assert r.code == 0
    assert "lambda-timeout" in r.out and "exit status" in r.out


def test_playbook_help_shows_its_inputs():
    r = run_cli("lambda-timeout", "--help")
    assert "--function" in r.out and "--since" in r.out and "(default: 24h)" in r.out


def test_playbooks_lists_origin():
    r = run_cli("playbooks")
    assert "lambda-timeout" in r.out and "built-in" in r.out


def test_schema_is_json():
    r = run_cli("schema")
    schema = json.loads(r.out)
    assert schema["title"] == "triage playbook" and "steps" in schema["properties"]


def test_demo_runs_offline_and_shows_every_lambda_timeout_finding():
    # its own process: moto's backends are global to a process
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    p = subprocess.run([sys.executable, "-m", "triage", "demo", "--scenario", "lambda-timeout", "--output", "json"],
                       capture_output=True, text=True, env=env, timeout=180)
    assert p.returncode == 0, p.stderr
    outputs = json.loads(p.stdout)["demo"]     # one JSON document
    by_function = {o["inputs"]["function"]: sorted(f["check"] for f in o["findings"]) for o in outputs}
    assert by_function["migrate-db"] == ["at-hard-limit"]
    assert by_function["orders-etl"] == ["timeout-too-low"]
    assert by_function["report-builder"] == ["duration-near-timeout"]
    assert by_function["payments-sync"] == ["timeout-too-low", "vpc-without-nat"]
    assert by_function["thumbnailer"] == []


def test_no_color_and_NO_COLOR_reach_every_console(monkeypatch):
    """explain's header and the playbooks table too, not only diagnoses and scans."""
    import io

    from triage.cli import Env, main

    class Tty(io.StringIO):
        def isatty(self):
            return True

    def escapes(*argv):
        out = Tty()
        main(list(argv), Env(stdout=out, stderr=io.StringIO(), stdin_isatty=False, stdout_isatty=True))
        return "\x1b[" in out.getvalue()

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert escapes("playbooks")
    assert not escapes("playbooks", "--no-color")
    assert not escapes("explain", "--no-run", "--no-color", "Task timed out after 3.00 seconds")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not escapes("playbooks")
    assert not escapes("explain", "--no-run", "Task timed out after 3.00 seconds")


def test_boolean_input_typo_is_a_usage_error():
    from triage.engine import _coerce
    from triage.errors import UsageError
    from triage.playbook import Input

    spec = Input(name="dry", type="boolean")
    assert _coerce(spec, "yes") is True and _coerce(spec, "off") is False
    try:
        _coerce(spec, "flase")
    except UsageError as exc:
        assert "--dry must be a boolean" in exc.message
    else:
        raise AssertionError("a typo in a boolean input must not mean false")


def test_an_unexpected_error_does_not_leave_identical_calls_waiting(world, monkeypatch):
    from triage.aws import Aws, AwsSettings

    aws = Aws(AwsSettings(region="us-east-1", endpoint_url=world.url))

    def boom(*args, **kwargs):
        raise TypeError("unexpected")
    monkeypatch.setattr(aws, "_invoke", boom)
    for _ in range(2):   # the second identical call must not wait forever on the first one's future
        try:
            aws.call("lambda", "GetFunctionConfiguration", {"FunctionName": "orders-etl"})
        except TypeError:
            pass
        else:
            raise AssertionError("expected the TypeError")


def test_console_entry_flushes_output_and_keeps_the_exit_status(world):
    """`triage` ends with os._exit after flushing (no interpreter teardown):
    everything printed must still arrive, with the right exit status."""
    env = {**os.environ, "AWS_REGION": "us-east-1"}
    p = subprocess.run([sys.executable, "-m", "triage", "lambda-timeout", "--function", "orders-etl", "-o", "json",
                        "--endpoint-url", world.url], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1
    assert json.loads(p.stdout)["findings"][0]["check"] == "timeout-too-low"   # the whole document arrived
    p = subprocess.run([sys.executable, "-m", "triage", "lambda-timeout"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "needs --function" in p.stderr
