"""Retry budgets: how many retries a client may send, whatever its back-off says.

Three published designs, each pure (the caller passes `now` where time matters):

- `RetryThrottle`, gRPC's retry throttling: a token bucket starting full at
  `max_tokens`; each failed attempt takes 1 token, each success gives back
  `token_ratio`; no retry while tokens <= max_tokens / 2. gRPC's example: 10, 0.1.
- `RetryBudget`, Finagle's: over a sliding `ttl`, retries may be `percent` of the
  requests plus a reserve of `min_per_second * ttl`. Finagle's defaults: 10 s, 10/s, 20%.
- `RetryQuota`, the AWS SDKs' standard mode: a bucket of 500; a retry costs 5 (10 after
  a timeout) and is refused when the bucket cannot pay; a success refunds what its
  retry cost, or 1 when it needed none.

Every refusal is counted (`retries-refused`) so a caller can report it once with its
cause; a budget never sleeps or raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zonewarden.resilience.metrics import Counters
from zonewarden.resilience.window import WindowCounter


@dataclass(slots=True)
class RetryThrottle:
    max_tokens: float = 10.0
    token_ratio: float = 0.1
    name: str = "default"
    tokens: float = field(init=False)
    counters: Counters = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.max_tokens <= 1000:
            raise ValueError(f"max_tokens must be in (0, 1000] (got {self.max_tokens})")
        if not 0 < self.token_ratio <= 1:
            raise ValueError(f"token_ratio must be in (0, 1] (got {self.token_ratio})")
        self.tokens = self.max_tokens
        self.counters = Counters(
            "retry-throttle", self.name, ("retries-allowed", "retries-refused")
        )

    def on_success(self) -> None:
        self.tokens = min(self.max_tokens, self.tokens + self.token_ratio)

    def on_failure(self) -> None:
        self.tokens = max(0.0, self.tokens - 1.0)

    def allow_retry(self) -> bool:
        ok = self.tokens > self.max_tokens / 2
        self.counters.values["retries-allowed" if ok else "retries-refused"] += 1
        return ok


@dataclass(slots=True)
class RetryBudget:
    ttl: float = 10.0
    min_per_second: float = 10.0
    percent: float = 0.2
    name: str = "default"
    counters: Counters = field(init=False, repr=False)
    _requests: WindowCounter = field(init=False, repr=False)
    _retries: WindowCounter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.ttl <= 3600:
            raise ValueError(f"retry budget ttl must be in (0, 3600] s (got {self.ttl})")
        if not 0 <= self.min_per_second <= 1e6:
            raise ValueError(f"min_per_second must be in [0, 1e6] (got {self.min_per_second})")
        if not 0 <= self.percent <= 10:
            raise ValueError(f"percent must be in [0, 10] (got {self.percent})")
        self._requests = WindowCounter(self.ttl)
        self._retries = WindowCounter(self.ttl)
        self.counters = Counters("retry-budget", self.name, ("retries-allowed", "retries-refused"))

    def on_request(self, now: float) -> None:
        """Every first attempt deposits into the budget."""
        self._requests.add(now)

    def balance(self, now: float) -> float:
        allowed = self.min_per_second * self.ttl + self.percent * self._requests.total(now)
        return allowed - self._retries.total(now)

    def allow_retry(self, now: float) -> bool:
        """Withdraw one retry if the budget has one; False (and counted) when it has not."""
        ok = self.balance(now) >= 1.0
        if ok:
            self._retries.add(now)
        self.counters.values["retries-allowed" if ok else "retries-refused"] += 1
        return ok


@dataclass(slots=True)
class RetryQuota:
    capacity: int = 500
    retry_cost: int = 5
    timeout_cost: int = 10
    success_reward: int = 1
    name: str = "default"
    tokens: int = field(init=False)
    counters: Counters = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.capacity <= 1_000_000:
            raise ValueError(f"quota capacity must be in (0, 1e6] (got {self.capacity})")
        self.tokens = self.capacity
        self.counters = Counters("retry-quota", self.name, ("retries-allowed", "retries-refused"))

    def acquire(self, timed_out: bool = False) -> int:
        """Tokens taken for one retry (0 = refused: do not retry)."""
        cost = self.timeout_cost if timed_out else self.retry_cost
        if cost > self.tokens:
            self.counters.values["retries-refused"] += 1
            return 0
        self.tokens -= cost
        self.counters.values["retries-allowed"] += 1
        return cost

    def release(self, acquired: int) -> None:
        """After a success: refund what its retry took, or the reward when it took none."""
        self.tokens = min(self.capacity, self.tokens + (acquired or self.success_reward))
