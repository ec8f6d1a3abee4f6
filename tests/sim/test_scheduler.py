"""The calendar scheduler pops exactly what one (at, seq) heap would, whatever its bucket."""

from __future__ import annotations

import heapq
import random

import pytest

from zonewarden.sim.scheduler import Scheduler


def _reference_and_calendar(seed: int, bucket: float) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(seed)
    sched = Scheduler(bucket)
    heap: list[tuple[float, int, str]] = []
    now, seq = 0.0, 0
    want, got = [], []
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.55:  # schedule: soon, far, at the same instant, or in the past
            delay = rng.choice([0.0, rng.random() * 0.01, rng.random() * 5, rng.random() * 500])
            when = now + delay if rng.random() > 0.05 else now - 1.0
            seq += 1
            heapq.heappush(heap, (max(when, now), seq, f"k{seq}"))
            sched.at(when, f"k{seq}")
        else:  # pop up to a horizon that sometimes stops short of the next event
            until = now + rng.choice([0.0, 0.5, 10.0, 1e9])
            ref = heapq.heappop(heap) if heap and heap[0][0] <= until else None
            ev = sched.pop(until)
            if ref is not None:
                now = ref[0]
            want.append(ref)
            got.append(None if ev is None else (ev.at, ev.seq, ev.kind))
            assert sched.now == now
    while heap:
        want.append(heapq.heappop(heap))
        ev = sched.pop(float("inf"))
        got.append(None if ev is None else (ev.at, ev.seq, ev.kind))
    assert sched.pop(float("inf")) is None
    return want, got


@pytest.mark.parametrize("bucket", [0.001, 0.3, 1.0, 60.0, 1e9])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pops_in_single_heap_order(seed, bucket):
    want, got = _reference_and_calendar(seed, bucket)
    assert got == want


def test_a_bucket_must_be_positive():
    with pytest.raises(ValueError, match="bucket must be > 0"):
        Scheduler(0.0)
