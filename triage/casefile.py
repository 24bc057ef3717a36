"""Playbook test cases: recorded AWS responses replayed through the real
engine, offline, and the findings compared with what the case expects.

A case file (`<playbook folder>/tests/<playbook id>.cases.yaml`) holds::

    playbook: lambda-timeout
    cases:
      - name: orders-etl-timeout-too-low
        inputs: {function: orders-etl}
        region: us-east-1                  # the region the calls were made in
        recorded_at: '2026-11-22T16:00:00Z'  # the clock now_ms()/ago_ms() see
        expect:
          findings: [timeout-too-low]      # exactly these finding ids
          unchecked: []                    # exactly these unchecked ids (default: none)
          evidence:                        # optional: these evidence values
            timeout-too-low: {timeout_s: 3}
        calls:                             # one per distinct call the playbook makes
          - call: lambda.GetFunctionConfiguration
            params: {FunctionName: orders-etl}
            response: {...}                # the (redacted) result, as JSON
          - call: logs.FilterLogEvents
            params: {...}
            error: {code: AccessDeniedException, message: ...}

`ReplayAws` answers `engine.run` from `calls` (same interface as
triage.aws.Aws); `RecordingAws` is an Aws that remembers what it was
answered, so `triage record` can write a case."""
from __future__ import annotations

import copy
import difflib
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

from . import expr, yamlsrc
from .aws import Aws, CallError, CallFailed, CallRecord, classify
from .errors import PlaybookError, Problem, TriageError
from .permissions import iam_action
from .readonly import guard
from .sanitize import clean
from .suggest import suggest

SUFFIX = ".cases.yaml"
DEFAULT_REGION = "us-east-1"


