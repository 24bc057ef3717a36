"""`triage scan`: every playbook that declares `scan:` applied to every
resource it lists (or once per region), in one or more regions.

All runs share one Aws: one client per service and region (so botocore's
adaptive retry mode rate-limits the whole scan once AWS starts throttling),
one call cache and one call log. Runs go through a fixed-size pool, so the
number of requests in flight is bounded whatever the number of resources.
Rendering lives in triage/commands/scan.py."""
from __future__ import annotations

import shlex
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

DEFAULT_DEADLINE = 300.0   # a whole scan, listing included (--deadline)

from . import expr
from .aws import Aws, CallFailed
from .engine import Diagnosis, run
from .playbook import SEVERITIES, Playbook
from .redact import shared as shared_redactor
from .sanitize import deep_clean


@dataclass(frozen=True)
class Target:
    playbook: Playbook
    region: str
    resource: str | None            # None for playbooks scanned once per region

    @property
    def inputs(self) -> dict:
        spec = self.playbook.scan
        return {spec.input: self.resource} if spec and not spec.once else {}


@dataclass
class ScanResult:
    regions: list[str]
    playbooks: list[str]
    diagnoses: list[tuple[Target, Diagnosis]]
    errors: list[dict] = field(default_factory=list)     # listings that failed: {playbook, region, reason, kind}
    seconds: float = 0.0
    calls: list = field(default_factory=list)
    unfinished: list[dict] = field(default_factory=list)  # targets the deadline cut off: {playbook, region, resource, reason}

    def to_dict(self) -> dict:
        diagnoses = []
        for target, d in self.diagnoses:
            data = d.to_dict()        # redacted and cleaned once, here
            data.pop("calls", None)   # one shared call log for the scan, summarised below
            diagnoses.append({"resource": target.resource, **data})
        rows = summary_rows(diagnoses)
        by_severity = {s: sum(1 for r in rows if r["severity"] == s) for s in SEVERITIES}
        not_checked = self.not_checked(diagnoses)
        return deep_clean(shared_redactor().deep({
            "scan": {"regions": self.regions, "playbooks": self.playbooks, "runs": len(self.diagnoses),
                     "seconds": round(self.seconds, 3), "calls": call_summary(self.calls)},
            "outcome": self.outcome(rows, not_checked),
            "summary": {"findings": len(rows), "by_severity": {k: v for k, v in by_severity.items() if v},
                        "rows": rows},
            "not_checked": not_checked,
            "diagnoses": diagnoses,
            "errors": self.errors,
        }))

    def not_checked(self, diagnoses: list[dict]) -> list[dict]:
        """What the scan could not check, each with why: listings that failed
        (a whole playbook in a region), runs cut off by the deadline, and
        resources whose diagnosis was inconclusive or unavailable."""
        out = [{"playbook": e["playbook"], "region": e["region"], "resource": None, "reason": e["reason"]}
               for e in self.errors]
        out += self.unfinished
        for d in diagnoses:
            if d["outcome"] in ("inconclusive", "unavailable"):
                reasons = d.get("error") or "; ".join(dict.fromkeys(u["reason"] for u in d["unchecked"]))
                out.append({"playbook": d["playbook"], "region": d["region"], "resource": d["resource"],
                            "reason": reasons or "not every check ran"})
        return out

    def outcome(self, rows: list[dict], not_checked: list[dict]) -> str:
        """unavailable: AWS could not be reached at all (no call answered, and
        every failure was the network, credentials or the deadline: an
        endpoint that answers 500 is there, so that is inconclusive);
        findings: any finding; inconclusive: something could not be checked;
        else healthy."""
        unreachable = (all(e["kind"] in ("network", "credentials", "deadline") for e in self.errors)
                       and all(d.unavailable for _, d in self.diagnoses))
        if not_checked and unreachable and not any(c.error is None for c in self.calls) and not rows:
            return "unavailable"
        if rows:
            return "findings"
        return "inconclusive" if not_checked else "healthy"



def summary_rows(diagnoses: list[dict]) -> list[dict]:
    """One row per finding, most severe first; a finding that is the same in
    several regions (account-wide ones) is one row listing the regions."""
    rows: dict[tuple, dict] = {}
    for d in diagnoses:
        for f in d["findings"]:
            key = (d["playbook"], f["check"], d["resource"], f["title"])
            row = rows.setdefault(key, {"severity": f["severity"], "check": f["check"], "playbook": d["playbook"],
                                        "resource": d["resource"], "title": f["title"], "regions": []})
            row["regions"].append(d["region"])
    return sorted(rows.values(), key=lambda r: (SEVERITIES.index(r["severity"]), r["playbook"], r["check"],
                                                r["resource"] or ""))


