"""The change collector of one run: it starts with the run, learns the
resources of interest as the steps that name them finish (a playbook's
`resources:` section), looks them up on its own threads while the other
steps run, and when the run's checks are done links the changes to the
findings they may explain. It never makes the run fail or change its
outcome: whatever goes wrong is said in the timeline, and the run's
deadline bounds it.

Sources, in order: CloudTrail LookupEvents (paced, lookup.py); when that
fails for any resource (denied, throttled, not offered), the trail's log
files (trailfiles.py) for all of them; when neither can be read, resource
metadata (metadata.py), said to be only that. The same event from two
sources is one entry."""
from __future__ import annotations

import copy
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from .. import expr, readonly
from ..aws import THROTTLE_CODES, CallError, CallFailed, classify
from ..redact import MASK, secret_name
from . import describe, lookup, metadata, trailfiles
from .events import Change, Index, change_of, epoch, iso
from .kinds import Resource, resource

STEP = "(changes)"          # the step name of the collector's calls in the call log
DEFAULT_SINCE = "24h"
MAX_LOOKUPS = 12            # LookupEvents requests a run makes at most (2 a second); beyond: the trail's files
DEFAULT_BUDGET = 60.0       # s, when the run has no deadline
START_AFTER = 0.5           # s: the collector starts after the run's first step, or this long
PREFETCH_FILES = 24         # trail files read while the steps run (more: read once, at the end)


@dataclass
class Request:
    """What the command line asked for: --changes-since (None: the playbook's
    `since` input, else 24h)."""
    since: str | None = None

    def window(self, inputs: dict | None = None) -> tuple[str, float]:
        for spelling in (self.since, (inputs or {}).get("since"), DEFAULT_SINCE):
            if spelling is None:
                continue
            try:
                return str(spelling), expr.parse_duration(spelling)
            except ValueError:
                if spelling is self.since:
                    raise
        return DEFAULT_SINCE, expr.parse_duration(DEFAULT_SINCE)


def request_from_args(args: Any) -> Request | None:
    """None when --no-changes was given; a bad --changes-since is a usage error."""
    if getattr(args, "no_changes", False):
        return None
    return Request(check_since(getattr(args, "changes_since", None)))


def check_since(since: str | None, flag: str = "--changes-since") -> str | None:
    if since is not None:
        try:
            if expr.parse_duration(since) <= 0:
                raise ValueError("it must be positive")
        except ValueError as exc:
            from ..errors import UsageError
            raise UsageError(f"{flag}: {exc}", f"e.g. {flag} 6h, 90m or 2d") from None
    return since


@dataclass
class Timeline:
    """The recent changes of one diagnosis (or of `triage changes`)."""
    changes: list[Change] | None
    since: float
    until: float
    window: str
    resources: list[Resource]
    answered_by: str | None = None
    sources: list[tuple[str, str]] = field(default_factory=list)    # (source, what happened)
    reason: str | None = None            # why `changes` is null, or what it lacks
    calls: list = field(default_factory=list)
    onsets: dict[str, float] = field(default_factory=dict)
    unreachable: str | None = None       # AWS could not be reached at all (no credentials, endpoint down)

    def to_dict(self, redactor: Any = None) -> dict:
        """`changes` (a list newest first, or null) and `change_search`; the output
        edge: values of secret-named fields are masked here, text scrubbed by
        the caller (Diagnosis.to_dict)."""
        def shown(name: str, value: Any) -> str:
            if secret_name(name.rsplit(".", 1)[-1]) and value is not None and value != "":
                return MASK
            text = describe.short(value)
            return redactor.text(text) if redactor is not None else text

        entries = None
        if self.changes is not None:
            entries = [self._entry(c, shown) for c in sorted(self.changes, key=lambda c: -c.time)]
        return {"changes": entries, "change_search": {
            "since": iso(self.since), "until": iso(self.until), "window": self.window,
            "resources": [r.shown for r in self.resources],
            "answered_by": self.answered_by,
            "sources": [{"source": s, "result": r} for s, r in self.sources],
            "reason": self.reason,
            "calls": list(self.calls)}}

    def _entry(self, c: Change, shown) -> dict:
        text = describe.detail(c, shown)
        sentences = []
        for check in c.explains:
            onset = self.onsets.get(check)
            who = f" by {c.principal}" if c.principal else ""
            what = text if c.summary else f"set {text}"
            if onset is not None and onset >= c.time:
                sentences.append(f"{check} began {duration(onset - c.time)} after {c.event}{who} {what}")
            else:
                sentences.append(f"{check} may be explained by {c.event}{who}, {duration(self.until - c.time)} "
                                 f"before this run: {text}")
        return {"time": iso(c.time), "event": c.event, "principal": c.principal, "tool": c.tool,
                "resource": c.resource.shown, "type": c.resource.kind, "detail": text, "source": c.source,
                "explains": list(c.explains), "explanation": "; ".join(sentences) or None,
                "region": c.region, "event_id": c.event_id}


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


