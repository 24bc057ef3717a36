"""Runs a playbook: steps form a dependency graph (derived from the names
their expressions read); every step whose inputs are ready runs at once on a
thread pool; checks are evaluated when the data they read is complete. A
step that failed makes the checks reading it "unchecked", never a false
finding and never a crash of the others."""
from __future__ import annotations

import itertools
import queue
import re
import shlex
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any, Callable

from . import expr
from .aws import Aws, CallError, CallFailed
from .errors import AwsUnavailable, ReadOnlyViolation, UsageError
from .playbook import SEVERITIES, Check, Input, Playbook, Step, a_or_an
from .redact import Redactor
from .redact import shared as shared_redactor
from .sanitize import deep_clean
from .suggest import suggest


@dataclass
class StepOutcome:
    status: str                       # ok | skipped | failed
    value: Any = None
    error: CallError | None = None
    reason: str | None = None         # for failed: one line
    ms: float = 0.0


@dataclass
class Finding:
    check: str
    severity: str
    title: str
    explanation: str
    evidence: dict
    fix_text: str
    fix_commands: list[str]
    when: str = ""
    steps: tuple = ()                 # step ids whose results it read (drill-down)
    references: tuple = ()

    def to_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "title": self.title,
                "explanation": self.explanation, "evidence": self.evidence,
                "fix": {"text": self.fix_text, "commands": self.fix_commands}}


@dataclass
class Observation:
    """A problem a check found only in evidence older than the current
    configuration (a check's `resolved:`): fixed, under observation. Not a
    finding: it never changes the outcome."""
    check: str
    note: str
    evidence: dict

    def to_dict(self) -> dict:
        return {"check": self.check, "note": self.note, "evidence": self.evidence}


@dataclass
class Unchecked:
    check: str
    reason: str
    needs: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)   # one per failed call it needed (said once per cause)

    def to_dict(self) -> dict:
        return {"check": self.check, "reason": self.reason, "needs": self.needs,
                "causes": self.causes or [self.reason]}


@dataclass
class Diagnosis:
    playbook: Playbook
    inputs: dict
    findings: list[Finding]
    unchecked: list[Unchecked]
    calls: list
    steps: dict[str, StepOutcome]
    redactor: Redactor
    region: str | None = None
    seconds: float = 0.0
    unavailable: str | None = None    # set when AWS could not be reached at all
    interrupted: bool = False
    region_source: str | None = None  # "from the ARN" when an input's ARN chose the region
    changes: Any = None               # triage.changes.Timeline when the run looked for recent changes
    changes_skipped: str | None = None  # why it did not look (scan, --no-changes): JSON "changes" is null
    observations: list = field(default_factory=list)   # Observation: fixed, under observation

    @property
    def outcome(self) -> str:
        """Exactly one of OUTCOMES. "healthy" only when every check ran."""
        if self.unavailable:
            return "unavailable"
        if self.findings:
            return "findings"
        if self.unchecked or self.interrupted:
            return "inconclusive"
        return "healthy"

    def to_dict(self) -> dict:
        """The JSON API, through the output edge: every string redacted and
        stripped of control sequences."""
        data = {
            "playbook": self.playbook.id,
            "title": self.playbook.title,
            "outcome": self.outcome,
            "region": self.region,
            "inputs": self.inputs,
            "findings": [f.to_dict() for f in self.findings],
            "unchecked": [u.to_dict() for u in self.unchecked],
            "observations": [o.to_dict() for o in self.observations],
            "checks": len(self.playbook.checks),
            "calls": [c.to_dict() for c in self.calls],
            "seconds": round(self.seconds, 3),
        }
        if self.region_source:
            data["region_source"] = self.region_source
        if self.unavailable:
            data["error"] = self.unavailable
        if self.changes is not None:   # "changes" (a list, or null and why) and "change_search"
            data.update(self.changes.to_dict(self.redactor))
        elif self.changes_skipped:     # null, never [] (which would read "nothing changed")
            data.update({"changes": None, "change_search": {"reason": self.changes_skipped}})
        return deep_clean(self.redactor.deep(data))


