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
MARGIN = 0.05        # s: our clock and AWS's are not the same clock, and the network jitters
MAX_EVENTS = 500     # per resource and window: more than anyone reads in an incident
TRIES = 5            # a throttled lookup is asked again this many times at most
BACKOFF = 0.5        # s before the first retry of a throttled lookup, doubling (then the pacer's turn)


class OutOfTime(Exception):
    """The run's deadline comes before this request's turn."""


class Pacer:
    """At most RATE requests in any window of PER seconds: the (RATE+1)th
    waits until the oldest of the last RATE is PER seconds old."""

    def __init__(self, rate: int = RATE, per: float = PER, margin: float = MARGIN):
        self.rate, self.per, self.margin = rate, per, margin
        self._sent: deque[float] = deque(maxlen=rate)
        self._lock = threading.Lock()
        self.waited = 0.0                # total seconds requests waited (bench, tests)
        self.sent = 0

    def acquire(self, deadline: float | None = None) -> None:
        """Wait for a turn; raise OutOfTime when it would come after `deadline` (monotonic)."""
        while True:
            with self._lock:
                now = time.monotonic()
                if len(self._sent) < self.rate or now - self._sent[0] >= self.per + self.margin:
                    self._sent.append(now)
                    self.sent += 1
                    return
                wait = self._sent[0] + self.per + self.margin - now
            if deadline is not None and now + wait > deadline:
                raise OutOfTime(f"LookupEvents' next turn ({wait:.1f} s away) is past the deadline")
            self.waited += wait
            time.sleep(wait)


_PACERS: dict[tuple, Pacer] = {}
_PACERS_LOCK = threading.Lock()
_local = threading.local()


def pacer_for(aws: Any, region: str) -> Pacer:
    """The process's pacer for the account behind `aws` (its profile and endpoint) in `region`."""
    settings = getattr(aws, "settings", None)
    key = (getattr(settings, "profile", None), getattr(aws, "endpoint_url", None), region)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer()
        return pacer


def _pace_hook(pacer: Pacer):
    def before_send(event_name: str = "", **_: Any) -> None:
        if event_name.endswith(".LookupEvents"):
            pacer.acquire(getattr(_local, "deadline", None))
        return None
    return before_send


def _paced_client(aws: Any, region: str) -> None:
    """Make sure `aws`'s LookupEvents client for `region` paces every request it sends."""
    client_of = getattr(aws, "client", None)
    if client_of is None:    # a replay: nothing is sent
        return
    client = client_of("cloudtrail", region, 1)
    # the last handler before the request leaves: after botocore's own
    # (adaptive mode's client-side rate limiter may hold a request back too)
    client.meta.events.register_last("before-send", _pace_hook(pacer_for(aws, region)),
                                     unique_id=f"triage-changes-pace-{region}")


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
        _local.deadline = None
