"""`triage new ID`: a commented playbook skeleton that validates and passes
its own test cases, and the case file beside it (tests/ID.cases.yaml)."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import ExitStatus, UsageError
from . import command

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _arguments(parser) -> None:
    parser.add_argument("id", help="playbook id, kebab-case (e.g. api-gateway-502)")
    parser.add_argument("--dir", default=".", help="folder to write into (default: the current one)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


@command("new", "write a commented playbook skeleton and its test cases", arguments=_arguments)
def cmd_new(args, env) -> int:
    from importlib import resources

    from .. import casefile, catalog
    from . import registry

    pid = args.id
    if not _ID.match(pid):
        guess = re.sub(r"[^a-z0-9]+", "-", pid.lower()).strip("-")
        raise UsageError(f"'{pid}' is not a valid playbook id",
                         f"use lowercase words joined by '-', e.g. {guess if guess and _ID.match(guess) else 'lambda-timeout'}")
    if pid in registry() or catalog.id_clash(pid):
        raise UsageError(f"'{pid}' is a triage command; a playbook with that id could not be run as `triage {pid}`",
                         "choose another id")
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir {args.dir}: not a folder")
    book, cases = folder / f"{pid}.yaml", casefile.cases_path(folder / f"{pid}.yaml", pid)
    existing = [str(p) for p in (book, cases) if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}",
                         "pick another id, or pass --force to overwrite")
    templates = resources.files("triage").joinpath("templates")
    schema = Path(str(resources.files("triage").joinpath("schema/playbook.schema.json"))).resolve()
    title = pid.replace("-", " ").capitalize()
    fill = {"__ID__": pid, "__TITLE__": title, "__SCHEMA__": schema.as_uri()}
    cases.parent.mkdir(parents=True, exist_ok=True)
    for target, name in ((book, "playbook.yaml"), (cases, "cases.yaml")):
        text = templates.joinpath(name).read_text(encoding="utf-8")
        for key, value in fill.items():
            text = text.replace(key, value)
        target.write_text(text, encoding="utf-8")
    builtin = pid in catalog.discover()
    env.stdout.write(
        f"wrote {book}  (the playbook: edit its inputs, steps and checks)\n"
        f"wrote {cases}  (its test cases)\n"
        + (f"note: a built-in playbook is also called {pid}; yours overrides it when its folder is a playbook folder\n"
           if builtin else "")
        + "next:\n"
        f"  triage validate {book}\n"
        f"  triage test {book}\n"
        f"  triage run {book} --input function=NAME\n"
        f"  triage record {book} --input function=NAME --name CASE   # a case from real AWS\n"
        f"  move both into ~/.config/triage/playbooks/ (or pass --playbooks DIR) to get `triage {pid}`\n")
    return ExitStatus.OK