# outcome -> what it means; the exit status of each is errors.ExitStatus.for_outcome
OUTCOMES = {
    "findings": "at least one check found a problem",
    "healthy": "every check ran and none found a problem",
    "inconclusive": "no problem found, but at least one check could not run (each is named, with why)",
    "unavailable": "AWS could not be reached: endpoint unreachable, no credentials, or the deadline passed",
}


ProgressFn = Callable[[str, str], None]   # (event, step id) -> None
_RUN_IDS = itertools.count(1)


def coerce_inputs(playbook: Playbook, given: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
    """Apply defaults, types and formats (triage/input_formats.py); raise UsageError
    naming the flag. Warnings about values that are unusual but usable go to `warnings`."""
    out: dict[str, Any] = {}
    unknown = sorted(set(given) - set(playbook.inputs))
    if unknown:
        guess = suggest(unknown[0], list(playbook.inputs))
        raise UsageError(f"{playbook.id} has no input '{unknown[0]}'",
                         f"did you mean {playbook.inputs[guess].flag}?" if guess else
                         f"inputs: {', '.join(i.flag for i in playbook.inputs.values()) or 'none'}")
    for name, spec in playbook.inputs.items():
        value = given.get(name)
        if value is None or value == []:
            if spec.required:
                raise UsageError(f"{playbook.id} needs {spec.flag}", spec.help or None)
            value = spec.default
        if value is not None:
            value = _coerce(spec, value)
        out[name] = value
    if any(spec.format for spec in playbook.inputs.values()):
        from .input_formats import apply
        out = apply(playbook.inputs, out, warnings)
    return out


def _coerce(spec: Input, value: Any) -> Any:
    try:
        if spec.type == "integer":
            value = int(value)
        elif spec.type == "number":
            value = float(value)
        elif spec.type == "boolean" and isinstance(value, str):
            words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
            if value.lower() not in words:  # a typo must not quietly mean false
                raise ValueError(value)
            value = words[value.lower()]
        elif spec.type == "duration":
            expr.parse_duration(value)  # validate; keep the user's spelling
        elif spec.type == "list" and isinstance(value, str):
            value = [v for v in value.split(",") if v]
    except ValueError as exc:
        if spec.type == "duration":
            raise UsageError(f"{spec.flag}: {exc}") from None
        raise UsageError(f"{spec.flag} must be {a_or_an(spec.type)}, got {value!r}", _what_to_write(spec)) from None
    if spec.minimum is not None and spec.type in ("integer", "number") and value < spec.minimum:
        raise UsageError(f"{spec.flag} must be at least {spec.minimum}, got {value!r}", _what_to_write(spec))
    bad = [v for v in (value if spec.type == "list" else [value]) if v not in spec.choices] if spec.choices else []
    if bad:
        raise UsageError(f"{spec.flag} must be one of {', '.join(map(str, spec.choices))}, got {bad[0]!r}")
    return value


def _what_to_write(spec: Input) -> str | None:
    """The hint of a rejected integer or number: what to write instead."""
    if spec.type not in ("integer", "number"):
        return None
    kind = "a whole number" if spec.type == "integer" else "a number"
    at_least = f" of {spec.minimum} or more" if spec.minimum is not None else ""
    example = spec.default if spec.default is not None else spec.example if spec.example is not None else spec.minimum
    return f"write {kind}{at_least}" + (f", e.g. {spec.flag} {example}" if example is not None else "")


def run(playbook: Playbook, inputs: dict[str, Any], aws: Aws, *, deadline: float | None = None,
        progress: ProgressFn | None = None, cancel: threading.Event | None = None,
        max_workers: int = 16, region: str | None = None, changes: Any = None) -> Diagnosis:
    """`changes`: a triage.changes.Request to look for recent changes to the
    playbook's `resources:` on the side, while the steps run (context only:
    it never changes the outcome)."""
    started = time.monotonic()
    values = coerce_inputs(playbook, inputs)
    redactor = aws.redactor if aws.redactor is not None else shared_redactor()
    aws.redactor = redactor
    # A scan passes each run's region; otherwise --region, then the region
    # inside an ARN input (--function arn:aws:lambda:eu-west-1:...), then the profile's.
    region_source = None
    if region is None:
        explicit = getattr(getattr(aws, "settings", None), "region", None)
        arn_region = None if explicit else _arn_region(playbook, values)
        region, region_source = (arn_region, "from the ARN") if arn_region else (aws.region, None)
    context: dict[str, Any] = {"inputs": values, "region": region}
    outcomes: dict[str, StepOutcome] = {}
    log_start = len(aws.log)
    run_id = next(_RUN_IDS)
    note = progress or (lambda event, step: None)
    cancel = cancel or threading.Event()
    pending = dict(playbook.steps)
    running: dict[Future, str] = {}
    pool = _DaemonPool(max_workers, "triage-step")
    timed_out = False
    watch = None
    if changes is not None:
        from .changes import Watch
        watch = Watch(changes, aws, region, playbook=playbook, inputs=values, run_id=run_id, started=started,
                      deadline=deadline, cancel=cancel)
    try:
        while pending or running:
            progressed = True
            while progressed:  # blocked steps resolve at once and may unblock others
                progressed = False
                for sid in [s for s, step in pending.items() if step.needs <= outcomes.keys()]:
                    step = pending.pop(sid)
                    progressed = True
                    blocked = [n for n in sorted(step.needs) if outcomes[n].status == "failed"]
                    if blocked:
                        first = outcomes[blocked[0]]
                        outcomes[sid] = StepOutcome("failed", error=first.error,
                                                    reason=first.reason or f"depends on step '{blocked[0]}', which failed")
                        continue
                    snapshot = {**context, **{k: o.value for k, o in outcomes.items()}}
                    note("start", sid)
                    running[pool.submit(_run_step, step, snapshot, aws, run_id)] = sid
            if not running:
                if pending:  # unreachable after validation (cycles are rejected)
                    raise UsageError(f"steps {', '.join(pending)} can never run (dependency cycle)")
                break
            remaining = None if deadline is None else deadline - (time.monotonic() - started)
            if remaining is not None and remaining <= 0 or cancel.is_set():
                timed_out = not cancel.is_set()
                break
            done, _ = wait(list(running), timeout=min(0.2, remaining) if remaining is not None else 0.2,
                           return_when=FIRST_COMPLETED)
            for future in done:
                sid = running.pop(future)
                outcomes[sid] = future.result()
                note("done", sid)
            if watch is not None and done:
                watch.update(context, outcomes)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    stop_reason = None
    if timed_out or cancel.is_set():
        stop_reason = f"deadline of {deadline:g} s reached" if timed_out else "cancelled"
        for sid in list(pending) + list(running.values()):
            outcomes[sid] = StepOutcome("failed", reason=f"{playbook.steps[sid].call} did not finish: {stop_reason}")
    for sid, outcome in outcomes.items():
        context[sid] = outcome.value
    derive_errors: dict[str, str] = {}
    for name, expression in playbook.derive.items():
        try:
            context[name] = expr.search(expression, context)
        except Exception as exc:  # a type mismatch: checks reading it report it as unchecked
            context[name] = None
            derive_errors[name] = str(exc)

    findings, unchecked, observations = [], [], []
    missing = _subject_missing(playbook, outcomes, context)
    if missing is not None:
        findings.append(missing)
    for check in playbook.checks:
        if missing is not None and playbook.subject.step in _steps_behind(check.needs, playbook):
            continue   # about a resource that does not exist: the finding above says so, once
        result = _evaluate(check, context, outcomes, playbook, derive_errors)
        if isinstance(result, Finding):
            findings.append(result)
        elif isinstance(result, Unchecked):
            unchecked.append(result)
        elif isinstance(result, Observation):
            observations.append(result)
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))
    # this run's calls only: an Aws shared by concurrent runs (scan, demo, REPL) logs them all
    calls = [c for c in aws.log[log_start:] if getattr(c, "run", None) in (run_id, None)]
    diagnosis = Diagnosis(playbook, values, findings, unchecked, calls, outcomes, redactor, region,
                          time.monotonic() - started, interrupted=cancel.is_set(), region_source=region_source,
                          observations=observations)
    diagnosis.unavailable = _unavailable(outcomes, calls, stop_reason if timed_out else None)
    if watch is not None:
        # the diagnosis already says why AWS was unavailable (its "error"): said once, not again here
        stop = stop_reason or ("AWS was unavailable (see above)" if diagnosis.unavailable else None)
        diagnosis.changes = watch.finish(context, findings, stop=stop)
        diagnosis.seconds = time.monotonic() - started
    return diagnosis


