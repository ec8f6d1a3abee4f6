"""Weighted answers are distributed as their policy promises (chi-square checks).

Each check draws many answers with a seeded rng and compares observed counts with the
exact expected ones; the critical value is the 99.9th percentile, so a correct sampler
fails about once in a thousand seeds, and the seeds are fixed. A deliberately biased
sampler must fail the same check (a test that cannot fail is not a test).
"""

from __future__ import annotations

import itertools
import math
import random
import struct
from collections import Counter

import pytest

from zonewarden.backends.embedded.policy import WeightedOne, build_answer
from zonewarden.core.model import Policy

DRAWS = 20000


def rrs(n: int) -> list[bytes]:
    return [struct.pack("!HI", 0xC00C, i) for i in range(n)]  # distinguishable fake RRs


def chi2_critical(df: int, z: float = 3.09) -> float:
    """99.9th percentile of chi-square(df), Wilson-Hilferty approximation."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2(observed: Counter, expected: dict) -> float:
    return sum((observed.get(k, 0) - e) ** 2 / e for k, e in expected.items() if e > 0)


def records_of(data: bytes) -> list[int]:
    return [struct.unpack_from("!I", data, i + 2)[0] for i in range(0, len(data), 6)]


def assert_fits(observed: Counter, probabilities: dict, draws: int) -> None:
    expected = {k: p * draws for k, p in probabilities.items()}
    assert set(observed) <= {k for k, p in probabilities.items() if p > 0}
    statistic = chi2(observed, expected)
    df = sum(1 for p in probabilities.values() if p > 0) - 1
    assert statistic < chi2_critical(df), f"chi2 {statistic:.1f} >= {chi2_critical(df):.1f}"


WEIGHTS = [1, 2, 3, 0, 10, 4]


def test_weighted_one_picks_by_weight():
    answer = build_answer(Policy.WEIGHTED_ONE, rrs(6), WEIGHTS, k=8)
    rng = random.Random(1)
    seen = Counter(tuple(records_of(answer.pick(rng))) for _ in range(DRAWS))
    assert all(len(k) == 1 for k in seen)
    total = sum(WEIGHTS)
    assert_fits(seen, {(i,): w / total for i, w in enumerate(WEIGHTS)}, DRAWS)


def test_weighted_multi_small_serves_all_first_by_weight():
    answer = build_answer(Policy.WEIGHTED_MULTI, rrs(6), WEIGHTS, k=8)
    rng = random.Random(2)
    firsts = Counter()
    for _ in range(DRAWS):
        got = records_of(answer.pick(rng))
        assert sorted(got) == [0, 1, 2, 4, 5]  # every live record; weight 0 drained
        firsts[got[0]] += 1
    total = sum(WEIGHTS)
    assert_fits(firsts, {i: w / total for i, w in enumerate(WEIGHTS)}, DRAWS)


def successive_sampling(weights: list[int], k: int) -> dict[frozenset, float]:
    """Exact probability of each k-set when drawing k times by weight without replacement."""
    out: dict[frozenset, float] = {}
    live = [i for i, w in enumerate(weights) if w > 0]
    for order in itertools.permutations(live, k):
        p, left = 1.0, float(sum(weights))
        for i in order:
            p *= weights[i] / left
            left -= weights[i]
        out[frozenset(order)] = out.get(frozenset(order), 0.0) + p
    return out


@pytest.mark.parametrize("k", [2, 3])
def test_weighted_multi_large_samples_without_replacement(k):
    answer = build_answer(Policy.WEIGHTED_MULTI, rrs(6), WEIGHTS, k=k)
    rng = random.Random(3 + k)
    seen = Counter()
    for _ in range(DRAWS):
        got = records_of(answer.pick(rng))
        assert len(got) == len(set(got)) == k
        seen[frozenset(got)] += 1
    assert_fits(seen, successive_sampling(WEIGHTS, k), DRAWS)


def test_check_catches_a_biased_sampler():
    records = rrs(6)
    biased = WeightedOne(1, (1.0, 3.0, 6.0, 6.0, 16.0, 21.0), (*records, records[-1]))
    fair = dict(enumerate(WEIGHTS))
    # the biased sampler over-weights record 5 by 25%: 5/21 instead of 4/20
    rng = random.Random(9)
    seen = Counter(tuple(records_of(biased.pick(rng))) for _ in range(DRAWS))
    total = sum(WEIGHTS)
    with pytest.raises(AssertionError):
        assert_fits(seen, {(i,): w / total for i, w in fair.items()}, DRAWS)


def test_single_record_and_all_drained():
    one = build_answer(Policy.WEIGHTED_ONE, rrs(1), [5], k=8)
    assert records_of(one.pick(random.Random(0))) == [0]
    drained = build_answer(Policy.WEIGHTED_MULTI, rrs(3), [0, 0, 0], k=8)
    assert sorted(records_of(drained.pick(random.Random(0)))) == [0, 1, 2]
    assert build_answer(Policy.WEIGHTED_ONE, [], [], k=8) is None
