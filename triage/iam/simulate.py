"""Offline what-if: one request against the policy documents in a YAML or JSON
file, decided by the same evaluator `access-denied` uses, with no AWS at all.

The file (every key but ``request`` and ``identity`` optional)::

    request: {principal: ARN, action: s3:GetObject, resource: ARN, context: {aws:SourceIp: 10.0.0.5}}
    identity: [POLICY, ...]
    resource_policy: POLICY
    resource_account: "123456789012"
    boundary: POLICY
    session_policy: POLICY
    scps: [[POLICY, ...], ...]       # one list per level, root first, account last
    rcps: [[POLICY, ...], ...]
    vpc_endpoint_policy: POLICY

A POLICY is a policy document (a mapping with ``Statement``), the same document
as a JSON string, or ``{name: ..., document: ...}`` to give it a name in the
output. Every problem in the file is reported as ``FILE:LINE: message`` and the
whole load fails (exit 2); nothing is guessed. The JSON result schema
(``SCHEMA``) is documented in docs/iam-simulate.md and kept stable.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import PlaybookError, Problem, TriageError
from .evaluate import Decision, Policy, PolicyError, Request, evaluate

SCHEMA = "triage.iam.simulate/1"
TOP_KEYS = ("request", "identity", "resource_policy", "resource_account", "boundary", "session_policy",
            "scps", "rcps", "vpc_endpoint_policy")
REQUEST_KEYS = ("principal", "action", "resource", "context")
STATEMENT_KEYS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
                  "Condition")
POLICY_KEYS = ("Version", "Id", "Statement")
_EXPLICIT = ("explicit-deny", "scp-explicit-deny", "rcp-explicit-deny")
# Policies whose statements name principals; the others must not.
_PRINCIPAL_LAYERS = ("resource", "rcp", "vpc-endpoint")
# Identity-based policies: "Statements must include either a Resource or a NotResource element".
_RESOURCE_REQUIRED = ("identity", "permissions-boundary", "session")


class SimulateFileError(TriageError):
    """A simulation file that cannot be evaluated; every problem, located to file:line."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.line or 0)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        super().__init__("\n".join(str(p) for p in self.problems),
                         first.hint if len(self.problems) == 1 else None)
        self.summary = f"{first}{more}"


@dataclass
class Simulation:
    file: str
    request: Request
    identity: list[Policy]
    resource_policy: Policy | None = None
    resource_account: str | None = None
    boundary: Policy | None = None
    session_policy: Policy | None = None
    scps: list[list[Policy]] | None = None
    rcps: list[list[Policy]] | None = None
    vpc_endpoint_policy: Policy | None = None
    context: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- load


