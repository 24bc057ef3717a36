"""Running playbooks: `triage <playbook-id> --flags` and `triage run FILE`."""
from __future__ import annotations

import os
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
    return run_and_render(pb, parse_inputs(pb, args.input), args, env)


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


def option(args, name: str, default=None):
    value = getattr(args, name, None)
    return default if value is None else value


def aws_settings(args):
    from ..aws import AwsSettings
    return AwsSettings(profile=option(args, "profile"), region=option(args, "region"),
                       endpoint_url=option(args, "endpoint_url"))


def run_playbook_command(args, env) -> int:
    """The handler behind every generated `triage <playbook-id>` subcommand."""
    from .. import catalog

    entries = catalog.discover(option(args, "playbooks"))
    pb = catalog.load(entries[args.playbook_id])
    given = {name: getattr(args, f"input_{name}") for name in pb.inputs
             if getattr(args, f"input_{name}", None) is not None}
    return run_and_render(pb, given, args, env)


def run_and_render(pb, given: dict, args, env, aws=None) -> int:
    from .. import engine
    from ..aws import Aws
    from ..render import render

    engine.coerce_inputs(pb, given)  # usage errors before any AWS work
    aws = aws or Aws(aws_settings(args))
    aws.session  # an unknown --profile is reported now, not once per step
    diagnosis = engine.run(pb, given, aws, deadline=option(args, "deadline"))
    data = diagnosis.to_dict()
    color = False if option(args, "no_color", False) or os.environ.get("NO_COLOR") else None
    render(data, option(args, "output", "text"), env.stdout, color=color)
    if diagnosis.unavailable:
        env.stderr.write(f"triage: AWS unavailable: {diagnosis.unavailable}\n"
                         "  hint: check credentials (aws sts get-caller-identity), --profile/--region, "
                         "and --endpoint-url / AWS_ENDPOINT_URL\n")
        return ExitStatus.AWS_UNAVAILABLE
    return ExitStatus.FINDINGS if diagnosis.findings else ExitStatus.OK
