"""Completion: command names, playbook ids, the chosen playbook's --flags,
choices, and live resource names from each input's declared `complete`
source (see resource_names.py). Runs inside prompt-toolkit's
ThreadedCompleter, so a slow AWS answer never blocks typing."""
from __future__ import annotations

from typing import Iterable

from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from ..catalog import flag
from ..render import FORMATS

# Options every playbook command accepts (cli.common_options), minus the
# ones that make no sense inside a session.
COMMON_FLAGS = {"--output": "text, json or markdown", "--deadline": "seconds to wait for AWS",
                "--region": "one-off region for this run", "--profile": "one-off profile for this run",
                "--endpoint-url": "one-off endpoint for this run"}
OUTPUTS = FORMATS
WAIT_FOR_NAMES_S = 2.0   # inside the completer thread only


def source_of(spec: dict):
    """The Completion source declared by a playbook input header, or None."""
    raw = spec.get("complete") if isinstance(spec, dict) else None
    if not isinstance(raw, dict) or "." not in str(raw.get("call", "")) or not raw.get("query"):
        return None
    from ..playbook import Completion as Source
    service, operation = str(raw["call"]).split(".", 1)
    params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
    return Source(service, operation, dict(params), str(raw["query"]), bool(raw.get("paginate")))


def matching(word: str, candidates: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Prefix matches first, then substring matches (`etl` finds orders-etl)."""
    items = list(dict.fromkeys(candidates))
    low = word.lower()
    first = [c for c in items if c[0].lower().startswith(low)]
    then = [c for c in items if low and low in c[0].lower() and c not in first]
    return first + then


class TriageCompleter(Completer):
    def __init__(self, repl) -> None:
        self.repl = repl
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event):
        text = document.text_before_cursor
        if "\n" in text:
            return
        words = text.split()
        current = "" if not words or text[-1:].isspace() else words[-1]
        before = words if current == "" else words[:-1]
        if not before:
            yield from self._emit(current, self.commands())
            return
        head = before[0]
        prev = before[-1] if len(before) > 1 else None
        entry = self._playbook(head)
        if entry is not None:
            yield from self._playbook_args(entry, before, prev, current)
        elif head in ("run", "validate", "export"):
            if current.startswith("-"):
                yield from self._emit(current, [("--input", "NAME=VALUE")] if head == "run" else [])
            else:
                yield from self._path(current)
        elif head == "use":
            if len(before) == 1:
                yield from self._emit(current, [("profile", "AWS profile"), ("region", "AWS region"),
                                                ("endpoint", "endpoint URL, or default")])
            elif len(before) == 2 and before[1] == "profile":
                yield from self._emit(current, [(p, "profile") for p in profiles()])
            elif len(before) == 2 and before[1] == "region":
                yield from self._emit(current, [(r, "region") for r in regions()])
        elif head == "show" and self.repl.last is not None and len(before) == 1:
            yield from self._emit(current, [(str(i), f"{f.check}: {f.title}")
                                            for i, f in enumerate(self.repl.last.findings, 1)])
        elif head in ("help", "?") and len(before) == 1:
            yield from self._emit(current, self.commands())

    # --- pieces ----------------------------------------------------------------
    def commands(self) -> list[tuple[str, str]]:
        from ..commands import registry
        from .commands import REPL_COMMANDS

        out = [(e.id, e.title) for e in sorted(self.repl.entries.values(), key=lambda e: e.id) if not e.error]
        out += [(c.name, c.help) for c in registry().values() if c.repl and c.name not in REPL_COMMANDS]
        out += [(c.name, c.help) for c in REPL_COMMANDS.values()]
        return out

    def _playbook(self, word: str):
        entry = self.repl.entries.get(word)
        return entry if entry is not None and not entry.error else None

    def _playbook_args(self, entry, before: list[str], prev: str | None, current: str):
        flags = {flag(name): (name, spec) for name, spec in entry.inputs.items()}
        if prev in flags and not current.startswith("-"):
            yield from self.input_values(flags[prev][1], current)
            return
        if prev == "--output":
            yield from self._emit(current, [(o, "format") for o in OUTPUTS])
            return
        if prev in COMMON_FLAGS:
            return
        given = set(before)
        offered = [(f, _describe(spec)) for f, (_, spec) in flags.items() if f not in given]
        offered += [(f, h) for f, h in COMMON_FLAGS.items() if f not in given]
        yield from self._emit(current, offered)

    def input_values(self, spec: dict, current: str):
        """Values for one playbook input: its choices, or live names from its source."""
        if spec.get("choices"):
            yield from self._emit(current, [(str(c), "choice") for c in spec["choices"]])
            return
        source = source_of(spec)
        if source is None:
            return
        names = self.repl.names.get(source, wait=WAIT_FOR_NAMES_S)
        label = f"{source.service}.{source.operation}"
        yield from self._emit(current, [(n, label) for n in names or []])

    def _path(self, current: str):
        doc = Document(current, len(current))
        for c in self._paths.get_completions(doc, None):
            yield c

    @staticmethod
    def _emit(current: str, candidates: Iterable[tuple[str, str]]):
        for text, meta in matching(current, candidates):
            yield Completion(text, start_position=-len(current), display_meta=meta)


class InputCompleter(Completer):
    """For the questions `explain` asks: values of one playbook input."""

    def __init__(self, repl, spec: dict) -> None:
        self._inner = TriageCompleter(repl)
        self.spec = spec

    def get_completions(self, document: Document, complete_event):
        word = document.text_before_cursor.strip()
        yield from self._inner.input_values(self.spec, word)


def _describe(spec: dict) -> str:
    text = str(spec.get("help") or spec.get("type") or "")
    if spec.get("required"):
        text += " (required)"
    elif "default" in spec:
        text += f" (default {spec['default']})"
    return text


def profiles() -> list[str]:
    """Profile names from the AWS config and credentials files (no boto3 needed)."""
    import configparser
    import os
    from pathlib import Path

    names = {"default"}
    for env, default, prefix in (("AWS_CONFIG_FILE", "~/.aws/config", "profile "),
                                 ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials", "")):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(Path(os.environ.get(env) or default).expanduser(), encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in parser.sections():
            names.add(section[len(prefix):] if prefix and section.startswith(prefix) else section)
    return sorted(names)


def regions() -> list[str]:
    try:
        import botocore.session
        return sorted(botocore.session.get_session().get_available_regions("ec2"))
    except Exception:  # botocore missing or its data unreadable: nothing to offer
        return []