def _arn_region(playbook: Playbook, values: dict) -> str | None:
    """The region of the first string input that is a regional ARN."""
    for name in playbook.inputs:
        value = values.get(name)
        if isinstance(value, str) and value.startswith("arn:"):
            parts = value.split(":")
            if len(parts) > 4 and parts[3]:
                return parts[3]
    return None


def _steps_behind(needs: frozenset, playbook: Playbook) -> set[str]:
    """Every step a set of steps waits for, transitively."""
    seen: set[str] = set()
    todo = list(needs)
    while todo:
        sid = todo.pop()
        if sid not in seen and sid in playbook.steps:
            seen.add(sid)
            todo += playbook.steps[sid].needs
    return seen


def _subject_missing(playbook: Playbook, outcomes: dict[str, StepOutcome], context: dict) -> Finding | None:
    """The finding when the playbook's subject does not exist (its step answered not-found)."""
    subject = playbook.subject
    outcome = outcomes.get(subject.step) if subject else None
    if outcome is None or outcome.status != "failed" or outcome.error is None or not outcome.error.not_found:
        return None
    name = _text(subject.name, context)
    region = context.get("region")
    step = playbook.steps[subject.step]
    explanation = (f"{step.call} answered {outcome.error.code}: {outcome.error.message.strip() or 'not found'}. "
                   f"triage looked in {region}. Names are case-sensitive"
                   + (" and regional." if step.service not in ("iam", "organizations", "s3") else "."))
    hint = _text(subject.hint, context) if subject.hint else ""
    return Finding(
        check="subject-not-found", severity="high",
        title=f"{subject.kind} {name} does not exist in {region}" if step.service not in ("iam", "organizations")
        else f"{subject.kind} {name} does not exist",
        explanation=explanation, evidence={"name": name, "region": region, "error": outcome.error.code},
        fix_text=hint or f"Check the {subject.kind}'s name and region; none of the other checks apply until it exists.",
        fix_commands=_commands(subject.commands, context),
        when=f"{subject.step} answered {outcome.error.code}", steps=(subject.step,))