class Watch:
    """One run's collector (engine.run starts it, `triage changes` too)."""

    def __init__(self, request: Request, aws: Any, region: str, *, playbook: Any = None, inputs: dict | None = None,
                 resources: Iterable[Resource] = (), run_id: Any = None, started: float | None = None,
                 deadline: float | None = None, cancel: threading.Event | None = None):
        self.run_aws, self.region = aws, region
        self.aws = aws          # the collector's own view of it (_own_log), once it starts
        self._run_id = run_id
        self.window, seconds = request.window(inputs if playbook is None or "since" in playbook.inputs else None)
        self.until = expr.clock()
        self.since = self.until - seconds
        started = time.monotonic() if started is None else started
        self.deadline_at = started + (deadline if deadline is not None else DEFAULT_BUDGET)
        self.cancel = cancel or threading.Event()
        self.run = ("changes", run_id)
        self._run_log_start = len(getattr(aws, "log", []) or [])
        self._specs = list(getattr(playbook, "resources", ()) or ())
        self._resolved: set[int] = set()
        self._resources: dict[tuple, Resource] = {}
        self._explains: dict[tuple, list] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._all_known = threading.Event()
        self._go = threading.Event()       # the run's first step has finished (or the run is done)
        self._done = threading.Event()
        self._replay = _recorded_keys(aws)
        self._changes: dict[Any, Change] = {}
        self._sources: list[tuple[str, str]] = []
        self._answered: list[str] = []
        self._reason: str | None = None
        self._metadata: metadata.Metadata | None = None
        self._lookup_broken: lookup.LookupFailed | None = None
        self._problems: list[str] = []
        self._unreachable: str | None = None
        for r in resources:
            self._add(r, ())
        self._thread = threading.Thread(target=self._work, name="triage-changes", daemon=True)
        self._thread.start()

    # --- resources as the run learns them -------------------------------------------------
    def update(self, context: dict, outcomes: dict) -> None:
        """Resolve the resources whose steps have all finished (engine.run, after each step)."""
        self._go.set()
        ready = [i for i, spec in enumerate(self._specs) if i not in self._resolved
                 and not spec.reads_derived and spec.needs <= outcomes.keys()]
        if not ready:
            return
        snapshot = {**context, **{k: o.value for k, o in outcomes.items()}}
        for i in ready:
            self._resolve(i, snapshot)

    def _resolve(self, i: int, context: dict) -> None:
        self._resolved.add(i)
        spec = self._specs[i]
        try:
            value = expr.parse_template(spec.name).render(context) if expr.is_template(spec.name) else spec.name
        except Exception as exc:   # a type mismatch at run time: said, not fatal
            self._problems.append(f"resources[{i}] ({spec.type}): {exc}")
            return
        for v in _strings(value):
            r = resource(v, spec.type, self.region)
            if r is not None:
                if r.region not in (None, self.region):
                    r = replace(r, region=self.region)   # the run read it here (--region wins over an ARN's)
                self._add(r, spec.explains)

    def _add(self, r: Resource, explains: Iterable) -> None:
        with self._lock:
            self._explains.setdefault(r.key, []).extend(explains)
            if r.key in self._resources:
                return
            self._resources[r.key] = r
        self._queue.put(r)

    # --- the end of the run -----------------------------------------------------------
    def finish(self, context: dict | None = None, findings: Iterable = (), stop: str | None = None) -> Timeline:
        """The timeline, linked to `findings`. Waits for the sources until the
        run's deadline at most; `stop` (deadline reached, AWS unavailable,
        cancelled) does not wait at all."""
        context = context or {}
        self._go.set()
        for i in range(len(self._specs)):
            if i not in self._resolved:
                self._resolve(i, context)
        self._all_known.set()
        if stop is None:
            self._done.wait(max(0.0, self.deadline_at - time.monotonic()))
        with self._lock:
            resources = list(self._resources.values())
        timeline = Timeline(None, self.since, self.until, self.window, resources)
        timeline.calls = self._calls()
        if stop is not None or not self._done.is_set():
            timeline.reason = f"not checked: {stop or 'the deadline was reached before the sources answered'}"
            timeline.sources = list(self._sources)
            return timeline
        timeline.sources = list(self._sources)
        timeline.unreachable = self._unreachable
        timeline.answered_by = self._answered[0] if self._answered else None
        if not resources:
            timeline.reason = ("not checked: the playbook declares no resources (add a `resources:` section)"
                               if not self._specs else "not checked: the run named no resource to look up")
            if self._problems:
                timeline.reason += "; " + "; ".join(self._problems)
            return timeline
        changes = list(self._changes.values())
        if timeline.answered_by is None:
            timeline.reason = self._reason
            if changes:                         # metadata only: listed, and said to be only that
                timeline.changes = changes
                timeline.answered_by = "metadata"
        else:
            timeline.changes = changes
            timeline.reason = self._reason      # e.g. some resources not looked up
        if timeline.changes is not None:
            self._link(timeline, context, list(findings))
        return timeline

    def _link(self, timeline: Timeline, context: dict, findings: list) -> None:
        fired = {getattr(f, "check", None) for f in findings}
        by_check: dict[str, list[tuple[Change, Any]]] = {}
        for c in timeline.changes or []:
            for r in [c.resource, *c.also]:
                for ex in self._explains.get(r.key, ()):
                    if ex.check in fired and (not ex.fields or c.touches & {f.lower() for f in ex.fields}):
                        by_check.setdefault(ex.check, []).append((c, ex))
        for check, candidates in by_check.items():
            onset = None
            for _, ex in candidates:
                if ex.onset and onset is None:
                    try:
                        onset = epoch(expr.search(ex.onset, context))
                    except Exception:
                        onset = None
            if onset is not None:
                timeline.onsets[check] = onset
                candidates = [(c, ex) for c, ex in candidates if c.time <= onset]
            if candidates:
                change = max(candidates, key=lambda pair: pair[0].time)[0]   # the latest before the symptom
                if check not in change.explains:
                    change.explains.append(check)

    def _calls(self) -> list[dict]:
        """The collector's calls (its own call log), as JSON. A throttled
        LookupEvents that was asked again and answered is one entry, like a
        call botocore retried ("throttled_retries": how often)."""
        mine = list(getattr(self.aws, "log", None) or []) if self.aws is not self.run_aws else []
        out, pending = [], {}
        for c in mine:
            code = str(c.error or "").split(":", 1)[0]
            if code in THROTTLE_CODES:
                pending.setdefault(c.call, []).append(c)
                continue
            entry = c.to_dict()
            if pending.get(c.call):
                entry["throttled_retries"] = len(pending.pop(c.call))
            out.append(entry)
        out += [c.to_dict() for waiting in pending.values() for c in waiting]    # throttled for good: said
        return out

    # --- the collector's thread -------------------------------------------------------------
    def _left(self) -> float:
        return self.deadline_at - time.monotonic()

    def _stopped(self) -> bool:
        return self.cancel.is_set() or self._left() <= 0

    def _call(self, service: str, operation: str, params: dict, region: str, paginate: bool = False) -> Any:
        """A metadata or trail call: in a replayed case, only the ones it recorded;
        never one the run itself made and saw fail (throttled, denied): asking
        again would only add load to an account that is already refusing."""
        if self._replay is not None and (service, operation, region, _json(params)) not in self._replay:
            raise CallFailed(CallError("error", "NotRecorded", f"{service}.{operation} is not in this recorded case"))
        failed = self._run_failures().get(f"{service}.{operation}")
        if failed is not None:
            raise CallFailed(CallError("error", "RunCallFailed", f"the run's own {service}.{operation} failed ({failed})"))
        return self.aws.call(service, operation, params, region=region, paginate=paginate, step=STEP, run=self.run)

    def _run_failures(self) -> dict[str, str]:
        """The run's calls that failed, by name: what the collector will not ask again."""
        log = list(getattr(self.run_aws, "log", None) or [])[self._run_log_start:]
        return {c.call: c.error for c in log if c.error and getattr(c, "run", None) in (self._run_id, None)
                and classify(str(c.error).split(":", 1)[0]) in ("throttled", "denied")}

    def _work(self) -> None:
        try:
            self._go.wait(START_AFTER)
            self.aws = _own_log(self.run_aws)
            self._collect()
        except Exception as exc:   # a bug here must not cost the diagnosis
            self._reason = f"not checked: internal error while reading changes: {type(exc).__name__}: {exc}"
        finally:
            self._done.set()

    def _collect(self) -> None:
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="triage-lookup")
        lookups: dict[tuple, Any] = {}
        skipped: list[Resource] = []
        records: list[tuple[dict, str]] = []
        records_lock = threading.Lock()
        try:
            while True:
                try:
                    r = self._queue.get(timeout=0.02)
                except queue.Empty:
                    if (self._all_known.is_set() and self._queue.empty()) or self._stopped():
                        break
                    continue
                if len(lookups) >= MAX_LOOKUPS:
                    skipped.append(r)
                    continue
                lookups[r.key] = pool.submit(self._lookup, r, records, records_lock)
            wait(list(lookups.values()), timeout=max(0.0, self._left()))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            resources = list(self._resources.values())
        if not resources:
            return
        index = Index(resources)
        answered = [k for k, f in lookups.items() if f.done() and not f.cancelled() and f.exception() is None
                    and f.result() is True]
        failed = self._lookup_broken
        if failed is not None and failed.kind in ("network", "credentials"):
            self._unreachable = failed.reason
        for record, source in records:
            self._take(record, source, index)
        if failed is None and not skipped and len(answered) == len(lookups):
            self._sources.append(("lookup-events", f"answered for {len(answered)} resource"
                                                   f"{'s' if len(answered) != 1 else ''}"))
            self._answered.append("lookup-events")
        else:
            why = failed.reason if failed is not None else (
                f"{len(skipped)} resources over the limit of {MAX_LOOKUPS} lookups a run" if skipped
                else "did not answer for every resource before the deadline")
            self._sources.append(("lookup-events", why))
            files_ok = self._trail_files(index, resources)
            if files_ok:
                self._answered.append("trail-files")
            elif answered:
                self._answered.append("lookup-events")
                self._reason = (f"only {len(answered)} of {len(resources)} resources could be looked up; "
                                f"LookupEvents: {why}")
            if not files_ok and not answered:
                needs = [f.needs for f in (failed, self._files_failed) if f is not None and f.needs]
                base = "; ".join(f"{s}: {r}" for s, r in self._sources)
                self._reason = (f"could not check: needs {', '.join(dict.fromkeys(needs))} ({base})" if needs
                                else f"could not check CloudTrail ({base})")
        self._metadata = metadata.Metadata(self._call, self.region, self.since, self.until)
        if not self._answered:
            cloudtrail = self._reason or "CloudTrail could not be read"
            found = self._metadata.entries(resources)
            for c in found:
                self._changes.setdefault(("metadata", c.resource.key, c.event, c.time), c)
            result = "; ".join(part for part in (
                "read " + ", ".join(self._metadata.read) if self._metadata.read else "",
                "not read: " + "; ".join(self._metadata.failed) if self._metadata.failed else "") if part)
            if result:
                self._sources.append(("metadata", result))
            if found:
                self._reason = (f"CloudTrail was not available ({cloudtrail}); these entries come from resource "
                                "metadata only: when something changed, not who changed it or how")
            else:
                self._reason = cloudtrail + ("; resource metadata shows no change in the window, but it does not "
                                             "record every change" if self._metadata.read else "")
        describe.describe(list(self._changes.values()), self._metadata)

    def _take(self, record: dict, source: str, index: Index) -> None:
        hits = index.match(record)
        if not hits:
            return
        when = epoch(record.get("eventTime"))
        if when is None or not (self.since <= when <= self.until):
            return
        key = record.get("eventID") or (record.get("eventTime"), record.get("eventName"),
                                        hits[0].key, str(record.get("userIdentity")))
        with self._lock:
            if key in self._changes:
                return
        change = change_of(record, hits[0], source)
        if change is not None:
            change.also = hits[1:]          # the same event touches more than one resource of interest
            with self._lock:
                self._changes.setdefault(key, change)

    def _lookup(self, r: Resource, records: list, lock: threading.Lock) -> bool:
        if self._lookup_broken is not None or self._stopped():
            return False
        region = "us-east-1" if r.is_global else (r.region or self.region)
        if self._replay is not None:
            params = {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": r.lookup_value}],
                      "StartTime": iso(self.since), "EndTime": iso(self.until)}
            if ("cloudtrail", "LookupEvents", region, _json(params)) not in self._replay:
                self._lookup_broken = lookup.LookupFailed("unavailable", "not recorded in this case")
                return False
        try:
            found = lookup.lookup(self.aws, r, region, self.since, self.until, deadline=self.deadline_at,
                                  step=STEP, run=self.run)
        except Exception as exc:   # LookupFailed, or a bug: either way the trail files are read instead
            if not isinstance(exc, lookup.LookupFailed):
                exc = lookup.LookupFailed("unavailable", f"internal error: {type(exc).__name__}: {exc}")
            if self._lookup_broken is None:
                self._lookup_broken = exc
                self._prefetch_files()
            return False
        with lock:
            records.extend((rec, "lookup-events") for rec in found)
        return True

    _files_failed: trailfiles.TrailFilesFailed | None = None

    def _prefetch_files(self) -> None:
        """LookupEvents failed: while the steps still run, ask DescribeTrails,
        list the region's day folders (the call cache keeps the answers for
        _trail_files, which matches the records once every resource is known)
        and, when the window holds only a few files, read them too (the file
        cache keeps their changes)."""
        if self._replay is not None or getattr(self.aws, "client", None) is None:
            return
        try:
            stats = trailfiles.ReadStats()
            for loc in trailfiles.locations(self._list_call(), self.region):
                for org in trailfiles.organization_ids(self._list_call(), loc):
                    keys = trailfiles.list_files(self._list_call(), loc, trailfiles.day_prefixes(
                        loc, self.region, self.since, self.until, org), self.since, self.until, stats)
                    if len(keys) <= PREFETCH_FILES:
                        readonly.admit_trail_bucket(loc.bucket, loc.prefix)
                        trailfiles.read_files(self.aws, loc, keys, lambda rec: None, stats, deadline=self.deadline_at,
                                              cancel=self.cancel, step=STEP, run=self.run)
        except (trailfiles.TrailFilesFailed, CallFailed):
            pass       # said when the files are read
        except Exception:
            pass

    def _trail_files(self, index: Index, resources: list[Resource]) -> bool:
        if self._replay is not None:
            self._sources.append(("trail-files", "not read in a replayed case"))
            return False
        if self._stopped():
            self._sources.append(("trail-files", "not read: the deadline was reached"))
            return False
        regions = list(dict.fromkeys([self.region] + [r.region for r in resources if r.region] + (
            ["us-east-1"] if any(r.is_global or r.kind is None for r in resources) else [])))
        stats = trailfiles.ReadStats()
        answered = False
        try:
            for region in regions:
                locs = trailfiles.locations(self._list_call(), self.region, region)
                if not locs:
                    raise trailfiles.TrailFilesFailed("none", f"no trail delivers {region}'s events to S3")
                for loc in locs:
                    readonly.admit_trail_bucket(loc.bucket, loc.prefix)
                    for org in trailfiles.organization_ids(self._list_call(), loc):
                        prefixes = trailfiles.day_prefixes(loc, region, self.since, self.until, org)
                        keys = trailfiles.list_files(self._list_call(), loc, prefixes, self.since, self.until, stats)
                        # bucket and prefix apart: the whole key path can look like a secret key to the redactor
                        stats.locations.append(f"bucket {loc.bucket}" + (f", prefix {loc.prefix}" if loc.prefix else ""))
                        trailfiles.read_files(self.aws, loc, keys, lambda rec: self._take(rec, "trail-files", index),
                                              stats, deadline=self.deadline_at, cancel=self.cancel, step=STEP,
                                              run=self.run)
                        answered = True
        except trailfiles.TrailFilesFailed as exc:
            self._files_failed = exc
            if not answered:
                self._sources.append(("trail-files", exc.reason))
                return False
        where = ", ".join(dict.fromkeys(stats.locations))
        text = (f"read {stats.files} file{'s' if stats.files != 1 else ''} ({stats.records} events) from {where}")
        if stats.unread:
            text += f"; {stats.unread} not read before the deadline"
            self._reason = f"the deadline came before {stats.unread} of the trail's files were read"
        if stats.errors:
            text += f"; {len(stats.errors)} could not be read ({stats.errors[0]})"
        self._sources.append(("trail-files", text))
        return True

    def _list_call(self):
        return lambda s, o, p, rg, paginate=False: self._call(s, o, p, rg, paginate)


