"""Playbooks: the YAML debug guides. Loading builds typed objects and runs
every check that can be done before anything touches AWS: JSON Schema,
JMESPath compilation, references between steps/inputs, the dependency
graph, trigger regexes, and (deep validation) botocore's service models
with the read-only guard. Every problem is reported as file:line."""
from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from . import expr, patterns, yamlsrc
from .errors import PlaybookError, Problem
from .suggest import suggest

SEVERITIES = ("critical", "high", "medium", "low", "info")
RESERVED_NAMES = frozenset({"inputs", "item", "region"})


@dataclass(frozen=True)
class Completion:
    service: str
    operation: str
    params: dict
    query: str
    paginate: bool = False


@dataclass(frozen=True)
class Input:
    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    help: str = ""
    choices: tuple = ()
    example: Any = None
    complete: Completion | None = None
    format: str | None = None         # triage/input_formats.py: checked before anything runs
    ask: bool = False                 # the REPL asks for it when it is not given
    minimum: int | float | None = None  # integer/number inputs: the smallest value accepted

    @property
    def flag(self) -> str:
        from .catalog import flag
        return flag(self.name)


@dataclass(frozen=True)
class Step:
    id: str
    service: str
    operation: str
    params: dict            # raw, templates still as strings
    line: int
    description: str = ""
    when: str | None = None
    paginate: bool = False
    max_items: int | None = None
    for_each: str | None = None
    region: str | None = None
    allow_errors: tuple = ()
    max_attempts: int | None = None
    needs: frozenset = frozenset()   # step ids this step reads

    @property
    def call(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class Resolved:
    """A check's `resolved:`: when the check does not fire but `when` is
    truthy, the problem it looks for was there and its evidence predates
    the current configuration (timeouts logged before the timeout was
    raised): the diagnosis says "fixed, under observation" with `note`
    instead of a finding."""
    when: str
    note: str                         # template
    line: int = 0
    evidence: dict | None = None      # name: JMESPath; None: the check's own evidence


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    when: str
    title: str
    explanation: str
    line: int
    evidence: dict = field(default_factory=dict)
    fix_text: str = ""
    fix_commands: tuple = ()
    references: tuple = ()
    needs: frozenset = frozenset()   # steps that decide it (read by `when`)
    uses: frozenset = frozenset()    # every step it reads (evidence, text)
    undecided: str | None = None     # JMESPath: why it cannot decide (a reason -> unchecked, never healthy)
    resolved: Resolved | None = None  # evidence older than the fix: an observation, not a finding


@dataclass(frozen=True)
class ScanSpec:
    """How `triage scan` applies a playbook: per listed resource, or once per region."""
    service: str | None = None
    operation: str | None = None
    params: dict = field(default_factory=dict)
    query: str | None = None
    paginate: bool = False
    input: str | None = None

    @property
    def once(self) -> bool:
        return self.operation is None


@dataclass(frozen=True)
class Subject:
    """The resource a playbook diagnoses: when `step` answers "not found",
    that is the diagnosis (finding subject-not-found)."""
    step: str
    kind: str
    name: str                 # template
    hint: str = ""            # template
    commands: tuple = ()      # templates


@dataclass(frozen=True)
class Explains:
    """In `resources:`: a finding a change to the resource may explain."""
    check: str
    fields: tuple = ()        # only changes to these fields or by these calls; () any change
    onset: str | None = None  # JMESPath: when the symptom began


@dataclass(frozen=True)
class ResourceSpec:
    """A resource the playbook reads (`resources:`): every diagnosis ends
    with its recent changes (triage/changes)."""
    type: str                 # a triage.changes.kinds type, or 'arn'
    name: str                 # template: a name, an ARN, or a list of them
    explains: tuple = ()
    needs: frozenset = frozenset()   # steps it reads (resolved as soon as they finish)
    reads_derived: bool = False      # resolved after the run's derived values


@dataclass
class Playbook:
    id: str
    title: str
    summary: str
    path: str
    inputs: dict[str, Input]
    steps: dict[str, Step]
    checks: list[Check]
    triggers: list          # compiled by triage.patterns (RE2)
    derive: dict[str, str] = field(default_factory=dict)
    references: tuple = ()
    origin: str = "file"     # a label for people; what is shipped is catalog.is_builtin(path)
    scan: ScanSpec | None = None
    subject: Subject | None = None
    resources: tuple = ()    # ResourceSpec
    raw: dict = field(default_factory=dict, repr=False)

    def step_depth(self) -> int:
        """Length of the longest chain of dependent steps (latency bound)."""
        depth: dict[str, int] = {}

        def d(sid: str) -> int:
            if sid not in depth:
                depth[sid] = 1 + max((d(n) for n in self.steps[sid].needs), default=0)
            return depth[sid]
        return max((d(s) for s in self.steps), default=0)


# --- schema ---------------------------------------------------------------

@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("triage").joinpath("schema/playbook.schema.json").read_text())