class CaseFileError(TriageError):
    """A case file that cannot be read; carries every problem, located to file:line."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class RecordedCall:
    service: str
    operation: str
    params: dict
    region: str
    response: Any = None
    error: dict | None = None     # {code, message, kind?}

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"

    def key(self) -> tuple:
        return call_key(self.service, self.operation, self.params, self.region)


@dataclass
class Case:
    name: str
    inputs: dict
    region: str
    recorded_at: float | None           # epoch seconds; None: the real clock
    findings: list[str]
    calls: list[RecordedCall]
    unchecked: list[str] = field(default_factory=list)
    evidence: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    line: int | None = None


@dataclass
class CaseFile:
    path: Path
    playbook: str
    cases: list[Case]


def call_key(service: str, operation: str, params: Any, region: str) -> tuple:
    return (service, operation, region, json.dumps(params, sort_keys=True, default=str))


def cases_path(playbook_path: Path, playbook_id: str | None = None) -> Path:
    """Where the cases of a playbook live: tests/<id>.cases.yaml beside it."""
    return playbook_path.parent / "tests" / f"{playbook_id or playbook_path.stem}{SUFFIX}"


# --- loading ---------------------------------------------------------------

_KEYS = {
    "file": ({"playbook", "cases", "description"}, {"playbook", "cases"}),
    "case": ({"name", "description", "inputs", "region", "recorded_at", "expect", "calls"}, {"name", "expect"}),
    "expect": ({"findings", "unchecked", "evidence"}, {"findings"}),
    "call": ({"call", "params", "region", "response", "error"}, {"call"}),
    "error": ({"code", "message", "kind"}, {"code"}),
}
_KINDS = ("denied", "throttled", "error", "credentials", "network")


class _Reader:
    def __init__(self, data: Any, filename: str):
        self.data, self.filename = data, filename
        self.problems: list[Problem] = []

    def problem(self, path: list, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.filename, yamlsrc.line_of(self.data, path), message, hint))

    def mapping(self, value: Any, path: list, kind: str) -> bool:
        where = ".".join(map(str, path)) or "top level"
        if not isinstance(value, dict):
            self.problem(path, f"{where} must be a mapping", "write `key: value` lines indented under it")
            return False
        allowed, required = _KEYS[kind]
        for key in value:
            if key not in allowed:
                guess = suggest(str(key), sorted(allowed))
                self.problem(path + [key], f"unknown key '{key}' in {where} (unknown keys are errors, never ignored)",
                             f"did you mean '{guess}'?" if guess else f"allowed keys here: {', '.join(sorted(allowed))}")
        for key in sorted(required - set(value)):
            self.problem(path, f"{where}: missing required key '{key}'", _HINTS.get(key))
        return True

    def id_list(self, value: Any, path: list) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(path, f"{'.'.join(map(str, path))} must be a list of finding ids", "e.g. [timeout-too-low], or [] for none")
            return []
        return list(value)

    def read(self) -> CaseFile:
        d = self.data
        if not self.mapping(d, [], "file"):
            raise CaseFileError(self.problems)
        cases: list[Case] = []
        raw_cases = d.get("cases")
        if not isinstance(raw_cases, list):
            if raw_cases is not None:
                self.problem(["cases"], "cases must be a list", "write one `- name: ...` item per case")
            raw_cases = []
        names: dict[str, int] = {}
        for i, raw in enumerate(raw_cases):
            case = self.case(raw, ["cases", i])
            if case is None:
                continue
            if case.name in names:
                self.problem(["cases", i, "name"], f"duplicate case name '{case.name}' (also case #{names[case.name]})",
                             "case names must be unique within a file")
            names[case.name] = i
            cases.append(case)
        if self.problems:
            raise CaseFileError(self.problems)
        return CaseFile(Path(self.filename), str(d["playbook"]), cases)

    def case(self, raw: Any, path: list) -> Case | None:
        if not self.mapping(raw, path, "case"):
            return None
        region = str(raw.get("region") or DEFAULT_REGION)
        inputs = raw.get("inputs") or {}
        if not isinstance(inputs, dict):
            self.problem(path + ["inputs"], "inputs must be a mapping of input name to value", "e.g. {function: orders-etl}")
            inputs = {}
        recorded_at = None
        if raw.get("recorded_at") is not None:
            recorded_at = expr.epoch_s(raw["recorded_at"])
            if recorded_at is None:
                self.problem(path + ["recorded_at"], f"recorded_at {raw['recorded_at']!r} is not a time",
                             "write an ISO time in quotes, e.g. '2026-11-22T16:00:00Z'")
        expect = raw.get("expect")
        findings: list[str] = []
        unchecked: list[str] = []   # a case that does not list any expects none
        evidence: dict = {}
        if expect is not None and self.mapping(expect, path + ["expect"], "expect"):
            findings = self.id_list(expect.get("findings"), path + ["expect", "findings"])
            if "unchecked" in expect:
                unchecked = self.id_list(expect["unchecked"], path + ["expect", "unchecked"])
            ev = expect.get("evidence") or {}
            if not isinstance(ev, dict) or not all(isinstance(v, dict) for v in ev.values()):
                self.problem(path + ["expect", "evidence"], "evidence must map a finding id to {name: value}",
                             "e.g. evidence: {timeout-too-low: {timeout_s: 3}}")
            else:
                evidence = {k: _plain(v) for k, v in ev.items()}
                for check in evidence:
                    if check not in findings:
                        self.problem(path + ["expect", "evidence", check],
                                     f"evidence for '{check}', which is not an expected finding",
                                     f"add {check} to expect.findings, or drop its evidence")
        calls: list[RecordedCall] = []
        raw_calls = raw.get("calls") or []
        if not isinstance(raw_calls, list):
            self.problem(path + ["calls"], "calls must be a list", "write one `- call: service.Operation` item per call")
            raw_calls = []
        for j, rc in enumerate(raw_calls):
            call = self.call(rc, path + ["calls", j], region)
            if call is not None:
                calls.append(call)
        return Case(name=str(raw.get("name")), inputs=_plain(inputs), region=region, recorded_at=recorded_at,
                    findings=findings, calls=calls, unchecked=unchecked, evidence=evidence,
                    description=str(raw.get("description") or ""), line=yamlsrc.line_of(self.data, path))

    def call(self, raw: Any, path: list, region: str) -> RecordedCall | None:
        if not self.mapping(raw, path, "call"):
            return None
        name = raw.get("call")
        if not isinstance(name, str) or "." not in name:
            if name is not None:
                self.problem(path + ["call"], f"call {name!r} is not service.Operation", "e.g. lambda.GetFunctionConfiguration")
            return None
        service, operation = name.split(".", 1)
        if ("response" in raw) == ("error" in raw):
            self.problem(path, f"{name}: give exactly one of `response:` (what AWS answered) or `error:` (the error code)",
                         "e.g. error: {code: AccessDeniedException, message: ...}")
            return None
        error = None
        if "error" in raw:
            if not self.mapping(raw["error"], path + ["error"], "error"):
                return None
            error = _plain(raw["error"])
            if error.get("kind") is not None and error["kind"] not in _KINDS:
                self.problem(path + ["error", "kind"], f"error kind {error['kind']!r} is unknown", f"one of {', '.join(_KINDS)}")
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            self.problem(path + ["params"], "params must be a mapping", "the parameters exactly as the playbook sends them")
            return None
        return RecordedCall(service, operation, _plain(params), str(raw.get("region") or region),
                            _plain(raw.get("response")), error)


_HINTS = {
    "playbook": "name the playbook id the cases test, e.g. `playbook: lambda-timeout`",
    "cases": "add a `cases:` list",
    "name": "give each case a short unique name",
    "expect": "add `expect: {findings: [...]}` (an empty list when the case must find nothing)",
    "findings": "list the finding ids the case must produce, [] for none",
    "call": "name the call, e.g. `call: lambda.GetFunctionConfiguration`",
    "code": "the AWS error code, e.g. AccessDeniedException",
}


def load(path: str | Path) -> CaseFile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CaseFileError([Problem(str(path), None, f"cannot read case file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise CaseFileError([Problem(str(path), None, "case file is not UTF-8 text")]) from None
    return load_text(text, path)


def load_text(text: str, path: Path) -> CaseFile:
    try:
        data = yamlsrc.load(text, str(path))
    except PlaybookError as exc:
        raise CaseFileError(exc.problems) from None
    return _Reader(data, str(path)).read()


def _plain(value: Any) -> Any:
    """Plain JSON-like data: YAML timestamps become ISO strings, as boto3
    datetimes do when a case is recorded."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


