from __future__ import annotations

from ..errors import ExitStatus, PlaybookError
from . import command


def _arguments(parser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE")


@command("validate", "validate playbook files (schema, JMESPath, botocore models, read-only)", arguments=_arguments)
def cmd_validate(args, env) -> int:
    from .. import playbook

    status = ExitStatus.OK
    for f in args.files:
        try:
            pb = playbook.load(f, origin="file")
            env.stdout.write(f"{f}: ok ({pb.id}: {len(pb.steps)} steps, {len(pb.checks)} checks, "
                             f"dependency depth {pb.step_depth()})\n")
        except PlaybookError as exc:
            env.stdout.write(exc.message + "\n")
            status = ExitStatus.USAGE
    return status
