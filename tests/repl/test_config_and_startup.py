"""The config file (shipped defaults merged with the user's XDG file),
the redacted history file, and a first prompt that imports no boto3."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict

import pytest

from triage.errors import UsageError
from triage.repl import config

from .conftest import CTRL_D, ENTER, drive, paste


def write_config(xdg, text: str):
    path = xdg / "config" / "triage" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_shipped_defaults_are_the_documented_ones(xdg):
    assert asdict(config.load()) == asdict(config.Config())
    text = config.default_text()
    for key in config.Config.__dataclass_fields__:   # every setting is documented in the shipped file
        assert f"\n{key} =" in text


def test_user_file_is_merged_over_the_defaults(xdg):
    write_config(xdg, "[main]\nregion = eu-west-1\ncompletion_ttl = 30\nedit_mode = vi\n")
    cfg = config.load()
    assert (cfg.region, cfg.completion_ttl, cfg.edit_mode) == ("eu-west-1", 30.0, "vi")
    assert cfg.output == "text" and cfg.prefetch is True


def test_unknown_setting_and_bad_value_are_clear_errors(xdg):
    path = write_config(xdg, "[main]\ncompletion_tll = 30\n")
    with pytest.raises(UsageError) as exc:
        config.load()
    assert exc.value.message == f"{path}: unknown setting 'completion_tll' in [main]"
    assert exc.value.hint == "did you mean 'completion_ttl'?"
    write_config(xdg, "[main]\noutput = yaml\n")
    with pytest.raises(UsageError) as exc:
        config.load()
    assert exc.value.message == f"{path}: [main] output = 'yaml': must be one of text, json, markdown"


def test_history_lives_in_the_xdg_state_dir_and_keeps_no_secrets(world, xdg):
    s = drive(world.url, "lambda-timeout --function thumbnailer" + ENTER
              + paste("ERROR connecting: password=Hunter2Hunter2 refused\nretrying\n") + CTRL_D, history="default")
    assert s.repl.history == "default"
    history = (xdg / "state" / "triage" / "history").read_text()
    assert "+lambda-timeout --function thumbnailer" in history
    assert "password=REDACTED" in history and "Hunter2Hunter2" not in history


def test_first_prompt_imports_neither_boto3_nor_moto(xdg):
    # with prefetch off, nothing reaches for AWS before a command needs it
    write_config(xdg, "[main]\nprefetch = False\n")
    code = (
        "import io, sys\n"
        "from prompt_toolkit.input import create_pipe_input\n"
        "from prompt_toolkit.output import DummyOutput\n"
        "from triage.repl import config\n"
        "from triage.repl.session import Repl\n"
        "with create_pipe_input() as inp:\n"
        "    inp.send_text('help\\r\\x04')\n"
        "    out = io.StringIO()\n"
        "    Repl(config.load(), out=out, input=inp, output=DummyOutput(), history=None).loop()\n"
        "assert 'Goodbye.' in out.getvalue() and 'lambda-timeout' in out.getvalue(), out.getvalue()\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'moto', 'jsonschema'})))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""


def test_triage_without_a_terminal_still_prints_help():
    from conftest import run_cli
    r = run_cli()
    assert r.code == 0 and "usage: triage" in r.out
