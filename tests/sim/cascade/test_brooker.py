"""Brooker's simple collapse: service time 1 + 0.01 x concurrency, timeout 3 s, 3
attempts, a 5 s spike from 40 to 80 requests/s."""

from __future__ import annotations

import pytest

from zonewarden.sim.cascade import scenarios
from zonewarden.sim.cascade.policies import parse_policy
from zonewarden.sim.cascade.service import ServiceModel

pytestmark = pytest.mark.long  # simulated minutes of a service under load, per test


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_immediate_retries_stay_collapsed_backoff_with_jitter_recovers(seed: int) -> None:
    p = scenarios.brooker()
    collapsed = ServiceModel(p, parse_policy("fifo-retry"), seed).run()
    assert not collapsed.recovered
    assert collapsed.samples[-1][8] > 2000  # attempts in flight keep growing
    backed_off = ServiceModel(p, parse_policy("backoff-jitter"), seed).run()
    assert backed_off.recovered
    assert backed_off.counters["backoff"]["backoffs"] > 0


def test_without_the_spike_both_are_stable() -> None:
    p = scenarios.brooker(spike=40.0)
    assert ServiceModel(p, parse_policy("fifo-retry"), 1).run().recovered
