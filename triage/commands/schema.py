from __future__ import annotations

from ..errors import ExitStatus
from . import command


@command("schema", "print the playbook JSON Schema (for editors)")
def cmd_schema(args, env) -> int:
    from importlib import resources

    env.stdout.write(resources.files("triage").joinpath("schema/playbook.schema.json").read_text())
    return ExitStatus.OK
