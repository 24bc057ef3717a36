"""The interactive REPL (`triage` on a terminal): one module per concern:
session.py (loop, dispatch, the one error edge), commands.py (REPL-only
commands, help registry), completer.py + resource_names.py (completion),
progress.py (spinner, Ctrl-C), toolbar.py, keys.py, config.py + triagerc,
drilldown.py (`show`), transcript.py (`export`), explain_paste.py.
Importing this package is cheap: prompt-toolkit, rich and boto3 load on use."""
from __future__ import annotations


def start(args, env) -> int:
    from .session import start as _start
    return _start(args, env)
