"""How evidence values are shown in text and markdown."""
from __future__ import annotations

import json
from typing import Any

from ..catalog import flag

MAX_ITEMS = 8


def short(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def lines(value: Any) -> list[str]:
    """A value as display lines: lists one item per line (capped)."""
    if isinstance(value, list):
        if not value:
            return ["(none)"]
        out = [short(v) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out.append(f"… and {len(value) - MAX_ITEMS} more")
        return out
    return [short(value)]


def verdict(data: dict) -> tuple[str, str] | None:
    """(style, sentence) when there are no findings: a run whose checks could
    not run must not read like a clean bill of health."""
    if data["findings"]:
        return None
    unchecked = len(data["unchecked"])
    total = data.get("checks") or unchecked
    if not unchecked:
        return "ok", "✓ No findings: every check passed."
    if unchecked >= total:
        return "high", f"Nothing could be checked: all {total} checks need data triage could not read (below)."
    return "unchecked", (f"No findings among the {total - unchecked} checks that ran; "
                         f"{unchecked} could not be checked (below).")


def command_line_flags(inputs: dict) -> str:
    """Inputs as the flags that would reproduce the run (lists repeat the flag)."""
    import shlex

    parts = []
    for name, value in inputs.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            parts.append(f"{flag(name)} {shlex.quote(short(v))}")
    return " ".join(parts)
