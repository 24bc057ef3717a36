from __future__ import annotations

from ..catalog import flag
from ..errors import ExitStatus
from . import command


def _arguments(parser) -> None:
    parser.add_argument("--validate", action="store_true",
                        help="fully validate each playbook and mark the broken ones (exit 2 if any)")


@command("playbooks", "list playbooks and where each comes from", arguments=_arguments)
def cmd_playbooks(args, env) -> int:
    from rich.table import Table
    from rich.text import Text

    from .. import catalog
    from ..render.text import console_for
    from .run import color_option

    entries = catalog.discover(getattr(args, "playbooks", None))
    table = Table(box=None, pad_edge=False)
    for col in ("playbook", "title", "inputs", "from"):
        table.add_column(col)
    broken = 0
    for e in sorted(entries.values(), key=lambda e: e.id):
        if getattr(args, "validate", False) and not e.error:
            e.error = _problem(e)
        broken += bool(e.error)
        flags = " ".join(flag(k) + ("" if v.get("required") else "?") for k, v in e.inputs.items())
        origin = e.origin + (f" (overrides {e.overrides})" if e.overrides else "")
        title = e.title if not e.error else f"BROKEN: {e.error}"
        table.add_row(Text(e.id, style="bold cyan"), Text(title), Text(flags), Text(origin, style="dim"))
    console_for(env.stdout, color_option(args)).print(table)
    return ExitStatus.USAGE if broken and getattr(args, "validate", False) else ExitStatus.OK


def _problem(entry) -> str | None:
    """The first validation problem of a playbook (file:line: message), or None."""
    from .. import playbook
    from ..errors import PlaybookError

    try:
        playbook.load(entry.path, origin=entry.origin)
    except PlaybookError as exc:
        first = exc.problems[0] if exc.problems else None
        more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return f"{first.file}:{first.line}: {first.message}{more}" if first else exc.message
    return None
