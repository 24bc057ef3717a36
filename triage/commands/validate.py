from __future__ import annotations

from ..errors import ExitStatus, PlaybookError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE|DIR", help="playbook files, or folders of them")


def _expand(items: list[str]) -> list[str]:
    """A folder stands for its *.yaml playbooks (not its tests/ case files)."""
    from pathlib import Path

    out: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.glob("*.y*ml") if not p.name.endswith(".cases.yaml"))
            if not found:
                from ..errors import UsageError
                raise UsageError(f"{item}: no playbooks (*.yaml) in this folder")
            out += found
        else:
            out.append(item)
    return out


@command("validate", "validate playbook files (schema, JMESPath, botocore models, read-only)", arguments=_arguments)
def cmd_validate(args, env) -> int:
    """Text: one line per valid file, every problem of the others. JSON (-o json):
    {"valid": bool, "files": [{file, ok, id, steps, checks, depth, problems: [{file, line, message, hint}]}]}."""
    from .. import playbook
    from .playbooks import problem_dict
    from .run import option

    as_json = option(args, "output", "text") == "json"
    files = []
    for f in _expand(args.files):
        try:
            pb = playbook.load(f, origin="file")
        except PlaybookError as exc:
            files.append({"file": f, "ok": False, "id": None, "steps": None, "checks": None, "depth": None,
                          "problems": [problem_dict(p) for p in exc.problems]
                          or [{"file": f, "line": None, "message": exc.message, "hint": exc.hint}]})
            if not as_json:
                env.stdout.write(exc.message + "\n")
            continue
        files.append({"file": f, "ok": True, "id": pb.id, "steps": len(pb.steps), "checks": len(pb.checks),
                      "depth": pb.step_depth(), "problems": []})
        if not as_json:
            env.stdout.write(f"{f}: ok ({pb.id}: {len(pb.steps)} steps, {len(pb.checks)} checks, "
                             f"dependency depth {pb.step_depth()})\n")
    valid = all(entry["ok"] for entry in files)
    if as_json:
        from ..render.json import render_json
        render_json({"valid": valid, "files": files}, env.stdout)
    return ExitStatus.OK if valid else ExitStatus.USAGE
