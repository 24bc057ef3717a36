"""Terminal output with rich. Every string from AWS or the user is put in a
rich.Text (never parsed as markup). Commands are printed unwrapped so they
copy and paste as one line."""
from __future__ import annotations

import os
from typing import TextIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

from .values import command_line_flags, command_line_inputs, lines, unchecked_by_cause, verdict

THEME = Theme({
    "critical": "bold white on red", "high": "bold red", "medium": "bold yellow", "low": "cyan", "info": "dim",
    "ok": "bold green", "unchecked": "yellow", "muted": "dim", "command": "bold", "check-id": "dim cyan",
})


def console_for(out: TextIO, color: bool | None = None, width: int | None = None) -> Console:
    """color: True forces it, False turns it off, None decides (terminal, NO_COLOR)."""
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    return Console(file=out, theme=THEME, highlight=False, markup=False, emoji=False, width=width,
                   force_terminal=color if color else None, no_color=color is False,
                   color_system="auto" if color is not False else None)


def finding_renderable(index: int, f: dict):
    sev = f["severity"]
    head = Text.assemble((f" {sev.upper()} ", sev), " ", (f["title"], "bold"))
    parts: list = [Text(f["explanation"].strip())]
    if f["evidence"]:
        table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
        table.add_column(style="muted", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in f["evidence"].items():
            table.add_row(Text(name), Text("\n".join(lines(value))))
        parts += [Text(""), Text("Evidence", style="bold"), table]
    fix = f.get("fix") or {}
    if fix.get("text") or fix.get("commands"):
        parts += [Text(""), Text("Fix", style="bold"), Text(fix.get("text", "").strip())]
    # The finding id in the subtitle: a long title is cut at the panel's width, the id never is.
    return Panel(Group(*parts), title=head, title_align="left", border_style=sev if sev != "critical" else "red",
                 subtitle=Text.assemble((f"[{f['check']}]", "check-id"), " ", (f"#{index}", "muted")),
                 subtitle_align="right")


def render_text(data: dict, out: TextIO, *, color: bool | None = None, width: int | None = None) -> None:
    console = console_for(out, color, width)
    # the command that runs it again: a playbook file is not a subcommand
    if data.get("file"):
        import shlex
        command, inputs = f"run {shlex.quote(data['file'])}", command_line_inputs(data["inputs"])
    else:
        command, inputs = data["playbook"], command_line_flags(data["inputs"])
    region = data.get("region") or "?"
    if data.get("region_source"):
        region += f", {data['region_source']}"
    console.print(Text.assemble(("triage ", "bold"), (command, "bold cyan"), " ", inputs,
                                (f"  (region {region})", "muted")), soft_wrap=True)   # one line, to copy
    if data.get("title"):
        console.print(Text(data["title"], style="muted"))
    console.print()
    summary = verdict(data)
    if summary:
        console.print(Text(summary[1], style=summary[0]))
    for i, f in enumerate(data["findings"], 1):
        console.print(finding_renderable(i, f))
        commands = (f.get("fix") or {}).get("commands") or []
        for cmd in commands:
            console.print(Text(cmd, style="command"), soft_wrap=True)
        if commands:
            console.print()
    for o in data.get("observations") or []:   # problems seen only in evidence older than the fix
        console.print(Text.assemble((o["check"], "check-id"), ": ", ("fixed, under observation", "ok"),
                                    " — ", o["note"].strip()))
    if data.get("observations"):
        console.print()
    if data["unchecked"]:
        total = data.get("checks") or len(data["unchecked"])
        console.print(Text(f"Not evaluated ({len(data['unchecked'])} of {total} check{'s' if total != 1 else ''}), "
                           f"by cause", style="unchecked"))
        for reason, checks in unchecked_by_cause(data["unchecked"]):
            console.print(Text.assemble("  ", (", ".join(checks), "check-id"), ": ", reason))
        console.print()
    if (data.get("change_search") or {}).get("window"):   # every diagnosis that looked ends with them
        from ..changes.present import text_renderable
        console.print(text_renderable(data))
        console.print()
    calls = data.get("calls", [])
    cached = sum(1 for c in calls if c.get("cached"))
    failed = sum(1 for c in calls if c.get("error"))
    # errors include answers such as NoSuchEntity that a playbook expects
    summary = f"{len(calls)} API calls ({cached} cached, {failed} with errors) in {data.get('seconds', 0):.2f} s"
    oldest = max((c.get("age_s") or 0 for c in calls if c.get("cached")), default=0)
    if oldest >= 1:   # answers from an earlier command (REPL): say how old they are
        summary += f"; cached answers up to {oldest:.0f} s old (`refresh` to read AWS again)"
    if (data.get("change_search") or {}).get("calls"):
        summary += f"; {len(data['change_search']['calls'])} more for recent changes"
    console.print(Text(summary, style="muted"))
    if data.get("error") and verdict(data) is None:   # the verdict above says it when there are no findings
        console.print(Text(f"AWS unavailable: {data['error']}", style="high"))
