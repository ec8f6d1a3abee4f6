import random

import pytest

from zonewarden.resilience.retry_budget import RetryBudget, RetryQuota, RetryThrottle
from zonewarden.resilience.throttle import AdaptiveThrottle
from zonewarden.resilience.window import WindowCounter


def test_grpc_throttle_refuses_at_half_and_recovers_with_successes() -> None:
    t = RetryThrottle(max_tokens=10, token_ratio=0.1)
    allowed = []
    for _ in range(8):
        t.on_failure()
        allowed.append(t.allow_retry())
    # 10 -> 9 .. 6 allowed (> 5), 5 and below refused
    assert allowed == [True, True, True, True, False, False, False, False]
    assert t.tokens == 2.0
    for _ in range(31):
        t.on_success()
    assert t.allow_retry()  # 2 + 3.1 = 5.1 > 5
    assert t.counters["retries-refused"] == 4


def test_grpc_throttle_that_never_refuses_would_fail_this() -> None:
    t = RetryThrottle(max_tokens=10, token_ratio=0.1)
    for _ in range(100):
        t.on_failure()
    assert not t.allow_retry()


def test_finagle_budget_is_percent_plus_reserve_over_ttl() -> None:
    b = RetryBudget(ttl=10, min_per_second=1, percent=0.2)
    for i in range(100):
        b.on_request(i * 0.05)  # 100 requests in 5 s
    granted = sum(b.allow_retry(5.0) for _ in range(100))
    assert granted == 30  # 10 reserve + 20% of 100
    # a TTL later, the requests and retries are forgotten: only the reserve remains
    assert sum(b.allow_retry(30.0) for _ in range(100)) == 10


def test_aws_quota_costs_more_after_timeouts() -> None:
    q = RetryQuota(capacity=20)
    assert [q.acquire(timed_out=True) for _ in range(3)] == [10, 10, 0]
    q.release(10)
    assert q.tokens == 10
    q.release(0)
    assert q.tokens == 11


def test_adaptive_throttle_matches_the_sre_formula() -> None:
    t = AdaptiveThrottle(k=2.0, window=120.0)
    rng = random.Random(5)
    assert t.reject_probability(0.0) == 0.0
    for _ in range(100):
        t.should_reject(1.0, rng)  # backend accepting nothing
    for _ in range(10):
        t.on_accept(1.0)
    requests = t.counters["requests"]
    assert t.reject_probability(1.0) == pytest.approx((requests - 20) / (requests + 1))
    rejected = sum(t.should_reject(2.0, rng) for _ in range(1000))
    assert 700 < rejected < 1000
    # healthy backend: requests == accepts, so nothing is rejected
    healthy = AdaptiveThrottle()
    for i in range(500):
        assert not healthy.should_reject(float(i), rng)
        healthy.on_accept(float(i))
    # the window forgets: three minutes later the old failures no longer count
    assert t.reject_probability(200.0) == 0.0


def test_window_forgets_after_span_and_survives_clock_going_back() -> None:
    w = WindowCounter(10.0, buckets=10)
    w.add(0.0, 5)
    w.add(5.0, 3)
    assert w.total(9.0) == 8
    assert w.total(10.5) == 3
    w.add(2.0, 1)  # a step back in time is counted as now
    assert w.total(10.5) == 4
    assert w.total(100.0) == 0