def _own_log(aws: Any) -> Any:
    """The run's Aws with a call log of its own: clients, call cache, endpoint
    health and redactor shared (a shallow copy), so the collector's calls are
    counted in its timeline ("change_search") and not in the run's call list
    or a REPL session's `calls`."""
    if getattr(aws, "client", None) is not None:
        try:
            aws.session        # made once, on the original: the copy shares it
        except Exception:
            return aws
    own = copy.copy(aws)
    own.log = []
    if hasattr(own, "_log_lock"):
        own._log_lock = threading.Lock()
    return own


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            out += _strings(v)
        return out
    return []


def _json(params: Any) -> str:
    import json
    return json.dumps(params, sort_keys=True, default=str)


def _recorded_keys(aws: Any) -> set | None:
    """In a replayed case (casefile.ReplayAws): the keys of the calls it recorded."""
    case = getattr(aws, "case", None)
    calls = getattr(case, "calls", None)
    if calls is None:
        return None
    return {c.key() for c in calls}


def watch_resources(values: list[str], region: str) -> list[Resource]:
    """`triage changes --resource`: names and ARNs as resources (a name matches any kind)."""
    out = []
    for v in values:
        r = resource(v, None, region)
        if r is not None:
            out.append(r)
    return out


__all__ = ["STEP", "Request", "Timeline", "Watch", "check_since", "request_from_args", "watch_resources"]
