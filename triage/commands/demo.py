from __future__ import annotations

from . import command


def _arguments(parser) -> None:
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")


@command("demo", "offline demo: embedded moto server with seeded incidents", arguments=_arguments, repl=False)
def cmd_demo(args, env) -> int:
    from ..demo.run import run_demo
    return run_demo(args, env)