def _unavailable(outcomes: dict[str, StepOutcome], calls: list, deadline_reason: str | None) -> str | None:
    """AWS is 'unavailable' (exit 3) when credentials are missing, or the
    network failed and no call got through, or the deadline was hit."""
    errors = [o.error for o in outcomes.values() if o.error is not None]
    cred = next((e for e in errors if e.kind == "credentials"), None)
    if cred:
        return f"no usable AWS credentials: {cred.message}"
    if any(e.kind == "network" for e in errors) and not any(c.error is None for c in calls):
        # the first failure, not a later call that was not sent because of it
        net = min((e for e in errors if e.kind == "network"), key=lambda e: e.code == "EndpointDown")
        return f"AWS endpoint unreachable: {net.message}"
    if deadline_reason:
        return deadline_reason
    return None


def _run_step(step: Step, context: dict, aws: Aws, run_id: int) -> StepOutcome:
    started = time.perf_counter()
    try:
        if step.when is not None and not _truthy(expr.search(step.when, context)):
            return StepOutcome("skipped")
        if step.for_each:
            items = expr.search(step.for_each, context) or []
            if not isinstance(items, list):
                items = [items]
            results = _fan_out(step, items, context, aws, run_id)
            if items and all("error" in r and r.get("failed") for r in results):
                err = results[0]["_error"]
                return StepOutcome("failed", error=err, reason=err.reason(step.call))
            return StepOutcome("ok", [{k: v for k, v in r.items() if not k.startswith("_") and k != "failed"} for r in results])
        return StepOutcome("ok", _call(step, context, aws, run_id))
    except CallFailed as exc:
        return StepOutcome("failed", error=exc.error, reason=exc.error.reason(step.call),
                           ms=(time.perf_counter() - started) * 1000)
    except ReadOnlyViolation as exc:
        return StepOutcome("failed", error=CallError("readonly", "ReadOnlyViolation", exc.message), reason=exc.message)
    except AwsUnavailable as exc:
        return StepOutcome("failed", error=CallError("credentials", "AwsUnavailable", exc.message), reason=exc.message)
    except Exception as exc:  # an expression that fails at run time (e.g. wrong type): a playbook bug
        return StepOutcome("failed", error=CallError("error", type(exc).__name__, str(exc)),
                           reason=f"step '{step.id}' could not be prepared: {exc}")


