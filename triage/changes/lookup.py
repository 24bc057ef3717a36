"""CloudTrail LookupEvents, paced. AWS allows 2 LookupEvents requests per
second per account and region and throttles beyond that; a run asks once
per resource (by name: LookupEvents takes one attribute per request), so one
`Pacer` per account (profile and endpoint) and region is shared by every
run in the process, and every request it sends (each page, each retry)
waits for its turn inside botocore's `before-send`, on the change
collector's own threads and its own CloudTrail client: the playbook's steps
never wait for it.

A throttled answer is retried here (botocore is told not to retry, so a
LookupEvents that does not exist at an endpoint costs one request, not six),
paced like the first; when it is still throttled the collector reads the
trail's log files instead, and no throttling error reaches the user."""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import Any

from ..aws import CallFailed
from .events import iso, record_of
from .kinds import Resource

RATE = 2             # requests ...
PER = 1.0            # ... per this many seconds, in any window
MARGIN = 0.05        # s: our clock and AWS's are not the same clock
MAX_EVENTS = 500     # per resource and window: more than anyone reads in an incident
TRIES = 5            # a throttled lookup is asked again this many times at most
BACKOFF = 0.5        # s before the first retry of a throttled lookup, doubling (then the pacer's turn)


class OutOfTime(Exception):
    """The run's deadline comes before this request's turn."""


class Pacer:
    """At most RATE requests in any window of PER seconds, as AWS counts
    them (by arrival): a request may go when fewer than RATE others are in
    flight or finished less than PER seconds ago. Counting from the answer,
    not from the send, keeps the promise however late a request leaves or
    arrives (a loaded machine, a slow network)."""

    def __init__(self, rate: int = RATE, per: float = PER, margin: float = MARGIN):
        self.rate, self.per, self.margin = rate, per, margin
        self._done: deque[float] = deque()     # when recent requests were answered
        self._in_flight = 0
        self._cond = threading.Condition()
        self.waited = 0.0                      # total seconds requests waited (bench, tests)
        self.sent = 0

    def acquire(self, deadline: float | None = None) -> None:
        """Wait for a turn; raise OutOfTime when it would come after `deadline` (monotonic)."""
        with self._cond:
            while True:
                now = time.monotonic()
                while self._done and now - self._done[0] >= self.per + self.margin:
                    self._done.popleft()
                if self._in_flight + len(self._done) < self.rate:
                    self._in_flight += 1
                    self.sent += 1
                    return
                wait = self._done[0] + self.per + self.margin - now if self._done else None
                if deadline is not None:
                    left = deadline - now
                    if left <= 0 or (wait is not None and wait > left and not self._in_flight):
                        raise OutOfTime("LookupEvents' next turn is past the deadline")
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)
                self.waited += time.monotonic() - now

    def release(self) -> None:
        """A request was answered (or failed)."""
        with self._cond:
            if self._in_flight:
                self._in_flight -= 1
                self._done.append(time.monotonic())
                self._cond.notify_all()


_PACERS: dict[tuple, Pacer] = {}
_PACERS_LOCK = threading.Lock()
_UNPACED: set[str] = set()      # endpoints that are not AWS: no LookupEvents quota to keep
_local = threading.local()


def unpaced(endpoint_url: str) -> None:
    """Requests to `endpoint_url` keep the pacer's RATE in flight but not its
    one-second window: it is not AWS (the demo's embedded moto server, the
    test suite's), so there is no quota to keep, and moto answers LookupEvents
    with an error anyway. Pacing it cost every run up to a second."""
    with _PACERS_LOCK:
        _UNPACED.add(endpoint_url)
        for key in [k for k in _PACERS if k[1] == endpoint_url]:
            del _PACERS[key]


def pacer_for(aws: Any, region: str) -> Pacer:
    """The process's pacer for the account behind `aws` (its profile and endpoint) in `region`."""
    settings = getattr(aws, "settings", None)
    key = (getattr(settings, "profile", None), getattr(aws, "endpoint_url", None), region)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(per=0.0, margin=0.0) if key[1] in _UNPACED else Pacer()
        return pacer


