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


def test_regions_are_checked_as_on_the_command_line(world):
    s = drive(world.url, "use region ap-southeast-9" + ENTER + "use region us-east-1" + ENTER
              + "lambda-timeout --function orders-etl --region mars-1" + ENTER + CTRL_D)
    assert "warning: 'ap-southeast-9' is not a region this botocore knows" in s.out
    assert "region is now ap-southeast-9" in s.out
    assert "error: --region 'mars-1' is not an AWS region name" in s.out
    assert "[timeout-too-low]" not in s.out                      # no run with a region that cannot exist
