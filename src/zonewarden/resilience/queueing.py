"""A work queue that keeps itself useful under overload.

Three of the fixes for congestive collapse, switchable and combinable, in one queue
that the runtime (the health checker's probe queue) and the simulator (the lease
manager's work queue) both use:

- **admission by queue size** (AWS's stated fix for EC2's lease manager): `offer`
  refuses new work while `max_depth` items wait, so what is admitted can still be done
  before its caller gives up;
- **deadline-aware dropping**: `take` discards work whose caller's deadline has passed
  (the caller has already timed out and, likely, retried), or will have passed before
  the work can be done (`margin`: the expected service time), instead of doing it. With
  no margin a long queue settles where every item served is just about to expire, and
  finishes too late;
- **LIFO under overload**: while more than `lifo_above` items wait, `take` serves the
  newest first (the work whose caller is most likely still waiting); at or below it,
  FIFO, so a lightly loaded queue stays fair.

Items are `(deadline, payload)`; a deadline of `inf` never expires. Rules: nothing is
lost silently (every refusal and drop is counted by cause, and handed to `on_drop` when
the owner wants to ask again); `clear` (a restart) returns how many it dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from zonewarden.resilience.metrics import Counters

T = TypeVar("T")
NO_LIMIT = 1 << 62


@dataclass(slots=True)
class WorkQueue(Generic[T]):
    max_depth: int = NO_LIMIT
    deadline_drop: bool = False
    margin: float = 0.0  # with deadline_drop: also drop work that cannot finish in time
    lifo_above: int = NO_LIMIT
    name: str = "default"
    counters: Counters = field(init=False, repr=False)
    peak_depth: int = field(init=False, default=0)
    _items: deque[tuple[float, T]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_depth < 1:
            raise ValueError(f"queue max_depth must be >= 1 (got {self.max_depth})")
        if self.margin < 0:
            raise ValueError(f"deadline margin must be >= 0 s (got {self.margin})")
        if self.lifo_above < 0:
            raise ValueError(f"lifo_above must be >= 0 (got {self.lifo_above})")
        self._items = deque()
        self.counters = Counters(
            "work-queue",
            self.name,
            ("admitted", "refused-full", "served", "dropped-expired", "dropped-restart"),
        )

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, deadline: float, item: T) -> bool:
        """Enqueue unless the queue is at `max_depth` (then False, counted)."""
        items = self._items
        if len(items) >= self.max_depth:
            self.counters.values["refused-full"] += 1
            return False
        items.append((deadline, item))
        self.counters.values["admitted"] += 1
        if len(items) > self.peak_depth:
            self.peak_depth = len(items)
        return True

    def take(
        self, now: float, on_drop: Callable[[tuple[float, T]], None] | None = None
    ) -> tuple[float, T] | None:
        """The next item to serve, or None when empty; expired items are dropped on the way
        (each handed to `on_drop`, when given, so its owner can ask again later)."""
        items = self._items
        values = self.counters.values
        cutoff = now + self.margin
        while items:
            entry = items.pop() if len(items) > self.lifo_above else items.popleft()
            if self.deadline_drop and entry[0] <= cutoff:
                values["dropped-expired"] += 1
                if on_drop is not None:
                    on_drop(entry)
                continue
            values["served"] += 1
            return entry
        return None

    def expire(self, now: float, on_drop: Callable[[tuple[float, T]], None] | None = None) -> int:
        """Drop every waiting item whose deadline (plus `margin`) has passed, wherever it
        sits (`take` only meets the ones it reaches); returns how many were dropped.
        A no-op without `deadline_drop`."""
        if not self.deadline_drop:
            return 0
        cutoff = now + self.margin
        items = self._items
        if not any(entry[0] <= cutoff for entry in items):
            return 0
        kept = [entry for entry in items if entry[0] > cutoff]
        dropped = [entry for entry in items if entry[0] <= cutoff]
        items.clear()
        items.extend(kept)
        self.counters.values["dropped-expired"] += len(dropped)
        if on_drop is not None:
            for entry in dropped:
                on_drop(entry)
        return len(dropped)

    def clear(self, on_drop: Callable[[tuple[float, T]], None] | None = None) -> int:
        """Drop everything waiting (a restart); returns how many were dropped."""
        n = len(self._items)
        if on_drop is not None:
            for entry in self._items:
                on_drop(entry)
        self._items.clear()
        self.counters.values["dropped-restart"] += n
        return n
