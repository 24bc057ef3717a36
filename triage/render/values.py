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
    """(style, sentence) for a diagnosis without findings. ✓ only for
    "healthy": a run whose checks could not all run never reads like a clean
    bill of health."""
    outcome = data.get("outcome") or ("inconclusive" if data["unchecked"] else "healthy")
    if data["findings"] or outcome == "findings":
        return None
    total = data.get("checks") or len(data["unchecked"])
    if outcome == "unavailable":
        return "high", f"Not checked: AWS was unavailable ({data.get('error') or 'unreachable'})."
    if outcome == "healthy":
        return "ok", (f"✓ Healthy: all {total} checks ran and none found a problem." if total != 1 else
                      "✓ Healthy: the check ran and found no problem.")
    unchecked = len(data["unchecked"])
    if unchecked >= total:
        return "high", (f"Inconclusive: none of the {total} checks could run (why below)." if total != 1 else
                        "Inconclusive: the check could not run (why below).")
    return "unchecked", (f"Inconclusive: no problem found by the {total - unchecked} checks that ran, "
                         f"but {unchecked} could not run (why below).")


def unchecked_by_cause(unchecked: list[dict]) -> list[tuple[str, list[str]]]:
    """(cause, [check ids]) once per cause: one denied or failed call is said
    once, with every check it kept from running (a check that needed two
    failed calls is listed under both)."""
    groups: dict[str, list[str]] = {}
    for u in unchecked:
        for cause in u.get("causes") or [u["reason"]]:
            groups.setdefault(cause, []).append(u["check"])
    return list(groups.items())


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


def command_line_inputs(inputs: dict) -> str:
    """Inputs as `triage run FILE` takes them: --input NAME=VALUE (lists repeat it)."""
    import shlex

    parts = []
    for name, value in inputs.items():
        if value is None:
            continue
        for v in value if isinstance(value, list) else [value]:
            parts.append(f"--input {shlex.quote(f'{name}={short(v)}')}")
    return " ".join(parts)