def _schema_problems(data: Any, filename: str) -> list[Problem]:
    import jsonschema  # deferred: only validation pays for it

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in validator.iter_errors(data):
        path = list(err.absolute_path)
        where = ".".join(str(p) for p in path) or "top level"
        message, hint = _explain_schema_error(err, where)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            path += extra[:1]  # point at the unknown key's own line
        elif "propertyNames" in err.schema_path:
            path.append(err.instance)  # point at the bad name's own line
        problems.append(Problem(filename, yamlsrc.line_of(data, path), message, hint))
    return problems


def _explain_schema_error(err, where: str) -> tuple[str, str | None]:
    v = err.validator
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        name = extra[0] if extra else "?"
        guess = suggest(str(name), allowed)
        hint = f"did you mean '{guess}'?" if guess else f"allowed keys here: {', '.join(allowed)}"
        return f"unknown key '{name}' in {where} (unknown keys are errors, never ignored)", hint
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"{where}: missing required key '{missing}'", _REQUIRED_HINTS.get(missing)
    if v == "type":
        wants = [err.validator_value] if isinstance(err.validator_value, str) else list(err.validator_value)
        want = " or ".join(_TYPE_NAMES.get(w, w) for w in wants)
        got = _TYPE_NAMES.get(_json_type(err.instance), _json_type(err.instance))
        return f"{where} must be {a_or_an(want)}, not {a_or_an(got)}", _TYPE_HINTS.get(wants[0])
    if v == "enum":
        return f"{where} is {err.instance!r}; expected one of {', '.join(map(str, err.validator_value))}", None
    if v == "pattern":
        if where.endswith("call") or ".call" in where:
            return f"{where} is {err.instance!r}", "write service.Operation in botocore's names, e.g. lambda.GetFunctionConfiguration"
        if "propertyNames" in err.schema_path:  # an input, step or derived name: it is read by JMESPath
            return (f"{where}: name {err.instance!r} is not allowed",
                    "names of inputs, steps and derived values use lowercase letters, digits and '_', e.g. log_group")
        return f"{where} is {err.instance!r}, which is not a valid name", "use lowercase words joined by '-', e.g. lambda-timeout"
    if v in ("minItems", "minProperties"):
        return f"{where} is empty", "add at least one entry"
    if v == "propertyNames":
        return f"{where}: name {err.instance!r} is not allowed", "use lowercase letters, digits and '_' (it is used in JMESPath)"
    return f"{where}: {err.message}", None


_REQUIRED_HINTS = {
    "call": "every step names one read-only AWS call, e.g. `call: lambda.GetFunctionConfiguration`",
    "when": "every check needs `when:`, a JMESPath that is truthy when the finding applies",
    "severity": "write one of: critical, high, medium, low, info",
    "steps": "add a `steps:` mapping of named AWS calls",
    "checks": "add a `checks:` list",
    "explanation": "say why this matters and what is going on, in a sentence or two",
    "query": "give a JMESPath that yields the list of names, e.g. Functions[].FunctionName",
    "text": "`fix:` needs `text:`; add `commands:` for copy-paste commands",
}
def a_or_an(noun: str) -> str:
    """'an integer', 'a number', 'an empty value': the article for a type's name."""
    return f"{'an' if noun[:1].lower() in 'aeio' else 'a'} {noun}"


_TYPE_NAMES = {"object": "mapping", "array": "list", "null": "empty value", "integer": "whole number"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (date, datetime)):  # YAML reads an unquoted 2026-01-01 as a date
        return "date"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


