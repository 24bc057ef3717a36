"""`help`, generated from the registries: playbooks (the catalog), the
CLI's commands that work in the REPL, and the REPL's own commands."""
from __future__ import annotations

from ..errors import UsageError


def show_help(repl, topic: str) -> None:
    from rich.table import Table
    from rich.text import Text

    from ..cli import parse_args
    from ..commands import registry
    from ..suggest import suggest
    from .commands import REPL_COMMANDS, resolve

    if topic:
        command = resolve(topic)
        if command is not None:
            repl.print(Text(command.syntax, style="bold"))
            repl.print(command.help)
            return
        if topic in repl.parser_commands():
            parse_args(repl.parser, [topic, "--help"], repl.env())   # argparse's own help for its flags
            return
        known = sorted(set(REPL_COMMANDS) | repl.parser_commands())
        guess = suggest(topic, known)
        raise UsageError(f"no command {topic!r}", f"did you mean `help {guess}`?" if guess else "`help` lists them")

    def section(title: str, rows: list[tuple[str, str]]) -> None:
        table = Table(box=None, pad_edge=False, show_header=False, padding=(0, 2, 0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for name, text in rows:
            table.add_row(Text(name), Text(text))
        repl.print(Text(title, style="bold"), table)

    playbooks = sorted((e for e in repl.entries.values() if not e.error), key=lambda e: e.id)
    section("Playbooks (flags as on the command line; `help ID` lists them)",
            [(e.id + " " + " ".join(f"--{k.replace('_', '-')}" for k, v in e.inputs.items() if v.get("required")),
              e.title) for e in playbooks])
    section("Commands", [(c.name, c.help) for c in registry().values() if c.repl and c.name != "explain"])
    section("Session", [(c.syntax, c.help) for c in REPL_COMMANDS.values()])
    repl.print("Paste an AWS error message as-is to have it routed. Tab completes commands, flags and live "
               "resource names. Ctrl-C cancels a run, Ctrl-D quits.", style="muted")
