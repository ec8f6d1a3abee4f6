"""Client-side adaptive throttling (Google SRE book, "Handling Overload").

Rules kept here: over a sliding window (2 minutes in the book) the client counts
`requests` (every attempt it wanted to send, including those it rejected itself) and
`accepts` (attempts the backend served); a new request is rejected locally with
probability max(0, (requests - K * accepts) / (requests + 1)), K = 2 by default. With
the backend healthy, requests ~= accepts and nothing is rejected; as the backend fails,
the client sheds load before it reaches the backend. Pure: `now` and `rng` are passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.core.actions import RandomSource
from zonewarden.resilience.metrics import Counters
from zonewarden.resilience.window import WindowCounter


@dataclass(slots=True)
class AdaptiveThrottle:
    k: float = 2.0
    window: float = 120.0
    name: str = "default"
    counters: Counters = field(init=False, repr=False)
    _requests: WindowCounter = field(init=False, repr=False)
    _accepts: WindowCounter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1.0 <= self.k <= 100.0:
            raise ValueError(f"adaptive throttle K must be in [1, 100] (got {self.k})")
        self._requests = WindowCounter(self.window)
        self._accepts = WindowCounter(self.window)
        self.counters = Counters(
            "adaptive-throttle", self.name, ("requests", "rejected-locally", "accepts")
        )

    def reject_probability(self, now: float) -> float:
        requests = self._requests.total(now)
        accepts = self._accepts.total(now)
        return max(0.0, (requests - self.k * accepts) / (requests + 1.0))

    def should_reject(self, now: float, rng: RandomSource) -> bool:
        """Count one request; True when the client should fail it locally instead of sending."""
        p = self.reject_probability(now)
        self._requests.add(now)
        values = self.counters.values
        values["requests"] += 1
        if p > 0.0 and rng.random() < p:
            values["rejected-locally"] += 1
            return True
        return False

    def on_accept(self, now: float) -> None:
        """The backend served one request (whatever its answer, it was not overloaded)."""
        self._accepts.add(now)
        self.counters.values["accepts"] += 1