_TYPE_HINTS = {
    "object": "write `name:` keys indented under it (a mapping), not `- ` list items",
    "array": "write a YAML list, one '- item' per line",
    "string": "quote the value, e.g. \"...\" (JMESPath literals with backticks need quoting in YAML)",
}


def _start_hint(name: str, known: set[str]) -> str:
    if name in ("null", "true", "false"):
        return f"JMESPath literals need backticks: write `{name}` with backticks"
    names = sorted(known - RESERVED_NAMES)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"expressions start from inputs.<name>, a step or derived name ({shown}), item or region"


# --- loading ----------------------------------------------------------------

def load(path: str | Path, *, origin: str = "file", deep: bool = True) -> Playbook:
    """Load and validate a playbook file; raise PlaybookError with every problem."""
    path = Path(path)
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlaybookError([Problem(filename, None, f"cannot read playbook: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise PlaybookError([Problem(filename, None, "playbook is not UTF-8 text")]) from None
    return loads(text, filename, origin=origin, deep=deep)


def loads(text: str, filename: str = "<playbook>", *, origin: str = "user", deep: bool = True) -> Playbook:
    if len(text) > yamlsrc.MAX_PLAYBOOK_BYTES:
        raise PlaybookError([Problem(filename, None, f"the playbook is {len(text) >> 10} KB; "
                                     f"playbooks are at most {yamlsrc.MAX_PLAYBOOK_BYTES >> 10} KB",
                                     "split it into several playbooks")])
    data = yamlsrc.load(text, filename)
    if not isinstance(data, dict):
        raise PlaybookError([Problem(filename, getattr(data, "line", 1) or 1,
                                     "a playbook must be a YAML mapping with id, title, summary, steps and checks",
                                     "start from `triage new <id>` for a commented skeleton")])
    # Shipped playbooks (deep=False) pass the schema in CI; importing jsonschema
    # costs ~150 ms, a fifth of a whole run.
    problems = _schema_problems(data, filename) if deep else []
    if problems:
        raise PlaybookError(problems)
    builder = _Builder(data, filename)
    playbook = builder.build(origin)
    if deep:
        from . import botomodel  # deferred: loads botocore's models
        builder.problems += botomodel.check_playbook(playbook, data, filename)
    if builder.problems:
        raise PlaybookError(builder.problems)
    return playbook


class _Builder:
    def __init__(self, data: dict, filename: str):
        self.data, self.filename = data, filename
        self.problems: list[Problem] = []
        self.context_names = set(data.get("steps") or {}) | set(data.get("derive") or {})

    def problem(self, path: list, message: str, hint: str | None = None) -> None:
        p = Problem(self.filename, yamlsrc.line_of(self.data, path), message, hint)
        if p not in self.problems:
            self.problems.append(p)

    def read(self, path: list, expression: str, known: set[str], inputs: dict, template: bool = False) -> set[str]:
        """Compile one expression/template at `path`, check the names it
        reads, and return the known names (steps, derived values) it reads."""
        names = self.compile(path, expression, template)
        self.input_refs(path, [expression], inputs)
        return self.refs(path, names - {"item"}, known, inputs)

    def no_item(self, path: list, expression: str, where: str, template: bool = False) -> None:
        """`item` read where no element is being fanned out over: it is always null there."""
        if "item" in self.compile(path, expression, template):
            self.problem(path, f"`item` is not defined in {where}: it is only set in the params and region "
                         "of a step with `for_each`",
                         "read a for_each step's entries as <step>[].item and <step>[].result")

    def compile(self, path: list, expression: str, template: bool = False) -> set[str]:
        """Compile an expression or template; return the root names it reads."""
        try:
            if template:
                exprs = expr.parse_template(expression).expressions
            else:
                exprs = [expression]
            names: set[str] = set()
            for e in exprs:
                names |= expr.root_names(e)
                for pattern in expr.regex_literals(e):  # run on RE2: it must be able to take them
                    bad = patterns.problem(pattern)
                    if bad:
                        self.problem(path, str(bad), bad.hint)
                for trap in expr.negation_traps(e):
                    self.problem(path, f"`!{trap}` means `(!{trap.split('.')[0]}).{'.'.join(trap.split('.')[1:])}` "
                                 f"in JMESPath, which is always null", f"write !({trap})")
                shadowed = sorted(expr.relative_names(e) & self.context_names)
                for name in shadowed:
                    self.problem(path, f"'{name}' inside a filter or projection means a field of each element, "
                                 f"not the step/derived value '{name}' (JMESPath has no root reference there)",
                                 f"use find(list, 'path', {name}), where(...) or where_in(...) to compare with it")
            return names
        except expr.ExprError as exc:
            self.problem(path, str(exc), "see https://jmespath.org/specification.html; "
                         "literals need backticks, e.g. `900`, and strings single quotes, e.g. 'text'")
            return set()

    def build(self, origin: str) -> Playbook:
        d = self.data
        from .catalog import id_clash
        clash = id_clash(d["id"])
        if clash:
            self.problem(["id"], clash, "choose another id (a playbook's id is its command name)")
        inputs = {name: self.input(name, spec or {}) for name, spec in (d.get("inputs") or {}).items()}
        step_ids = set(d["steps"])
        for sid in step_ids & RESERVED_NAMES:
            self.problem(["steps", sid], f"step name '{sid}' is reserved", "rename the step")
        steps_known = step_ids | RESERVED_NAMES
        steps = {sid: self.step(sid, spec, steps_known, inputs) for sid, spec in d["steps"].items()}
        self.check_cycles(steps)
        # derived values: evaluated in order after the steps; each may read
        # steps and the derived values above it. A check's needs are expanded
        # to the steps behind the derived values it reads.
        self.derived_needs: dict[str, frozenset] = {}
        derive = dict(d.get("derive") or {})
        for name, e in derive.items():
            path = ["derive", name]
            if name in steps_known:
                self.problem(path, f"derived value '{name}' has the name of a step or a reserved name", "rename it")
                continue
            later = self.compile(path, e) & (set(derive) - set(self.derived_needs) - {name})
            self.no_item(path, e, "a derived value")
            for n in sorted(later):
                self.problem(path, f"'{n}' is derived further down; a derived value can only use the ones above it",
                             f"move '{name}' below '{n}'")
            known_here = steps_known | set(self.derived_needs) | later  # `later` already reported
            self.derived_needs[name] = self.expand(self.read(path, e, known_here, inputs) - later)
        known = steps_known | set(self.derived_needs)
        seen: dict[str, int] = {}
        checks = []
        for i, spec in enumerate(d["checks"]):
            if spec["id"] in seen:
                self.problem(["checks", i, "id"], f"duplicate check id '{spec['id']}' (also check #{seen[spec['id']]})",
                             "finding ids must be unique within a playbook")
            seen[spec["id"]] = i
            checks.append(self.check(i, spec, known, inputs))
        triggers = []
        for i, pattern in enumerate(d.get("triggers") or []):
            try:  # RE2, as explain runs them: linear in the pasted text
                triggers.append(patterns.compile(pattern, True, True))
            except patterns.PatternError as exc:
                self.problem(["triggers", i], f"trigger {exc.message}",
                             "triggers use Python regex syntax; escape literal ( ) [ ] . with a backslash"
                             if exc.message.startswith("is not a valid") else exc.hint)
        sig = d.get("signals") if isinstance(d.get("signals"), dict) else {}
        for part in ("match", "exclude", "notes"):  # explain's routing data, on RE2 like the triggers
            for i, item in enumerate(sig.get(part) or []):
                try:
                    patterns.compile(item["pattern"], True, True)
                except patterns.PatternError as exc:
                    self.problem(["signals", part, i, "pattern"], f"signal {exc.message}",
                                 "signals use Python regex syntax, run on RE2 (no backreferences or lookaround)"
                                 if exc.message.startswith("is not") else exc.hint)
                    continue
                except (KeyError, TypeError):
                    continue  # the schema reports it
                if part == "notes" and isinstance(item.get("note"), str):
                    try:  # a template over the pattern's named groups and the facts
                        names = [f for _, f, _, _ in string.Formatter().parse(item["note"]) if f is not None]
                    except ValueError as exc:
                        names = None
                        self.problem(["signals", part, i, "note"], f"note is not a valid template: {exc}",
                                     "name a group or fact in braces, {op}; write a literal brace twice, {{")
                    for name in names or []:
                        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name, re.I):
                            self.problem(["signals", part, i, "note"], f"note names '{name}', not a group or fact name",
                                         "write {name} with a plain name; a literal brace twice, {{")
        ext = d.get("extract") if isinstance(d.get("extract"), dict) else {}
        for name, rules in ext.items():  # explain's extraction rules, on RE2 too
            for i, rule in enumerate(rules if isinstance(rules, list) else []):
                if not isinstance(rule, dict) or not isinstance(rule.get("pattern"), str):
                    continue  # the schema reports it
                try:
                    rx = patterns.compile(rule["pattern"], True, True)
                except patterns.PatternError as exc:
                    self.problem(["extract", name, i, "pattern"], f"extract rule {exc.message}",
                                 "extract rules use Python regex syntax, run on RE2 (no backreferences or lookaround)"
                                 if exc.message.startswith("is not") else exc.hint)
                    continue
                groups = set(getattr(rx, "groupindex", None) or {})
                template = rule.get("value")
                if isinstance(template, str):
                    used = set(re.findall(r"{(\w*)[^{}]*}", template))
                    if missing := sorted(used - groups):
                        self.problem(["extract", name, i, "value"],
                                     f"value template names group(s) {', '.join(missing)} the pattern does not define",
                                     "name them in the pattern with (?P<name>...)")
                elif groups and not groups & {name, "value"}:
                    self.problem(["extract", name, i, "pattern"],
                                 f"named groups ({', '.join(sorted(groups))}) but none called '{name}' or 'value'",
                                 f"call the group that holds the value (?P<{name}>...), or give a `value:` template")
        return Playbook(id=d["id"], title=d["title"], summary=d["summary"], path=self.filename, inputs=inputs,
                        steps=steps, checks=checks, triggers=triggers, references=tuple(d.get("references") or ()),
                        origin=origin, raw=d, derive=derive, scan=self.scan(d.get("scan"), inputs),
                        subject=self.subject(d.get("subject"), steps, known, inputs),
                        resources=self.resources(d.get("resources"), known, inputs, [c.id for c in checks]))

    def resources(self, specs: list | None, known: set, inputs: dict, check_ids: list) -> tuple:
        out = []
        for i, spec in enumerate(specs or []):
            path = ["resources", i]
            names = self.read(path + ["name"], spec["name"], known, inputs, template=True)
            self.no_item(path + ["name"], spec["name"], "a resource", template=True)
            explains = []
            for j, ex in enumerate(spec.get("explains") or []):
                ex = {"check": ex} if isinstance(ex, str) else ex
                if ex["check"] not in check_ids:
                    guess = suggest(ex["check"], check_ids)
                    self.problem(path + ["explains", j, "check"], f"'{ex['check']}' is not a check of this playbook",
                                 f"did you mean '{guess}'?" if guess else f"checks: {', '.join(check_ids)}")
                if ex.get("onset"):
                    self.read(path + ["explains", j, "onset"], ex["onset"], known, inputs)
                    self.no_item(path + ["explains", j, "onset"], ex["onset"], "a resource")
                explains.append(Explains(ex["check"], tuple(ex.get("fields") or ()), ex.get("onset")))
            out.append(ResourceSpec(spec["type"], spec["name"], tuple(explains), self.expand(names),
                                    bool(names & set(self.derived_needs))))
        return tuple(out)

    def subject(self, spec: dict | None, steps: dict, known: set, inputs: dict) -> Subject | None:
        if spec is None:
            return None
        if spec["step"] not in steps:
            guess = suggest(spec["step"], list(steps))
            self.problem(["subject", "step"], f"subject.step '{spec['step']}' is not a step",
                         f"did you mean '{guess}'?" if guess else f"steps: {', '.join(steps)}")
        # Shown when the subject step failed: only inputs and `region` are there to read.
        for key in ("name", "hint"):
            if spec.get(key):
                self.read(["subject", key], spec[key], set(RESERVED_NAMES), inputs, template=True)
        for i, command in enumerate(spec.get("commands") or []):
            self.read(["subject", "commands", i], command, set(RESERVED_NAMES), inputs, template=True)
        return Subject(spec["step"], spec["kind"], spec["name"], spec.get("hint", ""), tuple(spec.get("commands") or ()))

    def scan(self, spec: dict | None, inputs: dict) -> ScanSpec | None:
        if spec is None:
            return None
        if spec.get("once"):
            for name in [n for n, i in inputs.items() if i.required]:
                self.problem(["scan", "once"], f"a playbook scanned once per region cannot require input '{name}'",
                             "give the input a default or scan per resource (call, query, input)")
            return ScanSpec()
        self.compile(["scan", "query"], spec["query"])
        target = inputs.get(spec["input"])
        if target is None:
            self.problem(["scan", "input"], f"scan input '{spec['input']}' is not declared",
                         f"inputs: {', '.join(inputs) or 'none'}")
        service, operation = spec["call"].split(".", 1)
        return ScanSpec(service, operation, dict(spec.get("params") or {}), spec["query"],
                        bool(spec.get("paginate")), spec["input"])

    def expand(self, names: set[str]) -> frozenset:
        """Step ids behind a set of step ids and derived names."""
        out: set[str] = set()
        for n in names:
            out |= self.derived_needs.get(n, {n})
        return frozenset(out)

    def input(self, name: str, spec: dict) -> Input:
        from .catalog import flag_clash
        clash = flag_clash(name)
        if clash and "not allowed" not in clash:  # the schema already names a malformed one
            self.problem(["inputs", name], clash, "rename the input")
        comp = None
        if spec.get("complete"):
            c = spec["complete"]
            service, operation = c["call"].split(".", 1)
            self.compile(["inputs", name, "complete", "query"], c["query"])
            comp = Completion(service, operation, dict(c.get("params") or {}), c["query"], bool(c.get("paginate")))
        if spec.get("required") and "default" in spec:
            self.problem(["inputs", name, "default"], f"input '{name}' is required and has a default",
                         "drop `required: true` or the default")
        itype = spec.get("type", "string")
        if itype == "duration" and "default" in spec:
            try:
                expr.parse_duration(spec["default"])
            except ValueError as exc:
                self.problem(["inputs", name, "default"], str(exc))
        minimum = spec.get("minimum")
        if minimum is not None:
            if itype not in ("integer", "number"):
                self.problem(["inputs", name, "minimum"], f"input '{name}' is {a_or_an(itype)}; only integer and "
                             "number inputs take a minimum", "drop `minimum:` or make the input `type: integer`")
            else:
                for key in ("default", "example"):
                    value = spec.get(key)
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < minimum:
                        self.problem(["inputs", name, key], f"input '{name}': {key} {value} is below its minimum "
                                     f"{minimum}", f"make the {key} {minimum} or more")
        return Input(name=name, type=itype, required=bool(spec.get("required")), default=spec.get("default"),
                     help=spec.get("help", ""), choices=tuple(spec.get("choices") or ()), example=spec.get("example"),
                     complete=comp, format=spec.get("format"), ask=bool(spec.get("ask")), minimum=minimum)

    def refs(self, path: list, names: set[str], known: set[str], inputs: dict) -> set[str]:
        for name in sorted(names - known):
            guess = suggest(name, sorted(known))
            self.problem(path, f"'{name}' is not a step or a context name",
                         f"did you mean '{guess}'?" if guess else
                         _start_hint(name, known))
        return names & known - RESERVED_NAMES

    def input_refs(self, path: list, expressions: list[str], inputs: dict) -> None:
        for e in expressions:
            for match in re.finditer(r"\binputs\.([A-Za-z_][A-Za-z0-9_]*)", e):
                if match.group(1) not in inputs:
                    guess = suggest(match.group(1), list(inputs))
                    self.problem(path, f"input '{match.group(1)}' is not declared",
                                 f"did you mean inputs.{guess}?" if guess else "declare it under `inputs:`")

    def templates_in(self, value: Any, path: list, out: list) -> None:
        if isinstance(value, str):
            if expr.is_template(value):
                out.append((path, value))
        elif isinstance(value, dict):
            for k, v in value.items():
                self.templates_in(v, path + [k], out)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.templates_in(v, path + [i], out)

    def step(self, sid: str, spec: dict, known: set[str], inputs: dict) -> Step:
        base = ["steps", sid]
        service, operation = spec["call"].split(".", 1)
        templated: list = []
        self.templates_in(spec.get("params") or {}, base + ["params"], templated)
        if spec.get("region"):
            templated.append((base + ["region"], spec["region"]))
        needs: set[str] = set()
        uses_item = False
        for path, text in templated:
            needs |= self.read(path, text, known, inputs, template=True)
            uses_item |= "item" in self.compile(path, text, template=True)
        for key in ("when", "for_each"):
            if spec.get(key):
                needs |= self.read(base + [key], spec[key], known, inputs)
                self.no_item(base + [key], spec[key], f"a step's `{key}` (evaluated once, before any fan-out)")
        if uses_item and not spec.get("for_each"):
            self.problem(base, "`item` is only defined inside a step with `for_each`", "add `for_each:` or remove `item`")
        if sid in needs:
            self.problem(base, f"step '{sid}' refers to itself", "a step can only read inputs and other steps")
        return Step(id=sid, service=service, operation=operation, params=dict(spec.get("params") or {}),
                    line=yamlsrc.line_of(self.data, base) or 0, description=spec.get("description", ""),
                    when=spec.get("when"), paginate=bool(spec.get("paginate")), max_items=spec.get("max_items"),
                    for_each=spec.get("for_each"), region=spec.get("region"),
                    allow_errors=tuple(spec.get("allow_errors") or ()), max_attempts=spec.get("max_attempts"),
                    needs=frozenset(needs - {sid}))

    def check(self, i: int, spec: dict, known: set[str], inputs: dict) -> Check:
        base = ["checks", i]
        fix = spec.get("fix") or {}
        parts = [(base + ["title"], spec["title"], True), (base + ["explanation"], spec["explanation"], True)]
        parts += [(base + ["evidence", name], e, False) for name, e in (spec.get("evidence") or {}).items()]
        if fix.get("text"):
            parts.append((base + ["fix", "text"], fix["text"], True))
        parts += [(base + ["fix", "commands", j], c, True) for j, c in enumerate(fix.get("commands") or [])]
        resolved = spec.get("resolved")
        if resolved:
            parts += [(base + ["resolved", "when"], resolved["when"], False),
                      (base + ["resolved", "note"], resolved["note"], True)]
            parts += [(base + ["resolved", "evidence", name], e, False)
                      for name, e in (resolved.get("evidence") or {}).items()]
        when_names = self.read(base + ["when"], spec["when"], known, inputs)
        self.no_item(base + ["when"], spec["when"], "a check")
        if spec.get("undecided"):
            when_names |= self.read(base + ["undecided"], spec["undecided"], known, inputs)
            self.no_item(base + ["undecided"], spec["undecided"], "a check")
        names = set(when_names)
        for path, text, template in parts:
            names |= self.read(path, text, known, inputs, template=template)
            self.no_item(path, text, "a check", template)
        # Only the steps behind `when` decide a check; steps read only by the
        # evidence or the fix text may fail and leave those values null.
        return Check(id=spec["id"], severity=spec["severity"], when=spec["when"], title=spec["title"],
                     explanation=spec["explanation"], line=yamlsrc.line_of(self.data, base) or 0,
                     evidence=dict(spec.get("evidence") or {}), fix_text=fix.get("text", ""),
                     fix_commands=tuple(fix.get("commands") or ()), references=tuple(spec.get("references") or ()),
                     needs=self.expand(when_names), uses=self.expand(names | when_names),
                     undecided=spec.get("undecided"),
                     resolved=Resolved(resolved["when"], resolved["note"],
                                       yamlsrc.line_of(self.data, base + ["resolved"]) or 0,
                                       dict(resolved["evidence"]) if resolved.get("evidence") is not None else None)
                     if resolved else None)

    def check_cycles(self, steps: dict[str, Step]) -> None:
        state: dict[str, int] = {}

        def visit(sid: str, trail: list[str]) -> None:
            if state.get(sid) == 2 or sid not in steps:
                return
            if state.get(sid) == 1:
                cycle = trail[trail.index(sid):] + [sid]
                self.problem(["steps", sid], f"steps depend on each other in a cycle: {' -> '.join(cycle)}",
                             "break the cycle: one of these steps must not read the other")
                return
            state[sid] = 1
            for n in sorted(steps[sid].needs):
                visit(n, trail + [sid])
            state[sid] = 2
        for sid in steps:
            visit(sid, [])
