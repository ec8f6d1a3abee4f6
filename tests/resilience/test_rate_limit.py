import pytest

from zonewarden.resilience.rate_limit import KeyedRateLimit, TokenBucket


def test_bucket_allows_the_burst_then_the_rate() -> None:
    b = TokenBucket.full(rate=2.0, burst=3, now=0.0)
    assert [b.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(0.0) == pytest.approx(0.5)  # one token takes 0.5 s at 2/s
    assert b.take(0.5) == 0.0
    assert b.take(0.4) > 0.0  # the clock stepped back: no tokens for it


def test_keyed_limit_is_per_key_and_counts_refusals() -> None:
    limit = KeyedRateLimit(per_second=1.0, burst=1, name="t")
    assert limit.take("a", 0.0) == 0.0
    assert limit.take("a", 0.0) == pytest.approx(1.0)
    assert limit.take("b", 0.0) == 0.0
    assert limit.counters.snapshot() == {"allowed": 2, "refused": 1}


def test_idle_keys_are_forgotten_past_max_keys() -> None:
    limit = KeyedRateLimit(max_keys=2, idle=60.0)
    for i, t in enumerate((0.0, 1.0, 100.0)):
        limit.take(f"k{i}", t)
    assert set(limit._buckets) == {"k2"}
