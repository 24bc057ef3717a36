"""An AWS error pasted as-is (or `explain TEXT`): routed by triage.explain
to the playbook that diagnoses it, the facts it could read are shown, the
required inputs it could not infer are asked for (with completion), then
the playbook runs like any other command."""
from __future__ import annotations

from ..errors import UsageError


def explain(repl, text: str, unknown_word: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    from .. import catalog
    from ..sanitize import clean

    try:
        from ..explain import route
    except ImportError:  # pragma: no cover - explain ships separately
        raise UsageError("this build has no `explain` (triage/explain.py is missing)") from None

    routing = route(text, repl.entries)
    if routing.routed_to is None:
        if unknown_word is not None:   # most likely a mistyped command, not an error message
            from ..suggest import suggest
            from .commands import REPL_COMMANDS
            guess = suggest(unknown_word, sorted(set(REPL_COMMANDS) | repl.parser_commands()))
            raise UsageError(f"`{clean(unknown_word)}` is not a command, and the line is not an AWS error "
                             f"triage can route ({routing.reason})",
                             f"did you mean `{guess}`?" if guess else "`help` lists the commands")
        raise UsageError(f"not an AWS error triage can route: {routing.reason}",
                         "paste the whole message, or run a playbook directly (`help` lists them)")
    note = f"Routed to {routing.routed_to}: {routing.reason}"
    repl.current.note = repl.redactor.text(note)
    repl.print(clean(repl.current.note), style="bold")
    facts = {k: v for k, v in (routing.extracted or {}).items() if v not in (None, "", [], {})}
    if facts:
        table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 2))
        table.add_column(style="muted", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in facts.items():
            table.add_row(Text(str(name)), Text(clean(repl.redactor.text(str(value)))))
        repl.print(table)
    entry = repl.entries.get(routing.routed_to)
    if entry is None or entry.error:
        raise UsageError(f"routed to playbook {routing.routed_to!r}, which is not installed or is broken",
                         "`playbooks` lists what is installed")
    pb = catalog.load(entry)
    inputs = {k: v for k, v in dict(routing.inputs or {}).items() if k in pb.inputs and v is not None}
    for name in routing.missing:
        if name in inputs or name not in pb.inputs:
            continue
        inputs[name] = ask(repl, pb, name, entry.inputs.get(name, {}))
    shown = " ".join(f"{pb.inputs[k].flag} {v}" for k, values in inputs.items()
                     for v in (values if isinstance(values, list) else [values]))
    repl.print(f"Running: {pb.id} {clean(repl.redactor.text(shown))}".rstrip(), style="muted")
    repl.run_playbook(pb, inputs)


def ask(repl, pb, name: str, spec: dict, optional: bool = False) -> str:
    """One question, with the input's completion; empty or Ctrl-C abandons (an empty
    answer to an `optional` question runs without the input)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import ThreadedCompleter
    from prompt_toolkit.history import InMemoryHistory

    from .completer import InputCompleter
    from .toolbar import STYLE

    spec_obj = pb.inputs[name]
    hint = f" ({spec_obj.help})" if spec_obj.help else ""
    session: PromptSession = PromptSession(
        history=InMemoryHistory(), completer=ThreadedCompleter(InputCompleter(repl, spec)),
        complete_while_typing=True, style=STYLE, input=repl.input, output=repl.output)
    extra = " (Enter to go on without it)" if optional else ""
    answer = session.prompt(f"{spec_obj.flag}{hint}{extra}: ").strip()
    repl.print(f"{spec_obj.flag}: {answer}", style="muted")   # the question and answer, for the transcript
    if not answer and optional:
        return ""
    if not answer:
        raise UsageError(f"{pb.id} needs {spec_obj.flag}; nothing was run",
                         f"run it yourself: {pb.id} {spec_obj.flag} VALUE")
    return answer
