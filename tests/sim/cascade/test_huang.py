"""Huang et al., OSDI 2022: a sharp boundary in trigger size and load between recovery
and a persistent, retry-sustained collapse."""

from __future__ import annotations

import pytest

from zonewarden.sim.cascade import scenarios
from zonewarden.sim.cascade.policies import parse_policy
from zonewarden.sim.cascade.service import ServiceModel

pytestmark = pytest.mark.long  # simulated minutes of a service under load, per test

FIFO = parse_policy("fifo-retry")


def recovered(load: float, outage: float) -> tuple[bool, float]:
    r = ServiceModel(scenarios.bronson(load, outage, horizon=240.0), FIFO, 3).run()
    tail = r.samples[-20:]
    return r.recovered, sum(row[3] for row in tail) / len(tail)


def step_pattern(flags: list[bool]) -> bool:
    """True, ..., True, False, ..., False (both parts non-empty)."""
    return flags[0] and not flags[-1] and flags == sorted(flags, reverse=True)


def test_sharp_boundary_in_trigger_size() -> None:
    results = [recovered(250.0, d) for d in (0.1, 0.3, 1.0, 2.0, 4.0)]
    assert step_pattern([ok for ok, _ in results])
    # sharp: either (nearly) all the load is served, or (nearly) none of it
    for ok, goodput in results:
        assert goodput > 220.0 if ok else goodput < 10.0


def test_sharp_boundary_in_load() -> None:
    results = [recovered(load, 2.0) for load in (100.0, 130.0, 170.0, 220.0, 280.0)]
    assert step_pattern([ok for ok, _ in results])