def load(path: str) -> Simulation:
    """Read and check a simulation file ("-" is standard input)."""
    import sys

    name = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SimulateFileError([Problem(name, None, "no such file",
                                         "give the path of a YAML or JSON simulation file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SimulateFileError([Problem(name, None, f"cannot read the file: {exc}")]) from None
    return loads(text, name)


def loads(text: str, filename: str = "<string>") -> Simulation:
    from .. import yamlsrc

    try:
        data = yamlsrc.load(text, filename)
    except PlaybookError as exc:
        data = _json_fallback(text, filename, exc)
    return parse(data, filename)


def _json_fallback(text: str, filename: str, yaml_error: PlaybookError) -> Any:
    """JSON that YAML refuses (tabs, some escapes) is still JSON; otherwise report the YAML error."""
    bounded = any("nests deeper" in p.message or "alias" in p.message for p in yaml_error.problems)
    if not bounded and (filename.endswith(".json") or text.lstrip().startswith("{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SimulateFileError([Problem(filename, exc.lineno, f"not valid JSON: {exc.msg}",
                                             "check the brackets, commas and quotes on this line")]) from None
        except RecursionError:
            pass  # nested beyond reason: the YAML loader's problem says so
    raise SimulateFileError(yaml_error.problems or [Problem(filename, None, yaml_error.message)]) from None


class _Checker:
    def __init__(self, root: Any, filename: str):
        self.root, self.filename = root, filename
        self.problems: list[Problem] = []

    def line(self, path: Sequence[Any]) -> int | None:
        from ..yamlsrc import line_of

        return line_of(self.root, path) if self.root is not None else None

    def problem(self, path: Sequence[Any], message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.filename, self.line(path), f"{_where(path)}: {message}", hint))

    def unknown_keys(self, value: Mapping, path: list, allowed: Sequence[str], what: str) -> None:
        from ..suggest import suggest

        for key in value:
            if key not in allowed:
                guess = suggest(str(key), allowed)
                self.problem([*path, key], f"unknown key {key!r} in {what}",
                             f"did you mean {guess!r}?" if guess else f"allowed: {', '.join(allowed)}")


def _where(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


def parse(data: Any, filename: str = "<data>") -> Simulation:
    """Check ``data`` (a parsed simulation document) and build the Simulation; every
    problem is collected, then raised together as SimulateFileError."""
    c = _Checker(data, filename)
    if not isinstance(data, Mapping):
        raise SimulateFileError([Problem(filename, c.line([]), "the file must be a mapping with at least "
                                         "'request' and 'identity'", "see docs/iam-simulate.md for the shape")])
    c.unknown_keys(data, [], TOP_KEYS, "the file")
    for required in ("request", "identity"):
        if required not in data:
            c.problems.append(Problem(filename, c.line([]), f"missing required key {required!r}",
                                      "identity may be an empty list: identity: []"))
    request = _request(c, data.get("request"))
    identity = []
    if "identity" in data:
        raw = data["identity"]
        if not isinstance(raw, list):
            c.problem(["identity"], "must be a list of policies", "identity: [POLICY, ...]  (or [] for none)")
        else:
            identity = [p for i, item in enumerate(raw)
                        if (p := _policy(c, item, ["identity", i], "identity", f"identity[{i}]"))]
    single = {}
    for key, kind in (("resource_policy", "resource"), ("boundary", "permissions-boundary"),
                      ("session_policy", "session"), ("vpc_endpoint_policy", "vpc-endpoint")):
        single[key] = _policy(c, data[key], [key], kind, key) if data.get(key) is not None else None
    levels = {}
    for key, kind in (("scps", "scp"), ("rcps", "rcp")):
        levels[key] = _levels(c, data.get(key), key, kind) if data.get(key) is not None else None
    account = data.get("resource_account")
    if account is not None:
        account = str(account)
        if not re.fullmatch(r"\d{12}", account):
            c.problem(["resource_account"], f"{account!r} is not a 12-digit AWS account id",
                      'quote it so YAML keeps the leading zeros: resource_account: "012345678901"')
    if c.problems or request is None:
        raise SimulateFileError(c.problems or [Problem(filename, None, "no request")])
    return Simulation(filename, request, identity, single["resource_policy"], account, single["boundary"],
                      single["session_policy"], levels["scps"], levels["rcps"], single["vpc_endpoint_policy"],
                      dict(request.context))


def _request(c: _Checker, raw: Any) -> Request | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        c.problem(["request"], "must be a mapping", "request: {principal: ARN, action: s3:GetObject, resource: ARN}")
        return None
    c.unknown_keys(raw, ["request"], REQUEST_KEYS, "request")
    ok = True
    for key in ("principal", "action"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            c.problem(["request", key] if key in raw else ["request"],
                      f"request.{key} is required and must be a non-empty string",
                      "e.g. principal: arn:aws:iam::123456789012:role/app" if key == "principal"
                      else "e.g. action: s3:GetObject")
            ok = False
    action = raw.get("action")
    if isinstance(action, str) and action.strip() and not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", action.strip()):
        c.problem(["request", "action"], f"{action!r} is not an IAM action (service:Action)",
                  "e.g. s3:GetObject; the service prefix is part of the name")
        ok = False
    resource = raw.get("resource", "*")
    if not isinstance(resource, str) or not resource:
        c.problem(["request", "resource"], "must be an ARN string (or * )", "e.g. resource: arn:aws:s3:::bucket/key")
        ok = False
    context = raw.get("context") or {}
    if not isinstance(context, Mapping):
        c.problem(["request", "context"], "must be a mapping of condition keys to values",
                  "context: {aws:SourceIp: 10.0.0.5, aws:TagKeys: [team, env]}")
        ok, context = False, {}
    for key, value in context.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or any(isinstance(v, (Mapping, list)) for v in values):
            c.problem(["request", "context", key], "a context value is a string, number, boolean, date "
                      "or a list of those", "multi-valued keys take a list: aws:TagKeys: [team, env]")
            ok = False
    if not ok:
        return None
    return Request(raw["principal"].strip(), raw["action"].strip(), resource.strip(), dict(context))


def _levels(c: _Checker, raw: Any, key: str, kind: str) -> list[list[Policy]] | None:
    if not isinstance(raw, list) or not all(isinstance(level, list) for level in raw):
        c.problem([key], "must be a list of levels, each a list of policies (root first, account last)",
                  f"{key}: [[ROOT_POLICY], [OU_POLICY], [ACCOUNT_POLICY]]")
        return None
    return [[p for j, item in enumerate(level)
             if (p := _policy(c, item, [key, i, j], kind, f"{key}[{i}][{j}]", where=f"{key}[{i}][{j}]"))]
            for i, level in enumerate(raw)]


def _policy(c: _Checker, raw: Any, path: list, kind: str, default_name: str, where: str = "") -> Policy | None:
    name, source, doc_path = default_name, "", path
    if isinstance(raw, Mapping) and "document" in raw and "Statement" not in raw:
        c.unknown_keys(raw, path, ("name", "document", "source"), "a named policy")
        name = str(raw.get("name") or default_name)
        if where and raw.get("name"):
            name = f"{name} ({where})"  # the same SCP is attached at several levels
        source = str(raw.get("source") or "")
        doc_path = [*path, "document"]
        raw = raw["document"]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            c.problem(doc_path, f"not a JSON policy document: {exc.msg} (character {exc.pos + 1})")
            return None
        doc_root = None  # lines inside a JSON string are not the file's lines
    else:
        doc_root = raw
    if not isinstance(raw, Mapping) or "Statement" not in raw:
        c.problem(doc_path, "a policy is a mapping with a Statement (or {name: ..., document: ...})",
                  'e.g. {Version: "2012-10-17", Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "*"}]}')
        return None
    here = doc_path if doc_root is not None else None
    before = len(c.problems)
    _check_document(c, raw, here, doc_path, kind)
    if len(c.problems) > before:
        return None
    try:
        return Policy(raw, kind=kind, name=name, source=source)
    except PolicyError as exc:  # a rule _check_document does not know yet
        c.problem(doc_path, str(exc))
        return None


def _check_document(c: _Checker, doc: Mapping, here: list | None, base: list, kind: str) -> None:
    def at(*parts: Any) -> list:
        return [*here, *parts] if here is not None else base

    if here is not None:
        c.unknown_keys(doc, here, POLICY_KEYS, "a policy document")
    version = doc.get("Version")
    if version is not None and str(version) not in ("2012-10-17", "2008-10-17"):
        c.problem(at("Version"), f"Version {version!r} is not a policy language version",
                  'use "2012-10-17" (quoted, or YAML reads it as a date); policy variables need it')
    statements = doc["Statement"]
    items = statements if isinstance(statements, list) else [statements]
    for i, stmt in enumerate(items):
        spath = at("Statement", i) if isinstance(statements, list) else at("Statement")
        if not isinstance(stmt, Mapping):
            c.problem(spath, "a statement must be a mapping")
            continue
        if here is not None:
            c.unknown_keys(stmt, spath, STATEMENT_KEYS, "a statement")
        if stmt.get("Effect") not in ("Allow", "Deny"):
            c.problem([*spath, "Effect"] if "Effect" in stmt else spath,
                      f"Effect must be Allow or Deny, not {stmt.get('Effect')!r}", "Effect is case-sensitive")
        for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
            if a in stmt and b in stmt:
                c.problem(spath, f"a statement has {a} or {b}, not both")
        if "Action" not in stmt and "NotAction" not in stmt:
            c.problem(spath, "a statement needs Action or NotAction", "e.g. Action: s3:GetObject")
        if kind in _RESOURCE_REQUIRED and "Resource" not in stmt and "NotResource" not in stmt:
            c.problem(spath, "an identity-based statement needs Resource or NotResource", 'e.g. Resource: "*"')
        if kind not in _PRINCIPAL_LAYERS and ("Principal" in stmt or "NotPrincipal" in stmt):
            c.problem(spath, f"Principal/NotPrincipal is not allowed in a {kind.replace('-', ' ')} policy",
                      "only resource-based policies (resource_policy, rcps, vpc_endpoint_policy) name principals")
        if kind == "resource" and "Principal" not in stmt and "NotPrincipal" not in stmt:
            c.problem(spath, "a resource-based policy statement needs Principal (or NotPrincipal)",
                      'e.g. Principal: {AWS: "arn:aws:iam::123456789012:role/app"}')
        for element in ("Action", "NotAction", "Resource", "NotResource"):
            if element in stmt:
                values = stmt[element] if isinstance(stmt[element], list) else [stmt[element]]
                if not values or not all(isinstance(v, str) and v for v in values):
                    c.problem([*spath, element] if here is not None else spath,
                              f"{element} must be a string or a list of strings")
        cond = stmt.get("Condition")
        if cond is not None:
            cpath = [*spath, "Condition"] if here is not None else spath
            if not isinstance(cond, Mapping) or not all(isinstance(v, Mapping) for v in cond.values()):
                c.problem(cpath, "Condition maps operators to {key: value(s)}",
                          "e.g. Condition: {StringEquals: {aws:PrincipalTag/team: ops}}")


# ------------------------------------------------------------------------------ run


def run(sim: Simulation) -> Decision:
    return evaluate(sim.request, sim.identity, resource_policy=sim.resource_policy,
                    resource_account=sim.resource_account, boundary=sim.boundary, session=sim.session_policy,
                    scps=sim.scps, rcps=sim.rcps, endpoint=sim.vpc_endpoint_policy)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def result(sim: Simulation, decision: Decision) -> dict:
    """The stable JSON document (schema SCHEMA, see docs/iam-simulate.md)."""
    explicit = [r for r in decision.reasons if r.code in _EXPLICIT]
    if decision.allowed:
        deciding = [{"layer": m.layer, "policy": m.policy, "statement": m.statement, "effect": m.effect}
                    for m in decision.allowed_by]
    else:
        deciding = [{"layer": r.layer, "policy": r.policy, "statement": r.statement, "effect": "Deny"}
                    for r in explicit]
    return {
        "schema": SCHEMA,
        "file": sim.file,
        "request": {"principal": sim.request.principal, "action": sim.request.action,
                    "resource": sim.request.resource, "context": _plain(sim.context)},
        "decision": "allow" if decision.allowed else "deny",
        "deny": None if decision.allowed else ("explicit" if explicit else "implicit"),
        "cross_account": decision.cross_account,
        "deciding": deciding,
        "reasons": [{"code": r.code, "layer": r.layer, "policy": r.policy, "statement": r.statement,
                     "message": r.message} for r in decision.reasons],
        "allowed_by": [{"layer": m.layer, "policy": m.policy, "statement": m.statement, "effect": m.effect,
                        "via": m.via} for m in decision.allowed_by],
        "near_misses": [{"layer": n.layer, "policy": n.policy, "statement": n.statement, "effect": n.effect,
                         "failed": list(n.failed), "message": n.message, "hint": n.hint}
                        for n in decision.near_misses],
        "notes": list(decision.notes),
        "errors": [],
    }


def error_result(filename: str, problems: Sequence[Problem]) -> dict:
    """The same document for a file that could not be evaluated (exit 2)."""
    return {"schema": SCHEMA, "file": filename, "request": None, "decision": None, "deny": None,
            "cross_account": None, "deciding": [], "reasons": [], "allowed_by": [], "near_misses": [],
            "notes": [], "errors": [{"file": p.file, "line": p.line, "message": p.message, "hint": p.hint}
                                    for p in problems]}


def render_text(data: dict, markdown: bool = False) -> str:
    from ..sanitize import clean

    req = data["request"]
    verdict = "ALLOW" if data["decision"] == "allow" else \
        f"DENY ({data['deny']}{' deny' if data['deny'] else ''})"
    head = f"{verdict}  {req['action']} on {req['resource']}"
    lines = [f"## {head}" if markdown else head,
             f"{'- ' if markdown else '  '}principal {req['principal']}"
             + ("  (cross-account)" if data["cross_account"] else "")]
    if req["context"]:
        lines.append(f"{'- ' if markdown else '  '}context " + ", ".join(
            f"{k}={json.dumps(v, default=str)}" for k, v in req["context"].items()))

    def section(title: str, items: list[str]) -> None:
        if items:
            lines.extend(["", f"### {title}" if markdown else title])
            lines.extend(f"{'- ' if markdown else '  '}{item}" for item in items)

    section("Decided by", [f"{d['effect']}  {d['layer']} policy {d['policy']}, statement {d['statement']}"
                           for d in data["deciding"]])
    section("Reasons", [f"[{r['code']}] {r['message']}" for r in data["reasons"]])
    section("Near misses", [n["message"] for n in data["near_misses"]])
    section("Notes", data["notes"])
    return "\n".join(clean(line) for line in lines) + "\n"
