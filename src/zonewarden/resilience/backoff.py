"""Capped exponential back-off with full jitter, as a configured, counted object.

The rule itself is `zonewarden.core.backoff` (the enactor's state machine uses it too);
this class carries the parameters and counts what it handed out, so the runtime, the
adapters and the simulator retry with one rule and the same visibility.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.core.actions import RandomSource
from zonewarden.core.backoff import backoff_ceiling, full_jitter
from zonewarden.resilience.metrics import Counters


@dataclass(slots=True)
class Backoff:
    """`delay(attempt, rng)`: uniform in [0, min(cap, base * multiplier**attempt)]."""

    base: float = 0.1
    cap: float = 10.0
    multiplier: float = 2.0
    name: str = "default"
    counters: Counters = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base > 0:
            raise ValueError(f"back-off base must be > 0 s (got {self.base})")
        if not self.cap >= self.base:
            raise ValueError(f"back-off cap must be >= base {self.base} s (got {self.cap})")
        if not self.multiplier >= 1:
            raise ValueError(f"back-off multiplier must be >= 1 (got {self.multiplier})")
        self.counters = Counters("backoff", self.name, ("backoffs", "backoffs-at-cap"))

    def ceiling(self, attempt: int) -> float:
        return backoff_ceiling(self.base, self.cap, attempt, self.multiplier)

    def delay(self, attempt: int, rng: RandomSource) -> float:
        """The wait before retry `attempt` (0 = first retry)."""
        values = self.counters.values
        values["backoffs"] += 1
        if self.ceiling(attempt) >= self.cap:
            values["backoffs-at-cap"] += 1
        return full_jitter(self.base, self.cap, attempt, rng, self.multiplier)
