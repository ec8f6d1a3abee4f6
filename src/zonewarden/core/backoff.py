"""Capped exponential back-off with full jitter: the one rule, used by every retry.

Rules kept here: the ceiling for retry `attempt` (0 = the first retry) is
`min(cap, base * multiplier ** attempt)`, computed without overflow however large the
attempt; the delay is drawn uniformly from [0, ceiling] ("full jitter", as the AWS
Builders' Library recommends), so clients that failed together do not retry together.
Pure: the caller passes the random source.
"""

from __future__ import annotations

import math

from zonewarden.core.actions import RandomSource


def backoff_ceiling(base: float, cap: float, attempt: int, multiplier: float = 2.0) -> float:
    """The largest delay retry `attempt` may wait: base * multiplier**attempt, at most cap."""
    if base <= 0.0 or attempt <= 0:
        return min(cap, max(base, 0.0))
    if multiplier <= 1.0:
        return min(cap, base)
    if cap <= base or attempt >= math.log(cap / base, multiplier):
        return cap  # decided without computing multiplier**attempt, which could overflow
    return min(cap, base * multiplier**attempt)


def full_jitter(
    base: float, cap: float, attempt: int, rng: RandomSource, multiplier: float = 2.0
) -> float:
    """A delay drawn uniformly from [0, backoff_ceiling(...)]."""
    return rng.uniform(0.0, backoff_ceiling(base, cap, attempt, multiplier))
