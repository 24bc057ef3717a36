"""Running a playbook inside the REPL: the engine works on a thread while a
one-line prompt-toolkit application shows a spinner with the running steps
and owns the keyboard, so Ctrl-C (a key in raw mode, or SIGINT) sets the
engine's cancel event and ends the run, not the session. Keys typed during
the run are handed to the next prompt (type-ahead), as a shell would."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress:
    """What the spinner shows; fed by engine progress callbacks (any thread)."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.running: list[str] = []
        self.done = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, event: str, step: str) -> None:
        with self._lock:
            if event == "start":
                self.running.append(step)
            elif event == "done":
                if step in self.running:
                    self.running.remove(step)
                self.done += 1

    def line(self, cancelling: bool) -> str:
        with self._lock:
            frame = FRAMES[int((time.monotonic() - self.started) * 10) % len(FRAMES)]
            if cancelling:
                return f"{frame} {self.label}: cancelling…"
            steps = ", ".join(self.running) or "…"
            return f"{frame} {self.label}: {steps}  ({self.done}/{self.total} steps)  Ctrl-C cancels"


def run_cancellable(work: Callable[[Progress], Any], progress: Progress, cancel: threading.Event, *,
                    input=None, output=None) -> Any:
    """Run work(progress) on a thread; return its result or raise its error."""
    from prompt_toolkit.application import Application
    from prompt_toolkit.input.typeahead import get_typeahead, store_typeahead
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.keys import Keys
    from prompt_toolkit.layout import Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl

    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work(progress)
        except BaseException as exc:  # re-raised on the REPL's thread
            outcome["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=target, daemon=True, name="triage-run")
    worker.start()

    typed: list = []
    kb = KeyBindings()

    @kb.add("c-c")
    @kb.add(Keys.SIGINT)
    def _cancel(event) -> None:
        cancel.set()

    @kb.add(Keys.Any)
    def _type_ahead(event) -> None:
        typed.extend(event.key_sequence)

    app: Application = Application(
        layout=Layout(Window(FormattedTextControl(lambda: [("class:spinner", progress.line(cancel.is_set()))]),
                             height=1)),
        key_bindings=kb, input=input, output=output, refresh_interval=0.1, erase_when_done=True)

    async def watch() -> None:
        while not finished.is_set():
            await asyncio.sleep(0.02)
        app.exit()

    try:
        app.run(pre_run=lambda: app.create_background_task(watch()),
                handle_sigint=threading.current_thread() is threading.main_thread())
    finally:
        if app.input is not None:
            rest = get_typeahead(app.input)
            store_typeahead(app.input, typed + rest)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
