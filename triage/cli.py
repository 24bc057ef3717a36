"""Command line: `triage <playbook-id> --flags` (one subcommand per
playbook, generated from its inputs) plus the commands in the registry
(triage/commands/).

`main` is the only place that turns exceptions into messages and exit codes
(see errors.ExitStatus); everything below it raises. Nothing here imports
boto3: `triage --help` and `triage playbooks` stay fast."""
from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from . import __version__
from .catalog import flag
from .errors import ExitStatus, PlaybookError, TriageError
from .render import FORMATS

EXAMPLES = """\
examples:
  triage lambda-timeout --function orders-etl --since 24h
  triage lambda-timeout --function orders-etl --output markdown > incident.md
  triage run ./my-playbook.yaml --input function=orders-etl
  triage validate playbooks/*.yaml
  triage demo                      # offline: embedded moto server with seeded incidents

exit status: 0 healthy (every check ran, nothing found), 1 findings,
             2 usage or playbook error, 3 AWS unreachable or no credentials,
             4 inconclusive (nothing found, some checks could not run), 130 interrupted
"""


@dataclass
class Env:
    """Streams and terminal facts, replaceable in tests."""
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin_isatty: bool = field(default_factory=lambda: bool(sys.stdin) and sys.stdin.isatty())
    stdout_isatty: bool = field(default_factory=lambda: sys.stdout.isatty())


def common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """AWS and output options, accepted before or after the subcommand."""
    d = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("AWS and output")
    g.add_argument("--profile", default=d, help="AWS profile (default: the standard credential chain)")
    g.add_argument("--region", default=d, help="AWS region (default: from profile or AWS_REGION)")
    g.add_argument("--endpoint-url", default=d, metavar="URL",
                   help="AWS endpoint, e.g. a moto server or LocalStack (also AWS_ENDPOINT_URL)")
    g.add_argument("-o", "--output", choices=FORMATS, default=d, help="output format (default: text)")
    g.add_argument("--deadline", type=float, default=d, metavar="SECONDS",
                   help="stop waiting for AWS after this long and report what is known, exit 3 "
                        "(default: 60 per playbook run, 300 for a scan)")
    g.add_argument("--connect-timeout", type=float, default=d, metavar="SECONDS",
                   help="per-request TCP connect timeout (default: 3)")
    g.add_argument("--read-timeout", type=float, default=d, metavar="SECONDS",
                   help="per-request read timeout (default: 15)")
    g.add_argument("--max-attempts", type=int, default=d, metavar="N",
                   help="attempts per call, retries included (default: 6)")
    g.add_argument("--changes-since", default=d, metavar="DURATION",
                   help="window of the 'Recent changes' section (default: the playbook's --since, else 24h)")
    g.add_argument("--no-changes", action="store_true", default=d if suppress else False,
                   help="do not look for recent changes (CloudTrail) to the resources read")
    g.add_argument("--playbooks", action="append", default=d, metavar="DIR", help="extra playbook folder (repeatable)")
    g.add_argument("--no-color", action="store_true", default=d if suppress else False, help="plain text output")
    g.add_argument("--debug", action="store_true", default=d if suppress else False, help="show tracebacks and details")


def input_flags(parser: argparse.ArgumentParser, inputs: dict) -> None:
    g = parser.add_argument_group("playbook inputs")
    for name, spec in inputs.items():
        help_text = spec.get("help", "")
        if spec.get("choices"):  # checked by engine.coerce_inputs once typed (argparse would compare strings)
            help_text += f" (one of: {', '.join(map(str, spec['choices']))})"
        if spec.get("minimum") is not None:
            help_text += f" (at least {spec['minimum']})"
        if "default" in spec:
            help_text += f" (default: {spec['default']})"
        if spec.get("required"):
            help_text += " [required]"
        kwargs: dict[str, Any] = {"dest": f"input_{name}", "help": help_text, "metavar": name.upper()}
        if spec.get("type") == "list":
            kwargs["action"] = "append"
        g.add_argument(flag(name), **kwargs)