def _call(step: Step, context: dict, aws: Aws, run_id: int | None = None) -> Any:
    params = _render(step.params, context)
    region = expr.parse_template(step.region).render(context) if step.region else context.get("region")
    try:
        return aws.call(step.service, step.operation, params, region=region, paginate=step.paginate,
                        max_items=step.max_items, step=step.id, max_attempts=step.max_attempts,
                        run=run_id)
    except CallFailed as exc:
        if exc.error.code in step.allow_errors or ("*" in step.allow_errors and exc.error.kind != "credentials"):
            return {"error": {"code": exc.error.code, "message": exc.error.message}}
        raise


def _fan_out(step: Step, items: list, context: dict, aws: Aws, run_id: int | None = None) -> list[dict]:
    def one(item):
        try:
            return {"item": item, "result": _call(step, {**context, "item": item}, aws, run_id)}
        except CallFailed as exc:
            return {"item": item, "error": {"code": exc.error.code, "message": exc.error.message},
                    "failed": True, "_error": exc.error}
    if len(items) <= 1:
        return [one(i) for i in items]
    pool = _DaemonPool(min(16, len(items)), "triage-each")
    try:
        return [f.result() for f in [pool.submit(one, i) for i in items]]
    finally:
        pool.shutdown(cancel_futures=True)


class _DaemonPool:
    """A minimal executor on daemon threads. ThreadPoolExecutor's workers are
    joined at interpreter exit, so a step stuck in a black-holed read would
    keep the process alive long after --deadline gave up on it."""

    def __init__(self, max_workers: int, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._max, self._name, self._workers = max_workers, name, 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable, *args: Any) -> Future:
        future: Future = Future()
        self._queue.put((future, fn, args))
        with self._lock:
            if self._workers < self._max:
                self._workers += 1
                threading.Thread(target=self._work, name=self._name, daemon=True).start()
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # delivered to whoever waits on the future
                    future.set_exception(exc)

    def shutdown(self, wait: bool = False, cancel_futures: bool = False) -> None:
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in range(self._workers):
            self._queue.put(None)


def _render(value: Any, context: dict) -> Any:
    if isinstance(value, str):
        return expr.parse_template(value).render(context) if expr.is_template(value) else value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            rendered = _render(v, context)
            if rendered is not None:  # a template yielding null drops the optional parameter
                out[k] = rendered
        return out
    if isinstance(value, list):
        return [_render(v, context) for v in value]
    return value


def _truthy(value: Any) -> bool:
    # JMESPath truthiness: null, false, "", [], {} are false; numbers are true.
    return not (value is None or value is False or value == "" or value == [] or value == {})


