"""The virtual clock and event scheduler of the simulator.

Rules kept here: time only moves when an event is popped, to that event's time; events
at the same time run in the order they were scheduled (a sequence number breaks ties),
so a run never depends on heap internals or on wall-clock time.

A calendar queue, not one big heap: events are filed by `bucket` (seconds of virtual
time; bucket number floor(at / bucket)). Only the current bucket is a heap; a later
bucket is a plain list until the clock reaches it, then heapified at once. Pops come
out in exactly the (at, seq) order of a single heap, because the bucket number never
decreases as `at` grows, but each pop sifts through a heap of one bucket's events
instead of every pending one (a million expired leases' next checks), which keeps the
heap small and in cache. The bucket size changes speed only, never the order.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

_new = tuple.__new__


class Event(NamedTuple):
    """Ordered by (at, seq): `seq` is unique, so the other fields are never compared.
    A tuple, so the heap compares in C (a dataclass's generated __lt__ cost the lease
    model most of its time: bench/cascade_leases.py)."""

    at: float
    seq: int
    kind: str
    target: int = 0
    epoch: int = 0


class Scheduler:
    """A calendar of events over a virtual clock that starts at 0."""

    __slots__ = ("_bucket", "_current", "_heap", "_later", "_seq", "_starts", "now")

    def __init__(self, bucket: float = 1.0) -> None:
        if not bucket > 0:
            raise ValueError(f"scheduler bucket must be > 0 s (got {bucket})")
        self.now = 0.0
        self._bucket = bucket
        self._current = 0  # bucket number the heap covers (and every one before it)
        self._heap: list[Event] = []
        self._later: dict[int, list[Event]] = {}  # bucket number -> its events, unsorted
        self._starts: list[int] = []  # a heap of the bucket numbers in _later
        self._seq = 0

    def at(self, when: float, kind: str, target: int = 0, epoch: int = 0) -> None:
        """Schedule `kind` at virtual time `when` (never in the past)."""
        if when < self.now:
            when = self.now
        self._seq += 1
        event = _new(Event, (when, self._seq, kind, target, epoch))
        b = int(when // self._bucket)
        if b <= self._current:
            heapq.heappush(self._heap, event)
            return
        later = self._later.get(b)
        if later is None:
            self._later[b] = [event]
            heapq.heappush(self._starts, b)
        else:
            later.append(event)

    def after(self, delay: float, kind: str, target: int = 0, epoch: int = 0) -> None:
        """Schedule `kind` `delay` seconds from now (`at` written out: the hottest call)."""
        when = self.now + delay
        if when < self.now:
            when = self.now
        self._seq += 1
        event = _new(Event, (when, self._seq, kind, target, epoch))
        b = int(when // self._bucket)
        if b <= self._current:
            heapq.heappush(self._heap, event)
            return
        later = self._later.get(b)
        if later is None:
            self._later[b] = [event]
            heapq.heappush(self._starts, b)
        else:
            later.append(event)

    def pop(self, until: float) -> Event | None:
        """The next event at or before `until`, advancing the clock to it; else None."""
        heap = self._heap
        if not heap:
            if not self._starts:
                return None
            b = heapq.heappop(self._starts)
            heap = self._heap = self._later.pop(b)
            heapq.heapify(heap)
            self._current = b
        if heap[0].at > until:
            return None
        event = heapq.heappop(heap)
        self.now = event.at
        return event
