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
    from .. import playbook

    status = ExitStatus.OK
    for f in _expand(args.files):
        try:
            pb = playbook.load(f, origin="file")
            env.stdout.write(f"{f}: ok ({pb.id}: {len(pb.steps)} steps, {len(pb.checks)} checks, "
                             f"dependency depth {pb.step_depth()})\n")
        except PlaybookError as exc:
            env.stdout.write(exc.message + "\n")
            status = ExitStatus.USAGE
    return status