# --- the clock ---------------------------------------------------------------

_CLOCK_LOCK = threading.Lock()


@contextmanager
def frozen_clock(epoch_s: float | None) -> Iterator[None]:
    """now_ms()/ago_ms() return the same values while recording and while
    replaying, so time-window parameters match the recorded calls."""
    if epoch_s is None:
        yield
        return
    with _CLOCK_LOCK:
        previous = expr._frozen_now
        expr._frozen_now = epoch_s
        try:
            yield
        finally:
            expr._frozen_now = previous


# --- replay ------------------------------------------------------------------

class ReplayAws:
    """Answers engine.run from a case's recorded calls (the interface of
    triage.aws.Aws: call, region, redactor, log). A call the case did not
    record fails the step and is reported, so a playbook change that adds or
    alters a call shows up as a failing case, not as a silent pass."""

    def __init__(self, case: Case):
        self.case = case
        self.region = case.region
        self.redactor = None
        self.log: list[CallRecord] = []
        self.unrecorded: list[str] = []
        self._by_key = {c.key(): c for c in case.calls}
        self._seen: set[tuple] = set()
        self._lock = threading.Lock()

    def call(self, service: str, operation: str, params: dict, *, region: str | None = None,
             paginate: bool = False, max_items: int | None = None, step: str | None = None,
             **_transport: Any) -> Any:
        # _transport: retry/timeout knobs (max_attempts, ...) mean nothing to a replay
        guard(service, operation, params)
        region = region or self.region
        key = call_key(service, operation, params, region)
        name = f"{service}.{operation}"
        with self._lock:
            cached = key in self._seen
            self._seen.add(key)
        recorded = self._by_key.get(key)
        if recorded is None:
            message = self._unrecorded_message(service, operation, params, region, step)
            with self._lock:
                self.unrecorded.append(message)
                self.log.append(CallRecord(name, 0.0, cached, "NotRecorded", step, region))
            raise CallFailed(CallError("error", "NotRecorded", message))
        if recorded.error is not None:
            code = str(recorded.error.get("code"))
            kind = recorded.error.get("kind") or classify(code)
            with self._lock:
                self.log.append(CallRecord(name, 0.0, cached, f"{code}: {recorded.error.get('message', '')}", step, region))
            raise CallFailed(CallError(kind, code, str(recorded.error.get("message") or ""),
                                       iam_action(service, operation) if kind == "denied" else None))
        with self._lock:
            self.log.append(CallRecord(name, 0.0, cached, None, step, region))
        result = copy.deepcopy(recorded.response)
        if self.redactor is not None:   # facts stay exact; the redactor only remembers the secrets
            self.redactor.learn(service, operation, result)
        return result

    def _unrecorded_message(self, service: str, operation: str, params: dict, region: str, step: str | None) -> str:
        sent = json.dumps(params, sort_keys=True, default=str)
        same = [c for c in self.case.calls if (c.service, c.operation) == (service, operation)]
        where = f"step '{step}': " if step else ""
        text = f"{where}{service}.{operation} {sent} (region {region}) was not recorded in this case"
        if same:
            closest = min(same, key=lambda c: -difflib.SequenceMatcher(
                None, json.dumps(c.params, sort_keys=True, default=str), sent).ratio())
            diff = _param_diff(closest.params, params)
            text += f"; the recorded {service}.{operation} differs: {diff}" if diff else f"; recorded in region {closest.region}"
        return text


