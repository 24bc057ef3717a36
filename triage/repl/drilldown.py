"""`show N`: one finding of the last run in full: its panel and fix, the
JMESPath condition that fired, and the raw (redacted) results of the calls
it read, as syntax-highlighted JSON."""
from __future__ import annotations

import json

from ..errors import UsageError


def show(repl, arg: str) -> None:
    from rich.text import Text

    from ..render.text import finding_renderable
    from ..sanitize import deep_clean

    diagnosis = repl.last
    if diagnosis is None and getattr(repl, "last_note", None) == "cancelled":
        raise UsageError("nothing to show yet: the last run was cancelled", "run it again")
    if diagnosis is None:
        raise UsageError("nothing to show yet", "run a playbook first, e.g. lambda-timeout --function NAME")
    data = diagnosis.to_dict()          # redacted and cleaned
    if not arg:
        if not data["findings"]:
            repl.print(f"The last run ({diagnosis.playbook.id}) had no findings.", style="ok")
        for i, f in enumerate(data["findings"], 1):
            repl.print(Text.assemble((f"#{i} ", "bold"), (f" {f['severity'].upper()} ", f["severity"]), " ",
                                     (f["check"], "check-id"), "  ", f["title"]))
        for u in data["unchecked"]:
            repl.print(Text.assemble(("unchecked ", "unchecked"), (u["check"], "check-id"), ": ", u["reason"]))
        return
    if not arg.isdigit() or not 1 <= int(arg) <= len(data["findings"]):
        count = len(data["findings"])
        raise UsageError(f"show {arg}: the last run has {count} finding{'s' if count != 1 else ''}",
                         f"show 1 … show {count}" if count else "nothing to drill into: it found nothing")
    n = int(arg)
    finding, shown = diagnosis.findings[n - 1], data["findings"][n - 1]
    repl.print(finding_renderable(n, shown))
    for command in shown["fix"]["commands"]:
        repl.print(Text(command, style="command"))
    repl.print(Text("Fired because", style="bold"))
    repl.print(_syntax(repl, finding.when, "text"))
    for sid in finding.steps:
        step = diagnosis.playbook.steps[sid]
        outcome = diagnosis.steps.get(sid)
        status = outcome.status if outcome else "not run"
        repl.print(Text.assemble(("step ", "muted"), (sid, "bold"), (f"  {step.call}", "cyan"), f"  ({status})"))
        if outcome is None or outcome.status == "skipped":
            continue
        if outcome.status == "failed":
            repl.print(f"  {repl.redactor.text(outcome.reason or 'failed')}", style="unchecked")
            continue
        value = deep_clean(_shown(diagnosis.redactor, step, outcome.value))
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        lines = text.splitlines()
        limit = repl.config.drilldown_max_lines
        if limit and len(lines) > limit:
            text = "\n".join(lines[:limit])
        repl.print(_syntax(repl, text, "json"))
        if limit and len(lines) > limit:
            repl.print(f"… {len(lines) - limit} more lines (drilldown_max_lines in the config)", style="muted")


def _shown(redactor, step, value):
    """A step's raw result as it may be shown: what the service model marks
    sensitive and secret-named fields masked (for_each: each item's result)."""
    if step.for_each and isinstance(value, list):
        return [{k: redactor.result(step.service, step.operation, v) if k == "result" else redactor.deep(v)
                 for k, v in r.items()} for r in value]
    return redactor.result(step.service, step.operation, value)


def _syntax(repl, text: str, lexer: str):
    from rich.syntax import Syntax
    return Syntax(text, lexer, theme=repl.config.syntax_style, word_wrap=True, background_color="default")
