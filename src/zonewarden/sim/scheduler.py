"""The virtual clock and event scheduler of the simulator.

Rules kept here: time only moves when an event is popped, to that event's time; events
at the same time run in the order they were scheduled (a sequence number breaks ties),
so a run never depends on heap internals or on wall-clock time.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple


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
    """A min-heap of events over a virtual clock that starts at 0."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[Event] = []
        self._seq = 0

    def at(self, when: float, kind: str, target: int = 0, epoch: int = 0) -> None:
        """Schedule `kind` at virtual time `when` (never in the past)."""
        self._seq += 1
        heapq.heappush(self._heap, Event(max(when, self.now), self._seq, kind, target, epoch))

    def after(self, delay: float, kind: str, target: int = 0, epoch: int = 0) -> None:
        self.at(self.now + delay, kind, target, epoch)

    def pop(self, until: float) -> Event | None:
        """The next event at or before `until`, advancing the clock to it; else None."""
        if not self._heap or self._heap[0].at > until:
            return None
        event = heapq.heappop(self._heap)
        self.now = event.at
        return event