def _param_diff(recorded: dict, sent: dict) -> str:
    parts = []
    for k in sorted(set(recorded) | set(sent)):
        if recorded.get(k, _MISSING) != sent.get(k, _MISSING):
            parts.append(f"{k}: recorded {_short(recorded.get(k, _MISSING))}, sent {_short(sent.get(k, _MISSING))}")
    return "; ".join(parts)


_MISSING = object()


def _short(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


# --- running and comparing ------------------------------------------------------

@dataclass
class Outcome:
    case: Case
    problems: list[str]            # empty: passed
    got_findings: list[str]
    got_unchecked: list[str]
    seconds: float

    @property
    def passed(self) -> bool:
        return not self.problems


def run_case(playbook, case: Case) -> Outcome:
    from . import engine

    started = time.perf_counter()
    aws = ReplayAws(case)
    try:
        with frozen_clock(case.recorded_at):
            diagnosis = engine.run(playbook, case.inputs, aws)  # type: ignore[arg-type]
    except TriageError as exc:   # e.g. an input the playbook no longer has
        return Outcome(case, [f"could not run: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")], [], [],
                       time.perf_counter() - started)
    data = diagnosis.to_dict()
    problems = compare(case, data)
    problems += [f"unrecorded call: {m}" for m in aws.unrecorded]
    return Outcome(case, problems, [f["check"] for f in data["findings"]], [u["check"] for u in data["unchecked"]],
                   time.perf_counter() - started)