def _evaluate(check: Check, context: dict, outcomes: dict[str, StepOutcome], playbook: Playbook,
              derive_errors: dict[str, str] | None = None):
    failed = [sid for sid in sorted(check.needs) if outcomes.get(sid) and outcomes[sid].status == "failed"]
    if failed:
        reasons, needs, causes = [], [], []
        for sid in failed:
            o = outcomes[sid]
            why = o.reason or f"step '{sid}' failed"
            reasons.append(why)
            need = o.error.needs if o.error and o.error.needs else None
            if need and need not in needs:
                needs.append(need)
            causes.append(f"could not check: needs {need} ({why})" if need else f"could not check: {why}")
        causes = list(dict.fromkeys(causes))
        reason = "; ".join(dict.fromkeys(reasons))
        if needs:
            reason = f"could not check: needs {', '.join(needs)} ({reason})"
        else:
            reason = f"could not check: {reason}"
        return Unchecked(check.id, reason, needs, causes)
    try:
        if not _truthy(expr.search(check.when, context)):
            if check.undecided:           # it ran, but what it read cannot decide: never healthy
                why = expr.search(check.undecided, context)
                if _truthy(why):
                    reasons = [expr.stringify(w) for w in (why if isinstance(why, list) else [why])]
                    reason = "could not check: " + "; ".join(dict.fromkeys(reasons))
                    return Unchecked(check.id, reason, [], [reason])
            return _observation(check, context)
        evidence = _evidence(check, context)
        return Finding(
            check=check.id, severity=check.severity,
            title=_text(check.title, context),
            explanation=_text(check.explanation, context),
            evidence=evidence, fix_text=_text(check.fix_text, context),
            fix_commands=_commands(check.fix_commands, context),
            when=check.when, steps=tuple(sorted(check.uses)), references=check.references)
    except Exception as exc:
        causes = "".join(f"; derived value '{k}' failed: {v}" for k, v in (derive_errors or {}).items())
        return Unchecked(check.id, f"could not evaluate: {exc}{causes} (a playbook bug; run `triage validate {playbook.path}`)")


_PLACEHOLDER = re.compile(r"\$[A-Z][A-Z0-9_]*")   # a shell variable the engineer sets: $STREAM_ARN


def _commands(templates, context: dict) -> list[str]:
    """The fix commands of a list of templates: one each, none for a template
    that yields nothing, one per argv for a template that yields a list of
    argvs (`plan[].['aws', 'lambda', ..., function]`: a command for every
    item; an empty argv is no command)."""
    out: list[str] = []
    for t in templates:
        parsed = expr.parse_template(t)
        if len(parsed.parts) == 1 and isinstance(parsed.parts[0], tuple):
            value = parsed.render(context)
            if isinstance(value, list) and value and all(isinstance(v, list) or _is_assignment(v) for v in value):
                literals = expr.string_literals(parsed.parts[0][1])
                out += [_assignment(v, literals) if _is_assignment(v) else _argv(v, literals)
                        for v in value if v]
                continue
        command = _command(t, context)
        if command:
            out.append(command)
    return out


def _is_assignment(value: Any) -> bool:
    """{"set": NAME, "argv": [...]}: a command whose output (an id created at
    paste time) the later commands of the same fix use as "$NAME"."""
    return (isinstance(value, dict) and set(value) == {"set", "argv"} and isinstance(value["set"], str)
            and _SHELL_VAR.fullmatch(value["set"]) is not None and isinstance(value["argv"], list)
            and bool(value["argv"]))


def _assignment(value: dict, literals) -> str:
    """NAME=$(argv): the command's output captured for the later commands."""
    return f'{value["set"]}=$({_argv(value["argv"], literals)})'


