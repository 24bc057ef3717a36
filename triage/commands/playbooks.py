from __future__ import annotations

from ..errors import ExitStatus
from . import command


@command("playbooks", "list playbooks and where each comes from")
def cmd_playbooks(args, env) -> int:
    from rich.table import Table
    from rich.text import Text

    from .. import catalog
    from ..render.text import console_for

    entries = catalog.discover(getattr(args, "playbooks", None))
    table = Table(box=None, pad_edge=False)
    for col in ("playbook", "title", "inputs", "from"):
        table.add_column(col)
    for e in sorted(entries.values(), key=lambda e: e.id):
        flags = " ".join(("--" + k.replace("_", "-")) + ("" if v.get("required") else "?") for k, v in e.inputs.items())
        origin = e.origin + (f" (overrides {e.overrides})" if e.overrides else "")
        title = e.title if not e.error else f"BROKEN: {e.error}"
        table.add_row(Text(e.id, style="bold cyan"), Text(title), Text(flags), Text(origin, style="dim"))
    console_for(env.stdout).print(table)
    return ExitStatus.OK
