"""`format:` on a playbook input: what the value must be, checked (and spelled
the canonical way) before anything runs. A value that cannot be right is a
usage error naming the flag and what to write instead; one that is merely
unusual is a warning (printed on stderr by the CLI, in the REPL before the
run). Formats that relate inputs to each other (a resource is checked against
the actions) read the other inputs of the same playbook by their format.

| format | value |
|---|---|
| `iam-principal` | a role or user name, a role/user ARN, an assumed-role session ARN |
| `iam-action` | SERVICE:Action that AWS has (did-you-mean otherwise); a list input: each |
| `iam-resource` | an ARN of a resource type the `iam-action` input's actions act on (or `*` when they support only `*`) |
| `iam-context` | KEY=VALUE entries; keys AWS does not document for the actions are warned about |
"""
from __future__ import annotations

from typing import Any

FORMATS = ("iam-principal", "iam-action", "iam-resource", "iam-context")


def apply(specs: dict, values: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
    """`values` with every formatted input checked; warnings appended to `warnings`."""
    named = {spec.format: name for name, spec in specs.items() if getattr(spec, "format", None)}
    if not named:
        return values
    from .iam import inputs as iam

    out = dict(values)
    notes: list[str] = []

    def present(fmt: str) -> str | None:
        name = named.get(fmt)
        return name if name is not None and out.get(name) not in (None, "", []) else None

    if (name := present("iam-principal")) is not None:
        out[name] = iam.principal(out[name], specs[name].flag)
    acts: list[str] = []
    if (name := present("iam-action")) is not None:
        given = out[name] if isinstance(out[name], list) else [out[name]]
        acts = iam.actions(given, specs[name].flag)
        out[name] = acts if isinstance(out[name], list) else acts[0]
    if (name := present("iam-resource")) is not None:
        out[name], more = iam.resource(out[name], acts, specs[name].flag)
        notes += more
    if (name := present("iam-context")) is not None:
        given = out[name] if isinstance(out[name], list) else [out[name]]
        out[name], more = iam.context(given, acts, specs[name].flag)
        notes += more
    if warnings is not None:
        warnings += notes
    return out
