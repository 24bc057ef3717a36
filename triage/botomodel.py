"""Checks a playbook against botocore's own service models: services,
operations, parameter names (with "did you mean"), pagination, the
read-only guard, and field names that expressions read from call results."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import expr, yamlsrc
from .errors import Problem
from .readonly import refusal
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


def operation_problem(service: str, operation: str, params: Any = None) -> tuple[str, str | None] | None:
    """None when service.Operation exists and the read-only guard admits it
    with `params` (templates: refused when they could unlock secrets); else (message, hint)."""
    if service not in available_services():
        g = suggest(service, available_services())
        return f"unknown AWS service '{service}'", (f"did you mean '{g}'?" if g else "use botocore's service name, e.g. lambda, logs, ec2, s3, iam")
    model = service_model(service)
    if operation not in model.operation_names:
        g = suggest(operation, model.operation_names)
        return (f"'{operation}' is not an operation of {service}",
                f"did you mean {service}.{g}?" if g else f"see `aws {service} help` for its operations (PascalCase here)")
    refused = refusal(service, operation, params, model.operation_model(operation))
    if refused:
        return f"refused: {service}.{operation}: {refused}", refused.hint
    return None


def check_playbook(playbook, data: dict, filename: str) -> list[Problem]:
    problems: list[Problem] = []

    def add(path: list, message: str, hint: str | None = None) -> None:
        problem = Problem(filename, yamlsrc.line_of(data, path), message, hint)
        if problem not in problems:  # the same mistake twice on one line is one problem
            problems.append(problem)

    valid: set[str] = set()
    for step in playbook.steps.values():
        base = ["steps", step.id]
        bad = operation_problem(step.service, step.operation, step.params)
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
        bad = operation_problem(scan.service, scan.operation, scan.params)
        if bad:
            add(["scan", "call"], *bad)
        else:
            if scan.paginate and not can_paginate(scan.service, scan.operation):
                add(["scan", "paginate"], f"{scan.service}.{scan.operation} cannot be paginated", "remove `paginate: true`")
            op = service_model(scan.service).operation_model(scan.operation)
            _check_params(op.input_shape, scan.params, ["scan", "params"], add, f"{scan.service}.{scan.operation}")
    for name, inp in playbook.inputs.items():
        comp = inp.complete
        if comp:
            base = ["inputs", name, "complete"]
            bad = operation_problem(comp.service, comp.operation, comp.params)
            if bad:
                add(base + ["call"], *bad)
                continue
            if comp.paginate and not can_paginate(comp.service, comp.operation):
                add(base + ["paginate"], f"{comp.service}.{comp.operation} cannot be paginated", "remove `paginate: true`")
            op = service_model(comp.service).operation_model(comp.operation)
            _check_params(op.input_shape, comp.params, base + ["params"], add, f"{comp.service}.{comp.operation}")
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


# --- result fields ----------------------------------------------------------
# Every expression is typed against botocore's output shapes: a step's result
# has its operation's output shape (a for_each step: a list of {item, result,
# error}); a derived value that is a plain path into a typed value has the
# type at the end of that path, anything else (functions, `||`, literals,
# multiselects) is unknown, and unknown never produces an error.


@dataclass(frozen=True)
class _Type:
    """What an expression yields, as far as botocore's models say."""
    origin: str                          # the call it comes from, for messages
    shape: Any = None                    # a botocore shape, or
    kind: str = ""                       # a synthetic "structure" / "list"
    members: Any = None                  # synthetic structure: name -> _Type | None
    member: Any = None                   # synthetic list: _Type | None
    untyped: frozenset = frozenset()     # fields that exist but whose type is unknown (allow_errors' `error`)
    open: bool = False                   # the root context: a missing name is the loader's business

    @property
    def type_name(self) -> str:
        return self.shape.type_name if self.shape is not None else self.kind

    def names(self) -> list[str]:
        names = list(self.shape.members) if self.shape is not None else list(self.members or {})
        return names + sorted(self.untyped - set(names))

    def field(self, name: str) -> tuple[bool, "_Type | None"]:
        """(exists, type) of a member; exists is True when unsure."""
        kind = self.type_name
        if kind == "map" and self.shape is not None:
            return True, _wrap(self.shape.value, self.origin)
        if kind != "structure" or getattr(self.shape, "is_document_type", False):
            return True, None          # a list, a scalar (null) or a free-form document: nothing to check
        if name in self.untyped:
            return True, None
        if self.shape is not None:
            if name in self.shape.members:
                return True, _wrap(self.shape.members[name], self.origin)
            return False, None
        if name in self.members:
            return True, self.members[name]
        return self.open, None

    def element(self) -> "_Type | None":
        if self.type_name != "list":
            return None
        return _wrap(self.shape.member, self.origin) if self.shape is not None else self.member


def _wrap(shape, origin: str, untyped: frozenset = frozenset()) -> _Type | None:
    return None if shape is None else _Type(origin, shape=shape, untyped=untyped)


def _list_of(member: _Type | None, origin: str) -> _Type:
    return _Type(origin, kind="list", member=member)