def build_parser(entries: dict, commands: dict) -> argparse.ArgumentParser:
    from .commands.run import run_playbook_command
    from .sanitize import clean

    parser = argparse.ArgumentParser(
        prog="triage", description="Diagnose AWS incidents with read-only playbooks.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common_options(common, suppress=True)

    for entry in entries.values():
        if entry.error or entry.id in commands:
            continue
        # Playbook text is as untrusted as AWS text: no control sequences reach the terminal.
        p = sub.add_parser(entry.id, help=clean(entry.title), parents=[common],
                           description=clean(f"{entry.title}\n\n{entry.summary}".strip()),
                           epilog=f"playbook: {entry.path} ({entry.origin})",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        input_flags(p, entry.inputs)
        p.set_defaults(handler=run_playbook_command, playbook_id=entry.id)
    for cmd in commands.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help, parents=[common],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.arguments(p)
        p.set_defaults(handler=cmd.handler)
    return parser


def main(argv: list[str] | None = None, env: Env | None = None) -> int:
    from .redact import SafeStream

    env = env or Env()
    # The output edge: whatever is written, secrets seen in this process are masked.
    if not isinstance(env.stdout, SafeStream):
        env.stdout, env.stderr = SafeStream(env.stdout), SafeStream(env.stderr)
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


def parse(argv: list[str], env: Env) -> argparse.Namespace | int:
    """Parse argv against the playbooks and commands; an int is an exit status (help shown or usage error)."""
    from . import catalog
    from .commands import registry

    extra = [argv[i + 1] if a == "--playbooks" else a.partition("=")[2]
             for i, a in enumerate(argv) if (a == "--playbooks" and i + 1 < len(argv)) or a.startswith("--playbooks=")]
    parser = build_parser(catalog.discover(extra), registry())
    if not argv:
        parser.print_help(env.stdout)
        return ExitStatus.OK
    return parse_args(parser, argv, env)


def parse_args(parser: argparse.ArgumentParser, argv: list[str], env: Env) -> argparse.Namespace | int:
    """Parse with a built parser (the CLI's and the REPL's); an int is an exit status."""
    try:
        with contextlib.redirect_stdout(env.stdout), contextlib.redirect_stderr(env.stderr):
            args, extra = parser.parse_known_args(argv)
            if extra:  # the subcommand's usage, not the top level's, and the flag that was meant
                _unrecognized(parser, args, extra)
            return args
    except SystemExit as exc:  # argparse already printed usage or help
        return ExitStatus.OK if exc.code == 0 else ExitStatus.USAGE


def _unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> None:
    """argparse's "unrecognized arguments" error from the (sub)command they
    were given to, with "did you mean --function?" for a mistyped flag."""
    from .suggest import suggest

    while True:  # down to the subcommand that was chosen
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = getattr(args, subs[0].dest, None) if subs and subs[0].dest != argparse.SUPPRESS else None
        if chosen not in (subs[0].choices if subs else {}):
            break
        parser = subs[0].choices[chosen]
    message = f"unrecognized arguments: {' '.join(extra)}"
    flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
    typo = next((e.partition("=")[0] for e in extra if e.startswith("--")), None)
    guess = suggest(typo, flags) if typo else None
    if guess:
        message += f"\n  hint: did you mean {guess}?"
    parser.error(message)


def check_region(args: argparse.Namespace, env: Env) -> None:
    """--region: not a region name is a usage error before any call; a
    well-formed one botocore does not know is tried, with a warning."""
    region = getattr(args, "region", None)
    if region:
        from .regions import check
        warning = check(region)
        if warning:
            env.stderr.write(f"triage: warning: {warning}\n")


def program(argv: list[str], env: Env) -> int:
    """The main program without error handling."""
    interactive = env.stdin_isatty and env.stdout_isatty
    if not argv and interactive:  # `triage` on a terminal: the REPL
        from .repl import start
        return start(argparse.Namespace(), env)
    args = parse(argv, env)
    if isinstance(args, int):
        return args
    check_region(args, env)
    if getattr(args, "handler", None) is None:
        if interactive:  # only options (--profile/--region/--endpoint-url): the REPL with them
            from .repl import start
            return start(args, env)
        return parse(["--help"], env)  # type: ignore[return-value]
    return args.handler(args, env)


def entry() -> None:
    """The console script. After the output is flushed the process ends with
    os._exit: tearing down the interpreter (freeing botocore's service models,
    millions of small objects) costs ~0.25 s of every run and does nothing a
    finished command needs. Daemon threads (a black-holed read past
    --deadline) end with it. In-process callers (tests, the REPL) use main()."""
    import os

    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed pipe: nothing left to deliver
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
