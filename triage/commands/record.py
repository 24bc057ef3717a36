"""`triage record PLAYBOOK --input NAME=VALUE`: run a playbook against AWS
(or moto: --endpoint-url) and write what it was answered, redacted, as a
test case that `triage test` replays offline.

Where the case goes without --out: tests/<id>.cases.yaml beside the playbook,
unless the playbook is a built-in one (shipped inside the package, or the
repository's playbooks/ folder): then the user's playbook folder
($XDG_CONFIG_HOME/triage/playbooks/tests/, when that folder exists), else it
refuses. Shipped cases are only ever written with an explicit --out, and an
existing case is only replaced with --replace."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ..errors import AwsUnavailable, ExitStatus, UsageError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("playbook", help="playbook id or file")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE", help="an input (repeatable)")
    parser.add_argument("--name", help="case name (default: from the inputs and the first finding)")
    parser.add_argument("--replace", action="store_true", help="overwrite an existing case of the same name")
    parser.add_argument("--description", default="", help="one line: what the case shows")
    parser.add_argument("--out", metavar="FILE",
                        help="case file (default: tests/<id>.cases.yaml beside the playbook; for a built-in "
                             "playbook, in your playbook folder ~/.config/triage/playbooks/tests/)")


@command("record", "run a playbook against AWS and save the responses as a test case", arguments=_arguments, aws=True)
def cmd_record(args, env) -> int:
    from .. import casefile, catalog, engine, playbook
    from ..sanitize import clean
    from .run import aws_settings, option, parse_inputs

    path = Path(args.playbook)
    if path.is_file():
        pb = playbook.load(path, origin="file")
        origin = "file"
    else:
        entries = catalog.discover(option(args, "playbooks"))
        if args.playbook not in entries:
            raise UsageError(f"{args.playbook}: not a playbook file or a known playbook id", "see `triage playbooks`")
        entry = entries[args.playbook]
        pb = playbook.load(entry.path, origin=entry.origin)
        path, origin = entry.path, entry.origin
    out = Path(args.out) if args.out else default_target(path, pb.id, origin)
    casefile.check_writable(out, pb.id, args.name, replace=args.replace)  # before any AWS work
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
    how = casefile.write_case(out, pb.id, case, replace=args.replace)
    expect = case["expect"]
    if option(args, "output", "text") == "json":
        from ..render.json import render_json
        render_json({"action": how, "case": name, "file": str(out), "playbook": pb.id, "calls": len(case["calls"]),
                     "findings": expect["findings"], "unchecked": expect["unchecked"]}, env.stdout)
    else:
        env.stdout.write(clean(f"{how} case '{name}' to {out}: {len(case['calls'])} calls, "
                               f"findings [{', '.join(expect['findings'])}], unchecked [{', '.join(expect['unchecked'])}]")
                         + "\n")
    if not args.out and _builtin(path, origin):
        env.stderr.write(clean(f"note: {pb.id} is a built-in playbook; its shipped cases are unchanged. "
                               f"Replay yours with: triage test {out}") + "\n")
    return ExitStatus.OK


def user_folder() -> Path:
    """The user's playbook folder (the one catalog.user_dirs reads first)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "triage" / "playbooks"


def _protected() -> list[Path]:
    """Folders triage never writes a case into unless --out names them: the
    shipped playbooks (in the wheel or the repository) and the package itself."""
    from .. import catalog
    package = Path(__file__).resolve().parent.parent
    return [catalog.builtin_dir().resolve(), package]


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def _builtin(path: Path, origin: str) -> bool:
    return origin == "built-in" or any(_inside(path, folder) for folder in _protected())


def default_target(path: Path, playbook_id: str, origin: str) -> Path:
    """Where a case goes without --out (see the module docstring)."""
    from .. import casefile

    if not _builtin(path, origin):
        target = casefile.cases_path(path, playbook_id)
        if not any(_inside(target, folder) for folder in _protected()):
            return target
    folder = user_folder()
    target = folder / "tests" / f"{playbook_id}{casefile.SUFFIX}"
    if folder.is_dir() and not any(_inside(target, f) for f in _protected()):
        return target
    raise UsageError(f"{playbook_id} is a built-in playbook: its cases ship with triage and are not recorded over, "
                     f"and there is no user playbook folder ({folder}) to record into",
                     f"pass --out FILE (e.g. --out ./tests/{playbook_id}{casefile.SUFFIX}), "
                     f"or create {folder} to record into {folder / 'tests'}")


def _default_name(given: dict, findings: list[str]) -> str:
    """<first input>-<first finding or 'healthy'>; an ARN contributes its last part."""
    first = next((v for v in given.values() if v not in (None, "", [])), "case")
    if isinstance(first, list):
        first = first[0]
    word = re.split(r"[/:]", str(first))[-1] or str(first)
    base = re.sub(r"[^A-Za-z0-9]+", "-", word).strip("-").lower()[:40] or "case"
    return f"{base}-{findings[0] if findings else 'healthy'}"