def _root(names: dict) -> _Type:
    return _Type("the context", kind="structure", members=names, open=True)


class _Typer:
    """Walks one parsed expression with the type of its context, reporting
    every field that the type says does not exist."""

    def __init__(self, report, shadowed: frozenset = frozenset()):
        self.report = report                  # (shown, origin, field, choices)
        self.shadowed = shadowed              # step/derived names used inside a filter: the loader reports those

    def eval(self, node: Any, t: _Type | None, label: str) -> _Type | None:
        if not isinstance(node, dict):
            return None
        kind = node.get("type")
        kids = [c for c in node.get("children", []) if isinstance(c, dict)]
        if kind == "field":
            return self.field(t, node["value"], label)
        if kind == "subexpression":
            for child in kids:
                t = self.eval(child, t, label)
                label = _label(child, label)
            return t
        if kind == "index_expression":
            t = self.eval(kids[0], t, label) if kids else t
            label = _label(kids[0], label) if kids else label
            for child in kids[1:]:
                if child.get("type") == "index":
                    t = t.element() if t is not None else None
                elif child.get("type") != "slice":
                    return None
            return t
        if kind in ("projection", "filter_projection"):
            left = self.eval(kids[0], t, label) if kids else None
            inner = _label(kids[0], label) if kids else label
            if kids and kids[0].get("type") != "flatten":
                inner += "[]"
            element = left.element() if left is not None else None
            if kind == "filter_projection" and len(kids) > 2:
                self.eval(kids[2], element, inner)
            right = self.eval(kids[1], element, inner) if len(kids) > 1 else element
            return _list_of(right, left.origin) if left is not None and left.type_name == "list" else None
        if kind == "flatten":
            left = self.eval(kids[0], t, label) if kids else None
            element = left.element() if left is not None else None
            if element is not None and element.type_name == "list":
                element = element.element()
            return _list_of(element, left.origin) if left is not None and left.type_name == "list" else None
        if kind in ("identity", "current"):
            return t
        if kind == "pipe":
            left = self.eval(kids[0], t, label) if kids else None
            return self.eval(kids[1], left, _label(kids[0], label) + " | ") if len(kids) > 1 else left
        if kind == "value_projection":
            left = self.eval(kids[0], t, label) if kids else None
            value = left.field("*")[1] if left is not None and left.type_name == "map" else None
            if len(kids) > 1:
                self.eval(kids[1], value, _label(kids[0], label) + ".*")
            return None
        if kind == "expref":
            return None                        # evaluated per element of a list this walk does not see
        if kind == "key_val_pair" or kind in ("multi_select_dict", "multi_select_list", "function_expression",
                                              "comparator", "or_expression", "and_expression", "not_expression"):
            for child in kids:
                self.eval(child, t, label)
            return None                        # not a plain path: its type is unknown
        return None                            # literals, raw strings, slices

    def field(self, t: _Type | None, name: str, label: str) -> _Type | None:
        if t is None:
            return None
        exists, ftype = t.field(name)
        if not exists:
            if t.open or (label and name in self.shadowed):
                return None  # an unknown root name / a shadowed name: the loader reports it
            self.report(_join(label, name), t.origin, name, t.names())
        return ftype


def _join(label: str, name: str) -> str:
    if not label or label.endswith(" | "):
        return label + name
    return f"{label}.{name}"


def _label(node: dict, label: str) -> str:
    """The display text of a path node appended to `label` (for messages)."""
    kind = node.get("type")
    kids = [c for c in node.get("children", []) if isinstance(c, dict)]
    if kind == "field":
        return _join(label, node["value"])
    if kind == "subexpression":
        for child in kids:
            label = _label(child, label)
        return label
    if kind == "index_expression" and kids:
        label = _label(kids[0], label)
        for child in kids[1:]:
            label += f"[{child['value']}]" if child.get("type") == "index" else ""  # a slice: its projection adds []
        return label
    if kind in ("projection", "filter_projection") and kids:
        inner = _label(kids[0], label) + ("" if kids[0].get("type") == "flatten" else "[]")
        return _label(kids[1], inner) if len(kids) > 1 else inner
    if kind == "flatten" and kids:
        return _label(kids[0], label) + "[]"
    if kind in ("identity", "current"):
        return label
    if kind == "pipe" and len(kids) > 1:
        return _label(kids[1], _label(kids[0], label) + " | ")
    return label + "…" if label else "…"