def call_summary(calls: list) -> dict:
    by_call: dict[str, int] = {}
    for c in calls:
        by_call[c.call] = by_call.get(c.call, 0) + 1
    return {"total": len(calls), "cached": sum(1 for c in calls if c.cached),
            "failed": sum(1 for c in calls if c.error), "by_call": dict(sorted(by_call.items()))}


def scannable(playbooks: list[Playbook]) -> list[Playbook]:
    return [pb for pb in playbooks if pb.scan is not None]


def run_scan(playbooks: list[Playbook], regions: list[str], aws: Aws, *, concurrency: int = 8,
             deadline: float | None = DEFAULT_DEADLINE, progress: Callable[[int, int], None] | None = None) -> ScanResult:
    """Every (playbook, region) is listed concurrently and each listed
    resource's run starts as soon as its listing answers: a listing that
    hangs holds up nothing else. A listing that fails is reported, never
    fatal for the others. `deadline` bounds the whole scan, listing
    included: what has not finished by then is reported as not checked."""
    started = time.monotonic()
    log_start = len(aws.log)
    note = progress or (lambda done, total: None)

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - (time.monotonic() - started))

    # Not a `with` block: leaving one waits for every thread, and a call stuck
    # on a black-holed endpoint must not hold the scan past its deadline.
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="triage-scan")
    listings: dict[Future, tuple[Playbook, str]] = {}
    runs: dict[Future, Target] = {}
    results: dict[Future, Diagnosis] = {}
    errors: list[dict] = []

    def start(target: Target) -> Future:
        # Each run's own steps get a small pool: the scan's pool is the bound.
        future = pool.submit(_run_target, target, aws, started, deadline)
        runs[future] = target
        return future

    try:
        for pb in playbooks:
            for region in regions:
                if pb.scan.once:
                    start(Target(pb, region, None))
                else:
                    spec = pb.scan
                    listings[pool.submit(aws.call, spec.service, spec.operation, spec.params, region=region,
                                         paginate=spec.paginate, step=f"scan:{pb.id}")] = (pb, region)
        pending = set(listings) | set(runs)
        note(0, len(runs))
        while pending:
            done, pending = wait(pending, timeout=remaining(), return_when=FIRST_COMPLETED)
            if not done:
                break   # the deadline
            for future in done:
                if future in runs:
                    results[future] = future.result()
                    note(len(results), len(runs))
                    continue
                pb, region = listings[future]
                call = f"{pb.scan.service}.{pb.scan.operation}"
                try:
                    names = expr.search(pb.scan.query, future.result()) or []
                except CallFailed as exc:
                    errors.append({"playbook": pb.id, "region": region, "kind": exc.error.kind,
                                   "reason": exc.error.reason(call)})
                    continue
                pending |= {start(Target(pb, region, str(n))) for n in names if n is not None}
                note(len(results), len(runs))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for future, (pb, region) in listings.items():
        if not future.done():
            errors.append({"playbook": pb.id, "region": region, "kind": "deadline",
                           "reason": f"{pb.scan.service}.{pb.scan.operation} did not answer before the scan's deadline"})
    unfinished = [{"playbook": t.playbook.id, "region": t.region, "resource": t.resource,
                   "reason": f"not checked: the scan's deadline of {deadline:g} s was reached"}
                  for f, t in runs.items() if f not in results]
    order = {pb.id: i for i, pb in enumerate(playbooks)}
    finished = sorted(((t, results[f]) for f, t in runs.items() if f in results),
                      key=lambda tr: (order[tr[0].playbook.id], regions.index(tr[0].region), tr[0].resource or ""))
    return ScanResult(regions=list(regions), playbooks=[pb.id for pb in playbooks], diagnoses=finished,
                      errors=errors, seconds=time.monotonic() - started, calls=aws.log[log_start:],
                      unfinished=unfinished)


def _run_target(target: Target, aws: Aws, started: float, deadline: float | None) -> Diagnosis:
    left = None if deadline is None else max(0.1, deadline - (time.monotonic() - started))
    diagnosis = run(target.playbook, target.inputs, aws, region=target.region, deadline=left, max_workers=4)
    # A sweep of every subject would spend minutes at CloudTrail's 2 requests a second.
    command = " ".join(["triage", target.playbook.id, *(f"--{k.replace('_', '-')} {shlex.quote(str(v))}"
                                                        for k, v in target.inputs.items()),
                        "--region", target.region])
    diagnosis.changes_skipped = f"a scan does not look up recent changes; to see them: {command}"
    return diagnosis