def compare(case: Case, data: dict) -> list[str]:
    """Readable differences between what a case expects and a diagnosis (to_dict)."""
    problems = []
    got = sorted(f["check"] for f in data["findings"])
    if got != sorted(case.findings):
        problems.append("findings differ:\n" + _id_diff(sorted(case.findings), got))
    unchecked = {u["check"]: u for u in data["unchecked"]}
    if sorted(unchecked) != sorted(case.unchecked):
        diff = _id_diff(sorted(case.unchecked), sorted(unchecked))
        reasons = "".join(f"\n      {cid}: {unchecked[cid]['reason']}" for cid in sorted(set(unchecked) - set(case.unchecked)))
        problems.append("unchecked differ:\n" + diff + reasons)
    findings = {f["check"]: f for f in data["findings"]}
    for check, values in case.evidence.items():
        f = findings.get(check)
        if f is None:
            continue  # already reported as a missing finding
        for name, want in values.items():
            have = f["evidence"].get(name, _MISSING)
            if not _same(want, have):
                problems.append(f"evidence {check}.{name} differs:\n" + _value_diff(want, have))
    return problems


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str) or a == b


def _id_diff(expected: list[str], got: list[str]) -> str:
    lines = [f"    - {cid}   (expected, not produced)" for cid in expected if cid not in got]
    lines += [f"    + {cid}   (produced, not expected)" for cid in got if cid not in expected]
    lines.append(f"    expected [{', '.join(expected)}], got [{', '.join(got)}]")
    return "\n".join(lines)


def _value_diff(want: Any, have: Any) -> str:
    if have is _MISSING:
        return f"    - {_dump(want)}\n    + (no such evidence value)"
    a, b = _dump(want, indent=True).splitlines(), _dump(have, indent=True).splitlines()
    if len(a) == 1 and len(b) == 1:
        return f"    - {a[0]}\n    + {b[0]}"
    diff = difflib.unified_diff(a, b, "expected", "got", lineterm="", n=2)
    return "\n".join("    " + line for line in diff)


def _dump(value: Any, indent: bool = False) -> str:
    return clean(json.dumps(value, indent=2 if indent else None, sort_keys=True, default=str, ensure_ascii=False))


# --- recording ---------------------------------------------------------------

