"""Issue 16, item 4, in the REPL: `clear`, `whoami` against an endpoint
that does not answer, the toolbar after a cancelled run, and regions
checked as on the command line. Each failed before its fix."""
from __future__ import annotations

import io
import socket

from prompt_toolkit.output import DummyOutput

from triage.testing.proxy import FaultProxy, blackhole

from .conftest import CTRL_C, CTRL_D, ENTER, Live, drive


def _dead_endpoint() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


class ScreenSpy(DummyOutput):
    def __init__(self) -> None:
        self.erased = 0

    def erase_screen(self) -> None:
        self.erased += 1


def test_clear_clears_the_screen():
    from prompt_toolkit.input import create_pipe_input

    from triage.repl.config import Config
    from triage.repl.session import Repl

    out, screen = io.StringIO(), ScreenSpy()
    with create_pipe_input() as inp:
        inp.send_text("clear" + ENTER + "help" + ENTER + CTRL_D)
        Repl(Config(prefetch=False), out=out, input=inp, output=screen, history=None, color=False, width=110).loop()
    assert screen.erased == 1
    assert "error:" not in out.getvalue(), out.getvalue()       # not an unknown word
    assert "clear the screen" in out.getvalue()                  # in `help`


def test_whoami_against_an_endpoint_that_does_not_answer_says_so_clearly():
    s = drive(_dead_endpoint(), "whoami" + ENTER + CTRL_D)
    assert "internal error" not in s.out and "CallFailed" not in s.out, s.out
    assert "error: cannot tell who you are: sts.GetCallerIdentity at http://127.0.0.1:" in s.out
    assert "Could not connect to the endpoint URL" in s.out
    assert "hint: check the endpoint (`use endpoint URL|default`)" in s.out
    assert s.repl.account is None and s.repl.account_error       # the toolbar shows "unknown (...)"


def test_after_a_cancelled_run_the_toolbar_no_longer_shows_the_previous_runs_findings(world):
    from triage.repl.toolbar import toolbar

    with FaultProxy(world.url) as proxy:
        live = Live(proxy.url)
        live.send("lambda-timeout --function orders-etl" + ENTER)
        live.wait_until(lambda: "[timeout-too-low]" in live.out.getvalue(), what="the first run")
        live.wait_until(lambda: live.repl.last is not None, what="the first run's end")
        assert "last run: 1 finding" in "".join(text for _, text in toolbar(live.repl))
        # another function (the first one's answers are cached): its configuration never arrives
        proxy.add_fault("GetFunctionConfiguration", blackhole(seconds=30))
        live.send("lambda-timeout --function payments-sync" + ENTER)
        live.wait_until(lambda: proxy.count("GetFunctionConfiguration") >= 2, what="the second run's call")
        live.send(CTRL_C)
        live.wait_until(lambda: "cancelled after" in live.out.getvalue(), what="the cancellation")
        bar = "".join(text for _, text in toolbar(live.repl))
        live.send("show 1" + ENTER + CTRL_D)
        out = live.finish()
    assert "last run: cancelled" in bar and "finding" not in bar, bar
    assert "error: nothing to show yet: the last run was cancelled" in out


def test_regions_are_checked_as_on_the_command_line(world):
    s = drive(world.url, "use region ap-southeast-9" + ENTER + "use region us-east-1" + ENTER
              + "lambda-timeout --function orders-etl --region mars-1" + ENTER + CTRL_D)
    assert "warning: 'ap-southeast-9' is not a region this botocore knows" in s.out
    assert "region is now ap-southeast-9" in s.out
    assert "error: --region 'mars-1' is not an AWS region name" in s.out
    assert "[timeout-too-low]" not in s.out                      # no run with a region that cannot exist
