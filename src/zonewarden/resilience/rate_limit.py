"""Token buckets: a burst at once, then a steady rate; one bucket per client where asked.

Rules kept here: a bucket refills at `rate` tokens per second up to `burst`; a call
takes one token or, when fewer than one is left, takes nothing and says how long until
one is there (the Retry-After a caller reports); time comes from the caller (`now`),
and a clock that steps back never adds tokens. `KeyedRateLimit` keeps a bucket per key
(an API client), forgets keys idle for a minute once it holds more than `max_keys`, and
counts what it allowed and refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from zonewarden.resilience.metrics import Counters


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    at: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> TokenBucket:
        if not rate > 0:
            raise ValueError(f"rate must be > 0 per second (got {rate})")
        if not burst >= 1:
            raise ValueError(f"burst must be >= 1 (got {burst})")
        return cls(rate, burst, float(burst), now)

    def take(self, now: float) -> float:
        """0.0 when a token was taken; else the seconds until one is there (none taken)."""
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = max(self.at, now)
        if self.tokens < 1.0:
            return (1.0 - self.tokens) / self.rate
        self.tokens -= 1.0
        return 0.0


@dataclass
class KeyedRateLimit:
    per_second: float = 2.0
    burst: int = 10
    name: str = "default"
    max_keys: int = 10_000
    idle: float = 60.0
    counters: Counters = field(init=False, repr=False)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        TokenBucket.full(self.per_second, self.burst, 0.0)  # checks the parameters
        self.counters = Counters("rate-limit", self.name, ("allowed", "refused"))

    def take(self, key: str, now: float) -> float:
        """0.0 when `key` may go ahead now; else the seconds it must wait."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket.full(self.per_second, self.burst, now)
            wait = bucket.take(now)
            self.counters.values["refused" if wait else "allowed"] += 1
            if len(self._buckets) > self.max_keys:
                self._buckets = {k: b for k, b in self._buckets.items() if now - b.at < self.idle}
            return wait
