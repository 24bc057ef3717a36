"""Command line: `triage <playbook-id> --flags`, `triage run FILE`,
`triage playbooks`, `triage validate`, `triage schema`, `triage demo`.

`main` is the only place that turns exceptions into messages and exit codes
(see errors.ExitStatus); everything below it raises. Nothing here imports
boto3: `triage --help` and `triage playbooks` stay fast."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from . import __version__
from .errors import ExitStatus, PlaybookError, TriageError, UsageError

EXAMPLES = """\
examples:
  triage lambda-timeout --function orders-etl --since 24h
  triage lambda-timeout --function orders-etl --output markdown > incident.md
  triage run ./my-playbook.yaml --input function=orders-etl
  triage validate playbooks/*.yaml
  triage demo                      # offline: embedded moto server with seeded incidents

exit status: 0 no findings, 1 findings, 2 usage or playbook error,
             3 AWS unreachable or no credentials, 130 interrupted
"""


@dataclass
class Env:
    """Streams and terminal facts, replaceable in tests."""
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool = field(default_factory=lambda: sys.stdin.isatty() if sys.stdin else False)
    stdout_isatty: bool = field(default_factory=lambda: sys.stdout.isatty())


def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("AWS and output")
    g.add_argument("--profile", default=d, help="AWS profile (default: the standard credential chain)")
    g.add_argument("--region", default=d, help="AWS region (default: from profile or AWS_REGION)")
    g.add_argument("--endpoint-url", default=d, metavar="URL",
                   help="AWS endpoint, e.g. a moto server or LocalStack (also AWS_ENDPOINT_URL)")
    g.add_argument("-o", "--output", choices=("text", "json", "markdown"), default=d, help="output format (default: text)")
    g.add_argument("--deadline", type=float, default=d, metavar="SECONDS",
                   help="stop waiting for AWS after this long and report what is known (exit 3)")
    g.add_argument("--playbooks", action="append", default=d, metavar="DIR", help="extra playbook folder (repeatable)")
    g.add_argument("--no-color", action="store_true", default=d if suppress else False, help="plain text output")
    g.add_argument("--debug", action="store_true", default=d if suppress else False, help="show tracebacks and details")


def _input_flags(parser: argparse.ArgumentParser, inputs: dict) -> None:
    g = parser.add_argument_group("playbook inputs")
    for name, spec in inputs.items():
        flag = "--" + name.replace("_", "-")
        help_text = spec.get("help", "")
        if "default" in spec:
            help_text += f" (default: {spec['default']})"
        if spec.get("required"):
            help_text += " [required]"
        kwargs: dict[str, Any] = {"dest": f"input_{name}", "help": help_text, "metavar": name.upper()}
        if spec.get("type") == "list":
            kwargs["action"] = "append"
        if spec.get("choices"):
            kwargs["choices"] = spec["choices"]
        g.add_argument(flag, **kwargs)


def build_parser(entries: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage", description="Diagnose AWS incidents with read-only playbooks.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    _common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)

    def add(name: str, help_text: str, **kw) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common], description=kw.pop("description", help_text),
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kw)

    for entry in entries.values():
        if entry.error:
            continue
        p = add(entry.id, entry.title, description=f"{entry.title}\n\n{entry.summary}".strip(),
                epilog=f"playbook: {entry.path} ({entry.origin})")
        _input_flags(p, entry.inputs)
        p.set_defaults(playbook_id=entry.id)
    p = add("run", "run a playbook file that is not installed")
    p.add_argument("file", help="playbook YAML file")
    p.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)")
    add("playbooks", "list playbooks and where each comes from")
    p = add("validate", "validate playbook files (schema, JMESPath, botocore models, read-only)")
    p.add_argument("files", nargs="+", metavar="FILE")
    add("schema", "print the playbook JSON Schema (for editors)")
    p = add("demo", "offline demo: embedded moto server with seeded incidents")
    p.add_argument("--scenario", action="append", help="only these scenarios")
    return parser


def _option(args, name: str, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        return int(program(argv, env))
    except KeyboardInterrupt:
        env.stderr.write("\ninterrupted\n")
        return ExitStatus.INTERRUPTED
    except PlaybookError as exc:
        env.stderr.write(f"playbook error{'s' if len(exc.problems) > 1 else ''}:\n{exc.message}\n")
        return exc.exit_status
    except TriageError as exc:
        if debug:
            raise
        env.stderr.write(f"triage: {exc.message}\n")
        if exc.hint:
            env.stderr.write(f"  hint: {exc.hint}\n")
        return exc.exit_status
    except BrokenPipeError:
        return ExitStatus.OK
    except Exception as exc:  # a bug: one line, and how to see more
        if debug:
            raise
        env.stderr.write(f"triage: internal error: {type(exc).__name__}: {exc}\n  rerun with --debug for the traceback\n")
        return ExitStatus.USAGE


def program(argv: list[str], env: Env) -> int:
    from . import catalog

    extra = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--playbooks"]
    entries = catalog.discover(extra)
    parser = build_parser(entries)
    if not argv:
        parser.print_help(env.stdout)
        return ExitStatus.OK
    try:
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage or help
        return ExitStatus.OK if exc.code == 0 else ExitStatus.USAGE
    command = args.command
    if command == "playbooks":
        return cmd_playbooks(entries, env)
    if command == "schema":
        from importlib import resources
        env.stdout.write(resources.files("triage").joinpath("schema/playbook.schema.json").read_text())
        return ExitStatus.OK
    if command == "validate":
        return cmd_validate(args.files, env)
    if command == "demo":
        from .demo.run import run_demo
        return run_demo(args, env)
    if command == "run":
        from . import playbook
        pb = playbook.load(args.file, origin="file")
        given: dict[str, Any] = {}
        for item in args.input:
            name, sep, value = item.partition("=")
            if not sep:
                raise UsageError(f"--input {item!r}: write NAME=VALUE")
            name = name.replace("-", "_")
            spec = pb.inputs.get(name)
            if spec is not None and spec.type == "list":
                given.setdefault(name, []).append(value)
            else:
                given[name] = value
        return run_and_render(pb, given, args, env)
    pb = catalog.load(entries[args.playbook_id])
    given = {name: getattr(args, f"input_{name}") for name in pb.inputs if getattr(args, f"input_{name}", None) is not None}
    return run_and_render(pb, given, args, env)


def aws_settings(args):
    from .aws import AwsSettings
    return AwsSettings(profile=_option(args, "profile"), region=_option(args, "region"),
                       endpoint_url=_option(args, "endpoint_url"))


def run_and_render(pb, given: dict, args, env: Env, aws=None) -> int:
    from . import engine
    from .aws import Aws
    from .render import render

    engine.coerce_inputs(pb, given)  # usage errors before any AWS work
    aws = aws or Aws(aws_settings(args))
    aws.session  # an unknown --profile is reported now, not once per step
    diagnosis = engine.run(pb, given, aws, deadline=_option(args, "deadline"))
    data = diagnosis.to_dict()
    fmt = _option(args, "output", "text")
    render(data, fmt, env.stdout, color=False if _option(args, "no_color", False) or os.environ.get("NO_COLOR") else None)
    if diagnosis.unavailable:
        env.stderr.write(f"triage: AWS unavailable: {diagnosis.unavailable}\n"
                         "  hint: check credentials (aws sts get-caller-identity), --profile/--region, "
                         "and --endpoint-url / AWS_ENDPOINT_URL\n")
        return ExitStatus.AWS_UNAVAILABLE
    return ExitStatus.FINDINGS if diagnosis.findings else ExitStatus.OK


def cmd_playbooks(entries: dict, env: Env) -> int:
    from rich.table import Table
    from rich.text import Text

    from .render.text import console_for

    console = console_for(env.stdout)
    table = Table(show_lines=False, box=None, pad_edge=False)
    for col in ("playbook", "title", "inputs", "from"):
        table.add_column(col)
    for e in sorted(entries.values(), key=lambda e: e.id):
        flags = " ".join(("--" + k.replace("_", "-")) + ("" if v.get("required") else "?") for k, v in e.inputs.items())
        origin = e.origin + (f" (overrides {e.overrides})" if e.overrides else "")
        title = e.title if not e.error else f"BROKEN: {e.error}"
        table.add_row(Text(e.id, style="bold cyan"), Text(title), Text(flags), Text(origin, style="dim"))
    console.print(table)
    return ExitStatus.OK


def cmd_validate(files: list[str], env: Env) -> int:
    from . import playbook

    status = ExitStatus.OK
    for f in files:
        try:
            pb = playbook.load(f, origin="file")
            env.stdout.write(f"{f}: ok ({pb.id}: {len(pb.steps)} steps, {len(pb.checks)} checks, "
                             f"dependency depth {pb.step_depth()})\n")
        except PlaybookError as exc:
            env.stdout.write(exc.message + "\n")
            status = ExitStatus.USAGE
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