def _pace_hooks(pacer: Pacer):
    def before_send(event_name: str = "", **_: Any) -> None:
        if event_name.endswith(".LookupEvents"):
            pacer.acquire(getattr(_local, "deadline", None))
            _local.held = pacer
        return None

    def answered(**_: Any) -> None:
        _release()
        return None
    return before_send, answered


def _release() -> None:
    held = getattr(_local, "held", None)
    if held is not None:
        _local.held = None
        held.release()


def _paced_client(aws: Any, region: str) -> None:
    """Make sure `aws`'s LookupEvents client for `region` paces every request it sends."""
    client_of = getattr(aws, "client", None)
    if client_of is None:    # a replay: nothing is sent
        return
    client = client_of("cloudtrail", region, 1)
    before_send, answered = _pace_hooks(pacer_for(aws, region))
    # the last handler before the request leaves: after botocore's own
    # (adaptive mode's client-side rate limiter may hold a request back too)
    client.meta.events.register_last("before-send", before_send, unique_id=f"triage-changes-pace-{region}")
    # each answer (or error), before any other handler: the turn is counted from here
    client.meta.events.register("needs-retry.cloudtrail.LookupEvents", answered,
                                unique_id=f"triage-changes-answered-{region}")


def _gist(message: str | None) -> str:
    """An error message in one short line (an endpoint without the operation may answer an HTML page)."""
    title = re.search(r"<title>(.*?)</title>", message or "", re.S | re.I)
    text = re.sub(r"<[^>]*>", " ", title.group(1) if title else message or "")
    text = " ".join(text.split())
    return (text[:117] + "…" if len(text) > 120 else text) or "no message"


class LookupFailed(Exception):
    def __init__(self, kind: str, reason: str, needs: str | None = None):
        super().__init__(reason)
        self.kind, self.reason, self.needs = kind, reason, needs


def lookup(aws: Any, resource: Resource, region: str, since: float, until: float, *, deadline: float | None,
           step: str, run: Any) -> list[dict]:
    """The CloudTrail records LookupEvents has for `resource` in [since, until].
    Raises LookupFailed (kind: denied | unavailable | throttled | time)."""
    params = {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": resource.lookup_value}],
              "StartTime": iso(since), "EndTime": iso(until)}
    _paced_client(aws, region)
    _local.deadline = deadline
    try:
        for attempt in range(TRIES):
            try:
                result = aws.call("cloudtrail", "LookupEvents", params, region=region, paginate=True,
                                  max_items=MAX_EVENTS, step=step, max_attempts=1, run=run)
            except CallFailed as exc:
                err = exc.error
                if err.kind == "throttled" and attempt + 1 < TRIES:
                    pause = min(4.0, BACKOFF * 2 ** attempt)
                    if deadline is not None and time.monotonic() + pause > deadline:
                        raise LookupFailed("time", "LookupEvents was throttled and the deadline came first") from None
                    time.sleep(pause)        # then wait for a turn again (the pacer)
                    continue
                if err.kind == "throttled":
                    raise LookupFailed("throttled", f"LookupEvents stayed throttled after {TRIES} attempts") from None
                if err.kind == "denied":
                    raise LookupFailed("denied", f"LookupEvents was denied ({err.code})", err.needs) from None
                if err.kind in ("network", "credentials"):
                    raise LookupFailed(err.kind, err.reason("cloudtrail.LookupEvents")) from None
                raise LookupFailed("unavailable", f"LookupEvents is not available here ({err.code or 'error'}: "
                                                  f"{_gist(err.message)})") from None
            except OutOfTime as exc:
                raise LookupFailed("time", str(exc)) from None
            events = (result or {}).get("Events") or []
            return [r for r in (record_of(e) for e in events if isinstance(e, dict)) if r]
        raise LookupFailed("throttled", "LookupEvents stayed throttled")   # pragma: no cover - loop returns or raises
    finally:
        _release()          # a request that ended in an exception before its answer was counted
        _local.deadline = None
