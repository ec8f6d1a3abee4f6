"""A sliding-window counter over virtual or real time, in fixed buckets.

Rules kept here: the caller passes `now` (seconds, any origin) on every call; a count
added at `t` is forgotten once `now - t` exceeds the window (to within one bucket);
time that goes backwards is treated as the newest time seen, so a count is never lost
to a clock step. Cost is O(1) per call, whatever the rate.
"""

from __future__ import annotations


class WindowCounter:
    __slots__ = ("_buckets", "_counts", "_head", "_total", "bucket", "span")

    def __init__(self, span: float, buckets: int = 20) -> None:
        if not span > 0:
            raise ValueError(f"window span must be > 0 s (got {span})")
        self.span = span
        self.bucket = span / buckets
        self._buckets = buckets
        self._counts = [0.0] * buckets
        self._head = 0  # index of the newest bucket (bucket number, not position)
        self._total = 0.0

    def _advance(self, current: int) -> None:
        """Forget the buckets between the newest one and bucket number `current`."""
        if current - self._head >= self._buckets:
            self._counts = [0.0] * self._buckets
            self._total = 0.0
        else:
            for b in range(self._head + 1, current + 1):
                slot = b % self._buckets
                self._total -= self._counts[slot]
                self._counts[slot] = 0.0
        self._head = current

    # add and total check the bucket number inline: they run once per simulated request
    def add(self, now: float, n: float = 1.0) -> None:
        current = int(now // self.bucket)
        if current > self._head:
            self._advance(current)
        self._counts[self._head % self._buckets] += n
        self._total += n

    def total(self, now: float) -> float:
        current = int(now // self.bucket)
        if current > self._head:
            self._advance(current)
        total = self._total
        return total if total >= 0.0 else 0.0  # as max(total, 0.0), without the call
