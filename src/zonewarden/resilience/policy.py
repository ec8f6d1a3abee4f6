"""One retry decision for drivers and adapters: back-off, attempt limit and budget together.

Rules kept here: a retry happens only if the attempt limit allows it AND the budget
(gRPC-style throttle) has tokens; the wait is the capped, fully jittered back-off;
a refusal returns None with its cause, so the caller can report it once, loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.core.actions import RandomSource
from zonewarden.resilience.backoff import Backoff
from zonewarden.resilience.retry_budget import RetryThrottle


@dataclass(slots=True)
class RetryDecision:
    delay: float | None  # None: do not retry
    cause: str  # "retry", "attempts-exhausted" or "budget-exhausted"


@dataclass(slots=True)
class RetryPolicy:
    backoff: Backoff = field(default_factory=Backoff)
    throttle: RetryThrottle | None = None
    max_attempts: int | None = None  # None: no limit other than the budget

    def on_success(self) -> None:
        if self.throttle is not None:
            self.throttle.on_success()

    def on_failure(self, attempt: int, rng: RandomSource) -> RetryDecision:
        """After failed attempt number `attempt` (1 = the first try): retry, and after how long."""
        if self.throttle is not None:
            self.throttle.on_failure()
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return RetryDecision(None, "attempts-exhausted")
        if self.throttle is not None and not self.throttle.allow_retry():
            return RetryDecision(None, "budget-exhausted")
        return RetryDecision(self.backoff.delay(attempt - 1, rng), "retry")
