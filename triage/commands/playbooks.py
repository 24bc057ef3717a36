from __future__ import annotations

from ..catalog import flag
from ..errors import ExitStatus
from . import command


def _arguments(parser) -> None:
    parser.add_argument("--validate", action="store_true",
                        help="fully validate each playbook and mark the broken ones (exit 2 if any)")


@command("playbooks", "list playbooks and where each comes from", arguments=_arguments)
def cmd_playbooks(args, env) -> int:
    from .. import catalog
    from .run import option

    validate = bool(getattr(args, "validate", False))
    entries = sorted(catalog.discover(option(args, "playbooks")).values(), key=lambda e: e.id)
    problems: dict[str, list] = {}
    for e in entries:
        if validate and not e.error:
            problems[e.id] = _problems(e)
            if problems[e.id]:
                e.error = _first(problems[e.id])
    broken = sum(bool(e.error) for e in entries)
    if option(args, "output", "text") == "json":
        from ..render.json import render_json
        render_json(listing(entries, problems, validate), env.stdout)
    else:
        _render_table(entries, args, env)
    return ExitStatus.USAGE if broken and validate else ExitStatus.OK


def listing(entries, problems: dict[str, list], validated: bool) -> dict:
    """The JSON document of `triage playbooks -o json`:
    {"validated": bool, "broken": n, "playbooks": [{id, title, summary, origin, path,
    overrides, inputs: [{name, flag, required}], error, problems: [{file, line, message, hint}]}]}."""
    from ..sanitize import clean

    rows = []
    for e in entries:
        rows.append({
            "id": e.id, "title": clean(e.title), "summary": clean(e.summary), "origin": e.origin,
            "path": str(e.path), "overrides": e.overrides,
            "inputs": [{"name": k, "flag": flag(k), "required": bool(v.get("required"))} for k, v in e.inputs.items()],
            "error": clean(e.error) if e.error else None,
            "problems": [problem_dict(p) for p in problems.get(e.id, [])],
        })
    return {"validated": validated, "broken": sum(bool(r["error"]) for r in rows), "playbooks": rows}


def problem_dict(p) -> dict:
    """A Problem (file:line: message, hint) as JSON."""
    from ..sanitize import clean
    return {"file": p.file, "line": p.line, "message": clean(p.message), "hint": clean(p.hint) if p.hint else None}


def _render_table(entries, args, env) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..render.text import console_for
    from ..sanitize import clean
    from .run import color_option

    table = Table(box=None, pad_edge=False)
    for col in ("playbook", "title", "inputs", "from"):
        table.add_column(col)
    for e in entries:
        flags = " ".join(flag(k) + ("" if v.get("required") else "?") for k, v in e.inputs.items())
        origin = e.origin + (f" (overrides {e.overrides})" if e.overrides else "")
        title = clean(e.title) if not e.error else clean(f"BROKEN: {e.error}")
        table.add_row(Text(e.id, style="bold cyan"), Text(title), Text(flags), Text(origin, style="dim"))
    console_for(env.stdout, color_option(args)).print(table)


def _problems(entry) -> list:
    """Every validation problem of a playbook (Problem objects), [] when it is valid."""
    from .. import playbook
    from ..errors import PlaybookError, Problem

    try:
        playbook.load(entry.path, origin=entry.origin)
    except PlaybookError as exc:
        return list(exc.problems) or [Problem(str(entry.path), None, exc.message)]
    return []


def _first(problems: list) -> str:
    """The first problem as one line (file:line: message), with how many more."""
    first = problems[0]
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    where = f"{first.file}:{first.line}" if first.line else first.file
    return f"{where}: {first.message}{more}"
