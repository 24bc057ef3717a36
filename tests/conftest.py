"""Shared fixtures: one moto server per test session (per xdist worker),
seeded once with every incident scenario. triage only reads, so tests can
share the seeded world."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import pytest

from triage.demo.scenarios import seed_all
from triage.demo.server import DEMO_ENV, MotoServer

for key, value in DEMO_ENV.items():
    os.environ[key] = value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


# --- LookupEvents pacing at moto endpoints -----------------------------------
# triage paces CloudTrail LookupEvents at AWS's 2 a second with one pacer per
# endpoint and region for the whole process. A CLI run is one process, but the
# suite makes thousands of runs in one process against the same moto server,
# so each run waited up to a second for its turn, for a request moto does not
# implement. The moto servers the suite starts are not paced (lookup.unpaced,
# as the demo does); the pacer itself is tested in tests/changes/test_pacing.py,
# LookupEvents answers and throttling through the fault proxy (its own
# endpoint: still paced), and bench/bench_changes.py measures the real 2 a second.
def unpaced(url: str) -> str:
    from triage.changes.lookup import unpaced as unpace

    unpace(url)
    return url


@pytest.fixture(scope="session")
def moto_server():
    with MotoServer() as server:
        unpaced(server.url)
        yield server


@pytest.fixture(scope="session")
def world(moto_server):
    """The seeded incidents: the server URL and the cases with their expected findings."""
    cases = seed_all(moto_server.url)
    return World(moto_server.url, cases)


@dataclass
class World:
    url: str
    cases: list

    def case(self, **inputs):
        return next(c for c in self.cases if all(c.inputs.get(k) == v for k, v in inputs.items()))


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*argv: str, endpoint: str | None = None) -> Result:
    from triage.cli import Env, main

    out, err = io.StringIO(), io.StringIO()
    args = list(argv)
    if endpoint:
        args += ["--endpoint-url", endpoint, "--region", "us-east-1"]
    code = main(args, Env(stdout=out, stderr=err, stdin_isatty=False, stdout_isatty=False))
    return Result(int(code), out.getvalue(), err.getvalue())


@pytest.fixture
def cli(world):
    """Run the CLI against the seeded moto world."""
    return lambda *argv: run_cli(*argv, endpoint=world.url)
