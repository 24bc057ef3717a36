"""Running playbooks: `triage <playbook-id> --flags` and `triage run FILE`."""
from __future__ import annotations

from typing import Any

from ..errors import ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("file", help="playbook YAML file")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)")


@command("run", "run a playbook file that is not installed", arguments=_arguments, aws=True)
def cmd_run(args, env) -> int:
    from .. import playbook

    pb = playbook.load(args.file, origin="file")
    return run_and_render(pb, parse_inputs(pb, args.input), args, env, file=args.file)


def parse_inputs(pb, items: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs; repeated names build lists for list inputs."""
    given: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--input {item!r}: write NAME=VALUE")
        name = name.replace("-", "_")
        spec = pb.inputs.get(name)
        if spec is not None and spec.type == "list":
            given.setdefault(name, []).append(value)
        else:
            given[name] = value
    return given


# A playbook run never waits longer than this by default (--deadline to change).
DEFAULT_DEADLINE = 60.0


def option(args, name: str, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def color_option(args) -> bool | None:
    """--no-color turns colour off; otherwise the console decides (terminal, NO_COLOR)."""
    return False if option(args, "no_color", False) else None


def aws_settings(args):
    from ..aws import AwsSettings
    defaults = AwsSettings()
    for name in ("connect_timeout", "read_timeout", "max_attempts", "deadline"):
        value = option(args, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value:g}")
    return AwsSettings(profile=option(args, "profile"), region=option(args, "region"),
                       endpoint_url=option(args, "endpoint_url"),
                       connect_timeout=option(args, "connect_timeout", defaults.connect_timeout),
                       read_timeout=option(args, "read_timeout", defaults.read_timeout),
                       max_attempts=option(args, "max_attempts", defaults.max_attempts))


def run_playbook_command(args, env) -> int:
    """The handler behind every generated `triage <playbook-id>` subcommand."""
    from .. import catalog

    entries = catalog.discover(option(args, "playbooks"))
    pb = catalog.load(entries[args.playbook_id])
    return run_and_render(pb, flag_inputs(pb, args), args, env)


def flag_inputs(pb, args) -> dict[str, Any]:
    """The inputs given as generated --<input> flags (cli.input_flags)."""
    return {name: getattr(args, f"input_{name}") for name in pb.inputs
            if getattr(args, f"input_{name}", None) is not None}


def run_diagnosis(pb, given: dict, args, env, aws=None):
    """Run a playbook with the command line's AWS settings: (diagnosis, exit status)."""
    from .. import engine
    from ..aws import Aws
    from ..changes import request_from_args

    notes: list[str] = []
    engine.coerce_inputs(pb, given, notes)  # usage errors before any AWS work
    for note in notes:
        env.stderr.write(f"triage: warning: {note}\n")
    aws = aws or Aws(aws_settings(args))
    aws.session  # an unknown --profile is reported now, not once per step
    debug = option(args, "debug", False)
    retry_log = _log_retries(env.stderr) if debug else None
    try:
        request = request_from_args(args)
        diagnosis = engine.run(pb, given, aws, deadline=option(args, "deadline", DEFAULT_DEADLINE),
                               changes=request)
        if request is None:
            diagnosis.changes_skipped = "not looked up (--no-changes)"
    finally:
        if retry_log is not None:
            retry_log()
    return diagnosis, ExitStatus.for_outcome(diagnosis.outcome)


def report_problems(diagnosis, args, env) -> None:
    """After the output: --debug details and the AWS-unavailable message (stderr)."""
    if option(args, "debug", False):
        _debug_report(diagnosis, env.stderr)
    if diagnosis.unavailable:
        hint = ("raise --deadline, or lower --read-timeout/--max-attempts to fail faster"
                if diagnosis.unavailable.startswith("deadline") else
                "check credentials (aws sts get-caller-identity), --profile/--region, "
                "and --endpoint-url / AWS_ENDPOINT_URL")
        if option(args, "output", "text") == "text" and env.stdout_isatty and \
                getattr(env.stderr, "isatty", lambda: False)():
            # stdout's text just said it on the same terminal: say it once, then how to fix it
            env.stderr.write(f"triage: hint: {hint}\n")
        else:   # stderr on its own (a log, CI) or stdout in a file or JSON: stderr says it
            env.stderr.write(f"triage: AWS unavailable: {diagnosis.unavailable}\n  hint: {hint}\n")


def run_and_render(pb, given: dict, args, env, aws=None, file: str | None = None) -> int:
    """file: the playbook file of `triage run FILE` (JSON "file"; the text header's command)."""
    from ..render import render

    diagnosis, status = run_diagnosis(pb, given, args, env, aws)
    data = diagnosis.to_dict()
    if file:
        data["file"] = file
    render(data, option(args, "output", "text"), env.stdout, color=color_option(args))
    report_problems(diagnosis, args, env)
    return status


def _log_retries(stream):
    """--debug: botocore's retry decisions (attempts, backoff delays, adaptive
    send rate) on stderr while the run lasts; returns the undo."""
    import logging

    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    handler.addFilter(lambda record: record.getMessage() != "Not retrying request.")  # every success says it
    loggers = [logging.getLogger(n) for n in ("botocore.retries.standard", "botocore.retries.adaptive")]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)

    def undo() -> None:
        for lg, level in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
    return undo


def _debug_report(diagnosis, stream) -> None:
    """--debug: why each failed step failed (error kind, code, message) and
    the call log, redacted and stripped of control sequences."""
    from ..sanitize import clean

    def line(text: str) -> None:
        stream.write(clean(diagnosis.redactor.text(text)) + "\n")

    for sid, outcome in diagnosis.steps.items():
        if outcome.status == "failed":
            err = outcome.error
            detail = f"{err.kind} {err.code}: {err.message}" if err else (outcome.reason or "")
            line(f"debug: step {sid} failed: {detail}")
    for c in diagnosis.calls:
        line(f"debug: call {c.call} step={c.step} {c.ms:.1f} ms{' cached' if c.cached else ''}"
             + (f" error={c.error}" if c.error else ""))
