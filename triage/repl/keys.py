"""Key bindings: a multi-line bracketed paste is an error message pasted
as-is, so it is submitted at once and routed by `explain` (a single-line
paste is just inserted, like typing)."""
from __future__ import annotations

from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys


def key_bindings(repl) -> KeyBindings:
    kb = KeyBindings()

    @kb.add(Keys.BracketedPaste)
    def _paste(event) -> None:
        data = event.data.replace("\r\n", "\n").replace("\r", "\n")
        buffer = event.current_buffer
        if "\n" in data.strip():
            buffer.text = (buffer.text + data).strip()
            buffer.validate_and_handle()
        else:
            buffer.insert_text(data.rstrip("\n"))

    return kb