def _check_result_fields(playbook, data: dict, add, valid: set[str]) -> None:
    """`config.Timout` where config is lambda.GetFunctionConfiguration -> did you mean Timeout;
    everywhere an expression reads a call result: steps, derived values, checks, scan and completions."""
    context_names = frozenset(playbook.steps) | frozenset(playbook.derive)

    def type_of(path: list, expression: str, root: _Type, check: bool = True) -> _Type | None:
        try:
            parsed = expr.compile_expr(expression).parsed
            shadowed = frozenset(expr.relative_names(expression)) & context_names
        except expr.ExprError:
            return None  # already reported, with its line, by the playbook loader

        def report(shown: str, origin: str, field: str, choices: list[str]) -> None:
            if check:
                g = suggest(field, choices)
                add(path, f"'{shown}': {origin} returns no field '{field}' there",
                    f"did you mean '{g}'?" if g else f"fields there: {', '.join(choices[:12])}")
        return _Typer(report, shadowed).eval(parsed, root, "")

    def check_template(path: list, text: str, root: _Type) -> None:
        for e in _template_expressions(text):
            type_of(path, e, root)

    # what each step yields
    results: dict[str, _Type | None] = {}
    items: dict[str, _Type | None] = {}
    resolving: set[str] = set()

    def step_type(sid: str) -> _Type | None:
        if sid in results or sid in resolving:
            return results.get(sid)
        resolving.add(sid)
        step = playbook.steps[sid]
        t = None
        if sid in valid:
            shape = service_model(step.service).operation_model(step.operation).output_shape
            errors = frozenset({"error"}) if step.allow_errors else frozenset()
            t = _wrap(shape, step.call, errors)
            if t is None and errors:
                t = _Type(step.call, kind="structure", members={}, untyped=errors)
            if step.for_each:
                items[sid] = item = _item_type(type_of([], step.for_each, steps_root(), check=False))
                entry = {"item": item, "result": t}
                t = _list_of(_Type(f"{step.call} with for_each", kind="structure", members=entry,
                                   untyped=frozenset({"error"})), step.call)
        results[sid] = t
        resolving.discard(sid)
        return t

    def steps_root() -> _Type:
        return _root(_LazyTypes(playbook.steps, step_type))

    for sid in playbook.steps:
        step_type(sid)
    root = _root(dict(results))
    for sid, step in playbook.steps.items():
        spec = data["steps"][sid]
        base = ["steps", sid]
        for key in ("when", "for_each"):
            if spec.get(key):
                type_of(base + [key], spec[key], root)
        with_item = _root({**results, "item": items.get(sid)}) if step.for_each else root
        for text_path, text in _templates(spec.get("params") or {}, base + ["params"]):
            check_template(text_path, text, with_item)
        if isinstance(spec.get("region"), str):
            check_template(base + ["region"], spec["region"], with_item)

    # derived values, in order: a plain path keeps the type at its end
    names: dict[str, _Type | None] = dict(results)
    for name, expression in (data.get("derive") or {}).items():
        if name in results or name in ("inputs", "item", "region") or not isinstance(expression, str):
            continue  # named like a step or a reserved name: reported by the loader
        names[name] = type_of(["derive", name], expression, _root(dict(names)))
    root = _root(names)

    for i, spec in enumerate(data["checks"]):
        base = ["checks", i]
        type_of(base + ["when"], spec["when"], root)
        for name, e in (spec.get("evidence") or {}).items():
            type_of(base + ["evidence", name], e, root)
        for key in ("title", "explanation"):
            check_template(base + [key], spec[key], root)
        fix = spec.get("fix") or {}
        if isinstance(fix.get("text"), str):
            check_template(base + ["fix", "text"], fix["text"], root)
        for j, command in enumerate(fix.get("commands") or []):
            check_template(base + ["fix", "commands", j], command, root)
        resolved = spec.get("resolved") if isinstance(spec.get("resolved"), dict) else {}
        if isinstance(resolved.get("when"), str):
            type_of(base + ["resolved", "when"], resolved["when"], root)
        if isinstance(resolved.get("note"), str):
            check_template(base + ["resolved", "note"], resolved["note"], root)
        for name, e in (resolved.get("evidence") or {}).items():
            type_of(base + ["resolved", "evidence", name], e, root)

    # a scan or completion query runs over the call's own result
    scan = getattr(playbook, "scan", None)
    if scan is not None and not scan.once and not operation_problem(scan.service, scan.operation, scan.params):
        shape = service_model(scan.service).operation_model(scan.operation).output_shape
        if shape is not None:
            type_of(["scan", "query"], scan.query, _wrap(shape, f"{scan.service}.{scan.operation}"))
    for name, inp in playbook.inputs.items():
        comp = inp.complete
        if comp and not operation_problem(comp.service, comp.operation, comp.params):
            shape = service_model(comp.service).operation_model(comp.operation).output_shape
            if shape is not None:
                type_of(["inputs", name, "complete", "query"], comp.query,
                        _wrap(shape, f"{comp.service}.{comp.operation}"))


class _LazyTypes(dict):
    """Step types computed on first use (a for_each reads other steps' types)."""

    def __init__(self, steps, resolve):
        super().__init__()
        self._steps, self._resolve = steps, resolve

    def __contains__(self, name) -> bool:
        return name in self._steps

    def __getitem__(self, name):
        return self._resolve(name)


def _item_type(t: _Type | None) -> _Type | None:
    """`item` in a for_each step: an element of the list (a single value is a list of one)."""
    if t is None:
        return None
    return t.element() if t.type_name == "list" else t


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
