"""`triage explain "<pasted error>"`: understand an AWS error message and
route it to the playbook that diagnoses it, with the inputs the text gives.

Routing is data: each playbook's `triggers` (regexes) decide where a text
goes, so user playbooks take part; named groups in a trigger fill inputs of
the same name. The facts (principal, action, resource, policy type,
function, ...) come from triage.errortext, which knows AWS's message formats;
a fact fills the playbook input of the same name."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import patterns
from .catalog import flag
from .errortext import parse_error
from .sanitize import clean

# Facts that feed an input of another name.
_FACT_FOR_INPUT = {
    "function": ("function", "function_arn"),
    "principal": ("principal",),
    "action": ("action",),
    "resource": ("resource",),
    "timeout_s": ("timeout_s",),
    "uuid": ("uuid",),
}


@dataclass
class Routing:
    routed_to: str | None
    extracted: dict
    inputs: dict
    missing: list[str]           # input names still needed
    reason: str
    notes: list[str] = field(default_factory=list)

    def missing_flags(self) -> list[str]:
        return [flag(m) for m in self.missing]


def _compiled(pattern: str):
    """A trigger on RE2 (linear in the text: no paste can make routing slow),
    case-insensitive, `.` matching newlines; None when RE2 cannot run it."""
    try:
        return patterns.compile(pattern, True, True)
    except patterns.PatternError:
        return None  # `triage validate` reports it; routing just skips it


def _matches(entry, text: str) -> list:
    out = []
    for pattern in entry.triggers:
        rx = _compiled(pattern)
        m = rx.search(text) if rx else None
        if m:
            out.append(m)
    return out


def route(text: str, entries: dict) -> Routing:
    text = clean(text if isinstance(text, str) else str(text or ""))
    parsed = parse_error(text)
    facts = dict(parsed.facts)
    text = patterns.searchable(text)
    scored = []
    for entry in entries.values():
        if entry.error:
            continue
        found = _matches(entry, text)
        if found:
            # more triggers matched, then the longer match, wins
            scored.append((len(found), max(len(m.group(0)) for m in found), entry, found))
    if not scored:
        reason = ("not an AWS error that any playbook handles" if parsed.kind is None else
                  f"looks like {parsed.kind}, but no playbook's triggers match it")
        return Routing(None, facts, {}, [], reason, parsed.notes)
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    _, _, entry, found = scored[0]
    inputs: dict[str, Any] = {}
    for m in found:
        for name, value in m.groupdict().items():
            if value is not None and name in entry.inputs:
                inputs.setdefault(name, value)
            if value is not None:
                facts.setdefault(name, _number(value))
    for name, spec in entry.inputs.items():
        if name in inputs:
            continue
        for fact in _FACT_FOR_INPUT.get(name, (name,)):
            if facts.get(fact) not in (None, ""):
                value = facts[fact]
                inputs[name] = [value] if spec.get("type") == "list" and not isinstance(value, list) else value
                break
    missing = [name for name, spec in entry.inputs.items() if spec.get("required") and name not in inputs]
    reason = f"matched {len(found)} trigger(s) of {entry.id}" + (f" ({parsed.kind})" if parsed.kind else "")
    return Routing(entry.id, facts, inputs, missing, reason, parsed.notes)


def _number(value: str) -> Any:
    try:
        return float(value) if "." in value else int(value)
    except ValueError:
        return value
