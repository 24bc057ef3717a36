"""The LookupEvents pacer: at most RATE requests in any PER seconds as AWS
counts them (by arrival), however late a request leaves; the deadline wins.
Scaled down (PER = 0.2 s) to stay fast; bench/bench_changes.py measures the
real 2 per second through the fault proxy."""
from __future__ import annotations

import threading
import time

import pytest

from triage.changes.lookup import OutOfTime, Pacer

PER = 0.2


def most_in_a_window(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u - t < PER) for i, t in enumerate(times))


def test_late_requests_still_arrive_at_most_two_a_window():
    pacer = Pacer(2, PER, 0.0)
    arrivals: list[float] = []

    def request(delay: float) -> None:
        pacer.acquire()
        time.sleep(delay)                 # leaves late (a loaded machine), then arrives
        arrivals.append(time.monotonic())
        time.sleep(0.01)                  # the answer
        pacer.release()

    threads = [threading.Thread(target=request, args=(0.03 * (i % 3),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(arrivals) == 8 and most_in_a_window(arrivals) <= 2
    assert pacer.sent == 8 and pacer.waited > 0


def test_a_turn_past_the_deadline_is_refused_at_once():
    pacer = Pacer(1, 10.0, 0.0)
    pacer.acquire()
    pacer.release()
    started = time.monotonic()
    with pytest.raises(OutOfTime):
        pacer.acquire(deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 0.2
