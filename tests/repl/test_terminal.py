"""`triage` in a real pseudo-terminal (pexpect) against the moto server,
with the screen rebuilt by a terminal emulator (pyte) and read like a
person would: the prompt, the toolbar, Tab completion, a diagnosis, Ctrl-D."""
from __future__ import annotations

import os
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect")
pyte = pytest.importorskip("pyte")

ROWS, COLS = 40, 120


class Screen:
    def __init__(self, child) -> None:
        self.child = child
        self.screen = pyte.Screen(COLS, ROWS)
        # answer the cursor position requests prompt-toolkit sends, as a terminal does
        self.screen.write_process_input = lambda data: child.send(data)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""

    def pump(self) -> None:
        try:
            while True:
                data = self.child.read_nonblocking(65536, timeout=0.05)
                self.raw += data
                self.stream.feed(data)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if needle in self.text():
                return self.text()
            if time.monotonic() > deadline or not self.child.isalive() and needle not in self.text():
                raise AssertionError(f"{needle!r} never appeared; screen:\n{self.text()}")


def test_triage_on_a_terminal_is_the_repl(world, xdg):
    env = {**os.environ, "AWS_ENDPOINT_URL": world.url, "AWS_REGION": "us-east-1", "TERM": "xterm",
           "COLUMNS": str(COLS), "LINES": str(ROWS)}
    child = pexpect.spawn(sys.executable, ["-m", "triage"], env=env, dimensions=(ROWS, COLS), cwd=str(xdg))
    try:
        screen = Screen(child)
        first = screen.wait_for("triage>")
        assert "type a playbook, paste an AWS error" in first
        # the toolbar: the account arrives in the background, the region and endpoint at once
        bar = screen.wait_for("account 123456789012")
        assert "region us-east-1" in bar and f"endpoint {world.url}" in bar
        child.send("lambda-timeout --function migrate-")
        child.send("\t")
        screen.wait_for("triage> lambda-timeout --function migrate-db")
        child.send("\r")
        shown = screen.wait_for("[at-hard-limit]")
        screen.wait_for("API calls (0 cached, 0 with errors)")
        assert "hits Lambda's 15-minute hard limit" in shown
        child.send("calls\r")
        screen.wait_for("answered from the session cache")
        child.send("\x04")
        screen.wait_for("Goodbye.")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert b"Traceback" not in screen.raw
    assert (xdg / "state" / "triage" / "history").read_text().count("+lambda-timeout --function migrate-db") == 1