class RecordingAws(Aws):
    """An Aws that remembers every distinct call and its exact answer or
    error, in the order they were first made (masked when the case is written)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.recorded: list[RecordedCall] = []
        self._recorded_keys: set[tuple] = set()
        self._rec_lock = threading.Lock()

    def call(self, service: str, operation: str, params: dict, *, region: str | None = None,
             paginate: bool = False, max_items: int | None = None, step: str | None = None,
             **transport: Any) -> Any:
        region = region or self.region
        try:
            result = super().call(service, operation, params, region=region, paginate=paginate,
                                  max_items=max_items, step=step, **transport)
        except CallFailed as exc:
            if exc.error.kind not in ("network", "credentials"):
                self._remember(RecordedCall(service, operation, _plain(params), region,
                                            error={"code": exc.error.code, "message": exc.error.message}))
            raise
        self._remember(RecordedCall(service, operation, _plain(params), region, response=_plain(result)))
        return result

    def _remember(self, call: RecordedCall) -> None:
        with self._rec_lock:
            if call.key() not in self._recorded_keys:
                self._recorded_keys.add(call.key())
                self.recorded.append(call)


def case_from_run(name: str, diagnosis, calls: list[RecordedCall], recorded_at: float, region: str,
                  description: str = "") -> dict:
    """A case (plain data, redacted) from a live run: its calls and what it found."""
    data = diagnosis.to_dict()
    order = {sid: i for i, sid in enumerate(diagnosis.playbook.steps)}
    steps_of = {}
    for rec in diagnosis.calls:
        steps_of.setdefault(rec.call, order.get(rec.step, len(order)))
    calls = sorted(calls, key=lambda c: steps_of.get(c.name, len(order)))  # stable: steps' order, then first use
    case: dict[str, Any] = {"name": name}
    if description:
        case["description"] = description
    case["inputs"] = {k: v for k, v in diagnosis.inputs.items() if v is not None}
    case["region"] = region
    case["recorded_at"] = expr.iso(recorded_at)
    expect: dict[str, Any] = {"findings": [f["check"] for f in data["findings"]],
                              "unchecked": [u["check"] for u in data["unchecked"]]}
    evidence = {f["check"]: f["evidence"] for f in data["findings"] if f["evidence"]}
    if evidence:
        expect["evidence"] = evidence
    case["expect"] = expect
    out_calls = []
    for c in calls:
        entry: dict[str, Any] = {"call": c.name, "params": c.params}
        if c.region != region:
            entry["region"] = c.region
        if c.error is not None:
            entry["error"] = c.error
        else:   # the output edge: what AWS marks sensitive, and secret-named fields, are masked
            entry["response"] = diagnosis.redactor.result(c.service, c.operation, c.response)
        out_calls.append(entry)
    case["calls"] = out_calls
    return diagnosis.redactor.deep(case)


def dump_cases(cases: list[dict]) -> str:
    """YAML text of a cases list (items only), for appending under `cases:`."""
    import yaml
    return yaml.safe_dump(cases, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def file_header(playbook_id: str) -> str:
    return (f"# Test cases for the {playbook_id} playbook: `triage test` replays each case's recorded\n"
            f"# AWS responses through the engine, offline, and compares the findings.\n"
            f"# Record more with: triage record {playbook_id} --input NAME=VALUE --name CASE\n"
            f"playbook: {playbook_id}\ncases:\n")


class CaseExists(TriageError):
    """A case of that name is already in the case file (and --replace was not given)."""


def check_writable(path: Path, playbook_id: str, name: str | None = None, *, replace: bool = False) -> None:
    """Raise before any work when a case cannot be written to `path`: the file
    holds another playbook's cases, is not a valid case file, or already has a
    case called `name` (unless `replace`)."""
    if not path.exists():
        return
    if path.is_dir():
        raise TriageError(f"{path} is a folder, not a case file", "pass --out with a file name (…/tests/<id>.cases.yaml)")
    existing = load(path)
    if existing.playbook != playbook_id:
        raise TriageError(f"{path} holds cases for playbook '{existing.playbook}', not '{playbook_id}'",
                          "pass --out with another file")
    if name is not None and not replace and any(c.name == name for c in existing.cases):
        raise CaseExists(f"case '{name}' already exists in {path}; not replaced",
                         "pass --replace to overwrite it, or --name NEW to record it under another name")


def write_case(path: Path, playbook_id: str, case: dict, *, replace: bool = False) -> str:
    """Add a case to a case file (creating it). A case with the same name is
    replaced only when `replace` is true; otherwise CaseExists is raised and
    the file is left as it was. Returns 'added' or 'replaced'."""
    import yaml

    check_writable(path, playbook_id, case["name"], replace=replace)
    item = _indent(dump_cases([case]))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file_header(playbook_id) + item, encoding="utf-8")
        return "added"
    existing = load(path)
    text = path.read_text(encoding="utf-8")
    if all(c.name != case["name"] for c in existing.cases):
        # Appending the item as text keeps the file's comments; it works when
        # `cases:` is the last key and a block list with the same indentation.
        appended = text.rstrip("\n") + "\n" + item
        try:
            if len(load_text(appended, path).cases) == len(existing.cases) + 1:
                path.write_text(appended, encoding="utf-8")
                return "added"
        except CaseFileError:
            pass
    raw = yaml.safe_load(text)
    cases = [c for c in raw.get("cases") or [] if c.get("name") != case["name"]]
    replaced = len(cases) != len(raw.get("cases") or [])
    cases.append(case)
    path.write_text(file_header(playbook_id) + _indent(dump_cases(_plain(cases))), encoding="utf-8")
    return "replaced" if replaced else "added"


def _indent(text: str) -> str:
    return "".join("  " + line if line.strip() else line for line in text.splitlines(keepends=True))
