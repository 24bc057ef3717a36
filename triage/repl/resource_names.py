"""Live resource names for completion (functions, roles, buckets, DB
instances), fetched from each input's declared `complete` source on a
background thread and kept for a time limit. Typing never waits on AWS:
a lookup answers from the cache (fresh or stale) and at most waits a
bounded time inside the completer's own thread."""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import Callable

from ..sanitize import clean

MAX_NAMES = 2000


class ResourceNames:
    def __init__(self, make_aws: Callable, ttl: float, clock: Callable[[], float] = time.monotonic):
        self._make_aws = make_aws          # a dedicated Aws: completion calls stay out of the session's log
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[tuple, tuple[float, list[str]]] = {}
        self._inflight: dict[tuple, Future] = {}
        self._aws = None
        self.errors: dict[tuple, str] = {}  # last failure per source, shown as completion meta
        self.fetches = 0                   # how many AWS fetches were made (tests, `calls`)

    @staticmethod
    def key(source) -> tuple:
        return (source.service, source.operation, tuple(sorted(source.params.items())), source.query, source.paginate)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.errors.clear()
            self._aws = None

    def get(self, source, wait: float = 0.0) -> list[str] | None:
        """Names for a source: cached (stale ones too, while a refetch runs), or
        None when nothing arrived within `wait` seconds."""
        key = self.key(source)
        with self._lock:
            cached = self._values.get(key)
        if cached is not None and self._clock() - cached[0] < self.ttl:
            return cached[1]
        future = self.fetch(source)
        if wait > 0:
            try:
                return future.result(timeout=wait)
            except Exception:  # timed out or failed: the error is in self.errors
                pass
        return cached[1] if cached is not None else None

    def fetch(self, source) -> Future:
        """Start a background fetch (one per source at a time)."""
        key = self.key(source)
        with self._lock:
            future = self._inflight.get(key)
            if future is not None:
                return future
            future = self._inflight[key] = Future()
        threading.Thread(target=self._fetch, args=(source, key, future), daemon=True,
                         name="triage-complete").start()
        return future

    def _fetch(self, source, key: tuple, future: Future) -> None:
        from .. import expr
        from ..aws import CallFailed

        try:
            with self._lock:
                if self._aws is None:
                    self._aws = self._make_aws()
                aws = self._aws
            aws.clear_cache()  # the TTL decides freshness here, not the call cache
            self.fetches += 1
            result = aws.call(source.service, source.operation, dict(source.params), paginate=source.paginate,
                              step="completion")
            found = expr.search(source.query, result) or []
            names = sorted({clean(str(v)) for v in (found if isinstance(found, list) else [found]) if v is not None})
            names = names[:MAX_NAMES]
            with self._lock:
                self._values[key] = (self._clock(), names)
                self.errors.pop(key, None)
            future.set_result(names)
        except CallFailed as exc:
            with self._lock:
                self.errors[key] = exc.error.reason(f"{source.service}.{source.operation}")
            future.set_exception(exc)
        except Exception as exc:  # no credentials, no region...: completion just has nothing to offer
            with self._lock:
                self.errors[key] = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            future.set_exception(exc)
        finally:
            with self._lock:
                self._inflight.pop(key, None)
