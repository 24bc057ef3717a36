"""Checks a playbook against botocore's own service models: services,
operations, parameter names (with "did you mean"), pagination, the
read-only guard, and field names that expressions read from call results."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import expr, yamlsrc
from .errors import Problem
from .readonly import is_read_operation, refusal
from .suggest import suggest


@lru_cache(maxsize=1)
def _session():
    import botocore.session
    return botocore.session.get_session()


@lru_cache(maxsize=1)
def available_services() -> tuple[str, ...]:
    return tuple(_session().get_available_services())


@lru_cache(maxsize=64)
def service_model(service: str):
    return _session().get_service_model(service)


@lru_cache(maxsize=64)
def _paginators(service: str):
    try:
        return _session().get_paginator_model(service)
    except Exception:  # no paginators file for this service
        return None


def can_paginate(service: str, operation: str) -> bool:
    model = _paginators(service)
    if model is None:
        return False
    try:
        model.get_paginator(operation)
        return True
    except ValueError:
        return False


def operation_problem(service: str, operation: str) -> tuple[str, str | None] | None:
    """None when service.Operation exists and is a read; else (message, hint)."""
    if service not in available_services():
        g = suggest(service, available_services())
        return f"unknown AWS service '{service}'", (f"did you mean '{g}'?" if g else "use botocore's service name, e.g. lambda, logs, ec2, s3, iam")
    model = service_model(service)
    if operation not in model.operation_names:
        g = suggest(operation, model.operation_names)
        return (f"'{operation}' is not an operation of {service}",
                f"did you mean {service}.{g}?" if g else f"see `aws {service} help` for its operations (PascalCase here)")
    if not is_read_operation(operation):
        return f"refused: {service}.{operation} — {refusal(operation)}", "playbooks are read-only; print the change as a fix command instead"
    return None


def check_playbook(playbook, data: dict, filename: str) -> list[Problem]:
    problems: list[Problem] = []

    def add(path: list, message: str, hint: str | None = None) -> None:
        problems.append(Problem(filename, yamlsrc.line_of(data, path), message, hint))

    valid: set[str] = set()
    for step in playbook.steps.values():
        base = ["steps", step.id]
        bad = operation_problem(step.service, step.operation)
        if bad:
            add(base + ["call"], *bad)
            continue
        valid.add(step.id)
        op = service_model(step.service).operation_model(step.operation)
        _check_params(op.input_shape, step.params, base + ["params"], add, f"{step.call}")
        if step.paginate and not can_paginate(step.service, step.operation):
            add(base + ["paginate"], f"{step.call} cannot be paginated", "remove `paginate: true`")
    scan = getattr(playbook, "scan", None)
    if scan is not None and not scan.once:
        bad = operation_problem(scan.service, scan.operation)
        if bad:
            add(["scan", "call"], *bad)
        elif scan.paginate and not can_paginate(scan.service, scan.operation):
            add(["scan", "paginate"], f"{scan.service}.{scan.operation} cannot be paginated", "remove `paginate: true`")
    for name, inp in playbook.inputs.items():
        if inp.complete:
            bad = operation_problem(inp.complete.service, inp.complete.operation)
            if bad:
                add(["inputs", name, "complete", "call"], *bad)
    _check_result_fields(playbook, data, add, valid)
    return problems


def _check_params(shape, value: Any, path: list, add, where: str) -> None:
    if shape is None:
        if value:
            add(path, f"{where} takes no parameters", "remove `params:`")
        return
    if expr.is_template(value) or value is None:
        return  # a template's type is only known at run time
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            add(path, f"{where} expects a mapping of {', '.join(shape.members)}")
            return
        for key, sub in value.items():
            if key not in shape.members:
                g = suggest(str(key), shape.members)
                add(path + [key], f"unknown parameter '{key}' for {where}",
                    f"did you mean '{g}'?" if g else f"valid parameters: {', '.join(shape.members)}")
                continue
            _check_params(shape.members[key], sub, path + [key], add, f"{where}.{key}")
        if path[-1] == "params":
            missing = [m for m in shape.required_members if m not in value]
            if missing:
                add(path, f"{where} requires parameter(s) {', '.join(missing)}", f"add `{missing[0]}:` under params")
    elif kind == "list":
        if not isinstance(value, list):
            add(path, f"{where} expects a list", "write a YAML list or a template yielding one")
            return
        for i, item in enumerate(value):
            _check_params(shape.member, item, path + [i], add, f"{where}[{i}]")
    elif kind in ("integer", "long") and not isinstance(value, int):
        add(path, f"{where} expects an integer, got {value!r}")
    elif kind == "boolean" and not isinstance(value, bool):
        add(path, f"{where} expects true or false, got {value!r}")
    elif kind == "string" and not isinstance(value, str):
        add(path, f"{where} expects a string, got {value!r}", "quote it")


def _check_result_fields(playbook, data: dict, add, valid: set[str]) -> None:
    """`config.Timout` where config is lambda.GetFunctionConfiguration -> did you mean Timeout."""
    def check_expression(path: list, expression: str) -> None:
        try:
            chains = expr.field_paths(expression)
        except expr.ExprError:
            return
        for chain in chains:
            step = playbook.steps.get(chain[0])
            if step is None or step.id not in valid or len(chain) < 2:
                continue
            tokens = chain[1:]
            if step.for_each:  # [{item, result}, ...]: check what follows `[].result`
                if tokens[:2] != ["[]", "result"]:
                    continue
                tokens = tokens[2:]
            shape = service_model(step.service).operation_model(step.operation).output_shape
            for field in tokens:
                if field == "[]":
                    if shape is None or shape.type_name != "list":
                        break
                    shape = shape.member
                    continue
                if shape is None or shape.type_name != "structure":
                    break
                if field == "error" and step.allow_errors:
                    break
                if field not in shape.members:
                    g = suggest(field, shape.members)
                    shown = ".".join(chain).replace(".[]", "[]")
                    add(path, f"'{shown}': {step.call} returns no field '{field}' there",
                        f"did you mean '{g}'?" if g else f"fields there: {', '.join(list(shape.members)[:12])}")
                    break
                shape = shape.members[field]

    for sid, step in playbook.steps.items():
        spec = data["steps"][sid]
        for key in ("when", "for_each"):
            if spec.get(key):
                check_expression(["steps", sid, key], spec[key])
        for text_path, text in _templates(spec.get("params") or {}, ["steps", sid, "params"]):
            for e in _template_expressions(text):
                check_expression(text_path, e)
    for i, spec in enumerate(data["checks"]):
        check_expression(["checks", i, "when"], spec["when"])
        for name, e in (spec.get("evidence") or {}).items():
            check_expression(["checks", i, "evidence", name], e)
        texts = [("title", spec["title"]), ("explanation", spec["explanation"])]
        fix = spec.get("fix") or {}
        texts += [("fix", fix.get("text", ""))] + [("fix", c) for c in fix.get("commands") or []]
        for key, text in texts:
            for e in _template_expressions(text):
                check_expression(["checks", i, key], e)


def _template_expressions(text: str) -> list[str]:
    try:
        return expr.parse_template(text).expressions
    except expr.ExprError:  # already reported, with its line, by the playbook loader
        return []


def _templates(value: Any, path: list):
    if isinstance(value, str) and expr.is_template(value):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _templates(v, path + [k])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _templates(v, path + [i])
