"""Whole REPL sessions driven through prompt-toolkit's pipe input against
the seeded moto world; the session's output goes to a StringIO (no colour,
fixed width) and prompt-toolkit's own drawing to a DummyOutput."""
from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass

import pytest

ENTER = "\r"
CTRL_C = "\x03"
CTRL_D = "\x04"
TAB = "\t"


def paste(text: str) -> str:
    """A bracketed paste, as a terminal sends it."""
    return f"\x1b[200~{text}\x1b[201~"


@pytest.fixture(autouse=True)
def xdg(tmp_path, monkeypatch):
    """History and config in a temporary XDG home, never the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_repl(url: str, inp, out: io.StringIO, history: str | None = None, **config):
    from prompt_toolkit.output import DummyOutput

    from triage.repl.config import Config
    from triage.repl.session import Repl

    config.setdefault("prefetch", False)
    return Repl(Config(**config), out=out, input=inp, output=DummyOutput(), endpoint_url=url,
                region="us-east-1", history=history, color=False, width=110)


@dataclass
class Session:
    repl: object
    out: str


def drive(url: str, keys: str, history: str | None = None, **config) -> Session:
    """Type `keys` into a fresh session (everything up front, like fast typing) and run it to the end."""
    from prompt_toolkit.input import create_pipe_input

    out = io.StringIO()
    with create_pipe_input() as inp:
        inp.send_text(keys)
        repl = make_repl(url, inp, out, history, **config)
        repl.loop()
    return Session(repl, out.getvalue())


class Live:
    """A session on its own thread, fed key by key, for what must happen mid-run."""

    def __init__(self, url: str, **config) -> None:
        from prompt_toolkit.input import create_pipe_input

        self.out = io.StringIO()
        self._pipe = create_pipe_input()
        self.inp = self._pipe.__enter__()
        self.repl = make_repl(url, self.inp, self.out, **config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.repl.loop()
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def send(self, keys: str) -> None:
        self.inp.send_text(keys)

    def wait_until(self, condition, timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; output so far:\n{self.out.getvalue()}")
            time.sleep(0.01)

    def finish(self, timeout: float = 30.0) -> str:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"session did not end; output:\n{self.out.getvalue()}"
        self._pipe.__exit__(None, None, None)
        if self.error:
            raise self.error
        return self.out.getvalue()
