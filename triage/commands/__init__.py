"""One registry of commands, shared by the CLI (one subcommand each) and the
REPL (same names, same arguments, `help` generated from it). A command
module registers itself with @command and must stay cheap to import: heavy
imports (boto3, rich, moto) go inside the handler."""
from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Callable

# Modules that define commands, in the order `--help` lists them.
MODULES = ("run", "explain", "playbooks", "validate", "schema", "demo", "new", "test", "record", "permissions", "scan", "network_path", "iam", "changes")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: Callable                      # (args, env) -> exit status
    arguments: Callable[[argparse.ArgumentParser], None]
    repl: bool = True                      # offered inside the REPL too
    aws: bool = False                      # takes --profile/--region/... and --output


_REGISTRY: dict[str, Command] = {}


def command(name: str, help: str, *, arguments: Callable | None = None, repl: bool = True, aws: bool = False):
    def register(fn: Callable) -> Callable:
        _REGISTRY[name] = Command(name, help, fn, arguments or (lambda parser: None), repl, aws)
        return fn
    return register


def registry() -> dict[str, Command]:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return _REGISTRY
