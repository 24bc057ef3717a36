"""`triage record PLAYBOOK --input NAME=VALUE`: run a playbook against AWS
(or moto: --endpoint-url) and write what it was answered, redacted, as a
test case that `triage test` replays offline."""
from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import AwsUnavailable, ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("playbook", help="playbook id or file")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)")
    parser.add_argument("--name", help="case name (default: from the inputs); an existing case of that name is replaced")
    parser.add_argument("--description", default="", help="one line: what the case shows")
    parser.add_argument("--out", metavar="FILE", help="case file (default: tests/<id>.cases.yaml beside the playbook)")


@command("record", "run a playbook against AWS and save the responses as a test case", arguments=_arguments, aws=True)
def cmd_record(args, env) -> int:
    from .. import casefile, catalog, engine, playbook
    from ..sanitize import clean
    from .run import aws_settings, option, parse_inputs

    path = Path(args.playbook)
    if path.is_file():
        pb = playbook.load(path, origin="file")
    else:
        entries = catalog.discover(option(args, "playbooks"))
        if args.playbook not in entries:
            raise UsageError(f"{args.playbook}: not a playbook file or a known playbook id", "see `triage playbooks`")
        entry = entries[args.playbook]
        pb = playbook.load(entry.path, origin=entry.origin)
        path = entry.path
    given = parse_inputs(pb, args.input)
    engine.coerce_inputs(pb, given)  # usage errors before any AWS work
    aws = casefile.RecordingAws(aws_settings(args))
    aws.session  # an unknown --profile is reported now
    now = float(int(time.time()))
    with casefile.frozen_clock(now):
        diagnosis = engine.run(pb, given, aws, deadline=option(args, "deadline"))
    if diagnosis.unavailable:
        raise AwsUnavailable(f"nothing recorded: {diagnosis.unavailable}",
                             "check credentials, --region and --endpoint-url")
    name = args.name or _default_name(given, [f.check for f in diagnosis.findings])
    case = casefile.case_from_run(name, diagnosis, aws.recorded, now, aws.region, args.description)
    out = Path(args.out) if args.out else casefile.cases_path(path, pb.id)
    how = casefile.write_case(out, pb.id, case)
    expect = case["expect"]
    env.stdout.write(clean(f"{how} case '{name}' to {out}: {len(case['calls'])} calls, "
                           f"findings [{', '.join(expect['findings'])}], unchecked [{', '.join(expect['unchecked'])}]")
                     + "\n")
    return ExitStatus.OK


def _default_name(given: dict, findings: list[str]) -> str:
    """<first input>-<first finding or 'healthy'>; an ARN contributes its last part."""
    first = next((v for v in given.values() if v not in (None, "", [])), "case")
    if isinstance(first, list):
        first = first[0]
    word = re.split(r"[/:]", str(first))[-1] or str(first)
    base = re.sub(r"[^A-Za-z0-9]+", "-", word).strip("-").lower()[:40] or "case"
    return f"{base}-{findings[0] if findings else 'healthy'}"
