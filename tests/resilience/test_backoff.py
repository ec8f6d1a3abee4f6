import random

import pytest

from zonewarden.core.backoff import backoff_ceiling, full_jitter
from zonewarden.resilience.backoff import Backoff
from zonewarden.resilience.policy import RetryPolicy
from zonewarden.resilience.retry_budget import RetryThrottle


def test_ceiling_doubles_then_caps_without_overflow() -> None:
    assert [backoff_ceiling(0.1, 1.0, a) for a in range(6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert backoff_ceiling(0.1, 1.0, 10**9) == 1.0
    assert backoff_ceiling(0.1, 5.0, 3, multiplier=3.0) == pytest.approx(2.7)


def test_full_jitter_spans_zero_to_ceiling_and_is_seeded() -> None:
    draws = [full_jitter(1.0, 8.0, 3, random.Random(i)) for i in range(2000)]
    assert 0.0 <= min(draws) < 0.1 and 7.9 < max(draws) <= 8.0
    assert sum(draws) / len(draws) == pytest.approx(4.0, rel=0.1)
    a = [full_jitter(1.0, 8.0, 2, r) for r in [random.Random(7)] * 5]
    b = [full_jitter(1.0, 8.0, 2, r) for r in [random.Random(7)] * 5]
    assert a == b


def test_backoff_counts_and_refuses_bad_parameters() -> None:
    b = Backoff(0.5, 4.0, name="t")
    rng = random.Random(1)
    for attempt in range(6):
        assert 0.0 <= b.delay(attempt, rng) <= b.ceiling(attempt)
    assert b.counters["backoffs"] == 6 and b.counters["backoffs-at-cap"] == 3
    with pytest.raises(ValueError, match="cap must be >= base"):
        Backoff(2.0, 1.0)
    with pytest.raises(ValueError, match="base must be > 0"):
        Backoff(0.0, 1.0)


def test_policy_stops_at_attempt_limit_and_when_budget_is_spent() -> None:
    rng = random.Random(3)
    limited = RetryPolicy(Backoff(0.1, 1.0), max_attempts=3)
    assert limited.on_failure(1, rng).delay is not None
    assert limited.on_failure(3, rng).cause == "attempts-exhausted"
    budget = RetryPolicy(Backoff(0.1, 1.0), throttle=RetryThrottle(4, 0.5))
    causes = [budget.on_failure(1, rng).cause for _ in range(4)]
    assert causes == ["retry", "budget-exhausted", "budget-exhausted", "budget-exhausted"]
