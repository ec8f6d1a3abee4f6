"""Parameters of the retrying-service model, and the one check that refuses impossible ones.

Rules kept here: every parameter has an allowed range, and `ParamError` names the
parameter, the value and the range in one sentence (the CLI prints it as it is); a
parameter that is not a published value is marked as an assumption where the scenario
sets it (scenarios.py), never here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


class ParamError(ValueError):
    """An impossible parameter: `name` = `value`, allowed `allowed`."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        super().__init__(f"{name} = {shown} is not allowed: {allowed}")
        self.name = name
        self.value = value
        self.allowed = allowed


def need(
    name: str, value: float, low: float, high: float = math.inf, *, open_low: bool = False
) -> None:
    """Raise ParamError unless low <= value <= high (low < value with open_low)."""
    ok = (value > low if open_low else value >= low) and value <= high
    if not ok or (isinstance(value, float) and math.isnan(value)):
        bracket = "(" if open_low else "["
        raise ParamError(name, value, f"must be in {bracket}{low:g}, {high:g}]")


@dataclass(frozen=True, slots=True)
class ServiceParams:
    """One server (W workers or unbounded concurrency) and its retrying clients."""

    workers: int | None = 10  # None: unbounded concurrency (Brooker's model)
    service_time: float = 0.1  # seconds per attempt at zero concurrency
    service_per_concurrency: float = 0.0  # + this many seconds per attempt in flight
    service_jitter: float = 0.0  # service time drawn from [1-j, 1+j] x its mean
    timeout: float = 1.0  # the client gives up an attempt after this long
    max_attempts: int | None = 2  # None: retry until done (a lease is needed, whatever it takes)
    retry_delay: float = 0.0  # wait after a timeout before the retry (without back-off)
    refused_delay: float = 1.0  # wait after a fast refusal (admission, budget) before retrying
    server_timeout: bool = False  # the server discards its own late work and queues it again
    persistent: bool = False  # a request that exhausts its attempts is tried again later
    recheck: float = 60.0  # ... after this long (the next periodic lease check)
    recheck_jitter: float = 0.5  # rechecks and re-asks after a refusal spread +-50%
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    buffer: int | None = None  # the server's own queue bound (refusals), None: unbounded
    admission_depth: int | None = None  # None: what W workers finish within one timeout
    lifo_above: int | None = None  # None: serve LIFO once more than W items wait
    restart_after: float = 60.0  # restart when no goodput for this long with work waiting
    budget_tokens: float = 10.0  # gRPC retry throttling
    budget_ratio: float = 0.1
    throttle_k: float = 2.0
    throttle_window: float = 30.0
    rates: tuple[tuple[float, float], ...] = ((0.0, 10.0),)  # (from time, Poisson rate/s)
    bursts: tuple[tuple[float, int], ...] = ()  # (time, requests all at once)
    outages: tuple[tuple[float, float], ...] = ()  # (start, end): workers serve nothing
    trigger_end: float = 0.0  # when the trigger is over (recovery is measured from here)
    horizon: float = 300.0
    sample: float = 1.0
    healthy_fraction: float = 0.9  # goodput/arrivals above which a sample counts as healthy
    judge_window: float = 10.0  # ... judged over this sliding window of samples
    settle: float = 10.0  # a recovery must last at least this long before the horizon
    extra: dict[str, float] = field(default_factory=dict, compare=False)

    def check(self) -> None:
        if self.workers is not None:
            need("workers", self.workers, 1, 1e7)
        if self.server_timeout and self.workers is None:
            raise ParamError("server_timeout", True, "needs a bounded number of workers")
        if self.outages and self.workers is None:
            raise ParamError("outages", self.outages, "need a bounded number of workers")
        need("service_time", self.service_time, 0.0, 3600.0, open_low=True)
        need("service_per_concurrency", self.service_per_concurrency, 0.0, 10.0)
        need("service_jitter", self.service_jitter, 0.0, 0.99)
        need("timeout", self.timeout, 0.0, 86400.0, open_low=True)
        if self.max_attempts is not None:
            need("max_attempts", self.max_attempts, 1, 100)
        need("retry_delay", self.retry_delay, 0.0, 86400.0)
        need("refused_delay", self.refused_delay, 0.0, 86400.0, open_low=True)
        need("recheck_jitter", self.recheck_jitter, 0.0, 1.0)
        need("recheck", self.recheck, 0.0, 86400.0, open_low=True)
        need("backoff_base", self.backoff_base, 0.0, 3600.0, open_low=True)
        need("backoff_cap", self.backoff_cap, self.backoff_base, 86400.0)
        if self.buffer is not None:
            need("buffer", self.buffer, 1, 1e9)
        if self.admission_depth is not None:
            need("admission_depth", self.admission_depth, 1, 1e9)
        need("restart_after", self.restart_after, 0.0, 86400.0, open_low=True)
        need("horizon", self.horizon, 0.0, 1e7, open_low=True)
        need("sample", self.sample, 0.001, self.horizon)
        for t, rate in self.rates:
            need("rate", rate, 0.0, 1e6)
            need("rate start", t, 0.0, self.horizon)
        for t, n in self.bursts:
            need("burst size", n, 0, 1e8)
            need("burst time", t, 0.0, self.horizon)
        for start, end in self.outages:
            need("outage start", start, 0.0, self.horizon)
            need("outage end", end, start, 1e7)

    @property
    def admitted_depth(self) -> int:
        """Admission's default limit: as much as the workers finish inside one timeout."""
        if self.admission_depth is not None:
            return self.admission_depth
        slowest = self.service_time * (1.0 + self.service_jitter)
        per_worker = max(1, math.floor((self.timeout - slowest) / slowest))
        return max(1, (self.workers or 1) * per_worker)

    @property
    def lifo_threshold(self) -> int:
        return self.lifo_above if self.lifo_above is not None else (self.workers or 1)