def _is_placeholder(word: str, literals: set[str]) -> bool:
    """A shell variable the expression itself spells out: '$STREAM_ARN', or a
    literal prefix ending in _ and a number ('$QUEUE_ARN_' and 2: one
    variable per item when several need one)."""
    if not _PLACEHOLDER.fullmatch(word):
        return False
    if word in literals:
        return True
    head = word.rstrip("0123456789")
    return head != word and head.endswith("_") and head in literals


def _argv(words: list, literals) -> str:
    """An argv as one shell line: every word quoted, except a placeholder the
    playbook's expression itself spells out ('$STREAM_ARN' -> "$STREAM_ARN")."""
    return " ".join(f'"{w}"' if isinstance(w, str) and _is_placeholder(w, literals) else _shell_word(w)
                    for w in words)


def _evidence(check: Check, context: dict, spec: dict | None = None) -> dict:
    evidence = {}
    for name, e in (check.evidence if spec is None else spec).items():
        try:
            evidence[name] = expr.search(e, context)
        except Exception as exc:  # one bad evidence expression should not hide the finding
            evidence[name] = f"<error: {exc}>"
    return evidence


def _observation(check: Check, context: dict) -> Observation | None:
    """A check that did not fire, whose `resolved:` says the problem was
    there in evidence older than the current configuration: fixed, under
    observation, with its own evidence (or the check's)."""
    if check.resolved is None or not _truthy(expr.search(check.resolved.when, context)):
        return None
    return Observation(check.id, _text(check.resolved.note, context),
                       _evidence(check, context, check.resolved.evidence))


def _command(template: str, context: dict) -> str | None:
    """A fix command. A template that is one `${...}` yielding a list is an
    argv (shell-joined); one yielding null or [] drops the command, so a
    playbook can offer commands that only apply in some cases; in an argv,
    a word the expression itself spells out as a placeholder ('$STREAM_ARN')
    is printed "$STREAM_ARN", for the engineer to set (every other word is
    quoted). A string the expression itself spells out (`cond && 'aws ...
    --query X[]'`) is the author's command text, guarded like a template's
    own text. Anything else it yields is one quoted word: a string built
    with join() is never pasted into a shell unquoted."""
    t = expr.parse_template(template)
    if len(t.parts) == 1 and isinstance(t.parts[0], tuple):
        value = t.render(context)
        if value is None or value == [] or value == "":
            return None
        if isinstance(value, list):
            return _argv(value, expr.string_literals(t.parts[0][1]))
        if _is_assignment(value):
            return _assignment(value, expr.string_literals(t.parts[0][1]))
        if isinstance(value, str) and value in expr.string_literals(t.parts[0][1]):
            return expr.guard_words(value)[0]
        return shlex.quote(expr.stringify(value))
    return t.render(context, quote=True)


_SHELL_VAR = re.compile(r"[A-Z][A-Z0-9_]*")


def _shell_word(value: Any) -> str:
    """One word of an argv fix command, quoted. A word that leaves a value to
    a human is {"var": "NAME", "prefix": "...", "suffix": "..."} (built by
    triage/netpath, never read from AWS): it renders as prefix"$NAME"suffix
    with the fixed parts quoted, so the shell expands the variable and
    nothing else. A '$NAME' string is a placeholder only when the playbook's
    expression spells it out (_command); from anywhere else it stays literal."""
    if isinstance(value, dict) and set(value) <= {"var", "prefix", "suffix"} \
            and isinstance(value.get("var"), str) and _SHELL_VAR.fullmatch(value["var"]):
        fixed = [expr.stringify(value.get(k) or "") for k in ("prefix", "suffix")]
        return "".join([shlex.quote(fixed[0]) if fixed[0] else "", '"$' + value["var"] + '"',
                        shlex.quote(fixed[1]) if fixed[1] else ""])
    return shlex.quote(expr.stringify(value))


def _text(template: str, context: dict) -> str:
    if not template:
        return ""
    rendered = expr.parse_template(template)
    if len(rendered.parts) == 1 and isinstance(rendered.parts[0], tuple):
        return expr.stringify(rendered.render(context))
    return rendered.render(context)
